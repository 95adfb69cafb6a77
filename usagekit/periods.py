"""Budget periods: which window of spend a key's cap applies to at a given moment.

Gateways reset caps on a period: LiteLLM's ``budget_duration`` (``1d``, ``7d``, ``30d``,
``1mo``, also ``24h``, ``1w``...) with ``budget_reset_at`` (the next reset instant),
OpenRouter's ``limit_reset`` (``daily``/``weekly``/``monthly``). :func:`budget_window` is the
one place that turns a key's registry row and a cut-off into the half-open window
``[start, end)`` that key summaries, cap forecasts and cap findings all use.

Rules, for a key row with ``budget_period`` (default ``1mo``) and optional
``budget_reset_at`` (any reset instant: past or next) and ``created_at``:

* with a reset instant, windows are that instant plus whole periods (months for ``1mo``);
* without one, ``1mo`` is the calendar month and ``1d`` the calendar day in the report time
  zone, ``7d`` the week starting Monday, and other day counts run from ``created_at``
  (or from the first day of the month of the cut-off when the key has no creation time);
* ``approximate`` is true when the window's edges are not midnights in the report time zone:
  daily totals then cover whole local days around the window (see :meth:`BudgetWindow.days`).

>>> import pandas as pd
>>> w = budget_window({"budget_period": "7d", "budget_reset_at": "2026-10-19T00:00:00Z"},
...                   pd.Timestamp("2026-10-15T08:00Z"))
>>> w.start.date(), w.end.date(), w.period
(datetime.date(2026, 10, 12), datetime.date(2026, 10, 19), '7d')
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from .errors import QueryError

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_WORDS = {"daily": "1d", "day": "1d", "weekly": "7d", "week": "7d", "monthly": "1mo", "month": "1mo", "30d": "30d"}


def parse_period(text) -> str:
    """Normalise a budget period: ``'1mo'``, or ``'<n>d'`` / ``'<n>h'`` etc. (``None`` -> ``'1mo'``).

    >>> parse_period("monthly"), parse_period("24h"), parse_period("1w"), parse_period(None)
    ('1mo', '24h', '7d', '1mo')
    """
    if text is None or (isinstance(text, float) and math.isnan(text)) or str(text).strip() == "":
        return "1mo"
    t = str(text).strip().lower()
    t = _WORDS.get(t, t)
    m = re.fullmatch(r"(\d+)\s*(mo|month|months|s|m|h|d|w)", t)
    if not m or int(m.group(1)) == 0:
        raise QueryError(f"budget period '{text}' is not understood; write e.g. 1d, 7d, 30d or 1mo")
    n, unit = int(m.group(1)), m.group(2)
    if unit in ("mo", "month", "months"):
        return f"{n}mo"
    if unit == "w":
        return f"{7 * n}d"
    return f"{n}{unit}"


def _step(period: str) -> pd.DateOffset | pd.Timedelta:
    m = re.fullmatch(r"(\d+)(mo|s|m|h|d)", period)
    n, unit = int(m.group(1)), m.group(2)
    if unit == "mo":
        return pd.DateOffset(months=n)
    return pd.Timedelta(**{_UNITS[unit]: n})


def _ts(value, tz: str = "UTC") -> pd.Timestamp | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    try:
        t = pd.Timestamp(value)
    except (ValueError, TypeError):
        return None
    if t is pd.NaT:
        return None
    return t.tz_localize(tz) if t.tzinfo is None else t


def _get(key, name):
    if key is None:
        return None
    if isinstance(key, Mapping):
        return key.get(name)
    if isinstance(key, pd.Series):
        return key.get(name)
    return getattr(key, name, None)


@dataclass(frozen=True)
class BudgetWindow:
    """The half-open window ``[start, end)`` (UTC instants) a key's cap applies to."""

    start: pd.Timestamp
    end: pd.Timestamp
    period: str
    tz: str = "UTC"

    @property
    def approximate(self) -> bool:
        """True when an edge is not a local midnight: day totals only approximate the window."""
        return any(t.tz_convert(self.tz) != t.tz_convert(self.tz).normalize() for t in (self.start, self.end))

    def days(self) -> tuple[dt.date, dt.date]:
        """The local days ``[first, end)`` that cover the window (a partial day counts whole)."""
        first = self.start.tz_convert(self.tz).date()
        last_instant = self.end.tz_convert(self.tz)
        end = (
            last_instant.date()
            if last_instant == last_instant.normalize()
            else (last_instant.date() + dt.timedelta(days=1))
        )
        return first, end

    def __str__(self) -> str:
        a, b = self.days()
        approx = (
            " (approximate: resets at " + f"{self.start.tz_convert(self.tz):%H:%M} {self.tz})"
            if self.approximate
            else ""
        )
        return f"{self.period} budget {a:%Y-%m-%d} to {b - dt.timedelta(days=1):%Y-%m-%d}{approx}"


