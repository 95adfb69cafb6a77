"""``usagekit.load``: any mix of inputs -> one validated, de-duplicated :class:`Usage`.

Files are read by the format readers in :mod:`usagekit.sources`; the rows they stage are
concatenated, rejected rows are set aside with their reasons, repeated ``request_id`` s are
dropped (the first occurrence, in file then row order, wins) and every file's accounting is
kept in :class:`~usagekit.accounting.LoadReport`.
"""

from __future__ import annotations

import glob as globmod
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl

from . import sources
from .accounting import FileReport, LoadReport
from .errors import FormatError, SourceError, UsagekitError, display_path
from .schema import KEY_COLUMNS, KEY_DTYPES, USAGE_COLUMNS, empty_keys
from .sources._io import SUFFIXES
from .sources._stage import rejected_value, stage
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
        raise UsagekitError(f"cannot load {type(source).__name__}: pass a file, a directory, a glob, "
                            "a list of them, a parsed /api/usage dict or a DataFrame")
    text = str(source)
    if any(ch in text for ch in "*?[") and not Path(text).exists():
        matches = sorted(Path(p) for p in globmod.glob(text, recursive=True))
        files = [p for p in matches if p.is_file()]
        if not files:
            raise SourceError(text, "the pattern matches no files", expected="a glob that matches usage files")
        return [(p, False) for p in files]
    path = Path(text).expanduser()
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.name.lower().endswith(SUFFIXES)
                       and not any(part.startswith(".") for part in p.relative_to(path).parts))
        if not files:
            raise SourceError(display_path(path), "the directory holds no usage files",
                              expected=f"files ending in {', '.join(SUFFIXES)}")
        return [(p, False) for p in files]
    if not path.exists():
        raise SourceError(display_path(path), "no such file or directory",
                          expected="an existing file, directory or glob")
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
        raise SourceError("<DataFrame>", f"missing required column '{missing[0]}'", field=missing[0],
                          expected=f"the canonical columns: {', '.join(USAGE_COLUMNS)}")
    cols = [c for c in pdf.columns if c in USAGE_COLUMNS]
    pdf = pdf.select(cols).with_row_index("_row", offset=1).with_columns(pl.col("_row").cast(pl.Int64))
    return sources.Loaded("dataframe", "<DataFrame>", stage(pdf, file="<DataFrame>", source="dataframe"))


def _keys_frame(keys) -> list[sources.Loaded]:
    if keys is None:
        return []
    if _is_frame(keys):
        df = pl.from_pandas(keys) if type(keys).__module__.startswith("pandas") else keys
        if "key_id" not in df.columns:
            raise SourceError("<keys DataFrame>", "missing required column 'key_id'", field="key_id",
                              expected=f"key registry columns {', '.join(KEY_COLUMNS)}")
        df = df.with_row_index("_row", offset=1).with_columns(pl.all().exclude("_row").cast(pl.String))
        from .sources.keys import registry_from_strings
        return [sources.Loaded("keys", "<keys DataFrame>", keys=registry_from_strings(df, "<keys DataFrame>"))]
    out = []
    for item, _ in _expand(keys):
        loaded = sources.read(item) if isinstance(item, Path) else None
        if loaded is None or loaded.keys is None:
            shown = display_path(item) if isinstance(item, Path) else "<keys>"
            raise FormatError(shown, "is not a key registry", expected="a keys CSV (key_id, key_name, account_id, "
                              "spend_cap_cents, ...) or a LiteLLM_VerificationToken export")
        out.append(loaded)
    return out


def check_tz(tz: str) -> str:
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsagekitError(f"unknown time zone '{tz}'; use an IANA name such as UTC, Europe/Berlin "
                            "or America/New_York") from None
    return tz


