"""Each crash class the fuzz run found, pinned by a small file written here: kept, rejected with its
reason, or a clear SourceError naming the file, never a traceback."""

from __future__ import annotations

import gzip
import json

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import usagekit
from usagekit.errors import SourceError
from usagekit.sources._io import MAX_FIELD_BYTES, MAX_JSON_DEPTH, MAX_JSON_INT_DIGITS

HEAD = "ts,request_id,key_id,input_tokens,cost_cents"


def _csv(tmp_path, rows, name="u.csv", head=HEAD, newline="\n"):
    path = tmp_path / name
    path.write_bytes((newline.join([head, *rows]) + newline).encode("utf-8", "surrogatepass"))
    return path


def _reasons(usage) -> dict[str, int]:
    return usage.load_report.reasons


# -- CSV -------------------------------------------------------------------------------------------------
def test_a_field_over_128_kib_is_read_and_one_over_the_cap_rejects_its_row(tmp_path):
    big = "x" * (200 * 1024)  # above the csv module's default limit, under ours
    huge = "y" * (MAX_FIELD_BYTES + 1)
    path = _csv(
        tmp_path,
        [
            f"2026-10-01T00:00:00Z,r1,{big},5,1.5",
            "2026-10-01T00:00:00Z,r2,k,5,2.5",
            f'2026-10-01T00:00:00Z,r3,"{huge}",5,4',
        ],
    )
    usage = usagekit.load(path)
    assert usage.load_report.kept == 2 and usage.load_report.rejected == 1
    assert _reasons(usage) == {"a field is longer than 1 MiB (the most a field may hold)": 1}
    rej = usage.rejected.iloc[0]
    assert rej["row"] == 3 and rej["field"] == "key_id" and len(rej["value"]) < 100  # not the 1 MiB cell
    assert usage.lazy.collect()["key_id"].str.len_bytes().max() == 200 * 1024


def test_bare_cr_line_endings_read_as_rows(tmp_path):
    path = _csv(tmp_path, ["2026-10-01T00:00:00Z,r1,k,5,1.5", "2026-10-02T00:00:00Z,r2,k,6,2.5"], newline="\r")
    usage = usagekit.load(path)
    assert usage.load_report.kept == 2
    assert usage.to_pandas()["cost_cents"].tolist() == [1.5, 2.5]


def test_binary_bytes_in_a_csv_reject_the_row_they_break(tmp_path):
    path = tmp_path / "u.csv"
    path.write_bytes(
        (HEAD + "\n2026-10-01T00:00:00Z,r1,k,5,1.5\n").encode()
        + b"2026-10-01T00:00:00Z,r2,k\r\x01\x02,5,2.5\n2026-10-01T00:00:00Z,r3,k,5,3\n"
    )
    usage = usagekit.load(path)
    rep = usage.load_report
    assert rep.balanced and rep.kept == 2 and rep.rejected >= 1
    assert set(usage.to_pandas()["request_id"]) == {"r1", "r3"}


def test_two_columns_with_one_name_are_a_source_error(tmp_path):
    path = _csv(tmp_path, ["2026-10-01T00:00:00Z,r1,k,5,1.5"], head="ts,request_id,key_id, KEY_ID ,cost_cents")
    with pytest.raises(SourceError, match=r"u.csv field 'KEY_ID': column 'KEY_ID' appears twice"):
        usagekit.load(path)


# -- numbers and times -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "tokens, reason",
    [
        ("99999999999999999999", "input_tokens above the int64 maximum"),
        ("1e300", "input_tokens above the int64 maximum"),
        ("NaN", "input_tokens is not a finite number"),
        ("Infinity", "input_tokens is not a finite number"),
        ("-4", "negative input_tokens"),
    ],
)
def test_token_counts_out_of_range_reject_their_row(tmp_path, tokens, reason):
    path = _csv(tmp_path, [f"2026-10-01T00:00:00Z,r1,k,{tokens},1.5", "2026-10-01T00:00:00Z,r2,k,7,2"])
    usage = usagekit.load(path)
    assert _reasons(usage) == {reason: 1}
    assert usage.to_pandas()["input_tokens"].tolist() == [7]


def test_int64_counts_are_read_exactly(tmp_path):
    path = _csv(
        tmp_path, ["2026-10-01T00:00:00Z,r1,k,9223372036854775807,1.5", "2026-10-01T00:00:00Z,r2,k,9007199254740993,2"]
    )
    rows = usagekit.load(path).lazy.collect()
    assert rows["input_tokens"].to_list() == [9223372036854775807, 9007199254740993]


