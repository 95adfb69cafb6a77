"""Findings: leaked keys, runaway scripts, keys heading for their cap. Explained in plain words.

:func:`detect` judges each key's daily spend (days in the report time zone) against a baseline
made of how that key really behaves, and returns one row per finding. Detection is causal: with
``as_of`` only data before that moment is read, so a scheduled mid-month run and a replay of
history agree.

How a day is judged (see :class:`Thresholds` for every number):

* **Coverage.** Days before the first loaded event, and before a key exists (its ``created_at``,
  or its first event when the registry does not say), are unknown, not zero days. A key with too
  little known history is not judged; one ``info`` finding says how many keys that is.
* **Baseline.** How often the key is active is kept apart from what an active day costs: the
  level is the median log spend of its *active* days over the lookback (two months when loaded),
  weekends offset from weekdays, with a robust trend (so steady growth is expected) and the level
  of its last few active days (so a step such as a model migration is absorbed within days).
  Days already found anomalous are left out of the baseline.
* **Score.** log(day / expected day) over the key's own day-to-day log spread (1.4826 x MAD,
  floored): a 3x day on a steady key stands out, a 2x day on a key whose days vary 2x does not.
  A finding also needs the day to be ``min_ratio`` times its expected level and ``min_impact_cents``
  above it: cent-level noise never alerts.
* **Recurring jobs.** A day whose day-of-month carried a similar amount in earlier loaded months
  (a job on the 1st) is judged against those days instead.

The kinds, and what to do about each:

``spike``
    a key's spend jumps far above its baseline (often on a new or pricier model) and, for a
    leaked key, stays up: rotate the key.
``runaway``
    after several idle days, one day of many times a typical active day, concentrated on one
    model: a script in a loop; the day's request log names it. On its first day a runaway and
    a leak can look the same: the explanation says so, and the next day's spend decides (a leak
    stays high; the finding then becomes a ``spike``).
``cap``
    the key's budget window (:func:`usagekit.periods.budget_window`) is projected past its cap by
    :func:`usagekit.forecast.forecast_key` (or is past it): raise the cap or find the consumer.
``cap_unknown``
    (warning) the key's registry row was rejected, so its cap is unknown.
``unpriced``, ``history``
    (info) usage the source did not price; keys with too little history to judge.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import asdict, dataclass, fields
from zoneinfo import ZoneInfo

import narwhals as nw
import numpy as np
import pandas as pd

from . import queries as q
from .errors import UsagekitError
from .forecast import forecast_key, median, money_words, run_rate_arrays
from .periods import budget_window
from .usage import month_range

KINDS = ("spike", "runaway", "cap", "cap_unknown", "unpriced", "history")
COLUMNS = [
    "kind",
    "severity",
    "account_id",
    "key_id",
    "key_name",
    "day",
    "observed_cents",
    "baseline_cents",
    "score",
    "explanation",
    "action",
    "model",
    "agent",
    "requests",
    "projected_cap_date",
    "series",
    "impact_cents",
    "last_day",
]


@dataclass(frozen=True)
class Thresholds:
    """Every knob of :func:`detect`, with its meaning. Pass any as a keyword to override."""

    lookback_days: int = 62  # days of history read for a day's baseline (two months when loaded)
    min_history_days: int = 7  # known days a key needs before a day of it can be judged
    min_active_days: int = 2  # ...and active days among them
    alert_z: float = 5.0  # log(day / expected) must exceed this many of the key's spreads
    continue_z: float = 3.0  # a following day this far above the (pre-incident) baseline continues it
    min_spread: float = 0.15  # floor of the key's day-to-day log spread (a flat key is not infinitely sensitive)
    prior_spread: float = 0.35  # a typical day-to-day log spread (real keys: 0.1-0.6) ...
    prior_days: int = 6  # ... pooled with the key's own as if seen on this many days
    weekend_prior: float = 0.3  # a key never seen spending on weekends: a weekend day is expected at this share
    extreme_ratio: float = 20.0  # a day this many times its expected level alerts whatever the spread
    min_ratio: float = 2.0  # the day is at least this many times its expected level
    min_impact_cents: float = 100.0  # and at least this much above it ($1): cent-level noise never alerts
    recent_active_days: int = 5  # the level of the last few active days also counts as expected
    job_min_ratio: float = 3.0  # an earlier same day-of-month this many times the usual level is a recurring job
    job_spread: float = 0.35  # spread assumed between months of a recurring job
    runaway_gap_days: int = 3  # a runaway follows at least this many known idle days
    idle_cents: float = 1.0  # a day under this counts as idle before a runaway
    runaway_ratio: float = 20.0  # and is at least this many times a typical active day
    runaway_model_share: float = 0.8  # and its top model carries at least this share of the day

    @classmethod
    def with_overrides(cls, **overrides) -> Thresholds:
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

    Columns: ``kind, severity, account_id, key_id, key_name, day`` (first anomalous day; for
    ``cap`` the day the warning went up), ``observed_cents, baseline_cents`` (the expected day;
    for ``cap`` the cap), ``score, explanation, action, model, agent, requests,
    projected_cap_date, series`` (the key's daily spend, for a chart), ``impact_cents`` (spend
    above expected over the incident), ``last_day`` (the incident's last day so far).
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

    hist_start = first - dt.timedelta(days=max(th.lookback_days, 92))  # 3 earlier months for recurring jobs
    frame = _window(usage, hist_start, last_day, cutoff)
    per = q.per_key_day(frame)
    ctx = _Context(usage, frame, th, _key_meta(usage, frame), first, after, last_day, cutoff, month)
    findings: list[dict] = []
    if not per.empty:
        days = list(range(q.day_number(hist_start), q.day_number(last_day) + 1))
        matrix = (
            per.pivot_table(index="key_id", columns="_day", values="cost_cents", aggfunc="sum")
            .reindex(columns=days, fill_value=0.0)
            .fillna(0.0)
        )
        for key_id, row in matrix.iterrows():
            findings += ctx.judge_key(key_id, row.to_numpy(dtype=float), days)
        findings += ctx.history_note()
    findings += ctx.caps(per)
    findings += ctx.unpriced()
    findings += ctx.cap_unknown()
    if not findings:
        return _empty()
    out = pd.DataFrame(findings)[COLUMNS]
    order = {"critical": 0, "warning": 1, "info": 2}
    out = out.sort_values(
        ["severity", "day", "key_id"], key=lambda s: s.map(order) if s.name == "severity" else s.astype(str)
    )
    out = out.reset_index(drop=True)
    out.attrs.update(month=month, as_of=cutoff, tz=usage.tz, thresholds=asdict(th))
    return out


def _window(usage, first: dt.date, last: dt.date, cutoff: pd.Timestamp):
    """The cube from ``first`` through ``last`` (days in the usage's zone), nothing at or after
    ``cutoff``, with the account / key filters the caller applied (its range is replaced).

    Whole days come from the cube; a cut-off inside the last day re-aggregates that day's
    rows before it (one day of rows, read with the day pushed into the scan).
    """
    scoped = usage.over(None, None)
    lo, hi = q.day_number(first), q.day_number(last)
    if cutoff >= pd.Timestamp(q.day_start_utc(hi + 1, usage.tz)):
        return q.restrict(scoped.cube, start_day=lo, end_day=hi + 1)
    whole = q.restrict(scoped.cube, start_day=lo, end_day=hi)
    last_day = usage.over(q.day_date(hi), q.day_date(hi + 1))
    rows = last_day.frame.filter(nw.col("ts") < cutoff.to_pydatetime())
    schema = whole.collect_schema()
    part = q.cube(rows).select([nw.col(c).cast(t) for c, t in schema.items()])
    return nw.concat([whole, part], how="vertical")


def _empty() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS})


def _key_meta(usage, frame) -> pd.DataFrame:
    names = q.to_pandas(
        frame.filter(~nw.col("key_id").is_null())
        .group_by("key_id")
        .agg(nw.col("key_name").max().alias("key_name_d"), nw.col("account_id").max().alias("account_id_d"))
    )
    reg = usage.keys
    meta = (
        names.merge(reg, on="key_id", how="outer")
        if len(reg)
        else names.assign(key_name=None, account_id=None, spend_cap_cents=np.nan, created_at=pd.NaT)
    )
    meta["key_name"] = meta["key_name"].fillna(meta["key_name_d"]) if "key_name_d" in meta else meta["key_name"]
    meta["account_id"] = (
        meta["account_id"].fillna(meta["account_id_d"]) if "account_id_d" in meta else meta["account_id"]
    )
    return meta.drop_duplicates("key_id").set_index("key_id")


def _data_start(usage) -> dt.date | None:
    """The local day of the first loaded event (any key, any account): days before it are unknown."""
    first = usage.load_report.first_ts
    if first is None:
        return None
    t = pd.Timestamp(first)
    t = t.tz_localize("UTC") if t.tzinfo is None else t
    return t.tz_convert(usage.tz).date()


@dataclass
class _Episode:
    start: int  # index into the key's day array
    expected: float  # cents: the expected (median) level of the first day
    spread: float
    ratio: float
    z: float
    gap: int  # known idle days right before
    basis: str  # what the expected day is ("weekday", "weekend day", "1st of the month")
    days: int = 1
    total: float = 0.0
    excess: float = 0.0


def _ratio_words(r: float) -> str:
    if r >= 10:
        return f"about {float(f'{r:.2g}'):,.0f} times"
    return f"about {r:.1f} times"


class _Context:
    def __init__(self, usage, frame, th: Thresholds, meta, first, after, last_day, cutoff, month):
        self.usage, self.frame, self.th, self.meta = usage, frame, th, meta
        self.first, self.after, self.last_day, self.cutoff, self.month = first, after, last_day, cutoff, month
        self.data_start = _data_start(usage)
        self.unjudged: dict[str, dt.date] = {}  # key -> first month day with spend that could not be judged

    # -- helpers ------------------------------------------------------------------------
    def _meta(self, key_id, col):
        if key_id in self.meta.index and col in self.meta.columns:
            v = self.meta.at[key_id, col]
            return None if v is None or v is pd.NaT or (not isinstance(v, str) and pd.isna(v)) else v
        return None

    def _known_start(self, key_id, vals: np.ndarray, days: list[int]) -> int:
        """Index of the key's first known day: its creation, else its first event; never before the data."""
        lo = q.day_number(self.data_start) if self.data_start else days[0]
        created = self._meta(key_id, "created_at")
        if created is not None:
            start = q.day_number(pd.Timestamp(created).tz_convert(self.usage.tz).date())
        else:
            active = np.nonzero(vals > 0)[0]
            start = days[active[0]] if len(active) else days[-1] + 1
        return max(start, lo, days[0]) - days[0]

    def _series_out(self, vals: np.ndarray, days: list[int], lo: int) -> pd.Series:
        keep = [i for i, d in enumerate(days) if d >= lo]
        return pd.Series(vals[keep], index=[q.day_date(days[i]) for i in keep], dtype=float)

    def _day_detail(self, key_id, day: int) -> dict:
        rows = q.restrict(self.frame, start_day=day, end_day=day + 1).filter(nw.col("key_id") == key_id)
        by_model = q.finish_money(
            q.to_pandas(
                rows.group_by(nw.col("model").fill_null(q.NONE_LABEL).alias("model")).agg(
                    *q.money_aggs(), nw.col("requests").sum().alias("requests")
                )
            )
        )
        by_agent = q.finish_money(
            q.to_pandas(
                rows.group_by(
                    nw.col("agent_name").fill_null(nw.col("agent_id")).fill_null(q.NONE_LABEL).alias("agent")
                ).agg(*q.money_aggs())
            )
        )
        by_model = by_model.sort_values("cost_cents", ascending=False)
        total = by_model["cost_cents"].sum()
        top = by_model.head(2)
        models = [
            f"{m} ({c / total:.0%})" if total else str(m)
            for m, c in zip(top["model"], top["cost_cents"])
            if not total or c / total >= 0.01
        ]
        agent = by_agent.sort_values("cost_cents", ascending=False)["agent"].iloc[0] if len(by_agent) else None
        share = float(top["cost_cents"].iloc[0] / total) if len(top) and total else 0.0
        return {
            "models": models,
            "model": top["model"].iloc[0] if len(top) else None,
            "model_share": share,
            "requests": int(pd.to_numeric(by_model["requests"]).sum()),
            "agent": agent,
        }

    def _models_before(self, key_id, start: int, day: int) -> set:
        rows = q.restrict(self.frame, start_day=start, end_day=day).filter(nw.col("key_id") == key_id)
        res = q.to_pandas(rows.select(nw.col("model").fill_null(q.NONE_LABEL)).unique())
        return set(res["model"])

    def _row(
        self,
        key_id,
        kind,
        severity,
        day,
        observed,
        baseline,
        score,
        explanation,
        action,
        detail,
        series,
        projected_cap_date=None,
        impact=0.0,
        last=None,
    ) -> dict:
        return {
            "kind": kind,
            "severity": severity,
            "account_id": self._meta(key_id, "account_id"),
            "key_id": key_id,
            "key_name": self._meta(key_id, "key_name") or key_id,
            "day": day,
            "observed_cents": float(observed),
            "baseline_cents": float(baseline),
            "score": float(score),
            "explanation": explanation,
            "action": action,
            "model": detail.get("model"),
            "agent": detail.get("agent"),
            "requests": detail.get("requests"),
            "projected_cap_date": projected_cap_date,
            "series": series,
            "impact_cents": float(impact),
            "last_day": last or day,
        }

    # -- judging one key's days -------------------------------------------------------------
    def _expect(self, vals, weekend, known_from: int, i: int, flagged: np.ndarray, days: list[int]):
        """(expected cents, spread, basis) for day ``i``, or None when it cannot be judged."""
        th = self.th
        lo = max(known_from, i - th.lookback_days)
        hist = vals[lo:i].copy()
        hist[flagged[lo:i]] = np.nan
        known = ~np.isnan(hist)
        n_known = int(known.sum())
        day = q.day_date(days[i])
        jobs = None
        prior = self._recurring(vals, flagged, known_from, i, days)
        if prior:  # earlier same day-of-month days count as a job when they stand above the key's other days
            other = known & (hist > 0) & (self._dom[lo:i] != day.day)
            usual = median(hist[other]) if other.any() else 0.0
            big = [v for v in prior if v >= self.th.job_min_ratio * usual]
            jobs = float(np.exp(median(np.log(big)))) if big else None
        act_mask = known & (hist > 0)
        n_active = int(act_mask.sum())
        base = None
        if n_known >= th.min_history_days and n_active >= th.min_active_days:
            we = day.weekday() >= 5
            wk = weekend[lo:i]
            act, act_we = hist[act_mask], wk[act_mask]
            if n_active >= 5:
                rr = run_rate_arrays(hist, wk, q.day_date(days[i - 1]))
                offset = rr.weekend_offset
                adj = np.log(act) - np.where(act_we, offset, 0.0)
                recent = median(adj[-th.recent_active_days :])
                level = max(rr.level + rr.slope, recent)
                raw = rr.raw_spread
            else:  # a few active days: their median
                offset, logs = 0.0, np.log(act)
                level = median(logs)
                raw = 1.4826 * median(np.abs(logs - level)) if n_active >= 3 else 0.0
            # a few days' MAD is often far too small: pool it with a typical spread worth `prior_days` days
            spread = max(
                math.sqrt((n_active * raw**2 + th.prior_days * th.prior_spread**2) / (n_active + th.prior_days)),
                th.min_spread,
            )
            basis = "weekend day" if we and offset else "active day"
            if we and not act_we.any() and int((wk & known).sum()) >= 4:
                offset = math.log(th.weekend_prior)  # never active on weekends: a weekend day is expected small
                basis = "weekend day (it usually spends nothing on weekends)"
            base = (math.exp(level + (offset if we else 0.0)), spread, basis)
        if jobs is not None and (base is None or jobs >= th.job_min_ratio * base[0]):
            spread = max(base[1] if base else 0.0, th.job_spread)
            return jobs, spread, f"{day.day}{_ordinal(day.day)} of the month (a recurring job)"
        return base

    def _recurring(self, vals, flagged, known_from, i, days) -> list[float]:
        """Spend of the same day-of-month in up to three earlier loaded months (days with spend)."""
        day = q.day_date(days[i])
        out = []
        for back in (1, 2, 3):
            m = (day.month - 1 - back) % 12 + 1
            y = day.year + (day.month - 1 - back) // 12
            try:
                same = dt.date(y, m, day.day)
            except ValueError:
                continue
            j = q.day_number(same) - days[0]
            if known_from <= j < i and vals[j] > 0 and not flagged[j]:
                out.append(vals[j])
        return out

    def judge_key(self, key_id, vals: np.ndarray, days: list[int]) -> list[dict]:
        th = self.th
        known_from = self._known_start(key_id, vals, days)
        weekend = np.array([q.day_date(d).weekday() >= 5 for d in days], dtype=bool)
        self._dom = np.array([q.day_date(d).day for d in days])
        flagged = np.zeros(len(vals), dtype=bool)
        month_lo = q.day_number(self.first) - days[0]
        episodes: list[_Episode] = []
        cur: _Episode | None = None
        for i in range(max(month_lo, known_from), len(vals)):
            x = vals[i]
            if x <= 0:
                cur = None
                continue
            if cur is None and x < th.min_impact_cents:
                continue  # under the dollar floor a day cannot start an incident: not worth a baseline
            exp = self._expect(vals, weekend, known_from, i, flagged, days)
            if exp is None:
                self.unjudged.setdefault(key_id, q.day_date(days[i]))
                cur = None
                continue
            expected, spread, basis = exp
            if cur is not None:  # inside an incident: judged against the baseline from before it
                expected, spread = cur.expected, cur.spread
            z = (math.log(x) - math.log(expected)) / spread
            ratio, excess = x / expected, x - expected
            if cur is not None and z >= th.continue_z and ratio >= th.min_ratio / 1.5 and excess > 0:
                cur.days += 1
                cur.total += x
                cur.excess += excess
                flagged[i] = True
                continue
            cur = None
            if (
                (z >= th.alert_z or ratio >= th.extreme_ratio)
                and ratio >= th.min_ratio
                and excess >= th.min_impact_cents
            ):
                gap = 0
                j = i - 1
                while j >= known_from and vals[j] < th.idle_cents:
                    gap += 1
                    j -= 1
                cur = _Episode(i, expected, spread, ratio, z, gap, basis, total=x, excess=excess)
                episodes.append(cur)
                flagged[i] = True
        series = self._series_out(vals, days, max(known_from, month_lo - 28))
        return [self._finding(key_id, e, vals, days, known_from, series) for e in episodes]

    def _finding(self, key_id, e: _Episode, vals, days, known_from, series) -> dict:
        th = self.th
        d = days[e.start]
        date = q.day_date(d)
        last = q.day_date(days[e.start + e.days - 1])
        detail = self._day_detail(key_id, d)
        seen_after = e.start + e.days < len(vals)  # a later day is known: the incident has ended
        runaway_shape = (
            e.gap >= th.runaway_gap_days
            and e.ratio >= th.runaway_ratio
            and detail["model_share"] >= th.runaway_model_share
        )
        kind = "runaway" if runaway_shape and e.days == 1 else "spike"
        x = vals[e.start]
        basis = (
            f"an {e.basis}"
            if e.basis[0] in "aeiou"
            else f"a {e.basis}"
            if not e.basis[0].isdigit()
            else f"the {e.basis}"
        )
        if e.expected < 1:  # under a cent: a ratio would be a meaningless huge number
            size = f"on a key that usually spends less than a cent on {basis}"
        else:
            size = f"{_ratio_words(e.ratio)} its usual {money_words(e.expected)} on {basis}"

        models = ", ".join(detail["models"]) or "no model"
        agent = detail["agent"] if detail["agent"] and detail["agent"] != q.NONE_LABEL else None
        swing = f"±{math.expm1(e.spread):.0%}" if e.spread < 0.7 else f"{math.exp(e.spread):.1f}-fold"
        new_model = ""
        if detail["model"] and detail["model"] != q.NONE_LABEL:
            before = self._models_before(key_id, days[max(known_from, e.start - th.lookback_days)], d)
            if before and detail["model"] not in before:
                new_model = f" ({detail['model']} is new for this key)"
        who = f"{detail['requests']:,} requests, mostly {models}{new_model}" + (f", agent {agent}" if agent else "")
        lasting = (
            ""
            if e.days == 1
            else (
                f" It stayed high for {e.days} days (through {last:%b %d}), {money_words(e.excess)} above usual in all."
            )
        )
        if kind == "runaway":
            text = f"{money_words(x)} on {date:%a %b %d} after {e.gap} idle days (under a cent each), {size}. {who}."
            if not seen_after:
                text += (
                    " On its first day a runaway script and a leaked key look alike: if the key keeps "
                    "spending like this tomorrow, treat it as a leak and rotate it."
                )
            else:
                text += " The next day it was back to normal: the shape of a script stuck in a loop."
            action = (
                f"Likely a runaway script: open the request log of {date} for {detail['model']} "
                f"({detail['requests']:,} requests) and stop the caller."
            )
            sev = "critical" if x >= 10 * th.min_impact_cents else "warning"
        else:
            quiet = e.expected < 10.0
            text = (
                f"{money_words(x)} on {date:%a %b %d}, {size}{'' if e.expected < 1 else f' (its days usually vary by {swing})'}"
                f". {who}.{lasting}"
            )
            if runaway_shape and e.days > 1:
                text += " It came after idle days like a runaway script, but it did not stop: a leaked key is likelier."
            elif runaway_shape and not seen_after:
                text += " It may also be a runaway script; tomorrow's spend will tell."
            action = (
                "Possible leaked key: rotate it now, then check the day's request log for callers "
                "and models you do not recognise."
            )
            sev = "critical" if quiet or e.ratio >= 10 or e.days > 1 else "warning"
        return self._row(
            key_id, kind, sev, date, x, e.expected, e.z, text, action, detail, series, impact=e.excess, last=last
        )

    def history_note(self) -> list[dict]:
        if not self.unjudged:
            return []
        ids = sorted(self.unjudged)
        names = [str(self._meta(k, "key_name") or k) for k in ids]
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        text = (
            f"Not enough history to judge {len(ids)} key(s) on some days: {shown}. A key needs "
            f"{self.th.min_history_days} known days ({self.th.min_active_days} with spend) before a day of it "
            "can be called unusual; days before the data starts (or before a key exists) are unknown, not zero. "
            "Load earlier months to judge them."
        )
        first = min(self.unjudged.values())
        return [
            {
                "kind": "history",
                "severity": "info",
                "account_id": None,
                "key_id": None,
                "key_name": f"{len(ids)} key(s)",
                "day": first,
                "observed_cents": 0.0,
                "baseline_cents": 0.0,
                "score": float(len(ids)),
                "explanation": text,
                "action": "Load at least one earlier month with this one (two are better).",
                "model": None,
                "agent": None,
                "requests": None,
                "projected_cap_date": None,
                "series": None,
                "impact_cents": 0.0,
                "last_day": first,
            }
        ]

    # -- caps ------------------------------------------------------------------------------------
    def caps(self, per: pd.DataFrame) -> list[dict]:
        out = []
        reg = self.usage.keys
        if not len(reg):
            return out
        spend = {k: g.set_index("_day")["cost_cents"] for k, g in per.groupby("key_id")} if len(per) else {}
        month_lo = q.day_number(self.first)
        for row in reg.to_dict("records"):
            kid, cap = row["key_id"], row.get("spend_cap_cents")
            if cap is None or pd.isna(cap) or cap <= 0:
                continue
            s = spend.get(kid, pd.Series(dtype=float))
            lo = min(int(s.index.min()), month_lo) if len(s) else month_lo
            dense = s.reindex(range(lo, q.day_number(self.last_day) + 1), fill_value=0.0)
            start = self._known_start(kid, dense.to_numpy(dtype=float), list(dense.index)) + lo
            dense = dense[dense.index >= start]
            daily = pd.Series(dense.to_numpy(dtype=float), index=[q.day_date(d) for d in dense.index], dtype=float)
            out += self._cap_findings(row, float(cap), daily)
        return out

    def _cap_findings(self, row: dict, cap: float, daily: pd.Series) -> list[dict]:
        tz = self.usage.tz
        key_id = row["key_id"]
        out = []
        # every budget window that overlaps the month up to the cut-off
        first_instant = pd.Timestamp(dt.datetime.combine(self.first, dt.time()), tz=tz).tz_convert("UTC")
        window = budget_window(row, first_instant, tz)
        seen = 0
        while window.start < self.cutoff and seen < 40:
            seen += 1
            at = min(self.cutoff, window.end)
            fc = forecast_key(daily, row, at, tz=tz, cap_cents=cap)
            if fc.warn:
                day = max(fc.warn_since or self.first, self.first)
                detail = self._month_detail(key_id)
                agent = f" Most of it comes from agent {detail['agent']}." if detail["agent"] else ""
                model = f" Top model: {detail['model']}." if detail["model"] else ""
                text = fc.explanation + agent + model
                if detail["agent"]:
                    action = (
                        f"Raise the cap if this spend is expected, or slow down agent {detail['agent']}, "
                        "which made most of this key's spend this month."
                    )
                else:
                    action = (
                        "Raise the cap if this spend is expected. No agent is recorded on this key's requests: "
                        f"find the caller in the request log (top model {detail['model']})."
                    )
                series = (
                    daily[[d >= window.days()[0] - dt.timedelta(days=28) for d in daily.index]] if len(daily) else daily
                )
                out.append(
                    self._row(
                        key_id,
                        "cap",
                        "critical" if fc.crossed else "warning",
                        day,
                        fc.spent_cents if fc.crossed else fc.projected_cents,
                        cap,
                        fc.projected_cents / cap,
                        text,
                        action,
                        detail,
                        series,
                        projected_cap_date=fc.crossing_date,
                        last=min(self.last_day, window.days()[1] - dt.timedelta(days=1)),
                    )
                )
            if window.end >= self.cutoff:
                break
            window = budget_window(row, window.end, tz)
        return out

    def _month_detail(self, key_id) -> dict:
        rows = q.restrict(self.frame, start_day=q.day_number(self.first), end_day=q.day_number(self.after)).filter(
            nw.col("key_id") == key_id
        )
        by_agent = q.finish_money(
            q.to_pandas(
                rows.group_by(nw.col("agent_name").fill_null(nw.col("agent_id")).alias("agent")).agg(*q.money_aggs())
            )
        )
        by_model = q.finish_money(
            q.to_pandas(rows.group_by("model").agg(*q.money_aggs(), nw.col("requests").sum().alias("requests")))
        )
        agent = by_agent.dropna(subset=["agent"]).sort_values("cost_cents", ascending=False)["agent"]
        model = by_model.sort_values("cost_cents", ascending=False)["model"]
        return {
            "agent": agent.iloc[0] if len(agent) else None,
            "model": model.iloc[0] if len(model) else None,
            "requests": int(pd.to_numeric(by_model["requests"]).sum()) if len(by_model) else 0,
        }

    def cap_unknown(self) -> list[dict]:
        ids = getattr(self.usage.load_report, "registry_rejected_keys", ()) or ()
        out = []
        for key_id in sorted({str(k) for k in ids}):
            text = (
                "This key's row in the key registry was rejected when loading, so its spend cap and budget "
                "period are unknown: usagekit cannot tell whether it is heading for its cap."
            )
            out.append(
                {
                    "kind": "cap_unknown",
                    "severity": "warning",
                    "account_id": self._meta(key_id, "account_id"),
                    "key_id": key_id,
                    "key_name": self._meta(key_id, "key_name") or key_id,
                    "day": self.first,
                    "observed_cents": 0.0,
                    "baseline_cents": 0.0,
                    "score": 0.0,
                    "explanation": text,
                    "action": "Fix the key's registry row (see the load report's rejected rows) and reload.",
                    "model": None,
                    "agent": None,
                    "requests": None,
                    "projected_cap_date": None,
                    "series": None,
                    "impact_cents": 0.0,
                    "last_day": self.first,
                }
            )
        return out

    # -- unpriced ---------------------------------------------------------------------------
    def unpriced(self) -> list[dict]:
        rows = q.restrict(self.frame, start_day=q.day_number(self.first), end_day=q.day_number(self.after))
        res = q.to_pandas(
            rows.filter(nw.col("cost_cents").is_null())
            .group_by(nw.col("key_id").fill_null(q.NONE_LABEL).alias("key_id"))
            .agg(
                nw.col("_day").min().alias("day"),
                nw.col("requests").sum().alias("requests"),
                nw.col("model").max().alias("model"),
                nw.col("_rows").sum().alias("rows"),
            )
        )
        out = []
        for r in res.itertuples():
            text = (
                f"{int(r.rows):,} rows ({int(r.requests or 0):,} requests, e.g. model {r.model}) have usage "
                "but no cost: this key's spend is understated."
            )
            out.append(
                {
                    "kind": "unpriced",
                    "severity": "info",
                    "account_id": self._meta(r.key_id, "account_id"),
                    "key_id": r.key_id,
                    "key_name": self._meta(r.key_id, "key_name") or r.key_id,
                    "day": q.day_date(r.day),
                    "observed_cents": 0.0,
                    "baseline_cents": 0.0,
                    "score": float(r.rows),
                    "explanation": text,
                    "action": "Add a price for the model at the source (gateway price map) and reload.",
                    "model": r.model,
                    "agent": None,
                    "requests": int(r.requests or 0),
                    "projected_cap_date": None,
                    "series": None,
                    "impact_cents": 0.0,
                    "last_day": q.day_date(r.day),
                }
            )
        return out


def _ordinal(n: int) -> str:
    return "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
