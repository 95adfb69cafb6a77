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


def format_usd(cents: float | None, *, precise: bool | None = None) -> str:
    """Cents as dollars for people: ``$1,234.57``; small amounts keep sub-cent digits.

    >>> format_usd(123456.7), format_usd(0.1095), format_usd(None)
    ('$1,234.57', '$0.001095', 'unpriced')
    """
    if cents is None or cents != cents:
        return "unpriced"
    dollars = cents / 100.0
    if precise is None:
        precise = abs(cents) < 100
    if precise:
        text = f"{dollars:,.6f}".rstrip("0")
        if len(text.split(".")[1]) < 2:
            text = f"{dollars:,.2f}"
        return ("-$" + text[1:]) if text.startswith("-") else "$" + text
    return ("-$" if dollars < 0 else "$") + f"{abs(dollars):,.2f}"


def invoice_cents(cents: float) -> int:
    """Round a continuous cent amount to whole cents, half up (the invoice rule).

    The float is read through its shortest decimal repr, so 0.5 cents rounds to 1, never to
    0 by binary accident.

    >>> invoice_cents(12.5), invoice_cents(12.4999), invoice_cents(0.0)
    (13, 12, 0)
    """
    return int(Decimal(repr(float(cents))).quantize(Decimal(1), rounding=ROUND_HALF_UP))