def test_nan_and_infinity_in_json_token_fields_reject_the_line(tmp_path):
    path = tmp_path / "u.jsonl"
    path.write_text(
        '{"ts": "2026-10-01T00:00:00Z", "request_id": "a", "cost_cents": 1, "output_tokens": NaN}\n'
        '{"ts": "2026-10-01T00:00:00Z", "request_id": "b", "cost_cents": 1, "output_tokens": Infinity}\n'
        '{"ts": "2026-10-01T00:00:00Z", "request_id": "c", "cost_cents": 1, "output_tokens": 3}\n'
    )
    usage = usagekit.load(path)
    assert _reasons(usage) == {"output_tokens is not a finite number": 2}
    assert usage.load_report.kept == 1


@pytest.mark.parametrize(
    "ts",
    [
        "-0001-01-01T00:00:00Z",
        "0000-01-01",
        "1969-12-31T23:59:59Z",
        "9999-12-31T00:00:00Z",  # its month's budget window would end in the year 10000
        "10000-01-01T00:00:00Z",
        "99999-12-31",
    ],
)
def test_years_outside_1970_to_9999_reject_their_row(tmp_path, ts):
    path = _csv(tmp_path, [f"{ts},r1,k,5,1.5", "2026-10-01T00:00:00Z,r2,k,5,2"])
    usage = usagekit.load(path)
    rep = usage.load_report
    assert rep.kept == 1 and rep.rejected == 1
    assert set(_reasons(usage)) <= {"timestamp outside 1970-01-01 to 9999-11-30", "unparseable timestamp"}
    assert str(rep)  # the accounting prints: no datetime conversion of an impossible year
    assert usage.to_pandas()["request_id"].tolist() == ["r2"]


def test_the_last_accepted_day_has_budget_windows_and_cards(tmp_path):
    path = _csv(tmp_path, ["9999-11-30T23:00:00Z,r1,k,5,1.5", "9999-11-01T00:00:00Z,r2,k,5,2"])
    usage = usagekit.load(path)
    assert usage.load_report.kept == 2
    cards = usage.key_summary()
    assert cards["spend_cents"].sum() == pytest.approx(3.5)
    assert str(cards["window_end"].iloc[0]) == "9999-11-30"


def test_an_openrouter_activity_row_dated_year_minus_one_is_rejected(tmp_path):
    path = tmp_path / "activity.json"
    path.write_text(
        json.dumps(
            {
                "data": [
                    {"date": "-0001-10-01", "model": "m", "usage": 0.5, "requests": 1},
                    {"date": "2026-10-01", "model": "m", "usage": 0.25, "requests": 1},
                ]
            }
        )
    )
    usage = usagekit.load(path)
    assert _reasons(usage) == {"timestamp outside 1970-01-01 to 9999-11-30": 1}
    assert usage.total()["cost_cents"] == pytest.approx(25.0)


# -- JSON ------------------------------------------------------------------------------------------------
def test_deeply_nested_json_is_a_source_error_naming_the_file(tmp_path):
    path = tmp_path / "costs.json"
    path.write_text('{"object": "page", "data": [' + "[" * 10_000 + "]" * 10_000 + "]}")
    with pytest.raises(
        SourceError,
        match=rf"costs.json: the JSON is beyond what usagekit reads: nested more than "
        rf"{MAX_JSON_DEPTH} levels deep",
    ):
        usagekit.load(path)


def test_a_deeply_nested_json_line_rejects_that_line(tmp_path):
    path = tmp_path / "u.jsonl"
    path.write_text(
        '{"ts": "2026-10-01T00:00:00Z", "request_id": "a", "cost_cents": 1}\n'
        '{"ts": "2026-10-01T00:00:00Z", "request_id": "b", "cost_cents": 1, "x": ' + "[" * 5000 + "]" * 5000 + "}\n"
    )
    usage = usagekit.load(path)
    assert _reasons(usage) == {f"line is beyond what usagekit reads: nested more than {MAX_JSON_DEPTH} levels deep": 1}


