"""Deterministic mutations of valid seeds: case ``i`` of a run with seed ``s`` is always the same.

Each mutation takes ``(rng, data, seed)`` and returns new bytes for the seed's subject file
(or, for directory mutations, a new file set). Mutations are grouped by what they need:
bytes of any file, CSV text, JSON values, Parquet tables, or a whole directory.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import random
from dataclasses import dataclass

from .seeds import Seed

HUGE = 130 * 1024  # above the csv module's default 128 KiB field limit
#: a mutation that multiplies rows stops near this size (big inputs are the benchmarks' job)
MAX_CASE_BYTES = 8 * 1024 * 1024

EXTREME_NUMBERS = [
    "9" * 20,
    "-" + "9" * 20,
    "18446744073709551616",
    "9223372036854775808",
    "9223372036854775807",
    "1" + "0" * 4400,
    "NaN",
    "nan",
    "Infinity",
    "-Infinity",
    "inf",
    "1e308",
    "-1e308",
    "1.7976931348623157e309",
    "-0",
    "-0.0",
    "0e0",
    "1e-320",
    "4.9e-324",
    "0x1F",
    "1_000",
    " 12 ",
    "1,5",
    "1.2.3",
    "+7",
    "1e400",
    "12abc",
    "true",
    "null",
    "",
    "   ",
    "١٢٣",
    "6000000000000",
    "99999999999999.5",
]
ODD_TIMES = [
    "-0001-01-01T00:00:00Z",
    "0000-01-01T00:00:00Z",
    "0001-01-01",
    "1969-12-31T23:59:59Z",
    "1970-01-01T00:00:00Z",
    "10000-01-01T00:00:00Z",
    "99999-12-31T00:00:00Z",
    "9999-12-31T23:59:59.999999Z",
    "2026-10-01T00:00:00+14:00",
    "2026-10-01T00:00:00-12:00",
    "2026-10-01T00:00:00+99:99",
    "2026-10-01T00:00:00+2359",
    "1761955200",
    "1761955200000",
    "1761955200.5",
    "2026-10-01",
    "2026-02-30",
    "2026-10-01T25:00:00Z",
    "2026-13-01T00:00:00Z",
    "2026-10-01T12:00",
    "2026-10-01 12:00:00 UTC",
    "2026-10-01T12:00:00.123456789Z",
    "Oct 1 2026",
    "now",
    "",
    "2026-W40-1",
    "20261001T120000Z",
    "2026-10-01T12:00:00z",
    "  2026-10-01T12:00:00Z  ",
    "1e20",
    "-271821-04-20T00:00:00Z",
    "275760-09-13T00:00:00Z",
]
JSON_VALUES = [
    None,
    [],
    {},
    "x",
    "",
    True,
    False,
    0,
    -1,
    1e308,
    -0.0,
    2**64,
    2**63,
    -(2**63) - 1,
    [1, 2],
    {"a": {"b": [None]}},
    "2026-10-01T00:00:00Z",
    "\u0000",
    "sk-proj-ABCDEFGHIJKLMNOPQRSTUV1234",
]
ODD_TIME_NUMBERS = [-1, 0, 2**40, 2**63, 1e308, -62135596800, 253402300800, 1.5, "1790985600", None, [], {}]


@dataclass
class Case:
    """One fuzz case: the files to write and which one (or ``.``, the directory) to load."""

    id: str
    seed: str
    mutation: str
    files: dict[str, bytes]
    target: str


# ---------------------------------------------------------------------------------------------------- bytes
def _insert(rng, data: bytes, piece: bytes) -> bytes:
    at = rng.randrange(len(data) + 1) if data else 0
    return data[:at] + piece + data[at:]


def truncate(rng, data, seed):
    return data[: rng.randrange(max(1, len(data)))]


def truncate_tail(rng, data, seed):
    return data[: max(0, len(data) - rng.randint(1, 40))]


def binary_bytes(rng, data, seed):
    return _insert(rng, data, bytes(rng.randrange(256) for _ in range(rng.randint(1, 64))))


def nul_bytes(rng, data, seed):
    return _insert(rng, data, b"\x00" * rng.randint(1, 8))


def flip_bytes(rng, data, seed):
    b = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        if b:
            b[rng.randrange(len(b))] = rng.randrange(256)
    return bytes(b)


def bom_utf8(rng, data, seed):
    return b"\xef\xbb\xbf" + data


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def utf16(rng, data, seed):
    return _text(data).encode(rng.choice(["utf-16", "utf-16-le", "utf-16-be"]))


def latin1(rng, data, seed):
    text = _text(data).replace("a", "é", 3)
    return text.encode("latin-1", errors="replace")


def cp1252_quotes(rng, data, seed):
    return _text(data).replace('"', "\u201c", 2).encode("cp1252", errors="replace")


def crlf(rng, data, seed):
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def cr_only(rng, data, seed):
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r")


def mixed_newlines(rng, data, seed):
    lines = data.split(b"\n")
    return b"".join(line + rng.choice([b"\n", b"\r\n", b"\r"]) for line in lines)


def gzip_whole(rng, data, seed):
    return gzip.compress(data)


def gzip_cut(rng, data, seed):
    z = gzip.compress(data)
    return z[: rng.randrange(2, max(3, len(z)))]


def empty(rng, data, seed):
    return b""


def whitespace_only(rng, data, seed):
    return rng.choice([b"\n\n\n", b"   ", b"\r\n\t\r\n"])


def huge_line(rng, data, seed):
    line = bytes(rng.choice(b"abcxyz0123456789") for _ in range(64)) * (HUGE // 64 + 1)
    return _insert_line(rng, data, line)


def _insert_line(rng, data: bytes, line: bytes) -> bytes:
    lines = data.split(b"\n")
    at = rng.randrange(len(lines) + 1)
    return b"\n".join(lines[:at] + [line] + lines[at:])


def prepend_garbage(rng, data, seed):
    return rng.choice([b"sep=,\n", b"# exported by tool\n", b"\n\n", b"PAR1", b"\x1f\x8b", b"{", b"["]) + data


BYTE_MUTATIONS = [
    truncate,
    truncate_tail,
    binary_bytes,
    nul_bytes,
    flip_bytes,
    bom_utf8,
    utf16,
    latin1,
    cp1252_quotes,
    crlf,
    cr_only,
    mixed_newlines,
    gzip_whole,
    gzip_cut,
    empty,
    whitespace_only,
    huge_line,
    prepend_garbage,
]


# ------------------------------------------------------------------------------------------------------ CSV
csv.field_size_limit(1 << 30)  # the mutator reads what earlier mutations made, however long


def _rows(data: bytes) -> list[list[str]]:
    try:
        return list(csv.reader(io.StringIO(_text(data).replace("\x00", ""), newline="")))
    except csv.Error:  # an earlier mutation left quoting the csv module cannot follow
        return [line.split(",") for line in _text(data).splitlines()]


def _write(rows: list[list[str]]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue().encode("utf-8", errors="surrogatepass")


def _cell(rng, rows, *, header_words=()):
    """(row, col) of a data cell, preferring columns whose header holds one of ``header_words``."""
    if len(rows) < 2 or not rows[0]:
        return None
    cols = [i for i, h in enumerate(rows[0]) if any(w in h.lower() for w in header_words)] or list(range(len(rows[0])))
    r = rng.randrange(1, len(rows))
    c = rng.choice(cols)
    while len(rows[r]) <= c:
        rows[r].append("")
    return r, c


def _set_cell(rng, data, value_fn, words=()):
    rows = _rows(data)
    at = _cell(rng, rows, header_words=words)
    if at is None:
        return data
    r, c = at
    rows[r][c] = value_fn(rng, rows[r][c])
    return _write(rows)


NUMERIC_WORDS = (
    "cost",
    "spend",
    "token",
    "request",
    "usage",
    "amount",
    "quantity",
    "cap",
    "budget",
    "hours",
    "characters",
)
TIME_WORDS = ("ts", "time", "date", "created", "period", "_at")


def csv_extreme_number(rng, data, seed):
    return _set_cell(rng, data, lambda r, v: r.choice(EXTREME_NUMBERS), NUMERIC_WORDS)


def csv_odd_time(rng, data, seed):
    return _set_cell(rng, data, lambda r, v: r.choice(ODD_TIMES), TIME_WORDS)


def csv_huge_field(rng, data, seed):
    return _set_cell(rng, data, lambda r, v: v + "x" * HUGE)


def csv_huge_quoted_field(rng, data, seed):
    return _set_cell(rng, data, lambda r, v: 'a,"b"\n' * (HUGE // 6 + 1))


def csv_binary_cell(rng, data, seed):
    return _set_cell(rng, data, lambda r, v: "".join(chr(rng.randrange(1, 32)) for _ in range(5)) + v)


def csv_surrogate_cell(rng, data, seed):
    return _set_cell(rng, data, lambda r, v: v + "\ud800")


def csv_secret_cell(rng, data, seed):
    return _set_cell(rng, data, lambda r, v: "sk-ant-api03-" + "Zq9" * 12, ("key", "token", "id", "name"))


def csv_header_padded(rng, data, seed):
    rows = _rows(data)
    if rows:
        rows[0] = [rng.choice(["  {} ", "\t{}", "{}  ", " {}"]).format(h) for h in rows[0]]
    return _write(rows)


def csv_header_case(rng, data, seed):
    rows = _rows(data)
    if rows:
        rows[0] = [h.upper() if rng.random() < 0.5 else h for h in rows[0]]
    return _write(rows)


def csv_header_duplicate(rng, data, seed):
    rows = _rows(data)
    if rows and len(rows[0]) > 1:
        i, j = rng.sample(range(len(rows[0])), 2)
        rows[0][j] = rows[0][i]
    return _write(rows)


def csv_header_empty_name(rng, data, seed):
    rows = _rows(data)
    if rows and rows[0]:
        rows[0][rng.randrange(len(rows[0]))] = ""
    return _write(rows)


def csv_drop_column(rng, data, seed):
    rows = _rows(data)
    if rows and rows[0]:
        c = rng.randrange(len(rows[0]))
        rows = [r[:c] + r[c + 1 :] for r in rows]
    return _write(rows)


def csv_short_row(rng, data, seed):
    rows = _rows(data)
    if len(rows) > 1:
        r = rng.randrange(1, len(rows))
        rows[r] = rows[r][: rng.randrange(max(1, len(rows[r])))]
    return _write(rows)


def csv_long_row(rng, data, seed):
    rows = _rows(data)
    if len(rows) > 1:
        rows[rng.randrange(1, len(rows))] += ["extra"] * rng.randint(1, 5)
    return _write(rows)


def csv_many_columns(rng, data, seed):
    rows = _rows(data)
    n = rng.choice([500, 5000])
    if rows:
        rows[0] += [f"x_{i}" for i in range(n)]
        for r in rows[1:]:
            r += [""] * n
    return _write(rows)


def csv_duplicate_rows(rng, data, seed):
    rows = _rows(data)
    if len(rows) > 1:
        rows += [rows[rng.randrange(1, len(rows))] for _ in range(rng.randint(1, 4))]
    return _write(rows)


def csv_header_only(rng, data, seed):
    rows = _rows(data)
    return _write(rows[:1])


def csv_no_header(rng, data, seed):
    return _write(_rows(data)[1:])


def csv_unbalanced_quote(rng, data, seed):
    rows = _rows(data)
    at = _cell(rng, rows)
    if at is None:
        return data
    text = _text(_write(rows)).splitlines(keepends=True)
    r = at[0]
    text[r] = '"' + text[r]  # an opening quote that never closes
    return "".join(text).encode()


def csv_semicolons(rng, data, seed):
    return _text(data).replace(",", ";").encode()


def csv_blank_lines(rng, data, seed):
    return _insert_line(rng, data, rng.choice([b"", b",,,,", b" "]))


def csv_all_empty_cells(rng, data, seed):
    rows = _rows(data)
    if len(rows) > 1:
        r = rng.randrange(1, len(rows))
        rows[r] = [""] * len(rows[r])
    return _write(rows)


def csv_many_rows(rng, data, seed):
    rows = _rows(data)
    if len(rows) > 1:
        body = rows[1:]
        copies = min(rng.choice([2000, 20000]), MAX_CASE_BYTES // max(1, len(data)) * len(body))
        rows = rows[:1] + [list(body[i % len(body)]) for i in range(copies)]
    return _write(rows)


CSV_MUTATIONS = [
    csv_extreme_number,
    csv_odd_time,
    csv_huge_field,
    csv_huge_quoted_field,
    csv_binary_cell,
    csv_surrogate_cell,
    csv_secret_cell,
    csv_header_padded,
    csv_header_case,
    csv_header_duplicate,
    csv_header_empty_name,
    csv_drop_column,
    csv_short_row,
    csv_long_row,
    csv_many_columns,
    csv_duplicate_rows,
    csv_header_only,
    csv_no_header,
    csv_unbalanced_quote,
    csv_semicolons,
    csv_blank_lines,
    csv_all_empty_cells,
    csv_many_rows,
]


# ----------------------------------------------------------------------------------------------------- JSON
def _docs(data: bytes, kind: str):
    """The seed's JSON value(s): one document, or a list of lines for JSON Lines."""
    text = _text(data)
    if kind == "jsonl":
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    return json.loads(text)


