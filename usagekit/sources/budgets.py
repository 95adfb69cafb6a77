"""Team and user budgets: LiteLLM's ``LiteLLM_TeamTable`` and ``LiteLLM_UserTable`` exports.

Both tables carry ``max_budget`` (USD, empty = no cap), ``soft_budget`` (teams: the alert
level), ``budget_duration`` (``1d``, ``7d``, ``30d``, ``1mo``...; empty = monthly),
``budget_reset_at`` (the next reset) and ``spend`` (the gateway's own running total for the
current period, kept only as a cross-check). Teams are named by ``team_alias``, users by
``user_alias`` (else ``user_email``); ``organization_id`` is the account. Rows become the
budget registry (:data:`usagekit.schema.BUDGET_SCHEMA`); ``Usage.budgets("team")`` puts each
budget beside the spend of its current window. Like key registry rows, a row with a bad value
(an empty or repeated id, a budget that is not a number or is negative, an unknown period, an
unreadable reset time, a row cut short) is rejected with its reason, never kept half-read: the
load report names its row and says that budget is unknown.
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
    return (
        {"team_id", "max_budget"} <= c
        and bool(c & {"team_alias", "members_with_roles", "admins"})
        and _not_other_tables(c)
    )


def sniff_users(probe: Probe) -> bool:
    c = _cols(probe)
    return (
        {"user_id", "max_budget"} <= c
        and bool(c & {"user_role", "user_email", "user_alias", "teams"})
        and "team_alias" not in c
        and _not_other_tables(c)
    )


def budget_registry(
    df: pl.DataFrame, shown: str, entity: str, *, id_col: str, names: tuple[str, ...]
) -> tuple[pl.DataFrame, list[str]]:
    """Validate a LiteLLM team or user table (strings, with ``_row``) into budget registry rows.

    Returns ``(kept rows, one line per rejected row)``."""
    cols = set(df.columns)
    table = _ENTITY_TABLE[entity]
    if pick(cols, id_col) is None:
        raise KeyRegistryError(
            shown,
            f"missing required column '{id_col}'",
            field=id_col,
            expected=f"a {table} export ({id_col}, max_budget, budget_duration, ...)",
        )
    rows = df["_row"].to_list()

    rejected: dict[int, str] = {}

    def fail(i: int, field: str, problem: str, hint: str):
        rejected.setdefault(i, f"row {rows[i]} field '{field}': {problem}; expected {hint}")

    if "_reject" in df.columns:
        for i, why in enumerate(df["_reject"].to_list()):
            if why is not None:
                fail(i, "row", why, "a complete row")

    def text(*names_) -> pl.Series:
        return df.with_columns(column(cols, *names_, blank_is_null=True).str.strip_chars().alias("_x"))["_x"]

    ids = text(id_col)
    for i, v in enumerate(ids.to_list()):
        if v is None:
            fail(i, id_col, f"{id_col} is empty", f"every {entity} to have an id")
    for i in (~ids.is_first_distinct() & ids.is_not_null()).arg_true().to_list():
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
                v = None
            elif v < 0:
                fail(i, name, f"{name} {r} is negative", "0 or more, or empty for none")
            out.append(None if v is None else v * 100)
        return pl.Series(name, out, dtype=pl.Float64)

    periods = []
    for i, r in enumerate(text("budget_duration").to_list()):
        try:
            periods.append(None if r is None else parse_period(r))
        except QueryError:
            periods.append(None)
            fail(
                i,
                "budget_duration",
                f"budget_duration '{r}' is not a budget period",
                "a period such as 1d, 7d, 30d or 1mo, or empty for monthly",
            )
    raw_reset = text("budget_reset_at")
    reset = pl.select(parse_timestamps(pl.lit(raw_reset))[0]).to_series()
    for i, (r, p) in enumerate(zip(raw_reset.to_list(), reset.to_list())):
        if r is not None and p is None:
            fail(
                i,
                "budget_reset_at",
                f"budget_reset_at '{r}' is not a timestamp",
                "a time such as 2026-10-08 00:00:00+00, or empty",
            )
    blocked = text("blocked").str.to_lowercase().is_in(["t", "true", "1"])
    out = pl.DataFrame(
        {
            "entity": [entity] * df.height,
            "entity_id": ids,
            "name": df.with_columns(pl.coalesce(*[column(cols, n, blank_is_null=True) for n in names]).alias("_x"))[
                "_x"
            ],
            "account_id": text("organization_id"),
            "spend_cap_cents": usd("max_budget"),
            "soft_cap_cents": usd("soft_budget"),
            "budget_period": pl.Series(periods, dtype=pl.String),
            "budget_reset_at": reset,
            "reported_spend_cents": usd("spend"),
            "blocked": blocked,
        },
        schema=BUDGET_DTYPES,
    )
    keep = pl.Series([i not in rejected for i in range(df.height)], dtype=pl.Boolean)
    return out.filter(keep), [rejected[i] for i in sorted(rejected)]


def _read(path: Path, probe: Probe, entity: str, id_col: str, names: tuple[str, ...]) -> Loaded:
    df, shown = read_csv_strings(path) if probe.kind == "csv" else read_jsonl_records(path)
    budgets, rejected = budget_registry(df, shown, entity, id_col=id_col, names=names)
    capped = budgets.filter(pl.col("spend_cap_cents").is_not_null()).height
    notes = [f"{budgets.height} {entity}(s), {capped} with a budget ({_ENTITY_TABLE[entity]})"]
    if rejected:
        notes.append(f"{len(rejected)} {entity} row(s) rejected, so their budget is unknown: " + "; ".join(rejected))
    return Loaded(f"litellm_{entity}s", shown, budgets=budgets, notes=notes)


def read_teams(path: Path, probe: Probe) -> Loaded:
    return _read(path, probe, "team", "team_id", ("team_alias",))


def read_users(path: Path, probe: Probe) -> Loaded:
    return _read(path, probe, "user", "user_id", ("user_alias", "user_email"))


FORMATS = (
    Format("litellm_teams", "LiteLLM_TeamTable export (team budgets)", ("csv", "jsonl"), sniff_teams, read_teams),
    Format("litellm_users", "LiteLLM_UserTable export (user budgets)", ("csv", "jsonl"), sniff_users, read_users),
)
