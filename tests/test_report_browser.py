"""The published report in Debian's Chromium: dollars as people read them, tables that sort, CSV links, even cards."""

from __future__ import annotations

import re

import pytest

from usagekit.report import publish

DOLLARS = re.compile(r"^-?\$[\d,]+\.\d\d$|^< \$0\.01$|^unpriced$|^-$")


@pytest.fixture(scope="module")
def published(demo_dir, tmp_path_factory):
    return publish(month="2026-10", source=demo_dir, out=tmp_path_factory.mktemp("reports"), progress=False)


@pytest.fixture
def page(browser, published):
    pg = browser.new_page(viewport={"width": 1280, "height": 900})
    pg.goto(published.html.resolve().as_uri())
    pg.wait_for_selector(".uk-card")
    yield pg
    pg.close()


def _column(page, table, header):
    return page.evaluate(
        """([t, h]) => {
        const table = document.querySelectorAll('table.uk-table')[t];
        const i = [...table.tHead.rows[0].cells].findIndex(c => c.textContent.trim() === h);
        return [...table.tBodies[0].rows].map(r => r.cells[i].textContent.trim());
    }""",
        [table, header],
    )


def _table_with(page, header):
    return page.evaluate(
        """h => [...document.querySelectorAll('table.uk-table')].findIndex(
        t => [...t.tHead.rows[0].cells].some(c => c.textContent.trim() === h))""",
        header,
    )


def test_money_in_the_page_reads_as_dollars_with_two_decimals(page):
    body = page.inner_text("body")
    assert "cost_cents" not in body and "invoiced (cents)" not in body
    assert not re.search(r"\(\d[\d.,]* cents\)", body)  # no "$2.97 (296.991032 cents)"
    for header in ("recorded", "billed", "cap", "spent in budget", "projected"):
        t = _table_with(page, header)
        assert t >= 0, header
        values = _column(page, t, header)
        assert values and all(DOLLARS.match(v) for v in values), (header, values[:5])
    spends = page.eval_on_selector_all(".uk-card .spend", "els => els.map(e => e.textContent)")
    assert spends and all(DOLLARS.match(s) for s in spends)
    assert re.search(r"\$[\d,]+\.\d\d billed", body)
    assert re.search(r"rounding difference [+-]\d+\.\d{4} cents \([+-]\$\d+\.\d{4}\)", body)


def test_a_table_sorts_by_value_when_its_header_is_clicked(page):
    t = _table_with(page, "billed")
    page.locator("table.uk-table").nth(t).locator("th", has_text="billed").click()
    amounts = [float(v.replace("$", "").replace(",", "")) for v in _column(page, t, "billed")]
    assert amounts == sorted(amounts) and amounts[0] < amounts[-1]
    page.locator("table.uk-table").nth(t).locator("th", has_text="billed").click()
    again = [float(v.replace("$", "").replace(",", "")) for v in _column(page, t, "billed")]
    assert again == sorted(amounts, reverse=True)


def test_tables_carry_their_csv_and_the_file_list_is_folded(page, demo_dir):
    for name in ("keys.csv", "invoice-2026-10.csv", "files.csv"):
        href = page.get_attribute(f"a[download='{name}']", "href")
        assert href and href.startswith("data:text/csv"), name
    assert page.locator("details").filter(has_text="every file").count() == 1
    assert not page.locator("details table.uk-table").first.is_visible()  # folded until opened
    assert str(demo_dir) not in page.inner_text("body")  # file paths relative to the source given


def test_key_cards_form_an_even_grid_with_anomaly_badges(page):
    boxes = page.eval_on_selector_all(".uk-card", "els => els.map(e => e.getBoundingClientRect().width)")
    assert len(boxes) > 4 and max(boxes) - min(boxes) < 1.0
    badges = page.eval_on_selector_all(".uk-badge", "els => els.map(e => e.textContent)")
    assert any(b.startswith("spike ") for b in badges) and any(b.startswith("cap ") for b in badges)


def test_each_chart_gives_its_categories_distinct_colours(page):
    # stacked charts: one colour per trace; breakdown bars (horizontal): one colour per bar
    colours = page.evaluate("""() => [...document.querySelectorAll('.js-plotly-plot')].map(gd =>
        gd.data.filter(t => t.type === 'bar').length > 1 ? gd.data.filter(t => t.type === 'bar').map(t => t.marker.color)
        : (gd.data[0].orientation === 'h' ? gd.data[0].marker.color : null)).filter(c => c !== null)""")
    assert len(colours) >= 4  # the daily chart and the provider, model and agent breakdowns
    for c in colours:
        assert len(set(map(str, c))) == len(c), c
