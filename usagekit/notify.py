"""Alerts from scheduled runs: each finding and cap crossing delivered once to each target.

What is sent: every anomaly finding of severity ``warning`` or ``critical``, every key
whose spend in its current budget window (:func:`usagekit.periods.budget_window`) has reached
80 % or 100 % of its cap, and every key that has reached its soft budget (LiteLLM's
``soft_budget``: an alert level the gateway does not enforce). Each alert has an identity that a
re-run or a replay with ``--as-of`` computes again unchanged:

* a finding: ``finding|<account>|<key>|<kind>|<first anomalous day>``
* a cap crossing: ``cap|<account>|<key>|<level %>|<budget window start>``
* a soft budget reached: ``soft|<account>|<key>|<budget window start>``

A small versioned JSON state file (``alerts-state.json`` beside the published reports)
records, per alert and target, when it was delivered. An alert already delivered to a target
is not sent to it again; a failed delivery is recorded as pending, reported, and retried on
the next run (with the message it had), never marked sent.

Targets are apprise URLs (https://github.com/caronc/apprise/wiki): ``json://host/path`` (a
generic JSON webhook), ``mmost://host/token`` (a Slack-style incoming webhook at
``/hooks/<token>``), ``slack://...`` or a ``https://hooks.slack.com/services/...`` URL,
``msteams://...``, ``mailto://user:password@smtp.example.com?to=ops@example.com`` and many
more. A target's URL is never written to the state file, a log or a page: only a one-way id
and its ``scheme://host/…`` form are.

>>> alerts = finding_alerts(usagekit.detect(usage, month="2026-10"))       # doctest: +SKIP
>>> print(deliver(alerts, ["json://hooks.example.com/usage"], "reports/alerts-state.json"))  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pandas as pd

from . import statefile
from .errors import UsagekitError, display_path
from .money import format_usd

log = logging.getLogger(__name__)

STATE_VERSION = 1
STATE_NAME = "alerts-state.json"
CAP_LEVELS = (0.8, 1.0)  # shares of a key's cap whose crossing is announced (warning, critical)
SEVERITIES = ("warning", "critical")  # findings of these severities are sent


class NotifyError(UsagekitError):
    """A notification target or the alert state file cannot be used."""


@dataclass(frozen=True)
class Alert:
    """One message to deliver; ``id`` is its identity across runs."""

    id: str
    severity: str
    title: str
    body: str
    link: str | None = None
    #: identities this alert makes moot once delivered (a 100 % cap alert covers the 80 % one)
    covers: tuple[str, ...] = ()

    def text(self) -> str:
        return self.body + (f"\n\nReport: {self.link}" if self.link else "")


# --- what to send -------------------------------------------------------------------------------------


def finding_alerts(findings: pd.DataFrame, link: str | None = None) -> list[Alert]:
    """An alert for each warning or critical finding of :func:`usagekit.detect`."""
    out = []
    if findings is None or findings.empty:
        return out
    for r in findings.itertuples():
        if r.severity not in SEVERITIES:
            continue
        day = str(r.day)
        ident = f"finding|{r.account_id or '-'}|{r.key_id or '-'}|{r.kind}|{day}"
        title = f"[usagekit] {r.severity}: {r.kind} on key {r.key_name} from {day}"
        body = (
            f"{r.explanation}\nAccount {r.account_id}, key {r.key_name} ({_mask(r.key_id)}). "
            f"Observed {format_usd(r.observed_cents)} against {format_usd(r.baseline_cents)}.\n"
            f"Next step: {r.action}"
        )
        out.append(Alert(ident, r.severity, title, body, link))
    return out


def cap_alerts(
    usage,
    month: str,
    account_id: str | None = None,
    as_of=None,
    link: str | None = None,
    levels: Sequence[float] = CAP_LEVELS,
) -> list[Alert]:
    """An alert for each capped key whose spend in its budget window has reached a level of its cap.

    The window is the key's budget window containing the cut-off (``as_of``, else the end of
    ``month`` or now, whichever is earlier); spend counts whole days (in the usage's time zone)
    from the window's first day through the cut-off's day. Only the highest level reached is
    announced (a key found at 105 % gets the 100 % alert, not both). A key with a soft budget
    (``soft_cap_cents``) that its window's spend has reached gets a warning of its own, once per
    window, whether or not it has a cap.
    """
    from .periods import budget_window
    from .usage import month_range

    first, after = month_range(month)
    zone = usage.tz
    month_end = pd.Timestamp(dt.datetime.combine(after, dt.time()), tz=zone).tz_convert("UTC")
    if as_of is None:
        cutoff = min(pd.Timestamp.now(tz="UTC"), month_end)
    else:
        cutoff = _cutoff(as_of, zone)
    keys = usage.keys
    if account_id is not None:
        keys = keys[keys["account_id"] == account_id]
    soft_caps = pd.to_numeric(keys.get("soft_cap_cents", pd.Series(index=keys.index, dtype=float)), errors="coerce")
    keys = keys[(pd.to_numeric(keys["spend_cap_cents"], errors="coerce") > 0) | (soft_caps > 0)]
    if keys.empty:
        return []
    last_day = (cutoff - pd.Timedelta(microseconds=1)).tz_convert(zone).date()
    windows: dict[tuple, list] = {}
    for row in keys.to_dict(orient="records"):
        w = budget_window(row, cutoff - pd.Timedelta(microseconds=1), tz=zone)  # the window holding the last moment
        a, b = w.days()
        end = min(b - dt.timedelta(days=1), last_day)
        if end < a:
            continue
        windows.setdefault((a, end), []).append((row, w))
    out = []
    for (a, end), rows in windows.items():
        scoped = usage.filter(start=a, end=end, account=account_id, keys=[r["key_id"] for r, _ in rows])
        spend = scoped.key_summary(as_of=cutoff).set_index("key_id")["spend_cents"]
        for row, w in rows:
            spent = float(spend.get(row["key_id"], 0.0))
            soft = pd.to_numeric(row.get("soft_cap_cents"), errors="coerce")
            if not pd.isna(soft) and soft > 0 and spent >= soft:
                out.append(_soft_alert(row, w, spent, float(soft), end, zone, link))
            cap = pd.to_numeric(row.get("spend_cap_cents"), errors="coerce")
            if pd.isna(cap) or cap <= 0:
                continue
            cap = float(cap)
            reached = [lv for lv in levels if spent >= lv * cap]
            if not reached:
                continue
            level = max(reached)
            pct = round(level * 100)
            severity = "critical" if level >= 1.0 else "warning"
            ident = _cap_id(row, level, w)
            covers = tuple(_cap_id(row, lv, w) for lv in levels if lv < level)
            title = f"[usagekit] {severity}: key {row['key_name']} reached {pct}% of its cap"
            body = (
                f"Key {row['key_name']} ({_mask(row['key_id'])}), account {row['account_id']}, has spent "
                f"{format_usd(spent)} of its {format_usd(cap)} cap ({spent / cap:.0%}) in its {w} "
                f"(through {end}, days in {zone}).\nNext step: raise the cap if this spend is expected, "
                f"or find which agent is consuming it and slow it down."
            )
            out.append(Alert(ident, severity, title, body, link, covers))
    return out


def _soft_alert(row, window, spent: float, soft: float, end, zone: str, link: str | None) -> Alert:
    """The warning for a key whose spend in its budget window has reached its soft budget."""
    cap = pd.to_numeric(row.get("spend_cap_cents"), errors="coerce")
    against = f" (its cap is {format_usd(float(cap))})" if not pd.isna(cap) and cap > 0 else " (it has no cap)"
    title = f"[usagekit] warning: key {row['key_name']} reached its soft budget"
    body = (
        f"Key {row['key_name']} ({_mask(row['key_id'])}), account {row['account_id']}, has spent "
        f"{format_usd(spent)} in its {window} (through {end}, days in {zone}): at or over its soft budget of "
        f"{format_usd(soft)}{against}. The gateway does not stop a key at its soft budget.\n"
        "Next step: check that this spend is expected before the key reaches its cap."
    )
    ident = f"soft|{row['account_id'] or '-'}|{row['key_id']}|{window.start.isoformat()}"
    return Alert(ident, "warning", title, body, link)


def _cap_id(row, level: float, window) -> str:
    return f"cap|{row['account_id'] or '-'}|{row['key_id']}|{round(level * 100)}|{window.start.isoformat()}"


def _cutoff(as_of, tz: str) -> pd.Timestamp:
    """An ISO time (naive = UTC), or a date meaning the end of that day in ``tz``."""
    text = str(as_of)
    if len(text) == 10:
        return (pd.Timestamp(text, tz=tz) + pd.Timedelta(days=1)).tz_convert("UTC")
    ts = pd.Timestamp(text)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _mask(key_id) -> str:
    from .masking import display

    return display(key_id) if key_id else "-"


def report_link(base: str | None, month: str, account_id: str | None, page: Path | None = None) -> str | None:
    """The published page's address: ``base`` + ``<month>/<account or all>/report.html``, else its file URI."""
    if base:
        return f"{base.rstrip('/')}/{month}/{account_id or 'all'}/report.html"
    if page is not None and Path(page).exists():
        return Path(page).resolve().as_uri()
    return None


# --- targets --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A notification URL; ``id`` and ``shown`` are safe to store and print, ``url`` is not."""

    url: str = field(repr=False)
    id: str = ""
    shown: str = ""

    @classmethod
    def parse(cls, url: str) -> Target:
        from .extras import require

        apprise = require("apprise", "alerts", "--notify")
        parts = urlsplit(url)
        shown = f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if _port(parts) else ''}" + (
            "/…" if parts.path.strip("/") or parts.query else ""
        )
        with redacting(_secrets(url)):
            plugin = apprise.Apprise.instantiate(url, suppress_exceptions=True)
        if plugin is None:
            raise NotifyError(
                f"--notify {shown}: not a notification URL apprise understands; use e.g. "
                "json://host/path (JSON webhook), mmost://host/token (Slack-style webhook), "
                "slack://..., msteams://..., mailto://user:password@smtp.host?to=you@example.com"
            )
        return cls(url=url, id=hashlib.sha256(url.encode()).hexdigest()[:16], shown=shown)

    def secrets(self) -> list[str]:
        return _secrets(self.url)


