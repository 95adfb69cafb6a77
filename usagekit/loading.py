"""``usagekit.load``: any mix of inputs -> one validated, de-duplicated :class:`Usage`.

Files are read by the format readers in :mod:`usagekit.sources`; the rows they stage are
concatenated, rejected rows are set aside with their reasons, repeated ``request_id`` s are
dropped (the first occurrence, in file then row order, wins) and every file's accounting is
kept in :class:`~usagekit.accounting.LoadReport`.
"""

from __future__ import annotations

import glob as globmod
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import polars as pl

from . import sources
from .accounting import FileReport, LoadReport
from .errors import FormatError, SourceError, UsagekitError, display_path
from .masking import redact_expr
from .money import MAX_TOTAL_CENTS
from .schema import BUDGET_COLUMNS, BUDGET_DTYPES, KEY_COLUMNS, KEY_DTYPES, USAGE_COLUMNS, empty_budgets, empty_keys
from .sources._dictionary import validating
from .sources._io import SUFFIXES
from .sources._stage import rejected_value, stage
from .store.cube import apply_registry, build_cube, cube_of, merge_cubes
from .usage import Usage

#: lazily scanned inputs up to this many bytes on disk are collected into memory after loading
MEMORY_BYTES = 64 * 1024 * 1024

#: files a directory scan passes over without complaint (they are not usage data)
_NOT_USAGE = ("labels.json", "manifest.json")


def _expand(source) -> list[tuple[object, bool]]:
    """Source -> list of (path or document, named_explicitly)."""
    if isinstance(source, (list, tuple)):
        out = []
        for s in source:
            out += _expand(s)
        return out
    if isinstance(source, dict) or _is_frame(source):
        return [(source, True)]
    if not isinstance(source, (str, Path)):
        raise UsagekitError(
            f"cannot load {type(source).__name__}: pass a file, a directory, a glob, "
            "a list of them, a parsed /api/usage dict or a DataFrame"
        )
    text = str(source)
    if any(ch in text for ch in "*?[") and not Path(text).exists():
        matches = sorted(Path(p) for p in globmod.glob(text, recursive=True))
        files = [p for p in matches if p.is_file()]
        if not files:
            raise SourceError(text, "the pattern matches no files", expected="a glob that matches usage files")
        return [(p, False) for p in files]
    path = Path(text).expanduser()
    if path.is_dir():
        files = sorted(
            p
            for p in path.rglob("*")
            if p.is_file()
            and p.name.lower().endswith(SUFFIXES)
            and not any(part.startswith(".") for part in p.relative_to(path).parts)
        )
        if not files:
            raise SourceError(
                display_path(path),
                "the directory holds no usage files",
                expected=f"files ending in {', '.join(SUFFIXES)}",
            )
        return [(p, False) for p in files]
    if not path.exists():
        raise SourceError(
            display_path(path), "no such file or directory", expected="an existing file, directory or glob"
        )
    return [(path, True)]


def _is_frame(obj) -> bool:
    mod = type(obj).__module__
    return mod.startswith("pandas") or mod.startswith("polars")


def _frame_source(df) -> sources.Loaded:
    """A DataFrame in the canonical columns (pandas or polars) -> staged rows."""
    pdf = pl.from_pandas(df) if type(df).__module__.startswith("pandas") else df
    if isinstance(pdf, pl.LazyFrame):
        pdf = pdf.collect()
    missing = [c for c in ("ts", "cost_cents") if c not in pdf.columns]
    if missing:
        raise SourceError(
            "<DataFrame>",
            f"missing required column '{missing[0]}'",
            field=missing[0],
            expected=f"the canonical columns: {', '.join(USAGE_COLUMNS)}",
        )
    cols = [c for c in pdf.columns if c in USAGE_COLUMNS]
    pdf = pdf.select(cols).with_row_index("_row", offset=1).with_columns(pl.col("_row").cast(pl.Int64))
    return sources.Loaded("dataframe", "<DataFrame>", stage(pdf, file="<DataFrame>", source="dataframe"))


