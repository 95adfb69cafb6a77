"""Canonical Parquet validated by Spark jobs gives what the Polars load gives, without the rows
passing through the driver, and through the validated store: a second load reads it, a new file
is validated alone."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import require, spark_available
from spark_fixtures import SECRET, count_rows_to_python, write_month

import usagekit

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def month(tmp_path_factory):
    ok, why = spark_available()
    require(ok, why)
    return write_month(tmp_path_factory.mktemp("spark-month"))


@pytest.fixture(scope="module")
def both(month):
    polars = usagekit.load(month, store=False)
    spark = usagekit.load(month, engine="spark", store=False)
    return polars, spark


def _files(report):
    return [
        (f.file, f.read, f.kept, f.rejected, f.duplicates, f.naive_ts, f.unpriced, f.reasons, f.first_ts, f.last_ts)
        for f in report.files
    ]


def test_spark_load_report_counts_every_row_as_polars_does(both):
    polars, spark = both
    assert _files(spark.load_report) == _files(polars.load_report)
    for a, b in zip(polars.load_report.files, spark.load_report.files):
        assert b.cost_cents == pytest.approx(a.cost_cents, rel=1e-12)
        assert b.notes == a.notes
    r = spark.load_report
    assert r.balanced and r.read == 500 and r.duplicates == 5
    assert r.reasons["unparseable timestamp"] == 2 and r.reasons["negative cost"] == 2
    assert spark.engine == "spark"


def test_spark_rejects_the_same_rows_for_the_same_reasons_with_secrets_masked(both):
    polars, spark = both
    cols = ["file", "row", "field", "reason", "value", "request_id", "key_id", "key_name", "provider", "ts"]
    a, b = polars.rejected[cols], spark.rejected[cols]
    pd.testing.assert_frame_equal(b, a, check_dtype=False)
    assert "duplicate request_id" in set(b["reason"])
    assert {"2026-02-30T00:00:00Z", "not-a-time", "abc", "99999999999999999999"} <= set(b["value"].dropna())
    text = spark.rejected.to_csv() + spark.breakdown("key").to_csv()
    assert SECRET not in text and "sk-proj-...0123#" in text


def test_spark_answers_daily_breakdown_key_summary_and_invoice_as_polars(both):
    polars, spark = both
    a, b = polars.filter(month="2026-10"), spark.filter(month="2026-10")
    for by in ("model", "key", "provider", "tag"):
        pd.testing.assert_frame_equal(b.daily(by=by), a.daily(by=by), check_dtype=False, rtol=1e-12)
        pd.testing.assert_frame_equal(b.breakdown(by), a.breakdown(by), check_dtype=False, rtol=1e-12)
    assert b.total() == pytest.approx(a.total(), rel=1e-12)
    assert set(a.breakdown("provider")["provider"]) >= {"openai-compat", "anthropic"}  # lower-cased, kept
    pd.testing.assert_frame_equal(b.key_summary(), a.key_summary(), check_dtype=False, rtol=1e-12)
    ia, ib = a.invoice(by_model=True), b.invoice(by_model=True)
    pd.testing.assert_frame_equal(ib.lines, ia.lines, check_dtype=False, rtol=1e-12)
    assert (ib.billed_total_cents, ib.unpriced_rows) == (ia.billed_total_cents, ia.unpriced_rows)
    assert ib.continuous_total_cents == pytest.approx(ia.continuous_total_cents, rel=1e-12)
    assert str(b.freshness(now="2026-10-04")) == str(a.freshness(now="2026-10-04"))
    da, db = a.day("2026-10-02", page_size=500), b.day("2026-10-02", page_size=500)
    assert db.attrs["total_rows"] == da.attrs["total_rows"] > 100
    pd.testing.assert_frame_equal(db, da, check_dtype=False)


def test_spark_load_never_reads_the_rows_on_the_driver(month, monkeypatch):
    """The Polars readers and checks are switched off, and every row Spark hands to Python is
    counted: the load must come back with counts, the few rejected rows and the cube only."""

    import usagekit.loading as loading
    import usagekit.sources.canonical as canonical

    def refuse(*args, **kwargs):
        raise AssertionError("a canonical file was staged by Polars on the driver")

    monkeypatch.setattr(canonical, "stage", refuse)  # what canonical.read validates with
    monkeypatch.setattr(loading, "stage", refuse)
    seen = count_rows_to_python(monkeypatch)
    usage = usagekit.load(month, engine="spark", store=False)
    assert usage.load_report.read == 500
    returned = sum(seen)
    cube_rows = len(usage.rollup().cube.to_native().collect())
    rejected = len(usage.rejected)
    # stats (a few rows per file), the rejected rows and the cube: nothing per kept row
    assert returned <= cube_rows + rejected + 40
    assert usage.load_report.kept == 473  # as the Polars load keeps


def _same_as_polars(spark, polars):
    assert _files(spark.load_report) == _files(polars.load_report)
    cols = ["file", "row", "field", "reason", "value", "request_id", "key_id", "key_name", "provider", "ts"]
    pd.testing.assert_frame_equal(spark.rejected[cols], polars.rejected[cols], check_dtype=False)
    a, b = polars.filter(month="2026-10"), spark.filter(month="2026-10")
    pd.testing.assert_frame_equal(b.daily(by="key"), a.daily(by="key"), check_dtype=False, rtol=1e-12)
    pd.testing.assert_frame_equal(b.key_summary(), a.key_summary(), check_dtype=False, rtol=1e-12)
    da, db = a.day("2026-10-02", page_size=500), b.day("2026-10-02", page_size=500)
    pd.testing.assert_frame_equal(db, da, check_dtype=False)


def test_a_second_spark_load_of_unchanged_files_reads_the_store_without_validating(both, month, tmp_path, monkeypatch):
    import usagekit.sources.spark_stage as spark_stage

    polars, _ = both
    store = tmp_path / "store"
    cold = usagekit.load(month, engine="spark", store=store)
    assert (cold.load_report.validated_files, cold.load_report.stored_files) == (3, 0)
    assert cold.load_report.store == str(store) and "validated store" in str(cold.load_report)
    _same_as_polars(cold, polars)

    def refuse(*args, **kwargs):
        raise AssertionError("an unchanged file was validated again")

    monkeypatch.setattr(spark_stage, "stage", refuse)
    warm = usagekit.load(month, engine="spark", store=store)
    assert (warm.load_report.validated_files, warm.load_report.stored_files) == (0, 3)
    assert warm.engine == "spark"
    _same_as_polars(warm, polars)


def test_a_new_file_is_validated_alone_and_its_repeat_of_an_old_id_is_caught(both, month, tmp_path):
    polars, _ = both
    store = tmp_path / "store"
    first = usagekit.load(month[:2], engine="spark", store=store)
    assert first.load_report.duplicates == 4  # within file 1, within file 2 and file 2 repeating file 1
    grown = usagekit.load(month, engine="spark", store=store)
    assert (grown.load_report.validated_files, grown.load_report.stored_files) == (1, 2)
    # the third file's first row repeats a request id of the (stored) second file
    assert grown.load_report.files[2].duplicates == 1 and grown.load_report.duplicates == 5
    assert grown.rejected.query("reason == 'duplicate request_id'")["request_id"].tolist().count("b-40") == 1
    _same_as_polars(grown, polars)


def test_a_changed_file_is_validated_again(month, tmp_path):
    import os
    import shutil

    files = []
    for p in month:
        shutil.copy(p, tmp_path / p.name)
        files.append(tmp_path / p.name)
    store = tmp_path / "store"
    usagekit.load(files, engine="spark", store=store)
    st = os.stat(files[1])
    os.utime(files[1], ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    again = usagekit.load(files, engine="spark", store=store)
    assert (again.load_report.validated_files, again.load_report.stored_files) == (1, 2)
    assert again.load_report.kept == 473


def test_a_damaged_spark_entry_is_rebuilt_not_trusted(month, tmp_path, capsys):
    store = tmp_path / "store"
    usagekit.load(month, engine="spark", store=store)
    part = sorted(store.glob("v*/spark-files/*/rows/*.parquet"))[0]
    part.write_bytes(part.read_bytes()[:-100])  # cut short
    again = usagekit.load(month, engine="spark", store=store)
    assert "damaged" in capsys.readouterr().err
    assert (again.load_report.validated_files, again.load_report.stored_files) == (1, 2)
    assert again.load_report.kept == 473 and again.load_report.duplicates == 5


def test_the_spark_store_holds_no_raw_secret(month, tmp_path):
    import polars as pl

    store = tmp_path / "store"
    usagekit.load(month, engine="spark", store=store)
    parts = [p for p in store.rglob("*.parquet")]
    assert any("rejected" in str(p) for p in parts) and any("rows" in str(p) for p in parts)
    for p in parts:
        assert SECRET not in repr(pl.read_parquet(p).rows()), p
    assert not any(SECRET.encode() in p.read_bytes() for p in store.rglob("*") if p.is_file())


def test_other_formats_are_validated_on_the_driver_and_handed_to_spark(tmp_path):
    ok, why = spark_available()
    require(ok, why)
    from pathlib import Path

    src = [Path(__file__).parent / "data" / "litellm" / "spend_logs.csv"]
    a = usagekit.load(src, store=False)
    b = usagekit.load(src, engine="spark", store=False)
    assert b.engine == "spark" and _files(b.load_report) == _files(a.load_report)
    assert b.total() == pytest.approx(a.total(), rel=1e-12)
    pd.testing.assert_frame_equal(b.breakdown("key"), a.breakdown("key"), check_dtype=False, rtol=1e-12)


def test_a_given_session_validates_and_the_rows_reach_polars_views(month):
    """``engine=<SparkSession>`` takes the same path; the kept rows Spark wrote are what Polars
    reads for views that need them on the driver (rollup's day log, to_engine('polars'))."""
    from usagekit.spark import local_session

    usage = usagekit.load(month, engine=local_session(), store=False)
    assert usage.engine == "spark" and usage.load_report.kept == 473
    on_polars = usage.to_engine("polars")
    assert len(on_polars.to_pandas()) == 473
    assert on_polars.filter(month="2026-10").total()["cost_cents"] == pytest.approx(
        usage.filter(month="2026-10").total()["cost_cents"], rel=1e-12
    )
    day = usage.rollup().filter(month="2026-10").day("2026-10-03", page_size=200)
    assert day.attrs["total_rows"] == 98 and SECRET not in day.to_csv()


def test_a_corrupt_parquet_file_is_a_source_error_naming_it(month, tmp_path):
    import shutil

    import usagekit.errors

    bad = tmp_path / "bad"
    bad.mkdir()
    for p in month:
        shutil.copy(p, bad / p.name)
    victim = bad / month[1].name
    data = bytearray(victim.read_bytes())
    data[200:2000] = b"\x00" * 1800  # pages cut; the footer stays readable
    victim.write_bytes(bytes(data))
    with pytest.raises(usagekit.errors.SourceError) as err:
        usagekit.load(sorted(bad.iterdir()), engine="spark", store=False)
    assert "Spark could not read" in str(err.value) and victim.name in str(err.value)
    assert "usage-2026-10-01" not in str(err.value)  # the intact files are not blamed
