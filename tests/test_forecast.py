"""Cap forecasts on small hand-written series: run rate, band, crossing day, warning and its hysteresis."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from usagekit.forecast import forecast_cap, forecast_key
from usagekit.periods import budget_window

OCT = [dt.date(2026, 10, 1) + dt.timedelta(days=i) for i in range(31)]


def series(days, values) -> pd.Series:
    return pd.Series([float(v) for v in values], index=list(days))


def month_window(day):
    return budget_window({"budget_period": "1mo"}, day)


def test_flat_key_projects_exactly_and_names_the_crossing_day():
    daily = series(OCT[:14], [1000] * 14)  # $10 every day, Oct 1-14
    f = forecast_cap(daily, 29_500, month_window(OCT[13]), OCT[13])
    assert f.spent_cents == pytest.approx(14_000)
    assert f.projected_cents == pytest.approx(31_000)
    assert f.low_cents < f.projected_cents < f.high_cents
    assert f.crossing_date == dt.date(2026, 10, 30) and not f.crossed and f.warn
    assert "$295.00 cap" in f.explanation and "Oct 30" in f.explanation
    far = forecast_cap(daily, 60_000, month_window(OCT[13]), OCT[13])
    assert not far.warn and far.crossing_date is None and far.earliest_crossing_date is None


def test_weekday_only_key_is_not_projected_to_spend_on_weekends():
    days = [d for d in OCT[:16]]
    daily = series(days, [0 if d.weekday() >= 5 else 2000 for d in days])
    f = forecast_cap(daily, None, month_window(OCT[15]), OCT[15])  # Oct 16 (a Friday) is the last day
    weekdays_left = sum(1 for d in OCT[16:] if d.weekday() < 5)
    assert f.projected_cents == pytest.approx(daily.sum() + 2000 * weekdays_left, rel=0.03)


def test_idle_days_lower_the_rate_by_the_activity_rate_not_to_zero():
    # an agent key active every other day at $40: its rate is ~$20 a day, not 0 (median of all days)
    days = OCT[:20]
    daily = series(days, [4000 if i % 2 == 0 else 0 for i in range(20)])
    f = forecast_cap(daily, None, month_window(days[-1]), days[-1])
    assert f.rate_cents == pytest.approx(2000, rel=0.12)


def test_days_before_the_data_are_unknown_not_zero():
    days = OCT[9:16]  # the export starts on Oct 10
    f = forecast_cap(series(days, [1000] * 7), None, month_window(days[-1]), days[-1])
    assert f.rate_cents == pytest.approx(1000, rel=0.01)


def test_growth_is_followed():
    days = [dt.date(2026, 9, 1) + dt.timedelta(days=i) for i in range(45)]  # to Oct 15
    daily = series(days, [1000 * 1.03**i for i in range(45)])
    f = forecast_cap(daily, None, month_window(days[-1]), days[-1])
    truth = sum(1000 * 1.03**i for i in range(30, 61))  # the month if growth goes on
    flat = sum(daily[OCT[0] :]) + 16 * daily.iloc[-1]
    assert f.projected_cents > flat
    assert f.low_cents <= truth <= f.high_cents * 1.05


def test_drift_is_warned_days_ahead_and_the_warning_never_flickers():
    rng = np.random.default_rng(3)
    days = [dt.date(2026, 9, 1) + dt.timedelta(days=i) for i in range(61)]
    vals = [1000 * np.exp(0.2 * rng.standard_normal()) * 1.15 ** max(0, (d - dt.date(2026, 10, 10)).days) for d in days]
    daily = series(days, vals)
    month = daily[OCT[0] :]
    cap = float(month.cumsum()[dt.date(2026, 10, 24)]) - 1  # crossed on Oct 24
    states = []
    prev = None
    for d in OCT[4:24]:
        prev = forecast_cap(daily[:d], cap, month_window(d), d, previous=prev)
        states.append(prev.warn)
    first = states.index(True)
    assert all(states[first:]), "a warning went away before the crossing"
    assert (dt.date(2026, 10, 24) - OCT[4 + first]).days >= 3
    assert prev.crossed and prev.crossing_date == dt.date(2026, 10, 24)
    assert "Over its cap since Oct 24" in prev.explanation


def test_a_holiday_dip_does_not_drop_the_warning():
    days = [dt.date(2026, 12, 1) + dt.timedelta(days=i) for i in range(31)]
    vals = [0 if dt.date(2026, 12, 24) <= d else 1000 for d in days]  # work stops for the holidays
    daily = series(days, vals)
    cap = 27_000
    prev, states = None, []
    for d in days[14:]:
        w = month_window(d)
        prev = forecast_cap(daily[:d], cap, w, d, previous=prev)
        states.append((d, prev.warn))
    warned = [d for d, s in states if s]
    assert warned and warned[0] < dt.date(2026, 12, 24)
    # once up, it stays up through the dip while the upper edge is not clearly under the cap
    on = [s for d, s in states if d >= warned[0]]
    first_off = on.index(False) if False in on else len(on)
    assert all(not s for s in on[first_off:])  # at most one clear, never re-raised
    fresh = forecast_cap(
        daily[: dt.date(2026, 12, 27)], cap, month_window(dt.date(2026, 12, 27)), dt.date(2026, 12, 27)
    )
    held = dict(states)[dt.date(2026, 12, 27)]
    assert held or not fresh.warn


def test_a_cap_under_a_dollar_is_forecast_and_warned():
    daily = series(OCT[:10], [3.0] * 10)  # 3 cents a day
    f = forecast_cap(daily, 50.0, month_window(OCT[9]), OCT[9])
    assert f.warn and f.crossing_date == dt.date(2026, 10, 17)  # 30 + 7 x 3 = 51 > 50


def test_a_daily_cap_is_judged_on_the_days_running_spend():
    key = {"budget_period": "1d", "spend_cap_cents": 1000}
    noon = pd.Timestamp("2026-10-15T12:00:00Z")
    w = budget_window(key, noon)
    hist = series(OCT[:14], [200] * 14)
    busy = pd.concat([hist, series([OCT[14]], [850])])
    f = forecast_cap(busy, 1000, w, noon)
    assert f.spent_cents == 850 and f.warn and not f.crossed
    calm = pd.concat([hist, series([OCT[14]], [300])])
    assert not forecast_cap(calm, 1000, w, noon).warn
    over = pd.concat([hist, series([OCT[14]], [1200])])
    g = forecast_cap(over, 1000, w, noon)
    assert g.crossed and g.crossing_date == OCT[14] and g.warn


def test_a_weekly_window_counts_only_its_own_days():
    key = {"budget_period": "7d", "budget_reset_at": "2026-10-19T00:00:00Z", "spend_cap_cents": 5000}
    daily = series(OCT[:16], [500] * 16)  # through Fri Oct 16; the window is Mon Oct 12 - Sun Oct 18
    f = forecast_key(daily, key, OCT[15])
    assert f.window.days() == (dt.date(2026, 10, 12), dt.date(2026, 10, 19))
    assert f.spent_cents == pytest.approx(2500)
    assert f.projected_cents == pytest.approx(3500, rel=0.02)
    assert not f.warn


def test_replayed_key_forecast_keeps_its_warning_start():
    days = OCT[:20]
    daily = series(days, [1000 + 150 * max(0, i - 5) for i in range(20)])
    key = {"spend_cap_cents": 45_000}
    f = forecast_key(daily, key, days[-1])
    assert f.warn and f.warn_since is not None and f.warn_since < days[-1]
    one = forecast_cap(daily, 45_000, month_window(days[-1]), days[-1])
    assert one.crossing_date == f.crossing_date  # the date does not depend on the replay


def test_no_cap_never_warns_and_still_projects():
    f = forecast_cap(series(OCT[:5], [100] * 5), None, month_window(OCT[4]), OCT[4])
    assert not f.warn and f.crossing_date is None and f.projected_cents == pytest.approx(3100)
    assert "No cap" in f.explanation


def test_a_zero_cap_is_reached_from_the_window_start_even_with_no_spend():
    # found by the fuzz harness: a LiteLLM max_budget of 0 (or -0) on a key with no spend yet
    f = forecast_cap(series([], []), 0.0, month_window(OCT[9]), OCT[9])
    assert f.crossed and f.crossing_date == OCT[0]


def test_the_band_alone_does_not_warn_the_projection_near_the_cap_does():
    # a noisy key: its band's upper edge crosses a cap its central projection stays well under
    rng = np.random.default_rng(3)
    daily = series(OCT[:10], 1000 * np.exp(rng.normal(0, 0.8, 10)))  # ten days: a wide band
    probe = forecast_cap(daily, None, month_window(OCT[9]), OCT[9])
    cap = probe.projected_cents / 0.85  # the projection at 85 % of the cap
    f = forecast_cap(daily, cap, month_window(OCT[9]), OCT[9])
    assert f.projected_cents < 0.9 * cap < cap < f.high_cents
    assert f.earliest_crossing_date is not None and f.crossing_date is None
    assert not f.warn  # shown on the card (the band reaches the cap), not raised as a finding
    assert f.explanation.startswith("Under its cap at this pace") and "only at the high end" in f.explanation
    near = forecast_cap(daily, probe.projected_cents / 0.95, month_window(OCT[9]), OCT[9])
    assert near.warn and near.crossing_date is None and "May reach its cap" in near.explanation
    over = forecast_cap(daily, probe.projected_cents * 0.99, month_window(OCT[9]), OCT[9])
    assert over.warn and over.crossing_date is not None
