"""What every format module provides, and what a read returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import polars as pl

from ._io import Probe


@dataclass
class Loaded:
    """One input after reading: staged usage rows and/or key registry rows."""

    format: str
    file: str
    usage: pl.LazyFrame | None = None  # output of stage(): normalized columns + bookkeeping
    keys: pl.DataFrame | None = None  # rows of the key registry (schema.KEY_COLUMNS)
    key_rejects: pl.DataFrame | None = None  # registry rows rejected (sources.keys.REJECT_COLUMNS)
    budgets: pl.DataFrame | None = None  # rows of the team/user budget registry (schema.BUDGET_COLUMNS)
    accounts: pl.DataFrame | None = None  # account names the input gives (schema.ACCOUNT_COLUMNS), ids masked
    notes: list[str] = field(default_factory=list)
    in_memory: bool = True  # False when ``usage`` still scans a file lazily
    scan_bytes: int = 0  # size on disk of a lazily scanned file


@dataclass(frozen=True)
class Format:
    """A format usagekit can read.

    ``sniff(probe)`` says whether a file looks like this format; ``read(path, probe)`` reads it.
    ``read_document(doc, shown)`` (JSON formats) reads an already-parsed JSON value.
    """

    name: str
    description: str
    kinds: tuple[str, ...]
    sniff: Callable[[Probe], bool]
    read: Callable[[Path, Probe], Loaded]
    read_document: Callable[[object, str], Loaded] | None = None


def pick(columns: set[str], *candidates: str) -> str | None:
    """The first of ``candidates`` present in ``columns`` (names compared case-insensitively)."""
    lower = {c.lower(): c for c in columns}
    for cand in candidates:
        if cand.lower() in lower:
            return lower[cand.lower()]
    return None


def column(columns: set[str], *candidates: str, blank_is_null: bool = False) -> pl.Expr:
    """The first of ``candidates`` present (see :func:`pick`) as an expression, or a null text
    column when none is; with ``blank_is_null`` an empty or blank cell reads as null."""
    found = pick(columns, *candidates)
    e = pl.col(found) if found else pl.lit(None, pl.String)
    return pl.when(e.str.strip_chars() == "").then(None).otherwise(e) if blank_is_null else e
