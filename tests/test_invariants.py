"""Property-based checks of the cube's invariants on generated usage (Hypothesis)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import usagekit

KEYS = ["k1", "k2", "k3", None]
MODELS = ["gpt-4o", "claude-haiku", "tts-1", None]
PROVIDERS = ["openai", "anthropic", None]
AXES = ["llm", "voice", "compute"]
ACCOUNTS = ["a1", "a2", None]

row = st.fixed_dictionaries(
    {
        "minute": st.integers(min_value=-24 * 60, max_value=33 * 24 * 60),  # spills into Sept and Nov
        "key_id": st.sampled_from(KEYS),
        "model": st.sampled_from(MODELS),
        "provider": st.sampled_from(PROVIDERS),
        "axis": st.sampled_from(AXES),
        "account_id": st.sampled_from(ACCOUNTS),
        "cost_cents": st.one_of(
            st.none(),
            st.floats(min_value=0, max_value=500, allow_nan=False),
            st.floats(min_value=0, max_value=0.01, allow_nan=False),
        ),
        "requests": st.integers(min_value=0, max_value=5),
    }
)


def frame(rows) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    df["ts"] = pd.Timestamp("2026-10-01T00:00:00Z") + pd.to_timedelta(df.pop("minute"), unit="min")
    df["request_id"] = [f"r{i}" for i in range(len(df))]
    df["input_tokens"] = 10
    df["output_tokens"] = 3
    return df


def exact(values) -> Decimal:
    return sum((Decimal(float(v)) for v in values if v is not None and v == v), Decimal(0))


@pytest.mark.parametrize("engine_name", ["polars", "duckdb"])
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(row, min_size=1, max_size=60))
def test_breakdowns_days_and_filters_all_agree(engine_name, rows):
    df = frame(rows)
    usage = usagekit.load(df, engine=engine_name)
    oct_ = usage.filter(month="2026-10")
    in_month = df[(df.ts >= "2026-10-01T00:00:00Z") & (df.ts < "2026-11-01T00:00:00Z")]
    want = exact(in_month["cost_cents"])
    total = oct_.total()
    assert abs(Decimal(total["cost_cents"]) - want) < Decimal("1e-9")
    assert total["requests"] == int(in_month["requests"].sum())
    assert total["unpriced_rows"] == int(in_month["cost_cents"].isna().sum())
    for by in ("model", "provider", "key", "axis", "account"):
        daily = oct_.daily(by=by)
        assert len(daily) % 31 == 0 and daily["date"].nunique() == (31 if len(daily) else 0)
        assert abs(Decimal(daily["cost_cents"].sum()) - want) < Decimal("1e-8")
        assert daily["requests"].sum() == total["requests"]
    # filters partition
    parts = sum(Decimal(usage.filter(month="2026-10", axis=a).total()["cost_cents"]) for a in AXES)
    assert abs(parts - want) < Decimal("1e-8")
    # days partition the month
    days = sum(
        Decimal(usage.filter(start=dt.date(2026, 10, d), end=dt.date(2026, 10, d)).total()["cost_cents"])
        for d in range(1, 32)
    )
    assert abs(days - want) < Decimal("1e-8")
    # invoice lines carry the exact continuous total; the rounding difference is what it says
    inv = usage.invoice("2026-10")
    assert abs(Decimal(inv.lines["cost_cents"].sum()) - want) < Decimal("1e-8")
    assert inv.billed_total_cents == inv.lines["amount_cents"].sum()
    assert inv.rounding_difference_cents == pytest.approx(inv.billed_total_cents - float(want), abs=1e-8)
    # key summary spend equals the keyed rows' total
    keyed = exact(in_month.loc[in_month.key_id.notna(), "cost_cents"])
    ks = oct_.key_summary(as_of="2026-11-02T00:00:00Z")
    assert abs(Decimal(ks["spend_cents"].sum()) - keyed) < Decimal("1e-8")


@settings(max_examples=25, deadline=None)
@given(rows=st.lists(row, min_size=1, max_size=40))
def test_api_usage_axes_sum_to_the_month_and_round_trip(rows):
    usage = usagekit.load(frame(rows))
    resp = usage.api_usage(month="2026-10", admin=True)
    total = usage.filter(month="2026-10").total()["cost_cents"]
    axes = sum(resp[a]["totalCents"] for a in ("compute", "llm", "voice"))
    assert axes == pytest.approx(total, abs=1e-8)
    for a in ("compute", "llm", "voice"):
        assert len(resp[a]["daily"]) == 31
        assert sum(d["totalCents"] for d in resp[a]["daily"]) == pytest.approx(resp[a]["totalCents"], abs=1e-8)
    back = usagekit.load(resp).filter(month="2026-10").total()["cost_cents"]
    assert back == pytest.approx(total, abs=1e-8)
