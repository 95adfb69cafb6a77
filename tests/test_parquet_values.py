"""Typed Parquet validated with its dictionaries (usagekit/sources/_dictionary.py) gives exactly the
rows, rejections and masking of the per-batch checks, and skips the checks only for clean columns."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

import usagekit
from usagekit import sources
from usagekit.sources._dictionary import text_values, validating

N = 12_000  # above the per-value threshold of usagekit.values, so both paths are exercised


def _rows(hostile: bool) -> pl.DataFrame:
    t0 = dt.datetime(2026, 10, 1, tzinfo=dt.timezone.utc)
    pick = lambda options: [options[i % len(options)] for i in range(N)]  # noqa: E731
    return pl.DataFrame(
        {
            "ts": [t0 + dt.timedelta(seconds=i) for i in range(N)],
            "request_id": [f"req_{i}" for i in range(N)],
            "key_id": pick(["vk_a", "sk-proj-AbCdEfGhIjKlMnOpQrStUv0123", None] if hostile else ["vk_a", None]),
            "key_name": pick(["", "Sales bot", None] if hostile else ["Sales bot"]),
            "model": pick(["gpt-4.1", "GPT-4.1"]),
            "provider": pick(["openai", "OpenAI", None] if hostile else ["openai", None]),
            "axis": pick(["llm", None, "LLM", "bogus"] if hostile else ["llm", None]),
            "status": pick(["success", "ok", None, "weird"] if hostile else ["success", None, "error"]),
            "state": pick(["", None, "running", "nope"] if hostile else [None, "running"]),
            "cost_source": pick(["source", None, "zz"] if hostile else ["source"]),
            "cost_cents": [float(i % 7) if i % 11 else None for i in range(N)],
        }
    )


def _staged(path, learn: bool) -> pl.DataFrame:
    fmt, probe = sources.detect(path)
    if learn:
        with validating():
            loaded = fmt.read(path, probe)
    else:
        loaded = fmt.read(path, probe)
    return loaded.usage.collect()


@pytest.mark.parametrize("hostile", [True, False])
def test_dictionary_values_give_the_rows_and_reasons_of_the_per_batch_checks(tmp_path, hostile):
    path = tmp_path / "usage.parquet"
    _rows(hostile).write_parquet(path, row_group_size=5_000)
    learned, checked = _staged(path, True), _staged(path, False)
    assert learned.equals(checked)
    if hostile:
        assert "sk-proj-AbCdEfGhIjKlMnOpQrStUv0123" not in learned["key_id"].to_list()
        assert "sk-proj-...0123#7f56d1f9" in learned["key_id"].to_list()
        assert set(learned["provider"].drop_nulls()) == {"openai"}
        assert learned["_reject"].is_not_null().sum() > 0
    else:
        assert learned["_reject"].is_null().all()
        assert set(learned["axis"]) == {"llm"}  # a null axis still becomes llm
        assert set(learned["status"]) == {"success", "error"}  # a null status still becomes success


def test_a_load_reports_the_same_with_and_without_the_store(tmp_path):
    path = tmp_path / "usage.parquet"
    _rows(True).write_parquet(path)
    cold = usagekit.load(path, store=tmp_path / "store")
    plain = usagekit.load(path, store=False)
    assert cold.load_report.rejected == plain.load_report.rejected > 0
    assert cold.load_report.files[0].reasons == plain.load_report.files[0].reasons
    assert cold.daily(by="model").equals(plain.daily(by="model"))


def test_text_values_lists_every_value_and_whether_a_column_holds_nulls(tmp_path):
    path = tmp_path / "usage.parquet"
    df = _rows(True)
    df.write_parquet(path, row_group_size=1_000)
    cols = {c: c for c in ("key_id", "provider", "model", "account_id")}
    assert text_values(path, cols) == {}  # only while validating
    with validating():
        got = text_values(path, cols)
    assert set(got) == {"key_id", "provider", "model"}  # account_id is not in the file
    for c, (values, nulls) in got.items():
        assert set(values.to_list()) == set(df[c].drop_nulls().to_list())
        assert nulls == (df[c].null_count() > 0)


def test_a_column_whose_values_are_all_clean_is_not_checked_per_batch(tmp_path):
    path = tmp_path / "usage.parquet"
    _rows(False).write_parquet(path)
    fmt, probe = sources.detect(path)
    with validating():
        learned = fmt.read(path, probe).usage.explain()
    checked = fmt.read(path, probe).usage.explain()
    assert learned.count("python_udf") < checked.count("python_udf")
