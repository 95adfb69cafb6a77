"""Labeled months for the anomaly harness: keys that behave like real ones, incidents, the truth.

Written apart from the detector and frozen before it was tuned (commits that change
``usagekit/anomalies.py`` never change this file). :func:`month` builds one month from a seed:

Confounders (ordinary behaviour that must not alert), one archetype per key:

``business``      weekday level, weekend 5-40 % of it, near zero on public holidays
``weekday_only``  nothing at all on weekends and holidays
``agent``         active on 30-70 % of days, idle otherwise
``monthly_job``   a small (or no) daily spend plus a job on the 1st of every month
``growth``        +3 % a day, compounding, since the start of the loaded data
``new_key``       created mid-month (``created_at``), busy from its first day
``vacation``      a developer key with a 5-9 day break (no spend)
``big``           $500-$3,000 a day, beside ...
``subcent``       ... keys spending a fraction of a cent a day
``migration``     moves to another model mid-month, spend x0.6-1.6 from then on

Every key has lognormal day-to-day noise with its own sigma (0.05-0.6 in log spend). Holidays
are Dec 24 - Jan 1 plus Jan 2 and the US Thanksgiving Thursday and Friday. Months are loaded
with 0, 1 or 2 earlier months; target months include January (holidays in the history and on
the month's first days) and December.

Incidents (episodes), each with its kind as the detector must name it:

``spike``   ``spike3x`` (steady keys, sigma <= 0.15), ``spike10x``, ``spike100x``, 1 or 5 days,
            and ``spike2x`` on noisy keys (sigma >= 0.3: under 3 sigma, there to show what cannot be seen);
            ``weekend`` (3x a weekday level on a Saturday or Sunday of a business key);
            ``batch_day`` (the monthly job's 1st at 10x its usual size);
            ``leak`` (a quiet key jumps 30-300x, often on a pricier model, and stays hot 2-7 days)
``runaway`` an agent key, after 3-10 zero days, has one day of 20-200x a typical active day on a
            single model
``cap``     ``drift``: a capped key grows +15 % a day from mid-month and crosses its cap; and every
            other capped key that crosses its cap in the month (a leak can push it over)

Sizes are measured in the key's own noise: ``size_sigma`` = log(day / expected day) / sigma,
with sigma the key's true log-spread (floored at 0.05); ``impact_cents`` = spend above expected
over the episode. Everything is deterministic in the seed.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

ARCHETYPES = (
    "business",
    "weekday_only",
    "agent",
    "monthly_job",
    "growth",
    "new_key",
    "vacation",
    "big",
    "subcent",
    "migration",
)
TARGETS = ("2026-10", "2027-01", "2026-12", "2026-11", "2027-03")
MODELS = {"gpt-4o-mini": 1.0, "gpt-4.1": 1.0, "claude-sonnet-4": 1.0, "gemini-2.0-flash": 1.0}
PRICEY = "claude-opus-4"
SIGMA_FLOOR = 0.05


@dataclass
class Episode:
    kind: str  # spike | runaway | cap
    variant: str
    key_id: str
    start: dt.date  # first anomalous day (cap: the day the drift starts, or the 1st)
    end: dt.date  # last anomalous day (cap: the crossing day)
    size_sigma: float = float("nan")
    impact_cents: float = 0.0
    cross: dt.date | None = None
    note: str = ""


@dataclass
class Month:
    seed: int
    month: str
    first: dt.date  # the target month's first day
    after: dt.date  # the day after it
    history_months: int
    rows: pd.DataFrame  # canonical columns: ts, key_id, key_name, account_id, model, agent_name, requests, cost_cents
    keys: pd.DataFrame  # registry: key_id, key_name, account_id, spend_cap_cents, created_at
    daily: dict[str, pd.Series]  # key -> cents per day over the loaded days (index datetime.date)
    expected: dict[str, pd.Series]  # key -> the day's expected spend without incidents
    episodes: list[Episode]
    archetype: dict[str, str]
    sigma: dict[str, float]
    caps: dict[str, float | None]
    created: dict[str, dt.date | None] = field(default_factory=dict)

    @property
    def loaded_first(self) -> dt.date:
        return _add_months(self.first, -self.history_months)

    @property
    def month_days(self) -> list[dt.date]:
        return [self.first + dt.timedelta(days=i) for i in range((self.after - self.first).days)]


def _add_months(d: dt.date, n: int) -> dt.date:
    m = d.month - 1 + n
    return dt.date(d.year + m // 12, m % 12 + 1, 1)


def holidays(year_from: int, year_to: int) -> set[dt.date]:
    out = set()
    for y in range(year_from, year_to + 1):
        out |= {dt.date(y, 12, d) for d in range(24, 32)} | {dt.date(y, 1, 1), dt.date(y, 1, 2)}
        nov = [dt.date(y, 11, d) for d in range(1, 31) if dt.date(y, 11, d).weekday() == 3]
        out |= {nov[3], nov[3] + dt.timedelta(days=1)}
    return out


@dataclass
class _Key:
    kid: str
    arch: str
    level: float  # cents on a typical active weekday
    sigma: float
    weekend: float = 1.0
    holiday: float = 1.0
    p_active: float = 1.0
    job: float = 0.0
    growth: float = 0.0
    created: dt.date | None = None
    off: tuple[dt.date, dt.date] | None = None
    migrate: tuple[dt.date, float, str] | None = None
    model: str = "gpt-4o-mini"
    agent: str | None = None


def _make_key(rng, i: int, arch: str, first: dt.date, after: dt.date, loaded_first: dt.date) -> _Key:
    level = float(np.exp(rng.uniform(np.log(10), np.log(20_000))))  # $0.10 - $200 on an active day
    k = _Key(f"k{i:02d}", arch, level, float(rng.uniform(0.05, 0.6)), model=str(rng.choice(list(MODELS))))
    n_month = (after - first).days
    if arch == "business":
        k.weekend, k.holiday = float(rng.uniform(0.05, 0.4)), 0.05
    elif arch == "weekday_only":
        k.weekend, k.holiday = 0.0, 0.0
    elif arch == "agent":
        k.p_active, k.agent = float(rng.uniform(0.3, 0.7)), f"agent-{i:02d}"
    elif arch == "monthly_job":
        k.job = k.level * float(rng.uniform(15, 60))
        k.level = k.level if rng.random() < 0.6 else 0.0
        k.weekend, k.holiday = 0.5, 0.3
    elif arch == "growth":
        k.growth = 0.03
        k.level = k.level / (1.03 ** (first - loaded_first).days)  # +3 %/day since the data starts
    elif arch == "new_key":
        k.created = first + dt.timedelta(days=int(rng.integers(4, n_month - 6)))
    elif arch == "vacation":
        k.weekend, k.holiday = 0.1, 0.0
        s = first + dt.timedelta(days=int(rng.integers(-5, n_month - 8)))
        k.off = (s, s + dt.timedelta(days=int(rng.integers(5, 10))))
    elif arch == "big":
        k.level, k.sigma, k.weekend = float(rng.uniform(50_000, 300_000)), float(rng.uniform(0.05, 0.3)), 0.7
    elif arch == "subcent":
        k.level = float(np.exp(rng.uniform(np.log(0.001), np.log(0.6))))
    elif arch == "migration":
        day = first + dt.timedelta(days=int(rng.integers(3, n_month - 3)))
        k.migrate = (day, float(rng.uniform(0.6, 1.6)), str(rng.choice([m for m in MODELS if m != k.model])))
        k.weekend = float(rng.uniform(0.2, 0.8))
    return k


def _expected(k: _Key, days: list[dt.date], hol: set[dt.date], rng) -> tuple[np.ndarray, np.ndarray]:
    """(expected cents per day, activity mask) without noise or incidents."""
    exp = np.zeros(len(days))
    active = np.ones(len(days), dtype=bool)
    for j, d in enumerate(days):
        v = k.level
        if d.weekday() >= 5:
            v *= k.weekend
        if d in hol:
            v *= k.holiday
        if k.growth:
            v *= (1 + k.growth) ** j
        if k.migrate and d >= k.migrate[0]:
            v *= k.migrate[1]
        if k.job and d.day == 1:
            v += k.job
        if k.p_active < 1 and rng.random() > k.p_active:
            active[j] = False
        if k.created and d < k.created:
            active[j] = False
        if k.off and k.off[0] <= d < k.off[1]:
            active[j] = False
        exp[j] = v if active[j] else 0.0
    return exp, active


def month(seed: int) -> Month:
    """One labeled month (deterministic in ``seed``)."""
    rng = np.random.default_rng([seed, 2026])
    target = TARGETS[seed % len(TARGETS)] if rng.random() < 0.6 else str(rng.choice(TARGETS))
    history = int(rng.choice([0, 1, 2], p=[0.3, 0.35, 0.35]))
    y, m = (int(x) for x in target.split("-"))
    first = dt.date(y, m, 1)
    after = first + dt.timedelta(days=calendar.monthrange(y, m)[1])
    loaded_first = _add_months(first, -history)
    days = [loaded_first + dt.timedelta(days=i) for i in range((after - loaded_first).days)]
    idx = {d: j for j, d in enumerate(days)}
    hol = holidays(loaded_first.year, after.year)

    n_keys = int(rng.integers(10, 19))
    archs = (
        list(ARCHETYPES) + [str(a) for a in rng.choice(ARCHETYPES, n_keys - len(ARCHETYPES))]
        if n_keys >= len(ARCHETYPES)
        else [str(a) for a in rng.choice(ARCHETYPES, n_keys, replace=False)]
    )
    rng.shuffle(archs)
    keys = [_make_key(rng, i, a, first, after, loaded_first) for i, a in enumerate(archs)]

    # decide the incidents first: some need a key's noise or activity set before the series is drawn
    episodes: list[Episode] = []
    plans: list[tuple] = []
    used: set[str] = set()
    n_month = (after - first).days
    earliest = 8 if history == 0 else 2  # a month loaded alone: a week of history before an incident

    def pick(cands):
        cands = [k for k in cands if k.kid not in used]
        if not cands:
            return None
        k = cands[int(rng.integers(len(cands)))]
        used.add(k.kid)
        return k

    n_incidents = 0 if rng.random() < 0.25 else int(rng.integers(1, 5))
    menu = ["spike"] * 4 + ["weekend", "batch_day", "leak", "leak", "runaway", "runaway", "drift"]
    for _ in range(n_incidents):
        what = str(rng.choice(menu))
        if what == "spike":
            k = pick(
                [
                    k
                    for k in keys
                    if k.arch in ("business", "big", "growth", "migration", "weekday_only") and k.level >= 5
                ]
            )
            if k is None:
                continue
            factor = float(rng.choice([2, 3, 3, 10, 100]))
            if factor == 3:
                k.sigma = min(k.sigma, float(rng.uniform(0.05, 0.15)))
            elif factor == 2:  # a 2x day on a key whose days vary about 2x: under 3 sigma, not expected found
                k.sigma = max(k.sigma, float(rng.uniform(0.3, 0.6)))
            length = int(rng.choice([1, 5]))
            d = first + dt.timedelta(days=int(rng.integers(earliest, n_month - length)))
            while d.weekday() >= 5 or d in hol:
                d += dt.timedelta(days=1)
            if d + dt.timedelta(days=length) > after:
                continue
            plans.append(("spike", f"spike{factor:.0f}x", k, d, length, factor))
        elif what == "weekend":
            k = pick([k for k in keys if k.arch in ("business", "weekday_only") and k.level >= 20])
            if k is None:
                continue
            d = first + dt.timedelta(days=int(rng.integers(earliest, n_month - 1)))
            while d.weekday() < 5 or d in hol:
                d += dt.timedelta(days=1)
            if d >= after:
                continue
            plans.append(("spike", "weekend", k, d, 1, 3.0))
        elif what == "batch_day":
            k = pick([k for k in keys if k.arch == "monthly_job"]) if history >= 1 else None
            if k is None:
                continue
            plans.append(("spike", "batch_day", k, first, 1, 10.0))
        elif what == "leak":
            k = pick(
                [k for k in keys if k.arch in ("business", "agent", "weekday_only", "vacation") and k.level <= 300]
            )
            if k is None:
                continue
            length = int(rng.integers(2, 8))
            d = first + dt.timedelta(days=int(rng.integers(earliest, n_month - length)))
            if k.off and k.off[0] - dt.timedelta(days=3) <= d <= k.off[1] + dt.timedelta(days=length):
                k.off = None  # no break around a leak: it would be a different incident
            plans.append(("spike", "leak", k, d, length, float(rng.uniform(30, 300))))
        elif what == "runaway":
            k = pick([k for k in keys if k.arch == "agent"])
            if k is None:
                continue
            gap = int(rng.integers(3, 11))
            d = first + dt.timedelta(days=int(rng.integers(max(earliest, gap + 1), n_month)))
            plans.append(("runaway", "runaway", k, d, 1, float(rng.uniform(20, 200)), gap))
        elif what == "drift":
            k = pick([k for k in keys if k.arch in ("business", "big", "migration") and k.level >= 100])
            if k is None:
                continue
            k.sigma = min(k.sigma, 0.3)
            s = first + dt.timedelta(days=int(rng.integers(6, 16)))
            plans.append(("cap", "drift", k, s, 0, 1.15))

    # draw the series
    daily, expected, sig, caps, created, models = {}, {}, {}, {}, {}, {}
    for k in keys:
        exp, active = _expected(k, days, hol, rng)
        noise = np.exp(k.sigma * rng.standard_normal(len(days)))
        daily[k.kid] = exp * noise
        expected[k.kid] = exp
        sig[k.kid] = max(k.sigma, SIGMA_FLOOR)
        created[k.kid] = k.created
        models[k.kid] = [[(k.migrate[2] if k.migrate and d >= k.migrate[0] else k.model, 1.0)] for d in days]

    # plant the incidents
    for plan in plans:
        kind, variant, k, d, length, factor = plan[:6]
        s, e = daily[k.kid], expected[k.kid]
        j0 = idx[d]
        if kind == "cap":
            # +15 %/day from d on a level that would otherwise hold; the cap sits on a day 6+ days later
            grow = np.array([factor ** max(0, j - j0 + 1) for j in range(len(days))])
            grow[:j0] = 1.0
            s *= grow
            e_month = s[idx[first] :]
            cum = np.cumsum(e_month)
            cross_i = int(rng.integers(min(max((d - first).days + 6, 18), n_month - 2), n_month - 1))
            cap = float(cum[cross_i - 1] + rng.uniform(0.2, 0.8) * e_month[cross_i])
            caps[k.kid] = cap
            episodes.append(
                Episode("cap", "drift", k.kid, d, first + dt.timedelta(days=cross_i), note=f"+15 %/day from {d}")
            )
            continue
        typical = k.level * (1.03**j0 if k.growth else 1.0) * (k.migrate[1] if k.migrate and d >= k.migrate[0] else 1.0)
        if variant == "runaway":
            gap = plan[6]
            for g in range(1, gap + 1):
                if j0 - g >= 0:
                    s[j0 - g] = 0.0
                    e[j0 - g] = 0.0
            big = typical * factor
            s[j0] = big
            model = k.model if rng.random() < 0.6 else PRICEY
            models[k.kid][j0] = [(model, 1.0)]
            episodes.append(
                Episode(
                    "runaway",
                    "runaway",
                    k.kid,
                    d,
                    d,
                    np.log(factor) / sig[k.kid],
                    big,
                    note=f"{gap} zero days, then {factor:.0f}x an active day on {model}",
                )
            )
            continue
        extra = (factor - 1) * (k.job if variant == "batch_day" else typical)
        if variant == "leak":
            extra = max(factor * typical, 500.0)
        pricey = variant == "leak" and rng.random() < 0.7
        impact, size = 0.0, None
        for j in range(j0, min(j0 + length, len(days))):
            x = extra * float(np.exp(0.1 * rng.standard_normal()))
            before = s[j]
            s[j] += x
            impact += x
            if size is None:
                ref = e[j] if e[j] > 0 else (typical * k.weekend if variant == "weekend" else typical)
                size = np.log(s[j] / ref) / sig[k.kid] if ref > 0 else float("inf")
            if pricey:
                models[k.kid][j] = [(models[k.kid][j][0][0], before / s[j] if s[j] else 0.0), (PRICEY, x / s[j])]
        end = days[min(j0 + length, len(days)) - 1]
        episodes.append(
            Episode(
                "spike",
                variant,
                k.kid,
                d,
                end,
                float(size),
                impact,
                note=f"{factor:.0f}x for {length} day(s)" + (f" on {PRICEY}" if pricey else ""),
            )
        )

    # caps: ~60 % of keys, 1.5-4x their usual month (any size: some are under $1); drift keys set above
    m0, m1 = idx[first], len(days)
    for k in keys:
        if k.kid in caps:
            continue
        usual = float(expected[k.kid][m0:m1].sum())
        caps[k.kid] = float(usual * rng.uniform(1.5, 4.0)) if rng.random() < 0.6 and usual > 0 else None
    # cap truth: every capped key whose month crosses its cap
    drift_keys = {ep.key_id for ep in episodes if ep.kind == "cap"}
    for kid, cap in caps.items():
        if cap is None or kid in drift_keys:
            continue
        cum = np.cumsum(daily[kid][m0:m1])
        if cum[-1] > cap:
            cross = first + dt.timedelta(days=int(np.argmax(cum > cap)))
            cause = next((ep for ep in episodes if ep.key_id == kid), None)
            episodes.append(
                Episode(
                    "cap",
                    "crossed",
                    kid,
                    cause.start if cause else first,
                    cross,
                    note=f"crossed after {cause.variant if cause else 'ordinary spend'}",
                )
            )
    for ep in episodes:
        if ep.kind == "cap":
            ep.cross = ep.end

    rows = []
    for k in keys:
        s = daily[k.kid]
        for j, d in enumerate(days):
            if s[j] <= 0:
                continue
            hour = int(rng.integers(7, 20))
            for model, share in models[k.kid][j]:
                cents = float(s[j] * share)
                if cents <= 0:
                    continue
                agent = k.agent
                rows.append(
                    (
                        pd.Timestamp(dt.datetime.combine(d, dt.time(hour)), tz="UTC"),
                        k.kid,
                        f"{k.kid}-name",
                        "acct",
                        model,
                        "openai",
                        agent,
                        max(1, int(round(cents / 0.5))),
                        cents,
                    )
                )
    frame = pd.DataFrame(
        rows,
        columns=["ts", "key_id", "key_name", "account_id", "model", "provider", "agent_name", "requests", "cost_cents"],
    )
    frame.insert(1, "request_id", None)
    reg = pd.DataFrame(
        {
            "key_id": [k.kid for k in keys],
            "key_name": [f"{k.kid}-name" for k in keys],
            "account_id": "acct",
            "spend_cap_cents": [caps[k.kid] for k in keys],
            "created_at": [pd.Timestamp(k.created, tz="UTC") if k.created else pd.NaT for k in keys],
        }
    )
    return Month(
        seed=seed,
        month=target,
        first=first,
        after=after,
        history_months=history,
        rows=frame,
        keys=reg,
        daily={kid: pd.Series(v, index=days) for kid, v in daily.items()},
        expected={kid: pd.Series(v, index=days) for kid, v in expected.items()},
        episodes=episodes,
        archetype={k.kid: k.arch for k in keys},
        sigma=sig,
        caps=caps,
        created=created,
    )


__all__ = ["Episode", "Month", "month", "holidays", "ARCHETYPES"]
