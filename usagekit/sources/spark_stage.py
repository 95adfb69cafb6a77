"""The typed checks of :mod:`usagekit.sources._stage`, as Spark column expressions.

:func:`read_parquet` reads canonical Parquet files of one schema with one
``session.read.parquet`` (the executors read the files; the driver only plans) and
:func:`stage` returns a Spark DataFrame of the normalized columns plus the bookkeeping
columns the Polars staging gives (``_file``,
``_row``, ``_reject``, ``_field``, ``_value``, ``_naive``, ``_raw_<field>`` for text columns),
with the same rules in the same order, so a row is rejected for the same first reason and key
ids are masked to the same ids. Rule constants come from ``_stage.py`` and the reason texts
from :mod:`usagekit.sources.reasons`.

Only canonical Parquet is staged here: CSV and JSON Lines need the text readers of
``_io.py`` (ragged rows, truncated lines, JSON limits), which run with the Polars checks inside
Spark tasks (:mod:`usagekit.sources.spark_text`) and give the same columns.
"""

from __future__ import annotations

import re
from pathlib import Path

from .. import masking
from ..errors import SourceError
from ..money import MAX_COST_CENTS
from ..schema import AXES, COST_SOURCES, INT_COLUMNS, STATES, USAGE_COLUMNS, USAGE_DTYPES
from . import reasons as R
from ._io import unique_names
from ._stage import (
    CHECKED,
    JSON_LIST_PATTERN,
    JSON_STRING_PATTERN,
    LABEL_COLUMNS,
    MAX_COUNT_FLOAT,
    OFFSET_PATTERN,
    SECRET_COLUMNS,
    STATUS_MAP,
    TIME_PATTERN,
    TS_END,
    TS_MIN,
    tags_type_error,
)
from .canonical import check_columns


def _F():
    from pyspark.sql import functions as F

    return F


def _strip(c):
    """Surrounding white space removed (polars ``str.strip_chars``)."""
    return _F().regexp_replace(c, r"^\s+|\s+$", "")


def _is_string(dtype) -> bool:
    from pyspark.sql.types import CharType, StringType, VarcharType

    return isinstance(dtype, (StringType, VarcharType, CharType))


def _is_integer(dtype) -> bool:
    from pyspark.sql.types import ByteType, IntegerType, LongType, ShortType

    return isinstance(dtype, (ByteType, ShortType, IntegerType, LongType))


def _is_numeric(dtype) -> bool:
    from pyspark.sql.types import DecimalType, NumericType

    return isinstance(dtype, NumericType) and not isinstance(dtype, DecimalType)


def _plain(name: str, c, dtype):
    """A column of a type no check reads (binary, struct, decimal, ...) as text or a double,
    as ``_stage._plain_types`` does, so a bad value rejects its row."""
    from pyspark.sql.types import (
        ArrayType,
        BooleanType,
        DateType,
        DecimalType,
        NullType,
        TimestampNTZType,
        TimestampType,
    )

    if name == "tags" and isinstance(dtype, ArrayType):
        inner = dtype.elementType
        if _is_string(inner) or isinstance(inner, NullType) or _is_numeric(inner):
            return c, dtype  # a tag list as the schema holds it

    if _is_string(dtype) or _is_numeric(dtype) or isinstance(dtype, (BooleanType, DateType, TimestampType)):
        return c, dtype
    if isinstance(dtype, TimestampNTZType):
        return c, dtype
    if isinstance(dtype, DecimalType):
        from pyspark.sql.types import DoubleType

        return c.cast("double"), DoubleType()
    from pyspark.sql.types import StringType

    return c.cast("string"), StringType()


def _floor(x):
    """``floor`` kept a double (Spark's ``floor`` makes a long, which overflows past int64)."""
    return x - _F().pmod(x, _F().lit(1.0))


def _number(c, dtype):
    F = _F()
    if _is_string(dtype):
        return F.regexp_replace(_strip(c), ",", "").try_cast("double")
    return c.cast("double")


