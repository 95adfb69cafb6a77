"""Key summaries against budgets: one rule for what a card's cap, % used and projection mean.

A key's cap applies to its budget window (:func:`usagekit.periods.budget_window`: the
calendar month unless the registry gives another period) containing the **cut-off**:
``min(range end, as_of or the data's end)``. Whatever the range start or the provider,
model or agent filter in force, a key's ``spend_cents``, ``pct_used``, projection and cap
date are of that whole window up to the cut-off, across all providers. The spend of the
filtered range is given beside it (``range_spend_cents``, "$123.77 in this range") and is
never a share of the cap. Nothing after the cut-off is read, so a replay with ``as_of``
shows what a run at that moment showed.

The projection comes from one function, :func:`project`, the same forecast the cap finding
of :func:`usagekit.detect` uses, so a card and a finding agree on the day a cap is crossed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import narwhals as nw
import numpy as np
import pandas as pd
import polars as pl

from . import queries as q
from .errors import QueryError
from .forecast import LOOKBACK_DAYS, forecast_window
from .periods import BudgetWindow, budget_window, window_inputs

#: days of history before the window read for the run rate (what the cap forecast reads)
RATE_DAYS = LOOKBACK_DAYS

COLUMNS = [
    "key_id",
    "key_name",
    "account_id",
    "spend_cap_cents",
    "soft_cap_cents",
    "spend_cents",
    "pct_used",
    "requests",
    "projected_cents",
    "projected_cap_date",
    "cap_crossed",
    "range_spend_cents",
    "budget_period",
    "window_start",
    "window_end",
    "window_closed",
    "daily_rate_cents",
    "forecast",
]


@dataclass(frozen=True)
class Projection:
    """Where a key's budget window is heading (the fields the cap forecast gives)."""

    spent_cents: float
    projected_cents: float
    crossing_date: dt.date | None  # the day the cap was crossed (crossed) or is projected to be
    crossed: bool
    rate_cents: float  # the daily run rate extended
    closed: bool  # the window is over at the cut-off: the projection is the spend
    explanation: str


def project(
    daily: pd.Series, cap_cents: float | None, window: BudgetWindow, as_of: pd.Timestamp, *, tz: str
) -> Projection:
    """Project ``daily`` (cents per local date, history before the window allowed) to the end of
    ``window`` as seen at ``as_of``: :func:`usagekit.forecast.forecast_cap`, the forecast the cap
    finding uses (leading zero days before the key's first spend are read as unknown, not idle).
    """
    from .forecast import forecast_cap

    s = daily.sort_index()
    s = s[s.ne(0).cummax()] if s.ne(0).any() else s.iloc[0:0]  # from the key's first spend
    cap = None if cap_cents is None or pd.isna(cap_cents) or cap_cents <= 0 else float(cap_cents)
    last = (as_of - pd.Timedelta(microseconds=1)).tz_convert(tz).date()
    if last >= window.days()[1] - dt.timedelta(days=1):
        as_of = window.end  # the data reaches the window's last day: the window is over, nothing is projected
    f = forecast_cap(s, cap, window, as_of, tz=tz)
    closed = f.days_left <= 0
    return Projection(f.spent_cents, f.projected_cents, f.crossing_date, f.crossed, f.rate_cents, closed, f.explanation)


def forecast(daily: pd.Series, key, cap_cents, window: BudgetWindow, as_of: pd.Timestamp, *, tz: str) -> Projection:
    """The one place a card's projection comes from: the cap forecast shared with the cap finding
    (:func:`usagekit.forecast.forecast_key`) when the package has it, else :func:`project`."""
    try:
        from .forecast import forecast_key
    except ImportError:
        return project(daily, cap_cents, window, as_of, tz=tz)
    s = daily.sort_index()
    s = s[s.ne(0).cummax()] if s.ne(0).any() else s.iloc[0:0]  # days before the key's first spend are unknown
    f = forecast_key(s, key, as_of, tz=tz, cap_cents=None if pd.isna(cap_cents) else float(cap_cents))
    last = (as_of - pd.Timedelta(microseconds=1)).tz_convert(tz).date()
    closed = last >= window.days()[1] - dt.timedelta(days=1)  # the window's last day is in the data
    return Projection(
        float(f.spent_cents),
        float(f.projected_cents),
        f.crossing_date,
        bool(f.crossed),
        float(f.rate_cents),
        closed,
        f.explanation,
    )


