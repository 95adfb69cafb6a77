"""Queries over the normalized table, written once on narwhals' lazy API.

Every function here takes a narwhals ``LazyFrame`` (any engine: Polars, DuckDB, PySpark)
of either usage rows or the **month cube** :func:`cube` makes of them: one row per day and
combination of the dimensions, with summed measures. Both carry the same columns, so every
query gives the same numbers on either; :class:`~usagekit.usage.Usage` answers aggregate
questions from the cube (built once, at load, in the same pass that validates the rows) and
only the per-request log from the rows. The derived columns, added once at the edge:

``_day``
    the event's calendar day in the report time zone, as days since 1970-01-01 (an
    integer: bucketing on it is several times cheaper than truncating tz-aware times)
``_c_hi``, ``_c_mid``, ``_c_lo``
    ``cost_cents`` split into whole cents and whole nano-cents below the cent (both int64,
    summed exactly) and the float remainder (below 5e-10 cents), so a sum of 100M sub-cent
    costs stays exact to far better than 1e-6 cent on engines whose float ``sum`` is not
    compensated, and no sum can wrap: a row holds at most
    :data:`~usagekit.money.MAX_COST_CENTS` and a load at most
    :data:`~usagekit.money.MAX_TOTAL_CENTS`, so the whole-cent sum stays below 2^63 and the
    nano-cent sum (under 10^9 per row) would need 9 billion rows to wrap.
``_rows``, ``_unpriced_rows``
    rows summarized (1 per request row) and how many of them have no cost
``_ts_min``, ``_ts_max``
    the earliest and latest event time summarized

Results come back as small pandas frames; nothing here materializes the rows.
"""

from __future__ import annotations

import datetime as dt

import narwhals as nw
import pandas as pd

from .errors import QueryError

NANO = 1_000_000_000
NONE_LABEL = "(none)"
#: what compute rows (VM time: no model, provider or key) are called in a breakdown by that dimension
COMPUTE_LABELS = {
    "model": "compute (VM hours)",
    "provider": "compute (VM hours)",
    "agent": "plain VMs (VM hours)",
    "key": "compute (no key)",
}
COMPUTE_LABEL = COMPUTE_LABELS["model"]
#: names that stand for a group, not a value of the column (filters and drill-downs treat them specially)
OTHER_LABEL = "Other"
EPOCH = dt.date(1970, 1, 1)

#: breakdown name -> (id column, label column or None)
DIMENSIONS: dict[str, tuple[str, str | None]] = {
    "model": ("model", None),
    "provider": ("provider", None),
    "key": ("key_id", "key_name"),
    "agent": ("agent_id", "agent_name"),
    "axis": ("axis", None),
    "account": ("account_id", None),
    "team": ("team_id", None),
    "user": ("user_id", None),
    "end_user": ("end_user", None),
    "tag": ("tag", None),
}
#: breakdowns answered by a side roll-up (see :func:`side_cube`), not the month cube
SIDE_BY = {"end_user": "end_user", "tag": "tags"}
#: separates the tags in ``_tagset`` (and starts and ends it), so ``"|a|"`` finds tag ``a`` only
TAG_SEP = "\x1f"


def day_number(day: dt.date) -> int:
    return (day - EPOCH).days


def day_date(n: int) -> dt.date:
    return EPOCH + dt.timedelta(days=int(n))


def day_start_utc(n: int, tz: str) -> dt.datetime:
    """Midnight starting local day ``n`` in ``tz``, as an aware UTC datetime. The day after
    9999-12-31 (the end of a range holding the last representable day, which a timestamp may
    reach) is the last representable instant."""
    from zoneinfo import ZoneInfo

    if n > day_number(dt.date.max):
        return dt.datetime.max.replace(tzinfo=dt.timezone.utc)
    try:
        return dt.datetime.combine(day_date(n), dt.time(), ZoneInfo(tz)).astimezone(dt.timezone.utc)
    except OverflowError:  # a midnight whose UTC form falls in the year 10000
        return dt.datetime.max.replace(tzinfo=dt.timezone.utc)


def label_expr(by: str):
    """The ``by`` value of a row as a narwhals expression: the column, with compute rows that
    lack it named for what they are (:data:`COMPUTE_LABELS`) and other missing values ``(none)``."""
    col, _ = dimension(by)
    value = nw.col(col)
    compute = COMPUTE_LABELS.get(by[:-3] if by.endswith("_id") else by)
    if compute is None:
        return value.fill_null(NONE_LABEL).alias(by)
    return (
        nw.when(value.is_null() & (nw.col("axis") == "compute"))
        .then(nw.lit(compute))
        .otherwise(value.fill_null(NONE_LABEL))
        .alias(by)
    )


