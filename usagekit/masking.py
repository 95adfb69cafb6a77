"""Key secrets never leave the loader: anything that looks like one becomes a stable masked id.

A usage export sometimes carries a raw virtual-key secret where an id belongs (an ``sk-...``
string in ``key_id``, a bearer token pasted into a name). At load time every id and name
column is passed through :func:`redact_expr`, which replaces such a cell by
``<prefix>...<last 4>#<8 hex of its SHA-256>``: readable enough to recognise the key,
impossible to turn back into the secret, and distinct for two secrets that share their last
four characters. Everything downstream (cube, report, JSON, notebooks, rejected rows, caches)
only ever sees the masked id.

Patterns are regular expressions; add your own with :func:`add_pattern` or the
``USAGEKIT_SECRET_PATTERNS`` environment variable (patterns separated by ``;;``).

>>> redact("sk-proj-AbCdEfGhIjKlMnOpQrStUv0123")
'sk-proj-...0123#7f56d1f9'
>>> redact("vk_sales_bot")
'vk_sales_bot'
"""

from __future__ import annotations

import hashlib
import os
import re

import polars as pl

from .values import distinct

#: built-in patterns; the first group, when present, is the prefix kept in the masked id
DEFAULT_PATTERNS: tuple[str, ...] = (
    r"\b((?:sk|rk|pk)-(?:ant-(?:api\d\d-|admin\d\d-)?|or-(?:v1-)?|proj-|svcacct-|admin-|live-|test-)?)"
    r"[A-Za-z0-9_\-]{12,}",
    r"\b((?:sk|rk|pk)_(?:live_|test_)?)[A-Za-z0-9]{16,}",
    r"\b((?i:bearer)\s+)[A-Za-z0-9._~+/\-]{16,}=*",
)

_extra: list[str] = []


def add_pattern(pattern: str) -> None:
    """Treat values matching the regular expression ``pattern`` as secrets from now on."""
    re.compile(pattern)
    _extra.append(pattern)


def patterns() -> list[str]:
    env = [p for p in os.environ.get("USAGEKIT_SECRET_PATTERNS", "").split(";;") if p.strip()]
    return [*DEFAULT_PATTERNS, *_extra, *env]


def _combined() -> re.Pattern:
    return re.compile("|".join(f"(?:{p})" for p in patterns()))


def _is_masked(value: str) -> bool:
    return "..." in value and "#" in value


def redact(value: str | None) -> str | None:
    """``value`` itself, or its masked id when it contains something that looks like a secret."""
    if value is None or _is_masked(value):
        return value
    m = _combined().search(value)
    if m is None:
        return value
    secret = m.group(0)
    prefix = next((g for g in m.groups() if g), "")
    if prefix.lower().startswith("bearer"):
        prefix = "bearer "
    digest = hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{prefix}...{secret[-4:]}#{digest}"


def redact_text(text: str) -> str:
    """Free text (a message, a traceback) with every secret-looking run replaced by its masked id.

    >>> redact_text("bad key sk-proj-AbCdEfGhIjKlMnOpQrStUv0123 in row 4")
    'bad key sk-proj-...0123#7f56d1f9 in row 4'
    """
    return _combined().sub(lambda m: redact(m.group(0)), text)


def _redact_series(s: pl.Series) -> pl.Series:
    # a low-cardinality batch (keys, names, models) is tested once per distinct value
    values = distinct(s)
    if values is not None:
        hit = values.str.contains(_polars_pattern()).fill_null(False)
        if not hit.any():
            return s
        return s.replace({v: redact(v) for v in values.filter(hit).to_list()})
    hit = s.str.contains(_polars_pattern()).fill_null(False)
    if not hit.any():
        return s
    mapping = {v: redact(v) for v in s.filter(hit).unique().to_list()}
    return pl.select(pl.when(hit).then(s.replace(mapping)).otherwise(s)).to_series().alias(s.name)


def any_secret(s: pl.Series) -> bool:
    """Whether any value of the text series ``s`` looks like a secret (tested per distinct value
    when there are few)."""
    values = distinct(s)
    return bool((s if values is None else values).str.contains(_polars_pattern()).fill_null(False).any())


def _polars_pattern() -> str:
    # the same patterns, for polars' (Rust) regex engine: the syntax used is common to both
    return "|".join(f"(?:{p})" for p in patterns())


def redact_expr(col: str) -> pl.Expr:
    """A polars expression: column ``col`` with every secret-looking cell replaced by its masked id."""
    # one pass of the patterns per batch (_redact_series returns a batch without a hit as it is)
    return (
        pl.col(col).cast(pl.String).map_batches(_redact_series, return_dtype=pl.String, is_elementwise=True).alias(col)
    )


def display(value: str | None) -> str:
    """How a (possibly masked) key id is shown to people: ``sk-...abcd`` without the hash."""
    if value is None:
        return ""
    value = str(value)
    if _is_masked(value):
        return value.split("#", 1)[0]
    red = redact(value)
    return red.split("#", 1)[0] if red != value else value


__all__ = ["DEFAULT_PATTERNS", "add_pattern", "patterns", "redact", "redact_expr", "redact_text", "display"]
