"""OpenAI admin API pages: ``/organization/costs`` and ``/organization/usage/*``.

Envelope: ``{"object": "page", "data": [{"object": "bucket", "start_time": <unix s>,
"end_time": <unix s>, "results": [...]}], "has_more": ..., "next_page": ...}``. A file may
hold one page, a JSON array of pages, or one page per line (JSON Lines).

* costs results (``amount: {value, currency}``, ``line_item``, ``project_id``) are the
  billing view: cents = value x 100 (value may be a number or a string); the model is the part
  of ``line_item`` before ", " (``"gpt-4o-2024-08-06, input"``). A cost line is not a request
  count, so ``requests`` is 0.
* usage results (``input_tokens, output_tokens, input_cached_tokens, num_model_requests,
  project_id, api_key_id, model``; ``characters`` for speech, ``seconds`` for transcription)
  carry no money: they load as unpriced buckets (speech and transcription on the voice axis).

A result met twice in one file (a page saved twice) is rejected as a repeat; a file whose pages
all say ``has_more`` is noted as missing its later pages. Loading costs and usage pages
together counts money once (from costs) and requests and tokens once (from usage). Every row is a bucket: ``request_id`` is null, ``ts`` the bucket start.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from ..errors import SourceError, display_path
from ._io import REPEATED, Probe, missing_pages_note, page_buckets, page_results, read_pages, records_frame, repeat_key
from ._stage import stage
from .base import Format, Loaded


def _pages(doc) -> list:
    if isinstance(doc, list):
        return doc
    return [doc]


def sniff(probe: Probe) -> bool:
    if probe.kind == "jsonl":
        first = probe.first or {}
        return first.get("object") == "page" and isinstance(first.get("data"), list) and _bucket_like(first)
    doc = probe.doc()
    pages = _pages(doc)
    return (
        bool(pages) and isinstance(pages[0], dict) and isinstance(pages[0].get("data"), list) and _bucket_like(pages[0])
    )


def _bucket_like(page: dict) -> bool:
    data = page.get("data") or []
    if not data:
        return page.get("object") == "page"
    b = data[0]
    return isinstance(b, dict) and "start_time" in b and "results" in b


def _finite(value) -> float | None:
    """``value`` as a finite float, or None when it is not a number."""
    import math

    if isinstance(value, bool):
        return None
    try:
        f = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return f if math.isfinite(f) else None


def _kind(result: dict) -> str:
    obj = str(result.get("object") or "")
    if "costs" in obj or "amount" in result:
        return "costs"
    if "audio_speeches" in obj or "characters" in result:
        return "speech"
    if "audio_transcriptions" in obj or "seconds" in result:
        return "transcription"
    return "usage"


def read_document(doc, shown: str) -> Loaded:
    records = []
    notes: list[str] = []
    seconds = 0.0
    audio = [0, 0]  # input, output audio tokens inside completions usage
    seen: set[str] = set()
    buckets = page_buckets(
        doc,
        shown,
        time_field="start_time",
        time_shape="unix seconds",
        page_shape='an OpenAI admin API page {"object": "page", "data": [buckets]}',
    )
    for path, bucket in buckets:
        try:
            start = dt.datetime.fromtimestamp(float(bucket["start_time"]), dt.timezone.utc).isoformat()
        except (TypeError, ValueError, OverflowError):
            raise SourceError(
                shown,
                f"start_time {bucket['start_time']!r} is not unix seconds",
                field=f"{path}.start_time",
                expected="an integer number of seconds",
            ) from None
        for res in page_results(bucket, shown, path):
            rec = {"ts": start, "_row": len(records) + 1, "provider": "openai", "request_id": None}
            key = repeat_key(bucket["start_time"], res)
            if key in seen:
                rec.update(_reject=REPEATED, _field=path, _value=None)
            seen.add(key)
            kind = _kind(res)
            if kind == "costs":
                amount = res.get("amount") or {}
                value = amount.get("value") if isinstance(amount, dict) else amount
                currency = str(amount.get("currency", "usd")).lower() if isinstance(amount, dict) else "usd"
                item = res.get("line_item")
                rec.update(
                    cost_cents=value,
                    account_id=res.get("project_id"),
                    requests=0,
                    model=str(item).split(", ")[0] if item else None,
                )
                if currency != "usd" and "_reject" not in rec:
                    rec.update(
                        _reject=f"currency {currency.upper()} is not USD", _field="amount.currency", _value=currency
                    )
            else:
                rec.update(
                    account_id=res.get("project_id"),
                    key_id=res.get("api_key_id"),
                    model=res.get("model"),
                    requests=res.get("num_model_requests"),
                    cost_cents=None,
                )
                if kind == "usage":
                    rec.update(
                        input_tokens=res.get("input_tokens"),
                        output_tokens=res.get("output_tokens"),
                        cached_input_tokens=res.get("input_cached_tokens"),
                    )
                    for i, f in enumerate(("input_audio_tokens", "output_audio_tokens")):
                        n = res.get(f)
                        if isinstance(n, int) and not isinstance(n, bool) and n >= 0 and "_reject" not in rec:
                            audio[i] += n
                elif kind == "speech":
                    rec.update(axis="voice", characters=res.get("characters"))
                else:
                    rec.update(axis="voice")
                    secs = _finite(res.get("seconds") or 0)
                    if secs is None or secs < 0:
                        if "_reject" not in rec:
                            rec.update(
                                _reject="seconds is not a number of seconds",
                                _field="seconds",
                                _value=str(res.get("seconds"))[:120],
                            )
                    elif "_reject" not in rec:
                        seconds += secs
            records.append(rec)
    if seconds:
        notes.append(f"{seconds:,.0f} seconds of audio transcription (no cost in usage pages)")
    if any(audio):
        notes.append(
            f"{audio[0]:,} audio input and {audio[1]:,} audio output tokens are inside the completions "
            "token counts (audio is priced higher than text)"
        )
    notes += missing_pages_note(_pages(doc))
    if not records:
        frame = pl.DataFrame({"ts": pl.Series([], dtype=pl.String), "_row": pl.Series([], dtype=pl.Int64)})
    else:
        frame = records_frame(records)
    return Loaded("openai", shown, stage(frame, file=shown, source="openai", cost_scale=100.0), notes=notes)


def read(path: Path, probe: Probe) -> Loaded:
    return read_document(read_pages(path, probe), display_path(path))


FORMAT = Format("openai", "OpenAI admin costs / usage API pages", ("json", "jsonl"), sniff, read, read_document)
