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
    assert {t.name for t in app.traces} == {
        "claude-sonnet-4",
        "compute (VM hours)",
        "tts-1",
        "o3-mini",
        "gpt-4o",
        "gpt-4o-mini",
        "mistral-large-2411",
    }
    assert all(len(t.x) == 31 for t in app.traces)
    assert app.figure.layout.xaxis.type == "date"
    assert app.cards.value.count('class="uk-card ') == 4
    assert "$0.15" in app.scope_label.value


def test_provider_filter_updates_the_same_figure_and_cards(app):
    fig = app.figure
    app.provider.value = "anthropic"
    assert app.figure is fig
    assert [t.name for t in app.traces] == ["claude-sonnet-4"]
    assert app.cards.value.count('class="uk-card ') == 1
    assert "batch-summariser" in app.cards.value and "support-bot-prod" not in app.cards.value
    assert "of the $1,200.00 cap" in app.cards.value  # the key keeps its cap under a provider filter
    app.provider.value = "(all)"
    assert len(app.traces) == 7


def test_key_and_model_and_date_filters(app):
    label = next(k for k in app.key.options if k.startswith("support-bot-prod"))
    app.key.value = label
    assert {t.name for t in app.traces} == {"gpt-4o-mini", "gpt-4o"}
    app.model.value = "gpt-4o"
    assert [t.name for t in app.traces] == ["gpt-4o"]
    assert sum(app.traces[0].y) == pytest.approx(0.0095)
    app.model.value = "(all)"
    app.key.value = "(all)"
    app.end.value = dt.date(2026, 10, 1)
    assert all(len(t.x) == 1 for t in app.traces)


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
    assert sum(sum(t.y) for t in app.traces) == pytest.approx(0.01)


def test_anomalies_are_listed_beside_the_chart(tmp_path):
    rows = ["ts,request_id,key_id,key_name,cost_cents"]
    rows += [f"2026-09-{d:02d}T10:00:00Z,s{d},k1,quiet-key,20" for d in range(1, 31)]
    rows += [f"2026-10-{d:02d}T10:00:00Z,o{d},k1,quiet-key,{5000 if d == 17 else 20}" for d in range(1, 32)]
    (tmp_path / "u.csv").write_text("\n".join(rows) + "\n")
    app = explore(usagekit.load(tmp_path / "u.csv"), month="2026-10")
    assert "spike" in app.anomaly_list.value and "Sat 17 Oct" in app.anomaly_list.value  # the day in words
    assert len(app.figure.layout.shapes) == 1


def test_explore_notebook_runs_under_papermill_on_the_demo_month(demo_dir, tmp_path):
    import papermill as pm

    out = tmp_path / "explore.out.ipynb"
    root = Path(__file__).resolve().parents[1]
    pm.execute_notebook(
        str(root / "notebooks" / "explore.ipynb"),
        str(out),
        parameters={"source": str(demo_dir)},
        kernel_name="python3",
        progress_bar=False,
        cwd=str(root / "notebooks"),
        store_widget_state=False,
    )
    text = out.read_text()
    import nbformat

    nb = nbformat.read(out, as_version=4)
    printed = "".join(
        o.get("text", "")
        for c in nb.cells
        if c.cell_type == "code" and "load_report" in c.source
        for o in c.outputs
        if o.output_type == "stream"
    )
    assert "read = kept + rejected + duplicates holds" in printed
    assert len(printed.strip().splitlines()) <= 5  # a few lines above the dashboard, not a table per file
    # no month given: the latest month with data (the demo's October), and the notebook says so
    assert "Spend by axis, 2026-10" in text and "latest month with data" in text
    assert '"ename"' not in text  # no cell raised
    assert out.stat().st_size < 2_000_000  # no widget state bloat


# -- the demo month: Other, compute, many keys, anomalies ------------------------------------------


@pytest.fixture
def demo_app(demo_dir):
    return explore(usagekit.load(demo_dir), month="2026-10")


