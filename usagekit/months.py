"""Which month a view shows by default, and whether a month holds any data.

Scheduled reports keep the previous full month (:func:`usagekit.report.previous_month`).
Interactive views (the explorer, the explore notebook, ``usagekit anomalies``) take the current
month in the report time zone, or the latest month with data when the current one has none,
and say which (:class:`MonthChoice`). A month with no data is an error for a report or a
check (:class:`~usagekit.errors.NoDataError`), never a $0.00 answer.

>>> choice = default_month(usage)              # doctest: +SKIP
>>> print(choice)                              # doctest: +SKIP
2026-10: the latest month with data (the current month, 2026-11 in UTC, has none)
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import narwhals as nw

from . import queries as q
from .errors import NoDataError


@dataclass(frozen=True)
class MonthChoice:
    """A default month and why it was chosen (``reason`` reads after the month)."""

    month: str
    reason: str

    def __str__(self) -> str:
        return f"{self.month}: {self.reason}"


def _span(usage, account=None) -> tuple[dt.date | None, dt.date | None]:
    """First and last local day with data (in the usage's account filter, or ``account``)."""
    from .usage import Scope

    filters = tuple((k, v) for k, v in usage.scope.filters if k == "account")
    if account is not None:
        filters += (("account", account),)
    cube = usage.within(Scope(None, None, filters)).cube
    res = q.to_pandas(cube.select(nw.col("_day").min().alias("a"), nw.col("_day").max().alias("b")))
    a, b = res["a"].iloc[0], res["b"].iloc[0]
    if a is None or a != a:
        return None, None
    return q.day_date(int(a)), q.day_date(int(b))


def has_data(usage, month: str, account=None) -> bool:
    """True when ``month`` (and ``account``) holds at least one usage row."""
    return usage.filter(month=month, account=account).total()["rows"] > 0


def default_month(usage, today: dt.date | None = None) -> MonthChoice:
    """The current month in ``usage.tz``, or the latest month with data when the current one is empty."""
    today = today or dt.datetime.now(ZoneInfo(usage.tz)).date()
    current = f"{today:%Y-%m}"
    if has_data(usage, current):
        return MonthChoice(current, f"the current month in {usage.tz}")
    _, last = _span(usage)
    if last is None:
        return MonthChoice(current, f"the current month in {usage.tz} (there is no data at all)")
    return MonthChoice(
        f"{last:%Y-%m}", f"the latest month with data (the current month, {current} in {usage.tz}, has none)"
    )


def require_data(usage, month: str, account=None) -> None:
    """Raise :class:`NoDataError` naming what the data does span when ``month`` is empty."""
    if has_data(usage, month, account):
        return
    first, last = _span(usage, account)
    who = f" for account {account}" if account else ""
    if first is None:
        raise NoDataError(f"no usage in {month}{who}: the data holds no rows at all; check the source path")
    raise NoDataError(
        f"no usage in {month}{who}: the data spans {first} to {last} ({usage.tz} days); "
        f"pick a month in that span, e.g. --month {last:%Y-%m}"
    )


__all__ = ["MonthChoice", "default_month", "has_data", "require_data"]
