"""LiteLLM proxy exports: the per-request spend log and the virtual key table.

``LiteLLM_SpendLogs`` (CSV or JSON Lines, gzip allowed): one row per request. ``spend`` is US dollars;
``api_key`` is the SHA-256 hash of the virtual key and becomes ``key_id`` (a raw ``sk-``
secret found there is hashed the same way, never kept); ``"startTime"`` is UTC; a successful
request with tokens but ``spend`` 0 (LiteLLM had no price) is unpriced, not free;
``call_type`` ``aspeech`` / ``atranscription`` (and their sync forms) are the voice axis.
Provider cache tokens come from the ``metadata`` JSON (``usage_object`` or
``additional_usage_values``); ``cache_hit`` is LiteLLM's own response cache and is not read as
provider caching. The key alias, team and organisation also come from ``metadata``
when their columns are empty.

Models are named as the provider bills them (:func:`billed_model`): recent LiteLLM versions
write ``model`` with the provider prefix (``openai/gpt-4.1``); usagekit drops the prefix of
``custom_llm_provider`` (``openai``, ``anthropic``, ``vertex_ai``, ``bedrock``, ``openrouter``...),
keeps a Bedrock model id as billed (``anthropic.claude-3-5-sonnet-20241022-v2:0``), keeps
OpenRouter's own ``vendor/model`` id, and names an Azure deployment by its base model (the
price-map key LiteLLM logged in ``metadata.model_map_information``) or else its ``model_group``.

Dimensions: ``team_id``, ``user`` (-> ``user_id``) and ``end_user`` from their columns, else
from ``metadata`` (``user_api_key_team_id``, ``user_api_key_user_id``,
``user_api_key_end_user_id``); ``request_tags`` (a JSON list) -> ``tags``.

``LiteLLM_VerificationToken`` (CSV): ``token`` (the hash) joins ``api_key``; ``key_alias``
(else the masked ``key_name``) names the key; ``max_budget`` (USD, empty = no cap) becomes
``spend_cap_cents``, reset every ``budget_duration`` (``1d``, ``7d``, ``30d``, ``1mo``...; empty
= monthly) from ``budget_reset_at``; ``organization_id`` (else ``team_id``) is the account.
A request's account is its organization (the column, else ``metadata.user_api_key_org_id``);
a request logged without one belongs to its key's account from the key export, and only
failing that to its team.
``budget_id`` links the key to a ``LiteLLM_BudgetTable`` row: when that table is loaded too, its
``soft_budget`` becomes the key's soft cap (alert level) and its ``max_budget``,
``budget_duration`` and ``budget_reset_at`` fill what the key's own row leaves empty (see
:mod:`usagekit.sources.budgets`).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from ..errors import SourceError
from ._io import Probe, read_csv_strings, read_jsonl_records
from ._stage import stage
from .base import Format, Loaded, column, pick
from .keys import registry_from_strings

VOICE_CALLS = ("aspeech", "speech", "atranscription", "transcription")
#: ``custom_llm_provider`` values recognised as a prefix of ``model`` when the provider column is empty
PROVIDER_PREFIXES = (
    "openai",
    "text-completion-openai",
    "azure",
    "azure_ai",
    "anthropic",
    "bedrock",
    "sagemaker",
    "vertex_ai",
    "vertex_ai_beta",
    "gemini",
    "openrouter",
    "mistral",
    "groq",
    "together_ai",
    "fireworks_ai",
    "deepseek",
    "xai",
    "cohere",
    "cohere_chat",
    "perplexity",
    "cerebras",
    "deepinfra",
    "databricks",
    "watsonx",
    "ollama",
    "ollama_chat",
    "hosted_vllm",
    "huggingface",
    "replicate",
    "nvidia_nim",
    "dashscope",
    "moonshot",
    "litellm_proxy",
)
#: Bedrock route words LiteLLM accepts between the provider and the model id
_BEDROCK_ROUTES = r"^(?:converse|invoke|converse_like)/"
#: metadata paths where LiteLLM versions put provider cache-read tokens (the largest found wins:
#: ``usage_object.prompt_tokens_details.cached_tokens`` can say 0 beside a real cache read)
CACHE_READ_PATHS = (
    "$.usage_object.prompt_tokens_details.cached_tokens",
    "$.usage_object.cache_read_input_tokens",
    "$.additional_usage_values.cache_read_input_tokens",
    "$.additional_usage_values.prompt_tokens_details.cached_tokens",
)


def _cols(probe: Probe) -> set[str]:
    if probe.kind == "jsonl":
        return {k.lower() for k in (probe.first or {})}
    return probe.columns


def _read(path: Path, probe: Probe):
    return read_csv_strings(path) if probe.kind == "csv" else read_jsonl_records(path)


def sniff_logs(probe: Probe) -> bool:
    c = _cols(probe)
    return {"request_id", "api_key", "spend"} <= c and bool(c & {"starttime", "start_time"})


def sniff_keys(probe: Probe) -> bool:
    c = _cols(probe)
    return "token" in c and bool(c & {"max_budget", "key_alias", "key_name"}) and "request_id" not in c


def billed_model(
    model: pl.Expr, provider: pl.Expr, model_group: pl.Expr | None = None, base_model: pl.Expr | None = None
) -> tuple[pl.Expr, pl.Expr]:
    """(model as the provider bills it, provider) from LiteLLM's ``model``, ``custom_llm_provider``,
    ``model_group`` and an Azure deployment's base model. Blank cells count as missing.

    >>> df = pl.DataFrame({"m": ["openai/gpt-4.1", "bedrock/anthropic.claude-3-5-sonnet-20241022-v2:0"],
    ...                    "p": ["openai", "bedrock"]})
    >>> df.select(*billed_model(pl.col("m"), pl.col("p")))["model"].to_list()
    ['gpt-4.1', 'anthropic.claude-3-5-sonnet-20241022-v2:0']
    """

    def blank(e):
        e = e.str.strip_chars()
        return pl.when(e == "").then(None).otherwise(e)

    group = blank(model_group) if model_group is not None else pl.lit(None, pl.String)
    raw = pl.coalesce(blank(model), group)
    prefix = raw.str.extract(r"^([^/]+)/", 1).str.to_lowercase()
    prov = pl.coalesce(blank(provider).str.to_lowercase(), pl.when(prefix.is_in(list(PROVIDER_PREFIXES))).then(prefix))
    bare = (
        pl.when(raw.str.to_lowercase().str.starts_with(prov + "/"))
        .then(raw.str.slice(prov.str.len_chars() + 1))
        .otherwise(raw)
    )
    bare = pl.when(prov == "bedrock").then(bare.str.replace(_BEDROCK_ROUTES, "")).otherwise(bare)
    base = blank(base_model) if base_model is not None else pl.lit(None, pl.String)
    base = pl.when(base.str.to_lowercase().str.starts_with("azure/")).then(base.str.slice(6)).otherwise(base)
    # an Azure deployment is named by whoever deployed it: its base model is what Azure bills
    azure = pl.coalesce(base, group, bare)
    out = pl.when(prov.is_in(["azure", "azure_ai"])).then(azure).otherwise(bare)
    return out.alias("model"), prov.alias("provider")


def unpriced_note(requests: int) -> str:
    """The load-report note for LiteLLM usage with tokens that LiteLLM could not price."""
    return (
        f"{requests:,} successful request(s) with tokens but spend 0 read as unpriced "
        "(LiteLLM had no price for the model)"
    )


def _meta(path: str) -> pl.Expr:
    return pl.col("metadata").str.json_path_match(path)


def hash_secrets(df: pl.DataFrame, column: str) -> pl.DataFrame:
    """Replace a raw ``sk-...`` key (not masked) by its SHA-256 hex, as LiteLLM stores it: a secret
    must never become a key id."""
    raw = df[column].str.strip_chars()
    secret = raw.str.starts_with("sk-") & ~raw.str.contains("...", literal=True)
    if not secret.any():
        return df
    import hashlib

    hashed = {v: hashlib.sha256(v.encode()).hexdigest() for v in raw.filter(secret).unique().to_list()}
    return df.with_columns(pl.when(secret).then(raw.replace(hashed)).otherwise(pl.col(column)).alias(column))


def _number(e: pl.Expr) -> pl.Expr:
    return e.str.strip_chars().cast(pl.Float64, strict=False)


def read_logs(path: Path, probe: Probe) -> Loaded:
    df, shown = _read(path, probe)
    cols = set(df.columns)
    need = {
        "request_id": pick(cols, "request_id"),
        "startTime": pick(cols, "startTime", "start_time"),
        "spend": pick(cols, "spend"),
        "api_key": pick(cols, "api_key"),
    }
    missing = [k for k, v in need.items() if v is None]
    if missing:
        raise SourceError(
            shown,
            f"missing required column '{missing[0]}'",
            field=missing[0],
            expected="a LiteLLM_SpendLogs export (request_id, api_key, spend, startTime, ...)",
        )
    if "metadata" not in cols:
        df = df.with_columns(pl.lit(None, pl.String).alias("metadata"))
    df = hash_secrets(df, need["api_key"])

    def col(*names) -> pl.Expr:
        return column(cols, *names)

    def first(*exprs) -> pl.Expr:
        cleaned = [pl.when(e.str.strip_chars() == "").then(None).otherwise(e) for e in exprs]
        return pl.coalesce(cleaned)

    call = col("call_type").str.strip_chars().str.to_lowercase().str.replace(r"^calltypes\.", "")
    status = col("status").str.strip_chars().str.to_lowercase()
    # LiteLLM writes spend 0.0 when it has no price for the model: a successful request with
    # tokens, not served from LiteLLM's own response cache, is unpriced, not free
    tokens = pl.max_horizontal(
        _number(col("total_tokens")), _number(col("prompt_tokens")), _number(col("completion_tokens"))
    )
    unpriced = (
        (_number(pl.col(need["spend"])) == 0)
        & (tokens > 0)
        & ~status.is_in(["failure", "failed", "error"]).fill_null(False)
        & ~col("cache_hit").str.strip_chars().str.to_lowercase().is_in(["true", "t", "1"]).fill_null(False)
    ).fill_null(False)
    cached = pl.max_horizontal(*[_number(_meta(p)) for p in CACHE_READ_PATHS])
    model, provider = billed_model(
        col("model"), col("custom_llm_provider"), col("model_group"), _meta("$.model_map_information.model_map_key")
    )
    mapped = df.select(
        "_row",
        "_reject",
        "_field",
        "_value",
        pl.col(need["request_id"]).alias("request_id"),
        pl.col(need["startTime"]).alias("ts"),
        pl.col(need["api_key"]).alias("key_id"),
        first(_meta("$.user_api_key_alias"), col("key_alias")).alias("key_name"),
        # the organization is the account; without one, the key's account from the key export,
        # else the team (store.cube.apply_registry: after the registry, not before it)
        first(col("organization_id"), _meta("$.user_api_key_org_id")).alias("account_id"),
        first(col("agent_id")).alias("agent_id"),
        pl.when(call.is_in(list(VOICE_CALLS))).then(pl.lit("voice")).otherwise(pl.lit("llm")).alias("axis"),
        provider,
        model,
        first(col("team_id"), _meta("$.user_api_key_team_id")).alias("team_id"),
        first(col("user"), _meta("$.user_api_key_user_id")).alias("user_id"),
        first(col("end_user"), _meta("$.user_api_key_end_user_id")).alias("end_user"),
        col("request_tags").alias("tags"),
        col("prompt_tokens").alias("input_tokens"),
        col("completion_tokens").alias("output_tokens"),
        cached.cast(pl.String).alias("cached_input_tokens"),
        first(
            _meta("$.usage_object.completion_tokens_details.reasoning_tokens"),
            _meta("$.additional_usage_values.completion_tokens_details.reasoning_tokens"),
        ).alias("reasoning_tokens"),
        pl.when(unpriced).then(None).otherwise(pl.col(need["spend"])).alias("cost_cents"),
        pl.when(status.is_in(["failure", "failed", "error"]))
        .then(pl.lit("error"))
        .when(status.is_null() | (status == "") | (status == "success"))
        .then(pl.lit("success"))
        .otherwise(status)
        .alias("status"),
    )
    notes = []
    n_unpriced = df.select(unpriced.sum()).item()
    if n_unpriced:
        notes.append(unpriced_note(n_unpriced))
    return Loaded("litellm", shown, stage(mapped, file=shown, source="litellm", cost_scale=100.0), notes=notes)


def read_keys(path: Path, probe: Probe) -> Loaded:
    df, shown = _read(path, probe)
    cols = set(df.columns)
    if pick(cols, "token") is None:
        raise SourceError(
            shown,
            "missing required column 'token'",
            field="token",
            expected="a LiteLLM_VerificationToken export (token, key_alias, max_budget, ...)",
        )
    df = hash_secrets(df, pick(cols, "token"))

    def col(*names) -> pl.Expr:
        return column(cols, *names, blank_is_null=True)

    mapped = df.select(
        "_row",
        "_reject",
        "_field",
        col("token").alias("key_id"),
        pl.coalesce(col("key_alias"), col("key_name")).alias("key_name"),
        pl.coalesce(col("organization_id"), col("team_id")).alias("account_id"),
        col("max_budget").alias("max_budget"),
        col("agent_id").alias("agent_id"),
        col("created_at").alias("created_at"),
        col("budget_duration").alias("budget_period"),
        col("budget_reset_at").alias("budget_reset_at"),
        col("soft_budget").alias("soft_budget"),  # only in exports joined with LiteLLM_BudgetTable
        col("budget_id").alias("budget_id"),
    )
    keys, rejects = registry_from_strings(
        mapped, shown, cap_scale=100.0, cap_column="max_budget", soft_column="soft_budget", soft_scale=100.0
    )
    notes = []
    spend_col = pick(cols, "spend")
    if spend_col:
        total = df[spend_col].cast(pl.Float64, strict=False).sum() * 100
        notes.append(f"the key export's own spend column totals {total:,.6f} cents (a cross-check for the logs)")
    periods = keys.filter(
        pl.col("spend_cap_cents").is_not_null()
        & pl.col("budget_period").is_not_null()
        & (pl.col("budget_period") != "1mo")
    )["budget_period"].value_counts(sort=True)
    if periods.height:
        said = ", ".join(f"{n} x {p}" for p, n in periods.iter_rows())
        notes.append(f"caps reset on their own budget period ({said}); the others monthly")
    blocked = pick(cols, "blocked")
    if blocked:
        n = df.filter(pl.col(blocked).str.strip_chars().str.to_lowercase().is_in(["true", "t", "1"])).height
        if n:
            notes.append(f"{n} key(s) are blocked in LiteLLM (their usage, if any, is still counted)")
    return Loaded("litellm_keys", shown, keys=keys, key_rejects=rejects, notes=notes)


FORMATS = (
    Format(
        "litellm_keys",
        "LiteLLM_VerificationToken export (virtual keys, max_budget)",
        ("csv", "jsonl"),
        sniff_keys,
        read_keys,
    ),
    Format("litellm", "LiteLLM_SpendLogs export (one row per request)", ("csv", "jsonl"), sniff_logs, read_logs),
)
