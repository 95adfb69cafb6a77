"""Repricing from a price map: estimate unpriced rows, check priced ones, show what caching saved.

Every estimate is computed **per request**: a row's tier (e.g. the >200k-input-token price)
is chosen by that request's own input tokens, never by a sum; cached input tokens are billed
at the cached rate, the rest of the input at the input rate, output (reasoning included) at
the output rate, voice characters at the per-character rate. A bucket row (a day of a
provider's usage page, ``requests`` = n) picks its tier by its average request, which is
exact unless its requests straddle a tier boundary.

Estimated costs are labelled ``cost_source = 'estimated'``; totals, daily and breakdown
results carry ``estimated_cents`` so they can say how much of a total is an estimate.

>>> fixed = usage.reprice()                                   # doctest: +SKIP
>>> fixed.total()["estimated_cents"]                          # doctest: +SKIP
>>> usage.price_check(tolerance=0.02)                         # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
import polars as pl

from .prices import MAX_TIERS, PriceMap, load_price_map
from .schema import USAGE_COLUMNS

#: repriced rows up to this many are computed once and kept in memory
IN_MEMORY_ROWS = 5_000_000
#: columns the estimate needs from the rows
NEEDED = (
    "ts",
    "provider",
    "model",
    "requests",
    "input_tokens",
    "cached_input_tokens",
    "output_tokens",
    "characters",
    "axis",
)


@dataclass
class RepriceReport:
    """What a :meth:`~usagekit.Usage.reprice` did: rows estimated, their total, what stayed unpriced."""

    price_map: str
    missing_only: bool
    estimated_rows: int = 0
    estimated_cents: float = 0.0
    still_unpriced_rows: int = 0
    billed_elsewhere_rows: int = 0  # unpriced usage buckets left alone: the same load's costs pages bill them
    unmatched_models: list = field(default_factory=list)  # (provider, model, rows) with no price

    def __str__(self) -> str:
        from .money import format_usd

        what = "unpriced rows" if self.missing_only else "rows"
        text = (
            f"repriced {what} with {self.price_map}: {self.estimated_rows:,} rows estimated at "
            f"{format_usd(self.estimated_cents)} (labelled cost_source='estimated')"
        )
        if self.billed_elsewhere_rows:
            text += (
                f"; {self.billed_elsewhere_rows:,} OpenAI usage bucket(s) left unpriced on purpose (the costs "
                "pages loaded with them already bill that usage)"
            )
        if self.still_unpriced_rows:
            models = ", ".join(f"{p or '?'}/{m or '?'} ({n:,})" for p, m, n in self.unmatched_models[:8])
            text += f"; {self.still_unpriced_rows:,} rows still unpriced (no price in the map: {models})"
        return text


def with_rates(rows: pl.LazyFrame, price_map: PriceMap) -> pl.LazyFrame:
    """``rows`` with ``_est_cents`` (the price map's cost of each row, null when it has no price or
    the row no usage to price), ``_est_nocache_cents`` (the same with cached tokens at the input
    rate), ``_saved_cents`` (what the cached rate saved) and ``price_model``."""
    rows = rows.with_columns(pl.col("ts").dt.date().alias("_pday"))
    wanted = rows.select("provider", "model", "_pday").unique().collect()
    rates = price_map.rate_table(wanted)
    joined = rows.join(
        rates.lazy(), on=["provider", "model", "_pday"], how="left", nulls_equal=True, maintain_order="left"
    )
    per_request = pl.col("input_tokens").fill_null(0) / pl.max_horizontal(pl.col("requests").fill_null(0), 1)

    def rate(kind: str) -> pl.Expr:
        base = pl.col(f"_r_{kind}")
        chain = None
        for i in reversed(range(MAX_TIERS)):  # the highest tier the request passed wins
            cond = pl.col(f"_t{i}_start").is_not_null() & (per_request > pl.col(f"_t{i}_start"))
            val = pl.coalesce(pl.col(f"_t{i}_{kind}"), base)
            chain = pl.when(cond).then(val) if chain is None else chain.when(cond).then(val)
        return chain.otherwise(base)

    r_in, r_out = rate("in"), rate("out")
    r_cached = pl.coalesce(rate("cached"), r_in)
    tokens_in = pl.col("input_tokens").fill_null(0)
    cached = pl.min_horizontal(pl.col("cached_input_tokens").fill_null(0), tokens_in)
    out = pl.col("output_tokens").fill_null(0)
    chars = pl.col("characters").fill_null(0)
    has_usage = (tokens_in + out + chars) > 0
    can_price = pl.col("price_model").is_not_null() & (
        ((tokens_in > 0) & r_in.is_not_null())
        | ((out > 0) & r_out.is_not_null())
        | ((chars > 0) & pl.col("_r_char").is_not_null())
    )
    usd = (
        (tokens_in - cached) * r_in.fill_null(0)
        + cached * r_cached.fill_null(0)
        + out * r_out.fill_null(0)
        + chars * pl.col("_r_char").fill_null(0)
    )
    usd_nocache = tokens_in * r_in.fill_null(0) + out * r_out.fill_null(0) + chars * pl.col("_r_char").fill_null(0)
    ok = has_usage & can_price
    helpers = [c for c in rates.columns if c.startswith("_r_") or c.startswith("_t")]
    return joined.with_columns(
        pl.when(ok).then(usd * 100).otherwise(None).alias("_est_cents"),
        pl.when(ok).then(usd_nocache * 100).otherwise(None).alias("_est_nocache_cents"),
        pl.when(ok).then(cached * (r_in - r_cached).fill_null(0) * 100).otherwise(None).alias("_saved_cents"),
    ).drop(*helpers, "_pday")


def reprice_rows(
    rows: pl.LazyFrame, price_map: PriceMap, missing_only: bool = True, skip: pl.Expr | None = None
) -> pl.LazyFrame:
    """The rows with estimated costs filled in (all rows the map can price when not ``missing_only``);
    rows matching ``skip`` are left as they are."""
    est = with_rates(rows, price_map)
    target = pl.col("_est_cents").is_not_null()
    if missing_only:
        target = target & pl.col("cost_cents").is_null()
    if skip is not None:
        target = target & ~skip.fill_null(False)
    return est.with_columns(
        pl.when(target).then(pl.col("_est_cents")).otherwise(pl.col("cost_cents")).alias("cost_cents"),
        pl.when(target).then(pl.lit("estimated")).otherwise(pl.col("cost_source")).alias("cost_source"),
    ).select(USAGE_COLUMNS)


def reprice(usage, missing_only: bool = True, prices=None):
    """A new :class:`~usagekit.Usage` whose unpriced rows (all rows when not ``missing_only``) carry
    the price map's estimate, labelled ``cost_source='estimated'``; ``usage.reprice_report`` says
    how many rows were estimated and which models the map could not price."""
    pm = load_price_map(prices)
    billed = _billed_by_companion_rows(usage)
    skip = pl.col("source").is_in(billed) & pl.col("cost_cents").is_null() if billed else None
    rows = reprice_rows(usage.lazy, pm, missing_only=missing_only, skip=skip)
    if usage.load_report.kept <= IN_MEMORY_ROWS:  # small enough: join once, not on every query
        rows = rows.collect().lazy()
    new = usage.with_rows(rows)
    report = RepriceReport(pm.name, missing_only)
    skipped = skip.fill_null(False) if skip is not None else pl.lit(False)
    stats = (
        rows.group_by("provider", "model")
        .agg(
            (pl.col("cost_source") == "estimated").sum().alias("est"),
            pl.when(pl.col("cost_source") == "estimated").then(pl.col("cost_cents")).sum().alias("cents"),
            (pl.col("cost_cents").is_null() & ~skipped).sum().alias("unpriced"),
            skipped.sum().alias("skipped"),
        )
        .collect()
    )
    report.estimated_rows = int(stats["est"].sum())
    report.estimated_cents = float(stats["cents"].sum() or 0.0)
    report.still_unpriced_rows = int(stats["unpriced"].sum())
    report.billed_elsewhere_rows = int(stats["skipped"].sum())
    report.unmatched_models = [
        (p, m, int(n))
        for p, m, n in stats.filter(pl.col("unpriced") > 0)
        .sort("unpriced", descending=True)
        .select("provider", "model", "unpriced")
        .iter_rows()
    ]
    new.reprice_report = report
    return new


#: loaders whose unpriced rows are billed by other rows of the same load: OpenAI usage buckets
#: carry tokens but no money, because the costs pages bill them
COMPANION_BILLED = ("openai",)


def _billed_by_companion_rows(usage) -> list[str]:
    """The loaders of :data:`COMPANION_BILLED` that brought priced rows too (their unpriced
    buckets would be counted twice if repriced)."""
    import narwhals as nw

    from . import queries as q
    from .usage import Scope

    cube = usage.within(Scope()).cube.filter(nw.col("source").is_in(list(COMPANION_BILLED)) & ~nw.col("_unpriced"))
    found = q.to_pandas(cube.select(nw.col("source")).unique())
    return sorted(s for s in found["source"] if isinstance(s, str))


def _scoped_rows(usage) -> pl.LazyFrame:
    """The rows in the usage's scope as a polars LazyFrame (only the columns repricing reads)."""
    cols = list(dict.fromkeys([*NEEDED, "key_id", "key_name", "account_id", "cost_cents", "cost_source"]))
    frame = usage.frame.select(cols)
    native = frame.to_native()
    if isinstance(native, pl.LazyFrame):
        return native
    return frame.collect(backend="polars").to_native().lazy()


