"""Why a staged row is rejected: the reason texts, written once for every engine.

The Polars checks of :mod:`usagekit.sources._stage` and the Spark checks of
:mod:`usagekit.sources.spark_stage` both take their reasons from here (``tests/test_spark_load.py``
compares the rejected rows of both engines reason by reason).
"""

from __future__ import annotations

from ..money import MAX_COST_CENTS
from ..schema import AXES, COST_SOURCES

MISSING_TS = "missing timestamp"
UNPARSEABLE_TS = "unparseable timestamp"
TS_RANGE = "timestamp outside 1970-01-01 to 9999-11-30"
COST_NOT_NUMBER = "cost is not a number"
COST_NOT_FINITE = "cost is not a finite number"
COST_NEGATIVE = "negative cost"
COST_TOO_BIG = f"cost above the maximum of {MAX_COST_CENTS:.0e} cents ($10 billion) a row"
BAD_TAGS = 'tags is not a JSON list of strings (write e.g. ["prod", "batch"])'
BAD_AXIS = f"unknown axis (expected one of: {', '.join(AXES)})"
BAD_STATUS = "unknown status (expected success or error)"
BAD_STATE = "unknown state (expected running or paused)"
BAD_COST_SOURCE = f"unknown cost_source (expected one of: {', '.join(COST_SOURCES)})"
DUPLICATE = "duplicate request_id"


def negative(col: str) -> str:
    return f"negative {col}"


def not_number(col: str) -> str:
    return f"{col} is not a number"


def not_finite(col: str) -> str:
    return f"{col} is not a finite number"


def above_int64(col: str) -> str:
    return f"{col} above the int64 maximum"


def not_whole(col: str) -> str:
    return f"{col} is not a whole number"
