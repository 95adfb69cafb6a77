"""`usagekit report` needs its data named: a source, or the demo on request."""

from __future__ import annotations

import subprocess
import sys

import pytest

from usagekit.report import ReportError, publish


def test_report_without_source_exits_two_with_the_fix(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "usagekit.cli", "report", "--month", "2026-10", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "no usage data given: pass --source PATH" in proc.stderr and "or --demo" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "2026-10").exists()  # nothing published, no demo month in its place


def test_publish_without_source_is_an_error_not_the_demo(tmp_path):
    with pytest.raises(ReportError, match="--source PATH.*--demo"):
        publish(month="2026-10", source=None, out=tmp_path, progress=False)
    assert not any(tmp_path.iterdir())


def test_the_publisher_does_not_import_the_demo_generator():
    code = "import sys, usagekit.report, usagekit.cli; print('usagekit.demo' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "False", out.stderr
