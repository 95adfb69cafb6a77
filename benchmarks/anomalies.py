"""Evaluation harness: usagekit.detect beside a naive and a robust reference detector on labeled months.

    python benchmarks/anomalies.py                      # 60 months, seeds 0..59
    python benchmarks/anomalies.py --months 20 --out benchmarks/results/anomalies.txt

Months come from :mod:`anomaly_months` (keys with every ordinary confounder, planted incidents,
their truth; read its docstring). Each detector answers "which findings would a run at the end
of day D show?"; it runs at month end and is replayed day by day over every incident (and on
days 7, 14 and 21 of every month, where a cap warning on an ordinary key would show).

Scoring (warning and critical findings only; info is not an alert):

* a spike or runaway finding is a hit when its key has an incident of that kind whose days hold
  the finding's day; the same kind again inside the incident is a repeat (neither hit nor
  miss); the wrong kind is a false finding for the kind said and a miss for the kind planted;
* a cap finding at any replayed moment counts for its key: a hit if the key crosses its cap in
  the month, a false finding if the month ends under 80 % of the cap (80-100 %: not scored);
* false alarms per key-month: findings on keys (and days) with no incident at all, over every key
  of every month;
* first day: share of spike/runaway incidents with a finding of any kind on the key on the
  incident's first day, in the run at the end of that day; delay: days until the first finding
  of any kind, in replays up to two days after the incident; kind at end: the run at the end of
  the incident's last day names the planted kind;
* cap lead: days between the first warning that stays up until the crossing and the crossing day;
  flicker: crossings whose warning went away and came back before the crossing;
* cap lead time is required (>= 3 days) of drifts only: a spike that crosses the cap on its own
  day cannot be foreseen;
* size bands: the incident's first day in robust sigma of the key's day-to-day log spread (< 3,
  3-5, >= 5); the target set is >= 5 sigma and >= $1 of impact.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from anomaly_months import Month  # noqa: E402
from anomaly_months import month as make_month

ALERT = ("warning", "critical")
KINDS = ("spike", "runaway", "cap")


# -- detectors: (month, as_of day) -> [(kind, key_id, day, severity)] ------------------------


class Usagekit:
    name = "usagekit.detect"

    def __init__(self, m: Month):
        import usagekit

        self.m = m
        self.usage = usagekit.load(m.rows, keys=m.keys)
        self.detect = usagekit.detect

    def __call__(self, day: dt.date) -> list[tuple]:
        found = self.detect(self.usage, month=self.m.month, as_of=str(day))
        return [(r.kind, r.key_id, r.day, r.severity) for r in found.itertuples()]


class Naive:
    """A day above 3x the key's trailing 28-day mean (and $1 more): a runaway when the 3 days
    before were zero, else a spike; a cap warning once month-to-date passes 80 % of the cap."""

    name = "naive"

    def __init__(self, m: Month):
        self.m = m

    def __call__(self, day: dt.date) -> list[tuple]:
        out = []
        for kid, s in self.m.daily.items():
            s = s[s.index <= day]
            vals, idx = s.to_numpy(), list(s.index)
            run = False
            for j, d in enumerate(idx):
                if d < self.m.first:
                    continue
                hist = vals[max(0, j - 28) : j]
                mean = hist.mean() if len(hist) else 0.0
                hit = vals[j] > 3 * mean and vals[j] - mean >= 100
                if hit and not run:
                    kind = "runaway" if j >= 3 and (vals[j - 3 : j] == 0).all() else "spike"
                    out.append((kind, kid, d, "warning"))
                run = hit
            cap = self.m.caps.get(kid)
            if cap:
                month = s[s.index >= self.m.first]
                if month.sum() >= 0.8 * cap:
                    out.append(("cap", kid, month.index[-1], "warning"))
        return out


class Reference:
    """A small robust detector: log spend against the median of the key's active days of the
    same kind (weekday / weekend) over 8 weeks, scaled by 1.4826 x MAD (floored at 0.15); a day
    4 scales above it and $1 over its usual level alerts (a runaway when the 3 days before were
    zero). Cap: month-to-date plus activity rate x median active day x days left, past the cap."""

    name = "reference (robust)"

    def __init__(self, m: Month):
        self.m = m

    def __call__(self, day: dt.date) -> list[tuple]:
        out = []
        for kid, s in self.m.daily.items():
            s = s[s.index <= day]
            vals, idx = s.to_numpy(), list(s.index)
            run = False
            for j, d in enumerate(idx):
                if d < self.m.first:
                    continue
                lo = max(0, j - 56)
                hist = [(vals[i], idx[i].weekday() >= 5) for i in range(lo, j) if vals[i] > 0]
                if len(hist) < 5:
                    run = False
                    continue
                same = [v for v, w in hist if w == (d.weekday() >= 5)]
                pool = np.log(same if len(same) >= 4 else [v for v, _ in hist])
                med = float(np.median(pool))
                scale = max(1.4826 * float(np.median(np.abs(pool - med))), 0.15)
                x = vals[j]
                hit = x > 0 and (math.log(x) - med) / scale >= 4 and x - math.exp(med) >= 100
                if hit and not run:
                    kind = "runaway" if j >= 3 and (vals[j - 3 : j] == 0).all() else "spike"
                    out.append((kind, kid, d, "warning"))
                run = hit
            cap = self.m.caps.get(kid)
            if cap:
                month = s[s.index >= self.m.first]
                recent = s.to_numpy()[-28:]
                act = recent[recent > 0]
                left = (self.m.after - day).days - 1
                proj = month.sum() + (len(act) / len(recent) * float(np.median(act)) * left if len(act) else 0)
                if proj >= cap and month.sum() > 0:
                    out.append(("cap", kid, month.index[-1], "warning"))
        return out


DETECTORS = (Usagekit, Naive, Reference)


# -- scoring -------------------------------------------------------------------------------


def band(size: float) -> str:
    return "<3" if size < 3 else ("3-5" if size < 5 else ">=5")


def replay_days(m: Month) -> list[dt.date]:
    last = m.after - dt.timedelta(days=1)
    days = {m.first + dt.timedelta(days=n) for n in (6, 13, 20)}
    for ep in m.episodes:
        if ep.kind == "cap":
            a, b = max(m.first, ep.start - dt.timedelta(days=2)), ep.cross
        else:
            a, b = ep.start, min(ep.end + dt.timedelta(days=2), last)
        d = a
        while d <= b:
            days.add(d)
            d += dt.timedelta(days=1)
    return sorted(d for d in days if m.first <= d <= last)


class Tally:
    def __init__(self):
        self.c = defaultdict(float)
        self.lists = defaultdict(list)

    def add(self, name, v=1.0):
        self.c[name] += v


def score_month(m: Month, run, t: Tally) -> None:
    last = m.after - dt.timedelta(days=1)
    final = [a for a in run(last) if a[3] in ALERT]
    replays = {d: [a for a in run(d) if a[3] in ALERT] for d in replay_days(m)}
    replays[last] = final
    eps = [e for e in m.episodes if e.kind in ("spike", "runaway")]
    caps = [e for e in m.episodes if e.kind == "cap"]
    t.add("key_months", len(m.keys))

    # spikes and runaways: the month-end run
    matched = set()
    for kind, kid, day, _sev in final:
        if kind not in ("spike", "runaway"):
            continue
        t.add(f"{kind}.said")
        inside = [i for i, e in enumerate(eps) if e.key_id == kid and e.start <= day <= e.end]
        right = [i for i in inside if eps[i].kind == kind]
        if right:
            if right[0] in matched:
                t.add(f"{kind}.repeat")
                t.add(f"{kind}.said", -1)
            else:
                matched.add(right[0])
                t.add(f"{kind}.hit")
        else:
            t.add(f"{kind}.false")
            on_cap = any(e.key_id == kid and e.start <= day <= e.cross for e in caps)
            if not inside and not on_cap:
                t.add("false_alarms")
                if not m.episodes:
                    t.add("false_alarms_quiet_months")
    for i, e in enumerate(eps):
        tag = e.kind
        t.add(f"{tag}.n")
        t.add(f"{tag}.band{band(e.size_sigma)}.n")
        t.add(f"variant.{e.variant}.n")
        hit = i in matched
        t.add(f"{tag}.band{band(e.size_sigma)}.hit", hit)
        t.add(f"variant.{e.variant}.hit", hit)
        if e.size_sigma >= 5 and e.impact_cents >= 100:
            t.add(f"{tag}.target.n")
            t.add(f"{tag}.target.hit", hit)
        on_day = [a for a in replays.get(e.start, []) if a[1] == e.key_id and a[2] == e.start and a[0] != "cap"]
        t.add(f"{tag}.first_day", bool(on_day))
        if e.size_sigma >= 5 and e.impact_cents >= 100:
            t.add(f"{tag}.target.first_day", bool(on_day))
        delay = None
        for d in sorted(replays):
            if d < e.start:
                continue
            if any(a[1] == e.key_id and e.start <= a[2] <= e.end and a[0] != "cap" for a in replays[d]):
                delay = (d - e.start).days
                break
        if delay is not None:
            t.lists[f"{tag}.delay"].append(delay)
        end_run = replays.get(e.end, [])
        t.add(
            f"{tag}.kind_at_end", any(a[0] == e.kind and a[1] == e.key_id and e.start <= a[2] <= e.end for a in end_run)
        )

    # caps: a warning at any replayed moment
    warned = defaultdict(dict)
    for d, alerts in replays.items():
        for kind, kid, _day, _sev in alerts:
            if kind == "cap":
                warned[kid][d] = True
    crossing = {e.key_id: e for e in caps}
    for kid in warned:
        t.add("cap.said")
        if kid in crossing:
            t.add("cap.hit")
            continue
        cap = m.caps.get(kid) or 0
        spent = float(m.daily[kid][m.daily[kid].index >= m.first].sum())
        if spent < 0.8 * cap:
            t.add("cap.false")
            t.add("false_alarms")
            if not m.episodes:
                t.add("false_alarms_quiet_months")
        else:
            t.add("cap.said", -1)  # 80-100 % of the cap: not scored
            t.add("cap.near")
    for kid, e in crossing.items():
        t.add("cap.n")
        t.add(f"variant.{e.variant}.n")
        t.add(f"variant.{e.variant}.hit", kid in warned)
        t.add("cap.target.n")
        t.add("cap.target.hit", kid in warned)
        days = [d for d in sorted(replays) if max(m.first, e.start - dt.timedelta(days=2)) <= d <= e.cross]
        on = [warned[kid].get(d, False) for d in days]
        if any(on):
            first_on = on.index(True)
            if not all(on[first_on:]):
                t.add("cap.flicker")
            stable = len(on)
            while stable > 0 and on[stable - 1]:
                stable -= 1
            if stable < len(on):
                t.lists["cap.lead"].append((e.cross - days[stable]).days)
            if e.variant == "drift":
                t.add("cap.lead3", stable < len(on) and (e.cross - days[stable]).days >= 3)
        if e.variant == "drift":
            t.add("cap.drift.n")


def table(name: str, t: Tally, months: int) -> list[str]:
    c = t.c

    def ratio(a, b):
        return f"{c[a] / c[b]:.2f}" if c[b] else "-"

    lines = [
        f"### {name}",
        "",
        "| kind | incidents | hits | false | precision | recall | recall >=5σ & >=$1 | <3σ | 3-5σ | >=5σ "
        "| first day | delay (days) | kind at end |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for k in KINDS:
        p = c[f"{k}.hit"] / (c[f"{k}.hit"] + c[f"{k}.false"]) if c[f"{k}.hit"] + c[f"{k}.false"] else float("nan")
        bands = [
            ratio(f"{k}.band{b}.hit", f"{k}.band{b}.n") + f" ({c[f'{k}.band{b}.n']:.0f})" if k != "cap" else "-"
            for b in ("<3", "3-5", ">=5")
        ]
        if k == "cap":
            d = t.lists["cap.lead"]
            first = "-"
            delay = (
                f"lead median {np.median(d):.0f}, min {min(d)}; drifts >=3 days ahead {c['cap.lead3']:.0f}/"
                f"{c['cap.drift.n']:.0f}; flicker {c['cap.flicker']:.0f}"
                if d
                else "-"
            )
            end = "-"
        else:
            first = ratio(f"{k}.first_day", f"{k}.n")
            d = t.lists[f"{k}.delay"]
            delay = f"{np.mean(d):.2f} ({len(d)}/{c[f'{k}.n']:.0f} seen)" if d else "-"
            end = ratio(f"{k}.kind_at_end", f"{k}.n")
        lines.append(
            f"| {k} | {c[f'{k}.n']:.0f} | {c[f'{k}.hit']:.0f} | {c[f'{k}.false']:.0f} | {p:.2f} | "
            f"{ratio(f'{k}.hit', f'{k}.n')} | {ratio(f'{k}.target.hit', f'{k}.target.n')} | "
            f"{' | '.join(bands)} | {first} | {delay} | {end} |"
        )
    hits = sum(c[f"{k}.hit"] for k in KINDS)
    false = sum(c[f"{k}.false"] for k in KINDS)
    lines.append(
        f"| all | {sum(c[f'{k}.n'] for k in KINDS):.0f} | {hits:.0f} | {false:.0f} | "
        f"{hits / (hits + false) if hits + false else float('nan'):.2f} | "
        f"{hits / max(1, sum(c[f'{k}.n'] for k in KINDS)):.2f} | | | | | | | |"
    )
    lines += [
        "",
        f"false alarms: {c['false_alarms']:.0f} over {c['key_months']:.0f} key-months = "
        f"{c['false_alarms'] / max(1, c['key_months']):.3f} per key-month "
        f"({c['false_alarms_quiet_months']:.0f} in months with no incident); cap warnings at 80-100 % of the "
        f"cap (not scored): {c['cap.near']:.0f}; repeats inside one incident: "
        f"{c['spike.repeat'] + c['runaway.repeat']:.0f}",
        "",
        "recall per incident variant: "
        + ", ".join(
            f"{v[8:-2]} {c[v[:-2] + '.hit'] / c[v]:.2f} ({c[v]:.0f})"
            for v in sorted(x for x in c if x.startswith("variant.") and x.endswith(".n"))
            if c[v]
        ),
        "",
    ]
    return lines


def targets(t: Tally) -> list[str]:
    c = t.c
    out = ["### Targets (usagekit.detect)", ""]

    def line(ok, text):
        out.append(f"- [{'x' if ok else ' '}] {text}")

    for k in KINDS:
        r = c[f"{k}.target.hit"] / c[f"{k}.target.n"] if c[f"{k}.target.n"] else float("nan")
        line(r >= 0.95, f"{k}: recall {r:.2f} on incidents >= 5σ and >= $1 (target >= 0.95)")
    hits = sum(c[f"{k}.hit"] for k in KINDS)
    false = sum(c[f"{k}.false"] for k in KINDS)
    p = hits / (hits + false) if hits + false else float("nan")
    line(p >= 0.95, f"precision {p:.2f} (target >= 0.95)")
    fa = c["false_alarms"] / max(1, c["key_months"])
    line(fa <= 0.01, f"false alarms {fa:.3f} per key-month (target <= 0.01)")
    n = c["spike.target.n"] + c["runaway.target.n"]
    first = sum(c[f"{k}.target.first_day"] for k in ("spike", "runaway"))
    line(
        n and first == n,
        f"spikes and runaways (>= 5σ, >= $1) flagged on their first day as something: {first:.0f}/{n:.0f}",
    )
    line(
        c["cap.drift.n"] and c["cap.lead3"] == c["cap.drift.n"],
        f"drifts over a cap warned >= 3 days before the crossing: {c['cap.lead3']:.0f}/{c['cap.drift.n']:.0f}",
    )
    line(
        c["cap.flicker"] == 0, f"cap warnings that went away and came back before the crossing: {c['cap.flicker']:.0f}"
    )
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--months", type=int, default=60, help="labeled months to generate (default %(default)s)")
    ap.add_argument("--seed", type=int, default=0, help="first seed (default %(default)s)")
    ap.add_argument(
        "--only",
        choices=["usagekit", "naive", "reference"],
        action="append",
        help="run only these detectors (repeatable)",
    )
    ap.add_argument("--out", help="also write the tables (Markdown) to this file")
    args = ap.parse_args()
    from tqdm import tqdm

    chosen = [d for d in DETECTORS if not args.only or d.name.split()[0].split(".")[0] in args.only]
    tallies = {d.name: Tally() for d in chosen}
    took = defaultdict(float)
    counts = defaultdict(int)
    for seed in tqdm(range(args.seed, args.seed + args.months), desc="months", unit="month", file=sys.stderr):
        m = make_month(seed)
        counts[f"history {m.history_months}"] += 1
        counts["with no incident"] += not m.episodes
        for det in chosen:
            t0 = time.perf_counter()
            score_month(m, det(m), tallies[det.name])
            took[det.name] += time.perf_counter() - t0
    lines = [
        f"{args.months} months (seeds {args.seed}..{args.seed + args.months - 1}): "
        + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())),
        "",
    ]
    for det in chosen:
        lines += table(f"{det.name} ({took[det.name]:.0f} s)", tallies[det.name], args.months)
    if Usagekit in chosen:
        lines += targets(tallies[Usagekit.name])
    text = "\n".join(lines)
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n", encoding="utf-8")
        print(f"\nwrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
