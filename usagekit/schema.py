"""The normalized usage table and the key registry: the one definition every module uses.

Every loader turns its input into rows of :data:`USAGE_COLUMNS`; every query, detector,
chart and report reads only these columns. Names, dtypes and allowed values live here
and nowhere else.

One row is one request, or one pre-aggregated bucket (an hour of a VM, a day of a
provider's cost report) whose ``request_id`` is null.

Money is ``cost_cents``: a float number of US cents, continuous (``0.001095`` is a
valid value), never floored or rounded. A null ``cost_cents`` means *unpriced*: the
source recorded usage but no cost. It is never read as zero; queries count it apart.
``cost_source`` says whose number a cost is: ``source`` (the input's) or ``estimated``
(repriced from a price map, see :mod:`usagekit.reprice`); totals state the estimated part.

Time is ``ts``: the event's start, tz-aware UTC. Reports choose a time zone only to
bucket days, and say which.
"""

from __future__ import annotations

import polars as pl

#: Column name -> (polars dtype, meaning). Order is the order of the table.
USAGE_SCHEMA: dict[str, tuple[pl.DataType, str]] = {
    "ts": (pl.Datetime("us", "UTC"), "event start, UTC"),
    "request_id": (pl.String(), "unique request id; null only for pre-aggregated rows"),
    "account_id": (pl.String(), "account (organisation) that owns the spend"),
    "key_id": (pl.String(), "virtual key id (a hash or id, never the secret itself)"),
    "key_name": (pl.String(), "human name or alias of the key"),
    "agent_id": (pl.String(), "agent that made the request, if any"),
    "agent_name": (pl.String(), "agent display name"),
    "plain_vm_id": (pl.String(), "plain VM (compute without an agent)"),
    "plain_vm_name": (pl.String(), "plain VM display name"),
    "team_id": (pl.String(), "team the request is billed to (a gateway team), if any"),
    "user_id": (pl.String(), "internal user who owns the key or made the request, if any"),
    "end_user": (pl.String(), "the caller's own customer id passed with the request (high cardinality)"),
    "tags": (pl.List(pl.String()), "request tags: a sorted list of distinct strings; null = no tags"),
    "axis": (pl.String(), "llm, voice or compute"),
    "provider": (pl.String(), "upstream provider, lower case (openai, anthropic, ...)"),
    "model": (pl.String(), "model name as billed"),
    "requests": (pl.Int64(), "requests in this row: 1 for a request, n for a bucket, 0 for compute time"),
    "input_tokens": (pl.Int64(), "prompt tokens, including cached ones"),
    "output_tokens": (pl.Int64(), "completion tokens, including reasoning ones"),
    "cached_input_tokens": (pl.Int64(), "prompt tokens served from the provider's cache"),
    "reasoning_tokens": (pl.Int64(), "reasoning tokens (part of output_tokens)"),
    "characters": (pl.Int64(), "voice: characters synthesised"),
    "hours": (pl.Float64(), "compute: VM hours"),
    "state": (pl.String(), "compute: running or paused"),
    "cost_cents": (pl.Float64(), "cost in US cents, continuous; null = unpriced"),
    "cost_source": (
        pl.String(),
        "where the cost comes from: source (the input's own) or estimated (repriced from a price map); null = unpriced",
    ),
    "status": (pl.String(), "success or error"),
    "source": (pl.String(), "loader that produced the row (canonical, litellm, ...)"),
}

USAGE_COLUMNS: tuple[str, ...] = tuple(USAGE_SCHEMA)
USAGE_DTYPES: dict[str, pl.DataType] = {name: dtype for name, (dtype, _) in USAGE_SCHEMA.items()}

STRING_COLUMNS = tuple(c for c, t in USAGE_DTYPES.items() if t == pl.String())
#: dimensions a request can be broken down by that are not in the month cube (they get their own
#: per-day roll-ups): ``end_user`` has too many values, ``tags`` holds several per request
SIDE_DIMENSIONS = ("end_user", "tags")
INT_COLUMNS = ("requests", "input_tokens", "output_tokens", "cached_input_tokens", "reasoning_tokens", "characters")
TOKEN_COLUMNS = ("input_tokens", "output_tokens", "cached_input_tokens", "reasoning_tokens")
FLOAT_COLUMNS = ("hours", "cost_cents")

AXES = ("llm", "voice", "compute")
STATUSES = ("success", "error")
STATES = ("running", "paused")
COST_SOURCES = ("source", "estimated")

