"""Row accounting for a load: what was read, kept, rejected (and why) and dropped as duplicates.

The invariant every load keeps, per file and in total: ``read = kept + rejected + duplicates``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pandas as pd


@dataclass
class FileReport:
    """Accounting for one input file (or fetched response)."""

    file: str
    format: str
    read: int = 0
    kept: int = 0
    rejected: int = 0
    duplicates: int = 0
    naive_ts: int = 0  # kept rows whose timestamp had no offset and was taken as UTC
    unpriced: int = 0  # kept rows with no cost (never counted as $0)
    cost_cents: float = 0.0  # sum over kept rows
    reasons: dict[str, int] = field(default_factory=dict)
    first_ts: datetime | None = None
    last_ts: datetime | None = None
    keys: int = 0  # key registry rows kept from this file
    keys_rejected: int = 0  # key registry rows rejected (see key_reasons, key_rejects)
    key_reasons: dict[str, int] = field(default_factory=dict)
    key_rejects: object = None  # polars frame: row, key_id (masked), field, reason, value
    notes: list[str] = field(default_factory=list)

    def merge(self, other: "FileReport") -> "FileReport":
        """One line for two inputs shown under the same name."""
        reasons = dict(self.reasons)
        for r, n in other.reasons.items():
            reasons[r] = reasons.get(r, 0) + n
        firsts = [t for t in (self.first_ts, other.first_ts) if t is not None]
        lasts = [t for t in (self.last_ts, other.last_ts) if t is not None]
        return FileReport(
            file=self.file,
            format=self.format,
            read=self.read + other.read,
            kept=self.kept + other.kept,
            rejected=self.rejected + other.rejected,
            duplicates=self.duplicates + other.duplicates,
            naive_ts=self.naive_ts + other.naive_ts,
            unpriced=self.unpriced + other.unpriced,
            cost_cents=self.cost_cents + other.cost_cents,
            reasons=reasons,
            first_ts=min(firsts) if firsts else None,
            last_ts=max(lasts) if lasts else None,
            keys=self.keys + other.keys,
            keys_rejected=self.keys_rejected + other.keys_rejected,
            key_reasons={
                r: self.key_reasons.get(r, 0) + other.key_reasons.get(r, 0)
                for r in {**self.key_reasons, **other.key_reasons}
            },
            notes=self.notes + [n for n in other.notes if n not in self.notes],
        )


def _n(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


@dataclass
class LoadReport:
    """What a :func:`usagekit.load` read.

    ``str(report)`` (what ``print`` shows) is a few lines: the totals and any problems;
    :meth:`details` is the per-file table ``usagekit check`` prints.
    """

    files: list[FileReport] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, why)
    store: str | None = None  # the validated store the load used (None: loaded without one)
    validated_files: int = 0  # files validated by this load (the rest were read from the store)
    stored_files: int = 0  # files whose validated rows were read from the store
    #: masked ids of keys whose registry row was rejected (and no other row kept): cap unknown
    registry_rejected_keys: tuple[str, ...] = ()

    @property
    def store_line(self) -> str:
        """One line saying what the validated store saved (empty without a store)."""
        if self.store is None:
            return ""
        return (
            f"store: {self.stored_files} of {self.stored_files + self.validated_files} file(s) read from the "
            f"validated store ({self.store}), {self.validated_files} validated by this load"
        )

    @property
    def registry_rejected(self) -> int:
        """Key registry rows rejected, over every registry file."""
        return self._total("keys_rejected")

    def _total(self, name: str) -> int:
        return sum(getattr(f, name) for f in self.files)

    @property
    def read(self) -> int:
        return self._total("read")

    @property
    def kept(self) -> int:
        return self._total("kept")

    @property
    def rejected(self) -> int:
        return self._total("rejected")

    @property
    def duplicates(self) -> int:
        return self._total("duplicates")

    @property
    def naive_ts(self) -> int:
        return self._total("naive_ts")

    @property
    def unpriced(self) -> int:
        return self._total("unpriced")

    @property
    def reasons(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for f in self.files:
            for why, n in f.reasons.items():
                out[why] = out.get(why, 0) + n
        return dict(sorted(out.items(), key=lambda kv: -kv[1]))

    @property
    def balanced(self) -> bool:
        """True when read = kept + rejected + duplicates for every file."""
        return all(f.read == f.kept + f.rejected + f.duplicates for f in self.files)

    @property
    def first_ts(self):
        vals = [f.first_ts for f in self.files if f.first_ts is not None]
        return min(vals) if vals else None

    @property
    def last_ts(self):
        vals = [f.last_ts for f in self.files if f.last_ts is not None]
        return max(vals) if vals else None

    def to_frame(self) -> pd.DataFrame:
        """One row per file: the accounting as a pandas frame."""
        rows = [
            {
                "file": f.file,
                "format": f.format,
                "read": f.read,
                "kept": f.kept,
                "rejected": f.rejected,
                "duplicates": f.duplicates,
                "naive_ts": f.naive_ts,
                "unpriced": f.unpriced,
                "cost_cents": f.cost_cents,
                "first_ts": f.first_ts,
                "last_ts": f.last_ts,
                "reasons": "; ".join(f"{k}: {v}" for k, v in f.reasons.items()),
            }
            for f in self.files
        ]
        return pd.DataFrame(
            rows,
            columns=[
                "file",
                "format",
                "read",
                "kept",
                "rejected",
                "duplicates",
                "naive_ts",
                "unpriced",
                "cost_cents",
                "first_ts",
                "last_ts",
                "reasons",
            ],
        )

    def __str__(self) -> str:
        files = len(self.files)
        keys = sum(f.keys for f in self.files)
        ok = "holds" if self.balanced else "DOES NOT HOLD"
        lines = [
            f"{self.read:,} rows read from {files:,} file{'s' if files != 1 else ''}: {self.kept:,} kept, "
            f"{self.rejected:,} rejected, {self.duplicates:,} duplicates "
            f"(read = kept + rejected + duplicates {ok})"
        ]
        span = (
            f"events {self.first_ts:%Y-%m-%d %H:%M} .. {self.last_ts:%Y-%m-%d %H:%M} UTC"
            if self.first_ts
            else "no events"
        )
        lines.append(span + (f"; {keys:,} keys in the registry" if keys else ""))
        problems = []
        if self.rejected:
            top = list(self.reasons.items())
            why = ", ".join(f"{n:,} {r}" for r, n in top[:3]) + (
                f" and {len(top) - 3} more reasons" if len(top) > 3 else ""
            )
            problems.append(f"{_n(self.rejected, 'row')} rejected ({why})")
        if self.duplicates:
            problems.append(f"{_n(self.duplicates, 'repeated request id')} dropped")
        if self.registry_rejected:
            key_top: dict[str, int] = {}
            for f in self.files:
                for r, n in f.key_reasons.items():
                    key_top[r] = key_top.get(r, 0) + n
            why = ", ".join(f"{n:,} {r}" for r, n in list(key_top.items())[:3])
            problems.append(
                f"{_n(self.registry_rejected, 'key registry row')} rejected ({why}), {keys:,} kept; "
                f"cap unknown for {len(self.registry_rejected_keys)} key(s)"
            )
        if self.naive_ts:
            problems.append(f"{_n(self.naive_ts, 'timestamp')} without a UTC offset (taken as UTC)")
        if self.unpriced:
            problems.append(f"{_n(self.unpriced, 'row')} unpriced (not counted as $0)")
        notes = sum(len(f.notes) for f in self.files)
        if notes:
            problems.append(f"{_n(notes, 'note')} on the sources")
        if self.skipped:
            names = ", ".join(Path(f).name for f, _ in self.skipped[:2]) + (", ..." if len(self.skipped) > 2 else "")
            problems.append(f"{_n(len(self.skipped), 'file')} skipped ({names})")
        lines.append("problems: " + "; ".join(problems) if problems else "no problems found")
        if self.store_line:
            lines.append(self.store_line)
        if files > 1 or problems:
            lines.append("report.details() lists every file, reason and note.")
        return "\n".join(lines)

    def details(self) -> str:
        """The per-file table: read, kept, rejected, duplicates, naive timestamps, unpriced,
        span; then rejections by reason, notes and skipped files (``usagekit check`` prints it)."""
        head = ("file", "format", "read", "kept", "rejected", "dupes", "naive ts", "unpriced", "span (UTC)")
        body = []
        for f in self.files:
            span = f"{f.first_ts:%Y-%m-%d %H:%M} .. {f.last_ts:%Y-%m-%d %H:%M}" if f.first_ts else "-"
            body.append(
                (
                    f.file,
                    f.format,
                    f"{f.read:,}",
                    f"{f.kept:,}",
                    f"{f.rejected:,}",
                    f"{f.duplicates:,}",
                    f"{f.naive_ts:,}",
                    f"{f.unpriced:,}",
                    span if f.read else (f"({f.keys} keys)" if f.keys else "(budgets)"),
                )
            )
        if len(self.files) > 1:
            span = f"{self.first_ts:%Y-%m-%d %H:%M} .. {self.last_ts:%Y-%m-%d %H:%M}" if self.first_ts else "-"
            body.append(
                (
                    "TOTAL",
                    "",
                    f"{self.read:,}",
                    f"{self.kept:,}",
                    f"{self.rejected:,}",
                    f"{self.duplicates:,}",
                    f"{self.naive_ts:,}",
                    f"{self.unpriced:,}",
                    span,
                )
            )
        widths = [max(len(str(r[i])) for r in [head, *body]) for i in range(len(head))]
        fmt = lambda r: "  ".join(  # noqa: E731
            str(c).ljust(w) if i < 2 or i == len(r) - 1 else str(c).rjust(w) for i, (c, w) in enumerate(zip(r, widths))
        )
        lines = [fmt(head), "  ".join("-" * w for w in widths), *map(fmt, body)]
        if self.reasons:
            lines.append("")
            lines.append("rejected rows by reason:")
            lines += [f"  {n:>8,}  {why}" for why, n in self.reasons.items()]
        if self.naive_ts:
            lines.append(f"{self.naive_ts:,} timestamps had no UTC offset and were taken as UTC.")
        if self.unpriced:
            lines.append(
                f"{self.unpriced:,} kept rows have usage but no cost (unpriced): "
                "they are not counted as $0 in totals; price them at the source."
            )
        for f in self.files:
            if f.keys_rejected:
                lines.append(f"key registry {f.file}: {f.keys_rejected:,} row(s) rejected, {f.keys:,} kept:")
                lines += [f"  {n:>8,}  {why}" for why, n in f.key_reasons.items()]
        if self.registry_rejected_keys:
            shown = ", ".join(self.registry_rejected_keys[:10])
            more = f" and {len(self.registry_rejected_keys) - 10} more" if len(self.registry_rejected_keys) > 10 else ""
            lines.append(
                f"cap unknown for {len(self.registry_rejected_keys)} key(s) whose registry row was rejected: "
                f"{shown}{more}; fix the registry rows so their cap alerts work"
            )
        for f in self.files:
            for note in f.notes:
                lines.append(f"note: {f.file}: {note}")
        for file, why in self.skipped:
            lines.append(f"skipped: {file}: {why}")
        if self.store_line:
            lines.append(self.store_line)
        ok = "holds" if self.balanced else "DOES NOT HOLD"
        lines.append(
            f"read = kept + rejected + duplicates {ok}: "
            f"{self.read:,} = {self.kept:,} + {self.rejected:,} + {self.duplicates:,}"
        )
        return "\n".join(lines)
