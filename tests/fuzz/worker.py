"""Load one fuzz case and say what happened: ``clean``, ``rejected``, ``error`` or ``defect``.

Run as ``python -m fuzz.worker`` (with ``tests/`` on the path): reads one JSON request per
line on stdin (``{"path": ...}``) and answers one JSON line per request. usagekit's own
output goes to stderr so it cannot garble the answers.

A defect is anything a user must never see: an exception that is not a ``UsagekitError``, a
row lost from the accounting, a kept row without a time or with a NaN/Inf/negative cost, a
total that differs from the exact ``Decimal`` sum of the kept rows, or a raw key secret in
what usagekit writes or prints.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import tempfile
import traceback
from decimal import Decimal
from pathlib import Path

#: raw secrets the mutations plant; none may come back out of usagekit
PLANTED_SECRETS = ("sk-ant-api03-" + "Zq9" * 12, "AbC123xYz" * 4, "sk-proj-ABCDEFGHIJKLMNOPQRSTUV1234")
#: a total may differ from the exact sum by float rounding of the final value only
REL_TOLERANCE = 1e-12
ABS_TOLERANCE = 1e-6


def invariants(usage) -> list[str]:
    """Every broken promise of a successful load (empty when all hold)."""
    import polars as pl

    problems = []
    rep = usage.load_report
    if not rep.balanced:
        problems.append(
            f"silent loss: read {rep.read} != kept {rep.kept} + rejected {rep.rejected} + duplicates {rep.duplicates}"
        )
    rows = usage.lazy.collect()
    if rows.height != rep.kept:
        problems.append(f"silent loss: {rows.height} rows kept but the report says {rep.kept}")
    rejected = usage.rejected
    if len(rejected) != rep.rejected + rep.duplicates:
        problems.append(
            f"silent loss: {len(rejected)} rows set aside but the report says {rep.rejected} + {rep.duplicates}"
        )
    n_null_ts = rows["ts"].null_count()
    if n_null_ts:
        problems.append(f"{n_null_ts} kept row(s) with a null ts")
    cost = rows["cost_cents"].drop_nulls()
    bad = cost.filter(cost.is_nan() | cost.is_infinite() | (cost < 0)).len()
    if bad:
        problems.append(f"{bad} kept row(s) with a NaN, infinite or negative cost")
    if rows.schema["cost_cents"] != pl.Float64:
        problems.append(f"cost_cents is {rows.schema['cost_cents']}")
    exact = sum((Decimal(float(c)) for c in cost.filter(cost.is_finite()).to_list()), Decimal(0))
    total = usage.total()["cost_cents"]
    if abs(Decimal(total) - exact) > max(Decimal(ABS_TOLERANCE), abs(exact) * Decimal(REL_TOLERANCE)):
        problems.append(f"total {total!r} differs from the exact sum {exact} of the kept rows")
    # what a user reads or gets written must work, and must not hold a planted secret
    shown = [str(rep), rep.details(), usage.summary(), repr(usage), rep.to_frame().to_csv()]
    usage.daily("key")
    usage.breakdown("model")
    usage.key_summary()
    with tempfile.TemporaryDirectory() as tmp:
        out = usage.write_rejected(Path(tmp) / "rejected.csv")
        shown.append(out.read_text(encoding="utf-8", errors="replace"))
    shown.append(
        rows.with_columns(
            pl.col(c).list.join(",") for c, t in rows.schema.items() if isinstance(t, pl.List)
        ).write_csv()
    )
    text = "\n".join(shown)
    for secret in PLANTED_SECRETS:
        if secret in text:
            problems.append("a raw key secret is in the output")
            break
    return problems


def check(path: str, store: bool | None = None) -> dict:
    """Load ``path`` (through the validated store unless ``store=False``) and classify the outcome."""
    import usagekit
    from usagekit.errors import UsagekitError

    try:
        usage = usagekit.load(path, store=store)
        problems = invariants(usage)
    except UsagekitError as exc:
        msg = str(exc)
        leaked = any(s in msg for s in PLANTED_SECRETS)
        if leaked:
            return {"outcome": "defect", "detail": "a raw key secret is in an error message"}
        return {"outcome": "error", "detail": msg.splitlines()[0][:300] if msg else type(exc).__name__}
    except BaseException as exc:  # noqa: BLE001 - classifying every failure is the point
        if isinstance(exc, KeyboardInterrupt):
            raise
        tb = traceback.format_exc(limit=12)
        return {"outcome": "defect", "detail": f"{type(exc).__name__}: {str(exc)[:300]}", "traceback": tb[-3000:]}
    if problems:
        return {"outcome": "defect", "detail": "; ".join(problems)}
    rep = usage.load_report
    if rep.rejected or rep.duplicates:
        return {"outcome": "rejected", "detail": f"{rep.rejected} rejected, {rep.duplicates} duplicates"}
    return {"outcome": "clean", "detail": f"{rep.kept} rows kept"}


def peak_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike ``ru_maxrss`` it does not start from the
    parent's peak at fork)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # usagekit prints to stderr from here on
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 1000))
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        result = check(req["path"], store=req.get("store"))
        result["maxrss_mb"] = peak_mb()
        answers.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
