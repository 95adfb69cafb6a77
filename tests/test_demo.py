"""The demo month generator: files, schema, realism, planted anomalies, determinism, streaming."""

from __future__ import annotations

import datetime as dt
import json
import re

import polars as pl
import pyarrow.parquet as pq
import pytest

from usagekit import demo, schema
from usagekit.demo import generate

N = 20_000
MONTH = "2026-10"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / MONTH
    return generate(out, month=MONTH, requests=N, seed=7, history_months=1, progress=False)


@pytest.fixture(scope="module")
def usage(run) -> pl.DataFrame:
    return pl.read_parquet(run.out_dir / "usage" / "*.parquet")


@pytest.fixture(scope="module")
def labels(run) -> dict:
    return json.loads(run.labels_path.read_text())


@pytest.fixture(scope="module")
def keys(run) -> pl.DataFrame:
    return pl.read_csv(run.keys_path, schema_overrides={"spend_cap_cents": pl.Float64})


def daily_spend(usage: pl.DataFrame, key_id: str) -> pl.DataFrame:
    """One row per day of the generated range (zero days included) with the key's spend."""
    days = usage.select(pl.col("ts").dt.date().unique().sort().alias("day"))
    spent = (
        usage.filter(pl.col("key_id") == key_id)
        .group_by(pl.col("ts").dt.date().alias("day"))
        .agg(pl.col("cost_cents").sum())
    )
    return days.join(spent, on="day", how="left").fill_null(0.0).sort("day")


def in_month(frame: pl.DataFrame, month: str = MONTH) -> pl.DataFrame:
    return frame.filter(pl.col("day").dt.strftime("%Y-%m") == month)


# -- files and schema ---------------------------------------------------------------------


def test_writes_one_parquet_per_day_with_the_exact_schema(run):
    expected = [dt.date(2026, 9, 1) + dt.timedelta(days=i) for i in range(61)]
    names = sorted(p.name for p in (run.out_dir / "usage").iterdir())
    assert names == [f"{d.isoformat()}.parquet" for d in expected]
    assert sorted(run.files) == sorted(run.out_dir / "usage" / n for n in names)
    for path in run.files[::10]:
        frame = pl.read_parquet(path)
        assert list(frame.columns) == list(schema.USAGE_COLUMNS)
        assert dict(frame.schema) == schema.USAGE_DTYPES
        assert pq.read_schema(path).remove_metadata().equals(schema.arrow_schema().remove_metadata())
        day = dt.date.fromisoformat(path.stem)
        assert frame["ts"].dt.date().unique().to_list() == [day]  # a file holds its UTC day only
        assert frame["ts"].is_sorted()


def test_keys_csv_and_labels_json(run, keys, labels):
    assert run.keys_path.read_text().splitlines()[0] == (
        "key_id,key_name,account_id,spend_cap_cents,agent_id,created_at,budget_period,budget_reset_at,account_name"
    )
    assert keys.height == labels["n_keys"]
    assert all(re.fullmatch(r"vk_[0-9a-f]{12}", k) for k in keys["key_id"])
    assert keys["key_id"].n_unique() == keys.height
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", c) for c in keys["created_at"])
    assert "R&D <sandbox>" in keys["key_name"].to_list()  # a name that needs HTML escaping
    capped = keys["spend_cap_cents"].is_not_null().sum()
    assert keys.height - 6 <= capped < keys.height  # most keys capped, a few not
    assert labels["month"] == MONTH
    assert {a["kind"] for a in labels["anomalies"]} == {"spike", "cap", "runaway"}
    for a in labels["anomalies"]:
        assert {"kind", "account_id", "key_id", "key_name", "day", "cap_cross_day", "model", "note"} <= set(a)
        assert a["day"].startswith(MONTH)
        row = keys.filter(pl.col("key_id") == a["key_id"])
        assert row["key_name"].item() == a["key_name"] and row["account_id"].item() == a["account_id"]
        assert row["account_name"].item() == a["account_name"]  # the registry names the accounts


