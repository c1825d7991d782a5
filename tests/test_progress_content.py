"""content/progress.yaml and content/adaptation.yaml: the shipped files cite real sources and stay within
the seeds' hold ranges, and a broken file fails with one precise line naming the file and the field."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from dialogs.content import Content, ContentError, load_content


# ---- the shipped files ----------------------------------------------------------------------------------
def test_every_adaptation_rule_has_a_rationale_and_a_known_source(content: Content) -> None:
    rules = content.adaptation
    for rule in (rules.tight, rules.good_streak, rules.pain_stop, rules.repeated_pain, *rules.holds):
        assert rule.source in content.sources and len(rule.rationale) >= 20
    assert content.progress.scores.source in content.sources


def test_hold_ranges_are_the_seeds_own_and_include_each_stretchs_hold(content: Content) -> None:
    ranges = {limit.stretch: (limit.min_seconds, limit.max_seconds, limit.source) for limit in content.adaptation.holds}
    assert ranges == {  # seed 004: 20-30 s, child's pose 30 s to a minute; seed 003: the supine twist 15-30 s
        "knee_to_chest": (20, 30, "seed-004"),
        "childs_pose": (30, 60, "seed-004"),
        "hamstring": (20, 30, "seed-004"),
        "spinal_twist": (15, 30, "seed-003"),
    }
    for stretch, (low, high, _) in ranges.items():
        assert low <= content.stretches[stretch].hold_seconds <= high
    assert all(limit.variant is None for limit in content.adaptation.holds)  # no seed names a variant


def test_the_longer_routine_offered_is_longer_and_for_the_same_person(content: Content) -> None:
    for shorter, longer in content.adaptation.good_streak.longer_routines.items():
        short, long_ = content.routines[shorter], content.routines[longer]
        assert set(short.stretches) <= set(long_.stretches) and len(long_.stretches) > len(short.stretches)
        assert short.partner == long_.partner


# ---- broken files: one precise line ------------------------------------------------------------------------


def _error(directory: Path, name: str, change: Callable[[Any], None]) -> str:
    path = directory / name
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ContentError) as caught:
        load_content(directory)
    message = str(caught.value)
    assert "\n" not in message
    return message.removeprefix(f"{directory}/")


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (
            lambda d: d["units"]["stretch"].update(other="stretches"),
            "progress.yaml: units.stretch.other: must contain {count}",
        ),
        (
            lambda d: d["texts"].update(period="Last {weeks} weeks"),
            "progress.yaml: texts.period: unknown placeholder {weeks} (allowed: days, held, sessions, stretches)",
        ),
        (lambda d: d["texts"].pop("habit"), "progress.yaml: texts.habit: is required"),
        (
            lambda d: d["chart"].update(weekdays=["M", "T", "W"]),
            "progress.yaml: chart.weekdays: list should have at least 7 items after validation, not 3",
        ),
        (
            lambda d: d["chart"].update(weekdays=["Mon", "T", "W", "T", "F", "S", "S"]),
            "progress.yaml: chart.weekdays: each weekday must be one or two letters (they label narrow bars)",
        ),
        (
            lambda d: d["scores"].update(refer_at=8),
            "progress.yaml: scores.refer_at: must equal the triage pain score's flag_at (7), so both refer alike",
        ),
        (lambda d: d["scores"].update(source="a-blog"), "progress.yaml: scores.source: unknown source 'a-blog'"),
        (
            lambda d: d["habit"].update(min_weeks=1),
            "progress.yaml: habit.min_weeks: input should be greater than or equal to 2",
        ),
    ],
)
def test_a_broken_progress_file(content_dir: Path, change, error) -> None:
    assert _error(content_dir, "progress.yaml", change) == error


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (
            lambda d: d["holds"][0].update(stretch="handstand"),
            "adaptation.yaml: holds[0].stretch: unknown stretch 'handstand'",
        ),
        (
            lambda d: d["holds"][2].update(min_seconds=26),
            "adaptation.yaml: holds[2].min_seconds: the range 26-30 s must include the stretch's own hold of 25 s",
        ),
        (
            lambda d: d["holds"][0].update(max_seconds=10, min_seconds=15),
            "adaptation.yaml: holds[0].max_seconds: must be at least min_seconds (15)",
        ),
        (
            lambda d: d["holds"][1].update(variant="cartwheel"),
            "adaptation.yaml: holds[1].variant: unknown stretch 'cartwheel'",
        ),
        (
            lambda d: d["holds"][1].update(variant="childs_pose"),
            "adaptation.yaml: holds[1].variant: must be another stretch",
        ),
        (
            lambda d: d["holds"].append(dict(d["holds"][0])),
            "adaptation.yaml: holds[4].stretch: a second limit for 'knee_to_chest'",
        ),
        (
            lambda d: d["holds"][3].update(source="seed-999"),
            "adaptation.yaml: holds[3].source: unknown source 'seed-999'",
        ),
        (
            lambda d: d["pain_stop"].update(source="my-guess"),
            "adaptation.yaml: pain_stop.source: unknown source 'my-guess'",
        ),
        (lambda d: d["tight"].pop("rationale"), "adaptation.yaml: tight.rationale: is required"),
        (
            lambda d: d["good_streak"].update(longer_routines={"gentle": "lower5"}),
            "adaptation.yaml: good_streak.longer_routines.gentle: 'lower5' is not longer than 'gentle'",
        ),
        (
            lambda d: d["good_streak"].update(longer_routines={"lower5": "partner"}),
            "adaptation.yaml: good_streak.longer_routines.lower5: 'partner' is not longer than 'lower5'",
        ),
        (
            lambda d: d["good_streak"].update(longer_routines={"lower5": "marathon"}),
            "adaptation.yaml: good_streak.longer_routines.lower5: unknown routine 'marathon'",
        ),
        (
            lambda d: d["texts"].update(tight_shorter="{stretch} for {minutes} min"),
            "adaptation.yaml: texts.tight_shorter: unknown placeholder {minutes} (allowed: seconds, stretch)",
        ),
        (
            lambda d: d["repeated_pain"].update(stops=1),
            "adaptation.yaml: repeated_pain.stops: input should be greater than or equal to 2",
        ),
    ],
)
def test_a_broken_adaptation_file(content_dir: Path, change, error) -> None:
    assert _error(content_dir, "adaptation.yaml", change) == error