def _keys_frame(keys) -> list[sources.Loaded]:
    if keys is None:
        return []
    if _is_frame(keys):
        df = pl.from_pandas(keys) if type(keys).__module__.startswith("pandas") else keys
        if "key_id" not in df.columns:
            raise SourceError(
                "<keys DataFrame>",
                "missing required column 'key_id'",
                field="key_id",
                expected=f"key registry columns {', '.join(KEY_COLUMNS)}",
            )
        df = df.with_row_index("_row", offset=1).with_columns(pl.all().exclude("_row").cast(pl.String))
        from .sources.keys import registry_from_strings

        kept, rejects = registry_from_strings(df, "<keys DataFrame>")
        return [sources.Loaded("keys", "<keys DataFrame>", keys=kept, key_rejects=rejects)]
    out = []
    for item, _ in _expand(keys):
        loaded = sources.read(item) if isinstance(item, Path) else None
        if loaded is None or loaded.keys is None:
            shown = display_path(item) if isinstance(item, Path) else "<keys>"
            raise FormatError(
                shown,
                "is not a key registry",
                expected="a keys CSV (key_id, key_name, account_id, "
                "spend_cap_cents, ...) or a LiteLLM_VerificationToken export",
            )
        out.append(loaded)
    return out


def check_tz(tz: str) -> str:
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsagekitError(
            f"unknown time zone '{tz}'; use an IANA name such as UTC, Europe/Berlin or America/New_York"
        ) from None
    return tz


def load(
    source,
    keys=None,
    format: str = "auto",
    *,
    tz: str = "UTC",
    engine="polars",
    progress: bool = False,
    reprice: bool = False,
    prices=None,
    store=None,
    rehash: bool = False,
) -> Usage:
    """Read usage data from files, a directory, a glob, a list of them, or a parsed response.

    Returns a :class:`Usage`: validated rows of the normalized table (see
    :mod:`usagekit.schema`), the key registry, and ``load_report`` (rows read, kept,
    rejected by reason, duplicates dropped, per file). ``format`` overrides detection for
    every file; ``keys`` names key registry file(s) or a DataFrame; ``tz`` is the time zone
    reports bucket days in (data stays UTC); ``engine`` runs the queries: ``polars``
    (default), ``duckdb``, ``spark`` or a SparkSession. ``reprice=True`` fills unpriced rows
    with an estimate from a price map (``prices``: None = genai-prices, needs
    ``pip install 'usagekit[prices]'``; or a LiteLLM price map JSON), labelled
    ``cost_source='estimated'`` (see :meth:`Usage.reprice`).

    Files are validated once and kept in the validated store (:mod:`usagekit.store.cache`):
    ``store`` is its directory (default ``USAGEKIT_STORE``, else the user's cache dir);
    ``store=False`` loads without it. A second load of unchanged files reads what was
    stored; ``rehash=True`` hashes each file whole instead of its first and last blocks.

    With ``engine="spark"`` (or a SparkSession) and canonical inputs (Parquet, CSV, JSON Lines), the checks, the
    accounting, the duplicate check and the cube run as Spark jobs over the files, through the
    validated store as well (:mod:`usagekit.store.spark_stored`: only files it lacks are validated);
    other formats are validated here and handed to Spark.

    >>> usage = load("demo/")                       # doctest: +SKIP
    >>> print(usage.load_report)                     # doctest: +SKIP
    """
    tz = check_tz(tz)
    items = _expand(source)
    if engine == "spark" or not isinstance(engine, str):
        on_spark = _spark_plan(items, format)
        if on_spark is not None:  # canonical files: validated by Spark jobs, not on this machine
            if reprice:
                from .prices import load_price_map

                prices = load_price_map(prices)
            usage = _load_on_spark(on_spark, keys, engine, store, tz, progress, rehash=rehash)
            return usage.reprice(missing_only=True, prices=prices) if reprice else usage
    if store is not False and all(isinstance(item, Path) for item, _ in items):
        from .store import cache, stored

        st = cache.resolve(store)
        if st is not None:
            if reprice:
                from .prices import load_price_map

                prices = load_price_map(prices)  # a missing extra fails before the slow part
            try:
                usage = stored.load(st, items, keys, format, tz, engine, progress, rehash=rehash)
            except (pl.exceptions.ComputeError, OSError) as exc:
                if not _is_corrupt_file(exc):
                    raise
                raise _corrupt_input(_read_each(items, format), exc) from None
            return usage.reprice(missing_only=True, prices=prices) if reprice else usage
    loaded: list[sources.Loaded] = []
    skipped: list[tuple[str, str]] = []
    iterator = items
    if progress and len(items) > 1:
        from tqdm.auto import tqdm

        iterator = tqdm(items, desc="reading", unit="file")
    with validating():  # files are validated whole: staging learns their columns' values
        for item, explicit in iterator:
            if isinstance(item, dict):
                loaded.append(sources.read_document(item, "<response>", format=format))
                continue
            if _is_frame(item):
                loaded.append(_frame_source(item))
                continue
            if not explicit and format == "auto":
                if item.name.lower() in _NOT_USAGE:
                    skipped.append((display_path(item), "not a usage file"))
                    continue
                fmt, pr = sources.detect(item)
                if fmt is None:
                    skipped.append((display_path(item), f"format not recognised ({sources.describe_unknown(pr)})"))
                    continue
                loaded.append(fmt.read(item, pr))
            else:
                loaded.append(sources.read(item, format=format))
    key_parts = [x for x in loaded if x.keys is not None] + _keys_frame(keys)
    key_parts += [x for x in loaded if x.budgets is not None and x.keys is None]
    usage_parts = [x for x in loaded if x.usage is not None]
    if not usage_parts:
        shown = ", ".join(display_path(p) if isinstance(p, Path) else "<input>" for p, _ in items[:3])
        raise SourceError(
            shown, "no usage rows found (only key registries or unrecognised files)", expected="at least one usage file"
        )
    registry, budgets = _registries(key_parts)
    if reprice:
        from .prices import load_price_map

        prices = load_price_map(prices)  # a missing extra fails before the slow part
    try:
        usage = _assemble(usage_parts, key_parts, registry, skipped, tz, engine, progress, budgets=budgets)
    except (pl.exceptions.ComputeError, OSError) as exc:
        if not _is_corrupt_file(exc):
            raise
        raise _corrupt_input(usage_parts, exc) from None
    usage = usage.with_accounts([x.accounts for x in usage_parts + key_parts])  # beside the registry, not per row
    return usage.reprice(missing_only=True, prices=prices) if reprice else usage