def test_same_seed_same_output_and_other_seed_differs(run, usage, tmp_path):
    again = generate(tmp_path / "again", month=MONTH, requests=N, seed=7, progress=False)
    assert again.labels_path.read_bytes() == run.labels_path.read_bytes()
    assert again.keys_path.read_bytes() == run.keys_path.read_bytes()
    assert pl.read_parquet(again.out_dir / "usage" / "*.parquet").equals(usage)
    other = generate(tmp_path / "other", month=MONTH, requests=N, seed=8, progress=False)
    assert other.labels_path.read_bytes() != run.labels_path.read_bytes()
    assert not pl.read_parquet(other.out_dir / "usage" / "*.parquet").equals(usage)


# -- realism --------------------------------------------------------------------------------


def test_accounts_keys_providers_models_and_axes(usage, labels):
    assert set(usage["axis"].unique()) == {"llm", "voice", "compute"}
    assert usage["source"].unique().to_list() == ["demo"]
    assert usage["account_id"].n_unique() == 3 == labels["n_accounts"]
    assert all(a.startswith("acct_") for a in usage["account_id"].unique())
    assert 35 <= usage["key_id"].drop_nulls().n_unique() <= 45
    requests = usage.filter(pl.col("axis") != "compute")
    assert requests["provider"].n_unique() >= 6
    assert requests["model"].n_unique() >= 15
    voice = usage.filter(pl.col("axis") == "voice")
    assert set(voice["provider"].unique()) <= {"openai", "elevenlabs"}
    assert voice["characters"].null_count() == 0 and voice["input_tokens"].null_count() == voice.height
    llm = usage.filter(pl.col("axis") == "llm")
    assert llm["input_tokens"].null_count() == 0 and llm["characters"].null_count() == llm.height
    assert (llm["output_tokens"] >= llm["reasoning_tokens"]).all()
    assert (llm["input_tokens"] >= llm["cached_input_tokens"]).all()
    assert llm["reasoning_tokens"].max() > 0 and llm["cached_input_tokens"].max() > 0
    errors = requests.filter(pl.col("status") == "error").height / requests.height
    assert 0.008 < errors < 0.025
    assert requests.filter(pl.col("agent_id").is_not_null()).height > 0
    assert requests.filter(pl.col("agent_id").is_null()).height > 0


def test_compute_rows_are_hourly_buckets_of_agents_and_plain_vms(usage):
    compute = usage.filter(pl.col("axis") == "compute")
    assert compute.height > 0
    assert compute["request_id"].null_count() == compute.height
    assert compute["key_id"].null_count() == compute.height and compute["model"].null_count() == compute.height
    assert (compute["requests"] == 0).all() and (compute["provider"] == "compute").all()
    assert compute["account_id"].null_count() == 0
    assert set(compute["state"].unique()) == {"running", "paused"}
    assert compute["hours"].min() > 0 and compute["hours"].max() <= 1.0
    assert (compute["hours"] < 1).any()  # a VM started or stopped within an hour
    by_owner = compute.with_columns(owner=pl.coalesce("agent_id", "plain_vm_id"))
    assert by_owner["owner"].null_count() == 0
    assert compute["plain_vm_id"].drop_nulls().n_unique() >= 3
    paused = compute.filter(pl.col("state") == "paused")
    running = compute.filter(pl.col("state") == "running")
    assert (paused["cost_cents"] / paused["hours"]).max() < (running["cost_cents"] / running["hours"]).min()


def test_request_ids_unique_and_only_on_requests(usage):
    requests = usage.filter(pl.col("axis") != "compute")
    assert requests["request_id"].null_count() == 0
    assert requests["request_id"].n_unique() == requests.height
    assert (requests["requests"] == 1).all()


def test_weekends_are_lighter_than_weekdays(usage):
    per_day = (
        usage.filter(pl.col("axis") != "compute")
        .group_by(pl.col("ts").dt.date().alias("day"))
        .agg(pl.len().alias("n"))
        .with_columns(weekend=pl.col("day").dt.weekday() >= 6)
    )
    mean = dict(per_day.group_by("weekend").agg(pl.col("n").mean()).iter_rows())
    assert 0.2 < mean[True] / mean[False] < 0.55