def cutoff(usage, as_of=None) -> pd.Timestamp:
    """``min(range end, as_of or the data's end)`` as a UTC instant (exclusive); the data's end is
    the end of the local day of the newest event."""
    return _cutoff_in(usage, as_of, usage.day_range())


def _cutoff_in(usage, as_of, span: tuple[int, int]) -> pd.Timestamp:
    """:func:`cutoff` with the scope's day range ``span`` already known."""
    range_end = pd.Timestamp(q.day_start_utc(span[1], usage.tz))
    if as_of is None:
        newest = _newest(usage)
        if pd.isna(newest):
            return range_end
        newest = pd.Timestamp(newest)
        newest = newest.tz_localize("UTC") if newest.tzinfo is None else newest.tz_convert("UTC")
        # the data's end is the end of its last day: a month whose last day is in is over
        day_after = q.day_number(newest.tz_convert(usage.tz).date()) + 1
        return min(range_end, pd.Timestamp(q.day_start_utc(day_after, usage.tz)))
    return min(range_end, parse_as_of(as_of, usage.tz))


def _newest(usage):
    """The newest event time of all the data (whatever the scope), or NaT/None without rows."""
    from .usage import Scope

    return q.to_pandas(usage.within(Scope()).cube.select(nw.col("_ts_max").max().alias("t")))["t"].iloc[0]


def parse_as_of(as_of, tz: str) -> pd.Timestamp:
    """A cut-off as a UTC instant: an ISO time (naive = UTC), or a date meaning the end of that
    day in ``tz``.

    >>> str(parse_as_of("2026-10-15", "UTC")), str(parse_as_of("2026-10-15T13:30:00Z", "UTC"))
    ('2026-10-16 00:00:00+00:00', '2026-10-15 13:30:00+00:00')
    """
    from .errors import QueryError

    try:
        ts = pd.Timestamp(as_of)
    except (ValueError, TypeError):
        raise QueryError(
            f"as_of '{as_of}' is not a time; write it as YYYY-MM-DD (the end of that day) "
            "or an ISO time such as 2026-10-15T12:00:00Z"
        ) from None
    if (
        isinstance(as_of, dt.date)
        and not isinstance(as_of, dt.datetime)
        or (isinstance(as_of, str) and ts.tzinfo is None and len(as_of.strip()) <= 10)
    ):
        return pd.Timestamp(q.day_start_utc(q.day_number(ts.date()) + 1, tz))
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _key_days(usage, first: dt.date, cut: pd.Timestamp, filters: tuple) -> pl.DataFrame:
    """Spend and requests per key and local day from ``first`` up to ``cut`` (nothing at or after
    it), restricted by ``filters`` only (the range of ``usage`` is replaced), in key then day order.

    A Polars frame (small: keys x days) of ``key_id, _day, requests, key_name, account_id,
    cost_cents`` (the values :func:`usagekit.queries.per_key_day` gives) and the exact money parts
    ``_c_hi, _c_mid, _c_lo`` of each key-day, so sums over several days stay exact."""
    from .usage import Scope

    scoped = usage.within(Scope(None, None, filters))
    lo = q.day_number(first)
    last = q.day_number((cut - pd.Timedelta(microseconds=1)).tz_convert(usage.tz).date())
    if cut >= pd.Timestamp(q.day_start_utc(last + 1, usage.tz)) or _no_rows_after(usage, cut):
        frame = q.restrict(scoped.cube, start_day=lo, end_day=last + 1)
    else:  # a cut-off inside a day: that day re-read from its rows before the cut-off
        whole = q.restrict(scoped.cube, start_day=lo, end_day=last)
        day = usage.within(Scope(q.day_date(last), q.day_date(last + 1), filters))
        rows = day.frame.filter(nw.col("ts") < cut.to_pydatetime())
        schema = whole.collect_schema()
        part = q.cube(rows).select([nw.col(c).cast(t) for c, t in schema.items()])
        frame = nw.concat([whole, part], how="vertical")
    res = q.key_days(frame).collect(backend="polars").to_native()
    res = res.select(
        pl.col("key_id").cast(pl.String),
        pl.col("_day").cast(pl.Int64),
        pl.col("requests").fill_null(0).cast(pl.Int64),
        pl.col("key_name").cast(pl.String),
        pl.col("account_id").cast(pl.String),
        pl.col("_c_hi").fill_null(0).cast(pl.Int64),
        pl.col("_c_mid").fill_null(0).cast(pl.Int64),
        pl.col("_c_lo").fill_null(0.0).cast(pl.Float64),
    ).sort("key_id", "_day")
    return res.with_columns(pl.Series("cost_cents", _finish(res["_c_hi"], res["_c_mid"], res["_c_lo"]), pl.Float64))