def segment(app, name: str):
    """The trace of a segment by its raw name (customdata), and the index of its tallest bar."""
    trace = next(t for t in app.traces if t.customdata[0][0] == name)
    i = max(range(len(trace.y)), key=lambda j: trace.y[j])
    return trace, i, pd.Timestamp(trace.x[i]).date()


def test_click_on_other_drills_into_exactly_the_models_it_groups(demo_app):
    trace, i, day = segment(demo_app, "Other")
    click(demo_app.figure, trace.name, day)
    shown = {t.customdata[0][0] for t in demo_app.traces} - {"Other"}
    assert set(demo_app.drill_summary["model"]) <= set(demo_app.daily["model"]) - shown
    assert not set(demo_app.drill_summary["model"]) & shown
    assert demo_app.drill_summary["cost_cents"].sum() / 100 == pytest.approx(trace.y[i], abs=1e-9)
    assert demo_app.drill_keys["cost_cents"].sum() / 100 == pytest.approx(trace.y[i], abs=1e-9)
    n = int(demo_app.drill_summary["requests"].sum())
    assert demo_app.drill_rows.attrs["total_rows"] == n
    assert f"{n:,} requests" in demo_app.drill_title.value and "all models" not in demo_app.drill_title.value
    assert set(demo_app.drill_rows["model"]) <= set(demo_app.drill_summary["model"])


def test_click_on_compute_drills_into_vm_hours_per_agent_and_plain_vm(demo_app):
    trace, i, day = segment(demo_app, "compute (VM hours)")
    click(demo_app.figure, trace.name, day)
    vms = demo_app.drill_summary
    assert list(vms.columns[:4]) == ["vm", "kind", "vm_id", "hours"]
    assert {"agent", "plain VM"} <= set(vms["kind"])
    assert vms["cost_cents"].sum() / 100 == pytest.approx(trace.y[i], abs=1e-9)
    hours = vms["hours"].sum()
    assert hours > 0 and f"{hours:,.1f} VM hours" in demo_app.drill_title.value
    assert "compute (VM hours)" in demo_app.drill_title.value
    assert demo_app.drill_rows["model"].isna().all() and demo_app.drill_rows["hours"].notna().all()
    assert "agent or plain VM" in demo_app.drill_table.value


def test_request_log_pages_past_the_first_fifty(demo_app):
    trace, i, day = segment(demo_app, "gpt-4o")
    click(demo_app.figure, "gpt-4o", day)
    first = demo_app.drill_rows["request_id"].tolist()
    total = demo_app.drill_rows.attrs["total_rows"]
    assert len(first) == 50 and total > 100 and demo_app.newer.disabled and not demo_app.older.disabled
    demo_app.older.click()
    second = demo_app.drill_rows["request_id"].tolist()
    assert len(second) == 50 and not set(first) & set(second) and second[0] < first[-1]
    assert f"51\u2013100 of {total:,}" in demo_app.page_label.value
    demo_app.newer.click()
    assert demo_app.drill_rows["request_id"].tolist() == first


def test_drill_down_follows_filter_changes(demo_app):
    trace, i, day = segment(demo_app, "gpt-4o")
    click(demo_app.figure, "gpt-4o", day)
    whole = demo_app.drill_summary["requests"].sum()
    key = demo_app.drill_keys.iloc[0]
    label = next(k for k in demo_app._key_labels if demo_app._key_labels[k] == key["key"])
    demo_app.key.value = label  # the same segment for one key: the heading says that key's numbers
    assert demo_app.drill_summary["requests"].sum() == key["requests"] < whole
    assert f"{key['requests']:,} requests" in demo_app.drill_title.value
    assert set(demo_app.drill_rows["key_id"]) == {key["key"]}
    demo_app.key.value = ""
    demo_app.provider.value = "anthropic"  # gpt-4o is not drawn any more: the drill-down closes
    assert demo_app.drill is None and demo_app.drill_rows.empty
    assert "gpt-4o" in demo_app.drill_title.value and "closed" in demo_app.drill_title.value
    assert "<h4>" not in demo_app.drill_title.value  # no heading of numbers left from the old filters


