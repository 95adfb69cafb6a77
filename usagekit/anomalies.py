"""Findings: leaked-key spikes, keys heading for their cap, runaway days. Explained.

:func:`detect` looks at each key's daily spend (in the report time zone) and returns one row
per finding. Statistics are robust (medians, MAD, trimmed run rates) so weekends, a key's
first days and cent-level noise do not alert. Detection is causal: with ``as_of`` only data
before that moment is read, so a scheduled mid-month run and a replay of history agree.

The three kinds, and what to do about each:

``spike``
    a day far above the key's own recent baseline, on a key with enough history. A quiet
    key that suddenly spends is the classic sign of a leaked token: rotate it.
``cap``
    month-to-date spend plus the recent run rate projects past the key's monthly cap (or
    the cap is already passed): raise the cap or find the agent consuming it.
``runaway``
    a single day carrying most of a key's month while its other days are near zero:
    usually a script in a loop; that day's request log shows the model and request count.
``unpriced``
    (info) a key has usage the source did not price: its spend is understated.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, fields
from zoneinfo import ZoneInfo

import narwhals as nw
import numpy as np
import pandas as pd

from . import queries as q
from .errors import UsagekitError
from .money import format_usd
from .usage import month_range

KINDS = ("spike", "cap", "runaway", "unpriced")
COLUMNS = ["kind", "severity", "account_id", "key_id", "key_name", "day", "observed_cents", "baseline_cents",
           "score", "explanation", "action", "model", "agent", "requests", "projected_cap_date", "series"]


@dataclass(frozen=True)
class Thresholds:
    """Every knob of :func:`detect`, with its meaning. Pass any as a keyword to override."""

    lookback_days: int = 28  # days of history before the month read for baselines
    min_history_days: int = 7  # a key must be this old (first spend or created_at) before a spike can count
    spike_ratio: float = 5.0  # observed / baseline (the larger of the median and the recent mean, floored)
    recent_days: int = 3  # days whose mean also serves as baseline, so a steady ramp is not a spike
    spike_z: float = 6.0  # robust z: (observed - median) / (1.4826 * MAD), scale floored
    min_impact_cents: float = 100.0  # excess over baseline below this never alerts (cent-level noise)
    quiet_cents: float = 1.0  # a day below this counts as a zero day
    runaway_share: float = 0.6  # the day carries at least this share of the key's month so far
    runaway_quiet_share: float = 0.7  # ...and at least this share of its trailing lookback days were zero days
    rate_window: int = 7  # days of the trimmed run rate (largest day dropped) for cap projections
    cap_levels: tuple = (0.8, 0.9, 1.0)  # month-to-date shares of the cap reported as info / warning / critical

    @classmethod
    def with_overrides(cls, **overrides) -> "Thresholds":
        names = {f.name for f in fields(cls)}
        bad = sorted(set(overrides) - names)
        if bad:
            raise UsagekitError(f"unknown threshold '{bad[0]}'; expected one of: {', '.join(sorted(names))}")
        return cls(**overrides)


def _as_of(as_of, month_end_utc: pd.Timestamp) -> pd.Timestamp:
    if as_of is None:
        return min(pd.Timestamp.now(tz="UTC"), month_end_utc)
    ts = pd.Timestamp(as_of)
    if ts.tzinfo is None and len(str(as_of)) <= 10:  # a bare date means the end of that day
        ts = ts + pd.Timedelta(days=1)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return min(ts, month_end_utc)


def detect(usage, month: str | None = None, as_of=None, **thresholds) -> pd.DataFrame:
    """Find anomalies in one month of ``usage``; one row per finding.

    Columns: ``kind, severity, account_id, key_id, key_name, day`` (first anomalous day),
    ``observed_cents, baseline_cents, score, explanation, action, model, agent, requests,
    projected_cap_date, series`` (the key's daily spend as a pandas Series, for a chart).
    ``as_of`` (timestamp, or a date meaning the end of that day) limits the data read.

    >>> findings = usagekit.detect(usage, month="2026-10")          # doctest: +SKIP
    >>> findings[["kind", "key_name", "day", "explanation"]]         # doctest: +SKIP
    """
    th = Thresholds.with_overrides(**thresholds)
    zone = ZoneInfo(usage.tz)
    if month is None:
        month = f"{usage.scope.start:%Y-%m}" if usage.scope.start else dt.datetime.now(zone).strftime("%Y-%m")
    first, after = month_range(month)
    month_end_utc = pd.Timestamp(dt.datetime.combine(after, dt.time(), zone)).tz_convert("UTC")
    cutoff = _as_of(as_of, month_end_utc)
    month_start_utc = pd.Timestamp(dt.datetime.combine(first, dt.time(), zone)).tz_convert("UTC")
    if cutoff <= month_start_utc:
        return _empty()
    last_day = (cutoff - pd.Timedelta(microseconds=1)).tz_convert(usage.tz).date()

    hist_start = first - dt.timedelta(days=th.lookback_days)
    frame = _window(usage, hist_start, last_day, cutoff)
    per = q.per_key_day(frame)
    if per.empty:
        return _empty()
    days = list(range(q.day_number(hist_start), q.day_number(last_day) + 1))
    matrix = per.pivot_table(index="key_id", columns="_day", values="cost_cents", aggfunc="sum").reindex(
        columns=days, fill_value=0.0).fillna(0.0)
    meta = _key_meta(usage, frame)
    month_cols = [d for d in days if d >= q.day_number(first)]
    ctx = _Context(usage, frame, th, meta, first, after, last_day, cutoff)

    findings: list[dict] = []
    for key_id, row in matrix.iterrows():
        series = row.astype(float)
        findings += ctx.spikes_and_runaways(key_id, series, month_cols)
        findings += ctx.cap(key_id, series, month_cols)
    findings += ctx.unpriced()
    if not findings:
        return _empty()
    out = pd.DataFrame(findings)[COLUMNS]
    order = {"critical": 0, "warning": 1, "info": 2}
    out = out.sort_values(["severity", "day", "key_id"], key=lambda s: s.map(order) if s.name == "severity" else s)
    out = out.reset_index(drop=True)
    out.attrs.update(month=month, as_of=cutoff, tz=usage.tz, thresholds=asdict(th))
    return out


def _window(usage, first: dt.date, last: dt.date, cutoff: pd.Timestamp):
    """The cube from ``first`` through ``last`` (days in the usage's zone), nothing at or after
    ``cutoff``, with the account / key filters the caller applied (its range is replaced).

    Whole days come from the cube; a cut-off inside the last day re-aggregates that day's
    rows before it (one day of rows, read with the day pushed into the scan).
    """
    from .usage import Scope
    scoped = usage._child(Scope(None, None, usage.scope.filters))
    lo, hi = q.day_number(first), q.day_number(last)
    if cutoff >= pd.Timestamp(q.day_start_utc(hi + 1, usage.tz)):
        return q.restrict(scoped.cube, start_day=lo, end_day=hi + 1)
    whole = q.restrict(scoped.cube, start_day=lo, end_day=hi)
    last_day = usage._child(Scope(q.day_date(hi), q.day_date(hi + 1), usage.scope.filters))
    rows = last_day.frame.filter(nw.col("ts") < cutoff.to_pydatetime())
    schema = whole.collect_schema()
    part = q.cube(rows).select([nw.col(c).cast(t) for c, t in schema.items()])
    return nw.concat([whole, part], how="vertical")


def _empty() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS})


def _key_meta(usage, frame) -> pd.DataFrame:
    names = q.to_pandas(frame.filter(~nw.col("key_id").is_null()).group_by("key_id").agg(
        nw.col("key_name").max().alias("key_name_d"), nw.col("account_id").max().alias("account_id_d")))
    reg = usage.keys
    meta = names.merge(reg, on="key_id", how="outer") if len(reg) else names.assign(
        key_name=None, account_id=None, spend_cap_cents=np.nan, created_at=pd.NaT)
    meta["key_name"] = meta["key_name"].fillna(meta["key_name_d"]) if "key_name_d" in meta else meta["key_name"]
    meta["account_id"] = meta["account_id"].fillna(meta["account_id_d"]) if "account_id_d" in meta else meta[
        "account_id"]
    return meta.set_index("key_id")


class _Context:
    def __init__(self, usage, frame, th: Thresholds, meta, first, after, last_day, cutoff):
        self.usage, self.frame, self.th, self.meta = usage, frame, th, meta
        self.first, self.after, self.last_day, self.cutoff = first, after, last_day, cutoff

    # -- helpers ------------------------------------------------------------------------
    def _meta(self, key_id, col):
        if key_id in self.meta.index and col in self.meta.columns:
            v = self.meta.at[key_id, col]
            return None if (v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NaT) else v
        return None

    def _series_out(self, series: pd.Series) -> pd.Series:
        out = series.copy()
        out.index = [q.day_date(d) for d in out.index]
        return out

    def _day_detail(self, key_id, day: int) -> dict:
        rows = q.restrict(self.frame, start_day=day, end_day=day + 1).filter(nw.col("key_id") == key_id)
        by_model = q.finish_money(q.to_pandas(rows.group_by(nw.col("model").fill_null(q.NONE_LABEL).alias("model"))
                                              .agg(*q.money_aggs(), nw.col("requests").sum().alias("requests"))))
        by_agent = q.finish_money(q.to_pandas(rows.group_by(
            nw.col("agent_name").fill_null(nw.col("agent_id")).fill_null(q.NONE_LABEL).alias("agent")).agg(
            *q.money_aggs())))
        by_model = by_model.sort_values("cost_cents", ascending=False)
        total = by_model["cost_cents"].sum()
        top = by_model.head(2)
        models = [f"{m} ({c / total:.0%})" if total else str(m) for m, c in zip(top["model"], top["cost_cents"])]
        agent = by_agent.sort_values("cost_cents", ascending=False)["agent"].iloc[0] if len(by_agent) else None
        return {"models": models, "model": top["model"].iloc[0] if len(top) else None,
                "requests": int(pd.to_numeric(by_model["requests"]).sum()), "agent": agent}

    def _first_seen(self, key_id, series: pd.Series):
        active = series[series > 0]
        seen = active.index.min() if len(active) else None
        created = self._meta(key_id, "created_at")
        if created is not None:
            c = q.day_number(pd.Timestamp(created).tz_convert(self.usage.tz).date())
            seen = c if seen is None else min(seen, c)
        return seen

    def _base(self, key_id, kind, severity, day, observed, baseline, score, explanation, action, detail,
              series, projected_cap_date=None) -> dict:
        return {"kind": kind, "severity": severity, "account_id": self._meta(key_id, "account_id"),
                "key_id": key_id, "key_name": self._meta(key_id, "key_name") or key_id, "day": q.day_date(day),
                "observed_cents": float(observed), "baseline_cents": float(baseline), "score": float(score),
                "explanation": explanation, "action": action, "model": detail.get("model"),
                "agent": detail.get("agent"), "requests": detail.get("requests"),
                "projected_cap_date": projected_cap_date, "series": self._series_out(series)}

    # -- spike and runaway ------------------------------------------------------------------
    def spikes_and_runaways(self, key_id, series: pd.Series, month_cols) -> list[dict]:
        th = self.th
        first_seen = self._first_seen(key_id, series)
        out, in_run = [], False
        values = series.to_dict()
        for d in month_cols:
            obs = values[d]
            hist = np.array([values[x] for x in range(d - th.lookback_days, d) if x in values])
            med = float(np.median(hist)) if len(hist) else 0.0
            mad = float(np.median(np.abs(hist - med))) if len(hist) else 0.0
            scale = max(1.4826 * mad, 0.1 * med, th.quiet_cents)
            z = (obs - med) / scale
            # sudden, not a ramp: compare with the last few days too, not only the (lagging) median
            recent = [values[x] for x in range(d - th.recent_days, d) if x in values]
            base = max(med, float(np.mean(recent)) if recent else 0.0)
            ratio = obs / max(base, th.quiet_cents)
            big = obs - base >= th.min_impact_cents and ratio >= th.spike_ratio and z >= th.spike_z
            if not big:
                in_run = False
                continue
            if in_run:
                continue  # one finding per run of anomalous days: its first day
            in_run = True
            aged = first_seen is not None and d - first_seen >= th.min_history_days
            if not aged:
                continue  # a key's first days have no baseline to be anomalous against
            # only days up to d: a replay of the month judges d exactly as a run on that night did
            mtd = sum(values[x] for x in month_cols if x <= d)
            share = obs / mtd if mtd > 0 else 0.0
            quiet = float((hist < th.quiet_cents).mean()) if len(hist) else 1.0
            detail = self._day_detail(key_id, d)
            models = ", ".join(detail["models"]) or "no model"
            agent = f", agent {detail['agent']}" if detail["agent"] and detail["agent"] != q.NONE_LABEL else ""
            if share >= th.runaway_share and quiet >= th.runaway_quiet_share:
                text = (f"{format_usd(obs)} on {q.day_date(d)}: {share:.0%} of the key's month so far, while "
                        f"{quiet:.0%} of its other days were near zero; {detail['requests']:,} requests, "
                        f"mostly {models}{agent}.")
                action = (f"Likely a runaway script: open the request log of {q.day_date(d)} for "
                          f"{detail['model']} ({detail['requests']:,} requests) and stop the caller.")
                sev = "critical" if obs >= 10 * th.min_impact_cents else "warning"
                out.append(self._base(key_id, "runaway", sev, d, obs, med, share, text, action, detail, series))
            else:
                quiet_key = med < 10 * th.quiet_cents or ratio >= 20
                text = (f"{format_usd(obs)} on {q.day_date(d)} against a usual {format_usd(med)} a day "
                        f"({ratio:,.0f}x, robust z {min(z, 9999):,.0f}){' on a previously quiet key' if quiet_key else ''}; "
                        f"{detail['requests']:,} requests, mostly {models}{agent}.")
                action = ("Possible leaked key: rotate it now, then check the day's request log for callers "
                          "and models you do not recognise.")
                sev = "critical" if quiet_key or ratio >= 20 else "warning"
                out.append(self._base(key_id, "spike", sev, d, obs, med, min(z, 1e6), text, action, detail, series))
        return out

    @property
    def last_day_n(self) -> int:
        return q.day_number(self.last_day)

    # -- cap ----------------------------------------------------------------------------------
    def cap(self, key_id, series: pd.Series, month_cols) -> list[dict]:
        th = self.th
        cap = self._meta(key_id, "spend_cap_cents")
        if cap is None or cap <= 0:
            return []
        values = series.to_dict()
        end_n = q.day_number(self.after)
        mtd = 0.0
        hit = None
        last = None
        for d in month_cols:
            mtd += values[d]
            window = sorted((values[x] for x in range(d - th.rate_window + 1, d + 1) if x in values), reverse=True)
            if len(window) < 3:
                continue
            rate = float(np.mean(window[1:]))  # drop the largest day: one spike must not project a month
            projected = mtd + rate * (end_n - d - 1)
            alarming = (projected >= cap or mtd >= th.cap_levels[0] * cap) and \
                max(mtd, projected) >= th.min_impact_cents
            # the finding dates from the start of the current run of alarming days
            hit = (hit if hit is not None else d) if alarming else None
            last = (d, mtd, rate, projected)
        if hit is None:
            return []
        d_last, mtd, rate, projected = last
        if mtd >= cap:
            cross = q.day_date(next(d for d, c in zip(month_cols, np.cumsum([values[x] for x in month_cols]))
                                    if c >= cap))
            sev, state = "critical", "is over its cap"
        else:
            cross = q.day_date(d_last + int(np.ceil((cap - mtd) / rate))) if rate > 0 and projected >= cap else None
            sev = "warning" if projected >= cap or mtd >= th.cap_levels[1] * cap else "info"
            state = "is heading for its cap" if projected >= cap else f"has used {mtd / cap:.0%} of its cap"
        detail = self._month_detail(key_id)
        agent = f" {detail['agent']} is consuming most of it." if detail["agent"] else ""
        text = (f"Key {state}: {format_usd(mtd)} of {format_usd(cap)} ({mtd / cap:.0%}) by {q.day_date(d_last)}; "
                f"at {format_usd(rate)} a day it reaches {format_usd(projected)} ({projected / cap:.0%}) by month end"
                f"{f', crossing on {cross}' if cross else ''}.{agent} Top model: {detail['model']}.")
        if detail["agent"]:
            action = (f"Raise the cap if this growth is expected, or slow down agent {detail['agent']}, which made "
                      f"most of this key's spend this month.")
        else:
            action = (f"Raise the cap if this growth is expected. No agent is recorded on this key's requests: "
                      f"find the caller in the request log (top model {detail['model']}).")
        return [self._base(key_id, "cap", sev, hit, projected, cap, projected / cap, text, action, detail, series,
                           projected_cap_date=cross)]

    def _month_detail(self, key_id) -> dict:
        rows = q.restrict(self.frame, start_day=q.day_number(self.first), end_day=q.day_number(self.after)).filter(
            nw.col("key_id") == key_id)
        by_agent = q.finish_money(q.to_pandas(rows.group_by(
            nw.col("agent_name").fill_null(nw.col("agent_id")).alias("agent")).agg(*q.money_aggs())))
        by_model = q.finish_money(q.to_pandas(rows.group_by("model").agg(
            *q.money_aggs(), nw.col("requests").sum().alias("requests"))))
        agent = by_agent.dropna(subset=["agent"]).sort_values("cost_cents", ascending=False)["agent"]
        model = by_model.sort_values("cost_cents", ascending=False)["model"]
        return {"agent": agent.iloc[0] if len(agent) else None, "model": model.iloc[0] if len(model) else None,
                "requests": int(pd.to_numeric(by_model["requests"]).sum()) if len(by_model) else 0}

    # -- unpriced ---------------------------------------------------------------------------
    def unpriced(self) -> list[dict]:
        rows = q.restrict(self.frame, start_day=q.day_number(self.first), end_day=q.day_number(self.after))
        res = q.to_pandas(rows.filter(nw.col("cost_cents").is_null()).group_by(
            nw.col("key_id").fill_null(q.NONE_LABEL).alias("key_id")).agg(
            nw.col("_day").min().alias("day"), nw.col("requests").sum().alias("requests"),
            nw.col("model").max().alias("model"), nw.col("_rows").sum().alias("rows")))
        out = []
        for r in res.itertuples():
            text = (f"{int(r.rows):,} rows ({int(r.requests or 0):,} requests, e.g. model {r.model}) have usage "
                    "but no cost: this key's spend is understated.")
            out.append({"kind": "unpriced", "severity": "info", "account_id": self._meta(r.key_id, "account_id"),
                        "key_id": r.key_id, "key_name": self._meta(r.key_id, "key_name") or r.key_id,
                        "day": q.day_date(r.day), "observed_cents": 0.0, "baseline_cents": 0.0,
                        "score": float(r.rows), "explanation": text,
                        "action": "Add a price for the model at the source (gateway price map) and reload.",
                        "model": r.model, "agent": None, "requests": int(r.requests or 0),
                        "projected_cap_date": None, "series": None})
        return out