def _finish(hi, mid, lo) -> list[float]:
    """Whole cents, nano-cents and the float remainder as one float each, exactly as
    :func:`usagekit.queries.finish_money` combines them."""
    return [(h * q.NANO + m) / q.NANO + f for h, m, f in zip(hi.to_list(), mid.to_list(), lo.to_list())]


def _exact_sums(per: pl.DataFrame) -> dict:
    """key id -> the exact sum of ``per``'s money parts (``per`` in key order)."""
    if not per.height:
        return {}
    keys = per["key_id"].to_numpy()
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    parts = [np.add.reduceat(per[c].to_numpy(), starts) for c in ("_c_hi", "_c_mid", "_c_lo")]
    totals = _finish(pl.Series(parts[0]), pl.Series(parts[1]), pl.Series(parts[2]))
    return dict(zip(keys[starts].tolist(), totals))


def _no_rows_after(usage, cut: pd.Timestamp) -> bool:
    newest = _newest(usage)
    if pd.isna(newest):
        return True
    newest = pd.Timestamp(newest)
    newest = newest.tz_localize("UTC") if newest.tzinfo is None else newest.tz_convert("UTC")
    return newest < cut


class _Windows:
    """Budget windows containing one instant, computed once per distinct budget period and reset
    (:func:`usagekit.periods.window_inputs`), not once per key."""

    def __init__(self, at: pd.Timestamp, tz: str):
        self.at, self.tz = at, tz
        self._memo: dict = {}

    def __call__(self, row: dict) -> BudgetWindow:
        try:
            inputs = window_inputs(row)
            w = self._memo.get(inputs)
        except (QueryError, TypeError):  # not understood or not hashable: budget_window says what it can
            return budget_window(row, self.at, self.tz)
        if w is None:
            w = self._memo[inputs] = budget_window(row, self.at, self.tz)
        return w