def test_key_search_filters_on_a_partial_name_and_clearing_clears_it(demo_app):
    assert type(demo_app.key).__name__ == "Combobox" and not demo_app.key.ensure_option
    full = sum(sum(t.y) for t in demo_app.traces)
    demo_app.key.value = "partner"
    want = [k for label, k in demo_app._key_labels.items() if "partner" in label]
    assert want
    part = demo_app.current.total()["cost_cents"]
    assert part == pytest.approx(demo_app.cube.filter(month="2026-10", keys=want).total()["cost_cents"])
    assert sum(sum(t.y) for t in demo_app.traces) == pytest.approx(part / 100) and part / 100 < full
    assert demo_app.cards.value.count('class="uk-card ') == len(want)
    assert "keys matching \u201cpartner\u201d" in demo_app.scope_label.value
    demo_app.key.value = ""
    assert sum(sum(t.y) for t in demo_app.traces) == pytest.approx(full)
    assert "every provider, key and model" in demo_app.scope_label.value
    longest = max(len(k) for k in demo_app.key.options)
    assert int(demo_app.key.layout.width.rstrip("ch")) >= longest  # labels are not cut


def test_scope_line_reads_as_words(demo_app):
    demo_app.provider.value = "anthropic"
    demo_app.model.value = "claude-sonnet-4"
    text = demo_app.scope_label.value
    assert "provider anthropic" in text and "model claude-sonnet-4" in text
    assert "[" not in text and "'" not in text and "=" not in text
    assert (
        usagekit.load(DATA).filter(month="2026-10", providers=["anthropic"]).describe_scope()
        == "2026-10-01 to 2026-10-31 (UTC days); provider anthropic"
    )


def test_anomalies_follow_provider_key_and_range_filters(demo_app):
    spikes = demo_app.findings[demo_app.findings["kind"] == "spike"]
    assert len(spikes)
    spike = spikes.iloc[0]
    provider = demo_app.cube.filter(month="2026-10", models=[spike["model"]]).breakdown("provider")["provider"][0]
    n_all, shapes_all = len(demo_app.shown_findings), len(demo_app.figure.layout.shapes)
    assert n_all == len(demo_app.findings)
    other = next(p for p in demo_app.provider.options if p not in ("(all)", provider, "compute"))
    demo_app.provider.value = other
    assert spike["key_id"] not in set(demo_app.shown_findings.get("key_id", []))
    assert len(demo_app.figure.layout.shapes) < shapes_all
    assert "more outside these filters" in demo_app.anomaly_list.value
    demo_app.provider.value = provider
    assert spike["key_id"] in set(demo_app.shown_findings["key_id"])
    demo_app.provider.value = "(all)"
    demo_app.end.value = spike["day"] - dt.timedelta(days=1)  # the range ends before the spike
    assert (
        spike["key_id"] not in set(demo_app.shown_findings.get("key_id", []))
        or (demo_app.shown_findings["kind"] != "spike").all()
    )
    assert all(pd.Timestamp(s.x0).date() < spike["day"] for s in demo_app.figure.layout.shapes)
    assert len(demo_app.findings) == n_all  # detection is not re-run


def test_filter_changes_restyle_the_same_traces(demo_app):
    before = list(demo_app.figure.data)
    demo_app.start.value = dt.date(2026, 10, 15)
    assert all(a is b for a, b in zip(demo_app.figure.data, before))
    assert all(len(t.x) == 17 for t in demo_app.traces)
    demo_app.provider.value = "anthropic"
    # fewer traces drawn, none deleted (a deletion is one more redraw in the browser): the rest hidden
    assert len(demo_app.traces) < len(before) and len(demo_app.figure.data) == len(before)
    assert all(a is b for a, b in zip(demo_app.figure.data, before))
    drawn = {id(t) for t in demo_app.traces}
    assert all(t.visible is False and not t.x for t in demo_app.figure.data if id(t) not in drawn)
    demo_app.provider.value = "(all)"  # shown again, none added
    assert len(demo_app.traces) == len(before) and all(a is b for a, b in zip(demo_app.figure.data, before))


