"""Every value a Parquet file's text columns can hold, read from the file's dictionaries.

The id, name and word columns of a usage export hold a few dozen distinct values in millions
of rows, and Parquet writers store such a column as a dictionary of its values plus small
integer codes. Read that way (pyarrow decodes the codes and hashes no text), a file tells
staging every value a column may hold, so :func:`usagekit.sources._stage.stage` passes a column
whose every value is already clean through untouched, instead of checking it batch by batch.

Reading the dictionaries costs a pass over those columns, which pays off when the whole file
is validated, not when a query reads a few of its rows again; so it is done only inside
:func:`validating` (the loads that validate files).

>>> import polars as pl, tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "u.parquet"
>>> pl.DataFrame({"model": ["a", "b", None, "a"]}).write_parquet(path)
>>> with validating():
...     values = text_values(path, {"model": "model"})
>>> sorted(values["model"][0].to_list()), values["model"][1]
(['a', 'b'], True)
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

import polars as pl

#: a column with more distinct values than this is left to the per-batch checks
MAX_VALUES = 4096

_VALIDATING: ContextVar[bool] = ContextVar("usagekit_validating", default=False)


@contextmanager
def validating():
    """Within this block, Parquet reads learn their text columns' values (see the module docstring)."""
    token = _VALIDATING.set(True)
    try:
        yield
    finally:
        _VALIDATING.reset(token)


def text_values(path: Path, columns: dict[str, str]) -> dict[str, tuple[pl.Series, bool]]:
    """``columns`` (the file's column name -> the name staging gives it) -> for each text column
    of the file: (every distinct non-null value it may hold, whether it holds a null), keyed by the
    staged name. The values may include some no row holds (a dictionary can), never miss one.

    Empty outside :func:`validating`, and for a file pyarrow cannot read this way (the usual read
    then reports it); columns that are not text or hold more than :data:`MAX_VALUES` values are left out.
    """
    if not _VALIDATING.get() or not columns:
        return {}
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(path)
        schema = pf.schema_arrow
        text = [
            c
            for c in columns
            if c in schema.names
            and schema.names.count(c) == 1
            and (pa.types.is_string(schema.field(c).type) or pa.types.is_large_string(schema.field(c).type))
        ]
        if not text:
            return {}
        pf = pq.ParquetFile(path, read_dictionary=text)
        dicts: dict[str, list] = {c: [] for c in text}
        nulls = dict.fromkeys(text, False)
        for i in range(pf.num_row_groups):  # one row group at a time: memory bounded by it
            if not dicts:
                break
            group = pf.read_row_group(i, columns=list(dicts))
            for c in list(dicts):
                chunks = group.column(c).chunks
                if not all(isinstance(ch, pa.DictionaryArray) for ch in chunks):
                    del dicts[c]
                    continue
                dicts[c] += [ch.dictionary.cast(pa.large_string()) for ch in chunks]
                nulls[c] = nulls[c] or any(ch.null_count for ch in chunks)
                if sum(len(d) for d in dicts[c]) > MAX_VALUES:  # keep the distinct ones only
                    dicts[c] = [pa.chunked_array(dicts[c]).unique()]
                    if len(dicts[c][0]) > MAX_VALUES:
                        del dicts[c]
            del group
        del pf
        pa.default_memory_pool().release_unused()  # the row groups' codes: give the memory back now
        out = {}
        for c, parts in dicts.items():
            values = pl.Series(c, pa.chunked_array(parts, type=pa.large_string()), dtype=pl.String).unique()
            values = values.drop_nulls()
            if len(values) <= MAX_VALUES:
                out[columns[c]] = (values, nulls[c])
        return out
    except Exception:  # noqa: BLE001 - an unusual or damaged file: the per-batch checks handle it
        return {}


__all__ = ["MAX_VALUES", "text_values", "validating"]
