"""fetch_api_usage against a real HTTP server on 127.0.0.1 started by the test."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

import usagekit
from usagekit.errors import FetchError
from usagekit.fetch import fetch_api_usage_json

TOKEN = "tok_secret_123456"
RESPONSE = {
    "compute": {
        "totalCents": 10.5,
        "daily": [
            {
                "date": "2026-10-01",
                "agentCents": 6.5,
                "plainVmCents": 4.0,
                "totalCents": 10.5,
                "agents": [{"agentId": "a1", "agentName": "Support", "runningCents": 5.0, "pausedCents": 1.5}],
                "plainVms": [{"plainVmId": "vm1", "plainVmName": "runner", "costCents": 4.0, "hours": 2.0}],
            }
        ],
        "agents": [],
        "plainVms": [],
    },
    "llm": {
        "totalCents": 3.25,
        "daily": [{"date": "2026-10-01", "totalCents": 3.25, "models": [{"model": "gpt-4o", "costCents": 3.0}]}],
        "agents": [],
        "models": [],
        "hasKeys": True,
    },
    "voice": {"totalCents": 0, "totalCharacters": 0, "daily": [], "agents": [], "models": [], "hasVoiceUsage": False},
}


class Server:
    def __init__(self):
        self.script: list = []  # (status, body, delay) per request; the last repeats
        self.seen: list = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                u = urlparse(self.path)
                outer.seen.append(
                    {"path": u.path, "query": parse_qs(u.query), "auth": self.headers.get("Authorization")}
                )
                status, body, delay = outer.script[min(len(outer.seen), len(outer.script)) - 1]
                time.sleep(delay)
                if callable(body):  # the test writes the raw answer itself (trickled, cut short...)
                    try:
                        body(self)
                    except (BrokenPipeError, ConnectionResetError):
                        pass
                    return
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


def test_sends_bearer_token_and_the_spec_query_names(server):
    server.script = [(200, RESPONSE, 0)]
    usage = usagekit.fetch_api_usage(
        server.url,
        TOKEN,
        month="2026-10",
        account_id="acc-1",
        agent_id="ag-2",
        model="gpt-4o",
        voice_model="tts-1",
        admin=True,
    )
    req = server.seen[0]
    assert req["path"] == "/api/usage" and req["auth"] == f"Bearer {TOKEN}"
    assert req["query"] == {
        "month": ["2026-10"],
        "accountId": ["acc-1"],
        "agentId": ["ag-2"],
        "model": ["gpt-4o"],
        "voiceModel": ["tts-1"],
        "admin": ["1"],
    }
    oct_ = usage.filter(month="2026-10")
    assert oct_.filter(month="2026-10", axis="compute").total()["cost_cents"] == pytest.approx(10.5)
    assert oct_.filter(month="2026-10", axis="llm").total()["cost_cents"] == pytest.approx(3.25)  # remainder kept


def test_retries_5xx_then_succeeds(server):
    server.script = [(503, {"error": "busy"}, 0), (500, {"error": "oops"}, 0), (200, RESPONSE, 0)]
    doc = fetch_api_usage_json(server.url, TOKEN, month="2026-10", backoff=0.01)
    assert doc["llm"]["totalCents"] == 3.25 and len(server.seen) == 3


def test_gives_up_after_retries(server):
    server.script = [(502, {"error": "down"}, 0)]
    with pytest.raises(FetchError, match="HTTP 502, after 3 attempts") as err:
        fetch_api_usage_json(server.url, TOKEN, retries=2, backoff=0.01)
    assert len(server.seen) == 3 and err.value.status == 502


@pytest.mark.parametrize(
    "status, words",
    [
        (401, "token was rejected"),
        (403, "may not read usage for month=2026-10"),
        (404, "no /api/usage here; check base_url"),
    ],
)
def test_auth_and_missing_errors_are_clear_and_token_free(server, status, words):
    server.script = [(status, {"error": "no"}, 0)]
    with pytest.raises(FetchError, match=words) as err:
        fetch_api_usage_json(server.url, TOKEN, month="2026-10", backoff=0.01)
    assert TOKEN not in str(err.value) and len(server.seen) == 1


def test_timeout_and_non_json(server):
    server.script = [(200, RESPONSE, 1.0)]
    with pytest.raises(FetchError, match="timeout"):
        fetch_api_usage_json(server.url, TOKEN, timeout=0.2, retries=0)
    server.seen.clear()
    server.script = [(200, b"<html>login</html>", 0)]
    with pytest.raises(FetchError, match="not JSON"):
        fetch_api_usage_json(server.url, TOKEN)


def test_bad_month_is_refused_before_any_request(server):
    with pytest.raises(ValueError, match="YYYY-MM"):
        fetch_api_usage_json(server.url, TOKEN, month="10/2026")
    assert server.seen == []


def test_save_to_keeps_the_raw_response(server, tmp_path):
    server.script = [(200, RESPONSE, 0)]
    usagekit.fetch_api_usage(server.url, TOKEN, save_to=tmp_path / "resp.json")
    assert json.loads((tmp_path / "resp.json").read_text()) == RESPONSE
    again = usagekit.load(tmp_path / "resp.json")
    assert again.load_report.files[0].format == "api_usage"


# -- hardening (issue 15 item 6): every network failure is a FetchError, timeout is a total deadline,
#    the token never appears in a message ------------------------------------------------------------


def _trickle(handler):
    """Headers at once, then the body one byte every 0.2 s (about 20 s in all)."""
    data = json.dumps(RESPONSE).encode()
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    for b in data[:100]:
        handler.wfile.write(bytes([b]))
        handler.wfile.flush()
        time.sleep(0.2)


def _cut_short(handler):
    """Content-Length promises the whole body, half of it is sent, then the connection closes."""
    data = json.dumps(RESPONSE).encode()
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data[: len(data) // 2])
    handler.wfile.flush()
    handler.close_connection = True


def _chunked_cut_short(handler):
    """A chunked body whose second chunk never ends (requests' ChunkedEncodingError class)."""
    handler.protocol_version = "HTTP/1.1"
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()
    handler.wfile.write(b'5\r\n{"a":\r\n400\r\n{"partial')
    handler.wfile.flush()
    handler.close_connection = True


def test_trickled_body_is_stopped_by_the_total_deadline(server):
    server.script = [(200, _trickle, 0)]
    t0 = time.monotonic()
    with pytest.raises(FetchError, match="deadline") as err:
        fetch_api_usage_json(server.url, TOKEN, timeout=1, retries=3, backoff=0.01)
    took = time.monotonic() - t0
    assert took < 2.5, f"took {took:.1f} s with timeout=1"
    assert TOKEN not in str(err.value)


@pytest.mark.parametrize("answer", [_cut_short, _chunked_cut_short], ids=["content-length", "chunked"])
def test_body_cut_short_is_a_fetch_error_after_retries(server, answer):
    server.script = [(200, answer, 0)]
    with pytest.raises(FetchError, match="cut short.*after 3 attempts") as err:
        fetch_api_usage_json(server.url, TOKEN, timeout=5, retries=2, backoff=0.01)
    assert err.value.status is None and len(server.seen) == 3


def test_body_cut_short_once_then_whole_is_read(server):
    server.script = [(200, _cut_short, 0), (200, RESPONSE, 0)]
    doc = fetch_api_usage_json(server.url, TOKEN, timeout=5, backoff=0.01)
    assert doc == RESPONSE and len(server.seen) == 2


def test_connection_refused_is_a_fetch_error():
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(FetchError, match="could not connect.*after 2 attempts"):
        fetch_api_usage_json(f"http://127.0.0.1:{port}", TOKEN, retries=1, backoff=0.01, timeout=5)


@pytest.mark.parametrize("status", [400, 401, 500, 503])
def test_token_echoed_by_the_server_is_redacted(server, status):
    echo = {"error": f"invalid token {TOKEN} (Bearer {TOKEN})"}
    server.script = [(status, echo, 0)]
    with pytest.raises(FetchError) as err:
        fetch_api_usage_json(server.url + f"/?t={TOKEN}", TOKEN, retries=1, backoff=0.01)
    text = str(err.value) + repr(err.value) + str(err.value.url)
    assert TOKEN not in text and "[redacted]" in str(err.value)


def test_429_is_retried_honouring_retry_after(server):
    seen_at = []

    def limited(handler):
        seen_at.append(time.monotonic())
        handler.send_response(429)
        handler.send_header("Retry-After", "1")
        handler.send_header("Content-Length", "2")
        handler.end_headers()
        handler.wfile.write(b"{}")

    server.script = [(429, limited, 0), (200, RESPONSE, 0)]
    t0 = time.monotonic()
    doc = fetch_api_usage_json(server.url, TOKEN, timeout=10, backoff=0.01)
    assert doc == RESPONSE and len(server.seen) == 2
    assert time.monotonic() - t0 >= 0.9  # waited as the server asked


def _trickle_headers(handler):
    """The status line and headers themselves a few bytes every 0.2 s (each read is quick, the sum is not)."""
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Padding: " + b"x" * 60 + b"\r\n"
    for i in range(0, len(head), 3):
        handler.wfile.write(head[i : i + 3])
        handler.wfile.flush()
        time.sleep(0.2)


def test_trickled_headers_are_stopped_by_the_total_deadline(server):
    server.script = [(200, _trickle_headers, 0)]
    t0 = time.monotonic()
    with pytest.raises(FetchError, match="deadline"):
        fetch_api_usage_json(server.url, TOKEN, timeout=1, retries=3, backoff=0.01)
    assert time.monotonic() - t0 < 2.0
