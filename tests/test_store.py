"""The validated store behind ``load``: warm and incremental loads answer exactly as cold ones."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import usagekit
from usagekit.store import cache

MONTH = "2026-10"


def _day_file(folder: Path, day: int, extra: str = "") -> Path:
    """A day of requests: 6 good rows, one rejected (negative cost), one repeated id in the file."""
    lines = ["ts,request_id,key_id,key_name,account_id,model,provider,cost_cents"]
    for i in range(6):
        lines.append(
            f"2026-10-{day:02d}T{10 + i}:00:00Z,d{day}-r{i},vk_{i % 3},key {i % 3},acct_{i % 2},"
            f"gpt-4.1,openai,{1.25 + i * 0.001 + day}"
        )
    lines.append(f"2026-10-{day:02d}T18:00:00Z,d{day}-bad,vk_0,key 0,acct_0,gpt-4.1,openai,-3")
    lines.append(f"2026-10-{day:02d}T19:00:00Z,d{day}-r0,vk_0,key 0,acct_0,gpt-4.1,openai,9.5")
    path = folder / f"2026-10-{day:02d}.csv"
    path.write_text("\n".join(lines) + "\n" + extra)
    return path


@pytest.fixture
def month(tmp_path) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    for day in range(1, 6):
        _day_file(src, day)
    (src / "keys.csv").write_text(
        "key_id,key_name,account_id,spend_cap_cents,agent_id,created_at\nvk_0,support-bot,acct_0,5000,,2026-01-01\n"
    )
    return src


def answers(usage) -> dict:
    """Everything a user sees, for comparing loads."""
    m = usage.filter(month=MONTH)
    return {
        "report": usage.load_report.to_frame(),
        "balanced": usage.load_report.balanced,
        "rejected": usage.rejected,
        "rows": usage.to_pandas(),
        "total": m.total(),
        "daily": m.daily(by="key"),
        "breakdown": m.breakdown(by="account"),
        "keys": m.key_summary(as_of="2026-11-01"),
        "invoice": m.invoice(MONTH).lines,
        "day": m.day("2026-10-03"),
    }


def assert_same(a: dict, b: dict) -> None:
    for name in a:
        if isinstance(a[name], pd.DataFrame):
            pd.testing.assert_frame_equal(a[name], b[name], obj=name)
        else:
            assert a[name] == b[name], name


def test_a_second_load_reads_the_store_and_answers_exactly_as_a_cold_one(month, tmp_path):
    store = tmp_path / "store"
    cold = usagekit.load(month, store=False)
    first = usagekit.load(month, store=store)
    second = usagekit.load(month, store=store)
    assert cold.load_report.store is None
    assert first.load_report.validated_files == 6 and first.load_report.stored_files == 0
    assert second.load_report.validated_files == 0 and second.load_report.stored_files == 6
    assert "6 of 6 file(s) read from the validated store" in str(second.load_report)
    want = answers(cold)
    assert (cold.load_report.rejected, cold.load_report.duplicates) == (5, 5)
    assert_same(want, answers(first))
    assert_same(want, answers(second))


def test_one_new_daily_file_is_validated_alone_and_duplicates_across_old_and_new_are_caught(month, tmp_path):
    store = tmp_path / "store"
    usagekit.load(month, store=store)
    # day 6 repeats request d2-r3 of an old file, and d6-r1 is repeated by day 7's file
    _day_file(month, 6, extra="2026-10-06T23:00:00Z,d2-r3,vk_1,key 1,acct_1,gpt-4.1,openai,77\n")
    warm = usagekit.load(month, store=store)
    assert warm.load_report.validated_files == 1
    by_file = {Path(f.file).name: f for f in warm.load_report.files}
    assert by_file["2026-10-06.csv"].duplicates == 2  # its own repeat and the old file's id
    assert by_file["2026-10-02.csv"].duplicates == 1  # the old file keeps its row (it comes first)
    assert_same(answers(usagekit.load(month, store=False)), answers(warm))
    # a new file that sorts first turns an old file's row into the repeat
    (month / "2026-09-30.csv").write_text("ts,request_id,cost_cents\n2026-10-01T00:30:00Z,d4-r2,1000\n")
    again = usagekit.load(month, store=store)
    assert again.load_report.validated_files == 1
    by_file = {Path(f.file).name: f for f in again.load_report.files}
    assert by_file["2026-10-04.csv"].duplicates == 2
    assert_same(answers(usagekit.load(month, store=False)), answers(again))


def test_new_files_are_searched_in_the_stored_id_index_and_a_damaged_index_is_rebuilt(month, tmp_path):
    store = tmp_path / "store"
    usagekit.load(month, store=store)
    loads = store / f"v{cache.RULES_VERSION}" / "loads"
    (first,) = list(loads.iterdir())
    assert (first / "index.npy").exists() and (first / "repeats.npy").exists()
    # day 6 repeats an id of day 2 and one of its own; a new file sorting first takes an id of day 4
    _day_file(month, 6, extra="2026-10-06T23:00:00Z,d2-r3,vk_1,key 1,acct_1,gpt-4.1,openai,77\n")
    (month / "2026-09-30.csv").write_text("ts,request_id,cost_cents\n2026-10-01T00:30:00Z,d4-r2,1000\n")
    warm = usagekit.load(month, store=store)
    (second,) = [p for p in loads.iterdir() if p != first]
    index = json.loads((second / "meta.json").read_text())["index"]
    assert index["owner"] == first.name and not (second / "index.npy").exists()  # searched, not re-sorted
    by_file = {Path(f.file).name: f.duplicates for f in warm.load_report.files}
    assert (by_file["2026-10-06.csv"], by_file["2026-10-02.csv"], by_file["2026-10-04.csv"]) == (2, 1, 2)
    assert by_file["2026-09-30.csv"] == 0  # it comes first: its row is kept, day 4's is the repeat
    assert_same(answers(usagekit.load(month, store=False)), answers(warm))
    # the index's owner damaged: the next load finds it so, builds its own and answers the same
    (first / "index.npy").write_bytes(b"damaged")
    _day_file(month, 7)
    again = usagekit.load(month, store=store)
    assert again.load_report.validated_files == 1
    assert_same(answers(usagekit.load(month, store=False)), answers(again))
    assert not first.exists()  # removed as damaged, never trusted
    (third,) = [p for p in loads.iterdir() if p != second]
    assert json.loads((third / "meta.json").read_text())["index"]["owner"] == third.name


def _validated(month, store, **kw) -> int:
    return usagekit.load(month, store=store, **kw).load_report.validated_files


def test_each_key_ingredient_changed_in_turn_rebuilds(month, tmp_path, monkeypatch):
    store = tmp_path / "store"
    assert _validated(month, store) == 6
    assert _validated(month, store) == 0
    # the file's content (same size, later modification time)
    f = month / "2026-10-03.csv"
    f.write_text(f.read_text().replace("gpt-4.1", "gpt-4.2"))
    assert _validated(month, store) == 1
    # same size and modification time, other bytes: the block hash sees it
    st = f.stat()
    f.write_text(f.read_text().replace("gpt-4.2", "gpt-4.3"))
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    usage = usagekit.load(month, store=store)
    assert usage.load_report.validated_files == 1
    assert "gpt-4.3" in set(usage.filter(month=MONTH).breakdown(by="model")["model"])
    # time zone, format= (full rehash: see the large-file test below)
    assert _validated(month, store, tz="Europe/Berlin") == 6
    assert _validated(month / "2026-10-01.csv", store, format="canonical") == 1
    assert _validated(month, store, rehash=True) == 0  # small files are always hashed whole: same key
    # rules / layout version and the schema fingerprint
    monkeypatch.setattr(cache, "RULES_VERSION", cache.RULES_VERSION + 1)
    assert _validated(month, store) == 6
    monkeypatch.setattr(cache, "schema_fingerprint", lambda: "another-schema")
    import usagekit.store.stored as stored_mod

    monkeypatch.setattr(stored_mod, "schema_fingerprint", lambda: "another-schema")
    assert _validated(month, store) == 6
    # an edit to a loader's code, even without a version bump
    monkeypatch.setattr(stored_mod, "code_fingerprint", lambda: "edited-loader")
    assert _validated(month, store) == 6


def test_a_changed_key_registry_rebuilds_the_combined_entry_not_the_files(month, tmp_path):
    store = tmp_path / "store"
    usagekit.load(month, store=store)
    loads = store / f"v{cache.RULES_VERSION}" / "loads"
    before = set(os.listdir(loads))
    (month / "keys.csv").write_text(
        "key_id,key_name,account_id,spend_cap_cents,agent_id,created_at\nvk_0,renamed-bot,acct_0,5000,,2026-01-01\n"
    )
    usage = usagekit.load(month, store=store)
    assert usage.load_report.validated_files == 1  # the registry file itself
    assert len(set(os.listdir(loads)) - before) == 1
    names = set(usage.filter(month=MONTH).breakdown(by="key")["key_name"])
    assert "renamed-bot" in names and "support-bot" not in names
    assert_same(answers(usagekit.load(month, store=False)), answers(usage))


def test_large_files_are_fingerprinted_by_their_first_and_last_blocks(tmp_path, monkeypatch):
    monkeypatch.setattr(cache, "BLOCK", 64)
    f = tmp_path / "u.csv"
    body = "".join(f"2026-10-01T10:00:00Z,r{i},1.5\n" for i in range(200))
    f.write_text("ts,request_id,cost_cents\n" + body)
    store = tmp_path / "store"
    assert _validated(f, store) == 1
    st = f.stat()
    f.write_text(f.read_text().replace("r100,1.5", "r100,2.5"))  # the middle: same size and time
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert _validated(f, store) == 0  # not seen by the block hash (the documented limit) ...
    usage = usagekit.load(f, store=store, rehash=True)  # ... but seen by a full hash
    assert usage.load_report.validated_files == 1
    assert usage.filter(month=MONTH).total()["cost_cents"] == pytest.approx(200 * 1.5 + 1)


def test_damaged_entries_are_detected_and_rebuilt(month, tmp_path, capsys):
    store = tmp_path / "store"
    want = answers(usagekit.load(month, store=store))
    base = store / f"v{cache.RULES_VERSION}"
    entries = sorted(p for p in (base / "files").iterdir() if (p / "rows.parquet").exists())
    rows = entries[0] / "rows.parquet"
    rows.write_bytes(rows.read_bytes()[:-20])  # truncated
    (entries[1] / "meta.json").write_text("{not json")  # partial meta
    cube = next((base / "loads").iterdir()) / "cube.parquet"
    cube.write_bytes(b"PAR1garbage")
    usage = usagekit.load(month, store=store)
    err = capsys.readouterr().err
    assert err.count("is damaged") == 3
    assert usage.load_report.validated_files == 2
    assert_same(want, answers(usage))


def test_an_unwritable_store_falls_back_to_no_store_with_one_line(month, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    usage = usagekit.load(month, store=blocker / "store")
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot be written" in err[0] and "loading without it" in err[0]
    assert usage.load_report.store is None
    assert usage.load_report.kept == 30


def test_store_env_and_store_false(month, tmp_path, monkeypatch):
    monkeypatch.setenv("USAGEKIT_STORE", str(tmp_path / "env-store"))
    assert usagekit.load(month).load_report.store == str(tmp_path / "env-store")
    assert usagekit.load(month).load_report.validated_files == 0
    monkeypatch.setenv("USAGEKIT_STORE", str(tmp_path / "other"))
    assert usagekit.load(month, store=False).load_report.store is None
    assert not (tmp_path / "other").exists()
    monkeypatch.setenv("USAGEKIT_STORE", "off")
    assert usagekit.load(month).load_report.store is None


def test_concurrent_loads_of_the_same_inputs_share_one_sound_store(month, tmp_path):
    store = tmp_path / "store"
    code = (
        "import sys, usagekit; u = usagekit.load(sys.argv[1], store=sys.argv[2]); "
        "t = u.filter(month='2026-10').total()['cost_cents']; "
        "print(u.load_report.kept, u.load_report.duplicates, round(t, 6))"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(month), str(store)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(3)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1] for o in outs]
    assert len({o[0] for o in outs}) == 1
    usage = usagekit.load(month, store=store)
    assert usage.load_report.validated_files == 0
    assert outs[0][0].split()[:2] == [str(usage.load_report.kept), str(usage.load_report.duplicates)]
    leftovers = list((store / f"v{cache.RULES_VERSION}" / "tmp").iterdir())
    assert leftovers == []


def test_the_store_holds_no_raw_key_secret(tmp_path):
    secret = "sk-proj-Q9vX2mLr8TfA1bC3dE5gH7jK9nP2qR4sAbCd"
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "u.csv").write_text(
        "ts,request_id,key_id,key_name,cost_cents\n"
        f"2026-10-01T10:00:00Z,r1,{secret},name {secret},1.5\n"
        f"2026-10-01T11:00:00Z,r2,vk_1,k,{secret}\n"  # rejected: the secret is the offending cell
        f"2026-10-01T12:00:00Z,r1,{secret},again,1.5\n"
    )  # a duplicate
    (tmp_path / "src" / "keys.csv").write_text(
        f"key_id,key_name,account_id,spend_cap_cents,agent_id,created_at\n{secret},,acct_1,100,,2026-01-01\n"
    )
    store = tmp_path / "store"
    usage = usagekit.load(tmp_path / "src", store=store)
    assert (usage.load_report.rejected, usage.load_report.duplicates) == (1, 1)
    files = [p for p in store.rglob("*") if p.is_file()]
    assert any(p.name == "rows.parquet" for p in files)
    for p in files:
        data = p.read_bytes()
        for needle in (secret, secret[8:30]):
            assert needle.encode() not in data, p


def test_the_schema_fingerprint_is_recorded_with_the_rules_version():
    assert cache.schema_fingerprint() == cache.SCHEMA_FINGERPRINT, (
        "the usage/key columns or the cube's dimensions changed: bump RULES_VERSION in usagekit/store/cache.py "
        f"and set SCHEMA_FINGERPRINT = {cache.schema_fingerprint()!r}"
    )


def test_every_engine_gets_the_stored_cube(month, tmp_path, engine):
    store = tmp_path / "store"
    # Spark validates canonical files itself, into store entries of its own (store/spark_stored.py):
    # its store is filled by a Spark load; the Polars entries serve polars and duckdb
    usagekit.load(month, store=store, engine="spark" if engine == "spark" else "polars")
    warm = usagekit.load(month, store=store, engine=engine)
    cold = usagekit.load(month, store=False, engine=engine)
    assert warm.load_report.validated_files == 0
    for by in ("key", "model", "account"):
        a, b = cold.filter(month=MONTH).daily(by=by), warm.filter(month=MONTH).daily(by=by)
        pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=0, atol=1e-9)
    assert cold.filter(month=MONTH).total() == pytest.approx(warm.filter(month=MONTH).total(), abs=1e-9)


def test_a_second_report_run_publishes_from_the_store_without_validating_again(month, tmp_path, monkeypatch):
    from usagekit.report import publish

    monkeypatch.setenv("USAGEKIT_STORE", str(tmp_path / "store"))  # the notebook's kernel inherits it
    first = publish(month=MONTH, source=month, out=tmp_path / "reports", progress=False)
    assert "6 of 6 file(s) read from the validated store" not in first.html.read_text()
    assert "0 of 6 file(s) read from the validated store" in first.html.read_text()
    second = publish(month=MONTH, source=month, out=tmp_path / "reports", progress=False)
    page = second.html.read_text()
    assert "6 of 6 file(s) read from the validated store" in page and "0 validated by this load" in page
    assert second.summary["total_cents"] == first.summary["total_cents"]


def test_check_cli_reports_the_store_and_rehash_validates_again(month, tmp_path, monkeypatch):
    monkeypatch.setenv("USAGEKIT_STORE", str(tmp_path / "store"))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    run = lambda *extra: subprocess.run(  # noqa: E731
        [sys.executable, "-m", "usagekit.cli", "check", str(month), "--rejected", str(tmp_path / "rej.csv"), *extra],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    first, second = run(), run()
    assert "0 of 6 file(s) read from the validated store" in first.stdout
    assert "6 of 6 file(s) read from the validated store" in second.stdout
    assert second.returncode == first.returncode == 1  # rows were rejected
    assert "store:" not in run("--no-store").stdout
    assert "0 validated by this load" in run("--rehash").stdout  # small files: already hashed whole


def test_what_a_dead_load_left_half_built_is_swept_after_a_day(month, tmp_path):
    store = tmp_path / "store"
    usagekit.load(month, store=store)
    tmp = store / f"v{cache.RULES_VERSION}" / "tmp"
    old, fresh = tmp / "build-1-old", tmp / "build-2-fresh"
    for d in (old, fresh):
        d.mkdir()
        (d / "rows.parquet").write_bytes(b"half")
    os.utime(old, (0, 0))
    assert usagekit.load(month, store=store).load_report.validated_files == 0
    assert not old.exists() and fresh.exists()  # a build in progress elsewhere is left alone


SECRET = "sk-proj-Q9vX2mLr8TfA1bC3dE5gH7jK9nP2qR4sAbCd"


def _parquet_day(folder: Path, day: int, n: int = 9000, repeat: str | None = None) -> Path:
    """A typed Parquet day of ``n`` requests (enough rows for the per-distinct-value checks):
    a raw key secret as the key of every 7th row and in a key name, mixed-case and blank words,
    two rejected rows (negative cost, unknown status), one id repeated in the file, and
    ``repeat`` (an id of another file) as the last row."""
    import datetime as dt

    import polars as pl

    start = dt.datetime(2026, 10, day, tzinfo=dt.timezone.utc)
    ids = [f"d{day}-r{i}" for i in range(n)]
    ids[n // 2] = ids[3]  # repeated within the file
    if repeat:
        ids[-1] = repeat
    status = ["success", "OK", "error", "FAILED", ""][day % 5]
    frame = pl.DataFrame(
        {
            "ts": [start + dt.timedelta(seconds=9 * i) for i in range(n)],
            "request_id": ids,
            "key_id": [SECRET if i % 7 == 0 else f"vk_{i % 5}" for i in range(n)],
            "key_name": [f"leaky {SECRET}" if i % 11 == 0 else f"key {i % 5}" for i in range(n)],
            "account_id": [f"acct_{i % 3}" for i in range(n)],
            "model": ["GPT-4.1" if i % 2 else "claude-sonnet-4" for i in range(n)],
            "provider": ["OpenAI" if i % 2 else "" for i in range(n)],
            "axis": ["LLM" if i % 4 else "" for i in range(n)],
            "status": [status if i % 3 else "success" for i in range(n)],
            "tags": [["prod", "batch"] if i % 2 else None for i in range(n)],
            "input_tokens": [100 + i for i in range(n)],
            "cost_cents": [0.125 + (i % 97) / 1000 for i in range(n)],
        },
        schema_overrides={"ts": pl.Datetime("us", "UTC")},
    )
    frame = frame.with_columns(
        pl.when(pl.int_range(pl.len()) == 10).then(-1.0).otherwise(pl.col("cost_cents")).alias("cost_cents"),
        pl.when(pl.int_range(pl.len()) == 20).then(pl.lit("maybe")).otherwise(pl.col("status")).alias("status"),
    )
    path = folder / f"2026-10-{day:02d}.parquet"
    frame.write_parquet(path)
    return path


def test_typed_parquet_cold_warm_and_one_new_day_answer_as_without_the_store(tmp_path):
    """Typed Parquet is validated in one pass and its rows are not copied into the store: every
    answer (rows, rejected rows, report, cube queries) matches a load without the store, a
    repeat between an old and a new file is caught, and no stored byte holds the secret."""
    src = tmp_path / "src"
    src.mkdir()
    for day in (1, 2, 3):
        _parquet_day(src, day)
    store = tmp_path / "store"
    want = answers(usagekit.load(src, store=False))
    cold = usagekit.load(src, store=store)
    warm = usagekit.load(src, store=store)
    assert (cold.load_report.validated_files, warm.load_report.validated_files) == (3, 0)
    assert cold.load_report.rejected == 6 and cold.load_report.duplicates == 3
    assert cold.load_report.balanced
    for got in (cold, warm):
        assert_same(want, answers(got))
    duck = answers(usagekit.load(src, store=store, engine="duckdb"))
    assert_same(answers(usagekit.load(src, store=False, engine="duckdb")), duck)
    # the secret is masked in the rows, and the store holds no raw secret nor a copy of the rows
    keys = set(warm.to_pandas()["key_id"])
    assert SECRET not in keys and usagekit.masking.redact(SECRET) in keys
    files = [p for p in store.rglob("*") if p.is_file()]
    assert not any(p.name == "rows.parquet" for p in files)
    for p in files:
        assert SECRET[8:30].encode() not in p.read_bytes(), p
    # a new day repeating an id of day 1: only it is validated, the repeat is caught
    _parquet_day(src, 4, repeat="d1-r5")
    plus = usagekit.load(src, store=store)
    assert plus.load_report.validated_files == 1
    by_file = {Path(f.file).name: f.duplicates for f in plus.load_report.files}
    assert by_file["2026-10-04.parquet"] == 2 and by_file["2026-10-01.parquet"] == 1
    assert_same(answers(usagekit.load(src, store=False)), answers(plus))
    rejected = plus.rejected
    dup = rejected[rejected["reason"] == "duplicate request_id"]
    assert sorted(dup["request_id"]) == ["d1-r3", "d1-r5", "d2-r3", "d3-r3", "d4-r3"]
    assert set(dup["file"].map(lambda f: Path(f).name)) == {f"2026-10-0{d}.parquet" for d in (1, 2, 3, 4)}
    assert sorted(set(rejected["reason"])) == [
        "duplicate request_id",
        "negative cost",
        "unknown status (expected success or error)",
    ]


def test_the_id_index_search_finds_exactly_the_hashes_it_holds():
    """The run-by-run search of new hashes in the stored index agrees with a plain set test,
    at run boundaries, with repeats and with needles beyond either end."""
    import numpy as np

    from usagekit.store.stored import _in_sorted

    rng = np.random.default_rng(7)
    for n, m in ((0, 5), (1, 1), (1000, 50_000), (100_000, 3000), (50, 50)):
        hay = np.sort(rng.integers(0, 4000, n).astype(np.uint64))
        needles = np.sort(rng.integers(0, 4000, m).astype(np.uint64))
        for step in (1, 64, 1 << 14):
            assert (_in_sorted(hay, needles, step=step) == np.isin(needles, hay)).all(), (n, m, step)


def test_rows_of_a_typed_parquet_file_changed_after_the_load_are_refused(tmp_path, monkeypatch):
    """The store holds no copy of typed Parquet rows: a file changed after the load is not read
    as if it were the loaded one (its totals came from the old content); the error says so."""
    import polars as pl

    import usagekit.loading as load_mod

    monkeypatch.setattr(load_mod, "MEMORY_BYTES", 0)  # as if big: rows stay a scan, not held in memory
    src = tmp_path / "src"
    src.mkdir()
    path = _parquet_day(src, 1)
    usage = usagekit.load(src, store=tmp_path / "store")
    first = usage.day("2026-10-01")
    assert len(first.index) == 100
    key = first["key_id"].iloc[0]
    pl.read_parquet(path).head(100).write_parquet(path)  # replaced by another export
    # the rows just read are kept for the next page of the same drill-down: they are the loaded rows
    pd.testing.assert_frame_equal(usage.day("2026-10-01"), first)
    with pytest.raises(usagekit.errors.UsagekitError, match="changed .*after it was loaded.*load it again"):
        usage.day("2026-10-01", key=key)  # rows not read before: the file is staged again, and refused
    again = usagekit.load(src, store=tmp_path / "store")  # a new load validates the new content
    assert again.load_report.validated_files == 1 and again.load_report.read == 100


def test_a_drill_down_pages_through_a_days_rows_staged_once(tmp_path, monkeypatch):
    """Typed Parquet rows are staged from the file when read; the pages of one drill-down read the
    same rows, so they are staged once and kept (up to RECENT_ROWS), and every page is what a load
    without the store shows."""
    import usagekit.loading as load_mod
    from usagekit.store import stored

    monkeypatch.setattr(load_mod, "MEMORY_BYTES", 0)
    src = tmp_path / "src"
    src.mkdir()
    _parquet_day(src, 1)
    usage = usagekit.load(src, store=tmp_path / "store")
    plain = usagekit.load(src, store=False)
    staged = []
    real = stored._staged_kept
    monkeypatch.setattr(stored, "_staged_kept", lambda e: staged.append(e) or real(e))
    stored._RECENT.clear()
    pages = [usage.day("2026-10-01", page=p, page_size=30) for p in (1, 2, 3, 4)]
    first_read = len(staged)
    assert [len(p) for p in pages] == [30] * 4 and pages[0].attrs["total_rows"] > 1000
    for p, page in enumerate(pages, start=1):
        pd.testing.assert_frame_equal(page, plain.day("2026-10-01", page=p, page_size=30))
    again = [usage.day("2026-10-01", page=p, page_size=30) for p in (1, 2, 3, 4)]
    assert len(staged) == first_read  # the same rows again: nothing staged
    for a, b in zip(pages, again):
        pd.testing.assert_frame_equal(a, b)
    monkeypatch.setattr(stored, "RECENT_ROWS", 10)  # a day too big to keep is staged for each read
    stored._RECENT.clear()
    usage.day("2026-10-01", page=1, page_size=30)
    n = len(staged)
    usage.day("2026-10-01", page=2, page_size=30)
    assert len(staged) > n


def test_rows_read_on_many_threads_at_once_share_the_recent_reads_safely(monkeypatch):
    """Polars reads several files' rows at once, each on its own thread: the cache of recent reads
    must stay whole while threads add and evict (a 100M benchmark run failed once with
    'OrderedDict mutated during iteration'; this fails the same way without the lock)."""
    import sys
    import threading
    from collections import OrderedDict

    import polars as pl

    from usagekit.store import stored
    from usagekit.store.cache import Entry

    monkeypatch.setattr(stored, "_staged_kept", lambda e: pl.DataFrame({"x": list(range(50))}).lazy())
    monkeypatch.setattr(stored, "RECENT_ROWS", 400)  # a few reads fit: every insert evicts another
    monkeypatch.setattr(stored, "_RECENT", OrderedDict())
    errors, wrong = [], []

    def reader(k):
        try:
            for i in range(3000):
                entry = Entry(Path("/nowhere"), {"key": f"file-{(k * 7 + i) % 40}"})
                got = stored._recent(entry, pl.col("x") >= i % 5, None).collect()
                if got["x"].to_list() != list(range(i % 5, 50)):
                    wrong.append((k, i))
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        threads = [threading.Thread(target=reader, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(old)
    assert not errors, errors[:3]
    assert not wrong
    assert sum(f.height for f in stored._RECENT.values()) <= 400