def load(source, keys=None, format: str = "auto", *, tz: str = "UTC", engine="polars",
         progress: bool = False) -> Usage:
    """Read usage data from files, a directory, a glob, a list of them, or a parsed response.

    Returns a :class:`Usage`: validated rows of the normalized table (see
    :mod:`usagekit.schema`), the key registry, and ``load_report`` (rows read, kept,
    rejected by reason, duplicates dropped, per file). ``format`` overrides detection for
    every file; ``keys`` names key registry file(s) or a DataFrame; ``tz`` is the time zone
    reports bucket days in (data stays UTC); ``engine`` runs the queries: ``polars``
    (default), ``duckdb``, ``spark`` or a SparkSession.

    >>> usage = load("demo/")                       # doctest: +SKIP
    >>> print(usage.load_report)                     # doctest: +SKIP
    """
    tz = check_tz(tz)
    items = _expand(source)
    loaded: list[sources.Loaded] = []
    skipped: list[tuple[str, str]] = []
    iterator = items
    if progress and len(items) > 1:
        from tqdm.auto import tqdm
        iterator = tqdm(items, desc="reading", unit="file")
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
    usage_parts = [x for x in loaded if x.usage is not None]
    if not usage_parts:
        shown = ", ".join(display_path(p) if isinstance(p, Path) else "<input>" for p, _ in items[:3])
        raise SourceError(shown, "no usage rows found (only key registries or unrecognised files)",
                          expected="at least one usage file")
    registry = _merge_keys([x.keys for x in key_parts])
    return _assemble(usage_parts, key_parts, registry, skipped, tz, engine)


def _merge_keys(frames: list[pl.DataFrame]) -> pl.DataFrame:
    if not frames:
        return empty_keys()
    # later registries win: keys= passed explicitly come last
    return pl.concat([f.select(KEY_COLUMNS).cast(KEY_DTYPES) for f in frames]).unique(
        subset="key_id", keep="last", maintain_order=True)


def _assemble(usage_parts, key_parts, registry: pl.DataFrame, skipped, tz: str, engine) -> Usage:
    staged = pl.concat([x.usage for x in usage_parts], how="diagonal_relaxed")
    # Parquet under this size is read into memory once (queries then cost no file scans);
    # bigger inputs stay lazy scans so a 100M-row month never has to fit in memory.
    scanned = sum(x.scan_bytes for x in usage_parts)
    in_memory = all(x.in_memory for x in usage_parts) or scanned <= MEMORY_BYTES
    staged = _apply_registry(staged, registry)
    if in_memory:
        staged = staged.collect().lazy()  # parse text once; every query reuses the result
    else:
        # validate once: the checked, joined rows go to a temporary Parquet file that every
        # later query scans, instead of re-running every check on every query
        staged = _spill(staged)

    ok = pl.col("_reject").is_null()
    rid = pl.when(ok).then(pl.col("request_id"))
    # one cheap pass: are there repeated ids at all? (hashes; exact de-duplication only if so)
    c = staged.select(n=rid.count(), u=rid.drop_nulls().hash(7).n_unique()).collect()
    need_dedup = c["n"][0] != c["u"][0]
    dup = (rid.is_not_null() & ~rid.is_first_distinct()) if need_dedup else pl.lit(False)
    marked = staged.with_columns(dup.alias("_dup"))
    if need_dedup:
        marked = marked.collect().lazy() if in_memory else _spill(marked)
    good = ok & ~pl.col("_dup")

    stats = marked.group_by("_file", maintain_order=True).agg(
        read=pl.len(),
        rejected=(~ok).sum(),
        duplicates=pl.col("_dup").sum(),
        naive=(pl.col("_naive") & good).sum(),
        unpriced=(pl.col("cost_cents").is_null() & good).sum(),
        cost=pl.col("cost_cents").filter(good).sum(),
        first=pl.col("ts").filter(good).min(),
        last=pl.col("ts").filter(good).max(),
    )
    reasons = marked.filter(~ok).group_by("_file", "_reject").agg(n=pl.len())
    stats, reasons = pl.collect_all([stats, reasons])

    formats = {x.file: x.format for x in usage_parts}
    notes: dict[str, list[str]] = {}
    for x in usage_parts + key_parts:
        notes.setdefault(x.file, []).extend(x.notes)
    report = LoadReport(skipped=list(skipped))
    seen = set()
    for row in stats.iter_rows(named=True):
        f = row["_file"]
        seen.add(f)
        rs = {r["_reject"]: r["n"] for r in reasons.filter(pl.col("_file") == f).sort("n", descending=True)
              .iter_rows(named=True)}
        report.files.append(FileReport(
            file=f, format=formats.get(f, "?"), read=row["read"], rejected=row["rejected"],
            duplicates=row["duplicates"], kept=row["read"] - row["rejected"] - row["duplicates"],
            naive_ts=row["naive"], unpriced=row["unpriced"], cost_cents=float(row["cost"] or 0.0),
            reasons=rs, first_ts=row["first"], last_ts=row["last"], notes=notes.get(f, [])))
    for x in usage_parts:  # files that staged zero rows still get a line
        if x.file not in seen:
            report.files.append(FileReport(file=x.file, format=x.format, notes=notes.get(x.file, [])))
            seen.add(x.file)
    for x in key_parts:
        report.files.append(FileReport(file=x.file, format=x.format, keys=x.keys.height, notes=notes.get(x.file, [])))

    rows = marked.filter(good).select(USAGE_COLUMNS)
    rejected = marked.filter(~good).select(
        pl.col("_file").alias("file"), pl.col("_row").alias("row"), pl.col("_field").alias("field"),
        pl.when(pl.col("_dup")).then(pl.lit("duplicate request_id")).otherwise(pl.col("_reject")).alias("reason"),
        rejected_value(marked.collect_schema().names()).alias("value"), *USAGE_COLUMNS)
    if in_memory:
        rows = rows.collect().lazy()
    return Usage(rows, registry, report, rejected, tz=tz, engine=engine)


