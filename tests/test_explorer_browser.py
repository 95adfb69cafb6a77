"""explore.ipynb in a real JupyterLab, driven in Debian's Chromium through Playwright."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def lab(tmp_path, demo_dir):
    """A JupyterLab server on 127.0.0.1 with a token, serving a copy of explore.ipynb on the demo month."""
    work = tmp_path / "lab"
    work.mkdir()
    nb = nbformat.read(ROOT / "notebooks" / "explore.ipynb", as_version=4)
    params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    params.source = f'source = {json.dumps(str(demo_dir))}\nkeys = None\nmonth = "2026-10"'
    nbformat.write(nb, work / "explore.ipynb")
    port, token = free_port(), secrets.token_hex(16)
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg"), "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt"),
           "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "settings"), "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "ws")}
    log = open(tmp_path / "lab.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={work}", "--LabApp.expose_app_in_browser=True",
         "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
         "--allow-root"],
        cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 90
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError(f"jupyter lab did not start: {(tmp_path / 'lab.log').read_text()[-2000:]}")
                time.sleep(0.5)
        yield base, token
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.mark.browser
def test_explorer_runs_in_jupyterlab_filters_and_drills_down(lab, browser, tmp_path):
    base, token = lab
    page = browser.new_page(viewport={"width": 1500, "height": 1100})
    page.goto(f"{base}/lab/tree/explore.ipynb?token={token}")
    page.wait_for_function("window.jupyterapp && document.querySelector('.jp-Notebook')", timeout=60_000)
    page.wait_for_timeout(1500)
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_selector(".uk-card", timeout=120_000)
    page.wait_for_selector(".js-plotly-plot .barlayer .trace", timeout=60_000)
    chart = page.locator(".js-plotly-plot").first
    traces_before = chart.locator(".barlayer .trace").count()
    assert traces_before >= 5
    cards_before = page.locator(".uk-card").count()
    assert cards_before >= 30

    provider = page.locator(".widget-dropdown", has_text="Provider").locator("select")
    provider.select_option("anthropic")
    page.wait_for_function(
        # the redraw replaces the traces: wait past the moment the plot is momentarily empty
        "(n => n > 0 && n < " + str(traces_before) + ")"
        "(document.querySelector('.js-plotly-plot').querySelectorAll('.barlayer .trace').length)",
        timeout=60_000)
    traces_after = chart.locator(".barlayer .trace").count()
    assert 0 < traces_after < traces_before
    assert page.locator(".uk-card").count() < cards_before

    # click a bar segment by page coordinates (plotly's drag layer sits over the bars)
    page.evaluate("document.querySelector('.js-plotly-plot').scrollIntoView({block: 'center'})")
    page.wait_for_timeout(500)
    ticks = chart.locator(".xtick text").all_text_contents()
    assert any("Oct" in t for t in ticks), ticks  # a date axis, not numbers
    bars = chart.locator(".barlayer .point path")
    boxes = [bars.nth(i).bounding_box() for i in range(bars.count())]
    box = max((b for b in boxes if b), key=lambda b: b["height"])  # the tallest segment
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_timeout(300)
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    try:
        page.wait_for_selector("table.uk-drill", timeout=30_000)
    except Exception:
        raise AssertionError("no drill-down after the click; page says: "
                             + page.locator(".jp-OutputArea").nth(1).inner_text()[-1500:])
    finally:
        page.screenshot(path=str(tmp_path / "explorer.png"), full_page=True)
    heading = page.locator("h4", has_text="requests").first.inner_text()
    assert "requests" in heading and "$" in heading
    assert page.locator("table.uk-drill tbody tr").count() >= 1
    page.screenshot(path=str(tmp_path / "explorer.png"), full_page=True)
    assert (tmp_path / "explorer.png").stat().st_size > 10_000