def budget_window(key, as_of, tz: str = "UTC") -> BudgetWindow:
    """The budget window of ``key`` (a registry row: mapping, Series or record) containing ``as_of``.

    ``as_of`` is an instant (naive = UTC) or a date (its end: the window containing the last
    moment of that day in ``tz``). Returns a :class:`BudgetWindow`.
    """
    period = parse_period(_get(key, "budget_period"))
    if isinstance(as_of, dt.date) and not isinstance(as_of, dt.datetime):
        now = pd.Timestamp(as_of).tz_localize(tz) + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)
    else:
        now = _ts(as_of)
        if now is None:
            raise QueryError(f"'{as_of}' is not a time; write it as ISO 8601, e.g. 2026-10-15T00:00:00Z")
    now = now.tz_convert("UTC")
    step = _step(period)
    anchor = _ts(_get(key, "budget_reset_at"))
    local = now.tz_convert(tz)
    if anchor is None:
        if period.endswith("mo"):
            anchor = local.normalize().replace(day=1)
        elif period == "1d":
            anchor = local.normalize()
        elif period == "7d":
            anchor = local.normalize() - pd.Timedelta(days=local.weekday())
        else:
            anchor = _ts(_get(key, "created_at")) or local.normalize().replace(day=1)
    anchor = anchor.tz_convert("UTC")
    start = anchor
    if isinstance(step, pd.Timedelta):
        k = math.floor((now - anchor) / step)
        start = anchor + k * step
    else:  # calendar months: walk from the anchor (few steps in practice)
        while start > now:
            start = (start.tz_convert(tz) - step).tz_convert("UTC")
        while (start.tz_convert(tz) + step).tz_convert("UTC") <= now:
            start = (start.tz_convert(tz) + step).tz_convert("UTC")
    end = start + step if isinstance(step, pd.Timedelta) else (start.tz_convert(tz) + step).tz_convert("UTC")
    return BudgetWindow(start=start, end=end, period=period, tz=tz)


def window_inputs(key) -> tuple:
    """What :func:`budget_window` reads of ``key``: keys with equal inputs have the same window at any
    instant, so a registry's windows can be computed once per distinct inputs (the creation time
    counts only for the day counts that run from it).

    >>> window_inputs({"budget_period": "monthly", "created_at": "2026-01-05"}) == window_inputs({})
    True
    """
    period = parse_period(_get(key, "budget_period"))
    reset = _get(key, "budget_reset_at")
    reset = None if reset is None or reset is pd.NaT or (isinstance(reset, float) and math.isnan(reset)) else reset
    if isinstance(reset, dt.datetime) or (reset is None and (period.endswith("mo") or period in ("1d", "7d"))):
        return period, reset
    return period, reset, _get(key, "created_at")


def budget_windows(registry: pd.DataFrame, as_of, tz: str = "UTC", id_col: str = "key_id") -> pd.DataFrame:
    """:func:`budget_window` for every row of a registry (keys, or the team/user budgets).

    Returns one row per registry row: ``id_col``, ``budget_period``, ``window_start``,
    ``window_end`` (UTC), ``first_day``, ``end_day`` (the local days ``[first, end)`` covering
    the window) and ``approximate``.

    >>> keys = pd.DataFrame({"key_id": ["a", "b"], "budget_period": ["1d", None],
    ...                      "budget_reset_at": [pd.Timestamp("2026-10-02T06:00Z"), None]})
    >>> budget_windows(keys, "2026-10-15T08:00:00Z")[["key_id", "budget_period", "approximate"]].values.tolist()
    [['a', '1d', True], ['b', '1mo', False]]
    """
    rows = []
    for rec in registry.to_dict("records"):
        w = budget_window(rec, as_of, tz)
        first, end = w.days()
        rows.append(
            {
                id_col: rec.get(id_col),
                "budget_period": w.period,
                "window_start": w.start,
                "window_end": w.end,
                "first_day": first,
                "end_day": end,
                "approximate": w.approximate,
            }
        )
    out = pd.DataFrame(
        rows, columns=[id_col, "budget_period", "window_start", "window_end", "first_day", "end_day", "approximate"]
    )
    for c in ("window_start", "window_end"):
        out[c] = pd.to_datetime(out[c], utc=True)
    return out


__all__ = ["BudgetWindow", "budget_window", "budget_windows", "parse_period", "window_inputs"]
