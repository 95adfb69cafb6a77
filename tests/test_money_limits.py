"""Money sums never wrap: huge costs add up exactly, absurd ones are rejected per row."""

from __future__ import annotations

from decimal import Decimal

import pytest

import usagekit
from usagekit.errors import SourceError
from usagekit.money import MAX_COST_CENTS


def _csv(tmp_path, costs, name="usage.csv"):
    lines = ["ts,request_id,key_id,account_id,model,provider,cost_cents"]
    for i, c in enumerate(costs):
        lines.append(f"2026-10-{1 + i % 28:02d}T12:00:00Z,r{i},vk_big,acct_1,gpt-4.1,openai,{c}")
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def test_two_sixty_million_dollar_rows_sum_exactly_on_every_view(tmp_path, engine):
    # $60M each: 6e9 cents; the old int64 nano-cent sum wrapped to -$64M here
    usage = usagekit.load(_csv(tmp_path, ["6000000000.25", "6000000000.5"]), engine=engine).filter(month="2026-10")
    want = 12_000_000_000.75
    assert usage.total()["cost_cents"] == pytest.approx(want, abs=1e-6)
    assert usage.breakdown("key")["cost_cents"].sum() == pytest.approx(want, abs=1e-6)
    assert usage.daily("model")["cost_cents"].sum() == pytest.approx(want, abs=1e-6)
    inv = usage.invoice("2026-10")
    assert inv.billed_total_cents == 12_000_000_001
    assert (inv.lines["cost_cents"] > 0).all() if "cost_cents" in inv.lines else True
    api = usage.api_usage(month="2026-10")
    assert api["llm"]["totalCents"] == pytest.approx(want, abs=1e-6)


def test_large_costs_keep_their_sub_cent_digits(tmp_path):
    costs = ["9000000000.123456", "0.000001", "123.456789"]
    usage = usagekit.load(_csv(tmp_path, costs)).filter(month="2026-10")
    exact = sum(Decimal(float(c)) for c in costs)
    assert abs(Decimal(usage.total()["cost_cents"]) - exact) < Decimal("1e-5")


def test_a_cost_above_the_row_maximum_is_rejected_with_a_reason_not_a_crash(tmp_path):
    usage = usagekit.load(_csv(tmp_path, ["1.5", f"{MAX_COST_CENTS * 10:.0f}", "1e300", "2.5"]))
    fr = usage.load_report.files[0]
    assert (fr.read, fr.kept, fr.rejected) == (4, 2, 2)
    assert all("maximum" in reason for reason in fr.reasons)
    assert usage.filter(month="2026-10").total()["cost_cents"] == pytest.approx(4.0)
    rej = usage.rejected
    assert set(rej["row"]) == {2, 3} and set(rej["field"]) == {"cost_cents"}


def test_a_load_whose_total_could_not_be_summed_exactly_is_refused(tmp_path):
    # each row is allowed, but together they pass the documented load maximum
    with pytest.raises(SourceError, match="add up to"):
        usagekit.load(_csv(tmp_path, [f"{MAX_COST_CENTS:.0f}"] * 120_000))
