"""Plotly figures and small HTML views made from query results (never from raw rows).

Every function takes a frame returned by a :class:`~usagekit.usage.Usage` query and returns a
``go.Figure`` (or an HTML string for cards). Money is shown in dollars, with sub-cent digits
where amounts are small; hover text carries exact values. A model keeps one colour in every
chart (:func:`color_for`). Every user-supplied name is HTML-escaped before it reaches a figure
or a page, so a key named ``<img src=x onerror=alert(1)>`` is shown as text.
"""

from __future__ import annotations

import datetime as dt
import functools
import html

import numpy as np
import pandas as pd

from . import masking, palette
from . import queries as q
from .accounts import label as account_label
from .extras import require
from .money import format_usd

go = require("plotly.graph_objects", "report", "charts")

AXIS_COLORS = {a: palette.FIXED[a] for a in ("llm", "voice", "compute")}
SEVERITY_COLORS = {"critical": "#C62828", "warning": "#EF6C00", "info": "#1565C0"}
OTHER = q.OTHER_LABEL


def color_for(name) -> str:
    """The colour of a model (or any series name): the same in every chart and report
    (see :mod:`usagekit.palette`)."""
    return palette.color_for(name)


def fold_other(frame: pd.DataFrame, by: str, top: int, keys: tuple = ()) -> tuple[pd.DataFrame, list]:
    """Keep the ``top`` largest ``by`` values (by total ``cost_cents``) and sum the rest into
    one ``Other`` row per ``keys`` group. Returns ``(frame, folded names)``; nothing is folded
    when only one value would be (it is shown instead). Numeric columns are summed; a
    ``share`` column stays consistent because shares add up."""
    totals = frame.groupby(by)["cost_cents"].sum().sort_values(ascending=False, kind="stable")
    if len(totals) <= top + 1:
        return frame, []
    keep = list(totals.index[:top])
    folded = [str(n) for n in totals.index[top:]]
    d = frame.copy()
    d[by] = d[by].where(d[by].isin(keep), OTHER)
    num = [c for c in d.columns if c not in (by, *keys) and pd.api.types.is_numeric_dtype(d[c])]
    other = (
        d[d[by] == OTHER].groupby(list(keys), as_index=False)[num].sum()
        if keys
        else d[d[by] == OTHER][num].sum().to_frame().T
    )
    other[by] = OTHER
    rest = d[d[by] != OTHER]
    return pd.concat([rest, other[[c for c in d.columns if c in other.columns]]], ignore_index=True), folded


def _hours(v) -> str:
    return f"{float(v):,.1f} VM hours"


def _counts(name, requests, hours) -> str:
    """What a segment counts: VM hours for compute, requests for the rest."""
    if name in q.COMPUTE_LABELS.values() or (hours and not requests):
        return _hours(hours)
    return f"{int(requests):,} requests"


def esc(text) -> str:
    """HTML-escape a name for a figure label or a page."""
    return html.escape("" if text is None else str(text), quote=True)


def mask_key(key: str | None) -> str:
    """Never show a full secret: masked ids (``sk-...wxyz#1a2b3c4d``) show as ``sk-...wxyz``."""
    return masking.display(key)


def stacked_traces(daily: pd.DataFrame, by: str = "model", top: int = 9, other_daily=None) -> list[dict]:
    """The bar traces of :func:`daily_stacked` as plain dicts (``go.Bar`` keyword arguments),
    for a widget that restyles its traces in place instead of building a figure.

    The ``top`` values with the most spend, largest first, then one ``Other`` trace summing
    the rest per day (:func:`fold_other`'s rule: nothing is folded when only one value would
    be). Built from the frame's columns in one pass per trace (the explorer redraws with it on
    every filter change). ``other_daily(folded names)``, when given, answers the ``Other``
    trace's days instead of that sum (``date, cost_cents, requests[, hours]``): by tag, a
    request carrying two of the folded tags is one request of ``Other``, not two."""
    totals = daily.groupby(by)["cost_cents"].sum().sort_values(ascending=False, kind="stable")
    folded = [str(n) for n in totals.index[top:]] if len(totals) > top + 1 else []
    order = list(totals.index[:top]) if folded else list(totals.index)
    colors = palette.active().colors([*order, OTHER] if folded else order)
    rows = daily.groupby(by, sort=False).indices
    dates = daily["date"].to_numpy()
    cost = daily["cost_cents"].to_numpy()
    requests = daily["requests"].to_numpy()
    hours = daily["hours"].to_numpy() if "hours" in daily else None
    names = daily[f"{by}_name"].to_numpy() if f"{by}_name" in daily else None
    traces = []
    for name, color in zip(order, colors):
        at = rows[name]
        at = at[np.argsort(dates[at], kind="stable")]
        shown = name
        if names is not None:
            given = [n for n in names[at] if not pd.isna(n)]
            shown = given[0] if given else name
        traces.append(
            _bar(
                name,
                esc(shown),
                color,
                dates[at],
                cost[at],
                requests[at],
                hours[at] if hours is not None else None,
                [str(name)],
            )
        )
    if folded:
        cols = ["cost_cents", "requests", *(["hours"] if hours is not None else [])]
        if other_daily is not None:
            other = other_daily(folded)
            other = other.assign(**{c: 0.0 for c in cols if c not in other})
        else:
            other = daily[~daily[by].isin(order)].groupby("date", as_index=False)[cols].sum()
        traces.append(
            _bar(
                OTHER,
                esc(f"Other ({len(folded)} {by}s)"),
                colors[-1],
                other["date"].to_numpy(),
                other["cost_cents"].to_numpy(),
                other["requests"].to_numpy(),
                other["hours"].to_numpy() if hours is not None else None,
                folded,
            )
        )
    return traces