def price_check(usage, tolerance: float = 0.02, prices=None, min_cents: float = 1e-4) -> pd.DataFrame:
    """Where the source's own costs and the price map disagree by more than ``tolerance``.

    Recomputes every priced row (``cost_source='source'``) in scope and returns one line per
    provider and model that has disagreeing rows: ``rows_checked, rows_off, source_cents,
    map_cents`` (of the disagreeing rows), ``difference_cents`` (source - map), ``difference_pct``
    and ``likely_cause``. A row disagrees when ``|source - map| > tolerance x map`` and more than
    ``min_cents``. ``likely_cause`` names the cached-token bug when the source's cost matches
    the price map with cached tokens billed at the full input rate.
    """
    pm = load_price_map(prices)
    rows = with_rates(_scoped_rows(usage).filter(pl.col("cost_source") == "source"), pm)
    rows = rows.filter(pl.col("_est_cents").is_not_null())
    diff = pl.col("cost_cents") - pl.col("_est_cents")
    off = (diff.abs() > tolerance * pl.col("_est_cents")) & (diff.abs() > min_cents)
    nocache = (
        (pl.col("cost_cents") - pl.col("_est_nocache_cents")).abs() <= tolerance * pl.col("_est_nocache_cents")
    ) & (pl.col("cached_input_tokens").fill_null(0) > 0)
    res = (
        rows.with_columns(off.alias("_off"), (off & nocache).alias("_nocache"))
        .group_by(pl.col("provider").fill_null("(none)"), pl.col("model").fill_null("(none)"))
        .agg(
            pl.len().alias("rows_checked"),
            pl.col("_off").sum().alias("rows_off"),
            pl.col("_nocache").sum().alias("_nocache_rows"),
            pl.col("price_model").first().alias("price_model"),
            pl.col("cost_cents").filter(pl.col("_off")).sum().alias("source_cents"),
            pl.col("_est_cents").filter(pl.col("_off")).sum().alias("map_cents"),
            (pl.col("cost_cents") - pl.col("_est_cents")).filter(pl.col("_off")).mean().alias("_mean_diff"),
        )
        .filter(pl.col("rows_off") > 0)
        .collect()
        .to_pandas()
    )
    cols = [
        "provider",
        "model",
        "price_model",
        "rows_checked",
        "rows_off",
        "source_cents",
        "map_cents",
        "difference_cents",
        "difference_pct",
        "likely_cause",
    ]
    if res.empty:
        out = pd.DataFrame(columns=cols)
    else:
        res["difference_cents"] = res["source_cents"] - res["map_cents"]
        res["difference_pct"] = (res["difference_cents"] / res["map_cents"] * 100).where(res["map_cents"] > 0)
        res["likely_cause"] = [
            "cached input tokens billed at the full input price"
            if nc >= off_ / 2
            else ("source above the price map" if d > 0 else "source below the price map")
            for nc, off_, d in zip(res["_nocache_rows"], res["rows_off"], res["difference_cents"])
        ]
        res["_size"] = res["difference_cents"].abs()
        out = res.sort_values(["_size", "model"], ascending=[False, True])[cols].reset_index(drop=True)
    out.attrs.update(price_map=pm.name, tolerance=tolerance, scope=usage.describe_scope())
    return out


