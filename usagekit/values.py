"""Per-value work on low-cardinality text columns: done once per distinct value, not per row.

Most id and name columns of a usage export hold a few dozen distinct values in hundreds of
thousands of rows (keys, models, accounts, status words). A function of the value alone (a
secret check, trimming, lower-casing, a word lookup) is evaluated on the distinct values of a
batch and mapped back to its rows; when it changes no value the batch is returned as it is.
High-cardinality columns (request ids) are processed row by row, as before.

>>> import polars as pl
>>> s = pl.Series("m", ["GPT-4.1", "gpt-4.1", None] * 3000)
>>> by_value(s, lambda v: v.str.to_lowercase()).unique().sort().to_list()
[None, 'gpt-4.1']
"""

from __future__ import annotations

from typing import Callable

import polars as pl

#: rows sampled from a batch to judge its cardinality
SAMPLE = 4096
#: at most this many distinct values in the sample: the batch is treated per distinct value
MAX_DISTINCT = 512


def distinct(s: pl.Series) -> pl.Series | None:
    """The distinct values of ``s`` when it looks low-cardinality (judged on a sample), else None."""
    if len(s) < 2 * SAMPLE or s.head(SAMPLE).n_unique() > MAX_DISTINCT:
        return None
    u = s.unique()
    return u if len(u) <= len(s) // 8 else None


def spread(s: pl.Series, values: pl.Series, out: pl.Series) -> pl.Series:
    """``out[i]`` for each row of ``s`` whose value is ``values[i]`` (``values`` distinct, nulls included)."""
    if out.n_unique() == 1:  # one result for every value (the usual 'no row is bad')
        return pl.repeat(out[0], len(s), dtype=out.dtype, eager=True).alias(s.name)
    lookup = pl.DataFrame({"v": values, "o": out})
    return (
        s.to_frame("v")
        .join(lookup, on="v", how="left", nulls_equal=True, maintain_order="left")
        .get_column("o")
        .alias(s.name)
    )


def by_value(s: pl.Series, fn: Callable[[pl.Expr], pl.Expr]) -> pl.Series:
    """``fn`` (an expression of one column) on ``s``, evaluated once per distinct value when
    ``s`` has few of them. ``s`` itself is returned when ``fn`` changes nothing."""
    u = distinct(s)
    if u is None:
        return s.to_frame("v").select(fn(pl.col("v"))).to_series().alias(s.name)
    out = u.to_frame("v").select(fn(pl.col("v"))).to_series()
    if out.dtype == s.dtype and out.equals(u, check_names=False):
        return s
    return spread(s, u, out)


def by_value_expr(col: str | pl.Expr, fn: Callable[[pl.Expr], pl.Expr], dtype: pl.DataType) -> pl.Expr:
    """:func:`by_value` as a polars expression (batch by batch; streams)."""
    e = pl.col(col) if isinstance(col, str) else col
    return e.map_batches(lambda s: by_value(s, fn).cast(dtype), return_dtype=dtype, is_elementwise=True)


def by_value_with_flag(
    s: pl.Series, value: Callable[[pl.Expr], pl.Expr], flag: Callable[[pl.Expr], pl.Expr]
) -> pl.Series:
    """:func:`by_value` for two functions of the same column at once (a value and a flag, e.g. a word
    normalized and whether it was unknown), from one set of distinct values: a struct series with
    fields ``value`` (``s`` itself when ``value`` changes nothing) and ``flag``."""
    u = distinct(s)
    both = pl.col("v").pipe(value).alias("value"), pl.col("v").pipe(flag).cast(pl.Boolean).alias("flag")
    if u is None:
        return s.to_frame("v").select(*both).to_struct(s.name)
    got = u.to_frame("v").select(*both)
    out = got.get_column("value")
    kept = s if out.dtype == s.dtype and out.equals(u, check_names=False) else spread(s, u, out)
    return pl.DataFrame([kept.alias("value"), spread(s, u, got.get_column("flag")).alias("flag")]).to_struct(s.name)


__all__ = ["by_value", "by_value_expr", "by_value_with_flag", "distinct", "spread"]
