"""Cap forecasts: where a key's spend in its budget window is heading, with a band, and when to warn.

:func:`forecast_cap` is the one projection behind the key cards and the ``cap`` finding, so a card
and a finding never disagree about the day a key reaches its cap. It reads the key's spend per
local day (``daily``, which may reach back before the window: the run rate needs it) and the
budget window from :func:`usagekit.periods.budget_window`.

How the run rate is made (robust statistics, written here; no fitting library):

* the last 28 known days before the cut-off (at least what exists: days before the data starts
  are unknown, not zero) split into weekdays and weekends;
* how often the key is active on each kind of day, separately from what an active day costs
  (a key idle half the days has a rate of half an active day, not a baseline of zero);
* the level of an active day: the median log spend, weekends offset from weekdays, with a
  robust trend (Theil-Sen slope of log spend) shrunk towards zero by its own uncertainty and
  extrapolated at most 14 days, so organic growth and drifts are followed and noise is not;
* the band: the level's and the trend's uncertainty and the day-to-day spread (MAD of the
  residuals, floored) as a multiplicative interval around the remaining spend.

Warning: the central projection reaches ``WARN_SHARE`` (90 %) of the cap before the window ends
(or the cap is already crossed); the band's upper edge alone does not raise one (the card still
says it: on keys that ended their month well under the cap, warning on the edge made most of the
false cap findings).
With ``previous`` (the forecast of the day before, same window), a warning stays up until the
projection is clearly back under the cap (the upper edge below ``CLEAR_SHARE`` of it or the
projection below ``HOLD_SHARE``), so a holiday dip does not make it flicker. A ``1d`` window is judged on the day's running spend. Caps of any
size are forecast (a 50-cent cap blocks a key as surely as a $500 one).

>>> import datetime as dt, pandas as pd
>>> from usagekit.periods import budget_window
>>> days = pd.date_range("2026-10-01", "2026-10-14").date
>>> daily = pd.Series(1000.0, index=days)                       # $10 a day
>>> w = budget_window({"budget_period": "1mo"}, pd.Timestamp("2026-10-15", tz="UTC"))
>>> f = forecast_cap(daily, 29_500, w, pd.Timestamp("2026-10-15", tz="UTC"))
>>> round(f.projected_cents), f.crossing_date, f.warn
(31000, datetime.date(2026, 10, 30), True)
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .money import format_usd
from .periods import BudgetWindow

#: days of history the run rate reads (at most)
LOOKBACK_DAYS = 28
#: a trend is extrapolated at most this many days ahead (then held flat)
TREND_HORIZON_DAYS = 7
#: a trend needs this many known days (and is extrapolated at most half of them) ...
MIN_TREND_DAYS = 14
#: ... and must also show over the last this many days (a recovery after a holiday dip is a step,
#: not growth: it must not be extrapolated)
TREND_DAYS = 14
#: with fewer active days than this, the run rate is the trimmed mean of the known days
SPARSE_ACTIVE_DAYS = 5
#: fewer known days than this: too little history to project, only a crossing warns
MIN_BAND_DAYS = 10
#: z of the band's edges (about a 90 % two-sided interval)
BAND_Z = 1.28
#: floor of the day-to-day log spread: a perfectly flat key is not infinitely certain
MIN_SPREAD = 0.1
#: a warning stays up until the band's upper edge is below this share of the cap
CLEAR_SHARE = 0.9
#: a warning is raised when the central projection reaches this share of the cap (the band's upper
#: edge alone does not raise one) ...
WARN_SHARE = 0.9
#: ... and is held only while the projection stays above this share of the cap (and the band's
#: upper edge above ``CLEAR_SHARE``)
HOLD_SHARE = 0.75
#: a ``1d`` cap warns once the day's running spend reaches this share of it
DAY_WARN_SHARE = 0.8


@dataclass(frozen=True)
class CapForecast:
    """A key's budget window at ``as_of``: spent so far, the projection at the window's end and its band.

    ``crossing_date`` is the local day the cap was crossed (``crossed``) or, if not yet, the day the
    central projection crosses it (None when it does not within the window); ``earliest_crossing_date``
    is the day the band's upper edge crosses it. ``warn`` is the alert state (with hysteresis).
    """

    cap_cents: float | None
    window: BudgetWindow
    as_of: pd.Timestamp
    spent_cents: float
    projected_cents: float
    low_cents: float
    high_cents: float
    rate_cents: float  # expected spend of a typical remaining day (mean over the days left)
    crossing_date: dt.date | None
    earliest_crossing_date: dt.date | None
    crossed: bool
    warn: bool
    explanation: str
    days_left: float = 0.0
    history_days: int = 0  # known days the run rate read
    warn_since: dt.date | None = None  # the local day the warning now up was first raised

    @property
    def pct_used(self) -> float | None:
        return self.spent_cents / self.cap_cents * 100 if self.cap_cents else None

    @property
    def projected_pct(self) -> float | None:
        return self.projected_cents / self.cap_cents * 100 if self.cap_cents else None


def _to_date(d) -> dt.date:
    if isinstance(d, dt.date) and not isinstance(d, dt.datetime):
        return d
    return pd.Timestamp(d).date()


def _cutoff(as_of, tz: str) -> pd.Timestamp:
    if isinstance(as_of, dt.date) and not isinstance(as_of, dt.datetime):
        return (pd.Timestamp(as_of).tz_localize(tz) + pd.Timedelta(days=1)).tz_convert("UTC")
    t = pd.Timestamp(as_of)
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")


def median(a) -> float:
    """The median of a small array (``np.median`` without its overhead: called thousands of times)."""
    a = np.sort(np.asarray(a, dtype=float), axis=None)
    n = len(a)
    return float((a[(n - 1) // 2] + a[n // 2]) / 2) if n else float("nan")


_PAIRS: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def _theil_sen(t: np.ndarray, y: np.ndarray) -> float:
    n = len(t)
    if n not in _PAIRS:
        _PAIRS[n] = np.triu_indices(n, 1)
    i, j = _PAIRS[n]
    dt_ = t[j] - t[i]
    ok = dt_ != 0
    return median((y[j] - y[i])[ok] / dt_[ok]) if ok.any() else 0.0


@dataclass(frozen=True)
class RunRate:
    """The model of a key's coming days: expected spend per future day and a log-scale uncertainty."""

    level: float  # log spend of an active weekday at the last known day
    weekend_offset: float  # log(weekend active day / weekday active day)
    slope: float  # per day, shrunk
    slope_se: float
    level_se: float
    spread: float  # day-to-day log sd (robust, floored): the band
    raw_spread: float  # the same unfloored: the lognormal mean of a day
    p_weekday: float
    p_weekend: float
    last_day: dt.date
    n_days: int
    n_active: int
    horizon: int = 0  # days the trend is extrapolated (then held flat)

    def expected(self, day: dt.date) -> float:
        """Expected spend (mean, cents) of ``day`` after :attr:`last_day`."""
        if self.n_active == 0:
            return 0.0
        ahead = min((day - self.last_day).days, self.horizon)
        weekend = day.weekday() >= 5
        log = self.level + self.slope * ahead + (self.weekend_offset if weekend else 0.0)
        p = self.p_weekend if weekend else self.p_weekday
        return p * math.exp(log + self.raw_spread**2 / 2)

    def expected_ahead(self, ahead: np.ndarray) -> np.ndarray:
        """:meth:`expected` of the days ``ahead`` (whole days after :attr:`last_day`)."""
        if self.n_active == 0:
            return np.zeros(len(ahead))
        weekend = (self.last_day.weekday() + ahead) % 7 >= 5
        log = (
            self.level
            + self.slope * np.minimum(ahead, self.horizon)
            + np.where(weekend, self.weekend_offset, 0.0)
            + self.raw_spread**2 / 2
        )
        return np.where(weekend, self.p_weekend, self.p_weekday) * np.exp(log)

    def log_se(self, days_ahead: float, n_days_left: float) -> float:
        """Log-scale standard error of the sum of the remaining days' spend."""
        ahead = min(days_ahead, self.horizon)
        noise = math.sqrt(math.expm1(self.spread**2)) / math.sqrt(max(n_days_left, 1.0))
        return math.sqrt(self.level_se**2 + (ahead * self.slope_se) ** 2 + noise**2)


