"""The month cube, built here and nowhere else, for every engine.

The rows get their query columns from :func:`derive`; the cube itself is the narwhals
aggregation :func:`usagekit.queries.cube`. :func:`build_cube` makes it with Polars in
streaming passes while a load validates (one input at a time for big loads);
:func:`cube_on_engine` puts it on the engine the queries run on (DuckDB and Spark build
their own from the rows when no cube was computed); :func:`registry_on_cube` fills key
names, accounts and agents from the key registry exactly as :func:`apply_registry` does for
rows.
"""

from __future__ import annotations

from typing import Callable

import narwhals as nw
import polars as pl

from .. import queries as q
from ..extras import require
from ..schema import USAGE_COLUMNS


def derive(rows: pl.LazyFrame, tz: str) -> pl.LazyFrame:
    """Add the query columns: ``_day`` (local day number), ``_c_hi``/``_c_mid``/``_c_lo`` (exact money) and
    the cube's per-row measures (``_rows``, ``_unpriced``, ``_unpriced_rows``, ``_ts_min``, ``_ts_max``) and the
    tag set as text (``_tagset``)."""
    if tz == "UTC":
        day = pl.col("ts").dt.epoch("d").cast(pl.Int32)
    else:
        day = pl.col("ts").dt.convert_time_zone(tz).dt.date().cast(pl.Int32)
    # whole cents + nano-cents (both int64, summed exactly) + a float remainder: every row is
    # bounded by MAX_COST_CENTS, so neither integer part can wrap at any size a load accepts
    whole = pl.col("cost_cents").floor()
    frac = pl.col("cost_cents") - whole
    nano = (frac * q.NANO).round(0)
    unpriced = pl.col("cost_cents").is_null()
    # the tag set as one text (``|a|b|`` with an unprintable separator): every engine can test it
    # for a tag, and the tag roll-up groups by it (see queries.side_cube)
    tagset = pl.when(pl.col("tags").list.len() > 0).then(
        pl.lit(q.TAG_SEP) + pl.col("tags").list.join(q.TAG_SEP) + pl.lit(q.TAG_SEP)
    )
    return rows.with_columns(
        day.alias("_day"),
        tagset.alias("_tagset"),
        whole.cast(pl.Int64).alias("_c_hi"),
        nano.cast(pl.Int64).alias("_c_mid"),
        (frac - nano / q.NANO).alias("_c_lo"),
        pl.lit(1, pl.Int64).alias("_rows"),
        unpriced.alias("_unpriced"),
        unpriced.cast(pl.Int64).alias("_unpriced_rows"),
        pl.col("ts").alias("_ts_min"),
        pl.col("ts").alias("_ts_max"),
    )


def build_cube(chunks: list[pl.LazyFrame], tz: str, registry: pl.DataFrame) -> pl.DataFrame:
    """The cube of validated rows given as one or more lazy frames (of at least the usage
    columns), each aggregated in a streaming pass, then merged; registry names applied."""
    return merge_cubes([cube_of(c, tz) for c in chunks], registry)


def cube_of(rows: pl.LazyFrame, tz: str) -> pl.DataFrame:
    """The cube of one lazy frame of validated rows (before the registry), in a streaming pass."""
    return q.cube(nw.from_native(derive(rows.select(USAGE_COLUMNS), tz))).to_native().collect(engine="streaming")


def merge_cubes(cubes: list[pl.DataFrame], registry: pl.DataFrame) -> pl.DataFrame:
    """Cubes of parts of the rows -> the cube of all of them, registry names applied."""
    cube = cubes[0] if len(cubes) == 1 else q.cube(nw.from_native(pl.concat(cubes).lazy())).to_native().collect()
    return registry_on_cube(cube, registry)


def registry_on_cube(cube: pl.DataFrame, registry: pl.DataFrame) -> pl.DataFrame:
    """Fill the cube's key names, accounts and agents from the registry, exactly as
    :func:`apply_registry` does for rows, then merge cube rows that became equal."""
    if cube.is_empty() or (registry.is_empty() and not cube["source"].is_in(TEAM_IS_ACCOUNT).any()):
        return cube
    filled = apply_registry(cube.lazy(), registry)
    return q.cube(nw.from_native(filled)).to_native().collect().select(cube.columns)


