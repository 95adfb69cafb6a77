"""Budget periods in the key registry (canonical keys.csv, LiteLLM tokens, OpenRouter keys) and the
team / user budgets of LiteLLM's team and user tables, with spend in their current window."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import usagekit
from usagekit.errors import SourceError
from usagekit.periods import budget_window, budget_windows

DATA = Path(__file__).parent / "data"
PRISMA = DATA / "litellm_prisma"
LOGS = PRISMA / "spend_logs.csv"


def _keys_csv(tmp_path, rows: str) -> Path:
    path = tmp_path / "keys.csv"
    path.write_text("key_id,key_name,spend_cap_cents,budget_period,budget_reset_at\n" + rows)
    return path


def test_canonical_keys_carry_budget_period_and_reset(tmp_path):
    keys = _keys_csv(tmp_path, "k1,one,500,weekly,2026-10-05T00:00:00Z\nk2,two,100,,\nk3,three,,24h,\n")
    reg = usagekit.load(DATA / "canonical" / "usage.csv", keys=keys).keys.set_index("key_id")
    assert reg.loc["k1", "budget_period"] == "7d"
    assert reg.loc["k1", "budget_reset_at"] == pd.Timestamp("2026-10-05T00:00:00Z")
    assert pd.isna(reg.loc["k2", "budget_period"]) and pd.isna(reg.loc["k2", "budget_reset_at"])
    assert reg.loc["k3", "budget_period"] == "24h"
    w = budget_window(reg.loc["k1"], pd.Timestamp("2026-10-15T08:00Z"))
    assert (w.start, w.end) == (pd.Timestamp("2026-10-12T00:00Z"), pd.Timestamp("2026-10-19T00:00Z"))


@pytest.mark.parametrize(
    "row, words",
    [
        ("k1,one,500,fortnightly,\n", "budget_period is not a budget period"),
        ("k1,one,500,0d,\n", "budget_period is not a budget period"),
        ("k1,one,500,7d,next tuesday\n", "budget_reset_at is not a timestamp"),
    ],
)
def test_a_bad_budget_column_rejects_the_registry_row_and_says_why(tmp_path, row, words):
    keys = _keys_csv(tmp_path, row + "k2,two,100,7d,\n")
    usage = usagekit.load(DATA / "canonical" / "usage.csv", keys=keys)
    report = usage.load_report
    assert report.registry_rejected_keys == ("k1",)  # its cap is unknown, not absent
    assert words in str(report) and "cap unknown for 1 key(s)" in str(report)
    assert list(usage.keys["key_id"]) == ["k2"] and usage.keys["budget_period"].tolist() == ["7d"]


def test_openrouter_key_limits_reset_at_midnight_utc_and_lifetime_limits_are_not_caps():
    loaded = usagekit.sources.read(DATA / "openrouter" / "keys.json")
    assert loaded.format == "openrouter_keys"
    keys = loaded.keys.to_pandas().set_index("key_id")
    assert keys.loc["research-key", "spend_cap_cents"] == 2000
    assert keys.loc["research-key", "budget_period"] == "7d"
    w = budget_window(keys.loc["research-key"], pd.Timestamp("2026-10-15T08:00Z"), tz="America/New_York")
    assert w.start == pd.Timestamp("2026-10-12T00:00Z")  # Monday, midnight UTC, whatever the report zone
    assert w.approximate  # 20:00 in New York: whole local days only approximate it
    assert pd.isna(keys.loc["support-key", "spend_cap_cents"])  # a lifetime limit of $50
    assert any("lifetime credit limit" in n for n in loaded.notes)
    assert any("1 key(s) are disabled" in n for n in loaded.notes)


def test_openrouter_bad_limit_reset_is_an_error(tmp_path):
    src = tmp_path / "keys.csv"
    src.write_text("name,limit,limit_reset\nk,5,hourly\n")
    with pytest.raises(SourceError, match="limit_reset 'hourly' is not a reset period"):
        usagekit.sources.read(src)


def test_budget_windows_for_a_whole_registry():
    reg = usagekit.load(LOGS, keys=PRISMA / "verification_token.csv").keys
    win = budget_windows(reg, pd.Timestamp("2026-10-07T13:00Z")).set_index("key_id")
    research = reg.loc[reg["key_name"] == "research-bot", "key_id"].iloc[0]
    support = reg.loc[reg["key_name"] == "support-bot", "key_id"].iloc[0]
    assert win.loc[research, "window_start"] == pd.Timestamp("2026-10-05T00:00Z")
    assert win.loc[research, "window_end"] == pd.Timestamp("2026-10-12T00:00Z")
    assert str(win.loc[support, "first_day"]) == "2026-10-07" and str(win.loc[support, "end_day"]) == "2026-10-08"


@pytest.fixture
def budgets_usage(engine):
    return usagekit.load(
        [LOGS, PRISMA / "team_table.csv", PRISMA / "user_table.csv"],
        keys=PRISMA / "verification_token.csv",
        engine=engine,
    )


def test_team_budgets_with_spend_in_their_current_window(budgets_usage):
    teams = budgets_usage.budgets("team").set_index("entity_id")  # as of the newest event, 2026-10-07 13:00 UTC
    assert list(teams.index) == ["team-research", "team-support", "team-empty"]
    r = teams.loc["team-research"]
    assert (r["name"], r["budget_period"], r["account_id"]) == ("Research", "7d", "org-acme")
    assert (r["window_start"], r["window_end"]) == (
        pd.Timestamp("2026-10-05T00:00Z"),
        pd.Timestamp("2026-10-12T00:00Z"),
    )
    assert r["spend_cents"] == pytest.approx(3.25) and r["pct_used"] == pytest.approx(162.5)
    assert r["soft_cap_cents"] == pytest.approx(1.5) and r["remaining_cents"] == pytest.approx(-1.25)
    assert r["reported_spend_cents"] == pytest.approx(3.25)
    s = teams.loc["team-support"]  # a daily budget: only 2026-10-07 counts (the 10-06 request is another day)
    assert s["spend_cents"] == pytest.approx(1.30) and s["pct_used"] == pytest.approx(1.3)
    assert teams.loc["team-empty", "spend_cents"] == 0 and pd.isna(teams.loc["team-empty", "pct_used"])
    earlier = budgets_usage.budgets("team", as_of="2026-10-06T23:00:00Z").set_index("entity_id")
    assert earlier.loc["team-support", "spend_cents"] == 0  # 10-06 held only the unpriced gemini request
    assert earlier.loc["team-support", "window_start"] == pd.Timestamp("2026-10-06T00:00Z")


def test_user_budgets_and_scope_filters(budgets_usage):
    users = budgets_usage.budgets("user").set_index("entity_id")
    assert users.loc["alice", "budget_period"] == "30d"
    assert users.loc["alice", "window_start"] == pd.Timestamp("2026-10-01T00:00Z")
    assert users.loc["alice", "spend_cents"] == pytest.approx(3.25)
    assert users.loc["bob", "name"] == "bob@example.com"  # no alias: the email names the user
    assert users.loc["bob", "spend_cents"] == pytest.approx(1.30) and users.loc["bob", "pct_used"] == pytest.approx(130)
    only_openai = budgets_usage.filter(month="2026-10", providers="openai").budgets("user").set_index("entity_id")
    assert only_openai.loc["alice", "spend_cents"] == pytest.approx(1.24)
    assert budgets_usage.filter(month="2026-10", account="org-other").budgets("team").empty  # not its budgets
    assert len(budgets_usage.filter(month="2026-10", account="org-acme").budgets("team")) == 3
    with pytest.raises(usagekit.UsagekitError, match="expected one of: team, user"):
        budgets_usage.budgets("org")


def test_bad_team_table_rows_are_rejected_naming_row_and_field(tmp_path):
    text = (PRISMA / "team_table.csv").read_text().splitlines()
    text[2] = text[2].replace(",1d,", ",every day,")  # team-support
    text.append(text[3])  # team-empty twice
    src = tmp_path / "team_table.csv"
    src.write_text("\n".join(text) + "\n")
    loaded = usagekit.sources.read(src)
    assert loaded.budgets["entity_id"].to_list() == ["team-research", "team-empty"]
    note = next(n for n in loaded.notes if "rejected" in n)
    assert note.startswith("2 team row(s) rejected, so their budget is unknown")
    assert "row 2 field 'budget_duration': budget_duration 'every day' is not a budget period" in note
    assert "row 4 field 'team_id': team_id 'team-empty' appears more than once" in note
    usage = usagekit.load([LOGS, src])
    assert any("2 team row(s) rejected" in n for f in usage.load_report.files for n in f.notes)


def test_team_budgets_survive_repricing():
    prices = DATA / "reprice" / "model_prices_and_context_window.json"
    usage = usagekit.load([LOGS, PRISMA / "team_table.csv"], reprice=True, prices=prices)
    assert set(usage.budgets("team")["entity_id"]) == {"team-research", "team-support", "team-empty"}
