"""Figures from query results: stacked daily spend, colours, escaping, cards."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

import usagekit
from usagekit import charts

DATA = Path(__file__).parent / "data" / "canonical"


@pytest.fixture(scope="module")
def october():
    return usagekit.load(DATA).filter(month="2026-10")


def test_daily_stacked_has_one_trace_per_model_and_every_day(october):
    daily = october.daily("model")
    fig = charts.daily_stacked(daily, by="model")
    assert fig.layout.barmode == "stack"
    names = [t.name for t in fig.data]
    assert set(names) == set(daily["model"])
    for t in fig.data:
        assert len(t.x) == 31
    total = sum(sum(t.y) for t in fig.data)
    assert total * 100 == pytest.approx(october.total()["cost_cents"])
    sonnet = next(t for t in fig.data if t.name == "claude-sonnet-4")
    assert sonnet.customdata[0][0] == "claude-sonnet-4"
    assert sonnet.y[0] == pytest.approx(7.3665 / 100)
    assert "UTC" in fig.layout.xaxis.title.text


def test_a_model_keeps_its_colour_everywhere(october):
    a = charts.daily_stacked(october.daily("model"), by="model")
    b = charts.breakdown_bar(october.breakdown("model"), by="model")
    colour_a = {t.name: t.marker.color for t in a.data}
    colour_b = dict(zip(b.data[0].y, b.data[0].marker.color))
    for model, colour in colour_b.items():
        assert colour_a[model] == colour
    assert charts.color_for("gpt-4o") == charts.color_for("gpt-4o") != charts.color_for("gpt-4o-mini")


def test_top_n_folds_the_rest_into_other():
    rows = [
        {"date": dt.date(2026, 10, 1), "model": f"m{i}", "cost_cents": float(100 - i), "requests": 1} for i in range(15)
    ]
    fig = charts.daily_stacked(pd.DataFrame(rows), by="model", top=9)
    names = [t.name for t in fig.data]
    assert len(names) == 10 and names[-1] == "Other (6 models)"
    assert fig.data[-1].customdata[0][0] == "Other" and fig.data[-1].meta["members"] == [f"m{i}" for i in range(9, 15)]
    assert sum(sum(t.y) for t in fig.data) == pytest.approx(sum(r["cost_cents"] for r in rows) / 100)


def test_user_supplied_names_are_escaped_in_figures_and_cards(tmp_path):
    evil = "<img src=x onerror=alert(1)>"
    src = tmp_path / "u.csv"
    src.write_text(f'ts,request_id,key_id,key_name,model,cost_cents\n2026-10-01T00:00:00Z,r1,k1,"{evil}","{evil}",5\n')
    oct_ = usagekit.load(src).filter(month="2026-10")
    fig = charts.daily_stacked(oct_.daily("model"), by="model")
    assert fig.data[0].name == "&lt;img src=x onerror=alert(1)&gt;"
    html = charts.key_cards_html(oct_.key_summary())
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html


def test_key_secrets_are_masked():
    assert charts.mask_key("sk-proj-abcdefghijklmnop1234") == "sk-proj-...1234"
    assert charts.mask_key("vk_3f9a1c2b7d10") == "vk_3f9a1c2b7d10"


def test_cards_show_cap_state_and_risk(october):
    summary = october.key_summary(as_of="2026-10-04T00:00:00Z")
    html = charts.key_cards_html(summary)
    assert html.count('class="uk-card ') == len(summary) == 4
    assert "no cap set" in html  # R&D <sandbox> has no cap
    assert "R&amp;D &lt;sandbox&gt;" in html
    assert charts.risk(105, 120) == "over" and charts.risk(50, 130) == "high" and charts.risk(None, 0) == "nocap"


def test_anomaly_evidence_marks_the_day():
    s = pd.Series([1.0, 1.0, 50.0, 1.0], index=[dt.date(2026, 10, d) for d in range(1, 5)])
    fig = charts.anomaly_evidence({"series": s, "kind": "spike", "day": dt.date(2026, 10, 3), "baseline_cents": 1})
    colours = list(fig.data[0].marker.color)
    assert colours[2] == charts.SEVERITY_COLORS["critical"] and colours[0] != colours[2]


@pytest.fixture(scope="module")
def demo_october(demo_dir):
    return usagekit.load(demo_dir).filter(month="2026-10")


def test_breakdown_bar_sums_the_rest_into_an_other_bar(demo_october):
    b = demo_october.breakdown("model")
    assert len(b) > 13  # the demo month has more models than the chart shows
    fig = charts.breakdown_bar(b, by="model", top=12)
    bar = fig.data[0]
    assert len(bar.y) == 13 and bar.y[0] == f"Other ({len(b) - 12} models)"  # drawn last, at the bottom
    assert sum(bar.x) * 100 == pytest.approx(b["cost_cents"].sum())  # nothing silently dropped
    assert sorted(bar.meta["other_members"]) == sorted(b["model"].iloc[12:])


def test_compute_is_named_and_counted_in_vm_hours(demo_october):
    b = demo_october.breakdown("model").set_index("model")
    assert "(none)" not in b.index and b.loc["compute (VM hours)", "hours"] > 0
    assert b.loc["compute (VM hours)", "requests"] == 0
    fig = charts.breakdown_bar(demo_october.breakdown("model"), by="model")
    text = dict(zip(fig.data[0].y, fig.data[0].hovertext))["compute (VM hours)"]
    assert f"{b.loc['compute (VM hours)', 'hours']:,.1f} VM hours" in text and "requests" not in text
    daily = charts.daily_stacked(demo_october.daily("model"), by="model")
    compute = next(t for t in daily.data if t.name == "compute (VM hours)")
    assert "VM hours" in compute.hovertext[0] and "cents" not in compute.hovertext[0]
    agents = demo_october.breakdown("agent").set_index("agent")
    assert agents.loc["plain VMs (VM hours)", "hours"] > 0
    # a filter on the label is exactly that segment: the drill-down of a compute bar
    only = demo_october.filter(month="2026-10", models="compute (VM hours)")
    assert only.total()["cost_cents"] == pytest.approx(b.loc["compute (VM hours)", "cost_cents"])
    assert set(only.breakdown("axis")["axis"]) == {"compute"}


def test_colours_are_distinct_within_every_chart_of_the_page(demo_october):
    for by in ("model", "provider", "agent", "key"):
        fig = charts.daily_stacked(demo_october.daily(by), by=by)
        colours = [t.marker.color for t in fig.data]
        assert len(set(colours)) == len(colours), by
        bars = charts.breakdown_bar(demo_october.breakdown(by), by=by).data[0].marker.color
        assert len(set(bars)) == len(bars), by
