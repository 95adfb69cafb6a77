"""`usagekit export`: FOCUS 1.2 rows with every mandatory column, and the normalized rows as CSV/Parquet,
each loading back through usagekit's own readers to the same totals."""

from __future__ import annotations

import json

import polars as pl
import pytest

import usagekit
from usagekit.cli import main

# FOCUS 1.2: the columns whose feature level is Mandatory (written out here from the specification,
# not imported from usagekit, so the test fails if the exporter's own list is wrong)
FOCUS_1_2_MANDATORY = [
    "BilledCost",
    "BillingAccountId",
    "BillingAccountName",
    "BillingCurrency",
    "BillingPeriodEnd",
    "BillingPeriodStart",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "ChargePeriodEnd",
    "ChargePeriodStart",
    "ContractedCost",
    "EffectiveCost",
    "InvoiceIssuerName",
    "ListCost",
    "PricingQuantity",
    "PricingUnit",
    "ProviderName",
    "PublisherName",
    "ServiceCategory",
    "ServiceName",
]
NULLABLE = {"ChargeClass"}  # null unless the row corrects an earlier period
ISO_Z = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"

SAMPLE = """ts,request_id,account_id,key_id,key_name,provider,model,requests,input_tokens,output_tokens,cached_input_tokens,cost_cents,tags
2026-10-03T10:00:00Z,r1,acct_a,vk_1,bot,openai,gpt-4o,1,1000,200,100,1.234567,"[""env:prod"",""team:cx""]"
2026-10-03T11:00:00Z,r2,acct_a,vk_1,bot,openai,gpt-4o,1,500,50,0,0.5,"[""env:prod"",""team:cx""]"
2026-10-03T12:00:00Z,r3,acct_a,vk_1,bot,openai,gpt-4o,1,700,70,0,,"[""env:prod"",""team:cx""]"
2026-10-03T13:00:00Z,r4,acct_a,vk_1,bot,openai,gpt-4o,1,300,30,0,,"[""env:prod"",""team:cx""]"
2026-10-04T09:00:00Z,r5,acct_b,vk_2,etl,anthropic,claude-sonnet-4,1,4000,900,0,3.0000001,
2026-10-31T23:59:59Z,r6,,,,anthropic,claude-sonnet-4,1,10,10,0,0.0004,"[""urgent""]"
2026-11-01T00:00:00Z,r7,acct_a,vk_1,bot,openai,gpt-4o,1,10,10,0,99,
"""


def sums(usage, month="2026-10") -> dict:
    m = usage.filter(month=month)
    t = m.total()
    daily = m.daily("model")
    return {
        "cost": t["cost_cents"],
        "requests": t["requests"],
        "tokens": {c: int(daily[c].sum()) for c in ("input_tokens", "output_tokens") if c in daily},
        "by_key": m.key_summary().set_index("key_id")["spend_cents"].round(6).to_dict(),
        "by_day_model": {(str(r.date), r.model): round(r.cost_cents, 6) for r in daily.itertuples()},
    }