def cache_savings(usage, by: str = "key", prices=None) -> pd.DataFrame:
    """What provider prompt caching saved, per ``by`` (``key`` or ``model``; ``provider``, ``account``).

    Columns ``<by>`` (and ``key_name`` for keys), ``cached_input_tokens``, ``input_tokens``,
    ``cached_share`` (of input tokens), ``cost_cents`` (as paid), ``saved_cents`` (cached tokens
    x (input rate - cached rate), per request and tier) and ``saved_pct`` (saved / what it would
    have cost without caching). Rows the price map cannot price count in the tokens but not in
    the savings; ``attrs['unpriced_cached_tokens']`` says how many cached tokens that left out.
    """
    column = {"key": "key_id", "model": "model", "provider": "provider", "account": "account_id"}.get(by)
    if column is None:
        from .errors import QueryError

        raise QueryError(f"unknown cache_savings breakdown '{by}'; expected one of: key, model, provider, account")
    pm = load_price_map(prices)
    rows = with_rates(_scoped_rows(usage).filter(pl.col("axis") == "llm"), pm)
    aggs = [
        pl.col("cached_input_tokens").fill_null(0).sum().alias("cached_input_tokens"),
        pl.col("input_tokens").fill_null(0).sum().alias("input_tokens"),
        pl.col("cost_cents").sum().alias("cost_cents"),
        pl.col("_saved_cents").sum().alias("saved_cents"),
        pl.when(pl.col("_saved_cents").is_null())
        .then(pl.col("cached_input_tokens").fill_null(0))
        .otherwise(0)
        .sum()
        .alias("_unpriced_cached"),
    ]
    if by == "key":
        aggs.append(pl.col("key_name").max().alias("key_name"))
    res = rows.group_by(pl.col(column).fill_null("(none)").alias(by)).agg(*aggs).collect().to_pandas()
    res["cached_share"] = (res["cached_input_tokens"] / res["input_tokens"]).where(res["input_tokens"] > 0)
    without = res["cost_cents"] + res["saved_cents"]
    res["saved_pct"] = (res["saved_cents"] / without * 100).where(without > 0)
    unpriced = int(res.pop("_unpriced_cached").sum()) if len(res) else 0
    cols = (
        [by]
        + (["key_name"] if by == "key" else [])
        + ["cached_input_tokens", "input_tokens", "cached_share", "cost_cents", "saved_cents", "saved_pct"]
    )
    out = res[cols].sort_values(["saved_cents", by], ascending=[False, True]).reset_index(drop=True)
    out.attrs.update(price_map=pm.name, unpriced_cached_tokens=unpriced, scope=usage.describe_scope())
    return out