#: formats of key registries and budget tables (read on the driver: they are small)
_REGISTRY_FORMATS = ("keys", "litellm_keys", "litellm_teams", "litellm_users", "litellm_orgs", "litellm_budgets")


#: kinds of canonical file Spark validates (Parquet by Spark expressions, text by the Polars rules
#: run in Spark tasks: :mod:`usagekit.sources.spark_text`)
_SPARK_KINDS = ("parquet", "csv", "jsonl")


def _spark_plan(items, format: str):
    """For ``engine="spark"``: (canonical files, registry files, skipped) when every usage input is a
    canonical Parquet, CSV or JSON Lines file, which Spark validates itself; else None (the inputs
    are validated on the driver by Polars and handed to Spark, as for any other format)."""
    if not items or not all(isinstance(item, Path) for item, _ in items) or format not in ("auto", "canonical"):
        return None
    files, registries, skipped = [], [], []
    for item, explicit in items:
        if format == "auto":
            if not explicit and item.name.lower() in _NOT_USAGE:
                skipped.append((display_path(item), "not a usage file"))
                continue
            fmt, pr = sources.detect(item)
            if fmt is None and not explicit:
                skipped.append((display_path(item), f"format not recognised ({sources.describe_unknown(pr)})"))
                continue
            name = fmt.name if fmt is not None else None
        else:
            name, pr = "canonical", sources.probe(item)
        if name == "canonical" and pr.kind in _SPARK_KINDS:
            files.append((item, pr))
        elif name in _REGISTRY_FORMATS:
            registries.append((item, fmt, pr))
        else:
            return None
    return (files, registries, skipped) if files else None