@pytest.fixture(scope="module")
def demo_focus(demo_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "october.focus.csv"
    assert (
        main(["export", "--format", "focus", "--month", "2026-10", "--source", str(demo_dir), "--out", str(out)]) == 0
    )
    return out


def test_focus_export_carries_every_mandatory_column_filled(demo_focus):
    df = pl.read_csv(demo_focus, infer_schema_length=0)
    missing = [c for c in FOCUS_1_2_MANDATORY if c not in df.columns]
    assert missing == []
    assert all(c.startswith("x_") or c[0].isupper() for c in df.columns)  # custom columns are x_-prefixed
    for c in FOCUS_1_2_MANDATORY:
        if c not in NULLABLE:
            assert df[c].null_count() == 0, c
    assert set(df["ChargeCategory"]) == {"Usage"} and set(df["BillingCurrency"]) == {"USD"}
    for c in ("ChargePeriodStart", "ChargePeriodEnd", "BillingPeriodStart", "BillingPeriodEnd"):
        assert df[c].str.contains(ISO_Z).all(), c
    assert set(df["BillingPeriodStart"]) == {"2026-10-01T00:00:00Z"}
    assert set(df["BillingPeriodEnd"]) == {"2026-11-01T00:00:00Z"}  # exclusive end
    assert set(df["ServiceCategory"]) <= {"AI and Machine Learning", "Compute"}
    costs = df.select(
        [pl.col(c).cast(pl.Float64) for c in ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost")]
    )
    assert (costs["BilledCost"] == costs["EffectiveCost"]).all() and (costs["BilledCost"] >= 0).all()


def test_focus_export_round_trips_through_the_focus_reader_to_the_same_totals(demo_dir, demo_focus):
    back = usagekit.load(demo_focus)
    assert back.load_report.to_frame()["format"].tolist() == ["focus"]
    assert back.load_report.rejected == 0
    a, b = sums(usagekit.load(demo_dir)), sums(back)
    assert b["cost"] == pytest.approx(a["cost"], abs=1e-6)
    assert b["requests"] == a["requests"] and b["tokens"] == a["tokens"]
    assert b["by_key"] == pytest.approx(a["by_key"], abs=1e-5)
    assert b["by_day_model"] == pytest.approx(a["by_day_model"], abs=1e-5)
    axes = lambda u: u.filter(month="2026-10").breakdown("axis").set_index("axis")["cost_cents"].round(5).to_dict()  # noqa: E731
    assert axes(back) == axes(usagekit.load(demo_dir))


def test_unpriced_usage_exports_as_its_own_zero_cost_rows_and_reads_back_unpriced(tmp_path):
    src = tmp_path / "usage.csv"
    src.write_text(SAMPLE)
    out = tmp_path / "focus.parquet"
    assert main(["export", "--format", "focus", "--month", "2026-10", "--source", str(src), "--out", str(out)]) == 0
    df = pl.read_parquet(out)
    assert df.height == 4  # gpt-4o priced, gpt-4o unpriced, claude for acct_b, claude without account
    unpriced = df.filter(pl.col("x_Unpriced") == "true")
    assert unpriced.height == 1
    row = unpriced.row(0, named=True)
    assert row["BilledCost"] == "0" and row["x_Requests"] == 2 and row["x_InputTokens"] == 1000
    assert "unpriced" in row["ChargeDescription"]
    priced = df.filter((pl.col("x_Unpriced") == "false") & (pl.col("ResourceId") == "vk_1")).row(0, named=True)
    assert priced["BilledCost"] == "0.01734567"  # dollars, sub-cent kept, not rounded to cents
    assert json.loads(priced["Tags"]) == {"env": "prod", "team": "cx"}
    orphan = df.filter(pl.col("ResourceId").is_null()).row(0, named=True)
    assert orphan["BillingAccountId"] == "unassigned" and orphan["SubAccountId"] is None
    assert json.loads(orphan["Tags"]) == {"urgent": None}

    original, back = usagekit.load(src), usagekit.load(out)
    a, b = original.filter(month="2026-10").total(), back.filter(month="2026-10").total()
    assert b["cost_cents"] == pytest.approx(a["cost_cents"], abs=1e-9)
    assert b["requests"] == a["requests"] == 6
    assert b["unpriced_rows"] == 1 and a["unpriced_rows"] == 2  # two unpriced requests, one FOCUS row
    tags = back.filter(month="2026-10").breakdown("tag").set_index("tag")["cost_cents"].round(6).to_dict()
    assert tags == pytest.approx({"env:prod": 1.734567, "team:cx": 1.734567, "urgent": 0.0004, "(none)": 3.0000001})


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_normalized_rows_round_trip_with_unpriced_rows_and_tags(tmp_path, fmt, capsys):
    src = tmp_path / "usage.csv"
    src.write_text(SAMPLE)
    out = tmp_path / f"rows.{fmt}"
    assert main(["export", "--format", fmt, "--month", "2026-10", "--source", str(src), "--out", str(out)]) == 0
    assert f"exported 6 {fmt} rows" in capsys.readouterr().out
    back = usagekit.load(out)
    original = usagekit.load(src).filter(month="2026-10")
    assert back.load_report.kept == 6 and back.load_report.rejected == 0
    assert back.filter(month="2026-10").total() == pytest.approx(original.total())
    a = original.frame.collect().to_native().sort("request_id")
    b = back.filter(month="2026-10").frame.collect().to_native().sort("request_id")
    for c in ("ts", "request_id", "account_id", "key_id", "model", "input_tokens", "cached_input_tokens", "tags"):
        assert a[c].to_list() == b[c].to_list(), c
    assert b["cost_cents"].null_count() == 2


def test_export_refuses_a_directory_as_output(demo_dir, tmp_path, capsys):
    assert (
        main(["export", "--format", "focus", "--month", "2026-10", "--source", str(demo_dir), "--out", str(tmp_path)])
        == 2
    )
    assert "is a directory; pass a file name" in capsys.readouterr().err
