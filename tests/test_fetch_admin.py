"""``usagekit fetch``: the admin cost/usage APIs against local HTTP servers replaying their documented shapes.

Each test starts a threaded ``http.server`` on 127.0.0.1 that answers like the real API (pages with
``has_more``/``next_page``, empty pages, 429s, slow or cut-short bodies); what the fetcher saves is
then loaded with ``usagekit.load`` and checked to hold the served numbers and never the key.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

import usagekit
from usagekit.cli import main
from usagekit.errors import FetchError, UsagekitError
from usagekit.fetch_admin import fetch

KEY = "sk-admin-TESTKEY0123456789abcdef"


def unix(day: int) -> int:
    return int(dt.datetime(2026, 10, day, tzinfo=dt.timezone.utc).timestamp())


class Api:
    """A local server; ``routes[path]`` is a list of answers given in turn (the last repeats).

    An answer is ``(status, body)`` or a callable writing the raw answer itself."""

    def __init__(self):
        self.routes: dict[str, list] = {}
        self.seen: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                u = urlparse(self.path)
                outer.seen.append({"path": u.path, "query": parse_qs(u.query), "headers": dict(self.headers)})
                answers = outer.routes.get(u.path, [(404, {"error": "no route"})])
                n = sum(1 for s in outer.seen if s["path"] == u.path)
                answer = answers[min(n, len(answers)) - 1]
                try:
                    if callable(answer):
                        answer(self)
                        return
                    status, body = answer
                    data = json.dumps(body).encode()
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    if status == 429:
                        self.send_header("Retry-After", "0")
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def api():
    a = Api()
    yield a
    a.close()


def _assert_key_nowhere(out_dir):
    for p in out_dir.rglob("*"):
        if p.is_file():
            assert KEY not in p.read_text(errors="replace"), p


def cost(value, item, project="proj_1"):
    return {
        "object": "organization.costs.result",
        "amount": {"value": value, "currency": "usd"},
        "line_item": item,
        "project_id": project,
    }


OPENAI_COSTS = [
    {
        "object": "page",
        "data": [
            {
                "object": "bucket",
                "start_time": unix(1),
                "end_time": unix(2),
                "results": [cost(0.12, "gpt-4o-2024-08-06, input"), cost("0.30", "gpt-4o-2024-08-06, output")],
            }
        ],
        "has_more": True,
        "next_page": "page_AAA",
    },
    {
        "object": "page",
        "data": [
            {
                "object": "bucket",
                "start_time": unix(2),
                "end_time": unix(3),
                "results": [cost(0.5, "gpt-4o-mini-2024-07-18, input")],
            }
        ],
        "has_more": False,
        "next_page": None,
    },
]
USAGE_RESULT = {
    "object": "organization.usage.completions.result",
    "input_tokens": 1000,
    "output_tokens": 200,
    "input_cached_tokens": 400,
    "input_audio_tokens": 0,
    "output_audio_tokens": 0,
    "num_model_requests": 7,
    "project_id": "proj_1",
    "user_id": None,
    "api_key_id": "key_abc",
    "model": "gpt-4o-2024-08-06",
    "batch": None,
    "service_tier": None,
}
OPENAI_USAGE = [
    {
        "object": "page",
        "data": [{"object": "bucket", "start_time": unix(1), "end_time": unix(2), "results": [USAGE_RESULT]}],
        "has_more": True,
        "next_page": "page_U2",
    },
    {"object": "page", "data": [], "has_more": False, "next_page": None},  # a quiet tail: an empty page
]


def test_openai_follows_pages_retries_429_and_saves_loadable_files(api, tmp_path):
    api.routes["/v1/organization/costs"] = [
        (429, {"error": {"message": "rate limited"}}),
        *[(200, p) for p in OPENAI_COSTS],
    ]
    api.routes["/v1/organization/usage/completions"] = [(200, p) for p in OPENAI_USAGE]
    out = tmp_path / "openai"
    result = fetch("openai", "2026-10-01", "2026-10-03", out, base_url=api.url + "/v1", api_key=KEY, backoff=0.01)

    costs = [s for s in api.seen if s["path"] == "/v1/organization/costs"]
    assert len(costs) == 3  # the 429, then two pages
    assert costs[1]["query"]["start_time"] == [str(unix(1))] and costs[1]["query"]["end_time"] == [str(unix(3))]
    assert costs[1]["query"]["group_by"] == ["line_item", "project_id"] and "page" not in costs[1]["query"]
    assert costs[2]["query"]["page"] == ["page_AAA"]
    assert all(s["headers"]["Authorization"] == f"Bearer {KEY}" for s in api.seen)
    assert result.requests == 4 and len(result.files) == 2  # pages asked for (the 429's retry is inside one)

    usage = usagekit.load(out)
    assert usage.load_report.rejected == 0
    assert [f.rsplit("/", 1)[-1] for f, _ in usage.load_report.skipped] == ["manifest.json"]
    oct_ = usage.filter(month="2026-10")
    assert oct_.total()["cost_cents"] == pytest.approx(92.0)  # (0.12 + 0.30 + 0.5) USD
    assert oct_.total()["requests"] == 7  # from the usage page; costs lines are not requests
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["until_exclusive"] == "2026-10-03" and manifest["requests"] == 4
    _assert_key_nowhere(out)


def test_anthropic_sends_its_headers_and_an_empty_period_writes_no_file(api, tmp_path):
    page = {
        "data": [
            {
                "starting_at": "2026-10-01T00:00:00Z",
                "ending_at": "2026-10-02T00:00:00Z",
                "results": [
                    {
                        "amount": "123.45",
                        "currency": "USD",
                        "cost_type": "tokens",
                        "token_type": "output_tokens",
                        "description": None,
                        "model": "claude-sonnet-4-20250514",
                        "workspace_id": "wrk_1",
                    }
                ],
            }
        ],
        "has_more": True,
        "next_page": "page_B",
    }
    last = {
        "data": [{"starting_at": "2026-10-02T00:00:00Z", "ending_at": "2026-10-03T00:00:00Z", "results": []}],
        "has_more": False,
        "next_page": None,
    }
    api.routes["/v1/organizations/cost_report"] = [(200, page), (200, last)]
    out = tmp_path / "anthropic"
    fetch("anthropic", "2026-10-01", "2026-10-03", out, base_url=api.url, api_key=KEY, backoff=0.01)
    first = api.seen[0]
    assert first["headers"]["x-api-key"] == KEY and first["headers"]["anthropic-version"] == "2023-06-01"
    assert "Authorization" not in first["headers"]
    assert first["query"]["starting_at"] == ["2026-10-01T00:00:00Z"]
    assert api.seen[1]["query"]["page"] == ["page_B"]
    usage = usagekit.load(out)
    assert usage.filter(month="2026-10").total()["cost_cents"] == pytest.approx(123.45)  # amounts are cents
    assert not any("has_more" in n for f in usage.load_report.files for n in f.notes)  # joined pages are complete
    _assert_key_nowhere(out)

    api.seen.clear()
    api.routes["/v1/organizations/cost_report"] = [(200, {"data": [], "has_more": False, "next_page": None})]
    quiet = fetch("anthropic", "2026-11-01", "2026-11-02", tmp_path / "quiet", base_url=api.url, api_key=KEY)
    assert quiet.files == {} and quiet.empty == ["anthropic cost report"]
    assert sorted(p.name for p in (tmp_path / "quiet").iterdir()) == ["manifest.json"]


def test_openrouter_activity_day_by_day(api, tmp_path):
    row = {
        "date": "2026-10-01",
        "model": "openai/gpt-4o",
        "model_permaslug": "openai/gpt-4o-2024-08-06",
        "endpoint_id": "ep_1",
        "provider_name": "OpenAI",
        "usage": 0.25,
        "byok_usage_inference": 0,
        "requests": 3,
        "prompt_tokens": 900,
        "completion_tokens": 100,
        "reasoning_tokens": 0,
    }
    api.routes["/api/v1/activity"] = [(200, {"data": [row]}), (200, {"data": []})]
    out = tmp_path / "or"
    result = fetch("openrouter", "2026-10-01", "2026-10-03", out, base_url=api.url + "/api/v1", api_key=KEY)
    assert [s["query"]["date"] for s in api.seen] == [["2026-10-01"], ["2026-10-02"]]
    assert list(result.files.values()) == [1]
    usage = usagekit.load(out).filter(month="2026-10")
    assert usage.total()["cost_cents"] == pytest.approx(25.0) and usage.total()["requests"] == 3
    _assert_key_nowhere(out)


def test_litellm_spend_logs_and_paged_key_list(api, tmp_path):
    log = {
        "request_id": "chatcmpl-f1",
        "call_type": "acompletion",
        "api_key": "a" * 64,
        "spend": 0.0021,
        "total_tokens": 1200,
        "prompt_tokens": 1000,
        "completion_tokens": 200,
        "startTime": "2026-10-01T10:00:00Z",
        "endTime": "2026-10-01T10:00:01Z",
        "model": "gpt-4o",
        "model_group": "gpt-4o",
        "custom_llm_provider": "openai",
        "user": "u_1",
        "team_id": "team_a",
        "metadata": {"user_api_key_alias": "bot", "usage_object": {"prompt_tokens_details": {"cached_tokens": 300}}},
        "cache_hit": "False",
        "request_tags": ["prod"],
        "status": "success",
    }
    key = {
        "token": "a" * 64,
        "key_name": "sk-...wxyz",
        "key_alias": "bot",
        "spend": 0.0021,
        "max_budget": 10.0,
        "budget_duration": "30d",
        "user_id": "u_1",
        "team_id": "team_a",
        "created_at": "2026-09-01T00:00:00Z",
    }
    key2 = dict(key, token="b" * 64, key_alias="other", max_budget=None)
    api.routes["/spend/logs"] = [(200, [log])]
    api.routes["/key/list"] = [
        (200, {"keys": [key], "total_count": 2, "current_page": 1, "total_pages": 2}),
        (200, {"keys": [key2], "total_count": 2, "current_page": 2, "total_pages": 2}),
    ]
    out = tmp_path / "litellm"
    result = fetch("litellm", "2026-10-01", "2026-10-02", out, base_url=api.url, api_key=KEY)
    logs_req = api.seen[0]
    assert logs_req["query"]["start_date"] == ["2026-10-01"] and logs_req["query"]["end_date"] == ["2026-10-01"]
    assert [s["query"]["page"] for s in api.seen if s["path"] == "/key/list"] == [["1"], ["2"]]
    assert sorted(result.files.values()) == [1, 2]
    usage = usagekit.load(out)
    assert usage.load_report.kept == 1
    assert usage.keys.set_index("key_name").loc["bot", "spend_cap_cents"] == pytest.approx(1000.0)
    row = usage.to_pandas().iloc[0]
    assert row["cost_cents"] == pytest.approx(0.21) and row["cached_input_tokens"] == 300
    _assert_key_nowhere(out)


def test_the_key_is_redacted_when_the_server_echoes_it(api, tmp_path):
    api.routes["/v1/organization/costs"] = [(400, {"error": {"message": f"Incorrect API key provided: {KEY}"}})]
    with pytest.raises(FetchError) as err:
        fetch("openai", "2026-10-01", "2026-10-02", tmp_path / "o", base_url=api.url + "/v1", api_key=KEY)
    assert KEY not in str(err.value) and "[redacted]" in str(err.value)


def test_total_deadline_stops_a_trickling_server(api, tmp_path):
    def trickle(handler):
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", "1000")
        handler.end_headers()
        for _ in range(100):
            handler.wfile.write(b" ")
            handler.wfile.flush()
            time.sleep(0.2)

    api.routes["/v1/organization/costs"] = [trickle]
    t0 = time.monotonic()
    with pytest.raises(FetchError, match="deadline"):
        fetch(
            "openai",
            "2026-10-01",
            "2026-10-02",
            tmp_path / "o",
            base_url=api.url + "/v1",
            api_key=KEY,
            deadline=1,
            timeout=30,
        )
    assert time.monotonic() - t0 < 2.5


def test_a_body_cut_short_is_retried_then_read(api, tmp_path):
    whole = json.dumps(OPENAI_COSTS[1]).encode()

    def cut(handler):
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(whole)))
        handler.end_headers()
        handler.wfile.write(whole[:20])
        handler.close_connection = True

    api.routes["/v1/organization/costs"] = [cut, (200, OPENAI_COSTS[1])]
    api.routes["/v1/organization/usage/completions"] = [(200, OPENAI_USAGE[1])]
    out = tmp_path / "o"
    result = fetch("openai", "2026-10-01", "2026-10-03", out, base_url=api.url + "/v1", api_key=KEY, backoff=0.01)
    assert len([s for s in api.seen if s["path"] == "/v1/organization/costs"]) == 2
    assert result.empty == ["openai usage/completions"]
    assert usagekit.load(out).filter(month="2026-10").total()["cost_cents"] == pytest.approx(50.0)


def test_a_server_that_never_stops_paging_is_an_error(api, tmp_path):
    loop = {"object": "page", "data": [], "has_more": True, "next_page": "same"}
    api.routes["/v1/organization/costs"] = [(200, loop)]
    with pytest.raises(FetchError, match="keeps saying has_more"):
        fetch("openai", "2026-10-01", "2026-10-02", tmp_path / "o", base_url=api.url + "/v1", api_key=KEY)


def test_cli_reads_the_key_from_the_environment(api, tmp_path, monkeypatch, capsys):
    api.routes["/v1/organizations/cost_report"] = [
        (
            200,
            {
                "data": [
                    {
                        "starting_at": "2026-10-01T00:00:00Z",
                        "ending_at": "2026-10-02T00:00:00Z",
                        "results": [
                            {
                                "amount": "50",
                                "currency": "USD",
                                "cost_type": "tokens",
                                "model": "claude-3-5-haiku-20241022",
                            }
                        ],
                    }
                ],
                "has_more": False,
                "next_page": None,
            },
        )
    ]
    monkeypatch.delenv("ANTHROPIC_ADMIN_KEY", raising=False)
    code = main(
        [
            "fetch",
            "anthropic",
            "--since",
            "2026-10-01",
            "--until",
            "2026-10-02",
            "--out",
            str(tmp_path / "a"),
            "--base-url",
            api.url,
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "set the environment variable ANTHROPIC_ADMIN_KEY" in err

    monkeypatch.setenv("ANTHROPIC_ADMIN_KEY", KEY)
    code = main(
        [
            "fetch",
            "anthropic",
            "--since",
            "2026-10-01",
            "--until",
            "2026-10-02",
            "--out",
            str(tmp_path / "a"),
            "--base-url",
            api.url,
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "anthropic-cost-report-2026-10-01_2026-10-02.json: 1 record(s)" in captured.out
    assert "usagekit check" in captured.out
    assert KEY not in captured.out + captured.err
    assert usagekit.load(tmp_path / "a").filter(month="2026-10").total()["cost_cents"] == pytest.approx(50.0)
    _assert_key_nowhere(tmp_path / "a")


def test_bad_arguments_are_clear():
    with pytest.raises(UsagekitError, match="expected one of: openai, anthropic, openrouter, litellm"):
        fetch("opneai", "2026-10-01", "2026-10-02", ".", api_key=KEY)
    with pytest.raises(UsagekitError, match="not after"):
        fetch("openai", "2026-10-02", "2026-10-01", ".", api_key=KEY)
    with pytest.raises(UsagekitError, match="LITELLM_BASE_URL"):
        fetch("litellm", "2026-10-01", "2026-10-02", ".", api_key=KEY)


def test_litellm_paged_spend_logs(api, tmp_path):
    def log(i):
        return {
            "request_id": f"chatcmpl-p{i}",
            "api_key": "c" * 64,
            "spend": 0.001,
            "prompt_tokens": 10,
            "completion_tokens": 5,
            "startTime": f"2026-10-0{i}T08:00:00Z",
            "model": "gpt-4o-mini",
            "custom_llm_provider": "openai",
            "status": "success",
            "metadata": {},
        }

    api.routes["/spend/logs"] = [
        (200, {"data": [log(1), log(2)], "total": 3, "page": 1, "page_size": 2, "total_pages": 2}),
        (200, {"data": [log(3)], "total": 3, "page": 2, "page_size": 2, "total_pages": 2}),
    ]
    api.routes["/key/list"] = [(200, {"keys": [], "total_count": 0, "current_page": 1, "total_pages": 0})]
    out = tmp_path / "l"
    result = fetch("litellm", "2026-10-01", "2026-10-04", out, base_url=api.url, api_key=KEY)
    assert [s["query"]["page"] for s in api.seen if s["path"] == "/spend/logs"] == [["1"], ["2"]]
    assert result.empty == ["litellm keys"]
    usage = usagekit.load(out)
    assert usage.load_report.kept == 3
    assert usage.filter(month="2026-10").total()["cost_cents"] == pytest.approx(0.3)
