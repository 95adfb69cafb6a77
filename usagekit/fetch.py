"""Fetch ``GET /api/usage`` over HTTP: bearer token, the spec's query names, retries, clear errors.

>>> usage = usagekit.fetch_api_usage("https://app.example.com", token, month="2026-10")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import requests

from .errors import FetchError
from .http_client import get_json


def _params(month, account_id, agent_id, model, voice_model, admin) -> dict:
    params = {}
    if month is not None:
        if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", str(month)):
            raise ValueError(f"month '{month}' is not valid; write it as YYYY-MM, e.g. 2026-10")
        params["month"] = str(month)
    for name, value in (
        ("accountId", account_id),
        ("agentId", agent_id),
        ("model", model),
        ("voiceModel", voice_model),
    ):
        if value is not None:
            params[name] = str(value)
    if admin:
        params["admin"] = "1"
    return params


def fetch_api_usage_json(
    base_url: str,
    token: str,
    month=None,
    account_id=None,
    agent_id=None,
    model=None,
    voice_model=None,
    admin: bool = False,
    timeout: float = 30,
    retries: int = 3,
    backoff: float = 0.5,
    session: requests.Session | None = None,
) -> dict:
    """The parsed JSON of ``GET {base_url}/api/usage``; see :func:`fetch_api_usage`."""
    url = base_url.rstrip("/") + "/api/usage"
    params = _params(month, account_id, agent_id, model, voice_model, admin)
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}

    def explain(status: int, text: str) -> str | None:
        if status == 401:
            return "401 unauthorized: the token was rejected; check that it is valid and not expired"
        if status == 403:
            asked = ", ".join(f"{k}={v}" for k, v in params.items()) or "the default scope"
            return (
                f"403 forbidden: this token may not read usage for {asked}"
                f"{' (admin=1 needs an admin token)' if admin else ''}"
            )
        if status == 404:
            return "404 not found: there is no /api/usage here; check base_url"
        return None

    answer = get_json(
        url,
        headers=headers,
        params=params,
        secrets=(token,),
        timeout=timeout,
        retries=retries,
        backoff=backoff,
        session=session,
        explain=explain,
    )
    if not isinstance(answer.doc, dict):
        raise FetchError(url, f"the answer is a JSON {type(answer.doc).__name__}, not the usage object", answer.status)
    return answer.doc


def fetch_api_usage(
    base_url: str,
    token: str,
    month=None,
    account_id=None,
    agent_id=None,
    model=None,
    voice_model=None,
    admin: bool = False,
    *,
    keys=None,
    save_to=None,
    timeout: float = 30,
    retries: int = 3,
    backoff: float = 0.5,
    session=None,
):
    """Fetch ``GET /api/usage`` with a bearer token and load it as a :class:`~usagekit.Usage`.

    Query names are the spec's: ``month`` (YYYY-MM), ``accountId``, ``agentId``, ``model``,
    ``voiceModel``, ``admin=1``. 429 and 5xx answers, dropped connections and bodies cut short
    are retried with exponential backoff (``Retry-After`` honoured, capped at 30 s); 401, 403
    and 404 raise a :class:`~usagekit.FetchError` saying what to check, and so does every other
    network failure. ``timeout`` is a deadline for the whole call, retries included, even
    against a server that trickles its answer. The token never appears in an error, even when
    the server echoes it back. ``save_to`` keeps the raw JSON.
    """
    doc = fetch_api_usage_json(
        base_url,
        token,
        month=month,
        account_id=account_id,
        agent_id=agent_id,
        model=model,
        voice_model=voice_model,
        admin=admin,
        timeout=timeout,
        retries=retries,
        backoff=backoff,
        session=session,
    )
    if save_to is not None:
        Path(save_to).write_text(json.dumps(doc, indent=1))
    from .loading import load

    return load(doc, keys=keys)