def parse_timestamps(raw):
    """ISO-8601-ish text -> (UTC timestamp or null, was-naive flag): the forms
    :func:`usagekit.sources._stage.parse_timestamps` accepts, each given an explicit offset
    before Spark reads it, so the session's time zone never decides what a time means."""
    F = _F()
    s = _strip(raw)
    has_offset = s.rlike(OFFSET_PATTERN)
    norm = F.regexp_replace(s, r"^(\d{4}-\d{2}-\d{2})[ T]", "$1T")
    norm = F.regexp_replace(norm, r"\s*(UTC|[Zz])$", "+00:00")
    norm = F.regexp_replace(norm, "(" + TIME_PATTERN + r")([+-]\d{2})$", "$1$2:00")
    norm = F.regexp_replace(norm, r"([+-]\d{2})(\d{2})$", "$1:$2")
    norm = F.regexp_replace(norm, r"T(\d{2}:\d{2})([+-]|$)", "T$1:00$2")  # Spark wants the seconds
    clock = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?"
    with_offset = F.when(norm.rlike(clock + r"[+-]\d{2}:\d{2}$"), norm.try_cast("timestamp"))
    bare_date = s.rlike(r"^\d{4}-\d{2}-\d{2}$")
    naive = F.when(norm.rlike(clock + "$"), F.concat(norm, F.lit("+00:00")).try_cast("timestamp")).when(
        bare_date, F.concat(norm, F.lit("T00:00:00+00:00")).try_cast("timestamp")
    )
    ts = F.when(has_offset, with_offset).otherwise(naive)
    return ts, (~has_offset & ~bare_date & naive.isNotNull())


def _tidy_tags(items):
    F = _F()
    tidy = F.array_sort(F.array_distinct(F.filter(F.transform(items, _strip), lambda x: F.length(x) > 0)))
    return F.when(F.size(tidy) > 0, tidy)


def parse_tags(raw):
    """Tag text -> (sorted distinct tags or null, is-malformed flag), as ``_stage.parse_tags``."""
    F = _F()
    s = _strip(raw)
    is_json = s.startswith("[")
    bad = is_json & ~s.rlike(JSON_LIST_PATTERN)
    quoted = F.transform(
        F.regexp_extract_all(s, F.lit(JSON_STRING_PATTERN), 0),
        lambda x: F.replace(
            F.replace(F.substring(x, F.lit(2), F.length(x) - 2), F.lit('\\"'), F.lit('"')), F.lit("\\\\"), F.lit("\\")
        ),
    )
    plain = F.split(s, ",")
    items = F.when(is_json, quoted).otherwise(plain)
    return _tidy_tags(F.when(~bad, items)), bad


def redact(c):
    """Column ``c`` with every secret-looking cell replaced by its masked id, exactly as
    :func:`usagekit.masking.redact` does (``<prefix>...<last 4>#<8 hex of SHA-256>``), in Spark
    expressions: the executors mask, no Python runs per row."""
    F = _F()
    pats = masking.patterns()
    combined = "|".join(f"(?:{p})" for p in pats)
    groups = sum(re.compile(p).groups for p in pats)
    text = c.cast("string")
    secret = F.regexp_extract(text, combined, 0)
    prefix = F.coalesce(
        *[F.nullif(F.regexp_extract(text, combined, i), F.lit("")) for i in range(1, groups + 1)], F.lit("")
    )
    prefix = F.when(F.lower(prefix).startswith("bearer"), F.lit("bearer ")).otherwise(prefix)
    masked = F.concat(
        prefix, F.lit("..."), F.right(secret, F.lit(4)), F.lit("#"), F.substring(F.sha2(secret, 256), 1, 8)
    )
    already = text.contains("...") & text.contains("#")
    return F.when(text.rlike(combined) & ~already, masked).otherwise(text)


def _map_words(c, mapping: dict):
    F = _F()
    out = None
    for word, target in mapping.items():
        out = F.when(c == word, F.lit(target)) if out is None else out.when(c == word, F.lit(target))
    return out.otherwise(F.lit(None).cast("string"))


def _spark_type(dtype) -> str:
    """The Spark SQL type of a normalized column (see :data:`usagekit.schema.USAGE_DTYPES`)."""
    import polars as pl

    if isinstance(dtype, pl.Datetime):
        return "timestamp"
    if isinstance(dtype, pl.List):
        return "array<string>"
    return {pl.String: "string", pl.Int64: "bigint", pl.Float64: "double", pl.Boolean: "boolean"}[dtype.base_type()]