def test_print_of_the_load_report_is_a_few_lines_and_details_lists_every_file(demo_dir):
    report = usagekit.load(demo_dir).load_report
    short = str(report)
    assert len(short.splitlines()) <= 5
    assert f"{report.read:,} rows read" in short and "read = kept + rejected + duplicates holds" in short
    assert "details()" in short
    detail = report.details()
    assert len(detail.splitlines()) > len(report.files) and all(f.file in detail for f in report.files)


def test_default_month_is_the_latest_month_with_data_when_the_current_one_is_empty():
    usage = usagekit.load(DATA)
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m")
    assert now > "2026-10"
    app = explore(usage, detect_anomalies=False)
    assert app.month == "2026-10" and app.start.value == dt.date(2026, 10, 1)
    assert "latest month with data" in app.note.value and now in app.note.value


def test_cards_equal_a_full_key_summary_under_every_filter(demo_app):
    """The cards are answered from a cache of the budget rows: they must be what key_summary says."""

    def check():
        want = demo_app.current.key_summary()
        got = demo_app.card_summary
        assert got["key_id"].tolist() == want["key_id"].tolist()
        pd.testing.assert_frame_equal(got.reset_index(drop=True), want.reset_index(drop=True), check_dtype=False)

    check()
    demo_app.start.value = dt.date(2026, 10, 15)
    check()
    demo_app.provider.value = "anthropic"
    check()
    demo_app.key.value = "partner"
    check()
    demo_app.key.value = ""
    demo_app.provider.value = "(all)"
    demo_app.end.value = dt.date(2026, 10, 25)
    check()
    demo_app.model.value = "gpt-4o"
    check()


def test_a_cards_budget_does_not_move_with_range_start_or_provider(demo_app):
    capped = demo_app.card_summary.dropna(subset=["spend_cap_cents"])
    kid = capped.iloc[0]["key_id"]
    before = capped.iloc[0]
    demo_app.start.value = dt.date(2026, 10, 15)
    provider = demo_app.cube.filter(month="2026-10", keys=[kid]).breakdown("provider")["provider"][0]
    demo_app.provider.value = provider
    after = demo_app.card_summary.set_index("key_id").loc[kid]
    assert after["pct_used"] == pytest.approx(before["pct_used"])
    assert after["projected_cents"] == pytest.approx(before["projected_cents"])
    assert after["range_spend_cents"] < before["range_spend_cents"]
    card = demo_app.cards.value.split(f'data-key="{kid}"')[1].split('class="uk-card')[0]
    assert f"{before['pct_used']:.1f}% of the" in card


# -- break down by: provider, key, agent, team, user, tag --------------------------------------------


def test_break_down_by_offers_only_the_dimensions_the_data_has(demo_app, app):
    assert list(demo_app.by.options) == ["model", "provider", "key", "agent", "team", "user", "tag"]
    assert "team" not in app.by.options and "tag" not in app.by.options  # the small fixture has neither


@pytest.mark.parametrize("by", ["provider", "team", "key"])
def test_break_down_by_redraws_the_same_chart_under_every_filter(demo_app, by):
    fig = demo_app.figure
    demo_app.by.value = by
    assert demo_app.figure is fig and fig.layout.legend.title.text == by
    values = {t.customdata[0][0] for t in demo_app.traces}
    daily = demo_app.current.daily(by)
    assert values - {"Other"} <= set(daily[by].astype(str))
    colours = [t.marker.color for t in demo_app.traces]
    assert len(set(colours)) == len(colours)  # distinct within the chart
    total = demo_app.current.total()["cost_cents"] / 100
    assert sum(sum(t.y) for t in demo_app.traces) == pytest.approx(total)
    demo_app.provider.value = "anthropic"  # the breakdown follows the filters
    assert sum(sum(t.y) for t in demo_app.traces) == pytest.approx(demo_app.current.total()["cost_cents"] / 100)
    assert sum(sum(t.y) for t in demo_app.traces) < total
    assert f"broken down by {by}" in demo_app.scope_label.value


