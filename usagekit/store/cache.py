"""The validated store: what a load validated, kept on disk so the next load reads it.

Layout (one directory, default ``<user cache dir>/usagekit/store``; ``store=`` or
``USAGEKIT_STORE`` choose another, ``store=False`` / ``USAGEKIT_STORE=off`` disable it)::

    v<RULES_VERSION>/files/<key>/   one input file, validated
        rows.parquet       kept rows (masked at staging), with _seq (staged order), _row, _naive, _file
        rejected.parquet   rejected rows with file, row, field, reason, value (masked)
        stats.parquet      the file's accounting (rows per reason, cost, span)
        hashes.npy         sorted 64-bit hashes of the kept rows' request ids
        cube.parquet       the file's month cube (before the key registry and duplicates)
        meta.json          what the entry is, its key ingredients and every part's size (written last)
    v<RULES_VERSION>/loads/<key>/   one combination of files + key registry + time zone
        drop.parquet       (file index, _seq) of repeated request ids across all the files
        stats.parquet      the accounting with duplicates counted
        cube.parquet       the month cube with the registry applied
        index.npy          the id-hash index: every request-id hash of its files, sorted (when this
        repeats.npy        entry owns one), and the hashes that repeat among them; a later load of
                           the same files plus new ones searches it instead of sorting every hash
        meta.json          (names the index the load used: its own or an earlier load's)

A file's key is its fingerprint (resolved path, size, modification time, a hash of its first
and last blocks; a full hash with ``rehash=True``) together with the time zone, ``format=``,
the load options, :data:`RULES_VERSION` and :data:`SCHEMA_FINGERPRINT`. A load's key is the
ordered file keys with the registry's fingerprint. Entries are built in a private temporary
directory and renamed into place (atomic on one file system), so a reader sees a complete
entry or none and two concurrent loads cannot corrupt one; an entry whose parts do not match
its ``meta.json`` (every part's size; with ``rehash=True`` every part's checksum too) is removed
and rebuilt, never trusted.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from .. import queries as q
from ..schema import KEY_SCHEMA, USAGE_SCHEMA

#: Version of the validation rules and of this layout. Bump it whenever a loader, a check,
#: the masking or the store layout changes: entries of another version are never read.
RULES_VERSION = 8
#: The columns RULES_VERSION was last bumped for (tests fail when they change without a bump).
SCHEMA_FINGERPRINT = "d63dd28600e76469"

#: bytes hashed at each end of a file for its fingerprint (a file up to twice this is hashed whole)
BLOCK = 64 * 1024
OFF = ("0", "off", "false", "no", "none")


def schema_fingerprint() -> str:
    """A short hash of the usage and key columns and of the cube's dimensions and measures."""
    parts = [
        [(c, str(t)) for c, (t, _) in USAGE_SCHEMA.items()],
        [(c, str(t)) for c, (t, _) in KEY_SCHEMA.items()],
        list(q.CUBE_DIMS),
        list(q.CUBE_SUMS),
    ]
    return hashlib.blake2b(json.dumps(parts).encode(), digest_size=8).hexdigest()


#: modules whose code decides what a load keeps: any edit to them rebuilds the store's entries,
#: so an entry can never outlive the rules that made it, even if RULES_VERSION is not bumped
RULE_MODULES = (
    "sources",
    "masking.py",
    "money.py",
    "schema.py",
    "loading.py",
    "queries.py",
    "store/cube.py",
    "store/stored.py",
    "values.py",
)
_CODE: str | None = None


def code_fingerprint() -> str:
    """A short hash of the source of :data:`RULE_MODULES` (computed once per process)."""
    global _CODE
    if _CODE is None:
        pkg = Path(__file__).resolve().parent.parent
        h = hashlib.blake2b(digest_size=8)
        for name in RULE_MODULES:
            target = pkg / name
            for f in sorted(target.rglob("*.py")) if target.is_dir() else [target]:
                h.update(str(f.relative_to(pkg)).encode())
                h.update(f.read_bytes())
        _CODE = h.hexdigest()
    return _CODE


def default_root() -> Path:
    import platformdirs

    return Path(platformdirs.user_cache_dir("usagekit")) / "store"


def resolve(store) -> "Store | None":
    """``store=`` (None: ``USAGEKIT_STORE`` or the default; False: none; a path) -> a usable
    :class:`Store`, or None with one line on stderr when the directory cannot be written."""
    if store is False:
        return None
    if store is None or store is True:
        env = os.environ.get("USAGEKIT_STORE")
        if env is not None and env.strip().lower() in OFF:
            return None
        root = Path(env).expanduser() if env else default_root()
    else:
        root = Path(store).expanduser()
    base = root / f"v{RULES_VERSION}"
    try:
        for sub in ("files", "loads", "tmp"):
            (base / sub).mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=base / "tmp", delete=True)
        probe.close()
        _sweep(base / "tmp")
    except OSError as exc:
        print(
            f"usagekit: the store at {root} cannot be written ({exc.strerror or exc}); "
            "loading without it (set USAGEKIT_STORE to a writable directory, or store=False)",
            file=sys.stderr,
        )
        return None
    return Store(root)


