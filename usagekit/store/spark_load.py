"""``load(..., engine="spark")`` for canonical files: validation as Spark jobs.

The executors read the files themselves: Parquet with ``spark.read.parquet`` on the paths and the
typed checks as Spark expressions (:mod:`usagekit.sources.spark_stage`), CSV and JSON Lines with
the Polars readers and checks run in one Spark task per file (:mod:`usagekit.sources.spark_text`).
They find repeated request ids across all files
(first occurrence in file then row order wins, as on Polars), count every file's rows per
reason, write the kept rows once as Parquet into a staging directory and aggregate the month
cube from them. The driver receives small results only:

* the accounting (one row per file, reason and duplicate flag),
* the rejected rows, at most :data:`MAX_REJECTED` of them (the load report says when more
  were rejected; every one is counted),
* the month cube (days x dimensions),
* later, the requested day's rows for ``usage.day()``.

The kept rows stay where Spark wrote them: ``USAGEKIT_SPARK_STAGING`` (a directory the driver
and every worker can read; default the driver's temporary directory, removed at exit) when the
load has no store (``store=False``); with one, :mod:`usagekit.store.spark_stored` keeps them there.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import narwhals as nw
import polars as pl

from .. import loading as L
from .. import sources
from ..accounting import LoadReport
from ..errors import SourceError, display_path
from ..schema import USAGE_COLUMNS, USAGE_DTYPES
from ..sources import spark_stage
from .cube import apply_registry, apply_registry_spark, build_cube_spark, derive_spark

#: the most rejected rows a Spark load brings back to the driver (all of them are counted)
MAX_REJECTED = 10_000

_STATS_SCHEMA = {
    "_fidx": pl.Int32,
    "_reject": pl.String,
    "_dup": pl.Boolean,
    "n": pl.UInt32,
    "ids": pl.UInt32,
    "naive": pl.UInt32,
    "unpriced": pl.UInt32,
    "cost": pl.Float64,
    "first": pl.Datetime("us", "UTC"),
    "last": pl.Datetime("us", "UTC"),
}


def session_of(engine):
    """The SparkSession ``engine`` names (``"spark"``: the local one), with its time zone set to
    UTC: usagekit's times are UTC and days are bucketed in ``tz`` explicitly."""
    from ..spark import local_session

    session = local_session() if isinstance(engine, str) else engine
    if session.conf.get("spark.sql.session.timeZone") != "UTC":
        session.conf.set("spark.sql.session.timeZone", "UTC")
    return session


def load(
    session,
    files: list[tuple[Path, object]],
    key_parts,
    skipped,
    tz: str,
    progress: bool = False,
    store=None,
    rehash: bool = False,
):
    """Canonical ``files`` (path, probe) validated by Spark -> :class:`~usagekit.usage.Usage`;
    with ``store`` (a :class:`~usagekit.store.cache.Store`) through the validated store
    (:mod:`usagekit.store.spark_stored`: only files it lacks are validated).

    A file Spark cannot decode is a :class:`~usagekit.errors.SourceError` naming it (when
    Spark's message does), never a Java traceback."""
    from py4j.protocol import Py4JJavaError
    from pyspark.errors import PySparkException

    try:
        if store is not None:
            from . import spark_stored

            return spark_stored.load(session, store, files, key_parts, skipped, tz, progress, rehash=rehash)
        return _load(session, files, key_parts, skipped, tz, progress)
    except (PySparkException, Py4JJavaError) as exc:
        text = str(exc)
        shown = [display_path(p) for p, _ in files]
        named = [s for p, s in zip(files, shown) if str(p[0]) in text or p[0].name in text]
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        classed = [line for line in lines if re.search(r"\[[A-Z_.]+\]", line)]  # Spark's error class line
        detail = (classed or lines or [type(exc).__name__])[0]
        detail = re.sub(r"^.*?(\[[A-Z_.]+\])", r"\1", detail)[:300]
        raise SourceError(
            ", ".join(named or shown[:3]) + ("" if named or len(shown) <= 3 else " ..."),
            f"Spark could not read the data ({detail})",
            expected="complete, uncorrupted files; re-export or re-download them, "
            "or load with the Polars engine to find the file and row",
        ) from None


