"""Plotly figures and small HTML views made from query results (never from raw rows).

Every function takes a frame returned by a :class:`~usagekit.usage.Usage` query and returns a
``go.Figure`` (or an HTML string for cards). Money is shown in dollars, with sub-cent digits
where amounts are small; hover text carries exact values. A model keeps one colour in every
chart (:func:`color_for`). Every user-supplied name is HTML-escaped before it reaches a figure
or a page, so a key named ``<img src=x onerror=alert(1)>`` is shown as text.
"""

from __future__ import annotations

import hashlib
import html

import pandas as pd
from .extras import require

go = require("plotly.graph_objects", "report", "charts")

from . import masking
from .money import format_usd

#: a palette of distinguishable colours; popular models get fixed slots, others hash into it
PALETTE = ["#4C78A8", "#F58518", "#54A24B", "#E45756", "#72B7B2", "#EECA3B", "#B279A2", "#FF9DA6",
           "#9D755D", "#BAB0AC", "#1F77B4", "#D62728", "#2CA02C", "#9467BD", "#8C564B", "#E377C2",
           "#17BECF", "#BCBD22", "#393B79", "#AD494A"]
OTHER_COLOR = "#C7C7C7"
NONE_COLOR = "#8C8C8C"
FIXED = {"gpt-4o": 0, "gpt-4o-mini": 1, "claude-sonnet-4": 2, "claude-3-5-haiku": 3, "gemini-2.0-flash": 4,
         "o3-mini": 5, "gpt-4.1": 6, "claude-opus-4": 7}
AXIS_COLORS = {"llm": "#4C78A8", "voice": "#F58518", "compute": "#54A24B"}
SEVERITY_COLORS = {"critical": "#C62828", "warning": "#EF6C00", "info": "#1565C0"}


def color_for(name) -> str:
    """The colour of a model (or any series name): the same in every chart and report."""
    if name is None or name == "(none)":
        return NONE_COLOR
    if name == "Other":
        return OTHER_COLOR
    if name in AXIS_COLORS:
        return AXIS_COLORS[name]
    if name in FIXED:
        return PALETTE[FIXED[name]]
    digest = hashlib.sha1(str(name).encode()).digest()
    return PALETTE[digest[0] % len(PALETTE)]


def esc(text) -> str:
    """HTML-escape a name for a figure label or a page."""
    return html.escape("" if text is None else str(text), quote=True)


def mask_key(key: str | None) -> str:
    """Never show a full secret: masked ids (``sk-...wxyz#1a2b3c4d``) show as ``sk-...wxyz``."""
    return masking.display(key)


def _top(daily: pd.DataFrame, by: str, top: int) -> pd.DataFrame:
    totals = daily.groupby(by)["cost_cents"].sum().sort_values(ascending=False)
    keep = set(totals.index[:top])
    if len(totals) <= top + 1:
        return daily
    d = daily.copy()
    d[by] = d[by].where(d[by].isin(keep), "Other")
    num = ["cost_cents", "requests"] + [c for c in ("input_tokens", "output_tokens") if c in d]
    return d.groupby(["date", by], as_index=False)[num].sum()


def daily_stacked(daily: pd.DataFrame, by: str = "model", top: int = 9, title: str | None = None,
                  tz: str = "UTC") -> go.Figure:
    """Stacked bars of daily spend per ``by`` value (top ``top`` + Other), one trace per value.

    Each trace's ``customdata`` holds the raw ``by`` value, so a click handler knows which
    model (or key) a segment is.
    """
    d = _top(daily, by, top)
    order = d.groupby(by)["cost_cents"].sum().sort_values(ascending=False).index.tolist()
    if "Other" in order:
        order = [o for o in order if o != "Other"] + ["Other"]
    fig = go.Figure()
    for name in order:
        part = d[d[by] == name].sort_values("date")
        label = esc(name if by != "key" or f"{by}_name" not in part else (part[f"{by}_name"].dropna().iloc[0]
                    if part[f"{by}_name"].notna().any() else name))
        fig.add_bar(
            x=[f"{pd.Timestamp(x):%Y-%m-%d}" for x in part["date"]], y=(part["cost_cents"] / 100).tolist(), name=label,
            marker_color=color_for(name), customdata=[[str(name)]] * len(part),
            hovertext=[f"{label}<br>{x:%a %d %b %Y}<br>{format_usd(c)} ({c:,.6f} cents)<br>{int(r):,} requests"
                       for x, c, r in zip(pd.to_datetime(part["date"]), part["cost_cents"], part["requests"])],
            hoverinfo="text")
    fig.update_layout(barmode="stack", title=esc(title) if title else None, yaxis_title="spend (USD)",
                      xaxis_title=f"day ({tz})", legend_title_text=esc(by), hovermode="closest",
                      margin=dict(l=60, r=20, t=50 if title else 20, b=40), template="plotly_white", height=420)
    fig.update_yaxes(tickprefix="$")
    fig.update_xaxes(type="date")
    return fig


def breakdown_bar(breakdown: pd.DataFrame, by: str, top: int = 12, title: str | None = None) -> go.Figure:
    """Horizontal bars of total spend per ``by`` value, largest on top, with share in the hover."""
    b = breakdown.head(top).iloc[::-1]
    names = [esc(n) for n in (b[f"{by}_name"].fillna(b[by]) if f"{by}_name" in b else b[by])]
    fig = go.Figure(go.Bar(
        x=(b["cost_cents"] / 100).tolist(), y=names, orientation="h",
        marker_color=[color_for(v) for v in b[by]],
        hovertext=[f"{n}<br>{format_usd(c)} ({s:.1%})<br>{int(r):,} requests"
                   for n, c, s, r in zip(names, b["cost_cents"], b["share"], b["requests"])], hoverinfo="text"))
    fig.update_layout(title=esc(title) if title else None, xaxis_title="spend (USD)", template="plotly_white",
                      height=max(220, 28 * len(b) + 80), margin=dict(l=160, r=20, t=50 if title else 20, b=40))
    fig.update_xaxes(tickprefix="$")
    return fig


