"""LiteLLM daily spend roll-ups (``LiteLLM_DailyUserSpend``, ``...TeamSpend``, ``...OrganizationSpend``,
``...EndUserSpend``, ``...AgentSpend``, ``...TagSpend``), exported as CSV or JSON Lines.

One shape for all: ``<entity>_id, date, api_key, model, model_group, custom_llm_provider,
endpoint, prompt_tokens, completion_tokens, cache_read_input_tokens,
cache_creation_input_tokens, spend, api_requests, successful_requests, failed_requests``.
Rows are daily buckets (``request_id`` null, ``ts`` = the date at 00:00 UTC, ``requests`` =
``api_requests``); a date has no time of day, so it is not counted as a timestamp without a UTC
offset. The entity column gives the account (organisation or team), the team (``team_id``), the
user (``user_id``), the end user (``end_user_id``), the tag (``tag`` -> ``tags``) or the agent.
Models and providers are named as in the request log (:func:`~usagekit.sources.litellm.billed_model`),
and a row with spend 0 but tokens and successful requests is unpriced, as there.
LiteLLM's roll-ups are known to under-count in some versions: the request log is the truth and
these are a cross-check, so a row's failed requests are kept in its count (and in a note), not
split off with an invented cost. Each table counts the same requests again (the tag table once
per tag of a request); the load report says so.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from ..errors import SourceError
from ._io import Probe, read_csv_strings, read_jsonl_records
from ._stage import stage
from .base import Format, Loaded, column, pick
from .litellm import billed_model, unpriced_note

#: the entity column of each roll-up table, most specific first
ENTITIES = ("tag", "tag_id", "end_user_id", "end_user", "agent_id", "organization_id", "org_id", "team_id", "user_id")


def sniff(probe: Probe) -> bool:
    c = probe.columns if probe.kind == "csv" else {k.lower() for k in (probe.first or {})}
    return {"date", "api_key", "spend"} <= c and bool(c & {"api_requests", "successful_requests"})


def read(path: Path, probe: Probe) -> Loaded:
    df, shown = read_csv_strings(path) if probe.kind == "csv" else read_jsonl_records(path)
    cols = set(df.columns)
    for need in ("date", "api_key", "spend"):
        if pick(cols, need) is None:
            raise SourceError(
                shown,
                f"missing required column '{need}'",
                field=need,
                expected="a LiteLLM daily spend export (date, api_key, model, spend, api_requests, ...)",
            )

    def col(*names) -> pl.Expr:
        return column(cols, *names)

    def num(*names) -> pl.Expr:
        return col(*names).str.strip_chars().cast(pl.Float64, strict=False)

    # LiteLLM adds 0 to a roll-up's spend when it has no price: tokens from successful requests
    # with no spend are unpriced, exactly as the same requests are in the request log
    tokens = pl.max_horizontal(num("prompt_tokens"), num("completion_tokens"))
    ok = pl.coalesce(num("successful_requests"), num("api_requests") - pl.coalesce(num("failed_requests"), pl.lit(0.0)))
    unpriced = ((num("spend") == 0) & (tokens > 0) & (ok > 0)).fill_null(False)
    model, provider = billed_model(col("model"), col("custom_llm_provider"), col("model_group"))
    tag_col = pick(cols, "tag", "tag_id")
    mapped = df.select(
        "_row",
        "_reject",
        "_field",
        "_value",
        col("date").alias("ts"),
        col("api_key").alias("key_id"),
        model,
        provider,
        col("prompt_tokens").alias("input_tokens"),
        col("completion_tokens").alias("output_tokens"),
        col("cache_read_input_tokens").alias("cached_input_tokens"),
        pl.when(unpriced).then(None).otherwise(col("spend")).alias("cost_cents"),
        pl.coalesce(col("api_requests"), col("successful_requests")).alias("requests"),
        pl.coalesce(col("organization_id", "org_id"), col("team_id")).alias("account_id"),
        col("agent_id").alias("agent_id"),
        col("team_id").alias("team_id"),
        col("user_id").alias("user_id"),
        col("end_user_id", "end_user").alias("end_user"),
        # the row's one tag, commas and all (a list, so it is never split)
        (pl.concat_list(pl.col(tag_col)) if tag_col else pl.lit(None, pl.List(pl.String))).alias("tags"),
    )
    entity = pick(cols, *ENTITIES)
    notes = [
        f"a roll-up by {entity or 'an unknown entity'}: each roll-up table counts the same spend again, "
        "so load one of them (or the request log) per report"
    ]
    if entity in ("tag", "tag_id"):
        notes.append("a request with several tags is counted once per tag: totals here can exceed the real spend")
    n_unpriced = df.select(pl.when(unpriced).then(ok).sum()).item()
    if n_unpriced:
        notes.append(unpriced_note(int(n_unpriced)))
    failed = pick(cols, "failed_requests")
    if failed:
        n = df[failed].cast(pl.Int64, strict=False).sum()
        if n:
            notes.append(
                f"{n:,} failed requests are included in the request counts (the roll-up gives no "
                "separate cost for them)"
            )
    return Loaded(
        "litellm_daily", shown, stage(mapped, file=shown, source="litellm_daily", cost_scale=100.0), notes=notes
    )


FORMAT = Format(
    "litellm_daily", "LiteLLM daily spend roll-up export (per key, model and day)", ("csv", "jsonl"), sniff, read
)
