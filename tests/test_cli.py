"""The usagekit command as a user runs it: real processes, exit codes, printed paths."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


def run(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "usagekit.cli", *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=300
    )


@pytest.mark.parametrize("cmd", [[], ["check"], ["demo-data"], ["anomalies"]])
def test_every_command_has_help(cmd):
    proc = run(*cmd, "--help")
    assert proc.returncode == 0
    assert "usage: usagekit" in proc.stdout


def test_check_on_a_mixed_directory_prints_accounting_and_writes_rejected_rows(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    shutil.copy(DATA / "canonical" / "usage.csv", src / "a.csv")
    shutil.copy(DATA / "canonical" / "usage.jsonl", src / "b.jsonl")
    shutil.copy(DATA / "canonical" / "keys.csv", src / "keys.csv")
    (src / "bad.csv").write_text("ts,request_id,cost_cents\n2026-10-01T00:00:00Z,x1,-4\n2026-10-01T00:00:00Z,x2,3\n")
    for extra in sorted(DATA.glob("*/")):
        if extra.name == "canonical":
            continue
        for f in sorted(extra.glob("*")):
            if f.is_file() and not any(
                t in f.name
                for t in ("bad", "trunc", "missing", "malformed", "wrong", "broken", "negative", "invalid", "cut")
            ):
                shutil.copy(f, src / f"{extra.name}-{f.name}")
    out = tmp_path / "rej.csv"
    proc = run("check", src, "--rejected", out, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr  # rows were rejected
    text = proc.stdout
    assert "a.csv" in text and "b.jsonl" in text and "bad.csv" in text
    assert "read = kept + rejected + duplicates holds" in text
    assert "negative cost" in text
    assert f"written to {out}" in text or "rej.csv" in text
    rejected = out.read_text().splitlines()
    assert rejected[0].startswith("file,row,field,reason,value")
    assert len(rejected) >= 3  # the negative cost and the duplicate


def test_check_clean_file_exits_zero():
    proc = run("check", DATA / "canonical" / "usage.csv")
    assert proc.returncode == 0, proc.stderr
    assert "all rows kept" in proc.stdout


def test_unusable_input_exits_two_with_a_message_not_a_traceback(tmp_path):
    bad = tmp_path / "broken.csv"
    bad.write_text("ts,request_id,cost\n2026-10-01T00:00:00Z,r,1\n")
    proc = run("check", bad, "--format", "canonical")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "broken.csv" in proc.stderr and "cost_cents" in proc.stderr
    proc = run("check", tmp_path / "missing.csv")
    assert proc.returncode == 2 and "no such file" in proc.stderr
    proc = run("demo-data", "--month", "2026-13", "--out", tmp_path / "d")
    assert proc.returncode == 2 and "YYYY-MM" in proc.stderr


def test_anomalies_json_and_exit_code(tmp_path):
    rows = ["ts,request_id,key_id,key_name,cost_cents"]
    for d in range(1, 32):
        rows.append(f"2026-09-{min(d, 30):02d}T10:00:00Z,s{d},k1,quiet-key,20")
    for d in range(1, 20):
        rows.append(f"2026-10-{d:02d}T10:00:00Z,o{d},k1,quiet-key,{5000 if d == 17 else 20}")
    src = tmp_path / "u.csv"
    src.write_text("\n".join(rows) + "\n")
    proc = run("anomalies", src, "--month", "2026-10", "--as-of", "2026-10-20", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert [(f["kind"], f["key_id"], f["day"]) for f in doc["findings"]] == [("spike", "k1", "2026-10-17")]
    proc = run("anomalies", src, "--month", "2026-10", "--as-of", "2026-10-20", "--fail-on", "warning")
    assert proc.returncode == 1
    assert "spike" in proc.stdout and "rotate" in proc.stdout.lower()
    quiet = run("anomalies", src, "--month", "2026-10", "--as-of", "2026-10-10")
    assert quiet.returncode == 0 and "no anomalies found" in quiet.stdout