def _secrets(url: str) -> list[str]:
    """Pieces of a target URL that may be credentials (redacted from any log line)."""
    parts = urlsplit(url)
    pieces = [
        parts.password,
        parts.username,
        *parts.path.split("/"),
        *(p.split("=", 1)[-1] for p in parts.query.split("&")),
    ]
    if parts.scheme in {"slack", "msteams", "discord", "tgram", "pover"}:
        pieces.append(parts.hostname)  # these schemes carry a token in the host part
    return sorted({unquote(p) for p in pieces if p and len(unquote(p)) >= 4}, key=len, reverse=True)


def _port(parts) -> int | None:
    try:
        return parts.port
    except ValueError:
        return None


class _Redact(logging.Filter):
    """Replaces every secret piece of the targets' URLs in apprise's log records."""

    def __init__(self, secrets: Iterable[str]):
        super().__init__()
        self.secrets = list(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        for s in self.secrets:
            msg = msg.replace(s, "***")
        record.msg, record.args = msg, None
        return True


@contextlib.contextmanager
def redacting(secrets: Iterable[str], collect: logging.Handler | None = None):
    """While inside, every secret piece is replaced by ``***`` in apprise's and the HTTP clients' logs."""
    redact = _Redact(secrets)
    # HTTP clients log request paths (which hold webhook tokens) at debug level
    loggers = [logging.getLogger(n) for n in ("apprise", "urllib3.connectionpool", "urllib3", "requests")]
    for lg in loggers:
        lg.addFilter(redact)
    if collect is not None:
        collect.addFilter(redact)
        loggers[0].addHandler(collect)
    try:
        yield
    finally:
        for lg in loggers:
            lg.removeFilter(redact)
        if collect is not None:
            loggers[0].removeHandler(collect)


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


# --- state and delivery -------------------------------------------------------------------------------


@dataclass
class Delivery:
    """What one run did: sent, failed (and why), already sent before."""

    sent: list[tuple[Alert, Target]] = field(default_factory=list)
    failed: list[tuple[Alert, Target, str]] = field(default_factory=list)
    already_sent: int = 0
    pending_elsewhere: int = 0  # failed earlier for a target not given this run
    state_path: Path | None = None

    @property
    def ok(self) -> bool:
        return not self.failed

    def __str__(self) -> str:
        lines = [
            f"alerts: {len(self.sent)} sent, {len(self.failed)} failed, {self.already_sent} already sent "
            f"(state {display_path(self.state_path) if self.state_path else '-'})"
        ]
        for a, t in self.sent:
            lines.append(f"  sent     {t.shown}  {a.title}")
        for a, t, why in self.failed:
            lines.append(f"  FAILED   {t.shown}  {a.title}: {why} (retried on the next run)")
        if self.pending_elsewhere:
            lines.append(f"  {self.pending_elsewhere} earlier failed deliveries wait for targets not given this run")
        return "\n".join(lines)


def _empty_state() -> dict:
    return {"version": STATE_VERSION, "targets": {}, "sent": {}, "pending": {}}


def read_state(path) -> dict:
    path = Path(path)
    if not path.exists():
        return _empty_state()
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise NotifyError(
            f"{display_path(path)}: the alert state file cannot be read ({exc}); move it aside to "
            "start afresh (alerts already sent would then be sent again)"
        ) from None
    version = state.get("version") if isinstance(state, dict) else None
    if version != STATE_VERSION:
        raise NotifyError(
            f"{display_path(path)}: alert state version {version!r} is not {STATE_VERSION}, the one "
            "this usagekit writes; use the usagekit that wrote it, or move the file aside"
        )
    for k in ("targets", "sent", "pending"):
        state.setdefault(k, {})
    return state


def _now() -> str:
    return f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%dT%H:%M:%SZ}"


