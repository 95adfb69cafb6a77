"""A deterministic, realistic demo month of gateway usage, with planted anomalies.

:func:`generate` writes a directory that every part of usagekit can read::

    usage/YYYY-MM-DD.parquet   one file per UTC day: the month and its history months,
                               columns and types exactly :func:`usagekit.schema.arrow_schema`
    keys.csv                   the key registry (caps in cents, empty = no cap; account names)
    labels.json                the truth: which anomalies were planted where, and the totals

What is in it: three accounts, about forty virtual keys (most capped at two to four times
their month's spend, a few uncapped), agents and plain VMs, twenty-odd models of seven
providers priced at their public list prices (USD per 1M tokens, per 1M characters for
speech; approximate, for a demo only). Requests carry lognormal token counts, a weekday /
weekend rhythm, an hour-of-day curve and a 1.5% error rate. Three axes: ``llm`` and
``voice`` rows are single requests with a unique ``request_id``; ``compute`` rows are
hourly buckets of an agent or a plain VM (running or paused) without a key.

Only the target month holds anomalies, one of each kind, each on its own account:

``spike``    a quiet key has one day far above its usual spend (a leaked token);
``cap``      a capped key's daily spend climbs from mid-month until it passes its cap;
``runaway``  a key with near-zero days has one huge day of a single model (a loop).

Every other key is steady, so a good detector finds exactly these. Same arguments, same
output: all randomness comes from ``numpy.random.Generator`` seeded with ``seed``.

Large months stream: each day is generated in slices of at most :data:`SLICE_ROWS`
expected rows and written as Parquet row groups of at most :data:`CHUNK_ROWS` rows, so
memory stays bounded whatever ``requests`` is. The file contents do not depend on
:data:`CHUNK_ROWS` (only the row-group layout does).
"""

from __future__ import annotations

import calendar
import csv
import datetime as dt
import json
import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from . import schema
from .errors import UsagekitError, display_path
from .money import format_usd

#: Largest Parquet row group (and in-memory write buffer), in rows.
CHUNK_ROWS = 2_000_000
#: Largest number of rows generated at once; an hour with more is split into sub-slices.
SLICE_ROWS = 250_000
#: Share of LLM and voice requests that fail.
ERROR_RATE = 0.015
#: Days of the target month the anomalies are planted on (the cap crossing day is drawn in 24..27).
SPIKE_DAY, RUNAWAY_DAY, RAMP_FROM_DAY = 17, 22, 15
#: Fewest expected requests a normal key makes on a weekday (small months stay smooth).
MIN_KEY_REQUESTS_PER_DAY = 6.0
#: Compute prices in cents per hour.
AGENT_RUNNING_CENTS_PER_HOUR, PAUSED_CENTS_PER_HOUR = 4.2, 0.6

_US_PER_DAY = 86_400 * 1_000_000
_US_PER_HOUR = 3_600 * 1_000_000
_EPOCH = dt.date(1970, 1, 1)


class DemoError(UsagekitError, ValueError):
    """An argument of :func:`generate` cannot be used; the message says what to pass instead."""


# -- catalogue ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Model:
    name: str
    provider: str
    axis: str  # llm | voice
    p_in: float = 0.0  # USD per 1M input tokens
    p_out: float = 0.0  # USD per 1M output tokens (reasoning included)
    p_cached: float | None = None  # USD per 1M cached input tokens; None = no prompt caching
    reasoning: float = 0.0  # typical reasoning tokens per visible output token
    per_char: float = 0.0  # voice: USD per 1M characters


MODELS: tuple[_Model, ...] = (
    _Model("gpt-4o", "openai", "llm", 2.50, 10.00, 1.25),
    _Model("gpt-4o-mini", "openai", "llm", 0.15, 0.60, 0.075),
    _Model("gpt-4.1", "openai", "llm", 2.00, 8.00, 0.50),
    _Model("gpt-4.1-mini", "openai", "llm", 0.40, 1.60, 0.10),
    _Model("gpt-4.1-nano", "openai", "llm", 0.10, 0.40, 0.025),
    _Model("o3-mini", "openai", "llm", 1.10, 4.40, 0.55, reasoning=2.0),
    _Model("o4-mini", "openai", "llm", 1.10, 4.40, 0.275, reasoning=2.0),
    _Model("text-embedding-3-small", "openai", "llm", 0.02, 0.0, None),
    _Model("claude-opus-4", "anthropic", "llm", 15.0, 75.0, 1.50),
    _Model("claude-sonnet-4", "anthropic", "llm", 3.0, 15.0, 0.30),
    _Model("claude-3-5-haiku", "anthropic", "llm", 0.80, 4.0, 0.08),
    _Model("gemini-2.5-pro", "google", "llm", 1.25, 10.0, 0.31, reasoning=1.0),
    _Model("gemini-2.5-flash", "google", "llm", 0.30, 2.50, 0.075, reasoning=0.5),
    _Model("gemini-2.0-flash", "google", "llm", 0.10, 0.40, 0.025),
    _Model("mistral-large-latest", "mistral", "llm", 2.0, 6.0),
    _Model("mistral-small-latest", "mistral", "llm", 0.10, 0.30),
    _Model("codestral-latest", "mistral", "llm", 0.30, 0.90),
    _Model("deepseek-chat", "deepseek", "llm", 0.27, 1.10, 0.07),
    _Model("deepseek-reasoner", "deepseek", "llm", 0.55, 2.19, 0.14, reasoning=2.5),
    _Model("llama-3.3-70b-versatile", "groq", "llm", 0.59, 0.79),
    _Model("llama-3.1-8b-instant", "groq", "llm", 0.05, 0.08),
    _Model("tts-1", "openai", "voice", per_char=15.0),
    _Model("tts-1-hd", "openai", "voice", per_char=30.0),
    _Model("eleven_multilingual_v2", "elevenlabs", "voice", per_char=100.0),
    _Model("eleven_flash_v2_5", "elevenlabs", "voice", per_char=50.0),
)
_MODEL_INDEX = {m.name: i for i, m in enumerate(MODELS)}

#: Request shapes: median input tokens, its lognormal sigma, median visible output tokens, its
#: sigma, share of requests hitting the prompt cache, median characters (voice models).
_PROFILES: dict[str, tuple[float, float, float, float, float, float]] = {
    "chat": (1800, 0.6, 280, 0.5, 0.35, 300),
    "rag": (6000, 0.45, 450, 0.45, 0.5, 300),
    "batch": (9000, 0.4, 700, 0.35, 0.2, 300),
    "code": (5000, 0.55, 650, 0.5, 0.6, 300),
    "classify": (600, 0.35, 15, 0.3, 0.3, 300),
    "extract": (3500, 0.45, 400, 0.4, 0.1, 300),
    "reason": (1200, 0.5, 900, 0.5, 0.2, 300),
    "voice": (900, 0.5, 120, 0.5, 0.3, 280),
    "narration": (2500, 0.4, 1200, 0.4, 0.3, 1800),
    "tiny": (150, 0.3, 10, 0.3, 0.0, 100),  # the runaway key's quiet days
    "leak": (2500, 0.6, 900, 0.5, 0.0, 300),  # the spike: someone else's long prompts
    "loop": (3500, 0.15, 400, 0.3, 0.0, 300),  # the runaway: one prompt re-sent again and again
}
_PROFILE_NAMES = tuple(_PROFILES)

