"""The normalized columns themselves, as CSV, JSON Lines or Parquet (gzip allowed for text).

This is usagekit's own interchange format: what ``usagekit demo-data`` writes and what a
proxy can log directly. Required columns: ``ts`` and ``cost_cents`` (an empty cost cell
means unpriced); every other column of :data:`usagekit.schema.USAGE_COLUMNS` is optional.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from ..errors import SourceError, display_path
from ..schema import USAGE_COLUMNS
from ._dictionary import text_values
from ._io import Probe, read_csv_strings, read_jsonl_records, unique_names
from ._stage import PER_VALUE_COLUMNS, stage
from .base import Format, Loaded

REQUIRED = ("ts", "cost_cents")


def sniff(probe: Probe) -> bool:
    if probe.kind in ("csv", "parquet"):
        cols = probe.columns
    elif probe.kind == "jsonl" and probe.first is not None:
        cols = {k.lower() for k in probe.first}
    else:
        return False
    return "ts" in cols and ("cost_cents" in cols or "key_id" in cols or "request_id" in cols)


def check_columns(columns, shown: str) -> list[str]:
    present = {c.strip().lower(): c for c in columns if not c.startswith("_")}
    missing = [c for c in REQUIRED if c not in present]
    if missing:
        raise SourceError(
            shown,
            f"missing required column '{missing[0]}'",
            field=missing[0],
            expected=f"usagekit's canonical columns ({', '.join(REQUIRED)} required; "
            f"optional: {', '.join(c for c in USAGE_COLUMNS if c not in REQUIRED)})",
        )
    return [present[c] for c in present if c not in USAGE_COLUMNS]


def _typed_ts(lf: pl.LazyFrame, shown: str) -> pl.LazyFrame:
    """A Parquet ``ts`` must be a timestamp or text; a date is read as midnight (UTC)."""
    dtype = lf.collect_schema()["ts"]
    if dtype == pl.Date:
        return lf.with_columns(pl.col("ts").cast(pl.Datetime("us")))
    if dtype == pl.String or isinstance(dtype, pl.Datetime):
        return lf
    raise SourceError(
        shown,
        f"column 'ts' holds {dtype} values, not times",
        field="ts",
        expected="a Parquet timestamp column (UTC) or ISO-8601 text",
    )


def read(path: Path, probe: Probe) -> Loaded:
    if probe.kind == "parquet":
        shown = display_path(path)
        unique_names(probe.header, shown)
        extra = check_columns(probe.header, shown)
        lf = pl.scan_parquet(path, row_index_name="_row", row_index_offset=1)
        keep = [c for c in probe.header if c.strip().lower() in USAGE_COLUMNS]
        lf = lf.select("_row", *[pl.col(c).alias(c.strip().lower()) for c in keep])
        lf = _typed_ts(lf, shown)
        values = text_values(path, {c: c.strip().lower() for c in keep if c.strip().lower() in PER_VALUE_COLUMNS})
        loaded = Loaded(
            "canonical",
            shown,
            stage(lf, file=shown, source="canonical", values=values),
            in_memory=False,
            scan_bytes=path.stat().st_size,
        )
    else:
        df, shown = read_csv_strings(path) if probe.kind == "csv" else read_jsonl_records(path)
        extra = check_columns(df.columns, shown)
        df = df.rename({c: c.strip().lower() for c in df.columns if c.strip().lower() in USAGE_COLUMNS})
        df = df.drop(extra)
        loaded = Loaded("canonical", shown, stage(df, file=shown, source="canonical"))
    if extra:
        loaded.notes.append(f"ignored columns not in the usage schema: {', '.join(sorted(extra))}")
    return loaded


FORMAT = Format(
    "canonical", "usagekit's normalized columns (CSV, JSON Lines or Parquet)", ("csv", "jsonl", "parquet"), sniff, read
)