def _load(session, files, key_parts, skipped, tz: str, progress: bool):
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    from ..spark import staging_dir
    from ..usage import Usage

    say = L._Phases(progress)
    say(f"validating {len(files)} file(s) on Spark")
    shown = [display_path(path) for path, _ in files]
    tagged, notes_of = stage_files(session, files, shown)
    tagged = tagged.persist(StorageLevel.MEMORY_AND_DISK)  # read and checked once for every pass below
    try:
        staged, text_notes = _split(tagged, shown)
        notes_of.update(text_notes)
        parts = [sources.Loaded("canonical", s, notes=list(notes_of[i])) for i, s in enumerate(shown)]
        ok = F.col("_reject").isNull()
        say("checking request ids")
        repeated = (
            staged.filter(ok & F.col("request_id").isNotNull())
            .groupBy("request_id")
            .agg(F.count(F.lit(1)).alias("_n"), F.min(F.struct("_fidx", "_row")).alias("_first"))
            .filter(F.col("_n") > 1)
            .select("request_id", "_first")
        )
        marked = staged.join(repeated, on="request_id", how="left")
        dup = ok & F.col("_first").isNotNull() & (F.struct("_fidx", "_row") != F.col("_first"))
        marked = marked.withColumn("_dup", F.coalesce(dup, F.lit(False))).drop("_first")
        good = ok & ~F.col("_dup")

        say("counting rows")
        stats = _stats(marked, good)
        L.check_total(stats, [p.file for p in parts])
        registry, budgets = L._registries(key_parts)
        report = L._report(stats, parts, key_parts, skipped, registry)
        rejected = _rejected(marked.filter(~good), report)

        say("writing the kept rows")
        where = staging_dir() / "rows"
        marked.filter(good).select(*USAGE_COLUMNS).write.parquet(str(where))
    finally:
        tagged.unpersist()
    kept = session.read.parquet(str(where))
    say("building the month cube")
    cube = build_cube_spark(kept, tz, registry)
    engine_rows = nw.from_native(derive_spark(apply_registry_spark(kept, registry), tz))
    rows = apply_registry(pl.scan_parquet(where / "*.parquet").cast(USAGE_DTYPES), registry)
    say("done")
    usage = Usage(
        rows, registry, report, rejected, tz=tz, engine=session, cube=cube, budgets=budgets, engine_rows=engine_rows
    )
    return usage.with_accounts([x.accounts for x in key_parts])


def stage_files(session, files: list[tuple[Path, object]], shown: list[str]):
    """Canonical ``files`` (path, probe) staged on Spark as one DataFrame with ``_fidx`` (the file's
    position in ``files``), and the notes of the Parquet files by position.

    Parquet is read by one Spark scan per distinct file schema and checked by Spark expressions
    (:mod:`usagekit.sources.spark_stage`); CSV, JSON Lines and Parquet holding a column type those
    expressions do not read (:func:`by_expressions`) by one job with a task per file that runs the
    Polars readers and checks (:mod:`usagekit.sources.spark_text`): that part carries a
    note row per file, so persist the frame and pass it through :func:`_split` before use."""
    from pyspark.sql import functions as F

    from ..sources import spark_text

    parquet = [i for i, (path, pr) in enumerate(files) if by_expressions(path, pr)]
    text = sorted(set(range(len(files))) - set(parquet))
    notes_of: dict[int, list[str]] = {}
    staged = None
    for group in _by_schema([files[i][0] for i in parquet]):  # one Spark scan per distinct file schema
        idx = [parquet[j] for j in group]
        df, notes = spark_stage.read_parquet(session, [files[i][0] for i in idx], [shown[i] for i in idx])
        one = spark_stage.stage(df, file=shown[idx[0]]).withColumn(
            "_fidx", F.element_at(F.array(*[F.lit(i) for i in idx]), F.col("_fidx") + 1)
        )
        notes_of.update(dict.fromkeys(idx, notes))
        staged = one if staged is None else staged.unionByName(one, allowMissingColumns=True)
    if text:
        one = spark_text.stage(session, [(i, files[i][0], shown[i], files[i][1]) for i in text])
        staged = one if staged is None else one.unionByName(staged, allowMissingColumns=True)
    return staged, notes_of


