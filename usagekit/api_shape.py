"""Build the ``GET /api/usage`` response (compute / llm / voice axes) from usage rows.

The daily entries of ``llm`` and ``voice`` follow the contract written down in
:mod:`usagekit.sources.api_usage`, so a response built here loads back with the same totals.
"""

from __future__ import annotations

import datetime as dt
import math
from zoneinfo import ZoneInfo

import narwhals as nw
import pandas as pd

from . import queries as q
from .errors import QueryError

_GROUP = ["_day", "axis", "agent_id", "agent_name", "plain_vm_id", "plain_vm_name", "state", "model", "provider"]


def _none(v):
    return None if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA else v


def _fsum(values) -> float:
    return math.fsum(float(v) for v in values)


def build_api_usage(
    usage, *, month=None, account_id=None, agent_id=None, model=None, voice_model=None, admin=False
) -> dict:
    if month is None:  # the scope's month, else the current one (as the API defaults)
        start = usage.scope.start
        month = f"{start:%Y-%m}" if start else dt.datetime.now(ZoneInfo(usage.tz)).strftime("%Y-%m")
    scoped = usage.filter(month=month, account=account_id, agents=agent_id)
    if not admin and account_id is None:
        accounts = q.to_pandas(scoped.cube.select("account_id").unique())["account_id"].dropna().tolist()
        if len(accounts) > 1:
            raise QueryError(
                f"the data holds {len(accounts)} accounts ({', '.join(sorted(accounts)[:5])}); "
                "pass account_id=... for one of them, or admin=True for all"
            )
    frame = scoped.cube
    if model is not None:
        frame = frame.filter((nw.col("axis") != "llm") | (nw.col("model") == model))
    if voice_model is not None:
        frame = frame.filter((nw.col("axis") != "voice") | (nw.col("model") == voice_model))
    res = q.finish_money(
        q.to_pandas(
            frame.group_by(*_GROUP).agg(
                *q.money_aggs(),
                nw.col("requests").sum().alias("requests"),
                nw.col("input_tokens").sum().alias("input_tokens"),
                nw.col("output_tokens").sum().alias("output_tokens"),
                nw.col("characters").sum().alias("characters"),
                nw.col("hours").sum().alias("hours"),
            )
        )
    )
    for c in ("requests", "input_tokens", "output_tokens", "characters"):
        res[c] = pd.to_numeric(res[c], errors="coerce").fillna(0).astype("int64")
    res["hours"] = pd.to_numeric(res["hours"], errors="coerce").fillna(0.0)
    res = res.astype(object).where(res.notna(), None)
    start, end = scoped.scope.start, scoped.scope.end
    days = [start + dt.timedelta(days=i) for i in range((end - start).days)]
    by_day = {d: res[res["_day"] == q.day_number(d)] for d in days}

    has_keys = bool(len(usage.keys) and (account_id is None or (usage.keys["account_id"] == account_id).any())) or bool(
        q.to_pandas(scoped.cube.filter(~nw.col("key_id").is_null()).select(nw.len().alias("n")))["n"].iloc[0]
    )
    return {
        "month": month,
        "timeZone": usage.tz,
        "compute": _compute(res[res["axis"] == "compute"], days, by_day),
        "llm": {**_metered(res[res["axis"] == "llm"], days, by_day, "llm"), "hasKeys": has_keys},
        "voice": _voice(res[res["axis"] == "voice"], days, by_day),
    }


def _compute_agents(rows: pd.DataFrame) -> list[dict]:
    rows = rows[rows["plain_vm_id"].isna()]
    out = []
    for (aid, name), g in rows.groupby(["agent_id", "agent_name"], dropna=False, sort=True):
        paused = _fsum(g.loc[g["state"] == "paused", "cost_cents"])
        running = _fsum(g.loc[g["state"] != "paused", "cost_cents"])
        out.append(
            {
                "agentId": _none(aid),
                "agentName": _none(name),
                "runningCents": running,
                "pausedCents": paused,
                "totalCents": running + paused,
                "hours": _fsum(g["hours"]),
            }
        )
    return sorted(out, key=lambda a: -a["totalCents"])


def _compute_vms(rows: pd.DataFrame) -> list[dict]:
    rows = rows[rows["plain_vm_id"].notna()]
    out = [
        {"plainVmId": vid, "plainVmName": _none(name), "costCents": _fsum(g["cost_cents"]), "hours": _fsum(g["hours"])}
        for (vid, name), g in rows.groupby(["plain_vm_id", "plain_vm_name"], dropna=False, sort=True)
    ]
    return sorted(out, key=lambda v: -v["costCents"])


def _compute(rows, days, by_day) -> dict:
    daily = []
    for d in days:
        r = by_day[d]
        r = r[r["axis"] == "compute"]
        agents, vms = _compute_agents(r), _compute_vms(r)
        a = _fsum(x["totalCents"] for x in agents)
        v = _fsum(x["costCents"] for x in vms)
        daily.append(
            {
                "date": d.isoformat(),
                "agentCents": a,
                "plainVmCents": v,
                "totalCents": a + v,
                "agents": agents,
                "plainVms": vms,
            }
        )
    return {
        "totalCents": _fsum(rows["cost_cents"]),
        "daily": daily,
        "agents": _compute_agents(rows),
        "plainVms": _compute_vms(rows),
    }


def _models(rows: pd.DataFrame, voice: bool) -> list[dict]:
    out = []
    for (m, p), g in rows.groupby(["model", "provider"], dropna=False, sort=True):
        item = {
            "model": _none(m),
            "provider": _none(p),
            "costCents": _fsum(g["cost_cents"]),
            "requests": int(g["requests"].sum()),
        }
        if voice:
            item["characters"] = int(g["characters"].sum())
        else:
            item["inputTokens"] = int(g["input_tokens"].sum())
            item["outputTokens"] = int(g["output_tokens"].sum())
        out.append(item)
    return sorted(out, key=lambda x: -x["costCents"])


def _agents(rows: pd.DataFrame) -> list[dict]:
    out = [
        {
            "agentId": _none(a),
            "agentName": _none(n),
            "costCents": _fsum(g["cost_cents"]),
            "requests": int(g["requests"].sum()),
        }
        for (a, n), g in rows.groupby(["agent_id", "agent_name"], dropna=False, sort=True)
    ]
    return sorted(out, key=lambda x: -x["costCents"])


def _metered(rows, days, by_day, axis) -> dict:
    voice = axis == "voice"
    daily = []
    for d in days:
        r = by_day[d]
        r = r[r["axis"] == axis]
        entry = {"date": d.isoformat(), "totalCents": _fsum(r["cost_cents"]), "requests": int(r["requests"].sum())}
        if voice:
            entry["characters"] = int(r["characters"].sum())
        entry["models"] = _models(r, voice)
        entry["agents"] = _agents(r)
        daily.append(entry)
    return {
        "totalCents": _fsum(rows["cost_cents"]),
        "daily": daily,
        "agents": _agents(rows),
        "models": _models(rows, voice),
    }


def _voice(rows, days, by_day) -> dict:
    out = _metered(rows, days, by_day, "voice")
    return {
        "totalCents": out["totalCents"],
        "totalCharacters": int(rows["characters"].sum()),
        "daily": out["daily"],
        "agents": out["agents"],
        "models": out["models"],
        "hasVoiceUsage": bool(len(rows)),
    }
