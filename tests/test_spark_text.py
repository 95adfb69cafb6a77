"""Canonical CSV and JSON Lines validated by Spark (the Polars readers and checks run in Spark tasks)
give what the Polars engine gives, with and without the validated store, and their rows are not
read on the driver."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest
from conftest import require, spark_available
from spark_fixtures import SECRET, count_rows_to_python, write_month, write_text_files

import usagekit

pytestmark = pytest.mark.spark

COLS = ["file", "row", "field", "reason", "value", "request_id", "key_id", "key_name", "ts", "tags", "cost_cents"]


def _keys(path):
    path.write_text(
        "key_id,key_name,account_id,spend_cap_cents\n"
        f"k-alpha,Alpha bot,acct-1,5000\nk-beta,Beta bot,acct-2,\n{SECRET},Secret bot,acct-1,100\n"
    )
    return path


@pytest.fixture(scope="module")
def month(tmp_path_factory):
    """Three Parquet files, a hostile CSV, a hostile JSON Lines file and a key registry, in one
    directory (as a user points ``load`` at it)."""
    ok, why = spark_available()
    require(ok, why)
    out = tmp_path_factory.mktemp("spark-text")
    write_month(out)
    write_text_files(out)
    _keys(out / "keys.csv")
    return out


@pytest.fixture(scope="module")
def both(month):
    """The Polars load, and the Spark load made with the driver's text readers and Polars checks
    switched off and every row Spark hands to Python counted."""
    import usagekit.loading as loading
    import usagekit.sources.canonical as canonical

    polars = usagekit.load(month, store=False)

    def refuse(*args, **kwargs):
        raise AssertionError("a canonical file's rows were read or staged on the driver")

    with pytest.MonkeyPatch.context() as mp:
        for name in ("stage", "read_csv_strings", "read_jsonl_records"):
            mp.setattr(canonical, name, refuse)
        mp.setattr(loading, "stage", refuse)
        seen = count_rows_to_python(mp)
        spark = usagekit.load(month, engine="spark", store=False)
    return polars, spark, sum(seen)


def _files(report):
    return [
        (f.file, f.format, f.read, f.kept, f.rejected, f.duplicates, f.naive_ts, f.unpriced, f.reasons, f.notes)
        + (f.first_ts, f.last_ts, f.keys)
        for f in report.files
    ]


def _kept(usage):
    df = usage.to_engine("polars").to_pandas() if usage.engine == "spark" else usage.to_pandas()
    return df.sort_values(["ts", "request_id", "cost_cents"], na_position="first").reset_index(drop=True)


def _same_as_polars(spark, polars):
    assert _files(spark.load_report) == _files(polars.load_report)
    for a, b in zip(polars.load_report.files, spark.load_report.files):
        assert b.cost_cents == pytest.approx(a.cost_cents, rel=1e-12)
    pd.testing.assert_frame_equal(spark.rejected[COLS], polars.rejected[COLS], check_dtype=False)
    pd.testing.assert_frame_equal(_kept(spark), _kept(polars), check_dtype=False)
    a, b = polars.filter(month="2026-10"), spark.filter(month="2026-10")
    for by in ("key", "model"):
        pd.testing.assert_frame_equal(b.daily(by=by), a.daily(by=by), check_dtype=False, rtol=1e-12)
    pd.testing.assert_frame_equal(b.key_summary(), a.key_summary(), check_dtype=False, rtol=1e-12)
    for day in ("2026-10-02", "2026-10-04", "2026-10-05"):
        da, db = a.day(day, page_size=500), b.day(day, page_size=500)
        assert db.attrs["total_rows"] == da.attrs["total_rows"]
        pd.testing.assert_frame_equal(db, da, check_dtype=False)
    assert a.day("2026-10-04").attrs["total_rows"] == 99  # the CSV's kept rows


def test_hostile_csv_and_jsonl_on_spark_give_the_polars_report_rows_and_numbers(both):
    polars, spark, _ = both
    assert spark.engine == "spark"
    _same_as_polars(spark, polars)
    r = spark.load_report
    assert r.balanced and r.read == 739 and r.kept == 676 and r.duplicates == 9
    by_file = {f.file.rsplit("/", 1)[-1]: f for f in r.files}
    csv, jsonl = by_file["usage-2026-10-04.csv"], by_file["usage-2026-10-05.jsonl"]
    assert (csv.read, csv.rejected, csv.duplicates, csv.naive_ts) == (120, 19, 2, 1)
    assert (jsonl.read, jsonl.rejected, jsonl.duplicates, jsonl.naive_ts) == (119, 13, 2, 1)  # a blank line
    assert csv.reasons["row has 5 fields but the header has 17"] == 1
    assert csv.reasons["row is incomplete (file truncated?)"] == 1
    assert csv.reasons["a field is longer than 1 MiB (the most a field may hold)"] == 1
    assert jsonl.reasons["line is not a JSON object"] == 1 and jsonl.reasons["line is not valid JSON (truncated?)"] == 3
    assert csv.notes == ["ignored columns not in the usage schema: Note"]
    assert jsonl.notes == ["ignored columns not in the usage schema: extra"]
    assert by_file["keys.csv"].keys == 3


def test_the_text_files_rejected_rows_name_row_line_field_and_value_with_secrets_masked(both):
    _, spark, _ = both
    rej = spark.rejected
    csv = rej[rej["file"].str.endswith(".csv")].set_index("row")
    assert csv.loc[6, ["field", "value"]].tolist() == ["cost_cents", "abc"]
    assert csv.loc[24, ["field", "value"]].tolist() == ["model", "(longer than 1 MiB)"]
    assert csv.loc[22, "reason"] == "duplicate request_id" and csv.loc[22, "request_id"] == "a-20"  # Parquet's
    assert csv.loc[18, "value"] == "sk-proj-...0123#7f56d1f9"  # an unknown status quoting a secret
    jsonl = rej[rej["file"].str.endswith(".jsonl")].set_index("row")
    assert jsonl.loc[6, "value"] == "[1, 2, 3]" and jsonl.loc[7, "field"] == "column 49"
    assert jsonl.loc[120, "reason"] == "line is not valid JSON (truncated?)"  # the cut last line
    assert set(jsonl.loc[[13, 14], "request_id"]) == {"t-40", "b-50"}  # repeats of the CSV and of Parquet
    text = rej.to_csv() + spark.breakdown("key").to_csv() + spark.to_engine("polars").to_pandas().to_csv()
    assert SECRET not in text and "sk-proj-...0123#" in text


def test_the_text_files_rows_never_reach_the_driver(both):
    """The driver's text readers and Polars checks refused to run (see ``both``); what Spark handed
    to Python is the accounting, the rejected rows, one note row per text file and the cube."""
    _, spark, returned = both
    cube_rows = len(spark.rollup().cube.to_native().collect())
    assert returned <= cube_rows + len(spark.rejected) + 2 + 40
    assert spark.load_report.kept == 676


def test_text_files_through_the_spark_store_cold_warm_and_one_new_file(month, tmp_path, monkeypatch):
    import usagekit.sources.spark_stage as spark_stage
    import usagekit.sources.spark_text as spark_text

    store = tmp_path / "store"
    src = tmp_path / "src"
    src.mkdir()
    for p in month.iterdir():
        if p.suffix != ".jsonl":
            shutil.copy(p, src / p.name)
    first = usagekit.load(src, engine="spark", store=store)
    assert (first.load_report.validated_files, first.load_report.stored_files) == (4, 0)
    _same_as_polars(first, usagekit.load(src, store=False))

    shutil.copy(month / "usage-2026-10-05.jsonl", src / "usage-2026-10-05.jsonl")
    grown = usagekit.load(src, engine="spark", store=store)
    assert (grown.load_report.validated_files, grown.load_report.stored_files) == (1, 4)
    # the new file's repeats of the stored CSV and of a stored Parquet file are caught
    assert grown.load_report.files[-2].duplicates == 2 and grown.load_report.duplicates == 9
    polars = usagekit.load(src, store=False)
    assert polars.load_report.read == 739 and polars.load_report.duplicates == 9
    _same_as_polars(grown, polars)

    def refuse(*args, **kwargs):
        raise AssertionError("an unchanged file was validated again")

    monkeypatch.setattr(spark_text, "stage", refuse)
    monkeypatch.setattr(spark_stage, "stage", refuse)
    warm = usagekit.load(src, engine="spark", store=store)
    assert (warm.load_report.validated_files, warm.load_report.stored_files) == (0, 5)
    _same_as_polars(warm, polars)
    assert not any(SECRET.encode() in p.read_bytes() for p in store.rglob("*") if p.is_file())


def test_an_unreadable_text_file_on_spark_is_the_polars_error(tmp_path):
    ok, why = spark_available()
    require(ok, why)
    write_month(tmp_path)
    (tmp_path / "usage-2026-10-09.csv").write_text("ts,request_id\n2026-10-09T00:00:00Z,x-1\n")
    with pytest.raises(usagekit.errors.SourceError) as on_polars:
        usagekit.load(tmp_path, store=False)
    with pytest.raises(usagekit.errors.SourceError) as on_spark:
        usagekit.load(tmp_path, engine="spark", store=False)
    assert str(on_spark.value) == str(on_polars.value)
    assert "usage-2026-10-09.csv" in str(on_spark.value) and "missing required column 'cost_cents'" in str(
        on_spark.value
    )


def test_a_secret_pattern_added_on_the_driver_masks_text_cells_on_the_workers(tmp_path, monkeypatch):
    """The workers mask with the patterns the driver has, including one added at run time
    (``masking.add_pattern``), so no such secret reaches the results or the store."""
    ok, why = spark_available()
    require(ok, why)
    from usagekit import masking

    token = "acme_tok_Q1w2E3r4T5y6U7i8"
    monkeypatch.setattr(masking, "_extra", [r"\b(acme_tok_)[A-Za-z0-9]{12,}"])
    src = tmp_path / "usage.csv"
    src.write_text(
        "ts,request_id,key_id,cost_cents,status\n"
        f"2026-10-01T00:00:00Z,r1,{token},1.5,success\n"
        f"2026-10-01T01:00:00Z,r2,k-1,2,{token}\n"
    )
    store = tmp_path / "store"
    usage = usagekit.load(src, engine="spark", store=store)
    assert (usage.load_report.kept, usage.load_report.rejected) == (1, 1)
    masked = usage.rejected["value"].tolist() + usage.to_engine("polars").to_pandas()["key_id"].tolist()
    assert len(masked) == 2 and all(m.startswith("acme_tok_...U7i8#") for m in masked)  # cell, kept key id
    text = usage.rejected.to_csv() + usage.breakdown("key").to_csv() + usage.to_engine("polars").to_pandas().to_csv()
    assert token not in text
    assert not any(token.encode() in p.read_bytes() for p in store.rglob("*") if p.is_file())


def test_parquet_with_types_spark_does_not_read_is_checked_in_tasks_as_on_polars(tmp_path):
    """A time-of-day column (Spark cannot read it), a list in a text column and bytes: the file is
    staged by the Polars checks in a Spark task, so Spark gives the Polars engine's result."""
    import datetime as dt

    import pyarrow as pa
    import pyarrow.parquet as pq

    ok, why = spark_available()
    require(ok, why)
    base = dt.datetime(2026, 10, 3, 9, tzinfo=dt.UTC)
    n = 6
    table = pa.table(
        {
            "ts": pa.array([base + dt.timedelta(hours=i) for i in range(n)], pa.timestamp("us", tz="UTC")),
            "request_id": [f"t-{i}" for i in range(n)],
            "key_id": ["k-alpha"] * n,
            "model": pa.array([["gpt-4o", "x"], ["o3"], None, ["gpt-4o"], [], ["a", None]], pa.list_(pa.string())),
            "provider": pa.array([b"openai", b"openai", b"\xff\xfe", None, b"anthropic", b"openai"], pa.binary()),
            "cost_cents": [1.5, 2.25, 3.0, 0.125, 4.0, 5.5],
            "cached_at": pa.array([dt.time(1, 2, 3)] * n, pa.time64("us")),
        }
    )
    pq.write_table(table, tmp_path / "odd.parquet")
    from usagekit.sources.spark_stage import spark_checks

    assert not spark_checks(tmp_path / "odd.parquet")
    polars = usagekit.load(tmp_path / "odd.parquet", store=False)
    spark = usagekit.load(tmp_path / "odd.parquet", engine="spark", store=False)
    assert _files(spark.load_report) == _files(polars.load_report)
    pd.testing.assert_frame_equal(spark.rejected[COLS], polars.rejected[COLS], check_dtype=False)
    pd.testing.assert_frame_equal(_kept(spark), _kept(polars), check_dtype=False)
    models = sorted(_kept(spark)["model"].dropna())
    assert '["gpt-4o", "x"]' in models  # the list spelled as the Polars checks spell it (JSON)
    assert spark.total()["cost_cents"] == pytest.approx(polars.total()["cost_cents"], rel=1e-12)
    # through the store as well: the file gets a Spark entry made by the tasks
    store = tmp_path / "store"
    stored = usagekit.load(tmp_path / "odd.parquet", engine="spark", store=store)
    assert stored.load_report.validated_files == 1
    pd.testing.assert_frame_equal(_kept(stored), _kept(polars), check_dtype=False)
