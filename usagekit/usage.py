"""The :class:`Usage` dataset: validated usage rows, the key registry and the load's accounting.

Queries (see :mod:`usagekit.queries`) run on the engine chosen at load time: Polars by
default (measured fastest here, see ``benchmarks/cube.py``), DuckDB, or PySpark for data
that outgrows one machine. Only their small results become pandas frames.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass, replace
from pathlib import Path
from zoneinfo import ZoneInfo

import narwhals as nw
import pandas as pd
import polars as pl

from . import billing
from . import queries as q
from .accounting import LoadReport
from .billing import Freshness, Invoice
from .errors import QueryError, UsagekitError
from .extras import require
from .schema import AXES, BUDGET_COLUMNS, KEY_COLUMNS, USAGE_COLUMNS, empty_budgets
from .store.cube import cube_on_engine, cube_to_polars, derive, side_on_engine

ENGINES = ("polars", "duckdb", "spark")


def to_pandas(df: pl.DataFrame) -> pd.DataFrame:
    """A polars frame as pandas with honest dtypes: nullable Int64 counts, tz-aware UTC times."""
    out = df.to_pandas()
    for col in df.columns:
        if df.schema[col].is_integer():
            out[col] = out[col].astype("Int64")
    return out


def parse_day(value) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, pd.Timestamp):
        return value.date()
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        raise QueryError(f"'{value}' is not a date; write it as YYYY-MM-DD") from None


def month_range(month: str) -> tuple[dt.date, dt.date]:
    """``'2026-10'`` -> (first day, first day of next month)."""
    try:
        y, m = (int(x) for x in str(month).split("-"))
        first = dt.date(y, m, 1)
    except ValueError:
        raise QueryError(f"'{month}' is not a month; write it as YYYY-MM, e.g. 2026-10") from None
    return first, first + dt.timedelta(days=calendar.monthrange(y, m)[1])


@dataclass(frozen=True)
class Scope:
    """What a :class:`Usage` is restricted to: a half-open day range and filters."""

    start: dt.date | None = None  # inclusive
    end: dt.date | None = None  # exclusive
    filters: tuple = ()  # (name, value) pairs, for describing the scope

    def describe(self, tz: str) -> str:
        if self.start is None:
            rng = "all data"
        else:
            rng = f"{self.start:%Y-%m-%d} to {self.end - dt.timedelta(days=1):%Y-%m-%d} ({tz} days)"
        return "; ".join([rng] + [_filter_words(k, v) for k, v in self.filters])


#: filter name -> (singular, plural) as people read it
_FILTER_NOUNS = {
    "account": ("account", "accounts"),
    "providers": ("provider", "providers"),
    "keys": ("key", "keys"),
    "models": ("model", "models"),
    "agents": ("agent", "agents"),
    "axis": ("axis", "axes"),
}


def _filter_words(name: str, value) -> str:
    """``("providers", ["anthropic"])`` -> ``provider anthropic``; long lists are shortened."""
    vals = [value] if isinstance(value, str) else [str(v) for v in value]
    one, many = _FILTER_NOUNS.get(name, (name, name))
    if len(vals) == 1:
        return f"{one} {vals[0]}"
    shown = ", ".join(vals[:3]) + (f" and {len(vals) - 3} more" if len(vals) > 3 else "")
    return f"{len(vals)} {many}: {shown}"


class Usage:
    """Validated usage rows of the normalized table, ready to query.

    Made by :func:`usagekit.load`. Attributes: ``load_report`` (rows read / kept / rejected
    / duplicates per file), ``keys`` (the key registry), ``tz`` (time zone days are
    bucketed in; data itself is UTC), ``engine``.

    >>> usage = usagekit.load("demo/2026-10")                    # doctest: +SKIP
    >>> usage.filter(month="2026-10").daily(by="model").head()   # doctest: +SKIP
    """

    def __init__(
        self,
        rows: pl.LazyFrame,
        registry: pl.DataFrame,
        report: LoadReport,
        rejected: pl.LazyFrame,
        *,
        tz: str = "UTC",
        engine="polars",
        cube: pl.DataFrame | None = None,
        budgets: pl.DataFrame | None = None,
        accounts: pl.DataFrame | None = None,
        engine_rows: nw.LazyFrame | None = None,
    ):
        self._rows = rows  # polars LazyFrame, normalized columns
        self._registry = registry
        self._accounts = accounts  # account names the inputs gave (see usagekit.accounts)
        self._budgets = budgets if budgets is not None else empty_budgets()
        self.load_report = report
        self._rejected = rejected
        self.tz = tz
        self._session = engine if not isinstance(engine, str) else None
        self.engine = engine if isinstance(engine, str) else "spark"
        if self.engine not in ENGINES:
            raise UsagekitError(f"unknown engine '{engine}'; expected one of: {', '.join(ENGINES)} (or a SparkSession)")
        # the rows on the engine (with the derived columns): made on the first per-request query,
        # or given by a load that validated them on the engine itself (Spark)
        self._engine_rows = engine_rows
        self._cube_base = cube_on_engine(cube, self._rows, self.tz, self.engine, lambda: self._base)
        self._sides: dict[tuple[str, ...], nw.LazyFrame] = {}  # end-user / tag roll-ups, made on first use
        self._scope = Scope()

    # -- scope --------------------------------------------------------------------------
    def within(self, scope: Scope) -> "Usage":
        """The same usage restricted to ``scope`` exactly (its range and filters replace the
        current ones; ``Scope()`` is all data, unfiltered). :meth:`filter` builds a scope from
        dates and names; this takes one as it is, e.g. ``usage.scope`` of another view.

        >>> usage.within(Scope(filters=usage.scope.filters)).total()   # doctest: +SKIP
        """
        new = object.__new__(Usage)
        new.__dict__.update(self.__dict__)
        new._scope = scope
        return new

    @property
    def _frame(self) -> nw.LazyFrame:
        """The roll-up in scope that answers queries not broken down by a side dimension."""
        return self._view()

    def _view(self, by: str | None = None) -> nw.LazyFrame:
        """The smallest roll-up that answers a query in scope, broken down ``by`` (a dimension).

        The month cube, unless the scope filters or ``by`` breaks down by end user or tag: then
        their per-day roll-up (:func:`usagekit.queries.side_cube`), both at once from the rows.
        Outside a per-tag breakdown, a tagged request counts once (``_tag_first``).
        """
        filters = {name for name, _ in self._scope.filters}
        by_col = q.dimension(by)[0] if by is not None else None
        sides = tuple(
            side
            for side, f, col in (("end_user", "end_users", "end_user"), ("tags", "tags", "tag"))
            if f in filters or by_col == col
        )
        if not sides:
            return _reapply(self._cube_base, self._scope)
        if sides not in self._sides:
            self._sides[sides] = side_on_engine(sides, self._rows, self.tz, self.engine, lambda: self._base)
        frame = _reapply(self._sides[sides], self._scope)
        if "tags" in sides and by_col != "tag":
            frame = frame.filter(nw.col("_tag_first"))
        return frame

    @property
    def _base(self) -> nw.LazyFrame:
        """All rows on the engine (with the derived columns); per-request queries only."""
        if self._engine_rows is None:
            self._engine_rows = _to_engine(derive(self._rows, self.tz), self.engine, self._session)
        return self._engine_rows

    def filter(
        self,
        start=None,
        end=None,
        account=None,
        providers=None,
        keys=None,
        models=None,
        agents=None,
        axis=None,
        *,
        teams=None,
        users=None,
        end_users=None,
        tags=None,
        month: str | None = None,
    ) -> "Usage":
        """Restrict to a date range and filters; returns a new :class:`Usage`.

        ``start`` and ``end`` are calendar days in the report time zone, both inclusive
        (``end=None`` with a ``start`` means through the end of ``start``'s month). With no
        dates and no ``month``, the range is the current month. ``keys`` and ``agents``
        match ids or names; ``teams``, ``users`` and ``end_users`` match ``team_id``, ``user_id``
        and ``end_user``; ``tags`` keeps requests carrying any of the tags (each counted once).
        Every filter takes one value or a list.

        >>> usage.filter(month="2026-10", teams="team-research", tags=["prod"]).total()  # doctest: +SKIP
        """
        if month is not None:
            s, e = month_range(month)
        elif start is None and end is None:
            s, e = month_range(dt.datetime.now(ZoneInfo(self.tz)).strftime("%Y-%m"))
        else:
            s = parse_day(start) if start is not None else None
            e = parse_day(end) + dt.timedelta(days=1) if end is not None else None
            if s is None:
                s = e.replace(day=1) if e else None
            if e is None:
                e = month_range(f"{s:%Y-%m}")[1]
        if e <= s:
            raise QueryError(f"the range ends ({e - dt.timedelta(days=1)}) before it starts ({s})")
        if axis is not None:
            bad = [a for a in ([axis] if isinstance(axis, str) else axis) if a not in AXES]
            if bad:
                raise QueryError(f"unknown axis '{bad[0]}'; expected one of: {', '.join(AXES)}")
        given = dict(
            account=account,
            providers=providers,
            keys=keys,
            models=models,
            agents=agents,
            axis=axis,
            teams=teams,
            users=users,
            end_users=end_users,
            tags=tags,
        )
        # filters stack on earlier ones, except the range which is replaced
        filters = self._scope.filters + tuple((k, v) for k, v in given.items() if v is not None)
        return self.within(Scope(s, e, filters))

    def over(self, start: dt.date | None, end: dt.date | None) -> "Usage":
        """The same filters over another day range: ``start`` inclusive, ``end`` exclusive
        (days in the report time zone); ``None`` for both means all data.

        >>> usage.filter(keys="k1", month="2026-10").over(None, None).total()   # doctest: +SKIP
        """
        return self.within(Scope(start, end, self._scope.filters))

    @property
    def scope(self) -> Scope:
        return self._scope

    def describe_scope(self) -> str:
        """The range and filters in force, in words (reports print this)."""
        return self._scope.describe(self.tz)

    def day_range(self) -> tuple[int, int]:
        """The scope's days as day numbers (see :func:`usagekit.queries.day_number`), start inclusive,
        end exclusive; without a date range, the span of the data (today alone when there is none)."""
        if self._scope.start is not None:
            return q.day_number(self._scope.start), q.day_number(self._scope.end)
        span = q.to_pandas(self._frame.select(nw.col("_day").min().alias("a"), nw.col("_day").max().alias("b")))
        a, b = span["a"].iloc[0], span["b"].iloc[0]
        if pd.isna(a):
            today = q.day_number(dt.datetime.now(ZoneInfo(self.tz)).date())
            return today, today + 1
        return int(a), int(b) + 1

    # -- the data -------------------------------------------------------------------------
    @property
    def frame(self) -> nw.LazyFrame:
        """The rows in scope as a narwhals LazyFrame on the chosen engine (with ``_day``).

        Per-request work only (the day log, exports): aggregate questions are answered from
        :attr:`cube`, which gives the same numbers from a far smaller table.
        """
        s = self._scope
        base = self._rows_between(q.day_number(s.start), q.day_number(s.end)) if s.start else self._base
        return _reapply(base, s, tz=self.tz)

    def _rows_between(self, start_day: int, end_day: int) -> nw.LazyFrame:
        """The rows of ``[start_day, end_day)`` on the engine. Polars scans them lazily; DuckDB
        and Spark are handed only that range (Polars prunes the scan by time first), so a
        drill-down never copies the whole month into them."""
        if self.engine == "polars" or self._engine_rows is not None:
            return self._base
        lf = self._rows.filter(
            pl.col("ts") >= q.day_start_utc(start_day, self.tz), pl.col("ts") < q.day_start_utc(end_day, self.tz)
        )
        return _to_engine(derive(lf, self.tz), self.engine, self._session)

    @property
    def cube(self) -> nw.LazyFrame:
        """The month cube in scope (see :func:`usagekit.queries.cube`) on the chosen engine."""
        return self._frame

    @property
    def lazy(self) -> pl.LazyFrame:
        """All loaded rows (unscoped) as a polars LazyFrame of the normalized columns."""
        return self._rows

    @property
    def keys(self) -> pd.DataFrame:
        """The key registry (``key_id, key_name, account_id, spend_cap_cents, agent_id, created_at``)."""
        return to_pandas(self._registry.select(KEY_COLUMNS))

    @property
    def account_names(self) -> dict[str, str]:
        """Account id -> display name, for the accounts whose name is known (FOCUS account
        names, the registry's ``account_name``; the registry wins). See :mod:`usagekit.accounts`.

        >>> usage.account_names                     # doctest: +SKIP
        {'acct_7f2c': 'Acme Corp', ...}
        """
        from .accounts import merge

        frame = merge([self._accounts] if self._accounts is not None else [], self._registry)
        return dict(zip(frame["account_id"].to_list(), frame["account_name"].to_list()))

    def with_accounts(self, inputs: list) -> "Usage":
        """The same usage with the account names ``inputs`` gave (frames of
        ``account_id, account_name``; later ones win, the registry's names over all)."""
        from .accounts import merge

        new = self.within(self._scope)
        new._accounts = merge([f for f in inputs if f is not None])
        return new

    @property
    def rejected(self) -> pd.DataFrame:
        """Every row not kept: file, row, field, reason, the raw value, then the parsed columns."""
        return to_pandas(self._rejected.collect())

    def write_rejected(self, path) -> Path:
        """Write :attr:`rejected` as CSV to ``path`` and return the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        rejected = self._rejected.collect()
        rejected.with_columns(
            pl.col(c).list.join(",") for c, t in rejected.schema.items() if isinstance(t, pl.List)
        ).write_csv(path)
        return path

    def to_pandas(self) -> pd.DataFrame:
        """The rows in scope as one pandas frame of the normalized columns (materializes)."""
        if self._scope.start is None and not self._scope.filters and self.engine == "polars":
            return to_pandas(self._rows.collect())
        df = q.to_pandas(self.frame.select(list(USAGE_COLUMNS)))
        for c in ("requests", "input_tokens", "output_tokens", "cached_input_tokens", "reasoning_tokens", "characters"):
            df[c] = pd.to_numeric(df[c], errors="coerce").astype("Int64")
        return df

    def to_engine(self, engine) -> "Usage":
        """The same usage on another engine (``polars``, ``duckdb``, ``spark`` or a SparkSession).

        The cube is rebuilt by the new engine from the rows, so its queries run there end to end.
        """
        new = Usage(
            self._rows,
            self._registry,
            self.load_report,
            self._rejected,
            tz=self.tz,
            engine=engine,
            budgets=self._budgets,
            accounts=self._accounts,
        )
        return new.within(self._scope)

    def before(self, as_of) -> "Usage":
        """The same data without any row at or after ``as_of`` (an ISO time, naive = UTC, or a date
        meaning the end of that day in the report time zone): what a run at that moment saw.

        The cube is rebuilt from the rows kept; ``load_report`` stays the accounting of the
        whole load. ``usagekit report --as-of`` publishes from this.
        """
        from .budgets import parse_as_of

        cut = parse_as_of(as_of, self.tz)
        return self.with_rows(self._rows.filter(pl.col("ts") < cut.to_pydatetime()))

    def with_rows(self, rows: pl.LazyFrame) -> "Usage":
        """The same usage (key registry, budgets, load report, rejected rows, time zone, engine and
        scope) over other rows of the normalized columns; the cube is rebuilt from them.
        :meth:`before` and :func:`usagekit.reprice.reprice` make their results with it.

        >>> usage.with_rows(usage.lazy.filter(pl.col("axis") == "llm")).total()   # doctest: +SKIP
        """
        new = Usage(
            rows,
            self._registry,
            self.load_report,
            self._rejected,
            tz=self.tz,
            engine=self._session or self.engine,
            budgets=self._budgets,
            accounts=self._accounts,
        )
        return new.within(self._scope)

    def rollup(self) -> "Usage":
        """The same usage with its cube held in memory by Polars (whatever the engine).

        Every aggregate query answers from the cube (days x dimensions, thousands of times
        smaller than the rows), so redraws cost milliseconds: the explorer uses this. The
        per-request ``day()`` log still reads the rows.
        """
        cube = cube_to_polars(self._cube_base)
        new = Usage(
            self._rows,
            self._registry,
            self.load_report,
            self._rejected,
            tz=self.tz,
            engine="polars",
            cube=cube,
            budgets=self._budgets,
            accounts=self._accounts,
        )
        return new.within(self._scope)

    def __len__(self) -> int:
        return self.load_report.kept

    def __repr__(self) -> str:
        r = self.load_report
        span = f"{r.first_ts:%Y-%m-%d} .. {r.last_ts:%Y-%m-%d}" if r.first_ts else "no rows"
        return (
            f"<Usage {r.kept:,} rows from {len(r.files)} file(s), {span} UTC; scope: "
            f"{self.describe_scope()}; engine {self.engine}>"
        )

    # -- totals and breakdowns ------------------------------------------------------------
    def total(self) -> dict:
        """Cost (exact continuous cents), requests, rows and unpriced rows in scope."""
        return q.total(self._frame)

    def totals(self) -> dict:
        """:meth:`total` plus the same per axis (compute, llm, voice)."""
        per = self.breakdown("axis")
        by_axis = {a: {"cost_cents": 0.0, "requests": 0, "rows": 0} for a in AXES}
        for row in per.itertuples():
            by_axis[row.axis] = {"cost_cents": row.cost_cents, "requests": int(row.requests), "rows": 0}
        out = self.total()
        out["by_axis"] = by_axis
        return out

    def daily(self, by: str = "model") -> pd.DataFrame:
        """Spend per day and ``by`` (model | provider | key | agent | axis | account | team | user |
        end_user | tag).

        Columns ``date, <by>, cost_cents, requests, input_tokens, output_tokens,
        unpriced_rows`` (plus ``<by>_name`` for key and agent); every day of the range is
        present for every value, with zeros, so stacked bars have no gaps. Rows without the
        dimension (compute has no model) are grouped as ``(none)``. By ``tag``, a request with
        two tags counts once under each (``attrs["counted_per_tag"]``), so a day's tag rows can
        add up to more than its spend.
        """
        start, end = self.day_range()
        res = q.daily(self._view(by), by=by, start_day=start, end_day=end)
        return self._per_tag_note(res, by)

    def breakdown(self, by: str = "model") -> pd.DataFrame:
        """Totals per ``by`` value in scope, largest first, with ``share`` of the total.

        By ``tag``, a request with two tags counts once under each: the tag totals can add up to
        more than the spend, ``share`` is each tag's share of the real total (the shares can add
        up to more than 1), and ``attrs`` says so (``counted_per_tag``, ``total_cents``, ``note``).

        >>> usage.filter(month="2026-10").breakdown("team")  # doctest: +SKIP
        """
        res = q.breakdown(self._view(by), by=by)
        if q.dimension(by)[0] == "tag" and len(res):
            real = self.total()["cost_cents"]
            res["share"] = res["cost_cents"] / real if real else 0.0
        return self._per_tag_note(res, by)

    def _per_tag_note(self, res: pd.DataFrame, by: str) -> pd.DataFrame:
        if q.dimension(by)[0] == "tag":
            res.attrs.update(
                counted_per_tag=True,
                total_cents=self.total()["cost_cents"],
                note="a request with several tags is counted once under each of its tags: "
                "the tag totals can add up to more than the spend",
            )
        return res

    # -- keys -------------------------------------------------------------------------------
    def key_summary(self, as_of=None) -> pd.DataFrame:
        """One row per virtual key: its cap against its budget window at the cut-off.

        The cut-off is ``min(range end, as_of or the data's end)`` (``as_of``: an instant,
        or a date meaning the end of that day; nothing after it is read). Each key's cap,
        ``spend_cents``, ``pct_used``, ``projected_cents`` and ``projected_cap_date`` are of
        its budget window containing the cut-off (the month unless the registry says
        otherwise), across all providers whatever the filters; ``range_spend_cents`` is the
        filtered range's spend, shown beside; ``soft_cap_cents`` is the key's soft budget (an
        alert level, e.g. LiteLLM's ``soft_budget``), if any. See :mod:`usagekit.budgets` for the
        columns. Keys of the registry with no spend are listed with zero.
        """
        from .budgets import key_summary

        return key_summary(self, as_of=as_of)

    # -- team and user budgets ---------------------------------------------------------------
    @property
    def budget_registry(self) -> pd.DataFrame:
        """Team and user budgets as loaded (LiteLLM team and user tables): see
        :data:`usagekit.schema.BUDGET_SCHEMA`."""
        return to_pandas(self._budgets.select(BUDGET_COLUMNS))

    def budgets(self, entity: str = "team", as_of=None) -> pd.DataFrame:
        """Each team's (or user's) budget beside its spend in the budget window containing ``as_of``.

        ``entity`` is ``team`` (spend of ``team_id``), ``user`` (``user_id``) or
        ``organization`` (``account_id``: a LiteLLM organization is an account). Columns
        ``entity_id, name, account_id, budget_period, window_start, window_end, approximate,
        spend_cap_cents, soft_cap_cents, spend_cents, pct_used, remaining_cents,
        reported_spend_cents``. Windows come from :func:`usagekit.periods.budget_window`; spend
        is summed over the local days (in ``tz``) covering the window, so a window that resets
        at another hour is ``approximate``. ``as_of`` defaults to the newest event loaded (an
        export's own "now"). The scope's filters apply; its date range does not (the window
        decides). With an ``account`` filter only that account's budgets are listed (and budgets of
        no account that spent in it). ``reported_spend_cents`` is the gateway's own counter, a
        cross-check.

        >>> usage.budgets("team")[["entity_id", "window_start", "spend_cents", "pct_used"]]  # doctest: +SKIP
        """
        from .periods import budget_window

        columns = {"team": "team_id", "user": "user_id", "organization": "account_id"}
        if entity not in columns:
            raise QueryError(f"unknown budget entity '{entity}'; expected one of: {', '.join(columns)}")
        col = columns[entity]
        reg = self.budget_registry
        reg = reg[reg["entity"] == entity].reset_index(drop=True)
        if as_of is None:
            newest = self.within(Scope()).freshness().newest_event
            as_of = newest if newest is not None else pd.Timestamp.now(tz="UTC")
        windows = [budget_window(row, as_of, self.tz) for row in reg.to_dict("records")]
        out = reg[["entity_id", "name", "account_id", "budget_period"]].copy()
        out["budget_period"] = [w.period for w in windows]
        out["window_start"] = pd.Series([w.start for w in windows], dtype="datetime64[us, UTC]")
        out["window_end"] = pd.Series([w.end for w in windows], dtype="datetime64[us, UTC]")
        out["approximate"] = [w.approximate for w in windows]
        out["spend_cap_cents"] = pd.to_numeric(reg["spend_cap_cents"], errors="coerce")
        out["soft_cap_cents"] = pd.to_numeric(reg["soft_cap_cents"], errors="coerce")
        spend = []
        if windows:
            days = [tuple(q.day_number(d) for d in w.days()) for w in windows]
            lo, hi = min(a for a, _ in days), max(b for _, b in days)
            frame = self.within(Scope(filters=self._scope.filters))._frame
            per = q.to_pandas(
                q.restrict(frame, start_day=lo, end_day=hi)
                .filter(nw.col(col).is_in(list(reg["entity_id"])))
                .group_by(col, "_day")
                .agg(*q.money_aggs())
            )
            for eid, (a, b) in zip(reg["entity_id"], days):
                part = per[(per[col] == eid) & (per["_day"] >= a) & (per["_day"] < b)]
                sums = pd.DataFrame({f"_c_{p}": [pd.to_numeric(part[f"_c_{p}"]).sum()] for p in ("hi", "mid", "lo")})
                spend.append(float(q.finish_money(sums)["cost_cents"].iloc[0]) if len(part) else 0.0)
        out["spend_cents"] = pd.Series(spend, dtype="float64")
        cap = out["spend_cap_cents"]
        out["pct_used"] = (out["spend_cents"] / cap * 100).where(cap > 0)
        out["remaining_cents"] = cap - out["spend_cents"]
        out["reported_spend_cents"] = pd.to_numeric(reg["reported_spend_cents"], errors="coerce")
        accounts = [v for name, v in self._scope.filters if name == "account"]
        if accounts:  # one account's view holds its own budgets only (and unowned ones it spent under)
            vals = {x for v in accounts for x in ([v] if isinstance(v, str) else v)}
            mine = out["account_id"].isin(vals) | (out["account_id"].isna() & (out["spend_cents"] > 0))
            out = out[mine]
        out.attrs.update(entity=entity, as_of=pd.Timestamp(as_of), tz=self.tz)
        return out.sort_values(["spend_cents", "entity_id"], ascending=[False, True]).reset_index(drop=True)

    # -- repricing (optional extra: pip install 'usagekit[prices]') -------------------------------
    def reprice(self, missing_only: bool = True, prices=None) -> "Usage":
        """The same usage with estimated costs from a price map; see :func:`usagekit.reprice.reprice`.

        Unpriced rows (every row the map can price when ``missing_only=False``) get the map's
        per-request cost, labelled ``cost_source='estimated'``; totals then say how much is
        estimated. ``prices``: None = genai-prices, or a LiteLLM price map JSON path.
        ``.reprice_report`` on the result says what was estimated and what stayed unpriced.
        """
        from .reprice import reprice

        return reprice(self, missing_only=missing_only, prices=prices)

    def price_check(self, tolerance: float = 0.02, prices=None) -> pd.DataFrame:
        """Provider x model lines where the source's costs and the price map disagree beyond
        ``tolerance`` (a fraction); see :func:`usagekit.reprice.price_check`."""
        from .reprice import price_check

        return price_check(self, tolerance=tolerance, prices=prices)

    def cache_savings(self, by: str = "key", prices=None) -> pd.DataFrame:
        """What cached input tokens saved per key (or model, provider, account); see
        :func:`usagekit.reprice.cache_savings`."""
        from .reprice import cache_savings

        return cache_savings(self, by=by, prices=prices)

    # -- drill-down -------------------------------------------------------------------------
    def day(self, date, key=None, model=None, page: int = 1, page_size: int = 100) -> pd.DataFrame:
        """That day's requests (in the report time zone), newest first, one page at a time.

        ``df.attrs`` carries ``total_rows``, ``page``, ``pages``.
        """
        day = q.day_number(parse_day(date))
        rows = _reapply(self._rows_between(day, day + 1), self._scope, tz=self.tz)
        return q.day_log(rows, day=day, key=key, model=model, page=page, page_size=page_size, tz=self.tz)

    def day_summary(self, date, key=None, model=None, by: str = "model") -> pd.DataFrame:
        """That day per ``by`` value (default model: ``model, provider, requests, cost_cents,
        rows``; ``by="key"`` gives ``key, key_name, ...``), largest first.

        ``model`` takes one name or a list; ``"(none)"`` selects the rows without a model
        (compute), as the charts name them. The totals of ``day_summary(d, model=[...])``
        are those of the bar segment grouping those models.
        """
        return q.day_summary(self._frame, day=q.day_number(parse_day(date)), key=key, model=model, by=by)

    def day_compute(self, date, key=None) -> pd.DataFrame:
        """That day's compute (rows without a model) per agent or plain VM, with VM hours:
        ``vm, kind, vm_id, hours, cost_cents, requests, rows`` (see :func:`usagekit.queries.day_compute`)."""
        return q.day_compute(self._frame, day=q.day_number(parse_day(date)), key=key)

    # -- API shape, invoice, freshness --------------------------------------------------------
    def api_usage(
        self, month=None, account_id=None, agent_id=None, model=None, voice_model=None, admin: bool = False
    ) -> dict:
        """The ``GET /api/usage`` response for a month, computed from these rows.

        Shape and field names follow the spec (see :mod:`usagekit.sources.api_usage` for the
        daily entries of llm and voice). Without ``admin``, the response covers one account:
        pass ``account_id`` when the data holds several.
        """
        from .api_shape import build_api_usage

        return build_api_usage(
            self,
            month=month,
            account_id=account_id,
            agent_id=agent_id,
            model=model,
            voice_model=voice_model,
            admin=admin,
        )

    def invoice(self, month=None, by_model: bool = False) -> Invoice:
        """Whole-cent invoice lines per account and key (and model), reconciled; see :class:`Invoice`."""
        month = month or (f"{self._scope.start:%Y-%m}" if self._scope.start else None)
        if month is None:
            raise QueryError("invoice() needs a month, e.g. invoice('2026-10')")
        first, after = month_range(month)
        return billing.invoice(self.within(replace(self._scope, start=first, end=after)).cube, month, by_model)

    def freshness(self, now=None) -> Freshness:
        """Newest event in scope, its lag behind ``now`` and whether its day is still going."""
        return billing.freshness(self.cube, self.tz, now=now)

    def summary(self) -> str:
        """A few lines for people: span, totals per axis, keys, accounts."""
        t = self.totals()
        counts = q.to_pandas(
            self._frame.select(
                nw.col("key_id").n_unique().alias("keys"),
                nw.col("account_id").n_unique().alias("accounts"),
                nw.col("model").n_unique().alias("models"),
                nw.col("provider").n_unique().alias("providers"),
            )
        ).iloc[0]
        from .money import format_usd

        lines = [
            repr(self),
            f"total {format_usd(t['cost_cents'])} over {t['requests']:,} requests; "
            f"~{counts['accounts']} accounts, ~{counts['keys']} keys, ~{counts['models']} models, "
            f"~{counts['providers']} providers (counts include 'none')",
        ]
        for axis, v in t["by_axis"].items():
            if v["cost_cents"] or v["requests"]:
                lines.append(
                    f"  {axis:<8} {format_usd(v['cost_cents'], precise=False):>14}  {v['requests']:>12,} requests"
                )
        if t["estimated_rows"]:
            lines.append(
                f"  {format_usd(t['estimated_cents'])} of the total is estimated from a price map "
                f"({t['estimated_rows']:,} rows with cost_source='estimated')"
            )
        if t["unpriced_rows"]:
            lines.append(f"  {t['unpriced_rows']:,} rows are unpriced (usage with no cost): not counted as $0")
        return "\n".join(lines)


def _scoped_registry(reg: pd.DataFrame, scope: Scope, seen: set) -> pd.DataFrame:
    for name, value in scope.filters:
        vals = [value] if isinstance(value, str) else list(value)
        if name == "account":
            reg = reg[reg["account_id"].isin(vals)]
        elif name == "keys":
            reg = reg[reg["key_id"].isin(vals) | reg["key_name"].isin(vals)]
        elif name in ("providers", "models", "axis", "teams", "users", "end_users", "tags"):
            reg = reg[reg["key_id"].isin(seen)]  # the registry cannot say which keys use a provider: the data can
        elif name == "agents":
            reg = reg[reg["agent_id"].isin(vals)]
    return reg


def _reapply(base: nw.LazyFrame, scope: Scope, tz: str | None = None) -> nw.LazyFrame:
    """``base`` (rows or cube) restricted to ``scope``; ``tz`` also bounds ``ts`` (rows only)."""
    frame = q.restrict(
        base,
        start_day=q.day_number(scope.start) if scope.start else None,
        end_day=q.day_number(scope.end) if scope.end else None,
        tz=tz,
    )
    for name, value in scope.filters:
        frame = q.restrict(frame, start_day=None, end_day=None, **{name: value})
    return frame


def _to_engine(rows: pl.LazyFrame, engine: str, session=None) -> nw.LazyFrame:
    if engine == "polars":
        return nw.from_native(rows)
    if engine == "duckdb":
        duckdb = require("duckdb", "duckdb", "the DuckDB engine")
        return nw.from_native(duckdb.from_arrow(rows.collect().to_arrow()))
    from .spark import spark_frame

    return spark_frame(rows, session)


__all__ = ["Usage", "Scope", "Invoice", "Freshness", "to_pandas", "derive", "month_range"]