def test_the_same_name_keeps_its_colour_when_the_breakdown_comes_back(demo_app):
    before = {t.customdata[0][0]: t.marker.color for t in demo_app.traces}
    demo_app.by.value = "team"
    demo_app.by.value = "model"
    after = {t.customdata[0][0]: t.marker.color for t in demo_app.traces}
    assert before == after


def test_click_on_a_team_segment_drills_into_exactly_that_team(demo_app):
    demo_app.by.value = "team"
    named = [t for t in demo_app.traces if t.customdata[0][0] not in ("Other", "(none)")]
    trace = max(named, key=lambda t: sum(t.y))
    i = max(range(len(trace.y)), key=lambda j: trace.y[j])
    day = pd.Timestamp(trace.x[i]).date()
    click(demo_app.figure, trace.name, day)
    team = trace.customdata[0][0]
    assert demo_app.drill["by"] == "team" and demo_app.drill["what"] == team
    assert demo_app.drill_summary["cost_cents"].sum() / 100 == pytest.approx(trace.y[i], abs=1e-9)
    assert demo_app.drill_keys["cost_cents"].sum() / 100 == pytest.approx(trace.y[i], abs=1e-9)
    n = int(demo_app.drill_summary["requests"].sum())
    assert demo_app.drill_rows.attrs["total_rows"] == n and team in demo_app.drill_title.value
    every = demo_app.requests.filter(start=day, end=day, teams=team).to_pandas()
    assert set(demo_app.drill_rows["request_id"]) <= set(every["request_id"])
    demo_app.by.value = "model"  # another breakdown: that bar is gone, the drill-down says so
    assert demo_app.drill is None and "closed" in demo_app.drill_title.value


def test_other_under_key_drills_into_exactly_the_keys_it_groups(demo_app):
    demo_app.by.value = "key"
    trace, i, day = segment(demo_app, "Other")
    members = set(trace.meta["members"])
    assert members and not members & {t.customdata[0][0] for t in demo_app.traces}
    click(demo_app.figure, trace.name, day)
    assert set(demo_app.drill_keys["key"]) <= members
    assert demo_app.drill_keys["cost_cents"].sum() / 100 == pytest.approx(trace.y[i], abs=1e-9)
    assert demo_app.drill_summary["cost_cents"].sum() / 100 == pytest.approx(trace.y[i], abs=1e-9)
    assert set(demo_app.drill_rows["key_id"]) <= members


def test_compute_under_provider_and_plain_vms_under_agent_drill_into_vm_hours(demo_app):
    # the demo names compute's provider "compute"; other data leaves it empty ("compute (VM hours)")
    for by, label in (("provider", "compute"), ("agent", "plain VMs (VM hours)")):
        demo_app.by.value = by
        trace, i, day = segment(demo_app, label)
        click(demo_app.figure, trace.name, day)
        assert demo_app.drill_summary["cost_cents"].sum() / 100 == pytest.approx(trace.y[i], abs=1e-9)
        assert demo_app.drill_summary["hours"].sum() > 0 and "VM hours" in demo_app.drill_title.value
        assert demo_app.drill_rows["model"].isna().all()
    assert set(demo_app.drill_summary["kind"]) == {"plain VM"}  # under agent: the VMs without one


def test_a_tag_segment_drills_into_the_requests_carrying_that_tag(demo_app):
    demo_app.by.value = "tag"
    named = [t for t in demo_app.traces if t.customdata[0][0] not in ("Other", "(none)")]
    trace = max(named, key=lambda t: sum(t.y))
    i = max(range(len(trace.y)), key=lambda j: trace.y[j])
    click(demo_app.figure, trace.name, pd.Timestamp(trace.x[i]).date())
    assert demo_app.drill_summary["cost_cents"].sum() / 100 == pytest.approx(trace.y[i], abs=1e-9)
    tag, day = trace.customdata[0][0], pd.Timestamp(trace.x[i]).date()
    tagged = demo_app.requests.filter(start=day, end=day).to_pandas()
    tagged = set(tagged.loc[[tag in list(t) if t is not None else False for t in tagged["tags"]], "request_id"])
    assert demo_app.drill_rows.attrs["total_rows"] == len(tagged) == int(demo_app.drill_summary["requests"].sum())
    assert set(demo_app.drill_rows["request_id"]) <= tagged


