"""The :class:`Usage` dataset: validated usage rows, the key registry and the load's accounting."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import polars as pl

from .accounting import LoadReport
from .schema import AXES, INT_COLUMNS, KEY_COLUMNS, USAGE_COLUMNS


def to_pandas(df: pl.DataFrame) -> pd.DataFrame:
    """A polars frame as pandas with honest dtypes: nullable Int64 counts, tz-aware UTC times."""
    out = df.to_pandas()
    for col in df.columns:
        if df.schema[col].is_integer():
            out[col] = out[col].astype("Int64")
    return out


class Usage:
    """Validated usage rows of the normalized table, ready to query.

    Made by :func:`usagekit.load`. Rows stay in the embedded engine (a lazy plan over the
    files, or columnar memory for parsed text): only results become pandas frames.

    Attributes
    ----------
    load_report : LoadReport
        rows read / kept / rejected / duplicates per file; ``print()`` it.
    tz : str
        time zone days are bucketed in (data itself is UTC).
    """

    def __init__(self, rows: pl.LazyFrame, registry: pl.DataFrame, report: LoadReport,
                 rejected: pl.LazyFrame, *, tz: str = "UTC"):
        self._rows = rows
        self._registry = registry
        self.load_report = report
        self._rejected = rejected
        self.tz = tz

    # -- the data -------------------------------------------------------------------------
    @property
    def lazy(self) -> pl.LazyFrame:
        """The rows as a polars LazyFrame (normalized columns)."""
        return self._rows

    @property
    def keys(self) -> pd.DataFrame:
        """The key registry (``key_id, key_name, account_id, spend_cap_cents, agent_id, created_at``)."""
        return to_pandas(self._registry.select(KEY_COLUMNS))

    @property
    def rejected(self) -> pd.DataFrame:
        """Every row not kept: file, row, field, reason, the raw value, then the parsed columns."""
        return to_pandas(self._rejected.collect())

    def write_rejected(self, path) -> Path:
        """Write :attr:`rejected` as CSV to ``path`` and return the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._rejected.collect().write_csv(path)
        return path

    def to_pandas(self) -> pd.DataFrame:
        """All kept rows as one pandas frame (materializes: mind the size)."""
        return to_pandas(self._rows.collect())

    def __len__(self) -> int:
        return self.load_report.kept

    def __repr__(self) -> str:
        r = self.load_report
        span = f"{r.first_ts:%Y-%m-%d} .. {r.last_ts:%Y-%m-%d}" if r.first_ts else "no rows"
        return f"<Usage {r.kept:,} rows from {len(r.files)} file(s), {span} UTC, days bucketed in {self.tz}>"

    def totals(self) -> dict:
        """Total cost (cents), requests and rows, overall and per axis."""
        agg = (self._rows.group_by("axis")
               .agg(cost_cents=pl.col("cost_cents").sum(), requests=pl.col("requests").sum(),
                    rows=pl.len(), unpriced=pl.col("cost_cents").is_null().sum())
               .collect())
        by_axis = {a: {"cost_cents": 0.0, "requests": 0, "rows": 0, "unpriced": 0} for a in AXES}
        for row in agg.iter_rows(named=True):
            by_axis[row["axis"]] = {k: row[k] for k in ("cost_cents", "requests", "rows", "unpriced")}
        return {
            "cost_cents": sum(v["cost_cents"] for v in by_axis.values()),
            "requests": sum(v["requests"] for v in by_axis.values()),
            "rows": sum(v["rows"] for v in by_axis.values()),
            "by_axis": by_axis,
        }

    def summary(self) -> str:
        """A few lines for people: span, totals per axis, keys, accounts."""
        t = self.totals()
        counts = self._rows.select(
            keys=pl.col("key_id").n_unique(), accounts=pl.col("account_id").drop_nulls().n_unique(),
            models=pl.col("model").drop_nulls().n_unique(),
            providers=pl.col("provider").drop_nulls().n_unique()).collect().row(0, named=True)
        lines = [repr(self),
                 f"total ${t['cost_cents'] / 100:,.2f} over {t['requests']:,} requests; "
                 f"{counts['accounts']} accounts, {counts['keys']} keys, {counts['models']} models, "
                 f"{counts['providers']} providers"]
        for axis, v in t["by_axis"].items():
            if v["rows"]:
                lines.append(f"  {axis:<8} ${v['cost_cents'] / 100:>12,.2f}  {v['requests']:>12,} requests")
        return "\n".join(lines)


__all__ = ["Usage", "to_pandas", "USAGE_COLUMNS", "INT_COLUMNS"]
