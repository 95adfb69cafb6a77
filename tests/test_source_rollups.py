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
        "vk_1", "support-bot", "acct_acme", "openai", "gpt-4o")
    assert first.input_tokens == 493800 and first.requests == 120
    assert pd.isna(df.iloc[1].input_tokens)  # output tokens are not input tokens


def test_focus_without_a_cost_column_is_a_clear_error(tmp_path):
    bad = tmp_path / "focus.csv"
    bad.write_text("ChargePeriodStart,ServiceName,ListCost\n2026-10-01T00:00:00Z,gpt-4o,1\n")
    with pytest.raises(SourceError, match="BilledCost"):
        usagekit.load(bad, format="focus")


def test_every_litellm_rollup_entity_variant_is_detected():
    from usagekit.sources import detect
    base = "date,api_key,model,model_group,custom_llm_provider,endpoint,prompt_tokens,completion_tokens," \
           "cache_read_input_tokens,cache_creation_input_tokens,spend,api_requests,successful_requests,failed_requests"
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
