"""OpenRouter, OpenAI and Anthropic exports: mapping, totals against the files' own numbers, bad input."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

import usagekit
from usagekit.errors import SourceError
from usagekit.sources import detect, read_document

DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize(
    "path, fmt",
    [
        ("openrouter/activity.csv", "openrouter"),
        ("openrouter/activity_v2.csv", "openrouter"),
        ("openrouter/activity_api.csv", "openrouter_activity"),
        ("openai/costs.json", "openai"),
        ("openai/usage_completions.jsonl", "openai"),
        ("anthropic/cost_report.json", "anthropic"),
        ("canonical/usage.jsonl", "canonical"),
        ("litellm/spend_logs.csv", "litellm"),
    ],
)
def test_each_format_is_detected_by_content(path, fmt):
    assert detect(DATA / path)[0].name == fmt


# -- OpenRouter ---------------------------------------------------------------------------


def test_openrouter_export_maps_costs_tokens_keys_and_providers():
    df = usagekit.load(DATA / "openrouter" / "activity.csv").to_pandas().set_index("request_id")
    first = df.loc["gen-1760000001-AbCdEf"]
    assert first.cost_cents == pytest.approx(0.0435) and first.provider == "openai"
    assert (first.input_tokens, first.output_tokens, first.cached_input_tokens) == (1820, 310, 1024)
    assert first.key_id == "research-key" and first.agent_name == "Cline"
    assert df.loc["gen-1760000003-MnOpQr", "provider"] == "google"  # Google AI Studio
    assert pd.isna(df.loc["gen-1760000004-StUvWx", "cost_cents"])  # empty cost: unpriced, not $0
    assert df.loc["gen-1760000005-YzAbCd", "status"] == "error"
    raw = pd.read_csv(DATA / "openrouter" / "activity.csv")
    assert df["cost_cents"].sum() == pytest.approx(raw["cost_total"].sum() * 100, abs=1e-9)


def test_openrouter_tolerates_column_drift():
    df = usagekit.load(DATA / "openrouter" / "activity_v2.csv").to_pandas().set_index("request_id")
    assert df.loc["gen-2-2", "cost_cents"] == pytest.approx(0.734)
    assert df.loc["gen-2-2", "reasoning_tokens"] == 1500 and df.loc["gen-2-1", "provider"] == "mistral"
    assert df.loc["gen-2-1", "ts"] == pd.Timestamp("2026-10-04T08:00:00Z")


def test_openrouter_activity_api_rows_are_daily_buckets():
    usage = usagekit.load(DATA / "openrouter" / "activity_api.csv")
    df = usage.to_pandas()
    assert df["request_id"].isna().all() and df["requests"].sum() == 445
    assert usage.filter(month="2026-10").total()["cost_cents"] == pytest.approx((0.84 + 3.91 + 0.77) * 100)


def test_openrouter_without_a_cost_column_is_a_clear_error(tmp_path):
    bad = tmp_path / "or.csv"
    bad.write_text("generation_id,created_at,tokens_prompt,model_permaslug\ng1,2026-10-01T00:00:00Z,5,m\n")
    with pytest.raises(SourceError, match="no cost cents column.*cost_total"):
        usagekit.load(bad, format="openrouter")


# -- OpenAI -------------------------------------------------------------------------------


def test_openai_costs_reconcile_with_the_page_amounts():
    usage = usagekit.load(DATA / "openai" / "costs.json")
    doc = json.loads((DATA / "openai" / "costs.json").read_text())
    want = sum(Decimal(str(r["amount"]["value"])) for b in doc["data"] for r in b["results"]) * 100
    got = usage.filter(month="2026-10").total()["cost_cents"]
    assert abs(Decimal(got) - want) < Decimal("1e-9")
    df = usage.to_pandas()
    assert set(df["model"].dropna()) == {"gpt-4o-2024-08-06", "o3-mini-2025-01-31"}
    assert df["ts"].min() == pd.Timestamp("2026-10-01T00:00:00Z")


def test_openai_usage_pages_are_unpriced_buckets_with_requests_and_voice():
    usage = usagekit.load(DATA / "openai" / "usage_completions.jsonl")
    df = usage.to_pandas()
    assert usage.load_report.unpriced == 3 and df["cost_cents"].isna().all()
    assert df["requests"].sum() == 83 and df.loc[df.axis == "voice", "characters"].item() == 12000
    assert df.loc[df.model == "gpt-4o-2024-08-06", "cached_input_tokens"].item() == 20480
    both = usagekit.load(DATA / "openai")  # costs once, requests once
    assert both.filter(month="2026-10").total()["requests"] == 83


def test_openai_string_amount_negative_and_currency(tmp_path):
    doc = json.loads((DATA / "openai" / "costs.json").read_text())
    doc["data"][0]["results"][0]["amount"]["value"] = "-0.5"
    doc["data"][0]["results"][1]["amount"]["currency"] = "eur"
    doc["data"][1]["results"][0]["amount"]["value"] = "twelve"
    usage = usagekit.load(doc)
    r = usage.load_report
    assert (r.read, r.kept, r.rejected) == (4, 1, 3)
    assert set(r.reasons) == {"negative cost", "currency EUR is not USD", "cost is not a number"}


def test_openai_wrong_shape_and_truncation_name_the_place(tmp_path):
    (tmp_path / "x.json").write_text(json.dumps({"object": "page", "data": [{"results": []}]}))
    with pytest.raises(SourceError, match=r"field 'data\[0\].start_time'"):
        usagekit.load(tmp_path / "x.json", format="openai")
    text = (DATA / "openai" / "costs.json").read_text()
    (tmp_path / "cut.json").write_text(text[: len(text) // 2])
    with pytest.raises(SourceError, match=r"cut.json row \d+: not valid JSON.*line \d+ column \d+"):
        usagekit.load(tmp_path / "cut.json", format="openai")


# -- Anthropic ----------------------------------------------------------------------------


def test_anthropic_amounts_are_cents_strings_and_reconcile():
    usage = usagekit.load(DATA / "anthropic" / "cost_report.json")
    doc = json.loads((DATA / "anthropic" / "cost_report.json").read_text())
    want = sum(Decimal(r["amount"]) for b in doc["data"] for r in b["results"])
    got = usage.filter(month="2026-10").total()["cost_cents"]
    assert abs(Decimal(got) - want) < Decimal("1e-9")
    df = usage.to_pandas()
    assert df.loc[df.model == "web_search", "cost_cents"].item() == 20  # "20" cents = $0.20, not $20
    assert df.loc[df.account_id == "wrkspc_01A", "cost_cents"].sum() == pytest.approx(543.55)
    assert (df["requests"] == 0).all() and df["request_id"].isna().all()


def test_anthropic_bad_values_are_counted_and_bad_shapes_named(tmp_path):
    doc = json.loads((DATA / "anthropic" / "cost_report.json").read_text())
    doc["data"][0]["results"][0]["amount"] = "-1.00"
    doc["data"][0]["results"][1]["amount"] = "n/a"
    doc["data"][1]["starting_at"] = "yesterday"
    usage = usagekit.load(doc)
    assert usage.load_report.reasons == {"negative cost": 1, "cost is not a number": 1, "unparseable timestamp": 1}
    with pytest.raises(SourceError, match=r"field 'data\[0\].starting_at'"):
        read_document({"data": [{"results": []}], "has_more": False}, "x.json", format="anthropic")


def test_openrouter_reordered_export_cancelled_and_byok():
    usage = usagekit.load(DATA / "openrouter" / "activity_reordered.csv")
    df = usage.to_pandas().set_index("request_id")
    assert df.loc["gen-r1", "cost_cents"] == pytest.approx(0.02) and df.loc["gen-r1", "status"] == "success"
    assert df.loc["gen-r2", "status"] == "error"  # cancelled=true: not a success, its cost still counts
    assert df.loc["gen-r2", "cost_cents"] == pytest.approx(1.38)
    assert pd.isna(df.loc["gen-r3", "cost_cents"]) and usage.load_report.unpriced == 1
    notes = " ".join(usage.load_report.files[0].notes)
    assert "BYOK" in notes and "$0.010000" in notes  # inference billed on the user's own provider key


def _costs_pages():
    return json.loads((DATA / "openai" / "costs_pages.json").read_text())


def test_openai_json_array_of_pages_reads_every_page():
    usage = usagekit.load(DATA / "openai" / "costs_pages.json")
    assert usage.load_report.read == usage.load_report.kept == 4
    assert usage.to_pandas()["cost_cents"].sum() == pytest.approx((0.1184 + 0.42 + 0.015) * 100)
    assert usage.load_report.files[0].notes == []


def test_openai_a_last_page_with_has_more_says_pages_are_missing(tmp_path):
    (tmp_path / "p1.json").write_text(json.dumps(_costs_pages()[:1]))
    notes = usagekit.load(tmp_path / "p1.json").load_report.files[0].notes
    assert any("has_more" in n and "page_AAAAAGdGxdEPdX0Tjd_AAAAAABOAAAAAAAAA" in n for n in notes)


def test_openai_a_page_saved_twice_is_counted_once(tmp_path):
    p1, p2 = _costs_pages()
    (tmp_path / "pages.jsonl").write_text("\n".join(json.dumps(p) for p in (p1, p1, p2)) + "\n")
    usage = usagekit.load(tmp_path / "pages.jsonl")
    r = usage.load_report
    assert (r.read, r.kept, r.rejected) == (6, 4, 2)
    assert list(r.reasons) == ["the same bucket result appears again (a page saved twice?)"]
    assert usage.to_pandas()["cost_cents"].sum() == pytest.approx((0.1184 + 0.42 + 0.015) * 100)


@pytest.mark.parametrize(
    "fmt, doc, where",
    [
        (
            "openai",
            {"object": "page", "data": [{"start_time": 1790812800, "results": [None]}]},
            r"data\[0\].results\[0\]",
        ),
        (
            "anthropic",
            {"data": [{"starting_at": "2026-10-01T00:00:00Z", "results": ["x"]}], "has_more": False},
            r"data\[0\].results\[0\]",
        ),
    ],
)
def test_a_result_that_is_not_an_object_is_a_clear_error(fmt, doc, where):
    with pytest.raises(SourceError, match=rf"field '{where}'.*not an object"):
        read_document(doc, "x.json", format=fmt)


def test_openai_audio_tokens_in_completions_are_reported():
    page = {
        "object": "page",
        "has_more": False,
        "next_page": None,
        "data": [
            {
                "object": "bucket",
                "start_time": 1790812800,
                "end_time": 1790899200,
                "results": [
                    {
                        "object": "organization.usage.completions.result",
                        "input_tokens": 5000,
                        "output_tokens": 900,
                        "input_cached_tokens": 0,
                        "input_audio_tokens": 1200,
                        "output_audio_tokens": 300,
                        "num_model_requests": 4,
                        "project_id": None,
                        "user_id": None,
                        "api_key_id": None,
                        "model": "gpt-4o-audio-preview",
                        "batch": None,
                        "service_tier": None,
                    }
                ],
            }
        ],
    }
    loaded = read_document(page, "x.json")
    assert any("1,200 audio input" in n and "300 audio output" in n for n in loaded.notes)


def test_anthropic_report_pages_saved_twice_and_missing_pages(tmp_path):
    doc = json.loads((DATA / "anthropic" / "cost_report.json").read_text())
    doc["has_more"], doc["next_page"] = True, "page_MjAyNi0xMC0wMw=="
    (tmp_path / "report.jsonl").write_text(json.dumps(doc) + "\n" + json.dumps(doc) + "\n")
    usage = usagekit.load(tmp_path / "report.jsonl")
    r = usage.load_report
    assert (r.read, r.kept, r.rejected) == (10, 5, 5)
    assert any("page_MjAyNi0xMC0wMw==" in n for n in r.files[0].notes)


def test_openrouter_activity_api_response_saved_as_json():
    path = DATA / "openrouter" / "activity_api.json"
    assert detect(path)[0].name == "openrouter_activity"
    usage = usagekit.load(path)
    df = usage.to_pandas()
    assert df["requests"].sum() == 255 and df["cost_cents"].sum() == pytest.approx(475)
    assert any("BYOK" in n and "$1.250000" in n for n in usage.load_report.files[0].notes)
    loaded = read_document(json.loads(path.read_text()), "<response>")
    assert loaded.format == "openrouter_activity"