def by_expressions(path: Path, probe) -> bool:
    """Whether a canonical file is checked by Spark expressions (Parquet whose every column type
    they read) rather than by the Polars checks run in a Spark task (CSV, JSON Lines, and Parquet
    holding other types: :func:`usagekit.sources.spark_stage.spark_checks`)."""
    return probe.kind == "parquet" and spark_stage.spark_checks(path)


def _split(tagged, shown: list[str]):
    """(staged rows, notes of the text files) of a persisted :func:`stage_files` frame; raises the
    first unreadable text file's error (the job collecting the notes fills the cache)."""
    from ..sources import spark_text

    if spark_text.META not in tagged.columns:
        return tagged, {}
    return spark_text.split(tagged, shown)


def _by_schema(paths: list[Path]) -> list[list[int]]:
    """Positions of ``paths`` grouped by Parquet schema (read from each footer), in order."""
    import pyarrow.parquet as pq

    groups: dict[tuple, list[int]] = {}
    for i, p in enumerate(paths):
        schema = pq.read_schema(p)
        groups.setdefault(tuple((f.name, str(f.type)) for f in schema), []).append(i)
    return list(groups.values())


def _stats(marked, good) -> pl.DataFrame:
    """Rows per file, reason and duplicate flag with the kept rows' measures (``loading._stats``)."""
    from pyspark.sql import functions as F

    def kept(e):
        return F.when(good, e)

    agg = marked.groupBy("_fidx", "_reject", "_dup").agg(
        F.count(F.lit(1)).alias("n"),
        F.count("request_id").alias("ids"),
        F.sum(kept(F.col("_naive")).cast("int")).alias("naive"),
        F.sum(kept(F.col("cost_cents").isNull()).cast("int")).alias("unpriced"),
        F.sum(kept(F.col("cost_cents"))).alias("cost"),
        F.min(kept(F.col("ts"))).alias("first"),
        F.max(kept(F.col("ts"))).alias("last"),
    )
    got = pl.from_arrow(agg.toArrow())
    if not got.height:
        return pl.DataFrame(schema=_STATS_SCHEMA)
    return got.with_columns(pl.col(c).fill_null(0) for c in ("naive", "unpriced")).select(
        [pl.col(c).cast(t) for c, t in _STATS_SCHEMA.items()]
    )


def _rejected(bad, report: LoadReport) -> pl.LazyFrame:
    """The rejected rows (at most :data:`MAX_REJECTED`, in file then row order) shaped on the
    driver by the same function as a Polars load (:func:`usagekit.loading.rejected_rows`)."""
    n = report.rejected + report.duplicates
    raw = [c for c in bad.columns if c.startswith("_raw_")]
    cols = [*USAGE_COLUMNS, "_file", "_row", "_field", "_reject", "_value", "_dup", *raw]
    got = pl.from_arrow(bad.select(*cols, "_fidx").orderBy("_fidx", "_row").limit(MAX_REJECTED).toArrow())
    if not got.height:
        got = pl.DataFrame(
            schema={
                **USAGE_DTYPES,
                "_file": pl.String,
                "_row": pl.Int64,
                "_field": pl.String,
                "_reject": pl.String,
                "_value": pl.String,
                "_dup": pl.Boolean,
                **{c: pl.String for c in raw},
            }
        )
    got = got.select(
        *[pl.col(c).cast(USAGE_DTYPES[c]) for c in USAGE_COLUMNS],
        *[pl.col(c) for c in cols if c not in USAGE_COLUMNS],
    )
    if n > MAX_REJECTED:
        msg = (
            f"{n:,} rows were not kept; usage.rejected holds the first {MAX_REJECTED:,} "
            "(a Spark load brings only these back to the driver; every row is counted above)"
        )
        report.files[0].notes.append(msg)
        print(f"usagekit: {msg}", file=sys.stderr)
    return L.rejected_rows(got.lazy())
