"""A raw key secret in the input never reaches any file usagekit writes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

import usagekit
from usagekit.masking import display, redact, redact_expr
from usagekit.report import publish

SECRET_A = "sk-proj-Q9vX2mLr8TfA1bC3dE5gH7jK9nP2qR4sAbCd"
SECRET_B = "sk-ant-api03-Zz0Yy1Xx2Ww3Vv4Uu5Tt6Ss7Rr8Qq9AbCd"  # same last four characters as A
BEARER = "Bearer eyJhbGciOiJIUzI1NiJ9.c2VjcmV0LXRva2Vu.AbCdEf"
SECRETS = (SECRET_A, SECRET_B, BEARER.split()[1])
DATA_USAGE = Path(__file__).parent / "data" / "canonical" / "usage.csv"


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("secret-src")
    lines = ["ts,request_id,key_id,key_name,account_id,agent_name,model,provider,cost_cents"]
    for day in range(1, 29):
        for i, key in enumerate((SECRET_A, SECRET_B, "vk_plain")):
            name = f"leaky {BEARER}" if key == SECRET_B else f"key {i}"
            cost = 5000.0 if (key == SECRET_A and day == 20) else 40.0 + i
            lines.append(f"2026-10-{day:02d}T10:00:00Z,r{day}-{i},{key},{name},acct_1,bot,gpt-4.1,openai,{cost}")
    lines.append(f"2026-10-05T10:00:00Z,bad1,vk_plain,key,acct_1,bot,gpt-4.1,openai,{SECRET_A}")  # rejected row
    (src / "usage.csv").write_text("\n".join(lines) + "\n")
    (src / "keys.csv").write_text(
        "key_id,key_name,account_id,spend_cap_cents,agent_id,created_at\n"
        f"{SECRET_A},,acct_1,100000,,2026-01-01\n{SECRET_B},,acct_1,2000,,2026-01-01\n"
    )
    return src


def test_secrets_become_stable_distinct_masked_ids():
    a, b = redact(SECRET_A), redact(SECRET_B)
    assert a != b and a.endswith(a.split("#")[1]) and "AbCd" in a and "AbCd" in b
    assert redact(SECRET_A) == a  # stable across calls
    assert display(a) == "sk-proj-...AbCd" and display(SECRET_A) == "sk-proj-...AbCd"
    assert redact("vk_plain") == "vk_plain" and redact(None) is None
    assert SECRET_A[:-4] not in a
    out = pl.DataFrame({"k": [SECRET_A, "x", None]}).lazy().select(redact_expr("k")).collect()["k"].to_list()
    assert out == [a, "x", None]


def test_loaded_table_registry_and_rejected_rows_hold_no_secret(source):
    usage = usagekit.load(source)
    frames = [usage.to_pandas(), usage.keys, usage.rejected]
    for frame in frames:
        text = frame.astype(str).to_csv()
        for s in SECRETS:
            assert s not in text
    keys = set(usage.to_pandas()["key_id"])
    assert redact(SECRET_A) in keys and redact(SECRET_B) in keys and len(keys) == 3
    # the registry's caps still join the masked usage ids
    summary = usage.filter(month="2026-10").key_summary().set_index("key_id")
    assert summary.loc[redact(SECRET_B), "spend_cap_cents"] == 2000


def _scan(root: Path) -> list[str]:
    leaks = []
    for f in root.rglob("*"):
        if f.is_file():
            data = f.read_bytes()
            leaks += [f"{f}: {s[:12]}..." for s in SECRETS if s.encode() in data]
    return leaks


def test_no_published_file_holds_a_raw_secret(source, tmp_path):
    out = tmp_path / "reports"
    published = publish(month="2026-10", source=source, out=out, progress=False)
    page = published.html.read_text()
    assert "sk-proj-...AbCd" in page  # the masked form is what people see
    assert _scan(out) == []


def test_check_writes_rejected_rows_without_the_secret(source, tmp_path):
    rej = tmp_path / "rejected.csv"
    proc = subprocess.run(
        [sys.executable, "-m", "usagekit.cli", "check", str(source), "--rejected", str(rej)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1, proc.stderr
    assert rej.exists() and "bad1" in rej.read_text()
    assert _scan(tmp_path) == []
    assert not any(s in proc.stdout + proc.stderr for s in SECRETS)


def test_saved_traceback_of_an_internal_error_holds_no_secret(source, tmp_path):
    # a bug whose message and traceback carry a raw secret (an exception raised deep in a load)
    code = (
        "import sys, usagekit.cli, usagekit.loading\n"
        "def boom(*a, **k):\n"
        f"    raise RuntimeError('could not join {SECRET_A} with ' + {BEARER!r})\n"
        "usagekit.loading.load = boom\n"
        "sys.exit(usagekit.cli.main(sys.argv[1:]))\n"
    )
    crashes = tmp_path / "crashes"
    proc = subprocess.run(
        [sys.executable, "-c", code, "check", str(source)],
        capture_output=True,
        text=True,
        env={**__import__("os").environ, "USAGEKIT_CRASH_DIR": str(crashes)},
    )
    assert proc.returncode == 70, proc.stderr
    saved = list(crashes.glob("usagekit-check-*.txt"))
    assert len(saved) == 1 and "RuntimeError" in saved[0].read_text()
    assert "sk-proj-...AbCd" in saved[0].read_text()  # masked, still recognisable
    assert _scan(crashes) == []
    assert not any(s in proc.stdout + proc.stderr for s in SECRETS)


def test_rejected_registry_values_are_masked(tmp_path):
    keys = tmp_path / "keys.csv"
    keys.write_text(f"key_id,key_name,account_id,spend_cap_cents\nk1,a,acct,{SECRET_A}\n{SECRET_B},b,acct,-5\n")
    usage = usagekit.load(DATA_USAGE, keys=keys)
    (fr,) = [f for f in usage.load_report.files if f.keys_rejected]
    text = (
        fr.key_rejects.write_csv()
        + str(usage.load_report)
        + usage.load_report.details()
        + repr(usage.load_report.registry_rejected_keys)
    )
    assert not any(s in text for s in SECRETS)
    assert redact(SECRET_B) in usage.load_report.registry_rejected_keys


def test_masking_per_distinct_value_matches_masking_per_row():
    """Big low-cardinality batches are masked once per distinct value; the result is the same
    as masking every cell (and a high-cardinality batch still masks every secret)."""
    from usagekit import values

    few = pl.Series("k", [SECRET_A, "vk_1", None, f"name {BEARER}", "vk_2"] * 4000)
    many = pl.Series("r", [f"req-{i}" for i in range(20000)] + [SECRET_B])
    assert values.distinct(few) is not None and values.distinct(many) is None
    for s in (few, many):
        got = pl.DataFrame({s.name: s}).lazy().select(redact_expr(s.name)).collect().to_series().to_list()
        assert got == [redact(v) for v in s.to_list()]
        assert not any(secret in str(v) for v in got for secret in SECRETS)