_ACCOUNTS = ("Acme Corp", "Globex Labs", "Initech")

#: Key name, account, agent (or None), request profile, volume weight, daily pattern
#: (day: office hours, weekends ~25%; night: batch jobs, weekends ~80%; flat: around the
#: clock), model mix, role (normal | spike | cap | runaway), has a cap.
_KEYS: tuple[tuple, ...] = (
    ("support-bot-prod", 0, "Support Agent", "chat", 8.0, "day", {"gpt-4o-mini": 0.7, "gpt-4o": 0.3}),
    ("support-bot-staging", 0, "Support Agent", "chat", 1.0, "day", {"gpt-4o-mini": 1.0}),
    (
        "sales-email-drafter",
        0,
        "Sales Assistant",
        "chat",
        3.0,
        "day",
        {"claude-sonnet-4": 0.6, "claude-3-5-haiku": 0.4},
    ),
    ("kb-search-rag", 0, "Docs Copilot", "rag", 5.0, "day", {"gpt-4.1-mini": 0.6, "text-embedding-3-small": 0.4}),
    ("voice-receptionist", 0, "Voice Receptionist", "voice", 3.0, "day", {"gpt-4o-mini": 0.5, "tts-1": 0.5}),
    ("R&D <sandbox>", 0, None, "chat", 1.0, "day", {"gpt-4.1": 0.5, "o4-mini": 0.3, "gemini-2.5-pro": 0.2}),
    ("code-review-ci", 0, "Code Reviewer", "code", 3.0, "day", {"claude-sonnet-4": 0.8, "gpt-4.1": 0.2}),
    ("invoice-extractor", 0, None, "extract", 2.0, "day", {"gemini-2.5-flash": 0.8, "gemini-2.0-flash": 0.2}),
    ("marketing-copy", 0, None, "chat", 1.0, "day", {"gpt-4o": 1.0}),
    ("translation-svc", 0, "Translator", "chat", 2.0, "day", {"deepseek-chat": 0.6, "mistral-small-latest": 0.4}),
    ("hr-assistant", 0, "HR Helper", "chat", 0.8, "day", {"gpt-4.1-mini": 1.0}),
    ("analytics-sql-gen", 0, None, "code", 1.0, "day", {"codestral-latest": 0.7, "gpt-4.1-mini": 0.3}),
    ("feedback-tagger", 0, None, "classify", 2.0, "day", {"gpt-4o-mini": 0.7, "gemini-2.0-flash": 0.3}),
    ("ops-alert-summary", 0, None, "chat", 1.2, "flat", {"gpt-4o-mini": 0.8, "deepseek-chat": 0.2}),
    ("partner-webhook-legacy", 0, None, "chat", 0.0, "flat", {"gpt-4o": 0.5, "claude-3-5-haiku": 0.5}, "spike"),
    ("research-agent-prod", 1, "Research Agent", "rag", 5.0, "day", {"gemini-2.5-pro": 0.4, "gemini-2.5-flash": 0.6}),
    ("research-agent-dev", 1, "Research Agent", "rag", 1.0, "day", {"gemini-2.5-flash": 1.0}),
    ("batch-summariser", 1, None, "batch", 2.0, "night", {"claude-3-5-haiku": 0.7, "claude-sonnet-4": 0.3}, "cap"),
    (
        "chat-widget",
        1,
        "Web Chat",
        "chat",
        6.0,
        "day",
        {"llama-3.3-70b-versatile": 0.5, "llama-3.1-8b-instant": 0.3, "gpt-4o-mini": 0.2},
    ),
    (
        "triage-classifier",
        1,
        "Ticket Triage",
        "classify",
        4.0,
        "day",
        {"llama-3.1-8b-instant": 0.6, "mistral-small-latest": 0.4},
    ),
    ("math-tutor", 1, "Tutor", "reason", 2.0, "day", {"deepseek-reasoner": 0.5, "o3-mini": 0.5}),
    (
        "podcast-narrator",
        1,
        "Narrator",
        "narration",
        1.5,
        "day",
        {"claude-3-5-haiku": 0.3, "eleven_multilingual_v2": 0.5, "eleven_flash_v2_5": 0.2},
    ),
    (
        "eval-harness",
        1,
        None,
        "batch",
        2.0,
        "night",
        {"gpt-4o": 0.3, "claude-sonnet-4": 0.3, "gemini-2.5-pro": 0.2, "deepseek-chat": 0.2},
    ),
    ("notebook-experiments", 1, None, "chat", 0.7, "day", {"gpt-4.1": 0.5, "claude-sonnet-4": 0.5}),
    ("contract-review", 1, "Legal Reviewer", "rag", 2.0, "day", {"claude-sonnet-4": 0.7, "mistral-large-latest": 0.3}),
    ("slack-bot", 1, "Slack Helper", "chat", 2.0, "day", {"gpt-4.1-nano": 0.5, "gpt-4.1-mini": 0.5}),
    ("nightly-etl-enrich", 1, None, "extract", 2.0, "night", {"gemini-2.0-flash": 0.6, "deepseek-chat": 0.4}),
    (
        "onboarding-coach",
        1,
        "Onboarding Coach",
        "chat",
        1.0,
        "day",
        {"mistral-large-latest": 0.5, "mistral-small-latest": 0.5},
    ),
    ("tps-report-writer", 2, "Report Writer", "chat", 3.0, "day", {"gpt-4o": 0.4, "gpt-4o-mini": 0.6}),
    ("cron-cleanup-script", 2, None, "tiny", 0.0, "flat", {"gpt-4.1-nano": 1.0}, "runaway"),
    ("helpdesk-agent", 2, "Helpdesk", "chat", 5.0, "day", {"claude-3-5-haiku": 0.6, "claude-sonnet-4": 0.4}),
    (
        "phone-ivr",
        2,
        "Phone IVR",
        "voice",
        2.0,
        "day",
        {"llama-3.3-70b-versatile": 0.5, "eleven_flash_v2_5": 0.25, "tts-1-hd": 0.25},
    ),
    (
        "code-assist-ide",
        2,
        "Code Assistant",
        "code",
        4.0,
        "day",
        {"claude-sonnet-4": 0.5, "codestral-latest": 0.3, "gpt-4.1": 0.2},
    ),
    ("data-labeler", 2, None, "classify", 3.0, "night", {"gpt-4.1-nano": 0.5, "gemini-2.0-flash": 0.5}),
    ("meeting-notes", 2, "Meeting Scribe", "rag", 2.0, "day", {"gemini-2.5-flash": 1.0}),
    ("qa-test-gen", 2, None, "code", 1.0, "day", {"deepseek-chat": 0.7, "deepseek-reasoner": 0.3}),
    ("exec-briefing", 2, "Briefing Bot", "rag", 1.0, "day", {"claude-sonnet-4": 0.5, "claude-opus-4": 0.5}),
    ("search-rerank", 2, None, "classify", 2.0, "flat", {"mistral-small-latest": 0.5, "text-embedding-3-small": 0.5}),
    ("intern-playground", 2, None, "chat", 0.5, "day", {"gpt-4o-mini": 0.5, "llama-3.1-8b-instant": 0.5}),
    (
        "compliance-scanner",
        2,
        "Compliance Scanner",
        "batch",
        1.5,
        "night",
        {"gpt-4.1-mini": 0.6, "gemini-2.5-flash": 0.4},
    ),
)
#: Keys without a spend cap.
_UNCAPPED = {"notebook-experiments", "intern-playground", "cron-cleanup-script", "qa-test-gen"}
_WEEKEND = {"day": 0.25, "night": 0.8, "flat": 1.0}

