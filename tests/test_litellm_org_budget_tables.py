"""LiteLLM's organization and budget tables (``LiteLLM_OrganizationTable``, ``LiteLLM_BudgetTable``,
as PostgreSQL's ``\\copy ... CSV HEADER`` writes them): organizations are accounts with names and
budgets, ``budget_id`` links keys and organizations to their caps and soft budgets, and a request
logged without its organization belongs to its key's account, not to its team."""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd
import pytest

import usagekit
from usagekit.sections import Keys, ReportContext
from usagekit.sources import detect

DATA = Path(__file__).parent / "data" / "litellm_prisma"
LOGS, TOKENS = DATA / "spend_logs.csv", DATA / "verification_token.csv"
ORGS, BUDGETS = DATA / "organization_table.csv", DATA / "budget_table.csv"
#: every priced request of spend_logs.csv, in cents (0.0124 + 0.0201 + 0.0075 + 0.0055 + 0.00021 + 0.0093 + 0 USD)
LOG_TOTAL_CENTS = 5.501


def _tokens(tmp_path: Path, edit) -> Path:
    """verification_token.csv with rows changed by ``edit(row dict)``, written as \\copy does."""
    df = pd.read_csv(TOKENS, dtype=str, keep_default_na=False)
    df = pd.DataFrame([edit(r) for r in df.to_dict("records")])
    out = tmp_path / "verification_token.csv"
    df.to_csv(out, index=False)
    return out


def test_both_tables_are_detected_by_their_prisma_columns():
    assert detect(ORGS)[0].name == "litellm_orgs"
    assert detect(BUDGETS)[0].name == "litellm_budgets"
    # the tables that also carry budget_id or organization_id are still what they were
    assert detect(TOKENS)[0].name == "litellm_keys"
    assert detect(DATA / "team_table.csv")[0].name == "litellm_teams"
    assert detect(DATA / "daily_organization_spend.csv")[0].name == "litellm_daily"


def test_a_request_logged_without_its_organization_belongs_to_its_keys_account():
    # SpendLogs rows name no organization (older LiteLLM versions), only a team; the key export
    # says every key is org-acme's: the account is org-acme, and a one-account view holds it all
    usage = usagekit.load(LOGS, keys=TOKENS, store=False)
    df = usage.to_pandas()
    assert set(df["account_id"]) == {"org-acme"}
    assert usage.filter(month="2026-10", account="org-acme").total()["cost_cents"] == pytest.approx(
        LOG_TOTAL_CENTS, abs=1e-12
    )
    # without the key export the team is all there is to go on
    alone = usagekit.load(LOGS, store=False).to_pandas().set_index("request_id")
    assert alone.loc["chatcmpl-0001", "account_id"] == "team-research"
    assert alone.loc["chatcmpl-0004", "account_id"] == "team-support"


def test_organization_names_and_budget_from_the_budget_table():
    usage = usagekit.load([LOGS, ORGS, BUDGETS], keys=TOKENS, store=False)
    assert usage.account_names == {"org-acme": "Acme Research", "org-globex": "<b>Globex</b> & Co"}
    orgs = usage.budgets("organization", as_of="2026-10-07T23:00:00Z").set_index("entity_id")
    acme = orgs.loc["org-acme"]
    # budget-org-acme: max_budget 0.04 USD, soft_budget 0.03 USD, every 30d, reset 2026-10-31
    assert (acme.spend_cap_cents, acme.soft_cap_cents, acme.budget_period) == (4.0, 3.0, "30d")
    assert (acme.window_start, acme.window_end) == (
        pd.Timestamp("2026-10-01T00:00:00Z"),
        pd.Timestamp("2026-10-31T00:00:00Z"),
    )
    assert acme.spend_cents == pytest.approx(LOG_TOTAL_CENTS, abs=1e-12)
    assert acme.pct_used == pytest.approx(137.525)
    assert acme.reported_spend_cents == pytest.approx(5.501)  # the table's own counter agrees
    # org-globex names a budget that was not loaded: no cap is known, and the report says why
    assert pd.isna(orgs.loc["org-globex", "spend_cap_cents"])
    notes = " ".join(n for f in usage.load_report.files for n in f.notes)
    assert "name a LiteLLM budget that the loaded LiteLLM_BudgetTable does not hold (budget-missing)" in notes
    assert "2 budget(s), 2 with a cap (LiteLLM_BudgetTable)" in notes
    # budget-table rows are limits, not spenders: they are not listed as budgets of their own
    assert set(usage.budget_registry["entity"]) == {"organization"}


