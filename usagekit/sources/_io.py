"""Reading raw bytes into frames of strings, with errors that name the file and row.

Readers here know nothing of any format's columns: they turn CSV, JSON Lines and JSON
into data, and turn every failure into a :class:`~usagekit.errors.SourceError`.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
import json
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from ..errors import SourceError, display_path

#: file name endings usagekit reads (a directory is scanned for these)
SUFFIXES = (
    ".csv",
    ".csv.gz",
    ".tsv",
    ".jsonl",
    ".jsonl.gz",
    ".ndjson",
    ".ndjson.gz",
    ".json",
    ".json.gz",
    ".parquet",
    ".pq",
)

PROBE_BYTES = 256 * 1024
#: CSV files up to this size get every row's field count checked (bigger: only the last row)
RAGGED_CHECK_BYTES = 64 * 1024 * 1024
#: the longest CSV field (in bytes) a row may carry: 1 MiB. No usage value comes near it (a
#: LiteLLM ``metadata`` JSON is a few KiB); a row with a longer field is rejected with a reason.
MAX_FIELD_BYTES = 1024 * 1024
#: JSON nesting deeper than this is refused (API pages nest 5 levels; LiteLLM metadata a few more)
MAX_JSON_DEPTH = 64
#: an integer literal with more digits than this is refused (int64 has 19)
MAX_JSON_INT_DIGITS = 100


def is_gzip(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def read_bytes(path: Path) -> bytes:
    """The file's bytes, gunzipped when it is gzip-compressed (by content, not name)."""
    shown = display_path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SourceError(shown, f"cannot read the file ({exc.strerror or exc})") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as exc:
            raise SourceError(
                shown,
                f"the gzip data is truncated or corrupt ({exc})",
                expected="a complete .gz file; re-export or re-download it",
            ) from None
    return raw


def read_head(path: Path, size: int = PROBE_BYTES) -> bytes:
    """The first ``size`` bytes of the (decompressed) file, for format detection."""
    shown = display_path(path)
    try:
        if is_gzip(path):
            # decompress only what is needed; a truncated .gz still shows its first lines
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            out = bytearray()
            with open(path, "rb") as fh:
                while len(out) < size:
                    chunk = fh.read(65536)
                    if not chunk:
                        break
                    try:
                        out += d.decompress(chunk, size - len(out))
                    except zlib.error:
                        break
            return bytes(out)
        with open(path, "rb") as fh:
            return fh.read(size)
    except OSError as exc:
        raise SourceError(shown, f"cannot read the file ({exc.strerror or exc})") from None


@contextlib.contextmanager
def csv_field_limit(limit: int = RAGGED_CHECK_BYTES):
    """Let the ``csv`` module read fields up to ``limit`` characters (its default is 128 KiB)."""
    old = csv.field_size_limit()
    csv.field_size_limit(max(old, limit))
    try:
        yield
    finally:
        csv.field_size_limit(old)


class JSONLimitError(ValueError):
    """A JSON text beyond the bounds usagekit parses (depth, integer digits)."""


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _parse_int(text: str):
    if len(text.lstrip("-")) > MAX_JSON_INT_DIGITS:
        raise JSONLimitError(f"an integer has {len(text.lstrip('-')):,} digits (more than {MAX_JSON_INT_DIGITS})")
    return int(text)


def parse_json(text: str):
    """``json.loads`` within bounds: nesting at most :data:`MAX_JSON_DEPTH` levels, integers of
    at most :data:`MAX_JSON_INT_DIGITS` digits (else :class:`JSONLimitError`), and a lone
    UTF-16 surrogate escape (``"\\ud800"``, not text) read as U+FFFD. Raises
    ``json.JSONDecodeError`` for a syntax error."""
    try:
        value = json.loads(text, parse_int=_parse_int)
    except RecursionError:
        raise JSONLimitError(f"nested more than {MAX_JSON_DEPTH} levels deep") from None
    return _bounded(value, fix_surrogates=bool(_SURROGATE_ESCAPE.search(text)))


def _fix(s):
    return _LONE_SURROGATE.sub("\ufffd", s) if isinstance(s, str) else s


