"""Every error usagekit raises on purpose. One root, :class:`UsagekitError`.

Messages say what was wrong, where (file, row, field) and what to do next, so the CLI can
print them as they are: a user never needs a traceback to act on one.
"""

from __future__ import annotations

from pathlib import Path


class UsagekitError(Exception):
    """Root of all usagekit errors."""


class SourceError(UsagekitError):
    """An input file (or response) cannot be used as a whole.

    Carries ``file``, and where known ``row`` (1-based data row), ``field`` and ``expected``.
    """

    def __init__(
        self, file, problem: str, *, row: int | None = None, field: str | None = None, expected: str | None = None
    ):
        from .masking import redact_text  # a cell quoted in a message may hold a raw key secret

        self.file = str(file) if file is not None else None
        self.row = row
        self.field = field
        self.problem = redact_text(problem)
        self.expected = redact_text(expected) if expected else expected
        where = self.file or "<input>"
        if row is not None:
            where += f" row {row}"
        if field is not None:
            where += f" field '{field}'"
        msg = f"{where}: {self.problem}"
        if self.expected:
            msg += f"; expected {self.expected}"
        msg = redact_text(msg)
        super().__init__(msg)


class FormatError(SourceError):
    """The format of an input could not be recognised, or is not the one asked for."""


class KeyRegistryError(SourceError):
    """The key registry file has an unusable value."""


class FetchError(UsagekitError):
    """Fetching ``/api/usage`` over HTTP failed; carries ``url`` and ``status`` (or None)."""

    def __init__(self, url: str, message: str, status: int | None = None):
        self.url = url
        self.status = status
        super().__init__(f"{url}: {message}")


class QueryError(UsagekitError):
    """A query was asked something it cannot answer (unknown dimension, bad date...)."""


class MissingExtraError(UsagekitError, ImportError):
    """A feature needs an optional dependency that is not installed; ``extra`` names what to install."""

    def __init__(self, feature: str, module: str, extra: str):
        self.feature, self.module, self.extra = feature, module, extra
        super().__init__(
            f"{feature} needs {module.split('.')[0]}, which is not installed: pip install 'usagekit[{extra}]'"
        )


class NoDataError(QueryError):
    """The month asked for holds no usage: nothing to report or check (never shown as $0.00)."""


def display_path(path) -> str:
    """A path as the user would recognise it (relative to the working directory if inside it)."""
    p = Path(path)
    try:
        return str(p.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(p)
