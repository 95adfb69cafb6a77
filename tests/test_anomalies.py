"""The detector on small hand-written series: one per confounder (no alert) and one per incident kind."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd
import pytest

import usagekit
from usagekit.anomalies import Thresholds, detect
from usagekit.forecast import forecast_cap, forecast_key
from usagekit.periods import budget_window

AUG1, SEPT1, OCT1 = dt.date(2026, 8, 1), dt.date(2026, 9, 1), dt.date(2026, 10, 1)
END = "2026-11-01T00:00:00Z"


def rows_for(key, daily: dict, *, model="gpt-4o", agent=None, requests=10, account="acct_a"):
    """Pre-aggregated rows: one per day with spend, at noon UTC."""
    out = []
    for day, cents in daily.items():
        if cents <= 0:
            continue
        out.append(
            {
                "ts": pd.Timestamp(dt.datetime.combine(day, dt.time(12)), tz="UTC"),
                "request_id": None,
                "key_id": key,
                "key_name": f"{key}-name",
                "account_id": account,
                "model": model,
                "provider": "openai",
                "agent_name": agent,
                "requests": requests,
                "cost_cents": float(cents),
            }
        )
    return out


def days(start: dt.date, n: int) -> list[dt.date]:
    return [start + dt.timedelta(days=i) for i in range(n)]


def noisy(level, start=SEPT1, n=61, sigma=0.1, weekend=1.0, seed=0) -> dict:
    """Lognormal day-to-day noise around ``level`` cents (weekends at ``weekend`` of it)."""
    rng = np.random.default_rng(seed)
    return {
        d: level * (weekend if d.weekday() >= 5 else 1.0) * float(np.exp(sigma * rng.standard_normal()))
        for d in days(start, n)
    }


def load(rows, keys=None):
    return usagekit.load(pd.DataFrame(rows), keys=keys)


def keys_frame(caps: dict, created="2026-08-01T00:00:00Z"):
    return pd.DataFrame(
        {
            "key_id": list(caps),
            "key_name": [f"{k}-name" for k in caps],
            "account_id": "acct_a",
            "spend_cap_cents": list(caps.values()),
            "created_at": created,
        }
    )


def alerts(found) -> list[tuple]:
    return [(r.kind, r.key_id, r.day) for r in found.itertuples() if r.severity != "info"]


# -- confounders: ordinary behaviour, no alert ------------------------------------------------------


def test_a_month_loaded_on_its_own_does_not_alert_on_its_first_days():
    rows = rows_for("k", noisy(5000, start=OCT1, n=31, seed=1))  # $50 a day from Oct 1; nothing earlier loaded
    found = detect(load(rows), month="2026-10", as_of=END)
    assert alerts(found) == []
    (note,) = found[found.kind == "history"].itertuples()
    assert note.severity == "info" and "Not enough history to judge 1 key" in note.explanation
    assert note.day == OCT1


def test_an_agent_key_idle_on_half_its_days_does_not_alert():
    rng = np.random.default_rng(2)
    series = {
        d: (3000 * float(np.exp(0.2 * rng.standard_normal())) if rng.random() < 0.5 else 0.0) for d in days(SEPT1, 61)
    }
    assert alerts(detect(load(rows_for("k_agent", series, agent="bot")), month="2026-10", as_of=END)) == []


def test_a_weekday_only_key_does_not_alert_on_mondays():
    series = noisy(4000, weekend=0.0, sigma=0.15, seed=3)
    assert alerts(detect(load(rows_for("k", series)), month="2026-10", as_of=END)) == []


def test_the_first_working_days_of_january_after_the_holidays_do_not_alert():
    start = dt.date(2026, 11, 1)
    series = noisy(6000, start=start, n=92, weekend=0.2, sigma=0.15, seed=4)
    for d in series:
        if dt.date(2026, 12, 24) <= d <= dt.date(2027, 1, 2):
            series[d] *= 0.05  # near zero over the holidays
    found = detect(load(rows_for("k", series)), month="2027-01", as_of="2027-02-01")
    assert alerts(found) == []


def test_a_monthly_job_on_the_1st_is_not_a_spike_but_a_tenfold_job_is():
    series = noisy(200, start=AUG1, n=92, sigma=0.1, seed=5)
    for first in (AUG1, SEPT1, OCT1):
        series[first] += 8000  # the month's report job: 40x an ordinary day
    usage = load(rows_for("k_job", series))
    assert alerts(detect(usage, month="2026-10", as_of=END)) == []
    series[OCT1] += 72000  # this month the job ran ten times over
    found = detect(load(rows_for("k_job", series)), month="2026-10", as_of=END)
    assert alerts(found) == [("spike", "k_job", OCT1)]
    assert "1st of the month (a recurring job)" in found.iloc[0].explanation


def test_steady_growth_of_three_percent_a_day_does_not_alert():
    series = {d: 500 * 1.03**i for i, d in enumerate(days(SEPT1, 61))}
    assert alerts(detect(load(rows_for("k", series)), month="2026-10", as_of=END)) == []


def test_a_key_created_mid_month_is_not_judged_before_it_has_history():
    series = {d: 3000.0 * (1 + 0.5 * (i % 3)) for i, d in enumerate(days(dt.date(2026, 10, 15), 17))}
    keys = keys_frame({"k_new": None}, created="2026-10-15T00:00:00Z")
    found = detect(
        load(rows_for("k_new", series) + rows_for("k_old", noisy(100, seed=6)), keys=keys), month="2026-10", as_of=END
    )
    assert alerts(found) == []
    assert "k_new-name" in found[found.kind == "history"].iloc[0].explanation


def test_a_developer_back_from_a_week_off_does_not_alert():
    series = noisy(2500, weekend=0.1, sigma=0.2, seed=7)
    for d in days(dt.date(2026, 10, 10), 9):
        series[d] = 0.0
    assert alerts(detect(load(rows_for("k_dev", series)), month="2026-10", as_of=END)) == []


def test_twofold_days_on_a_noisy_key_do_not_alert_but_threefold_on_a_steady_key_does():
    noisy_key = noisy(3000, sigma=0.6, seed=8)
    noisy_key[dt.date(2026, 10, 14)] = 2 * 3000
    steady = noisy(3000, sigma=0.05, seed=9)
    steady[dt.date(2026, 10, 14)] = 3 * 3000
    found = detect(load(rows_for("k_noisy", noisy_key) + rows_for("k_steady", steady)), month="2026-10", as_of=END)
    assert alerts(found) == [("spike", "k_steady", dt.date(2026, 10, 14))]
    text = found.iloc[0].explanation
    assert re.search(r"about 3\.0 times its usual \$30\.\d\d on an active day", text)
    assert "robust" not in text and " z " not in text


def test_a_big_key_beside_sub_cent_keys_gives_no_alert():
    tiny = noisy(0.02, sigma=0.3, seed=10)
    tiny[dt.date(2026, 10, 9)] = 0.9  # 45x, but under a cent
    big = noisy(250_000, sigma=0.1, seed=11)  # $2,500 a day
    found = detect(load(rows_for("k_tiny", tiny) + rows_for("k_big", big)), month="2026-10", as_of=END)
    assert alerts(found) == []


def test_a_model_migration_at_half_again_the_cost_does_not_alert():
    before = {d: v for d, v in noisy(1000, sigma=0.1, seed=12).items() if d < dt.date(2026, 10, 12)}
    after = {d: 1.5 * v for d, v in noisy(1000, sigma=0.1, seed=13).items() if d >= dt.date(2026, 10, 12)}
    rows = rows_for("k", before, model="gpt-4o") + rows_for("k", after, model="claude-sonnet-4")
    assert alerts(detect(load(rows), month="2026-10", as_of=END)) == []


# -- incidents -------------------------------------------------------------------------------------


def test_a_weekend_spike_on_a_business_key_is_found():
    series = noisy(5000, weekend=0.1, sigma=0.15, seed=14)  # $50 weekdays, $5 weekends
    sat = dt.date(2026, 10, 17)
    series[sat] = 15000  # 3x a weekday: 30x a usual Saturday
    found = detect(load(rows_for("k", series)), month="2026-10", as_of=END)
    assert alerts(found) == [("spike", "k", sat)]
    assert "on a weekend day" in found.iloc[0].explanation


def test_a_leaked_quiet_key_that_stays_hot_is_one_spike_with_its_length():
    series = noisy(20, sigma=0.2, seed=15)  # 20 cents a day
    hot = days(dt.date(2026, 10, 17), 4)
    rows = rows_for("k_quiet", series)
    rows += rows_for("k_quiet", {d: 2500 for d in hot}, model="claude-opus-4", requests=900, agent="scraper")
    found = detect(load(rows), month="2026-10", as_of=END)
    assert alerts(found) == [("spike", "k_quiet", hot[0])]
    f = found.iloc[0]
    assert f.severity == "critical" and f.last_day == hot[-1]
    assert f.impact_cents == pytest.approx(4 * 2500, rel=0.01)
    assert "stayed high for 4 days" in f.explanation and "claude-opus-4 is new for this key" in f.explanation
    assert "910 requests" in f.explanation and "scraper" in f.explanation
    assert "rotate" in f.action.lower()
    assert f.series.loc[hot[0]] == pytest.approx(series[hot[0]] + 2500)


def test_a_runaway_after_idle_days_is_found_on_its_day_and_confirmed_the_next():
    rng = np.random.default_rng(16)
    series = {
        d: (300 * float(np.exp(0.3 * rng.standard_normal())) if rng.random() < 0.6 else 0.0) for d in days(SEPT1, 61)
    }
    day = dt.date(2026, 10, 22)
    for d in days(day - dt.timedelta(days=5), 5):
        series[d] = 0.0
    series[day] = 0.0
    series[day + dt.timedelta(days=1)] = 0.0
    rows = rows_for("k_cron", series, agent="nightly") + rows_for(
        "k_cron", {day: 25000}, model="gpt-4.1", requests=7400, agent="nightly"
    )
    usage = load(rows)
    that_night = detect(usage, month="2026-10", as_of=str(day))
    assert alerts(that_night) == [("runaway", "k_cron", day)]
    assert "look alike" in that_night.iloc[0].explanation  # the first day cannot tell a leak from a script
    later = detect(usage, month="2026-10", as_of=END)
    assert alerts(later) == [("runaway", "k_cron", day)]
    f = later.iloc[0]
    assert f.model == "gpt-4.1" and f.requests == 7400 and "after 5 idle days" in f.explanation
    assert "back to normal" in f.explanation and "gpt-4.1" in f.action
    before = detect(usage, month="2026-10", as_of=f"{day}T11:00:00Z")  # the spend lands at noon
    assert alerts(before) == []


def test_a_leak_after_idle_days_starts_as_maybe_a_runaway_and_becomes_a_spike():
    rng = np.random.default_rng(17)
    series = {
        d: (300 * float(np.exp(0.3 * rng.standard_normal())) if rng.random() < 0.6 else 0.0) for d in days(SEPT1, 61)
    }
    day = dt.date(2026, 10, 20)
    for d in days(day - dt.timedelta(days=4), 4):
        series[d] = 0.0
    hot = {d: 20000.0 for d in days(day, 3)}
    usage = load(
        rows_for("k", {d: v for d, v in series.items() if d not in hot}) + rows_for("k", hot, model="claude-opus-4")
    )
    first = detect(usage, month="2026-10", as_of=str(day))
    assert alerts(first) == [("runaway", "k", day)]
    refined = detect(usage, month="2026-10", as_of=str(day + dt.timedelta(days=2)))
    assert alerts(refined) == [("spike", "k", day)]
    assert "leaked key is likelier" in refined.iloc[0].explanation


def test_a_drift_is_warned_days_before_it_crosses_and_the_card_date_is_the_findings():
    series = noisy(1000, n=30, sigma=0.05, seed=18)  # September ~ $10 a day
    for i, d in enumerate(days(OCT1, 31)):
        series[d] = 1000 * 1.15 ** max(0, i - 11)  # +15 % a day from Oct 13
    month = [series[d] for d in days(OCT1, 31)]
    cap = float(np.cumsum(month)[23]) - 1  # crossed on Oct 24
    usage = load(rows_for("k_grow", series, agent="ingest-bot"), keys=keys_frame({"k_grow": cap}))
    warned = None
    for d in days(dt.date(2026, 10, 13), 12):
        found = detect(usage, month="2026-10", as_of=str(d))
        caps = found[found.kind == "cap"]
        if len(caps) and warned is None:
            warned = d
        assert warned is None or len(caps) == 1, f"the cap warning went away on {d}"
        if len(caps):
            f = caps.iloc[0]
            key = usage.keys.iloc[0]
            daily = pd.Series({x: series[x] for x in series if x <= d})
            card = forecast_key(daily, key, d)  # what a key card shows
            assert f.projected_cap_date == card.crossing_date
            assert f.day == card.warn_since
            direct = forecast_cap(daily, cap, budget_window(key, d), d)
            assert direct.crossing_date == card.crossing_date
    assert warned is not None and (dt.date(2026, 10, 24) - warned).days >= 3
    end = detect(usage, month="2026-10", as_of=END)
    (f,) = end[end.kind == "cap"].itertuples()
    assert f.severity == "critical" and f.projected_cap_date == dt.date(2026, 10, 24) and f.day == warned
    assert "Over its cap since Oct 24" in f.explanation and "ingest-bot" in f.action


def test_a_cap_under_a_dollar_is_warned():
    series = {d: 3.0 for d in days(SEPT1, 40)}  # 3 cents a day
    found = detect(
        load(rows_for("k_small", series), keys=keys_frame({"k_small": 50.0})), month="2026-10", as_of="2026-10-10"
    )
    assert alerts(found) == [("cap", "k_small", dt.date(2026, 10, 1))]
    assert found.iloc[0].projected_cap_date == dt.date(2026, 10, 17)


def test_a_key_whose_registry_row_was_rejected_gets_a_cap_unknown_warning():
    usage = load(rows_for("k", noisy(100, seed=19)))
    usage.load_report.registry_rejected_keys = ("k",)
    found = detect(usage, month="2026-10", as_of=END)
    (f,) = found[found.kind == "cap_unknown"].itertuples()
    assert f.severity == "warning" and f.key_id == "k" and "cap" in f.explanation


def test_a_replay_of_as_of_equals_a_live_run_on_the_data_of_that_night():
    quiet = noisy(20, sigma=0.2, seed=20)
    quiet[dt.date(2026, 10, 17)] = 2000
    quiet[dt.date(2026, 10, 18)] = 2100
    grow = {d: 1000 * 1.12 ** max(0, (d - dt.date(2026, 10, 8)).days) for d in days(SEPT1, 61)}
    rows = rows_for("k_quiet", quiet) + rows_for("k_grow", grow)
    keys = keys_frame({"k_quiet": None, "k_grow": 120_000})
    full = load(rows, keys=keys)
    cols = ["kind", "severity", "key_id", "day", "explanation", "projected_cap_date", "last_day"]
    for d in days(dt.date(2026, 10, 14), 8):
        cut = pd.Timestamp(dt.datetime.combine(d + dt.timedelta(days=1), dt.time()), tz="UTC")
        live = load([r for r in rows if r["ts"] < cut], keys=keys)  # the data that existed that night
        a = detect(full, month="2026-10", as_of=str(d))[cols]
        b = detect(live, month="2026-10", as_of=str(d))[cols]
        pd.testing.assert_frame_equal(a, b)


def test_thresholds_are_validated_and_overridable():
    with pytest.raises(usagekit.UsagekitError, match="unknown threshold 'alert_zz'"):
        Thresholds.with_overrides(alert_zz=3)
    series = noisy(200, sigma=0.1, seed=21)
    series[dt.date(2026, 10, 14)] = 200 * 4
    usage = load(rows_for("k", series))
    assert alerts(detect(usage, month="2026-10", as_of=END)) == [("spike", "k", dt.date(2026, 10, 14))]
    assert alerts(detect(usage, month="2026-10", as_of=END, min_ratio=5)) == []


def test_unpriced_usage_is_reported_as_info():
    rows = rows_for("k", noisy(20, seed=22))
    rows.append(
        {
            "ts": pd.Timestamp("2026-10-05T10:00:00Z"),
            "request_id": "r1",
            "key_id": "k",
            "model": "new-model",
            "input_tokens": 100,
            "cost_cents": None,
            "requests": 1,
        }
    )
    found = detect(load(rows), month="2026-10", as_of=END)
    assert found["kind"].tolist() == ["unpriced"] and found.iloc[0].severity == "info"
    assert "new-model" in found.iloc[0].explanation


def test_the_planted_anomalies_of_the_demo_month_are_all_found(demo_dir):
    import json

    labels = json.loads((demo_dir / "labels.json").read_text())["anomalies"]
    found = detect(usagekit.load(demo_dir), month="2026-10", as_of=END)
    said = alerts(found)
    # spikes and runaways: the planted key and day exactly
    assert {(k, key, day.isoformat()) for k, key, day in said if k != "cap"} == {
        (a["kind"], a["key_id"], a["day"]) for a in labels if a["kind"] != "cap"
    }
    # the cap: the label's day is where a naive 7-day run rate first projects past the cap; the
    # detector (a 28-day robust level with a shrunk trend, raised when its central projection
    # reaches 90 % of the cap) may see the 15 %-a-day ramp a day apart, and must warn >= 3 days ahead
    (cap,) = [a for a in labels if a["kind"] == "cap"]
    warned = [(key, day) for k, key, day in said if k == "cap"]
    assert [key for key, _ in warned] == [cap["key_id"]]
    day = warned[0][1]
    assert abs((day - dt.date.fromisoformat(cap["day"])).days) <= 1
    assert (dt.date.fromisoformat(cap["cap_cross_day"]) - day).days >= 3
