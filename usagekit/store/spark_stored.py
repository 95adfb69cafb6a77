"""``load(..., engine="spark")`` through the validated store: Spark validates only the files the
store lacks, and a load of unchanged files reads what was stored.

The store is the one :mod:`usagekit.store.cache` keeps, with entries of its own (Spark writes
them, so their rows are Spark's Parquet directories)::

    v<RULES_VERSION>/spark-files/<key>/   one canonical file (Parquet, CSV, JSON Lines), validated by Spark
        rows/              kept rows after the typed checks (masked), with _file, _row, _naive
        rejected/          rejected rows with their reason and raw cells (secrets masked)
        stats.parquet      the file's accounting (rows per reason, cost, span)
        cube.parquet       the file's month cube (before the key registry and duplicates)
        meta.json          what the entry is and every part file's size (written last)
    v<RULES_VERSION>/spark-loads/<key>/   one combination of files + key registry + time zone
        drop.parquet       (file index, _row) of repeated request ids across all the files
        stats.parquet      the accounting with duplicates counted
        cube.parquet       the month cube with the registry applied

A file's key is its fingerprint (as for the Polars entries) with the time zone, the rules
version and the code of the rules; a load's key is its ordered file keys with the registry's
fingerprint. A new Parquet file is validated alone (one file at a time: its staged rows cached for
its accounting and its two writes), new text files together (one task each); the duplicate check then runs as a Spark job over the request ids of
*every* file of the load, so an id repeated between an old and a new file is still caught. The
driver receives the accounting, the repeated ids' (file, row) pairs and the cubes; the kept and
rejected rows stay in the store, read lazily (the day log, ``usage.rejected``).

On a cluster the store must be a path the driver and every worker can read and write (Spark's
executors write the entries; the driver renames them into place).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import narwhals as nw
import polars as pl

from .. import loading as L
from .. import queries as q
from .. import sources
from ..errors import display_path
from ..schema import USAGE_COLUMNS, USAGE_DTYPES
from ..sources import spark_stage
from .cache import (
    RULES_VERSION,
    Entry,
    Store,
    code_fingerprint,
    fingerprint,
    frame_fingerprint,
    key_of,
    schema_fingerprint,
)
from .cube import apply_registry, apply_registry_spark, cube_schema, derive_spark, registry_on_cube

FILES, LOADS = "spark-files", "spark-loads"
#: the bookkeeping columns a kept row keeps in the store (a repeated id is shown from them)
_KEPT_EXTRA = ("_file", "_row", "_field", "_value", "_naive")
_DROP_SCHEMA = {"_fidx": pl.Int32, "_row": pl.Int64}


def load(
    session, st: Store, files: list[tuple[Path, object]], key_parts, skipped, tz: str, progress: bool, rehash=False
):
    """Canonical ``files`` (path, probe: Parquet, CSV or JSON Lines) -> :class:`~usagekit.usage.Usage`,
    validating on Spark only the files ``st`` does not hold."""
    from ..usage import Usage
    from .spark_load import _stats

    say = L._Phases(progress)
    for kind in (FILES, LOADS):
        (st.base / kind).mkdir(parents=True, exist_ok=True)
    say(f"looking up {len(files)} file(s) in the store {st.root}")
    schema = (schema_fingerprint(), code_fingerprint(), _own_code())
    found = []
    for path, pr in files:
        fp = fingerprint(path, rehash)
        fkey = key_of("spark-file", fp["path"], fp["size"], fp["mtime_ns"], fp["hash"], tz, RULES_VERSION, schema)
        found.append((path, pr, fkey, fp, st.get(FILES, fkey)))
    missing = [(path, pr, fkey, fp) for path, pr, fkey, fp, entry in found if entry is None]
    built = _validate(session, st, missing, tz, say, _stats) if missing else {}
    entries = [entry or built[fkey] for _, _, fkey, _, entry in found]
    registry = L._merge_keys([x.keys for x in key_parts if x.keys is not None])
    budgets = L._merge_budgets([x.budgets for x in key_parts if x.budgets is not None])
    lkey = key_of(
        "spark-load", [e.meta["key"] for e in entries], frame_fingerprint(registry), tz, RULES_VERSION, schema
    )
    combined = st.get(LOADS, lkey)
    if combined is None:
        combined = _combine(session, st, lkey, entries, registry, tz, say, _stats)
    stats = pl.read_parquet(combined.part("stats.parquet"))
    drops = pl.read_parquet(combined.part("drop.parquet"))
    cube = pl.read_parquet(combined.part("cube.parquet"))
    parts = [sources.Loaded("canonical", e.meta["file"], notes=list(e.meta["notes"])) for e in entries]
    report = L._report(stats, parts, key_parts, skipped, registry)
    report.store = str(st.root)
    report.validated_files = len(missing)
    report.stored_files = len(files) - len(missing)
    kept = _spark_rows(session, entries, drops)
    engine_rows = nw.from_native(derive_spark(apply_registry_spark(kept.select(*USAGE_COLUMNS), registry), tz))
    say("done")
    return Usage(
        _rows(entries, drops, registry),
        registry,
        report,
        _rejected(entries, drops),
        tz=tz,
        engine=session,
        cube=cube,
        budgets=budgets,
        engine_rows=engine_rows,
    )


_OWN: str | None = None


def _own_code() -> str:
    """A short hash of this module's and ``spark_load``'s source: an edit to how Spark entries are
    written rebuilds them (the loaders' own code is in :func:`~usagekit.store.cache.code_fingerprint`)."""
    global _OWN
    if _OWN is None:
        import hashlib

        here = Path(__file__).resolve().parent
        h = hashlib.blake2b(digest_size=8)
        for name in ("spark_stored.py", "spark_load.py"):
            h.update((here / name).read_bytes())
        _OWN = h.hexdigest()
    return _OWN


def _validate(session, st: Store, missing: list, tz: str, say, stats_of) -> dict[str, Entry]:
    """Validate ``missing`` files (path, probe, key, fingerprint) on Spark and store each as its own
    entry: key -> entry.

    Parquet files are validated one at a time: a file's staged rows are cached (memory, then disk)
    for its accounting and its two writes, so the cache holds one file (a partitioned write of a
    whole batch, which sorts every row, failed at 10M rows on ``local[2]``: the session died during
    it). CSV and JSON Lines files are staged together, by one Spark job with a task per file
    (:mod:`usagekit.sources.spark_text`), then written file by file from that cache."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    from .spark_load import _split, by_expressions, stage_files

    say(f"validating {len(missing)} file(s) on Spark")
    out: dict[str, Entry] = {}
    routed = [(m, by_expressions(m[0], m[1])) for m in missing]
    text = [m for m, fast in routed if not fast]
    groups = [[m] for m, fast in routed if fast] + ([text] if text else [])
    for group in groups:
        shown = [display_path(path) for path, *_ in group]
        tagged, notes_of = stage_files(session, [(path, pr) for path, pr, *_ in group], shown)
        tagged = tagged.persist(StorageLevel.MEMORY_AND_DISK)
        try:
            staged, text_notes = _split(tagged, shown)  # text: the job that fills the cache
            notes_of.update(text_notes)
            ok = F.col("_reject").isNull()
            all_stats = stats_of(staged.withColumn("_dup", F.lit(False)), ok)  # Parquet: fills the cache
            for j, (path, _, fkey, fp) in enumerate(L._each(group, say.on, "validating")):
                one = staged.filter(F.col("_fidx") == j) if len(group) > 1 else staged
                stats = all_stats.filter(pl.col("_fidx") == j).with_columns(pl.lit(0, pl.Int32).alias("_fidx"))
                out[fkey] = _store_file(session, st, one, stats, fkey, fp, shown[j], notes_of.get(j, []), tz)
        finally:
            try:
                tagged.unpersist()
            except Exception:  # noqa: BLE001 - the session failed: the error above says why
                pass
    return out


def _store_file(session, st: Store, staged, stats: pl.DataFrame, fkey: str, fp, shown: str, notes, tz) -> Entry:
    """One file's staged rows (on Spark) written as its entry: kept and rejected rows, accounting, cube."""
    from pyspark.sql import functions as F

    tmp = st.staging()
    try:
        ok = F.col("_reject").isNull()
        raw = [c for c in staged.columns if c.startswith("_raw_")]
        n_bad = int(stats.filter(pl.col("_reject").is_not_null())["n"].sum())
        n_ok = int(stats.filter(pl.col("_reject").is_null())["n"].sum())
        kept = staged.filter(ok).select(*USAGE_COLUMNS, *_KEPT_EXTRA)
        bad = staged.filter(~ok).select(  # a raw cell quoting a secret is stored masked (shown so anyway)
            *USAGE_COLUMNS,
            "_file",
            "_row",
            "_field",
            "_reject",
            *[spark_stage.redact(F.col(c)).alias(c) for c in ("_value", *raw)],
            "_naive",
        )
        for part, frame, n in (("rows", kept, n_ok), ("rejected", bad, n_bad)):
            if n:
                frame.write.parquet(str(tmp / part))
            else:  # nothing of this kind in the file: an empty part with the columns
                (tmp / part).mkdir()
                pl.from_arrow(frame.limit(0).toArrow()).write_parquet(tmp / part / "part-empty.parquet")
        schema = cube_schema(tz)
        if n_ok:
            rows = session.read.parquet(str(tmp / "rows")).select(*USAGE_COLUMNS)
            got = pl.from_arrow(q.cube(nw.from_native(derive_spark(rows, tz))).to_native().toArrow())
            cube = got.select([pl.col(c).cast(t) for c, t in schema.items()])
        else:
            cube = pl.DataFrame(schema=schema)
        stats.write_parquet(tmp / "stats.parquet")
        cube.write_parquet(tmp / "cube.parquet")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    meta = {"kind": "usage", "file": shown, "format": "canonical", "notes": notes, "fingerprint": fp, "tz": tz}
    return _commit(st, FILES, fkey, tmp, meta)


def _commit(st: Store, kind: str, key: str, tmp: Path, meta: dict) -> Entry:
    """:meth:`Store.commit` for an entry with directories of part files (what Spark writes): every
    file's size is recorded (a damaged entry is removed and rebuilt by :meth:`Store.get`)."""
    parts = {
        str(p.relative_to(tmp)): {"size": p.stat().st_size}
        for p in sorted(tmp.rglob("*"))
        if p.is_file() and not p.name.startswith((".", "_"))
    }
    return st.publish(kind, key, tmp, meta, parts)


def _spark_kept(session, entries: list[Entry]):
    """Every entry's kept rows as one Spark DataFrame (one scan, whatever the number of files), with
    ``_fidx`` (the file's place in the load) told from the directory each row's part file is in."""
    from pyspark.sql import functions as F

    dirs = [str(e.part("rows").resolve()) for e in entries]
    df = session.read.parquet(*dirs)
    where = F.regexp_extract(F.regexp_replace(F.col("_metadata.file_path"), "^file:/+", "/"), "^(.*)/[^/]*$", 1)
    fidx = F.create_map(*[x for i, d in enumerate(dirs) for x in (F.lit(_uri_path(d)), F.lit(i))])[where]
    return df.select(*[F.col(c) for c in df.columns], fidx.cast("int").alias("_fidx"))


def _uri_path(path: str) -> str:
    """``path`` as Spark spells a file's directory in ``_metadata.file_path`` (URI-escaped)."""
    return Path(path).as_uri().replace("file:///", "/")


def _combine(session, st: Store, lkey: str, entries: list[Entry], registry, tz: str, say, stats_of) -> Entry:
    """The load's repeated request ids (a Spark job over every file's ids), its accounting and its
    cube with the registry, stored as a load entry."""
    from pyspark.sql import functions as F

    say("checking request ids")
    kept = _spark_kept(session, entries)
    first = F.struct("_fidx", "_row")
    repeated = (
        kept.filter(F.col("request_id").isNotNull())
        .groupBy("request_id")
        .agg(F.count(F.lit(1)).alias("_n"), F.min(first).alias("_first"))
        .filter(F.col("_n") > 1)
    )
    dups = kept.join(repeated, on="request_id", how="inner").filter(first != F.col("_first")).select("_fidx", "_row")
    drops = pl.from_arrow(dups.toArrow())
    drops = (drops if drops.height else pl.DataFrame(schema=_DROP_SCHEMA)).cast(_DROP_SCHEMA).sort("_fidx", "_row")
    hit = sorted(set(drops["_fidx"].to_list()))
    say("counting rows")
    stats = []
    for i, e in enumerate(entries):
        s = pl.read_parquet(e.part("stats.parquet")).with_columns(pl.lit(i, pl.Int32).alias("_fidx"))
        stats.append(s.filter(pl.col("_reject").is_not_null()) if i in hit else s)
    cubes = [pl.read_parquet(e.part("cube.parquet")) for i, e in enumerate(entries) if i not in hit]
    if hit:  # files that lost rows to repeats: their counts and cube without them, from their rows
        marked = _marked(session, kept.filter(F.col("_fidx").isin(hit)), drops)
        stats.append(stats_of(marked.withColumn("_reject", F.lit(None).cast("string")), ~F.col("_dup")))
        say("building the month cube")
        cube = q.cube(nw.from_native(derive_spark(marked.filter(~F.col("_dup")).select(*USAGE_COLUMNS), tz)))
        schema = cube_schema(tz)
        got = pl.from_arrow(cube.to_native().toArrow())
        cubes.append(got.select([pl.col(c).cast(t) for c, t in schema.items()]) if got.height else None)
        cubes = [c for c in cubes if c is not None]
    stats = pl.concat(stats, how="vertical_relaxed").sort("_fidx", maintain_order=True)
    L.check_total(stats, [e.meta["file"] for e in entries])
    cube = cubes[0] if len(cubes) == 1 else q.cube(nw.from_native(pl.concat(cubes).lazy())).to_native().collect()
    cube = registry_on_cube(cube, registry)
    tmp = st.staging()
    try:
        drops.write_parquet(tmp / "drop.parquet")
        stats.write_parquet(tmp / "stats.parquet")
        cube.write_parquet(tmp / "cube.parquet")
        meta = {"kind": "load", "files": [e.meta["key"] for e in entries], "tz": tz}
        return st.commit(LOADS, lkey, tmp, meta, checksums=False)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _marked(session, kept, drops: pl.DataFrame):
    """``kept`` with ``_dup``: true for the rows of ``drops`` (a small frame, broadcast)."""
    from pyspark.sql import functions as F

    if not drops.height:
        return kept.withColumn("_dup", F.lit(False))
    d = session.createDataFrame(drops.with_columns(pl.lit(True).alias("_d")).to_pandas())
    d = d.select(F.col("_fidx").cast("int"), F.col("_row").cast("bigint"), "_d")
    return (
        kept.join(F.broadcast(d), on=["_fidx", "_row"], how="left")
        .withColumn("_dup", F.coalesce(F.col("_d"), F.lit(False)))
        .drop("_d")
    )


def _spark_rows(session, entries: list[Entry], drops: pl.DataFrame):
    """The kept rows of the load on Spark, repeats left out."""
    from pyspark.sql import functions as F

    return _marked(session, _spark_kept(session, entries), drops).filter(~F.col("_dup"))


def _scan(entry: Entry, part: str, i: int) -> pl.LazyFrame:
    return pl.scan_parquet(entry.part(part) / "*.parquet").with_columns(pl.lit(i, pl.Int32).alias("_fidx"))


def _typed(lf: pl.LazyFrame) -> pl.LazyFrame:
    return lf.with_columns(pl.col(c).cast(t) for c, t in USAGE_DTYPES.items())


def _rows(entries: list[Entry], drops: pl.DataFrame, registry: pl.DataFrame) -> pl.LazyFrame:
    """The kept rows as Polars scans them from the store (for views that need them on the driver)."""
    rows = pl.concat([_typed(_scan(e, "rows", i)) for i, e in enumerate(entries)], how="diagonal_relaxed")
    if drops.height:
        rows = rows.join(drops.lazy(), on=["_fidx", "_row"], how="anti", maintain_order="left")
    return apply_registry(rows.select(USAGE_COLUMNS), registry)


def _rejected(entries: list[Entry], drops: pl.DataFrame) -> pl.LazyFrame:
    """Rejected rows and dropped repeats, in file then row order (as a Polars load lists them)."""
    parts = []
    for i, e in enumerate(entries):
        parts.append(_typed(_scan(e, "rejected", i)).with_columns(pl.lit(False).alias("_dup")))
        mine = drops.filter(pl.col("_fidx") == i)
        if mine.height:
            dup = _typed(_scan(e, "rows", i)).join(mine.lazy(), on=["_fidx", "_row"], how="semi")
            parts.append(dup.with_columns(pl.lit(None, pl.String).alias("_reject"), pl.lit(True).alias("_dup")))
    marked = pl.concat(parts, how="diagonal_relaxed").sort("_fidx", "_row", maintain_order=True)
    return L.rejected_rows(marked)


__all__ = ["load"]