def test_costs_are_continuous_cents_never_rounded(usage):
    cost = usage["cost_cents"]
    assert cost.null_count() == 0 and cost.min() >= 0
    assert (cost < 1).sum() > 0  # sub-cent requests
    requests = usage.filter(pl.col("axis") != "compute")["cost_cents"]
    assert (requests != requests.round(2)).mean() > 0.9  # not rounded to anything
    hours = usage.filter(pl.col("hours") < 1)["cost_cents"]
    assert (hours != hours.round(2)).any()  # part-hours of compute are not rounded either


def test_request_volume_follows_the_argument(labels):
    assert 0.85 * N <= labels["requests"] <= 1.2 * N
    assert 0.7 * N <= labels["history"][0]["requests"] <= 1.2 * N


def test_label_totals_equal_the_parquet(usage, labels, run):
    month = usage.filter(pl.col("ts").dt.strftime("%Y-%m") == MONTH)
    by_axis = dict(month.group_by("axis").agg(pl.col("cost_cents").sum()).iter_rows())
    for axis in ("llm", "voice", "compute"):
        assert labels["total_cost_cents"][axis] == pytest.approx(by_axis[axis], abs=1e-6)
    assert labels["total_cost_cents"]["total"] == pytest.approx(month["cost_cents"].sum(), abs=1e-6)
    assert labels["requests"] == month.filter(pl.col("axis") != "compute").height
    assert labels["rows"] == month.height
    assert run.rows == usage.height
    assert run.total_cost_cents == pytest.approx(usage["cost_cents"].sum(), abs=1e-6)


# -- planted anomalies -----------------------------------------------------------------------


def anomaly(labels, kind) -> dict:
    (a,) = [a for a in labels["anomalies"] if a["kind"] == kind]
    return a


def test_anomalies_sit_on_different_accounts(labels):
    assert len({a["account_id"] for a in labels["anomalies"]}) == 3


def test_spike_day_dwarfs_the_quiet_keys_usual_day(usage, labels):
    a = anomaly(labels, "spike")
    days = daily_spend(usage, a["key_id"])
    spike_day = dt.date.fromisoformat(a["day"])
    spike = days.filter(pl.col("day") == spike_day)["cost_cents"].item()
    others = days.filter(pl.col("day") != spike_day)["cost_cents"]
    assert spike >= 30 * days["cost_cents"].median()
    assert others.max() <= 3 * others.median()  # quiet and steady before, back to normal after
    assert (others > 0).all()
    top = (
        usage.filter((pl.col("key_id") == a["key_id"]) & (pl.col("ts").dt.date() == spike_day))
        .group_by("model")
        .agg(pl.col("cost_cents").sum())
        .sort("cost_cents")["model"][-1]
    )
    assert top == a["model"]


def test_runaway_day_carries_most_of_the_month(usage, labels):
    a = anomaly(labels, "runaway")
    days = in_month(daily_spend(usage, a["key_id"]))
    day = dt.date.fromisoformat(a["day"])
    huge = days.filter(pl.col("day") == day)["cost_cents"].item()
    assert huge > 0.8 * days["cost_cents"].sum()
    assert (days.filter(pl.col("day") != day)["cost_cents"] < 1.0).all()  # the other days are near zero
    rows = usage.filter((pl.col("key_id") == a["key_id"]) & (pl.col("ts").dt.date() == day))
    assert rows.height >= 1000 and rows["model"].value_counts().sort("count")["model"][-1] == a["model"]


def test_cap_key_crosses_its_cap_on_the_labelled_day(usage, labels, keys):
    a = anomaly(labels, "cap")
    cap = keys.filter(pl.col("key_id") == a["key_id"])["spend_cap_cents"].item()
    assert cap is not None and cap == pytest.approx(a["cap_cents"])
    days = in_month(daily_spend(usage, a["key_id"])).with_columns(cum=pl.col("cost_cents").cum_sum())
    cross = dt.date.fromisoformat(a["cap_cross_day"])
    assert 24 <= cross.day <= 27
    assert (days.filter(pl.col("day") < cross)["cum"] <= cap).all()
    assert (days.filter(pl.col("day") >= cross)["cum"] > cap).all()
    assert dt.date.fromisoformat(a["day"]) <= cross  # projected over the cap before it is crossed
    assert dt.date.fromisoformat(a["day"]).day > 15


