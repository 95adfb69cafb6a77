"""Three-way reconciliation: the gateway's own spend, the provider's bill, and the price map's estimate.

Per day x provider x model, :func:`reconcile` lines up

* ``gateway_cents``: what the gateway logged (LiteLLM, OpenRouter, canonical... rows, their
  own costs only: estimated costs are not the gateway's);
* ``provider_cents``: what the provider billed (OpenAI costs pages, Anthropic cost report);
* ``estimated_cents``: the gateway's token counts repriced per request from a price map
  (see :mod:`usagekit.reprice`; left empty, with a note, when no price map is available);

and the differences in cents and in % of the provider's bill. Model names are compared
without a gateway's provider prefix and without OpenAI's date suffix (``gpt-4o-2024-08-06``
bills what the gateway calls ``gpt-4o``). A provider whose bill was not loaded, or a day
outside the days its bill covers, has no ``provider_cents`` (empty, never 0).

>>> rec = usagekit.reconcile(gateway, billing)          # doctest: +SKIP
>>> rec.disagreements(pct=1.0)                          # doctest: +SKIP
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import narwhals as nw
import pandas as pd

from . import queries as q

#: loaders whose rows are a provider's billing view (everything else is a gateway's log)
BILLING_SOURCES = ("openai", "anthropic")
_DATE_SUFFIX = re.compile(r"-\d{4}-\d{2}-\d{2}$")


def model_key(model) -> str:
    """The name a model is matched on across sources: lower case, no ``provider/`` prefix, no
    ``-YYYY-MM-DD`` snapshot suffix."""
    if model is None or (not isinstance(model, str) and pd.isna(model)):
        return q.NONE_LABEL
    m = str(model).strip().lower()
    if "/" in m:
        m = m.rsplit("/", 1)[1]
    return _DATE_SUFFIX.sub("", m)


@dataclass
class Reconciliation:
    """The lines of :func:`reconcile` and per-provider totals; ``notes`` say what could not be compared."""

    lines: pd.DataFrame
    by_provider: pd.DataFrame
    tz: str
    price_map: str | None
    notes: list = field(default_factory=list)

    def disagreements(self, pct: float = 1.0, min_cents: float = 1.0) -> pd.DataFrame:
        """Lines where gateway and provider differ by more than ``pct`` % of the bill and ``min_cents``
        (a line present on one side only counts), largest difference first."""
        d = self.lines.dropna(subset=["provider_cents"])
        diff = d["gateway_minus_provider_cents"].abs()
        base = d["provider_cents"].abs()
        off = (diff > min_cents) & ((base == 0) | (diff > base * pct / 100))
        return (
            d[off]
            .assign(_a=diff[off])
            .sort_values(["_a", "date"], ascending=[False, True])
            .drop(columns="_a")
            .reset_index(drop=True)
        )

    def __str__(self) -> str:
        from .money import format_usd

        out = [f"reconciliation per day x provider x model (days in {self.tz}); estimate: {self.price_map or 'none'}"]
        for r in self.by_provider.itertuples():
            bill = format_usd(r.provider_cents) if pd.notna(r.provider_cents) else "no bill loaded"
            out.append(
                f"  {r.provider:<12} gateway {format_usd(r.gateway_cents)}  provider {bill}  "
                f"estimate {format_usd(r.estimated_cents) if pd.notna(r.estimated_cents) else '-'}"
            )
        out += [f"  note: {n}" for n in self.notes]
        return "\n".join(out)


def _per_day_model(cube: nw.LazyFrame, label: str) -> pd.DataFrame:
    res = q.to_pandas(
        cube.group_by(
            "_day",
            nw.col("provider").fill_null(q.NONE_LABEL).alias("provider"),
            nw.col("model").fill_null(q.NONE_LABEL).alias("model"),
        ).agg(*q.money_aggs(), *q.estimated_aggs())
    )
    res = q.finish_money(q.finish_money(res), out="estimated_cents", prefix="_e")
    res[label] = res["cost_cents"] - res["estimated_cents"]  # the source's own costs only
    res["model"] = [model_key(m) for m in res["model"]]
    return res.groupby(["_day", "provider", "model"], as_index=False)[label].sum()


def _estimate(rows: nw.LazyFrame, price_map) -> pd.DataFrame:
    import polars as pl

    from .reprice import NEEDED, with_rates

    picked = rows.select(list(dict.fromkeys([*NEEDED, "_day"])))
    native = picked.to_native()
    if not isinstance(native, pl.LazyFrame):  # DuckDB / Spark: only these few columns come over
        native = picked.collect(backend="polars").to_native().lazy()
    est = (
        with_rates(native, price_map)
        .group_by("_day", pl.col("provider").fill_null(q.NONE_LABEL), pl.col("model").fill_null(q.NONE_LABEL))
        .agg(
            pl.col("_est_cents").sum().alias("estimated_cents"),
            pl.col("_est_cents").is_null().sum().alias("unestimated_rows"),
        )
        .collect()
        .to_pandas()
    )
    est["model"] = [model_key(m) for m in est["model"]]
    return est.groupby(["_day", "provider", "model"], as_index=False)[["estimated_cents", "unestimated_rows"]].sum()


def reconcile(gateway_usage, provider_usage=None, *, prices=None) -> Reconciliation:
    """Line up the gateway's spend, the provider's bill and the price map's estimate.

    ``gateway_usage`` and ``provider_usage`` are :class:`~usagekit.Usage` s (their scopes apply).
    With only one usage, its rows are split by loader: OpenAI costs pages and Anthropic cost
    reports are the bill, every other source the gateway. ``prices`` picks the price map
    (None = genai-prices if installed, a LiteLLM JSON path, or ``False`` for no estimate).
    Returns a :class:`Reconciliation`.
    """
    notes = []
    billing = nw.col("source").is_in(list(BILLING_SOURCES))
    if provider_usage is None:
        g_cube, p_cube = gateway_usage.cube.filter(~billing), gateway_usage.cube.filter(billing)
        g_rows = gateway_usage.frame.filter(~billing)
    else:
        g_cube, p_cube, g_rows = gateway_usage.cube, provider_usage.cube, gateway_usage.frame
    tz = gateway_usage.tz
    if tz != "UTC":
        notes.append(
            f"provider bills come in UTC days; with days in {tz} each bill's day is the {tz} day its UTC "
            "midnight falls on, so requests near midnight can sit a day apart: load with tz='UTC' to "
            "compare day by day"
        )
    gw = _per_day_model(g_cube, "gateway_cents")
    pv = _per_day_model(p_cube, "provider_cents")
    lines = gw.merge(pv, on=["_day", "provider", "model"], how="outer")

    # a provider with no bill loaded, or a day outside its bill's days: unknown, not zero
    span = pv.groupby("provider")["_day"].agg(["min", "max"]) if len(pv) else pd.DataFrame(columns=["min", "max"])
    covered = [
        p in span.index and span.loc[p, "min"] <= d <= span.loc[p, "max"]
        for p, d in zip(lines["provider"], lines["_day"])
    ]
    lines.loc[pd.Series(covered, index=lines.index, dtype=bool) & lines["provider_cents"].isna(), "provider_cents"] = (
        0.0
    )
    lines["gateway_cents"] = lines["gateway_cents"].fillna(0.0)
    missing = sorted(set(gw["provider"]) - set(span.index))
    if missing:
        notes.append(f"no provider bill loaded for {', '.join(missing)}: their lines have no provider figure")

    price_name = None
    if prices is not False:
        from .prices import PriceMapError, load_price_map

        try:
            pm = load_price_map(prices)
            price_name = pm.name
            est = _estimate(g_rows, pm)
            lines = lines.merge(est, on=["_day", "provider", "model"], how="left")
            n = int(est["unestimated_rows"].sum())
            if n:
                notes.append(f"{n:,} gateway rows have no price in {pm.name}: not in the estimate")
        except PriceMapError as exc:
            notes.append(f"no estimate: {exc}")
    if "estimated_cents" not in lines:
        lines["estimated_cents"] = float("nan")
    lines = lines.drop(columns=[c for c in ("unestimated_rows",) if c in lines])

    lines["gateway_minus_provider_cents"] = lines["gateway_cents"] - lines["provider_cents"]
    lines["gateway_minus_provider_pct"] = (lines["gateway_minus_provider_cents"] / lines["provider_cents"] * 100).where(
        lines["provider_cents"] > 0
    )
    lines["estimate_minus_provider_cents"] = lines["estimated_cents"] - lines["provider_cents"]
    lines["estimate_minus_provider_pct"] = (
        lines["estimate_minus_provider_cents"] / lines["provider_cents"] * 100
    ).where(lines["provider_cents"] > 0)
    lines.insert(0, "date", [q.day_date(d) for d in lines.pop("_day")])
    lines = lines.sort_values(["date", "provider", "model"]).reset_index(drop=True)

    per = lines.groupby("provider", as_index=False).agg(
        gateway_cents=("gateway_cents", "sum"),
        provider_cents=("provider_cents", lambda s: s.sum(min_count=1)),
        estimated_cents=("estimated_cents", lambda s: s.sum(min_count=1)),
    )
    per["gateway_minus_provider_cents"] = per["gateway_cents"] - per["provider_cents"]
    per["gateway_minus_provider_pct"] = (per["gateway_minus_provider_cents"] / per["provider_cents"] * 100).where(
        per["provider_cents"] > 0
    )
    return Reconciliation(lines=lines, by_provider=per, tz=tz, price_map=price_name, notes=notes)


def sources_loaded(usage) -> set:
    """The loaders (``source`` values) with rows in the usage's scope."""
    res = q.to_pandas(usage.cube.select(nw.col("source")).unique())
    return {s for s in res["source"] if isinstance(s, str)}
