"""The model of content/progress.yaml: the wording of /progress, its charts and the weekly summary,
plural forms, and the before/after score rule. Validated at load like every content file (pydantic),
so a missing text, an unknown {placeholder} or a plural without {count} is one precise error line.

This module imports nothing from dialogs.content (which imports it), so there is no cycle.
"""

from __future__ import annotations

import string
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def check_placeholders(text: str, allowed: set[str]) -> str:
    """`text` unchanged, or ValueError naming the first placeholder that is not in `allowed`."""
    extra = placeholders(text) - allowed
    if extra:
        names = ", ".join(sorted(allowed)) or "none"
        raise ValueError(f"unknown placeholder {{{sorted(extra)[0]}}} (allowed: {names})")
    return text


class PlaceholderTexts(_Strict):
    """Content texts, each non-empty and using only the placeholders PLACEHOLDERS allows for it, so a typo in
    content is an error naming the file and field at load time, not a KeyError when the text is sent."""

    PLACEHOLDERS: ClassVar[dict[str, set[str]]] = {}

    @field_validator("*")
    @classmethod
    def _placeholders(cls, value: Any, info: ValidationInfo) -> Any:
        if not isinstance(value, str) or not value:
            raise ValueError("must be a non-empty text")
        return check_placeholders(value, cls.PLACEHOLDERS[info.field_name or ""])


class Plural(_Strict):
    """A counted noun: `one` for exactly 1, `other` for every other number ("1 stretch", "2 stretches")."""

    one: str = Field(min_length=1)
    other: str = Field(min_length=1)

    @field_validator("one", "other")
    @classmethod
    def _count(cls, value: str) -> str:
        check_placeholders(value, {"count"})
        if "{count}" not in value:
            raise ValueError("must contain {count}")
        return value

    def of(self, count: float) -> str:
        """ "3 sessions"; whole numbers print without decimals, others with one ("1.5 points")."""
        shown = f"{count:.0f}" if float(count).is_integer() else f"{count:.1f}"
        return (self.one if count == 1 else self.other).format(count=shown)


class Units(_Strict):
    session: Plural
    stretch: Plural
    minute: Plural
    day: Plural
    week: Plural
    point: Plural  # points on the 0-10 back score
    second: Plural
    time: Plural  # how often ("2 times")


class Feelings(_Strict):
    """How a stretch or a day felt, as words inside a sentence ("3 good, 1 tight but OK")."""

    good: str = Field(min_length=1, max_length=40)
    tight: str = Field(min_length=1, max_length=40)
    pain: str = Field(min_length=1, max_length=40)
    skipped: str = Field(min_length=1, max_length=40)


class ChartWords(_Strict):
    """Words on the chart picture and in the console's text chart."""

    title: str = Field(min_length=3, max_length=60)
    empty: str = Field(min_length=3, max_length=80)  # no session in the 4 weeks
    today: str = Field(min_length=1, max_length=12)
    weekdays: list[str] = Field(min_length=7, max_length=7)  # Monday first, one or two letters
    months: list[str] = Field(min_length=12, max_length=12)  # short month names, January first
    # the legend: one word or two each, in the order shown
    good: str = Field(min_length=1, max_length=24)
    tight: str = Field(min_length=1, max_length=24)
    pain: str = Field(min_length=1, max_length=24)
    unrated: str = Field(min_length=1, max_length=24)  # sessions without a rating that day

    @field_validator("weekdays")
    @classmethod
    def _short(cls, value: list[str]) -> list[str]:
        if any(not 1 <= len(day) <= 2 for day in value):
            raise ValueError("each weekday must be one or two letters (they label narrow bars)")
        return value


class Texts(PlaceholderTexts):
    """Sentences of /progress and the weekly summary. PLACEHOLDERS lists what each may use."""

    PLACEHOLDERS: ClassVar[dict[str, set[str]]] = {
        "title": set(),
        "period": {"days", "sessions", "stretches", "held"},
        "period_empty": {"days"},
        "held_under_a_minute": set(),
        "feelings": {"list"},
        "feeling_item": {"count", "feeling"},
        "active_days": {"active", "days"},
        "no_recent_days": {"days"},
        "habit": {"per_week", "weeks"},
        "all_time": {"sessions"},
        "scores": {"pairs", "days", "before", "after"},
        "scores_lower": {"points"},
        "scores_same": set(),
        "scores_higher": {"points"},
        "weekly_intro": set(),
        "weekly_active": {"sessions", "held"},
        "weekly_quiet": set(),
        "chart_file": {"path"},
    }

    title: str
    period: str
    period_empty: str
    held_under_a_minute: str
    feelings: str
    feeling_item: str
    active_days: str
    no_recent_days: str
    habit: str
    all_time: str
    scores: str
    scores_lower: str
    scores_same: str
    scores_higher: str
    weekly_intro: str
    weekly_active: str
    weekly_quiet: str
    chart_file: str


class HabitRule(_Strict):
    """When "a habit" is said: at least `min_per_week` sessions in each of `min_weeks` weeks running."""

    min_per_week: int = Field(ge=1, le=14)
    min_weeks: int = Field(ge=2, le=52)


class ScoreRule(_Strict):
    """The optional 0-10 "how is your back right now?" before and after a session, and when it refers."""

    refer_at: int = Field(ge=1, le=10)  # a score this high, before or after: referral (as triage's score)
    rise_at: int = Field(ge=1, le=10)  # after minus before this much or more: referral
    level: Literal["A", "B", "C"]  # the referral text to send
    rationale: str = Field(min_length=10)
    source: str


class ProgressWords(_Strict):
    """content/progress.yaml."""

    units: Units
    feelings: Feelings
    chart: ChartWords
    texts: Texts
    habit: HabitRule
    scores: ScoreRule
    weekly_offer_after_sessions: int = Field(ge=1, le=50)  # offer the weekly summary after this many