def test_history_month_and_other_keys_are_normal(usage, labels, keys):
    planted = {a["key_id"]: a["kind"] for a in labels["anomalies"]}
    history = usage.filter(pl.col("ts").dt.strftime("%Y-%m") == "2026-09")
    for key_id, kind in planted.items():
        days = in_month(daily_spend(history, key_id), "2026-09")["cost_cents"]
        if kind == "runaway":
            assert days.max() < 1.0
        else:
            assert days.max() <= 3 * days.median()
    caps = dict(keys.select("key_id", "spend_cap_cents").iter_rows())
    for key_id in usage["key_id"].drop_nulls().unique():
        if key_id in planted:
            continue
        days = daily_spend(usage, key_id)
        assert days["cost_cents"].max() <= 4 * days["cost_cents"].median(), key_id
        month_spend = in_month(days)["cost_cents"].sum()
        if caps[key_id] is not None:
            assert month_spend <= caps[key_id] / 2, key_id  # caps far from reached


# -- arguments, output directory, streaming --------------------------------------------------


@pytest.mark.parametrize("bad", ["2026-13", "2026/10", "26-10", "2026-1", "october"])
def test_month_must_be_yyyy_mm(tmp_path, bad):
    with pytest.raises(ValueError, match="YYYY-MM") as err:
        generate(tmp_path / "d", month=bad, requests=N, progress=False)
    assert repr(bad) in str(err.value)
    assert not (tmp_path / "d").exists()


def test_requests_must_be_at_least_1000(tmp_path):
    with pytest.raises(ValueError, match="1000"):
        generate(tmp_path / "d", requests=999, progress=False)


def test_refuses_a_non_empty_directory_that_is_not_a_demo(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="labels.json") as err:
        generate(tmp_path, requests=1000, progress=False)
    assert "empty" in str(err.value)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_rewrites_a_previous_demo_without_stale_days(tmp_path):
    out = tmp_path / "demo"
    generate(out, month="2026-10", requests=2000, history_months=1, progress=False)
    result = generate(out, month="2026-02", requests=2000, history_months=0, progress=False)
    names = sorted(p.name for p in (out / "usage").iterdir())
    assert names == [f"2026-02-{d:02d}.parquet" for d in range(1, 29)]
    assert json.loads(result.labels_path.read_text())["month"] == "2026-02"


def test_large_days_are_written_in_row_groups(tmp_path, monkeypatch):
    monkeypatch.setattr(demo, "CHUNK_ROWS", 300)
    small = generate(tmp_path / "chunked", requests=5000, history_months=0, progress=False)
    monkeypatch.setattr(demo, "CHUNK_ROWS", 2_000_000)
    whole = generate(tmp_path / "whole", requests=5000, history_months=0, progress=False)
    weekday = small.out_dir / "usage" / "2026-10-14.parquet"
    meta = pq.ParquetFile(weekday).metadata
    assert meta.num_rows > 600 and meta.num_row_groups >= 2
    assert all(meta.row_group(i).num_rows <= 300 for i in range(meta.num_row_groups))
    assert pq.ParquetFile(whole.out_dir / "usage" / weekday.name).metadata.num_row_groups == 1
    # the layout changes, the contents do not
    assert pl.read_parquet(weekday).equals(pl.read_parquet(whole.out_dir / "usage" / weekday.name))


def test_busy_hours_are_generated_in_slices(tmp_path, monkeypatch):
    monkeypatch.setattr(demo, "SLICE_ROWS", 50)
    result = generate(tmp_path / "sliced", requests=5000, history_months=0, progress=False)
    frame = pl.read_parquet(result.out_dir / "usage" / "*.parquet")
    assert frame["ts"].is_sorted()
    requests = frame.filter(pl.col("axis") != "compute")
    assert requests["request_id"].n_unique() == requests.height
    assert dict(frame.schema) == schema.USAGE_DTYPES


def test_summary_and_progress(tmp_path, capsys):
    result = generate(tmp_path / "p", requests=2000, history_months=0, progress=True)
    captured = capsys.readouterr()
    assert captured.out == "" and "day" in captured.err  # the bar goes to stderr
    text = result.summary()
    for word in ("usage/", "keys.csv", "labels.json", "spike", "cap", "runaway", "llm", "voice", "compute"):
        assert word in text
    assert f"{result.rows:,}" in text