def run_rate(daily: pd.Series, last_day: dt.date, lookback: int = LOOKBACK_DAYS) -> RunRate:
    """The run-rate model from the known complete days up to ``last_day`` (see module docstring).

    ``daily`` holds cents per day (index ``datetime.date``); days missing between its first
    day and ``last_day`` had no spend; a NaN day is unknown (left out, as are days before the
    first). ``lookback`` days at most are read.
    """
    if len(daily):
        first = max(min(daily.index), last_day - dt.timedelta(days=lookback - 1))
        idx = [first + dt.timedelta(days=i) for i in range((last_day - first).days + 1)]
        s = daily.reindex(idx, fill_value=0.0) if idx else daily.iloc[:0]
    else:
        s = daily
    return run_rate_arrays(s.to_numpy(dtype=float), np.array([d.weekday() >= 5 for d in s.index], dtype=bool), last_day)


def run_rate_arrays(vals: np.ndarray, weekend: np.ndarray, last_day: dt.date) -> RunRate:
    """:func:`run_rate` on consecutive days ending at ``last_day`` (NaN = unknown day)."""
    known = ~np.isnan(vals)
    t_all = np.arange(len(vals), dtype=float) - (len(vals) - 1)
    vals, weekend, t_all = vals[known], weekend[known], t_all[known]
    active = vals > 0
    n_wd, n_we = int((~weekend).sum()), int(weekend.sum())
    a_wd, a_we = int((active & ~weekend).sum()), int((active & weekend).sum())
    # activity rates per kind of day; one barely seen borrows the overall rate
    p_all = float(active.mean()) if len(vals) else 0.0
    p_wd = a_wd / n_wd if n_wd >= 2 else (a_wd + p_all) / (n_wd + 1)
    p_we = a_we / n_we if n_we >= 2 else (a_we + p_all) / (n_we + 1)
    if not active.any():
        return RunRate(0.0, 0.0, 0.0, 0.0, 0.0, MIN_SPREAD, 0.0, 0.0, 0.0, last_day, len(vals), 0)
    if active.sum() < SPARSE_ACTIVE_DAYS:
        # too few active days for a level: a flat rate, the mean of the known days without the largest
        # (a monthly job or a one-off must not become the daily rate)
        kept = np.sort(vals)[:-1] if len(vals) >= MIN_BAND_DAYS else vals  # under 10 days: a plain mean
        rate = float(kept.mean()) if len(kept) else 0.0
        if rate <= 0:
            return RunRate(0.0, 0.0, 0.0, 0.0, 0.0, MIN_SPREAD, 0.0, 0.0, 0.0, last_day, len(vals), 0)
        return RunRate(math.log(rate), 0.0, 0.0, 0.0, 0.5, 0.5, 0.0, 1.0, 1.0, last_day, len(vals), int(active.sum()))
    t = t_all[active]
    y = np.log(vals[active])
    we = weekend[active]
    offset = 0.0
    if a_wd >= 2 and a_we >= 2:
        offset = float(median(y[we]) - median(y[~we]))
    adj = y - np.where(we, offset, 0.0)
    slope, slope_se = 0.0, 0.0
    horizon = min(TREND_HORIZON_DAYS, len(vals) // 2)
    recent = t >= t_all.max() - (TREND_DAYS - 1) if len(t_all) else t >= 0
    if len(vals) >= MIN_TREND_DAYS and recent.sum() >= 7:
        raw = _theil_sen(t, adj)
        short = _theil_sen(t[recent], adj[recent])
        # the trend must hold over both spans: a recovery after a holiday dip rises over four weeks
        # but is flat over the last two, and is not extrapolated
        raw = 0.0 if raw * short <= 0 else (raw if abs(raw) < abs(short) else short)
        resid = adj - raw * t
        spread = max(1.4826 * float(median(np.abs(resid - median(resid)))), MIN_SPREAD)
        sxx = float(((t - t.mean()) ** 2).sum())
        slope_se = spread / math.sqrt(sxx) if sxx > 0 else 0.0
        shrink = raw**2 / (raw**2 + slope_se**2) if raw else 0.0
        slope = raw * shrink
    resid = adj - slope * t
    level = median(resid)
    raw = min(1.4826 * median(np.abs(resid - level)), 1.5) if len(resid) >= 3 else 0.0
    spread = max(raw, MIN_SPREAD) if len(resid) >= 3 else 0.5
    level_se = 1.25 * spread / math.sqrt(len(resid))
    return RunRate(
        level,
        offset,
        slope,
        slope_se,
        level_se,
        spread,
        raw,
        float(p_wd),
        float(p_we),
        last_day,
        len(vals),
        int(active.sum()),
        horizon,
    )


def money_words(cents: float) -> str:
    """Cents for a sentence: whole dollars and cents, two significant digits under a cent."""
    if cents >= 100 or cents == 0:
        return format_usd(cents, precise=False)
    if cents >= 1:
        return format_usd(cents, precise=False)
    return f"${cents / 100:.2g}" if cents >= 0.01 else "under $0.0001"


def _dense(daily: pd.Series) -> tuple[dt.date | None, np.ndarray]:
    """``daily`` as consecutive days from its first: (first day, cents with 0 for missing days)."""
    if daily is None or not len(daily):
        return None, np.zeros(0)
    days = [_to_date(d) for d in daily.index]
    first, last = min(days), max(days)
    vals = np.zeros((last - first).days + 1)
    np.add.at(vals, [(d - first).days for d in days], np.nan_to_num(daily.to_numpy(dtype=float)))
    return first, vals


def forecast_cap(
    daily: pd.Series,
    cap_cents: float | None,
    window: BudgetWindow,
    as_of,
    *,
    tz: str = "UTC",
    previous: CapForecast | None = None,
) -> CapForecast:
    """Project ``daily`` (cents per local day, index ``datetime.date``) to the end of ``window``.

    ``as_of`` is the cut-off instant (a date means the end of that day); the last day may be
    partial (its spend so far). Days before ``daily``'s first are unknown (not zero). Returns a
    :class:`CapForecast`; with ``cap_cents`` None the projection is made and nothing warns.
    """
    tz = window.tz or tz
    first, vals = _dense(daily)
    return _forecast(first, vals, cap_cents, window, window.days(), _cutoff(as_of, tz), tz, previous)


def _forecast(
    first: dt.date | None,
    vals: np.ndarray,
    cap_cents,
    window: BudgetWindow,
    wdays,
    cutoff,
    tz,
    previous: CapForecast | None,
    explain: bool = True,
) -> CapForecast:
    cutoff = min(cutoff, window.end)
    local = cutoff.tz_convert(tz)
    last_day = (local - pd.Timedelta(microseconds=1)).date()
    midnight = local.normalize()
    elapsed = 1.0 if local == midnight else (local - midnight) / pd.Timedelta(days=1)
    w_first, w_end = wdays
    if first is None:
        first, vals = last_day, np.zeros(0)
    last_i = (last_day - first).days
    lo_i = max((w_first - first).days, 0)
    in_window = np.nan_to_num(vals[lo_i : last_i + 1]) if last_i >= 0 else np.zeros(0)
    spent = float(in_window.sum())
    cap = None if cap_cents is None or pd.isna(cap_cents) else float(cap_cents)
    crossed_day = None
    if cap is not None and spent >= cap:  # reaching the cap blocks the key
        reached = np.cumsum(in_window) >= cap
        # a cap of 0 is reached before any spend: from the window's first day
        crossed_day = (first + dt.timedelta(days=lo_i + int(np.argmax(reached)))) if reached.any() else w_first

    complete_last = last_day if elapsed >= 1.0 else last_day - dt.timedelta(days=1)
    hi = (complete_last - first).days + 1
    lo = max(0, hi - LOOKBACK_DAYS)
    hist = vals[lo:hi] if hi > 0 else np.zeros(0)
    weekend = (first.weekday() + np.arange(lo, lo + len(hist))) % 7 >= 5
    rr = run_rate_arrays(hist, weekend, complete_last)
    today_left = 1.0 - elapsed if elapsed < 1.0 else 0.0
    skip = max(0, (w_first - complete_last).days - 1)
    ahead = np.arange(1 + skip, (w_end - complete_last).days)
    future = [complete_last + dt.timedelta(days=int(i)) for i in ahead]
    expect = rr.expected_ahead(ahead)
    if elapsed < 1.0 and len(future) and future[0] == last_day:
        expect[0] *= today_left  # the partial day: its spend so far is in `spent`; add the rest of the day
    remaining = float(expect.sum())
    n_left = len(future) - (1 if elapsed < 1.0 and len(future) and future[0] == last_day else 0) + today_left
    se = rr.log_se(n_left / 2 + 0.5, n_left) if remaining > 0 else 0.0
    projected = spent + remaining
    low = spent + remaining * math.exp(-BAND_Z * se)
    high = spent + remaining * math.exp(BAND_Z * se)

    def crossing(mult: float) -> dt.date | None:
        if cap is None:
            return None
        c = spent
        for d, e in zip(future, expect):
            c += e * mult
            if c >= cap:
                return d
        return None

    cross = crossed_day or crossing(1.0)
    earliest = crossed_day or crossing(math.exp(BAND_Z * se))
    same = previous is not None and previous.warn and previous.window == window
    if cap is None:
        warn = False
    elif crossed_day is not None:
        warn = True
    elif window.period == "1d":
        warn = spent >= DAY_WARN_SHARE * cap or (same and spent >= 0.5 * cap)
    else:
        # too little history to project: only a crossing warns; else the central projection near the cap,
        # kept up until clearly back under it (hysteresis)
        warn = rr.n_days >= MIN_BAND_DAYS and (
            projected >= WARN_SHARE * cap or (same and high >= CLEAR_SHARE * cap and projected >= HOLD_SHARE * cap)
        )
    since = (previous.warn_since if same and previous.warn_since else last_day) if warn else None
    text = (
        _explain(
            cap, spent, projected, low, high, cross, earliest, crossed_day, warn, window, rr, last_day, elapsed, n_left
        )
        if explain
        else ""
    )
    return CapForecast(
        cap_cents=cap,
        window=window,
        as_of=cutoff,
        spent_cents=spent,
        projected_cents=projected,
        low_cents=low,
        high_cents=high,
        rate_cents=remaining / n_left if n_left else 0.0,
        crossing_date=cross,
        earliest_crossing_date=earliest,
        crossed=crossed_day is not None,
        warn=bool(warn),
        explanation=text,
        days_left=float(n_left),
        history_days=rr.n_days,
        warn_since=since,
    )


def forecast_key(
    daily: pd.Series, key, as_of, *, tz: str = "UTC", cap_cents: float | None = None, since: dt.date | None = None
) -> CapForecast:
    """The forecast of one registry key at ``as_of``, replayed day by day through its budget window.

    ``key`` is a registry row (mapping, Series or record: ``spend_cap_cents``, ``budget_period``,
    ``budget_reset_at``, ``created_at``); the window comes from
    :func:`usagekit.periods.budget_window`. Each day of the window up to ``as_of`` is forecast from
    the data before its end, so the warning's hysteresis and ``warn_since`` are what a nightly run
    would have shown; ``since`` skips days before it (data there is still read). Key cards and
    ``cap`` findings both call this, so they show the same dates.
    """
    from .periods import budget_window

    cutoff = _cutoff(as_of, tz)
    if cap_cents is None:
        cap_cents = _get(key, "spend_cap_cents")
    window = budget_window(key, cutoff - pd.Timedelta(microseconds=1), tz)  # the window the cut-off closes
    first, vals = _dense(daily)
    return forecast_window(first, vals, cap_cents, window, cutoff, tz=tz, since=since)


def forecast_window(
    first: dt.date | None,
    vals: np.ndarray,
    cap_cents: float | None,
    window: BudgetWindow,
    cutoff: pd.Timestamp,
    *,
    tz: str = "UTC",
    since: dt.date | None = None,
) -> CapForecast:
    """:func:`forecast_key` on spend already laid out as consecutive days: ``vals`` holds the cents
    of ``first`` and each following day (``first`` None: no known day), ``window`` is the key's
    budget window that ``cutoff`` (a UTC instant) closes. Key summaries call this with one window
    per distinct budget period, computed once for many keys.
    """
    wdays = window.days()
    last = (cutoff - pd.Timedelta(microseconds=1)).tz_convert(tz).date()
    day = max(wdays[0], since) if since else wdays[0]
    upto = vals[: max(0, (last - first).days + 1)] if first is not None else vals
    alone = _forecast(first, upto, cap_cents, window, wdays, cutoff, tz, None)
    held = (
        alone.spent_cents >= 0.5 * alone.cap_cents
        if window.period == "1d"
        else (
            alone.history_days >= MIN_BAND_DAYS
            and alone.high_cents >= CLEAR_SHARE * alone.cap_cents
            and alone.projected_cents >= HOLD_SHARE * alone.cap_cents
        )
        if alone.cap_cents is not None
        else False
    )
    if not alone.warn and not held:
        return alone  # no earlier warning could still hold: the replay would give the same answer
    prev = None
    while day < last:  # whole days before the cut-off's own day, as each night's run saw them
        end = pd.Timestamp(dt.datetime.combine(day + dt.timedelta(days=1), dt.time()), tz=tz).tz_convert("UTC")
        if end > window.start:
            seen = vals[: max(0, (day - first).days + 1)] if first is not None else vals
            prev = _forecast(first, seen, cap_cents, window, wdays, end, tz, prev, explain=False)
        day += dt.timedelta(days=1)
    return _forecast(first, upto, cap_cents, window, wdays, cutoff, tz, prev)


def _get(key, name):
    if isinstance(key, dict):
        return key.get(name)
    if isinstance(key, pd.Series):
        return key.get(name)
    return getattr(key, name, None)


def _explain(
    cap, spent, projected, low, high, cross, earliest, crossed_day, warn, window, rr: RunRate, last_day, elapsed, n_left
) -> str:
    end = window.days()[1] - dt.timedelta(days=1)
    span = (
        "today's"
        if window.period == "1d"
        else ("this month's" if window.period == "1mo" else f"this {window.period} budget period's")
    )
    if cap is None and n_left <= 0:
        return f"No cap. {money_words(spent)} spent in {span} budget window, which is over."
    if cap is None:
        return (
            f"No cap. {money_words(spent)} spent in {span} budget so far; heading for about {money_words(projected)} "
            f"by {end:%b %d}."
        )
    share = f" ({spent / cap:.0%})" if cap > 0 else ""  # a cap of 0: nothing may be spent
    used = f"{money_words(spent)} of its {money_words(cap)} cap{share}"
    if n_left <= 0 and crossed_day is None:
        return f"{used} in {span} budget window, which is over: the cap was not reached."
    if crossed_day is not None:
        return f"Over its cap since {crossed_day:%b %d}: {used} in {span} budget (resets after {end:%b %d})."
    if window.period == "1d":
        return (
            f"{used} spent today so far{' (' + format(elapsed, '.0%') + ' of the day gone)' if elapsed < 1 else ''}"
            f"; a daily cap is judged on the day's running spend."
        )
    if rr.n_active == 0:
        rate = "no spend in the days read, so nothing more is expected"
    else:
        trend = ""
        if abs(rr.slope) >= 0.01:
            trend = f", {'growing' if rr.slope > 0 else 'shrinking'} about {abs(math.expm1(rr.slope)):.0%} a day"
        rate = (
            f"at its recent pace (about {money_words((projected - spent) / n_left if n_left else 0)} a day"
            f"{trend}, from {rr.n_days} days of history)"
        )
    where = (
        f"{used}; {rate} it reaches about {money_words(projected)} by {end:%b %d} "
        f"(likely between {money_words(low)} and {money_words(high)})"
    )
    if cross is not None:
        return f"Heading for its cap: {where}, crossing it around {cross:%b %d}."
    if warn and earliest is not None:
        return f"May reach its cap: {where}; at the high end it would cross around {earliest:%b %d}."
    if warn:
        return f"Close to its cap: {where}; the warning stays until the projection is clearly back under the cap."
    if earliest is not None:
        return f"Under its cap at this pace: {where}; only at the high end would it cross, around {earliest:%b %d}."
    return f"Under its cap: {where}."


__all__ = [
    "CapForecast",
    "RunRate",
    "forecast_cap",
    "forecast_key",
    "forecast_window",
    "median",
    "money_words",
    "run_rate",
    "run_rate_arrays",
]
