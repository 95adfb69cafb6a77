"""The explorer's cube held as numpy arrays, for redraws that cost a few milliseconds.

A filter change in :mod:`usagekit.explorer` asks the same three questions each time: spend per
day and value of the chart's breakdown, spend per key (the cards) and the total. On the query
layer each costs 10-20 ms whatever the cube's size (narwhals expressions, a pandas frame,
reindexing); the cube itself is small (days x dimensions, thousands of rows). :class:`DayCube`
answers them from the cube collected once, with the same numbers as
:class:`~usagekit.usage.Usage` on that cube:

* rows are selected with the query layer's own filters (:func:`usagekit.queries.restrict`),
  evaluated once per filter value and kept as a boolean mask;
* values are labelled by :func:`usagekit.queries.label_expr` (compute and ``(none)`` named as
  the charts name them);
* money is summed in the exact split (whole cents and nano-cents as integers, the float
  remainder apart) and finished as :func:`usagekit.queries.finish_money` finishes it.

>>> cube = DayCube(usage.rollup().cube)                                   # doctest: +SKIP
>>> mask = cube.mask(cube.day(dt.date(2026, 10, 1)), cube.day(dt.date(2026, 11, 1)), providers=["openai"])  # doctest: +SKIP
>>> cube.daily(mask, "model", ...)                                        # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt

import narwhals as nw
import numpy as np
import pandas as pd

from . import queries as q

#: the breakdowns answered here (tags live in a side roll-up: the query layer answers those)
BREAKDOWNS = ("model", "provider", "key", "agent", "team", "user")
#: the filters a mask is made for (the explorer's own)
FILTERS = ("account", "providers", "keys", "models")
#: label columns carrying a display name beside the id
NAMES = {"key": "key_name", "agent": "agent_name"}
_INTS = ("requests", "input_tokens", "output_tokens", "unpriced_rows", "estimated_rows")
#: up to these whole cents and nano-cents in a cell, ``cents * NANO + nano`` stays below 2^53
_EXACT_CENTS, _EXACT_NANO = 2**52 // q.NANO, 2**52


class DayCube:
    """The cube ``frame`` (a narwhals LazyFrame, e.g. :attr:`Usage.cube`) as arrays."""

    def __init__(self, frame: nw.LazyFrame):
        est = nw.col("cost_source") == "estimated"
        zero = nw.lit(0)
        raw = ["_day", "account_id", "provider", "key_id", "key_name", "model", "agent_id", "agent_name", "axis"]
        raw += ["team_id", "user_id"]
        native = (
            frame.select(
                *raw,
                *[q.label_expr(by).alias(f"_by_{by}") for by in BREAKDOWNS],
                *[nw.col(f"_c_{p}").fill_null(0).alias(f"_c_{p}") for p in ("hi", "mid", "lo")],
                *[
                    nw.when(est).then(nw.col(f"_c_{p}")).otherwise(zero).fill_null(0).alias(f"_e_{p}")
                    for p in ("hi", "mid", "lo")
                ],
                nw.col("requests").fill_null(0),
                nw.col("input_tokens").fill_null(0),
                nw.col("output_tokens").fill_null(0),
                nw.col("_unpriced_rows").fill_null(0).alias("unpriced_rows"),
                nw.when(est).then(nw.col("_rows")).otherwise(zero).fill_null(0).alias("estimated_rows"),
                nw.col("hours").fill_null(0.0),
            )
            .collect(backend="polars")
            .to_native()
        )
        self.rows = len(native)
        #: the raw columns the query layer's filters read, with each row's position
        self._filterable = nw.from_native(native.select(raw).with_row_index("_i").lazy())
        self.days = native["_day"].to_numpy().astype(np.int64)
        self.money = {
            f"_{k}_{p}": native[f"_{k}_{p}"].to_numpy().astype(np.float64 if p == "lo" else np.int64)
            for k in ("c", "e")
            for p in ("hi", "mid", "lo")
        }
        self.ints = {c: native[c].to_numpy().astype(np.int64) for c in _INTS}
        self.hours = native["hours"].to_numpy().astype(np.float64)
        self.labels: dict[str, np.ndarray] = {}
        self.codes: dict[str, np.ndarray] = {}
        self.names: dict[str, np.ndarray] = {}
        for by in BREAKDOWNS:
            values = np.array(native[f"_by_{by}"].to_list(), dtype=object)
            # sorted as Python sorts str (the query layer's order of values)
            uniques = np.array(sorted(set(values.tolist())), dtype=object)
            lookup = {v: i for i, v in enumerate(uniques.tolist())}
            self.labels[by] = uniques
            self.codes[by] = np.fromiter((lookup[v] for v in values.tolist()), dtype=np.int64, count=len(values))
            if by in NAMES:
                self.names[by] = np.array(native[NAMES[by]].to_list(), dtype=object)
        self._masks: dict = {}

    # -- selection ------------------------------------------------------------------------
    @staticmethod
    def day(date: dt.date) -> int:
        return q.day_number(date)

    def mask(self, start_day: int, end_day: int, **filters) -> np.ndarray:
        """Rows with ``start_day <= day < end_day`` matching every filter given (``account``,
        ``providers``, ``keys``, ``models``: a list of values, or None for no filter)."""
        keep = (self.days >= start_day) & (self.days < end_day)
        for name, values in filters.items():
            if values is None:
                continue
            if name not in FILTERS:
                raise ValueError(f"no mask for filter '{name}'; expected one of: {', '.join(FILTERS)}")
            keep &= self._filter_mask(name, tuple(values))
        return keep

    def _filter_mask(self, name: str, values: tuple) -> np.ndarray:
        found = self._masks.get((name, values))
        if found is None:
            hit = q.restrict(self._filterable, start_day=None, end_day=None, **{name: list(values)})
            index = hit.select("_i").collect(backend="polars").to_native()["_i"].to_numpy()
            found = np.zeros(self.rows, dtype=bool)
            found[index] = True
            self._masks[(name, values)] = found
        return found

    # -- sums --------------------------------------------------------------------------------
    def _sums(self, rows: np.ndarray, cell: np.ndarray, cells: int) -> dict:
        """Every measure of ``rows`` summed per ``cell`` (0 .. cells-1), integers exactly."""
        order = np.argsort(cell, kind="stable")
        sorted_cells = cell[order]
        take = rows[order]
        starts = np.flatnonzero(np.r_[True, sorted_cells[1:] != sorted_cells[:-1]]) if len(take) else np.array([], int)
        at = sorted_cells[starts]
        out = {}
        for name, col in (*self.money.items(), *self.ints.items(), ("hours", self.hours)):
            full = np.zeros(cells, dtype=col.dtype)
            if len(take):
                full[at] = np.add.reduceat(col[take], starts)
            out[name] = full
        for prefix, name in (("_c", "cost_cents"), ("_e", "estimated_cents")):
            out[name] = _finish(out.pop(f"{prefix}_hi"), out.pop(f"{prefix}_mid"), out.pop(f"{prefix}_lo"))
        return out

    def total(self, mask: np.ndarray) -> dict:
        """``cost_cents`` and ``requests`` of the rows in ``mask`` (as :meth:`Usage.total`)."""
        rows = np.flatnonzero(mask)
        sums = self._sums(rows, np.zeros(len(rows), dtype=np.int64), 1)
        return {"cost_cents": float(sums["cost_cents"][0]), "requests": int(sums["requests"][0])}

    def per_value(self, mask: np.ndarray, by: str) -> pd.DataFrame:
        """One row per ``by`` value the rows in ``mask`` hold (``by``, ``cost_cents``,
        ``requests``), in the order of the values: the rows of :meth:`Usage.breakdown`."""
        rows = np.flatnonzero(mask)
        codes = self.codes[by][rows]
        present = np.unique(codes)
        local = np.searchsorted(present, codes)
        sums = self._sums(rows, local, len(present))
        return pd.DataFrame(
            {
                by: pd.Series(self.labels[by][present], dtype="str"),
                "cost_cents": sums["cost_cents"],
                "requests": sums["requests"],
            }
        )

    def daily(self, mask: np.ndarray, by: str, start_day: int, end_day: int) -> pd.DataFrame:
        """Spend per day of ``[start_day, end_day)`` and ``by`` value of the rows in ``mask``:
        the frame :meth:`Usage.daily` returns (every day for every value present, zeros filled,
        sorted by date then value)."""
        rows = np.flatnonzero(mask)
        codes = self.codes[by][rows]
        present = np.unique(codes)
        width, span = len(present), max(end_day - start_day, 0)
        local = np.searchsorted(present, codes)
        cell = (self.days[rows] - start_day) * width + local
        sums = self._sums(rows, cell, span * width)
        values = self.labels[by][present]
        dates = [q.day_date(d) for d in range(start_day, end_day)]
        out = {
            "date": np.repeat(np.array(dates, dtype=object), width),
            by: pd.Series(np.tile(values, span), dtype="str"),
        }
        if by in NAMES:
            out[f"{by}_name"] = np.tile(self._names(by, rows, local, width), span)
        for c in ("cost_cents", *_INTS[:4]):
            out[c] = sums[c]
        out["estimated_cents"] = sums["estimated_cents"]
        out["estimated_rows"] = sums["estimated_rows"]
        out["hours"] = sums["hours"]
        return pd.DataFrame(out)

    def _names(self, by: str, rows: np.ndarray, local: np.ndarray, width: int) -> np.ndarray:
        """The largest name each value carries among ``rows`` (None when it has none)."""
        best: list = [None] * width
        for i, name in zip(local.tolist(), self.names[by][rows].tolist()):
            if isinstance(name, str) and (best[i] is None or name > best[i]):
                best[i] = name
        return np.array(best, dtype=object)


def _finish(hi: np.ndarray, mid: np.ndarray, lo: np.ndarray) -> np.ndarray:
    """``(hi * NANO + mid) / NANO + lo`` per cell, the integer part divided exactly as
    :func:`usagekit.queries.finish_money` divides it (one rounding)."""
    # below 2^53 the integer part converts to a float exactly, and IEEE division rounds once
    small = (np.abs(hi) <= _EXACT_CENTS) & (np.abs(mid) <= _EXACT_NANO)
    out = (np.where(small, hi, 0) * q.NANO + np.where(small, mid, 0)).astype(np.float64) / q.NANO + lo
    for i in np.flatnonzero(~small).tolist():  # the rest in Python integers, as finish_money does
        out[i] = (int(hi[i]) * q.NANO + int(mid[i])) / q.NANO + float(lo[i])
    return out
