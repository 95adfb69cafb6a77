"""Differential fuzz: hostile canonical inputs loaded by the Polars engine and by Spark must agree.

    python benchmarks/fuzz_spark.py --n 60            # 60 cases, one local Spark session
    python benchmarks/fuzz_spark.py --n 200 --seed 4  # another deterministic sample

Each case mutates one of the canonical seeds (``tests/data/canonical/usage.csv``,
``usage.jsonl``, a Parquet version of them and a demo day; the mutations of
``tests/fuzz/mutate.py``) and, one case in four, puts a second canonical file beside it that
repeats some of its request ids. Both engines load it without a store. They must give the same
outcome: the same error (first line), or the same load report (per file: read, kept, rejected,
duplicates, reasons), the same rejected rows (file, row, field, reason, value), the same kept
rows and the same month total. Anything else is a defect, printed with its mutation; the case's
files are kept under ``--defects`` as a reproducer. Exit code 1 when there is a defect.

Spark validates canonical CSV, JSON Lines and Parquet itself (``usagekit/sources/spark_text.py``,
``usagekit/sources/spark_stage.py``); a mutation that makes a file another format sends the load
to the driver's Polars validation, which is compared all the same. Needs Java 17 and PySpark.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the mutations live in tests/fuzz

from fuzz.mutate import _mutate_one  # noqa: E402
from fuzz.seeds import DATA, Seed, _parquet, demo_seeds  # noqa: E402


def canonical_seeds(cache: Path) -> list[Seed]:
    import polars as pl

    import usagekit

    csv = (DATA / "canonical" / "usage.csv").read_bytes()
    jsonl = (DATA / "canonical" / "usage.jsonl").read_bytes()
    rows = usagekit.load(DATA / "canonical" / "usage.csv", store=False).lazy.collect()
    day = next(s for s in demo_seeds(cache) if s.name == "demo-day.parquet")
    return [
        Seed("canonical-usage.csv", {"usage.csv": csv}, "usage.csv", "csv"),
        Seed("canonical-usage.jsonl", {"usage.jsonl": jsonl}, "usage.jsonl", "jsonl"),
        Seed("canonical-usage.parquet", {"usage.parquet": _parquet(rows)}, "usage.parquet", "parquet"),
        day,
        Seed("canonical-text-pair", {"a.csv": csv, "b.jsonl": jsonl}, "a.csv", "csv"),
        Seed("canonical-mixed-pair", {"a.csv": csv, "b.parquet": _parquet(pl.DataFrame(rows))}, "a.csv", "csv"),
    ]


def outcome(path: Path, engine) -> dict:
    """What a user sees of a load: the error, or the report, rejected rows, rows and total."""
    import polars as pl

    import usagekit
    from usagekit.errors import UsagekitError

    try:
        usage = usagekit.load(path, engine=engine, store=False)
        report = usage.load_report.to_frame()
        rejected = usage.rejected
        rows = usage.lazy.collect() if engine == "polars" else usage.to_engine("polars").lazy.collect()
        total = usage.total()["cost_cents"]
    except UsagekitError as exc:
        return {"error": (str(exc).splitlines() or [type(exc).__name__])[0]}
    except Exception as exc:  # noqa: BLE001 - a crash is what this looks for
        return {"crash": f"{type(exc).__name__}: {str(exc)[:300]}"}
    rej = rejected.copy().astype("object").map(_plain)  # list cells (tags) as text, to sort and compare
    rej = rej.sort_values(list(rej.columns)).reset_index(drop=True) if len(rej) else rej
    keep = rows.select(sorted(rows.columns))
    keep = keep.with_columns(pl.col(c).list.join(",") for c, t in keep.schema.items() if isinstance(t, pl.List))
    return {
        "report": report.sort_values(list(report.columns)).reset_index(drop=True),
        "rejected": rej,
        "rows": keep.sort(keep.columns, nulls_last=True),
        "total": total,
    }


def _plain(v):
    import numpy as np
    import pandas as pd

    if isinstance(v, (list, tuple, np.ndarray)):
        return ",".join(map(str, v))
    return "" if pd.isna(v) else str(v)


def differences(a: dict, b: dict) -> list[str]:
    import pandas as pd

    if "crash" in a or "crash" in b:
        return [f"crash: polars {a.get('crash')!r}, spark {b.get('crash')!r}"]
    if "error" in a or "error" in b:
        return (
            [] if a.get("error") == b.get("error") else [f"error: polars {a.get('error')!r}, spark {b.get('error')!r}"]
        )
    out = []
    for part in ("report", "rejected"):
        try:
            pd.testing.assert_frame_equal(a[part], b[part], check_dtype=False)
        except AssertionError as exc:
            out.append(f"{part}: {str(exc).splitlines()[0:3]}")
    if not a["rows"].equals(b["rows"]):
        out.append(f"rows: polars {a['rows'].height}, spark {b['rows'].height}, or their values differ")
    if abs(a["total"] - b["total"]) > 1e-6 * max(1.0, abs(a["total"])):
        out.append(f"total: polars {a['total']!r}, spark {b['total']!r}")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=60, help="cases to run (default %(default)s)")
    ap.add_argument("--seed", type=int, default=1, help="run seed: the same seed gives the same cases")
    ap.add_argument(
        "--defects", type=Path, default=Path("fuzz-spark-defects"), help="reproducers (default %(default)s)"
    )
    args = ap.parse_args()

    from usagekit.spark import local_session

    work = Path(tempfile.mkdtemp(prefix="usagekit-fuzz-spark-"))
    seeds = canonical_seeds(work / "seeds")
    session = local_session()
    counts: Counter = Counter()
    defects = []
    started = time.perf_counter()
    try:
        for i in range(args.n):
            rng = random.Random(args.seed * 1_000_003 + i)
            seed = rng.choice(seeds)
            data, how = _mutate_one(rng, seed, seed.files[seed.subject])
            case = work / f"case-{i}"
            case.mkdir()
            for name, content in {**seed.files, seed.subject: data}.items():
                (case / name).write_bytes(content)
            a, b = outcome(case, "polars"), outcome(case, session)
            diff = differences(a, b)
            kind = "defect" if diff else ("error" if "error" in a else "agree")
            counts[kind] += 1
            if diff:
                keep = args.defects / f"{args.seed}-{i}"
                shutil.rmtree(keep, ignore_errors=True)
                shutil.copytree(case, keep)
                defects.append((i, seed.name, how, diff, keep))
            shutil.rmtree(case)
            print(
                f"[{i + 1}/{args.n} {time.perf_counter() - started:.0f} s] {seed.name} {how}: {kind}",
                file=sys.stderr,
                flush=True,
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(
        f"{args.n} cases (seed {args.seed}): both engines agree on {counts['agree']} loads and "
        f"{counts['error']} errors; {counts['defect']} defect(s)"
    )
    for i, name, how, diff, keep in defects:
        print(f"  case {i}: {name} {how} (reproducer: {keep})")
        for d in diff:
            print(f"    {d}")
    return 1 if defects else 0


if __name__ == "__main__":
    sys.exit(main())
