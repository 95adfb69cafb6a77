"""Turn a loader's mapped columns into validated rows of the normalized table.

A loader renames its input's columns to the normalized names (values may still be strings)
and hands the frame to :func:`stage`. Stage parses and checks every value and returns the
normalized columns plus bookkeeping columns:

``_file``, ``_row``
    where the row came from (1-based data row, or line number for JSON Lines)
``_reject``, ``_field``, ``_value``
    why the row was rejected (null = kept), which field, and a reader's own note of the
    offending text (:func:`rejected_value` gives the cell for any rejected row)
``_raw_<field>``
    for text inputs, the cell as written beside its parsed value
``_naive``
    the timestamp had no UTC offset and was taken as UTC

Nothing is dropped here: rejected rows stay in the frame so they can be counted and shown.
Values out of range reject their row with a reason, never fail the file: a timestamp outside
1970-01-01 to 9999-11-30, a cost above :data:`~usagekit.money.MAX_COST_CENTS`, a count that is not
a finite whole number within int64. Columns of types no check reads (bytes, lists, structs,
categoricals, decimals...) are first turned into text or floats, so they are checked the same way.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict

import numpy as np
import polars as pl

from ..errors import SourceError
from ..masking import _redact_series, any_secret, patterns, redact_expr
from ..money import MAX_COST_CENTS
from ..schema import AXES, COST_SOURCES, INT_COLUMNS, STATES, USAGE_COLUMNS, USAGE_DTYPES
from ..values import by_value_with_flag, distinct, spread
from . import reasons as R
from ._io import as_text

BOOKKEEPING = ("_file", "_row", "_reject", "_field", "_value", "_naive")
#: id and name columns a raw secret could be written into: masked at load (usagekit.masking)
SECRET_COLUMNS = (
    "request_id",
    "account_id",
    "key_id",
    "key_name",
    "agent_id",
    "agent_name",
    "plain_vm_id",
    "plain_vm_name",
    "team_id",
    "user_id",
    "end_user",
    "provider",
    "model",
)
#: fields that are checked, so a rejected row may name one of them
CHECKED = ("ts", "cost_cents", *INT_COLUMNS, "hours", "axis", "status", "state", "tags", "cost_source")

#: kept timestamps lie in [1970-01-01, 10000-01-01) UTC; others are rejected per row
TS_MIN = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
#: the last accepted instant: a budget window (a month, a 30-day period) holding a later one would
#: end after 9999-12-31, which no date type represents
TS_END = dt.datetime(9999, 11, 30, 23, 59, 59, 999999, tzinfo=dt.timezone.utc)
#: the largest count a row may carry (int64); a count above it is rejected per row
MAX_COUNT = 2**63 - 1
_MAX_COUNT_FLOAT = 9.2e18  # below 2**63 as a float, so a float count under it casts exactly

_TIME = r"\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?"
_OFFSET = _TIME + r"\s*(?:Z|z|UTC|[+-]\d{2}(?::?\d{2})?)$"
_STATUS_MAP = {
    "success": "success",
    "succeeded": "success",
    "ok": "success",
    "completed": "success",
    "true": "success",
    "200": "success",
    "error": "error",
    "failure": "error",
    "failed": "error",
    "fail": "error",
    "false": "error",
    "cancelled": "error",
    "canceled": "error",
}


def parse_timestamps(raw: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """ISO-8601-ish strings -> (UTC datetime, was-naive flag).

    Accepts ``T`` or a space between date and time, fractional seconds, ``Z`` or
    ``±HH:MM`` offsets (converted to UTC), and bare dates (midnight). Times without an
    offset are taken as UTC and flagged (a bare date is not: it has no time of day to lack an
    offset). Unparseable values give null.
    """
    s = raw.str.strip_chars()
    has_offset = s.str.contains(_OFFSET)
    # PostgreSQL writes "+00" and "+05:30"; some tools write "Z" or " UTC"
    norm = (
        s.str.replace(r"^(\d{4}-\d{2}-\d{2})[ T]", "${1}T")
        .str.replace(r"\s*(UTC|[Zz])$", "+00:00")
        .str.replace("(" + _TIME + r")([+-]\d{2})$", "${1}${2}:00")
    )
    with_offset = pl.coalesce(
        norm.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%z", strict=False, time_unit="us", time_zone="UTC"),
        norm.str.to_datetime("%Y-%m-%dT%H:%M%z", strict=False, time_unit="us", time_zone="UTC"),
    )
    naive = pl.coalesce(
        norm.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", strict=False, time_unit="us"),
        norm.str.to_datetime("%Y-%m-%dT%H:%M", strict=False, time_unit="us"),
        norm.str.to_date("%Y-%m-%d", strict=False).cast(pl.Datetime("us")),
    ).dt.replace_time_zone("UTC")
    ts = pl.when(has_offset).then(with_offset).otherwise(naive)
    # a bare date has no time of day, so no offset to lack: it is midnight UTC, not a naive time
    bare_date = s.str.contains(r"^\d{4}-\d{2}-\d{2}$")
    return ts, (~has_offset & ~bare_date & naive.is_not_null())


#: a JSON array of strings, as PostgreSQL writes a jsonb list (``["a", "b"]``) or ``[]``
_JSON_STRING = r'"(?:[^"\\]|\\.)*"'
_JSON_LIST = r"^\[\s*(?:" + _JSON_STRING + r"\s*(?:,\s*" + _JSON_STRING + r"\s*)*)?\]$"


def tags_type_error(file: str, dtype) -> SourceError:
    """The error for a ``tags`` column of a type that holds no tag lists (every engine)."""
    return SourceError(
        file,
        f"column 'tags' holds {dtype}, not tag lists",
        field="tags",
        expected="a list of strings, or text: a JSON array or comma-separated tags",
    )


def parse_tags(raw: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """Tag text -> (sorted list of distinct non-blank tags or null, is-malformed flag).

    Accepts a JSON array of strings (``["prod", "batch"]``, as LiteLLM's ``request_tags``
    jsonb column is exported) or plain text separated by commas (``prod,batch``). A cell that
    starts with ``[`` but is not a JSON array of strings is malformed. Empty lists are null.
    """
    items, bad = _tag_items(raw)
    return _tidy_tags(items), bad


def _tag_items(raw: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """:func:`parse_tags` before the lists are tidied: (the cell's items, or null when malformed; is-malformed)."""
    s = raw.str.strip_chars()
    is_json = s.str.starts_with("[")
    bad = is_json & ~s.str.contains(_JSON_LIST)
    quoted = s.str.extract_all(_JSON_STRING).list.eval(
        pl.element()
        .str.slice(1, pl.element().str.len_chars() - 2)
        .str.replace_all('\\"', '"', literal=True)
        .str.replace_all("\\\\", "\\", literal=True)
    )
    plain = s.str.split(",")
    items = pl.when(is_json).then(quoted).otherwise(plain)
    return pl.when(bad).then(None).otherwise(items), bad


def _tidy_tags(items: pl.Expr, mask: bool = False) -> pl.Expr:
    """Each list stripped of blanks, de-duplicated and sorted; an empty list is null; ``mask``: then
    every tag that looks like a secret masked (as :func:`_redact_tags`, in the same batch pass)."""
    return items.map_batches(
        _tidy_mask_tag_series if mask else _tidy_tag_series, return_dtype=pl.List(pl.String), is_elementwise=True
    )


def _tidy_mask_tag_series(s: pl.Series) -> pl.Series:
    return _tidy_tag_series(s, mask=True)


def _tidy_tag_series(s: pl.Series, mask: bool = False) -> pl.Series:
    """:func:`_tidy_tags` on a batch. Lists that are already tidy (stripped, non-blank, sorted,
    distinct: what usagekit itself writes) are checked on the flat values in one vectorised pass
    and kept; only the others are tidied list by list (slow in polars: a per-list sort)."""
    s = s.cast(pl.List(pl.String))
    lens = s.list.len().fill_null(0)
    flat = s.explode(empty_as_null=False, keep_nulls=False)
    if len(flat):
        parent = pl.Series(np.repeat(np.arange(len(s), dtype=np.int64), lens.to_numpy()))
        fine = (
            flat.is_not_null()
            & (flat.str.len_bytes() > 0)
            & (flat.str.strip_chars() == flat)
            & ((parent != parent.shift(1)).fill_null(True) | (flat > flat.shift(1)).fill_null(False))
        )
        bad = parent.filter(~fine).unique()
        if len(bad):
            some = s.gather(bad)
            fixed = (
                some.to_frame("t")
                .select(
                    pl.col("t")
                    .list.eval(pl.element().str.strip_chars().filter(pl.element().str.len_chars() > 0))
                    .list.unique()
                    .list.sort()
                )
                .to_series()
            )
            take = np.arange(len(s), dtype=np.int64)
            take[bad.to_numpy()] = len(s) + np.arange(len(bad), dtype=np.int64)
            s = pl.concat([s, fixed.alias(s.name)]).gather(take)
            flat = None  # the tags changed
    s = pl.select(pl.when(s.list.len() > 0).then(s).otherwise(None)).to_series().alias(s.name)
    return _redact_tag_series(s, flat) if mask else s


def _redact_tags(tags: pl.Expr) -> pl.Expr:
    """Every tag that looks like a secret replaced by its masked id (lists without one kept as
    they are, checked on the flat values in one pass)."""
    return tags.map_batches(_redact_tag_series, return_dtype=pl.List(pl.String), is_elementwise=True)


def _redact_tag_series(s: pl.Series, flat: pl.Series | None = None) -> pl.Series:
    """:func:`_redact_tags` on a batch (``flat``: its tags exploded, when already at hand)."""
    if flat is None:
        flat = s.explode(empty_as_null=False, keep_nulls=False)
    if not len(flat) or not any_secret(flat):
        return s
    return s.to_frame("t").select(pl.col("t").list.eval(redact_expr(""))).to_series().alias(s.name)


def _label_series(s: pl.Series, strip: bool, lower: bool) -> pl.Series:
    """A text label as kept: trimmed (text inputs), lower-cased (``lower``), empty -> null, and
    every secret-looking value masked; worked out once per distinct value of a low-cardinality
    batch (the batch comes back as it is when nothing changes)."""
    s = s.cast(pl.String)

    def tidy(v: pl.Series) -> pl.Series:
        v = v.str.strip_chars() if strip else v
        v = v.str.to_lowercase() if lower else v
        return _redact_series(pl.select(pl.when(v == "").then(None).otherwise(v)).to_series().alias(s.name))

    values = distinct(s)
    if values is None:
        return tidy(s)
    out = tidy(values)
    return s if out.equals(values) else spread(s, values, out)


def _map_words(expr: pl.Expr, mapping: dict) -> pl.Expr:
    """``mapping[value]`` or null, as a when-chain: ``replace`` / ``replace_strict`` stop polars
    from streaming (measured: 3.7 GB instead of 0.8 GB sinking 10M rows)."""
    targets: dict[str, list[str]] = {}
    for word, target in mapping.items():
        targets.setdefault(target, []).append(word)
    chain = None
    for target, words in targets.items():
        cond = expr.is_in(words)
        chain = pl.when(cond).then(pl.lit(target)) if chain is None else chain.when(cond).then(pl.lit(target))
    return chain.otherwise(pl.lit(None, pl.String))


def _plain_types(lf: pl.LazyFrame, schema) -> pl.LazyFrame:
    """Columns of types no check reads (bytes, lists, structs, categoricals, decimals, nulls,
    times of day...) as text or floats, so each value is checked like text and a bad one
    rejects its row instead of failing the whole file."""
    fix = []
    for name, dtype in schema.items():
        if name.startswith("_") or dtype == pl.String or dtype == pl.Boolean:
            continue
        if dtype.is_numeric() and not isinstance(dtype, pl.Decimal):
            continue
        if isinstance(dtype, (pl.Datetime, pl.Date)):
            continue
        if (
            name == "tags"
            and isinstance(dtype, pl.List)
            and (dtype.inner == pl.String or dtype.inner == pl.Null or dtype.inner.is_numeric())
        ):
            continue  # a tag list as the schema holds it
        if isinstance(dtype, pl.Decimal):
            fix.append(pl.col(name).cast(pl.Float64, strict=False))
        else:
            fix.append(as_text(name, dtype).alias(name))
    return lf.with_columns(fix) if fix else lf


def _number(raw: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    if dtype == pl.String:
        return raw.str.strip_chars().str.replace_all(",", "").cast(pl.Float64, strict=False)
    if dtype == pl.Boolean:
        return raw.cast(pl.Float64)
    return raw.cast(pl.Float64, strict=False)


#: text labels: trimmed, an empty one becomes null (the Spark checks read the same list)
LABEL_COLUMNS = (
    "request_id",
    "account_id",
    "key_id",
    "key_name",
    "agent_id",
    "agent_name",
    "plain_vm_id",
    "plain_vm_name",
    "model",
    "team_id",
    "user_id",
    "end_user",
)


#: text columns checked per distinct value: for these, a Parquet file's dictionaries tell every value
#: (usagekit.sources._dictionary), so a column already clean is passed through unchecked
PER_VALUE_COLUMNS = (
    *(c for c in LABEL_COLUMNS if c not in ("request_id", "end_user")),
    "provider",
    "axis",
    "status",
    "state",
    "cost_source",
)


#: whether a column's known values are all clean, by the values (and what else decides it): a month
#: of daily files holds the same few dozen keys and models in each, so each set is judged once
_SETTLED: OrderedDict[tuple, object] = OrderedDict()
_UNSETTLED = object()
_MISSING = object()


_SETTLED_LOCK = threading.Lock()  # files may be staged on several threads at once


def _settle(key: tuple, verdict):
    with _SETTLED_LOCK:
        _SETTLED[key] = verdict
        while len(_SETTLED) > 1024:
            _SETTLED.popitem(last=False)
    return verdict


def stage(
    frame: pl.DataFrame | pl.LazyFrame,
    *,
    file: str,
    source: str,
    cost_scale: float = 1.0,
    values: dict[str, tuple[pl.Series, bool]] | None = None,
) -> pl.LazyFrame:
    """Validate a frame whose columns carry normalized names; see the module docstring.

    ``frame`` needs ``ts`` and ``_row``; every other normalized column is optional (absent
    = null, or its default: ``requests`` 1 for a row with a request id else 0, ``axis``
    ``llm``, ``status`` ``success``). ``cost_cents`` is multiplied by ``cost_scale``
    (100 for inputs in US dollars). A ``_reject`` already set by the reader wins. ``values``:
    column -> (every value it may hold, whether it holds nulls), when the reader knows them
    (:func:`usagekit.sources._dictionary.text_values`): a text column none of whose values
    the checks would change or reject is kept as it is, unchecked row by row.
    """
    lf = frame.lazy()
    lf = _plain_types(lf, lf.collect_schema())
    schema = lf.collect_schema()
    have = set(schema.names())
    for col in ("_reject", "_field", "_value"):
        if col not in have:
            lf = lf.with_columns(pl.lit(None, pl.String).alias(col))
    checks: list[tuple[pl.Expr, str, str]] = []  # (bad?, field, reason)
    out: dict[str, pl.Expr] = {}
    # Text inputs keep their raw cells beside the parsed values so a rejected row can show what
    # was written; typed inputs (Parquet) show the typed value, computed only for rejected rows.
    text = schema.get("ts") == pl.String
    raw_cols = [c for c in CHECKED if c in have and schema[c] == pl.String]

    def clean(col: str, v: pl.Expr | None = None) -> pl.Expr:
        e = (pl.col(col) if v is None else v).cast(pl.String)
        return e.str.strip_chars() if schema[col] == pl.String and text else e

    word_pairs: dict[str, pl.Expr] = {}  # a word column's (value, unknown?) pair, computed before the checks

    def known(col: str) -> pl.Series | None:
        """Every value ``col`` may hold, null last when it holds one (None: not known)."""
        if col not in (values or {}) or schema[col] != pl.String:
            return None
        vals, nulls = values[col]
        vals = vals.cast(pl.String)
        return vals.extend_constant(None, 1) if nulls else vals

    def word(col: str, value, bad) -> tuple[pl.Expr, pl.Expr | None]:
        """(``value(cleaned word)``, ``bad(cleaned word)``) for each row of ``col``, both worked out
        once per distinct value, in one pass (see usagekit.values). When every value the column may
        hold is known, is kept by ``value`` and is not ``bad``: the column itself (a null filled
        with ``value(null)``), and None for the check."""
        test = known(col)
        if test is not None:
            key = ("word", col, text, tuple(test.to_list()))
            fill = _SETTLED.get(key, _MISSING)  # one lookup: another thread may evict the key
            if fill is not _MISSING:
                if fill is not _UNSETTLED:
                    return (pl.col(col) if fill is None else pl.col(col).fill_null(pl.lit(fill))), None
                test = None  # known not to be clean: checked per batch below
        if test is not None:
            got = (
                test.extend_constant(None, 1)
                .to_frame("v")
                .select(
                    value(clean(col, pl.col("v"))).cast(pl.String).alias("value"),
                    bad(clean(col, pl.col("v"))).cast(pl.Boolean).fill_null(False).alias("flag"),
                )
            )
            kept = test.is_not_null()
            if not got["flag"].any() and got["value"].head(len(test)).filter(kept).equals(test.filter(kept)):
                fill = _settle(key, got["value"][-1])
                return (pl.col(col) if fill is None else pl.col(col).fill_null(pl.lit(fill))), None
            _settle(key, _UNSETTLED)
        word_pairs[f"_w_{col}"] = pl.col(col).map_batches(
            lambda s: by_value_with_flag(
                s, lambda v: value(clean(col, v)).cast(pl.String), lambda v: bad(clean(col, v))
            ),
            return_dtype=pl.Struct({"value": pl.String, "flag": pl.Boolean}),
            is_elementwise=True,
        )
        pair = pl.col(f"_w_{col}")
        return pair.struct.field("value"), pair.struct.field("flag")

    def label(col: str, lower: bool = False) -> pl.Expr:
        strip = schema[col] == pl.String and text
        test = known(col)
        if test is not None:
            key = ("label", strip, lower, tuple(patterns()), tuple(test.to_list()))
            clean_already = _SETTLED.get(key)
            if clean_already is None:
                clean_already = _settle(key, _label_series(test, strip, lower).equals(test))
            if clean_already:
                return pl.col(col)  # every value the column holds is kept as it is
        return pl.col(col).map_batches(
            lambda s: _label_series(s, strip, lower), return_dtype=pl.String, is_elementwise=True
        )

    # -- time
    ts_type = schema.get("ts")
    if ts_type == pl.String:
        ts, naive = parse_timestamps(pl.col("ts"))
        checks.append((pl.col("ts").is_null() | (pl.col("ts").str.strip_chars() == ""), "ts", R.MISSING_TS))
        checks.append((ts.is_null(), "ts", R.UNPARSEABLE_TS))
    elif isinstance(ts_type, pl.Datetime):
        if ts_type.time_zone is None:
            ts = pl.col("ts").dt.replace_time_zone("UTC").dt.cast_time_unit("us")
            naive = pl.col("ts").is_not_null()
        elif ts_type == pl.Datetime("us", "UTC"):
            ts = None  # already right: left untouched so a time filter reaches the file scan
            naive = pl.lit(False)
        else:
            ts = pl.col("ts").dt.convert_time_zone("UTC").dt.cast_time_unit("us")
            naive = pl.lit(False)
        checks.append((pl.col("ts").is_null(), "ts", R.MISSING_TS))
    elif ts_type == pl.Date:  # a day with no time: midnight UTC, as a bare date in text is
        ts = pl.col("ts").cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
        naive = pl.lit(False)
        checks.append((pl.col("ts").is_null(), "ts", R.MISSING_TS))
    else:
        raise SourceError(
            file,
            f"column 'ts' holds {ts_type}, not times",
            field="ts",
            expected="timestamps (ISO 8601 text, or a datetime/date column)",
        )
    if ts is not None:
        out["ts"] = ts
    tsx = pl.col("ts") if ts is None else ts
    checks.append(((tsx < TS_MIN) | (tsx > TS_END), "ts", R.TS_RANGE))

    # -- money: null stays null (unpriced); bad text, negatives and infinities are rejected
    if "cost_cents" in have:
        ctype = schema["cost_cents"]
        cost = _number(pl.col("cost_cents"), ctype)
        if cost_scale != 1.0:
            cost = cost * cost_scale
        if ctype == pl.String:
            present = pl.col("cost_cents").is_not_null() & (pl.col("cost_cents").str.strip_chars() != "")
            checks.append((present & cost.is_null(), "cost_cents", R.COST_NOT_NUMBER))
        checks.append((cost.is_nan() | cost.is_infinite(), "cost_cents", R.COST_NOT_FINITE))
        checks.append((cost < 0, "cost_cents", R.COST_NEGATIVE))
        checks.append((cost > MAX_COST_CENTS, "cost_cents", R.COST_TOO_BIG))
        out["cost_cents"] = pl.when(cost.is_nan() | cost.is_infinite()).then(None).otherwise(cost)
    else:
        out["cost_cents"] = pl.lit(None, pl.Float64)

    # -- counts: whole numbers within int64 (hours: any finite number), never negative
    for col in INT_COLUMNS + ("hours",):
        if col not in have:
            continue
        ctype = schema[col]
        if ctype.is_integer():  # typed already: only the sign and (unsigned) the size can be wrong
            checks.append((pl.col(col) < 0, col, R.negative(col)))
            if col != "hours" and ctype == pl.UInt64:
                checks.append((pl.col(col) > MAX_COUNT, col, R.above_int64(col)))
            out[col] = pl.col(col).cast(pl.Float64 if col == "hours" else pl.Int64, strict=False)
            continue
        num = _number(pl.col(col), ctype)
        if ctype == pl.String:
            present = pl.col(col).is_not_null() & (pl.col(col).str.strip_chars() != "")
            checks.append((present & num.is_null(), col, R.not_number(col)))
        checks.append((num.is_nan() | num.is_infinite(), col, R.not_finite(col)))
        checks.append((num < 0, col, R.negative(col)))
        if col != "hours":
            # digits are read exactly (a float holds only 15-17 of them); other forms (1e3, 12.0) via the float
            exact = (
                pl.col(col).str.strip_chars().str.replace_all(",", "").cast(pl.Int64, strict=False)
                if ctype == pl.String
                else pl.lit(None, pl.Int64)
            )
            whole = (num == num.floor()) & (num.abs() < _MAX_COUNT_FLOAT)
            checks.append(
                (
                    exact.is_null() & num.is_finite() & (num.abs() >= _MAX_COUNT_FLOAT),
                    col,
                    R.above_int64(col),
                )
            )
            checks.append((num.is_finite() & (num != num.floor()), col, R.not_whole(col)))
            out[col] = pl.coalesce(exact, pl.when(whole).then(num).cast(pl.Int64, strict=False))
        else:
            out[col] = pl.when(num.is_finite()).then(num)

    # -- labels
    masked = set()  # labels trimmed, emptied to null and masked in one per-value pass
    for col in LABEL_COLUMNS:
        if col in have:
            out[col] = label(col)
            masked.add(col)
    if "tags" in have:
        ttype = schema["tags"]
        if isinstance(ttype, pl.List):  # tidied and masked in one pass
            out["tags"] = _tidy_tags(pl.col("tags").cast(pl.List(pl.String)), mask=True)
            masked.add("tags")
        elif ttype == pl.String:
            items, bad_tags = _tag_items(pl.col("tags"))
            checks.append((bad_tags, "tags", R.BAD_TAGS))
            out["tags"] = _tidy_tags(items, mask=True)
            masked.add("tags")
        elif ttype != pl.Null:
            raise tags_type_error(file, ttype)
    if "provider" in have:
        out["provider"] = label("provider", lower=True)
        masked.add("provider")

    # words (axis, status, state, cost_source) are checked and normalized once per distinct value
    def unknown(v: pl.Expr, words) -> pl.Expr:
        """Set and not blank, but (lower-cased) none of ``words``."""
        return (v.is_not_null() & (v != "") & ~v.str.to_lowercase().is_in(list(words))).fill_null(False)

    if "axis" in have:
        out["axis"], bad = word(
            "axis",
            lambda a: pl.when(a.is_null() | (a == "")).then(pl.lit("llm")).otherwise(a.str.to_lowercase()),
            lambda a: unknown(a, AXES),
        )
        if bad is not None:
            checks.append((bad, "axis", R.BAD_AXIS))
    else:
        out["axis"] = pl.lit("llm")

    if "status" in have:

        def status_word(v: pl.Expr) -> pl.Expr:
            return _map_words(v.str.to_lowercase(), _STATUS_MAP)

        out["status"], bad = word(
            "status",
            lambda v: pl.coalesce(status_word(v), pl.lit("success")),
            lambda v: ((v != "") & status_word(v).is_null()).fill_null(False),
        )
        if bad is not None:
            checks.append((bad, "status", R.BAD_STATUS))
    else:
        out["status"] = pl.lit("success")

    if "state" in have:
        out["state"], bad = word(
            "state", lambda v: pl.when(v == "").then(None).otherwise(v.str.to_lowercase()), lambda v: unknown(v, STATES)
        )
        if bad is not None:
            checks.append((bad, "state", R.BAD_STATE))

    # a cost is the source's own unless the input says it was estimated (a repriced store read back)
    if "cost_source" in have:
        given, bad = word(
            "cost_source",
            lambda v: pl.when(v == "").then(None).otherwise(v.str.to_lowercase()),
            lambda v: unknown(v, COST_SOURCES),
        )
        if bad is not None:
            checks.append((bad, "cost_source", R.BAD_COST_SOURCE))
    else:
        given = pl.lit(None, pl.String)
    out["cost_source"] = (
        pl.when(out["cost_cents"].is_null())
        .then(pl.lit(None, pl.String))
        .otherwise(pl.coalesce(given, pl.lit("source")))
    )

    out["source"] = pl.lit(source)

    # reasons: a reader's own reason first, then the first failing check (coalesce keeps
    # the plan linear in the number of checks)
    if word_pairs:
        lf = lf.with_columns(**word_pairs)
    flags = [bad.fill_null(False).alias(f"_chk{i}") for i, (bad, _, _) in enumerate(checks)]
    lf = lf.with_columns(
        *flags, naive.fill_null(False).alias("_naive"), *[pl.col(c).alias(f"_raw_{c}") for c in raw_cols]
    )
    # the first failing check's number (a chain over small integers: a chain of text literals
    # costs a full text column per check), then its reason and field looked up per batch
    first = pl.coalesce(*[pl.when(pl.col(f"_chk{i}")).then(pl.lit(i, pl.UInt16)) for i in range(len(checks))])
    lf = lf.with_columns(first.alias("_chk"))
    pre = pl.col("_reject").is_not_null()
    lf = lf.with_columns(
        pl.coalesce(pl.col("_reject"), _labels(pl.col("_chk"), [why for _, _, why in checks])).alias("_reject"),
        pl.when(pre)
        .then(pl.col("_field"))
        .otherwise(_labels(pl.col("_chk"), [f for _, f, _ in checks]))
        .alias("_field"),
    )
    lf = lf.with_columns(**out)

    if "requests" in out:
        req = pl.col("requests")
    else:
        req = pl.lit(None, pl.Int64)
    rid = pl.col("request_id") if "request_id" in out else pl.lit(None, pl.String)
    lf = lf.with_columns(
        pl.coalesce(req, pl.when(rid.is_not_null()).then(1).otherwise(0)).cast(pl.Int64).alias("requests")
    )

    cols = []
    final = lf.collect_schema()  # resolved once: each call walks the whole plan
    names = set(final.names())
    for col in USAGE_COLUMNS:
        dtype = USAGE_DTYPES[col]
        if col not in names:
            cols.append(pl.lit(None, dtype).alias(col))
        elif col in masked:  # masked with its other clean-up (a label once per distinct value, tags per batch)
            cols.append(pl.col(col))
        elif col in SECRET_COLUMNS:  # a raw key secret never gets past the loader
            cols.append(redact_expr(col))
        elif col == "tags":
            cols.append(_redact_tags(pl.col("tags").cast(dtype)))
        elif col not in out and final[col] == dtype:
            cols.append(pl.col(col))  # untouched and already typed: a filter on it reaches the scan
        else:
            cols.append(pl.col(col).cast(dtype))
    return lf.select(
        *cols,
        pl.lit(file).alias("_file"),
        pl.col("_row").cast(pl.Int64),
        pl.col("_reject"),
        pl.col("_field"),
        pl.col("_value"),
        pl.col("_naive"),
        *[pl.col(f"_raw_{c}") for c in raw_cols],
    )


def _labels(codes: pl.Expr, labels: list[str]) -> pl.Expr:
    """``labels[code]`` for each code (null stays null), evaluated batch by batch: polars'
    ``replace_strict`` as an expression stops the streaming engine (measured: 1.4 GB instead
    of 0.2 GB sinking 20M rows), inside a batch function it does not."""
    mapping = dict(enumerate(labels))

    def look_up(s: pl.Series) -> pl.Series:
        if s.null_count() == len(s):  # the usual batch: every row passed every check
            return pl.Series(s.name, dtype=pl.String).extend_constant(None, len(s))
        return s.replace_strict(mapping, default=None, return_dtype=pl.String)

    return codes.map_batches(look_up, return_dtype=pl.String, is_elementwise=True)


def rejected_value(columns) -> pl.Expr:
    """The offending cell of a rejected row, as written: evaluate on rejected rows only.

    ``columns`` are the staged frame's column names (raw cells exist only for text inputs).
    """

    def cell(c):
        typed = pl.col(c).cast(pl.String)
        return pl.coalesce(pl.col(f"_raw_{c}").cast(pl.String), typed) if f"_raw_{c}" in columns else typed

    return pl.coalesce(pl.col("_value"), *[pl.when(pl.col("_field") == c).then(cell(c)) for c in CHECKED])


# public names for the Spark twin of these checks (usagekit/sources/spark_stage.py)
TIME_PATTERN = _TIME
OFFSET_PATTERN = _OFFSET
STATUS_MAP = _STATUS_MAP
JSON_STRING_PATTERN = _JSON_STRING
JSON_LIST_PATTERN = _JSON_LIST
MAX_COUNT_FLOAT = _MAX_COUNT_FLOAT