def _value_filter(col: str, values: list, compute_label: str | None):
    """``col`` is one of ``values``; the compute label matches compute rows without ``col``, and
    ``(none)`` matches the other rows without it (so a drill-down into either is that segment)."""
    plain = [v for v in values if v not in (NONE_LABEL, compute_label)]
    pred = nw.col(col).is_in(plain) if plain else None
    extra = []
    if compute_label is not None and compute_label in values:
        extra.append(nw.col(col).is_null() & (nw.col("axis") == "compute"))
    if NONE_LABEL in values:
        extra.append(
            nw.col(col).is_null() & ((nw.col("axis") != "compute") | nw.col("axis").is_null())
            if compute_label
            else nw.col(col).is_null()
        )
    for e in extra:
        pred = e if pred is None else (pred | e)
    return pred if pred is not None else nw.col(col).is_in([])


def dimension(by: str) -> tuple[str, str | None]:
    key = by[:-3] if by.endswith("_id") else by
    key = {"tags": "tag", "end_users": "end_user", "teams": "team", "users": "user"}.get(key, key)
    if key not in DIMENSIONS:
        raise QueryError(f"unknown breakdown '{by}'; expected one of: {', '.join(DIMENSIONS)}")
    return DIMENSIONS[key]


#: the cube's dimensions: every filter and breakdown of the query layer is one of these
CUBE_DIMS = [
    "_day",
    "account_id",
    "key_id",
    "key_name",
    "agent_id",
    "agent_name",
    "plain_vm_id",
    "plain_vm_name",
    "team_id",
    "user_id",
    "axis",
    "provider",
    "model",
    "state",
    "status",
    "cost_source",
    "source",
    "_unpriced",
]
#: summed measures (besides the exact money columns ``_c_hi`` and ``_c_lo``)
CUBE_SUMS = [
    "requests",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "reasoning_tokens",
    "characters",
    "hours",
    "_rows",
    "_unpriced_rows",
]


def cube(frame: nw.LazyFrame, extra: tuple[str, ...] = ()) -> nw.LazyFrame:
    """The month cube: ``frame`` (rows, or a cube to re-aggregate) summed per day and dimension.

    ``_unpriced`` is a dimension, so a cube row is either fully priced or fully unpriced and
    its ``cost_cents`` is null exactly when its rows had no cost. Thousands of times smaller
    than the rows on a busy gateway (days x keys x models x agents), and every aggregate
    query gives the same numbers on it.
    """
    return (
        frame.group_by(*CUBE_DIMS, *extra, drop_null_keys=False)
        .agg(
            *money_aggs(),
            *[nw.col(c).sum().alias(c) for c in CUBE_SUMS],
            nw.col("_ts_min").min().alias("_ts_min"),
            nw.col("_ts_max").max().alias("_ts_max"),
        )
        .with_columns(
            nw.when(nw.col("_unpriced"))
            .then(None)
            .otherwise(nw.col("_c_hi").cast(nw.Float64) + nw.col("_c_mid").cast(nw.Float64) / NANO + nw.col("_c_lo"))
            .alias("cost_cents")
        )
    )


def side_cube(frame: nw.LazyFrame, sides: tuple[str, ...]) -> nw.LazyFrame:
    """A per-day roll-up for dimensions kept out of the month cube (``sides``: ``end_user`` and/or ``tags``).

    ``end_user``: the cube's dimensions plus ``end_user`` (as many rows as the day's distinct
    end users per key and model, so it stays apart from the small main cube).
    ``tags``: the cube's dimensions plus the request's tag set ``_tagset`` and one row per
    tag (``tag``; null for an untagged request). ``_tag_first`` marks one row per request,
    so totals that are not per tag count a request once; per-tag totals count a request
    with two tags once under each. ``frame`` is rows (with ``tags`` and ``_tagset``).
    """
    unknown = [s for s in sides if s not in SIDE_BY.values()]
    if unknown or not sides:
        raise QueryError(f"no side roll-up for '{unknown[0] if unknown else ''}'; expected end_user or tags")
    extra: tuple[str, ...] = ("end_user",) if "end_user" in sides else ()
    if "tags" not in sides:
        return cube(frame, extra)
    names = frame.collect_schema().names()
    if "tag" not in names:  # rows: one per tag
        frame = (
            frame.with_columns(nw.col("tags").list.get(0).alias("_tag0"), nw.col("tags").alias("tag"))
            .drop("tags")
            .explode("tag")
            .with_columns((nw.col("tag").is_null() | (nw.col("tag") == nw.col("_tag0"))).alias("_tag_first"))
            .drop("_tag0")
        )
    return cube(frame, (*extra, "_tagset", "tag", "_tag_first"))