def test_an_integer_of_thousands_of_digits_is_a_source_error(tmp_path):
    path = tmp_path / "cost_report.json"
    path.write_text('{"data": [{"starting_at": "2026-10-01T00:00:00Z", "results": [{"amount": ' + "9" * 5000 + "}]}]}")
    with pytest.raises(
        SourceError,
        match=rf"cost_report.json: .*an integer has 5,000 digits \(more than "
        rf"{MAX_JSON_INT_DIGITS}\)",
    ):
        usagekit.load(path)


def test_a_lone_surrogate_escape_is_read_as_a_replacement_character(tmp_path):
    path = tmp_path / "u.jsonl"
    path.write_text(
        '{"ts": "2026-10-01T00:00:00Z", "request_id": "a\\ud800b", "model": "\\udfff", '
        '"cost_cents": 1}\n{"ts": "2026-10-01T00:00:00Z", "request_id": "c", "cost_cents": 2, '
        '"model": "\\ud83d\\ude00"}\n'
    )
    rows = usagekit.load(path).to_pandas()
    assert rows["request_id"].tolist() == ["a\ufffdb", "c"]
    assert rows["model"].tolist() == ["\ufffd", "\U0001f600"]  # a real surrogate pair stays the emoji


@pytest.mark.parametrize(
    "doc",
    [
        '{"data": []}',
        '{"data": [], "has_more": false, "next_page": null}',
        '[{"data": []}]',
        '{"object": "page", "data": [], "has_more": false}',
    ],
)
def test_an_empty_api_page_loads_as_no_rows(tmp_path, doc):
    path = tmp_path / "page.json"
    path.write_text(doc)
    usage = usagekit.load(path)
    assert usage.load_report.read == 0 and usage.total()["cost_cents"] == 0


@pytest.mark.parametrize(
    "doc, where",
    [
        ({"llm": {"daily": [{"date": "2026-10-01", "totalCents": 5, "models": [None]}]}}, "llm.daily[0].models[0]"),
        ({"llm": {"daily": [{"date": "2026-10-01", "agents": ["a"]}]}}, "llm.daily[0].agents[0]"),
        ({"compute": {"daily": [{"date": "2026-10-01", "plainVms": [[1]]}]}}, "compute.daily[0].plainVms[0]"),
        ({"voice": {"daily": [{"date": "2026-10-01", "models": {"m": 1}}]}}, "voice.daily[0].models"),
        ({"llm": {"daily": [7]}}, "llm.daily[0]"),
    ],
)
def test_wrong_shapes_inside_api_usage_name_their_place(tmp_path, doc, where):
    path = tmp_path / "api.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(
        SourceError, match=rf"api.json field '{where.replace('[', '.').replace(']', '.')}".replace(".", r"[\[\].]")
    ):
        usagekit.load(path)


def test_huge_and_non_finite_api_usage_amounts_are_rejected_not_summed(tmp_path):
    path = tmp_path / "api.json"
    path.write_text(
        json.dumps(
            {
                "llm": {
                    "daily": [
                        {
                            "date": "2026-10-01",
                            "totalCents": 1e308,
                            "models": [{"model": "a", "costCents": 1e308}, {"model": "b", "costCents": 2.5}],
                        }
                    ]
                }
            }
        )
    )
    usage = usagekit.load(path)
    assert usage.load_report.rejected >= 1 and usage.total()["cost_cents"] == pytest.approx(2.5)


def test_openai_transcription_seconds_of_the_wrong_type_do_not_crash(tmp_path):
    path = tmp_path / "usage.json"
    page = {
        "object": "page",
        "data": [
            {
                "object": "bucket",
                "start_time": 1790985600,
                "end_time": 1791072000,
                "results": [
                    {
                        "object": "organization.usage.audio_transcriptions.result",
                        "seconds": ["x"],
                        "num_model_requests": 2,
                        "model": "w",
                    }
                ],
            }
        ],
    }
    path.write_text(json.dumps(page))
    usage = usagekit.load(path)
    assert _reasons(usage) == {"seconds is not a number of seconds": 1}


# -- Parquet ---------------------------------------------------------------------------------------------
def _parquet(tmp_path, table, name="u.parquet"):
    path = tmp_path / name
    pq.write_table(table, path)
    return path


def _base():
    return {
        "ts": pa.array([1790985600_000000, 1791072000_000000], pa.timestamp("us", "UTC")),
        "request_id": ["r1", "r2"],
        "cost_cents": [1.5, 2.5],
    }


