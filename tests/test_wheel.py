"""The built wheel, installed into a fresh virtual environment, loads with its core dependencies
alone and, with the ``report`` extra, publishes the demo report (notebooks travel as package data)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.wheel


def run(cmd, **kw):
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=900, **kw)
    assert proc.returncode == 0, f"{cmd}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    run([sys.executable, "-m", "build", "--wheel", "--outdir", out, ROOT])
    (whl,) = out.glob("usagekit-*.whl")
    return whl


def test_wheel_carries_notebooks_templates_license_and_typing_marker(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in (
        "usagekit/notebooks/monthly_report.ipynb",
        "usagekit/notebooks/explore.ipynb",
        "usagekit/templates/usagekit_report/index.html.j2",
        "usagekit/py.typed",
        "usagekit/__main__.py",
    ):
        assert name in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    meta = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    core = [
        line.split(":", 1)[1].strip()
        for line in meta.splitlines()
        if line.startswith("Requires-Dist:") and "extra ==" not in line
    ]
    assert sorted(r.split(">")[0].split("=")[0].strip() for r in core) == [
        "narwhals",
        "numpy",
        "pandas",
        "polars",
        "pyarrow",
        "requests",
        "tqdm",
    ]
    from usagekit import __version__

    assert f"Version: {__version__}\n" in meta


def test_fresh_venv_loads_with_core_deps_then_publishes_the_demo_report_with_the_report_extra(wheel, tmp_path):
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py = env_dir / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["USAGEKIT_DEMO_DIR"] = str(tmp_path / "demo")
    run([py, "-m", "pip", "install", "--quiet", wheel], env=env)

    # core only: load and query work; the report names the extra to install
    data = ROOT / "tests" / "data" / "canonical"
    code = (
        "import sys, usagekit, json; u = usagekit.load(sys.argv[1], keys=sys.argv[2]); "
        "print(json.dumps({'kept': u.load_report.kept, 'total': u.total()['cost_cents'], "
        "'plotly': 'plotly' in sys.modules, 'file': usagekit.__file__}))"
    )
    got = json.loads(run([py, "-c", code, data / "usage.csv", data / "keys.csv"], env=env, cwd=tmp_path).stdout)
    assert got["kept"] > 0 and got["total"] > 0 and not got["plotly"]
    assert got["file"].startswith(str(env_dir))  # the installed wheel, not the checkout
    no_extra = subprocess.run(
        [env_dir / "bin" / "usagekit", "report", "--demo", "--out", tmp_path / "r0"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert no_extra.returncode == 2
    assert "pip install 'usagekit[report]'" in no_extra.stderr and "Traceback" not in no_extra.stderr

    run([py, "-m", "pip", "install", "--quiet", f"{wheel}[report]"], env=env)
    out = tmp_path / "reports"
    proc = run([py, "-m", "usagekit", "report", "--demo", "--out", out, "--quiet"], env=env, cwd=tmp_path)
    page = out / "2026-10" / "all" / "report.html"
    assert str(page.resolve()) in proc.stdout
    html = page.read_text()
    assert "Usage report · October 2026" in html and "Method notes" in html
    assert html.count("window.ukLoading = true") == 1
    summary = json.loads((out / "2026-10" / "all" / "report.json").read_text())
    assert summary["total_cents"] > 0 and summary["anomalies"] >= 3
