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
