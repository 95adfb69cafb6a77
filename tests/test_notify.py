"""Alerts from scheduled runs, delivered through apprise to a real local HTTP server and SMTP server.

Each warning/critical finding and each cap crossing reaches every target once; re-runs and
replays do not resend; a failed delivery is reported, kept pending and retried; the webhook
token never shows in output, logs, the state file or the page.
"""

from __future__ import annotations

import email
import json
import logging
import socket
import threading
from email.policy import default as email_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

pytest.importorskip("apprise", reason="pip install -e '.[alerts]'")
from aiosmtpd.controller import Controller  # noqa: E402

import usagekit  # noqa: E402
from usagekit import notify  # noqa: E402
from usagekit.cli import main  # noqa: E402

TOKEN = "s3cr3tWebhookT0ken9x7"  # the Slack-style incoming webhook's secret path part
JSON_SECRET = "pathSecretQ4z"  # a generic webhook carrying a secret in its path


class Hooks(ThreadingHTTPServer):
    """Records every POST; ``fail`` maps a path to the HTTP status it answers instead of 200."""

    daemon_threads = True

    def __init__(self):
        self.posts: list[tuple[str, dict]] = []
        self.fail: dict[str, int] = {}

        class Handler(BaseHTTPRequestHandler):
            def do_POST(h):  # noqa: N805
                body = h.rfile.read(int(h.headers.get("Content-Length", 0)))
                status = self.fail.get(h.path, 200)
                if status == 200:
                    self.posts.append((h.path, json.loads(body)))
                h.send_response(status)
                h.send_header("Content-Length", "2")
                h.end_headers()
                h.wfile.write(b"ok")

            def log_message(h, *args):  # noqa: N805
                pass

        super().__init__(("127.0.0.1", 0), Handler)


@pytest.fixture
def hooks():
    server = Hooks()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


class Inbox:
    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.messages.append(email.message_from_bytes(envelope.content, policy=email_policy))
        return "250 OK"


@pytest.fixture
def smtp():
    inbox = Inbox()
    with socket.socket() as probe:  # a free port (aiosmtpd checks it is up by connecting to it)
        probe.bind(("127.0.0.1", 0))
        inbox.port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port)
    controller.start()
    yield inbox
    controller.stop()


def targets(hooks, smtp) -> list[str]:
    port = hooks.server_address[1]
    return [
        f"json://127.0.0.1:{port}/alerts/{JSON_SECRET}",
        f"mmost://127.0.0.1:{port}/{TOKEN}",
        f"mailto://127.0.0.1:{smtp.port}?from=usagekit@example.com&to=oncall@example.com&mode=insecure",
    ]


def expected_alerts(demo_dir, as_of=None) -> list[notify.Alert]:
    usage = usagekit.load(demo_dir)
    found = usagekit.detect(usage, month="2026-10", as_of=as_of)
    return notify.finding_alerts(found) + notify.cap_alerts(usage, "2026-10", as_of=as_of)


def anomalies(demo_dir, state, urls, *extra) -> int:
    args = ["anomalies", str(demo_dir), "--month", "2026-10", "--state", str(state)]
    for u in urls:
        args += ["--notify", u]
    return main(args + list(extra))