def money_aggs(prefix: str = "") -> list:
    """Aggregations whose results :func:`finish_money` turns into exact ``cost_cents``."""
    return [
        nw.col("_c_hi").sum().alias(f"{prefix}_c_hi"),
        nw.col("_c_mid").sum().alias(f"{prefix}_c_mid"),
        nw.col("_c_lo").sum().alias(f"{prefix}_c_lo"),
    ]


def estimated_aggs() -> list:
    """The part of the money from repriced rows (``cost_source == 'estimated'``): give
    ``_e_c_*`` parts (:func:`finish_money` with ``prefix='_e'``) and ``estimated_rows``."""
    est = nw.col("cost_source") == "estimated"
    parts = [
        nw.when(est).then(nw.col(f"_c_{p}")).otherwise(nw.lit(0)).sum().alias(f"_e_c_{p}") for p in ("hi", "mid", "lo")
    ]
    return parts + [nw.when(est).then(nw.col("_rows")).otherwise(nw.lit(0)).sum().alias("estimated_rows")]


def finish_money(df: pd.DataFrame, out: str = "cost_cents", prefix: str = "") -> pd.DataFrame:
    """Turn the summed money parts of :func:`money_aggs` into one exact ``cost_cents`` column."""
    parts = [pd.to_numeric(df.pop(f"{prefix}_c_{p}"), errors="coerce") for p in ("hi", "mid", "lo")]
    hi, mid = (p.fillna(0).astype("int64") for p in parts[:2])
    lo = parts[2].fillna(0.0).astype("float64")
    # the integer parts combined exactly in Python ints, then one rounding to float
    df[out] = [(int(h) * NANO + int(m)) / NANO + float(l) for h, m, l in zip(hi, mid, lo)]
    return df


def to_pandas(frame: nw.LazyFrame) -> pd.DataFrame:
    native = frame.collect()
    try:
        return native.to_pandas()
    except Exception:  # noqa: BLE001 - a backend without a direct route
        return frame.collect(backend="pandas").to_native()


def _ints(df: pd.DataFrame, cols) -> pd.DataFrame:
    for c in cols:
        if c in df:
            df[c] = pd.to_numeric(df[c], errors="coerce").fillna(0).astype("int64")
    return df


# -- filters ------------------------------------------------------------------------------