@functools.lru_cache(maxsize=4096)
def _day_labels(day) -> tuple[str, str]:
    """A chart day as the x value and as the hover text says it."""
    return f"{day:%Y-%m-%d}", f"{day:%a %d %b %Y}"


def _bar(name, label: str, color: str, dates, cost, requests, hours, members: list) -> dict:
    """One trace of :func:`stacked_traces`: a value's (or Other's) spend per day."""
    days = [_day_labels(d if isinstance(d, dt.date) else pd.Timestamp(d)) for d in dates]
    hours = hours if hours is not None else [0.0] * len(days)
    return dict(
        x=[d[0] for d in days],
        y=(cost / 100).tolist(),
        name=label,
        marker_color=color,
        customdata=[[str(name)]] * len(days),
        meta={"members": members},
        hovertext=[
            f"{label}<br>{d[1]}<br>{format_usd(c)}<br>{_counts(name, r, h)}"
            for d, c, r, h in zip(days, cost.tolist(), requests.tolist(), list(hours))
        ],
        hoverinfo="text",
    )


def daily_stacked(
    daily: pd.DataFrame, by: str = "model", top: int = 9, title: str | None = None, tz: str = "UTC"
) -> go.Figure:
    """Stacked bars of daily spend per ``by`` value (top ``top`` + Other), one trace per value.

    Each trace's ``customdata`` holds the raw ``by`` value, so a click handler knows which
    model (or key) a segment is; the Other trace's ``meta["members"]`` lists the values it
    groups. Colours come from the palette: distinct per trace, the same name the same colour
    in every chart. Compute shows its VM hours.
    """
    fig = go.Figure()
    for trace in stacked_traces(daily, by=by, top=top):
        fig.add_bar(**trace)
    fig.update_layout(
        barmode="stack",
        title=esc(title) if title else None,
        yaxis_title="spend (USD)",
        xaxis_title=f"day ({tz})",
        legend_title_text=esc(by),
        hovermode="closest",
        margin=dict(l=60, r=20, t=50 if title else 20, b=40),
        template="plotly_white",
        height=420,
    )
    fig.update_yaxes(tickprefix="$", tickformat=",.2f")
    fig.update_xaxes(type="date")
    return fig


def breakdown_bar(breakdown: pd.DataFrame, by: str, top: int = 12, title: str | None = None) -> go.Figure:
    """Horizontal bars of total spend per ``by`` value, largest on top, the rest summed in an
    "Other" bar (never dropped), with share and requests (VM hours for compute) in the hover."""
    b, folded = fold_other(breakdown, by, top)
    b = b.sort_values("cost_cents", ascending=False, kind="stable")
    if folded:
        b = pd.concat([b[b[by] != OTHER], b[b[by] == OTHER]])
    b = b.iloc[::-1]
    names = []
    for v, n in zip(b[by], b[f"{by}_name"] if f"{by}_name" in b else b[by]):
        if v == OTHER:
            names.append(f"Other ({len(folded)} {by}s)")
        else:
            names.append(esc(n if isinstance(n, str) and n else v))
    hours = b["hours"] if "hours" in b else [0.0] * len(b)
    fig = go.Figure(
        go.Bar(
            x=(b["cost_cents"] / 100).tolist(),
            y=names,
            orientation="h",
            marker_color=palette.active().colors(b[by]),
            customdata=[[str(v)] for v in b[by]],
            meta={"other_members": folded},
            hovertext=[
                f"{n}<br>{format_usd(c)} ({s:.1%})<br>{_counts(v, r, h)}"
                for n, v, c, s, r, h in zip(names, b[by], b["cost_cents"], b["share"], b["requests"], hours)
            ],
            hoverinfo="text",
        )
    )
    fig.update_layout(
        title=esc(title) if title else None,
        xaxis_title="spend (USD)",
        template="plotly_white",
        height=max(220, 28 * len(b) + 80),
        margin=dict(l=160, r=20, t=50 if title else 20, b=40),
    )
    fig.update_xaxes(tickprefix="$", tickformat=",.2f")
    return fig