def test_parquet_with_padded_column_names_loads(tmp_path):
    t = pa.table(_base()).rename_columns([" ts", "request_id ", " cost_cents "])
    usage = usagekit.load(_parquet(tmp_path, t))
    assert usage.load_report.kept == 2 and usage.total()["cost_cents"] == pytest.approx(4.0)


def test_parquet_binary_and_list_columns_are_checked_like_text(tmp_path):
    cols = _base()
    cols["request_id"] = pa.array([b"r1", b"\xffr2"], pa.binary())
    cols["cost_cents"] = pa.array([b"1.5", b"oops"], pa.binary())
    cols["input_tokens"] = pa.array([[1], [2]], pa.list_(pa.int64()))
    usage = usagekit.load(_parquet(tmp_path, pa.table(cols)))
    assert _reasons(usage) == {"cost is not a number": 1} or usage.load_report.rejected == 2
    assert usage.load_report.balanced


def test_parquet_unsigned_counts_above_int64_reject_their_row(tmp_path):
    cols = _base()
    cols["input_tokens"] = pa.array([2**64 - 1, 5], pa.uint64())
    usage = usagekit.load(_parquet(tmp_path, pa.table(cols)))
    assert _reasons(usage) == {"input_tokens above the int64 maximum": 1}
    assert usage.to_pandas()["input_tokens"].tolist() == [5]


def test_parquet_dictionary_and_decimal_columns_load(tmp_path):
    from decimal import Decimal

    cols = _base()
    cols["model"] = pa.array(["a", "b"]).dictionary_encode()
    cols["cost_cents"] = pa.array([Decimal("1.50"), Decimal("2.25")], pa.decimal128(10, 2))
    usage = usagekit.load(_parquet(tmp_path, pa.table(cols)))
    assert usage.load_report.kept == 2 and usage.total()["cost_cents"] == pytest.approx(3.75)


def test_focus_parquet_with_list_and_binary_columns_loads(tmp_path):
    df = pl.DataFrame(
        {
            "ChargePeriodStart": ["2026-10-01T00:00:00Z"],
            "BilledCost": ["1.25"],
            "ServiceName": [b"gpt-4o"],
            "Tags": [["a", "b"]],
        }
    )
    usage = usagekit.load(_parquet(tmp_path, df.to_arrow(), "focus.parquet"))
    assert usage.load_report.kept == 1 and usage.to_pandas()["model"].tolist() == ["gpt-4o"]


# -- the key registry ------------------------------------------------------------------------------------
def test_registry_rows_cut_short_or_with_bad_values_are_rejected_with_reasons(tmp_path):
    usage_csv = _csv(tmp_path, ["2026-10-01T00:00:00Z,r1,k1,5,1.5"])
    keys = tmp_path / "keys.csv"
    keys.write_text(
        "key_id,key_name,account_id,spend_cap_cents,agent_id\n"
        "k1,ok,acct_acme,5000,\n"
        "k2,cut,acct_glo\n"  # truncated: the account and the cap are cut off
        "k3,bad cap,acct_acme,12abc,\n"
        'k4,bad account,"acct\x01x",100,\n'
        "k5,huge,acct_acme,1e30,\n"
    )
    usage = usagekit.load(usage_csv, keys=keys)
    assert usage.keys["key_id"].tolist() == ["k1"]
    rep = usage.load_report
    assert rep.registry_rejected == 4 and rep.registry_rejected_keys == ("k2", "k3", "k4", "k5")
    (fr,) = [f for f in rep.files if f.keys_rejected]
    reasons = dict(zip(fr.key_rejects["key_id"], fr.key_rejects["reason"]))
    assert reasons["k2"] == "row has 3 fields but the header has 5"
    assert reasons["k3"].startswith("spend_cap_cents is not a number")
    assert reasons["k4"].startswith("account_id is not an id")
    assert reasons["k5"].startswith("spend_cap_cents is above the maximum")
    assert "4 key registry rows rejected" in str(rep) and "cap unknown for 4 key(s)" in str(rep)
    text = rep.details()
    assert "key registry" in text and "4 row(s) rejected, 1 kept" in text and "cap unknown for 4 key(s)" in text


