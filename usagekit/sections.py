"""The monthly report as an ordered list of sections (:data:`SECTIONS`; the notebook shows them in order).

Each section's body is a function taking a :class:`~usagekit.usage.Usage` already scoped to the report's month
and account (see :func:`scope_for_report`) and returns something Jupyter displays: an
:class:`HTML` block or a plotly figure. Every name printed is escaped; key ids are masked.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cached_property

import pandas as pd

from . import charts
from . import queries as q
from .accounts import label as account_label
from .charts import esc, mask_key
from .errors import UsagekitError
from .money import format_cents_difference, format_usd
from .tables import html_table
from .usage import Usage, month_range


class HTML(str):
    """A block of (already escaped) HTML that Jupyter renders."""

    def _repr_html_(self) -> str:
        return str(self)


STYLE = """<style>
.uk h2{margin:.2em 0}.uk .tiles{display:flex;flex-wrap:wrap;gap:12px;margin:8px 0}
.uk .tile{border:1px solid #ddd;border-radius:6px;padding:8px 14px;min-width:150px;background:#fafafa}
.uk .tile b{display:block;font-size:150%}.uk .up{color:#C62828}.uk .down{color:#2E7D32}
.uk table{border-collapse:collapse;font-size:90%}.uk td,.uk th{border-bottom:1px solid #eee;padding:3px 8px}
.uk td.n{text-align:right;font-variant-numeric:tabular-nums}.uk .finding{border-left:5px solid #ccc;padding:4px 12px;
 margin:12px 0}.uk .critical{border-color:#C62828}.uk .warning{border-color:#EF6C00}.uk .info{border-color:#1565C0}
.uk .muted{color:#666}
</style>"""


def previous_month(month: str) -> str:
    first, _ = month_range(month)
    prev = first - dt.timedelta(days=1)
    return f"{prev:%Y-%m}"


def scope_for_report(usage: Usage, month: str, account_id: str | None = None) -> Usage:
    """The report's rows: one month, and one account when given (nothing of any other account)."""
    return usage.filter(month=month, account=account_id)


def report_title(month: str, account_id: str | None = None, names: dict | None = None) -> str:
    """``Usage report · October 2026 · all accounts``, or ``... · Acme Corp (acct_1)`` for one
    account whose name ``names`` (:attr:`Usage.account_names`) knows (plain text; escape it for a page)."""
    first, _ = month_range(month)
    who = account_label(account_id, names) if account_id else "all accounts"
    return f"Usage report · {first:%B %Y} · {who}"


def headline(usage: Usage, report: Usage, month: str, account_id: str | None = None) -> HTML:
    """Title, total with the change vs the previous month, compute / LLM / voice, requests, data cut-off."""
    tot = report.totals()
    prev = usage.filter(month=previous_month(month), account=account_id).total()["cost_cents"]
    fresh = report.freshness()
    _, after = month_range(month)
    partial = fresh.last_day is not None and fresh.last_day < after - dt.timedelta(days=1)
    if partial:  # a month to date is not compared with a whole month as a change
        change = f"month to date, through {fresh.last_day:%d %b}; {previous_month(month)} in full: {format_usd(prev)}"
    elif prev:
        delta = (tot["cost_cents"] - prev) / prev
        cls = "up" if delta > 0 else "down"
        change = f"<span class='{cls}'>{delta:+.1%}</span> vs {previous_month(month)} ({format_usd(prev)})"
    else:
        change = f"no spend in {previous_month(month)}"
    hours = report.breakdown("axis").set_index("axis")["hours"]
    tiles = [f"<div class='tile'>total<b>{format_usd(tot['cost_cents'])}</b>{change}</div>"]
    for axis, label in (("llm", "LLM"), ("voice", "voice"), ("compute", "compute (VM hours)")):
        v = tot["by_axis"][axis]
        count = (
            f"{float(hours.get('compute', 0.0)):,.1f} VM hours" if axis == "compute" else f"{v['requests']:,} requests"
        )
        tiles.append(f"<div class='tile'>{label}<b>{format_usd(v['cost_cents'])}</b>{count}</div>")
    unpriced = f"{tot['unpriced_rows']:,} unpriced rows" if tot["unpriced_rows"] else "every row priced"
    tiles.append(f"<div class='tile'>requests<b>{tot['requests']:,}</b>{unpriced}</div>")
    if tot["estimated_rows"]:
        tiles.append(
            f"<div class='tile'>estimated<b>{format_usd(tot['estimated_cents'])}</b>"
            f"of the total, {tot['estimated_rows']:,} rows repriced from a price map</div>"
        )
    if fresh.newest_event is None:
        cut = "No data in this month."
    else:
        partial = " (that day was not over)" if fresh.last_day_partial else ""
        cut = f"Data up to {fresh.newest_event:%Y-%m-%d %H:%M} UTC{partial}."
    return HTML(
        f"{STYLE}<div class='uk'><h2>{esc(report_title(month, account_id, usage.account_names))}</h2>"
        f"<div class='tiles'>{''.join(tiles)}</div>"
        f"<p class='muted'>Days are bucketed in <b>{esc(report.tz)}</b>. {esc(cut)}</p></div>"
    )


def key_section(report: Usage, as_of=None, found: pd.DataFrame | None = None) -> HTML:
    """Per-key cards (with anomaly badges) and a sortable table against each key's budget window,
    and how the keys' spend relates to the headline total (compute runs on no key)."""
    summary = report.key_summary(as_of=as_of)
    if summary.empty:
        return HTML(f"{STYLE}<div class='uk'><p>No virtual keys in this report.</p></div>")
    names = report.account_names
    table = summary.assign(
        key=[mask_key(k) for k in summary["key_id"]], account=[account_label(a, names) for a in summary["account_id"]]
    )
    cols = {
        "key_name": "key",
        "key": "key id",
        "account": "account",
        "spend_cap_cents": "cap",
        **({"soft_cap_cents": "soft budget"} if summary["soft_cap_cents"].notna().any() else {}),
        "spend_cents": "spent in budget",
        "pct_used": "% of cap",
        "projected_cents": "projected",
        "projected_cap_date": "cap day",
        "requests": "requests",
    }
    month_total = report.total()["cost_cents"]
    per_key = report.breakdown("key")
    no_key = per_key[per_key["key"].isin([q.NONE_LABEL, q.COMPUTE_LABELS["key"]])]
    compute = float(no_key.loc[no_key["key"] == q.COMPUTE_LABELS["key"], "cost_cents"].sum())
    other = float(no_key.loc[no_key["key"] == q.NONE_LABEL, "cost_cents"].sum())
    keyed = month_total - compute - other
    parts = [
        f"Keys spent <b>{format_usd(keyed)}</b> in this report's period; the headline's "
        f"{format_usd(month_total)} also holds {format_usd(compute)} of compute (VM hours), which runs on no key"
    ]
    if other > 0.005:
        parts.append(f" and {format_usd(other)} of usage recorded without a key")
    note = "".join(parts) + "."
    windows = set(summary["budget_period"])
    cut = summary.attrs.get("as_of")
    note += (
        f" Each card is its key's budget window ({', '.join(sorted(windows))}) up to "
        f"{cut:%Y-%m-%d %H:%M} UTC, across every provider."
        if cut is not None
        else ""
    )
    if not all(summary["window_closed"]):
        note += " Projections extend each key's recent daily rate (its largest day left out) to the window's end."
    return HTML(
        f"{STYLE}<div class='uk'>{charts.key_cards_html(summary, findings=found, accounts=names)}<br>"
        + html_table(table, cols, kinds={"pct_used": "percent"}, csv="keys.csv")
        + f"<p class='muted'>{note} Keys without a cap show '-' for the cap and % of cap.</p></div>"
    )


def daily_chart(report: Usage):
    """Daily spend stacked by model (top 9 + Other)."""
    return charts.daily_stacked(report.daily("model"), by="model", tz=report.tz, title="Daily spend by model")


def breakdown_chart(report: Usage, by: str):
    """Spend per provider, model or agent, largest first."""
    return charts.breakdown_bar(report.breakdown(by), by=by, title=f"Spend by {by}")


#: gateway dimensions the report breaks spend down by when the data carries them
GATEWAY_DIMENSIONS = (("team", "team"), ("user", "user"), ("tag", "tag"))


def account_parts(report: Usage) -> list:
    """Spend by account, each read as ``name (id)`` when its name is known; only when the report
    spans more than one account (an account's own report has nothing to compare)."""
    accounts = report.breakdown("account")
    if len(set(accounts["account"]) - {q.NONE_LABEL}) < 2:
        return []
    names = report.account_names
    accounts["account_name"] = [account_label(a, names) for a in accounts["account"]]
    return [charts.breakdown_bar(accounts, by="account", title="Spend by account")]


def dimension_parts(report: Usage) -> list:
    """Spend by team, user and tag, each only when the data has values for it (hidden when
    empty). Per-tag bars count a request once under each of its tags, and say so."""
    parts = []
    for by, label in GATEWAY_DIMENSIONS:
        b = report.breakdown(by)
        if b.empty or set(b[by]) <= {q.NONE_LABEL}:
            continue
        parts.append(charts.breakdown_bar(b, by=by, title=f"Spend by {label}"))
        if by == "tag" and b.attrs.get("note"):
            parts.append(HTML(f"{STYLE}<div class='uk'><p class='muted'>{esc(b.attrs['note'])}</p></div>"))
    return parts


def budget_parts(report: Usage, as_of=None) -> list:
    """Team, user and organization budgets (LiteLLM team, user and organization tables) beside
    their spend in the current budget window; nothing when the data has none."""
    reg = report.budget_registry
    parts = []
    for entity in ("organization", "team", "user"):
        if reg.empty or not (reg["entity"] == entity).any():
            continue
        table = report.budgets(entity, as_of=as_of)
        if table.empty:  # e.g. another account's organization in a one-account report
            continue
        table = table.assign(
            window=[f"{a:%Y-%m-%d} to {b:%Y-%m-%d}" for a, b in zip(table["window_start"], table["window_end"])]
        )
        soft = {"soft_cap_cents": "soft cap"} if table["soft_cap_cents"].notna().any() else {}
        parts.append(
            HTML(
                f"{STYLE}<div class='uk'><h3>{entity.capitalize()} budgets</h3>"
                + html_table(
                    table,
                    {
                        "entity_id": entity,
                        "name": "name",
                        "budget_period": "period",
                        "window": "window",
                        "spend_cap_cents": "cap",
                        **soft,
                        "spend_cents": "spent",
                        "pct_used": "% used",
                        "remaining_cents": "remaining",
                    },
                    kinds={"pct_used": "percent"},
                    csv=f"{entity}-budgets.csv",
                )
                + "</div>"
            )
        )
    return parts


def findings(usage: Usage, month: str, account_id: str | None = None, as_of=None) -> pd.DataFrame:
    scoped = usage.filter(month=month, account=account_id)
    from .anomalies import detect

    return detect(scoped, month=month, as_of=as_of)


def anomaly_parts(found: pd.DataFrame, names: dict | None = None) -> list:
    """One subsection per finding (what happened, evidence chart, explanation, next step)."""
    if found.empty:
        return [
            HTML(
                f"{STYLE}<div class='uk'><p><b>No anomalies found</b> this month: no leaked-key "
                "spikes, no key heading for its cap, no runaway days.</p></div>"
            )
        ]
    parts = [HTML(f"{STYLE}<div class='uk'><p>{len(found)} finding(s), most severe first.</p></div>")]
    for r in found.itertuples():
        parts.append(
            HTML(
                f"{STYLE}<div class='uk'><div class='finding {esc(r.severity)}'>"
                f"<h3>{esc(r.kind)} &middot; {esc(r.key_name)} ({esc(mask_key(r.key_id))}) &middot; {r.day}</h3>"
                f"<p><b>{esc(r.severity)}</b>, account {esc(account_label(r.account_id, names))}. {esc(r.explanation)}</p>"
                f"<p>{esc(_comparison(r))}</p>"
                f"<p><b>Next step:</b> {esc(r.action)}</p></div></div>"
            )
        )
        if r.series is not None:
            parts.append(
                charts.anomaly_evidence(r._asdict() | {"series": r.series}, title=f"{r.key_name}: daily spend")
            )
    return parts


def _comparison(r) -> str:
    """The finding's numbers in words a stakeholder reads."""
    if r.kind == "cap":
        return f"Cap {format_usd(r.baseline_cents)}; projected {format_usd(r.observed_cents)} for the budget window."
    if r.kind == "unpriced":
        return "Spend is understated by the unpriced usage."
    return f"{format_usd(r.observed_cents)} that day; usually {format_usd(r.baseline_cents)} a day."


def invoice_section(report: Usage, month: str) -> HTML:
    """Whole-cent invoice lines (dollars billed) and their reconciliation with the continuous total."""
    inv = report.invoice(month)
    names = report.account_names
    lines = inv.lines.assign(
        key=[mask_key(k) for k in inv.lines["key_id"]],
        account=[account_label(a, names) for a in inv.lines["account_id"]],
    )
    cols = {
        "account": "account",
        "key_name": "key",
        "key": "key id",
        "requests": "requests",
        "cost_cents": "recorded",
        "amount_cents": "billed",
    }
    recon = (
        f"<b>{format_usd(inv.billed_total_cents)} billed</b> (the sum of the whole-cent lines) against "
        f"{format_usd(inv.continuous_total_cents)} recorded; rounding difference "
        f"<b>{esc(format_cents_difference(inv.rounding_difference_cents))}</b>. Rule: {esc(inv.rule)}."
    )
    if inv.unpriced_rows:
        recon += f" {inv.unpriced_rows:,} unpriced rows are not in any amount."
    if inv.estimated_cents:
        recon += (
            f" {format_usd(inv.estimated_cents)} of the amounts is estimated from a price map "
            "(cost_source='estimated'), not billed by the source."
        )
    return HTML(
        f"{STYLE}<div class='uk'><p>{recon}</p>"
        + html_table(lines, cols, kinds={"amount_cents": "money"}, csv=f"invoice-{month}.csv")
        + "</div>"
    )


def _relative(paths: pd.Series) -> tuple[str, pd.Series]:
    """Paths relative to the folder they share (the source given), and that folder's name."""
    import os

    items = [str(x) for x in paths]
    if not items:
        return "", paths
    root = os.path.commonpath(items) if len(items) > 1 else os.path.dirname(items[0])
    if root in items:  # a single file
        root = os.path.dirname(root)
    return os.path.basename(root) or root, pd.Series([os.path.relpath(x, root) for x in items], index=paths.index)


def reconciliation_section(report: Usage, prices=None, rows: int = 20) -> HTML:
    """Per provider: gateway spend, provider bill, price-map estimate; then the day x model lines
    that disagree by more than 1 % and a cent, largest first."""
    from .reconciliation import reconcile

    rec = reconcile(report, prices=prices)
    per = html_table(
        rec.by_provider,
        {
            "provider": "provider",
            "gateway_cents": "gateway log",
            "provider_cents": "provider bill",
            "estimated_cents": "price-map estimate",
            "gateway_minus_provider_cents": "gateway - bill",
            "gateway_minus_provider_pct": "% of bill",
        },
        kinds={"gateway_minus_provider_pct": "percent"},
        csv="reconciliation-by-provider.csv",
    )
    off = rec.disagreements(pct=1.0, min_cents=1.0)
    if off.empty:
        detail = "<p>Every day and model agrees within 1 % (or a cent).</p>"
    else:
        detail = (
            f"<p>{len(off):,} day x model line(s) differ by more than 1 % and a cent"
            f"{f'; the {rows} largest' if len(off) > rows else ''}:</p>"
            + html_table(
                off,
                {
                    "date": "day",
                    "provider": "provider",
                    "model": "model",
                    "gateway_cents": "gateway log",
                    "provider_cents": "provider bill",
                    "estimated_cents": "estimate",
                    "gateway_minus_provider_cents": "gateway - bill",
                    "gateway_minus_provider_pct": "% of bill",
                },
                kinds={"gateway_minus_provider_pct": "percent"},
                max_rows=rows,
                csv="reconciliation-disagreements.csv",
            )
        )
    notes = "".join(f"<li>{esc(n)}</li>" for n in rec.notes)
    return HTML(
        f"{STYLE}<div class='uk'>{per}{detail}<p class='muted'>Days in {esc(rec.tz)}. Gateway log = the "
        f"gateway's own recorded costs; provider bill = OpenAI costs / Anthropic cost report; estimate = the "
        f"gateway's tokens repriced per request with {esc(rec.price_map or 'no price map')}. Models are "
        f"matched without provider prefix or date suffix.</p>{f'<ul>{notes}</ul>' if notes else ''}</div>"
    )


def data_quality(usage: Usage, report: Usage, account_id: str | None = None) -> HTML:
    """Rows read / kept / rejected / duplicates / unpriced per source (the full file list folded)."""
    t = report.total()
    if account_id is None:
        lr = usage.load_report
        df = lr.to_frame()
        registry = df[df["format"] == "keys"]
        files = df[df["format"] != "keys"].copy()
        root, rel = _relative(files["file"])
        files["file"] = rel
        files["folder"] = [x.rsplit("/", 1)[0] if "/" in x else "." for x in rel]
        nums = ["read", "kept", "rejected", "duplicates", "unpriced", "naive_ts"]
        per = files.groupby(["folder", "format"], as_index=False).agg(
            files=("file", "count"), **{c: (c, "sum") for c in nums}, first=("first_ts", "min"), last=("last_ts", "max")
        )
        per["span"] = [
            f"{a:%Y-%m-%d} to {b:%Y-%m-%d}" if not pd.isna(a) else "-" for a, b in zip(per["first"], per["last"])
        ]
        summary = html_table(
            per,
            {
                "folder": f"source ({root})",
                "format": "format",
                "files": "files",
                "read": "read",
                "kept": "kept",
                "rejected": "rejected",
                "duplicates": "duplicates",
                "unpriced": "unpriced",
                "naive_ts": "no time zone",
                "span": "span (UTC)",
            },
            csv="sources.csv",
        )
        detail = html_table(
            files,
            {
                "file": "file",
                "format": "format",
                "read": "read",
                "kept": "kept",
                "rejected": "rejected",
                "duplicates": "duplicates",
                "unpriced": "unpriced",
                "naive_ts": "no time zone",
                "reasons": "rejected because",
            },
            csv="files.csv",
            css=False,
        )
        reg = ""
        if len(registry):
            names = ", ".join(esc(x) for x in _relative(registry["file"])[1])
            reg = f"<p>Key registry: {len(usage.keys):,} keys from {names}.</p>"
        balance = "holds" if lr.balanced else "DOES NOT HOLD"
        body = (
            f"{summary}{reg}<p>read = kept + rejected + duplicates {balance}: {lr.read:,} = {lr.kept:,} + "
            f"{lr.rejected:,} + {lr.duplicates:,}.</p><details><summary>every file ({len(files):,})</summary>"
            f"{detail}</details>"
        )
        if lr.store_line:
            body += f"<p class='muted'>{esc(lr.store_line)}.</p>"
    else:
        body = (
            "<p class='muted'>Per-file accounting spans every account, so it is in the all-accounts report; "
            "this report counts only this account's rows.</p>"
        )
    return HTML(
        f"{STYLE}<div class='uk'>{body}<p>This report: {t['rows']:,} rows, {t['requests']:,} requests, "
        f"{t['unpriced_rows']:,} unpriced rows (usage with no cost; not counted as $0).</p></div>"
    )


def method_notes(report: Usage, month: str, thresholds: dict | None = None, run_id: str | None = None) -> HTML:
    """Time zone, date convention, data lag, estimate vs invoice, anomaly thresholds, run id."""
    from .anomalies import Thresholds

    th = thresholds or Thresholds().__dict__
    first, after = month_range(month)
    items = [
        f"Period: {first} to {after - dt.timedelta(days=1)} inclusive, days bucketed in {esc(report.tz)}; "
        f"stored times are UTC.",
        "Spend is the gateway's recorded cost in continuous cents (sub-cent precision kept); only invoice lines "
        "are rounded, half up, per line, and the rounding difference is shown.",
        "Aggregated spend can trail live usage by about two minutes; the data cut-off is in the headline.",
        "Unpriced rows (usage with no cost) are counted, never treated as $0.",
        "Anomaly thresholds: " + ", ".join(f"{esc(k)}={esc(v)}" for k, v in th.items()) + ".",
    ]
    if run_id:
        items.append(f"Run: {esc(run_id)}.")
    return HTML(f"{STYLE}<div class='uk'><ul>{''.join(f'<li>{i}</li>' for i in items)}</ul></div>")


def save_summary(
    report: Usage, found: pd.DataFrame, path, alerts: list | None = None, title: str | None = None
) -> dict:
    """Totals the publisher lists in the index; written to ``path`` when given.

    ``alerts`` (:class:`usagekit.notify.Alert`) go along for ``usagekit report --notify``;
    ``title`` (:attr:`ReportContext.title`) becomes the page's title. The account's name, when
    known, is ``account_name``.
    """
    t = report.totals()
    accounts = {x for name, v in report.scope.filters if name == "account" for x in ([v] if isinstance(v, str) else v)}
    names = report.account_names
    summary = {
        "total_cents": t["cost_cents"],
        "requests": t["requests"],
        "unpriced_rows": t["unpriced_rows"],
        "by_axis": {a: v["cost_cents"] for a, v in t["by_axis"].items()},
        "rejected_rows": report.load_report.rejected,
        "duplicate_rows": report.load_report.duplicates,
        "anomalies": int((~found["kind"].isin(["unpriced", "history"])).sum()) if len(found) else 0,
        "title": title,
        "account_name": names.get(next(iter(accounts))) if len(accounts) == 1 else None,
        "findings": [
            {"kind": r.kind, "key_id": r.key_id, "day": str(r.day), "severity": r.severity} for r in found.itertuples()
        ]
        if len(found)
        else [],
    }
    if alerts is not None:
        from dataclasses import asdict

        summary["alerts"] = [asdict(a) for a in alerts]
    if path:
        import json
        from pathlib import Path

        Path(path).write_text(json.dumps(summary, indent=2, default=str))
    return summary


# --- the report as an ordered list of sections ------------------------------------------------------
#
# A section has a ``name`` (for ``usagekit report --sections``), a ``title`` (the heading above it;
# empty for the headline, which carries its own) and ``render(ctx)`` returning what Jupyter displays:
# one object, or a list shown one after another. Adding a section is one class and one entry in
# SECTIONS.


@dataclass
class ReportContext:
    """Everything a section needs, built once per report run.

    ``usage`` is all loaded data (the previous month is read from it), ``report`` the rows of the
    report's month and account; ``findings`` are detected on first use and then shared.

    >>> ctx = ReportContext.build(usagekit.load("demo/2026-10"), "2026-10")  # doctest: +SKIP
    >>> Headline().render(ctx)  # doctest: +SKIP
    """

    usage: Usage
    report: Usage
    month: str
    account_id: str | None = None
    as_of: str | None = None
    run_id: str | None = None

    @classmethod
    def build(
        cls,
        usage: Usage,
        month: str,
        account_id: str | None = None,
        as_of: str | None = None,
        run_id: str | None = None,
    ) -> ReportContext:
        from .months import require_data

        if as_of:
            usage = usage.before(as_of)  # a replay: nothing after the cut-off, in any section
        require_data(usage, month, account_id)  # an empty month is an error, never a $0.00 report
        return cls(
            usage=usage,
            report=scope_for_report(usage, month, account_id),
            month=month,
            account_id=account_id,
            as_of=as_of,
            run_id=run_id,
        )

    @property
    def tz(self) -> str:
        return self.report.tz

    @property
    def title(self) -> str:
        """The report's title: month and account, by name when known (plain text)."""
        return report_title(self.month, self.account_id, self.usage.account_names)

    @cached_property
    def findings(self) -> pd.DataFrame:
        return findings(self.usage, self.month, self.account_id, as_of=self.as_of)

    def alerts(self) -> list:
        """What ``--notify`` sends for this report: warning/critical findings and cap crossings."""
        from .notify import cap_alerts, finding_alerts

        return finding_alerts(self.findings) + cap_alerts(self.usage, self.month, self.account_id, self.as_of)


class Section:
    """One part of the report: a heading and what ``render`` returns."""

    name: str = ""
    title: str = ""
    #: show each rendered part as its own block of the page (else they share one)
    part_per_block: bool = False

    def render(self, ctx: ReportContext):
        raise NotImplementedError

    def shown(self, ctx: ReportContext) -> bool:
        """Whether the section has something to say for this report (else it is left out)."""
        return True

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Headline(Section):
    name = "headline"

    def render(self, ctx):
        return headline(ctx.usage, ctx.report, ctx.month, ctx.account_id)


class Keys(Section):
    name, title = "keys", "Keys"

    def render(self, ctx):
        keys = key_section(ctx.report, as_of=ctx.as_of, found=ctx.findings)
        budgets = budget_parts(ctx.report, as_of=ctx.as_of)
        return [keys, *budgets] if budgets else keys


class Daily(Section):
    name, title = "daily", "Daily spend by model"

    def render(self, ctx):
        return daily_chart(ctx.report)


class Breakdowns(Section):
    name, title = "breakdowns", "Breakdowns"
    part_per_block = True

    def render(self, ctx):
        parts = [breakdown_chart(ctx.report, by) for by in ("provider", "model", "agent")]
        return parts + account_parts(ctx.report) + dimension_parts(ctx.report)


class Anomalies(Section):
    name, title = "anomalies", "Anomalies"

    def render(self, ctx):
        return anomaly_parts(ctx.findings, ctx.usage.account_names)


class Invoice(Section):
    name, title = "invoice", "Invoice lines"

    def render(self, ctx):
        return invoice_section(ctx.report, ctx.month)


class DataQuality(Section):
    name, title = "data-quality", "Data quality"

    def render(self, ctx):
        return data_quality(ctx.usage, ctx.report, ctx.account_id)


class Reconciliation(Section):
    """Gateway spend vs the provider's bill vs the price map's estimate; only when the report's data
    holds both a gateway log and a provider bill (more than one source loaded)."""

    name, title = "reconciliation", "Reconciliation"

    def shown(self, ctx):
        from .reconciliation import BILLING_SOURCES, sources_loaded

        found = sources_loaded(ctx.report)
        return len(found) > 1 and bool(found & set(BILLING_SOURCES)) and bool(found - set(BILLING_SOURCES))

    def render(self, ctx):
        return reconciliation_section(ctx.report)


class Method(Section):
    name, title = "method", "Method notes"

    def render(self, ctx):
        return method_notes(ctx.report, ctx.month, run_id=ctx.run_id)


SECTIONS: list[Section] = [
    Headline(),
    Keys(),
    Daily(),
    Breakdowns(),
    Anomalies(),
    Invoice(),
    Reconciliation(),
    DataQuality(),
    Method(),
]


def section_names() -> list[str]:
    return [s.name for s in SECTIONS]


def select(names=None) -> list[Section]:
    """The sections to show, in report order: all, or those named (a list or ``"a,b"``).

    >>> [s.name for s in select("keys,headline")]
    ['headline', 'keys']
    """
    if names is None or names == "" or names == []:
        return list(SECTIONS)
    wanted = [n.strip().lower().replace("_", "-") for n in (names.split(",") if isinstance(names, str) else names)]
    wanted = [n for n in wanted if n]
    unknown = [n for n in wanted if n not in section_names()]
    if unknown:
        raise UsagekitError(
            f"unknown report section {', '.join(repr(n) for n in unknown)}; "
            f"expected one or more of: {', '.join(section_names())}"
        )
    return [s for s in SECTIONS if s.name in wanted]


#: output type of the marker :func:`show` puts before each block; the publisher turns blocks into cells
SECTION_MIME = "application/vnd.usagekit.section+json"


def show(section: Section, ctx: ReportContext) -> None:
    """Display ``section`` in a notebook: its title, then what it renders.

    Each block starts with a small marker output (its title as Markdown, so an interactive run
    shows the heading) that the publisher uses to give every block its own cell on the page.
    """
    from IPython.display import display

    if not section.shown(ctx):
        return
    rendered = section.render(ctx)
    parts = rendered if isinstance(rendered, list) else [rendered]
    blocks = [[p] for p in parts] if section.part_per_block else [parts]
    for i, block in enumerate(blocks):
        title = section.title if i == 0 else ""
        # a single value shows as the cell's result, as it would as a cell's last expression
        result = not isinstance(rendered, list) and not hasattr(rendered, "_ipython_display_")
        marker = {SECTION_MIME: {"name": section.name, "title": title, "result": result}}
        if title:
            marker["text/markdown"] = f"## {title}"
        display(marker, raw=True)
        for part in block:
            display(part)
