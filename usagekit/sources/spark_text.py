"""Canonical CSV and JSON Lines staged on Spark's executors: one task per file, the Polars rules.

(So is canonical Parquet holding a column type Spark's expressions do not read, such as a time of
day or a struct: :func:`usagekit.sources.spark_stage.spark_checks`.)

A text file's checks are the ones a Polars load runs (the readers of :mod:`usagekit.sources._io`:
ragged rows, a truncated last row or line, the field size limit, BOM and CRLF, JSON limits; then
:func:`usagekit.sources._stage.stage`), so a row is rejected for the same reason, on the same row
or line, with the same value. They run *inside* a Spark task (``mapInArrow``): the driver plans one
task per file and receives one small note row per file (the file's notes, or the error that makes
it unreadable), never its rows. The staged rows leave the task as Arrow batches with the columns
(and Spark types) :func:`usagekit.sources.spark_stage.stage` gives canonical Parquet, so the
duplicate check, the accounting, the writes and the cube downstream run as for Parquet.

The workers must be able to ``import usagekit`` (a local session's workers inherit the driver's
``PYTHONPATH``; on a cluster install usagekit on every worker, or ship it with
``spark.submit.pyFiles`` / ``SparkContext.addPyFile``) and read the file at the path the driver
names (as for Parquet). Each task holds one file in memory while it checks it (as a Polars load
does on the driver), then hands it on in batches of :data:`BATCH_ROWS`.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..schema import USAGE_COLUMNS, USAGE_DTYPES
from ._stage import CHECKED

#: the column naming a note row (a file's notes or error; null on every staged row)
META = "_meta"
#: staged rows per Arrow batch a task hands to Spark
BATCH_ROWS = 65_536
_BOOKKEEPING = (("_file", "string"), ("_row", "bigint"), ("_reject", "string"), ("_field", "string"))
_TAIL = (("_value", "string"), ("_naive", "boolean"))


def columns() -> list[tuple[str, str]]:
    """(name, Spark SQL type) of what a task yields: the usage columns, the bookkeeping columns,
    a raw cell for every checked column, ``_fidx`` and :data:`META`."""
    from .spark_stage import _spark_type

    return [
        *[(c, _spark_type(USAGE_DTYPES[c])) for c in USAGE_COLUMNS],
        *_BOOKKEEPING,
        *_TAIL,
        *[(f"_raw_{c}", "string") for c in CHECKED],
        ("_fidx", "int"),
        (META, "string"),
    ]


def _arrow_schema():
    import pyarrow as pa

    kinds = {
        "string": pa.string(),
        "bigint": pa.int64(),
        "int": pa.int32(),
        "double": pa.float64(),
        "boolean": pa.bool_(),
        "timestamp": pa.timestamp("us", tz="UTC"),
        "array<string>": pa.list_(pa.string()),
    }
    return pa.schema([(name, kinds[kind]) for name, kind in columns()])


def stage(session, files: list[tuple[int, Path, str, object]]):
    """Text ``files`` (file index in the load, path, shown name, probe) -> a Spark DataFrame of
    their staged rows and one note row per file (:data:`META` set), computed by one Spark job with
    one task per file. Persist it, then :func:`split` it."""
    from .. import masking

    todo = [(i, str(path), shown, probe) for i, path, shown, probe in files]
    ddl = ", ".join(f"`{name}` {kind}" for name, kind in columns())
    ids = session.range(0, len(todo), 1, len(todo))  # one row per file, each in its own partition
    return ids.mapInArrow(_task(todo, masking.patterns()), ddl)


def _task(todo: list, patterns: list[str]):
    """The function each task runs (pickled to the workers with the file list and the secret
    patterns the driver masks with, so a pattern added on the driver masks there too)."""

    def run(batches):
        _use_patterns(patterns)
        schema = _arrow_schema()
        for batch in batches:
            for pos in batch.column("id").to_pylist():
                yield from _stage_file(*todo[pos], schema)

    return run


def _use_patterns(patterns: list[str]) -> None:
    from .. import masking

    for p in patterns:
        if p not in masking.patterns():
            masking.add_pattern(p)


def _stage_file(fidx: int, path: str, shown: str, probe, schema):
    """One file read and checked by the canonical reader; its staged rows as Arrow batches, then
    its note row."""
    import polars as pl
    import pyarrow as pa

    from ..errors import SourceError, UsagekitError
    from ..masking import redact_expr
    from . import canonical

    def note(meta: dict):
        row = {name: None for name in schema.names}
        row.update(_file=shown, _fidx=fidx, _meta=json.dumps(meta))
        return pa.RecordBatch.from_pylist([row], schema=schema)

    try:
        loaded = canonical.read(Path(path), probe)
        staged = loaded.usage.collect()
    except SourceError as exc:
        yield note({"error": type(exc).__name__, "problem": exc.problem, "row": exc.row, "field": exc.field,
                    "expected": exc.expected})  # fmt: skip
        return
    except UsagekitError as exc:
        yield note({"error": "UsagekitError", "problem": str(exc)})
        return
    have = set(staged.columns)
    # a reader's quoted line or cell and the raw cells may hold a secret: masked before they leave
    # (masking twice gives the masked id once: the driver shows them as a Polars load does)
    raw = [f"_raw_{c}" for c in CHECKED]
    staged = staged.select(
        *USAGE_COLUMNS,
        pl.lit(shown).alias("_file"),
        "_row",
        "_reject",
        "_field",
        redact_expr("_value"),
        "_naive",
        *[redact_expr(c) if c in have else pl.lit(None, pl.String).alias(c) for c in raw],
        pl.lit(fidx, pl.Int32).alias("_fidx"),
        pl.lit(None, pl.String).alias(META),
    )
    for start in range(0, staged.height, BATCH_ROWS):
        table = staged.slice(start, BATCH_ROWS).to_arrow().cast(schema)
        yield from table.to_batches()
    del staged
    yield note({"notes": list(loaded.notes)})


def split(tagged, shown: list[str]):
    """A persisted :func:`stage` frame -> (its staged rows, notes by file index). Collects the note
    rows (the job that fills the cache) and raises the error of the first unreadable file, as a
    Polars load raises it, naming the file as the driver names it."""
    from pyspark.sql import functions as F

    from .. import errors

    notes: dict[int, list[str]] = {}
    failed = []
    for row in tagged.filter(F.col(META).isNotNull()).select("_fidx", META).collect():
        meta = json.loads(row[META])
        if "error" in meta:
            failed.append((row["_fidx"], meta))
        else:
            notes[row["_fidx"]] = meta["notes"]
    if failed:
        fidx, meta = min(failed, key=lambda x: x[0])
        if meta["error"] == "UsagekitError":
            raise errors.UsagekitError(meta["problem"])
        kind = getattr(errors, meta["error"], errors.SourceError)
        raise kind(shown[fidx], meta["problem"], row=meta["row"], field=meta["field"], expected=meta["expected"])
    return tagged.filter(F.col(META).isNull()).drop(META), notes


__all__ = ["stage", "split", "columns", "META"]
