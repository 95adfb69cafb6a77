"""usagekit.load on the canonical format: validation, row accounting, de-duplication, keys."""

from __future__ import annotations

import datetime as dt
import gzip
import shutil
from pathlib import Path

import pandas as pd
import polars as pl
import pytest

import usagekit
from usagekit.errors import SourceError
from usagekit.schema import USAGE_COLUMNS

DATA = Path(__file__).parent / "data" / "canonical"
CSV_TOTAL_CENTS = 0.0284625 + 0.0304125 + 4.9665 + 2.4 + 1.1605 + 1.296 + 4.2  # row 6 is unpriced


def test_canonical_csv_rows_and_total_reconcile():
    usage = usagekit.load(DATA / "usage.csv")
    df = usage.to_pandas()
    assert list(df.columns) == list(USAGE_COLUMNS)
    assert len(df) == 8
    assert df["cost_cents"].sum() == pytest.approx(CSV_TOTAL_CENTS, abs=1e-12)
    assert str(df["ts"].dt.tz) == "UTC"
    # +02:00 converted to UTC; naive taken as UTC and counted
    ts = dict(zip(df["request_id"], df["ts"]))
    assert ts["req_0003"] == pd.Timestamp("2026-10-01T07:02:44Z")
    assert ts["req_0004"] == pd.Timestamp("2026-10-01T10:30:00Z")
    r = usage.load_report
    assert (r.read, r.kept, r.rejected, r.duplicates, r.naive_ts, r.unpriced) == (8, 8, 0, 0, 1, 1)
    assert r.files[0].first_ts == pd.Timestamp("2026-10-01T07:02:44Z")
    assert df.loc[df.request_id == "req_0004", "status"].item() == "error"
    assert df["input_tokens"].dtype == "Int64"


def test_unpriced_row_is_kept_with_null_cost_not_zero():
    df = usagekit.load(DATA / "usage.csv").to_pandas()
    row = df[df.request_id == "req_0006"]
    assert len(row) == 1 and pd.isna(row["cost_cents"].item())
    assert row["input_tokens"].item() == 640


def test_compute_bucket_has_no_request_and_zero_requests():
    df = usagekit.load(DATA / "usage.csv").to_pandas()
    compute = df[df.axis == "compute"]
    assert compute["request_id"].isna().all() and compute["requests"].tolist() == [0]


def test_duplicate_request_ids_across_files_are_dropped_and_counted():
    usage = usagekit.load(DATA)  # directory: usage.csv, usage.jsonl and keys.csv
    r = usage.load_report
    by_file = {Path(f.file).name: f for f in r.files}
    assert by_file["usage.jsonl"].read == 3
    assert by_file["usage.jsonl"].duplicates == 1  # req_0001 already in usage.csv (read first)
    assert by_file["usage.jsonl"].kept == 2
    assert by_file["keys.csv"].keys == 4
    assert r.read == r.kept + r.rejected + r.duplicates == 11
    df = usage.to_pandas()
    assert df["request_id"].dropna().is_unique
    assert df["cost_cents"].sum() == pytest.approx(CSV_TOTAL_CENTS + 0.6 + 0.35, abs=1e-12)
    rej = usage.rejected
    assert rej["reason"].tolist() == ["duplicate request_id"]
    assert rej["row"].tolist() == [3]


def test_key_registry_fills_names_and_accounts(tmp_path):
    src = tmp_path / "u.csv"
    src.write_text("ts,request_id,key_id,cost_cents\n2026-10-05T00:00:00Z,r1,vk_3f9a1c2b7d10,1.5\n")
    usage = usagekit.load(src, keys=DATA / "keys.csv")
    df = usage.to_pandas()
    assert df.loc[0, "key_name"] == "support-bot-prod"
    assert df.loc[0, "account_id"] == "acct_acme"
    keys = usage.keys.set_index("key_id")
    assert keys.loc["vk_3f9a1c2b7d10", "spend_cap_cents"] == 50000
    assert pd.isna(keys.loc["vk_02be55f1c9e7", "spend_cap_cents"])  # empty = no cap


@pytest.mark.parametrize("name", ["usage.csv", "usage.jsonl"])
def test_gzip_compressed_text_reads_the_same(tmp_path, name):
    plain = usagekit.load(DATA / name).to_pandas()
    gz = tmp_path / (name + ".gz")
    gz.write_bytes(gzip.compress((DATA / name).read_bytes()))
    packed = usagekit.load(gz).to_pandas()
    pd.testing.assert_frame_equal(plain.drop(columns="source"), packed.drop(columns="source"))


