"""The ``GET /api/usage`` response: compute, LLM and voice axes with daily breakdowns.

The response shape is the spec's; the daily entries of ``llm`` and ``voice`` are not spelled
out there, so this module fixes them (and :meth:`usagekit.Usage.api_usage` emits exactly this):

* ``compute.daily[]``: ``{date, agentCents, plainVmCents, totalCents, agents: [{agentId,
  agentName, runningCents, pausedCents, hours?}], plainVms: [{plainVmId, plainVmName,
  costCents, hours}]}``
* ``llm.daily[]``: ``{date, totalCents, requests?, models: [{model, provider?, costCents,
  requests?, inputTokens?, outputTokens?}], agents: [{agentId, agentName, costCents,
  requests?}]}``
* ``voice.daily[]``: ``{date, totalCents, characters?, models: [{model, provider?, costCents,
  characters?, requests?}], agents: [...]}``

Reading is tolerant: a day may carry only ``date`` and ``totalCents``, only agents or only
models. Rows are made per day and model (else per agent, else one row for the day); when a
day's breakdown falls short of its ``totalCents`` a remainder row (no model) keeps the day's
total exact. Rows are pre-aggregated: ``request_id`` is null, ``ts`` is the day at 00:00 UTC.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from ..errors import SourceError, display_path
from ._io import Probe
from ._stage import stage
from .base import Format, Loaded

AXES = ("compute", "llm", "voice")
TOLERANCE = 1e-9


def sniff(probe: Probe) -> bool:
    doc = probe.doc()
    return isinstance(doc, dict) and any(
        isinstance(doc.get(a), dict) and ("totalCents" in doc[a] or "daily" in doc[a]) for a in AXES
    )


def _num(value, shown, path):
    if value is None:
        return None
    if isinstance(value, bool):
        raise SourceError(shown, f"{value!r} is not a number", field=path, expected="a number of cents")
    try:
        return float(value) if isinstance(value, (int, float)) else float(str(value))
    except (ValueError, OverflowError):
        return str(value)  # kept as text: stage() rejects the row with the reason


def _list(obj, key, shown, path, *, objects: bool = True) -> list:
    """``obj[key]`` as a list (absent or null: empty), each entry checked to be an object."""
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise SourceError(shown, f"'{key}' is a {type(value).__name__}", field=f"{path}.{key}", expected="a list")
    for j, entry in enumerate(value):
        if objects and not isinstance(entry, dict):
            what = "null" if entry is None else f"a {type(entry).__name__}"
            raise SourceError(
                shown,
                f"an entry of '{key}' is {what}",
                field=f"{path}.{key}[{j}]",
                expected="one JSON object per entry",
            )
    return value


def _sum(values) -> float:
    """The exact sum of the finite amounts (inf when it overflows; rows with a non-finite amount
    are rejected by stage() anyway)."""
    import math

    try:
        return math.fsum(v for v in values if isinstance(v, float) and math.isfinite(v))
    except OverflowError:
        return math.inf


def read_document(doc, shown: str) -> Loaded:
    if not isinstance(doc, dict):
        raise SourceError(
            shown, f"the document is a {type(doc).__name__}", expected="a JSON object with compute / llm / voice"
        )
    rows: list[dict] = []
    notes: list[str] = []

    def add(**row):
        row["_row"] = len(rows) + 1
        rows.append(row)

    for axis in AXES:
        block = doc.get(axis)
        if block is None:
            continue
        if not isinstance(block, dict):
            raise SourceError(shown, f"'{axis}' is a {type(block).__name__}", field=axis, expected="an object")
        days = _list(block, "daily", shown, axis, objects=False)
        day_totals = []
        for i, day in enumerate(days):
            path = f"{axis}.daily[{i}]"
            if not isinstance(day, dict):
                raise SourceError(
                    shown, "a daily entry is not an object", field=path, expected="{date, totalCents, ...}"
                )
            if "date" not in day:
                raise SourceError(shown, "a daily entry has no date", field=f"{path}.date", expected="YYYY-MM-DD")
            date = str(day["date"])
            total = _num(day.get("totalCents"), shown, f"{path}.totalCents")
            day_totals.append(total)
            made = []
            if axis == "compute":
                for j, a in enumerate(_list(day, "agents", shown, path)):
                    for state, field in (("running", "runningCents"), ("paused", "pausedCents")):
                        cost = _num(a.get(field), shown, f"{path}.agents[{j}].{field}")
                        if cost is None:
                            continue
                        made.append(cost)
                        add(
                            ts=date,
                            axis="compute",
                            agent_id=a.get("agentId"),
                            agent_name=a.get("agentName"),
                            state=state,
                            cost_cents=cost,
                            requests=0,
                            provider="compute",
                        )
                for j, v in enumerate(_list(day, "plainVms", shown, path)):
                    cost = _num(v.get("costCents"), shown, f"{path}.plainVms[{j}].costCents")
                    made.append(cost)
                    add(
                        ts=date,
                        axis="compute",
                        plain_vm_id=v.get("plainVmId"),
                        plain_vm_name=v.get("plainVmName"),
                        hours=_num(v.get("hours"), shown, f"{path}.plainVms[{j}].hours"),
                        state="running",
                        cost_cents=cost,
                        requests=0,
                        provider="compute",
                    )
            else:
                models = _list(day, "models", shown, path)
                agents = _list(day, "agents", shown, path)
                if models:
                    for j, m in enumerate(models):
                        cost = _num(m.get("costCents"), shown, f"{path}.models[{j}].costCents")
                        made.append(cost)
                        add(
                            ts=date,
                            axis=axis,
                            model=m.get("model"),
                            provider=m.get("provider"),
                            cost_cents=cost,
                            requests=m.get("requests", 0),
                            input_tokens=m.get("inputTokens"),
                            output_tokens=m.get("outputTokens"),
                            characters=m.get("characters"),
                        )
                elif agents:
                    for j, a in enumerate(agents):
                        cost = _num(a.get("costCents"), shown, f"{path}.agents[{j}].costCents")
                        made.append(cost)
                        add(
                            ts=date,
                            axis=axis,
                            agent_id=a.get("agentId"),
                            agent_name=a.get("agentName"),
                            cost_cents=cost,
                            requests=a.get("requests", 0),
                        )
            if isinstance(total, float):
                rest = total - _sum(made)
                if rest > TOLERANCE or (not made and total != 0):
                    add(
                        ts=date,
                        axis=axis,
                        cost_cents=rest if made else total,
                        requests=0,
                        provider="compute" if axis == "compute" else None,
                    )
                elif rest < -TOLERANCE:
                    notes.append(
                        f"{axis} {date}: the breakdown sums to {_sum(made):.6f} cents, more than the "
                        f"day's totalCents {total:.6f}; the breakdown was kept"
                    )
        axis_total = _num(block.get("totalCents"), shown, f"{axis}.totalCents")
        if isinstance(axis_total, float) and days and abs(_sum(day_totals) - axis_total) > 1e-6:
            notes.append(f"{axis}: daily totals sum to {_sum(day_totals):.6f} cents but totalCents is {axis_total:.6f}")
    if not rows:
        empty = pl.DataFrame({"ts": pl.Series([], dtype=pl.String), "_row": pl.Series([], dtype=pl.Int64)})
        return Loaded("api_usage", shown, stage(empty, file=shown, source="api_usage"), notes=notes)
    cols = sorted({k for r in rows for k in r})
    data = {c: [r.get(c) for r in rows] for c in cols}
    frame = pl.DataFrame(
        {
            c: pl.Series(
                c,
                [None if v is None else (v if c == "_row" else str(v)) for v in vals],
                dtype=pl.Int64 if c == "_row" else pl.String,
            )
            for c, vals in data.items()
        }
    )
    return Loaded("api_usage", shown, stage(frame, file=shown, source="api_usage"), notes=notes)


def read(path: Path, probe: Probe) -> Loaded:
    return read_document(probe.doc(), display_path(path))


FORMAT = Format(
    "api_usage", "GET /api/usage response (compute / llm / voice axes)", ("json",), sniff, read, read_document
)
