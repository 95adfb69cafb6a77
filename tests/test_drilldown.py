"""Drill-down queries: a bar segment's day, exactly (its models, its compute, its keys), on every engine."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

import usagekit
from usagekit import charts
from usagekit.queries import COMPUTE_LABEL as COMPUTE

DATA = Path(__file__).parent / "data" / "canonical"
DAY = dt.date(2026, 10, 2)


@pytest.fixture
def october(engine):
    return usagekit.load(DATA, engine=engine).filter(month="2026-10")


def test_the_compute_label_selects_the_compute_segment(october):
    # the charts call compute "compute (VM hours)": filtering by that name gives that segment
    only = october.filter(start="2026-10-01", end="2026-10-31", models=[COMPUTE]).total()
    assert only["cost_cents"] == pytest.approx(4.2, abs=1e-12)
    both = october.day_summary(DAY, model=[COMPUTE, "tts-1"])
    assert both["model"].tolist() == [COMPUTE, "tts-1"]
    assert both["cost_cents"].sum() == pytest.approx(4.2 + 1.296, abs=1e-12)


def test_day_summary_of_a_model_list_equals_that_days_bars(october):
    daily = october.daily("model")
    day = daily[daily["date"] == DAY]
    group = ["o3-mini", "tts-1", "mistral-large-2411"]
    want = day[day["model"].isin(group)]
    got = october.day_summary(DAY, model=group)
    assert sorted(got["model"]) == sorted(group)
    assert got["cost_cents"].sum() == pytest.approx(want["cost_cents"].sum(), abs=1e-12)
    assert got["requests"].sum() == want["requests"].sum() == 3


def test_day_summary_per_key(october):
    keys = october.day_summary(DAY, by="key")
    assert list(keys.columns) == ["key", "key_name", "requests", "cost_cents", "rows", "hours"]
    row = keys.set_index("key").loc["vk_02be55f1c9e7"]
    assert row["key_name"] == "R&D <sandbox>" and row["requests"] == 2
    assert row["cost_cents"] == pytest.approx(1.1605, abs=1e-12)
    assert keys["cost_cents"].sum() == pytest.approx(october.filter(start=DAY, end=DAY).total()["cost_cents"])


def test_day_compute_is_vm_hours_per_agent_and_plain_vm(tmp_path, engine):
    rows = [
        "ts,request_id,account_id,key_id,agent_id,agent_name,plain_vm_id,plain_vm_name,axis,provider,model,"
        "requests,hours,state,cost_cents",
        "2026-10-05T01:00:00Z,,a1,,agt_1,Support agent,,,compute,compute,,0,1.0,running,6",
        "2026-10-05T02:00:00Z,,a1,,agt_1,Support agent,,,compute,compute,,0,0.5,running,3",
        "2026-10-05T02:00:00Z,,a1,,,,vm_9,batch box,compute,compute,,0,2.0,running,10",
        "2026-10-05T03:00:00Z,r1,a1,k1,agt_1,Support agent,,,llm,openai,gpt-4o,1,,,7.5",
        "2026-10-06T03:00:00Z,,a1,,agt_1,Support agent,,,compute,compute,,0,9.0,running,99",
    ]
    (tmp_path / "u.csv").write_text("\n".join(rows) + "\n")
    oct_ = usagekit.load(tmp_path / "u.csv", engine=engine).filter(month="2026-10")
    vms = oct_.day_compute("2026-10-05")
    assert vms[["vm", "kind", "vm_id"]].values.tolist() == [
        ["batch box", "plain VM", "vm_9"],
        ["Support agent", "agent", "agt_1"],
    ]
    assert vms["hours"].tolist() == pytest.approx([2.0, 1.5])
    assert vms["cost_cents"].tolist() == pytest.approx([10.0, 9.0])
    # its total is the chart's compute segment of that day (the LLM request is not in it)
    daily = oct_.daily("model")
    seg = daily[(daily["date"] == dt.date(2026, 10, 5)) & (daily["model"] == COMPUTE)]
    assert vms["cost_cents"].sum() == pytest.approx(seg["cost_cents"].item())
    log = oct_.day("2026-10-05", model=COMPUTE)
    assert log.attrs["total_rows"] == 3 and log["hours"].sum() == pytest.approx(3.5)


def test_other_segment_of_the_demo_chart_drills_into_exactly_its_models(demo_dir):
    oct_ = usagekit.load(demo_dir).filter(month="2026-10")
    daily = oct_.daily("model")
    fig = charts.daily_stacked(daily, by="model")
    shown = {t.customdata[0][0] for t in fig.data} - {"Other"}
    other = sorted(set(daily["model"]) - shown)
    assert other, "the demo month has more models than the chart shows"
    seg = next(t for t in fig.data if t.customdata[0][0] == "Other")
    i = max(range(len(seg.y)), key=lambda j: seg.y[j])
    day = dt.date.fromisoformat(seg.x[i][:10])
    got = oct_.day_summary(day, model=other)
    assert got["cost_cents"].sum() / 100 == pytest.approx(seg.y[i], abs=1e-9)
    assert set(got["model"]) <= set(other) and len(got) > 1
