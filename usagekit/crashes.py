"""Internal errors, kept for a bug report: the traceback goes to a file, never to the terminal.

A ``UsagekitError`` is the user's to act on and is printed as it is; anything else is a bug in
usagekit. :func:`save_traceback` writes the current exception's traceback (every secret in it
masked, see :mod:`usagekit.masking`) to ``$USAGEKIT_CRASH_DIR``, else
``$XDG_CACHE_HOME/usagekit/crashes`` (``~/.cache/usagekit/crashes``), else the system temp
directory, and returns the path, so the CLI can print one line naming the problem and the file.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import sys
import tempfile
import traceback
from pathlib import Path

from .masking import redact_text


def crash_dir() -> Path:
    """Where tracebacks of internal errors are saved (created on first use)."""
    if os.environ.get("USAGEKIT_CRASH_DIR"):
        return Path(os.environ["USAGEKIT_CRASH_DIR"])
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "usagekit" / "crashes"


def save_traceback(command: str, exc: BaseException) -> Path:
    """Write ``exc``'s traceback (secrets masked) to a new file and return its path."""
    return save_text(command, "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))


def save_text(command: str, text: str) -> Path:
    """Write a traceback ``text`` (secrets masked), headed by the version and the command line,
    to a new file in :func:`crash_dir` and return its path."""
    from . import __version__

    stamp = f"{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%SZ}"
    body = (
        f"usagekit {__version__} {command}: internal error at {stamp}\n"
        f"python {platform.python_version()} on {platform.platform()}\n"
        f"argv: {' '.join(sys.argv[1:])}\n\n{text}"
    )
    body = redact_text(body)
    for where in (crash_dir(), Path(tempfile.gettempdir()) / "usagekit-crashes"):
        try:
            where.mkdir(parents=True, exist_ok=True)
            path = where / f"usagekit-{command}-{stamp}-{os.getpid()}.txt"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as fh:
                fh.write(body)
            return path
        except OSError:
            continue
    raise OSError("no writable directory for the traceback")


def one_line(exc: BaseException, limit: int = 200) -> str:
    """``TypeName: first line of the message`` (secrets masked), short enough for one line."""
    first = (str(exc).strip().splitlines() or [""])[0]
    if len(first) > limit:
        first = first[:limit] + "..."
    return redact_text(f"{type(exc).__name__}: {first}" if first else type(exc).__name__)