def test_registry_rejected_keys_is_empty_when_every_row_is_good(tmp_path):
    keys = tmp_path / "keys.csv"
    keys.write_text("key_id,spend_cap_cents\nk1,100\nk2,\n")
    usage = usagekit.load(_csv(tmp_path, ["2026-10-01T00:00:00Z,r1,k1,5,1.5"]), keys=keys)
    assert usage.load_report.registry_rejected_keys == () and usage.load_report.registry_rejected == 0


def test_a_key_given_twice_keeps_one_identical_row_and_rejects_conflicting_ones(tmp_path):
    keys = tmp_path / "keys.csv"
    keys.write_text("key_id,spend_cap_cents\nk1,100\nk1,100\nk2,100\nk2,900\n")
    usage = usagekit.load(_csv(tmp_path, ["2026-10-01T00:00:00Z,r1,k1,5,1.5"]), keys=keys)
    assert usage.keys.set_index("key_id")["spend_cap_cents"].to_dict() == {"k1": 100.0}
    assert usage.load_report.registry_rejected_keys == ("k2",)


def test_gzip_cut_short_is_a_source_error(tmp_path):
    path = tmp_path / "u.csv.gz"
    path.write_bytes(gzip.compress((HEAD + "\n2026-10-01T00:00:00Z,r1,k,5,1.5\n").encode())[:30])
    with pytest.raises(SourceError, match="gzip data is truncated or corrupt"):
        usagekit.load(path, format="canonical")


def test_a_parquet_file_with_corrupt_data_pages_is_a_source_error_naming_it(tmp_path):
    t = pa.table({**_base(), "model": ["gpt-4o-" + "x" * 40, "claude-" + "y" * 40]})
    path = tmp_path / "day.parquet"
    pq.write_table(t, path, compression="zstd")
    data = bytearray(path.read_bytes())
    footer = int.from_bytes(data[-8:-4], "little")
    for i in range(4, len(data) - footer - 8, 7):  # scramble the data pages, keep the footer readable
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))
    with pytest.raises(SourceError, match=r"day.parquet: the file's data cannot be decoded"):
        usagekit.load(path)


def test_an_error_message_quoting_a_cell_masks_a_key_secret(tmp_path):
    secret = "sk-ant-api03-" + "Qw7" * 12
    path = tmp_path / "u.json"
    path.write_text(json.dumps({"llm": {"daily": [{"date": "2026-10-01", "models": [secret]}]}}))
    with pytest.raises(SourceError) as err:
        usagekit.load(path)
    assert secret not in str(err.value)
    err = SourceError("f.csv", f"cell '{secret}' is odd", expected=f"not {secret}")
    assert secret not in str(err) and secret not in err.problem and "sk-ant-api03-...7Qw7#" in str(err)


def test_a_far_future_row_makes_an_unscoped_daily_table_a_query_error_not_a_hang(tmp_path):
    path = _csv(tmp_path, ["2026-10-01T00:00:00Z,r1,k,5,1.5", "9999-11-30T00:00:00Z,r2,k,5,2"])
    usage = usagekit.load(path)
    assert usage.load_report.kept == 2  # the last accepted day: kept
    with pytest.raises(usagekit.UsagekitError, match=r"filter to a range first"):
        usage.daily("key")
    assert usage.filter(month="2026-10").daily("key")["cost_cents"].sum() == pytest.approx(1.5)


def test_an_openrouter_key_list_entry_of_the_wrong_shape_names_its_place(tmp_path):
    path = tmp_path / "keys.json"
    path.write_text(
        json.dumps(
            {
                "data": [
                    {"name": "k1", "limit": 5, "limit_reset": "monthly"},
                    [{"name": "k2", "limit": 5, "limit_reset": "monthly"}],
                ]
            }
        )
    )
    with pytest.raises(SourceError, match=r"keys.json field 'data\[1\]': a key entry is not an object"):
        usagekit.load([_csv(tmp_path, ["2026-10-01T00:00:00Z,r1,k1,5,1.5"]), path])


def test_a_cap_of_zero_cents_is_a_cap_not_a_crash(tmp_path):
    keys = tmp_path / "keys.csv"
    keys.write_text("key_id,spend_cap_cents\nk1,-0\n")
    usage = usagekit.load(_csv(tmp_path, [f"2026-10-{d:02d}T00:00:00Z,r{d},k1,5,1.5" for d in range(1, 20)]), keys=keys)
    summary = usage.filter(month="2026-10").key_summary(as_of="2026-10-20").set_index("key_id")
    assert summary.loc["k1", "spend_cap_cents"] == 0