def restrict(
    frame: nw.LazyFrame,
    *,
    start_day: int | None,
    end_day: int | None,
    account=None,
    providers=None,
    keys=None,
    models=None,
    agents=None,
    axis=None,
    teams=None,
    users=None,
    end_users=None,
    tags=None,
    tz: str | None = None,
) -> nw.LazyFrame:
    """Rows with ``start_day <= _day < end_day`` matching every given filter.

    With ``tz`` (the zone ``_day`` is counted in) the range is also stated on ``ts`` in
    UTC: redundant, but an engine can push it into the file scan and skip whole row
    groups (the per-request drill-down reads one day, not the month).
    """
    preds = []
    if start_day is not None:
        preds.append(nw.col("_day") >= start_day)
        if tz is not None:
            preds.append(nw.col("ts") >= day_start_utc(start_day, tz))
    if end_day is not None:
        preds.append(nw.col("_day") < end_day)
        if tz is not None:
            preds.append(nw.col("ts") < day_start_utc(end_day, tz))

    def many(col, value):
        vals = [value] if isinstance(value, str) else list(value)
        return nw.col(col).is_in(vals)

    if account is not None:
        preds.append(many("account_id", account))
    if providers is not None:
        vals = [providers] if isinstance(providers, str) else list(providers)
        vals = [p if p in (NONE_LABEL, COMPUTE_LABELS["provider"]) else p.lower() for p in vals]
        preds.append(_value_filter("provider", vals, COMPUTE_LABELS["provider"]))
    if keys is not None:
        vals = [keys] if isinstance(keys, str) else list(keys)
        pred = nw.col("key_id").is_in(vals) | nw.col("key_name").is_in(vals)
        special = [v for v in vals if v in (NONE_LABEL, COMPUTE_LABELS["key"])]
        preds.append(pred | _value_filter("key_id", special, COMPUTE_LABELS["key"]) if special else pred)
    if models is not None:
        preds.append(
            _value_filter("model", [models] if isinstance(models, str) else list(models), COMPUTE_LABELS["model"])
        )
    if agents is not None:
        vals = [agents] if isinstance(agents, str) else list(agents)
        pred = nw.col("agent_id").is_in(vals) | nw.col("agent_name").is_in(vals)
        special = [v for v in vals if v in (NONE_LABEL, COMPUTE_LABELS["agent"])]
        preds.append(pred | _value_filter("agent_id", special, COMPUTE_LABELS["agent"]) if special else pred)
    if axis is not None:
        preds.append(many("axis", axis))
    # "(none)" is the rows without a team (user), as a breakdown names them: a drill-down into that bar
    if teams is not None:
        preds.append(_value_filter("team_id", [teams] if isinstance(teams, str) else list(teams), None))
    if users is not None:
        preds.append(_value_filter("user_id", [users] if isinstance(users, str) else list(users), None))
    if end_users is not None:
        preds.append(many("end_user", end_users))
    if tags is not None:  # a request carrying any of the tags (``_tagset``: see side_cube)
        vals = [tags] if isinstance(tags, str) else list(tags)
        hits = [
            nw.col("_tagset").is_null()
            if t == NONE_LABEL  # untagged requests, as the tag breakdown names them
            else nw.col("_tagset").str.contains(f"{TAG_SEP}{t}{TAG_SEP}", literal=True)
            for t in vals
        ]
        preds.append(nw.any_horizontal(*hits, ignore_nulls=True).fill_null(False) if hits else nw.lit(False))
    return frame.filter(*preds) if preds else frame


# -- breakdowns ---------------------------------------------------------------------------

#: the most (day, value) cells a daily table is filled to (a century of days for 50 values)
MAX_DAILY_CELLS = 2_000_000


def daily(frame: nw.LazyFrame, *, by: str, start_day: int, end_day: int) -> pd.DataFrame:
    """Spend per day and ``by`` value; every (day, value) pair of the range is present."""
    col, label = dimension(by)
    keys = [label_expr(by)]
    aggs = [
        *money_aggs(),
        *estimated_aggs(),
        nw.col("requests").sum().alias("requests"),
        nw.col("input_tokens").sum().alias("input_tokens"),
        nw.col("output_tokens").sum().alias("output_tokens"),
        nw.col("_unpriced_rows").sum().alias("unpriced_rows"),
        nw.col("hours").sum().alias("hours"),
    ]
    if label:
        aggs.append(nw.col(label).max().alias(f"{by}_name"))
    res = to_pandas(frame.group_by("_day", *keys).agg(*aggs))
    res = finish_money(finish_money(res), out="estimated_cents", prefix="_e")
    days = range(start_day, end_day)
    values = sorted(res[by].astype(str).unique()) if len(res) else []
    if len(days) * max(1, len(values)) > MAX_DAILY_CELLS:
        raise QueryError(
            f"a daily table from {day_date(start_day)} to {day_date(end_day - 1)} by {by} would have "
            f"{len(days):,} days x {len(values):,} values; filter to a range first, e.g. "
            "usage.filter(month='2026-10').daily() (a timestamp far in the past or future stretches "
            "the span: usage.load_report shows it)"
        )
    grid = pd.MultiIndex.from_product([list(days), values], names=["_day", by])
    res = res.set_index(["_day", by])
    names = res[f"{by}_name"].groupby(level=by).max() if label and len(res) else None
    res = res.reindex(grid)
    res = _ints(res.reset_index(), ["requests", "input_tokens", "output_tokens", "unpriced_rows", "estimated_rows"])
    res["cost_cents"] = res["cost_cents"].fillna(0.0)
    res["estimated_cents"] = res["estimated_cents"].fillna(0.0)
    res["hours"] = pd.to_numeric(res["hours"], errors="coerce").fillna(0.0).astype("float64")
    if label:
        res[f"{by}_name"] = res[by].map(names) if names is not None else None
    res.insert(0, "date", [day_date(d) for d in res.pop("_day")])
    cols = (
        ["date", by]
        + ([f"{by}_name"] if label else [])
        + [
            "cost_cents",
            "requests",
            "input_tokens",
            "output_tokens",
            "unpriced_rows",
            "estimated_cents",
            "estimated_rows",
            "hours",
        ]
    )
    return res[cols].sort_values(["date", by], kind="stable").reset_index(drop=True)