def apply_registry(rows: pl.LazyFrame, registry: pl.DataFrame) -> pl.LazyFrame:
    """Fill key names, accounts and agents from the registry by ``key_id``.

    The registry's key name wins (it is current); a row's own account and agent win over the
    registry's. A LiteLLM request that names no organization, whose key's account the registry
    does not give either, is counted under its team (:data:`TEAM_IS_ACCOUNT`). Row order is kept.
    """
    if registry.is_empty():
        return rows.with_columns(pl.coalesce("account_id", _team_account()).alias("account_id"))
    reg = registry.lazy().select(
        "key_id",
        pl.col("key_name").alias("_k_name"),
        pl.col("account_id").alias("_k_account"),
        pl.col("agent_id").alias("_k_agent"),
    )
    return (
        rows.join(reg, on="key_id", how="left", maintain_order="left")
        .with_columns(
            pl.coalesce("_k_name", "key_name").alias("key_name"),
            pl.coalesce("account_id", "_k_account", _team_account()).alias("account_id"),
            pl.coalesce("agent_id", "_k_agent").alias("agent_id"),
        )
        .drop("_k_name", "_k_account", "_k_agent")
    )


#: sources whose requests fall back to their team as the account: in LiteLLM the organization is
#: the account, and a team outside any organization stands on its own. The fallback comes after
#: the key registry's account (the key's organization), so requests logged without their
#: organization are not split off from their key's account.
TEAM_IS_ACCOUNT = ("litellm",)


def _team_account() -> pl.Expr:
    return pl.when(pl.col("source").is_in(TEAM_IS_ACCOUNT)).then(pl.col("team_id"))


def cube_to_polars(cube: nw.LazyFrame) -> pl.DataFrame:
    return cube.collect(backend="polars").to_native()


def cube_on_engine(
    cube: pl.DataFrame | None, rows: pl.LazyFrame, tz: str, engine: str, engine_rows: Callable[[], nw.LazyFrame]
) -> nw.LazyFrame:
    """The cube as a small table on ``engine``.

    Polars receives the cube the load computed in its validating pass. DuckDB and Spark
    build theirs from the rows with the same narwhals query (:func:`usagekit.queries.cube`),
    so the heavy aggregation runs on the engine itself; DuckDB reads the rows as an Arrow
    stream and never holds them; Spark aggregates its own copy of the rows
    (``engine_rows()``) and caches the result.
    """
    if engine == "polars":
        if cube is None:
            cube = q.cube(nw.from_native(derive(rows, tz))).to_native().collect()
        return nw.from_native(cube.lazy())
    if engine == "duckdb":
        duckdb = require("duckdb", "duckdb", "the DuckDB engine")
        if cube is None:
            cube_rel = q.cube(nw.from_native(duckdb.from_arrow(arrow_stream(derive(rows, tz)))))
            cube = pl.from_arrow(cube_rel.to_native().to_arrow_table())
        return nw.from_native(duckdb.from_arrow(cube.to_arrow()))
    base = engine_rows()
    if cube is not None:
        session = base.to_native().sparkSession
        return nw.from_native(session.createDataFrame(cube.to_arrow()))
    return nw.from_native(q.cube(base).to_native().cache())


def side_on_engine(
    sides: tuple[str, ...], rows: pl.LazyFrame, tz: str, engine: str, engine_rows: Callable[[], nw.LazyFrame]
) -> nw.LazyFrame:
    """An end-user and/or tag roll-up (:func:`usagekit.queries.side_cube`) on ``engine``,
    built by the engine from the rows, as the month cube is."""
    if engine == "polars":
        frame = nw.from_native(derive(rows, tz))
        return nw.from_native(q.side_cube(frame, sides).to_native().collect(engine="streaming").lazy())
    if engine == "duckdb":
        duckdb = require("duckdb", "duckdb", "the DuckDB engine")
        rel = q.side_cube(nw.from_native(duckdb.from_arrow(arrow_stream(derive(rows, tz)))), sides)
        return nw.from_native(duckdb.from_arrow(rel.to_native().to_arrow_table()))
    return nw.from_native(q.side_cube(engine_rows(), sides).to_native().cache())


