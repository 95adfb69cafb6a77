"""FinOps FOCUS 1.2 cost and usage exports (CSV, gzip CSV or Parquet).

A gateway's FOCUS rows map as: ``ChargePeriodStart`` -> ``ts``, ``BilledCost`` (else
``EffectiveCost``; USD) -> cost, ``ProviderName`` -> provider, a custom ``x_Model`` (else
``ServiceName``) -> model, ``ResourceId`` / ``ResourceName`` -> key, ``SubAccountId`` (else
``BillingAccountId``) -> account, whose name (``SubAccountName``, else ``BillingAccountName``)
is kept in the load's account names (``Usage.account_names``), not on every row. Rows are buckets (``request_id`` null; ``x_Requests``, or a
quantity whose unit is requests, gives requests). Charges that are not usage
(``ChargeCategory`` Purchase, Tax, Credit, Adjustment) and currencies other than USD are
rejected with their reason, so they are counted, never silently dropped.

Token counts: ``ConsumedQuantity`` in ``ConsumedUnit`` (else ``PricingQuantity`` in
``PricingUnit``) when the unit is tokens, scaled by the unit's own multiplier (``1000 Tokens``,
``1M Tokens``). Which kind of token comes from ``SkuMeter``, the unit or ``ChargeDescription``:
input / prompt, output / completion, and cache reads (counted as input and as cached input).

usagekit's own FOCUS export (:mod:`usagekit.export`) adds custom columns that win over the
inference when present: ``x_InputTokens``, ``x_OutputTokens``, ``x_CachedInputTokens``,
``x_ReasoningTokens``, ``x_Axis``, ``x_Model`` (taken as written, even empty), and
``x_Unpriced`` (``true``: usage with no cost recorded, read back as unpriced rather than as
the $0 FOCUS had to write).

``Tags`` (a JSON object of key/value pairs) become the row's tags as ``key:value`` strings
(``{"env": "prod", "team": "research"}`` -> ``env:prod``, ``team:research``; a key with an
empty or null value is the bare key). A ``Tags`` cell that is not a JSON object is noted.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from ..errors import SourceError
from ..masking import redact_expr
from ..schema import ACCOUNT_COLUMNS
from ._io import Probe, read_csv_strings, read_parquet_strings
from ._stage import parse_tags, stage
from .base import Format, Loaded, column, pick


def sniff(probe: Probe) -> bool:
    c = probe.columns
    return "chargeperiodstart" in c and bool(c & {"billedcost", "effectivecost"})


def _multiplier(unit: pl.Expr) -> pl.Expr:
    """The count one unit stands for: ``1000 Tokens`` -> 1000, ``1M Tokens`` -> 1e6, ``Tokens`` -> 1."""
    m = unit.str.extract(r"^\s*([\d.,]+)\s*([kKmM])?\b", 1).str.replace_all(",", "").cast(pl.Float64, strict=False)
    suffix = unit.str.extract(r"^\s*[\d.,]+\s*([kKmM])\b", 1).str.to_lowercase()
    scale = pl.when(suffix == "k").then(1e3).when(suffix == "m").then(1e6).otherwise(1.0)
    return pl.coalesce(m * scale, pl.lit(1.0))


def num(e: pl.Expr) -> pl.Expr:
    return e.str.strip_chars().str.replace_all(",", "").cast(pl.Float64, strict=False)


def _quantities(col) -> dict[str, pl.Expr]:
    """Token and request counts of a row, from its quantities, units, meter and description."""
    c_unit, p_unit = col("ConsumedUnit").str.to_lowercase(), col("PricingUnit").str.to_lowercase()
    tokens = pl.coalesce(
        pl.when(c_unit.str.contains("token")).then(num(col("ConsumedQuantity")) * _multiplier(c_unit)),
        pl.when(p_unit.str.contains("token")).then(num(col("PricingQuantity")) * _multiplier(p_unit)),
    ).round(6)
    requests = pl.coalesce(
        pl.when(c_unit.str.contains("request")).then(num(col("ConsumedQuantity")) * _multiplier(c_unit)),
        pl.when(p_unit.str.contains("request")).then(num(col("PricingQuantity")) * _multiplier(p_unit)),
    ).round(6)
    words = pl.concat_str(
        [col("SkuMeter"), c_unit, col("ChargeDescription")], separator=" ", ignore_nulls=True
    ).str.to_lowercase()
    cached = words.str.contains(r"cache[ds]?[ _-]*(read|hit)|cached")
    is_input = cached | words.str.contains(r"input|prompt|cache")
    is_output = ~is_input & words.str.contains(r"output|completion")
    return {
        "input_tokens": pl.coalesce(col("x_InputTokens"), pl.when(is_input).then(tokens).cast(pl.String)),
        "output_tokens": pl.coalesce(col("x_OutputTokens"), pl.when(is_output).then(tokens).cast(pl.String)),
        "cached_input_tokens": pl.coalesce(col("x_CachedInputTokens"), pl.when(cached).then(tokens).cast(pl.String)),
        "reasoning_tokens": col("x_ReasoningTokens"),
        # x_Requests as written, so a bad value is a rejected row, not a silent 0
        "requests": pl.coalesce(col("x_Requests", "x_requests"), requests.cast(pl.String), pl.lit("0")),
    }


_PAIR = r'"((?:[^"\\]|\\.)*)"\s*:\s*("(?:[^"\\]|\\.)*"|[^,}\s]+)'


def focus_tags(raw: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """FOCUS ``Tags`` text -> (list of ``key:value`` strings, cell-not-understood flag)."""
    s = raw.str.strip_chars()
    is_object = s.str.starts_with("{") & s.str.ends_with("}")
    pairs = s.str.extract_all(_PAIR).list.eval(
        pl.element()
        .str.replace(r'^"((?:[^"\\]|\\.)*)"\s*:\s*"?', "$1:")
        .str.replace(r'"$', "")
        .str.replace(r":(null)?$", "")
    )
    listed, bad_list = parse_tags(s)
    tags = pl.when(is_object).then(pairs).otherwise(listed)
    odd = s.is_not_null() & (s != "") & ~is_object & (bad_list | ~s.str.starts_with("["))
    return tags, odd.fill_null(False)


def read(path: Path, probe: Probe) -> Loaded:
    df, shown = read_parquet_strings(path) if probe.kind == "parquet" else read_csv_strings(path)
    cols = set(df.columns)
    if pick(cols, "ChargePeriodStart") is None or pick(cols, "BilledCost", "EffectiveCost") is None:
        raise SourceError(
            shown,
            "missing required column 'BilledCost' or 'ChargePeriodStart'",
            field="BilledCost",
            expected="a FOCUS 1.2 export (ChargePeriodStart, BilledCost, ProviderName, ServiceName, ...)",
        )

    def col(*names) -> pl.Expr:
        return column(cols, *names, blank_is_null=True)

    category = col("ChargeCategory").str.strip_chars()
    currency = col("BillingCurrency").str.strip_chars().str.to_uppercase()
    bad_category = category.is_not_null() & (category.str.to_lowercase() != "usage")
    bad_currency = currency.is_not_null() & (currency != "USD")
    counts = _quantities(col)
    tags, odd_tags = focus_tags(col("Tags"))
    mapped = df.select(
        "_row",
        pl.coalesce(
            pl.col("_reject"),
            pl.when(bad_category).then(pl.lit("not a usage charge (ChargeCategory=") + category + pl.lit(")")),
            pl.when(bad_currency).then(pl.lit("currency ") + currency + pl.lit(" is not USD")),
        ).alias("_reject"),
        pl.coalesce(
            pl.col("_field"),
            pl.when(bad_category).then(pl.lit("ChargeCategory")),
            pl.when(bad_currency).then(pl.lit("BillingCurrency")),
        ).alias("_field"),
        pl.coalesce(pl.col("_value"), pl.when(bad_category).then(category), pl.when(bad_currency).then(currency)).alias(
            "_value"
        ),
        col("ChargePeriodStart").alias("ts"),
        pl.when(col("x_Unpriced").str.strip_chars().str.to_lowercase() == "true")
        .then(None)
        .otherwise(pl.coalesce(col("BilledCost"), col("EffectiveCost")))
        .alias("cost_cents"),
        col("x_Axis").alias("axis"),
        col("ProviderName").alias("provider"),
        # usagekit's own export (it writes x_Axis) keeps a row without a model without one
        (col("x_Model") if pick(cols, "x_Axis") else pl.coalesce(col("x_Model", "x_model"), col("ServiceName"))).alias(
            "model"
        ),
        col("ResourceId").alias("key_id"),
        col("ResourceName").alias("key_name"),
        pl.coalesce(col("SubAccountId"), col("BillingAccountId")).alias("account_id"),
        *[e.alias(name) for name, e in counts.items()],
        pl.when(odd_tags).then(None).otherwise(tags).alias("tags"),
    )
    notes = []
    accounts = account_names(df, col)
    n_odd = df.select(odd_tags.sum()).item()
    if n_odd:
        notes.append(
            f"{n_odd:,} Tags cell(s) are not a JSON object of key/value pairs: those rows are kept without tags"
        )
    return Loaded(
        "focus", shown, stage(mapped, file=shown, source="focus", cost_scale=100.0), notes=notes, accounts=accounts
    )


def account_names(df: pl.DataFrame, col) -> pl.DataFrame:
    """``account_id, account_name`` of the rows: the sub-account's name when the sub-account is the
    account, else the billing account's; ids masked as the rows' are; the last name given wins."""
    sub = col("SubAccountId")
    return (
        df.select(
            pl.coalesce(sub, col("BillingAccountId")).str.strip_chars().alias("account_id"),
            pl.when(sub.is_not_null())
            .then(col("SubAccountName"))
            .otherwise(col("BillingAccountName"))
            .str.strip_chars()
            .alias("account_name"),
        )
        .filter(pl.col("account_id").is_not_null() & pl.col("account_name").is_not_null())
        .with_columns(redact_expr("account_id"), redact_expr("account_name"))
        .unique(subset="account_id", keep="last", maintain_order=True)
        .select(ACCOUNT_COLUMNS)
    )


FORMAT = Format("focus", "FinOps FOCUS 1.2 cost and usage export", ("csv", "parquet"), sniff, read)