#: Agent compute schedules: always running, running 07-19 UTC on weekdays, or parked (paused).
_AGENT_SCHEDULES = {
    "Support Agent": "always",
    "Web Chat": "always",
    "Helpdesk": "always",
    "Phone IVR": "always",
    "Voice Receptionist": "always",
    "Research Agent": "business",
    "Legacy Crawler": "paused",
}
#: Agents that only run compute (no key of their own).
_EXTRA_AGENTS = (("Legacy Crawler", 2),)
#: Plain VMs: name, account, running cents per hour, schedule (always | workday | weekday-paused).
_VMS = (
    ("build-runner-01", 0, 8.4, "always"),
    ("jupyter-lab", 1, 16.8, "workday"),
    ("etl-worker", 1, 4.2, "always"),
    ("staging-db", 2, 4.2, "weekend-paused"),
    ("qa-windows-desktop", 2, 6.3, "workday"),
)

_HOUR_PROFILES = ("day", "night", "flat", "leak", "loop")


def _hour_curves() -> np.ndarray:
    h = np.arange(24) + 0.5
    day = 0.12 + np.exp(-0.5 * ((h - 14) / 3.5) ** 2) + 0.35 * np.exp(-0.5 * ((h - 20.5) / 1.8) ** 2)
    night = 0.08 + np.exp(-0.5 * ((h - 2.5) / 1.5) ** 2) + np.exp(-0.5 * ((h - 26.5) / 1.5) ** 2)
    flat = np.ones(24)
    leak = ((h > 13) & (h < 23)).astype(float)
    loop = ((h > 2) & (h < 10)).astype(float)
    curves = np.vstack([day, night, flat, leak, loop])
    return curves / curves.sum(axis=1, keepdims=True)


# -- result ----------------------------------------------------------------------------------


@dataclass
class DemoResult:
    """What :func:`generate` wrote. ``rows`` and ``total_cost_cents`` cover every file written
    (history months included); ``labels`` are the planted anomalies of the target month."""

    out_dir: Path
    files: list[Path]
    keys_path: Path
    labels_path: Path
    rows: int
    total_cost_cents: float
    labels: list[dict]
    month: str = ""
    months: list[dict] = field(default_factory=list)  # per month: requests, rows, cost per axis
    n_keys: int = 0
    n_accounts: int = 0

    def summary(self) -> str:
        """A few lines for people: where things went, rows, spend per axis, anomalies planted."""
        days = sorted(p.stem for p in self.files)
        lines = [
            f"demo month {self.month} written to {display_path(self.out_dir)}",
            f"  usage/       {len(self.files)} Parquet files, one per UTC day ({days[0]} .. {days[-1]}), "
            f"{self.rows:,} rows",
            f"  keys.csv     {self.n_keys} keys in {self.n_accounts} accounts",
            f"  labels.json  {len(self.labels)} planted anomalies and the month's totals",
        ]
        for m in self.months:
            t = m["total_cost_cents"]
            lines.append(
                f"  {m['month']}: {m['requests']:,} requests, {format_usd(t['total'])} = llm "
                f"{format_usd(t['llm'])} + voice {format_usd(t['voice'])} + compute {format_usd(t['compute'])}"
            )
        lines.append("  planted:")
        for a in self.labels:
            extra = f", crosses its cap on {a['cap_cross_day']}" if a["kind"] == "cap" else ""
            lines.append(f"    {a['kind']:<8}{a['day']}  {a['key_name']} ({a['account_name']}), {a['model']}{extra}")
        return "\n".join(lines)


# -- arguments -------------------------------------------------------------------------------


def _parse_month(month) -> tuple[int, int]:
    if not isinstance(month, str) or not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month):
        raise DemoError(f"month {month!r} is not valid; expected the form YYYY-MM, e.g. 2026-10")
    return int(month[:4]), int(month[5:])


def _prepare_dir(out_dir) -> Path:
    out = Path(out_dir).expanduser()
    if out.exists() and not out.is_dir():
        raise DemoError(f"{display_path(out)} is a file; pass a directory for the demo output")
    if out.exists() and any(out.iterdir()):
        if not (out / "labels.json").is_file():
            raise DemoError(
                f"refusing to write the demo into {display_path(out)}: the directory is not empty and "
                "has no labels.json, so it is not a previous demo output; pass a new or empty "
                "directory (or empty this one first)"
            )
        # a previous demo: remove what it wrote so no stale day of another month survives
        for p in (out / "usage").glob("*.parquet") if (out / "usage").is_dir() else ():
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}\.parquet", p.name):
                p.unlink()
        for name in ("keys.csv", "labels.json"):
            if (out / name).is_file():
                (out / name).unlink()
    (out / "usage").mkdir(parents=True, exist_ok=True)
    return out


# -- the generator -----------------------------------------------------------------------------


def _hex(rng: np.random.Generator, n: int) -> str:
    return "".join("0123456789abcdef"[i] for i in rng.integers(0, 16, n))


def _unique_ids(rng, prefix: str, n: int, width: int) -> list[str]:
    out: list[str] = []
    while len(out) < n:
        v = prefix + _hex(rng, width)
        if v not in out:
            out.append(v)
    return out


