"""Benchmark: end-to-end monthly report time (papermill + nbconvert) on the demo month and 1M requests.

    python benchmarks/report.py                 # demo month (300k requests) and 1M requests
    python benchmarks/report.py --requests 300000

Prints, per size: seconds to publish, the page size, and the target it compares to (< 30 s at 1M).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TARGET_S = 30.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, action="append", help="sizes to time (default: 300000 and 1000000)")
    args = ap.parse_args()
    sizes = args.requests or [300_000, 1_000_000]

    from usagekit.demo import generate
    from usagekit.report import publish

    rows = []
    for n in sizes:
        data = HERE / ".data" / f"report-2026-10-{n}"
        if not (data / "labels.json").exists():
            print(f"generating {n:,} demo requests into {data} (cached)", flush=True)
            generate(data, month="2026-10", requests=n, seed=7, history_months=1, progress=True)
        with tempfile.TemporaryDirectory() as out:
            t0 = time.perf_counter()
            pub = publish(month="2026-10", source=data, out=out, progress=False)
            took = time.perf_counter() - t0
            rows.append((n, took, pub.size_bytes, pub.summary.get("anomalies")))
            print(f"  {n:,} requests: {took:.1f} s", flush=True)
    print(f"\n{'requests':>12} {'publish s':>10} {'page MB':>8} {'anomalies':>9}  target")
    for n, took, size, anomalies in rows:
        print(
            f"{n:>12,} {took:>10.1f} {size / 1e6:>8.2f} {anomalies!s:>9}  < {TARGET_S:.0f} s at 1M: "
            f"{'met' if took < TARGET_S or n < 1_000_000 else 'MISSED'}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
