"""Valid inputs of every format the mutations start from.

The real-format fixtures under ``tests/data`` (each file as written), Parquet versions of
the canonical and FOCUS fixtures, and a small demo month: one day's Parquet, its key
registry and its ``/api/usage`` answer. Key registries are seeded together with a usage
file, since a load needs usage rows.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "data"


@dataclass
class Seed:
    """One valid case: ``files`` (relative path -> bytes), of which ``subject`` is mutated."""

    name: str
    files: dict[str, bytes]
    subject: str
    kind: str  # csv | jsonl | json | parquet
    registry: bool = False
    extra: dict = field(default_factory=dict)


def _kind(name: str) -> str:
    if name.endswith(".parquet"):
        return "parquet"
    if name.endswith(".jsonl"):
        return "jsonl"
    if name.endswith(".json"):
        return "json"
    return "csv"


#: inputs that are not usage (key registries, LiteLLM's team, user, organization and budget tables):
#: each is seeded beside a usage file, so the load reads and links it instead of stopping early
REGISTRIES = (
    "keys.csv",
    "verification_tokens.csv",
    "verification_tokens_psql.csv",
    "verification_token.csv",
    "team_table.csv",
    "user_table.csv",
    "organization_table.csv",
    "budget_table.csv",
)


def fixture_seeds() -> list[Seed]:
    usage_csv = (DATA / "canonical" / "usage.csv").read_bytes()
    out = []
    for f in sorted(DATA.glob("*/*")):
        if not f.is_file():
            continue
        name = f"{f.parent.name}-{f.name}"
        if f.name in REGISTRIES:
            out.append(
                Seed(name, {f.name: f.read_bytes(), "usage.csv": usage_csv}, f.name, _kind(f.name), registry=True)
            )
        else:
            out.append(Seed(name, {f.name: f.read_bytes()}, f.name, _kind(f.name)))
    return out


def _parquet(df) -> bytes:
    buf = io.BytesIO()
    df.write_parquet(buf)
    return buf.getvalue()


def parquet_seeds() -> list[Seed]:
    import polars as pl

    import usagekit

    rows = usagekit.load(DATA / "canonical" / "usage.csv").lazy.collect()
    focus = pl.read_csv(DATA / "focus" / "focus_tokens.csv", infer_schema=False)
    return [
        Seed("canonical-usage.parquet", {"usage.parquet": _parquet(rows)}, "usage.parquet", "parquet"),
        Seed("focus-focus_tokens.parquet", {"focus.parquet": _parquet(focus)}, "focus.parquet", "parquet"),
    ]


def demo_seeds(cache: Path) -> list[Seed]:
    """A tiny demo month (made once into ``cache``): one day's rows, the registry, /api/usage."""
    import polars as pl

    import usagekit
    from usagekit.demo import generate

    month = cache / "demo"
    if not (month / "keys.csv").exists():
        generate(month, month="2026-10", requests=1000, seed=3, history_months=0, progress=False)
    day = sorted((month / "usage").glob("*.parquet"))[4]
    rows = pl.read_parquet(day).head(60)
    keys = (month / "keys.csv").read_bytes()
    usage = usagekit.load(month)
    api = json.dumps(usage.api_usage(month="2026-10", admin=True)).encode()
    small = io.BytesIO()
    rows.write_parquet(small)
    return [
        Seed("demo-day.parquet", {"day.parquet": small.getvalue()}, "day.parquet", "parquet"),
        Seed("demo-keys.csv", {"keys.csv": keys, "day.parquet": small.getvalue()}, "keys.csv", "csv", registry=True),
        Seed("demo-api_usage.json", {"api_usage.json": api}, "api_usage.json", "json"),
    ]


def all_seeds(cache: Path) -> list[Seed]:
    cache.mkdir(parents=True, exist_ok=True)
    return fixture_seeds() + parquet_seeds() + demo_seeds(cache)
