"""Readers for every input format, and detection of which one a file is.

Each format lives in its own module exposing ``FORMAT`` (a :class:`~usagekit.sources.base.Format`).
Detection tries them in :data:`ORDER`, looking at content (header, first record, document
shape), never at the file name alone.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from ..errors import FormatError, display_path
from ._io import Probe, probe
from .base import Format, Loaded

# Most specific first: a LiteLLM key export must not be mistaken for canonical rows.
ORDER = (
    "keys",
    "litellm_keys",
    "budgets",
    "litellm",
    "litellm_daily",
    "openrouter",
    "focus",
    "canonical",
    "api_usage",
    "openai",
    "anthropic",
)


def _load_formats() -> dict[str, Format]:
    found: dict[str, Format] = {}
    for mod_name in ORDER:
        try:
            mod = importlib.import_module(f"{__name__}.{mod_name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"{__name__}.{mod_name}":
                continue
            raise
        for fmt in getattr(mod, "FORMATS", (getattr(mod, "FORMAT", None),)):
            if fmt is not None:
                found[fmt.name] = fmt
    return found


FORMATS: dict[str, Format] = _load_formats()


def format_names() -> list[str]:
    return list(FORMATS)


def get_format(name: str) -> Format:
    key = name.strip().lower().replace("-", "_")
    for fname, fmt in FORMATS.items():
        if fname.replace("-", "_") == key:
            return fmt
    raise FormatError(None, f"unknown format '{name}'", expected=f"one of: auto, {', '.join(FORMATS)}")


def detect(path: Path) -> tuple[Format | None, Probe]:
    """The format a file is in (None if no reader recognises it) and what was seen of it."""
    pr = probe(path)
    for fmt in FORMATS.values():
        if pr.kind in fmt.kinds and fmt.sniff(pr):
            return fmt, pr
    return None, pr


def describe_unknown(pr: Probe) -> str:
    if pr.kind == "csv":
        seen = f"a CSV file with columns {', '.join(pr.header[:12])}{' ...' if len(pr.header) > 12 else ''}"
    elif pr.kind == "parquet":
        seen = f"a Parquet file with columns {', '.join(pr.header[:12])}"
    elif pr.kind == "jsonl":
        seen = f"JSON Lines whose first record has fields {', '.join(list(pr.first or {})[:12])}"
    elif pr.kind == "json":
        seen = "a JSON document of an unrecognised shape"
    else:
        seen = "neither CSV, JSON nor Parquet"
    return seen


def read(path: Path, format: str = "auto") -> Loaded:
    """Read one file in the given format (``auto`` = detect it)."""
    if format == "auto":
        fmt, pr = detect(path)
        if fmt is None:
            raise FormatError(
                display_path(path),
                f"format not recognised: {describe_unknown(pr)}",
                expected=f"one of: {', '.join(f.name for f in FORMATS.values())} (pass format=... to say which)",
            )
    else:
        fmt = get_format(format)
        pr = probe(path)
        if pr.kind not in fmt.kinds:
            raise FormatError(
                display_path(path),
                f"is {pr.kind}, but format '{fmt.name}' is read from {' or '.join(fmt.kinds)}",
                expected=f"a {fmt.name} file",
            )
    return fmt.read(path, pr)


def read_document(doc, shown: str, format: str = "auto") -> Loaded:
    """Read an already-parsed JSON document (an ``/api/usage`` response, an API page...)."""
    candidates = [get_format(format)] if format != "auto" else list(FORMATS.values())
    pr = Probe(Path(shown), "json", _doc=doc, _doc_loaded=True)
    for fmt in candidates:
        if fmt.read_document is not None and (format != "auto" or fmt.sniff(pr)):
            return fmt.read_document(doc, shown)
    raise FormatError(
        shown,
        "JSON document of an unrecognised shape",
        expected="an /api/usage response, an OpenAI usage/costs page or an Anthropic cost report",
    )


__all__ = ["FORMATS", "Format", "Loaded", "detect", "read", "read_document", "format_names", "get_format"]
