"""Billing answers over the month cube: whole-cent invoice lines and how current the data is.

:class:`~usagekit.usage.Usage` keeps the query API and hands these to the functions here
(``usage.invoice(...)``, ``usage.freshness()``); key caps against budget windows live in
:mod:`usagekit.budgets`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import narwhals as nw
import pandas as pd

from . import queries as q
from .money import invoice_cents


@dataclass
class Freshness:
    """How current the data is: the spend shown can lag live usage by a couple of minutes."""

    newest_event: pd.Timestamp | None
    as_of: pd.Timestamp
    lag: pd.Timedelta | None
    last_day: dt.date | None
    last_day_partial: bool
    tz: str

    def __str__(self) -> str:
        if self.newest_event is None:
            return "no data"
        part = " (partial: the day is not over)" if self.last_day_partial else ""
        return (
            f"data up to {self.newest_event:%Y-%m-%d %H:%M:%S} UTC, {_human(self.lag)} before "
            f"{self.as_of:%Y-%m-%d %H:%M} UTC; last day {self.last_day}{part}; days in {self.tz}. "
            "Aggregated spend can trail live usage by about two minutes."
        )


def _human(td: pd.Timedelta | None) -> str:
    if td is None:
        return "?"
    s = td.total_seconds()
    if s < 120:
        return f"{s:.0f} s"
    if s < 7200:
        return f"{s / 60:.0f} min"
    if s < 172800:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.1f} days"


@dataclass
class Invoice:
    """Whole-cent invoice lines and their reconciliation with the continuous total.

    Rule: each line's exact continuous total is rounded half up to whole cents; the
    difference between the sum of rounded lines and the rounded continuous total is shown
    in ``rounding_difference_cents``, never spread or hidden.
    """

    month: str
    lines: pd.DataFrame
    continuous_total_cents: float
    billed_total_cents: int  # sum of the rounded lines
    rounding_difference_cents: float  # billed - continuous
    unpriced_rows: int
    estimated_cents: float = 0.0  # the part of the amounts estimated from a price map (cost_source='estimated')
    rule: str = "each line's continuous total rounded half up to a whole cent"


def invoice(cube: nw.LazyFrame, month: str, by_model: bool = False) -> Invoice:
    """Whole-cent invoice lines per account and key (and model) of ``cube`` (the month cube, or
    rows with the derived columns, already restricted to ``month`` and any filters), reconciled
    with its continuous total; see :class:`Invoice`.

    >>> invoice(usage.filter(month="2026-10").cube, "2026-10").billed_total_cents  # doctest: +SKIP
    """
    keys = [
        nw.col("account_id").fill_null(q.NONE_LABEL).alias("account_id"),
        nw.col("key_id").fill_null(q.NONE_LABEL).alias("key_id"),
    ]
    if by_model:
        keys.append(nw.col("model").fill_null(q.NONE_LABEL).alias("model"))
    res = q.finish_money(
        q.to_pandas(
            cube.group_by(*keys).agg(
                nw.col("key_name").max().alias("key_name"),
                *q.money_aggs(),
                *q.estimated_aggs(),
                nw.col("requests").sum().alias("requests"),
                nw.col("cost_cents").is_null().cast(nw.Int64).sum().alias("unpriced_rows"),
            )
        )
    )
    res = q.finish_money(res, out="estimated_cents", prefix="_e")
    res = q._ints(res, ["requests", "unpriced_rows", "estimated_rows"])
    res["amount_cents"] = [invoice_cents(c) for c in res["cost_cents"]]
    order = ["account_id", "key_id"] + (["model"] if by_model else [])
    res = res.sort_values(order).reset_index(drop=True)
    cols = (
        order[:2]
        + ["key_name"]
        + order[2:]
        + ["requests", "cost_cents", "amount_cents", "unpriced_rows", "estimated_cents"]
    )
    continuous = q.total(cube)["cost_cents"]
    billed = int(res["amount_cents"].sum())
    return Invoice(
        month=month,
        lines=res[cols],
        continuous_total_cents=continuous,
        billed_total_cents=billed,
        rounding_difference_cents=billed - continuous,
        unpriced_rows=int(res["unpriced_rows"].sum()),
        estimated_cents=float(res["estimated_cents"].sum()),
    )


def freshness(cube: nw.LazyFrame, tz: str, now=None) -> Freshness:
    """The newest event of ``cube`` (the month cube in scope), its lag behind ``now`` and whether
    its day (in ``tz``) is still going."""
    now = pd.Timestamp(now if now is not None else pd.Timestamp.now(tz="UTC"))
    now = now.tz_localize("UTC") if now.tzinfo is None else now.tz_convert("UTC")
    res = q.to_pandas(cube.select(nw.col("_ts_max").max().alias("newest")))
    newest = res["newest"].iloc[0]
    if pd.isna(newest):
        return Freshness(None, now, None, None, False, tz)
    newest = pd.Timestamp(newest)
    newest = newest.tz_localize("UTC") if newest.tzinfo is None else newest.tz_convert("UTC")
    last_day = newest.tz_convert(tz).date()
    day_end = pd.Timestamp(dt.datetime.combine(last_day + dt.timedelta(days=1), dt.time(), ZoneInfo(tz))).tz_convert(
        "UTC"
    )
    return Freshness(newest, now, now - newest, last_day, bool(now < day_end), tz)


__all__ = ["Invoice", "Freshness", "invoice", "freshness"]
