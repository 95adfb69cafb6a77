"""The shared HTML table: escaped, money in dollars, sortable in a real browser, CSV attached."""

from __future__ import annotations

import io
from urllib.parse import unquote

import pandas as pd
import pytest

from usagekit.money import format_cents_difference, format_usd
from usagekit.tables import html_table

EVIL = "<img src=x onerror=alert(1)>"


@pytest.fixture
def models():
    return pd.DataFrame(
        {
            "model": ["gpt-4o", EVIL, "claude-3-5-haiku", "o3-mini"],
            "requests": pd.array([120, 7, 4_500, 30], dtype="Int64"),
            "cost_cents": [19711.4, 0.4, 31.0, None],
            "share": [0.83, 0.0, 0.17, None],
        }
    )


def test_money_reads_as_dollars_with_two_decimals_everywhere():
    assert format_usd(19711.4) == "$197.11"
    assert format_usd(123456.789) == "$1,234.57"
    assert format_usd(68.3458) == "$0.68"  # not "$0.683458" beside "$1.56"
    assert format_usd(0.3) == "< $0.01"  # spent, but under a cent: never "$0.00"
    assert format_usd(0) == "$0.00" and format_usd(None) == "unpriced"
    assert format_usd(-0.2) == "> -$0.01" and format_usd(-1234) == "-$12.34"
    assert format_usd(0.68, precise=True) == "$0.0068"
    assert format_cents_difference(0.3861) == "+0.3861 cents (+$0.0039)"


def test_table_escapes_names_and_heads_money_in_dollars(models):
    html = html_table(models, caption=f"by model {EVIL}")
    assert "<img" not in html and html.count("&lt;img src=x onerror=alert(1)&gt;") == 3  # caption, cell, sort value
    assert "cost_cents" not in html.split("<tbody>")[0]  # the header says "cost", the cells dollars
    assert ">cost</th>" in html and ">$197.11</td>" in html and ">&lt; $0.01</td>" in html
    assert ">4,500</td>" in html and ">83.0%</td>" in html and ">unpriced</td>" in html
    assert 'data-v="19711.4"' in html  # sorting uses the exact value, not the text


def test_csv_link_holds_every_row_in_raw_cents(models):
    html = html_table(models, {"model": "model", "cost_cents": "spend"}, csv="models.csv", max_rows=2)
    assert "first 2 of 4 rows" in html and html.count("<tr>") == 3
    href = html.split('href="data:text/csv;charset=utf-8,')[1].split('"')[0]
    import html as h

    back = pd.read_csv(io.StringIO(unquote(h.unescape(href))))
    assert list(back.columns) == ["model", "cost_cents"] and len(back) == 4
    assert back["cost_cents"].iloc[0] == pytest.approx(19711.4)
    assert back["model"].iloc[1] == EVIL


def test_empty_frame_and_unknown_column_are_said_plainly(models):
    assert "no findings" in html_table(models.head(0), empty="no findings")
    with pytest.raises(KeyError, match="no column 'cost'"):
        html_table(models, ["cost"])


def test_header_click_sorts_by_value_and_csv_downloads_in_chromium(models, browser, tmp_path):
    page = browser.new_page(accept_downloads=True)
    page.set_content(f"<html><body>{html_table(models, csv='models.csv')}</body></html>")
    col = lambda i: page.eval_on_selector_all(  # noqa: E731
        "table.uk-table tbody tr", f"rows => rows.map(r => r.cells[{i}].textContent)"
    )
    page.click("th:has-text('cost')")
    assert col(2) == ["< $0.01", "$0.31", "$197.11", "unpriced"]  # numbers by value, unpriced last
    page.click("th:has-text('cost')")
    assert col(2) == ["$197.11", "$0.31", "< $0.01", "unpriced"]
    page.click("th:has-text('requests')")
    assert col(1) == ["7", "30", "120", "4,500"]
    page.click("th:has-text('model')")
    assert col(0)[0] == "<img src=x onerror=alert(1)>"  # shown as text, sorted as text
    with page.expect_download() as dl:
        page.click("a[download]")
    path = tmp_path / "got.csv"
    dl.value.save_as(path)
    assert dl.value.suggested_filename == "models.csv"
    assert pd.read_csv(path)["requests"].tolist() == [120, 7, 4500, 30]
    page.close()