#: Key registry: one row per virtual key.
KEY_SCHEMA: dict[str, tuple[pl.DataType, str]] = {
    "key_id": (pl.String(), "joins usage.key_id"),
    "key_name": (pl.String(), "alias shown to people"),
    "account_id": (pl.String(), "owning account"),
    "spend_cap_cents": (pl.Float64(), "spend cap in cents per budget period; null = no cap"),
    "agent_id": (pl.String(), "agent the key belongs to, if any"),
    "created_at": (pl.Datetime("us", "UTC"), "when the key was created"),
    "budget_period": (pl.String(), "how often the cap resets: 1d, 7d, 30d, 1mo, ...; null = monthly"),
    "budget_reset_at": (pl.Datetime("us", "UTC"), "a reset instant of the cap (usually the next one), UTC"),
    "account_name": (pl.String(), "the owning account's display name, if known"),
    "soft_cap_cents": (pl.Float64(), "alert level in cents per budget period (below the cap); null = none"),
    "budget_id": (pl.String(), "LiteLLM budget the key's limits come from (LiteLLM_BudgetTable), if any"),
}
KEY_COLUMNS: tuple[str, ...] = tuple(KEY_SCHEMA)
KEY_DTYPES: dict[str, pl.DataType] = {name: dtype for name, (dtype, _) in KEY_SCHEMA.items()}

#: Account names: one row per account whose name an input or the registry gives (``Usage.account_names``).
ACCOUNT_SCHEMA: dict[str, tuple[pl.DataType, str]] = {
    "account_id": (pl.String(), "joins usage.account_id"),
    "account_name": (pl.String(), "display name shown to people beside the id"),
}
ACCOUNT_COLUMNS: tuple[str, ...] = tuple(ACCOUNT_SCHEMA)
ACCOUNT_DTYPES: dict[str, pl.DataType] = {name: dtype for name, (dtype, _) in ACCOUNT_SCHEMA.items()}

#: Budget registry: one row per team or user budget (LiteLLM team and user tables).
BUDGET_SCHEMA: dict[str, tuple[pl.DataType, str]] = {
    "entity": (pl.String(), "team, user or organization"),
    "entity_id": (pl.String(), "joins usage.team_id, usage.user_id or (organization) usage.account_id"),
    "name": (pl.String(), "alias shown to people"),
    "account_id": (pl.String(), "owning account (organisation)"),
    "spend_cap_cents": (pl.Float64(), "cap in cents per budget period; null = no cap"),
    "soft_cap_cents": (pl.Float64(), "alert level in cents per budget period; null = none"),
    "budget_period": (pl.String(), "how often the cap resets: 1d, 7d, 30d, 1mo, ...; null = monthly"),
    "budget_reset_at": (pl.Datetime("us", "UTC"), "a reset instant of the cap (usually the next one), UTC"),
    "reported_spend_cents": (pl.Float64(), "the gateway's own spend counter for its current period"),
    "blocked": (pl.Boolean(), "blocked at the gateway"),
    "budget_id": (pl.String(), "LiteLLM budget the limits come from (LiteLLM_BudgetTable), if any"),
}
BUDGET_COLUMNS: tuple[str, ...] = tuple(BUDGET_SCHEMA)
BUDGET_DTYPES: dict[str, pl.DataType] = {name: dtype for name, (dtype, _) in BUDGET_SCHEMA.items()}


def empty_usage() -> pl.DataFrame:
    """An empty frame with the normalized usage schema."""
    return pl.DataFrame(schema=USAGE_DTYPES)


def empty_keys() -> pl.DataFrame:
    """An empty key registry."""
    return pl.DataFrame(schema=KEY_DTYPES)


def empty_accounts() -> pl.DataFrame:
    """An empty account-name mapping."""
    return pl.DataFrame(schema=ACCOUNT_DTYPES)


def empty_budgets() -> pl.DataFrame:
    """An empty budget registry."""
    return pl.DataFrame(schema=BUDGET_DTYPES)


def arrow_schema():
    """The usage schema as a pyarrow schema (for Parquet writers)."""
    return empty_usage().to_arrow().schema


def markdown_table() -> str:
    """The schema as a Markdown table (the README's copy is generated from this)."""
    lines = ["| column | type | meaning |", "|---|---|---|"]
    for name, (dtype, meaning) in USAGE_SCHEMA.items():
        if isinstance(dtype, pl.Datetime):
            short = "timestamp (UTC, µs)"
        elif isinstance(dtype, pl.List):
            short = "list of strings"
        else:
            short = str(dtype).lower()
        lines.append(f"| `{name}` | {short} | {meaning} |")
    return "\n".join(lines)