def test_each_finding_and_cap_crossing_reaches_every_target_once(demo_dir, hooks, smtp, tmp_path, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    state = tmp_path / "reports" / "alerts-state.json"
    want = expected_alerts(demo_dir)
    titles = sorted(a.title for a in want)
    assert any(a.id.startswith("cap|") for a in want) and any(a.id.startswith("finding|") for a in want)
    assert all(a.severity in ("warning", "critical") for a in want)

    assert anomalies(demo_dir, state, targets(hooks, smtp), "--report-url", "https://reports.example.com/usage") == 0
    out = capsys.readouterr().out
    assert f"alerts: {3 * len(want)} sent, 0 failed, 0 already sent" in out

    generic = [p for path, p in hooks.posts if path == f"/alerts/{JSON_SECRET}"]
    slack_style = [p for path, p in hooks.posts if path == f"/hooks/{TOKEN}"]
    assert sorted(p["title"] for p in generic) == titles
    assert {p["type"] for p in generic} <= {"warning", "failure"}
    assert all("https://reports.example.com/usage/2026-10/all/report.html" in p["message"] for p in generic)
    assert len(slack_style) == len(want)
    assert sorted(t for t in titles if any(t in p["text"] for p in slack_style)) == titles
    assert sorted(m["Subject"] for m in smtp.messages) == titles
    spike = next(a for a in want if "|spike|" in a.id)
    mail = next(m for m in smtp.messages if m["Subject"] == spike.title)
    assert "Next step:" in mail.get_body(("plain", "html")).get_content()

    # a re-run, and a replay of the month as of an earlier day, send nothing new
    assert anomalies(demo_dir, state, targets(hooks, smtp)) == 0
    assert anomalies(demo_dir, state, targets(hooks, smtp), "--as-of", "2026-10-28") == 0
    out = capsys.readouterr().out
    assert f"alerts: 0 sent, 0 failed, {3 * len(want)} already sent" in out
    assert len(hooks.posts) == 2 * len(want) and len(smtp.messages) == len(want)

    saved = json.loads(state.read_text())
    assert saved["version"] == notify.STATE_VERSION
    assert set(saved["sent"]) >= {a.id for a in want} and saved["pending"] == {}
    for text in (state.read_text(), out, caplog.text):
        assert TOKEN not in text and JSON_SECRET not in text


def test_failed_delivery_is_reported_kept_pending_and_retried_once_the_target_answers(
    demo_dir, hooks, tmp_path, capsys, caplog
):
    caplog.set_level(logging.DEBUG)
    state = tmp_path / "alerts-state.json"
    port = hooks.server_address[1]
    url = f"mmost://127.0.0.1:{port}/{TOKEN}"
    want = expected_alerts(demo_dir)
    hooks.fail[f"/hooks/{TOKEN}"] = 500

    assert anomalies(demo_dir, state, [url]) == 1  # failures make the scheduled run visible
    out = capsys.readouterr().out
    assert f"alerts: 0 sent, {len(want)} failed" in out and "FAILED" in out and "retried on the next run" in out
    assert "mmost://127.0.0.1:" in out and TOKEN not in out and TOKEN not in caplog.text
    saved = json.loads(state.read_text())
    assert saved["sent"] == {} and set(saved["pending"]) == {a.id for a in want}
    assert all(t["attempts"] == 1 for p in saved["pending"].values() for t in p["targets"].values())
    assert TOKEN not in state.read_text()

    del hooks.fail[f"/hooks/{TOKEN}"]
    assert anomalies(demo_dir, state, [url]) == 0
    assert f"alerts: {len(want)} sent, 0 failed, 0 already sent" in capsys.readouterr().out
    assert len(hooks.posts) == len(want)
    assert anomalies(demo_dir, state, [url]) == 0
    assert len(hooks.posts) == len(want)
    assert json.loads(state.read_text())["pending"] == {}


def test_an_alert_pending_for_one_target_does_not_resend_to_the_other(demo_dir, hooks, smtp, tmp_path, capsys):
    state = tmp_path / "alerts-state.json"
    good, _, mail = targets(hooks, smtp)
    bad_mail = mail.replace(f":{smtp.port}", ":9")  # nothing listens on port 9
    want = expected_alerts(demo_dir)
    assert anomalies(demo_dir, state, [good, bad_mail]) == 1
    assert len(hooks.posts) == len(want)
    # the mail target fixed (another URL, so another target): it gets each alert once, the webhook nothing again
    assert anomalies(demo_dir, state, [good, mail]) == 0
    assert len(hooks.posts) == len(want) and len(smtp.messages) == len(want)
    out = capsys.readouterr().out
    assert "earlier failed deliveries wait for targets not given this run" in out


def test_report_notify_links_the_published_page_and_does_not_resend(demo_dir, hooks, tmp_path, capsys):
    port = hooks.server_address[1]
    url = f"json://127.0.0.1:{port}/alerts/{JSON_SECRET}"
    out = tmp_path / "reports"
    args = ["report", "--month", "2026-10", "--source", str(demo_dir), "--out", str(out), "--quiet", "--notify", url]
    assert main(args) == 0
    page = out / "2026-10" / "all" / "report.html"
    want = expected_alerts(demo_dir)
    assert sorted(p["title"] for _, p in hooks.posts) == sorted(a.title for a in want)
    assert all(page.resolve().as_uri() in p["message"] for _, p in hooks.posts)
    assert (out / "alerts-state.json").exists()
    assert main(args) == 0
    assert len(hooks.posts) == len(want)
    printed = capsys.readouterr().out
    assert f"alerts: 0 sent, 0 failed, {len(want)} already sent" in printed
    for f in (page, out / "2026-10" / "all" / "report.json", out / "alerts-state.json"):
        assert JSON_SECRET not in f.read_text()
    assert JSON_SECRET not in printed


def test_unknown_target_and_unreadable_state_exit_two_with_what_to_do(demo_dir, tmp_path, capsys):
    state = tmp_path / "alerts-state.json"
    assert anomalies(demo_dir, state, [f"nosuchservice://example.com/{TOKEN}"]) == 2
    err = capsys.readouterr().err
    assert "not a notification URL apprise understands" in err and TOKEN not in err
    state.write_text(json.dumps({"version": 99, "sent": {}}))
    assert anomalies(demo_dir, state, ["json://127.0.0.1:9/x"]) == 2
    assert "alert state version 99" in capsys.readouterr().err