def _load_on_spark(plan, keys, engine, store, tz: str, progress: bool, rehash: bool = False) -> Usage:
    """Canonical files validated by Spark jobs (:mod:`usagekit.store.spark_load`), through the
    validated store unless ``store=False``; registries are read here."""
    from .store import cache, spark_load

    files, registries, skipped = plan
    st = cache.resolve(store) if store is not False else None
    key_parts = [fmt.read(item, pr) for item, fmt, pr in registries] + _keys_frame(keys)
    session = spark_load.session_of(engine)
    return spark_load.load(session, files, key_parts, skipped, tz, progress, store=st, rehash=rehash)


def _is_corrupt_file(exc: Exception) -> bool:
    """A read failing on the bytes of a file (a Parquet page cut or corrupted after its footer
    was read), as opposed to a bug."""
    text = str(exc).lower()
    return isinstance(exc, OSError) or any(
        w in text
        for w in ("parquet", "out of specification", "zstd", "snappy", "gzip", "lz4", "brotli", "decompress", "thrift")
    )


def _read_each(items, format: str) -> list:
    """The usage parts of ``items`` read again, one by one (only to find a corrupt file)."""
    parts = []
    for item, explicit in items:
        try:
            if not explicit and format == "auto":
                fmt, pr = sources.detect(item)
                loaded = fmt.read(item, pr) if fmt is not None else None
            else:
                loaded = sources.read(item, format=format)
        except UsagekitError:
            continue
        if loaded is not None and loaded.usage is not None:
            loaded.in_memory = False  # to be collected again by _corrupt_input
            parts.append(loaded)
    return parts


def _corrupt_input(usage_parts, exc: Exception) -> SourceError:
    """A SourceError naming the input whose data cannot be decoded (found by reading each again)."""
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    for x in usage_parts:
        if x.in_memory:
            continue  # already decoded in memory: not the one
        try:
            x.usage.select(pl.len()).collect()
            x.usage.collect()
        except (pl.exceptions.ComputeError, OSError):
            return SourceError(
                x.file,
                f"the file's data cannot be decoded ({detail})",
                expected="a complete, uncorrupted Parquet file; re-export or re-download it",
            )
    files = ", ".join(x.file for x in usage_parts[:3]) + (" ..." if len(usage_parts) > 3 else "")
    return SourceError(
        files,
        f"an input's data cannot be decoded ({detail})",
        expected="complete, uncorrupted files; re-export or re-download them",
    )


