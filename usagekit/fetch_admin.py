"""Fetch the providers' and gateways' own cost and usage APIs into files ``usagekit.load`` reads.

For scheduled runs (``usagekit fetch openai|anthropic|openrouter|litellm``):

============  ===========================================================  =========================
provider      what is pulled                                               key (environment variable)
============  ===========================================================  =========================
openai        ``/v1/organization/costs`` and ``/usage/completions`` pages     ``OPENAI_ADMIN_KEY``
anthropic     ``/v1/organizations/cost_report`` pages                       ``ANTHROPIC_ADMIN_KEY``
openrouter    ``/api/v1/activity`` for each day                              ``OPENROUTER_API_KEY``
litellm       ``/spend/logs`` (request log) and ``/key/list`` (virtual keys)  ``LITELLM_MASTER_KEY``
============  ===========================================================  =========================

Pages are followed (``has_more`` / ``next_page``; LiteLLM's ``page`` / ``total_pages``), every
request goes through :func:`usagekit.http_client.get_json` (retries with backoff, 429 honoured)
and the whole fetch shares one **deadline**. The key is read from the environment, sent only
in a header, and never logged or written: every message and every saved file is scrubbed of it.

What is saved loads with the existing readers: the pages of one endpoint joined into one page
(OpenAI and Anthropic), the activity rows as one ``{"data": [...]}`` document (OpenRouter), the
request log and key list as CSV (LiteLLM); ``manifest.json`` beside them says what was
fetched (the loader passes over it). An endpoint with no data for the period writes no file.
LiteLLM rows are written as CSV the way a PostgreSQL export writes its tables (JSON columns as
text), so they read exactly like a ``psql \\copy`` of ``LiteLLM_SpendLogs`` / ``LiteLLM_VerificationToken``.

>>> fetch("openai", "2026-10-01", "2026-11-01", "fetched/openai")   # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .errors import FetchError, UsagekitError, display_path
from .http_client import REDACTED, Deadline, get_json, redact

PROVIDERS = ("openai", "anthropic", "openrouter", "litellm")
KEY_VARS = {
    "openai": ("OPENAI_ADMIN_KEY",),
    "anthropic": ("ANTHROPIC_ADMIN_KEY",),
    "openrouter": ("OPENROUTER_API_KEY", "OPENROUTER_PROVISIONING_KEY"),
    "litellm": ("LITELLM_MASTER_KEY", "LITELLM_API_KEY"),
}
BASE_URLS = {
    "openai": "https://api.openai.com/v1",
    "anthropic": "https://api.anthropic.com",
    "openrouter": "https://openrouter.ai/api/v1",
    "litellm": None,
}
BASE_VARS = {
    "openai": "OPENAI_ADMIN_BASE_URL",
    "anthropic": "ANTHROPIC_ADMIN_BASE_URL",
    "openrouter": "OPENROUTER_BASE_URL",
    "litellm": "LITELLM_BASE_URL",
}
#: pages followed at most per endpoint (a server that never stops saying has_more is an error)
MAX_PAGES = 10_000


@dataclass
class Fetched:
    """What :func:`fetch` wrote: files (with their rows), requests made, endpoints with no data."""

    provider: str
    since: dt.date
    until: dt.date
    out_dir: Path
    files: dict = field(default_factory=dict)  # path -> rows/buckets written
    requests: int = 0
    empty: list = field(default_factory=list)

    def __str__(self) -> str:
        lines = [
            f"fetched {self.provider} {self.since} .. {self.until} (end exclusive) in {self.requests} "
            f"request(s) into {display_path(self.out_dir)}"
        ]
        lines += [f"  {display_path(p)}: {n:,} record(s)" for p, n in self.files.items()]
        lines += [f"  {e}: no data in the period (no file written)" for e in self.empty]
        return "\n".join(lines)


class _Client:
    """GETs for one fetch: shared deadline, headers, secret scrubbing and a request count."""

    def __init__(
        self,
        base_url: str,
        headers: dict,
        secret: str,
        deadline: Deadline,
        timeout: float,
        retries: int,
        backoff: float,
        session,
        say,
    ):
        self.base, self.headers, self.secret = base_url.rstrip("/"), headers, secret
        self.deadline, self.timeout, self.retries, self.backoff = deadline, timeout, retries, backoff
        self.session, self.say, self.requests = session, say, 0

    def get(self, path: str, params) -> object:
        self.requests += 1
        answer = get_json(
            self.base + path,
            headers=self.headers,
            params=params,
            secrets=(self.secret,),
            timeout=self.timeout,
            deadline=self.deadline,
            retries=self.retries,
            backoff=self.backoff,
            session=self.session,
            explain=_explain,
        )
        return answer.doc


def _explain(status: int, text: str) -> str | None:
    if status == 401:
        return "401 unauthorized: the admin key was rejected; check the environment variable holds a valid admin key"
    if status == 403:
        return "403 forbidden: this key may not read cost or usage data; an organisation admin key is needed"
    if status == 404:
        return "404 not found: no such endpoint here; check --base-url"
    return None


def _day(value, name: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise UsagekitError(f"--{name} '{value}' is not a date; write it as YYYY-MM-DD") from None


def _unix(day: dt.date) -> int:
    return int(dt.datetime.combine(day, dt.time(), dt.timezone.utc).timestamp())


def _iso(day: dt.date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


def key_from_env(provider: str) -> str:
    for var in KEY_VARS[provider]:
        value = os.environ.get(var, "").strip()
        if value:
            return value
    raise UsagekitError(
        f"no {provider} key: set the environment variable {KEY_VARS[provider][0]} "
        f"({'an admin key' if provider in ('openai', 'anthropic') else 'a key allowed to read spend'}); "
        "keys are read from the environment only, never from the command line"
    )


def fetch(
    provider: str,
    since,
    until=None,
    out_dir=".",
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    deadline: float = 600,
    timeout: float = 60,
    retries: int = 5,
    backoff: float = 1.0,
    session=None,
    progress: bool = False,
) -> Fetched:
    """Pull ``provider``'s cost/usage API for the days ``[since, until)`` into ``out_dir``.

    ``api_key`` defaults to the provider's environment variable (see the module table);
    ``deadline`` bounds the whole fetch in seconds, ``timeout`` each request. Returns a
    :class:`Fetched`; raises :class:`~usagekit.FetchError` (key-free message) on failure.
    """
    provider = provider.strip().lower()
    if provider not in PROVIDERS:
        raise UsagekitError(f"unknown provider '{provider}'; expected one of: {', '.join(PROVIDERS)}")
    since = _day(since, "since")
    until = _day(until, "until") if until is not None else dt.datetime.now(dt.timezone.utc).date()
    if until <= since:
        raise UsagekitError(f"--until {until} is not after --since {since} (the end day is exclusive)")
    key = api_key or key_from_env(provider)
    base = base_url or os.environ.get(BASE_VARS[provider]) or BASE_URLS[provider]
    if not base:
        raise UsagekitError(f"{provider} needs the proxy's address: pass --base-url or set {BASE_VARS[provider]}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    def say(text: str) -> None:
        if progress:
            print(redact(text, (key,)), file=sys.stderr, flush=True)

    headers = {"Accept": "application/json"}
    if provider == "anthropic":
        headers |= {"x-api-key": key, "anthropic-version": "2023-06-01"}
    else:
        headers["Authorization"] = f"Bearer {key}"
    client = _Client(base, headers, key, Deadline(deadline), timeout, retries, backoff, session, say)
    result = Fetched(provider, since, until, out)
    tag = f"{since.isoformat()}_{until.isoformat()}"
    {"openai": _openai, "anthropic": _anthropic, "openrouter": _openrouter, "litellm": _litellm}[provider](
        client, since, until, out, tag, result
    )
    result.requests = client.requests
    _write(
        out / "manifest.json",
        {
            "provider": provider,
            "since": since.isoformat(),
            "until_exclusive": until.isoformat(),
            "fetched_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "base_url": base,
            "requests": client.requests,
            "files": {p.name: n for p, n in result.files.items()},
            "empty": result.empty,
        },
        key,
    )
    return result


def _write(path: Path, doc, secret: str, table: bool = False) -> None:
    """Write JSON (or, with ``table``, records as CSV), scrubbed of the key, atomically (a temp file
    renamed into place)."""
    if table:
        import csv
        import io

        columns = list(dict.fromkeys(k for r in doc for k in r))
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: ("" if v is None else v) for k, v in r.items()} for r in doc)
        text = buf.getvalue()
    else:
        text = json.dumps(doc, indent=1, default=str)
    text = redact(text, (secret,))
    tmp = path.with_name(f".{path.name}.part")
    tmp.write_text(text)
    tmp.replace(path)


def _pages(client: _Client, path: str, params: dict, what: str) -> list[dict]:
    """Every page of a ``has_more`` / ``next_page`` endpoint."""
    pages, cursors = [], set()
    cursor = None
    while True:
        doc = client.get(path, params | ({"page": cursor} if cursor else {}))
        if not isinstance(doc, dict) or not isinstance(doc.get("data"), list):
            raise FetchError(
                client.base + path, f'page {len(pages) + 1} of {what} is not a page {{"data": [...], "has_more": ...}}'
            )
        pages.append(doc)
        client.say(f"{what}: page {len(pages)} ({len(doc['data'])} bucket(s))")
        cursor = doc.get("next_page")
        if not doc.get("has_more") or not cursor:
            return pages
        if cursor in cursors or len(pages) >= MAX_PAGES:
            raise FetchError(
                client.base + path,
                f"{what}: the server keeps saying has_more (page cursor repeated "
                f"after {len(pages)} pages); try a shorter period",
            )
        cursors.add(cursor)


def _joined(pages: list[dict], envelope: dict) -> dict:
    """The buckets of every page as one page that says it is complete."""
    buckets = [b for p in pages for b in p["data"]]
    return {**envelope, "data": buckets, "has_more": False, "next_page": None}


def _save_pages(client, pages, out: Path, name: str, envelope: dict, result: Fetched, what: str) -> None:
    buckets = sum(len(p["data"]) for p in pages)
    if not any(b.get("results") for p in pages for b in p["data"] if isinstance(b, dict)):
        result.empty.append(what)
        return
    path = out / name
    _write(path, _joined(pages, envelope), client.secret)
    result.files[path] = buckets


def _openai(client, since, until, out, tag, result):
    span = {"start_time": _unix(since), "end_time": _unix(until), "bucket_width": "1d"}
    costs = _pages(
        client, "/organization/costs", span | {"limit": 180, "group_by": ["line_item", "project_id"]}, "openai costs"
    )
    _save_pages(client, costs, out, f"openai-costs-{tag}.json", {"object": "page"}, result, "openai costs")
    usage = _pages(
        client,
        "/organization/usage/completions",
        span | {"limit": 31, "group_by": ["model", "project_id", "api_key_id"]},
        "openai usage/completions",
    )
    _save_pages(
        client,
        usage,
        out,
        f"openai-usage-completions-{tag}.json",
        {"object": "page"},
        result,
        "openai usage/completions",
    )


def _anthropic(client, since, until, out, tag, result):
    params = {"starting_at": _iso(since), "ending_at": _iso(until), "group_by[]": ["workspace_id", "description"]}
    pages = _pages(client, "/v1/organizations/cost_report", params, "anthropic cost report")
    _save_pages(client, pages, out, f"anthropic-cost-report-{tag}.json", {}, result, "anthropic cost report")


def _openrouter(client, since, until, out, tag, result):
    rows = []
    day = since
    while day < until:
        doc = client.get("/activity", {"date": day.isoformat()})
        data = doc.get("data") if isinstance(doc, dict) else None
        if not isinstance(data, list):
            raise FetchError(client.base + "/activity", f'the answer for {day} is not {{"data": [...]}}')
        # the endpoint may answer with more than the day asked for: keep the period's rows only
        keep = [r for r in data if isinstance(r, dict) and str(r.get("date", ""))[:10] == day.isoformat()]
        rows += keep
        client.say(f"openrouter activity {day}: {len(keep)} row(s)")
        day += dt.timedelta(days=1)
    if not rows:
        result.empty.append("openrouter activity")
        return
    path = out / f"openrouter-activity-{tag}.json"
    _write(path, {"data": rows}, client.secret)
    result.files[path] = len(rows)


def _litellm_rows(client, path: str, params: dict, what: str, list_field: str) -> list[dict]:
    """A LiteLLM list endpoint: a bare JSON list, or pages ``{<list_field>: [...], "total_pages": n}``."""
    rows, page = [], 1
    while True:
        doc = client.get(path, params | {"page": page})
        if isinstance(doc, list):
            client.say(f"{what}: {len(doc)} row(s)")
            return rows + doc
        items = doc.get(list_field) if isinstance(doc, dict) else None
        if not isinstance(items, list):
            raise FetchError(client.base + path, f"{what}: expected a JSON list or an object with '{list_field}'")
        rows += items
        total = doc.get("total_pages") or 1
        client.say(f"{what}: page {page} of {total} ({len(items)} row(s))")
        if page >= int(total) or not items or page >= MAX_PAGES:
            return rows
        page += 1


def _flat(row: dict) -> dict:
    """A LiteLLM row as its PostgreSQL export writes it: JSON columns as text, secrets masked."""
    from .masking import redact as mask

    out = {}
    for k, v in row.items():
        if isinstance(v, (dict, list)):
            v = json.dumps(v, separators=(",", ":"), default=str)
        elif isinstance(v, str):
            v = mask(v)
        out[k] = v
    return out


def _litellm(client, since, until, out, tag, result):
    last = until - dt.timedelta(days=1)  # LiteLLM's end_date is inclusive
    logs = _litellm_rows(
        client,
        "/spend/logs",
        {"start_date": since.isoformat(), "end_date": last.isoformat(), "page_size": 1000},
        "litellm spend logs",
        "data",
    )
    if logs:
        path = out / f"litellm-spend-logs-{tag}.csv"
        _write(path, [_flat(r) for r in logs if isinstance(r, dict)], client.secret, table=True)
        result.files[path] = len(logs)
    else:
        result.empty.append("litellm spend logs")
    keys = _litellm_rows(client, "/key/list", {"return_full_object": "true", "size": 100}, "litellm keys", "keys")
    keys = [k for k in keys if isinstance(k, dict) and k.get("token")]
    if keys:
        path = out / "litellm-keys.csv"
        _write(path, [_flat(k) for k in keys], client.secret, table=True)
        result.files[path] = len(keys)
    else:
        result.empty.append("litellm keys")


__all__ = ["fetch", "Fetched", "PROVIDERS", "KEY_VARS", "REDACTED"]
