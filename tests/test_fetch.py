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
    "compute": {"totalCents": 10.5, "daily": [
        {"date": "2026-10-01", "agentCents": 6.5, "plainVmCents": 4.0, "totalCents": 10.5,
         "agents": [{"agentId": "a1", "agentName": "Support", "runningCents": 5.0, "pausedCents": 1.5}],
         "plainVms": [{"plainVmId": "vm1", "plainVmName": "runner", "costCents": 4.0, "hours": 2.0}]}],
        "agents": [], "plainVms": []},
    "llm": {"totalCents": 3.25, "daily": [{"date": "2026-10-01", "totalCents": 3.25,
                                            "models": [{"model": "gpt-4o", "costCents": 3.0}]}],
            "agents": [], "models": [], "hasKeys": True},
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
                outer.seen.append({"path": u.path, "query": parse_qs(u.query),
                                   "auth": self.headers.get("Authorization")})
                status, body, delay = outer.script[min(len(outer.seen), len(outer.script)) - 1]
                time.sleep(delay)
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
    usage = usagekit.fetch_api_usage(server.url, TOKEN, month="2026-10", account_id="acc-1", agent_id="ag-2",
                                     model="gpt-4o", voice_model="tts-1", admin=True)
    req = server.seen[0]
    assert req["path"] == "/api/usage" and req["auth"] == f"Bearer {TOKEN}"
    assert req["query"] == {"month": ["2026-10"], "accountId": ["acc-1"], "agentId": ["ag-2"], "model": ["gpt-4o"],
                            "voiceModel": ["tts-1"], "admin": ["1"]}
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


@pytest.mark.parametrize("status, words", [(401, "token was rejected"), (403, "may not read usage for month=2026-10"),
                                           (404, "no /api/usage here; check base_url")])
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