def breakdown(frame: nw.LazyFrame, *, by: str) -> pd.DataFrame:
    """Totals per ``by`` value over the whole frame, largest spend first, with share of total."""
    col, label = dimension(by)
    aggs = [
        *money_aggs(),
        *estimated_aggs(),
        nw.col("requests").sum().alias("requests"),
        nw.col("input_tokens").sum().alias("input_tokens"),
        nw.col("output_tokens").sum().alias("output_tokens"),
        nw.col("_unpriced_rows").sum().alias("unpriced_rows"),
        nw.col("hours").sum().alias("hours"),
    ]
    if label:
        aggs.append(nw.col(label).max().alias(f"{by}_name"))
    res = finish_money(to_pandas(frame.group_by(label_expr(by)).agg(*aggs)))
    res = finish_money(res, out="estimated_cents", prefix="_e")
    res = _ints(res, ["requests", "input_tokens", "output_tokens", "unpriced_rows", "estimated_rows"])
    res["hours"] = pd.to_numeric(res["hours"], errors="coerce").fillna(0.0).astype("float64")
    total = res["cost_cents"].sum()
    res["share"] = res["cost_cents"] / total if total else 0.0
    cols = (
        [by]
        + ([f"{by}_name"] if label else [])
        + [
            "cost_cents",
            "share",
            "requests",
            "input_tokens",
            "output_tokens",
            "unpriced_rows",
            "estimated_cents",
            "estimated_rows",
            "hours",
        ]
    )
    return res[cols].sort_values(["cost_cents", by], ascending=[False, True]).reset_index(drop=True)


def total(frame: nw.LazyFrame) -> dict:
    res = finish_money(
        to_pandas(
            frame.select(
                *money_aggs(),
                *estimated_aggs(),
                nw.col("requests").sum().alias("requests"),
                nw.col("_rows").sum().alias("rows"),
                nw.col("_unpriced_rows").sum().alias("unpriced_rows"),
            )
        )
    )
    res = finish_money(res, out="estimated_cents", prefix="_e")
    row = res.iloc[0]
    return {
        "cost_cents": float(row["cost_cents"]),
        "requests": int(row["requests"] or 0),
        "rows": int(row["rows"] or 0),
        "unpriced_rows": int(row["unpriced_rows"] or 0),
        "estimated_cents": float(row["estimated_cents"]),
        "estimated_rows": int(row["estimated_rows"] or 0),
    }


def key_days(frame: nw.LazyFrame) -> nw.LazyFrame:
    """The per-key-day aggregation (lazy): ``key_id, _day``, the exact money parts, ``requests``,
    ``key_name``, ``account_id``; rows without a key left out."""
    return (
        frame.filter(~nw.col("key_id").is_null())
        .group_by("key_id", "_day")
        .agg(
            *money_aggs(),
            nw.col("requests").sum().alias("requests"),
            nw.col("key_name").max().alias("key_name"),
            nw.col("account_id").max().alias("account_id"),
        )
    )


def per_key_day(frame: nw.LazyFrame) -> pd.DataFrame:
    """Spend per key per day (small: keys x days), for projections and detectors."""
    return _ints(finish_money(to_pandas(key_days(frame))), ["requests"])


# -- drill-down ---------------------------------------------------------------------------

LOG_COLUMNS = [
    "ts",
    "request_id",
    "key_id",
    "key_name",
    "agent_name",
    "plain_vm_name",
    "model",
    "provider",
    "axis",
    "requests",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "reasoning_tokens",
    "characters",
    "hours",
    "cost_cents",
    "status",
]


