"""LiteLLM exports as its proxy writes them: the columns of schema.prisma (SpendLogs, VerificationToken,
the daily spend tables, the team and user tables) dumped with PostgreSQL's ``\\copy ... CSV HEADER``
(t/f booleans, JSON columns as text, ``+00`` offsets, ``{a,b}`` arrays)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import polars as pl
import pytest

import usagekit
from usagekit.sources import detect
from usagekit.sources.litellm import billed_model

DATA = Path(__file__).parent / "data" / "litellm_prisma"
LOGS = DATA / "spend_logs.csv"


# model (as LiteLLM writes it), custom_llm_provider, model_group, base model logged for the deployment
#   -> model as the provider bills it, provider
MODEL_CASES = [
    ("openai/gpt-4.1", "openai", "gpt-4.1", None, "gpt-4.1", "openai"),
    (
        "anthropic/claude-3-5-sonnet-20241022",
        "anthropic",
        "claude-3-5-sonnet",
        None,
        "claude-3-5-sonnet-20241022",
        "anthropic",
    ),
    ("vertex_ai/gemini-2.5-pro", "vertex_ai", "gemini-pro", None, "gemini-2.5-pro", "vertex_ai"),
    (
        "bedrock/anthropic.claude-3-5-sonnet-20241022-v2:0",
        "bedrock",
        "claude-bedrock",
        None,
        "anthropic.claude-3-5-sonnet-20241022-v2:0",
        "bedrock",
    ),
    (
        "bedrock/converse/us.anthropic.claude-3-5-sonnet-20241022-v2:0",
        "bedrock",
        None,
        None,
        "us.anthropic.claude-3-5-sonnet-20241022-v2:0",
        "bedrock",
    ),
    # an Azure deployment's name is whatever was deployed: its base model when LiteLLM logged it...
    ("azure/contoso-gpt4o-eastus", "azure", "gpt-4o-prod", "azure/gpt-4o", "gpt-4o", "azure"),
    # ...else the public model_group
    ("azure/chat-deploy-2", "azure", "gpt-4o-mini", None, "gpt-4o-mini", "azure"),
    (
        "openrouter/anthropic/claude-3.5-sonnet",
        "openrouter",
        "or-sonnet",
        None,
        "anthropic/claude-3.5-sonnet",
        "openrouter",
    ),
    # older versions: no prefix, or no provider column (the prefix names it)
    ("gpt-4o-mini", "openai", "gpt-4o-mini", None, "gpt-4o-mini", "openai"),
    ("anthropic/claude-3-haiku-20240307", "", None, None, "claude-3-haiku-20240307", "anthropic"),
    ("", "openai", "gpt-4.1", None, "gpt-4.1", "openai"),
    ("my-org/finetune-7b", "", None, None, "my-org/finetune-7b", None),  # not a provider: kept whole
]


@pytest.mark.parametrize("model, provider, group, base, want_model, want_provider", MODEL_CASES)
def test_models_are_named_as_the_provider_bills_them(model, provider, group, base, want_model, want_provider):
    df = pl.DataFrame({"m": [model], "p": [provider], "g": [group], "b": [base]}, schema={c: pl.String for c in "mpgb"})
    got = df.select(*billed_model(pl.col("m"), pl.col("p"), pl.col("g"), pl.col("b"))).row(0, named=True)
    assert (got["model"], got["provider"]) == (want_model, want_provider)


def test_every_table_is_detected_by_its_prisma_columns():
    assert detect(LOGS)[0].name == "litellm"
    assert detect(DATA / "verification_token.csv")[0].name == "litellm_keys"
    for table in ("daily_user_spend", "daily_team_spend", "daily_tag_spend", "daily_organization_spend"):
        assert detect(DATA / f"{table}.csv")[0].name == "litellm_daily"
    assert detect(DATA / "team_table.csv")[0].name == "litellm_teams"
    assert detect(DATA / "user_table.csv")[0].name == "litellm_users"


def test_request_log_models_dimensions_and_unpriced_rows():
    usage = usagekit.load(LOGS, keys=DATA / "verification_token.csv")
    df = usage.to_pandas().set_index("request_id")
    models = df[["model", "provider"]].apply(tuple, axis=1).to_dict()
    assert models == {
        "chatcmpl-0001": ("gpt-4.1", "openai"),
        "chatcmpl-0002": ("claude-3-5-sonnet-20241022", "anthropic"),
        "chatcmpl-0003": ("gemini-2.5-pro", "vertex_ai"),
        "chatcmpl-0004": ("anthropic.claude-3-5-sonnet-20241022-v2:0", "bedrock"),
        "chatcmpl-0005": ("gpt-4o", "azure"),
        "chatcmpl-0006": ("gpt-4o-mini", "azure"),
        "chatcmpl-0007": ("anthropic/claude-3.5-sonnet", "openrouter"),
        "chatcmpl-0008": ("gpt-4.1", "openai"),
    }
    r = df.loc["chatcmpl-0001"]
    assert (r.team_id, r.user_id, r.end_user, list(r.tags)) == ("team-research", "alice", "cust-17", ["prod", "search"])
    assert df.loc["chatcmpl-0003", "end_user"] == "cust-42"  # from metadata.user_api_key_end_user_id
    assert pd.isna(df.loc["chatcmpl-0003", "cost_cents"])  # spend 0 on 1,500 tokens: unpriced, not free
    assert df.loc["chatcmpl-0008", "cost_cents"] == 0 and df.loc["chatcmpl-0008", "status"] == "error"
    assert df.loc["chatcmpl-0005", "tags"] is None  # [] is no tags
    assert df.loc["chatcmpl-0002", "cached_input_tokens"] == 2048
    assert usage.load_report.naive_ts == 0 and usage.load_report.unpriced == 1
    assert usage.total()["cost_cents"] == pytest.approx(5.501)
    # the key export's own spend counter agrees with the log, key by key
    per_key = df.groupby("key_name")["cost_cents"].sum()
    assert per_key.to_dict() == pytest.approx({"research-bot": 3.25, "support-bot": 1.30, "batch-jobs": 0.951})


def test_key_budget_periods_from_the_token_table():
    keys = usagekit.load(LOGS, keys=DATA / "verification_token.csv").keys.set_index("key_name")
    assert keys.loc["research-bot", "budget_period"] == "7d"
    assert keys.loc["research-bot", "budget_reset_at"] == pd.Timestamp("2026-10-12T00:00:00Z")
    assert keys.loc["support-bot", "budget_period"] == "1d" and keys.loc["support-bot", "spend_cap_cents"] == 500
    assert keys.loc["batch-jobs", "budget_period"] == "1mo"


def test_daily_rollups_name_models_as_billed_and_call_zero_spend_with_tokens_unpriced():
    loaded = usagekit.sources.read(DATA / "daily_user_spend.csv")
    rows = loaded.usage.collect().sort("_row")
    assert rows["model"].to_list() == [
        "gpt-4.1",
        "claude-3-5-sonnet-20241022",
        "gemini-2.5-pro",
        "gpt-4.1",
        "gpt-4o-prod",
    ]
    assert rows["user_id"].to_list() == ["alice", "alice", "bob", "alice", "bob"]
    # the gemini row: spend 0, 1,500 tokens, 1 successful request -> unpriced, with the request log's note;
    # the failed-only rows (spend 0, no successful request) stay $0
    assert rows["cost_cents"].to_list()[2] is None
    assert rows["cost_cents"].to_list()[3:] == [0.0, 0.0]
    assert (
        "1 successful request(s) with tokens but spend 0 read as unpriced (LiteLLM had no price for the model)"
        in loaded.notes
    )
    usage = usagekit.load(DATA / "daily_user_spend.csv")
    assert usage.load_report.naive_ts == 0  # dates are days, not times lacking an offset
    assert usage.load_report.unpriced == 1


def test_daily_tables_fill_their_entity_dimension():
    team = usagekit.sources.read(DATA / "daily_team_spend.csv").usage.collect()
    assert set(team["team_id"]) == {"team-research", "team-support"}
    assert "anthropic.claude-3-5-sonnet-20241022-v2:0" in team["model"].to_list()
    tags = usagekit.sources.read(DATA / "daily_tag_spend.csv").usage.collect()
    assert tags["tags"].to_list() == [["prod"], ["search"], ["batch"]]
    assert tags["model"].to_list()[2] == "anthropic/claude-3.5-sonnet"
    org = usagekit.sources.read(DATA / "daily_organization_spend.csv").usage.collect()
    assert set(org["account_id"]) == {"org-acme"} and org["model"].to_list() == ["gpt-4o-mini", "gpt-4o-prod"]


def test_a_bad_request_tags_cell_rejects_the_row_naming_the_field(tmp_path):
    text = LOGS.read_text().splitlines()
    text[1] = text[1].replace('"[""prod"", ""search""]"', '"[""prod"", search]"')
    src = tmp_path / "logs.csv"
    src.write_text("\n".join(text) + "\n")
    usage = usagekit.load(src)
    assert usage.load_report.rejected == 1 and usage.load_report.kept == 7
    bad = usage.rejected.iloc[0]
    assert (bad.field, bad.row) == ("tags", 1) and "JSON list of strings" in bad.reason
    assert bad.value == '["prod", search]'
