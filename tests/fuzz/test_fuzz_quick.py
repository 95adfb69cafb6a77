"""The quick fuzz run of the test suite: 300 hostile cases, not one defect.

``python benchmarks/fuzz.py --n 5000`` is the full run; this is its first 300 cases, plus a
hypothesis property over single CSV cells of every checked column.
"""

from __future__ import annotations

import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .runner import run
from .worker import check

QUICK_CASES = 300


def test_three_hundred_hostile_inputs_give_no_defect(tmp_path_factory):
    result = run(
        QUICK_CASES,
        seed=1,
        cache=tmp_path_factory.mktemp("fuzz-seeds"),
        defects_dir=tmp_path_factory.mktemp("fuzz-defects"),
    )
    assert sum(result.counts.values()) == QUICK_CASES
    # the harness must see every outcome a user can get, or it is not probing hard enough
    assert result.counts["clean"] and result.counts["rejected"] and result.counts["error"]
    assert not result.defects, result.summary()


HEADER = ["ts", "request_id", "key_id", "model", "input_tokens", "output_tokens", "requests", "cost_cents", "status"]
VALID = ["2026-10-01T10:00:00Z", "r1", "vk_1", "gpt-4o", "10", "5", "1", "0.25", "success"]
cells = st.one_of(
    st.text(max_size=40),
    st.text(string.digits + "-+.eE,xX_ ", max_size=30),
    st.integers(min_value=-(2**80), max_value=2**80).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(
        [
            "NaN",
            "inf",
            "-0",
            "1e308",
            "9" * 25,
            "-0001-01-01T00:00:00Z",
            "10000-01-01T00:00:00Z",
            "2026-10-01T00:00:00+99:99",
            "1761955200",
        ]
    ),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(column=st.sampled_from(range(len(HEADER))), value=cells)
def test_any_single_cell_is_kept_or_rejected_never_a_crash(tmp_path, column, value):
    import csv

    row = list(VALID)
    row[column] = value.replace("\x00", "")
    path = tmp_path / "usage.csv"
    with open(path, "w", newline="", encoding="utf-8", errors="surrogatepass") as fh:
        csv.writer(fh).writerows([HEADER, row])
    result = check(str(path))
    assert result["outcome"] in ("clean", "rejected"), (value, result)
