"""Repricing from a price map (genai-prices, or LiteLLM's JSON): estimates labelled, tiers per request,
cached tokens at their price, price checks and cache savings.

The fixture is a LiteLLM_SpendLogs export: two priced gpt-4.1 requests (one billed with its 8,000
cached tokens at the full input price), four unpriced requests the map knows (two gemini-2.5-pro,
one above the 200k tier, one below; claude-sonnet-4 with 1,200 cached tokens; a prefixed gpt-4.1)
and one of a model no map knows. Both price maps carry the same list prices for these models, so
every expected number below is worked out by hand once and holds for both.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import usagekit
from usagekit.prices import PriceMapError

DATA = Path(__file__).parent / "data" / "reprice"
LOGS = DATA / "spend_logs.csv"
LITELLM_MAP = DATA / "model_prices_and_context_window.json"

# cents, by hand: (uncached input x input rate + cached x cached rate + output x output rate) x 100
GEMINI_ABOVE_TIER = (250_000 * 2.5e-6 + 1_000 * 15e-6) * 100  # 64.0: every token at the >200k price
GEMINI_BELOW_TIER = (100_000 * 1.25e-6 + 1_000 * 10e-6) * 100  # 13.5
CLAUDE_CACHED = (300 * 3e-6 + 1_200 * 0.3e-6 + 250 * 15e-6) * 100  # 0.501
GPT41_SMALL = (500 * 2e-6 + 50 * 8e-6) * 100  # 0.14
ESTIMATED = GEMINI_ABOVE_TIER + GEMINI_BELOW_TIER + CLAUDE_CACHED + GPT41_SMALL
SOURCE = 0.36 + 2.08

MAPS = [pytest.param(None, id="genai-prices"), pytest.param(LITELLM_MAP, id="litellm-json")]


@pytest.fixture(scope="module")
def usage():
    return usagekit.load(LOGS)


@pytest.mark.parametrize("prices", MAPS)
def test_unpriced_rows_get_a_labelled_estimate_and_totals_say_how_much(usage, prices):
    before = usage.filter(month="2026-10").total()
    assert before["unpriced_rows"] == 5 and before["cost_cents"] == pytest.approx(SOURCE)

    fixed = usage.reprice(prices=prices)
    total = fixed.filter(month="2026-10").total()
    assert total["estimated_cents"] == pytest.approx(ESTIMATED)
    assert total["estimated_rows"] == 4
    assert total["cost_cents"] == pytest.approx(SOURCE + ESTIMATED)
    assert total["unpriced_rows"] == 1  # the model no map knows stays unpriced, never $0

    rows = fixed.to_pandas().set_index("request_id")
    assert rows.loc["chatcmpl-rp03", "cost_cents"] == pytest.approx(GEMINI_ABOVE_TIER)
    assert rows.loc["chatcmpl-rp04", "cost_cents"] == pytest.approx(GEMINI_BELOW_TIER)
    assert rows.loc["chatcmpl-rp06", "cost_cents"] == pytest.approx(CLAUDE_CACHED)
    assert list(rows["cost_source"].fillna("-")) == [
        "source",
        "source",
        "estimated",
        "estimated",
        "-",
        "estimated",
        "estimated",
    ]
    # priced rows keep the source's own cost (even the over-billed one) when only missing ones are filled
    assert rows.loc["chatcmpl-rp02", "cost_cents"] == pytest.approx(2.08)

    report = fixed.reprice_report
    assert report.estimated_rows == 4 and report.still_unpriced_rows == 1
    assert [m for _, m, _ in report.unmatched_models] == ["mystery-model-1"]
    assert "estimated" in fixed.filter(month="2026-10").summary()


def test_tiers_apply_per_request_not_to_summed_tokens(usage):
    fixed = usage.reprice(prices=LITELLM_MAP)
    gemini = fixed.filter(month="2026-10", models="gemini-2.5-pro").total()["cost_cents"]
    summed_tokens = (350_000 * 2.5e-6 + 2_000 * 15e-6) * 100  # what pricing the day's sum would give
    assert gemini == pytest.approx(GEMINI_ABOVE_TIER + GEMINI_BELOW_TIER)
    assert abs(gemini - summed_tokens) > 10


def test_breakdowns_and_daily_state_the_estimated_part(usage):
    fixed = usage.reprice(prices=LITELLM_MAP).filter(month="2026-10")
    by_model = fixed.breakdown("model").set_index("model")
    assert by_model.loc["gemini-2.5-pro", "estimated_cents"] == pytest.approx(GEMINI_ABOVE_TIER + GEMINI_BELOW_TIER)
    assert by_model.loc["gpt-4.1", "estimated_cents"] == pytest.approx(GPT41_SMALL)
    assert by_model.loc["gpt-4.1", "cost_cents"] == pytest.approx(SOURCE + GPT41_SMALL)
    daily = fixed.daily("provider")
    oct2 = daily[daily["date"].astype(str) == "2026-10-02"].set_index("provider")
    assert oct2.loc["anthropic", "estimated_cents"] == pytest.approx(CLAUDE_CACHED)
    assert daily["estimated_cents"].sum() == pytest.approx(ESTIMATED)
    assert fixed.breakdown("model")["cost_cents"].sum() == pytest.approx(fixed.total()["cost_cents"])


def test_reprice_everything_replaces_source_costs_with_the_map(usage):
    fixed = usage.reprice(missing_only=False, prices=LITELLM_MAP)
    rows = fixed.to_pandas().set_index("request_id")
    correct = (2_000 * 2e-6 + 8_000 * 0.5e-6 + 100 * 8e-6) * 100  # 0.88: cached tokens at the cached rate
    assert rows.loc["chatcmpl-rp02", "cost_cents"] == pytest.approx(correct)
    assert rows.loc["chatcmpl-rp02", "cost_source"] == "estimated"
    assert fixed.filter(month="2026-10").total()["estimated_rows"] == 6


def test_load_with_reprice_option(usage):
    loaded = usagekit.load(LOGS, reprice=True, prices=LITELLM_MAP)
    assert loaded.filter(month="2026-10").total()["estimated_cents"] == pytest.approx(ESTIMATED)
    assert loaded.load_report.kept == 7  # accounting untouched


def test_repriced_store_read_back_keeps_its_labels(usage, tmp_path):
    fixed = usage.reprice(prices=LITELLM_MAP)
    out = tmp_path / "repriced.csv"
    fixed.to_pandas().to_csv(out, index=False)
    again = usagekit.load(out)
    total = again.filter(month="2026-10").total()
    assert total["estimated_rows"] == 4 and total["estimated_cents"] == pytest.approx(ESTIMATED)


@pytest.mark.parametrize("prices", MAPS)
def test_price_check_finds_cached_tokens_billed_at_full_price(usage, prices):
    found = usage.filter(month="2026-10").price_check(tolerance=0.02, prices=prices)
    assert len(found) == 1
    line = found.iloc[0]
    assert (line["provider"], line["model"], line["rows_checked"], line["rows_off"]) == ("openai", "gpt-4.1", 2, 1)
    assert line["source_cents"] == pytest.approx(2.08) and line["map_cents"] == pytest.approx(0.88)
    assert line["difference_cents"] == pytest.approx(1.2)
    assert line["likely_cause"] == "cached input tokens billed at the full input price"


def test_price_check_within_tolerance_lists_nothing(usage):
    assert usage.filter(month="2026-10").price_check(tolerance=2.0, prices=LITELLM_MAP).empty


def test_cache_savings_per_key_and_model(usage):
    per_key = usage.filter(month="2026-10").cache_savings(prices=LITELLM_MAP).set_index("key_name")
    saved_gpt = 8_000 * (2e-6 - 0.5e-6) * 100  # 1.2 cents
    saved_claude = 1_200 * (3e-6 - 0.3e-6) * 100  # 0.324 cents
    assert per_key.loc["support-bot", "saved_cents"] == pytest.approx(saved_gpt + saved_claude)
    assert per_key.loc["support-bot", "cached_input_tokens"] == 9_200
    assert per_key.loc["research", "saved_cents"] == 0
    per_model = usage.filter(month="2026-10").cache_savings(by="model", prices=LITELLM_MAP).set_index("model")
    assert per_model.loc["gpt-4.1", "saved_cents"] == pytest.approx(saved_gpt)
    assert per_model.index[0] == "gpt-4.1"  # largest saving first


def test_missing_extra_names_the_install_command(usage, monkeypatch):
    monkeypatch.setitem(sys.modules, "genai_prices", None)  # as if not installed
    with pytest.raises(PriceMapError, match=r"pip install 'usagekit\[prices\]'"):
        usage.reprice()
    with pytest.raises(PriceMapError, match=r"usagekit\[prices\]"):
        usagekit.load(LOGS, reprice=True)


def test_bad_price_map_path_is_a_clear_error(usage, tmp_path):
    with pytest.raises(PriceMapError, match="no such price map"):
        usage.reprice(prices=tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    with pytest.raises(PriceMapError, match="keyed by model name"):
        usage.reprice(prices=bad)


def test_report_headline_and_invoice_state_the_estimate(usage):
    from usagekit import sections as S

    fixed = usage.reprice(prices=LITELLM_MAP)
    inv = fixed.filter(month="2026-10").invoice("2026-10")
    assert inv.estimated_cents == pytest.approx(ESTIMATED)
    assert inv.lines["estimated_cents"].sum() == pytest.approx(ESTIMATED)
    ctx = S.ReportContext.build(fixed, "2026-10")
    assert "4 rows repriced from a price map" in S.Headline().render(ctx)
    assert "is estimated from a price map" in S.Invoice().render(ctx)
    plain = S.ReportContext.build(usage, "2026-10")
    assert "repriced" not in S.Headline().render(plain)


def test_openai_usage_buckets_are_not_repriced_when_costs_pages_bill_them():
    openai = Path(__file__).parent / "data" / "openai"
    both = usagekit.load([openai / "costs.json", openai / "usage_completions.jsonl"])
    fixed = both.reprice(prices=None)
    assert fixed.total()["cost_cents"] == pytest.approx(both.total()["cost_cents"])  # nothing counted twice
    assert fixed.total()["estimated_rows"] == 0
    assert fixed.reprice_report.billed_elsewhere_rows == 3 and fixed.reprice_report.unmatched_models == []
    # the usage pages alone have no bill beside them: their tokens are worth an estimate
    alone = usagekit.load(openai / "usage_completions.jsonl").reprice(prices=None)
    assert alone.total()["estimated_rows"] > 0 and alone.total()["estimated_cents"] > 0


def test_voice_characters_are_priced_per_character(tmp_path):
    csv = tmp_path / "voice.csv"
    csv.write_text(
        "ts,request_id,provider,model,axis,characters,cost_cents\n2026-10-05T10:00:00Z,tts-1,openai,tts-1,voice,1000,\n"
    )
    fixed = usagekit.load(csv).reprice(prices=LITELLM_MAP)
    assert fixed.to_pandas()["cost_cents"].iloc[0] == pytest.approx(1000 * 15e-6 * 100)  # 1.5 cents


def test_same_estimates_on_duckdb():
    fixed = usagekit.load(LOGS, engine="duckdb").reprice(prices=LITELLM_MAP)
    assert fixed.engine == "duckdb"
    total = fixed.filter(month="2026-10").total()
    assert total["estimated_cents"] == pytest.approx(ESTIMATED) and total["unpriced_rows"] == 1
    assert len(fixed.filter(month="2026-10").price_check(prices=LITELLM_MAP)) == 1
