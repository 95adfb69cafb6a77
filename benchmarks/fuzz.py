"""The full fuzz run: hostile variants of every input format, counted by outcome.

    python benchmarks/fuzz.py --n 5000            # ~100 mutation kinds over every format's seeds
    python benchmarks/fuzz.py --n 200 --seed 9    # another deterministic sample

Prints the count of each outcome: clean (loaded, nothing rejected), rejected (loaded with
rows rejected and counted), error (a clear ``UsagekitError``) and defect (a crash, a hang
over 30 s, memory over 2 GB, a lost row, a bad kept value, an inexact total, a leaked
secret), then every defect with its mutation and the path of a reproducer. Exit code 1 when
there is a defect. The target is 0 defects in 5,000 cases.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the harness lives in tests/fuzz

from fuzz.runner import OUTCOMES, run  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=5000, help="cases to run (default %(default)s)")
    ap.add_argument("--seed", type=int, default=1, help="run seed: the same seed gives the same cases")
    ap.add_argument("--start", type=int, default=0, help="first case number (to rerun a slice)")
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds a case may take (default %(default)s)")
    ap.add_argument("--memory-mb", type=float, default=2048, help="memory a case may use (default %(default)s)")
    ap.add_argument(
        "--defects",
        type=Path,
        default=Path("fuzz-defects"),
        help="where defect cases are saved as reproducers (default %(default)s)",
    )
    args = ap.parse_args()

    def progress(done, total, result):
        if done % 100 == 0 or done == total:
            counts = ", ".join(f"{o} {result.counts.get(o, 0)}" for o in OUTCOMES)
            print(f"[{done}/{total}] {counts}", file=sys.stderr, flush=True)

    result = run(
        args.n,
        seed=args.seed,
        start=args.start,
        timeout=args.timeout,
        memory_mb=args.memory_mb,
        defects_dir=args.defects,
        progress=progress,
    )
    print(result.summary())
    kinds = Counter(m for (m, _o) in result.by_mutation.elements())
    print(f"\n{len(kinds)} mutation kinds exercised; outcomes per kind in {args.defects}/by-mutation.txt")
    args.defects.mkdir(parents=True, exist_ok=True)
    lines = [
        f"{m:<28} " + "  ".join(f"{o} {result.by_mutation.get((m, o), 0)}" for o in OUTCOMES) for m in sorted(kinds)
    ]
    (args.defects / "by-mutation.txt").write_text("\n".join(lines) + "\n")
    return 1 if result.defects else 0


if __name__ == "__main__":
    sys.exit(main())
