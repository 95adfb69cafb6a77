"""Team, user, end-user and tag dimensions: filled by the loaders, filtered and broken down the same
on every engine; a request with several tags counts once per tag only in per-tag results."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import usagekit
from usagekit import queries as q

DATA = Path(__file__).parent / "data"
LOGS = DATA / "litellm_prisma" / "spend_logs.csv"
OCT = "2026-10"


@pytest.fixture
def usage(engine):
    return usagekit.load(LOGS, engine=engine).filter(month=OCT)


def _by(df, col):
    return df.set_index(col)["cost_cents"].to_dict()


def test_breakdowns_by_team_user_and_end_user(usage):
    assert _by(usage.breakdown("team"), "team") == pytest.approx(
        {"team-research": 3.25, "team-support": 1.30, "(none)": 0.951}
    )
    assert _by(usage.breakdown("user"), "user") == pytest.approx({"alice": 3.25, "bob": 1.30, "carol": 0.951})
    eu = usage.breakdown("end_user").set_index("end_user")
    assert eu["cost_cents"].to_dict() == pytest.approx({"cust-17": 3.25, "cust-42": 0.75, "(none)": 1.501})
    assert eu.loc["cust-42", "unpriced_rows"] == 1 and eu.loc["cust-42", "requests"] == 2
    assert eu["cost_cents"].sum() == pytest.approx(usage.total()["cost_cents"])


def test_a_request_with_two_tags_counts_once_per_tag_and_the_result_says_so(usage):
    tags = usage.breakdown("tag")
    assert _by(tags, "tag") == pytest.approx(
        {"prod": 3.25, "search": 1.24, "chat": 0.75, "batch": 0.951, "(none)": 0.55}
    )
    assert tags["cost_cents"].sum() == pytest.approx(6.741)  # more than the 5.501 spent: per tag
    assert tags.attrs["counted_per_tag"] is True and tags.attrs["total_cents"] == pytest.approx(5.501)
    assert "once under each of its tags" in tags.attrs["note"]
    assert tags.set_index("tag").loc["prod", "share"] == pytest.approx(3.25 / 5.501)  # share of the real spend
    assert tags.set_index("tag").loc["prod", "requests"] == 3
    daily = usage.daily("tag")
    assert daily.attrs["counted_per_tag"] is True
    day6 = daily[daily["date"] == pd.Timestamp("2026-10-06").date()].set_index("tag")["cost_cents"]
    assert day6.to_dict() == pytest.approx({"prod": 3.25, "search": 1.24, "chat": 0.0, "batch": 0.0, "(none)": 0.0})


def test_filters_on_each_dimension_count_a_request_once(usage):
    both = usage.filter(month=OCT, tags=["prod", "search"])  # chatcmpl-0001 carries both: counted once
    assert both.total() == {
        "cost_cents": pytest.approx(3.25),
        "requests": 3,
        "rows": 3,
        "unpriced_rows": 1,
        "estimated_cents": 0.0,
        "estimated_rows": 0,
    }
    assert _by(both.breakdown("model"), "model") == pytest.approx(
        {"claude-3-5-sonnet-20241022": 2.01, "gpt-4.1": 1.24, "gemini-2.5-pro": 0.0}
    )
    support_chat = usage.filter(month=OCT, teams="team-support", tags="chat")
    assert support_chat.total()["cost_cents"] == pytest.approx(0.75) and support_chat.total()["requests"] == 2
    assert usage.filter(month=OCT, users=["carol"]).total()["cost_cents"] == pytest.approx(0.951)
    cust = usage.filter(month=OCT, end_users="cust-42")
    assert cust.total()["requests"] == 2
    per_tag = cust.breakdown("tag").set_index("tag")
    assert per_tag["requests"].to_dict() == {"chat": 2, "prod": 1}
    assert per_tag.loc["chat", "cost_cents"] == pytest.approx(0.75)
    assert _by(cust.breakdown("team"), "team") == pytest.approx({"team-support": 0.75})
    assert usage.filter(month=OCT, tags="no-such-tag").total()["requests"] == 0
    # the per-request log honours the same filters
    assert set(usage.filter(month=OCT, tags="batch").day("2026-10-07")["request_id"]) == {
        "chatcmpl-0006",
        "chatcmpl-0007",
    }


def test_team_and_user_are_in_the_month_cube_end_user_and_tags_are_not(usage):
    cols = set(usage.cube.collect_schema().names())
    assert {"team_id", "user_id"} <= cols
    assert not cols & {"end_user", "tags", "tag", "_tagset"}
    assert {"team_id", "user_id"} <= set(q.CUBE_DIMS)


def test_canonical_tags_as_json_or_comma_text_and_list_columns(tmp_path, engine):
    src = tmp_path / "u.csv"
    src.write_text(
        "ts,request_id,cost_cents,team_id,user_id,end_user,tags\n"
        '2026-10-01T10:00:00Z,r1,2.5,t1,u1,e1,"[""a"", ""b""]"\n'
        '2026-10-01T11:00:00Z,r2,1.5,t1,u2,,"b, c"\n'
        "2026-10-02T11:00:00Z,r3,4,,u2,e2,\n"
    )
    usage = usagekit.load(src, engine=engine).filter(month=OCT)
    assert _by(usage.breakdown("tag"), "tag") == pytest.approx({"a": 2.5, "b": 4.0, "c": 1.5, "(none)": 4.0})
    assert usage.filter(month=OCT, tags="b").total()["cost_cents"] == pytest.approx(4.0)
    assert _by(usage.breakdown("team_id"), "team_id") == pytest.approx({"t1": 4.0, "(none)": 4.0})
    pq = tmp_path / "u.parquet"
    usagekit.load(src).lazy.collect().write_parquet(pq)  # a typed list column reads back the same
    again = usagekit.load(pq, engine=engine).filter(month=OCT)
    assert _by(again.breakdown("tag"), "tag") == pytest.approx(_by(usage.breakdown("tag"), "tag"))


def test_openrouter_user_is_the_end_user_and_focus_tags_are_key_value_pairs():
    gens = usagekit.load(DATA / "openrouter" / "activity.csv").to_pandas()
    assert "user_22" in set(gens["end_user"].dropna())
    focus = usagekit.load(DATA / "focus" / "focus.csv").to_pandas()
    assert [list(t) for t in focus["tags"].dropna()] == [["team:cx"]]


def test_rejected_rows_with_tags_write_to_csv(tmp_path):
    src = tmp_path / "u.csv"
    src.write_text('ts,request_id,cost_cents,tags\n2026-10-01T10:00:00Z,r1,oops,"[""a""]"\n')
    usage = usagekit.load(src)
    out = usage.write_rejected(tmp_path / "rejected.csv")
    assert "cost is not a number" in out.read_text()


def test_demo_dimensions_agree_with_the_rows(demo_dir):
    usage = usagekit.load(demo_dir).filter(month=OCT)
    rows = usage.to_pandas()
    per_team = rows.groupby(rows["team_id"].fillna("(none)"))["cost_cents"].sum()
    assert _by(usage.breakdown("team"), "team") == pytest.approx(per_team.to_dict())
    exploded = rows.assign(tag=rows["tags"].map(lambda t: list(t) if t is not None else ["(none)"])).explode("tag")
    per_tag = exploded.groupby("tag")["cost_cents"].sum()
    assert _by(usage.breakdown("tag"), "tag") == pytest.approx(per_tag.to_dict())
    chat = rows[rows["tags"].map(lambda t: t is not None and ("chat" in t or "batch" in t))]
    got = usage.filter(month=OCT, tags=["chat", "batch"]).total()
    assert got["requests"] == int(chat["requests"].sum())
    assert got["cost_cents"] == pytest.approx(chat["cost_cents"].sum())
    top = rows["end_user"].value_counts().index[0]
    assert usage.filter(month=OCT, end_users=top).total()["cost_cents"] == pytest.approx(
        rows.loc[rows["end_user"] == top, "cost_cents"].sum()
    )
