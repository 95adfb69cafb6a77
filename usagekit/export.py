"""Write a month of normalized usage for other tools: FinOps FOCUS 1.2, or usagekit's own columns.

``focus``: one FOCUS 1.2 row per UTC day x account x key x provider x model x axis x tag set
(a charge period of one day, ``ChargeCategory`` ``Usage``), carrying every column the 1.2
specification makes mandatory plus the conditional ones a gateway log can fill:

* cost: ``BilledCost`` = ``EffectiveCost`` = ``ListCost`` = ``ContractedCost`` = the gateway's
  recorded cost in US dollars (no negotiated discount or commitment is known to usagekit), the
  exact sum of the rows' continuous cents written with 10 decimals (no rounding to cents);
* ``ProviderName`` / ``PublisherName`` / ``InvoiceIssuerName`` = provider, ``ServiceName`` = model,
  ``ServiceCategory`` ``AI and Machine Learning`` (``Compute`` for VM time), ``SkuId``
  ``provider/model``;
* ``BillingAccountId`` / ``SubAccountId`` = account (``unassigned`` when a row has none); their
  ``...Name`` columns hold the account's name when known (:attr:`Usage.account_names`), else the id,
  ``ResourceId`` / ``ResourceName`` = key (already masked at load), ``Tags`` = the request tags as
  a JSON object (``env:prod`` -> ``"env": "prod"``, a bare tag -> ``"tag": null``);
* ``ConsumedQuantity`` / ``PricingQuantity`` in ``Tokens`` (LLM: input + output), ``Characters``
  (voice) or ``Hours`` (compute); custom columns ``x_Requests``, ``x_InputTokens``,
  ``x_OutputTokens``, ``x_CachedInputTokens``, ``x_ReasoningTokens``, ``x_Axis``, ``x_Model``,
  ``x_Unpriced``.

**Unpriced usage** (rows with no cost) is never merged into priced rows: it gets rows of its
own with the four cost columns ``0`` (FOCUS requires a number), ``x_Unpriced`` ``true`` and a
``ChargeDescription`` saying no cost was recorded. usagekit's FOCUS reader reads such rows back
as unpriced, so totals and unpriced counts survive the round trip; other tools see $0 and the
flag.

``csv`` / ``parquet``: the validated rows themselves in :data:`usagekit.schema.USAGE_COLUMNS`
(one row per request; in CSV, ``tags`` is a JSON list and an empty ``cost_cents`` means
unpriced), readable again by :func:`usagekit.load`.

>>> result = export(usagekit.load("demo/2026-10"), "2026-10", "focus", "october.focus.csv")  # doctest: +SKIP
>>> print(result)  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from . import queries as q
from .errors import UsagekitError, display_path
from .money import format_usd
from .schema import USAGE_COLUMNS

FORMATS = ("focus", "csv", "parquet")

#: the columns FOCUS 1.2 marks mandatory (every row must carry them; ChargeClass may be null)
FOCUS_MANDATORY = (
    "BilledCost",
    "BillingAccountId",
    "BillingAccountName",
    "BillingCurrency",
    "BillingPeriodEnd",
    "BillingPeriodStart",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "ChargePeriodEnd",
    "ChargePeriodStart",
    "ContractedCost",
    "EffectiveCost",
    "InvoiceIssuerName",
    "ListCost",
    "PricingQuantity",
    "PricingUnit",
    "ProviderName",
    "PublisherName",
    "ServiceCategory",
    "ServiceName",
)
FOCUS_OPTIONAL = (
    "ChargeFrequency",
    "ConsumedQuantity",
    "ConsumedUnit",
    "ResourceId",
    "ResourceName",
    "ResourceType",
    "SkuId",
    "SkuMeter",
    "SubAccountId",
    "SubAccountName",
    "Tags",
)
FOCUS_CUSTOM = (
    "x_Requests",
    "x_InputTokens",
    "x_OutputTokens",
    "x_CachedInputTokens",
    "x_ReasoningTokens",
    "x_Axis",
    "x_Model",
    "x_Unpriced",
)
FOCUS_COLUMNS = FOCUS_MANDATORY + FOCUS_OPTIONAL + FOCUS_CUSTOM
UNASSIGNED = "unassigned"

_UNITS = {
    "llm": ("Tokens", "AI and Machine Learning"),
    "voice": ("Characters", "AI and Machine Learning"),
    "compute": ("Hours", "Compute"),
}


class ExportError(UsagekitError):
    """An export cannot be written as asked."""


@dataclass
class Exported:
    path: Path
    format: str
    rows: int
    source_rows: int
    cost_cents: float
    unpriced_rows: int

    def __str__(self) -> str:
        unpriced = (
            f"; {self.unpriced_rows:,} unpriced source rows exported apart (x_Unpriced, cost 0)"
            if self.unpriced_rows and self.format == "focus"
            else f"; {self.unpriced_rows:,} unpriced rows (empty cost)"
            if self.unpriced_rows
            else ""
        )
        return (
            f"exported {self.rows:,} {self.format} rows ({self.source_rows:,} usage rows, "
            f"{format_usd(self.cost_cents)}){unpriced} to {display_path(self.path)}"
        )


def export(usage, month: str, format: str, out, account_id: str | None = None) -> Exported:
    """Write ``month`` of ``usage`` (optionally one account) to ``out`` as ``format``.

    ``focus`` is written as Parquet when ``out`` ends in ``.parquet``, else CSV. The file is
    written beside ``out`` and renamed into place. Months are UTC months (FOCUS charge
    periods are UTC); returns an :class:`Exported`.
    """
    if format not in FORMATS:
        raise ExportError(f"unknown export format '{format}'; expected one of: {', '.join(FORMATS)}")
    out = Path(out)
    if out.is_dir():
        raise ExportError(f"{display_path(out)} is a directory; pass a file name, e.g. {out / f'{month}.{format}'}")
    scoped = usage.filter(month=month, account=account_id)
    rows = _polars_rows(scoped.frame)
    total = scoped.total()
    if format == "focus":
        table = focus_rows(rows, month)
        names = usage.account_names
        if names:  # the account's name where an input or the registry gave one (it reads back the same)
            table = table.with_columns(
                pl.col(c).replace_strict(names, default=pl.col(c), return_dtype=pl.String)
                for c in ("BillingAccountName", "SubAccountName")
            )
    else:
        table = rows.select([c for c in USAGE_COLUMNS]).collect()
        if format == "csv":
            table = table.with_columns(
                pl.when(pl.col("tags").list.len() > 0)
                .then(pl.lit('["') + pl.col("tags").list.join('","') + pl.lit('"]'))
                .alias("tags"),
                pl.col("ts").dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ"),
            )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    if format == "parquet" or (format == "focus" and out.suffix == ".parquet"):
        table.write_parquet(tmp)
    else:
        table.write_csv(tmp)
    os.replace(tmp, out)
    return Exported(out, format, table.height, total["rows"], total["cost_cents"], total["unpriced_rows"])


def _polars_rows(frame) -> pl.LazyFrame:
    native = frame.to_native()
    if isinstance(native, pl.LazyFrame):
        return native
    return frame.collect(backend="polars").to_native().lazy()


def focus_rows(rows: pl.LazyFrame, month: str) -> pl.DataFrame:
    """FOCUS 1.2 rows from normalized rows (with the query columns of :func:`usagekit.usage.derive`)."""
    from .usage import month_range

    first, after = month_range(month)
    day = pl.col("ts").dt.replace_time_zone("UTC").dt.truncate("1d")
    groups = ["_charge_day", "account_id", "key_id", "key_name", "provider", "model", "axis", "_tagset", "_unpriced"]
    sums = ["requests", "input_tokens", "output_tokens", "cached_input_tokens", "reasoning_tokens", "characters"]
    agg = (
        rows.with_columns(day.alias("_charge_day"))
        .group_by(groups)
        .agg(
            pl.col("_c_hi").sum(),
            pl.col("_c_mid").sum(),
            pl.col("_c_lo").sum(),
            *[pl.col(c).fill_null(0).sum() for c in sums],
            pl.col("hours").fill_null(0.0).sum(),
            pl.col("tags").first(),
        )
        .sort(groups, nulls_last=True)
        .collect()
    )
    money = q.finish_money(agg.select("_c_hi", "_c_mid", "_c_lo").to_pandas())["cost_cents"].to_list()
    agg = agg.drop("_c_hi", "_c_mid", "_c_lo").with_columns(pl.Series("cost_cents", money, pl.Float64))

    unpriced = pl.col("_unpriced")
    dollars = (
        pl.when(unpriced)
        .then(pl.lit("0"))
        .otherwise(pl.col("cost_cents").map_elements(_dollars, return_dtype=pl.String))
    )
    unit = pl.col("axis").replace_strict({a: u for a, (u, _) in _UNITS.items()}, default="Tokens")
    category = pl.col("axis").replace_strict({a: c for a, (_, c) in _UNITS.items()}, default="AI and Machine Learning")
    quantity = (
        pl.when(pl.col("axis") == "voice")
        .then(pl.col("characters").cast(pl.Float64))
        .when(pl.col("axis") == "compute")
        .then(pl.col("hours"))
        .otherwise((pl.col("input_tokens") + pl.col("output_tokens")).cast(pl.Float64))
    )
    account = pl.col("account_id").fill_null(UNASSIGNED)
    provider = pl.col("provider").fill_null("unknown")
    service = pl.coalesce(pl.col("model"), pl.col("axis"))
    describe = pl.concat_str(
        [
            service,
            pl.lit(" via "),
            provider,
            pl.lit(", key "),
            pl.coalesce(pl.col("key_name"), pl.col("key_id"), pl.lit("(none)")),
            pl.lit(": "),
            pl.col("requests").cast(pl.String),
            pl.lit(" requests"),
        ]
    ) + pl.when(unpriced).then(pl.lit("; unpriced: the gateway recorded no cost")).otherwise(pl.lit(""))
    ts_fmt = "%Y-%m-%dT%H:%M:%SZ"
    period_start, period_end = f"{first:%Y-%m-%d}T00:00:00Z", f"{after:%Y-%m-%d}T00:00:00Z"
    return agg.select(
        dollars.alias("BilledCost"),
        account.alias("BillingAccountId"),
        account.alias("BillingAccountName"),
        pl.lit("USD").alias("BillingCurrency"),
        pl.lit(period_end).alias("BillingPeriodEnd"),
        pl.lit(period_start).alias("BillingPeriodStart"),
        pl.lit("Usage").alias("ChargeCategory"),
        pl.lit(None, pl.String).alias("ChargeClass"),
        describe.alias("ChargeDescription"),
        (pl.col("_charge_day") + pl.duration(days=1)).dt.strftime(ts_fmt).alias("ChargePeriodEnd"),
        pl.col("_charge_day").dt.strftime(ts_fmt).alias("ChargePeriodStart"),
        dollars.alias("ContractedCost"),
        dollars.alias("EffectiveCost"),
        provider.alias("InvoiceIssuerName"),
        dollars.alias("ListCost"),
        quantity.alias("PricingQuantity"),
        unit.alias("PricingUnit"),
        provider.alias("ProviderName"),
        provider.alias("PublisherName"),
        category.alias("ServiceCategory"),
        service.alias("ServiceName"),
        pl.lit("Usage-Based").alias("ChargeFrequency"),
        quantity.alias("ConsumedQuantity"),
        unit.alias("ConsumedUnit"),
        pl.col("key_id").alias("ResourceId"),
        pl.col("key_name").alias("ResourceName"),
        pl.when(pl.col("key_id").is_not_null()).then(pl.lit("Virtual Key")).alias("ResourceType"),
        pl.concat_str([provider, pl.lit("/"), service]).alias("SkuId"),
        unit.alias("SkuMeter"),
        pl.col("account_id").alias("SubAccountId"),
        pl.col("account_id").alias("SubAccountName"),
        pl.col("tags").map_elements(_tags_json, return_dtype=pl.String).alias("Tags"),
        pl.col("requests").alias("x_Requests"),
        pl.col("input_tokens").alias("x_InputTokens"),
        pl.col("output_tokens").alias("x_OutputTokens"),
        pl.col("cached_input_tokens").alias("x_CachedInputTokens"),
        pl.col("reasoning_tokens").alias("x_ReasoningTokens"),
        pl.col("axis").alias("x_Axis"),
        pl.col("model").alias("x_Model"),
        pl.when(unpriced).then(pl.lit("true")).otherwise(pl.lit("false")).alias("x_Unpriced"),
    )


def _dollars(cents: float) -> str:
    """Cents as dollars with 10 decimals (continuous: sub-cent kept, nothing rounded to cents)."""
    return f"{cents / 100:.10f}".rstrip("0").rstrip(".") or "0"


def _tags_json(tags) -> str | None:
    if tags is None or len(tags) == 0:
        return None
    obj = {}
    for t in tags:
        k, sep, v = str(t).partition(":")
        obj[k] = v if sep else None
    return json.dumps(obj, ensure_ascii=False, sort_keys=True)
