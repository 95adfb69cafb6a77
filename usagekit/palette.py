"""Colours of names (models, providers, keys, agents): distinct on a page, the same everywhere, stable.

A :class:`Palette` maps each name to a colour the first time it is drawn and keeps it: the
same model is the same colour in the stacked daily chart, the breakdown bars and the
explorer. With a ``path`` (the report publisher keeps ``colors.json`` beside the reports)
the mapping is saved as soon as a name is added, so next month's report draws
``claude-sonnet-4`` in this month's colour, and a name never seen before takes a colour no
other name holds yet. Group names have fixed greys ("Other", "(none)"), and compute, LLM
and voice fixed colours of their own, kept out of the pool so no model can take them.

>>> p = Palette()
>>> p.color("gpt-4o") == p.color("gpt-4o") != p.color("claude-sonnet-4")
True
>>> p.colors(["Other", "compute (VM hours)"])
['#C7C7C7', '#2F6B3A']
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from . import statefile
from .queries import COMPUTE_LABELS, NONE_LABEL, OTHER_LABEL

#: the pool names draw from, in order: the first dozen far apart, then further distinct hues
POOL = [
    "#4E79A7",
    "#F28E2B",
    "#E15759",
    "#76B7B2",
    "#59A14F",
    "#EDC948",
    "#B07AA1",
    "#FF9DA7",
    "#9C755F",
    "#17BECF",
    "#BCBD22",
    "#8C564B",
    "#1F77B4",
    "#D62728",
    "#9467BD",
    "#E377C2",
    "#2CA02C",
    "#FF7F0E",
    "#393B79",
    "#637939",
    "#8C6D31",
    "#843C39",
    "#7B4173",
    "#3182BD",
    "#E6550D",
    "#31A354",
    "#756BB1",
    "#1B9E77",
    "#6BAED6",
    "#FD8D3C",
    "#74C476",
    "#9E9AC8",
    "#AD494A",
    "#A55194",
    "#5254A3",
    "#8CA252",
    "#BD9E39",
    "#CE6DBD",
    "#DE9ED6",
    "#E7BA52",
    "#B5CF6B",
    "#9C9EDE",
    "#E7969C",
    "#C49C94",
    "#F7B6D2",
    "#DBDB8D",
    "#9EDAE5",
    "#AEC7E8",
    "#FFBB78",
    "#98DF8A",
    "#FF9896",
    "#C5B0D5",
    "#0B6E4F",
    "#C44536",
    "#3D348B",
    "#F18701",
    "#7678ED",
    "#2A9D8F",
    "#E76F51",
    "#264653",
]
OTHER_COLOR = "#C7C7C7"
NONE_COLOR = "#8C8C8C"
#: compute / LLM / voice, and the compute rows of a model or agent chart
FIXED = {
    OTHER_LABEL: OTHER_COLOR,
    NONE_LABEL: NONE_COLOR,
    "llm": "#4C78A8",
    "voice": "#F58518",
    "compute": "#2F6B3A",
    **{label: "#2F6B3A" for label in COMPUTE_LABELS.values()},
}


class Palette:
    """A name -> colour mapping that grows (new names take unused colours) and can be saved.

    ``path``: a JSON file of ``{name: colour}``; read at once, and rewritten (merged with
    what another run may have added meanwhile, under a lock) whenever a new name is given
    a colour.
    """

    def __init__(self, path=None, mapping: dict | None = None):
        self.path = Path(path) if path else None
        self.mapping: dict[str, str] = dict(mapping or {})
        if self.path is not None and self.path.exists():
            self.mapping.update(_read(self.path))

    def color(self, name) -> str:
        """The colour of ``name`` (assigned and saved the first time it is asked for)."""
        return self.colors([name])[0]

    def colors(self, names: Iterable) -> list[str]:
        """Colours for ``names`` (one chart or page), distinct from each other.

        Known names keep their colour; new ones take the first pool colour no name holds
        yet. Only once the pool is exhausted can two names share a colour; within one call
        a later name then gets a colour unused in the call, for this chart only.
        """
        names = ["(none)" if n is None else str(n) for n in names]
        new = [n for n in dict.fromkeys(names) if n not in FIXED and n not in self.mapping]
        if new:
            if self.path is not None:
                with statefile.locked(self.path):
                    self.mapping.update(_read(self.path))
                    self._assign(n for n in new if n not in self.mapping)
                    statefile.write_json(self.path, self.mapping)
            else:
                self._assign(new)
        out, used = [], set()
        for n in names:
            c = FIXED.get(n) or self.mapping[n]
            if c in used and n not in FIXED:
                c = next((x for x in POOL if x not in used), c)
            used.add(c)
            out.append(c)
        return out

    def _assign(self, names: Iterable[str]) -> None:
        taken = set(self.mapping.values())
        free = [c for c in POOL if c not in taken]
        for i, n in enumerate(names):
            if free:
                self.mapping[n] = free.pop(0)
            else:  # every pool colour is taken: reuse, least recently assigned first
                self.mapping[n] = POOL[(len(self.mapping) + i) % len(POOL)]


def _read(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


_active = Palette()


def active() -> Palette:
    """The palette charts use in this process (in memory unless :func:`use` gave it a file)."""
    return _active


def use(path=None) -> Palette:
    """Make the palette saved at ``path`` (created when missing) the one charts use; returns it.

    >>> use("reports/colors.json")   # doctest: +SKIP
    """
    global _active
    _active = Palette(path)
    return _active


def color_for(name) -> str:
    """The colour of ``name`` in the active palette."""
    return _active.color(name)


__all__ = ["Palette", "active", "use", "color_for", "POOL", "FIXED", "OTHER_COLOR", "NONE_COLOR"]
