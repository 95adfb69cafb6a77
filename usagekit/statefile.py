"""Small JSON state files shared between runs: written atomically, updated under a lock.

Used by the alert state (:mod:`usagekit.notify`) and the saved colour mapping
(:mod:`usagekit.palette`): a reader sees the old file or the new one, never half of one, and two
runs updating the same file take turns.

>>> import tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "state.json"
>>> with locked(p):
...     write_json(p, {"a": 1})
>>> p.read_text()
'{\\n "a": 1\\n}'
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from pathlib import Path


def write_json(path: Path, data: dict, indent: int = 1) -> None:
    """Write ``data`` to ``path`` through a temporary file renamed into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=indent, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


@contextlib.contextmanager
def locked(path: Path):
    """Hold an exclusive lock on ``path``'s companion lock file while the block runs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(f".{path.name}.lock"), "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
