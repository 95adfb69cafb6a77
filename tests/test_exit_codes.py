"""Exit codes a scheduler can act on, for every command, run as real processes:
0 fine, 1 rejected rows / findings, 2 unusable input, 70 an internal error (one line and the path
of a saved traceback, never the traceback itself)."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from usagekit.cli import EXIT_ERROR, EXIT_INTERNAL, EXIT_OK, EXIT_PROBLEMS
from usagekit.report import clean_stale_runs

ROWS = ["ts,request_id,key_id,key_name,cost_cents"]
ROWS += [f"2026-09-{min(d, 30):02d}T10:00:00Z,s{d},k1,quiet-key,20" for d in range(1, 31)]
ROWS += [f"2026-10-{d:02d}T10:00:00Z,o{d},k1,quiet-key,{5000 if d == 17 else 20}" for d in range(1, 20)]


def usagekit(*args, env=None, cwd=None, timeout=300):
    return subprocess.run(
        [sys.executable, "-m", "usagekit.cli", *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        timeout=timeout,
    )


def faulty(command_args, target, crash_dir, cwd=None):
    """Run the CLI with ``target`` (module.attribute) replaced by a function raising a bug."""
    module, attr = target.rsplit(".", 1)
    code = (
        f"import sys, importlib, usagekit.cli\n"
        f"m = importlib.import_module({module!r})\n"
        f"def boom(*a, **k):\n    raise KeyError('column vanished')\n"
        f"setattr(m, {attr!r}, boom)\n"
        f"sys.exit(usagekit.cli.main(sys.argv[1:]))\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code, *map(str, command_args)],
        capture_output=True,
        text=True,
        env={**os.environ, "USAGEKIT_CRASH_DIR": str(crash_dir)},
        cwd=cwd,
        timeout=300,
    )


@pytest.fixture(scope="module")
def usage_csv(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("exit") / "usage.csv"
    path.write_text("\n".join(ROWS) + "\n")
    return path


@pytest.fixture(scope="module")
def with_rejects(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("exit-rej") / "usage.csv"
    path.write_text(
        "\n".join(ROWS + ["2026-10-05T10:00:00Z,bad,k1,quiet-key,-3", "99999-10-05T10:00:00Z,bad2,k1,quiet-key,3"])
        + "\n"
    )
    return path


def _internal_error_is_one_line_and_a_saved_traceback(proc, crash_dir, command):
    assert proc.returncode == EXIT_INTERNAL == 70, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert f"usagekit {command}: internal error: KeyError" in lines[0] and "column vanished" in lines[0]
    saved = sorted(Path(crash_dir).glob(f"usagekit-{command}-*.txt"))
    assert len(saved) == 1 and str(saved[0]) in lines[0]
    text = saved[0].read_text()
    assert "Traceback (most recent call last)" in text and "KeyError: 'column vanished'" in text
    assert oct(saved[0].stat().st_mode & 0o777) == "0o600"


def test_check_exit_codes(usage_csv, with_rejects, tmp_path):
    assert usagekit("check", usage_csv, cwd=tmp_path).returncode == EXIT_OK
    proc = usagekit("check", with_rejects, "--rejected", tmp_path / "rej.csv")
    assert proc.returncode == EXIT_PROBLEMS, proc.stderr
    assert "2 rows not kept (2 rejected" in proc.stdout
    bad = tmp_path / "deep.json"
    bad.write_text("[" * 100_000 + "]" * 100_000)
    proc = usagekit("check", bad)
    assert proc.returncode == EXIT_ERROR and "deep.json" in proc.stderr and "Traceback" not in proc.stderr
    proc = faulty(["check", usage_csv], "usagekit.loading.load", tmp_path / "crashes", cwd=tmp_path)
    _internal_error_is_one_line_and_a_saved_traceback(proc, tmp_path / "crashes", "check")


def test_anomalies_exit_codes(usage_csv, tmp_path):
    args = ["anomalies", usage_csv, "--month", "2026-10"]
    assert usagekit(*args, "--as-of", "2026-10-10").returncode == EXIT_OK
    proc = usagekit(*args, "--as-of", "2026-10-20", "--fail-on", "warning")
    assert proc.returncode == EXIT_PROBLEMS and "spike" in proc.stdout
    proc = usagekit(*args, "--as-of", "yesterday-ish")
    assert proc.returncode == EXIT_ERROR and "is not a time" in proc.stderr
    proc = usagekit("anomalies", tmp_path / "missing.csv")
    assert proc.returncode == EXIT_ERROR and "no such file" in proc.stderr
    proc = faulty(args, "usagekit.anomalies.detect", tmp_path / "crashes")
    _internal_error_is_one_line_and_a_saved_traceback(proc, tmp_path / "crashes", "anomalies")


def test_demo_data_exit_codes(tmp_path):
    proc = usagekit("demo-data", "--out", tmp_path / "d", "--requests", "5")
    assert proc.returncode == EXIT_ERROR and "too small" in proc.stderr


def test_report_exits_two_when_nothing_can_be_published_and_70_on_a_bug(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"\x00\x01\x02 not usage")
    out = tmp_path / "reports"
    proc = usagekit("report", "--month", "2026-10", "--source", bad, "--out", out, "--quiet")
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert not (out / "2026-10" / "all" / "report.html").exists()
    proc = faulty(
        ["report", "--month", "2026-10", "--source", bad, "--out", out, "--quiet"],
        "usagekit.report.publish",
        tmp_path / "crashes",
    )
    _internal_error_is_one_line_and_a_saved_traceback(proc, tmp_path / "crashes", "report")


def _hold_run_folder(month_dir: Path):
    """A process that owns a run folder, as a live publishing run does (it holds the owner lock)."""
    code = (
        "import fcntl, sys, time, pathlib\n"
        "d = pathlib.Path(sys.argv[1]); d.mkdir(parents=True)\n"
        "fh = open(d / '.owner', 'w'); fcntl.flock(fh, fcntl.LOCK_EX)\n"
        "print('held', flush=True); time.sleep(600)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(month_dir / ".run-live")], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_killed_report_runs_folder_is_removed_by_the_next_run(with_rejects, tmp_path):
    out = tmp_path / "reports"
    month_dir = out / "2026-10"
    args = ["report", "--month", "2026-10", "--source", with_rejects, "--out", out, "--quiet"]
    run = subprocess.Popen(
        [sys.executable, "-m", "usagekit.cli", *map(str, args)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 120
    while not list(month_dir.glob(".run-*/.owner")) and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(run.pid, signal.SIGKILL)
    run.wait()
    left = list(month_dir.glob(".run-*"))
    assert len(left) == 1  # what a killed run leaves behind
    live = _hold_run_folder(month_dir)
    try:
        proc = usagekit(*args)
        assert proc.returncode == EXIT_OK, proc.stderr
        # published despite rejected rows, and a line says so
        assert (month_dir / "all" / "report.html").exists()
        assert "2 input rows were rejected while loading" in proc.stdout
        assert not left[0].exists()  # the killed run's folder is gone
        assert (month_dir / ".run-live").exists()  # a live run's folder is not touched
        assert [p.name for p in month_dir.glob(".run-*")] == [".run-live"]
    finally:
        live.kill()
        live.wait()
    assert [p.name for p in clean_stale_runs(month_dir)] == [".run-live"]  # now its owner is gone


def test_a_run_folder_without_an_owner_is_left_alone_while_young(tmp_path):
    young = tmp_path / ".run-young"
    young.mkdir()
    old = tmp_path / ".run-old"
    old.mkdir()
    past = time.time() - 3600
    os.utime(old, (past, past))
    assert clean_stale_runs(tmp_path) == [old]
    assert young.exists() and not old.exists()
    with open(young / ".owner", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        assert clean_stale_runs(tmp_path) == []


def test_a_report_cell_failing_on_a_bug_is_internal_and_on_bad_input_is_not():
    from types import SimpleNamespace

    from usagekit.report import _is_internal

    assert not _is_internal(SimpleNamespace(ename="SourceError"))  # bad input: exit 2
    assert not _is_internal(SimpleNamespace(ename="KeyRegistryError"))
    assert _is_internal(SimpleNamespace(ename="KeyError"))  # a bug in a section: exit 70
    assert _is_internal(SimpleNamespace(ename="TypeError"))
