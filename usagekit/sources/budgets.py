"""Team, user and organization budgets: LiteLLM's ``LiteLLM_TeamTable``, ``LiteLLM_UserTable``,
``LiteLLM_OrganizationTable`` and ``LiteLLM_BudgetTable`` exports.

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

Organizations (``LiteLLM_OrganizationTable``) are accounts: ``organization_alias`` names the
account (shown beside its id in every view) and the organization's budget is the spend of its
``account_id`` (``Usage.budgets("organization")``). An organization keeps its limits in
``LiteLLM_BudgetTable``, linked by ``budget_id``, as keys can (``LiteLLM_VerificationToken.
budget_id``; the budget table is the only place a key's ``soft_budget`` lives). When the budget
table is loaded too, :func:`link` fills each linked row's soft cap, and its cap, period and reset
when the row has no cap of its own; a ``budget_id`` that the loaded tables do not hold is named
in the load report (that limit is unknown, not absent).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from ..errors import KeyRegistryError, QueryError
from ..masking import redact_expr
from ..periods import parse_period
from ..schema import ACCOUNT_COLUMNS, BUDGET_DTYPES
from ._io import Probe, read_csv_strings, read_jsonl_records
from ._stage import parse_timestamps
from .base import Format, Loaded, column, pick

_ENTITY_TABLE = {
    "team": "LiteLLM_TeamTable",
    "user": "LiteLLM_UserTable",
    "organization": "LiteLLM_OrganizationTable",
    "budget": "LiteLLM_BudgetTable",
}
#: columns of other LiteLLM tables that a budget or organization table never has
_OWNERS = {"team_id", "user_id", "end_user_id", "tag_name", "key_alias", "model_name"}


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


def sniff_organizations(probe: Probe) -> bool:
    c = _cols(probe)
    return {"organization_id", "organization_alias"} <= c and not (c & _OWNERS) and _not_other_tables(c)


def sniff_budget_table(probe: Probe) -> bool:
    c = _cols(probe)
    return (
        {"budget_id", "max_budget"} <= c
        and bool(c & {"soft_budget", "tpm_limit", "rpm_limit", "max_parallel_requests", "model_max_budget"})
        and not (c & (_OWNERS | {"organization_id", "organization_alias"}))
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
            "budget_id": ids if entity == "budget" else text("budget_id"),
        },
        schema=BUDGET_DTYPES,
    )
    keep = pl.Series([i not in rejected for i in range(df.height)], dtype=pl.Boolean)
    return out.filter(keep), [rejected[i] for i in sorted(rejected)]


def _read(path: Path, probe: Probe, entity: str, id_col: str, names: tuple[str, ...]) -> Loaded:
    df, shown = read_csv_strings(path) if probe.kind == "csv" else read_jsonl_records(path)
    budgets, rejected = budget_registry(df, shown, entity, id_col=id_col, names=names)
    capped = budgets.filter(pl.col("spend_cap_cents").is_not_null()).height
    what = "budget(s)" if entity == "budget" else f"{entity}(s)"
    said = {"budget": f"{capped} with a cap", "organization": f"{capped} with a cap of their own"}.get(
        entity, f"{capped} with a budget"
    )
    if entity != "budget" and budgets["budget_id"].is_not_null().any():
        said += f", {budgets['budget_id'].is_not_null().sum()} linked to a LiteLLM budget (budget_id)"
    notes = [f"{budgets.height} {what}, {said} ({_ENTITY_TABLE[entity]})"]
    if rejected:
        notes.append(f"{len(rejected)} {entity} row(s) rejected, so their budget is unknown: " + "; ".join(rejected))
    accounts = None
    if entity == "organization":  # an organization is an account: its alias names it everywhere
        accounts = (
            budgets.select(pl.col("entity_id").alias("account_id"), pl.col("name").alias("account_name"))
            .filter(pl.col("account_name").is_not_null())
            .with_columns(redact_expr("account_id"), redact_expr("account_name"))
            .select(ACCOUNT_COLUMNS)
        )
    return Loaded(_FORMAT_OF[entity], shown, budgets=budgets, notes=notes, accounts=accounts)


def link(keys: pl.DataFrame, budgets: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame, list[str]]:
    """Apply ``LiteLLM_BudgetTable`` rows (``entity == "budget"`` in ``budgets``) to the keys and the
    team/user/organization budgets that name them by ``budget_id``.

    A linked row takes the budget's soft cap unless it has its own; when it has no cap of its own
    it takes the budget's cap, period and reset instant too. Returns ``(keys, budgets without the
    budget-table rows, notes)``; the notes count what was linked and name budget ids that no
    loaded table holds.

    >>> from usagekit.schema import KEY_DTYPES, BUDGET_DTYPES
    >>> keys = pl.DataFrame([{"key_id": "k1", "budget_id": "b1"}], schema=KEY_DTYPES)
    >>> table = pl.DataFrame([{"entity": "budget", "entity_id": "b1", "spend_cap_cents": 5000.0,
    ...                        "soft_cap_cents": 4000.0}], schema=BUDGET_DTYPES)
    >>> k, b, notes = link(keys, table)
    >>> k.select("spend_cap_cents", "soft_cap_cents").row(0), b.height
    ((5000.0, 4000.0), 0)
    """
    is_table = pl.col("entity") == "budget"
    table = budgets.filter(is_table).unique(subset="entity_id", keep="last", maintain_order=True)
    others = budgets.filter(~is_table)
    limits = table.select(
        pl.col("entity_id").alias("budget_id"),
        pl.col("spend_cap_cents").alias("_b_cap"),
        pl.col("soft_cap_cents").alias("_b_soft"),
        pl.col("budget_period").alias("_b_period"),
        pl.col("budget_reset_at").alias("_b_reset"),
    )
    own = pl.col("spend_cap_cents").is_null() & pl.col("_b_cap").is_not_null()

    def apply(frame: pl.DataFrame) -> pl.DataFrame:
        if frame.is_empty() or table.is_empty():
            return frame
        return (
            frame.join(limits, on="budget_id", how="left", maintain_order="left")
            .with_columns(
                pl.coalesce("soft_cap_cents", "_b_soft").alias("soft_cap_cents"),
                pl.when(own).then("_b_period").otherwise("budget_period").alias("budget_period"),
                pl.when(own).then("_b_reset").otherwise("budget_reset_at").alias("budget_reset_at"),
                pl.coalesce("spend_cap_cents", "_b_cap").alias("spend_cap_cents"),
            )
            .select(frame.columns)
        )

    notes = []
    known = set(table["entity_id"].to_list())
    for what, frame, id_col in (("key", keys, "key_id"), ("budget", others, "entity_id")):
        ids = frame.filter(pl.col("budget_id").is_not_null())
        if ids.is_empty():
            continue
        linked = ids.filter(pl.col("budget_id").is_in(list(known)))
        missing = sorted(set(ids["budget_id"].to_list()) - known)
        label = "key(s)" if what == "key" else "team, user or organization budget(s)"
        if linked.height:
            notes.append(f"{linked.height} {label} take limits from LiteLLM_BudgetTable (budget_id)")
        if missing:
            shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
            where = (
                "that the loaded LiteLLM_BudgetTable does not hold"
                if table.height
                else "that was not loaded (load the LiteLLM_BudgetTable export too)"
            )
            notes.append(
                f"{ids.height - linked.height} {label} name a LiteLLM budget {where} ({shown}): "
                "their soft budget (and any cap kept only there) is unknown"
            )
    return apply(keys), apply(others), notes


def read_organizations(path: Path, probe: Probe) -> Loaded:
    return _read(path, probe, "organization", "organization_id", ("organization_alias",))


def read_budget_table(path: Path, probe: Probe) -> Loaded:
    return _read(path, probe, "budget", "budget_id", ("budget_id",))


def read_teams(path: Path, probe: Probe) -> Loaded:
    return _read(path, probe, "team", "team_id", ("team_alias",))


def read_users(path: Path, probe: Probe) -> Loaded:
    return _read(path, probe, "user", "user_id", ("user_alias", "user_email"))


_FORMAT_OF = {
    "team": "litellm_teams",
    "user": "litellm_users",
    "organization": "litellm_orgs",
    "budget": "litellm_budgets",
}

FORMATS = (
    Format("litellm_teams", "LiteLLM_TeamTable export (team budgets)", ("csv", "jsonl"), sniff_teams, read_teams),
    Format("litellm_users", "LiteLLM_UserTable export (user budgets)", ("csv", "jsonl"), sniff_users, read_users),
    Format(
        "litellm_orgs",
        "LiteLLM_OrganizationTable export (account names, organization budgets)",
        ("csv", "jsonl"),
        sniff_organizations,
        read_organizations,
    ),
    Format(
        "litellm_budgets",
        "LiteLLM_BudgetTable export (caps and soft budgets linked by budget_id)",
        ("csv", "jsonl"),
        sniff_budget_table,
        read_budget_table,
    ),
)
