"""OpenRouter exports: the activity (generation log) CSV and the daily activity API rows.

The generation export's columns drift between versions (added, dropped, renamed, reordered),
so every field is found through a list of aliases; only an id, a time and a cost column are
required. Costs are US dollars; an empty cost cell is unpriced, never $0. Booleans are
``true`` / ``false``; a ``cancelled`` generation is an error whose cost still counts.
``byok_usage_inference`` (inference billed on the user's own provider key) is not added to the
cost: the load report gives its total. ``api_key_name`` is a label (not a secret) and names the key;
``app_name`` is taken as the agent; ``user`` (the id the caller passes for its own end
user, as in OpenAI's ``user`` parameter) becomes ``end_user``. Upstream provider names (``Google AI Studio``) are mapped
to usagekit's provider names (``google``).

The activity API rows (``date, model, model_permaslug, endpoint_id, provider_name, usage,
byok_usage_inference, requests, prompt_tokens, completion_tokens, reasoning_tokens``; CSV,
JSON Lines, or the saved ``{"data": [...]}`` response) are daily buckets: ``request_id`` null, ``requests`` from the row.

The key list (the saved ``{"data": [...]}`` answer of the keys API, or its rows as CSV / JSON
Lines: ``name, label, hash, limit, limit_reset, limit_remaining, usage, disabled, created_at``)
is a key registry: ``name`` (the ``api_key_name`` of the generation export) is the key,
``limit`` (USD) its cap, reset ``daily`` / ``weekly`` / ``monthly`` at midnight UTC (weeks from
Monday), as OpenRouter resets them. A ``limit`` with no ``limit_reset`` is a lifetime credit
limit, not a periodic cap: it is not used as one, and the load report says so.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from ..errors import SourceError, display_path
from ._io import Probe, read_csv_strings, read_jsonl_records, records_frame
from ._stage import stage
from .base import Format, Loaded, column, pick

ALIASES = {
    "request_id": ("generation_id", "id", "generationid", "generation"),
    "ts": ("created_at", "createdat", "created", "timestamp", "date"),
    "cost_cents": ("cost_total", "total_cost", "cost", "usage", "cost_usd"),
    "input_tokens": ("tokens_prompt", "native_tokens_prompt", "prompt_tokens", "tokens_input"),
    "output_tokens": ("tokens_completion", "native_tokens_completion", "completion_tokens", "tokens_output"),
    "reasoning_tokens": ("tokens_reasoning", "native_tokens_reasoning", "reasoning_tokens"),
    "cached_input_tokens": ("tokens_cached", "native_tokens_cached", "cached_tokens", "tokens_cache_read"),
    "model": ("model_permaslug", "model", "model_slug", "slug"),
    "provider": ("provider_name", "provider"),
    "key": ("api_key_name", "key_name", "api_key_label", "api_key"),
    "app": ("app_name", "app", "origin"),
    "finish": ("finish_reason_normalized", "finish_reason", "finish_reason_raw"),
    "cancelled": ("cancelled", "canceled", "is_cancelled"),
    "byok": ("byok_usage_inference", "byok_usage"),
    "end_user": ("user", "user_id", "end_user"),
}
PROVIDERS = {
    "openai": "openai",
    "azure": "azure",
    "anthropic": "anthropic",
    "amazon bedrock": "bedrock",
    "google": "google",
    "google ai studio": "google",
    "google vertex": "google",
    "vertex ai": "google",
    "mistral": "mistral",
    "deepseek": "deepseek",
    "groq": "groq",
    "together": "together",
    "fireworks": "fireworks",
    "xai": "xai",
    "x-ai": "xai",
    "cohere": "cohere",
    "perplexity": "perplexity",
    "cerebras": "cerebras",
    "deepinfra": "deepinfra",
    "novita": "novita",
    "lambda": "lambda",
    "nebius": "nebius",
}


def _find(cols, field):
    return pick(cols, *ALIASES[field])


def sniff_generations(probe: Probe) -> bool:
    c = probe.columns if probe.kind == "csv" else {k.lower() for k in (probe.first or {})}
    has_id = bool(c & {"generation_id", "generationid"})
    tokens = bool(c & {"tokens_prompt", "native_tokens_prompt"})
    return (has_id or tokens) and bool(c & {"cost_total", "total_cost", "cost", "usage"}) and "ts" not in c


def _activity_rows(doc):
    """The rows of a saved activity API response ``{"data": [...]}``, or None for another shape."""
    data = doc.get("data") if isinstance(doc, dict) else None
    if isinstance(data, list) and data and isinstance(data[0], dict):
        return data
    return None


def sniff_activity(probe: Probe) -> bool:
    if probe.kind == "json":
        rows = _activity_rows(probe.doc())
        c = {str(k).lower() for k in rows[0]} if rows else set()
    else:
        c = probe.columns if probe.kind == "csv" else {k.lower() for k in (probe.first or {})}
    return {"date", "requests", "usage"} <= c and bool(c & {"model_permaslug", "model"}) and "generation_id" not in c


def _provider(expr: pl.Expr) -> pl.Expr:
    from ._stage import _map_words

    low = expr.str.strip_chars().str.to_lowercase()
    return pl.coalesce(_map_words(low, PROVIDERS), low)


def _read(path: Path, probe: Probe):
    return read_csv_strings(path) if probe.kind == "csv" else read_jsonl_records(path)


def read_generations(path: Path, probe: Probe) -> Loaded:
    df, shown = _read(path, probe)
    cols = set(df.columns)
    found = {f: _find(cols, f) for f in ALIASES}
    for f in ("request_id", "ts", "cost_cents"):
        if found[f] is None:
            raise SourceError(
                shown,
                f"no {f.replace('_', ' ')} column",
                field=ALIASES[f][0],
                expected=f"an OpenRouter activity export with one of: {', '.join(ALIASES[f])}",
            )

    def col(f) -> pl.Expr:
        return pl.col(found[f]) if found[f] else pl.lit(None, pl.String)

    finish = col("finish").str.to_lowercase()
    cancelled = col("cancelled").str.strip_chars().str.to_lowercase().is_in(["true", "t", "1"]).fill_null(False)
    mapped = df.select(
        "_row",
        "_reject",
        "_field",
        "_value",
        col("request_id").alias("request_id"),
        col("ts").alias("ts"),
        col("cost_cents").alias("cost_cents"),
        col("input_tokens").alias("input_tokens"),
        col("output_tokens").alias("output_tokens"),
        col("reasoning_tokens").alias("reasoning_tokens"),
        col("cached_input_tokens").alias("cached_input_tokens"),
        col("model").alias("model"),
        _provider(col("provider")).alias("provider"),
        col("key").alias("key_id"),
        col("key").alias("key_name"),
        col("app").alias("agent_id"),
        col("app").alias("agent_name"),
        col("end_user").alias("end_user"),
        pl.when(finish.str.contains("error") | cancelled)
        .then(pl.lit("error"))
        .otherwise(pl.lit("success"))
        .alias("status"),
    )
    notes = [f"column '{found['cost_cents']}' read as the cost (USD)"] if found["cost_cents"] != "cost_total" else []
    notes += _byok_note(df, found["byok"])
    return Loaded("openrouter", shown, stage(mapped, file=shown, source="openrouter", cost_scale=100.0), notes=notes)


def _byok_note(df: pl.DataFrame, column: str | None) -> list[str]:
    """BYOK inference is billed by the provider on the user's own key, not by OpenRouter: it is
    not added to the cost (the provider's bill has it), only reported."""
    if column is None:
        return []
    total = df[column].str.strip_chars().cast(pl.Float64, strict=False).sum()
    if not total:
        return []
    return [
        f"BYOK inference of ${total:,.6f} was billed on your own provider keys; it is not in these costs "
        "(only OpenRouter's fee is)"
    ]


def read_activity(path: Path, probe: Probe) -> Loaded:
    if probe.kind == "json":
        return read_activity_document(probe.doc(), display_path(path))
    return _activity(*_read(path, probe))


def read_activity_document(doc, shown: str) -> Loaded:
    rows = _activity_rows(doc)
    if rows is None:
        raise SourceError(
            shown,
            "no 'data' list of activity rows",
            field="data",
            expected='an OpenRouter activity response {"data": [{date, model, usage, ...}]}',
        )
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise SourceError(shown, "an activity row is not an object", field=f"data[{i}]", expected="an object")
    return _activity(records_frame(rows), shown)


def _activity(df: pl.DataFrame, shown: str) -> Loaded:
    for c in ("_reject", "_field", "_value"):
        if c not in df.columns:
            df = df.with_columns(pl.lit(None, pl.String).alias(c))
    cols = set(df.columns)
    for need in ("date", "usage"):
        if pick(cols, need) is None:
            raise SourceError(
                shown,
                f"missing required column '{need}'",
                field=need,
                expected="OpenRouter activity rows (date, model, usage, requests, ...)",
            )

    def col(*names) -> pl.Expr:
        return column(cols, *names)

    mapped = df.select(
        "_row",
        "_reject",
        "_field",
        "_value",
        col("date").alias("ts"),
        col("usage").alias("cost_cents"),
        col("requests").alias("requests"),
        col("prompt_tokens").alias("input_tokens"),
        col("completion_tokens").alias("output_tokens"),
        col("reasoning_tokens").alias("reasoning_tokens"),
        pl.coalesce(col("model_permaslug"), col("model")).alias("model"),
        _provider(col("provider_name")).alias("provider"),
    )
    return Loaded(
        "openrouter_activity",
        shown,
        stage(mapped, file=shown, source="openrouter_activity", cost_scale=100.0),
        notes=_byok_note(df, pick(cols, "byok_usage_inference", "byok_usage")),
    )


_RESETS = {"daily": "1d", "weekly": "7d", "monthly": "1mo"}
_UTC_MONDAY = "2024-01-01T00:00:00Z"  # a Monday, midnight UTC


def _key_rows(doc):
    data = doc.get("data") if isinstance(doc, dict) else None
    if isinstance(data, list) and data and isinstance(data[0], dict) and "limit_reset" in data[0]:
        return data
    return None


def sniff_keys(probe: Probe) -> bool:
    if probe.kind == "json":
        return _key_rows(probe.doc()) is not None
    c = probe.columns if probe.kind == "csv" else {k.lower() for k in (probe.first or {})}
    return {"limit", "limit_reset"} <= c and bool(c & {"name", "label", "hash"})


def read_keys(path: Path, probe: Probe) -> Loaded:
    if probe.kind == "json":
        return read_keys_document(probe.doc(), display_path(path))
    return _keys(*_read(path, probe))


def read_keys_document(doc, shown: str) -> Loaded:
    rows = _key_rows(doc)
    if rows is None:
        raise SourceError(
            shown,
            "no 'data' list of keys with limit_reset",
            field="data",
            expected='an OpenRouter key list {"data": [{name, limit, limit_reset, ...}]}',
        )
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise SourceError(shown, "a key entry is not an object", field=f"data[{i}]", expected="an object")
    return _keys(records_frame(rows), shown)


def _keys(df: pl.DataFrame, shown: str) -> Loaded:
    from .keys import registry_from_strings

    cols = set(df.columns)

    def col(*names) -> pl.Expr:
        return column(cols, *names, blank_is_null=True).str.strip_chars()

    reset = col("limit_reset").str.to_lowercase()
    bad = reset.is_not_null() & ~reset.is_in(list(_RESETS))
    odd = df.with_row_index("_i").filter(bad)
    if odd.height:
        row = odd["_row"][0]
        raise SourceError(
            shown,
            f"limit_reset '{odd.select(col('limit_reset')).item(0, 0)}' is not a reset period",
            row=row,
            field="limit_reset",
            expected="daily, weekly, monthly or empty (null)",
        )
    lifetime = col("limit").is_not_null() & reset.is_null()
    for c in ("_reject", "_field"):
        if c not in df.columns:
            df = df.with_columns(pl.lit(None, pl.String).alias(c))
    mapped = df.select(
        "_row",
        "_reject",
        "_field",
        pl.coalesce(col("name"), col("label"), col("hash")).alias("key_id"),
        pl.coalesce(col("name"), col("label")).alias("key_name"),
        pl.when(lifetime).then(None).otherwise(col("limit")).alias("spend_cap_usd"),
        pl.when(reset.is_not_null()).then(reset.replace(_RESETS)).alias("budget_period"),
        # OpenRouter resets at midnight UTC, weeks from Monday: any such instant anchors the windows
        pl.when(reset.is_not_null()).then(pl.lit(_UTC_MONDAY)).alias("budget_reset_at"),
        col("created_at").alias("created_at"),
    )
    keys, rejects = registry_from_strings(mapped, shown, cap_scale=100.0, cap_column="spend_cap_usd")
    notes = []
    n_life = df.select(lifetime.sum()).item()
    if n_life:
        notes.append(
            f"{n_life} key(s) have a lifetime credit limit (limit_reset null): it never resets, so it is not "
            "used as a periodic cap (limit_remaining says what is left)"
        )
    disabled = pick(cols, "disabled")
    if disabled:
        n = df.filter(pl.col(disabled).str.strip_chars().str.to_lowercase().is_in(["true", "t", "1"])).height
        if n:
            notes.append(f"{n} key(s) are disabled in OpenRouter (their usage, if any, is still counted)")
    return Loaded("openrouter_keys", shown, keys=keys, key_rejects=rejects, notes=notes)


FORMATS = (
    Format(
        "openrouter_keys",
        "OpenRouter key list (limit, limit_reset)",
        ("csv", "jsonl", "json"),
        sniff_keys,
        read_keys,
        read_keys_document,
    ),
    Format(
        "openrouter",
        "OpenRouter activity export (one row per generation)",
        ("csv", "jsonl"),
        sniff_generations,
        read_generations,
    ),
    Format(
        "openrouter_activity",
        "OpenRouter activity API rows (daily per model)",
        ("csv", "jsonl", "json"),
        sniff_activity,
        read_activity,
        read_activity_document,
    ),
)
