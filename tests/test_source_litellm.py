"""LiteLLM spend-log and key exports, in their real shape and broken in the usual ways."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import polars as pl
import pytest

import usagekit
from usagekit.errors import SourceError
from usagekit.sources import detect

DATA = Path(__file__).parent / "data" / "litellm"
LOGS, KEYS = DATA / "spend_logs.csv", DATA / "verification_tokens.csv"


def test_detected_by_content():
    assert detect(LOGS)[0].name == "litellm"
    assert detect(KEYS)[0].name == "litellm_keys"
    assert detect(Path(__file__).parent / "data" / "canonical" / "usage.csv")[0].name == "canonical"


def test_spend_reconciles_per_key_with_the_key_exports_own_spend():
    usage = usagekit.load(LOGS, keys=KEYS)
    per_key = usage.to_pandas().groupby("key_id")["cost_cents"].sum()
    exported = pd.read_csv(KEYS).set_index("token")["spend"] * 100
    for key, cents in exported.items():
        assert per_key[key] == pytest.approx(cents, abs=1e-9)
    assert usage.load_report.unpriced == 1  # the o3-mini row with an empty spend is not $0


def test_mapping_of_a_request_row():
    df = usagekit.load(LOGS, keys=KEYS).to_pandas().set_index("request_id")
    r = df.loc["chatcmpl-9f1a02"]
    assert r.ts == pd.Timestamp("2026-10-03T14:30:00Z")
    assert r.key_name == "support-bot" and r.account_id == "org_acme" and r.agent_id == "agent_support"
    assert (r.provider, r.model, r.axis) == ("openai", "gpt-4o-mini", "llm")
    assert (r.input_tokens, r.output_tokens, r.cached_input_tokens) == (2890, 120, 2048)
    assert r.cost_cents == pytest.approx(0.14037)
    assert df.loc["chatcmpl-9f1a01", "cost_cents"] == pytest.approx(1.095e-05 * 100)
    assert df.loc["chatcmpl-9f1a01", "ts"] == pd.Timestamp("2026-10-03T14:22:05.123Z")
    assert df.loc["chatcmpl-9f1a03", "status"] == "error"
    assert df.loc["tts-77a1", "axis"] == "voice"
    assert df.loc["o3-r1", "reasoning_tokens"] == 320
    assert df.loc["msg_01abc", "account_id"] == "team_data"  # no organisation: the team is the account
    assert pd.isna(df.loc["msg_01abd", "cached_input_tokens"])  # metadata not JSON: left empty, no crash


def test_key_export_caps_and_names():
    keys = usagekit.load(LOGS, keys=KEYS).keys.set_index("key_name")
    assert keys.loc["support-bot", "spend_cap_cents"] == 5000
    assert pd.isna(keys.loc["sk-...bbbb", "spend_cap_cents"])  # empty max_budget = no cap, masked name kept
    assert keys.loc["ivr-voice", "account_id"] == "org_acme"


def test_gzip_export_reads_the_same(tmp_path):
    gz = tmp_path / "spend_logs.csv.gz"
    gz.write_bytes(gzip.compress(LOGS.read_bytes()))
    a = usagekit.load(LOGS).to_pandas()["cost_cents"].sum()
    assert usagekit.load(gz).to_pandas()["cost_cents"].sum() == pytest.approx(a)


def test_truncated_export_rejects_the_cut_row(tmp_path):
    text = LOGS.read_text()
    cut = tmp_path / "spend_logs.csv"
    cut.write_text(text[: text.rindex("o3-mini") + 4])  # the file ends inside the last row
    usage = usagekit.load(cut)
    r = usage.load_report
    assert (r.read, r.kept, r.rejected) == (7, 6, 1)
    assert "row" in usage.rejected["reason"].iloc[0]


def test_missing_column_bad_timestamp_negative_cost_and_duplicates(tmp_path):
    df = pl.read_csv(LOGS, infer_schema=False)
    df.drop("spend").write_csv(tmp_path / "nospend.csv")
    with pytest.raises(SourceError, match=r"nospend.csv field 'spend': missing required column 'spend'"):
        usagekit.load(tmp_path / "nospend.csv", format="litellm")
    bad = df.with_columns(
        pl.when(pl.col("request_id") == "chatcmpl-9f1a01")
        .then(pl.lit("03/10/2026 2pm"))
        .otherwise(pl.col("startTime"))
        .alias("startTime"),
        pl.when(pl.col("request_id") == "msg_01abc").then(pl.lit("-0.5")).otherwise(pl.col("spend")).alias("spend"),
    )
    bad = pl.concat([bad, bad.filter(pl.col("request_id") == "tts-77a1")])
    bad.write_csv(tmp_path / "bad.csv")
    usage = usagekit.load(tmp_path / "bad.csv")
    r = usage.load_report
    assert (r.read, r.kept, r.rejected, r.duplicates) == (8, 5, 2, 1)
    assert r.reasons == {"unparseable timestamp": 1, "negative cost": 1}
    rej = usage.rejected.set_index("reason")
    assert rej.loc["unparseable timestamp", "value"] == "03/10/2026 2pm"
    assert rej.loc["negative cost", "field"] == "cost_cents"


def test_spend_logs_as_json_lines_with_metadata_objects(tmp_path):
    rows = pl.read_csv(LOGS, infer_schema=False).to_dicts()
    import json

    lines = []
    for r in rows:
        meta = r.pop("metadata")
        try:
            r["metadata"] = json.loads(meta)  # an object, as a JSON export writes it
        except (TypeError, ValueError):
            r["metadata"] = meta
        lines.append(json.dumps(r))
    (tmp_path / "spend_logs.jsonl").write_text("\n".join(lines) + "\n")
    assert detect(tmp_path / "spend_logs.jsonl")[0].name == "litellm"
    a = usagekit.load(LOGS).to_pandas().set_index("request_id")
    b = usagekit.load(tmp_path / "spend_logs.jsonl").to_pandas().set_index("request_id")
    assert (
        b.loc["chatcmpl-9f1a02", "cached_input_tokens"] == 2048
        and b.loc["chatcmpl-9f1a02", "key_name"] == "support-bot"
    )
    assert b["cost_cents"].sum() == pytest.approx(a["cost_cents"].sum())


# -- a psql \copy export: '+00' offsets, cache tokens in additional_usage_values, every call type
PSQL = DATA / "spend_logs_psql.csv"


def test_psql_export_times_and_call_types():
    df = usagekit.load(PSQL).to_pandas().set_index("request_id")
    assert df.loc["chatcmpl-pg01", "ts"] == pd.Timestamp("2026-10-01T12:00:00.123Z")
    assert df.loc["chatcmpl-pg01", "cost_cents"] == pytest.approx(0.28125)
    assert df.loc["atr-pg02", "axis"] == "voice" and df.loc["spch-pg06", "axis"] == "voice"
    assert df.loc["emb-pg03", "axis"] == "llm" and df.loc["pt-pg04", "status"] == "error"
    assert df.loc["chatcmpl-pg01", "key_name"] == "pg-bot" and df.loc["chatcmpl-pg01", "account_id"] == "team_a"


def test_cache_read_tokens_found_wherever_the_metadata_puts_them():
    df = usagekit.load(PSQL).to_pandas().set_index("request_id")
    # usage_object says 0 cached, additional_usage_values says 1200 read from the provider cache
    assert df.loc["chatcmpl-pg01", "cached_input_tokens"] == 1200


def test_zero_spend_on_a_successful_request_with_tokens_is_unpriced_not_free():
    usage = usagekit.load(PSQL)
    df = usage.to_pandas().set_index("request_id")
    assert pd.isna(df.loc["emb-pg03", "cost_cents"])  # 512 tokens, spend 0.0: no price known to LiteLLM
    assert df.loc["pt-pg04", "cost_cents"] == 0  # a failure really costs nothing
    assert df.loc["chatcmpl-pg05", "cost_cents"] == 0  # LiteLLM's own response cache: free
    assert usage.load_report.unpriced == 1
    assert any("spend 0" in n for n in usage.load_report.files[0].notes)


def test_an_unhashed_secret_in_api_key_is_hashed_like_litellm_does():
    import hashlib

    df = usagekit.load(PSQL).to_pandas().set_index("request_id")
    key = df.loc["spch-pg06", "key_id"]
    assert key == hashlib.sha256(b"sk-live-UnHashedSecret123").hexdigest()
    assert "sk-live" not in df.to_csv()


def test_psql_key_export_budgets_blocked_and_periods():
    loaded = usagekit.sources.read(DATA / "verification_tokens_psql.csv")
    assert loaded.format == "litellm_keys"
    keys = loaded.keys.to_pandas().set_index("key_name")
    assert keys.loc["pg-bot", "spend_cap_cents"] == 2550 and keys.loc["pg-bot", "account_id"] == "team_a"
    assert pd.isna(keys.loc["sk-...x9Qa", "spend_cap_cents"])  # null max_budget: no cap
    assert keys.loc["pg-bot", "created_at"] == pd.Timestamp("2026-09-01T08:00:00.5Z")
    notes = " ".join(loaded.notes)
    assert "1 key(s) are blocked" in notes
    # the cap resets daily from its reset instant; the uncapped 7d key is not counted in the note
    assert keys.loc["pg-bot", "budget_period"] == "1d"
    assert keys.loc["pg-bot", "budget_reset_at"] == pd.Timestamp("2026-10-02T00:00:00Z")
    assert keys.loc["sk-...x9Qa", "budget_period"] == "7d"
    assert "caps reset on their own budget period (1 x 1d)" in notes
