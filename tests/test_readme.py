"""The README's Python blocks run, in order, against the demo month (so the walkthrough cannot drift).

Every fenced ``python`` block of README.md runs in one namespace, from a temporary directory
holding ``demo/2026-10`` and ``tests/data`` (the repository's fixtures, as from its root). A block that cannot run here says so in the README itself: an HTML
comment ``<!-- readme-test: skip (why) -->`` on the line before its fence.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
FENCE = re.compile(
    r"(?P<marker><!-- readme-test: skip \((?P<why>[^)]*)\) -->\n)?```(?P<lang>\w*)\n(?P<code>.*?)```", re.S
)


def blocks():
    text = README.read_text(encoding="utf-8")
    out = []
    for m in FENCE.finditer(text):
        line = text.count("\n", 0, m.start("code")) + 1
        out.append((m.group("lang"), m.group("code"), line, m.group("why")))
    return out


def test_readme_has_python_blocks_and_every_skip_says_why():
    found = blocks()
    python = [b for b in found if b[0] == "python"]
    assert len(python) >= 2
    for lang, _, line, why in found:
        if why is not None:
            assert why.strip(), f"README.md line {line}: a skipped block must say why"


def test_readme_python_blocks_run_against_the_demo_month(demo_dir, tmp_path, monkeypatch, capsys):
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "2026-10").symlink_to(demo_dir, target_is_directory=True)
    (tmp_path / "tests").mkdir()  # README examples name the repository's own fixtures, as run from its root
    (tmp_path / "tests" / "data").symlink_to(README.parent / "tests" / "data", target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "readme"}
    ran = 0
    for lang, code, line, why in blocks():
        if lang != "python" or why is not None:
            continue
        try:
            exec(compile(code, f"README.md:{line}", "exec"), namespace)
        except Exception as exc:  # noqa: BLE001 - name the block that broke
            pytest.fail(f"README.md python block at line {line} failed: {type(exc).__name__}: {exc}")
        ran += 1
    assert ran >= 2
    out = capsys.readouterr().out
    assert "kept" in out  # print(usage.load_report) printed the accounting
