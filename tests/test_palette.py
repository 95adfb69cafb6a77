"""Colours: the same name the same colour in every chart and from month to month, new names unused colours."""

from __future__ import annotations

import json

from usagekit import palette
from usagekit.palette import POOL, Palette


def test_saved_mapping_keeps_colours_month_to_month_and_gives_new_names_unused_ones(tmp_path):
    path = tmp_path / "reports" / "colors.json"
    october = Palette(path)
    oct_colours = october.colors(["claude-sonnet-4", "gpt-4o", "gpt-4o-mini"])
    assert len(set(oct_colours)) == 3
    assert json.loads(path.read_text())["gpt-4o"] == oct_colours[1]  # saved as soon as assigned
    # next month: another process, models in another order, one new model
    november = Palette(path)
    nov = november.colors(["gpt-4o-mini", "o4-mini", "claude-sonnet-4"])
    assert nov[0] == oct_colours[2] and nov[2] == oct_colours[0]
    assert nov[1] not in oct_colours  # the newcomer takes a colour no one holds
    assert Palette(path).color("o4-mini") == nov[1]


def test_two_runs_adding_names_to_the_same_file_keep_both(tmp_path):
    path = tmp_path / "colors.json"
    a, b = Palette(path), Palette(path)
    ca = a.color("model-a")
    cb = b.color("model-b")  # b read the file before a wrote: it must merge, not overwrite
    assert ca != cb
    assert json.loads(path.read_text()) == {"model-a": ca, "model-b": cb}


def test_groups_have_fixed_colours_outside_the_pool():
    p = Palette()
    assert p.color("Other") == palette.OTHER_COLOR and p.color(None) == palette.NONE_COLOR
    assert p.color("compute (VM hours)") == p.color("compute") not in POOL
    assert len(set(p.colors([f"m{i}" for i in range(len(POOL))]))) == len(POOL)


def test_past_the_pool_names_in_one_chart_still_differ():
    p = Palette()
    p.colors([f"old{i}" for i in range(len(POOL))])  # every colour taken by earlier months
    fresh = p.colors(["new-a", "new-b", "new-c"])
    assert len(set(fresh)) == 3
