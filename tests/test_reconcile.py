"""Three-way reconciliation on real formats: a LiteLLM spend log (the gateway), an OpenAI costs page and an
Anthropic cost report (the bills), and a price map (the estimate).

The fixtures agree everywhere except on 2026-10-02 for gpt-4o: the gateway logged $0.04 (8,000 input and
2,000 output tokens, exactly the list price), OpenAI billed $0.06.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

import usagekit
from usagekit import sections as S
from usagekit.reconciliation import model_key

DATA = Path(__file__).parent / "data"
REC = DATA / "reconcile"
PRICES = DATA / "reprice" / "model_prices_and_context_window.json"


@pytest.fixture(scope="module")
def both():
    return usagekit.load(REC)


def test_sources_disagree_on_a_known_day_and_model(both):
    rec = usagekit.reconcile(both, prices=PRICES)
    lines = rec.lines.set_index(["date", "provider", "model"])
    assert len(lines) == 4  # 2 days x (gpt-4o, claude-sonnet-4): OpenAI's dated name matched to the gateway's
    bad = lines.loc[(dt.date(2026, 10, 2), "openai", "gpt-4o")]
    assert bad["gateway_cents"] == pytest.approx(4.0)
    assert bad["provider_cents"] == pytest.approx(6.0)
    assert bad["estimated_cents"] == pytest.approx(4.0)  # the price map sides with the gateway
    assert bad["gateway_minus_provider_cents"] == pytest.approx(-2.0)
    assert bad["gateway_minus_provider_pct"] == pytest.approx(-100 / 3)
    good = lines.loc[(dt.date(2026, 10, 1), "anthropic", "claude-sonnet-4-20250514")]
    assert (good["gateway_cents"], good["provider_cents"]) == pytest.approx((4.5, 4.5))
    off = rec.disagreements(pct=1.0)
    assert list(zip(off["date"], off["provider"], off["model"])) == [(dt.date(2026, 10, 2), "openai", "gpt-4o")]
    per = rec.by_provider.set_index("provider")
    assert per.loc["openai", "gateway_cents"] == pytest.approx(7.0)
    assert per.loc["openai", "provider_cents"] == pytest.approx(9.0)
    assert per.loc["anthropic", "gateway_minus_provider_cents"] == pytest.approx(0.0)


def test_two_usages_give_the_same_lines_as_one_split_by_source(both):
    gateway = usagekit.load(REC / "litellm_spend_logs.csv")
    bills = usagekit.load([REC / "openai_costs.json", REC / "anthropic_cost_report.json"])
    a = usagekit.reconcile(gateway, bills, prices=PRICES).lines
    b = usagekit.reconcile(both, prices=PRICES).lines
    assert a.equals(b)


def test_a_provider_without_a_bill_is_unknown_not_zero():
    gateway = usagekit.load(REC / "litellm_spend_logs.csv")
    bills = usagekit.load(REC / "anthropic_cost_report.json")
    rec = usagekit.reconcile(gateway, bills, prices=False)
    openai = rec.lines[rec.lines["provider"] == "openai"]
    assert openai["provider_cents"].isna().all() and openai["gateway_cents"].sum() == pytest.approx(7.0)
    assert any("no provider bill loaded for openai" in n for n in rec.notes)
    assert rec.lines["estimated_cents"].isna().all() and rec.price_map is None


def test_model_names_match_across_sources():
    assert model_key("gpt-4o-2024-08-06") == "gpt-4o"
    assert model_key("openai/gpt-4.1") == "gpt-4.1"
    assert model_key("claude-sonnet-4-20250514") == "claude-sonnet-4-20250514"


def test_report_section_appears_only_with_a_gateway_and_a_bill(both):
    ctx = S.ReportContext.build(both, "2026-10")
    section = S.Reconciliation()
    assert section.shown(ctx)
    html = S.reconciliation_section(ctx.report, prices=PRICES)
    assert "1 day x model line(s) differ" in html and "gpt-4o" in html and "2026-10-02" in html
    assert "-33.3%" in html
    single = S.ReportContext.build(usagekit.load(REC / "litellm_spend_logs.csv"), "2026-10")
    assert not section.shown(single)
