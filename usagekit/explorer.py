"""``usagekit.explore(usage)``: the usage dashboard as ipywidgets, for JupyterLab.

Date range, account (when the data holds several; shown by name), provider, key (a search box
past 15 keys: a partial name filters to every key that contains it) and model filters; a card
per key; the stacked daily chart broken down by model, or by provider, key, agent, team, user or
tag when the data has them (a plotly ``FigureWidget``). A click on a bar segment opens the
drill-down for exactly that segment: a model's (provider's, key's, ...) requests, the values an
"Other" segment groups, or the compute segment's VM hours per agent and plain VM, with a
per-key summary and the request log page by page.
Filters update the same widgets in place (traces are restyled, not re-created, and the chart
changes in one message: one redraw in the browser) and the open drill-down follows them; the
sums come from the cube held in memory (:mod:`usagekit.explorer_cube`). Anomalies found by :func:`usagekit.detect` once, for the month, are
marked on the chart and listed beside it; filters hide the findings that do not match.
"""

from __future__ import annotations

import datetime as dt
import time

import pandas as pd

from .extras import require

W = require("ipywidgets", "notebook", "the explorer")
go = require("plotly.graph_objects", "notebook", "the explorer")
require("anywidget", "notebook", "the explorer")  # go.FigureWidget needs it

# after the checks above, so a missing plotly names [notebook] (charts alone would name [report])
from . import charts  # noqa: E402
from . import queries as q  # noqa: E402
from .accounts import label as account_label  # noqa: E402
from .charts import esc  # noqa: E402
from .explorer_cube import BREAKDOWNS as DAY_CUBE_BREAKDOWNS  # noqa: E402
from .explorer_cube import DayCube  # noqa: E402
from .money import format_usd  # noqa: E402
from .months import default_month  # noqa: E402
from .queries import COMPUTE_LABELS, NONE_LABEL, OTHER_LABEL  # noqa: E402
from .tables import html_table  # noqa: E402
from .usage import Usage, month_range  # noqa: E402

ALL = "(all)"
#: a trace the chart does not need under the filters in force: hidden, kept for a later redraw
_HIDDEN = dict(
    x=[], y=[], name="", customdata=[], meta={"members": []}, hovertext=[], marker_color="#000", visible=False
)
OTHER = OTHER_LABEL
#: the trace properties a redraw sets (plotly path -> key of a stacked_traces dict)
_RESTYLED = {
    "x": "x",
    "y": "y",
    "name": "name",
    "customdata": "customdata",
    "meta": "meta",
    "hovertext": "hovertext",
    "marker.color": "marker_color",
    "visible": "visible",
}
SEARCHABLE_AFTER = 15  # more keys than this: a search box instead of a dropdown
PAGE_SIZE = 50
VIEWS_KEPT = 32  # views (filters + break-down) kept for a change back to one already drawn
HINT = "<i>Click a bar segment to see that day's requests.</i>"
#: what the chart can break spend down by -> the filter that selects one of its values
BREAKDOWNS = {
    "model": "models",
    "provider": "providers",
    "key": "keys",
    "agent": "agents",
    "team": "teams",
    "user": "users",
    "tag": "tags",
}


def _default_month(usage: Usage) -> tuple[str, str]:
    """The usage's scoped month, else :func:`usagekit.months.default_month` (and why)."""
    if usage.scope.start is not None:
        return f"{usage.scope.start:%Y-%m}", f"{usage.scope.start:%Y-%m}: the month of the data's scope"
    choice = default_month(usage)
    return choice.month, str(choice)


