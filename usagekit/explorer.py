"""``usagekit.explore(usage)``: the usage dashboard as ipywidgets, for JupyterLab.

Date range, provider, key and model filters; a card per key; the stacked daily chart by model
(a plotly ``FigureWidget``); a click on a bar segment fills the drill-down below it with that
day's requests for that model (and the key filter in force). Filters update the same widgets
in place; a busy indicator shows while a query runs. Anomalies found by :func:`usagekit.detect`
are marked on the chart and listed beside it.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pandas as pd

from .extras import require

W = require("ipywidgets", "notebook", "the explorer")
go = require("plotly.graph_objects", "notebook", "the explorer")
require("anywidget", "notebook", "the explorer")  # go.FigureWidget needs it

# after the checks above, so a missing plotly names [notebook] (charts alone would name [report])
from . import charts  # noqa: E402
from .charts import esc  # noqa: E402
from .money import format_usd  # noqa: E402
from .usage import Usage, month_range  # noqa: E402

ALL = "(all)"
SEARCHABLE_AFTER = 15  # more keys than this: a searchable combobox instead of a dropdown


class Explorer:
    """The widget app. ``display(explorer)`` or leave it last in a cell.

    State useful to tests and scripts: ``figure`` (the FigureWidget), ``cards`` (HTML),
    ``drill_summary`` and ``drill_rows`` (the frames shown after a click), ``current``
    (the filtered per-day buckets, see :meth:`Usage.rollup`) and ``requests`` (the filtered rows).
    """

    def __init__(self, usage: Usage, month: str | None = None, detect_anomalies: bool = True):
        self.usage = usage
        if month is None:
            month = (f"{usage.scope.start:%Y-%m}" if usage.scope.start
                     else dt.datetime.now(ZoneInfo(usage.tz)).strftime("%Y-%m"))
        first, after = month_range(month)
        self.month = month
        self.findings = pd.DataFrame()
        if detect_anomalies:
            from .anomalies import detect
            self.findings = detect(usage, month=month)
        # charts and cards redraw from per-day buckets; the click drill-down reads the requests
        self.cube = usage.rollup()
        everything = self.cube.filter(month=month)
        providers = sorted(p for p in everything.breakdown("provider")["provider"] if p != "(none)")
        keys = everything.key_summary()
        self._key_labels = {
            f"{r.key_name if isinstance(r.key_name, str) and r.key_name else r.key_id} "
            f"({charts.mask_key(r.key_id)})": r.key_id for r in keys.itertuples()}
        models = sorted(m for m in everything.breakdown("model")["model"] if m != "(none)")

        self.start = W.DatePicker(value=first, description="From")
        self.end = W.DatePicker(value=after - dt.timedelta(days=1), description="To")
        self.provider = W.Dropdown(options=[ALL, *providers], value=ALL, description="Provider")
        key_options = [ALL, *self._key_labels]
        if len(self._key_labels) > SEARCHABLE_AFTER:
            self.key = W.Combobox(options=key_options, value=ALL, placeholder="type to search keys",
                                  description="Key", ensure_option=True)
        else:
            self.key = W.Dropdown(options=key_options, value=ALL, description="Key")
        self.model = W.Dropdown(options=[ALL, *models], value=ALL, description="Model")
        self.busy = W.HTML(value="")
        self.scope_label = W.HTML()
        self.cards = W.HTML()
        self.anomaly_list = W.HTML()
        self.drill_title = W.HTML(value="<i>Click a bar segment to see that day's requests.</i>")
        self.drill_table = W.HTML()
        self.drill_summary = pd.DataFrame()
        self.drill_rows = pd.DataFrame()
        self.figure: go.FigureWidget | None = None  # made from the first query's figure in refresh()
        for w in (self.start, self.end, self.provider, self.key, self.model):
            w.observe(self._changed, names="value")
        self.refresh()
        self.widget = W.VBox([
            W.HBox([self.start, self.end, self.busy]),
            W.HBox([self.provider, self.key, self.model]),
            self.scope_label, self.cards,
            W.HBox([self.figure, self.anomaly_list], layout=W.Layout(align_items="flex-start")),
            self.drill_title, self.drill_table,
        ])

    # -- state -----------------------------------------------------------------------------
    def _filters(self) -> dict:
        key = self.key.value
        return {
            "start": self.start.value, "end": self.end.value,
            "providers": None if self.provider.value == ALL else [self.provider.value],
            "keys": None if key in (ALL, "", None) else [self._key_labels.get(key, key)],
            "models": None if self.model.value == ALL else [self.model.value],
        }

    def _changed(self, change) -> None:
        if change["name"] == "value" and change["new"] in ("", None):
            return  # a combobox being typed into
        self.refresh()

    def refresh(self) -> None:
        """Re-run the queries for the filters in force and update every view in place."""
        f = self._filters()
        if f["start"] is None or f["end"] is None or f["end"] < f["start"]:
            self.busy.value = "<span style='color:#C62828'>pick a start on or before the end</span>"
            return
        self.busy.value = "<span>&#8987; updating...</span>"
        try:
            self.current = self.cube.filter(**f)
            self.requests = self.usage.filter(**f)
            daily = self.current.daily("model")
            summary = self.current.key_summary()
            fig = charts.daily_stacked(daily, by="model", tz=self.usage.tz)
            if self.figure is None:
                # built from a full figure, so its first render already knows the axis is a date axis
                self.figure = go.FigureWidget(fig)
                self._mark_anomalies(f)
            else:
                with self.figure.batch_update():
                    self.figure.data = ()
                    self.figure.add_traces(list(fig.data))
                    self.figure.update_layout(xaxis=fig.layout.xaxis, yaxis=fig.layout.yaxis)
                    self.figure.layout.shapes = ()
                    self.figure.layout.annotations = ()
                    self._mark_anomalies(f)
            for trace in self.figure.data:
                trace.on_click(self._on_click)
            self.cards.value = (f"<div style='max-height:330px;overflow-y:auto'>"
                                f"{charts.key_cards_html(summary)}</div>")
            total = self.current.total()
            self.scope_label.value = (f"<b>{format_usd(total['cost_cents'])}</b> over {total['requests']:,} requests "
                                      f"&middot; {esc(self.current.describe_scope())}")
            self.drill_summary = pd.DataFrame()
            self.drill_rows = pd.DataFrame()
            self.drill_table.value = ""
        finally:
            self.busy.value = ""

    def _mark_anomalies(self, f) -> None:
        if self.findings is None or self.findings.empty:
            self.anomaly_list.value = "<p><b>Anomalies</b><br>none found this month.</p>"
            return
        shown = self.findings
        if f["keys"]:
            shown = shown[shown["key_id"].isin(f["keys"])]
        items = []
        for r in shown.itertuples():
            if r.kind != "unpriced" and f["start"] <= r.day <= f["end"]:
                self.figure.add_shape(type="line", x0=r.day.isoformat(), x1=r.day.isoformat(), yref="paper",
                                      y0=0, y1=1, line=dict(dash="dot", color=charts.SEVERITY_COLORS[r.severity]))
            items.append(f"<li><b style='color:{charts.SEVERITY_COLORS[r.severity]}'>{esc(r.kind)}</b> "
                         f"{r.day} &middot; {esc(r.key_name)}<br><small>{esc(r.explanation)}</small></li>")
        self.anomaly_list.value = (f"<div style='max-width:360px'><b>Anomalies ({len(items)})</b>"
                                   f"<ul>{''.join(items) or '<li>none for this filter</li>'}</ul></div>")

    # -- drill-down ----------------------------------------------------------------------------
    def _on_click(self, trace, points, selector=None) -> None:
        if not points.point_inds:  # plotly calls every trace's handler; only the clicked one has points
            return
        try:
            i = points.point_inds[0]
            day = pd.Timestamp(trace.x[i]).date()
            model = trace.customdata[i][0] if trace.customdata is not None else None
            self.show_day(day, None if model in ("Other", "(none)") else model)
        except Exception as exc:  # noqa: BLE001 - a widget callback has nowhere else to report
            self.drill_title.value = f"<p style='color:#C62828'>could not load that day: {esc(exc)}</p>"

    def show_day(self, day: dt.date, model: str | None = None) -> None:
        """Fill the drill-down with ``day``'s requests (for ``model``, and the key filter in force)."""
        self.busy.value = "<span>&#8987; loading requests...</span>"
        try:
            keys = self._filters()["keys"]
            self.drill_summary = self.requests.day_summary(day, key=keys, model=model)
            self.drill_rows = self.requests.day(day, key=keys, model=model, page_size=50)
            n = int(self.drill_summary["requests"].sum()) if len(self.drill_summary) else 0
            cost = float(self.drill_summary["cost_cents"].sum()) if len(self.drill_summary) else 0.0
            what = esc(model) if model else "all models"
            self.drill_title.value = (f"<h4>{day:%a %d %b %Y} &middot; {what}: {n:,} requests, "
                                      f"{format_usd(cost)}</h4>")
            self.drill_table.value = _table(self.drill_summary, ["model", "provider", "requests", "cost_cents"]) + \
                _table(self.drill_rows, ["ts", "key_name", "model", "provider", "input_tokens", "output_tokens",
                                         "cost_cents", "status"],
                       caption=f"newest first, {len(self.drill_rows)} of {self.drill_rows.attrs.get('total_rows', 0):,}")
        finally:
            self.busy.value = ""

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


def _table(df: pd.DataFrame, cols, caption: str | None = None) -> str:
    if df is None or df.empty:
        return "<p><i>no rows</i></p>"
    head = "".join(f"<th>{esc(c)}</th>" for c in cols)
    body = []
    for row in df[cols].itertuples(index=False):
        cells = []
        for c, v in zip(cols, row):
            if c == "cost_cents":
                cells.append(f"<td style='text-align:right'>{format_usd(v)}</td>")
            elif isinstance(v, pd.Timestamp):
                cells.append(f"<td>{v:%H:%M:%S}</td>")
            else:
                cells.append(f"<td>{'' if pd.isna(v) else esc(v)}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    return (f"<table class='uk-drill' style='border-collapse:collapse'>{cap}<thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>")


def explore(usage: Usage, month: str | None = None, detect_anomalies: bool = True) -> Explorer:
    """The usage dashboard for ``usage`` as widgets (month defaults to the scope's, else the current one).

    >>> usagekit.explore(usagekit.load("demo/2026-10"), month="2026-10")   # doctest: +SKIP
    """
    return Explorer(usage, month=month, detect_anomalies=detect_anomalies)