def axis_split(by_axis: pd.DataFrame, title: str | None = None) -> go.Figure:
    """Compute / LLM / voice spend as a donut (``by_axis`` is ``breakdown('axis')``)."""
    fig = go.Figure(
        go.Pie(
            labels=[esc(a) for a in by_axis["axis"]],
            values=(by_axis["cost_cents"] / 100).tolist(),
            hole=0.5,
            marker_colors=palette.active().colors(by_axis["axis"]),
            sort=False,
            hovertext=[format_usd(c) for c in by_axis["cost_cents"]],
            hoverinfo="label+text+percent",
        )
    )
    fig.update_layout(
        title=esc(title) if title else None,
        template="plotly_white",
        height=320,
        margin=dict(l=20, r=20, t=50 if title else 20, b=20),
    )
    return fig


def anomaly_evidence(finding, title: str | None = None) -> go.Figure:
    """A finding's key's daily spend with the anomalous day (and the cap, for cap findings) marked."""
    s = finding["series"] if isinstance(finding, dict) else finding.series
    kind = finding["kind"] if isinstance(finding, dict) else finding.kind
    day = finding["day"] if isinstance(finding, dict) else finding.day
    x = [f"{pd.Timestamp(d):%Y-%m-%d}" for d in s.index]
    colors = [SEVERITY_COLORS["critical"] if d == day else "#9DB4CF" for d in s.index]
    fig = go.Figure(
        go.Bar(
            x=x,
            y=(s.values / 100).tolist(),
            marker_color=colors,
            name="daily spend",
            hovertext=[f"{pd.Timestamp(d):%a %d %b}: {format_usd(v)}" for d, v in zip(x, s.values)],
            hoverinfo="text",
        )
    )
    if kind == "cap":
        cap = finding["baseline_cents"] if isinstance(finding, dict) else finding.baseline_cents
        month = [d for d in s.index if (d.year, d.month) == (day.year, day.month)]
        cum = s.loc[month].cumsum()
        fig.add_scatter(
            x=[f"{pd.Timestamp(d):%Y-%m-%d}" for d in month],
            y=(cum / 100).tolist(),
            mode="lines",
            name="month to date",
            line_color="#37474F",
        )
        fig.add_hline(
            y=cap / 100,
            line_dash="dash",
            line_color=SEVERITY_COLORS["critical"],
            annotation_text=f"cap {format_usd(cap)}",
        )
    fig.update_xaxes(type="date")
    fig.update_layout(
        title=esc(title) if title else None,
        template="plotly_white",
        height=260,
        showlegend=kind == "cap",
        margin=dict(l=60, r=20, t=40 if title else 10, b=30),
        yaxis_tickprefix="$",
    )
    return fig


def risk(pct_used, projected_pct) -> str:
    """Risk class of a key card: over / high / watch / ok / nocap."""
    if pct_used is None or pd.isna(pct_used):
        return "nocap"
    if pct_used >= 100:
        return "over"
    if projected_pct >= 100 or pct_used >= 90:
        return "high"
    if projected_pct >= 80 or pct_used >= 80:
        return "watch"
    return "ok"


CARD_CSS = """
.uk-cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(230px,1fr));gap:10px;
 font-family:system-ui,sans-serif;align-items:stretch}
.uk-card{border:1px solid #ddd;border-left:6px solid #54A24B;border-radius:6px;padding:8px 12px;background:#fff;
 display:flex;flex-direction:column;min-height:150px}
.uk-card.watch{border-left-color:#EECA3B}.uk-card.high{border-left-color:#EF6C00}
.uk-card.over{border-left-color:#C62828}.uk-card.nocap{border-left-color:#9E9E9E}
.uk-card .name{font-weight:600;overflow-wrap:anywhere}.uk-card .acct{color:#666;font-size:85%}
.uk-card .spend{font-size:140%;margin:4px 0}.uk-card .meta{font-size:85%;color:#333}
.uk-card .range{font-size:85%;color:#555}
.uk-bar{height:6px;background:#eee;border-radius:3px;overflow:hidden}
.uk-bar span{display:block;height:100%;background:#4C78A8}.uk-card.over .uk-bar span{background:#C62828}
.uk-badges{margin-top:auto;padding-top:4px}.uk-badge{display:inline-block;border-radius:10px;padding:0 7px;
 margin:2px 4px 0 0;font-size:80%;color:#fff;background:#1565C0}
.uk-badge.critical{background:#C62828}.uk-badge.warning{background:#EF6C00}
"""


