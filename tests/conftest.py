"""Shared fixtures: engines to run the query tests on, and the demo month."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
IN_CI = bool(os.environ.get("CI"))

# Loads in tests (and the notebooks and CLIs they start) use a validated store of their own,
# never the user's cache: one per test process, so parallel runs and CI do not share one.
_STORE = __import__("tempfile").mkdtemp(prefix="usagekit-test-store-")
__import__("atexit").register(shutil.rmtree, _STORE, ignore_errors=True)
os.environ["USAGEKIT_STORE"] = _STORE


def require(condition: bool, why: str) -> None:
    """Skip locally when an optional binary is missing; fail under CI, where it must be there."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{why} (CI must provide it: see .ci/run)")
    pytest.skip(why)  # outside CI only: under CI the missing binary fails the test above


def spark_available() -> tuple[bool, str]:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return False, "PySpark is not installed (pip install -e '.[spark]')"
    if not (shutil.which("java") or os.environ.get("JAVA_HOME")):
        return False, "no Java runtime for Spark (apt-get install openjdk-17-jre-headless)"
    return True, ""


ENGINES = [
    "polars",
    "duckdb",
    pytest.param("spark", marks=pytest.mark.spark),
]


@pytest.fixture(params=ENGINES)
def engine(request):
    if request.param == "spark":
        ok, why = spark_available()
        require(ok, why)
    return request.param


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory) -> Path:
    """A small demo month (2026-10 with one month of history), generated once per test run."""
    from usagekit.demo import generate

    out = tmp_path_factory.mktemp("demo") / "2026-10"
    generate(out, month="2026-10", requests=40_000, seed=7, history_months=1, progress=False)
    return out


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def browser():
    """Debian's Chromium driven by Playwright for Python (never a downloaded browser)."""
    require(Path(CHROMIUM).exists(), "Debian's chromium is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require(False, "playwright for Python is not installed (pip install -e '.[test]')")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()
