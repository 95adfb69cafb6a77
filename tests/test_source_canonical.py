"""The canonical format as Parquet written by other tools: typed columns that are not quite ours."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import polars as pl
import pytest

import usagekit
from usagekit.errors import SourceError


def test_parquet_date_column_is_read_as_midnight_utc(tmp_path):
    pl.DataFrame({"ts": [dt.date(2026, 10, 1)], "cost_cents": [1.5], "request_id": ["a"]}).write_parquet(
        tmp_path / "u.parquet"
    )
    df = usagekit.load(tmp_path / "u.parquet").to_pandas()
    assert df["ts"].tolist() == [pd.Timestamp("2026-10-01T00:00:00Z")]


def test_parquet_integer_ts_is_a_clear_error_naming_the_field(tmp_path):
    pl.DataFrame({"ts": [1790812800], "cost_cents": [1.5]}).write_parquet(tmp_path / "u.parquet")
    with pytest.raises(SourceError, match=r"u.parquet field 'ts': column 'ts' holds Int64 values"):
        usagekit.load(tmp_path / "u.parquet")


def test_parquet_tags_of_a_type_holding_no_lists_is_a_clear_error(tmp_path):
    pl.DataFrame({"ts": [dt.datetime(2026, 10, 1, tzinfo=dt.UTC)], "cost_cents": [1.5], "tags": [7]}).write_parquet(
        tmp_path / "u.parquet"
    )
    with pytest.raises(SourceError, match=r"u.parquet field 'tags': column 'tags' holds Int64, not tag lists"):
        usagekit.load(tmp_path / "u.parquet", store=False)
