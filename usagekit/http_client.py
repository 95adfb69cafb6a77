"""One careful JSON GET for every fetcher: a total deadline, retries with backoff, secrets redacted.

:func:`get_json` is what :func:`usagekit.fetch.fetch_api_usage` and the admin API fetchers
(:mod:`usagekit.fetch_admin`) call. Whatever goes wrong on the network (refused connection,
DNS, TLS, a reset, a body cut short, a server that trickles its answer) ends as a
:class:`~usagekit.errors.FetchError`; no ``requests`` or ``urllib3`` exception escapes.

The deadline is for the whole call, retries and waits included: the body is read in small
pieces and the clock is checked between them, so a server sending one byte a second cannot
stretch a 1 s deadline to a minute. Every message is passed through :func:`redact` with the
call's secrets, so a server that echoes the token back in its error page cannot put it into an
exception, a log line or a saved traceback.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from urllib.parse import quote, quote_plus

import requests
import urllib3

from .errors import FetchError

#: answers worth another try: rate limited, or the server's own trouble
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
#: longest wait a Retry-After header may ask for
MAX_RETRY_AFTER = 30.0
#: bytes read at a time from a response body (the deadline is checked between reads)
CHUNK = 64 * 1024
#: largest body accepted (an admin page is kilobytes; a runaway answer is cut off here)
MAX_BODY = 256 * 1024 * 1024
REDACTED = "[redacted]"


class Deadline:
    """A point in time a whole fetch must finish by (``time.monotonic`` based)."""

    def __init__(self, seconds: float):
        self.seconds = float(seconds)
        self.end = time.monotonic() + self.seconds

    def left(self) -> float:
        return self.end - time.monotonic()

    def expired(self) -> bool:
        return self.left() <= 0


def redact(text: str, secrets) -> str:
    """``text`` with every secret (as written, URL-encoded or in a bearer header) replaced."""
    out = str(text)
    for secret in secrets or ():
        if not secret or len(secret) < 4:
            continue
        for form in {secret, quote(secret, safe=""), quote_plus(secret)}:
            out = out.replace(form, REDACTED)
    return out


@dataclass
class Answer:
    """A successful GET: the parsed JSON, the status and how many attempts it took."""

    doc: object
    status: int
    attempts: int


class _Retry(Exception):
    def __init__(self, problem: str, status: int | None = None, wait: float | None = None):
        self.problem, self.status, self.wait = problem, status, wait


def get_json(
    url: str,
    *,
    headers: dict | None = None,
    params: dict | None = None,
    secrets=(),
    timeout: float = 30,
    deadline: Deadline | None = None,
    retries: int = 3,
    backoff: float = 0.5,
    session: requests.Session | None = None,
    explain=None,
) -> Answer:
    """GET ``url`` and parse its JSON body, within ``deadline`` (default: ``timeout`` from now).

    ``timeout`` bounds each attempt, ``deadline`` the whole call. 429 and 5xx answers, dropped
    connections and bodies cut short are retried with exponential backoff (``Retry-After``
    honoured up to 30 s) while the deadline allows; ``explain(status, text)`` may return the
    message for a final non-200 answer (None = the generic one). ``secrets`` are removed from
    every message.
    """
    deadline = deadline or Deadline(timeout)
    http = session or requests.Session()
    shown = redact(url, secrets)

    def fail(problem: str, status: int | None = None):
        return FetchError(shown, redact(problem, secrets), status)

    attempt = 0
    while True:
        attempt += 1
        left = deadline.left()
        if left <= 0:
            raise fail(f"no complete answer within the {deadline.seconds:g} s deadline (timeout)")
        try:
            doc, status = _watched(
                lambda: _attempt(http, url, headers, params, min(timeout, left), deadline, explain, fail),
                left,
                http if session is None else None,
                fail,
                deadline,
            )
            return Answer(doc, status, attempt)
        except _Retry as r:
            if attempt > retries:
                raise fail(f"{r.problem}, after {attempt} attempts", r.status) from None
            wait = backoff * 2 ** (attempt - 1)
            if r.wait is not None:
                wait = max(wait, min(r.wait, MAX_RETRY_AFTER))
            if wait >= deadline.left():
                raise fail(
                    f"{r.problem}; no time left within the {deadline.seconds:g} s deadline to retry "
                    f"(attempt {attempt})",
                    r.status,
                ) from None
            time.sleep(wait)


def _watched(call, left: float, own_session, fail, deadline: Deadline):
    """``call()`` on a worker thread, waited for at most ``left`` seconds.

    Socket timeouts bound each read, not their sum: a server that trickles its status line or
    headers a byte at a time would stretch an attempt far past the deadline. Past it, this
    gives up, closes the session it made (so the worker's socket closes too) and says so.
    """
    box: dict = {}

    def run():
        try:
            box["value"] = call()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread as is
            box["error"] = exc

    worker = threading.Thread(target=run, name="usagekit-fetch", daemon=True)
    worker.start()
    worker.join(max(left, 0) + 0.05)
    if worker.is_alive():
        if own_session is not None:
            own_session.close()
        raise fail(
            f"no complete answer within the {deadline.seconds:g} s deadline (timeout; the server is "
            "answering too slowly)"
        )
    if "error" in box:
        raise box["error"]
    return box["value"]


def _attempt(http, url, headers, params, timeout, deadline: Deadline, explain, fail):
    resp = None
    try:
        resp = http.get(url, params=params, headers=headers, timeout=(timeout, timeout), stream=True)
        status = resp.status_code
        if status != 200:
            text = _body(resp, deadline, limit=4096).decode("utf-8", "replace")
            if status in RETRY_STATUSES:
                after = resp.headers.get("Retry-After", "")
                raise _Retry(f"HTTP {status}", status, float(after) if after.strip().isdigit() else None)
            message = explain(status, text) if explain else None
            raise fail(message or f"HTTP {status}: {text[:200]}", status)
        body = _body(resp, deadline)
    except (_Retry, FetchError):
        raise
    except requests.Timeout:
        if deadline.expired():
            raise fail(f"no complete answer within the {deadline.seconds:g} s deadline (timeout)") from None
        raise _Retry(f"no answer within {timeout:g} s (timeout)") from None
    except _TimeUp:
        raise fail(
            f"the answer did not arrive completely within the {deadline.seconds:g} s deadline "
            "(timeout; the server is sending it too slowly)"
        ) from None
    except _TooBig:
        raise fail(f"the answer is larger than {MAX_BODY // 2**20} MB; ask for a shorter period") from None
    except (
        requests.ConnectionError,
        requests.exceptions.ChunkedEncodingError,
        requests.exceptions.ContentDecodingError,
        urllib3.exceptions.HTTPError,
        OSError,
    ) as exc:
        if deadline.expired():
            raise fail(f"no complete answer within the {deadline.seconds:g} s deadline (timeout)") from None
        raise _Retry(_network_problem(exc)) from None
    except requests.RequestException as exc:  # invalid URL, too many redirects...
        raise fail(f"the request could not be made ({type(exc).__name__}: {exc})") from None
    finally:
        if resp is not None:
            resp.close()
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        start = body[:80].decode("utf-8", "replace")
        raise fail(f"the answer is not JSON (starts with {start!r})", status) from None
    return doc, status


class _TimeUp(Exception):
    pass


class _TooBig(Exception):
    pass


def _body(resp: requests.Response, deadline: Deadline, limit: int = MAX_BODY) -> bytes:
    """The whole body, read a piece at a time so the deadline is checked while it arrives."""
    parts, size = [], 0
    raw = resp.raw
    while True:
        if deadline.expired():
            raise _TimeUp()
        piece = raw.read1(CHUNK, decode_content=True) if hasattr(raw, "read1") else raw.read(CHUNK)
        if not piece:  # end of the body (a short one raises instead: Content-Length is enforced)
            break
        parts.append(piece)
        size += len(piece)
        if size > limit:
            if limit < MAX_BODY:  # an error page: its start is enough
                break
            raise _TooBig()
    return b"".join(parts)


def _network_problem(exc: Exception) -> str:
    text = str(exc)
    if (
        isinstance(exc, requests.exceptions.ChunkedEncodingError)
        or "IncompleteRead" in text
        or "incomplete" in text.lower()
        or "prematurely" in text.lower()
    ):
        return "the answer was cut short (connection closed before the whole body arrived)"
    if isinstance(exc, (requests.ConnectionError, ConnectionError)):
        return f"could not connect ({type(exc).__name__})"
    return f"network error ({type(exc).__name__})"
