"""One rule for budgets: a key card is its budget window at the cut-off, whatever the range or filter."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

import usagekit
from usagekit import budgets

MONTH = "2026-10"
CARD = ["spend_cap_cents", "spend_cents", "pct_used", "requests", "projected_cents", "projected_cap_date"]


@pytest.fixture(scope="module")
def usage(demo_dir):
    return usagekit.load(demo_dir)


@pytest.fixture(scope="module")
def rows(usage):
    return usage.filter(start="2026-09-01", end="2026-10-31").to_pandas()


def _card(summary, key_id):
    return summary.set_index("key_id").loc[key_id, CARD]


def _over_cap_key(usage):
    """The demo key that is furthest over its cap by month end (the planted cap key)."""
    ks = usage.filter(month=MONTH).key_summary()
    return ks.sort_values("pct_used", ascending=False).iloc[0]


def test_partial_range_and_provider_filter_leave_the_card_unchanged(usage):
    key = _over_cap_key(usage)
    assert key.pct_used > 100
    month_at_25th = usage.filter(month=MONTH).key_summary(as_of="2026-10-25")
    oct_15_25 = usage.filter(start="2026-10-15", end="2026-10-25").key_summary()
    sep_20_oct_25 = usage.filter(start="2026-09-20", end="2026-10-25").key_summary()
    provider = next(p for p in usage.filter(month=MONTH, keys=key.key_id).breakdown("provider")["provider"])
    one_provider = usage.filter(start="2026-10-15", end="2026-10-25", providers=provider).key_summary()
    expected = _card(month_at_25th, key.key_id)
    for other in (oct_15_25, sep_20_oct_25, one_provider):
        got = _card(other, key.key_id)
        assert got.drop("projected_cap_date").astype(float).tolist() == pytest.approx(
            expected.drop("projected_cap_date").astype(float).tolist()
        )
        assert got.projected_cap_date == expected.projected_cap_date
    # the filtered range's own spend is given beside the budget, never as its share
    by_hand = usage.filter(start="2026-10-15", end="2026-10-25", providers=provider, keys=key.key_id).total()
    assert one_provider.set_index("key_id").loc[key.key_id, "range_spend_cents"] == pytest.approx(by_hand["cost_cents"])
    assert by_hand["cost_cents"] < expected.spend_cents


def test_as_of_reads_nothing_after_the_cut_off(usage, rows):
    for as_of, cut in (
        ("2026-10-15", pd.Timestamp("2026-10-16T00:00Z")),
        ("2026-10-15T13:30:00Z", pd.Timestamp("2026-10-15T13:30Z")),
    ):
        ks = usage.filter(month=MONTH).key_summary(as_of=as_of)
        assert ks.attrs["as_of"] == cut
        before = rows[(rows["ts"] >= pd.Timestamp("2026-10-01T00:00Z")) & (rows["ts"] < cut)]
        by_key = before.groupby("key_id")["cost_cents"].sum()
        got = ks.set_index("key_id")["spend_cents"]
        assert got.loc[by_key.index].tolist() == pytest.approx(by_key.tolist())
        # a crossing already seen is on or before the cut-off; a later one is only a projection
        for r in ks.itertuples():
            if r.cap_crossed:
                assert r.projected_cap_date <= (cut - pd.Timedelta(microseconds=1)).date()
            assert r.projected_cents >= r.spend_cents - 1e-9
    # the month is not over at the cut-off: the projection extends the spend, never counts it twice
    key = _over_cap_key(usage)
    mid = usage.filter(month=MONTH).key_summary(as_of="2026-10-15").set_index("key_id").loc[key.key_id]
    assert not mid.window_closed and mid.spend_cents < key.spend_cents
    assert mid.spend_cents < mid.projected_cents <= mid.spend_cents + mid.daily_rate_cents * 16 * 1.001


def test_a_card_and_the_cap_finding_agree_on_the_projected_day(usage):
    for as_of in ("2026-10-23", "2026-10-24T13:00:00Z"):
        found = usagekit.detect(usage, month=MONTH, as_of=as_of)
        caps = found[found["kind"] == "cap"]
        assert len(caps)
        ks = usage.filter(month=MONTH).key_summary(as_of=as_of).set_index("key_id")
        for f in caps.itertuples():
            assert ks.loc[f.key_id, "projected_cap_date"] == f.projected_cap_date
            if not ks.loc[f.key_id, "cap_crossed"]:
                assert ks.loc[f.key_id, "projected_cents"] == pytest.approx(f.observed_cents)


def test_a_closed_month_projects_its_spend_and_says_so(usage):
    ks = usage.filter(month=MONTH).key_summary()
    assert ks.attrs["complete"] and ks["window_closed"].all()
    assert ks["projected_cents"].tolist() == pytest.approx(ks["spend_cents"].tolist())
    assert all("a day" not in text for text in ks["forecast"])  # no run-rate sentence for a month that is over


def test_projection_rule_on_a_hand_made_series():
    window = usagekit.periods.budget_window({}, pd.Timestamp("2026-10-10T12:00Z"), "UTC")
    days = [dt.date(2026, 10, d) for d in range(1, 11)]
    series = pd.Series([100.0] * 9 + [900.0], index=days)  # one spike on the 10th
    p = budgets.project(series, 3000, window, pd.Timestamp("2026-10-11T00:00Z"), tz="UTC")
    assert p.spent_cents == 1800 and p.rate_cents == pytest.approx(100)  # the spike is left out of the rate
    assert p.projected_cents == pytest.approx(1800 + 100 * 21) and p.crossing_date == dt.date(2026, 10, 22)
    assert not p.crossed and not p.closed


def test_cards_show_the_budget_beside_the_range_and_badge_the_findings(usage):
    from usagekit import charts

    key = _over_cap_key(usage)
    ranged = usage.filter(start="2026-10-15", end="2026-10-25").key_summary()
    found = usagekit.detect(usage, month=MONTH, as_of="2026-10-25")
    html = charts.key_cards_html(ranged, findings=found)
    card = html.split(f'data-key="{key.key_id}"')[1].split('<div class="uk-card')[0]
    row = ranged.set_index("key_id").loc[key.key_id]
    from usagekit.money import format_usd

    assert f"{row.pct_used:.1f}% of the {format_usd(row.spend_cap_cents)} cap" in card
    assert f"{format_usd(row.range_spend_cents)} in this range" in card  # beside the budget, not as its share
    assert f"cap reached (projected) {row.projected_cap_date:%d %b}" in card and not row.cap_crossed
    mine = found[(found["key_id"] == key.key_id) & (found["kind"] != "unpriced")]
    assert len(mine) and all(f"{k} {pd.Timestamp(d):%d %b}" in card for k, d in zip(mine["kind"], mine["day"]))
    closed = charts.key_cards_html(usage.filter(month=MONTH).key_summary())
    assert "budget window closed" in closed and "a day" not in closed


def test_a_weekly_budget_is_judged_on_its_week(tmp_path):
    src = tmp_path / "u.csv"
    rows = ["ts,request_id,key_id,cost_cents"] + [f"2026-10-{d:02d}T12:00:00Z,r{d},k1,100" for d in range(1, 16)]
    src.write_text("\n".join(rows) + "\n")
    keys = tmp_path / "keys.csv"
    keys.write_text("key_id,key_name,account_id,spend_cap_cents,budget_period\nk1,weekly,acct,500,7d\n")
    ks = usagekit.load(src, keys=keys).filter(month=MONTH).key_summary(as_of="2026-10-15").set_index("key_id")
    card = ks.loc["k1"]
    # Oct 15 2026 is a Thursday: the week runs Mon 12 to Sun 18 Oct; 4 days of 100 spent so far
    assert card.budget_period == "7d" and card.window_start == dt.date(2026, 10, 12)
    assert card.spend_cents == 400 and card.pct_used == pytest.approx(80)
    assert 400 < card.projected_cents <= 700 + 1e-6  # to Sunday 18 Oct, not to the month's end
    assert dt.date(2026, 10, 16) <= card.projected_cap_date <= dt.date(2026, 10, 18) and not card.cap_crossed
    assert card.range_spend_cents == 1500  # the month's range, shown beside


def test_report_as_of_reads_nothing_after_the_cut_off_in_any_section(usage, rows):
    from usagekit import sections as S

    ctx = S.ReportContext.build(usage, MONTH, as_of="2026-10-15")
    cut = pd.Timestamp("2026-10-16T00:00Z")
    expected = rows[(rows["ts"] >= pd.Timestamp("2026-10-01T00:00Z")) & (rows["ts"] < cut)]["cost_cents"].sum()
    assert ctx.report.total()["cost_cents"] == pytest.approx(expected)
    assert ctx.report.daily("model")["date"].max() == dt.date(2026, 10, 31)  # the month's days, empty after the 15th
    assert ctx.report.daily("model").query("date > @dt.date(2026, 10, 15)")["cost_cents"].sum() == 0
    head = str(S.Headline().render(ctx))
    assert "Data up to 2026-10-15" in head and "month to date, through 15 Oct" in head
    keys = ctx.report.key_summary(as_of=ctx.as_of)
    assert keys.attrs["as_of"] == cut
    assert (keys.loc[keys["cap_crossed"], "projected_cap_date"] <= dt.date(2026, 10, 15)).all()


def test_range_spend_is_the_keys_exact_total_and_windows_are_shared_by_keys_alike(usage):
    """A card's range spend is summed with the exact money split (equal to the key's own total, to
    the last bit), and keys with the same budget period get the same window however many there are."""
    oct_ = usage.filter(month=MONTH)
    ks = oct_.key_summary()
    by_key = oct_.breakdown("key").set_index("key")["cost_cents"]
    spent = ks.set_index("key_id")["range_spend_cents"]
    assert (spent > 0).sum() > 5
    for kid, cents in spent[spent > 0].items():
        assert cents == by_key[kid]
    monthly = ks[ks["budget_period"] == "1mo"]
    assert len(monthly) > 1
    assert monthly["window_start"].nunique() == 1 and monthly["window_end"].nunique() == 1
    assert str(monthly["window_start"].iloc[0]) == "2026-10-01"
