"""Team and user budgets: LiteLLM's ``LiteLLM_TeamTable`` and ``LiteLLM_UserTable`` exports.

Both tables carry ``max_budget`` (USD, empty = no cap), ``soft_budget`` (teams: the alert
level), ``budget_duration`` (``1d``, ``7d``, ``30d``, ``1mo``...; empty = monthly),
``budget_reset_at`` (the next reset) and ``spend`` (the gateway's own running total for the
current period, kept only as a cross-check). Teams are named by ``team_alias``, users by
``user_alias`` (else ``user_email``); ``organization_id`` is the account. Rows become the
budget registry (:data:`usagekit.schema.BUDGET_SCHEMA`); ``Usage.budgets("team")`` puts each
budget beside the spend of its current window. Like key caps, a bad value is an error that
names the row, not a rejected row.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from ..errors import KeyRegistryError, QueryError
from ..periods import parse_period
from ..schema import BUDGET_DTYPES
from ._io import Probe, read_csv_strings, read_jsonl_records
from ._stage import parse_timestamps
from .base import Format, Loaded, column, pick

_ENTITY_TABLE = {"team": "LiteLLM_TeamTable", "user": "LiteLLM_UserTable"}


def _cols(probe: Probe) -> set[str]:
    return probe.columns if probe.kind == "csv" else {k.lower() for k in (probe.first or {})}


def _not_other_tables(c: set[str]) -> bool:
    return not (c & {"token", "date", "request_id", "api_key", "ts"})


def sniff_teams(probe: Probe) -> bool:
    c = _cols(probe)
    return {"team_id", "max_budget"} <= c and bool(c & {"team_alias", "members_with_roles", "admins"}) \
        and _not_other_tables(c)


def sniff_users(probe: Probe) -> bool:
    c = _cols(probe)
    return {"user_id", "max_budget"} <= c and bool(c & {"user_role", "user_email", "user_alias", "teams"}) \
        and "team_alias" not in c and _not_other_tables(c)


def budget_registry(df: pl.DataFrame, shown: str, entity: str, *, id_col: str, names: tuple[str, ...]) -> pl.DataFrame:
    """Validate a LiteLLM team or user table (strings, with ``_row``) into budget registry rows."""
    cols = set(df.columns)
    table = _ENTITY_TABLE[entity]
    if pick(cols, id_col) is None:
        raise KeyRegistryError(shown, f"missing required column '{id_col}'", field=id_col,
                               expected=f"a {table} export ({id_col}, max_budget, budget_duration, ...)")
    rows = df["_row"].to_list()

    def fail(i: int, field: str, problem: str, hint: str):
        raise KeyRegistryError(shown, problem, row=rows[i], field=field, expected=hint)

    def text(*names_) -> pl.Series:
        return df.with_columns(column(cols, *names_, blank_is_null=True).str.strip_chars().alias("_x"))["_x"]

    ids = text(id_col)
    for i, v in enumerate(ids.to_list()):
        if v is None:
            fail(i, id_col, f"{id_col} is empty", f"every {entity} to have an id")
    dup = ids.is_duplicated()
    if dup.any():
        i = int(dup.arg_true()[1])
        fail(i, id_col, f"{id_col} '{ids[i]}' appears more than once", f"one row per {entity}")

    def usd(name: str) -> pl.Series:
        raw = text(name)
        out = []
        for i, r in enumerate(raw.to_list()):
            if r is None:
                out.append(None)
                continue
            try:
                v = float(r)
            except ValueError:
                v = float("nan")
            if v != v or v in (float("inf"), float("-inf")):
                fail(i, name, f"{name} '{r}' is not a number", "US dollars as a number, or empty for none")
            if v < 0:
                fail(i, name, f"{name} {r} is negative", "0 or more, or empty for none")
            out.append(v * 100)
        return pl.Series(name, out, dtype=pl.Float64)

    periods = []
    for i, r in enumerate(text("budget_duration").to_list()):
        try:
            periods.append(None if r is None else parse_period(r))
        except QueryError:
            fail(i, "budget_duration", f"budget_duration '{r}' is not a budget period",
                 "a period such as 1d, 7d, 30d or 1mo, or empty for monthly")
    raw_reset = text("budget_reset_at")
    reset = pl.select(parse_timestamps(pl.lit(raw_reset))[0]).to_series()
    for i, (r, p) in enumerate(zip(raw_reset.to_list(), reset.to_list())):
        if r is not None and p is None:
            fail(i, "budget_reset_at", f"budget_reset_at '{r}' is not a timestamp",
                 "a time such as 2026-10-08 00:00:00+00, or empty")
    blocked = text("blocked").str.to_lowercase().is_in(["t", "true", "1"])
    return pl.DataFrame({
        "entity": [entity] * df.height, "entity_id": ids,
        "name": df.with_columns(pl.coalesce(*[column(cols, n, blank_is_null=True) for n in names]).alias("_x"))["_x"],
        "account_id": text("organization_id"), "spend_cap_cents": usd("max_budget"),
        "soft_cap_cents": usd("soft_budget"), "budget_period": pl.Series(periods, dtype=pl.String),
        "budget_reset_at": reset, "reported_spend_cents": usd("spend"), "blocked": blocked,
    }, schema=BUDGET_DTYPES)


def _read(path: Path, probe: Probe, entity: str, id_col: str, names: tuple[str, ...]) -> Loaded:
    df, shown = read_csv_strings(path) if probe.kind == "csv" else read_jsonl_records(path)
    budgets = budget_registry(df, shown, entity, id_col=id_col, names=names)
    capped = budgets.filter(pl.col("spend_cap_cents").is_not_null()).height
    notes = [f"{budgets.height} {entity}(s), {capped} with a budget ({_ENTITY_TABLE[entity]})"]
    return Loaded(f"litellm_{entity}s", shown, budgets=budgets, notes=notes)


def read_teams(path: Path, probe: Probe) -> Loaded:
    return _read(path, probe, "team", "team_id", ("team_alias",))


def read_users(path: Path, probe: Probe) -> Loaded:
    return _read(path, probe, "user", "user_id", ("user_alias", "user_email"))


FORMATS = (
    Format("litellm_teams", "LiteLLM_TeamTable export (team budgets)", ("csv", "jsonl"), sniff_teams, read_teams),
    Format("litellm_users", "LiteLLM_UserTable export (user budgets)", ("csv", "jsonl"), sniff_users, read_users),
)