# -- caches: a view drawn after any sequence of changes is the view of a fresh explorer --------


def drawn(app) -> dict:
    """What a person sees for the filters in force: traces, markers, cards, scope line, anomalies."""
    cards = app.card_summary.set_index("key_id")
    return {
        "traces": [
            (t.name, tuple(t.x), t.marker.color, tuple(t.hovertext), tuple(t.customdata[0])) for t in app.traces
        ],
        "y": [list(t.y) for t in app.traces],
        "shapes": sorted((s.x0, s.line.color) for s in app.figure.layout.shapes),
        "legend": app.figure.layout.legend.title.text,
        "cards": app.cards.value,
        "card_numbers": {
            k: [float(cards.at[k, c]) for c in ("spend_cents", "range_spend_cents", "projected_cents", "requests")]
            for k in cards.index
        },
        "scope": app.scope_label.value,
        "anomalies": app.anomaly_list.value,
    }


def assert_same_view(got: dict, want: dict) -> None:
    """Two :func:`drawn` views are the same: text exactly, amounts to a billionth of a cent."""
    numbers = ("y", "card_numbers")
    assert {k: v for k, v in got.items() if k not in numbers} == {k: v for k, v in want.items() if k not in numbers}
    assert len(got["y"]) == len(want["y"])
    for a, b in zip(got["y"], want["y"]):
        assert a == pytest.approx(b, abs=1e-9)
    assert got["card_numbers"].keys() == want["card_numbers"].keys()
    for k, v in got["card_numbers"].items():
        assert v == pytest.approx(want["card_numbers"][k], abs=1e-7, nan_ok=True)


def set_filters(app, **values) -> None:
    for name, value in values.items():
        getattr(app, name).value = value


def assert_matches_the_query_layer(app) -> None:
    """The chart's frame, the total and the cards' keys, asked of the query layer directly."""
    by = app.by.value
    want = app.current.daily(by)
    assert app.daily[["date", by]].astype(str).values.tolist() == want[["date", by]].astype(str).values.tolist()
    for col in ("cost_cents", "requests", "hours", "estimated_cents"):
        assert app.daily[col].tolist() == pytest.approx(want[col].tolist(), abs=1e-9)
    total = app.current.total()
    assert f"{total['requests']:,} requests" in app.scope_label.value
    assert sorted(app.card_summary["key_id"]) == sorted(app.current.key_summary()["key_id"])


@pytest.mark.parametrize(
    "steps",
    [
        # account A -> B -> A: the cards, chart and markers are A's again
        [{"account": 1}, {"account": 2}, {"account": 1}],
        # range, then provider, then the range back: the provider's month
        [{"start": dt.date(2026, 10, 8)}, {"provider": "anthropic"}, {"start": dt.date(2026, 10, 1)}],
        # break down by key under a provider and a model, then by provider with the model cleared
        [{"by": "key"}, {"provider": "openai"}, {"model": "gpt-4o"}, {"by": "provider"}, {"model": "(all)"}],
        # a key search under an account, then the range end (the budget cut-off) moved
        [{"account": 3}, {"key": "partner"}, {"end": dt.date(2026, 10, 20)}, {"start": dt.date(2026, 10, 12)}],
    ],
)
def test_filter_sequences_draw_what_a_fresh_explorer_draws(demo_dir, steps):
    usage = usagekit.load(demo_dir)
    app = explore(usage, month="2026-10")
    initial = drawn(app)
    accounts = [a for _, a in app.account.options]
    state: dict = {}
    for step in steps:
        step = {k: accounts[v] if k == "account" else v for k, v in step.items()}
        if "key" in step and type(app.key).__name__ != "Combobox":
            step["key"] = next(k for k in app.key.options if step["key"] in k.lower())
        state.update(step)
        set_filters(app, **step)
        assert_matches_the_query_layer(app)
    fresh = explore(usage, month="2026-10")
    set_filters(fresh, **state)
    assert_same_view(drawn(app), drawn(fresh))
    assert app.daily.equals(fresh.daily)
    # and every filter back to the start: the first view again, whatever was cached on the way
    set_filters(app, start=dt.date(2026, 10, 1), end=dt.date(2026, 10, 31), account="(all)", provider="(all)")
    set_filters(app, model="(all)", by="model", key="" if type(app.key).__name__ == "Combobox" else "(all)")
    assert_same_view(drawn(app), initial)


