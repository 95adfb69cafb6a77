"""The report as an ordered list of sections: chosen by name, shown in report order, built from one context."""

from __future__ import annotations

import subprocess
import sys

import pytest

import usagekit
from usagekit import sections as S
from usagekit.errors import UsagekitError
from usagekit.money import format_usd


def test_sections_are_in_report_order_with_unique_names():
    names = S.section_names()
    assert names == [
        "headline",
        "keys",
        "daily",
        "breakdowns",
        "anomalies",
        "invoice",
        "reconciliation",
        "data-quality",
        "method",
    ]
    assert [s.title for s in S.SECTIONS][1:] == [
        "Keys",
        "Daily spend by model",
        "Breakdowns",
        "Anomalies",
        "Invoice lines",
        "Reconciliation",
        "Data quality",
        "Method notes",
    ]


def test_select_keeps_report_order_and_names_the_choices_on_a_typo():
    assert [s.name for s in S.select("method,keys")] == ["keys", "method"]
    assert [s.name for s in S.select(["data_quality", "Headline"])] == ["headline", "data-quality"]
    assert S.select(None) == S.SECTIONS
    with pytest.raises(UsagekitError, match="unknown report section 'keyz'; expected one or more of: headline, keys"):
        S.select("keyz")


def test_context_is_built_once_and_sections_render_its_numbers(demo_dir):
    usage = usagekit.load(demo_dir)
    ctx = S.ReportContext.build(usage, "2026-10")
    total = usage.filter(month="2026-10").total()["cost_cents"]
    assert format_usd(total, precise=False) in S.Headline().render(ctx)
    assert ctx.findings is ctx.findings  # detected once, shared by the anomalies section and the summary
    parts = S.Anomalies().render(ctx)
    assert f"{len(ctx.findings)} finding(s)" in parts[0]
    charts = S.Breakdowns().render(ctx)
    assert [c.layout.title.text for c in charts if hasattr(c, "layout")] == [
        "Spend by provider",
        "Spend by model",
        "Spend by agent",
        "Spend by account",  # the demo spans three accounts
        "Spend by team",
        "Spend by user",
        "Spend by tag",
    ]
    assert any("once under each of its tags" in str(c) for c in charts if not hasattr(c, "layout"))
    assert ctx.tz == "UTC"


def test_report_with_chosen_sections_shows_only_those(demo_dir, tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "usagekit.cli",
            "report",
            "--month",
            "2026-10",
            "--source",
            str(demo_dir),
            "--out",
            str(tmp_path),
            "--sections",
            "invoice,headline",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    page = (tmp_path / "2026-10" / "all" / "report.html").read_text()
    assert page.find("Usage report · October 2026") < page.find("Invoice lines")
    for absent in ("Daily spend by model", "Breakdowns", "Method notes", "Data quality", ">Keys<"):
        assert absent not in page
    assert "window.ukLoading" not in page  # no chart, so no plotly.js either
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "usagekit.cli",
            "report",
            "--month",
            "2026-10",
            "--source",
            str(demo_dir),
            "--out",
            str(tmp_path),
            "--sections",
            "totals",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and "unknown report section 'totals'" in bad.stderr


def test_every_table_in_the_report_has_a_csv_download(demo_dir):
    import re
    from urllib.parse import unquote

    usage = usagekit.load(demo_dir)
    ctx = S.ReportContext.build(usage, "2026-10")
    tables = links = 0
    for section in S.SECTIONS:
        if not section.shown(ctx):
            continue
        rendered = section.render(ctx)
        for part in rendered if isinstance(rendered, list) else [rendered]:
            html = part if isinstance(part, str) else ""
            tables += html.count("<table")
            found = re.findall(r'download="([^"]+)" href="data:text/csv;charset=utf-8,([^"]+)"', html)
            links += len(found)
            for name, data in found:
                assert name.endswith(".csv") and unquote(data).count("\n") >= 2, name  # a header and rows
    assert tables >= 4 and links == tables


def test_team_user_and_tag_breakdowns_are_hidden_when_the_data_has_none():
    from pathlib import Path

    plain = usagekit.load(Path(__file__).parent / "data" / "canonical" / "usage.csv").filter(month="2026-10")
    assert S.dimension_parts(plain) == []
    assert S.account_parts(plain.filter(month="2026-10", account="acct_acme")) == []  # one account: no comparison
    assert S.budget_parts(plain) == []


def test_team_and_user_budgets_show_their_window_spend_beside_the_cap():
    from pathlib import Path

    usage = usagekit.load(Path(__file__).parent / "data" / "litellm_prisma").filter(month="2026-10")
    parts = S.budget_parts(usage)
    # the fixture holds LiteLLM's organization, team and user tables: one table each, in that order
    assert len(parts) == 3 and "Organization budgets" in str(parts[0])
    assert "Team budgets" in str(parts[1]) and "User budgets" in str(parts[2])
    team = usage.budgets("team")
    row = team.iloc[0]
    page = str(parts[1])
    assert row["entity_id"] in page and "download" in page.lower()