def _months(year: int, month: int, history: int) -> list[tuple[int, int]]:
    out = []
    for back in range(history, -1, -1):
        idx = year * 12 + (month - 1) - back
        out.append((idx // 12, idx % 12 + 1))
    return out


def _expected_cost_cents(profile: str, model: _Model) -> float:
    """Mean cost of one successful request of this shape on this model (for sizing anomalies)."""
    mi, si, mo, so, hit, chars = _PROFILES[profile]
    e_in, e_out = mi * math.exp(si * si / 2), mo * math.exp(so * so / 2) * (1 + model.reasoning * math.exp(0.06125))
    if model.axis == "voice":
        return chars * math.exp(0.125) * model.per_char * 1e-4
    cached = e_in * hit * 0.675 if model.p_cached is not None else 0.0
    p_c = model.p_cached if model.p_cached is not None else model.p_in
    return ((e_in - cached) * model.p_in + cached * p_c + e_out * model.p_out) * 1e-4


@dataclass
class _World:
    """Everything drawn once per seed: ids, volumes, mixes, schedules."""

    account_ids: list[str]
    key_ids: list[str]
    key_names: list[str]
    key_account: np.ndarray
    key_agent: np.ndarray  # agent index or -1
    key_created: list[str]
    key_role: list[str]
    key_pattern: list[str]
    key_profile: list[str]
    key_volume: np.ndarray
    key_trend: np.ndarray  # log growth per 30 days
    key_mix: list[list[tuple[int, float]]]
    agent_ids: list[str]
    agent_names: list[str]
    agent_account: np.ndarray
    agent_schedule: list[str]
    vm_ids: list[str]
    vm_names: list[str]
    vm_account: np.ndarray
    vm_rate: np.ndarray
    vm_schedule: list[str]
    cap_cross_day: int
    cap_fraction: float


def _build_world(rng: np.random.Generator, first_day: dt.date) -> _World:
    account_ids = _unique_ids(rng, "acct_", len(_ACCOUNTS), 10)
    agents: list[tuple[str, int]] = []
    for spec in _KEYS:
        if spec[2] is not None and (spec[2], spec[1]) not in agents:
            agents.append((spec[2], spec[1]))
    agents += [a for a in _EXTRA_AGENTS if a not in agents]
    agent_ids = _unique_ids(rng, "agt_", len(agents), 10)
    agent_index = {name: i for i, (name, _) in enumerate(agents)}
    key_ids = _unique_ids(rng, "vk_", len(_KEYS), 12)
    created = []
    for _ in _KEYS:
        back = int(rng.integers(20, 400)) * 86_400 + int(rng.integers(0, 86_400))
        ts = dt.datetime.combine(first_day, dt.time(), dt.timezone.utc) - dt.timedelta(seconds=back)
        created.append(ts.strftime("%Y-%m-%dT%H:%M:%SZ"))
    volume = np.array([spec[4] for spec in _KEYS]) * rng.lognormal(0.0, 0.2, len(_KEYS))
    trend = rng.uniform(-0.06, 0.10, len(_KEYS))
    mixes = []
    for spec in _KEYS:
        names = list(spec[6])
        shares = np.array([spec[6][n] for n in names]) * rng.lognormal(0.0, 0.15, len(names))
        shares /= shares.sum()
        mixes.append([(_MODEL_INDEX[n], float(s)) for n, s in zip(names, shares)])
    roles = [spec[7] if len(spec) > 7 else "normal" for spec in _KEYS]
    for i, r in enumerate(roles):
        if r != "normal":
            trend[i] = 0.0
    vm_ids = _unique_ids(rng, "vm_", len(_VMS), 10)
    cap_cross_day = int(rng.integers(24, 28))
    cap_fraction = float(rng.uniform(0.3, 0.7))
    return _World(
        account_ids=account_ids,
        key_ids=key_ids,
        key_names=[s[0] for s in _KEYS],
        key_account=np.array([s[1] for s in _KEYS], dtype=np.int32),
        key_agent=np.array([agent_index[s[2]] if s[2] else -1 for s in _KEYS], dtype=np.int32),
        key_created=created,
        key_role=roles,
        key_pattern=[s[5] for s in _KEYS],
        key_profile=[s[3] for s in _KEYS],
        key_volume=volume,
        key_trend=trend,
        key_mix=mixes,
        agent_ids=agent_ids,
        agent_names=[a[0] for a in agents],
        agent_account=np.array([a[1] for a in agents], dtype=np.int32),
        agent_schedule=[_AGENT_SCHEDULES.get(a[0], "business") for a in agents],
        vm_ids=vm_ids,
        vm_names=[v[0] for v in _VMS],
        vm_account=np.array([v[1] for v in _VMS], dtype=np.int32),
        vm_rate=np.array([v[2] for v in _VMS]),
        vm_schedule=[v[3] for v in _VMS],
        cap_cross_day=cap_cross_day,
        cap_fraction=cap_fraction,
    )


class _Generator:
    """Builds the rows of one day, slice by slice, as numpy arrays (no Python loop per row)."""

    def __init__(self, world: _World, seed: int, requests: int, target: tuple[int, int], target_days: int):
        self.w, self.seed = world, seed
        self.target, self.target_days = target, target_days
        self.target_first = dt.date(target[0], target[1], 1)
        self.curves = _hour_curves()
        self.role = {r: world.key_role.index(r) for r in ("spike", "cap", "runaway")}
        n_days = target_days
        self.quiet_per_day = max(10.0, 0.002 * requests / n_days)
        quiet_key = self.role["spike"]
        quiet_cost = (
            sum(
                share * _expected_cost_cents(world.key_profile[quiet_key], MODELS[m])
                for m, share in world.key_mix[quiet_key]
            )
            * self.quiet_per_day
        )
        self.spike_model = _MODEL_INDEX["claude-opus-4"]
        spike_cents = max(60.0 * quiet_cost, 1500.0)
        self.n_spike = int(math.ceil(spike_cents / _expected_cost_cents("leak", MODELS[self.spike_model])))
        self.runaway_model = _MODEL_INDEX["gpt-4o"]
        self.n_runaway = max(int(round(0.01 * requests)), min(2000, requests // 5))
        # scale so the target month's expected requests come to about `requests`
        budget = requests - self.n_spike - self.n_runaway - self.quiet_per_day * n_days - 1.5 * n_days
        total = 0.0
        for day in range(1, n_days + 1):
            total += float(self._levels(dt.date(target[0], target[1], day)).sum())
        self.scale = max(budget, 0.2 * requests) / total

    # expected requests per key on a date, before scale and noise (normal and cap keys)
    def _levels(self, date: dt.date) -> np.ndarray:
        w = self.w
        t = (date - self.target_first).days / 30.0
        lv = w.key_volume * np.exp(w.key_trend * t) * self._weekend(date)
        cap = self.role["cap"]
        if (date.year, date.month) == self.target and date.day >= RAMP_FROM_DAY:
            lv[cap] *= 1.15 ** (date.day - RAMP_FROM_DAY + 1)
        return lv

    def _weekend(self, date: dt.date) -> np.ndarray:
        if date.weekday() < 5:
            return np.ones(len(self.w.key_ids))
        return np.array([_WEEKEND[p] for p in self.w.key_pattern])

    def _streams(self, date: dt.date, rng: np.random.Generator):
        """The day's streams (key, model, profile, hour curve, count)."""
        w = self.w
        in_target = (date.year, date.month) == self.target
        noise_day = rng.lognormal(0.0, 0.05)
        noise_key = rng.lognormal(0.0, 0.08, len(w.key_ids))
        levels = np.maximum(self._levels(date) * self.scale, MIN_KEY_REQUESTS_PER_DAY * self._weekend(date))
        levels = levels * noise_day * noise_key
        keys, models, profiles, curves, expected = [], [], [], [], []
        for k, mix in enumerate(w.key_mix):
            role = w.key_role[k]
            if role == "spike":
                total = self.quiet_per_day * noise_key[k]
            elif role == "runaway":
                total = float(rng.integers(0, 4))  # a handful of tiny requests
            else:
                total = levels[k]
            for m, share in mix:
                keys.append(k)
                models.append(m)
                profiles.append(_PROFILE_NAMES.index(w.key_profile[k]))
                curves.append(_HOUR_PROFILES.index(w.key_pattern[k]))
                expected.append(total * share)
        if in_target and date.day == SPIKE_DAY:
            keys.append(self.role["spike"])
            models.append(self.spike_model)
            profiles.append(_PROFILE_NAMES.index("leak"))
            curves.append(_HOUR_PROFILES.index("leak"))
            expected.append(float(self.n_spike))
        if in_target and date.day == RUNAWAY_DAY:
            keys.append(self.role["runaway"])
            models.append(self.runaway_model)
            profiles.append(_PROFILE_NAMES.index("loop"))
            curves.append(_HOUR_PROFILES.index("loop"))
            expected.append(float(self.n_runaway))
        e = np.array(expected)
        base = np.floor(e)
        counts = (base + (rng.random(len(e)) < (e - base))).astype(np.int64)  # stable: expected +-1
        return (
            np.array(keys, dtype=np.int32),
            np.array(models, dtype=np.int32),
            np.array(profiles, dtype=np.int32),
            np.array(curves, dtype=np.int32),
            counts,
        )

    def _compute(self, date: dt.date, rng: np.random.Generator, day_us: int) -> dict[str, np.ndarray]:
        """Hourly compute buckets of every agent and plain VM for the day."""
        w = self.w
        weekend = date.weekday() >= 5
        ts, agent, vm, acct, hours, state, cost = [], [], [], [], [], [], []
        hour_us = np.arange(24, dtype=np.int64) * _US_PER_HOUR + day_us
        for a, sched in enumerate(w.agent_schedule):
            if sched == "always":
                running = np.ones(24, dtype=bool)
            elif sched == "paused":
                running = np.zeros(24, dtype=bool)
            else:
                running = np.zeros(24, dtype=bool) if weekend else (np.arange(24) >= 7) & (np.arange(24) < 19)
            ts.append(hour_us)
            agent.append(np.full(24, a))
            vm.append(np.full(24, -1))
            acct.append(np.full(24, w.agent_account[a]))
            hours.append(np.ones(24))
            state.append(np.where(running, 0, 1))
            cost.append(np.where(running, AGENT_RUNNING_CENTS_PER_HOUR, PAUSED_CENTS_PER_HOUR))
        for v, sched in enumerate(w.vm_schedule):
            start_min = int(rng.integers(0, 60))
            stop_min = int(rng.integers(0, 60))
            if sched == "workday":
                if weekend:
                    continue
                start_h, stop_h = 8, 18  # powered on 08:xx to 18:xx; no rows while off
                hrs = np.arange(start_h, stop_h + 1)
                h = np.ones(len(hrs))
                h[0] = (60 - start_min) / 60.0
                h[-1] = stop_min / 60.0
                keep = h > 0
                t = day_us + hrs * _US_PER_HOUR
                t[0] += start_min * 60 * 1_000_000
                run = np.ones(len(hrs), dtype=bool)
                hrs, h, t, run = hrs[keep], h[keep], t[keep], run[keep]
            else:
                h, t = np.ones(24), hour_us
                run = np.zeros(24, dtype=bool) if (sched == "weekend-paused" and weekend) else np.ones(24, dtype=bool)
            ts.append(t)
            agent.append(np.full(len(t), -1))
            vm.append(np.full(len(t), v))
            acct.append(np.full(len(t), w.vm_account[v]))
            hours.append(h)
            state.append(np.where(run, 0, 1))
            cost.append(h * np.where(run, w.vm_rate[v], PAUSED_CENTS_PER_HOUR))
        return {
            "ts": np.concatenate(ts).astype(np.int64),
            "agent": np.concatenate(agent).astype(np.int32),
            "vm": np.concatenate(vm).astype(np.int32),
            "account": np.concatenate(acct).astype(np.int32),
            "hours": np.concatenate(hours),
            "state": np.concatenate(state).astype(np.int8),
            "cost": np.concatenate(cost),
        }

    def day(self, date: dt.date):
        """Yield the day's rows as dicts of numpy arrays, in time order, slice by slice."""
        rng = np.random.default_rng([self.seed, date.toordinal()])
        day_us = (date - _EPOCH).days * _US_PER_DAY
        s_key, s_model, s_prof, s_curve, counts = self._streams(date, rng)
        per_hour = rng.multinomial(counts, self.curves[s_curve])  # streams x 24
        comp = self._compute(date, rng, day_us)
        hour_tot = per_hour.sum(axis=0)
        # windows: runs of whole hours up to SLICE_ROWS rows, or sub-hours of one busy hour
        windows: list[tuple[int, int, np.ndarray, int]] = []  # (start_us, width_us, cells S x H', hours)
        h = 0
        while h < 24:
            if hour_tot[h] > SLICE_ROWS:
                nsub = int(math.ceil(hour_tot[h] / SLICE_ROWS))
                split = rng.multinomial(per_hour[:, h], np.full(nsub, 1.0 / nsub))  # streams x nsub
                width = _US_PER_HOUR // nsub
                for j in range(nsub):
                    windows.append((day_us + h * _US_PER_HOUR + j * width, width, split[:, j : j + 1], 1))
                h += 1
                continue
            end, tot = h + 1, hour_tot[h]
            while end < 24 and hour_tot[end] <= SLICE_ROWS and tot + hour_tot[end] <= SLICE_ROWS:
                tot += hour_tot[end]
                end += 1
            windows.append((day_us + h * _US_PER_HOUR, _US_PER_HOUR, per_hour[:, h:end], end - h))
            h = end
        for start, width, cells, n_cells in windows:
            in_win = (comp["ts"] >= start) & (comp["ts"] < start + width * n_cells)
            yield self._rows(rng, start, width, cells, s_key, s_model, s_prof, {k: v[in_win] for k, v in comp.items()})

    def _rows(self, rng, start, width, cells, s_key, s_model, s_prof, comp) -> dict[str, np.ndarray]:
        n_streams, n_cells = cells.shape
        flat = cells.T.reshape(-1)  # cell-major: all streams of cell 0, then cell 1, ...
        n = int(flat.sum())
        sid = np.repeat(np.tile(np.arange(n_streams), n_cells), flat)
        cell = np.repeat(np.repeat(np.arange(n_cells), n_streams), flat)
        ts = start + cell.astype(np.int64) * width + (rng.random(n) * width).astype(np.int64)
        key, model, prof = s_key[sid], s_model[sid], s_prof[sid]
        P = _PROFILE_ARRAYS
        M = _MODEL_ARRAYS
        tok_in = np.maximum(1, np.rint(rng.lognormal(P["mu_in"][prof], P["sig_in"][prof]))).astype(np.int64)
        visible = np.maximum(1, np.rint(rng.lognormal(P["mu_out"][prof], P["sig_out"][prof]))).astype(np.int64)
        reasoning = np.rint(visible * M["reasoning"][model] * rng.lognormal(0.0, 0.35, n)).astype(np.int64)
        tok_out = visible + reasoning
        embed = M["embedding"][model]
        tok_out[embed] = 0
        reasoning[embed] = 0
        hit = (rng.random(n) < P["hit"][prof]) & M["caches"][model]
        cached = np.where(hit, np.floor(tok_in * rng.uniform(0.4, 0.95, n)), 0).astype(np.int64)
        chars = np.maximum(1, np.rint(rng.lognormal(P["mu_chars"][prof], 0.5))).astype(np.int64)
        err = rng.random(n) < ERROR_RATE
        cut = rng.uniform(0.0, 0.08, n)
        tok_out = np.where(err, np.floor(tok_out * cut).astype(np.int64), tok_out)
        reasoning = np.where(err, 0, reasoning)
        cached = np.where(err, 0, cached)
        chars = np.where(err, np.floor(chars * cut).astype(np.int64), chars)
        voice = M["voice"][model]
        cost = np.where(
            voice,
            chars * M["per_char"][model] * 1e-4,
            ((tok_in - cached) * M["p_in"][model] + cached * M["p_cached"][model] + tok_out * M["p_out"][model]) * 1e-4,
        )
        # compute buckets join the slice, then everything is put in time order
        nc = len(comp["ts"])
        rows = {
            "ts": np.concatenate([comp["ts"], ts]),
            "key": np.concatenate([np.full(nc, -1, np.int32), key]),
            "model": np.concatenate([np.full(nc, -1, np.int32), model]),
            "agent": np.concatenate([comp["agent"], self.w.key_agent[key]]),
            "vm": np.concatenate([comp["vm"], np.full(n, -1, np.int32)]),
            "account": np.concatenate([comp["account"], self.w.key_account[key]]),
            "input": np.concatenate([np.zeros(nc, np.int64), tok_in]),
            "output": np.concatenate([np.zeros(nc, np.int64), tok_out]),
            "cached": np.concatenate([np.zeros(nc, np.int64), cached]),
            "reasoning": np.concatenate([np.zeros(nc, np.int64), reasoning]),
            "chars": np.concatenate([np.zeros(nc, np.int64), chars]),
            "hours": np.concatenate([comp["hours"], np.zeros(n)]),
            "state": np.concatenate([comp["state"], np.full(n, -1, np.int8)]),
            "cost": np.concatenate([comp["cost"], cost]),
            "error": np.concatenate([np.zeros(nc, bool), err]),
            # 0 llm, 1 voice, 2 compute
            "axis": np.concatenate([np.full(nc, 2, np.int8), voice.astype(np.int8)]),
        }
        order = np.argsort(rows["ts"], kind="stable")
        return {k: v[order] for k, v in rows.items()}


def _model_arrays() -> dict[str, np.ndarray]:
    return {
        "p_in": np.array([m.p_in for m in MODELS]),
        "p_out": np.array([m.p_out for m in MODELS]),
        "p_cached": np.array([m.p_cached if m.p_cached is not None else m.p_in for m in MODELS]),
        "caches": np.array([m.p_cached is not None for m in MODELS]),
        "reasoning": np.array([m.reasoning for m in MODELS]),
        "embedding": np.array([m.axis == "llm" and m.p_out == 0 for m in MODELS]),
        "voice": np.array([m.axis == "voice" for m in MODELS]),
        "per_char": np.array([m.per_char for m in MODELS]),
    }


def _profile_arrays() -> dict[str, np.ndarray]:
    v = np.array([_PROFILES[p] for p in _PROFILE_NAMES])
    return {
        "mu_in": np.log(v[:, 0]),
        "sig_in": v[:, 1],
        "mu_out": np.log(v[:, 2]),
        "sig_out": v[:, 3],
        "hit": v[:, 4],
        "mu_chars": np.log(v[:, 5]),
    }


_MODEL_ARRAYS = _model_arrays()
_PROFILE_ARRAYS = _profile_arrays()


# -- arrow -------------------------------------------------------------------------------------


def _strings(values: list[str | None], idx: np.ndarray) -> pa.Array:
    """Per-row strings from a small list of values; index -1 = null."""
    dictionary = pa.array(list(values) + [None], type=pa.large_string())
    return dictionary.take(pa.array(np.where(idx < 0, len(values), idx).astype(np.int32)))


class _Tables:
    def __init__(self, world: _World):
        self.w = world
        self.schema = schema.arrow_schema()
        self.providers = [m.provider for m in MODELS] + ["compute"]
        self.model_names = [m.name for m in MODELS]
        # teams and users: drawn from the key, not from the random stream, so every other
        # column stays as it was; one key in five has no team
        teams = ("platform", "research", "support", "growth")
        self.teams = [
            None if i % 5 == 4 else f"team-{teams[i % 4]}-{world.key_account[i]}" for i in range(len(world.key_ids))
        ]
        self.users = [f"user-{world.key_account[i]}-{i % 3}" for i in range(len(world.key_ids))]
        team_idx = sorted({t for t in self.teams if t})
        self.team_values = team_idx
        self.key_team = np.array([team_idx.index(t) if t else -1 for t in self.teams], dtype=np.int32)
        self.user_values = sorted(set(self.users))
        self.key_user = np.array([self.user_values.index(u) for u in self.users], dtype=np.int32)

    def build(self, rows: dict[str, np.ndarray], month_tag: str, first_counter: int) -> pa.Table:
        w = self.w
        n = len(rows["ts"])
        compute = rows["axis"] == 2
        voice = rows["axis"] == 1
        llm = rows["axis"] == 0
        counter = np.where(compute, -1, first_counter + np.cumsum(~compute) - 1)
        rid = pc.utf8_lpad(pc.cast(pa.array(counter, mask=compute), pa.large_string()), width=9, padding="0")
        rid = pc.binary_join_element_wise(
            pa.scalar(f"req_{month_tag}_", pa.large_string()), rid, pa.scalar("", pa.large_string())
        )
        provider_idx = np.where(compute, len(MODELS), rows["model"])
        cols = {
            "ts": pa.array(rows["ts"], type=pa.timestamp("us", tz="UTC")),
            "request_id": rid,
            "account_id": _strings(w.account_ids, rows["account"]),
            "key_id": _strings(w.key_ids, rows["key"]),
            "key_name": _strings(w.key_names, rows["key"]),
            "agent_id": _strings(w.agent_ids, rows["agent"]),
            "agent_name": _strings(w.agent_names, rows["agent"]),
            "plain_vm_id": _strings(w.vm_ids, rows["vm"]),
            "plain_vm_name": _strings(w.vm_names, rows["vm"]),
            **self._dimensions(rows, counter, compute),
            "axis": _strings(["llm", "voice", "compute"], rows["axis"].astype(np.int32)),
            "provider": _strings(self.providers, provider_idx),
            "model": _strings(self.model_names, rows["model"]),
            "requests": pa.array(np.where(compute, 0, 1).astype(np.int64)),
            "input_tokens": pa.array(rows["input"], mask=~llm),
            "output_tokens": pa.array(rows["output"], mask=~llm),
            "cached_input_tokens": pa.array(rows["cached"], mask=~llm),
            "reasoning_tokens": pa.array(rows["reasoning"], mask=~llm),
            "characters": pa.array(rows["chars"], mask=~voice),
            "hours": pa.array(rows["hours"], mask=~compute),
            "state": _strings(["running", "paused"], rows["state"].astype(np.int32)),
            "cost_cents": pa.array(rows["cost"]),
            "cost_source": _strings(["source"], np.where(np.isnan(rows["cost"]), -1, 0)),
            "status": _strings(["success", "error"], rows["error"].astype(np.int32)),
            "source": _strings(["demo"], np.zeros(n, np.int32)),
        }
        return pa.Table.from_arrays([cols[c] for c in schema.USAGE_COLUMNS], schema=self.schema)

    #: tag sets a request may carry (drawn per request from its number)
    TAG_SETS = (
        None,
        ["prod"],
        ["chat", "prod"],
        ["prod", "search"],
        ["batch", "prod"],
        ["staging"],
        ["batch", "staging"],
        ["chat", "prod", "search"],
    )
    END_USERS = 3_000

    def _dimensions(self, rows: dict[str, np.ndarray], counter: np.ndarray, compute: np.ndarray) -> dict:
        """Team and user of each request's key; an end user (one of 3,000) for keys that serve
        customers (even key numbers) and tags for requests, both from a hash of the request number."""
        key = rows["key"]
        team = np.where(key < 0, -1, self.key_team[np.maximum(key, 0)])
        user = np.where(key < 0, -1, self.key_user[np.maximum(key, 0)])
        mixed = (counter.astype(np.uint64) * np.uint64(2654435761)) % np.uint64(1 << 32)
        end_user = np.where(compute | (key % 2 == 1), -1, (mixed % np.uint64(self.END_USERS)).astype(np.int64))
        names = [f"cust-{i:04d}" for i in range(self.END_USERS)]
        tag_idx = np.where(compute, 0, ((mixed >> np.uint64(12)) % np.uint64(len(self.TAG_SETS))).astype(np.int32))
        tag_sets = pa.array(list(self.TAG_SETS), type=self.schema.field("tags").type)
        return {
            "team_id": _strings(self.team_values, team.astype(np.int32)),
            "user_id": _strings(self.user_values, user.astype(np.int32)),
            "end_user": _strings(names, end_user.astype(np.int32)),
            "tags": tag_sets.take(pa.array(tag_idx)),
        }


# -- public ------------------------------------------------------------------------------------


def generate(
    out_dir,
    month: str = "2026-10",
    requests: int = 300_000,
    seed: int = 7,
    history_months: int = 1,
    progress: bool = True,
) -> DemoResult:
    """Write a demo month (and ``history_months`` full months before it) into ``out_dir``.

    ``requests`` is about the number of LLM and voice requests of the target month (each
    history month gets about as many). Writes ``usage/YYYY-MM-DD.parquet`` per UTC day,
    ``keys.csv`` and ``labels.json``; see the module docstring. A non-empty ``out_dir`` must be
    a previous demo output (it is overwritten). The same arguments give the same files.

    >>> result = generate("demo/2026-10", month="2026-10", requests=300_000, seed=7)  # doctest: +SKIP
    >>> print(result.summary())                                                          # doctest: +SKIP
    """
    year, mon = _parse_month(month)
    if isinstance(requests, bool) or not isinstance(requests, (int, np.integer)) or requests < 1000:
        raise DemoError(f"requests={requests!r} is too small; expected a whole number of at least 1000")
    if isinstance(history_months, bool) or not isinstance(history_months, (int, np.integer)) or history_months < 0:
        raise DemoError(f"history_months={history_months!r} is not valid; expected a whole number, 0 or more")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise DemoError(f"seed={seed!r} is not valid; expected a whole number, 0 or more")
    requests, history_months, seed = int(requests), int(history_months), int(seed)
    out = _prepare_dir(out_dir)

    months = _months(year, mon, history_months)
    dates = [dt.date(y, m, d) for y, m in months for d in range(1, calendar.monthrange(y, m)[1] + 1)]
    target_days = calendar.monthrange(year, mon)[1]
    world = _build_world(np.random.default_rng(seed), dates[0])
    gen = _Generator(world, seed, requests, (year, mon), target_days)
    tables = _Tables(world)
    K = len(world.key_ids)
    day_cost = np.zeros((K, len(dates)))
    stats = {
        f"{y:04d}-{m:02d}": {"month": f"{y:04d}-{m:02d}", "requests": 0, "rows": 0, "cost": np.zeros(3)}
        for y, m in months
    }
    files: list[Path] = []
    counter = {k: 1 for k in stats}

    from tqdm import tqdm

    bar = tqdm(total=len(dates), desc=f"demo {month}", unit="day", file=sys.stderr, disable=not progress)
    try:
        for di, date in enumerate(dates):
            tag = f"{date.year:04d}-{date.month:02d}"
            path = out / "usage" / f"{date.isoformat()}.parquet"
            st = stats[tag]
            buffer: list[dict[str, np.ndarray]] = []
            buffered = 0
            with pq.ParquetWriter(path, tables.schema, compression="zstd") as writer:

                def flush():
                    nonlocal buffer, buffered
                    if not buffer:
                        return
                    rows = (
                        buffer[0]
                        if len(buffer) == 1
                        else {k: np.concatenate([b[k] for b in buffer]) for k in buffer[0]}
                    )
                    buffer, buffered = [], 0
                    table = tables.build(rows, tag.replace("-", ""), counter[tag])
                    writer.write_table(table, row_group_size=CHUNK_ROWS)
                    req = rows["axis"] != 2
                    counter[tag] += int(req.sum())
                    st["requests"] += int(req.sum())
                    st["rows"] += len(rows["ts"])
                    st["cost"] += np.bincount(rows["axis"], weights=rows["cost"], minlength=3)
                    day_cost[:, di] += np.bincount(rows["key"][req], weights=rows["cost"][req], minlength=K)

                for rows in gen.day(date):
                    n = len(rows["ts"])
                    if buffered and buffered + n > CHUNK_ROWS:
                        flush()
                    buffer.append(rows)
                    buffered += n
                    if buffered >= CHUNK_ROWS:
                        flush()
                flush()
            files.append(path)
            bar.update(1)
            bar.set_postfix_str(date.isoformat(), refresh=False)
    finally:
        bar.close()

    caps = _caps(world, gen, day_cost, dates, months, (year, mon))
    keys_path = out / "keys.csv"
    with open(keys_path, "w", newline="", encoding="utf-8") as fh:
        wr = csv.writer(fh, lineterminator="\n")
        # the registry columns the demo fills (no soft caps or LiteLLM budget ids)
        wr.writerow([c for c in schema.KEY_COLUMNS if c not in ("soft_cap_cents", "budget_id")])
        for k in range(K):
            a = world.key_agent[k]
            cap = caps[k]
            wr.writerow(
                [
                    world.key_ids[k],
                    world.key_names[k],
                    world.account_ids[world.key_account[k]],
                    "" if cap is None else (str(int(cap)) if float(cap).is_integer() else repr(cap)),
                    world.agent_ids[a] if a >= 0 else "",
                    world.key_created[k],
                    "1mo",
                    "",
                    _ACCOUNTS[world.key_account[k]],
                ]
            )

    anomalies = _labels(world, gen, day_cost, dates, (year, mon), caps)
    month_stats = []
    for tag, st in stats.items():
        c = st["cost"]
        month_stats.append(
            {
                "month": tag,
                "requests": st["requests"],
                "rows": st["rows"],
                "total_cost_cents": {
                    "llm": float(c[0]),
                    "voice": float(c[1]),
                    "compute": float(c[2]),
                    "total": float(c.sum()),
                },
            }
        )
    target = month_stats[-1]
    doc = {
        "month": month,
        "generator": "usagekit.demo",
        "seed": seed,
        "requests_asked": requests,
        "history_months": history_months,
        "requests": target["requests"],
        "rows": target["rows"],
        "total_cost_cents": target["total_cost_cents"],
        "n_keys": K,
        "n_accounts": len(world.account_ids),
        "n_agents": len(world.agent_ids),
        "n_plain_vms": len(world.vm_ids),
        "accounts": [{"account_id": a, "name": n} for a, n in zip(world.account_ids, _ACCOUNTS)],
        "history": month_stats[:-1],
        "anomalies": anomalies,
    }
    labels_path = out / "labels.json"
    labels_path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return DemoResult(
        out_dir=out,
        files=files,
        keys_path=keys_path,
        labels_path=labels_path,
        rows=sum(m["rows"] for m in month_stats),
        total_cost_cents=float(sum(m["total_cost_cents"]["total"] for m in month_stats)),
        labels=anomalies,
        month=month,
        months=month_stats[::-1],
        n_keys=K,
        n_accounts=len(world.account_ids),
    )


def _nice_cap(cents: float) -> float:
    """Round a cap up to two significant figures of dollars (at least $10)."""
    dollars = max(cents / 100.0, 10.0)
    step = 10 ** (math.floor(math.log10(dollars)) - 1)
    return float(math.ceil(dollars / step) * step * 100)


def _caps(world: _World, gen: _Generator, day_cost, dates, months, target) -> list[float | None]:
    """Caps in cents: 2.2-3.8x the key's busiest month, rounded up to a plain amount; the cap key's
    cap sits inside its planned crossing day, so cumulative spend passes it on that very day."""
    rng = np.random.default_rng([gen.seed, 1])
    factors = rng.uniform(2.2, 3.8, len(world.key_ids))
    tags = [(d.year, d.month) for d in dates]
    columns = {m: [i for i, t in enumerate(tags) if t == m] for m in months}
    caps: list[float | None] = []
    for k, name in enumerate(world.key_names):
        if name in _UNCAPPED:
            caps.append(None)
        elif world.key_role[k] == "cap":
            month = day_cost[k, columns[target]]
            c = world.cap_cross_day
            before, that_day = month[: c - 1].sum(), month[c - 1]
            cap = before + world.cap_fraction * that_day
            caps.append(float(round(cap)) if before < round(cap) < before + that_day else float(cap))
        else:
            caps.append(_nice_cap(factors[k] * max(day_cost[k, columns[m]].sum() for m in months)))
    return caps


def _labels(world: _World, gen: _Generator, day_cost, dates, target, caps) -> list[dict]:
    t_idx = [i for i, d in enumerate(dates) if (d.year, d.month) == target]
    n_days = len(t_idx)
    out = []

    def base(kind, k, day, model, note, **extra):
        acct = world.key_account[k]
        return {
            "kind": kind,
            "account_id": world.account_ids[acct],
            "account_name": _ACCOUNTS[acct],
            "key_id": world.key_ids[k],
            "key_name": world.key_names[k],
            "day": day.isoformat(),
            "model": model,
            "cap_cross_day": None,
            "note": note,
            **extra,
        }

    k = gen.role["spike"]
    series = day_cost[k]
    s_day = t_idx[SPIKE_DAY - 1]
    usual = float(np.median(np.delete(series[: t_idx[-1] + 1], s_day)))
    obs = float(series[s_day])
    out.append(
        base(
            "spike",
            k,
            dates[s_day],
            MODELS[gen.spike_model].name,
            f"quiet key (usually {format_usd(usual)} a day) spends {format_usd(obs)} on "
            f"{gen.n_spike:,} extra {MODELS[gen.spike_model].name} requests: a leaked token",
            cost_cents=obs,
            usual_day_cents=usual,
            ratio=obs / usual if usual else None,
            requests=gen.n_spike,
        )
    )

    k = gen.role["cap"]
    cap = caps[k]
    series = day_cost[k]
    mtd, projected_day, cross_day = 0.0, None, None
    for j, i in enumerate(t_idx):
        mtd += series[i]
        window = sorted(series[max(0, i - 6) : i + 1], reverse=True)
        rate = float(np.mean(window[1:])) if len(window) > 1 else float(window[0])
        if projected_day is None and mtd + rate * (n_days - (j + 1)) >= cap:
            projected_day = dates[i]
        if cross_day is None and mtd > cap:
            cross_day = dates[i]
    month_spend = float(series[t_idx].sum())
    top = max(world.key_mix[k], key=lambda ms: ms[1] * _expected_cost_cents(world.key_profile[k], MODELS[ms[0]]))
    entry = base(
        "cap",
        k,
        projected_day or dates[t_idx[-1]],
        MODELS[top[0]].name,
        f"daily spend grows 15% a day from day {RAMP_FROM_DAY}; month-to-date at the run rate "
        f"(7-day mean without its largest day) projects past the {format_usd(cap)} cap from this day",
        cap_cents=cap,
        month_spend_cents=month_spend,
    )
    entry["cap_cross_day"] = cross_day.isoformat() if cross_day else None
    out.append(entry)

    k = gen.role["runaway"]
    series = day_cost[k]
    r_day = t_idx[RUNAWAY_DAY - 1]
    month_total = float(series[t_idx].sum())
    out.append(
        base(
            "runaway",
            k,
            dates[r_day],
            MODELS[gen.runaway_model].name,
            f"near-zero days, then {gen.n_runaway:,} {MODELS[gen.runaway_model].name} requests in one "
            f"night ({format_usd(float(series[r_day]))}): a script in a loop",
            cost_cents=float(series[r_day]),
            share_of_month=float(series[r_day]) / month_total,
            requests=gen.n_runaway,
        )
    )
    return out


#: the built-in demo month: what ``usagekit report --demo`` and the notebooks use by default
DEFAULT_MONTH = "2026-10"
DEFAULT_REQUESTS = 300_000


def default_source(month: str = DEFAULT_MONTH, root=None) -> Path:
    """The built-in demo month's directory, generated on first use (then reused).

    ``root`` defaults to ``$USAGEKIT_DEMO_DIR``, else ``demo/`` in the working directory when it
    already holds this month (as ``make report`` leaves it), else ``~/.cache/usagekit/demo``.
    """
    import os

    candidates = []
    if root is not None:
        candidates.append(Path(root))
    elif os.environ.get("USAGEKIT_DEMO_DIR"):
        candidates.append(Path(os.environ["USAGEKIT_DEMO_DIR"]))
    else:
        candidates += [Path.cwd() / "demo", Path.cwd().parent / "demo", Path.home() / ".cache" / "usagekit" / "demo"]
    for base in candidates:
        if (base / month / "labels.json").exists():
            return (base / month).resolve()
    target = candidates[-1] / month
    generate(target, month=month, requests=DEFAULT_REQUESTS, seed=7, history_months=1, progress=False)
    return target.resolve()
