"""The query layer, run unchanged on every engine (Polars, DuckDB, PySpark local)."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from pathlib import Path

import narwhals as nw
import pandas as pd
import pytest

import usagekit
from usagekit.errors import QueryError

DATA = Path(__file__).parent / "data" / "canonical"
OCT = "2026-10"


@pytest.fixture
def usage(engine):
    return usagekit.load(DATA, engine=engine)


def test_filter_month_daily_by_model_has_every_day_and_reconciles(usage):
    oct_ = usage.filter(month=OCT)
    daily = oct_.daily(by="model")
    assert list(daily.columns[:2]) == ["date", "model"]
    assert sorted(daily["date"].unique()) == [dt.date(2026, 10, d) for d in range(1, 32)]
    models = set(daily["model"])
    assert {"gpt-4o-mini", "claude-sonnet-4", "gpt-4o", "tts-1", "compute (VM hours)"} <= models
    assert len(daily) == 31 * len(models)  # zero days included for every model
    total = oct_.total()
    assert daily["cost_cents"].sum() == pytest.approx(total["cost_cents"], abs=1e-9)
    assert total["cost_cents"] == pytest.approx(15.031875, abs=1e-9)
    assert total["unpriced_rows"] == 1
    day1 = daily[(daily.date == dt.date(2026, 10, 1)) & (daily.model == "gpt-4o-mini")].iloc[0]
    assert day1["requests"] == 2 and day1["cost_cents"] == pytest.approx(0.058875, abs=1e-12)
    assert day1["input_tokens"] == 4040


@pytest.mark.parametrize("by", ["model", "provider", "key", "agent", "axis", "account"])
def test_every_breakdown_sums_to_the_same_total(usage, by):
    oct_ = usage.filter(month=OCT)
    want = oct_.total()["cost_cents"]
    assert oct_.daily(by=by)["cost_cents"].sum() == pytest.approx(want, abs=1e-9)
    assert oct_.breakdown(by)["cost_cents"].sum() == pytest.approx(want, abs=1e-9)
    assert oct_.daily(by=by)["requests"].sum() == oct_.total()["requests"]


def test_filters_partition_the_total(usage):
    oct_ = usage.filter(month=OCT)
    whole = oct_.total()["cost_cents"]
    parts = sum(usage.filter(month=OCT, axis=a).total()["cost_cents"] for a in ("llm", "voice", "compute"))
    assert parts == pytest.approx(whole, abs=1e-9)
    acme = usage.filter(month=OCT, account="acct_acme").total()["cost_cents"]
    globex = usage.filter(month=OCT, account="acct_globex").total()["cost_cents"]
    assert acme + globex == pytest.approx(whole, abs=1e-9)
    assert usage.filter(month=OCT, providers=["OpenAI"]).breakdown("provider")["provider"].tolist() == ["openai"]


def test_filter_by_key_name_or_id_and_date_range(usage):
    by_name = usage.filter(start="2026-10-01", end="2026-10-01", keys="support-bot-prod").total()
    by_id = usage.filter(start="2026-10-01", end="2026-10-01", keys=["vk_3f9a1c2b7d10"]).total()
    assert by_name == by_id
    assert by_name["requests"] == 2
    assert by_name["cost_cents"] == pytest.approx(0.058875, abs=1e-12)
    assert usage.filter(start="2026-10-02", end="2026-10-02").describe_scope() == "2026-10-02 to 2026-10-02 (UTC days)"


def test_default_range_is_the_current_month(usage):
    today = dt.datetime.now(dt.timezone.utc).date()
    scope = usage.filter().scope
    assert scope.start == today.replace(day=1)
    assert scope.start <= today < scope.end


def test_bad_filter_values_are_refused_with_choices(usage):
    with pytest.raises(QueryError, match="unknown axis 'video'; expected one of: llm, voice, compute"):
        usage.filter(month=OCT, axis="video")
    with pytest.raises(QueryError, match="unknown breakdown 'colour'"):
        usage.filter(month=OCT).daily(by="colour")
    with pytest.raises(QueryError, match="YYYY-MM"):
        usage.filter(month="October")


def test_key_summary_caps_projection_and_registry_keys(usage):
    ks = usage.filter(month=OCT).key_summary(as_of="2026-10-04T00:00:00Z").set_index("key_id")
    assert set(ks.index) == {"vk_3f9a1c2b7d10", "vk_88c1d0e4aa21", "vk_02be55f1c9e7", "vk_9d0a7e61b3f2"}
    s = ks.loc["vk_88c1d0e4aa21"]
    assert s.key_name == "batch-summariser" and s.account_id == "acct_acme"
    assert s.spend_cents == pytest.approx(7.3665)
    assert s.pct_used == pytest.approx(7.3665 / 120000 * 100)
    # 3 of 31 days elapsed: run rate extended to month end
    assert s.projected_cents == pytest.approx(7.3665 / 3 * 31)
    assert s.requests == 2
    assert math.isnan(ks.loc["vk_02be55f1c9e7", "pct_used"])  # no cap
    assert ks.loc["vk_02be55f1c9e7", "projected_cap_date"] is None


def test_key_summary_projects_the_day_a_cap_is_crossed(tmp_path, engine):
    src = tmp_path / "u.csv"
    rows = ["ts,request_id,key_id,cost_cents"] + [f"2026-10-{d:02d}T12:00:00Z,r{d},k1,100" for d in range(1, 11)]
    src.write_text("\n".join(rows) + "\n")
    keys = tmp_path / "keys.csv"
    keys.write_text("key_id,key_name,account_id,spend_cap_cents\nk1,hot,acct,2000\nk2,idle,acct,500\n")
    usage = usagekit.load(src, keys=keys, engine=engine).filter(month=OCT)
    ks = usage.key_summary(as_of="2026-10-11T00:00:00Z").set_index("key_id")
    # 1000 cents in 10 days -> 100/day; 1000 more to the cap -> 10 more days
    assert ks.loc["k1", "projected_cents"] == pytest.approx(3100)
    assert ks.loc["k1", "projected_cap_date"] == dt.date(2026, 10, 20)  # the running total reaches 2000 on day 20
    assert ks.loc["k2", "spend_cents"] == 0 and ks.loc["k2", "projected_cap_date"] is None
    # a finished month: the projection is the spend, and the crossing day is the real one
    done = usage.key_summary(as_of="2026-11-05T00:00:00Z").set_index("key_id")
    assert done.loc["k1", "projected_cents"] == pytest.approx(1000)
    assert done.loc["k1", "projected_cap_date"] is None
    over = usagekit.load(src, keys=keys, engine=engine).filter(month=OCT).key_summary(as_of="2026-10-11T00:00:00Z")
    assert over.attrs["complete"] is False


def test_day_log_is_newest_first_and_paged(usage):
    oct_ = usage.filter(month=OCT)
    log = oct_.day("2026-10-01")
    assert log["request_id"].tolist() == ["req_0004", "req_0002", "req_0001", "req_0003"]
    assert log.attrs["total_rows"] == 4
    page2 = oct_.day("2026-10-01", page=2, page_size=3)
    assert page2["request_id"].tolist() == ["req_0003"] and page2.attrs["pages"] == 2
    only = oct_.day("2026-10-01", key="vk_3f9a1c2b7d10", model="gpt-4o-mini")
    assert only["request_id"].tolist() == ["req_0002", "req_0001"]


def test_day_summary_is_the_drill_down_of_a_bar(usage):
    summ = usage.filter(month=OCT).day_summary("2026-10-01").set_index("model")
    assert summ.loc["claude-sonnet-4", "requests"] == 2
    assert summ.loc["claude-sonnet-4", "cost_cents"] == pytest.approx(7.3665)
    assert summ.loc["gpt-4o-mini", "cost_cents"] == pytest.approx(0.058875)
    daily = usage.filter(month=OCT).daily("model")
    bar = daily[(daily.date == dt.date(2026, 10, 1)) & (daily.model == "claude-sonnet-4")]["cost_cents"].item()
    assert bar == pytest.approx(summ.loc["claude-sonnet-4", "cost_cents"])


def test_invoice_rounds_lines_half_up_and_shows_the_difference(usage):
    inv = usage.invoice(OCT)
    lines = inv.lines.set_index("key_id")
    assert lines.loc["vk_3f9a1c2b7d10", "amount_cents"] == 1  # 1.008875
    assert lines.loc["vk_88c1d0e4aa21", "amount_cents"] == 7  # 7.3665
    assert lines.loc["(none)", "amount_cents"] == 4  # compute 4.2
    assert inv.billed_total_cents == int(inv.lines["amount_cents"].sum()) == 14
    assert inv.continuous_total_cents == pytest.approx(15.031875)
    assert inv.rounding_difference_cents == pytest.approx(14 - 15.031875)
    assert inv.unpriced_rows == 1
    by_model = usage.invoice(OCT, by_model=True).lines
    assert by_model["cost_cents"].sum() == pytest.approx(inv.continuous_total_cents)


def test_freshness_reports_the_cut_off(usage):
    f = usage.freshness(now="2026-10-03T07:31:00Z")
    assert f.newest_event == pd.Timestamp("2026-10-03T07:01:00Z")
    assert f.lag == pd.Timedelta(minutes=30)
    assert f.last_day == dt.date(2026, 10, 3) and f.last_day_partial
    later = usage.freshness(now="2026-10-09T00:00:00Z")
    assert not later.last_day_partial
    assert "UTC" in str(later)


def test_api_usage_shape_and_totals(usage):
    with pytest.raises(QueryError, match="2 accounts"):
        usage.api_usage(month=OCT)
    resp = usage.api_usage(month=OCT, admin=True)
    assert set(resp) >= {"compute", "llm", "voice"}
    assert len(resp["llm"]["daily"]) == 31 and len(resp["compute"]["daily"]) == 31
    assert resp["compute"]["totalCents"] == pytest.approx(4.2)
    assert resp["voice"]["totalCents"] == pytest.approx(1.296) and resp["voice"]["hasVoiceUsage"]
    assert resp["llm"]["totalCents"] == pytest.approx(15.031875 - 4.2 - 1.296)
    day2 = resp["compute"]["daily"][1]
    assert day2["date"] == "2026-10-02" and day2["agentCents"] == pytest.approx(4.2)
    assert day2["agents"][0]["agentId"] == "agt_ivr" and day2["agents"][0]["runningCents"] == pytest.approx(4.2)
    acme = usage.api_usage(month=OCT, account_id="acct_acme")
    assert acme["compute"]["totalCents"] == 0 and acme["voice"]["hasVoiceUsage"] is False
    only = usage.api_usage(month=OCT, admin=True, model="gpt-4o")
    assert only["llm"]["totalCents"] == pytest.approx(0.95)


def test_api_usage_round_trips_through_the_loader(usage):
    resp = usage.api_usage(month=OCT, admin=True)
    back = usagekit.load(resp).filter(month=OCT)
    for axis in ("llm", "voice", "compute"):
        got = back.filter(month=OCT, axis=axis).total()["cost_cents"]
        assert got == pytest.approx(resp[axis]["totalCents"], abs=1e-9)
    again = back.api_usage(month=OCT, admin=True)
    for axis in ("llm", "voice", "compute"):
        assert again[axis]["totalCents"] == pytest.approx(resp[axis]["totalCents"], abs=1e-9)
        assert [d["totalCents"] for d in again[axis]["daily"]] == pytest.approx(
            [d["totalCents"] for d in resp[axis]["daily"]], abs=1e-9
        )


def test_report_time_zone_moves_day_buckets(tmp_path, engine):
    src = tmp_path / "u.csv"
    src.write_text("ts,request_id,cost_cents\n2026-10-01T23:30:00Z,r1,5\n2026-10-02T00:30:00Z,r2,7\n")
    utc = usagekit.load(src, engine=engine).filter(month=OCT).daily("axis").set_index("date")["cost_cents"]
    assert utc[dt.date(2026, 10, 1)] == 5 and utc[dt.date(2026, 10, 2)] == 7
    tokyo = usagekit.load(src, engine=engine, tz="Asia/Tokyo").filter(month=OCT).daily("axis")
    tokyo = tokyo.set_index("date")["cost_cents"]
    assert tokyo[dt.date(2026, 10, 2)] == 12 and tokyo[dt.date(2026, 10, 1)] == 0


def test_sum_of_many_sub_cent_costs_matches_the_exact_decimal_sum(engine):
    import numpy as np

    rng = np.random.default_rng(3)
    n = 200_000
    costs = rng.random(n) * 0.01 + 1e-7  # sub-cent values
    df = pd.DataFrame(
        {"ts": pd.Timestamp("2026-10-05T00:00:00Z"), "request_id": [f"r{i}" for i in range(n)], "cost_cents": costs}
    )
    exact = sum(Decimal(float(c)) for c in costs)
    got = usagekit.load(df, engine=engine).filter(month=OCT).total()["cost_cents"]
    assert abs(Decimal(got) - exact) < Decimal("1e-9")


def test_the_cube_gives_the_numbers_of_the_rows_on_far_fewer_rows(demo_dir, engine):
    """Aggregate queries answer from the month cube; the same queries on the rows agree."""
    from usagekit import queries as q

    oct_ = usagekit.load(demo_dir, engine=engine).filter(month=OCT)
    rows, cube = oct_.frame, oct_.cube
    n_rows = int(q.to_pandas(rows.select(nw.len().alias("n")))["n"].iloc[0])
    n_cube = int(q.to_pandas(cube.select(nw.len().alias("n")))["n"].iloc[0])
    assert n_cube < n_rows / 5
    assert q.total(cube) == pytest.approx(q.total(rows), abs=1e-6)
    assert q.total(cube)["rows"] == n_rows
    start, end = q.day_number(dt.date(2026, 10, 1)), q.day_number(dt.date(2026, 11, 1))
    for by in ("model", "key", "agent", "provider"):
        pd.testing.assert_frame_equal(
            q.daily(rows, by=by, start_day=start, end_day=end),
            q.daily(cube, by=by, start_day=start, end_day=end),
            atol=1e-6,
        )
        pd.testing.assert_frame_equal(q.breakdown(rows, by=by), q.breakdown(cube, by=by), atol=1e-6)
    day = q.day_number(dt.date(2026, 10, 17))
    pd.testing.assert_frame_equal(q.day_summary(rows, day=day), q.day_summary(cube, day=day), atol=1e-6)


def test_rollup_gives_the_same_numbers(demo_dir):
    usage = usagekit.load(demo_dir)
    cube = usage.rollup()
    a, b = usage.filter(month=OCT), cube.filter(month=OCT)
    assert b.total()["rows"] == a.total()["rows"]
    assert b.total()["cost_cents"] == pytest.approx(a.total()["cost_cents"], abs=1e-6)
    assert b.total()["requests"] == a.total()["requests"]
    pd.testing.assert_frame_equal(
        a.daily("model").drop(columns="unpriced_rows"), b.daily("model").drop(columns="unpriced_rows"), atol=1e-6
    )
    ka = a.key_summary(as_of="2026-10-20T00:00:00Z")
    kb = b.key_summary(as_of="2026-10-20T00:00:00Z")
    pd.testing.assert_frame_equal(ka, kb, atol=1e-6)
    assert b.filter(month=OCT, providers="anthropic").total()["cost_cents"] == pytest.approx(
        a.filter(month=OCT, providers="anthropic").total()["cost_cents"], abs=1e-6
    )


def test_api_usage_on_the_demo_month_matches_sums_computed_by_hand(demo_dir, engine):
    raw = pd.concat(pd.read_parquet(p) for p in sorted((demo_dir / "usage").glob("2026-10-*.parquet")))
    resp = usagekit.load(demo_dir, engine=engine).api_usage(month=OCT, admin=True)
    for axis in ("llm", "voice", "compute"):
        part = raw[raw.axis == axis]
        assert resp[axis]["totalCents"] == pytest.approx(part["cost_cents"].sum(), abs=1e-6)
        by_day = part.groupby(part.ts.dt.date)["cost_cents"].sum()
        for entry in resp[axis]["daily"]:
            want = by_day.get(dt.date.fromisoformat(entry["date"]), 0.0)
            assert entry["totalCents"] == pytest.approx(want, abs=1e-6)
    assert resp["voice"]["totalCharacters"] == int(raw.loc[raw.axis == "voice", "characters"].sum())
    vm = raw[raw.plain_vm_id.notna()]
    got = {v["plainVmId"]: v["costCents"] for v in resp["compute"]["plainVms"]}
    for vid, cents in vm.groupby("plain_vm_id")["cost_cents"].sum().items():
        assert got[vid] == pytest.approx(cents, abs=1e-6)
    back = usagekit.load(resp).filter(month=OCT).total()["cost_cents"]
    assert back == pytest.approx(raw["cost_cents"].sum(), abs=1e-6)
