"""Honest empty states: a month without data is said plainly (exit 2), defaults say which month they chose."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest

import usagekit
from usagekit.errors import NoDataError
from usagekit.months import default_month, require_data


@pytest.fixture(scope="module")
def usage(demo_dir):
    return usagekit.load(demo_dir)


def test_default_month_is_the_current_one_or_the_latest_with_data(usage):
    assert str(default_month(usage, today=dt.date(2026, 10, 9))) == "2026-10: the current month in UTC"
    later = default_month(usage, today=dt.date(2026, 12, 3))
    assert later.month == "2026-10"
    assert later.reason == "the latest month with data (the current month, 2026-12 in UTC, has none)"


def test_an_empty_month_is_an_error_naming_the_span(usage):
    with pytest.raises(NoDataError, match=r"no usage in 2026-12: the data spans 2026-09-01 to 2026-10-31"):
        require_data(usage, "2026-12")
    with pytest.raises(NoDataError, match="for account acct_nobody"):
        require_data(usage, "2026-10", account="acct_nobody")
    require_data(usage, "2026-10")


def _cli(*args, timeout=300):
    return subprocess.run(
        [sys.executable, "-m", "usagekit.cli", *args], capture_output=True, text=True, timeout=timeout
    )


def test_anomalies_on_an_empty_month_exits_two_instead_of_an_all_clear(demo_dir):
    proc = _cli("anomalies", str(demo_dir), "--month", "2026-12")
    assert proc.returncode == 2 and "no anomalies" not in proc.stdout
    assert "no usage in 2026-12" in proc.stderr and "--month 2026-10" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_anomalies_without_a_month_says_which_month_it_checks(demo_dir):
    proc = _cli("anomalies", str(demo_dir), "--json")
    assert proc.returncode == 0
    expected = default_month(usagekit.load(demo_dir))
    assert f"checking {expected}" in proc.stderr  # stdout stays pure JSON
    import json

    assert json.loads(proc.stdout)["month"] == expected.month


def test_report_of_an_empty_month_publishes_nothing_and_exits_two(demo_dir, tmp_path):
    proc = _cli(
        "report", "--source", str(demo_dir), "--month", "2026-12", "--out", str(tmp_path), "--quiet", timeout=600
    )
    assert proc.returncode == 2
    assert "nothing published: no usage in 2026-12" in proc.stderr and "Traceback" not in proc.stderr
    assert not list(tmp_path.glob("*/*/report.html"))
    index = tmp_path / "index.html"
    assert not index.exists() or "2026-12" not in index.read_text()
