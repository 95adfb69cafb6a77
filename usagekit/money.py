"""Money helpers: continuous cents for analysis, whole cents only for invoices."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

#: The largest cost one row may carry: 10^12 cents ($10 billion). A row above it is rejected
#: with a reason (no single request or daily bucket costs that much; such a value is a unit
#: mistake or a corrupt cell). Sums are kept in whole cents plus nano-cents as 64-bit
#: integers, so with every row bounded a sum can only wrap past ~9.2e18 cents, which
#: :data:`MAX_TOTAL_CENTS` keeps far out of reach.
MAX_COST_CENTS = 1e12
#: The largest total one load may hold: 10^17 cents ($1 quadrillion). A load above it is
#: refused as a whole (a ``SourceError``): its sums could no longer be exact.
MAX_TOTAL_CENTS = 1e17


def format_usd(cents: float | None, *, precise: bool = False) -> str:
    """Cents as dollars for people: the one money formatter of every page, card, chart and table.

    Two decimals with thousands separators. A non-zero amount under a cent reads
    ``< $0.01`` rather than ``$0.00``. ``precise=True`` is for unit costs (a price per
    request or token) where cents hide the answer: four decimals, ``$0.0068``. Machine
    outputs (CSV, JSON) keep continuous cents and never pass through here.

    >>> format_usd(123456.7), format_usd(0.1095), format_usd(0), format_usd(None)
    ('$1,234.57', '< $0.01', '$0.00', 'unpriced')
    >>> format_usd(0.68, precise=True), format_usd(-250)
    ('$0.0068', '-$2.50')
    """
    if cents is None or cents != cents:
        return "unpriced"
    cents = float(cents)
    sign = "-" if cents < 0 else ""
    dollars = abs(cents) / 100.0
    if precise:
        return f"{sign}${dollars:,.4f}"
    if 0 < abs(cents) < 1:  # would round to $0.00 although something was spent
        return "< $0.01" if cents > 0 else "> -$0.01"
    text = f"{dollars:,.2f}"
    return f"{sign if text != '0.00' else ''}${text}"


def format_cents_difference(cents: float) -> str:
    """A small signed difference (e.g. invoice rounding) in cents and in dollars.

    >>> format_cents_difference(-0.3861)
    '-0.3861 cents (-$0.0039)'
    """
    cents = float(cents)
    sign = "-" if cents < 0 else "+"
    return f"{sign}{abs(cents):,.4f} cents ({sign}${abs(cents) / 100:,.4f})"


def dollars(cents):
    """Cents (a number, Series or array) as dollars, for chart axes; ``None`` stays ``None``."""
    return None if cents is None else cents / 100.0


def invoice_cents(cents: float) -> int:
    """Round a continuous cent amount to whole cents, half up (the invoice rule).

    The float is read through its shortest decimal repr, so 0.5 cents rounds to 1, never to
    0 by binary accident.

    >>> invoice_cents(12.5), invoice_cents(12.4999), invoice_cents(0.0)
    (13, 12, 0)
    """
    return int(Decimal(repr(float(cents))).quantize(Decimal(1), rounding=ROUND_HALF_UP))