def arrow_stream(rows: pl.LazyFrame):
    """``rows`` as a pyarrow RecordBatchReader, computed batch by batch (never all in memory)."""
    import pyarrow as pa

    batches = iter(rows.collect_batches(chunk_size=1_000_000))
    first = next(batches, None)
    if first is None:
        table = rows.head(0).collect().to_arrow()
        return pa.RecordBatchReader.from_batches(table.schema, iter(()))
    head = first.to_arrow()

    def gen():
        yield from head.to_batches()
        for df in batches:
            yield from df.to_arrow().cast(head.schema).to_batches()

    return pa.RecordBatchReader.from_batches(head.schema, gen())


# -- Spark: the same derived columns and registry fill, as Spark expressions -------------------
# (for rows validated by Spark itself, which never pass through Polars on the driver)


def derive_spark(rows, tz: str):
    """:func:`derive` for a Spark DataFrame of the usage columns: the same columns, computed by
    Spark (``bround`` is Polars' half-to-even rounding). The session's time zone must be UTC."""
    from pyspark.sql import functions as F

    ts = F.col("ts")
    day = F.datediff(F.to_date(F.from_utc_timestamp(ts, tz) if tz != "UTC" else ts), F.lit("1970-01-01").cast("date"))
    cost = F.col("cost_cents")
    whole = F.floor(cost)
    frac = cost - whole
    nano = F.bround(frac * q.NANO, 0)
    tagset = F.when(
        F.size(F.col("tags")) > 0, F.concat(F.lit(q.TAG_SEP), F.array_join(F.col("tags"), q.TAG_SEP), F.lit(q.TAG_SEP))
    )
    return rows.select(
        *[F.col(c) for c in rows.columns],
        day.cast("int").alias("_day"),
        tagset.alias("_tagset"),
        whole.cast("bigint").alias("_c_hi"),
        nano.cast("bigint").alias("_c_mid"),
        (frac - nano / q.NANO).alias("_c_lo"),
        F.lit(1).cast("bigint").alias("_rows"),
        cost.isNull().alias("_unpriced"),
        cost.isNull().cast("bigint").alias("_unpriced_rows"),
        ts.alias("_ts_min"),
        ts.alias("_ts_max"),
    )


def apply_registry_spark(rows, registry: pl.DataFrame):
    """:func:`apply_registry` for a Spark DataFrame: the (small) registry is broadcast to the
    executors and joined by ``key_id``; the registry's key name wins, the row's account and agent win,
    then a LiteLLM request's team (:data:`TEAM_IS_ACCOUNT`)."""
    from pyspark.sql import functions as F

    team = F.when(F.col("source").isin(*TEAM_IS_ACCOUNT), F.col("team_id"))
    if registry.is_empty():
        return rows.withColumn("account_id", F.coalesce(F.col("account_id"), team))
    reg = rows.sparkSession.createDataFrame(
        registry.select(
            "key_id",
            pl.col("key_name").alias("_k_name"),
            pl.col("account_id").alias("_k_account"),
            pl.col("agent_id").alias("_k_agent"),
        ).to_pandas()
    )
    joined = rows.join(F.broadcast(reg), on="key_id", how="left")
    filled = {
        "key_name": F.coalesce("_k_name", "key_name"),
        "account_id": F.coalesce(F.col("account_id"), F.col("_k_account"), team),
        "agent_id": F.coalesce("agent_id", "_k_agent"),
    }
    return joined.select(*[filled[c].alias(c) if c in filled else F.col(c) for c in rows.columns])


def cube_schema(tz: str) -> dict:
    """The month cube's column types as :func:`build_cube` gives them."""
    from ..schema import empty_usage

    return dict(q.cube(nw.from_native(derive(empty_usage().lazy(), tz))).to_native().collect_schema())


def build_cube_spark(rows, tz: str, registry: pl.DataFrame) -> pl.DataFrame:
    """The month cube of kept rows held by Spark: :func:`usagekit.queries.cube` (the same narwhals
    aggregation every engine runs) over :func:`derive_spark`, aggregated by the executors; only the
    cube (days x dimensions) comes back to the driver, where the registry's names are applied."""
    cube = q.cube(nw.from_native(derive_spark(rows, tz))).to_native()
    schema = cube_schema(tz)
    got = pl.from_arrow(cube.toArrow())
    got = got.select([pl.col(c).cast(t) for c, t in schema.items()]) if got.height else pl.DataFrame(schema=schema)
    return registry_on_cube(got, registry)