def test_a_keys_budget_id_gives_its_soft_budget_and_fills_a_missing_cap(tmp_path):
    def edit(row):
        if row["key_alias"] == "support-bot":  # no cap of its own: the whole limit comes from its budget
            row.update(max_budget="", budget_duration="", budget_reset_at="", budget_id="budget-tier-small")
        if row["key_alias"] == "research-bot":  # its own cap and period stay; the soft budget is added
            row.update(budget_id="budget-tier-small")
        return row

    usage = usagekit.load([LOGS, BUDGETS], keys=_tokens(tmp_path, edit), store=False)
    keys = usage.keys.set_index("key_name")
    support, research, batch = keys.loc["support-bot"], keys.loc["research-bot"], keys.loc["batch-jobs"]
    assert (support.spend_cap_cents, support.soft_cap_cents, support.budget_period) == (200.0, 2.0, "1mo")
    assert pd.isna(support.budget_reset_at)
    assert (research.spend_cap_cents, research.soft_cap_cents, research.budget_period) == (5000.0, 2.0, "7d")
    assert research.budget_reset_at == pd.Timestamp("2026-10-12T00:00:00Z")
    assert pd.isna(batch.soft_cap_cents) and batch.spend_cap_cents == 10000.0
    notes = " ".join(n for f in usage.load_report.files for n in f.notes)
    assert "2 key(s) take limits from LiteLLM_BudgetTable (budget_id)" in notes


def test_a_keys_budget_without_its_table_is_reported_unknown(tmp_path):
    def edit(row):
        if row["key_alias"] == "support-bot":
            row.update(budget_id="budget-tier-small")
        return row

    usage = usagekit.load(LOGS, keys=_tokens(tmp_path, edit), store=False)
    assert pd.isna(usage.keys.set_index("key_name").loc["support-bot", "soft_cap_cents"])
    notes = " ".join(n for f in usage.load_report.files for n in f.notes)
    assert (
        "1 key(s) name a LiteLLM budget that was not loaded (load the LiteLLM_BudgetTable export too) "
        "(budget-tier-small): their soft budget (and any cap kept only there) is unknown" in notes
    )


def test_a_bad_budget_row_is_rejected_with_its_reason(tmp_path):
    bad = tmp_path / "budget_table.csv"
    text = BUDGETS.read_text().replace("budget-tier-small,2.0,0.02", "budget-tier-small,2.0,lots")
    bad.write_text(text)
    usage = usagekit.load([LOGS, ORGS, bad], keys=TOKENS, store=False)
    notes = " ".join(n for f in usage.load_report.files for n in f.notes)
    assert "1 budget row(s) rejected" in notes
    assert "row 2 field 'soft_budget': soft_budget 'lots' is not a number" in notes
    # the good budget row still applies
    assert usage.budgets("organization").set_index("entity_id").loc["org-acme", "spend_cap_cents"] == 4.0


def test_the_validated_store_gives_the_same_names_budgets_and_accounts(tmp_path):
    store = tmp_path / "store"
    inputs = [LOGS, ORGS, BUDGETS]
    cold = usagekit.load(inputs, keys=TOKENS, store=store)
    warm = usagekit.load(inputs, keys=TOKENS, store=store)
    assert (warm.load_report.validated_files, warm.load_report.stored_files) == (0, 3)  # nothing validated again
    for usage in (cold, warm):
        assert usage.account_names["org-acme"] == "Acme Research"
        assert set(usage.to_pandas()["account_id"]) == {"org-acme"}
        assert usage.budgets("organization").set_index("entity_id").loc["org-acme", "soft_cap_cents"] == 3.0