def axis_split(by_axis: pd.DataFrame, title: str | None = None) -> go.Figure:
    """Compute / LLM / voice spend as a donut (``by_axis`` is ``breakdown('axis')``)."""
    fig = go.Figure(go.Pie(labels=[esc(a) for a in by_axis["axis"]], values=(by_axis["cost_cents"] / 100).tolist(),
                           hole=0.5, marker_colors=[color_for(a) for a in by_axis["axis"]], sort=False,
                           hovertext=[format_usd(c) for c in by_axis["cost_cents"]], hoverinfo="label+text+percent"))
    fig.update_layout(title=esc(title) if title else None, template="plotly_white", height=320,
                      margin=dict(l=20, r=20, t=50 if title else 20, b=20))
    return fig


def anomaly_evidence(finding, title: str | None = None) -> go.Figure:
    """A finding's key's daily spend with the anomalous day (and the cap, for cap findings) marked."""
    s = finding["series"] if isinstance(finding, dict) else finding.series
    kind = finding["kind"] if isinstance(finding, dict) else finding.kind
    day = finding["day"] if isinstance(finding, dict) else finding.day
    x = [f"{pd.Timestamp(d):%Y-%m-%d}" for d in s.index]
    colors = [SEVERITY_COLORS["critical"] if d == day else "#9DB4CF" for d in s.index]
    fig = go.Figure(go.Bar(x=x, y=(s.values / 100).tolist(), marker_color=colors, name="daily spend",
                           hovertext=[f"{pd.Timestamp(d):%a %d %b}: {format_usd(v)}" for d, v in zip(x, s.values)],
                           hoverinfo="text"))
    if kind == "cap":
        cap = finding["baseline_cents"] if isinstance(finding, dict) else finding.baseline_cents
        month = [d for d in s.index if (d.year, d.month) == (day.year, day.month)]
        cum = s.loc[month].cumsum()
        fig.add_scatter(x=[f"{pd.Timestamp(d):%Y-%m-%d}" for d in month], y=(cum / 100).tolist(), mode="lines",
                        name="month to date", line_color="#37474F")
        fig.add_hline(y=cap / 100, line_dash="dash", line_color=SEVERITY_COLORS["critical"],
                      annotation_text=f"cap {format_usd(cap)}")
    fig.update_xaxes(type="date")
    fig.update_layout(title=esc(title) if title else None, template="plotly_white", height=260, showlegend=kind == "cap",
                      margin=dict(l=60, r=20, t=40 if title else 10, b=30), yaxis_tickprefix="$")
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
.uk-cards{display:flex;flex-wrap:wrap;gap:10px;font-family:system-ui,sans-serif}
.uk-card{border:1px solid #ddd;border-left:6px solid #54A24B;border-radius:6px;padding:8px 12px;min-width:190px;
 background:#fff}
.uk-card.watch{border-left-color:#EECA3B}.uk-card.high{border-left-color:#EF6C00}
.uk-card.over{border-left-color:#C62828}.uk-card.nocap{border-left-color:#9E9E9E}
.uk-card .name{font-weight:600;word-break:break-all}.uk-card .acct{color:#666;font-size:85%}
.uk-card .spend{font-size:140%;margin:4px 0}.uk-card .meta{font-size:85%;color:#333}
.uk-bar{height:6px;background:#eee;border-radius:3px;overflow:hidden}
.uk-bar span{display:block;height:100%;background:#4C78A8}
"""


def key_cards_html(summary: pd.DataFrame, limit: int | None = None) -> str:
    """One card per key (cap, accrued, % used, projected month end, risk colour), as escaped HTML."""
    rows = summary if limit is None else summary.head(limit)
    cards = []
    for r in rows.itertuples():
        cap = r.spend_cap_cents
        has_cap = cap is not None and not pd.isna(cap) and cap > 0
        pct = r.pct_used if has_cap else None
        proj_pct = (r.projected_cents / cap * 100) if has_cap else 0
        cls = risk(pct, proj_pct)
        cap_line = (f"cap {format_usd(cap, precise=False)} &middot; {pct:.1f}% used" if has_cap else "no cap set")
        when = (f"<br>cap reached {r.projected_cap_date}" if has_cap and r.projected_cap_date not in (None, pd.NaT)
                and not pd.isna(r.projected_cap_date) else "")
        width = min(100.0, pct or 0.0)
        cards.append(
            f'<div class="uk-card {cls}" data-key="{esc(r.key_id)}">'
            f'<div class="name">{esc(r.key_name if isinstance(r.key_name, str) else mask_key(r.key_id))}</div>'
            f'<div class="acct">{esc(mask_key(r.key_id))} &middot; {esc(r.account_id)}</div>'
            f'<div class="spend">{format_usd(r.spend_cents)}</div>'
            f'<div class="uk-bar"><span style="width:{width:.1f}%"></span></div>'
            f'<div class="meta">{cap_line}<br>projected {format_usd(r.projected_cents)} by month end{when}'
            f'<br>{int(r.requests):,} requests</div></div>')
    return f'<style>{CARD_CSS}</style><div class="uk-cards">{"".join(cards)}</div>'