def _registries(key_parts) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The key registry and the budget registry of every registry input, with LiteLLM budget-table
    limits applied by ``budget_id`` (:func:`usagekit.sources.budgets.link`); what the linking did
    is noted on the input that holds the budget table (else the first registry input)."""
    from .sources.budgets import link

    registry = _merge_keys([x.keys for x in key_parts if x.keys is not None])
    budgets = _merge_budgets([x.budgets for x in key_parts if x.budgets is not None])
    registry, budgets, notes = link(registry, budgets)
    if notes and key_parts:
        holder = next((x for x in key_parts if x.format == "litellm_budgets"), key_parts[0])
        holder.notes.extend(n for n in notes if n not in holder.notes)
    return registry, budgets


def _merge_budgets(frames: list[pl.DataFrame]) -> pl.DataFrame:
    if not frames:
        return empty_budgets()
    merged = pl.concat([f.select(BUDGET_COLUMNS).cast(BUDGET_DTYPES) for f in frames])
    merged = merged.with_columns(redact_expr(c) for c in ("entity_id", "name", "account_id", "budget_id"))
    return merged.unique(subset=["entity", "entity_id"], keep="last", maintain_order=True)


def _merge_keys(frames: list[pl.DataFrame]) -> pl.DataFrame:
    if not frames:
        return empty_keys()
    # later registries win: keys= passed explicitly come last
    merged = pl.concat([f.select(KEY_COLUMNS).cast(KEY_DTYPES) for f in frames])
    text = [c for c in KEY_COLUMNS if KEY_DTYPES[c] == pl.String]
    merged = merged.with_columns(redact_expr(c) for c in text)  # same masked ids as the usage rows
    return merged.unique(subset="key_id", keep="last", maintain_order=True)


def _assemble(
    usage_parts,
    key_parts,
    registry: pl.DataFrame,
    skipped,
    tz: str,
    engine,
    progress: bool = False,
    budgets: pl.DataFrame | None = None,
) -> Usage:
    """Validated parts -> :class:`Usage`, in one pass over each input and nothing written to disk.

    The pass (:func:`_fused`) gives the input's accounting (rows per reason), the 64-bit hashes
    of its request ids and the month cube (:func:`usagekit.queries.cube`) of its rows that
    passed the checks. The hashes of all inputs are then sorted in place; only ids whose hash
    repeats are compared exactly (first occurrence in input then row order wins). Only when
    some id repeats are the accounting and the cube of the inputs computed again without the
    repeats. The cube answers every aggregate query; the registry's names are applied to it.

    The rows themselves stay a lazy scan of the inputs (for big files) or one in-memory
    frame (small ones), read again only by per-request queries.
    """
    say = _Phases(progress)
    parts = [x.usage.with_columns(pl.lit(i, pl.Int32).alias("_fidx")) for i, x in enumerate(usage_parts)]
    staged = pl.concat(parts, how="diagonal_relaxed")
    # Parquet under this size is read into memory once (queries then cost no file scans);
    # bigger inputs stay lazy scans so a 100M-row month never has to fit in memory.
    scanned = sum(x.scan_bytes for x in usage_parts)
    in_memory = all(x.in_memory for x in usage_parts) or scanned <= MEMORY_BYTES
    if in_memory:
        say("parsing")
        staged = staged.collect().lazy()  # parse text once; every later pass reuses the result
    # Big inputs are passed over one file at a time: polars runs the files of one query side
    # by side, each with its row groups in flight (13 GB at 100M rows); one at a time it is
    # bounded by the biggest file.
    chunks = [staged] if in_memory else parts
    ok = pl.col("_reject").is_null()

    # one pass per input computes what every later step needs: the accounting, the request-id
    # hashes and the month cube of the rows that passed the checks (repeats come out below)
    say("validating: accounting, request-id hashes and the month cube in one pass per input")
    fused = [_fused(c, tz) for c in _each(chunks, progress, "validating")]
    stats = pl.concat([f[0] for f in fused])
    check_total(stats, [x.file for x in usage_parts])
    say("checking request ids")
    hash_parts = [f[1] for f in fused]
    fused = [(None, None, f[2]) for f in fused]  # the hash parts are consumed (freed) one by one below
    dup = _duplicates(staged, hash_parts, int(stats["ids"].sum()), ok)
    mark = (dup if dup is not None else pl.lit(False)).alias("_dup")
    marked = staged.with_columns(mark)
    good = ok & ~pl.col("_dup")
    rows = marked.filter(good).select(USAGE_COLUMNS)
    if dup is None:
        say("merging the month cube")
        cube = merge_cubes([f[2] for f in fused], registry)
    else:  # repeats found: count them per input and build the cube without them
        stats = pl.concat([_stats(c.with_columns(mark)) for c in chunks])
        say("building the month cube")
        cube = build_cube([c.with_columns(mark).filter(good) for c in _each(chunks, progress, "cube")], tz, registry)
    del fused
    rows = apply_registry(rows, registry)

    report = _report(stats, usage_parts, key_parts, skipped, registry)
    rejected = rejected_rows(marked.filter(~good))
    say("done")
    if not (isinstance(engine, str) and engine in ("polars", "duckdb")):
        cube = None  # Spark builds its own from its copy of the rows
    return Usage(rows, registry, report, rejected, tz=tz, engine=engine, cube=cube, budgets=budgets)


def check_total(stats: pl.DataFrame, files: list[str]) -> None:
    """Refuse a load whose kept costs (``stats`` as :func:`_stats` gives them) add up past what
    one load can sum exactly."""
    total = float(stats.filter(pl.col("_reject").is_null())["cost"].sum() or 0.0)
    if total > MAX_TOTAL_CENTS:  # kept costs are each <= MAX_COST_CENTS and never negative
        raise SourceError(
            ", ".join(files[:3]) + (" ..." if len(files) > 3 else ""),
            f"the costs add up to {total:.3g} cents, above the {MAX_TOTAL_CENTS:.0e} cents one load can sum exactly",
            field="cost_cents",
            expected="costs in US cents (a file in dollars read as cents? check format= and units)",
        )


def rejected_rows(marked: pl.LazyFrame) -> pl.LazyFrame:
    """The rows not kept (staged rows with ``_dup``) as :attr:`Usage.rejected` shows them: file, row,
    field, reason, the offending cell (masked), then the usage columns."""
    return marked.select(
        pl.col("_file").alias("file"),
        pl.col("_row").alias("row"),
        pl.col("_field").alias("field"),
        pl.when(pl.col("_dup")).then(pl.lit("duplicate request_id")).otherwise(pl.col("_reject")).alias("reason"),
        rejected_value(marked.collect_schema().names()).alias("value"),
        *USAGE_COLUMNS,
    ).with_columns(redact_expr("value"))


def _each(chunks: list, progress: bool, what: str):
    if progress and len(chunks) > 1:
        from tqdm.auto import tqdm

        return tqdm(chunks, desc=what, unit="file", leave=False)
    return chunks


class _Phases:
    """Say which pass a big load is in (``progress=True``)."""

    def __init__(self, on: bool):
        self.on = on
        self.t0 = time.perf_counter()

    def __call__(self, what: str) -> None:
        if self.on:
            import resource

            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
            print(
                f"[usagekit.load {time.perf_counter() - self.t0:6.1f} s, peak {peak:.1f} GB] {what}",
                file=sys.stderr,
                flush=True,
            )


def _stats(marked: pl.LazyFrame, ids: pl.Expr | None = None) -> pl.DataFrame:
    ok = pl.col("_reject").is_null()
    good = ok & ~pl.col("_dup")
    return (
        marked.group_by("_fidx", "_reject", "_dup")
        .agg(
            n=pl.len(),
            ids=pl.col("request_id").count() if ids is None else ids.cast(pl.UInt32),
            naive=(pl.col("_naive") & good).sum(),
            unpriced=(pl.col("cost_cents").is_null() & good).sum(),
            cost=pl.when(good).then(pl.col("cost_cents")).sum(),
            first=pl.when(good).then(pl.col("ts")).min(),
            last=pl.when(good).then(pl.col("ts")).max(),
        )
        .collect(engine="streaming")
    )


def _stats_clean(df: pl.DataFrame) -> pl.DataFrame:
    """:func:`_stats` of a batch (with ``_has_id``) that has no rejected row, before repeats are
    known: every row is good, so it is grouped by input alone (an integer key, no text)."""
    return (
        df.lazy()
        .group_by("_fidx")
        .agg(
            n=pl.len(),
            ids=pl.col("_has_id").sum().cast(pl.UInt32),
            naive=pl.col("_naive").sum(),
            unpriced=pl.col("cost_cents").is_null().sum(),
            cost=pl.col("cost_cents").sum(),
            first=pl.col("ts").min(),
            last=pl.col("ts").max(),
        )
        .select("_fidx", pl.lit(None, pl.String).alias("_reject"), pl.lit(False).alias("_dup"), pl.exclude("_fidx"))
        .collect()
    )


def _fused(chunk: pl.LazyFrame, tz: str, kept_ids: bool = False) -> tuple[pl.DataFrame, np.ndarray, pl.DataFrame]:
    """One input's accounting (as :func:`_stats`, before repeats are known), the hashes of its
    request ids (``kept_ids``: of the rows that passed the checks only), and the month cube of
    its rows that passed the checks: one streaming read of the input, a batch of rows at a time
    (memory bounded by the batch, not the input).

    Only the columns these need are computed (not the ids themselves, nor ``end_user`` and tags).
    """
    need = [c for c in USAGE_COLUMNS if c not in ("request_id", "end_user", "tags")]
    query = chunk.select(
        "_fidx",
        "_reject",
        "_naive",
        pl.col("request_id").is_not_null().alias("_has_id"),
        _id_hash(pl.col("request_id")).alias("_h"),
        *need,
    )
    stats, hashes, cubes = [], [], []
    for df in query.collect_batches(chunk_size=1_000_000):
        # the usual batch has no rejected row: counted per input alone, its rows not filtered (a
        # copy of every column)
        clean = df["_reject"].null_count() == df.height
        if clean:
            stats.append(_stats_clean(df))
        else:
            stats.append(_stats(df.lazy().with_columns(pl.lit(False).alias("_dup")), ids=pl.col("_has_id").sum()))
        with_id = pl.col("_has_id") if clean or not kept_ids else pl.col("_has_id") & pl.col("_reject").is_null()
        hashes.append(df.lazy().filter(with_id).select("_h").collect().to_series().to_numpy())
        kept = (df.lazy() if clean else df.lazy().filter(pl.col("_reject").is_null())).with_columns(
            # not cube dimensions: placeholders for the column list
            pl.lit(None, pl.String).alias("request_id"),
            pl.lit(None, pl.String).alias("end_user"),
            pl.lit(None, pl.List(pl.String)).alias("tags"),
        )
        cubes.append(cube_of(kept, tz))
        del df, kept
    if not stats:  # an input without rows
        empty = query.head(0).collect()
        return _fused_batch_empty(empty, tz)
    cube = merge_cubes(cubes, pl.DataFrame()) if len(cubes) > 1 else cubes[0]
    return pl.concat(stats), np.concatenate(hashes), cube


def _fused_batch_empty(df: pl.DataFrame, tz: str) -> tuple[pl.DataFrame, np.ndarray, pl.DataFrame]:
    stats = _stats(df.lazy().with_columns(pl.lit(False).alias("_dup")), ids=pl.col("_has_id").sum())
    kept = df.lazy().with_columns(
        pl.lit(None, pl.String).alias("request_id"),
        pl.lit(None, pl.String).alias("end_user"),
        pl.lit(None, pl.List(pl.String)).alias("tags"),
    )
    return stats, np.empty(0, np.uint64), cube_of(kept, tz)


_HASH_SEED = 7


def _id_hash(ids: pl.Expr) -> pl.Expr:
    """64-bit hash of request ids: equal ids hash equal; equal hashes are then compared exactly."""
    return ids.hash(_HASH_SEED)


def _duplicates(staged: pl.LazyFrame, sources_: list[pl.LazyFrame], n_ids: int, ok: pl.Expr) -> pl.Expr | None:
    """The expression marking repeated request ids (None when there are none).

    Every id is hashed to 64 bits into one preallocated array (8 bytes per id: 0.8 GB at
    100M requests) that is sorted in place; equal neighbours are candidates, compared
    exactly (ids of rejected rows do not count). Of a repeated id the first occurrence in
    input then row order is kept.
    """
    if n_ids < 2:
        return None
    hashes = np.empty(n_ids, dtype=np.uint64)
    pos = 0
    h = _id_hash(pl.col("request_id").drop_nulls())
    while sources_:  # hashes already computed, or inputs to compute them from; each freed once copied
        src = sources_.pop(0)
        part = src if isinstance(src, np.ndarray) else src.select(h).collect(engine="streaming").to_series().to_numpy()
        del src
        if pos + len(part) > n_ids:  # cannot happen unless an input changed while loading
            raise UsagekitError("an input changed while it was being loaded; load it again")
        hashes[pos : pos + len(part)] = part
        pos += len(part)
        del part
    hashes = hashes[:pos]
    hashes.sort()
    same = hashes[1:] == hashes[:-1]
    if not same.any():
        return None
    candidates = pl.Series(np.unique(hashes[1:][same]), dtype=pl.UInt64)
    del hashes, same
    cand = (
        staged.filter(_id_hash(pl.col("request_id")).is_in(candidates.implode()) & ok)
        .select("_fidx", "_row", "request_id")
        .collect()
        .sort("_fidx", "_row")
    )
    where = pl.col("_fidx").cast(pl.Int64) * (1 << 40) + pl.col("_row")
    dups = cand.filter(~pl.col("request_id").is_first_distinct())
    if not len(dups):
        return None
    # (input, row) names the row to drop; the id's hash must match too, so a reader whose row
    # numbers repeat (several records from one line) cannot drop a record with another id
    keys = dups.select(where.alias("k"))["k"]
    ids = dups.select(_id_hash(pl.col("request_id")).alias("h"))["h"].unique()
    return where.is_in(keys.implode()) & _id_hash(pl.col("request_id")).is_in(ids.implode())


#: the accounting of an input without rows
_NO_ROWS = dict.fromkeys(("read", "rejected", "duplicates", "kept", "naive", "unpriced", "cost", "first", "last"))


def _per_file(stats: pl.DataFrame) -> tuple[dict[int, dict], dict[int, dict[str, int]]]:
    """The accounting (as :func:`_stats` gives it) summed per input, in one group-by: input index ->
    its counts, and input index -> its rejected rows per reason (most rows first, then by reason)."""
    ok = pl.col("_reject").is_null()
    good = ok & ~pl.col("_dup")
    per = stats.group_by("_fidx").agg(
        read=pl.col("n").sum(),
        rejected=pl.col("n").filter(~ok).sum(),
        duplicates=pl.col("n").filter(ok & pl.col("_dup")).sum(),
        kept=pl.col("n").filter(good).sum(),
        naive=pl.col("naive").filter(good).sum(),
        unpriced=pl.col("unpriced").filter(good).sum(),
        cost=pl.col("cost").filter(good).sum(),
        first=pl.col("first").filter(good).min(),
        last=pl.col("last").filter(good).max(),
    )
    why = (
        stats.filter(~ok)
        .group_by("_fidx", "_reject")
        .agg(pl.col("n").sum())
        .sort(["_fidx", "n", "_reject"], descending=[False, True, False])
    )
    reasons: dict[int, dict[str, int]] = {}
    for i, r, n in why.iter_rows():
        reasons.setdefault(i, {})[r] = int(n)
    return {row["_fidx"]: row for row in per.iter_rows(named=True)}, reasons


def _report(stats: pl.DataFrame, usage_parts, key_parts, skipped, registry: pl.DataFrame) -> LoadReport:
    notes: dict[str, list[str]] = {}
    for x in usage_parts + key_parts:
        notes.setdefault(x.file, []).extend(x.notes)
    report = LoadReport(skipped=list(skipped))
    by_file: dict[str, FileReport] = {}
    per_file, reasons = _per_file(stats)
    for i, x in enumerate(usage_parts):
        got = per_file.get(i, _NO_ROWS)
        fr = FileReport(
            file=x.file,
            format=x.format,
            read=int(got["read"] or 0),
            rejected=int(got["rejected"] or 0),
            duplicates=int(got["duplicates"] or 0),
            kept=int(got["kept"] or 0),
            naive_ts=int(got["naive"] or 0),
            unpriced=int(got["unpriced"] or 0),
            cost_cents=float(got["cost"] or 0.0),
            reasons=reasons.get(i, {}),
            first_ts=got["first"],
            last_ts=got["last"],
            notes=notes.get(x.file, []),
        )
        if x.file in by_file:  # two inputs shown under one name (e.g. two DataFrames): one line
            by_file[x.file] = by_file[x.file].merge(fr)
        else:
            by_file[x.file] = fr
    report.files.extend(by_file.values())
    known = set(registry["key_id"].to_list())
    unknown: dict[str, None] = {}
    for x in key_parts:
        rej = x.key_rejects
        fr = FileReport(
            file=x.file, format=x.format, keys=x.keys.height if x.keys is not None else 0, notes=notes.get(x.file, [])
        )
        if rej is not None and rej.height:
            rej = rej.with_columns(redact_expr("key_id"), redact_expr("value"))  # as the registry's ids
            fr.keys_rejected = rej.height
            fr.key_reasons = {
                r: int(n)
                for r, n in rej.group_by("reason").len().sort(["len", "reason"], descending=[True, False]).iter_rows()
            }
            fr.key_rejects = rej
            # a key whose every row was rejected has an unknown cap (a valid row elsewhere gives it one)
            unknown.update(dict.fromkeys(k for k in rej["key_id"].to_list() if k and k not in known))
        report.files.append(fr)
    report.registry_rejected_keys = tuple(unknown)
    return report