def _sweep(tmp: Path, older_than_s: float = 86400.0) -> None:
    """Remove what a load that died mid-build left in ``tmp`` (a day old: no live load is that slow)."""
    import time

    now = time.time()
    for p in tmp.iterdir():
        try:
            if now - p.stat().st_mtime > older_than_s:
                shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink()
        except OSError:
            pass


def fingerprint(path: Path, rehash: bool = False) -> dict:
    """Path, size, modification time and a content hash (first and last blocks, or all)."""
    st = path.stat()
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as fh:
        if rehash or st.st_size <= 2 * BLOCK:
            for chunk in iter(lambda: fh.read(1 << 22), b""):
                h.update(chunk)
        else:
            h.update(fh.read(BLOCK))
            fh.seek(-BLOCK, os.SEEK_END)
            h.update(fh.read(BLOCK))
    return {
        "path": str(path.resolve()),
        "size": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "hash": h.hexdigest(),
        "full": bool(rehash or st.st_size <= 2 * BLOCK),
    }


def key_of(*parts) -> str:
    return hashlib.blake2b(json.dumps(parts, sort_keys=True, default=str).encode(), digest_size=16).hexdigest()


def frame_fingerprint(df: pl.DataFrame) -> str:
    """Content hash of a (small) frame, e.g. the merged key registry."""
    import io

    buf = io.BytesIO()
    df.write_ipc(buf, compression="uncompressed")
    return hashlib.blake2b(buf.getvalue(), digest_size=16).hexdigest()


@dataclass
class Entry:
    path: Path
    meta: dict

    def part(self, name: str) -> Path:
        return self.path / name


class Store:
    """A store directory; see the module docstring."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.base = self.root / f"v{RULES_VERSION}"

    def __repr__(self) -> str:
        return f"Store({str(self.root)!r})"

    def get(self, kind: str, key: str, deep: bool = False) -> Entry | None:
        """The complete entry under ``key``, or None (missing, or corrupt: then removed)."""
        path = self.base / kind / key
        meta_path = path / "meta.json"
        if not path.is_dir():
            return None
        try:
            meta = json.loads(meta_path.read_text())
            if meta.get("key") != key or meta.get("version") != RULES_VERSION:
                raise ValueError("meta.json names another entry")
            for name, info in meta.get("parts", {}).items():
                p = path / name
                if p.stat().st_size != info["size"]:  # truncated, partial or replaced
                    raise ValueError(f"{name} is {p.stat().st_size} bytes, expected {info['size']}")
                if deep and _digest(p) != info.get("digest"):  # changed in place (rehash=True reads every byte)
                    raise ValueError(f"{name} does not match its checksum")
        except (OSError, ValueError, KeyError, TypeError, json.JSONDecodeError, Exception) as exc:  # noqa: BLE001
            print(f"usagekit: store entry {path} is damaged ({exc}); rebuilding it", file=sys.stderr)
            self.remove(path)
            return None
        return Entry(path, meta)

    def remove(self, path: Path) -> None:
        trash = self.base / "tmp" / f"trash-{os.getpid()}-{path.name}-{os.urandom(4).hex()}"
        try:
            os.rename(path, trash)
        except OSError:
            return
        shutil.rmtree(trash, ignore_errors=True)

    def staging(self) -> Path:
        """A private directory to build an entry in (then :meth:`commit` it)."""
        return Path(tempfile.mkdtemp(prefix=f"build-{os.getpid()}-", dir=self.base / "tmp"))

    def commit(self, kind: str, key: str, tmp: Path, meta: dict, checksums: bool = True) -> Entry:
        """Record every part's size, row count and checksum, write ``meta.json`` last, and
        rename the directory into place. A concurrent load that got there first wins: its
        entry is equal by construction, and ours is discarded. ``checksums=False`` for entries
        that are never read with ``deep=True`` (a load's combination: only file entries are)."""
        parts = {}
        for p in sorted(tmp.iterdir()):
            info = {"size": p.stat().st_size}
            if checksums:
                info["digest"] = _digest(p)
            if p.suffix == ".parquet":
                import pyarrow.parquet as pq

                info["rows"] = pq.ParquetFile(p).metadata.num_rows
            parts[p.name] = info
        return self.publish(kind, key, tmp, meta, parts)

    def publish(self, kind: str, key: str, tmp: Path, meta: dict, parts: dict) -> Entry:
        """Write ``meta.json`` (with ``parts``, each part's recorded size and checksum) last and
        rename ``tmp`` into place, so a reader sees a whole entry or none."""
        meta = dict(meta, key=key, version=RULES_VERSION, schema=SCHEMA_FINGERPRINT, parts=parts)
        (tmp / "meta.json").write_text(json.dumps(meta, default=str))
        final = self.base / kind / key
        try:
            os.rename(tmp, final)
        except OSError:  # already there (another load finished first), or a damaged leftover
            existing = self.get(kind, key)
            if existing is not None:
                shutil.rmtree(tmp, ignore_errors=True)
                return existing
            os.rename(tmp, final)
        return Entry(final, meta)


def _digest(path: Path) -> str:
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()
