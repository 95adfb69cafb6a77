"""``benchmarks/cube.py --readme``: the README's benchmark tables are written from a run, not by hand."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def cube():
    spec = importlib.util.spec_from_file_location("bench_cube", ROOT / "benchmarks" / "cube.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _run(load_s, query_s, peak_mb=800.0, cents=123.0):
    return {
        "load_s": load_s,
        "query_s": query_s,
        "peak_mb": peak_mb,
        "loadavg": (1.2, 1.5),
        "total_cents": cents,
        "keys_cents": cents,
        "day_log_s": 0.25,
        "phases": ["[usagekit.load 0.5 s, 0.4 GB] validating 31 file(s)"],
    }


def test_markdown_gives_ratios_numbers_check_and_targets(cube):
    results = {
        "usagekit cold (empty store)": _run(4.0, 0.5),
        "usagekit warm (stored)": _run(0.1, 0.15),
        "usagekit +1 day (stored)": _run(3.0, 0.4, cents=999.0),  # disagrees: must say NO
        "raw Polars": _run(0.0, 1.5),
        "raw DuckDB SQL": _run(0.0, 1.0),
    }
    text = cube.markdown(
        10_000_000, results, "2026-11-26 08:00 UTC", "2 cores", (1.0, 1.6), "python benchmarks/cube.py"
    )
    assert "2026-11-26 08:00 UTC" in text and "load average 1.0 at the start and 1.6 at the end" in text
    # at 10M the reference is raw Polars, even though DuckDB was faster
    assert "| usagekit cold (empty store) | 4.00 | 0.500 | 4.50 | 3.0x | 0.8 GB | 0.25 | yes | 1.2-1.5 |" in text
    assert "| raw DuckDB SQL | - | 1.000 | 1.00 | 0.7x |" in text
    assert "| usagekit +1 day (stored) | 3.00 | 0.400 | 3.40 | 2.3x | 0.8 GB | 0.25 | NO |" in text
    assert "* cold first answer <= 4x raw Polars: met (4.50 s, 3.0x)" in text
    assert "* warm first answer <= 0.3 s: met (0.25 s)" in text
    assert "* one new day <= 3 s: NOT met (3.40 s first answer)" in text
    assert "validating 31 file(s)" in text
    # at 100M the reference is the fastest raw engine
    big = cube.markdown(100_000_000, results, "t", "m", (1, 1), "c")
    assert "| usagekit cold (empty store) | 4.00 | 0.500 | 4.50 | 4.5x |" in big
    assert "* cold first answer <= 4x raw DuckDB SQL: NOT met (4.50 s, 4.5x)" in big


def test_update_readme_replaces_only_its_own_block(cube, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(
        "# title\nbefore\n<!-- bench:cube:10 -->\nold ten\n<!-- /bench:cube:10 -->\nmiddle\n"
        "<!-- bench:cube:100 -->\nold hundred\n<!-- /bench:cube:100 -->\nafter\n"
    )
    cube.update_readme(readme, 10, "new table")
    assert readme.read_text() == (
        "# title\nbefore\n<!-- bench:cube:10 -->\nnew table\n<!-- /bench:cube:10 -->\nmiddle\n"
        "<!-- bench:cube:100 -->\nold hundred\n<!-- /bench:cube:100 -->\nafter\n"
    )


def test_update_readme_without_markers_says_what_to_add(cube, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# no markers\n")
    with pytest.raises(SystemExit, match=r"no '<!-- bench:cube:7 -->' \.\.\. '<!-- /bench:cube:7 -->' block"):
        cube.update_readme(readme, 7, "x")
    assert readme.read_text() == "# no markers\n"


def test_readme_has_blocks_for_both_documented_sizes():
    text = (ROOT / "README.md").read_text()
    for n in (10_000_000, 100_000_000):
        assert f"<!-- bench:cube:{n} -->" in text and f"<!-- /bench:cube:{n} -->" in text
