"""Fetch ``GET /api/usage`` over HTTP: bearer token, the spec's query names, retries, clear errors.

>>> usage = usagekit.fetch_api_usage("https://app.example.com", token, month="2026-10")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from .errors import FetchError
from .extras import require

requests = require("requests", "fetch", "fetching /api/usage")

RETRY_STATUSES = {500, 502, 503, 504}


def _params(month, account_id, agent_id, model, voice_model, admin) -> dict:
    params = {}
    if month is not None:
        if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", str(month)):
            raise ValueError(f"month '{month}' is not valid; write it as YYYY-MM, e.g. 2026-10")
        params["month"] = str(month)
    for name, value in (("accountId", account_id), ("agentId", agent_id), ("model", model),
                        ("voiceModel", voice_model)):
        if value is not None:
            params[name] = str(value)
    if admin:
        params["admin"] = "1"
    return params


def fetch_api_usage_json(base_url: str, token: str, month=None, account_id=None, agent_id=None, model=None,
                         voice_model=None, admin: bool = False, timeout: float = 30, retries: int = 3,
                         backoff: float = 0.5, session: requests.Session | None = None) -> dict:
    """The parsed JSON of ``GET {base_url}/api/usage``; see :func:`fetch_api_usage`."""
    url = base_url.rstrip("/") + "/api/usage"
    params = _params(month, account_id, agent_id, model, voice_model, admin)
    http = session or requests.Session()
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    attempt = 0
    while True:
        attempt += 1
        resp = None
        try:
            resp = http.get(url, params=params, headers=headers, timeout=timeout)
        except requests.Timeout:
            problem, status = f"no answer within {timeout:g} s (timeout)", None
        except requests.ConnectionError as exc:
            problem, status = f"could not connect ({type(exc).__name__})", None
        else:
            status = resp.status_code
            if status == 200:
                try:
                    doc = resp.json()
                except ValueError:
                    raise FetchError(url, f"the answer is not JSON (starts with {resp.text[:80]!r})", status) from None
                if not isinstance(doc, dict):
                    raise FetchError(url, f"the answer is a JSON {type(doc).__name__}, not the usage object", status)
                return doc
            if status == 401:
                raise FetchError(url, "401 unauthorized: the token was rejected; check that it is valid and not "
                                      "expired", status)
            if status == 403:
                asked = ", ".join(f"{k}={v}" for k, v in params.items()) or "the default scope"
                raise FetchError(url, f"403 forbidden: this token may not read usage for {asked}"
                                      f"{' (admin=1 needs an admin token)' if admin else ''}", status)
            if status == 404:
                raise FetchError(url, "404 not found: there is no /api/usage here; check base_url", status)
            if status not in RETRY_STATUSES:
                raise FetchError(url, f"HTTP {status}: {resp.text[:200]}", status)
            problem = f"HTTP {status}"
        if attempt > retries:
            raise FetchError(url, f"{problem}, after {attempt} attempts", status)
        wait = backoff * 2 ** (attempt - 1)
        if status is not None and resp is not None and resp.headers.get("Retry-After", "").isdigit():
            wait = max(wait, min(float(resp.headers["Retry-After"]), 30.0))
        time.sleep(wait)


def fetch_api_usage(base_url: str, token: str, month=None, account_id=None, agent_id=None, model=None,
                    voice_model=None, admin: bool = False, *, keys=None, save_to=None, timeout: float = 30,
                    retries: int = 3, backoff: float = 0.5, session=None):
    """Fetch ``GET /api/usage`` with a bearer token and load it as a :class:`~usagekit.Usage`.

    Query names are the spec's: ``month`` (YYYY-MM), ``accountId``, ``agentId``, ``model``,
    ``voiceModel``, ``admin=1``. 5xx answers and dropped connections are retried with
    exponential backoff (``Retry-After`` honoured, capped at 30 s); 401, 403 and 404 raise a
    :class:`~usagekit.FetchError` saying what to check. The token never appears in errors.
    ``save_to`` keeps the raw JSON.
    """
    doc = fetch_api_usage_json(base_url, token, month=month, account_id=account_id, agent_id=agent_id, model=model,
                               voice_model=voice_model, admin=admin, timeout=timeout, retries=retries,
                               backoff=backoff, session=session)
    if save_to is not None:
        Path(save_to).write_text(json.dumps(doc, indent=1))
    from .loading import load
    return load(doc, keys=keys)