def test_parquet_is_scanned_lazily_and_equals_csv(tmp_path, monkeypatch):
    import usagekit.loading as load_mod

    csv = usagekit.load(DATA / "usage.csv")
    path = tmp_path / "u.parquet"
    csv.lazy.collect().write_parquet(path)
    monkeypatch.setattr(load_mod, "MEMORY_BYTES", 0)  # as if the file were big
    for store in (False, None):
        usage = usagekit.load(path, store=store)
        assert isinstance(usage.lazy, pl.LazyFrame)
        if store is False:  # without the store: a scan of the file itself
            assert "PARQUET SCAN" in usage.lazy.explain().upper()
        else:  # the store holds no copy of typed Parquet rows: they are staged from the file when read
            plan = usage.lazy.explain()
            assert "usagekit staged file" in plan and str(path) in plan
        assert usage.to_pandas()["cost_cents"].sum() == pytest.approx(CSV_TOTAL_CENTS, abs=1e-12)
        assert usage.load_report.kept == 8


def test_bad_rows_are_rejected_with_file_row_field_and_reason(tmp_path):
    src = tmp_path / "bad.csv"
    src.write_text(
        "ts,request_id,key_id,cost_cents,input_tokens,axis\n"
        "2026-10-01T00:00:00Z,r1,k,0.5,10,llm\n"
        "yesterday,r2,k,0.5,10,llm\n"
        "2026-10-01T00:00:00Z,r3,k,-0.5,10,llm\n"
        "2026-10-01T00:00:00Z,r4,k,twelve,10,llm\n"
        "2026-10-01T00:00:00Z,r5,k,0.5,10,video\n"
        "2026-10-01T00:00:00Z,r6,k,0.5,-3,llm\n"
        "2026-10-01T00:00:00Z,r1,k,0.5,10,llm\n"
        "2026-10-01T00:00:00Z,r7,k,0.5,1"
    )  # truncated last line
    usage = usagekit.load(src)
    r = usage.load_report
    assert (r.read, r.kept, r.rejected, r.duplicates) == (8, 1, 6, 1)
    rej = usage.rejected.set_index("row")
    assert rej.loc[2, "reason"] == "unparseable timestamp" and rej.loc[2, "field"] == "ts"
    assert rej.loc[2, "value"] == "yesterday"
    assert rej.loc[3, "reason"] == "negative cost"
    assert rej.loc[4, "reason"] == "cost is not a number" and rej.loc[4, "value"] == "twelve"
    assert rej.loc[5, "field"] == "axis"
    assert rej.loc[6, "reason"] == "negative input_tokens"
    assert rej.loc[7, "reason"] == "duplicate request_id"
    assert "truncated" in rej.loc[8, "reason"]
    assert r.reasons["negative cost"] == 1


def test_missing_required_column_names_file_and_column(tmp_path):
    src = tmp_path / "nocost.csv"
    src.write_text("ts,request_id,key_id,cost\n2026-10-01T00:00:00Z,r1,k,1\n")
    with pytest.raises(SourceError) as err:
        usagekit.load(src, format="canonical")
    msg = str(err.value)
    assert "nocost.csv" in msg and "cost_cents" in msg and "expected" in msg


def test_unrecognised_file_named_explicitly_is_an_error_listing_formats(tmp_path):
    src = tmp_path / "weird.csv"
    src.write_text("alpha,beta\n1,2\n")
    with pytest.raises(SourceError, match=r"weird.csv: format not recognised.*alpha, beta.*expected one of"):
        usagekit.load(src)


def test_unrecognised_file_in_a_directory_is_skipped_and_reported(tmp_path):
    shutil.copy(DATA / "usage.csv", tmp_path / "usage.csv")
    (tmp_path / "notes.csv").write_text("alpha,beta\n1,2\n")
    usage = usagekit.load(tmp_path)
    assert usage.load_report.kept == 8
    assert [Path(f).name for f, _ in usage.load_report.skipped] == ["notes.csv"]
    assert "skipped" in str(usage.load_report)


