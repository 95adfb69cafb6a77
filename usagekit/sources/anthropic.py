"""Anthropic admin cost report (``/v1/organizations/cost_report``).

``{"data": [{"starting_at": "...Z", "ending_at": "...Z", "results": [{"amount": "123.45",
"currency": "USD", "cost_type": "tokens|web_search|code_execution", "token_type": ...,
"description": ..., "model": ..., "workspace_id": ...}]}], "has_more": ..., "next_page": ...}``

``amount`` is a decimal string already in **cents** (``"123.45"`` is $1.2345): it is read as
cents, not scaled. Web search and code execution are their own lines (model may be null).
The workspace is the account (null = the default workspace). A cost line is not a request
count, so ``requests`` is 0; rows are buckets (``request_id`` null, ``ts`` = ``starting_at``).
A file may hold one report page, a JSON array of pages, or one page per line; a result met twice
(a page saved twice) is rejected as a repeat, and pages that all say ``has_more`` are noted.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from ..errors import display_path
from ._io import REPEATED, Probe, missing_pages_note, page_buckets, page_results, read_pages, records_frame, repeat_key
from ._stage import stage
from .base import Format, Loaded


def _pages(doc) -> list:
    return doc if isinstance(doc, list) else [doc]


def _looks(page) -> bool:
    if not isinstance(page, dict) or not isinstance(page.get("data"), list):
        return False
    data = page["data"]
    if not data:  # an empty page is a normal answer for a quiet period
        return True
    return isinstance(data[0], dict) and "starting_at" in data[0]


def sniff(probe: Probe) -> bool:
    if probe.kind == "jsonl":
        return _looks(probe.first or {})
    pages = _pages(probe.doc())
    return bool(pages) and _looks(pages[0])


def read_document(doc, shown: str) -> Loaded:
    records = []
    seen: set[str] = set()
    buckets = page_buckets(
        doc,
        shown,
        time_field="starting_at",
        page_shape='an Anthropic cost report {"data": [{"starting_at", "results"}]}',
        time_shape="an ISO-8601 time such as 2026-10-01T00:00:00Z",
    )
    for path, bucket in buckets:
        for res in page_results(bucket, shown, path):
            amount = res.get("amount")
            currency = res.get("currency")
            if isinstance(amount, dict):  # tolerate {"value": "123.45", "currency": "USD"}
                amount, currency = amount.get("value"), amount.get("currency", currency)
            rec = {
                "_row": len(records) + 1,
                "ts": bucket["starting_at"],
                "provider": "anthropic",
                "model": res.get("model"),
                "account_id": res.get("workspace_id"),
                "requests": 0,
                "cost_cents": amount,
            }
            currency = str(currency or "USD").upper()
            key = repeat_key(bucket["starting_at"], res)
            if key in seen:
                rec.update(_reject=REPEATED, _field=path)
            elif currency != "USD":
                rec.update(_reject=f"currency {currency} is not USD", _field="currency", _value=currency)
            if res.get("model") is None and res.get("cost_type") not in (None, "tokens"):
                rec["model"] = str(res.get("cost_type"))  # web_search / code_execution as their own line
            seen.add(key)
            records.append(rec)
    frame = (
        records_frame(records)
        if records
        else pl.DataFrame({"ts": pl.Series([], dtype=pl.String), "_row": pl.Series([], dtype=pl.Int64)})
    )
    return Loaded(
        "anthropic",
        shown,
        stage(frame, file=shown, source="anthropic", cost_scale=1.0),
        notes=missing_pages_note(_pages(doc)),
    )


def read(path: Path, probe: Probe) -> Loaded:
    return read_document(read_pages(path, probe), display_path(path))


FORMAT = Format(
    "anthropic", "Anthropic admin cost report (amounts in cents)", ("json", "jsonl"), sniff, read, read_document
)
