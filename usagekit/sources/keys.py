"""The key registry file: one row per virtual key with its spend cap and budget period.

Columns: ``key_id`` (required), ``key_name``, ``account_id``, ``spend_cap_cents`` (empty =
no cap; ``spend_cap_usd`` is accepted instead), ``agent_id``, ``created_at``,
``budget_period`` (how often the cap resets: ``1d``, ``7d``, ``30d``, ``1mo``, ``daily``,
``weekly``, ``monthly``...; empty = monthly) and ``budget_reset_at`` (a reset instant, ISO
8601; empty = periods start at calendar boundaries, see :mod:`usagekit.periods`). A bad value
here is an error, not a rejected row: caps decide alerts, so they must be right.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from ..errors import KeyRegistryError, QueryError
from ..periods import parse_period
from ..schema import KEY_COLUMNS, KEY_DTYPES
from ._io import Probe, read_csv_strings, read_jsonl_records
from ._stage import parse_timestamps
from .base import Format, Loaded


def sniff(probe: Probe) -> bool:
    cols = probe.columns if probe.kind == "csv" else {k.lower() for k in (probe.first or {})}
    return "key_id" in cols and ("spend_cap_cents" in cols or "spend_cap_usd" in cols) and "ts" not in cols


def registry_from_strings(df: pl.DataFrame, shown: str, *, cap_scale: float = 1.0,
                          cap_column: str = "spend_cap_cents") -> pl.DataFrame:
    """Validate a frame of strings (with ``_row``) carrying registry column names."""
    if "key_id" not in df.columns:
        raise KeyRegistryError(shown, "missing required column 'key_id'", field="key_id",
                               expected=f"a key registry with columns {', '.join(KEY_COLUMNS)}")
    rows = df["_row"].to_list()

    def fail(i: int, field: str, problem: str, hint: str):
        raise KeyRegistryError(shown, problem, row=rows[i], field=field, expected=hint)

    ids = df["key_id"].cast(pl.String).str.strip_chars()
    for i, v in enumerate(ids.to_list()):
        if not v:
            fail(i, "key_id", "key_id is empty", "every key to have an id")
    dup = ids.is_duplicated()
    if dup.any():
        i = int(dup.arg_true()[1])
        fail(i, "key_id", f"key_id '{ids[i]}' appears more than once", "one row per key")

    cap = pl.Series("cap", [None] * df.height, dtype=pl.Float64)
    if cap_column in df.columns:
        raw = df[cap_column].cast(pl.String).str.strip_chars()
        num = raw.cast(pl.Float64, strict=False)
        for i, (r, n) in enumerate(zip(raw.to_list(), num.to_list())):
            if r not in (None, "") and (n is None or n != n):
                fail(i, cap_column, f"{cap_column} '{r}' is not a number",
                     "a number, or an empty cell for no cap")
            if n is not None and n < 0:
                fail(i, cap_column, f"{cap_column} {r} is negative", "a cap of 0 or more, or empty for no cap")
        cap = num * cap_scale

    def when(col):
        if col not in df.columns:
            return pl.Series(col, [None] * df.height, dtype=KEY_DTYPES[col])
        raw = df[col].cast(pl.String)
        parsed = pl.select(parse_timestamps(pl.lit(raw))[0]).to_series()
        for i, (r, p) in enumerate(zip(raw.to_list(), parsed.to_list())):
            if r not in (None, "") and r.strip() and p is None:
                fail(i, col, f"{col} '{r}' is not a timestamp", "ISO-8601, e.g. 2026-10-01T00:00:00Z")
        return parsed

    periods = [None] * df.height
    if "budget_period" in df.columns:
        for i, r in enumerate(df["budget_period"].cast(pl.String).to_list()):
            if r is None or not r.strip():
                continue
            try:
                periods[i] = parse_period(r)
            except QueryError:
                fail(i, "budget_period", f"budget_period '{r}' is not a budget period",
                     "a period such as 1d, 7d, 30d, 1mo (or daily, weekly, monthly), or empty for monthly")

    def text(col):
        if col not in df.columns:
            return pl.Series(col, [None] * df.height, dtype=pl.String)
        s = df[col].cast(pl.String).str.strip_chars()
        return s.set(s == "", None) if s.len() else s

    return pl.DataFrame({
        "key_id": ids, "key_name": text("key_name"), "account_id": text("account_id"),
        "spend_cap_cents": cap, "agent_id": text("agent_id"), "created_at": when("created_at"),
        "budget_period": pl.Series("budget_period", periods, dtype=pl.String),
        "budget_reset_at": when("budget_reset_at"),
    }, schema=KEY_DTYPES)


def read(path: Path, probe: Probe) -> Loaded:
    df, shown = read_csv_strings(path) if probe.kind == "csv" else read_jsonl_records(path)
    df = df.rename({c: c.strip().lower() for c in df.columns})
    if "spend_cap_cents" not in df.columns and "spend_cap_usd" in df.columns:
        keys = registry_from_strings(df, shown, cap_scale=100.0, cap_column="spend_cap_usd")
    else:
        keys = registry_from_strings(df, shown)
    return Loaded("keys", shown, keys=keys)


FORMAT = Format("keys", "key registry (key_id, key_name, account_id, spend_cap_cents, agent_id, created_at, "
                "budget_period, budget_reset_at)",
                ("csv", "jsonl"), sniff, read)
