"""usagekit: LLM-gateway usage data turned into answers.

>>> import usagekit
>>> usage = usagekit.load("demo/2026-10")          # doctest: +SKIP
>>> print(usage.load_report)                      # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .accounting import LoadReport
from .anomalies import detect
from .errors import FetchError, FormatError, SourceError, UsagekitError
from .loading import load
from .usage import Usage

if TYPE_CHECKING:
    from .explorer import Explorer
    from .reconciliation import Reconciliation

__version__ = "0.1.0"


def explore(usage: Usage, month: str | None = None, detect_anomalies: bool = True) -> Explorer:
    """The usage dashboard as ipywidgets; see :func:`usagekit.explorer.explore`."""
    from .explorer import explore as _explore

    return _explore(usage, month=month, detect_anomalies=detect_anomalies)


def reconcile(gateway_usage: Usage, provider_usage: Usage | None = None, *, prices: Any = None) -> Reconciliation:
    """Gateway spend vs provider bill vs price-map estimate per day x provider x model; see
    :func:`usagekit.reconciliation.reconcile`."""
    from .reconciliation import reconcile as _reconcile

    return _reconcile(gateway_usage, provider_usage, prices=prices)


def fetch_api_usage(*args: Any, **kwargs: Any) -> Usage:
    """Fetch ``GET /api/usage`` over HTTP and load it; see :func:`usagekit.fetch.fetch_api_usage`."""
    from .fetch import fetch_api_usage as _fetch

    return _fetch(*args, **kwargs)


__all__ = [
    "load",
    "detect",
    "explore",
    "reconcile",
    "fetch_api_usage",
    "Usage",
    "LoadReport",
    "UsagekitError",
    "SourceError",
    "FormatError",
    "FetchError",
    "__version__",
]
