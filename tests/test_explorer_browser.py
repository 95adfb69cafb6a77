"""explore.ipynb in a real JupyterLab, driven in Debian's Chromium through Playwright."""

from __future__ import annotations

import json
import time
from pathlib import Path

import nbformat
import pytest
from lab_server import running_lab

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def lab(tmp_path, demo_dir):
    """A JupyterLab server on 127.0.0.1 with a token, serving a copy of explore.ipynb on the demo month."""
    work = tmp_path / "lab"
    work.mkdir()
    nb = nbformat.read(ROOT / "notebooks" / "explore.ipynb", as_version=4)
    params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    params.source = f'source = {json.dumps(str(demo_dir))}\nkeys = None\nmonth = "2026-10"'
    nbformat.write(nb, work / "explore.ipynb")
    with running_lab(work, tmp_path, start_timeout=90) as (base, token):
        yield base, token


@pytest.mark.browser
def test_explorer_runs_in_jupyterlab_filters_and_drills_down(lab, browser, tmp_path):
    base, token = lab
    page = browser.new_page(viewport={"width": 1500, "height": 1100})
    _open(page, base, token)
    chart = page.locator(".js-plotly-plot").first
    traces_before = chart.locator(".barlayer .trace").count()
    assert traces_before >= 5
    cards_before = page.locator(".uk-card").count()
    assert cards_before >= 30

    provider = page.get_by_label("Provider", exact=True)
    gen = _generation(page)
    provider.select_option("anthropic")
    _wait_redrawn(page, gen)
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
        raise AssertionError(
            "no drill-down after the click; page says: " + page.locator(".jp-OutputArea").nth(1).inner_text()[-1500:]
        )
    finally:
        page.screenshot(path=str(tmp_path / "explorer.png"), full_page=True)
    heading = page.locator("h4", has_text="requests").first.inner_text()
    assert "requests" in heading and "$" in heading
    assert page.locator("table.uk-drill tbody tr").count() >= 1
    page.screenshot(path=str(tmp_path / "explorer.png"), full_page=True)
    assert (tmp_path / "explorer.png").stat().st_size > 10_000


