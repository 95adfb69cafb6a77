"""The monthly report pipeline end to end: publish, check the page, fail safely, stay offline."""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import usagekit
from usagekit.money import format_usd
from usagekit.report import ReportError, _lock, publish

EVIL = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def source(demo_dir, tmp_path_factory) -> Path:
    """The demo month with one normal key renamed to an HTML-injection attempt."""
    src = tmp_path_factory.mktemp("src")
    shutil.copytree(demo_dir / "usage", src / "usage")
    labels = json.loads((demo_dir / "labels.json").read_text())
    planted = {a["key_id"] for a in labels["anomalies"]}
    rows = list(csv.DictReader((demo_dir / "keys.csv").open()))
    victim = next(r for r in rows if r["key_id"] not in planted)
    victim["key_name"] = EVIL
    with (src / "keys.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    (src / "labels.json").write_text(json.dumps(labels))
    return src


@pytest.fixture(scope="module")
def published(source, tmp_path_factory):
    out = tmp_path_factory.mktemp("reports")
    return publish(month="2026-10", source=source, out=out, progress=False)


def test_report_is_published_with_index_and_notebook(published):
    assert published.html.name == "report.html" and published.html.parent.name == "all"
    assert published.html.parent.parent.name == "2026-10"
    assert published.notebook.exists() and published.index.exists()
    assert published.size_bytes < 5_000_000
    index = published.index.read_text()
    assert 'href="2026-10/all/report.html"' in index
    assert format_usd(published.summary["total_cents"], precise=False) in index


def test_report_sections_in_order_with_the_right_numbers(published, source):
    page = published.html.read_text()
    order = [
        "Usage report · October 2026",
        "Keys",
        "Daily spend by model",
        "Breakdowns",
        "Anomalies",
        "Invoice lines",
        "Data quality",
        "Method notes",
    ]
    positions = [page.find(s) for s in order]
    assert all(p >= 0 for p in positions) and positions == sorted(positions)
    usage = usagekit.load(source)
    total = usage.filter(month="2026-10").total()["cost_cents"]
    assert format_usd(total, precise=False) in page
    assert published.summary["total_cents"] == pytest.approx(total)
    assert "Days are bucketed in <b>UTC</b>" in page
    inv = usage.invoice("2026-10")
    assert f"{format_usd(inv.billed_total_cents)} billed" in page and "invoiced (cents)" not in page


def test_planted_anomalies_appear_with_their_keys_and_days(published, source):
    page = published.html.read_text()
    labels = json.loads((source / "labels.json").read_text())["anomalies"]
    found = {(f["kind"], f["key_id"], f["day"]) for f in published.summary["findings"]}
    for a in labels:
        day = a["day"]
        if a["kind"] == "cap":  # the label's day is a naive run rate's; the detector may warn a day apart
            (day,) = [d for k, key, d in found if k == "cap" and key == a["key_id"]]
            assert abs((dt.date.fromisoformat(day) - dt.date.fromisoformat(a["day"])).days) <= 1
        assert (a["kind"], a["key_id"], day) in found
        dot = "(?:&middot;|\u00b7)"
        assert re.search(rf"{a['kind']} {dot} {re.escape(a['key_name'])} \(.*?\) {dot} {day}", page)
    assert published.summary["anomalies"] == len(labels)


def test_report_is_self_contained_without_code(published):
    page = published.html.read_text()
    assert not re.search(r"<script[^>]+src=", page)
    assert not re.search(r"<link[^>]+href=[\"']https?:", page)
    assert page.count("window.ukLoading = true") == 1  # plotly.js embedded once
    assert "usagekit.load(" not in page and "S.headline" not in page and "use_offline_renderer" not in page


def test_names_are_escaped_and_secrets_masked(published):
    page = published.html.read_text()
    assert EVIL not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


def test_account_report_holds_no_other_accounts_data(source, tmp_path):
    usage = usagekit.load(source)
    accounts = sorted(a for a in usage.keys["account_id"].dropna().unique())
    mine, others = accounts[0], accounts[1:]
    pub = publish(month="2026-10", source=source, account_id=mine, out=tmp_path, progress=False)
    page = pub.html.read_text()
    assert pub.html.parent.name == mine
    for other in others:
        assert other not in page
    keys = usage.keys
    for name in keys.loc[keys.account_id != mine, "key_name"]:
        assert f">{name}<" not in page
    mine_total = usage.filter(month="2026-10", account=mine).total()["cost_cents"]
    assert pub.summary["total_cents"] == pytest.approx(mine_total)


def test_failed_run_keeps_the_previous_report_and_saves_the_failed_notebook(source, tmp_path):
    good = publish(month="2026-10", source=source, out=tmp_path, progress=False)
    before = good.html.read_bytes()
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "usage.csv").write_text("ts,request_id,cost\n2026-10-01T00:00:00Z,r1,5\n")  # no cost_cents column
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "usagekit.cli",
            "report",
            "--month",
            "2026-10",
            "--source",
            str(broken / "usage.csv"),
            "--out",
            str(tmp_path),
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 2
    assert "failed" in proc.stderr and "previous report (if any) is untouched" in proc.stderr
    # no traceback of ours or papermill's: the error is one sentence. (The kernel process shares
    # stderr and ipykernel sometimes logs a ZMQ error of its own while shutting down; ignored.)
    for block in proc.stderr.split("Traceback (most recent call last):")[1:]:
        frames = re.findall(r'File "([^"]+)"', block)
        assert all(
            "ipykernel" in f or "zmq" in f or "jupyter_client" in f or "tornado" in f or "asyncio" in f for f in frames
        ), block
    assert good.html.read_bytes() == before
    failed = good.html.parent / "report.failed.ipynb"
    assert failed.exists()
    assert "cost_cents" in failed.read_text()  # the error cell is in the saved notebook
    assert not list(good.html.parent.parent.glob(".run-*"))  # no temporary leftovers