def spark_checks(path: Path) -> bool:
    """Whether Spark's own checks read every column of a canonical Parquet file (from its footer).

    Text, numbers, booleans, dates, timestamps, decimals, nulls and a ``tags`` list of text or
    numbers are read by :func:`stage`. Any other type (times of day, which Spark cannot read at
    all; bytes, structs, maps, lists outside ``tags``, whose text Spark would spell unlike the
    Polars checks' JSON) sends the file to the Spark tasks that run the Polars checks
    (:mod:`usagekit.sources.spark_text`), so the result is the Polars engine's either way."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    def plain(t) -> bool:
        if pa.types.is_dictionary(t):
            t = t.value_type
        return (
            pa.types.is_string(t)
            or pa.types.is_large_string(t)
            or pa.types.is_integer(t)
            or (pa.types.is_floating(t) and not pa.types.is_float16(t))
            or pa.types.is_boolean(t)
            or pa.types.is_date(t)
            or pa.types.is_timestamp(t)
            or pa.types.is_decimal(t)
            or pa.types.is_null(t)
        )

    try:
        schema = pq.read_schema(path)
    except Exception:  # noqa: BLE001 - an unreadable footer: the Polars checks say why, as on the driver
        return False
    for field in schema:
        t = field.type
        if field.name.strip().lower() == "tags" and (pa.types.is_list(t) or pa.types.is_large_list(t)):
            inner = t.value_type
            if pa.types.is_string(inner) or pa.types.is_large_string(inner) or pa.types.is_null(inner):
                continue
            if pa.types.is_integer(inner) or (pa.types.is_floating(inner) and not pa.types.is_float16(inner)):
                continue
            return False
        if not plain(t):
            return False
    return True


def read_parquet(session, paths: list[Path], shown: list[str]):
    """Canonical Parquet files of one schema, read by one Spark scan, as a DataFrame of ``_fidx``
    (the file's position in ``paths``), ``_file`` (its shown name), ``_row`` and the usage
    columns (lower-cased), and the notes a load report gives each; the checks of
    ``canonical.read`` (a missing column names the first file)."""
    F = _F()
    df = session.read.parquet(*[str(p) for p in paths])
    header = list(df.columns)
    unique_names(header, shown[0])
    extra = check_columns(header, shown[0])
    keep = [c for c in header if c.strip().lower() in USAGE_COLUMNS]
    # the executors name each row's file by its URI (``file:/a%20b.parquet``): map it back
    where = F.regexp_replace(F.col("_metadata.file_path"), "^file:/+", "/")
    uris = [p.resolve().as_uri().replace("file:///", "/") for p in paths]
    fidx = F.create_map(*[x for i, u in enumerate(uris) for x in (F.lit(u), F.lit(i))])[where]
    name = F.create_map(*[x for u, s in zip(uris, shown) for x in (F.lit(u), F.lit(s))])[where]
    df = df.select(
        fidx.cast("int").alias("_fidx"),
        name.alias("_file"),
        (F.col("_metadata.row_index") + 1).cast("bigint").alias("_row"),
        *[F.col(f"`{c}`").alias(c.strip().lower()) for c in keep],
    )
    notes = [f"ignored columns not in the usage schema: {', '.join(sorted(extra))}"] if extra else []
    return df, notes


def stage(df, *, file: str, source: str = "canonical"):
    # ``file`` names the input in errors; rows carry their own ``_file`` (and ``_fidx``) when the
    # frame has them (several files read by one scan)
    """Validate a Spark DataFrame whose columns carry normalized names (and ``_row``); the
    rules of :func:`usagekit.sources._stage.stage`, in its order. Returns a DataFrame of the
    normalized columns (secrets masked) and ``_file, _row, _reject, _field, _value, _naive``,
    ``_raw_<field>`` for text columns."""
    from pyspark.sql.types import BooleanType, DateType, TimestampNTZType, TimestampType

    F = _F()
    types = {}
    cols = {}
    for name, dtype in zip(df.columns, [f.dataType for f in df.schema.fields]):
        if name in ("_row", "_file", "_fidx"):
            continue
        cols[name], types[name] = _plain(name, F.col(f"`{name}`"), dtype)
    have = set(cols)
    text = _is_string(types.get("ts"))
    raw_cols = [c for c in CHECKED if c in have and _is_string(types[c])]
    checks: list[tuple] = []  # (bad?, field, reason)
    out: dict = {}

    def clean(col):
        e = cols[col].cast("string")
        return _strip(e) if _is_string(types[col]) and text else e

    # -- time
    ts_type = types.get("ts")
    if _is_string(ts_type):
        ts, naive = parse_timestamps(cols["ts"])
        checks.append((cols["ts"].isNull() | (_strip(cols["ts"]) == ""), "ts", R.MISSING_TS))
        checks.append((ts.isNull(), "ts", R.UNPARSEABLE_TS))
    elif isinstance(ts_type, TimestampType):
        ts, naive = cols["ts"], F.lit(False)
        checks.append((cols["ts"].isNull(), "ts", R.MISSING_TS))
    elif isinstance(ts_type, TimestampNTZType):  # no time zone: taken as UTC and counted as naive
        ts = cols["ts"].cast("timestamp")  # the session's time zone is UTC (spark_load.prepare)
        naive = cols["ts"].isNotNull()
        checks.append((cols["ts"].isNull(), "ts", R.MISSING_TS))
    elif isinstance(ts_type, DateType):
        ts, naive = cols["ts"].cast("timestamp"), F.lit(False)  # midnight UTC, as a bare date in text
        checks.append((cols["ts"].isNull(), "ts", R.MISSING_TS))
    else:
        raise SourceError(
            file,
            f"column 'ts' holds {ts_type}, not times",
            field="ts",
            expected="a Parquet timestamp column (UTC) or ISO-8601 text",
        )
    out["ts"] = ts
    checks.append(((ts < F.lit(TS_MIN)) | (ts > F.lit(TS_END)), "ts", R.TS_RANGE))

    # -- money: null stays null (unpriced); bad text, negatives and infinities are rejected
    if "cost_cents" in have:
        ctype = types["cost_cents"]
        cost = _number(cols["cost_cents"], ctype)
        if _is_string(ctype):
            present = cols["cost_cents"].isNotNull() & (_strip(cols["cost_cents"]) != "")
            checks.append((present & cost.isNull(), "cost_cents", R.COST_NOT_NUMBER))
        infinite = F.isnan(cost) | (F.abs(cost) == F.lit(float("inf")))
        checks.append((infinite, "cost_cents", R.COST_NOT_FINITE))
        checks.append((cost < 0, "cost_cents", R.COST_NEGATIVE))
        checks.append((cost > MAX_COST_CENTS, "cost_cents", R.COST_TOO_BIG))
        out["cost_cents"] = F.when(~infinite, cost)
    else:
        out["cost_cents"] = F.lit(None).cast("double")

    # -- counts: whole numbers within int64 (hours: any finite number), never negative
    for col in INT_COLUMNS + ("hours",):
        if col not in have:
            continue
        ctype = types[col]
        if _is_integer(ctype):
            checks.append((cols[col] < 0, col, R.negative(col)))
            out[col] = cols[col].cast("double" if col == "hours" else "bigint")
            continue
        num = _number(cols[col], ctype) if not isinstance(ctype, BooleanType) else cols[col].cast("double")
        finite = ~F.isnan(num) & (F.abs(num) != F.lit(float("inf")))
        if _is_string(ctype):
            present = cols[col].isNotNull() & (_strip(cols[col]) != "")
            checks.append((present & num.isNull(), col, R.not_number(col)))
        checks.append((~finite, col, R.not_finite(col)))
        checks.append((num < 0, col, R.negative(col)))
        if col != "hours":
            exact = (
                F.regexp_replace(_strip(cols[col]), ",", "").try_cast("bigint")
                if _is_string(ctype)
                else F.lit(None).cast("bigint")
            )
            whole = (num == _floor(num)) & (F.abs(num) < MAX_COUNT_FLOAT)
            checks.append((exact.isNull() & finite & (F.abs(num) >= MAX_COUNT_FLOAT), col, R.above_int64(col)))
            checks.append((finite & (num != _floor(num)), col, R.not_whole(col)))
            out[col] = F.coalesce(exact, F.when(whole, num.try_cast("bigint")))
        else:
            out[col] = F.when(finite, num)

    # -- labels
    for col in LABEL_COLUMNS:
        if col in have:
            v = clean(col)
            out[col] = F.when(v != "", v)
    if "tags" in have:
        from pyspark.sql.types import ArrayType, NullType

        ttype = types["tags"]
        if isinstance(ttype, ArrayType):
            out["tags"] = _tidy_tags(cols["tags"].cast("array<string>"))
        elif _is_string(ttype):
            tags, bad_tags = parse_tags(cols["tags"])
            checks.append((bad_tags, "tags", R.BAD_TAGS))
            out["tags"] = tags
        elif not isinstance(ttype, NullType):
            raise tags_type_error(file, ttype)
    if "provider" in have:
        v = F.lower(clean("provider"))
        out["provider"] = F.when(v != "", v)

    axis = F.lower(clean("axis")) if "axis" in have else F.lit(None).cast("string")
    checks.append((axis.isNotNull() & (axis != "") & ~axis.isin(list(AXES)), "axis", R.BAD_AXIS))
    out["axis"] = F.when(axis.isNull() | (axis == ""), F.lit("llm")).otherwise(axis)

    if "status" in have:
        st_raw = F.lower(clean("status"))
        st = _map_words(st_raw, STATUS_MAP)
        checks.append((st_raw.isNotNull() & (st_raw != "") & st.isNull(), "status", R.BAD_STATUS))
        out["status"] = F.coalesce(st, F.lit("success"))
    else:
        out["status"] = F.lit("success")

    if "state" in have:
        state = F.lower(clean("state"))
        checks.append((state.isNotNull() & (state != "") & ~state.isin(list(STATES)), "state", R.BAD_STATE))
        out["state"] = F.when(state != "", state)

    if "cost_source" in have:
        given = F.lower(clean("cost_source"))
        given = F.when(given != "", given)
        checks.append((given.isNotNull() & ~given.isin(list(COST_SOURCES)), "cost_source", R.BAD_COST_SOURCE))
    else:
        given = F.lit(None).cast("string")
    out["cost_source"] = F.when(out["cost_cents"].isNotNull(), F.coalesce(given, F.lit("source")))
    out["source"] = F.lit(source)

    # the first failing check names the row's reason and field (as _stage's coalesce does)
    flags = [F.coalesce(bad, F.lit(False)) for bad, _, _ in checks]
    reject = F.coalesce(*[F.when(h, F.lit(why)) for h, (_, _, why) in zip(flags, checks)], F.lit(None).cast("string"))
    field = F.coalesce(*[F.when(h, F.lit(f)) for h, (_, f, _) in zip(flags, checks)], F.lit(None).cast("string"))
    rid = out.get("request_id", F.lit(None).cast("string"))
    out["requests"] = F.coalesce(
        out.get("requests", F.lit(None).cast("bigint")), F.when(rid.isNotNull(), 1).otherwise(0)
    )

    select = []
    for col in USAGE_COLUMNS:
        kind = _spark_type(USAGE_DTYPES[col])
        e = out.get(col, cols.get(col))
        if e is None:
            select.append(F.lit(None).cast(kind).alias(col))
        elif col in SECRET_COLUMNS:
            select.append(redact(e).alias(col))
        elif col == "tags":
            select.append(F.transform(e.cast(kind), redact).alias(col))
        else:
            select.append(e.cast(kind).alias(col))
    return df.select(
        *select,
        (F.col("_file") if "_file" in df.columns else F.lit(file)).alias("_file"),
        F.col("_row").cast("bigint").alias("_row"),
        reject.alias("_reject"),
        field.alias("_field"),
        F.lit(None).cast("string").alias("_value"),
        F.coalesce(naive, F.lit(False)).alias("_naive"),
        *[cols[c].cast("string").alias(f"_raw_{c}") for c in raw_cols],
        *([F.col("_fidx")] if "_fidx" in df.columns else []),
    )


__all__ = ["read_parquet", "stage", "parse_timestamps", "parse_tags", "redact"]
