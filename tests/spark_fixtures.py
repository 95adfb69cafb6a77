"""Canonical Parquet months with hostile rows, for comparing a Spark-validated load with Polars."""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path

import polars as pl

SECRET = "sk-proj-AbCdEfGhIjKlMnOpQrStUv0123"
KEYS = ["k-alpha", "k-beta", None, SECRET]


def write_month(out: Path, rows_per_file: int = 200) -> list[Path]:
    """Three daily Parquet files of the canonical columns (typed; text-typed; naive times) with
    bad rows planted: bad/naive/out-of-range timestamps, negative/NaN/non-numeric costs, missing
    keys, odd provider text, bad counts and labels, request ids repeated within and across files,
    a raw key secret in key_id and key_name."""
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(7)
    paths = []

    def base(day: int, n: int, prefix: str) -> dict:
        return {
            "request_id": [f"{prefix}-{i}" for i in range(n)],
            "account_id": [rng.choice(["acct-1", "acct-2"]) for _ in range(n)],
            "key_id": [rng.choice(KEYS) for _ in range(n)],
            "key_name": [rng.choice(["alpha", "beta", None, f"bot {SECRET}"]) for _ in range(n)],
            "provider": [rng.choice(["openai", "Anthropic", "  OpenAI-Compat ", None]) for _ in range(n)],
            "model": [rng.choice(["gpt-4.1", "claude-sonnet", None]) for _ in range(n)],
            "axis": [rng.choice(["llm", "LLM", "voice", "compute", None]) for _ in range(n)],
            "input_tokens": [rng.randint(0, 5000) for _ in range(n)],
            "output_tokens": [rng.randint(0, 900) for _ in range(n)],
            "cost_cents": [round(rng.random() * 3, 6) if rng.random() > 0.1 else None for _ in range(n)],
            "tags": [rng.choice([["prod"], ["prod", "batch"], [], None, [" b ", "a", "a"]]) for _ in range(n)],
            "status": [rng.choice(["success", "error", "OK", "failed"]) for _ in range(n)],
            "team_id": [rng.choice(["team-a", None]) for _ in range(n)],
        }

    # 1: typed UTC timestamps and float costs; bad: negative cost, NaN cost, repeats within the file
    d = base(1, rows_per_file, "a")
    d["ts"] = [
        dt.datetime(2026, 10, 1, tzinfo=dt.timezone.utc) + dt.timedelta(minutes=7 * i) for i in range(rows_per_file)
    ]
    d["cost_cents"][3] = -5.0
    d["cost_cents"][4] = float("nan")
    d["cost_cents"][5] = float("inf")
    d["request_id"][9] = "a-1"  # repeated within the file
    d["ts"][11] = dt.datetime(1960, 1, 1, tzinfo=dt.timezone.utc)  # out of range
    d["ts"][12] = None
    d["input_tokens"][13] = -3
    p = out / "usage-2026-10-01.parquet"
    pl.DataFrame(d).with_columns(pl.col("ts").cast(pl.Datetime("us", "UTC"))).write_parquet(p)
    paths.append(p)

    # 2: everything as text (as a CSV turned Parquet would be)
    n = rows_per_file
    d = base(2, n, "b")
    t0 = dt.datetime(2026, 10, 2, tzinfo=dt.timezone.utc)
    d["ts"] = [(t0 + dt.timedelta(minutes=5 * i)).strftime("%Y-%m-%dT%H:%M:%SZ") for i in range(n)]
    d["ts"][0] = "not-a-time"
    d["ts"][1] = "2026-10-02 10:00:00"  # naive: taken as UTC, counted
    d["ts"][2] = "2026-10-02T11:30:00+05:30"
    d["ts"][3] = "2026-10-02"  # a bare date: midnight UTC, not naive
    d["ts"][4] = ""
    d["ts"][5] = "2026-10-02T12:00+02"
    d["ts"][6] = "2026-10-02 13:00:00 UTC"
    d["ts"][7] = "2026-02-30T00:00:00Z"
    cost = [None if c is None else str(c) for c in d["cost_cents"]]
    cost[8] = "abc"
    cost[9] = "-1"
    cost[10] = "1,234.5"
    cost[11] = "NaN"
    cost[12] = ""
    cost[13] = "2e13"
    d["cost_cents"] = cost
    d["input_tokens"] = [str(x) for x in d["input_tokens"]]
    d["input_tokens"][14] = "12.5"
    d["input_tokens"][15] = "x"
    d["input_tokens"][16] = "99999999999999999999"
    d["input_tokens"][17] = " 42 "
    d["output_tokens"] = [str(x) for x in d["output_tokens"]]
    d["tags"] = [None if t is None else ",".join(t) for t in d["tags"]]
    d["tags"][18] = '["prod", "x\\"y"]'
    d["tags"][19] = '["broken'
    d["axis"][20] = "gpu"
    d["status"][21] = "maybe"
    d["request_id"][22] = "a-7"  # repeats a row of file 1
    d["request_id"][23] = "a-0"
    d["request_id"][24] = "b-30"  # repeated within the file, later row
    d["key_id"][25] = f"  {SECRET}  "
    d["state"] = [None] * n
    d["state"][26] = "sleeping"
    d["cost_source"] = [None] * n
    d["cost_source"][27] = "guess"
    d["cost_source"][28] = "Estimated"
    p = out / "usage-2026-10-02.parquet"
    pl.DataFrame(d, schema_overrides={"state": pl.String, "cost_source": pl.String}).write_parquet(p)
    paths.append(p)

    # 3: naive (no time zone) timestamps, with an ignored extra column
    d = base(3, rows_per_file // 2, "c")
    d["ts"] = [dt.datetime(2026, 10, 3) + dt.timedelta(minutes=11 * i) for i in range(rows_per_file // 2)]
    d["request_id"][0] = "b-40"  # repeats a row of file 2
    d["hours"] = [0.5] * (rows_per_file // 2)
    d["hours"][1] = -1.0
    d["note"] = ["x"] * (rows_per_file // 2)
    p = out / "usage-2026-10-03.parquet"
    pl.DataFrame(d).write_parquet(p)
    paths.append(p)
    return paths


def write_text_files(out: Path, rows: int = 120) -> list[Path]:
    """A hostile canonical CSV (BOM, CRLF, quoted commas, ragged rows, a bad value per checked
    column, naive and offset times, a field over 1 MiB, a raw secret, an ignored column, a last row
    cut short) and a hostile JSON Lines file (numbers and lists as JSON, an invalid line, a line
    that is no object, lines past the JSON limits, a blank line, a secret in a broken line, a cut
    last line); both repeat request ids of :func:`write_month`'s Parquet files and of each other."""
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(11)
    t0 = dt.datetime(2026, 10, 4, tzinfo=dt.timezone.utc)
    header = [
        "ts", "request_id", "key_id", "key_name", "provider", "model", "axis", "input_tokens",
        "output_tokens", "cost_cents", "tags", "status", "state", "cost_source", "team_id", "hours", "Note",
    ]  # fmt: skip
    lines = []
    for i in range(rows):
        cells = [
            (t0 + dt.timedelta(minutes=9 * i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            f"t-{i}",
            rng.choice(["k-alpha", "k-beta", "", SECRET]),
            rng.choice(["alpha", "beta", ""]),
            rng.choice(["openai", " Anthropic ", ""]),
            rng.choice(["gpt-4.1", "claude-sonnet"]),
            rng.choice(["llm", "LLM", "voice", ""]),
            str(rng.randint(0, 5000)),
            str(rng.randint(0, 900)),
            f"{rng.random() * 3:.6f}" if rng.random() > 0.1 else "",
            rng.choice(["prod", '"prod,batch"', "", '" b ,a,a"']),
            rng.choice(["success", "error", "OK", "failed"]),
            rng.choice(["", "running", "Paused"]),
            rng.choice(["", "source"]),
            rng.choice(["team-a", ""]),
            "",
            "x",
        ]
        lines.append(cells)
    lines[1][0] = "not-a-time"
    lines[2][0] = "2026-10-04 10:00:00"  # naive: taken as UTC, counted
    lines[3][0] = "2026-10-04T11:30:00+05:30"
    lines[4][0] = ""
    lines[5][9] = "abc"
    lines[6][9] = "-1"
    lines[7][9] = '"1,234.5"'
    lines[8][9] = "NaN"
    lines[9][9] = "2e13"
    lines[10][7] = "12.5"
    lines[11][7] = "x"
    lines[12][7] = "99999999999999999999"
    lines[13][7] = " 42 "
    lines[14][10] = '"[""prod"", ""x\\""y""]"'
    lines[15][10] = '"[""broken"'
    lines[16][6] = "gpu"
    lines[17][11] = f"maybe {SECRET}"  # an unknown status quoting a secret: shown masked
    lines[18][12] = "sleeping"
    lines[19][13] = "guess"
    lines[20][15] = "-1"
    lines[21][1] = "a-20"  # repeats a row of the first Parquet file
    lines[22][1] = "t-30"  # repeated within the file, later row
    lines[23][5] = "m" * (1024 * 1024 + 10)  # a field past the 1 MiB limit
    lines[24] = lines[24][:5]  # ragged: too few fields
    lines[25] = lines[25][:16]  # ragged: one field short
    lines[26][2] = f"  {SECRET}  "
    lines[-1] = lines[-1][:9]  # the last row cut short (no line end either)
    text = "\r\n".join(",".join(r) for r in [header, *lines])  # CRLF, no final line end
    p_csv = out / "usage-2026-10-04.csv"
    p_csv.write_bytes(b"\xef\xbb\xbf" + text.encode())
    paths = [p_csv]

    t1 = dt.datetime(2026, 10, 5, tzinfo=dt.timezone.utc)
    recs: list[str] = []
    for i in range(rows):
        rec = {
            "ts": (t1 + dt.timedelta(minutes=10 * i)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "request_id": f"j-{i}",
            "key_id": rng.choice(["k-alpha", "k-gamma", None, SECRET]),
            "provider": rng.choice(["openai", "OpenAI", None]),
            "model": rng.choice(["gpt-4.1", "o3"]),
            "input_tokens": rng.randint(0, 5000),
            "output_tokens": float(rng.randint(0, 900)),
            "cost_cents": round(rng.random() * 3, 6) if rng.random() > 0.1 else None,
            "tags": rng.choice([["prod"], ["b", "a", "a"], [], None]),
            "status": rng.choice(["success", "error", 200]),
            "extra": {"nested": [1, 2]},
        }
        recs.append(json.dumps(rec))
    recs[1] = recs[1].replace('"ts": "', '"ts": "x')  # unparseable
    recs[2] = json.dumps({"ts": "2026-10-05 08:00", "request_id": "j-naive", "cost_cents": 1.5})  # naive
    recs[3] = json.dumps({"ts": "2026-10-05T09:00:00Z", "cost_cents": "-2", "request_id": "j-neg"})
    recs[4] = json.dumps({"ts": "2026-10-05T09:00:00Z", "cost_cents": 1, "input_tokens": 1.5, "request_id": "j-frac"})
    recs[5] = "[1, 2, 3]"  # not an object
    recs[6] = '{"ts": "2026-10-05T09:00:00Z", "cost_cents": 1, broken'  # not JSON
    recs[7] = '{"ts": "2026-10-05T09:00:00Z", "key_id": "' + SECRET + '", "cost_cents": oops}'  # secret in a bad line
    recs[8] = '{"ts": "2026-10-05T09:00:00Z", "d": ' + "[" * 80 + "]" * 80 + "}"  # nested past the limit
    recs[9] = '{"ts": "2026-10-05T09:00:00Z", "input_tokens": ' + "9" * 120 + "}"  # an integer past the limit
    recs[10] = ""  # a blank line: skipped, not a row
    recs[11] = json.dumps({"request_id": "j-nots", "cost_cents": 1})  # no time
    recs[12] = json.dumps({"ts": "2026-10-05T10:00:00Z", "request_id": "t-40", "cost_cents": 2})  # repeats the CSV
    recs[13] = json.dumps({"ts": "2026-10-05T10:00:00Z", "request_id": "b-50", "cost_cents": 2})  # repeats Parquet 2
    recs[14] = json.dumps({"ts": 1760000000, "request_id": "j-num", "cost_cents": 2})  # a number is no time
    recs[15] = json.dumps({"ts": "2026-10-05T10:00:00Z", "request_id": "j-ax", "axis": "gpu", "cost_cents": 2})
    recs[16] = json.dumps({"ts": "2026-10-05T10:00:00Z", "request_id": "j-tags", "tags": '["broken', "cost_cents": 1})
    recs[-1] = recs[-1][: len(recs[-1]) // 2]  # the last line cut short
    p_jsonl = out / "usage-2026-10-05.jsonl"
    p_jsonl.write_text("\n".join(recs))
    paths.append(p_jsonl)
    return paths


def count_rows_to_python(mp) -> list[int]:
    """Patch (with the ``pytest.MonkeyPatch`` ``mp``) every way a Spark DataFrame hands rows to
    Python (``toArrow``, ``collect``, ``toPandas``) to record how many rows each call returned;
    the list fills as the load runs."""
    import pyspark.sql.dataframe as sdf

    seen: list[int] = []
    originals = {name: getattr(sdf.DataFrame, name) for name in ("toArrow", "collect", "toPandas")}

    def counting(name):
        def wrapper(self, *a, **k):
            out = originals[name](self, *a, **k)
            seen.append(out.num_rows if hasattr(out, "num_rows") else len(out))
            return out

        return wrapper

    for name in originals:
        mp.setattr(sdf.DataFrame, name, counting(name))
    return seen
