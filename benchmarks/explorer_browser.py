"""Benchmark: a filter change redrawn in JupyterLab, measured in the browser (target < 150 ms median at 10M).

    python benchmarks/explorer_browser.py                       # 10M demo requests (benchmarks/.data)
    python benchmarks/explorer_browser.py --requests 1000000 --changes 20

Opens ``notebooks/explore.ipynb`` on the demo month in a real JupyterLab, in Debian's Chromium
driven by Playwright (``/usr/bin/chromium``; no browser is downloaded), runs it, then changes the
filters ``--changes`` times (range start, provider, model, account, break-down) from inside the
page. Each change is timed in the page, from the ``change`` event to the end of the redraw: the
later of the chart's last ``plotly_afterplot`` and the last update of the cards, once the
explorer's busy line has cleared (its last message). The time is split into

* **to kernel**: the change event until the kernel's first reply (the busy line appears),
* **kernel + messages**: until the busy line clears (queries, then every widget update received),
* **browser draw**: from there to the end of the redraw (plotly and the cards' HTML).

The kernel + messages part is split again with the explorer's own timings (``app.timings``: its
work in the kernel) and plotly.js's (``plotly_beforeplot`` to ``plotly_afterplot``: the chart's
redraw); what remains is the comm messages, the cards' and anomaly list's HTML and the wait for
a core.

The median and worst are printed beside the target and the kernel-only figure of
``benchmarks/explorer.py``. The demo month is read from ``benchmarks/.data/2026-10-<N>`` (made by
``benchmarks/cube.py`` or ``benchmarks/explorer.py``; symlink a shared copy there).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests"))  # the JupyterLab server helper lives beside the browser tests

from lab_server import running_lab  # noqa: E402

TARGET_MS = 150.0
#: kernel-only figure of benchmarks/explorer.py at 10M (README, 26 Nov 2026, load ~9): CPU and wall medians
KERNEL_CPU_MS, KERNEL_WALL_MS = 15.0, 29.0
CHROMIUM = "/usr/bin/chromium"

#: installed in the page once the dashboard is drawn: timestamps of the chart's redraws, of the
#: cards' and busy line's DOM updates (performance.now(), ms)
HOOKS = """() => {
  const gd = document.querySelector('.js-plotly-plot');
  const picker = Array.from(document.querySelectorAll('.widget-hbox'))
      .find(b => b.querySelector('.widget-datepicker'));
  const busy = picker.querySelector('.widget-html');
  const cards = document.querySelector('.uk-cards').closest('.widget-html');
  const w = window.__uk = {plots: [], before: [], cards: [], busyOn: [], busyOff: []};
  gd.on('plotly_afterplot', () => w.plots.push(performance.now()));
  gd.on('plotly_beforeplot', () => { w.before.push(performance.now()); });
  new MutationObserver(() => w.cards.push(performance.now()))
      .observe(cards, {childList: true, subtree: true, characterData: true});
  new MutationObserver(() => {
      const on = busy.innerText.includes('updating');
      (on ? w.busyOn : w.busyOff).push(performance.now());
  }).observe(busy, {childList: true, subtree: true, characterData: true});
  return true;
}"""

#: fire one change from inside the page (so its time is the page's own clock)
CHANGE = """([kind, label, value]) => {
  const boxes = Array.from(document.querySelectorAll(kind === 'date' ? '.widget-datepicker' : '.widget-dropdown'));
  const box = boxes.find(b => b.querySelector('label').innerText.trim() === label);
  const input = box.querySelector(kind === 'date' ? 'input' : 'select');
  const w = window.__uk;
  w.plots = []; w.before = []; w.cards = []; w.busyOn = []; w.busyOff = [];
  w.t0 = performance.now();
  input.value = value;
  input.dispatchEvent(new Event('change', {bubbles: true}));
  return w.t0;
}"""

#: done when the busy line has cleared and nothing has redrawn for ``quiet`` ms
DONE = """quiet => {
  const w = window.__uk, now = performance.now();
  if (!w.busyOff.length || !w.busyOn.length) return false;
  const last = Math.max(w.busyOff[w.busyOff.length - 1], ...w.plots, ...w.cards);
  return now - last > quiet;
}"""

#: ask the kernel for the explorer's own time per refresh (``app.timings``) through a new cell
KERNEL_TIMES = """async () => {
  const nb = window.jupyterapp.shell.currentWidget.content;
  nb.activeCellIndex = nb.widgets.length - 1;
  await window.jupyterapp.commands.execute('notebook:insert-cell-below');
  nb.activeCell.model.sharedModel.setSource('import json; print("UKT" + json.dumps(app.timings))');
  await window.jupyterapp.commands.execute('notebook:run-cell');
}"""

TIMES = """() => {
  const w = window.__uk;
  const off = w.busyOff[w.busyOff.length - 1];
  const end = Math.max(off, ...w.plots, ...w.cards);
  let plot = 0;  // plotly.js's own time: each redraw from plotly_beforeplot to plotly_afterplot
  w.plots.forEach((t, i) => { if (i < w.before.length) plot += t - w.before[i]; });
  return {total: end - w.t0, toKernel: w.busyOn[0] - w.t0, kernel: off - w.busyOn[0], draw: end - off,
          plots: w.plots.length, cards: w.cards.length, plot};
}"""


def open_dashboard(page, base: str, token: str) -> float:
    """Open and run the notebook; returns the seconds until the dashboard was drawn."""
    page.goto(f"{base}/lab/tree/explore.ipynb?token={token}")
    page.wait_for_function("window.jupyterapp && document.querySelector('.jp-Notebook')", timeout=120_000)
    deadline = time.time() + 300
    while "| Idle" not in str(page.locator(".jp-StatusBar-Widget").all_inner_texts()):
        if time.time() > deadline:
            raise SystemExit("the kernel did not become idle within 5 minutes")
        if page.locator(".jp-Dialog button.jp-mod-accept").count():
            page.locator(".jp-Dialog button.jp-mod-accept").first.click()
        page.wait_for_timeout(500)
    t = time.perf_counter()
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
    page.wait_for_selector(".uk-card", timeout=1_800_000)
    page.wait_for_selector(".js-plotly-plot .barlayer .trace", state="attached", timeout=300_000)
    return time.perf_counter() - t


def plan(page, n: int) -> list[tuple[str, str, str]]:
    """``n`` changes cycling through range start, provider, model, account and break-down."""
    options = page.evaluate("""() => Object.fromEntries(Array.from(document.querySelectorAll('.widget-dropdown'))
        .map(b => [b.querySelector('label').innerText.trim(), Array.from(b.querySelectorAll('option')).map(o => o.value)]))""")
    steps: list[tuple[str, str, str]] = []
    for day in ("2026-10-08", "2026-10-15", "2026-10-22", "2026-10-01"):
        steps.append(("date", "From", day))
    for label, take in (("Provider", 4), ("Model", 4), ("Account", 3), ("Break down by", 3)):
        values = [v for v in options.get(label, []) if v != "(all)"][:take]
        if label == "Break down by":
            values = [v for v in values if v != "model"][:2] + ["model"]
        elif values:
            values.append(options[label][0])  # back to (all)
        steps += [("select", label, v) for v in values]
    return (steps * (n // len(steps) + 1))[:n]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=10_000_000)
    ap.add_argument("--changes", type=int, default=20)
    ap.add_argument("--quiet-ms", type=int, default=400, help="no redraw for this long ends a change")
    args = ap.parse_args()
    if not Path(CHROMIUM).exists():
        raise SystemExit("Debian's chromium is not installed (apt-get install chromium)")
    import nbformat
    from playwright.sync_api import sync_playwright

    data = HERE / ".data" / f"2026-10-{args.requests}"
    if not data.exists():
        raise SystemExit(f"{data} is missing: run benchmarks/explorer.py --requests {args.requests} (or symlink it)")
    with tempfile.TemporaryDirectory(prefix="uk-bench-lab-") as tmp:
        work = Path(tmp)
        nb = nbformat.read(ROOT / "notebooks" / "explore.ipynb", as_version=4)
        params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
        params.source = f'source = {json.dumps(str(data.resolve()))}\nkeys = None\nmonth = "2026-10"'
        nbformat.write(nb, work / "explore.ipynb")
        with running_lab(work, work / ".lab") as (base, token), sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1500, "height": 1100})
            opened = open_dashboard(page, base, token)
            page.evaluate("document.querySelector('.js-plotly-plot').scrollIntoView({block: 'center'})")
            page.wait_for_timeout(1000)
            page.evaluate(HOOKS)
            rows = []
            for kind, label, value in plan(page, args.changes):
                page.evaluate(CHANGE, [kind, label, value])
                page.wait_for_function(DONE, arg=args.quiet_ms, timeout=300_000, polling=50)
                t = page.evaluate(TIMES)
                rows.append(t)
                print(
                    f"  {label:<14} {value[:28]:<28} {t['total']:>7.0f} ms  (to kernel {t['toKernel']:.0f}, "
                    f"kernel+messages {t['kernel']:.0f}, plotly {t['plot']:.0f}, draw {t['draw']:.0f}; "
                    f"{t['plots']} redraws)",
                    flush=True,
                )
            page.evaluate(KERNEL_TIMES)
            out = page.locator(".jp-OutputArea-output", has_text="UKT").first
            out.wait_for(timeout=120_000)
            kernel = json.loads(out.inner_text().split("UKT", 1)[1].strip())[-len(rows) :]
            browser.close()
    total = [r["total"] for r in rows]
    med, worst = statistics.median(total), max(total)
    load = os.getloadavg()
    print(f"\n{args.requests:,} requests, month 2026-10, {len(rows)} filter changes in JupyterLab + Chromium")
    print(f"measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load average {load[0]:.1f} / {load[1]:.1f}")
    print(f"{'measure':<44} {'value':>9}  target / earlier")
    print(f"{'open and run the notebook (load, explorer)':<44} {opened:>8.1f}s  -")
    print(
        f"{'filter change to redraw, median':<44} {med:>7.0f}ms  < {TARGET_MS:.0f} ms: "
        f"{'met' if med < TARGET_MS else 'MISSED'}; kernel only {KERNEL_CPU_MS:.0f} ms CPU / "
        f"{KERNEL_WALL_MS:.0f} ms wall (benchmarks/explorer.py)"
    )
    print(f"{'filter change to redraw, worst':<44} {worst:>7.0f}ms")
    k_wall = statistics.median(w for w, _ in kernel)
    k_cpu = statistics.median(c for _, c in kernel)
    rest = statistics.median(r["total"] - w for r, (w, _) in zip(rows, kernel))
    print(f"{'  of which: the explorer in the kernel':<44} {k_wall:>7.0f}ms  wall ({k_cpu:.0f} ms CPU), median")
    print(f"{'  the rest: comm messages and browser draw':<44} {rest:>7.0f}ms  median")
    for key, name in (
        ("toKernel", "  change event to the kernel's first reply"),
        ("plot", "  plotly.js redrawing the chart"),
        ("draw", "  draw after the last message"),
    ):
        print(f"{name + ', median':<44} {statistics.median(r[key] for r in rows):>7.0f}ms")
    other = statistics.median(r["total"] - r["toKernel"] - w - r["plot"] - r["draw"] for r, (w, _) in zip(rows, kernel))
    print(f"{'  messages, cards and anomaly list, the rest':<44} {other:>7.0f}ms  median")
    print(f"{'redraws per change':<44} {min(r['plots'] for r in rows):>4} to {max(r['plots'] for r in rows)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