def _date(d) -> str:
    return f"{pd.Timestamp(d):%d %b}"


def key_cards_html(
    summary: pd.DataFrame,
    limit: int | None = None,
    findings: pd.DataFrame | None = None,
    accounts: dict | None = None,
    css: bool = True,
) -> str:
    """One card per key, as escaped HTML, from :meth:`~usagekit.usage.Usage.key_summary`.

    A card is the key's budget window at the cut-off: spend, cap and % used, the projection
    to the window's end (or "window closed"), the cap day (crossed, or projected), the
    filtered range's own spend when it differs, and a badge per anomaly ``findings`` holds
    for the key (kind and day). Risk colours the left edge. ``accounts`` (id -> name, see
    :attr:`Usage.account_names`) names each card's account beside its id. ``css=False`` leaves
    out the cards' ``<style>`` (:data:`CARD_CSS`), for a page that holds it once (a style block
    inserted again restyles the whole page).
    """
    rows = summary if limit is None else summary.head(limit)
    badges: dict = {}
    if findings is not None and len(findings):
        for f in findings.itertuples():
            if f.kind == "unpriced":
                continue
            badges.setdefault(f.key_id, []).append(
                f'<span class="uk-badge {esc(f.severity)}" title="{esc(f.explanation)}">'
                f"{esc(f.kind)} {_date(f.day)}</span>"
            )
    cards = []
    for r in rows.itertuples():
        cap = r.spend_cap_cents
        has_cap = cap is not None and not pd.isna(cap) and cap > 0
        pct = r.pct_used if has_cap else None
        proj_pct = (r.projected_cents / cap * 100) if has_cap else 0
        cls = risk(pct, proj_pct)
        soft = getattr(r, "soft_cap_cents", None)
        soft_line = ""
        if soft is not None and not pd.isna(soft) and soft > 0:
            reached = r.spend_cents >= soft
            soft_line = f"<br>soft budget {format_usd(soft)} {'reached' if reached else 'not reached'}"
            if reached and cls in ("ok", "nocap"):
                cls = "watch"  # an alert level the gateway does not enforce: flag it, not more
        closed = bool(getattr(r, "window_closed", False))
        period = getattr(r, "budget_period", "1mo")
        start, end = getattr(r, "window_start", None), getattr(r, "window_end", None)
        window = (
            f"{start:%b %Y}"
            if period == "1mo" and start is not None
            else (f"{_date(start)}-{_date(end)}" if start is not None else "this budget")
        )
        cap_line = (
            f"{pct:.1f}% of the {format_usd(cap)} cap ({esc(window)})" if has_cap else f"no cap set ({esc(window)})"
        )
        if closed:
            outlook = "budget window closed"
        else:
            outlook = f"projected {format_usd(r.projected_cents)} by {_date(end) if end is not None else 'month end'}"
        when = ""
        if has_cap and r.projected_cap_date is not None and not pd.isna(r.projected_cap_date):
            crossed = bool(getattr(r, "cap_crossed", False))
            when = f"<br>cap {'crossed' if crossed else 'reached (projected)'} {_date(r.projected_cap_date)}"
        in_range = getattr(r, "range_spend_cents", None)
        range_line = ""
        if in_range is not None and abs(in_range - r.spend_cents) > 0.005:
            range_line = f'<div class="range">{format_usd(in_range)} in this range</div>'
        width = min(100.0, pct or 0.0)
        name = r.key_name if isinstance(r.key_name, str) and r.key_name else mask_key(r.key_id)
        cards.append(
            f'<div class="uk-card {cls}" data-key="{esc(r.key_id)}">'
            f'<div class="name">{esc(name)}</div>'
            f'<div class="acct">{esc(mask_key(r.key_id))} &middot; {esc(account_label(r.account_id, accounts))}</div>'
            f'<div class="spend">{format_usd(r.spend_cents)}</div>{range_line}'
            f'<div class="uk-bar"><span style="width:{width:.1f}%"></span></div>'
            f'<div class="meta">{cap_line}{soft_line}<br>{outlook}{when}<br>{int(r.requests):,} requests</div>'
            f'<div class="uk-badges">{"".join(badges.get(r.key_id, []))}</div></div>'
        )
    style = f"<style>{CARD_CSS}</style>" if css else ""
    return f'{style}<div class="uk-cards">{"".join(cards)}</div>'
