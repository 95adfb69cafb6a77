"""Price maps: what a model costs per token, from a maintained source, as a small rate table.

Two sources, neither vendored:

* ``genai-prices`` (``pip install 'usagekit[prices]'``), the default: per provider and model,
  prices that may change over time and may be **tiered** (e.g. above 200k input tokens every
  token of the request costs more);
* LiteLLM's ``model_prices_and_context_window.json``, from a path you give (it ships inside
  the ``litellm`` package: ``pip download litellm --no-deps`` and unzip it). Per-token USD
  fields (``input_cost_per_token``, ``cache_read_input_token_cost``, ``output_cost_per_token``,
  ``..._above_200k_tokens`` tiers, ``input_cost_per_character``).

Either becomes :class:`RateCard` s (USD per token or character) and then one polars table,
``rate_table(wanted)``, with one row per (provider, model, day) asked for, which the repricer
joins to the usage rows. The tier of a request is chosen by that request's own input tokens.

>>> pm = load_price_map()                                   # doctest: +SKIP
>>> pm.card("openai", "gpt-4o", dt.date(2026, 10, 1)).input   # doctest: +SKIP
2.5e-06
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import polars as pl

from .errors import UsagekitError, display_path

INSTALL = "pip install 'usagekit[prices]'"
#: tiers kept per card (providers use one, rarely two)
MAX_TIERS = 2
#: usagekit provider name -> genai-prices provider id, where they differ
GENAI_PROVIDERS = {
    "bedrock": "aws",
    "vertex_ai": "google",
    "vertex_ai_beta": "google",
    "gemini": "google",
    "xai": "x-ai",
    "together_ai": "together",
    "fireworks_ai": "fireworks",
    "azure_ai": "azure",
}


class PriceMapError(UsagekitError):
    """A price map could not be loaded (extra not installed, unreadable file)."""


@dataclass(frozen=True)
class Tier:
    """Rates that apply to a whole request once its input tokens exceed ``start``."""

    start: int
    input: float
    cached: float | None
    output: float


@dataclass(frozen=True)
class RateCard:
    """USD per token (or character) for one model; ``cached`` None = no separate cached price
    (cached input tokens are then billed at the input rate)."""

    model: str  # the price map's own name for it
    input: float | None
    cached: float | None
    output: float | None
    character: float | None = None
    tiers: tuple[Tier, ...] = ()


@dataclass
class PriceMap:
    """A price source: ``name`` for reports, ``lookup(provider, model, day)`` -> RateCard or None."""

    name: str
    lookup: object
    _cache: dict = field(default_factory=dict)

    def card(self, provider: str | None, model: str | None, day: dt.date) -> RateCard | None:
        if not model:
            return None
        key = (provider, model, day)
        if key not in self._cache:
            self._cache[key] = self.lookup(provider, model, day)
        return self._cache[key]

    def rate_table(self, wanted: pl.DataFrame) -> pl.DataFrame:
        """``wanted`` (provider, model, ``_pday`` date) -> the same rows with their rates (USD)
        and ``price_model``; rates are null where the map has no price."""
        recs = []
        for provider, model, day in wanted.select("provider", "model", "_pday").iter_rows():
            c = self.card(provider, model, day)
            rec = {
                "provider": provider,
                "model": model,
                "_pday": day,
                "price_model": c.model if c else None,
                "_r_in": c.input if c else None,
                "_r_cached": c.cached if c else None,
                "_r_out": c.output if c else None,
                "_r_char": c.character if c else None,
            }
            tiers = c.tiers if c else ()
            for i in range(MAX_TIERS):
                t = tiers[i] if i < len(tiers) else None
                rec[f"_t{i}_start"] = t.start if t else None
                rec[f"_t{i}_in"] = t.input if t else None
                rec[f"_t{i}_cached"] = t.cached if t else None
                rec[f"_t{i}_out"] = t.output if t else None
            recs.append(rec)
        schema = {
            "provider": pl.String,
            "model": pl.String,
            "_pday": pl.Date,
            "price_model": pl.String,
            "_r_in": pl.Float64,
            "_r_cached": pl.Float64,
            "_r_out": pl.Float64,
            "_r_char": pl.Float64,
        }
        for i in range(MAX_TIERS):
            schema |= {
                f"_t{i}_start": pl.Int64,
                f"_t{i}_in": pl.Float64,
                f"_t{i}_cached": pl.Float64,
                f"_t{i}_out": pl.Float64,
            }
        return pl.DataFrame(recs, schema=schema)


def load_price_map(prices=None) -> PriceMap:
    """The price map to use: ``None`` = genai-prices (needs the ``prices`` extra), a path = a
    LiteLLM ``model_prices_and_context_window.json``, a :class:`PriceMap` = itself."""
    if isinstance(prices, PriceMap):
        return prices
    if prices is None or prices == "genai-prices":
        return genai_price_map()
    return litellm_price_map(prices)


# -- genai-prices -----------------------------------------------------------------------------


def genai_price_map() -> PriceMap:
    try:
        import genai_prices  # noqa: F401
        from genai_prices import data_snapshot
    except ImportError:
        raise PriceMapError(
            f"repricing needs a price map: {INSTALL} (genai-prices), or pass "
            "prices='path/to/model_prices_and_context_window.json' (LiteLLM's)"
        ) from None
    snapshot = data_snapshot.get_snapshot()

    def lookup(provider, model, day):
        when = dt.datetime.combine(day, dt.time(12), dt.timezone.utc)
        found = None
        for ref in _model_refs(model):
            for pid in ([GENAI_PROVIDERS.get(provider, provider)] if provider else []) + [None]:
                try:
                    found = snapshot.find_provider_model(ref, None, pid, None)
                    break
                except (LookupError, ValueError):
                    continue
            if found:
                break
        if not found:
            return None
        _, info = found
        mp = info.get_prices(when)
        base_in, tiers_in = _genai_price(getattr(mp, "input_mtok", None))
        base_cached, tiers_cached = _genai_price(getattr(mp, "cache_read_mtok", None))
        base_out, tiers_out = _genai_price(getattr(mp, "output_mtok", None))
        chars, _ = _genai_price(getattr(mp, "input_mchars", None))
        starts = sorted({s for s, _ in tiers_in + tiers_cached + tiers_out})[:MAX_TIERS]
        tiers = tuple(
            Tier(
                start=s,
                input=_at(s, base_in, tiers_in),
                cached=_at(s, base_cached, tiers_cached),
                output=_at(s, base_out, tiers_out),
            )
            for s in starts
        )
        if base_in is None and base_out is None and chars is None:
            return None
        return RateCard(model=info.id, input=base_in, cached=base_cached, output=base_out, character=chars, tiers=tiers)

    from genai_prices import __version__

    return PriceMap(f"genai-prices {__version__}", lookup)


def _genai_price(value) -> tuple[float | None, list[tuple[int, float]]]:
    """A genai-prices price per million -> (USD per unit, [(tier start, USD per unit)])."""
    if value is None:
        return None, []
    if isinstance(value, Decimal):
        return float(value) / 1e6, []
    base = getattr(value, "base", None)
    tiers = getattr(value, "tiers", None) or []
    return (float(base) / 1e6 if base is not None else None), [(int(t.start), float(t.price) / 1e6) for t in tiers]


def _at(start: int, base, tiers):
    """The rate that applies above ``start`` (the highest tier starting at or below it)."""
    rate = base
    for s, r in sorted(tiers):
        if s <= start:
            rate = r
    return rate


def _model_refs(model: str) -> list[str]:
    """The model as written, then without a gateway's provider prefix (``openai/gpt-4.1``)."""
    refs = [model]
    if "/" in model:
        refs.append(model.rsplit("/", 1)[1])
    return refs


