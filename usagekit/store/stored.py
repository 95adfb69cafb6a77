"""``load`` through the validated store (:mod:`usagekit.store.cache`).

Each input file is validated once: its kept rows, rejected rows, accounting, request-id
hashes and month cube are written to its own store entry. A load then combines the entries
of its files: repeated request ids across *all* files are found from the stored hashes (only
ids whose hash repeats are compared exactly, first occurrence in file then row order wins,
as in a cold load), and the combined accounting and cube (with the key registry applied)
are kept as a load entry. A second load of the same files reads that entry; a load with one
new file validates only that file and re-combines.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from pathlib import Path

import narwhals as nw
import numpy as np
import polars as pl

from .. import loading as L
from .. import queries as q
from .. import sources
from ..errors import SourceError, display_path
from ..masking import redact_expr
from ..money import MAX_TOTAL_CENTS
from ..schema import ACCOUNT_DTYPES, USAGE_COLUMNS, USAGE_DTYPES
from ..sources._dictionary import validating
from ..sources._stage import rejected_value
from .cache import (
    RULES_VERSION,
    Entry,
    Store,
    code_fingerprint,
    fingerprint,
    frame_fingerprint,
    key_of,
    schema_fingerprint,
)
from .cube import apply_registry, derive, registry_on_cube

_ROW_EXTRA = ("_seq", "_row", "_naive", "_file", "_field", "_value")
_DUP = "duplicate request_id"


def load(
    st: Store,
    items: list[tuple[Path, bool]],
    keys,
    format: str,
    tz: str,
    engine,
    progress: bool,
    rehash: bool = False,
    options: dict | None = None,
):
    """Files -> :class:`~usagekit.usage.Usage`, validating only files the store does not hold."""
    from ..usage import Usage

    say = L._Phases(progress)
    options = options or {}
    say(f"looking up {len(items)} file(s) in the store {st.root}")
    usage_entries: list[Entry] = []
    key_parts: list[sources.Loaded] = []
    skipped: list[tuple[str, str]] = []
    schema = (schema_fingerprint(), code_fingerprint())
    found: list[tuple] = []  # (path, entry or None, key, named explicitly, fingerprint)
    for item, explicit in items:
        fp = fingerprint(item, rehash)
        fkey = key_of(
            "file",
            fp["path"],
            fp["size"],
            fp["mtime_ns"],
            fp["hash"],
            format,
            explicit,
            tz,
            options,
            RULES_VERSION,
            schema,
        )
        found.append((item, st.get("files", fkey, deep=rehash), fkey, explicit, fp))
    missing = [f for f in found if f[1] is None]
    built = _build_files(st, missing, format, tz, say, progress) if missing else {}
    validated = len(missing)
    for item, entry, fkey, _, _ in found:
        entry = entry or built[fkey]
        kind = entry.meta["kind"]
        if kind == "skipped":
            skipped.append((entry.meta["file"], entry.meta["why"]))
            continue
        if kind == "keys":  # registries, budget and organization tables are read
            key_parts.append(sources.read(item, format=entry.meta["format_arg"]))  # again (small; never stored)
        if kind == "usage":
            usage_entries.append(entry)
    key_parts += L._keys_frame(keys)
    if not usage_entries:
        shown = ", ".join(display_path(p) for p, _ in items[:3])
        raise SourceError(
            shown, "no usage rows found (only key registries or unrecognised files)", expected="at least one usage file"
        )
    registry, budgets = L._registries(key_parts)
    lkey = key_of(
        "load", [e.meta["key"] for e in usage_entries], frame_fingerprint(registry), tz, RULES_VERSION, schema
    )
    combined = st.get("loads", lkey)
    if combined is None:
        combined = _build_load(st, lkey, usage_entries, registry, tz, say)
    stats = pl.read_parquet(combined.part("stats.parquet"))
    drops = pl.read_parquet(combined.part("drop.parquet"))
    cube = pl.read_parquet(combined.part("cube.parquet"))
    parts = [sources.Loaded(e.meta["format"], e.meta["file"], notes=list(e.meta["notes"])) for e in usage_entries]
    report = L._report(stats, parts, key_parts, skipped, registry)
    report.store = str(st.root)
    report.validated_files = validated
    report.stored_files = len(items) - validated
    rows = _rows(usage_entries, drops, registry)
    rejected = _rejected(usage_entries, drops)
    say("done")
    usage = Usage(rows, registry, report, rejected, tz=tz, engine=engine, cube=cube, budgets=budgets)
    named = [pl.DataFrame(e.meta.get("accounts") or [], schema=ACCOUNT_DTYPES, orient="row") for e in usage_entries]
    return usage.with_accounts(named + [x.accounts for x in key_parts])


def _read(item: Path, explicit: bool, format: str):
    """The file read as a cold load reads it: (Loaded or None, why skipped)."""
    if not explicit and format == "auto":
        if item.name.lower() in L._NOT_USAGE:
            return None, "not a usage file"
        fmt, pr = sources.detect(item)
        if fmt is None:
            return None, f"format not recognised ({sources.describe_unknown(pr)})"
        return fmt.read(item, pr), None
    return sources.read(item, format=format), None


def _build_files(st: Store, missing: list, format: str, tz: str, say, progress: bool) -> dict[str, Entry]:
    """Validate the files the store lacks and store each: key -> entry.

    Small files are validated together, in batches of up to ``MEMORY_BYTES`` on disk: one
    parse, one accounting pass and one cube pass per batch (polars plans each pass once, not
    once per file), then split per file. A bigger file is streamed through typed Parquet alone.
    """
    out: dict[str, Entry] = {}
    batch: list = []
    size = 0
    typed = 0

    def flush():
        nonlocal batch, size
        if batch:
            say(f"validating {len(batch)} file(s)")
            for fkey, entry in _store_batch(st, batch, tz, say):
                out[fkey] = entry
        batch, size = [], 0

    for item, _, fkey, explicit, fp in L._each(missing, progress, "validating"):
        with validating():  # the file is validated whole: staging learns its columns' values
            loaded, why = _read(item, explicit, format)
        meta = {"file": display_path(item), "fingerprint": fp, "format_arg": format, "explicit": explicit, "tz": tz}
        if loaded is None:
            out[fkey] = st.commit("files", fkey, st.staging(), dict(meta, kind="skipped", why=why))
            continue
        meta.update(
            file=loaded.file,
            format=loaded.format,
            notes=list(loaded.notes),
            keys=loaded.keys is not None,
            budgets=getattr(loaded, "budgets", None) is not None,
            accounts=loaded.accounts.rows() if loaded.accounts is not None else [],
        )
        if loaded.usage is None:
            out[fkey] = st.commit("files", fkey, st.staging(), dict(meta, kind="keys"))
            continue
        meta["kind"] = "usage"
        if not loaded.in_memory:  # typed Parquet, scanned lazily: one streaming pass, rows not copied
            if not typed:
                say("validating typed Parquet: accounting, request-id hashes and the cube in one pass per file")
            typed += 1
            out[fkey] = _store_source(st, fkey, loaded, dict(meta, rows="source"), tz, say)
            continue
        if size + fp["size"] > L.MEMORY_BYTES:
            flush()
        batch.append((fkey, loaded, meta))
        size += fp["size"]
    flush()
    return out


def _store_source(st: Store, fkey: str, loaded: sources.Loaded, meta: dict, tz: str, say) -> Entry:
    """A lazily scanned (typed Parquet) file validated in one streaming pass: its accounting,
    the id hashes of its kept rows and its cube (:func:`usagekit.loading._fused`); its rejected
    rows, when it has any, in a second pass that computes the other columns for them alone.

    Its kept rows are not copied into the store: they are the file's own rows staged again
    (:func:`_kept`) when a query reads rows, as a load without the store reads them. The entry
    is keyed by the file's fingerprint, so it is never used for a changed file; and staging
    masks secrets, so no copy of a raw secret is made.
    """
    tmp = st.staging()
    try:
        try:
            staged = loaded.usage.with_columns(pl.lit(0, pl.Int32).alias("_fidx"))
            stats, hashes, cube = L._fused(staged, tz, kept_ids=True)
            names = loaded.usage.collect_schema().names()
            rejected = _rejected_sel(loaded.usage, names, (pl.col("_row") - 1).cast(pl.UInt32))
            rejected = rejected.collect() if stats["_reject"].is_not_null().any() else rejected.head(0).collect()
        except (pl.exceptions.ComputeError, OSError) as exc:  # a file whose bytes cannot be decoded
            if not L._is_corrupt_file(exc):
                raise
            raise L._corrupt_input([loaded], exc) from None
        stats.write_parquet(tmp / "stats.parquet")
        hashes = hashes.astype(np.uint64, copy=False)
        hashes.sort()
        np.save(tmp / "hashes.npy", hashes)
        cube.write_parquet(tmp / "cube.parquet")
        rejected.write_parquet(tmp / "rejected.parquet", compression="lz4")
        return st.commit("files", fkey, tmp, meta)
    except BaseException:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _rejected_sel(src: pl.LazyFrame, names: list[str], seq: pl.Expr, *lead: str) -> pl.LazyFrame:
    """The rejected rows of staged rows ``src`` as ``rejected.parquet`` holds them (``seq``: their
    staged order; ``lead``: columns put first)."""
    return (
        src.filter(pl.col("_reject").is_not_null())
        .select(
            *lead,
            seq.alias("_seq"),
            pl.col("_file").alias("file"),
            pl.col("_row").alias("row"),
            pl.col("_field").alias("field"),
            pl.col("_reject").alias("reason"),
            rejected_value(names).alias("value"),
            *USAGE_COLUMNS,
        )
        .with_columns(redact_expr("value"))
    )


#: the columns of an entry's kept rows besides the usage columns
_ROW_EXTRA_DTYPES = {
    "_seq": pl.UInt32,
    "_row": pl.Int64,
    "_naive": pl.Boolean,
    "_file": pl.String,
    "_field": pl.String,
    "_value": pl.String,
}


def _kept(e: Entry) -> pl.LazyFrame:
    """An entry's kept rows (``_seq``, the other :data:`_ROW_EXTRA` and the usage columns): the
    stored copy, or for a typed Parquet file (``rows: source``) the file itself staged again.

    The file is read and its staging planned only when a query reads the rows (a polars IO
    source), so a load that answers from the cube plans nothing per file; the query's filter
    and columns are applied to the file's scan (a day's rows skip the other days' row groups).
    """
    if e.meta.get("rows") != "source":
        return pl.scan_parquet(e.part("rows.parquet"))
    from polars.io.plugins import register_io_source

    def rows(with_columns, predicate, n_rows, batch_size):
        lf = _recent(e, predicate, with_columns)
        if n_rows is not None:
            lf = lf.head(n_rows)
        yield from lf.collect_batches(chunk_size=batch_size)

    schema = {**_ROW_EXTRA_DTYPES, **{c: USAGE_DTYPES[c] for c in USAGE_COLUMNS}}
    return register_io_source(rows, schema=schema, explain_name="usagekit staged file", explain_detail=e.meta["file"])


#: rows staged again for recent reads, (entry key, filter, columns) -> rows, most recent last: a
#: drill-down pages through a day's rows, each page a read of the same rows and columns; at most
#: this many rows are kept (a day of a 10M-request month; a bigger day is staged for each read)
RECENT_ROWS = 1_000_000
_RECENT: OrderedDict[tuple, pl.DataFrame] = OrderedDict()
_RECENT_LOCK = threading.Lock()


def _recent(e: Entry, predicate, with_columns) -> pl.LazyFrame:
    """The entry's kept rows under ``predicate``, only ``with_columns`` (None: all), staged from
    the file, or from the recent reads when the same rows were read before; kept for the next
    read when they fit in :data:`RECENT_ROWS`."""

    def staged() -> pl.LazyFrame:
        lf = _staged_kept(e)
        if predicate is not None:
            lf = lf.filter(predicate)
        return lf.select(with_columns) if with_columns is not None else lf

    try:
        key = (
            e.meta["key"],
            predicate.meta.serialize(format="json") if predicate is not None else None,
            tuple(with_columns) if with_columns is not None else None,
        )
    except Exception:  # noqa: BLE001 - a filter polars cannot write down: read it without the cache
        return staged()
    with _RECENT_LOCK:  # polars may read several files' rows at once, each on its own thread
        hit = _RECENT.get(key)
        if hit is not None:
            _RECENT.move_to_end(key)
            return hit.lazy()
    got = staged().collect()
    if got.height > RECENT_ROWS:
        return got.lazy()
    with _RECENT_LOCK:
        _RECENT[key] = got
        while sum(f.height for f in _RECENT.values()) > RECENT_ROWS:
            _RECENT.popitem(last=False)
    return got.lazy()


def _staged_kept(e: Entry) -> pl.LazyFrame:
    """The kept rows of a ``rows: source`` entry: its file read and staged again, after checking
    that it is still the file the entry was built from (its fingerprint, as when it was loaded)."""
    fp = e.meta["fingerprint"]
    path = Path(fp["path"])
    try:
        now = fingerprint(path, rehash=fp.get("full", False))
    except OSError as exc:
        now = {"error": str(exc)}
    if any(now.get(k) != fp[k] for k in ("size", "mtime_ns", "hash")):
        raise SourceError(
            e.meta["file"],
            "the file changed (or was removed) after it was loaded, so its rows no longer match the loaded totals",
            expected="the file as it was when loaded; load it again to read its new content",
        )
    loaded, why = _read(path, e.meta["explicit"], e.meta["format_arg"])
    if loaded is None or loaded.usage is None:  # cannot happen for an unchanged file
        raise SourceError(
            e.meta["file"], f"the file changed while it was being loaded ({why or 'no rows'})", expected="load it again"
        )
    return loaded.usage.filter(pl.col("_reject").is_null()).select(
        (pl.col("_row") - 1).cast(pl.UInt32).alias("_seq"),
        pl.col("_row"),
        pl.col("_naive"),
        pl.lit(e.meta["file"]).alias("_file"),
        pl.col("_field"),
        pl.col("_value"),
        *USAGE_COLUMNS,
    )


def _store_batch(st: Store, batch: list, tz: str, say) -> list[tuple[str, Entry]]:
    tmps = [st.staging() for _ in batch]
    try:
        try:
            _write_parts([x[1] for x in batch], tmps, tz, say)
        except (pl.exceptions.ComputeError, OSError) as exc:  # a file whose bytes cannot be decoded
            if not L._is_corrupt_file(exc):
                raise
            raise L._corrupt_input([x[1] for x in batch], exc) from None
        return [(fkey, st.commit("files", fkey, tmp, meta)) for (fkey, _, meta), tmp in zip(batch, tmps)]
    except BaseException:
        import shutil

        for tmp in tmps:
            shutil.rmtree(tmp, ignore_errors=True)
        raise


def _write_parts(loaded: list[sources.Loaded], tmps: list[Path], tz: str, say) -> None:
    """Each file's validated parts: rows, rejected rows, accounting, id hashes, cube.

    The files (read into memory: text, or parsed documents) are staged once into memory, and
    every part is computed from that; ``_bidx`` tells the files of a batch apart; every pass
    runs once over the batch. (Lazily scanned typed Parquet goes through :func:`_store_source`.)
    """
    parts = [
        x.usage.with_row_index("_seq").with_columns(pl.lit(i, pl.Int32).alias("_bidx")) for i, x in enumerate(loaded)
    ]
    staged = parts[0] if len(parts) == 1 else pl.concat(parts, how="diagonal_relaxed")
    src = staged.collect().lazy()  # text is parsed once; every later pass reuses it
    names = src.collect_schema().names()
    ok = pl.col("_reject").is_null()
    say("counting rows")
    stats = L._stats(src.with_columns(pl.col("_bidx").alias("_fidx"), pl.lit(False).alias("_dup")))
    rows_sel = src.filter(ok).select("_bidx", *_ROW_EXTRA, *USAGE_COLUMNS)
    rej_sel = _rejected_sel(src, names, pl.col("_seq"), "_bidx")
    rows_df, rej_df = pl.collect_all([rows_sel, rej_sel])
    for name, df in (("rows.parquet", rows_df), ("rejected.parquet", rej_df)):
        split = _split(df)
        for i, tmp in enumerate(tmps):
            split.get(i, df.clear()).drop("_bidx").write_parquet(tmp / name, compression="lz4")
    rows_lf = rows_df.lazy()
    say("hashing request ids")
    hashes = (
        rows_lf.filter(pl.col("request_id").is_not_null())
        .select("_bidx", L._id_hash(pl.col("request_id")).alias("h"))
        .collect(engine="streaming")
    )
    cube = _split(_cube_of(rows_lf, tz, by_file=True))
    stats, no_stats = _split(stats, "_fidx"), stats.clear()
    hashes = _split(hashes)
    for i, tmp in enumerate(tmps):
        stats.get(i, no_stats).with_columns(pl.lit(0, pl.Int32).alias("_fidx")).write_parquet(tmp / "stats.parquet")
        h = hashes[i]["h"].to_numpy().astype(np.uint64, copy=True) if i in hashes else np.empty(0, np.uint64)
        h.sort()
        np.save(tmp / "hashes.npy", h)
        part = cube[i] if i in cube else _cube_of(rows_lf.clear(), tz, by_file=True)
        part.drop("_bidx").write_parquet(tmp / "cube.parquet")


def _split(df: pl.DataFrame, by: str = "_bidx") -> dict[int, pl.DataFrame]:
    """``df`` per file of the batch, in one pass."""
    return {k[0]: v for k, v in df.partition_by(by, as_dict=True, maintain_order=True).items()}


def _cube_of(rows: pl.LazyFrame, tz: str, by_file: bool = False) -> pl.DataFrame:
    """The month cube of validated rows (before the key registry is applied); ``by_file``: one
    per ``_bidx`` (the files of a batch), in one pass."""
    extra = ("_bidx",) if by_file else ()
    frame = nw.from_native(derive(rows.select(*extra, *USAGE_COLUMNS), tz))
    return q.cube(frame, extra).to_native().collect(engine="streaming")


def _build_load(st: Store, lkey: str, entries: list[Entry], registry: pl.DataFrame, tz: str, say) -> Entry:
    """Combine file entries: duplicates across files, accounting, the cube with the registry."""
    say("checking request ids")
    hashes = [np.load(e.part("hashes.npy"), mmap_mode="r") for e in entries]
    tmp = st.staging()
    try:
        return _combine(st, lkey, entries, hashes, registry, tz, tmp, say)
    except BaseException:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _combine(st: Store, lkey: str, entries: list[Entry], hashes: list, registry, tz: str, tmp: Path, say) -> Entry:
    cands, index = _candidates(st, lkey, entries, hashes, tmp)
    drops = _duplicates(entries, hashes, cands)
    stats, cubes = [], []
    say("building the month cube")
    for i, e in enumerate(entries):
        mine = drops.filter(pl.col("_fidx") == i)["_seq"]
        st_i = pl.read_parquet(e.part("stats.parquet")).with_columns(pl.lit(i, pl.Int32).alias("_fidx"))
        if mine.len():  # this file lost rows to duplicates: its counts and cube without them
            rows = _kept(e)
            marked = rows.with_columns(
                pl.lit(i, pl.Int32).alias("_fidx"),
                pl.lit(None, pl.String).alias("_reject"),
                pl.col("_seq").is_in(mine.implode()).alias("_dup"),
            )
            st_i = pl.concat([st_i.filter(pl.col("_reject").is_not_null()), L._stats(marked)], how="vertical_relaxed")
            cubes.append(_cube_of(rows.filter(~pl.col("_seq").is_in(mine.implode())), e.meta["tz"]))
        else:
            cubes.append(pl.read_parquet(e.part("cube.parquet")))
        stats.append(st_i)
    stats = pl.concat(stats, how="vertical_relaxed")
    total = float(stats.filter(pl.col("_reject").is_null() & ~pl.col("_dup"))["cost"].sum() or 0.0)
    if total > MAX_TOTAL_CENTS:
        raise SourceError(
            ", ".join(e.meta["file"] for e in entries[:3]) + (" ..." if len(entries) > 3 else ""),
            f"the costs add up to {total:.3g} cents, above the {MAX_TOTAL_CENTS:.0e} cents one load can sum exactly",
            field="cost_cents",
            expected="costs in US cents (a file in dollars read as cents? check format= and units)",
        )
    cube = cubes[0] if len(cubes) == 1 else q.cube(nw.from_native(pl.concat(cubes).lazy())).to_native().collect()
    cube = registry_on_cube(cube, registry)
    drops.write_parquet(tmp / "drop.parquet")
    stats.write_parquet(tmp / "stats.parquet")
    cube.write_parquet(tmp / "cube.parquet")
    meta = {"kind": "load", "files": [e.meta["key"] for e in entries], "tz": tz, "index": index}
    return st.commit("loads", lkey, tmp, meta, checksums=False)


#: a load's id-hash index is rebuilt whole when the files outside it hold more than this share of
#: its hashes (and more than DELTA_MIN hashes: sorting that few costs a tenth of a second)
DELTA_SHARE = 0.25
DELTA_MIN = 1_000_000


def _candidates(
    st: Store, lkey: str, entries: list[Entry], hashes: list[np.ndarray], tmp: Path
) -> tuple[np.ndarray, dict]:
    """The request-id hashes that occur more than once across ``entries`` (sorted, distinct),
    and the id-hash index this load keeps for the next one.

    The index is every hash of a set of files, sorted (``index.npy``), with the hashes that
    repeat among them (``repeats.npy``). A load whose files include every file of a stored
    index (a month with one more day) reuses it: only the hashes of the other files are
    sorted and looked up in it (binary search), instead of sorting every hash again. Files
    outside the index are folded into a new one once they hold :data:`DELTA_SHARE` of its
    hashes (and more than :data:`DELTA_MIN`). Which occurrence is kept is decided afterwards from the candidates alone, in this
    load's file order, so the result is the same as sorting everything.
    """
    keys = [e.meta["key"] for e in entries]
    base = _base_index(st, set(keys))
    if base is not None:
        indexed, repeats, info = base
        inside = set(info["files"])
        delta = [h for k, h in zip(keys, hashes) if k not in inside]
        n_delta = sum(len(h) for h in delta)
        if n_delta <= max(DELTA_SHARE * len(indexed), DELTA_MIN):
            new = np.sort(np.concatenate(delta), kind="stable") if delta else np.empty(0, np.uint64)
            found = [repeats, new[1:][new[1:] == new[:-1]]]
            if len(new) and len(indexed):
                found.append(new[_in_sorted(indexed, new)])
            return np.unique(np.concatenate(found)), info
    n = sum(len(h) for h in hashes)
    every = np.empty(n, dtype=np.uint64)
    pos = 0
    for h in hashes:
        every[pos : pos + len(h)] = h
        pos += len(h)
    every.sort(kind="stable")  # each file's hashes are sorted already: a merge of sorted runs
    same = every[1:] == every[:-1]
    cands = np.unique(every[1:][same])
    del same
    np.save(tmp / "index.npy", every)
    np.save(tmp / "repeats.npy", cands)
    return cands, {"files": keys, "size": int(n), "owner": lkey}  # this entry holds it


def _in_sorted(haystack: np.ndarray, needles: np.ndarray, step: int = 1 << 14) -> np.ndarray:
    """Which of the sorted ``needles`` occur in the sorted ``haystack``.

    The needles are searched a run at a time, each run only in the slice of the haystack between
    its first and last needle: a binary search of 3.2M hashes in 97M touches memory all over
    0.8 GB (1.9 s measured), in slices that stay in the cache it took 0.7 to 1.0 s.
    """
    out = np.zeros(len(needles), dtype=bool)
    for i in range(0, len(needles), step):
        run = needles[i : i + step]
        lo, hi = np.searchsorted(haystack, run[0]), np.searchsorted(haystack, run[-1], side="right")
        part = haystack[lo:hi]
        if len(part):
            out[i : i + len(run)] = part[np.minimum(np.searchsorted(part, run), len(part) - 1)] == run
    return out


def _base_index(st: Store, keys: set[str]):
    """The biggest stored id-hash index whose files are all among ``keys``:
    (sorted hashes, repeated hashes, its description), or None."""
    best = None
    try:
        homes = list((st.base / "loads").iterdir())
    except OSError:
        return None
    for path in homes:
        try:
            info = json.loads((path / "meta.json").read_text()).get("index")
        except (OSError, ValueError, AttributeError):
            continue  # being written, or damaged (st.get removes it when it is read)
        if not info or not set(info.get("files", ())) <= keys:
            continue
        if best is None or info["size"] > best["size"]:
            best = info
    if best is None:
        return None
    try:
        owner = st.get("loads", best["owner"])
        if owner is None:
            return None
        indexed = np.load(owner.part("index.npy"), mmap_mode="r")
        repeats = np.load(owner.part("repeats.npy"))
    except (OSError, ValueError, KeyError):
        return None
    if len(indexed) != best["size"]:
        return None
    return indexed, repeats, best


def _duplicates(entries: list[Entry], hashes: list[np.ndarray], cands: np.ndarray) -> pl.DataFrame:
    """(file index, _seq) of every kept row whose request id appeared earlier (file, then row order),
    among the rows whose id hash is one of ``cands`` (the hashes that repeat)."""
    none = pl.DataFrame(schema={"_fidx": pl.Int32, "_seq": pl.UInt32})
    if not len(cands):
        return none
    series = pl.Series(cands, dtype=pl.UInt64).implode()
    found = []
    for i, (e, h) in enumerate(zip(entries, hashes)):
        if not len(h) or not (h[np.minimum(np.searchsorted(h, cands), len(h) - 1)] == cands).any():
            continue  # no candidate id in this file: its rows are not read
        found.append(
            _kept(e)
            .filter(L._id_hash(pl.col("request_id")).is_in(series))
            .select(pl.lit(i, pl.Int32).alias("_fidx"), "_seq", "request_id")
            .collect()
        )
    cand = pl.concat(found).sort("_fidx", "_seq")
    return cand.filter(~pl.col("request_id").is_first_distinct()).select("_fidx", "_seq")


def _rows(entries: list[Entry], drops: pl.DataFrame, registry: pl.DataFrame) -> pl.LazyFrame:
    """The kept rows of every file (a lazy scan of the store), duplicates left out, registry applied."""
    scans = [_kept(e).with_columns(pl.lit(i, pl.Int32).alias("_fidx")) for i, e in enumerate(entries)]
    rows = pl.concat(scans)
    if drops.height:
        rows = rows.join(drops.lazy(), on=["_fidx", "_seq"], how="anti", maintain_order="left")
    rows = apply_registry(rows.select(USAGE_COLUMNS), registry)
    if sum(_stored_bytes(e) for e in entries) <= L.MEMORY_BYTES // 4:
        rows = rows.collect().lazy()  # small: held in memory, so per-request queries scan nothing
    return rows


def _stored_bytes(e: Entry) -> int:
    """Bytes on disk of an entry's kept rows (its copy, or the file they are staged from)."""
    return e.meta["fingerprint"]["size"] if e.meta.get("rows") == "source" else e.part("rows.parquet").stat().st_size


def _rejected(entries: list[Entry], drops: pl.DataFrame) -> pl.LazyFrame:
    """Rejected rows and dropped duplicates, in file then staged order (as a cold load lists them)."""
    out = []
    dup_value = rejected_value([c for c in _ROW_EXTRA + USAGE_COLUMNS])
    for i, e in enumerate(entries):
        rej = pl.scan_parquet(e.part("rejected.parquet"))
        mine = drops.filter(pl.col("_fidx") == i)["_seq"]
        if mine.len():
            dups = (
                _kept(e)
                .filter(pl.col("_seq").is_in(mine.implode()))
                .select(
                    "_seq",
                    pl.col("_file").alias("file"),
                    pl.col("_row").alias("row"),
                    pl.col("_field").alias("field"),
                    pl.lit(_DUP).alias("reason"),
                    dup_value.alias("value"),
                    *USAGE_COLUMNS,
                )
                .with_columns(redact_expr("value"))
            )
            rej = pl.concat([rej, dups], how="vertical_relaxed").sort("_seq", maintain_order=True)
        out.append(rej.drop("_seq"))
    return pl.concat(out, how="vertical_relaxed")


__all__ = ["load"]
