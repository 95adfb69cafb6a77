"""The explorer's widgets, driven headless: filters update in place, a click fills the drill-down."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from plotly.callbacks import Points

import usagekit
from usagekit.explorer import explore

DATA = Path(__file__).parent / "data" / "canonical"


@pytest.fixture
def app():
    return explore(usagekit.load(DATA), month="2026-10")


def click(fig, trace_name: str, day: dt.date):
    """Simulate plotly's click message: every trace's handler is called, only one has points."""
    for i, trace in enumerate(fig.data):
        if trace.name == trace_name:
            idx = [pd.Timestamp(x).date() for x in trace.x].index(day)
            pts = Points(point_inds=[idx], xs=[trace.x[idx]], ys=[trace.y[idx]], trace_name=trace.name, trace_index=i)
        else:
            pts = Points(point_inds=[], xs=[], ys=[], trace_name=trace.name, trace_index=i)
        trace._dispatch_on_click(pts, None)


def test_defaults_show_the_month_every_model_and_a_card_per_key(app):
    assert app.start.value == dt.date(2026, 10, 1) and app.end.value == dt.date(2026, 10, 31)
    assert {t.name for t in app.figure.data} == {"claude-sonnet-4", "compute (VM hours)", "tts-1", "o3-mini", "gpt-4o",
                                                 "gpt-4o-mini", "mistral-large-2411"}
    assert all(len(t.x) == 31 for t in app.figure.data)
    assert app.figure.layout.xaxis.type == "date"
    assert app.cards.value.count('class="uk-card ') == 4
    assert "$0.15" in app.scope_label.value


def test_provider_filter_updates_the_same_figure_and_cards(app):
    fig = app.figure
    app.provider.value = "anthropic"
    assert app.figure is fig
    assert [t.name for t in fig.data] == ["claude-sonnet-4"]
    assert app.cards.value.count('class="uk-card ') == 1
    assert "batch-summariser" in app.cards.value and "support-bot-prod" not in app.cards.value
    assert "of the $1,200.00 cap" in app.cards.value  # the key keeps its cap under a provider filter
    app.provider.value = "(all)"
    assert len(fig.data) == 7


def test_key_and_model_and_date_filters(app):
    label = next(k for k in app.key.options if k.startswith("support-bot-prod"))
    app.key.value = label
    assert {t.name for t in app.figure.data} == {"gpt-4o-mini", "gpt-4o"}
    app.model.value = "gpt-4o"
    assert [t.name for t in app.figure.data] == ["gpt-4o"]
    assert sum(app.figure.data[0].y) == pytest.approx(0.0095)
    app.model.value = "(all)"
    app.key.value = "(all)"
    app.end.value = dt.date(2026, 10, 1)
    assert all(len(t.x) == 1 for t in app.figure.data)


def test_click_on_bar_segment_shows_that_days_requests(app):
    click(app.figure, "claude-sonnet-4", dt.date(2026, 10, 1))
    s = app.drill_summary
    assert s["model"].tolist() == ["claude-sonnet-4"]
    assert s["requests"].item() == 2 and s["cost_cents"].item() == pytest.approx(7.3665)
    assert app.drill_rows["request_id"].tolist() == ["req_0004", "req_0003"]  # newest first
    assert "2 requests" in app.drill_title.value and "$0.07" in app.drill_title.value


def test_click_respects_the_key_filter(app):
    label = next(k for k in app.key.options if k.startswith("support-bot-prod"))
    app.key.value = label
    click(app.figure, "gpt-4o-mini", dt.date(2026, 10, 1))
    assert app.drill_rows["key_id"].unique().tolist() == ["vk_3f9a1c2b7d10"]
    assert app.drill_summary["requests"].item() == 2


def test_many_keys_get_a_searchable_box(tmp_path):
    lines = ["ts,request_id,key_id,cost_cents"] + [f"2026-10-02T00:00:00Z,r{i},key{i:02d},1" for i in range(20)]
    (tmp_path / "u.csv").write_text("\n".join(lines) + "\n")
    app = explore(usagekit.load(tmp_path / "u.csv"), month="2026-10")
    assert type(app.key).__name__ == "Combobox"
    app.key.value = next(k for k in app.key.options if k.startswith("key07"))
    assert sum(sum(t.y) for t in app.figure.data) == pytest.approx(0.01)


def test_anomalies_are_listed_beside_the_chart(tmp_path):
    rows = ["ts,request_id,key_id,key_name,cost_cents"]
    rows += [f"2026-09-{d:02d}T10:00:00Z,s{d},k1,quiet-key,20" for d in range(1, 31)]
    rows += [f"2026-10-{d:02d}T10:00:00Z,o{d},k1,quiet-key,{5000 if d == 17 else 20}" for d in range(1, 32)]
    (tmp_path / "u.csv").write_text("\n".join(rows) + "\n")
    app = explore(usagekit.load(tmp_path / "u.csv"), month="2026-10")
    assert "spike" in app.anomaly_list.value and "2026-10-17" in app.anomaly_list.value
    assert len(app.figure.layout.shapes) == 1


def test_explore_notebook_runs_under_papermill_on_the_demo_month(demo_dir, tmp_path):
    import papermill as pm

    out = tmp_path / "explore.out.ipynb"
    root = Path(__file__).resolve().parents[1]
    pm.execute_notebook(str(root / "notebooks" / "explore.ipynb"), str(out),
                        parameters={"source": str(demo_dir), "month": "2026-10"}, kernel_name="python3",
                        progress_bar=False, cwd=str(root / "notebooks"), store_widget_state=False)
    text = out.read_text()
    assert "read = kept + rejected + duplicates holds" in text
    assert '"ename"' not in text  # no cell raised
    assert out.stat().st_size < 2_000_000  # no widget state bloat
