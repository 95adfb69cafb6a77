"""A missing optional dependency stops a feature with the pip command that installs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from usagekit.errors import MissingExtraError, UsagekitError
from usagekit.extras import require

# a child interpreter in which the optional libraries cannot be imported (as after `pip install usagekit`)
BLOCK = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {blocked!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
sys.meta_path.insert(0, Block())
"""
OPTIONAL = [
    "plotly",
    "papermill",
    "nbconvert",
    "ipykernel",
    "ipywidgets",
    "anywidget",
    "jupyterlab",
    "duckdb",
    "pyspark",
    "apprise",
    "IPython",
    "jinja2",
    "genai_prices",
]


ROOT = Path(__file__).resolve().parent.parent  # the child reads tests/data/... relative to it


def run_blocked(code: str, blocked=tuple(OPTIONAL)) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", BLOCK.format(blocked=set(blocked)) + code],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )


def test_require_names_the_extra_and_is_a_usagekit_error():
    with pytest.raises(
        MissingExtraError,
        match=r"the thing needs no_such_mod, which is not installed: "
        r"pip install 'usagekit\[report\]'",
    ) as info:
        require("no_such_mod.sub", "report", "the thing")
    assert isinstance(info.value, UsagekitError) and info.value.extra == "report"


def test_load_and_queries_need_no_optional_library(tmp_path):
    code = """
import usagekit
from pathlib import Path
u = usagekit.load("tests/data/canonical/usage.csv", keys="tests/data/canonical/keys.csv")
t = u.filter(start="2020-01-01", end="2030-12-31")
print(u.load_report.kept, len(t.daily("model")), len(t.key_summary()), len(usagekit.detect(u)) >= 0)
print(sorted(m for m in sys.modules if m.split('.')[0] in %r))
""" % (OPTIONAL,)
    proc = run_blocked(code)
    assert proc.returncode == 0, proc.stderr
    kept, days, keys, _ = proc.stdout.splitlines()[0].split()
    assert int(kept) > 0 and int(days) > 0 and int(keys) > 0
    assert proc.stdout.splitlines()[1] == "[]"


@pytest.mark.parametrize(
    "code, extra",
    [
        ("usagekit.load('tests/data/canonical/usage.csv', engine='duckdb').total()", "duckdb"),
        ("usagekit.explore(usagekit.load('tests/data/canonical/usage.csv'))", "notebook"),
        ("from usagekit import charts", "report"),
    ],
)
def test_each_feature_names_its_extra(code, extra):
    proc = run_blocked(f"import usagekit\ntry:\n    {code}\nexcept usagekit.UsagekitError as e:\n    print(e)\n")
    assert proc.returncode == 0, proc.stderr
    assert f"pip install 'usagekit[{extra}]'" in proc.stdout


def test_report_command_without_the_report_extra_exits_two_with_the_install_command(tmp_path):
    cli = "import sys\nfrom usagekit.cli import main\nsys.exit(main(sys.argv[1:]))\n"
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            BLOCK.format(blocked=set(OPTIONAL)) + cli,
            "report",
            "--month",
            "2026-10",
            "--source",
            "tests/data/canonical/usage.csv",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert proc.returncode == 2
    assert (
        "publishing the report needs papermill, which is not installed: pip install 'usagekit[report]'" in proc.stderr
    )
    assert "Traceback" not in proc.stderr


def test_python_dash_m_usagekit_is_the_cli():
    proc = subprocess.run([sys.executable, "-m", "usagekit", "--version"], capture_output=True, text=True, timeout=120)
    from usagekit import __version__

    assert proc.returncode == 0 and proc.stdout.strip() == f"usagekit {__version__}"
