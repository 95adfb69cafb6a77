"""LiteLLM daily roll-ups and FinOps FOCUS exports."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import usagekit
from usagekit.errors import SourceError

DATA = Path(__file__).parent / "data"


def test_litellm_daily_rollup_cross_checks_with_the_request_log():
    daily = usagekit.load(DATA / "litellm_daily" / "daily_team_spend.csv")
    logs = usagekit.load(DATA / "litellm" / "spend_logs.csv")
    d = daily.to_pandas()
    assert d["request_id"].isna().all() and d["requests"].tolist() == [3, 1]
    key = "9c193fcb2967541b2d28c9d616788c8084574acc2b50663362d11e7af110d35f"
    a = daily.filter(start="2026-10-03", end="2026-10-03", keys=key).total()["cost_cents"]
    b = logs.filter(start="2026-10-03", end="2026-10-03", keys=key).total()["cost_cents"]
    assert a == pytest.approx(b, abs=1e-9)
    assert d.loc[0, "account_id"] == "team_cx" and d.loc[0, "cached_input_tokens"] == 2048
    assert any("failed requests" in n for n in daily.load_report.files[0].notes)


def test_focus_usage_rows_kept_other_charges_counted_as_rejected():
    usage = usagekit.load(DATA / "focus" / "focus.csv")
    r = usage.load_report
    assert (r.read, r.kept, r.rejected) == (4, 2, 2)
    assert r.reasons == {"not a usage charge (ChargeCategory=Tax)": 1, "currency EUR is not USD": 1}
    df = usage.to_pandas()
    assert df["cost_cents"].sum() == pytest.approx(173.45)
    first = df.iloc[0]
    assert (first.key_id, first.key_name, first.account_id, first.provider, first.model) == (
        "vk_1",
        "support-bot",
        "acct_acme",
        "openai",
        "gpt-4o",
    )
    assert first.input_tokens == 493800 and first.requests == 120
    assert pd.isna(df.iloc[1].input_tokens)  # output tokens are not input tokens


def test_focus_without_a_cost_column_is_a_clear_error(tmp_path):
    bad = tmp_path / "focus.csv"
    bad.write_text("ChargePeriodStart,ServiceName,ListCost\n2026-10-01T00:00:00Z,gpt-4o,1\n")
    with pytest.raises(SourceError, match="BilledCost"):
        usagekit.load(bad, format="focus")


def test_every_litellm_rollup_entity_variant_is_detected():
    from usagekit.sources import detect

    base = (
        "date,api_key,model,model_group,custom_llm_provider,endpoint,prompt_tokens,completion_tokens,"
        "cache_read_input_tokens,cache_creation_input_tokens,spend,api_requests,successful_requests,failed_requests"
    )
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        for entity in ("user_id", "team_id", "organization_id", "end_user_id", "agent_id", "tag"):
            p = Path(tmp) / f"{entity}.csv"
            p.write_text(f"id,{entity},{base}\nx,e1,2026-10-01,abc,m,m,openai,/chat/completions,1,1,0,0,1e-05,1,1,0\n")
            assert detect(p)[0].name == "litellm_daily", entity


def test_litellm_tag_rollup_says_multi_tag_requests_count_once_per_tag():
    usage = usagekit.load(DATA / "litellm_daily" / "daily_tag_spend.csv")
    assert usage.to_pandas()["cached_input_tokens"].tolist() == [1200, 1200]
    assert any("once per tag" in n for n in usage.load_report.files[0].notes)


def test_litellm_rollup_as_json_lines():
    usage = usagekit.load(DATA / "litellm_daily" / "daily_end_user_spend.jsonl")
    assert usage.load_report.files[0].format == "litellm_daily"
    df = usage.to_pandas()
    assert df["cost_cents"].sum() == pytest.approx(7.48) and df["requests"].sum() == 2
    assert df["ts"].min() == pd.Timestamp("2026-10-05T00:00:00Z")


FOCUS_TOKENS = DATA / "focus" / "focus_tokens.csv"


def test_focus_token_quantities_follow_their_units_and_meters():
    df = usagekit.load(FOCUS_TOKENS).to_pandas()
    by = df.set_index(df["cost_cents"].round(4))
    assert by.loc[1.25, "input_tokens"] == 5000 and pd.isna(by.loc[1.25, "output_tokens"])
    assert by.loc[4.0, "output_tokens"] == 5000 and pd.isna(by.loc[4.0, "input_tokens"])
    assert by.loc[14.81, "input_tokens"] == 49380  # 49.38 x "1000 Tokens", direction from the description
    assert by.loc[0.3, "cached_input_tokens"] == 10000 and by.loc[0.3, "input_tokens"] == 10000
    assert by.loc[2.0, "requests"] == 2 and pd.isna(by.loc[2.0, "input_tokens"])  # unit Requests
    assert by.loc[1.25, "model"] == "gpt-4.1-2025-04-14"  # x_Model beats ServiceName


def test_focus_every_non_usage_charge_and_other_currency_is_a_counted_rejection():
    usage = usagekit.load(FOCUS_TOKENS)
    r = usage.load_report
    assert (r.read, r.kept, r.rejected) == (9, 5, 4)
    assert r.reasons == {
        "not a usage charge (ChargeCategory=Purchase)": 1,
        "not a usage charge (ChargeCategory=Credit)": 1,
        "not a usage charge (ChargeCategory=Adjustment)": 1,
        "currency EUR is not USD": 1,
    }
    assert usage.rejected.set_index("value").loc["EUR", "field"] == "BillingCurrency"


def test_focus_parquet_export_reads_like_the_csv(tmp_path):
    import polars as pl

    df = pl.read_csv(FOCUS_TOKENS, infer_schema=False).with_columns(
        pl.col("ChargePeriodStart").str.to_datetime(time_zone="UTC"),
        pl.col("BilledCost").cast(pl.Float64),
        pl.col("ConsumedQuantity").cast(pl.Float64),
    )
    df.write_parquet(tmp_path / "focus.parquet")
    a, b = usagekit.load(FOCUS_TOKENS), usagekit.load(tmp_path / "focus.parquet")
    assert b.load_report.files[0].format == "focus"
    assert (b.load_report.read, b.load_report.kept) == (a.load_report.read, a.load_report.kept)
    pa, pb = a.to_pandas(), b.to_pandas()
    assert pb["cost_cents"].sum() == pytest.approx(pa["cost_cents"].sum())
    assert pb["ts"].tolist() == pa["ts"].tolist() and pb["input_tokens"].sum() == pa["input_tokens"].sum()