def key_summary(usage, as_of=None) -> pd.DataFrame:
    """See :meth:`usagekit.usage.Usage.key_summary`.

    One per-key-day table is read (two when the scope filters by more than account or key: the
    range's own spend then has other filters than the budget windows); every key's window spend,
    requests and forecast come from it laid out as a keys x days array, and a budget window is
    computed once per distinct budget period, not per key.
    """
    span = usage.day_range()
    cut = _cutoff_in(usage, as_of, span)
    tz = usage.tz
    range_start = q.day_date(span[0])
    at = cut - pd.Timedelta(microseconds=1)
    last_day = at.tz_convert(tz).date()
    registry = usage.keys
    rows = {r["key_id"]: r for r in registry.to_dict(orient="records")}
    window_of = _Windows(at, tz)
    key_filters = tuple((k, v) for k, v in usage.scope.filters if k in ("account", "keys"))
    # the range's spend and the windows' spend have the same filters: one read from the earliest day
    # any window (or the run rate before it) can need, split afterwards
    one_read = key_filters == usage.scope.filters and q.day_number(last_day) >= span[0]
    if one_read:
        firsts = [window_of(r).days()[0] for r in rows.values()] + [window_of({}).days()[0]]
        widest = _key_days(usage, min(min(firsts), range_start) - dt.timedelta(days=RATE_DAYS), cut, key_filters)
        scope_per = widest.filter(pl.col("_day") >= span[0])
    else:
        # the range's own spend, with every filter: shown beside the budget, never as a share of it
        scope_per = _key_days(usage, range_start, cut, usage.scope.filters)
    # the data's name and account of each key in the range (the registry's win when it has them)
    named = scope_per.group_by("key_id").agg(pl.col("key_name").max(), pl.col("account_id").max()).sort("key_id")
    names = pd.DataFrame(
        {
            "key_id": named["key_id"].to_list(),
            "key_name_data": named["key_name"].to_list(),
            "account_id_data": named["account_id"].to_list(),
        }
    )
    from .usage import _scoped_registry

    reg = _scoped_registry(registry, usage.scope, seen=set(names["key_id"]))
    ids = sorted(set(reg["key_id"]) | set(names["key_id"]))
    windows = {kid: window_of(rows.get(kid, {})) for kid in ids}
    earliest = min([w.days()[0] for w in windows.values()], default=range_start) - dt.timedelta(days=RATE_DAYS)
    lo = min(earliest, range_start)
    if not ids:
        per = scope_per.clear()
    elif one_read:
        per = widest.filter(pl.col("_day") >= q.day_number(lo))
    else:
        per = _key_days(usage, lo, cut, key_filters)
    scope_spend = _exact_sums(scope_per)
    # keys x days from `lo` to the cut-off's day: cents and requests (a key-day is one row of `per`)
    index = {kid: i for i, kid in enumerate(ids)}
    per = per.filter(pl.col("key_id").is_in(ids))
    n_days = (last_day - lo).days + 1
    cents = np.zeros((len(ids), max(n_days, 0)))
    reqs = np.zeros((len(ids), max(n_days, 0)), dtype=np.int64)
    at_key = np.array([index[k] for k in per["key_id"].to_list()], dtype=np.int64)
    at_day = per["_day"].to_numpy().astype(np.int64) - q.day_number(lo)
    cents[at_key, at_day] = per["cost_cents"].to_numpy()
    reqs[at_key, at_day] = per["requests"].to_numpy()
    # a key's history starts at its first spend: days before it are unknown, not idle
    spent_any = cents != 0
    first_i = spent_any.argmax(axis=1)
    has_spend = spent_any.any(axis=1)
    caps = pd.to_numeric(
        pd.Series([rows.get(k, {}).get("spend_cap_cents") for k in ids], dtype=object), errors="coerce"
    )
    softs = pd.to_numeric(
        pd.Series([rows.get(k, {}).get("soft_cap_cents") for k in ids], dtype=object), errors="coerce"
    ).astype("float64")
    out = []
    for i, kid in enumerate(ids):
        reg_row = rows.get(kid, {})
        w = windows[kid]
        first, end = w.days()
        req = int(reqs[i, (first - lo).days : max((end - lo).days, 0)].sum())
        if has_spend[i]:
            since, vals = lo + dt.timedelta(days=int(first_i[i])), cents[i, first_i[i] :]
        else:
            since, vals = None, np.zeros(0)
        cap = caps.iloc[i]
        # the cap the registry gives when it is not a number (the forecast reads it as the key's)
        given = reg_row.get("spend_cap_cents") if pd.isna(cap) else float(cap)
        f = forecast_window(since, vals, given, w, cut, tz=tz)
        closed = last_day >= end - dt.timedelta(days=1)  # the window's last day is in the data
        has_cap = not pd.isna(cap) and cap > 0
        spent = float(f.spent_cents)
        out.append(
            {
                "key_id": kid,
                "key_name": reg_row.get("key_name"),
                "account_id": reg_row.get("account_id"),
                "spend_cap_cents": float(cap) if not pd.isna(cap) else np.nan,
                "soft_cap_cents": softs.iloc[i],
                "spend_cents": spent,
                "pct_used": spent / cap * 100 if has_cap else np.nan,
                "requests": req,
                "projected_cents": float(f.projected_cents),
                "projected_cap_date": f.crossing_date if has_cap else None,
                "cap_crossed": bool(f.crossed) if has_cap else False,
                "range_spend_cents": float(scope_spend.get(kid, 0.0)),
                "budget_period": w.period,
                "window_start": first,
                "window_end": end - dt.timedelta(days=1),
                "window_closed": closed,
                "daily_rate_cents": float(f.rate_cents),
                "forecast": f.explanation,
            }
        )
    res = pd.DataFrame(out, columns=COLUMNS)
    if len(res):
        res = res.merge(names, on="key_id", how="left")
        res["key_name"] = res["key_name"].where(res["key_name"].notna(), res.pop("key_name_data"))
        res["account_id"] = res["account_id"].where(res["account_id"].notna(), res.pop("account_id_data"))
    res["requests"] = res["requests"].astype("int64")
    res["spend_cap_cents"] = pd.to_numeric(res["spend_cap_cents"], errors="coerce").astype("float64")
    res["soft_cap_cents"] = pd.to_numeric(res["soft_cap_cents"], errors="coerce").astype("float64")
    res["pct_used"] = pd.to_numeric(res["pct_used"], errors="coerce").astype("float64")
    complete = bool(res["window_closed"].all()) if len(res) else cut >= pd.Timestamp(q.day_start_utc(span[1], tz))
    res.attrs.update(as_of=cut, scope=usage.describe_scope(), complete=complete, range_start=range_start)
    return res[COLUMNS].sort_values(["spend_cents", "key_id"], ascending=[False, True]).reset_index(drop=True)


__all__ = ["key_summary", "project", "cutoff", "parse_as_of", "Projection", "RATE_DAYS", "COLUMNS"]
