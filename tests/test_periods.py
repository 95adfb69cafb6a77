"""Budget windows: the one rule that says which spend a key's cap applies to."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from usagekit.errors import QueryError
from usagekit.periods import budget_window, parse_period

T = pd.Timestamp


@pytest.mark.parametrize(
    "key, as_of, tz, start, end",
    [
        ({}, "2026-10-15T08:00Z", "UTC", "2026-10-01T00:00Z", "2026-11-01T00:00Z"),  # monthly by default
        (
            {"budget_period": "1mo"},
            "2026-10-31T23:30Z",
            "Europe/Berlin",  # already November in Berlin
            "2026-10-31T23:00Z",
            "2026-11-30T23:00Z",
        ),
        ({"budget_period": "1d"}, "2026-10-15T08:00Z", "UTC", "2026-10-15T00:00Z", "2026-10-16T00:00Z"),
        ({"budget_period": "7d"}, "2026-10-18T23:59Z", "UTC", "2026-10-12T00:00Z", "2026-10-19T00:00Z"),  # Mon-Sun
        (
            {"budget_period": "7d", "budget_reset_at": "2026-10-21T00:00Z"},
            "2026-10-15T08:00Z",
            "UTC",
            "2026-10-14T00:00Z",
            "2026-10-21T00:00Z",
        ),  # LiteLLM: the next reset instant
        (
            {"budget_period": "30d", "created_at": "2026-09-20T00:00Z"},
            "2026-10-25T08:00Z",
            "UTC",
            "2026-10-20T00:00Z",
            "2026-11-19T00:00Z",
        ),
        (
            {"budget_period": "1mo", "budget_reset_at": "2026-11-05T14:00Z"},
            "2026-10-25T08:00Z",
            "UTC",
            "2026-10-05T14:00Z",
            "2026-11-05T14:00Z",
        ),
        (
            {"budget_period": "1mo", "budget_reset_at": "2026-01-05T00:00Z"},
            "2026-10-25T08:00Z",
            "UTC",
            "2026-10-05T00:00Z",
            "2026-11-05T00:00Z",
        ),  # a past reset instant walks forward
        (
            {"budget_period": "24h", "budget_reset_at": "2026-10-16T06:00Z"},
            "2026-10-15T08:00Z",
            "UTC",
            "2026-10-15T06:00Z",
            "2026-10-16T06:00Z",
        ),
    ],
)
def test_window_containing_the_cut_off(key, as_of, tz, start, end):
    w = budget_window(key, T(as_of), tz=tz)
    assert (w.start, w.end) == (T(start), T(end))
    assert w.start <= T(as_of) < w.end


def test_a_date_cut_off_means_the_end_of_that_local_day():
    w = budget_window({"budget_period": "1d"}, dt.date(2026, 10, 15), tz="America/New_York")
    assert w.days() == (dt.date(2026, 10, 15), dt.date(2026, 10, 16)) and not w.approximate


def test_a_reset_off_midnight_is_flagged_approximate_and_covers_whole_days():
    w = budget_window({"budget_period": "1mo", "budget_reset_at": "2026-11-05T14:00Z"}, T("2026-10-25T08:00Z"))
    assert w.approximate and w.days() == (dt.date(2026, 10, 5), dt.date(2026, 11, 6))
    assert "approximate" in str(w)


@pytest.mark.parametrize(
    "text, want",
    [
        (None, "1mo"),
        ("", "1mo"),
        ("monthly", "1mo"),
        ("1mo", "1mo"),
        ("30d", "30d"),
        ("1w", "7d"),
        ("weekly", "7d"),
        ("daily", "1d"),
        ("24h", "24h"),
        (float("nan"), "1mo"),
    ],
)
def test_periods_as_gateways_write_them(text, want):
    assert parse_period(text) == want


@pytest.mark.parametrize("bad", ["fortnightly", "0d", "-3d", "7x"])
def test_an_unknown_period_says_how_to_write_one(bad):
    with pytest.raises(QueryError, match="1d, 7d, 30d or 1mo"):
        parse_period(bad)