# -- LiteLLM's JSON ---------------------------------------------------------------------------

_TIER_FIELD = re.compile(r"^(input|output)_cost_per_token_above_(\d+)k_tokens$")


def litellm_price_map(path) -> PriceMap:
    p = Path(path).expanduser()
    shown = display_path(p)
    try:
        doc = json.loads(p.read_text())
    except FileNotFoundError:
        raise PriceMapError(
            f"{shown}: no such price map; download LiteLLM's model_prices_and_context_window.json "
            f"(inside `pip download litellm --no-deps`) or {INSTALL}"
        ) from None
    except (OSError, ValueError) as exc:
        raise PriceMapError(f"{shown}: not a readable JSON price map ({exc})") from None
    if not isinstance(doc, dict):
        raise PriceMapError(
            f"{shown}: expected an object keyed by model name (LiteLLM's model_prices_and_context_window.json)"
        )
    entries = {k.lower(): v for k, v in doc.items() if k != "sample_spec" and isinstance(v, dict)}

    def lookup(provider, model, day):
        m = model.lower()
        cands = [f"{provider}/{m}"] if provider else []
        cands += [m]
        if "/" in m:
            cands.append(m.rsplit("/", 1)[1])
            if provider:
                cands.append(f"{provider}/{m.rsplit('/', 1)[1]}")
        for name in cands:
            e = entries.get(name)
            if e is not None:
                return _litellm_card(name, e)
        return None

    return PriceMap(f"LiteLLM price map {shown}", lookup)


def _num(v) -> float | None:
    try:
        return float(v) if v is not None else None
    except (TypeError, ValueError):
        return None


def _litellm_card(name: str, e: dict) -> RateCard | None:
    base_in, base_out = _num(e.get("input_cost_per_token")), _num(e.get("output_cost_per_token"))
    cached = _num(e.get("cache_read_input_token_cost"))
    chars = _num(e.get("input_cost_per_character"))
    if base_in is None and base_out is None and chars is None:
        return None
    starts = sorted({int(m.group(2)) * 1000 for k in e if (m := _TIER_FIELD.match(k))})[:MAX_TIERS]
    tiers = []
    for s in starts:
        k = f"{s // 1000}k"
        tiers.append(
            Tier(
                start=s,
                input=_num(e.get(f"input_cost_per_token_above_{k}_tokens")) or base_in,
                cached=_num(e.get(f"cache_read_input_token_cost_above_{k}_tokens")) or cached,
                output=_num(e.get(f"output_cost_per_token_above_{k}_tokens")) or base_out,
            )
        )
    return RateCard(model=name, input=base_in, cached=cached, output=base_out, character=chars, tiers=tuple(tiers))