def _step(what: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {what}", flush=True)


def _accept_kernel_dialog(page) -> None:
    """A slow kernel start can leave JupyterLab asking which kernel to use: take the preferred one."""
    if page.locator(".jp-Dialog button.jp-mod-accept").count():
        page.locator(".jp-Dialog button.jp-mod-accept").first.click()
        page.wait_for_timeout(1000)


def _open(page, base, token):
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{base}/lab/tree/explore.ipynb?token={token}")
    page.wait_for_function("window.jupyterapp && document.querySelector('.jp-Notebook')", timeout=60_000)
    page.wait_for_timeout(1500)
    # run only once the kernel is attached and idle: on a busy machine, running earlier makes
    # JupyterLab ask which kernel to use, and answering interrupts the first cell
    deadline = time.time() + 120
    while "| Idle" not in page.locator(".jp-StatusBar-Widget").all_inner_texts().__str__():
        assert time.time() < deadline, "the kernel did not become idle within 2 minutes"
        _accept_kernel_dialog(page)
        page.wait_for_timeout(500)
    _step("kernel idle")
    # not awaited: the command's promise settles only when every cell has run
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
    page.wait_for_selector(".uk-card", timeout=180_000)
    page.evaluate("document.querySelector('.uk-cards').scrollIntoView({block: 'start'})")
    try:
        # the chart's script (a 5 MB module) can load long after the cards under load: wait for the
        # explorer's first refresh to be drawn whole, not for the first trace to appear
        _wait_redrawn(page, 0)
    except Exception:
        raise AssertionError(
            "no chart; the outputs say: "
            + " | ".join(t[-400:] for t in page.locator(".jp-OutputArea-output").all_inner_texts())
            + "; browser errors: "
            + " | ".join(e[:300] for e in errors[-8:])
        ) from None
    page.evaluate("document.querySelector('.js-plotly-plot').scrollIntoView({block: 'center'})")
    page.wait_for_timeout(500)


def _generation(page) -> int:
    """The explorer's refresh count as the page shows it (0 before the first)."""
    return page.evaluate("() => +(document.querySelector('[data-uk-gen]')?.dataset.ukGen || 0)")


#: the explorer's last message of a refresh is its generation and trace count; the redraw is complete
#: when the page shows a newer generation and the chart holds (and has drawn) that many traces
REDRAWN = """g => {
  const s = document.querySelector('[data-uk-gen]');
  const gd = document.querySelector('.js-plotly-plot');
  if (!s || !gd || !gd.data || +s.dataset.ukGen <= g) return false;
  const n = +s.dataset.ukTraces;
  // the explorer hides traces it no longer needs (kept for later redraws) rather than deleting them
  return gd.data.filter(t => t.visible !== false).length === n
      && gd.querySelectorAll('.barlayer .trace').length === n;
}"""


#: the raw values of the drawn traces, in trace order (hidden traces come after every drawn one)
SHOWN_NAMES = """() => document.querySelector('.js-plotly-plot').data
    .filter(t => t.visible !== false).map(t => t.customdata[0][0])"""


def _wait_redrawn(page, generation: int, timeout: int = 180_000) -> None:
    """Wait for the redraw after ``generation`` (the kernel's answer, then plotly's drawing): the
    signal the explorer gives, never a fixed sleep (a loaded machine can take seconds)."""
    page.wait_for_function(REDRAWN, arg=generation, timeout=timeout, polling=100)


def _dollars(text: str) -> float:
    import re

    m = re.search(r"(<\s*)?\$([\d,]+\.\d+)", text)
    assert m, text
    return float(m.group(2).replace(",", ""))


def _click_segment(page, trace_index: int) -> dict:
    """Click the tallest bar of one trace by page coordinates; return what the chart says it holds."""
    # in view first: an earlier step (a date typed in the From box) can have scrolled it away
    page.evaluate("document.querySelector('.js-plotly-plot').scrollIntoView({block: 'center'})")
    info = page.evaluate(
        """i => {
        const gd = document.querySelector('.js-plotly-plot');
        const t = gd.data[i];
        let j = 0; t.y.forEach((v, k) => { if (v > t.y[j]) j = k; });
        return {name: t.customdata[j][0], x: t.x[j], y: t.y[j], j: j};
    }""",
        trace_index,
    )
    path = page.locator(".js-plotly-plot .barlayer .trace").nth(trace_index).locator(".point path").nth(info["j"])
    box = path.bounding_box()
    assert box and box["height"] > 1, f"segment {info} is not drawn"
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_timeout(300)
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    return info


@pytest.mark.browser
def test_segments_drill_into_exactly_themselves_colours_differ_and_cards_keep_their_budget(lab, browser, tmp_path):
    base, token = lab
    page = browser.new_page(viewport={"width": 1500, "height": 1100})
    try:
        _open(page, base, token)
        _step("opened")
        colours = page.evaluate("""() => Array.from(document.querySelectorAll('.js-plotly-plot .barlayer .trace'))
            .map(t => getComputedStyle(t.querySelector('.point path')).fill)""")
        names = page.evaluate(SHOWN_NAMES)
        assert "Other" in names, names
        for name in ("Other", next(n for n in names if n in ("(none)", "compute (VM hours)"))):
            seg = _click_segment(page, names.index(name))
            _step(f"clicked {seg}")
            day = seg["x"][:10]
            page.wait_for_function(
                "d => Array.from(document.querySelectorAll('h4')).some(h => h.innerText.includes(d))",
                arg=f"{int(day[8:]):02d} Oct 2026",
                timeout=30_000,
            )
            heading = page.locator("h4", has_text="Oct 2026").first.inner_text()
            assert ("VM hours" in heading) if name != "Other" else ("Other" in heading), heading
            assert "all models" not in heading
            assert _dollars(heading) == pytest.approx(seg["y"], abs=0.005), (heading, seg)

        _step("drill-downs checked")
        # a card's budget does not move with the range start or the provider filter
        card = page.locator(".uk-card", has_text="% of the").first
        key = card.get_attribute("data-key")
        before = card.inner_text()
        import re

        pct = re.search(r"([\d.]+)% of the", before).group(1)
        frm = page.locator(".widget-datepicker", has_text="From").locator("input")
        gen = _generation(page)
        frm.fill("2026-10-15")
        frm.dispatch_event("change")
        _wait_redrawn(page, gen)
        assert page.evaluate("() => document.querySelector('.js-plotly-plot').data[0].x.length") == 17
        _step("range set")
        providers = page.get_by_label("Provider", exact=True)
        options = [o for o in providers.locator("option").all_inner_texts() if o != "(all)"]
        for p in options:  # a provider this key spends on, so its card stays
            gen = _generation(page)
            providers.select_option(p)
            _wait_redrawn(page, gen)
            if page.locator(f".uk-card[data-key='{key}']").count():
                break
        after = page.locator(f".uk-card[data-key='{key}']").inner_text()
        assert re.search(r"([\d.]+)% of the", after).group(1) == pct, (before, after)
        assert len(colours) >= 5 and len(set(colours)) == len(colours), colours  # one colour per trace

        # break the chart down by team: it redraws under the same filters, and a team's segment
        # drills into exactly that team
        by = page.get_by_label("Break down by", exact=True)
        gen = _generation(page)
        by.select_option("team")
        _wait_redrawn(page, gen)
        _step("broken down by team")
        names = page.evaluate(SHOWN_NAMES)
        assert any(str(n).startswith("team-") for n in names), names
        assert "claude-sonnet-4" not in names and page.locator(".legendtitletext").first.text_content() == "team"
        team_colours = page.evaluate("""() => Array.from(document.querySelectorAll('.js-plotly-plot .barlayer .trace'))
            .map(t => getComputedStyle(t.querySelector('.point path')).fill)""")
        assert len(set(team_colours)) == len(team_colours), team_colours
        seg = _click_segment(page, next(i for i, n in enumerate(names) if str(n).startswith("team-")))
        page.wait_for_function(
            "n => Array.from(document.querySelectorAll('h4')).some(h => h.innerText.includes(n))",
            arg=seg["name"],
            timeout=30_000,
        )
        heading = page.locator("h4", has_text=seg["name"]).first.inner_text()
        assert _dollars(heading) == pytest.approx(seg["y"], abs=0.005), (heading, seg)
    finally:
        page.screenshot(path=str(tmp_path / "segments.png"), full_page=True)
