"""Detectors on crafted daily series: each pattern found on its day, and no false alarms."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

import usagekit
from usagekit.anomalies import Thresholds, detect

SEPT1 = dt.date(2026, 9, 1)


def rows_for(key, daily: dict, *, model="gpt-4o", agent=None, requests=10, account="acct_a"):
    """Pre-aggregated rows: one per day with spend, at noon UTC."""
    out = []
    for day, cents in daily.items():
        if cents <= 0:
            continue
        out.append({"ts": pd.Timestamp(dt.datetime.combine(day, dt.time(12)), tz="UTC"), "request_id": None,
                    "key_id": key, "key_name": f"{key}-name", "account_id": account, "model": model,
                    "provider": "openai", "agent_name": agent, "requests": requests, "cost_cents": float(cents)})
    return out


def days(n_from: dt.date, n: int):
    return [n_from + dt.timedelta(days=i) for i in range(n)]


def steady(level, n=61, start=SEPT1, weekend=0.35, noise=0.15, seed=0):
    rng = np.random.default_rng(seed)
    out = {}
    for d in days(start, n):
        f = weekend if d.weekday() >= 5 else 1.0
        out[d] = level * f * (1 + noise * rng.standard_normal())
    return out


def load(rows, keys=None):
    df = pd.DataFrame(rows)
    return usagekit.load(df, keys=keys)


def keys_frame(caps: dict):
    return pd.DataFrame({"key_id": list(caps), "key_name": [f"{k}-name" for k in caps],
                         "account_id": "acct_a", "spend_cap_cents": list(caps.values()),
                         "created_at": "2026-08-01T00:00:00Z"})


def test_quiet_key_spike_is_found_on_its_day_with_explanation():
    series = steady(20, seed=1)  # 20 cents a day
    series[dt.date(2026, 10, 17)] = 20 * 40
    rows = rows_for("k_quiet", series)
    rows += rows_for("k_quiet", {dt.date(2026, 10, 17): 1000}, model="claude-opus-4", requests=900, agent="scraper")
    found = detect(load(rows), month="2026-10", as_of="2026-11-01T00:00:00Z")
    assert found["kind"].tolist() == ["spike"]
    f = found.iloc[0]
    assert f.key_id == "k_quiet" and f.day == dt.date(2026, 10, 17)
    assert f.observed_cents == pytest.approx(1800)
    assert f.severity == "critical"
    assert "claude-opus-4" in f.explanation and "910 requests" in f.explanation and "scraper" in f.explanation
    assert "rotate" in f.action.lower()
    assert f.series.loc[dt.date(2026, 10, 17)] == pytest.approx(1800)


def test_no_false_alarm_on_a_normal_busy_key_with_weekends():
    rows = []
    for i in range(8):
        rows += rows_for(f"k_busy{i}", steady(5000 + 1000 * i, seed=10 + i))
    found = detect(load(rows, keys=keys_frame({f"k_busy{i}": 4 * 31 * (5000 + 1000 * i) for i in range(8)})),
                   month="2026-10", as_of="2026-11-01T00:00:00Z")
    assert found.empty


def test_no_false_alarm_on_a_keys_first_days():
    new = {d: 3000.0 for d in days(dt.date(2026, 10, 20), 5)}  # born on Oct 20, busy from day one
    found = detect(load(rows_for("k_new", new)), month="2026-10", as_of="2026-11-01T00:00:00Z")
    assert found.empty


def test_month_with_zero_spend_has_no_findings():
    rows = rows_for("k", steady(50, n=30))  # September only
    assert detect(load(rows), month="2026-10", as_of="2026-11-01T00:00:00Z").empty


def test_cent_level_noise_never_alerts():
    series = {d: 0.02 for d in days(SEPT1, 61)}
    series[dt.date(2026, 10, 9)] = 0.9  # 45x, but under a cent
    assert detect(load(rows_for("k_tiny", series)), month="2026-10", as_of="2026-11-01").empty


def test_runaway_day_on_a_mostly_zero_key():
    series = {d: 0.0 for d in days(SEPT1, 61)}
    for d in (dt.date(2026, 9, 3), dt.date(2026, 9, 20), dt.date(2026, 10, 2), dt.date(2026, 10, 9)):
        series[d] = 0.3
    rows = rows_for("k_cron", series)
    rows += rows_for("k_cron", {dt.date(2026, 10, 22): 25000}, model="gpt-4.1", requests=7400)
    found = detect(load(rows), month="2026-10", as_of="2026-11-01T00:00:00Z")
    assert found["kind"].tolist() == ["runaway"]
    f = found.iloc[0]
    assert f.day == dt.date(2026, 10, 22) and f.model == "gpt-4.1" and f.requests == 7400
    assert "7,400 requests" in f.explanation and "gpt-4.1" in f.action


def test_runaway_is_found_on_the_day_itself_when_run_that_night():
    series = {d: 0.0 for d in days(SEPT1, 61)}
    series[dt.date(2026, 10, 3)] = 0.2
    rows = rows_for("k_cron", series) + rows_for("k_cron", {dt.date(2026, 10, 22): 9000}, requests=3000)
    found = detect(load(rows), month="2026-10", as_of="2026-10-22T23:59:00Z")
    assert found["kind"].tolist() == ["runaway"] and found.iloc[0].day == dt.date(2026, 10, 22)
    before = detect(load(rows), month="2026-10", as_of="2026-10-22T11:00:00Z")  # the spend lands at noon
    assert before.empty


def test_cap_projection_flags_a_climbing_key_with_its_crossing_day():
    series = steady(1000, n=30, noise=0.05, seed=3)  # September ~ 1000 c/day
    for i, d in enumerate(days(dt.date(2026, 10, 1), 31)):
        series[d] = 1000 + (0 if i < 12 else 450 * (i - 11))  # climbs from Oct 13
    cap = 100_000
    rows = rows_for("k_grow", series, agent="ingest-bot")
    usage = load(rows, keys=keys_frame({"k_grow": cap}))
    found = detect(usage, month="2026-10", as_of="2026-11-01T00:00:00Z")
    assert found["kind"].tolist() == ["cap"]
    f = found.iloc[0]
    cum = np.cumsum([series[d] for d in days(dt.date(2026, 10, 1), 31)])
    crossed = days(dt.date(2026, 10, 1), 31)[int(np.argmax(cum >= cap))]
    assert f.projected_cap_date == crossed and f.severity == "critical"
    assert dt.date(2026, 10, 13) < f.day < crossed  # warned before the cap was reached
    assert "ingest-bot" in f.explanation and "ingest-bot" in f.action
    # mid-month, before the crossing: a warning with a projected date
    mid = detect(usage, month="2026-10", as_of=str(crossed - dt.timedelta(days=3)))
    assert mid["kind"].tolist() == ["cap"] and mid.iloc[0].severity in ("warning", "critical")
    assert mid.iloc[0].projected_cap_date is not None


def test_cap_projection_is_robust_to_a_single_spike_day():
    series = steady(1000, n=61, noise=0.05, seed=4)
    series[dt.date(2026, 10, 10)] = 1000 + 15000
    cap = 31 * 1000 * 2.2
    found = detect(load(rows_for("k", series), keys=keys_frame({"k": cap})), month="2026-10",
                   as_of="2026-10-11T00:00:00Z")
    assert "cap" not in set(found["kind"])


def test_as_of_makes_detection_causal():
    series = steady(20, seed=5)
    series[dt.date(2026, 10, 17)] = 2000
    later = dict(series)
    later[dt.date(2026, 10, 25)] = 5000  # something later in the month must not change the mid-month answer
    a = detect(load(rows_for("k", series)), month="2026-10", as_of="2026-10-18")
    b = detect(load(rows_for("k", later)), month="2026-10", as_of="2026-10-18")
    assert a.drop(columns="series").equals(b.drop(columns="series"))
    assert a["day"].tolist() == [dt.date(2026, 10, 17)]


def test_thresholds_are_validated_and_overridable():
    with pytest.raises(usagekit.UsagekitError, match="unknown threshold 'spike_rato'"):
        Thresholds.with_overrides(spike_rato=3)
    series = steady(200, seed=6)
    series[dt.date(2026, 10, 17)] = 200 * 4  # 4x: under the default ratio
    usage = load(rows_for("k", series))
    assert detect(usage, month="2026-10", as_of="2026-11-01").empty
    assert detect(usage, month="2026-10", as_of="2026-11-01", spike_ratio=3, spike_z=3)["kind"].tolist() == ["spike"]


def test_unpriced_usage_is_reported_as_info():
    rows = rows_for("k", steady(20, seed=7))
    rows.append({"ts": pd.Timestamp("2026-10-05T10:00:00Z"), "request_id": "r1", "key_id": "k", "model": "new-model",
                 "input_tokens": 100, "cost_cents": None, "requests": 1})
    found = detect(load(rows), month="2026-10", as_of="2026-11-01")
    assert found["kind"].tolist() == ["unpriced"] and found.iloc[0].severity == "info"
    assert "new-model" in found.iloc[0].explanation


def test_the_planted_anomalies_of_the_demo_month_are_all_found(demo_dir):
    import json
    labels = json.loads((demo_dir / "labels.json").read_text())["anomalies"]
    found = detect(usagekit.load(demo_dir), month="2026-10", as_of="2026-11-01T00:00:00Z")
    alerts = {(r.kind, r.key_id, r.day.isoformat()) for r in found.itertuples() if r.severity != "info"}
    assert alerts == {(a["kind"], a["key_id"], a["day"]) for a in labels}