def deliver(alerts: Sequence[Alert], targets: Sequence[str | Target], state_path) -> Delivery:
    """Send each alert to each target unless the state file says it was delivered there.

    Alerts that failed on an earlier run are retried first, with the text they had then.
    The state is updated after every delivery attempt (a crash loses at most one record).
    """
    from .extras import require

    apprise = require("apprise", "alerts", "--notify")

    targets = [t if isinstance(t, Target) else Target.parse(t) for t in targets]
    state_path = Path(state_path)
    result = Delivery(state_path=state_path)
    if not targets:
        return result
    secrets = sorted({s for t in targets for s in t.secrets()}, key=len, reverse=True)
    collect = _Collect()
    with redacting(secrets, collect):
        with statefile.locked(state_path):
            state = read_state(state_path)
            by_id = {t.id: t for t in targets}
            for t in targets:
                state["targets"][t.id] = t.shown
            todo: dict[str, Alert] = {}
            for ident, entry in state["pending"].items():  # earlier failures first, as they were worded
                a = entry["alert"]
                todo[ident] = Alert(**{**a, "covers": tuple(a.get("covers", ()))})
            for a in alerts:
                todo.setdefault(a.id, a)
            for ident, alert in todo.items():
                pending = state["pending"].get(ident, {"alert": asdict(alert), "targets": {}})
                wanted = [t for t in targets if t.id not in state["sent"].get(ident, {})]
                result.already_sent += len(targets) - len(wanted)
                for t in wanted:
                    collect.messages.clear()
                    sender = apprise.Apprise()
                    sender.add(t.url)
                    kind = apprise.NotifyType.FAILURE if alert.severity == "critical" else apprise.NotifyType.WARNING
                    try:
                        ok = sender.notify(title=alert.title, body=alert.text(), notify_type=kind)
                        why = "; ".join(dict.fromkeys(collect.messages)) or "the target refused the message"
                    except Exception as exc:  # noqa: BLE001 - a plugin error must not lose the state
                        ok, why = False, redact_text(f"{type(exc).__name__}: {exc}", secrets)
                    if ok:
                        for done in (ident, *alert.covers):
                            state["sent"].setdefault(done, {})[t.id] = _now()
                        pending["targets"].pop(t.id, None)
                        result.sent.append((alert, t))
                        log.info("alert sent to %s: %s", t.shown, alert.title)
                    else:
                        prev = pending["targets"].get(t.id, {})
                        pending["targets"][t.id] = {
                            "attempts": prev.get("attempts", 0) + 1,
                            "last_try": _now(),
                            "error": why[:500],
                        }
                        result.failed.append((alert, t, why))
                        log.warning("alert to %s failed: %s: %s", t.shown, alert.title, why)
                left = {tid: v for tid, v in pending["targets"].items()}
                if left:
                    state["pending"][ident] = pending
                    result.pending_elsewhere += sum(1 for tid in left if tid not in by_id)
                else:
                    state["pending"].pop(ident, None)
                statefile.write_json(state_path, state, indent=2)
            statefile.write_json(state_path, state, indent=2)
    return result


def redact_text(text: str, secrets: Iterable[str]) -> str:
    for s in secrets:
        text = text.replace(s, "***")
    return text