def _dump(value, kind: str) -> bytes:
    if kind == "jsonl" and isinstance(value, list):
        return ("\n".join(json.dumps(v) for v in value) + "\n").encode("utf-8", errors="surrogatepass")
    return json.dumps(value).encode("utf-8", errors="surrogatepass")


def _paths(value, path=()):
    """Every (container, key) in a JSON value."""
    out = []
    if isinstance(value, dict):
        for k, v in value.items():
            out.append((value, k, path + (k,)))
            out += _paths(v, path + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.append((value, i, path + (i,)))
            out += _paths(v, path + (i,))
    return out


def _json_edit(edit):
    def mutation(rng, data, seed):
        try:
            doc = _docs(data, seed.kind)
        except (ValueError, UnicodeDecodeError, RecursionError):  # an earlier mutation: leave it
            return data
        spots = _paths(doc)
        if not spots:
            return data
        edit(rng, doc, spots)
        return _dump(doc, seed.kind)

    mutation.__name__ = edit.__name__
    return mutation


@_json_edit
def json_replace_value(rng, doc, spots):
    holder, key, _ = rng.choice(spots)
    holder[key] = rng.choice(JSON_VALUES)


@_json_edit
def json_delete_key(rng, doc, spots):
    dicts = [(h, k) for h, k, _ in spots if isinstance(h, dict)]
    if dicts:
        h, k = rng.choice(dicts)
        h.pop(k, None)


@_json_edit
def json_wrong_container(rng, doc, spots):
    holder, key, _ = rng.choice([s for s in spots if isinstance(s[0][s[1]], (dict, list))] or spots)
    v = holder[key]
    holder[key] = [v] if isinstance(v, dict) else ({"items": v} if isinstance(v, list) else [v])


@_json_edit
def json_number_field(rng, doc, spots):
    nums = [s for s in spots if isinstance(s[0][s[1]], (int, float, str)) and not isinstance(s[0][s[1]], bool)]
    holder, key, _ = rng.choice(nums or spots)
    holder[key] = rng.choice(
        [
            2**64,
            -(2**70),
            1e308,
            -1e308,
            -0.0,
            10**30,
            1.5,
            -5,
            "12abc",
            "1e400",
            float("nan"),
            float("inf"),
            float("-inf"),
        ]
    )


@_json_edit
def json_time_field(rng, doc, spots):
    times = [
        s
        for s in spots
        if isinstance(s[1], str) and any(w in s[1].lower() for w in ("time", "date", "ts", "_at", "start"))
    ]
    holder, key, _ = rng.choice(times or spots)
    holder[key] = rng.choice(ODD_TIMES + ODD_TIME_NUMBERS)


@_json_edit
def json_null_everything(rng, doc, spots):
    for holder, key, _ in rng.sample(spots, min(len(spots), rng.randint(1, 6))):
        holder[key] = None


@_json_edit
def json_list_of_nulls(rng, doc, spots):
    lists = [s for s in spots if isinstance(s[0][s[1]], list)]
    if lists:
        holder, key, _ = rng.choice(lists)
        holder[key] = [None, 1, "x", []]


@_json_edit
def json_huge_string(rng, doc, spots):
    holder, key, _ = rng.choice(spots)
    holder[key] = "y" * HUGE


@_json_edit
def json_secret_value(rng, doc, spots):
    strs = [s for s in spots if isinstance(s[0][s[1]], str)]
    holder, key, _ = rng.choice(strs or spots)
    holder[key] = "Bearer " + "AbC123xYz" * 4


def json_empty_data(rng, data, seed):
    return rng.choice(
        [
            b'{"data": []}',
            b'{"data": [], "has_more": false, "next_page": null}',
            b'{"object": "page", "data": [], "has_more": false}',
            b"[]",
            b'[{"data": []}]',
            b"{}",
            b"null",
            b"0",
            b'""',
            b'{"data": null}',
            b'{"data": {}}',
            b'{"data": [[]]}',
            b'{"data": [{}]}',
            b'{"data": [null]}',
            b'{"llm": {}}',
            b'{"llm": {"daily": {}}}',
            b'{"compute": []}',
            b'{"voice": {"daily": [1]}}',
        ]
    )


def json_deep_nesting(rng, data, seed):
    depth = rng.choice([1000, 10_000, 100_000])
    nest = "[" * depth + "]" * depth if rng.random() < 0.5 else '{"a":' * depth + "1" + "}" * depth
    text = _text(data)
    for marker in ('"results": [', '"data": [', '"daily": ['):
        if marker in text:
            return text.replace(marker, marker + nest + ",", 1).encode()
    return nest.encode()


def json_huge_int_literal(rng, data, seed):
    digits = "9" * rng.choice([4301, 5000, 20000])
    text = _text(data)
    import re

    m = list(re.finditer(r":\s*(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)", text))
    if not m:
        return (text + digits).encode()
    hit = rng.choice(m)
    return (text[: hit.start(1)] + digits + text[hit.end(1) :]).encode()


def json_nan_literal(rng, data, seed):
    text = _text(data)
    import re

    m = list(re.finditer(r":\s*(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)", text))
    if not m:
        return data
    hit = rng.choice(m)
    return (text[: hit.start(1)] + rng.choice(["NaN", "Infinity", "-Infinity"]) + text[hit.end(1) :]).encode()


def json_lone_surrogate(rng, data, seed):
    text = _text(data)
    at = text.find('"', rng.randrange(max(1, len(text))))
    if at < 0:
        at = text.find('"')
    if at < 0:
        return data
    return (text[: at + 1] + rng.choice(["\\ud800", "\\udfff", "\\ud83d", "\\u0000"]) + text[at + 1 :]).encode()


def json_duplicate_keys(rng, data, seed):
    return _text(data).replace("{", '{"data": 1, ', 1).encode()


def json_trailing_garbage(rng, data, seed):
    return data + rng.choice([b"\n{", b",", b"\x00", b"\n]"])


def jsonl_bad_lines(rng, data, seed):
    return _insert_line(
        rng, data, rng.choice([b"[1,2]", b"null", b"42", b'"text"', b"{", b"{}", b'{"ts": null}', b'{"data": []}'])
    )


def json_pages_repeat(rng, data, seed):
    try:
        doc = _docs(data, "json")
    except (ValueError, RecursionError):
        return data
    pages = doc if isinstance(doc, list) else [doc]
    return json.dumps(pages + pages[:1]).encode()


JSON_MUTATIONS = [
    json_replace_value,
    json_delete_key,
    json_wrong_container,
    json_number_field,
    json_time_field,
    json_null_everything,
    json_list_of_nulls,
    json_huge_string,
    json_secret_value,
    json_empty_data,
    json_deep_nesting,
    json_huge_int_literal,
    json_nan_literal,
    json_lone_surrogate,
    json_duplicate_keys,
    json_trailing_garbage,
    json_pages_repeat,
]
JSONL_MUTATIONS = JSON_MUTATIONS[:9] + [
    json_huge_int_literal,
    json_nan_literal,
    json_lone_surrogate,
    jsonl_bad_lines,
    json_deep_nesting,
]


# -------------------------------------------------------------------------------------------------- Parquet
def _table(data: bytes):
    import pyarrow.parquet as pq

    return pq.read_table(io.BytesIO(data))


def _pq(table, **kw) -> bytes:
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(table, buf, **kw)
    return buf.getvalue()


def _parquet_edit(edit):
    def mutation(rng, data, seed):
        try:
            table = _table(data)
        except Exception:  # noqa: BLE001 - an earlier mutation broke the file: leave it broken
            return data
        out = edit(rng, table)
        return out if isinstance(out, bytes) else _pq(out)

    mutation.__name__ = edit.__name__
    return mutation


def _replace(table, i, array, name=None):
    return table.set_column(i, name or table.column_names[i], array)


@_parquet_edit
def pq_binary_column(rng, t):
    import pyarrow as pa

    i = rng.randrange(t.num_columns)
    col = t.column(i).cast(pa.string()) if not pa.types.is_string(t.column(i).type) else t.column(i)
    return _replace(t, i, pa.array([None if v is None else str(v).encode() for v in col.to_pylist()], pa.binary()))


@_parquet_edit
def pq_list_column(rng, t):
    import pyarrow as pa

    i = rng.randrange(t.num_columns)
    return _replace(t, i, pa.array([[v] for v in t.column(i).to_pylist()], pa.list_(t.column(i).type)))


@_parquet_edit
def pq_struct_column(rng, t):
    import pyarrow as pa

    i = rng.randrange(t.num_columns)
    return _replace(t, i, pa.array([{"v": v} for v in t.column(i).to_pylist()], pa.struct([("v", t.column(i).type)])))


@_parquet_edit
def pq_dictionary_column(rng, t):
    import pyarrow as pa

    i = rng.randrange(t.num_columns)
    col = t.column(i)
    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
        return _replace(t, i, col.dictionary_encode())
    return _pq(t, use_dictionary=True)


@_parquet_edit
def pq_padded_names(rng, t):
    return t.rename_columns([rng.choice([" {}", "{} ", " {} ", "{}"]).format(c) for c in t.column_names])


@_parquet_edit
def pq_upper_names(rng, t):
    return t.rename_columns([c.upper() for c in t.column_names])


@_parquet_edit
def pq_duplicate_names(rng, t):
    names = list(t.column_names)
    if len(names) > 1:
        i, j = rng.sample(range(len(names)), 2)
        names[j] = names[i]
    return t.rename_columns(names)


@_parquet_edit
def pq_drop_column(rng, t):
    return t.remove_column(rng.randrange(t.num_columns)) if t.num_columns > 1 else t


def _col_index(rng, t, words):
    idx = [i for i, c in enumerate(t.column_names) if any(w in c.lower() for w in words)]
    return rng.choice(idx) if idx else rng.randrange(t.num_columns)


@_parquet_edit
def pq_time_types(rng, t):
    import pyarrow as pa
    import pyarrow.compute as pc

    i = _col_index(rng, t, TIME_WORDS)
    col = t.column(i)
    choice = rng.randrange(8)
    if choice == 0:
        return _replace(t, i, pa.array([rng.choice([0, -1, 2**62, 1790985600])] * t.num_rows, pa.int64()))
    if choice == 1:
        return _replace(t, i, pa.array([rng.choice(ODD_TIMES)] * t.num_rows, pa.string()))
    if choice == 2:
        return _replace(t, i, pa.array([rng.choice([-(2**62), 2**62, 0])] * t.num_rows, pa.timestamp("us", "UTC")))
    if choice == 3:
        return _replace(t, i, pa.array([1] * t.num_rows, pa.timestamp("ns", "Asia/Kolkata")))
    if choice == 4:
        return _replace(t, i, pa.array([rng.choice([-719162, 2932896, 0, 20000])] * t.num_rows, pa.date32()))
    if choice == 5:
        return _replace(t, i, pa.array([3600 * 10**6] * t.num_rows, pa.time64("us")))
    if choice == 6:
        return _replace(t, i, pa.array([None] * t.num_rows, pa.null()))
    try:
        return _replace(t, i, pc.cast(col, pa.timestamp("ms")))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return _replace(t, i, pa.array([1.5] * t.num_rows, pa.float64()))


@_parquet_edit
def pq_number_types(rng, t):
    import pyarrow as pa

    i = _col_index(rng, t, NUMERIC_WORDS)
    n = t.num_rows
    choice = rng.randrange(8)
    if choice == 0:
        return _replace(t, i, pa.array([2**64 - 1] * n, pa.uint64()))
    if choice == 1:
        return _replace(
            t, i, pa.array([rng.choice([float("nan"), float("inf"), -0.0, 1e308, -1e308])] * n, pa.float64())
        )
    if choice == 2:
        return _replace(t, i, pa.array([rng.choice(EXTREME_NUMBERS)] * n, pa.string()))
    if choice == 3:
        from decimal import Decimal

        return _replace(t, i, pa.array([Decimal("12345678901234567890.123456")] * n, pa.decimal128(38, 6)))
    if choice == 4:
        return _replace(t, i, pa.array([True] * n, pa.bool_()))
    if choice == 5:
        return _replace(t, i, pa.array([-(2**63)] * n, pa.int64()))
    if choice == 6:
        return _replace(t, i, pa.array([1.5] * n, pa.float32()))
    return _replace(t, i, pa.array([None] * n, pa.null()))


@_parquet_edit
def pq_large_strings(rng, t):
    import pyarrow as pa
    import pyarrow.compute as pc

    cols = [pc.cast(c, pa.large_string()) if pa.types.is_string(c.type) else c for c in t.columns]
    return pa.table(cols, names=t.column_names)


@_parquet_edit
def pq_zero_rows(rng, t):
    return t.slice(0, 0)


@_parquet_edit
def pq_nested_struct_all(rng, t):
    import pyarrow as pa

    return pa.table({"record": pa.array(t.to_pylist())})


@_parquet_edit
def pq_huge_string(rng, t):
    import pyarrow as pa

    i = rng.randrange(t.num_columns)
    return _replace(t, i, pa.array(["z" * HUGE] * t.num_rows, pa.string()))


@_parquet_edit
def pq_row_groups(rng, t):
    return _pq(t, row_group_size=1, compression=rng.choice(["snappy", "gzip", "zstd", "none"]))


PARQUET_MUTATIONS = [
    pq_binary_column,
    pq_list_column,
    pq_struct_column,
    pq_dictionary_column,
    pq_padded_names,
    pq_upper_names,
    pq_duplicate_names,
    pq_drop_column,
    pq_time_types,
    pq_number_types,
    pq_large_strings,
    pq_zero_rows,
    pq_nested_struct_all,
    pq_huge_string,
    pq_row_groups,
    truncate,
    flip_bytes,
    truncate_tail,
    empty,
    gzip_whole,
]


def mutations_for(kind: str) -> list:
    if kind == "parquet":
        return PARQUET_MUTATIONS
    if kind == "csv":
        return CSV_MUTATIONS * 2 + BYTE_MUTATIONS
    if kind == "jsonl":
        return JSONL_MUTATIONS * 2 + BYTE_MUTATIONS
    return JSON_MUTATIONS * 2 + BYTE_MUTATIONS


def all_mutation_names() -> list[str]:
    names = {m.__name__ for k in ("csv", "json", "jsonl", "parquet") for m in mutations_for(k)}
    return sorted(names | {"mixed_directory", "wrong_suffix"})


# -------------------------------------------------------------------------------------------- directories
JUNK = {
    "labels.json": b'{"anomalies": []}',
    "manifest.json": b'{"files": 3}',
    "notes.json": b'{"hello": "world"}',
    "empty.csv": b"",
    "blob.parquet": b"PAR1\x00\x01\x02",
    "header.csv": b"a,b,c\n",
    "list.json": b"[1, 2, 3]",
    "bin.csv": bytes(range(256)),
    "nested/deeper/usage.csv": b"ts,cost_cents\n2026-10-01T00:00:00Z,1\n",
    ".hidden.csv": b"ts,cost_cents\nbroken",
}


def _mutate_one(rng, seed: Seed, data: bytes) -> tuple[bytes, str]:
    kinds = mutations_for(seed.kind)
    steps = 1 if rng.random() < 0.7 else 2
    names = []
    for _ in range(steps):
        m = rng.choice(kinds)
        data = m(rng, data, seed)
        names.append(m.__name__)
    return data, "+".join(names)


def make_case(run_seed: int, i: int, seeds: list[Seed]) -> Case:
    """Case ``i`` of the run ``run_seed`` (the same arguments always give the same case)."""
    rng = random.Random(run_seed * 1_000_003 + i)
    roll = rng.random()
    if roll < 0.06:  # a mixed directory: several seeds, some mutated, plus junk
        files: dict[str, bytes] = {}
        parts = []
        for k, seed in enumerate(rng.sample(seeds, rng.randint(2, 4))):
            for name, content in seed.files.items():
                if name == seed.subject and rng.random() < 0.5:
                    content, how = _mutate_one(rng, seed, content)
                    parts.append(f"{seed.name}:{how}")
                files[f"d{k}/{name}"] = content
        for name in rng.sample(sorted(JUNK), rng.randint(1, 4)):
            files[name] = JUNK[name]
        return Case(f"{run_seed}-{i}", "mixed", "mixed_directory[" + ",".join(parts) + "]", files, ".")
    seed = rng.choice(seeds)
    if roll < 0.09:  # right content, misleading name
        subject = seed.subject.rsplit(".", 1)[0] + rng.choice([".json", ".csv", ".parquet", ".jsonl", ".csv.gz"])
        files = {(subject if n == seed.subject else n): c for n, c in seed.files.items()}
        return Case(
            f"{run_seed}-{i}", seed.name, "wrong_suffix", files, "." if seed.registry or len(files) > 1 else subject
        )
    data, how = _mutate_one(rng, seed, seed.files[seed.subject])
    files = dict(seed.files)
    files[seed.subject] = data
    return Case(f"{run_seed}-{i}", seed.name, how, files, "." if seed.registry else seed.subject)
