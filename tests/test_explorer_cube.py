"""The explorer's in-memory cube answers as the query layer does, under every filter it offers."""

from __future__ import annotations

import datetime as dt
import itertools

import numpy as np
import pandas as pd
import pytest

import usagekit
from usagekit import queries as q
from usagekit.explorer_cube import BREAKDOWNS, DayCube, _finish


@pytest.fixture(scope="module")
def cubes(demo_dir):
    usage = usagekit.load(demo_dir).rollup()
    return usage, DayCube(usage.over(None, None).cube)


def _names(values) -> list:
    return [None if v is None or (isinstance(v, float) and np.isnan(v)) else v for v in values]


def _filters(usage) -> list[dict]:
    month = usage.filter(month="2026-10")
    provider = [p for p in month.breakdown("provider")["provider"] if p != q.COMPUTE_LABELS["provider"]][0]
    model = month.breakdown("model")["model"].iloc[1]
    account = month.breakdown("account")["account"].iloc[0]
    keys = list(month.breakdown("key")["key"].iloc[:3])
    return [
        {},
        {"providers": [provider]},
        {"providers": [q.COMPUTE_LABELS["provider"]]},  # compute rows: no provider, named as the chart names them
        {"models": [model], "account": [account]},
        {"models": [q.COMPUTE_LABELS["model"]]},
        {"keys": keys},
        {"keys": [q.COMPUTE_LABELS["key"], keys[0]]},
        {"keys": []},  # a key search matching nothing
        {"providers": [provider.upper()]},  # the query layer's case rule holds
    ]


@pytest.mark.parametrize(
    "start,end", [(dt.date(2026, 10, 1), dt.date(2026, 10, 31)), (dt.date(2026, 9, 25), dt.date(2026, 10, 9))]
)
def test_daily_breakdown_and_total_equal_the_query_layer(cubes, start, end):
    usage, cube = cubes
    first, after = q.day_number(start), q.day_number(end) + 1
    for f, by in itertools.product(_filters(usage), BREAKDOWNS):
        scoped = usage.filter(start=start, end=end, **f)
        mask = cube.mask(first, after, **f)
        want, got = scoped.daily(by), cube.daily(mask, by, first, after)
        assert list(got.columns) == list(want.columns)
        assert got[["date", by]].values.tolist() == want[["date", by]].values.tolist(), (f, by)
        for col in ("requests", "input_tokens", "output_tokens", "unpriced_rows", "estimated_rows"):
            assert got[col].tolist() == want[col].tolist(), (f, by, col)
        for col in ("cost_cents", "estimated_cents", "hours"):
            assert got[col].tolist() == pytest.approx(want[col].tolist(), rel=1e-12, abs=1e-12), (f, by, col)
        if f"{by}_name" in want:
            assert _names(got[f"{by}_name"]) == _names(want[f"{by}_name"])
        per = scoped.breakdown(by).sort_values(by).reset_index(drop=True)
        mine = cube.per_value(mask, by)
        assert mine[by].tolist() == per[by].tolist()
        assert mine["requests"].tolist() == per["requests"].tolist()
        assert mine["cost_cents"].tolist() == pytest.approx(per["cost_cents"].tolist(), rel=1e-12, abs=1e-12)
        total, mine_total = scoped.total(), cube.total(mask)
        assert mine_total["requests"] == total["requests"]
        assert mine_total["cost_cents"] == pytest.approx(total["cost_cents"], rel=1e-12, abs=1e-12)


def test_a_mask_is_made_once_per_filter_value(cubes):
    usage, cube = cubes
    f = _filters(usage)[1]
    a = cube.mask(0, 10**6, **f)
    n = len(cube._masks)
    b = cube.mask(0, 10**6, **f)
    assert len(cube._masks) == n and (a == b).all() and a.any() and not a.all()
    with pytest.raises(ValueError, match="no mask for filter 'tags'"):
        cube.mask(0, 10**6, tags=["prod"])


def test_money_is_finished_as_the_query_layer_finishes_it_even_past_float_precision():
    """Whole cents and nano-cents beyond 2^52 are combined in Python integers (one rounding)."""
    hi = np.array([0, 12, 4_503_599, 4_503_600, 9 * 10**15, -(10**14)], dtype=np.int64)
    mid = np.array([5, 999_999_999, 1, 2**52 + 7, 123, -5], dtype=np.int64)
    lo = np.array([1e-12, 0.0, 3e-11, 0.0, 2e-10, -1e-12])
    want = q.finish_money(pd.DataFrame({"_c_hi": hi, "_c_mid": mid, "_c_lo": lo}))["cost_cents"].tolist()
    assert _finish(hi, mid, lo).tolist() == want
