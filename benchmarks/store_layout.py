"""Benchmark: how the validated store keeps kept rows: one Parquet file per input file (today's
layout, :mod:`usagekit.store.cache`) against a Delta Lake table partitioned by day (``deltalake``).

    python benchmarks/store_layout.py                     # the 10M demo month (benchmarks/.data)
    python benchmarks/store_layout.py --requests 1000000

Both layouts get the same rows: the demo month's daily canonical Parquet files (made by
``benchmarks/cube.py``; symlink a shared copy into ``benchmarks/.data/``), one input file at a
time, as a load adds them. Measured, each the best of ``--repeat`` runs:

* **write month**: every daily file written (Parquet: one file each; Delta: one append, one
  commit, per file);
* **add one day**: the last day written again into a store holding the others (the incremental
  load's write);
* **scan + group**: every row read back and summed per day and key (what a cube build reads);
* **one day's rows**: the rows of one day, newest first (a drill-down);
* **size on disk** and **files** (Parquet data files plus Delta's log), both zstd-compressed.

Prints the figures side by side with the ratio Delta / Parquet, and whether Spark reads each
layout with what the package ships (Parquet: ``spark.read.parquet``; Delta: needs the
``delta-spark`` package and its Maven jars at session start).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def _size(path: Path) -> tuple[int, int]:
    files = [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files), len(files)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--requests", type=int, default=10_000_000, help="demo month size (default %(default)s)")
    ap.add_argument("--repeat", type=int, default=2, help="runs per figure, best kept (default %(default)s)")
    ap.add_argument("--tmp", type=Path, default=None, help="where the stores are written (default: a temp dir)")
    args = ap.parse_args()

    try:
        import deltalake
    except ImportError:
        print("store_layout: needs deltalake (pip install deltalake)", file=sys.stderr)
        return 2
    import polars as pl

    src = HERE / ".data" / f"2026-10-{args.requests}" / "usage"
    files = sorted(src.glob("*.parquet"))
    if not files:
        print(f"store_layout: no demo month in {src} (run benchmarks/cube.py, or symlink one)", file=sys.stderr)
        return 2
    print(f"{len(files)} daily files from {src}; load {os.getloadavg()[0]:.1f}", flush=True)
    frames = [pl.read_parquet(f).with_columns(pl.col("ts").dt.date().alias("_day")) for f in files]
    rows = sum(f.height for f in frames)
    print(f"{rows:,} rows read into memory", flush=True)
    root = Path(tempfile.mkdtemp(prefix="usagekit-layout-", dir=args.tmp))

    def parquet_write(where: Path, parts) -> None:
        for i, f in parts:
            d = where / f"file-{i:03d}"
            d.mkdir(parents=True, exist_ok=True)
            f.write_parquet(d / "rows.parquet", statistics=True)

    # the same compression as the Parquet layout (polars writes zstd; delta-rs defaults to snappy)
    options = {"partition_by": ["_day"], "writer_properties": deltalake.WriterProperties(compression="ZSTD")}

    def delta_write(where: Path, parts) -> None:
        for _, f in parts:
            f.write_delta(where, mode="append", delta_write_options=options)

    results: dict[str, dict[str, float]] = {"parquet": {}, "delta": {}}
    month = list(enumerate(frames))
    last_day = frames[-1]["_day"][0]
    for name, write in (("parquet", parquet_write), ("delta", delta_write)):
        where = root / name

        def fresh(where=where, write=write):
            shutil.rmtree(where, ignore_errors=True)
            write(where, month)

        print(f"{name}: writing the month...", flush=True)
        results[name]["write month (s)"] = _best(fresh, args.repeat)

        def add_day(where=where, write=write):
            shutil.rmtree(where, ignore_errors=True)
            write(where, month[:-1])
            t = time.perf_counter()
            write(where, month[-1:])
            return time.perf_counter() - t

        results[name]["add one day (s)"] = min(add_day() for _ in range(args.repeat))
        scan = (
            (lambda where=where: pl.scan_parquet(where / "*" / "rows.parquet"))
            if name == "parquet"
            else (lambda where=where: pl.scan_delta(str(where)))
        )
        results[name]["scan + group (s)"] = _best(
            lambda scan=scan: (
                scan()
                .group_by("_day", "key_id")
                .agg(pl.col("cost_cents").sum(), pl.col("requests").sum())
                .collect(engine="streaming")
            ),
            args.repeat,
        )
        results[name]["one day's rows (s)"] = _best(
            lambda scan=scan: scan().filter(pl.col("_day") == last_day).sort("ts", descending=True).head(100).collect(),
            args.repeat,
        )
        size, n = _size(where)
        results[name]["size on disk (MB)"] = size / 1e6
        results[name]["files"] = n
        print(f"{name}: done", flush=True)
    if deltalake.DeltaTable(str(root / "delta")).version() + 1 != len(files):
        print("store_layout: the Delta table does not hold one commit per file", file=sys.stderr)
        return 1
    shutil.rmtree(root, ignore_errors=True)

    print()
    print(
        f"store layout, {rows:,} rows in {len(files)} daily files (deltalake {deltalake.__version__}, "
        f"polars {pl.__version__}, load {os.getloadavg()[0]:.1f})"
    )
    print(f"{'':<22}{'parquet per file':>18}{'delta by day':>16}{'delta/parquet':>15}")
    for what in results["parquet"]:
        p, d = results["parquet"][what], results["delta"][what]
        fmt = "{:>18,.0f}{:>16,.0f}" if what == "files" else "{:>18.2f}{:>16.2f}"
        print(f"{what:<22}" + fmt.format(p, d) + f"{(d / p if p else float('nan')):>14.2f}x")
    print("spark reads it with   spark.read.parquet (built in)   delta-spark + Maven jars at session start")
    return 0


if __name__ == "__main__":
    sys.exit(main())
