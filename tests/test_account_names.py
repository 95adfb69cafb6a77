"""Accounts read by name where an input knows it (FOCUS, the key registry), escaped, id alone otherwise."""

from __future__ import annotations

import csv
import html
import shutil
from pathlib import Path

import pytest

import usagekit
from usagekit.explorer import explore
from usagekit.report import publish
from usagekit.sections import ReportContext, headline, report_title

FOCUS = Path(__file__).parent / "data" / "focus" / "focus.csv"
CANONICAL = Path(__file__).parent / "data" / "canonical"
EVIL = "Acme Research <script>alert(1)</script> & Co"


@pytest.fixture
def focus_dir(tmp_path) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(FOCUS, src / "focus.csv")
    return src


def test_focus_account_names_are_kept_beside_the_rows(focus_dir):
    usage = usagekit.load(focus_dir / "focus.csv", store=False)
    # SubAccountName names the sub-account the rows are booked to (SubAccountId is the account)
    assert usage.account_names == {"acct_acme": "Acme", "acct_globex": "Globex"}
    assert "account_name" not in usage.to_pandas().columns  # a mapping, not a column per row


def test_registry_name_wins_and_survives_the_validated_store(focus_dir, tmp_path):
    (focus_dir / "keys.csv").write_text(
        "key_id,key_name,account_id,spend_cap_cents,account_name\nvk_1,support-bot,acct_acme,10000,Acme Research\n"
    )
    store = tmp_path / "store"
    cold = usagekit.load(focus_dir / "focus.csv", keys=focus_dir / "keys.csv", store=store)
    warm = usagekit.load(focus_dir / "focus.csv", keys=focus_dir / "keys.csv", store=store)
    assert warm.load_report.stored_files == 1  # read back from the store, not validated again
    for usage in (cold, warm):
        assert usage.account_names == {"acct_acme": "Acme Research", "acct_globex": "Globex"}
        assert usage.keys.loc[0, "account_name"] == "Acme Research"
    # a FOCUS file alone, warm: the names come back from the stored file entry
    usagekit.load(focus_dir / "focus.csv", store=store)
    assert usagekit.load(focus_dir / "focus.csv", store=store).account_names["acct_acme"] == "Acme"


def test_litellm_organization_alias_and_account_alias_columns_name_the_account(tmp_path):
    (tmp_path / "keys.csv").write_text(
        "key_id,key_name,account_id,spend_cap_cents,organization_alias\nvk_1,a,org_1,100,Research Org\n"
    )
    usage = usagekit.load([CANONICAL / "usage.csv"], keys=tmp_path / "keys.csv", store=False)
    assert usage.account_names == {"org_1": "Research Org"}


def test_report_title_headline_and_cards_show_the_name_escaped(focus_dir):
    (focus_dir / "keys.csv").write_text(
        f'key_id,key_name,account_id,spend_cap_cents,account_name\nvk_1,support-bot,acct_acme,10000,"{EVIL}"\n'
    )
    usage = usagekit.load(focus_dir / "focus.csv", keys=focus_dir / "keys.csv", store=False)
    ctx = ReportContext.build(usage, "2026-10", "acct_acme")
    assert ctx.title == f"Usage report · October 2026 · {EVIL} (acct_acme)"
    page = str(headline(ctx.usage, ctx.report, "2026-10", "acct_acme"))
    assert html.escape(f"{EVIL} (acct_acme)", quote=False) in page and "<script>" not in page
    keys = ReportContext.build(usage, "2026-10").report
    from usagekit.sections import key_section

    cards = str(key_section(keys))
    assert "Acme Research &lt;script&gt;alert(1)&lt;/script&gt; &amp; Co (acct_acme)" in cards
    assert "<script>alert" not in cards
    app = explore(usage, month="2026-10", detect_anomalies=False)  # the explorer escapes it the same way
    for shown in (app.scope_label.value, app.cards.value):
        assert "Acme Research &lt;script&gt;alert(1)&lt;/script&gt; &amp; Co (acct_acme)" in shown
        assert "<script>alert" not in shown


def test_no_name_known_shows_the_id_alone(tmp_path):
    usage = usagekit.load(CANONICAL, store=False)
    assert usage.account_names == {}
    assert report_title("2026-10", "acct_1", usage.account_names) == "Usage report · October 2026 · acct_1"
    app = explore(usage, month="2026-10", detect_anomalies=False)
    assert all(label == value or label == "(all)" for label, value in app.account.options)


def test_published_report_is_titled_with_the_account_name(focus_dir, tmp_path):
    (focus_dir / "keys.csv").write_text(
        f'key_id,key_name,account_id,spend_cap_cents,account_name\nvk_1,support-bot,acct_acme,10000,"{EVIL}"\n'
    )
    out = tmp_path / "reports"
    published = publish(
        month="2026-10",
        source=focus_dir / "focus.csv",
        keys=focus_dir / "keys.csv",
        account_id="acct_acme",
        out=out,
        progress=False,
        sections="headline,keys",
    )
    page = published.html.read_text()
    shown = "Usage report · October 2026 · Acme Research &lt;script&gt;alert(1)&lt;/script&gt; &amp; Co (acct_acme)"
    assert f"<title>{shown}</title>" in page
    assert shown in page.split("<body", 1)[1]  # the headline's heading too
    assert "<script>alert(1)" not in page
    index = (out / "index.html").read_text()
    assert "Acme Research &lt;script&gt;alert(1)&lt;/script&gt; &amp; Co (acct_acme)" in index


def test_explorer_names_accounts_in_the_selector_scope_line_and_cards(demo_dir):
    with open(demo_dir / "keys.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    names = {r["account_id"]: r["account_name"] for r in rows}
    assert set(names.values()) == {"Acme Corp", "Globex Labs", "Initech"}  # the demo writes them
    app = explore(usagekit.load(demo_dir), month="2026-10", detect_anomalies=False)
    labels = dict((v, label) for label, v in app.account.options)
    acme = next(a for a, n in names.items() if n == "Acme Corp")
    assert labels[acme] == f"Acme Corp ({acme})"
    assert app.account in app.widget.children[0].children  # several accounts: the selector is shown
    full = app.current.total()["cost_cents"]
    app.account.value = acme
    assert f"account Acme Corp ({acme})" in app.scope_label.value
    mine = app.current.total()["cost_cents"]
    assert 0 < mine < full
    assert sum(sum(t.y) for t in app.traces) == pytest.approx(mine / 100)
    acme_keys = {r["key_id"] for r in rows if r["account_id"] == acme}
    assert set(app.card_summary["key_id"]) <= acme_keys and len(app.card_summary)
    assert app.cards.value.count(f"Acme Corp ({acme})") == len(app.card_summary)


def test_focus_export_writes_the_names_and_reads_them_back(focus_dir, tmp_path):
    from usagekit.export import export

    (focus_dir / "keys.csv").write_text(
        "key_id,key_name,account_id,spend_cap_cents,account_name\nvk_1,support-bot,acct_acme,10000,Acme Research\n"
    )
    usage = usagekit.load(focus_dir / "focus.csv", keys=focus_dir / "keys.csv", store=False)
    out = export(usage, "2026-10", "focus", tmp_path / "oct.focus.csv").path
    with open(out, newline="") as fh:
        row = next(csv.DictReader(fh))
    assert (row["SubAccountId"], row["SubAccountName"], row["BillingAccountName"]) == (
        "acct_acme",
        "Acme Research",
        "Acme Research",
    )
    assert usagekit.load(out, store=False).account_names == {"acct_acme": "Acme Research"}
