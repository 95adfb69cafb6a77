"""Evaluation harness: precision, recall and delay of usagekit.detect on many labeled months.

    python benchmarks/anomalies.py                 # 240 months, seeds 0..239
    python benchmarks/anomalies.py --months 60     # quicker

Each month is generated with a different seed: 5-30 keys of varied kind (busy keys with
weekday/weekend rhythm and noise, quiet keys of a few cents a day, sporadic keys that are
mostly zero), one month of history, and - in most months - planted anomalies with their truth:

* spike    a quiet key spends 25-300x its usual day (at least $3 more) on one day;
* runaway  a mostly-zero key has one day of $20-$500;
* cap      a capped key ramps up mid-month so it crosses its cap between days 21 and 28; the
           truth is every capped key whose month reaches 90% of its cap (the warning level),
           whatever the cause (a ramp, a spike, a runaway).

A quarter of the months have no anomaly at all. ``detect`` runs once per month at month end.
Findings of severity info are not alerts and are not scored. A finding is a hit when kind and key match and its day is the planted day (spike, runaway),
or any day from the ramp's start up to the day the cap was actually crossed (cap). Delay is
the found day minus the planted day (for cap: minus the ramp start). A naive baseline runs
beside it: "a day above 3x the key's trailing 28-day mean" for spike and runaway, and
"month-to-date above 80% of the cap" for cap.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections import defaultdict

import numpy as np
import pandas as pd

MONTH = "2026-10"
FIRST = dt.date(2026, 10, 1)
HIST = dt.date(2026, 9, 1)
N_DAYS = 61  # September + October


def generate(seed: int):
    """One labeled month: (rows DataFrame, keys DataFrame, labels list)."""
    rng = np.random.default_rng(seed)
    n_keys = int(rng.integers(5, 31))
    weekend = float(rng.uniform(0.2, 0.7))
    noise = float(rng.uniform(0.05, 0.35))
    days = [HIST + dt.timedelta(days=i) for i in range(N_DAYS)]
    is_weekend = np.array([d.weekday() >= 5 for d in days])
    kinds = rng.choice(["busy", "quiet", "sporadic"], size=n_keys, p=[0.5, 0.3, 0.2])
    series, caps = {}, {}
    for i, kind in enumerate(kinds):
        if kind == "busy":
            level = float(rng.lognormal(np.log(3000), 1.0))
            trend = float(rng.uniform(-0.004, 0.006))
            s = level * np.where(is_weekend, weekend, 1.0) * (1 + trend * np.arange(N_DAYS))
            s = s * np.clip(1 + noise * rng.standard_normal(N_DAYS), 0.2, None)
        elif kind == "quiet":
            level = float(rng.uniform(3, 60))
            s = level * np.where(is_weekend, weekend, 1.0) * np.clip(1 + noise * rng.standard_normal(N_DAYS), 0.1, None)
        else:
            s = np.where(rng.random(N_DAYS) < 0.12, rng.uniform(0.05, 0.6, N_DAYS), 0.0)
        series[f"k{i:02d}"] = s
        month_mean = s[30:].sum()
        caps[f"k{i:02d}"] = float(month_mean * rng.uniform(2, 4)) if rng.random() < 0.8 and month_mean > 0 else None

    labels = []
    anomalous = rng.random() >= 0.25
    if anomalous:
        keys = list(series)
        quiet = [k for k, kd in zip(keys, kinds) if kd == "quiet"]
        sporadic = [k for k, kd in zip(keys, kinds) if kd == "sporadic"]
        busy = [k for k, kd in zip(keys, kinds) if kd == "busy"]
        if quiet and rng.random() < 0.8:
            k = str(rng.choice(quiet))
            d = int(rng.integers(3, 29))
            usual = float(np.median(series[k][:30]))
            series[k][30 + d] += max(usual * rng.uniform(25, 300), 300 + usual)
            labels.append(("spike", k, FIRST + dt.timedelta(days=d), None))
        if sporadic and rng.random() < 0.8:
            k = str(rng.choice(sporadic))
            d = int(rng.integers(3, 29))
            series[k][30 + d] = float(rng.uniform(2000, 50000))
            labels.append(("runaway", k, FIRST + dt.timedelta(days=d), None))
        if busy and rng.random() < 0.8:
            k = str(rng.choice(busy))
            month = series[k][30:]
            start = int(rng.integers(8, 16))
            cross_day = int(rng.integers(20, 28))
            caps[k] = float(month.sum() * rng.uniform(1.5, 2.5))  # far above its normal month
            steps = np.maximum(np.arange(31) - start + 1, 0).astype(float)
            slope = (caps[k] - np.cumsum(month)[cross_day]) / np.cumsum(steps)[cross_day]
            series[k][30:] = month + slope * steps * 1.001
            labels.append(("cap", k, FIRST + dt.timedelta(days=start), None))

    # truth for cap: every capped key whose month reaches 90% of its cap (the warning level), whatever
    # the cause (a planted ramp, a spike, a runaway); acceptable from its start to the day it crosses
    planted = {lab[1]: lab for lab in labels}
    labels = [lab for lab in labels if lab[0] != "cap"]
    for k, s in series.items():
        cap = caps.get(k)
        if not cap:
            continue
        cum = np.cumsum(s[30:])
        if cum[-1] >= 0.9 * cap and cum[-1] >= 100:
            crossed = FIRST + dt.timedelta(days=int(np.argmax(cum >= cap))) if cum[-1] >= cap else \
                FIRST + dt.timedelta(days=30)
            start = planted[k][2] if k in planted else FIRST
            labels.append(("cap", k, start, crossed))

    rows = []
    for k, s in series.items():
        for d, v in zip(days, s):
            if v > 0:
                rows.append((pd.Timestamp(dt.datetime.combine(d, dt.time(12)), tz="UTC"), k, float(v)))
    df = pd.DataFrame(rows, columns=["ts", "key_id", "cost_cents"])
    df["request_id"] = None
    df["requests"] = 1
    df["model"] = "gpt-4o"
    df["provider"] = "openai"
    keys = pd.DataFrame({"key_id": list(series), "key_name": list(series), "account_id": "acct",
                         "spend_cap_cents": [caps[k] for k in series], "created_at": "2026-08-01T00:00:00Z"})
    return df, keys, labels, series, caps


def naive(series: dict, caps: dict) -> list[tuple]:
    out = []
    for k, s in series.items():
        for kind in ("spike", "runaway"):
            for i in range(30, N_DAYS):
                mean = s[max(0, i - 28):i].mean()
                if s[i] > 3 * max(mean, 1e-9) and s[i] - mean >= 100:
                    out.append((kind, k, FIRST + dt.timedelta(days=i - 30)))
                    break
        cap = caps.get(k)
        if cap:
            cum = np.cumsum(s[30:])
            hit = np.nonzero(cum >= 0.8 * cap)[0]
            if len(hit):
                out.append(("cap", k, FIRST + dt.timedelta(days=int(hit[0]))))
    return out


def score(found: list[tuple], labels: list[tuple], tally, delays):
    used = set()
    for kind, key, day in found:
        if kind not in ("spike", "cap", "runaway"):
            continue
        match = None
        for j, (lk, lkey, lday, cross) in enumerate(labels):
            if j in used or lk != kind or lkey != key:
                continue
            ok = (day == lday) if kind != "cap" else (lday <= day <= cross)
            if ok:
                match = j
                break
        if match is None:
            tally[kind]["fp"] += 1
        else:
            used.add(match)
            tally[kind]["tp"] += 1
            delays[kind].append((day - labels[match][2]).days)
    for j, (lk, *_rest) in enumerate(labels):
        tally[lk]["n"] += 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--months", type=int, default=240, help="labeled months to generate (default %(default)s)")
    ap.add_argument("--seed", type=int, default=0, help="first seed (default %(default)s)")
    args = ap.parse_args()

    from tqdm import tqdm

    import usagekit

    ours = defaultdict(lambda: {"tp": 0, "fp": 0, "n": 0})
    base = defaultdict(lambda: {"tp": 0, "fp": 0, "n": 0})
    d_ours, d_base = defaultdict(list), defaultdict(list)
    normal_months = normal_fp = 0
    t0 = time.perf_counter()
    for seed in tqdm(range(args.seed, args.seed + args.months), desc="months", unit="month", file=sys.stderr):
        df, keys, labels, series, caps = generate(seed)
        usage = usagekit.load(df, keys=keys)
        found = usagekit.detect(usage, month=MONTH, as_of="2026-11-01T00:00:00Z")
        found = [(r.kind, r.key_id, r.day) for r in found.itertuples() if r.severity != "info"]
        score(found, labels, ours, d_ours)
        score(naive(series, caps), labels, base, d_base)
        if not labels:
            normal_months += 1
            normal_fp += sum(1 for f in found if f[0] in ("spike", "cap", "runaway"))
    took = time.perf_counter() - t0

    def line(name, t, delays):
        p = t["tp"] / (t["tp"] + t["fp"]) if t["tp"] + t["fp"] else float("nan")
        r = t["tp"] / t["n"] if t["n"] else float("nan")
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        d = f"{np.mean(delays):.2f}" if delays else "-"
        return f"{name:<9} {t['n']:>7} {t['tp']:>5} {t['fp']:>5} {p:>10.3f} {r:>7.3f} {f1:>6.3f} {d:>11}"

    print(f"\n{args.months} months (seeds {args.seed}..{args.seed + args.months - 1}), {normal_months} with no anomaly; "
          f"{took:.0f} s\n")
    head = f"{'kind':<9} {'planted':>7} {'hits':>5} {'false':>5} {'precision':>10} {'recall':>7} {'F1':>6} {'delay days':>11}"
    for title, tally, delays in (("usagekit.detect", ours, d_ours), ("naive: day > 3x trailing mean; "
                                                                      "month-to-date > 80% of cap", base, d_base)):
        print(title)
        print(head)
        for kind in ("spike", "cap", "runaway"):
            print(line(kind, tally[kind], delays[kind]))
        print()
    print(f"false findings in the {normal_months} months with no anomaly: {normal_fp}")
    print("delay: found day minus planted day (cap: minus the day the ramp started; a hit must come "
          "no later than the day the cap was actually crossed).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