def day_log(
    frame: nw.LazyFrame, *, day: int, key=None, model=None, page: int = 1, page_size: int = 100, tz: str | None = None
) -> pd.DataFrame:
    """One page of the day's requests (rows, not the cube), newest first."""
    if page < 1 or page_size < 1:
        raise QueryError("page and page_size start at 1")
    rows = restrict(frame, start_day=day, end_day=day + 1, keys=key, models=model, tz=tz)
    n = int(to_pandas(rows.select(nw.len().alias("n")))["n"].iloc[0])
    res = to_pandas(
        rows.select(LOG_COLUMNS).sort("ts", "request_id", descending=True, nulls_last=True).head(page * page_size)
    )
    res = res.iloc[(page - 1) * page_size :].reset_index(drop=True)
    for c in ("requests", "input_tokens", "output_tokens", "cached_input_tokens", "reasoning_tokens", "characters"):
        res[c] = pd.to_numeric(res[c], errors="coerce").astype("Int64")
    res.attrs.update(total_rows=n, page=page, page_size=page_size, pages=max(1, -(-n // page_size)))
    return res


def day_summary(frame: nw.LazyFrame, *, day: int, key=None, model=None, by: str = "model") -> pd.DataFrame:
    """One day per ``by`` value (model by default; ``key``, ``provider``, ... too), largest first.

    Columns ``<by>`` (named as the charts name it: ``compute (VM hours)`` for compute rows,
    ``(none)`` for other rows without it) ``[, <by>_name], provider`` (by model only),
    ``requests, cost_cents, rows, hours``. ``model`` takes one name or a list (the chart's
    labels select their segment), so the rows of an "Other" bar segment are one call.
    """
    col, label = dimension(by)
    rows = restrict(frame, start_day=day, end_day=day + 1, keys=key, models=model)
    aggs = [
        nw.col("requests").sum().alias("requests"),
        *money_aggs(),
        nw.col("_rows").sum().alias("rows"),
        nw.col("hours").sum().alias("hours"),
    ]
    if by == "model":
        aggs.insert(0, nw.col("provider").max().alias("provider"))
    if label:
        aggs.insert(0, nw.col(label).max().alias(f"{by}_name"))
    res = finish_money(to_pandas(rows.group_by(label_expr(by)).agg(*aggs)))
    res = _ints(res, ["requests", "rows"])
    res["hours"] = pd.to_numeric(res["hours"], errors="coerce").fillna(0.0).astype("float64")
    cols = (
        [by]
        + ([f"{by}_name"] if label else [])
        + (["provider"] if by == "model" else [])
        + ["requests", "cost_cents", "rows", "hours"]
    )
    return res[cols].sort_values(["cost_cents", by], ascending=[False, True]).reset_index(drop=True)


def day_compute(frame: nw.LazyFrame, *, day: int, key=None) -> pd.DataFrame:
    """The day's compute (the chart's ``compute (VM hours)`` segment): VM hours and cost per
    agent or plain VM.

    Columns ``vm`` (the agent's or plain VM's name, else its id, else ``(none)``), ``kind``
    (``agent``, ``plain VM`` or ``(none)``), ``vm_id``, ``hours``, ``cost_cents``,
    ``requests``, ``rows``; largest cost first. Its total is the chart's compute segment.
    """
    rows = restrict(frame, start_day=day, end_day=day + 1, keys=key, models=[COMPUTE_LABEL])
    vm_id = nw.coalesce(nw.col("agent_id"), nw.col("plain_vm_id"))
    kind = (
        nw.when(~nw.col("agent_id").is_null())
        .then(nw.lit("agent"))
        .otherwise(nw.when(~nw.col("plain_vm_id").is_null()).then(nw.lit("plain VM")).otherwise(nw.lit(NONE_LABEL)))
    )
    res = to_pandas(
        rows.with_columns(vm_id.fill_null(NONE_LABEL).alias("vm_id"), kind.alias("kind"))
        .group_by("vm_id", "kind")
        .agg(
            nw.coalesce(nw.col("agent_name").max(), nw.col("plain_vm_name").max()).alias("vm"),
            nw.col("hours").sum().alias("hours"),
            *money_aggs(),
            nw.col("requests").sum().alias("requests"),
            nw.col("_rows").sum().alias("rows"),
        )
    )
    res = _ints(finish_money(res), ["requests", "rows"])
    res["vm"] = res["vm"].where(res["vm"].notna(), res["vm_id"]).astype(object)
    res["hours"] = pd.to_numeric(res["hours"], errors="coerce").fillna(0.0).astype("float64")
    return (
        res[["vm", "kind", "vm_id", "hours", "cost_cents", "requests", "rows"]]
        .sort_values(["cost_cents", "vm_id"], ascending=[False, True])
        .reset_index(drop=True)
    )
