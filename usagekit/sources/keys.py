"""The key registry file: one row per virtual key with its spend cap and budget period.

Columns: ``key_id`` (required), ``key_name``, ``account_id``, ``spend_cap_cents`` (empty =
no cap; ``spend_cap_usd`` is accepted instead), ``agent_id``, ``created_at``,
``budget_period`` (how often the cap resets: ``1d``, ``7d``, ``30d``, ``1mo``, ``daily``,
``weekly``, ``monthly``...; empty = monthly), ``budget_reset_at`` (a reset instant, ISO
8601; empty = periods start at calendar boundaries, see :mod:`usagekit.periods`) and
``account_name`` (optional: the account's display name, shown beside its id; ``account_alias``
or LiteLLM's ``organization_alias`` are read the same way), ``soft_cap_cents`` (or
``soft_cap_usd``: an alert level below the cap, per budget period; empty = none) and
``budget_id`` (a LiteLLM budget, ``LiteLLM_BudgetTable``, that fills the limits a row leaves
empty when that table is loaded too).

Registry rows are validated like usage rows: a row cut short (fewer fields than the header), an
empty key id, a cap that is not a number (or negative, or above
:data:`~usagekit.money.MAX_COST_CENTS`), an account or key id with control characters, an
unreadable ``created_at`` and a key id given twice with different values are **rejected** with
their reason, never kept half-read. Caps decide alerts, so a key whose row was rejected is
listed in ``load_report.registry_rejected_keys``: its cap is unknown, not absent. A bad
``budget_period`` or ``budget_reset_at`` rejects the row the same way.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from ..errors import KeyRegistryError, QueryError
from ..money import MAX_COST_CENTS
from ..periods import parse_period
from ..schema import KEY_COLUMNS, KEY_DTYPES
from ._io import Probe, read_csv_strings, read_jsonl_records
from ._stage import TS_END, TS_MIN, parse_timestamps
from .base import Format, Loaded

#: ids longer than this are not ids (a pasted blob, a shifted column)
MAX_ID_CHARS = 256
#: the columns a registry rejection lists: file row, key id (masked later), field, reason, value
REJECT_COLUMNS = ("row", "key_id", "field", "reason", "value")


def sniff(probe: Probe) -> bool:
    cols = probe.columns if probe.kind == "csv" else {k.lower() for k in (probe.first or {})}
    return "key_id" in cols and ("spend_cap_cents" in cols or "spend_cap_usd" in cols) and "ts" not in cols


def empty_rejects() -> pl.DataFrame:
    return pl.DataFrame({c: pl.Series([], dtype=pl.Int64 if c == "row" else pl.String) for c in REJECT_COLUMNS})


def registry_from_strings(
    df: pl.DataFrame,
    shown: str,
    *,
    cap_scale: float = 1.0,
    cap_column: str = "spend_cap_cents",
    soft_column: str | None = None,
    soft_scale: float = 1.0,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Validate a frame of strings (with ``_row``, and a reader's ``_reject`` if any) carrying
    registry column names. Returns ``(kept rows, rejected rows)``; see the module docstring.

    ``cap_column`` holds the cap (times ``cap_scale`` gives cents); ``soft_column`` the soft cap
    (default ``soft_cap_cents``, else ``soft_cap_usd``)."""
    if "key_id" not in df.columns:
        raise KeyRegistryError(
            shown,
            "missing required column 'key_id'",
            field="key_id",
            expected=f"a key registry with columns {', '.join(KEY_COLUMNS)}",
        )
    n = df.height
    rows = df["_row"].to_list()
    reasons: list[tuple[str, str, str] | None] = [None] * n  # (field, reason, value)
    if "_reject" in df.columns:
        for i, (why, field) in enumerate(
            zip(df["_reject"].to_list(), (df["_field"] if "_field" in df.columns else pl.Series([None] * n)).to_list())
        ):
            if why:
                reasons[i] = (field or "(row)", why, None)

    def reject(i: int, field: str, why: str, value) -> None:
        if reasons[i] is None:
            reasons[i] = (field, why, None if value is None else str(value)[:200])

    def text(col):
        if col not in df.columns:
            return pl.Series(col, [None] * n, dtype=pl.String)
        s = df[col].cast(pl.String).str.strip_chars()
        return s.set(s == "", None) if s.len() else s

    ids = df["key_id"].cast(pl.String).str.strip_chars()
    account = text("account_id")
    for i, v in enumerate(ids.to_list()):
        if not v:
            reject(i, "key_id", "key_id is empty", v)
    for col, values in (("key_id", ids), ("account_id", account)):
        for i, v in enumerate(values.to_list()):
            if v and (len(v) > MAX_ID_CHARS or any(ord(ch) < 32 or ord(ch) == 127 for ch in v)):
                reject(i, col, f"{col} is not an id (control characters or over {MAX_ID_CHARS} characters)", v)

    def money(column_name: str | None, scale: float) -> pl.Series:
        """A cap column in cents (``scale`` turns dollars into cents); a bad value rejects the row."""
        if column_name is None or column_name not in df.columns:
            return pl.Series("cap", [None] * n, dtype=pl.Float64)
        raw = df[column_name].cast(pl.String).str.strip_chars()
        num = raw.cast(pl.Float64, strict=False)
        scaled = num * scale
        for i, (r, v, c) in enumerate(zip(raw.to_list(), num.to_list(), scaled.to_list())):
            if r in (None, ""):
                continue
            if v is None or v != v or v in (float("inf"), float("-inf")):
                reject(i, column_name, f"{column_name} is not a number (write digits, or leave it empty for none)", r)
            elif v < 0:
                reject(i, column_name, f"{column_name} is negative", r)
            elif c > MAX_COST_CENTS:
                reject(i, column_name, f"{column_name} is above the maximum of {MAX_COST_CENTS:.0e} cents", r)
        return scaled

    cap = money(cap_column, cap_scale)
    soft = (
        money(soft_column, soft_scale)
        if soft_column
        else money("soft_cap_cents", 1.0)
        if "soft_cap_cents" in df.columns
        else money("soft_cap_usd", 100.0)
    )

    def when(col):
        if col not in df.columns:
            return pl.Series(col, [None] * n, dtype=KEY_DTYPES[col])
        raw = df[col].cast(pl.String)
        parsed = pl.select(parse_timestamps(pl.lit(raw))[0]).to_series()
        in_range = pl.select(pl.lit(parsed).is_between(TS_MIN, TS_END)).to_series()
        for i, (r, ok) in enumerate(zip(raw.to_list(), in_range.to_list())):
            if r not in (None, "") and r.strip() and not ok:
                reject(
                    i,
                    col,
                    f"{col} is not a timestamp from 1970-01-01 to 9999-11-30 (ISO 8601, e.g. 2026-10-01T00:00:00Z)",
                    r,
                )
        return parsed

    periods = [None] * n
    if "budget_period" in df.columns:
        for i, r in enumerate(df["budget_period"].cast(pl.String).to_list()):
            if r is None or not r.strip():
                continue
            try:
                periods[i] = parse_period(r)
            except QueryError:
                reject(
                    i,
                    "budget_period",
                    "budget_period is not a budget period (1d, 7d, 30d, 1mo, daily, "
                    "weekly, monthly; empty for monthly)",
                    r,
                )

    out = pl.DataFrame(
        {
            "key_id": ids,
            "key_name": text("key_name"),
            "account_id": account,
            "spend_cap_cents": _kept(cap, reasons),
            "agent_id": text("agent_id"),
            "created_at": when("created_at"),
            "budget_period": pl.Series("budget_period", periods, dtype=pl.String),
            "budget_reset_at": when("budget_reset_at"),
            "account_name": next(
                (text(c) for c in ("account_name", "account_alias", "organization_alias") if c in df.columns),
                text("account_name"),
            ),
            "soft_cap_cents": _kept(soft, reasons),
            "budget_id": text("budget_id"),
        },
        schema=KEY_DTYPES,
    )

    # a key given twice: identical rows are one key (the repeats are rejected as repeats); rows
    # that disagree leave the key's cap unknown, so all of them are rejected
    ok = [r is None for r in reasons]
    first: dict[str, int] = {}
    conflict: set[str] = set()
    records = out.rows()
    for i, rec in enumerate(records):
        if not ok[i] or not rec[0]:
            continue
        j = first.setdefault(rec[0], i)
        if j != i:
            if rec == records[j]:
                reject(i, "key_id", f"repeats row {rows[j]} (the same key row again)", rec[0])
            else:
                conflict.add(rec[0])
    for i, rec in enumerate(records):
        if ok[i] and rec[0] in conflict and reasons[i] is None:
            reject(i, "key_id", "key_id appears more than once with different values (which cap is right?)", rec[0])

    kept = out.filter(pl.Series([r is None for r in reasons], dtype=pl.Boolean))
    bad = [i for i, r in enumerate(reasons) if r is not None]
    rejects = pl.DataFrame(
        {
            "row": [rows[i] for i in bad],
            "key_id": [ids[i] or None for i in bad],
            "field": [reasons[i][0] for i in bad],
            "reason": [reasons[i][1] for i in bad],
            "value": [reasons[i][2] for i in bad],
        },
        schema={c: pl.Int64 if c == "row" else pl.String for c in REJECT_COLUMNS},
    )
    return kept, rejects


def _kept(values: pl.Series, reasons: list) -> pl.Series:
    """``values`` with the rejected rows' entries blanked (they are never read half-way)."""
    return pl.Series(
        values.name, [v if r is None else None for v, r in zip(values.to_list(), reasons)], dtype=pl.Float64
    )


def read(path: Path, probe: Probe) -> Loaded:
    df, shown = read_csv_strings(path) if probe.kind == "csv" else read_jsonl_records(path)
    df = df.rename({c: c.strip().lower() for c in df.columns})
    if "spend_cap_cents" not in df.columns and "spend_cap_usd" in df.columns:
        keys, rejects = registry_from_strings(df, shown, cap_scale=100.0, cap_column="spend_cap_usd")
    else:
        keys, rejects = registry_from_strings(df, shown)
    return Loaded("keys", shown, keys=keys, key_rejects=rejects)


FORMAT = Format(
    "keys",
    "key registry (key_id, key_name, account_id, spend_cap_cents, agent_id, created_at, "
    "budget_period, budget_reset_at, account_name)",
    ("csv", "jsonl"),
    sniff,
    read,
)