def _bounded(value, fix_surrogates: bool):
    """Check the depth of a parsed value without recursion; replace lone surrogates if asked."""
    if not isinstance(value, (dict, list)):
        return _fix(value) if fix_surrogates else value
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise JSONLimitError(f"nested more than {MAX_JSON_DEPTH} levels deep")
        if isinstance(node, dict):
            if fix_surrogates and any(isinstance(k, str) and _LONE_SURROGATE.search(k) for k in node):
                items = [(_fix(k), v) for k, v in node.items()]
                node.clear()
                node.update(items)
            for k, v in node.items():
                if isinstance(v, (dict, list)):
                    stack.append((v, depth + 1))
                elif fix_surrogates and isinstance(v, str):
                    node[k] = _fix(v)
        else:
            for i, v in enumerate(node):
                if isinstance(v, (dict, list)):
                    stack.append((v, depth + 1))
                elif fix_surrogates and isinstance(v, str):
                    node[i] = _fix(v)
    return _fix(value) if fix_surrogates else value


def decode(data: bytes, shown: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise SourceError(
            shown, f"byte {exc.start} (line {line}) is not UTF-8 text", expected="a UTF-8 encoded file"
        ) from None


def read_csv_strings(path: Path) -> tuple[pl.DataFrame, str]:
    """Read a CSV (or gzip CSV) as all-string columns plus ``_row`` (1-based data row).

    Column names are stripped. A last row cut short by a truncated file gets a
    ``_reject`` reason instead of being read as a row with empty trailing fields.
    Returns the frame and the shown file name.
    """
    shown = display_path(path)
    data = read_bytes(path)
    text = decode(data, shown)
    if not text.strip():
        raise SourceError(shown, "the file is empty", expected="a header line and data rows")
    if "\r" in text:  # CRLF and bare CR (old Mac exports) line ends read as LF
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    sep = "\t" if path.name.endswith((".tsv", ".tsv.gz")) else ","
    try:
        df = pl.read_csv(
            io.StringIO(text), infer_schema=False, separator=sep, row_index_name="_row", row_index_offset=1
        )
    except pl.exceptions.PolarsError as exc:
        detail = str(exc).split("\n")[0]
        raise SourceError(
            shown,
            f"not a readable CSV file ({detail})",
            expected="comma-separated values with one header line and balanced quotes",
        ) from None
    df = df.rename(unique_names([c for c in df.columns if c != "_row"], shown))
    df = df.with_columns(
        pl.col("_row").cast(pl.Int64),
        pl.lit(None, pl.String).alias("_reject"),
        pl.lit(None, pl.String).alias("_field"),
        pl.lit(None, pl.String).alias("_value"),
    )
    if len(data) <= RAGGED_CHECK_BYTES:
        df = _reject_ragged(df, text, sep)
    df = _reject_long_fields(df)
    if df.height and not text.endswith(("\n", "\r")):
        last_col = [c for c in df.columns if not c.startswith("_")][-1]
        if df[last_col][-1] is None:
            df = df.with_columns(
                pl.when(pl.col("_row") == df.height)
                .then(pl.lit("row is incomplete (file truncated?)"))
                .otherwise(pl.col("_reject"))
                .alias("_reject"),
                pl.when(pl.col("_row") == df.height).then(pl.lit(last_col)).otherwise(pl.col("_field")).alias("_field"),
            )
    return df, shown


def read_parquet_strings(path: Path) -> tuple[pl.DataFrame, str]:
    """Read a Parquet file as all-string columns plus ``_row``, like :func:`read_csv_strings`
    (for formats whose readers map text; time columns become ISO text with their offset)."""
    shown = display_path(path)
    try:
        df = pl.read_parquet(path)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise SourceError(
            shown, f"not a readable Parquet file ({str(exc).splitlines()[0]})", expected="a complete Parquet file"
        ) from None
    texts = [as_text(c, dtype).alias(c) for c, dtype in df.schema.items()]
    df = df.select(*texts).rename(unique_names(df.columns, shown))
    df = df.with_row_index("_row", offset=1).with_columns(
        pl.col("_row").cast(pl.Int64),
        pl.lit(None, pl.String).alias("_reject"),
        pl.lit(None, pl.String).alias("_field"),
        pl.lit(None, pl.String).alias("_value"),
    )
    return df, shown


def unique_names(columns: list[str], shown: str) -> dict[str, str]:
    """``{name: stripped name}``; a :class:`SourceError` when two names are the same once stripped
    and compared case-insensitively (no reader could tell which one is meant)."""
    seen: dict[str, str] = {}
    for c in columns:
        key = c.strip().lower()
        if key in seen:
            raise SourceError(
                shown,
                f"column '{c.strip()}' appears twice (as '{seen[key]}' and '{c}')",
                field=c.strip(),
                expected="each column once in the header",
            )
        seen[key] = c
    return {c: c.strip() for c in columns}


def as_text(column: str, dtype) -> pl.Expr:
    """Column ``column`` of type ``dtype`` as text: times in ISO 8601 (UTC when zoned), lists and
    structs as JSON, bytes as UTF-8 (undecodable bytes as U+FFFD)."""
    col = pl.col(column)
    if dtype == pl.String:
        return col
    if isinstance(dtype, pl.Binary):
        return col.map_elements(lambda b: b.decode("utf-8", "replace"), return_dtype=pl.String)
    if isinstance(dtype, pl.Datetime):
        utc = col.dt.convert_time_zone("UTC") if dtype.time_zone else col
        return utc.dt.strftime("%Y-%m-%dT%H:%M:%S%.f" + ("Z" if dtype.time_zone else ""))
    if isinstance(dtype, (pl.List, pl.Array, pl.Struct, pl.Object)):
        return col.map_elements(
            lambda v: json.dumps(v.to_list() if isinstance(v, pl.Series) else v, default=str), return_dtype=pl.String
        )
    return col.cast(pl.String, strict=False)


def _reject_long_fields(df: pl.DataFrame) -> pl.DataFrame:
    """Reject rows with a field longer than :data:`MAX_FIELD_BYTES`."""
    cols = [c for c in df.columns if not c.startswith("_")]
    if not cols:
        return df
    long = [pl.col(c).str.len_bytes().fill_null(0) > MAX_FIELD_BYTES for c in cols]
    which = pl.coalesce([pl.when(e).then(pl.lit(c)) for e, c in zip(long, cols)])
    return df.with_columns(
        pl.coalesce(
            "_reject",
            pl.when(which.is_not_null()).then(
                pl.lit(f"a field is longer than {MAX_FIELD_BYTES // 1024 // 1024} MiB (the most a field may hold)")
            ),
        ).alias("_reject"),
        pl.when(pl.col("_reject").is_null() & which.is_not_null())
        .then(which)
        .otherwise(pl.col("_field"))
        .alias("_field"),
        pl.when(pl.col("_reject").is_null() & which.is_not_null())
        .then(pl.lit("(longer than 1 MiB)"))
        .otherwise(pl.col("_value"))
        .alias("_value"),
    )


def _reject_ragged(df: pl.DataFrame, text: str, sep: str) -> pl.DataFrame:
    """Reject rows whose field count differs from the header's (a cut or mangled line)."""
    try:
        with csv_field_limit():
            lengths = [len(r) for r in csv.reader(io.StringIO(text, newline=""), delimiter=sep) if r]
    except csv.Error:
        return df  # quoting the csv module cannot follow: leave the rows as polars read them
    if len(lengths) - 1 != df.height:
        return df  # blank lines or quoting that csv and polars read differently: leave it to them
    expected = lengths[0]
    bad = [(i, n) for i, n in enumerate(lengths[1:], start=1) if n != expected]
    if not bad:
        return df
    rows = pl.DataFrame(
        {"_row": [i for i, _ in bad], "_bad": [f"row has {n} fields but the header has {expected}" for _, n in bad]},
        schema={"_row": pl.Int64, "_bad": pl.String},
    )
    return (
        df.join(rows, on="_row", how="left", maintain_order="left")
        .with_columns(
            pl.coalesce("_reject", "_bad").alias("_reject"),
            pl.when(pl.col("_bad").is_not_null()).then(pl.lit("(row)")).otherwise(pl.col("_field")).alias("_field"),
        )
        .drop("_bad")
    )


#: columns readers add to every frame; an input's own column of that name is not read
BOOKKEEPING = ("_row", "_reject", "_field", "_value")


def _stringify(value):
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


def read_jsonl_records(path: Path) -> tuple[pl.DataFrame, str]:
    """Read JSON Lines as all-string columns plus ``_row`` (the 1-based line number).

    A line that is not a JSON object (a truncated last line, say) becomes a rejected row
    with its reason, never a crash and never a silent loss.
    """
    shown = display_path(path)
    text = decode(read_bytes(path), shown)
    records: list[dict] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = parse_json(line)
        except json.JSONDecodeError as exc:
            records.append(
                {
                    "_row": lineno,
                    "_reject": "line is not valid JSON (truncated?)",
                    "_field": f"column {exc.colno}",
                    "_value": line[:120],
                }
            )
            continue
        except JSONLimitError as exc:
            records.append(
                {
                    "_row": lineno,
                    "_reject": f"line is beyond what usagekit reads: {exc}",
                    "_field": None,
                    "_value": line[:120],
                }
            )
            continue
        if not isinstance(obj, dict):
            records.append(
                {"_row": lineno, "_reject": "line is not a JSON object", "_field": None, "_value": line[:120]}
            )
            continue
        rec = {str(k).strip(): _stringify(v) for k, v in obj.items() if str(k).strip() not in BOOKKEEPING}
        rec["_row"] = lineno
        records.append(rec)
    if not records:
        raise SourceError(shown, "the file has no JSON lines", expected="one JSON object per line")
    columns: dict[str, None] = {}
    for rec in records:
        columns.update(dict.fromkeys(rec))
    for c in ("_reject", "_field", "_value"):
        columns.setdefault(c, None)
    data = {c: [rec.get(c) for rec in records] for c in columns}
    df = pl.DataFrame({c: pl.Series(c, v, dtype=pl.Int64 if c == "_row" else pl.String) for c, v in data.items()})
    return df, shown


def read_json_document(path: Path):
    """Parse a whole JSON document; a syntax error names the line and column."""
    shown = display_path(path)
    text = decode(read_bytes(path), shown)
    try:
        return parse_json(text), shown
    except json.JSONDecodeError as exc:
        raise SourceError(
            shown,
            f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
            row=exc.lineno,
            expected="a complete JSON document (is the file truncated?)",
        ) from None
    except JSONLimitError as exc:
        raise SourceError(
            shown,
            f"the JSON is beyond what usagekit reads: {exc}",
            expected=f"at most {MAX_JSON_DEPTH} levels of nesting and integers of at most {MAX_JSON_INT_DIGITS} digits",
        ) from None


@dataclass
class Probe:
    """What format detection looks at: the kind of file and its first record(s)."""

    path: Path
    kind: str  # parquet | csv | jsonl | json | unknown
    header: list[str] = field(default_factory=list)  # CSV / Parquet column names, as written
    first: dict | None = None  # first JSON Lines record
    _doc: object = None
    _doc_loaded: bool = False

    @property
    def columns(self) -> set[str]:
        return {c.strip().lower() for c in self.header}

    def doc(self):
        """The parsed JSON document (read on first use)."""
        if not self._doc_loaded:
            self._doc, _ = read_json_document(self.path)
            self._doc_loaded = True
        return self._doc


def probe(path: Path) -> Probe:
    """Look at a file's first bytes and say what kind of file it is."""
    head = read_head(path)
    if head[:4] == b"PAR1":
        import pyarrow.parquet as pq

        try:
            names = pq.read_schema(path).names
        except Exception as exc:  # pyarrow raises several types for a bad footer
            raise SourceError(
                display_path(path), f"not a readable Parquet file ({exc})", expected="a complete Parquet file"
            ) from None
        return Probe(path, "parquet", header=list(names))
    text = head.decode("utf-8-sig", errors="replace")
    stripped = text.lstrip()
    if stripped.startswith("{") or stripped.startswith("["):
        first_line = stripped.split("\n", 1)[0].strip()
        rest = stripped.split("\n", 1)[1].strip() if "\n" in stripped else ""
        if first_line.startswith("{") and rest.startswith("{"):
            try:
                obj = parse_json(first_line)
            except ValueError:  # a syntax error or a limit: the reader says which, for the right line
                obj = None
            if isinstance(obj, dict):
                return Probe(path, "jsonl", first={k.strip(): v for k, v in obj.items()})
        if first_line.startswith("{") and not rest:
            try:
                obj = parse_json(first_line)
                if isinstance(obj, dict) and ("ts" in obj or "cost_cents" in obj):
                    return Probe(path, "jsonl", first=obj)
            except ValueError:
                pass
        return Probe(path, "json")
    first_line = stripped.split("\n", 1)[0] if stripped else ""
    first_line = first_line.split("\r", 1)[0] if "\r" in first_line.rstrip("\r") else first_line
    if "," in first_line or "\t" in first_line:
        sep = "\t" if "\t" in first_line and "," not in first_line else ","
        try:
            with csv_field_limit(PROBE_BYTES):
                header = next(csv.reader([first_line], delimiter=sep), [])
        except csv.Error:
            header = first_line.split(sep)
        return Probe(path, "csv", header=[h.strip() for h in header])
    return Probe(path, "unknown")


def records_frame(records: list[dict]) -> pl.DataFrame:
    """Records (dicts) -> an all-string frame with ``_row`` = position (1-based) unless given."""
    columns: dict[str, None] = {}
    for rec in records:
        columns.update(dict.fromkeys(rec))
    data = {}
    for c in columns:
        if c == "_row":
            data[c] = pl.Series(c, [rec.get(c) for rec in records], dtype=pl.Int64)
        else:
            data[c] = pl.Series(c, [_stringify(rec.get(c)) for rec in records], dtype=pl.String)
    if "_row" not in data:
        data["_row"] = pl.Series("_row", range(1, len(records) + 1), dtype=pl.Int64)
    return pl.DataFrame(data)


def read_pages(path: Path, probe: "Probe"):
    """An API answer saved as one JSON document or as one page per line (JSON Lines)."""
    shown = display_path(path)
    if probe.kind != "jsonl":
        return probe.doc()
    pages = []
    for lineno, line in enumerate(decode(read_bytes(path), shown).splitlines(), start=1):
        if line.strip():
            try:
                pages.append(parse_json(line))
            except json.JSONDecodeError as exc:
                raise SourceError(
                    shown,
                    f"line {lineno} is not valid JSON ({exc.msg})",
                    row=lineno,
                    expected="one API page per line (is the file truncated?)",
                ) from None
            except JSONLimitError as exc:
                raise SourceError(
                    shown,
                    f"line {lineno} is beyond what usagekit reads: {exc}",
                    row=lineno,
                    expected=f"at most {MAX_JSON_DEPTH} levels of nesting and integers of at "
                    f"most {MAX_JSON_INT_DIGITS} digits",
                ) from None
    return pages


#: why a bucket result met before in the same file is rejected (a page fetched or saved twice)
REPEATED = "the same bucket result appears again (a page saved twice?)"


def page_buckets(doc, shown: str, *, time_field: str, page_shape: str, time_shape: str):
    """``(path, bucket)`` for every bucket of an admin API document (one page or a list of
    pages), each checked to be an object carrying ``time_field``; ``path`` names it in errors."""
    for p, page in enumerate(doc if isinstance(doc, list) else [doc]):
        where = f"[{p}]" if isinstance(doc, list) else ""
        if not isinstance(page, dict) or not isinstance(page.get("data"), list):
            raise SourceError(shown, "a page has no 'data' list", field=f"{where}data", expected=page_shape)
        for b, bucket in enumerate(page["data"]):
            path = f"{where}data[{b}]"
            if not isinstance(bucket, dict) or time_field not in bucket:
                raise SourceError(
                    shown, f"a bucket has no {time_field}", field=f"{path}.{time_field}", expected=time_shape
                )
            yield path, bucket


def page_results(bucket: dict, shown: str, path: str):
    """The results of an API page's bucket, each checked to be an object."""
    results = bucket.get("results") or []
    if not isinstance(results, list):
        raise SourceError(shown, "results is not a list", field=f"{path}.results", expected="a list")
    for r, res in enumerate(results):
        if not isinstance(res, dict):
            raise SourceError(
                shown,
                f"a result is not an object (it is {type(res).__name__})",
                field=f"{path}.results[{r}]",
                expected="one JSON object per result",
            )
        yield res


def repeat_key(start, res: dict) -> str:
    """Identity of a bucket result: the API never returns two identical results for one bucket."""
    return f"{start}|{json.dumps(res, sort_keys=True, default=str)}"


def missing_pages_note(pages: list) -> list[str]:
    """A note when every page says ``has_more``: the pages after the last one were not saved."""
    dicts = [p for p in pages if isinstance(p, dict)]
    if not dicts or not all(p.get("has_more") for p in dicts):
        return []
    return [
        f"every page says has_more: true (next_page {dicts[-1].get('next_page')!r}): later pages are "
        "missing from this file, so its totals fall short"
    ]