def test_rerun_is_idempotent_and_clears_a_failed_notebook(source, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a relative output directory, as `make report` passes it
    a = publish(month="2026-10", source=source, out="reports", progress=False)
    (a.html.parent / "report.failed.ipynb").write_text("{}")
    b = publish(month="2026-10", source=source, out="reports", progress=False)
    assert b.summary["anomalies"] >= 3
    assert a.summary["total_cents"] == b.summary["total_cents"]
    assert sorted(p.name for p in b.html.parent.iterdir()) == ["report.html", "report.ipynb", "report.json"]

    def strip(t):
        return re.sub(
            r"uk-[0-9a-f]{12}|20\d\d-\d\d-\d\dT\d\d:\d\d:\d\dZ|\d+\.\d+ s\b|generated[^<]*|"
            r"data up to [^<]*|Run: [^<]*",
            "",
            t,
        )

    assert strip(a.html.read_text()) == strip(b.html.read_text())
    index = b.index.read_text()
    assert index.count('href="2026-10/all/report.html"') == 1


def test_two_runs_for_the_same_month_are_serialised_by_a_lock(tmp_path):
    lock = tmp_path / ".all.lock"
    order = []

    def hold():
        with _lock(lock):
            order.append("first in")
            time.sleep(1.0)
            order.append("first out")

    t = threading.Thread(target=hold)
    t.start()
    time.sleep(0.2)
    with _lock(lock):
        order.append("second in")
    t.join()
    assert order == ["first in", "first out", "second in"]
    with pytest.raises(ReportError, match="another run"):
        with _lock(lock):
            with _lock(lock, wait_seconds=0.5):
                pass


@pytest.mark.browser
def test_published_page_renders_every_chart_offline_in_chromium(published, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    errors, dialogs, remote = [], [], []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

    def block(route):
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            remote.append(route.request.url)
            route.abort()

    page.route("**/*", block)
    page.goto(published.html.as_uri())
    evidence = sum(1 for f in published.summary["findings"] if f["kind"] != "unpriced")
    # daily, provider / model / agent breakdowns, team / user / tag (the demo has them), one per finding
    expected = 1 + 3 + 3 + evidence
    page.wait_for_function(f"document.querySelectorAll('.js-plotly-plot').length >= {expected}", timeout=30_000)
    page.wait_for_timeout(500)
    assert page.locator(".js-plotly-plot").count() == expected
    assert page.locator(".js-plotly-plot .main-svg").count() >= expected  # actually drawn, not empty divs
    assert errors == [] and dialogs == [] and remote == []
    assert page.get_by_text(EVIL, exact=True).count() >= 1  # shown as text
    assert page.locator("img[src='x']").count() == 0
    page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    assert (tmp_path / "report.png").stat().st_size > 10_000