def test_one_filter_change_is_one_chart_message(demo_app):
    """Traces, anomaly markers and the legend title reach the browser in one update (one
    redraw); a refresh that changes nothing sends nothing."""
    fig = demo_app.figure
    sent: list = []
    for kind in ("update", "restyle", "relayout", "addTraces", "deleteTraces"):
        setattr(fig, f"_send_{kind}_msg", lambda *a, kind=kind, **k: sent.append((kind, a, k)))
    shapes = len(fig.layout.shapes)
    spike = demo_app.findings[demo_app.findings["kind"] == "spike"].iloc[0]
    demo_app.start.value = spike["day"] + dt.timedelta(days=1)  # the spike's marker leaves the chart
    demo_app.by.value = "provider"
    assert [s[0] for s in sent] == ["update", "update"]
    first = sent[0][2]
    assert "shapes" in first["relayout_data"] and len(first["relayout_data"]["shapes"]) < shapes
    assert {"x", "y", "hovertext"} <= set(first["restyle_data"])
    assert sent[1][2]["relayout_data"] == {"legend.title.text": "provider"}
    assert len(fig.layout.shapes) == len(first["relayout_data"]["shapes"])  # the Python side follows
    sent.clear()
    cards = demo_app.cards.value
    demo_app.refresh()
    assert sent == [] and demo_app.cards.value == cards


def test_other_under_tag_counts_each_request_once_as_its_drill_down_does(tmp_path):
    # 12 tags, every request carrying two of them: "Other" folds the smallest tags, and a request
    # carrying two folded tags is one request of "Other" (the named tags' bars count per tag)
    rows = ["ts,request_id,account_id,key_id,axis,provider,model,requests,cost_cents,tags,status"]
    for i in range(240):
        day = 1 + i % 3
        a, b = i % 12, (i * 5 + 1) % 12
        tags = '"[""t%02d"",""t%02d""]"' % (a, b)
        cost = 1.0 + (11 - a) * 0.75 + i % 7 * 0.01
        rows.append(f"2026-10-0{day}T10:{i % 60:02d}:00Z,r{i:04d},acct,vk_1,llm,openai,gpt-4o,1,{cost},{tags},success")
    (tmp_path / "usage.csv").write_text("\n".join(rows) + "\n")
    app = explore(usagekit.load(tmp_path / "usage.csv", store=False), month="2026-10")
    app.by.value = "tag"
    trace, i, day = segment(app, "Other")
    folded = set(trace.meta["members"])
    assert len(folded) == 3  # 12 tags: the 9 largest drawn, 3 folded
    frame = app.requests.filter(start=day, end=day).to_pandas()
    carrying = frame[[bool(set(t) & folded) for t in frame["tags"]]]
    assert trace.y[i] == pytest.approx(carrying["cost_cents"].sum() / 100, abs=1e-9)  # each request once
    per_tag = sum(
        float(carrying["tags"].map(lambda t, g=g: g in set(t)).mul(carrying["cost_cents"]).sum()) for g in folded
    )
    assert per_tag > carrying["cost_cents"].sum()  # counting per tag would have shown more
    click(app.figure, trace.name, day)
    assert app.drill_summary["cost_cents"].sum() / 100 == pytest.approx(trace.y[i], abs=1e-9)
    assert app.drill_rows.attrs["total_rows"] == len(carrying)
    assert "each request once" in app.drill_title.value
