"""FinOps FOCUS 1.2 cost and usage exports (CSV).

A gateway's FOCUS rows map as: ``ChargePeriodStart`` -> ``ts``, ``BilledCost`` (else
``EffectiveCost``; USD) -> cost, ``ProviderName`` -> provider, ``ServiceName`` (or a custom
``x_Model``) -> model, ``ResourceId`` / ``ResourceName`` -> key, ``SubAccountId`` (else
``BillingAccountId``) -> account. Rows are buckets (``request_id`` null; ``x_Requests`` gives
requests when present). Charges that are not usage (``ChargeCategory`` Purchase, Tax, Credit,
Adjustment) and currencies other than USD are rejected with their reason, so they are counted,
never silently dropped. ``ConsumedQuantity`` is read as input tokens only when its unit says
input or prompt tokens.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from ..errors import SourceError
from ._io import Probe, read_csv_strings
from ._stage import stage
from .base import Format, Loaded, pick


def sniff(probe: Probe) -> bool:
    c = probe.columns
    return "chargeperiodstart" in c and bool(c & {"billedcost", "effectivecost"})


def read(path: Path, probe: Probe) -> Loaded:
    df, shown = read_csv_strings(path)
    cols = set(df.columns)
    if pick(cols, "ChargePeriodStart") is None or pick(cols, "BilledCost", "EffectiveCost") is None:
        raise SourceError(shown, "missing required column 'BilledCost' or 'ChargePeriodStart'", field="BilledCost",
                          expected="a FOCUS 1.2 export (ChargePeriodStart, BilledCost, ProviderName, ServiceName, ...)")

    def col(*names) -> pl.Expr:
        f = pick(cols, *names)
        return pl.col(f) if f else pl.lit(None, pl.String)

    category = col("ChargeCategory").str.strip_chars()
    currency = col("BillingCurrency").str.strip_chars().str.to_uppercase()
    unit = col("ConsumedUnit").str.to_lowercase()
    bad_category = category.is_not_null() & (category.str.to_lowercase() != "usage")
    bad_currency = currency.is_not_null() & (currency != "USD")
    mapped = df.select(
        "_row",
        pl.coalesce(pl.col("_reject"),
                    pl.when(bad_category).then(pl.lit("not a usage charge (ChargeCategory=") + category + pl.lit(")")),
                    pl.when(bad_currency).then(pl.lit("currency ") + currency + pl.lit(" is not USD"))).alias("_reject"),
        pl.coalesce(pl.col("_field"), pl.when(bad_category).then(pl.lit("ChargeCategory")),
                    pl.when(bad_currency).then(pl.lit("BillingCurrency"))).alias("_field"),
        pl.coalesce(pl.col("_value"), pl.when(bad_category).then(category),
                    pl.when(bad_currency).then(currency)).alias("_value"),
        col("ChargePeriodStart").alias("ts"),
        pl.coalesce(col("BilledCost"), col("EffectiveCost")).alias("cost_cents"),
        col("ProviderName").alias("provider"),
        pl.coalesce(col("x_Model", "x_model"), col("ServiceName")).alias("model"),
        col("ResourceId").alias("key_id"), col("ResourceName").alias("key_name"),
        pl.coalesce(col("SubAccountId"), col("BillingAccountId")).alias("account_id"),
        pl.coalesce(col("x_Requests", "x_requests"), pl.lit("0")).alias("requests"),
        pl.when(unit.str.contains("token") & unit.str.contains("input|prompt")).then(col("ConsumedQuantity"))
        .alias("input_tokens"),
    )
    return Loaded("focus", shown, stage(mapped, file=shown, source="focus", cost_scale=100.0))


FORMAT = Format("focus", "FinOps FOCUS 1.2 cost and usage export", ("csv",), sniff, read)