class Explorer:
    """The widget app. ``display(explorer)`` or leave it last in a cell.

    State useful to tests and scripts: ``figure`` (the FigureWidget), ``cards`` (HTML),
    ``daily`` (the chart's frame), ``shown_findings`` (anomalies matching the filters),
    ``drill`` (the open segment: day and what), ``drill_summary`` (per model, or per VM for
    compute), ``drill_keys`` (per key) and ``drill_rows`` (the page of requests shown),
    ``current`` (the filtered cube, see :meth:`Usage.rollup`) and ``requests`` (the filtered rows).
    """

    def __init__(self, usage: Usage, month: str | None = None, detect_anomalies: bool = True):
        self.usage = usage
        if month is None:
            month, self.month_note = _default_month(usage)
        else:
            self.month_note = ""
        first, after = month_range(month)
        self.month = month
        self.findings = pd.DataFrame()
        if detect_anomalies:
            from .anomalies import detect

            self.findings = detect(usage, month=month).reset_index(drop=True)
        self._findings_parts = self._finding_parts()
        # charts and cards redraw from per-day buckets; the click drill-down reads the requests
        self.cube = usage.rollup()
        everything = self.cube.filter(month=month)
        providers = sorted(p for p in everything.breakdown("provider")["provider"] if p != NONE_LABEL)
        keys = everything.key_summary()
        self._key_labels = {
            f"{r.key_name if isinstance(r.key_name, str) and r.key_name else charts.mask_key(r.key_id)} "
            f"({charts.mask_key(r.key_id)})": r.key_id
            for r in keys.itertuples()
        }
        models = sorted(m for m in everything.breakdown("model")["model"] if m != NONE_LABEL)
        self.account_names = usage.account_names
        accounts = sorted(a for a in everything.breakdown("account")["account"] if a != NONE_LABEL)
        self._account_options = [(account_label(a, self.account_names), a) for a in accounts]
        self._accounts = accounts
        self._breakdowns = self._available_breakdowns(everything)

        wide = dict(description_width="initial")
        self.start = W.DatePicker(value=first, description="From", style=wide)
        self.end = W.DatePicker(value=after - dt.timedelta(days=1), description="To", style=wide)
        self.provider = W.Dropdown(options=[ALL, *providers], value=ALL, description="Provider", style=wide)
        longest = max((len(k) for k in self._key_labels), default=10)
        key_width = W.Layout(width=f"{min(max(longest, 24) + 8, 90)}ch")  # labels shown whole, not cut
        if len(self._key_labels) > SEARCHABLE_AFTER:
            self.key = W.Combobox(
                options=list(self._key_labels),
                value="",
                ensure_option=False,
                placeholder="all keys: type part of a name",
                description="Key",
                layout=key_width,
                style=wide,
            )
        else:
            self.key = W.Dropdown(
                options=[ALL, *self._key_labels], value=ALL, description="Key", layout=key_width, style=wide
            )
        self.model = W.Dropdown(options=[ALL, *models], value=ALL, description="Model", style=wide)
        self.account = W.Dropdown(
            options=[(ALL, ALL), *self._account_options],
            value=ALL,
            description="Account",
            style=wide,
            layout=W.Layout(width=f"{min(max((len(a) for a, _ in self._account_options), default=10) + 12, 60)}ch"),
        )
        self.by = W.Dropdown(options=self._breakdowns, value="model", description="Break down by", style=wide)
        self.busy = W.HTML(value="")
        # the month note, and the cards' style held once (a style block re-sent with every
        # card update would make the browser restyle the whole notebook on each change)
        note = f"<small>{esc(self.month_note)}</small>" if self.month_note else ""
        self.note = W.HTML(value=f"<style>{charts.CARD_CSS}</style>{note}")
        self.scope_label = W.HTML()
        self.cards = W.HTML()
        self.anomaly_list = W.HTML()
        self.drill_title = W.HTML(value=HINT)
        self.drill_table = W.HTML()
        self.newer = W.Button(description="\u2039 newer", disabled=True, layout=W.Layout(width="auto"))
        self.older = W.Button(description="older \u203a", disabled=True, layout=W.Layout(width="auto"))
        self.page_label = W.HTML()
        self.log_table = W.HTML()
        self.newer.on_click(lambda _: self._turn(-1))
        self.older.on_click(lambda _: self._turn(+1))
        self.drill: dict | None = None
        self.drill_summary = pd.DataFrame()
        self.drill_keys = pd.DataFrame()
        self.drill_rows = pd.DataFrame()
        self.shown_findings = pd.DataFrame()
        self._other_members: list[str] = []
        self._by_drawn = "model"
        self._shapes_drawn: list = []
        self.generation = 0  # refreshes done; the busy line carries it when idle (see refresh)
        self._idle = ""
        self._budget_cache: dict = {}
        self._views: dict = {}  # (filters, break-down, key text) -> what refresh() draws, see _view()
        # the cube's rows as arrays: a redraw's sums in a few ms (every day, not only the month's,
        # so a range picked outside the month is answered the same way)
        self._day_cube = DayCube(self.cube.over(None, None).cube)
        self._registry_ids = set(usage.keys["key_id"])
        self.figure: go.FigureWidget | None = None  # made from the first query's figure in refresh()
        self.timings: list[tuple[float, float]] = []  # (wall ms, CPU ms) of each refresh in this kernel
        for w in (self.start, self.end, self.account, self.provider, self.key, self.model, self.by):
            w.observe(self._changed, names="value")
        self.refresh()
        account_box = [self.account] if len(accounts) > 1 else []  # one account: the scope line names it
        self.widget = W.VBox(
            [
                W.HBox([self.start, self.end, *account_box, self.busy]),
                W.HBox([self.provider, self.key, self.model, self.by]),
                self.note,
                self.scope_label,
                self.cards,
                W.HBox([self.figure, self.anomaly_list], layout=W.Layout(align_items="flex-start")),
                self.drill_title,
                self.drill_table,
                W.HBox([self.newer, self.older, self.page_label], layout=W.Layout(align_items="center")),
                self.log_table,
            ]
        )

    # -- state -----------------------------------------------------------------------------
    def _matching_keys(self) -> list[str] | None:
        """The key filter: None for every key, else the ids of the chosen or matching keys."""
        text = (self.key.value or "").strip()
        if text in ("", ALL):
            return None
        if text in self._key_labels:
            return [self._key_labels[text]]
        needle = text.lower()
        return [kid for label, kid in self._key_labels.items() if needle in label.lower()]

    def _filters(self) -> dict:
        return {
            "start": self.start.value,
            "end": self.end.value,
            "account": None if self.account.value == ALL else [self.account.value],
            "providers": None if self.provider.value == ALL else [self.provider.value],
            "keys": self._matching_keys(),
            "models": None if self.model.value == ALL else [self.model.value],
        }

    def _scope_words(self, f: dict) -> str:
        parts = [f"{f['start']:%a %d %b %Y} to {f['end']:%a %d %b %Y} ({self.usage.tz} days)"]
        if f["account"] or len(self._accounts) == 1:
            only = f["account"][0] if f["account"] else self._accounts[0]
            parts.append(f"account {account_label(only, self.account_names)}")
        if f["providers"]:
            parts.append(f"provider {f['providers'][0]}")
        text = (self.key.value or "").strip()
        if f["keys"] is not None:
            names = [label.rsplit(" (", 1)[0] for label, kid in self._key_labels.items() if kid in f["keys"]]
            if text in self._key_labels:
                parts.append(f"key {names[0]}")
            elif not names:
                parts.append(f"no key matches \u201c{text}\u201d")
            else:
                shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
                parts.append(f"keys matching \u201c{text}\u201d ({len(names)}: {shown})")
        if f["models"]:
            parts.append(f"model {f['models'][0]}")
        if not (f["account"] or f["providers"] or f["keys"] is not None or f["models"]):
            parts.append("every provider, key and model")
        if self.by.value != "model":
            parts.append(f"broken down by {self.by.value}")
        return " \u00b7 ".join(parts)

    def _available_breakdowns(self, everything: Usage) -> list[str]:
        """Model, then each of provider, key, agent, team, user and tag the month has values for."""
        out = ["model"]
        labels = {NONE_LABEL, *COMPUTE_LABELS.values()}
        for by in ("provider", "key", "agent", "team", "user"):
            values = set(everything.breakdown(by)[by].astype(str))
            if values - labels:
                out.append(by)
        if self._has_tags():
            out.append("tag")
        return out

    def _has_tags(self) -> bool:
        """Whether any loaded row carries a tag (a scan of the tags column, stopping at the first)."""
        import polars as pl

        try:
            return self.usage.lazy.filter(pl.col("tags").list.len() > 0).select("tags").head(1).collect().height > 0
        except Exception:  # noqa: BLE001 - an engine that cannot answer: offer no tag breakdown
            return False

    def _changed(self, change) -> None:
        self.refresh()

    def refresh(self) -> None:
        """Re-run the queries for the filters in force and update every view in place.

        A view already drawn for the same filters and break-down is taken from a cache (the
        data does not change while the explorer is open); widgets whose content is unchanged
        send nothing to the browser."""
        f = self._filters()
        if f["start"] is None or f["end"] is None or f["end"] < f["start"]:
            self.busy.value = "<span style='color:#C62828'>pick a start on or before the end</span>"
            return
        self.busy.value = "<span>&#8987; updating...</span>"
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            self.current = self.cube.filter(**f)
            self.requests = self.usage.filter(**f)
            by = self.by.value
            state = (*(tuple(v) if isinstance(v, list) else v for v in f.values()), by, self.key.value)
            view = self._views.pop(state, None)
            if view is None:
                view = self._view(f, by)
            self._views[state] = view  # the most recent last; the oldest dropped past VIEWS_KEPT
            while len(self._views) > VIEWS_KEPT:
                self._views.pop(next(iter(self._views)))
            self.daily = view["daily"]
            self.card_summary = view["summary"]
            self._other_members = view["other_members"]
            self.shown_findings = view["findings"]
            self._draw(view["traces"], view["shapes"], by)
            if "cards" not in view:  # made while the browser redraws the chart
                self._text_views(view, f)
            self.anomaly_list.value = view["anomalies"]
            self.cards.value = view["cards"]
            self.scope_label.value = view["scope"]
            self._follow_drill(f)
        finally:
            # the kernel's share of a redraw, for benchmarks/explorer_browser.py (the last 200)
            self.timings = [
                *self.timings[-199:],
                ((time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000),
            ]
            # the refresh's last message: a browser (or a test) knows the redraw is complete when
            # this generation is shown and the chart holds as many traces as it says
            self.generation += 1
            n = len(self.traces)
            self._idle = f"<span data-uk-gen='{self.generation}' data-uk-traces='{n}'></span>"
            self.busy.value = self._idle

    def _view(self, f: dict, by: str) -> dict:
        """What the chart draws for filters ``f`` broken down ``by`` (its frame, traces and
        markers) and what the cards and scope line need; :meth:`_text_views` adds their HTML
        once the chart is on its way. Sums come from the in-memory cube
        (:class:`usagekit.explorer_cube.DayCube`, a few ms) where it answers ``by``; the
        query layer answers the rest (tags)."""
        if by in DAY_CUBE_BREAKDOWNS:
            first, after = q.day_number(f["start"]), q.day_number(f["end"]) + 1
            mask = self._day_cube.mask(
                first, after, account=f["account"], providers=f["providers"], keys=f["keys"], models=f["models"]
            )
            daily = self._day_cube.daily(mask, by, first, after)
            per_key = self._day_cube.per_value(mask, "key")
            total = self._day_cube.total(mask)
            per_model = (lambda: daily) if by == "model" else (lambda: self._day_cube.per_value(mask, "model"))
        else:
            daily = self.current.daily(by)
            per_key = self.current.breakdown("key")
            total = self.current.total()
            per_model = (lambda: daily) if by == "model" else (lambda: self.current.breakdown("model"))
        summary = self.key_cards_frame(f, per_key)
        # by tag, "Other" is the requests carrying any of the folded tags, each counted once: what
        # its drill-down lists (the named tags' bars count a request under each of its tags)
        once = (lambda folded: self._tagged_daily(f, folded)) if by == "tag" else None
        traces = charts.stacked_traces(daily, by=by, other_daily=once)
        other = [t for t in traces if t["customdata"] and t["customdata"][0][0] == OTHER]
        findings = self._visible_findings(f, summary, per_model)
        return {
            "daily": daily,
            "summary": summary,
            "traces": traces,
            "other_members": list(other[0]["meta"]["members"]) if other else [],
            "findings": findings,
            "shapes": self._anomaly_shapes(findings),
            "total": total,
        }

    def _text_views(self, view: dict, f: dict) -> None:
        """The anomaly list, the cards and the scope line of ``view`` (kept with it)."""
        total = view["total"]
        cards = charts.key_cards_html(view["summary"], accounts=self.account_names, css=False)  # style: self.note
        view["anomalies"] = self._anomalies_html(view["findings"])
        view["cards"] = f"<div style='max-height:330px;overflow-y:auto'>{cards}</div>"
        view["scope"] = (
            f"<b>{format_usd(total['cost_cents'])}</b> over {total['requests']:,} requests "
            f"&middot; {esc(self._scope_words(f))}"
        )

    def key_cards_frame(self, f: dict, per: pd.DataFrame | None = None) -> pd.DataFrame:
        """``self.current.key_summary()``, answered from a cache where it can be.

        A card's budget (cap, window spend, % used, projection) depends only on the key and the
        range end (the cut-off), never on the range start or a provider or model filter (the
        one budget rule of :mod:`usagekit.budgets`), nor on which other keys are shown: an
        account or key filter only chooses rows. So the budget rows of every key are computed
        once per range end and each filter change adds only what it moves: which keys are in
        scope and their spend in the range (``per``: spend per key in scope, as
        ``self.current.breakdown("key")`` gives it, which is asked when not given).
        """
        base = self._budget_cache.get(f["end"])
        if base is None:
            base = self.cube.filter(start=f["end"].replace(day=1), end=f["end"]).key_summary()
            self._budget_cache[f["end"]] = base
        per = self.current.breakdown("key") if per is None else per
        per = per[~per["key"].isin([NONE_LABEL, *COMPUTE_LABELS.values()])]
        ids = set(per["key"])
        if not (f["providers"] or f["models"]):  # the registry's keys are listed with zero spend too
            reg = self._registry_ids if f["account"] is None else self._registry_ids_of(f["account"])
            ids |= reg if f["keys"] is None else reg & set(f["keys"])
        if not ids <= set(base["key_id"]):
            return self.current.key_summary()  # a key the cached month does not know: ask in full
        out = base[base["key_id"].isin(ids)].copy()
        spend = dict(zip(per["key"], per["cost_cents"]))
        out["range_spend_cents"] = [float(spend.get(k, 0.0)) for k in out["key_id"]]
        out.attrs.update(base.attrs, scope=self.current.describe_scope(), range_start=f["start"])
        if len(out):
            out.attrs["complete"] = bool(out["window_closed"].all())
        return out.reset_index(drop=True)

    def _registry_ids_of(self, accounts: list[str]) -> set:
        reg = self.usage.keys
        return set(reg.loc[reg["account_id"].isin(accounts), "key_id"])

    def _follow_drill(self, f: dict) -> None:
        """The open drill-down follows the filters: re-run while its segment is still drawn,
        else closed with a line saying why (never a heading left from the old filters)."""
        if self.drill is None:
            self._clear_drill()
            return
        day, what, by = self.drill["day"], self.drill["what"], self.drill.get("by", "model")
        present = f["start"] <= day <= f["end"] and by == self.by.value
        if present and what is not None:
            members = self._members_of(what)
            seg = self.daily[(self.daily["date"] == day) & self.daily[by].astype(str).isin(members)]
            present = bool(members) and bool(((seg["cost_cents"] != 0) | (seg["requests"] > 0)).any())
        if present:
            self.show_day(day, what)
        else:
            self._clear_drill()
            self.drill_title.value = (
                f"<i>The drill-down into {esc(_segment_name(what, by))} on {day:%a %d %b} closed: "
                f"no such bar under these filters.</i> {HINT}"
            )

    def _draw(self, traces: list[dict], shapes: list, by: str = "model") -> None:
        """Put the chart's traces into the widget in one browser redraw: the traces it has are
        restyled, the anomaly markers and the legend title relaid out, all in ONE update message
        (no figure rebuilt, no trace re-created, no per-property validation; plotly sends only
        what changed, and nothing when nothing did). Traces no longer needed are hidden in that
        same message, not deleted (a deletion is one more redraw), and shown again when needed;
        only traces beyond the most ever drawn are added."""
        if self.figure is None:
            # built from a full figure, so its first render already knows the axis is a date axis
            figure = charts.daily_stacked(self.daily, by=by, tz=self.usage.tz)
            # plotly.js's default for date and number axes ("hide past div") measures every tick
            # label against every other on each redraw (~25 ms a redraw here); the labels fit
            figure.update_xaxes(ticklabeloverflow="allow").update_yaxes(ticklabeloverflow="allow")
            self.figure = go.FigureWidget(figure)
            self._by_drawn = by
            self.figure.layout.shapes = shapes
            self._shapes_drawn = shapes
            for trace in self.figure.data:
                trace.on_click(self._on_click)
            return
        have = len(self.figure.data)
        kept = [dict(t, visible=True) for t in traces[:have]]
        kept += [_HIDDEN] * (have - len(kept))
        restyle = {path: [t[k] for t in kept] for path, k in _RESTYLED.items()} if kept else {}
        relayout: dict = {}
        if shapes != self._shapes_drawn:
            relayout["shapes"] = shapes
        if by != self._by_drawn:
            relayout["legend.title.text"] = esc(by)
        if restyle or relayout:
            self.figure.plotly_update(restyle_data=restyle, relayout_data=relayout, trace_indexes=list(range(have)))
        if "shapes" in relayout:
            # plotly.py keeps the Shape objects it made for ``layout.shapes`` and does not renew
            # them on an update message: dropped, they are made again from the new list on access
            self.figure.layout._compound_array_props.pop("shapes", None)
        self._shapes_drawn, self._by_drawn = shapes, by
        extra = traces[have:]
        if extra:
            self.figure.add_traces([go.Bar(**t) for t in extra])
            for trace in self.figure.data[have:]:
                trace.on_click(self._on_click)

    @property
    def traces(self) -> list:
        """The chart's drawn traces (the figure also holds hidden ones kept for later redraws)."""
        return [t for t in self.figure.data if t.visible is not False] if self.figure is not None else []

    # -- anomalies -------------------------------------------------------------------------
    def _finding_parts(self) -> list[dict]:
        """Per finding, what the filters test and what is drawn (its marker and list item),
        worked out once: a redraw only picks among them."""
        found = self.findings
        if found is None or found.empty:
            return []
        days = pd.to_datetime(found["day"]).dt.date.tolist()
        parts = []
        for day, r in zip(days, found.itertuples()):
            named = not pd.isna(r.model)
            parts.append(
                {
                    "day": day,
                    "key_id": r.key_id,
                    "account_id": r.account_id,
                    "model": str(r.model) if named else None,
                    "shape": None
                    if r.kind == "unpriced"
                    else dict(
                        type="line",
                        x0=r.day.isoformat(),
                        x1=r.day.isoformat(),
                        yref="paper",
                        y0=0,
                        y1=1,
                        line=dict(dash="dot", color=charts.SEVERITY_COLORS[r.severity]),
                    ),
                    "item": f"<li><b style='color:{charts.SEVERITY_COLORS[r.severity]}'>{esc(r.kind)}</b> "
                    f"{r.day:%a %d %b} &middot; {esc(r.key_name)}<br><small>{esc(r.explanation)}</small>"
                    f"<br><small><i>{esc(r.action)}</i></small></li>",
                }
            )
        return parts

    def _visible_findings(self, f: dict, summary: pd.DataFrame, per_model=None) -> pd.DataFrame:
        """The month's findings that match the filters (detection is not re-run).

        A finding matches when its day is in the range, its key is among the keys in scope
        and, under a provider or model filter, the model it names is one the filter keeps
        (a finding naming no model matches when its key has spend under the filter).
        """
        parts = self._findings_parts
        if not parts:
            return pd.DataFrame()
        keys = None if f["keys"] is None else set(f["keys"])
        accounts = None if f["account"] is None else set(f["account"])
        models = active = None
        if f["providers"] or f["models"]:
            per = per_model() if per_model is not None else self.current.breakdown("model")
            models = set(per.loc[(per["cost_cents"] != 0) | (per["requests"] > 0), "model"].astype(str))
            active = set(summary.loc[(summary["spend_cents"] != 0) | (summary["requests"] > 0), "key_id"])
        keep = [
            i
            for i, p in enumerate(parts)
            if f["start"] <= p["day"] <= f["end"]
            and (keys is None or p["key_id"] in keys)
            and (accounts is None or p["account_id"] in accounts)
            and (models is None or (p["model"] in models if p["model"] is not None else p["key_id"] in active))
        ]
        return self.findings.iloc[keep]

    def _anomaly_shapes(self, findings: pd.DataFrame) -> list:
        """The markers of ``findings`` (rows of :attr:`findings`): a dotted line on each day."""
        parts = self._findings_parts
        return [parts[i]["shape"] for i in self._positions(findings) if parts[i]["shape"] is not None]

    def _positions(self, findings: pd.DataFrame) -> list[int]:
        return self.findings.index.get_indexer(findings.index).tolist() if len(findings) else []

    def _anomalies_html(self, findings: pd.DataFrame) -> str:
        """The list beside the chart: the findings shown, and how many the filters hide."""
        if self.findings is None or self.findings.empty:
            return "<p><b>Anomalies</b><br>none found this month.</p>"
        items = [self._findings_parts[i]["item"] for i in self._positions(findings)]
        hidden = len(self.findings) - len(items)
        more = f"<br><small>{hidden} more outside these filters</small>" if hidden else ""
        return (
            f"<div style='max-width:380px'><b>Anomalies ({len(items)})</b>{more}"
            f"<ul>{''.join(items) or '<li>none for these filters</li>'}</ul></div>"
        )

    # -- drill-down ----------------------------------------------------------------------------
    def _on_click(self, trace, points, selector=None) -> None:
        if not points.point_inds:  # plotly calls every trace's handler; only the clicked one has points
            return
        try:
            i = points.point_inds[0]
            day = pd.Timestamp(trace.x[i]).date()
            what = trace.customdata[i][0] if trace.customdata is not None else None
            self.show_day(day, what)
        except Exception as exc:  # noqa: BLE001 - a widget callback has nowhere else to report
            self.drill_title.value = f"<p style='color:#C62828'>could not load that day: {esc(exc)}</p>"

    def _members_of(self, what) -> list[str] | None:
        """The values of the chart's dimension a segment stands for (None: the whole day)."""
        if what is None:
            return None
        if what == OTHER:
            return list(self._other_members)
        return [what] if isinstance(what, str) else list(what)

    def _tagged_daily(self, f: dict, tags: list[str]) -> pd.DataFrame:
        """Per day of the range: cost and requests of the requests carrying any of ``tags``
        under the filters ``f``, each request once (``date, cost_cents, requests``)."""
        per = self.current.filter(start=f["start"], end=f["end"], tags=list(tags)).daily("axis")
        return per.groupby("date", as_index=False)[["cost_cents", "requests"]].sum()

    def _segment(self, by: str, members: list[str] | None):
        """``(usage on the cube, requests, model=)`` for exactly the segment: the filters in force
        plus the segment's own values (a model segment keeps the ``model=`` argument of the day
        queries, which names compute and rows without a model as the chart does)."""
        if members is None or by == "model":
            return self.current, self.requests, members
        f = self._filters()
        seg = {BREAKDOWNS[by]: members}
        return (
            self.current.filter(start=f["start"], end=f["end"], **seg),
            self.requests.filter(start=f["start"], end=f["end"], **seg),
            None,
        )

    def _segment_label(self, by: str, what) -> str:
        """How a segment reads: its value, by name for keys and agents."""
        if what is None or what == OTHER or f"{by}_name" not in self.daily:
            return _segment_name(what, by)
        names = self.daily.loc[self.daily[by].astype(str) == str(what), f"{by}_name"].dropna()
        return str(names.iloc[0]) if len(names) and names.iloc[0] else charts.mask_key(str(what))

    def show_day(self, day: dt.date, what=None, page: int = 1) -> None:
        """Open the drill-down for one bar segment of ``day`` (filters in force apply).

        ``what`` is a value of the chart's breakdown (:attr:`by`, model unless chosen): a model
        (provider, key id, ...); ``"Other"`` (the values that segment groups); a compute label
        such as ``"compute (VM hours)"`` (VM hours per agent and plain VM); a list of values;
        None for the whole day.
        """
        self.busy.value = "<span>&#8987; loading requests...</span>"
        try:
            by = self.by.value
            members = self._members_of(what)
            self.drill = {"day": day, "what": what, "by": by}
            scope, self._drill_requests, self._drill_model = self._segment(by, members)
            by_model = scope.day_summary(day, model=self._drill_model)
            self.drill_keys = scope.day_summary(day, model=self._drill_model, by="key")
            # a segment of compute rows only (the compute label, or a provider the data names "compute")
            compute = members is not None and len(by_model) > 0 and set(by_model["model"]) == {COMPUTE_LABELS["model"]}
            self._drill_compute = compute
            self.drill_summary = scope.day_compute(day) if compute else by_model
            n = int(by_model["requests"].sum()) if len(by_model) else 0
            cost = float(by_model["cost_cents"].sum()) if len(by_model) else 0.0
            if compute:
                hours = float(self.drill_summary["hours"].sum()) if len(self.drill_summary) else 0.0
                label = members[0] if len(members) == 1 else f"Other ({len(members)} {by}s)"
                amount = f"{hours:,.1f} VM hours"
            elif what == OTHER:
                label, amount = f"Other ({len(members)} {by}s)", f"{n:,} requests"
            else:
                label, amount = self._segment_label(by, what), f"{n:,} requests"
            if by == "tag" and what == OTHER:
                amount += ", each request once"  # as the bar counts them (named tags count per tag)
            self.drill_title.value = f"<h4>{day:%a %d %b %Y} &middot; {esc(label)}: {amount}, {format_usd(cost)}</h4>"
            if compute:
                tables = render_table(
                    self.drill_summary,
                    [
                        ("vm", "agent or plain VM", "text"),
                        ("kind", "kind", "text"),
                        ("hours", "VM hours", "number"),
                        ("cost_cents", "cost", "money"),
                    ],
                    caption="per VM",
                )
            else:
                tables = render_table(
                    self.drill_summary,
                    [
                        ("model", "model", "text"),
                        ("provider", "provider", "text"),
                        ("requests", "requests", "int"),
                        ("cost_cents", "cost", "money"),
                    ],
                    caption="per model",
                )
                keys = self.drill_keys.assign(
                    key=[
                        n if isinstance(n, str) and n else charts.mask_key(k)
                        for n, k in zip(self.drill_keys["key_name"], self.drill_keys["key"])
                    ]
                )
                tables += render_table(
                    keys,
                    [("key", "key", "text"), ("requests", "requests", "int"), ("cost_cents", "cost", "money")],
                    caption="per key",
                )
            self.drill_table.value = f"<div style='display:flex;gap:24px;flex-wrap:wrap'>{tables}</div>"
            self.show_page(page)
        finally:
            self.busy.value = self._idle

    def show_page(self, page: int) -> None:
        """Show page ``page`` (1 = newest) of the open drill-down's request log."""
        if self.drill is None:
            return
        rows = self._drill_requests.day(self.drill["day"], model=self._drill_model, page=page, page_size=PAGE_SIZE)
        self.drill_rows = rows
        total, pages = rows.attrs["total_rows"], rows.attrs["pages"]
        self.drill["page"] = min(page, pages)
        first = (page - 1) * PAGE_SIZE + 1
        compute = self._drill_compute
        what = "hourly VM rows" if compute else "requests"
        self.page_label.value = (
            f"<small>{what} {first:,}\u2013{first + len(rows) - 1:,} of {total:,}, newest "
            f"first (page {page:,} of {pages:,})</small>"
            if len(rows)
            else f"<small>no {what} on this page ({total:,} in all)</small>"
        )
        self.newer.disabled = page <= 1
        self.older.disabled = page >= pages
        cols = (
            [
                ("ts", "time", "time"),
                ("agent_name", "agent", "text"),
                ("plain_vm_name", "plain VM", "text"),
                ("hours", "VM hours", "number"),
                ("cost_cents", "cost", "money"),
            ]
            if compute
            else [
                ("ts", "time", "time"),
                ("key_name", "key", "text"),
                ("model", "model", "text"),
                ("provider", "provider", "text"),
                ("input_tokens", "input tokens", "int"),
                ("output_tokens", "output tokens", "int"),
                ("cost_cents", "cost", "money"),
                ("status", "status", "text"),
            ]
        )
        if len(rows):
            rows = rows.assign(ts=pd.to_datetime(rows["ts"], utc=True).dt.tz_convert(self.usage.tz))
        cols[0] = ("ts", f"time ({self.usage.tz})", "time")
        self.log_table.value = render_table(rows, cols)

    def _turn(self, step: int) -> None:
        if self.drill is not None:
            self.show_page(self.drill.get("page", 1) + step)

    def _clear_drill(self) -> None:
        self.drill = None
        self.drill_summary = self.drill_keys = self.drill_rows = pd.DataFrame()
        self.drill_title.value = HINT
        self.drill_table.value = self.log_table.value = self.page_label.value = ""
        self.newer.disabled = self.older.disabled = True

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


def _segment_name(what, by: str = "model") -> str:
    if what is None:
        return f"all {by}s"
    return what if isinstance(what, str) else ", ".join(what)


def render_table(df: pd.DataFrame, columns, caption: str | None = None) -> str:
    """``df`` through the shared HTML table (:func:`usagekit.tables.html_table`); ``columns``
    is ``(column, header, kind)`` with kind ``money`` (cents shown as dollars), ``int``,
    ``number``, ``time`` or ``text``."""
    return html_table(
        df,
        {c: h for c, h, _ in columns},
        kinds={c: k for c, _, k in columns},
        caption=caption,
        empty=f"no rows{' (' + caption + ')' if caption else ''}",
        table_class="uk-drill",
    )


def explore(usage: Usage, month: str | None = None, detect_anomalies: bool = True) -> Explorer:
    """The usage dashboard for ``usage`` as widgets.

    ``month`` defaults to the usage's scoped month, else :func:`usagekit.months.default_month`
    (the current month, or the latest with data), and the dashboard says which.

    >>> usagekit.explore(usagekit.load("demo/2026-10"), month="2026-10")   # doctest: +SKIP
    """
    return Explorer(usage, month=month, detect_anomalies=detect_anomalies)
