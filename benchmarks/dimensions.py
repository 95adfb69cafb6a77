"""Benchmark: what the team / user / end-user / tag dimensions cost the month cube.

    python benchmarks/dimensions.py                     # 300k demo requests (generated once, cached)
    python benchmarks/dimensions.py --requests 3000000

The demo fills every dimension: teams and users per key, one of 3,000 end users on customer-facing
keys, and 0-3 tags per request. Printed: rows and in-memory size of the month cube with team and
user in it, the same cube without them (the cost of adding them), the per-day end-user and tag
roll-ups that stay out of it, and the first (roll-up built) and second answer of a breakdown by each.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import narwhals as nw

MONTH = "2026-10"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=300_000)
    ap.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "usagekit-bench-dimensions")
    args = ap.parse_args()

    import usagekit
    from usagekit import queries as q
    from usagekit.demo import generate
    from usagekit.usage import derive

    data = args.data / f"{args.requests}" / MONTH
    if not (data / "labels.json").exists():
        print(f"generating {args.requests:,} demo requests in {data} ...")
        generate(data, month=MONTH, requests=args.requests, seed=7, history_months=0, progress=False)
    t0 = time.perf_counter()
    usage = usagekit.load(data)
    load_s = time.perf_counter() - t0
    rows = usage.load_report.kept
    cube = usage.cube.to_native().collect()
    without = q.CUBE_DIMS.copy()
    for c in ("team_id", "user_id"):
        without.remove(c)
    old = usage.cube.group_by(*without, drop_null_keys=False).agg(nw.len()).to_native().collect()

    print(f"{rows:,} rows loaded in {load_s:.1f} s")
    print(f"{'table':<44}{'rows':>12}{'MB':>10}")
    print(f"{'month cube with team_id, user_id':<44}{cube.height:>12,}{cube.estimated_size('mb'):>10.2f}")
    print(f"{'same cube without them (before)':<44}{old.height:>12,}{'':>10}")
    oct_ = usage.filter(month=MONTH)
    for by, side in (("end_user", ("end_user",)), ("tag", ("tags",))):
        t1 = time.perf_counter()
        oct_.breakdown(by)
        first = time.perf_counter() - t1
        t1 = time.perf_counter()
        oct_.breakdown(by)
        second = time.perf_counter() - t1
        roll = usage._sides[side].to_native().collect()
        print(
            f"{f'{by} roll-up (per day, beside the cube)':<44}{roll.height:>12,}{roll.estimated_size('mb'):>10.2f}"
            f"   breakdown: first {first:.2f} s, then {second:.3f} s"
        )
    derived = derive(usage.lazy, usage.tz).select(q.CUBE_DIMS).collect()
    print(f"{'(the rows themselves)':<44}{rows:>12,}{derived.estimated_size('mb'):>10.2f}  (cube columns only)")


if __name__ == "__main__":
    main()