def test_report_lists_the_organizations_budget_escaped_and_only_its_own():
    usage = usagekit.load([LOGS, ORGS, BUDGETS], keys=TOKENS, store=False)
    mine = Keys().render(ReportContext.build(usage, "2026-10", account_id="org-acme"))
    page = "".join(map(str, mine))
    assert "Organization budgets" in page and "Acme Research" in page
    assert "soft cap" in page and "$0.03" in page  # the soft budget, in dollars
    assert "org-globex" not in page and "Globex" not in page  # another account's budget stays out
    everyone = Keys().render(ReportContext.build(usage, "2026-10"))
    page = "".join(map(str, everyone))
    assert html.escape("<b>Globex</b> & Co") in page and "<b>Globex</b>" not in page


def test_a_key_at_its_soft_budget_is_alerted_once_per_window(tmp_path):
    from usagekit import notify

    def edit(row):
        if row["key_alias"] in ("research-bot", "support-bot"):  # soft budget $0.02 from budget-tier-small
            row.update(budget_id="budget-tier-small")
        return row

    usage = usagekit.load([LOGS, BUDGETS], keys=_tokens(tmp_path, edit), store=False)
    alerts = notify.cap_alerts(usage, "2026-10", as_of="2026-10-07")
    # research-bot spent $0.0325 of its 7-day window (soft budget $0.02, cap $50): one soft warning;
    # support-bot spent $0.013 of its day: below its soft budget, nothing
    assert [a.id for a in alerts] == [
        "soft|org-acme|" + usage.keys.set_index("key_name").loc["research-bot", "key_id"] + "|2026-10-05T00:00:00+00:00"
    ]
    (soft,) = alerts
    assert soft.severity == "warning" and "reached its soft budget" in soft.title
    assert "$0.03 in its" in soft.body and "soft budget of $0.02 (its cap is $50.00)" in soft.body
    # the same replay gives the same identity: a re-run does not send it again
    assert [a.id for a in notify.cap_alerts(usage, "2026-10", as_of="2026-10-07")] == [soft.id]


def test_cards_and_the_key_table_show_the_soft_budget(tmp_path):
    from usagekit.charts import key_cards_html
    from usagekit.sections import key_section

    def edit(row):
        if row["key_alias"] in ("research-bot", "support-bot"):
            row.update(budget_id="budget-tier-small")
        return row

    usage = usagekit.load([LOGS, BUDGETS], keys=_tokens(tmp_path, edit), store=False)
    summary = usage.filter(month="2026-10").key_summary(as_of="2026-10-07")
    soft = summary.set_index("key_name")["soft_cap_cents"]
    assert soft["research-bot"] == 2.0 and soft["support-bot"] == 2.0 and pd.isna(soft["batch-jobs"])
    cards = key_cards_html(summary)
    research = cards.split('data-key="' + summary.set_index("key_name").loc["research-bot", "key_id"])[1]
    research = research.split("uk-card")[0]
    assert "soft budget $0.02 reached" in research
    card_of = {r.key_name: r for r in summary.itertuples()}
    assert card_of["research-bot"].spend_cents >= 2.0  # it is over its soft budget, far under its $50 cap...
    assert 'class="uk-card watch"' in cards  # ...so its card is flagged for a look, not shown as fine
    support = cards.split('data-key="' + summary.set_index("key_name").loc["support-bot", "key_id"])[1]
    assert "soft budget $0.02 not reached" in support.split("uk-card")[0]
    table = str(key_section(usage.filter(month="2026-10"), as_of="2026-10-07"))
    assert "soft budget" in table and "$0.02" in table