def test_empty_and_missing_inputs_give_clear_errors(tmp_path):
    with pytest.raises(SourceError, match="no such file"):
        usagekit.load(tmp_path / "nope.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(SourceError, match="empty"):
        usagekit.load(tmp_path / "empty.csv", format="canonical")
    with pytest.raises(SourceError, match="matches no files"):
        usagekit.load(str(tmp_path / "*.parquet"))


def test_truncated_gzip_is_a_clear_error(tmp_path):
    data = gzip.compress((DATA / "usage.csv").read_bytes() * 50)
    gz = tmp_path / "cut.csv.gz"
    gz.write_bytes(data[: len(data) // 2])
    with pytest.raises(SourceError, match="gzip data is truncated or corrupt"):
        usagekit.load(gz, format="canonical")


def test_glob_and_list_sources(tmp_path):
    for i in range(3):
        (tmp_path / f"day{i}.csv").write_text(f"ts,request_id,cost_cents\n2026-10-0{i + 1}T00:00:00Z,r{i},1.25\n")
    assert usagekit.load(str(tmp_path / "day*.csv")).load_report.kept == 3
    assert usagekit.load([tmp_path / "day0.csv", tmp_path / "day1.csv"]).load_report.kept == 2


def test_dataframe_source_round_trips():
    df = usagekit.load(DATA / "usage.csv").to_pandas()
    again = usagekit.load(df)
    assert again.load_report.kept == 8
    assert again.to_pandas()["cost_cents"].sum() == pytest.approx(CSV_TOTAL_CENTS, abs=1e-12)


def test_key_registry_bad_cap_rejects_that_row_with_its_reason(tmp_path):
    keys = tmp_path / "keys.csv"
    keys.write_text("key_id,key_name,account_id,spend_cap_cents\nk1,a,acct,100\nk2,b,acct,abc\n")
    usage = usagekit.load(DATA / "usage.csv", keys=keys)
    assert usage.keys["key_id"].tolist() == ["k1"]  # k2 is not kept with a made-up or empty cap
    report = usage.load_report
    assert report.registry_rejected == 1 and report.registry_rejected_keys == ("k2",)
    (fr,) = [f for f in report.files if f.file.endswith("keys.csv")]
    assert fr.key_rejects.row(0, named=True)["row"] == 2
    assert fr.key_rejects.row(0, named=True)["field"] == "spend_cap_cents"
    assert "1 key registry row rejected" in str(report) and "cap unknown for 1 key(s)" in str(report)
    assert "spend_cap_cents is not a number" in report.details() and "cap unknown for 1 key(s)" in report.details()


def test_unknown_time_zone_is_refused():
    with pytest.raises(usagekit.UsagekitError, match="unknown time zone 'Mars/Olympus'"):
        usagekit.load(DATA / "usage.csv", tz="Mars/Olympus")


@pytest.mark.parametrize(
    "text, want, naive",
    [
        ("2026-10-03 14:22:05.123+00", "2026-10-03T14:22:05.123Z", False),  # PostgreSQL timestamptz
        ("2026-10-03 14:22:05+05:30", "2026-10-03T08:52:05Z", False),
        ("2026-10-03T14:22:05-0700", "2026-10-03T21:22:05Z", False),
        ("2026-10-03 14:22:05 UTC", "2026-10-03T14:22:05Z", False),
        ("2026-10-03T14:22:05Z", "2026-10-03T14:22:05Z", False),
        ("2026-10-03 14:22:05.123456789", "2026-10-03T14:22:05.123456Z", True),
        ("2026-10-03", "2026-10-03T00:00:00Z", False),  # a bare date has no time of day to lack an offset
    ],
)
def test_timestamp_spellings_become_utc(tmp_path, text, want, naive):
    src = tmp_path / "u.csv"
    src.write_text(f"ts,request_id,cost_cents\n{text},r1,1\n")
    usage = usagekit.load(src)
    assert usage.to_pandas()["ts"].iloc[0] == pd.Timestamp(want)
    assert usage.load_report.naive_ts == int(naive)


def test_big_inputs_dedupe_in_file_then_row_order(tmp_path, monkeypatch):
    import usagekit.loading as load_mod

    monkeypatch.setattr(load_mod, "MEMORY_BYTES", 0)  # the lazy, spilled path
    base = usagekit.load(DATA / "usage.csv").lazy.collect()
    base.write_parquet(tmp_path / "a.parquet")
    base.head(3).with_columns(pl.col("cost_cents") * 2).write_parquet(tmp_path / "b.parquet")
    keys = tmp_path / "keys.csv"
    shutil.copy(DATA / "keys.csv", keys)
    usage = usagekit.load([tmp_path / "a.parquet", tmp_path / "b.parquet"], keys=keys)
    by_file = {Path(f.file).name: f for f in usage.load_report.files if f.read}
    assert (by_file["a.parquet"].duplicates, by_file["b.parquet"].duplicates) == (0, 3)
    assert [Path(f.file).name for f in usage.load_report.files][:2] == ["a.parquet", "b.parquet"]
    assert usage.filter(month="2026-10").total()["cost_cents"] == pytest.approx(CSV_TOTAL_CENTS)
    assert usage.rejected["row"].tolist() == [1, 2, 3]
    assert set(usage.to_pandas()["key_name"].dropna()) >= {"support-bot-prod", "batch-summariser"}


@pytest.mark.parametrize("big", [False, True])
def test_ids_whose_hashes_collide_are_compared_exactly(tmp_path, monkeypatch, big):
    """Repeated ids are found by 64-bit hashes; equal hashes alone never drop a row."""
    import usagekit.loading as load_mod

    if big:
        monkeypatch.setattr(load_mod, "MEMORY_BYTES", 0)
    # a hash that collides all the time: the length of the id
    monkeypatch.setattr(load_mod, "_id_hash", lambda ids: ids.str.len_bytes().cast(pl.UInt64))
    rows = pl.DataFrame(
        {
            "ts": ["2026-10-01T10:00:00Z"] * 5,
            "request_id": ["r-aa", "r-bb", "r-cc", "r-bb", "r-dd"],
            "cost_cents": [1.0, 2.0, 3.0, 20.0, 4.0],
        }
    )
    rows.with_columns(pl.col("ts").str.to_datetime(time_zone="UTC")).write_parquet(tmp_path / "a.parquet")
    usage = usagekit.load(tmp_path / "a.parquet")
    r = usage.load_report
    assert (r.read, r.kept, r.duplicates) == (5, 4, 1)
    assert usage.filter(month="2026-10").total()["cost_cents"] == pytest.approx(10.0)
    assert usage.rejected[["row", "reason"]].values.tolist() == [[4, "duplicate request_id"]]


def test_a_rejected_row_does_not_make_a_later_valid_one_a_duplicate(tmp_path):
    (tmp_path / "u.csv").write_text(
        "ts,request_id,cost_cents\n"
        "2026-10-01T10:00:00Z,req-1,-5\n"  # rejected: negative cost
        "2026-10-01T11:00:00Z,req-1,2.5\n"  # the same id, valid: kept
        "2026-10-01T12:00:00Z,req-1,2.5\n"
    )  # a real repeat: dropped
    usage = usagekit.load(tmp_path / "u.csv")
    r = usage.load_report
    assert (r.read, r.kept, r.rejected, r.duplicates) == (3, 1, 1, 1)
    assert usage.rejected.sort_values("row")["reason"].tolist() == ["negative cost", "duplicate request_id"]
    assert usage.filter(month="2026-10").total()["cost_cents"] == 2.5


def test_a_frame_with_dates_or_numbers_as_ts(tmp_path):
    import datetime as dt

    df = pd.DataFrame({"ts": [dt.date(2026, 10, 3)], "cost_cents": [1.5]})
    usage = usagekit.load(df)
    assert usage.to_pandas()["ts"].iloc[0] == pd.Timestamp("2026-10-03T00:00:00Z")
    assert usage.load_report.naive_ts == 0  # a date is a whole day, not a time lacking its offset
    with pytest.raises(usagekit.SourceError, match="ts"):
        usagekit.load(pd.DataFrame({"ts": [1760000000], "cost_cents": [1.5]}))


def test_the_day_log_reads_one_day_of_a_big_parquet_input(tmp_path, monkeypatch):
    """The day's bounds reach the Parquet scan (row groups of other days are skipped)."""
    import usagekit.loading as load_mod

    monkeypatch.setattr(load_mod, "MEMORY_BYTES", 0)
    base = usagekit.load(DATA / "usage.csv").lazy.collect()
    base.write_parquet(tmp_path / "a.parquet")
    from usagekit import queries as q

    day = q.day_number(dt.date(2026, 10, 2))
    # without the store the rows are a scan of the file; through the store, the file staged again
    # when read (no copy is stored), the bounds handed to that source and by it to the scan
    for store, node in ((False, "Parquet SCAN"), (None, "PYTHON[usagekit staged file] SCAN")):
        usage = usagekit.load(tmp_path / "a.parquet", store=store)
        rows = q.restrict(usage.filter(month="2026-10").frame, start_day=day, end_day=day + 1, tz="UTC")
        plan = rows.to_native().explain()
        scan = plan[plan.index(node) :]
        assert "2026-10-02 00:00:00" in scan and "2026-10-03 00:00:00" in scan
        log = usage.filter(month="2026-10").day("2026-10-02")
        assert log.attrs["total_rows"] == len(base.filter(pl.col("ts").dt.date() == dt.date(2026, 10, 2)))


def test_progress_names_each_pass_of_a_big_load(tmp_path, monkeypatch, capsys):
    import usagekit.loading as load_mod

    monkeypatch.setattr(load_mod, "MEMORY_BYTES", 0)
    usagekit.load(DATA / "usage.csv").lazy.collect().write_parquet(tmp_path / "a.parquet")
    usagekit.load(tmp_path / "a.parquet", progress=True, store=False)
    err = capsys.readouterr().err
    for phase in ("one pass per input", "checking request ids", "merging the month cube", "done"):
        assert phase in err
    assert "peak" in err and " GB]" in err
    usagekit.load(tmp_path / "a.parquet", progress=True)  # into the store
    err = capsys.readouterr().err
    for phase in (
        "looking up 1 file(s)",
        "one pass per file",
        "checking request ids",
        "building the month cube",
        "done",
    ):
        assert phase in err
