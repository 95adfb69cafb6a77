"""Run fuzz cases in a watched worker process and count the outcomes.

Each case is written to a scratch directory and loaded by a long-lived worker
(:mod:`fuzz.worker`); a case that runs over ``timeout`` seconds or pushes the worker past
``memory_mb`` is a defect, the worker is killed and a fresh one takes the next case. Defect
cases are copied to ``defects_dir/<case id>/`` with a ``MUTATION.txt``, so
``usagekit check <that dir>/<target>`` reproduces them.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .mutate import Case, make_case
from .seeds import all_seeds

TESTS = Path(__file__).resolve().parent.parent
OUTCOMES = ("clean", "rejected", "error", "defect")


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class Worker:
    """One ``python -m fuzz.worker`` process, restarted after a hang or a memory blow-up."""

    def __init__(self, store_dir: Path):
        self.proc = None
        self.buf = b""
        self.store_dir = store_dir

    def _start(self):
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(TESTS), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        env.setdefault("POLARS_MAX_THREADS", "2")
        env["USAGEKIT_STORE"] = str(self.store_dir)  # the validated store of this run, not the user's
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "fuzz.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        self.buf = b""

    def stop(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def run(self, path: Path, timeout: float, memory_mb: float, store: bool | None = None) -> dict:
        if self.proc is None or self.proc.poll() is not None:
            self._start()
        self.proc.stdin.write((json.dumps({"path": str(path), "store": store}) + "\n").encode())
        self.proc.stdin.flush()
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        peak = 0.0
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                self.stop()
                return {"outcome": "defect", "detail": f"hang: no answer within {timeout:.0f} s"}
            ready, _, _ = select.select([fd], [], [], min(0.05, left))
            peak = max(peak, _rss_mb(self.proc.pid))
            if peak > memory_mb:
                self.stop()
                return {"outcome": "defect", "detail": f"memory: the worker passed {memory_mb:.0f} MB"}
            if ready:
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    code = self.proc.wait()
                    self.proc = None
                    return {"outcome": "defect", "detail": f"the worker died (exit {code})"}
                self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        result = json.loads(line)
        if result.get("maxrss_mb", 0) > memory_mb:
            self.stop()
            return {"outcome": "defect", "detail": f"memory: the case took {result['maxrss_mb']:.0f} MB"}
        return result


@dataclass
class RunResult:
    counts: Counter = field(default_factory=Counter)
    defects: list[dict] = field(default_factory=list)
    by_mutation: Counter = field(default_factory=Counter)
    seconds: float = 0.0

    def summary(self) -> str:
        n = sum(self.counts.values())
        lines = [f"{n} cases in {self.seconds:.0f} s: " + ", ".join(f"{o} {self.counts.get(o, 0)}" for o in OUTCOMES)]
        for d in self.defects:
            lines.append(f"DEFECT {d['id']} [{d['seed']} / {d['mutation']}]: {d['detail']}")
            lines.append(f"    reproduce: usagekit check {d['reproduce']}")
        return "\n".join(lines)


def write_case(case: Case, where: Path) -> Path:
    where.mkdir(parents=True, exist_ok=True)
    for name, content in case.files.items():
        p = where / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content)
    return where / case.target if case.target != "." else where


def run(
    n: int,
    *,
    seed: int = 1,
    start: int = 0,
    timeout: float = 30.0,
    memory_mb: float = 2048,
    defects_dir: Path | None = None,
    cache: Path | None = None,
    progress=None,
) -> RunResult:
    """Run cases ``start .. start+n-1`` of run ``seed``; see the module docstring."""
    cache = cache or Path(tempfile.gettempdir()) / "usagekit-fuzz-seeds"
    seeds = all_seeds(cache)
    result = RunResult()
    t0 = time.monotonic()
    scratch = Path(tempfile.mkdtemp(prefix="usagekit-fuzz-"))
    worker = Worker(scratch / ".store")
    try:
        for i in range(start, start + n):
            case = make_case(seed, i, seeds)
            where = scratch / case.id
            target = write_case(case, where)
            # odd cases load straight from the files, even ones through the validated store
            res = worker.run(target, timeout, memory_mb, store=False if i % 2 else None)
            outcome = res["outcome"]
            result.counts[outcome] += 1
            result.by_mutation[(case.mutation.split("+")[0], outcome)] += 1
            if outcome == "defect":
                keep = (defects_dir or scratch / "defects") / case.id
                if keep.exists():
                    shutil.rmtree(keep)
                shutil.copytree(where, keep)
                (keep / "MUTATION.txt").write_text(
                    f"seed {case.seed}\nmutation {case.mutation}\ntarget {case.target}\n{res.get('detail')}\n"
                    f"{res.get('traceback', '')}"
                )
                rel = keep / case.target if case.target != "." else keep
                result.defects.append(
                    {
                        "id": case.id,
                        "seed": case.seed,
                        "mutation": case.mutation,
                        "detail": res.get("detail"),
                        "traceback": res.get("traceback", ""),
                        "reproduce": str(rel),
                    }
                )
            shutil.rmtree(where, ignore_errors=True)
            if progress:
                progress(i - start + 1, n, result)
    finally:
        worker.stop()
        shutil.rmtree(scratch / ".store", ignore_errors=True)
        if defects_dir is not None or not result.defects:
            shutil.rmtree(scratch, ignore_errors=True)
    result.seconds = time.monotonic() - t0
    return result
