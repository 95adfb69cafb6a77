"""Account names: the id -> name mapping kept beside the key registry, and how an account reads.

Usage rows carry only ``account_id``. Names come from where real inputs give them: FOCUS
exports (``SubAccountName``, else ``BillingAccountName``) and the key registry's optional
``account_name`` column (its name wins: the registry is current, as for key names). Views
show ``Acme Research (acct_7f2c)``; an account with no known name is its id alone.

>>> label("acct_1", {"acct_1": "Acme Research"})
'Acme Research (acct_1)'
>>> label("acct_2", {"acct_1": "Acme Research"})
'acct_2'
"""

from __future__ import annotations

import polars as pl

from .schema import ACCOUNT_COLUMNS, ACCOUNT_DTYPES, empty_accounts


def merge(inputs: list[pl.DataFrame], registry: pl.DataFrame | None = None) -> pl.DataFrame:
    """One ``account_id, account_name`` row per named account: the inputs' names in order (a
    later input wins), then the registry's (the registry wins over every input)."""
    frames = [f.select(ACCOUNT_COLUMNS).cast(ACCOUNT_DTYPES) for f in inputs if f is not None and f.height]
    if registry is not None and "account_name" in registry.columns:
        frames.append(registry.select(ACCOUNT_COLUMNS).cast(ACCOUNT_DTYPES))
    if not frames:
        return empty_accounts()
    return (
        pl.concat(frames)
        .filter(pl.col("account_id").is_not_null() & pl.col("account_name").is_not_null())
        .filter(pl.col("account_name").str.strip_chars() != "")
        .unique(subset="account_id", keep="last", maintain_order=True)
    )


def label(account_id, names: dict[str, str] | None) -> str:
    """``Name (id)`` when the account's name is known and differs from its id, else the id
    (plain text: escape it for a page)."""
    if account_id is None or (isinstance(account_id, float) and account_id != account_id):
        return ""
    account_id = str(account_id)
    name = (names or {}).get(account_id)
    return f"{name} ({account_id})" if name and name != account_id else account_id