def _spill(frame: pl.LazyFrame) -> pl.LazyFrame:
    """Stream ``frame`` to a temporary Parquet file (removed at exit) and scan it back."""
    import atexit
    import shutil
    import tempfile

    tmp = Path(tempfile.mkdtemp(prefix="usagekit-"))
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    path = tmp / "validated.parquet"
    frame.sink_parquet(path, compression="lz4")
    return pl.scan_parquet(path)


def _apply_registry(rows: pl.LazyFrame, registry: pl.DataFrame) -> pl.LazyFrame:
    """Fill key names, accounts and agents from the registry (registry names win: they are current).

    Up to a few hundred keys this is a when-chain per column, which keeps row order and lets
    polars stream (``replace`` and order-keeping joins do not); bigger registries join.
    """
    if registry.is_empty():
        return rows
    if registry.height > 300:
        reg = registry.lazy().select("key_id", pl.col("key_name").alias("_k_name"),
                                     pl.col("account_id").alias("_k_account"), pl.col("agent_id").alias("_k_agent"))
        return (rows.join(reg, on="key_id", how="left", maintain_order="left")
                .with_columns(pl.coalesce("_k_name", "key_name").alias("key_name"),
                              pl.coalesce("account_id", "_k_account").alias("account_id"),
                              pl.coalesce("agent_id", "_k_agent").alias("agent_id"))
                .drop("_k_name", "_k_account", "_k_agent"))

    def lookup(col: str) -> pl.Expr:
        pairs = registry.filter(pl.col(col).is_not_null()).select("key_id", col)
        mapping = dict(zip(pairs["key_id"].to_list(), pairs[col].to_list()))
        if not mapping:
            return pl.lit(None, pl.String)
        chain = None
        for key, value in mapping.items():
            cond = pl.col("key_id") == key
            chain = pl.when(cond).then(pl.lit(value)) if chain is None else chain.when(cond).then(pl.lit(value))
        return chain.otherwise(pl.lit(None, pl.String))

    return rows.with_columns(pl.coalesce(lookup("key_name"), "key_name").alias("key_name"),
                             pl.coalesce("account_id", lookup("account_id")).alias("account_id"),
                             pl.coalesce("agent_id", lookup("agent_id")).alias("agent_id"))
