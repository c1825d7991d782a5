"""The model of content/adaptation.yaml: how a routine adapts to how each stretch felt, as data.

Every rule carries its thresholds, its rationale and a source id from content/sources.yaml; hold limits
come from the seed articles' hold ranges. `problems()` checks the cross-references (stretches, routines,
sources, hold ranges against the stretches' own holds) once the other files are loaded, and names the
field of the first problem, so load_content can raise one precise ContentError line.

This module imports nothing from dialogs.content at run time (dialogs.content imports it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar, Protocol

from pydantic import BaseModel, ConfigDict, Field

from dialogs.progress_words import PlaceholderTexts


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


class _Sourced(_Strict):
    rationale: str = Field(min_length=20)
    source: str  # an id from sources.yaml


class TightRule(_Sourced):
    """ "Tight but OK": next time a shorter hold (by `step_seconds`, never below the stretch's minimum),
    or, once at the minimum, its gentler variant when it has one."""

    step_seconds: int = Field(ge=1, le=30)


class GoodStreakRule(_Sourced):
    """ "Good" on every stretch of a finished routine `sessions` times running: offer (never impose) the
    longer routine, or holds `hold_step_seconds` longer (within each stretch's maximum)."""

    sessions: int = Field(ge=2, le=10)
    hold_step_seconds: int = Field(ge=1, le=30)
    offer_again_after_days: int = Field(ge=1, le=365)  # after an offer, accepted or not, wait this long
    longer_routines: dict[str, str] = Field(default_factory=dict)  # routine id -> its longer routine id


class PainStopRule(_Sourced):
    """A stop for pain on a stretch: it rests (left out) for `rest_days`; the user may bring it back."""

    rest_days: int = Field(ge=1, le=60)


class RepeatedPainRule(_Sourced):
    """`stops` pain stops within `within_days`: advise a GP or physiotherapist, once."""

    stops: int = Field(ge=2, le=10)
    within_days: int = Field(ge=1, le=365)


class HoldLimit(_Sourced):
    """The hold range a stretch may adapt within (its seed's range), and an optional gentler variant.
    A stretch without a limit keeps its own hold from stretches.yaml."""

    stretch: str
    min_seconds: int = Field(ge=5, le=120)
    max_seconds: int = Field(ge=5, le=120)
    variant: str | None = None  # an existing stretch id, done instead once the hold is at its minimum


class AdaptationTexts(PlaceholderTexts):
    """What the bot says about adaptation. PLACEHOLDERS lists what each text may use: {stretch},
    {variant}, {routine} and {longer} are filled with titles, {days} with a counted "N days"."""

    PLACEHOLDERS: ClassVar[dict[str, set[str]]] = {
        "tight_shorter": {"stretch", "seconds"},
        "tight_gentle": {"stretch"},
        "tight_variant": {"stretch", "variant"},
        "back_after_rest": {"stretch"},
        "back_after_rest_shorter": {"stretch", "seconds"},
        "resting": {"stretch", "days"},
        "resting_ask": set(),
        "all_resting": set(),
        "brought_back": {"stretch"},
        "label_bring_back": {"stretch"},
        "offer_routine": {"routine", "longer", "sessions"},
        "offer_hold": {"routine", "seconds", "sessions"},
        "label_offer_yes": set(),
        "label_offer_no": set(),
        "offer_accepted_routine": {"longer"},
        "offer_accepted_hold": {"seconds"},
        "offer_declined": set(),
        "advise_gp": {"stops", "days"},
    }

    tight_shorter: str
    tight_gentle: str
    tight_variant: str
    back_after_rest: str
    back_after_rest_shorter: str
    resting: str
    resting_ask: str
    all_resting: str
    brought_back: str
    label_bring_back: str
    offer_routine: str
    offer_hold: str
    label_offer_yes: str
    label_offer_no: str
    offer_accepted_routine: str
    offer_accepted_hold: str
    offer_declined: str
    advise_gp: str


class AdaptationRules(_Strict):
    """content/adaptation.yaml."""

    tight: TightRule
    good_streak: GoodStreakRule
    pain_stop: PainStopRule
    repeated_pain: RepeatedPainRule
    holds: list[HoldLimit] = Field(default_factory=list)
    texts: AdaptationTexts

    def limit(self, stretch: str) -> HoldLimit | None:
        return next((limit for limit in self.holds if limit.stretch == stretch), None)

    def problems(
        self, stretches: Mapping[str, StretchLike], routines: Mapping[str, RoutineLike], sources: Mapping[str, object]
    ) -> str | None:
        """The first broken cross-reference as "field: message", or None when all is well."""
        for name in ("tight", "good_streak", "pain_stop", "repeated_pain"):
            rule: _Sourced = getattr(self, name)
            if rule.source not in sources:
                return f"{name}.source: unknown source {rule.source!r}"
        for shorter, longer in self.good_streak.longer_routines.items():
            for routine_id in (shorter, longer):
                if routine_id not in routines:
                    return f"good_streak.longer_routines.{shorter}: unknown routine {routine_id!r}"
            if len(routines[longer].stretches) <= len(routines[shorter].stretches):
                return f"good_streak.longer_routines.{shorter}: {longer!r} is not longer than {shorter!r}"
            if routines[longer].partner != routines[shorter].partner:
                return f"good_streak.longer_routines.{shorter}: {longer!r} is for someone else (partner mode differs)"
        seen: set[str] = set()
        for index, limit in enumerate(self.holds):
            where = f"holds[{index}]"
            problem = _limit_problem(limit, stretches, sources, seen)
            if problem:
                return f"{where}.{problem}"
            seen.add(limit.stretch)
        return None


def _limit_problem(
    limit: HoldLimit, stretches: Mapping[str, StretchLike], sources: Mapping[str, object], seen: set[str]
) -> str | None:
    if limit.stretch not in stretches:
        return f"stretch: unknown stretch {limit.stretch!r}"
    if limit.stretch in seen:
        return f"stretch: a second limit for {limit.stretch!r}"
    if limit.source not in sources:
        return f"source: unknown source {limit.source!r}"
    if limit.max_seconds < limit.min_seconds:
        return f"max_seconds: must be at least min_seconds ({limit.min_seconds})"
    default = stretches[limit.stretch].hold_seconds
    if not limit.min_seconds <= default <= limit.max_seconds:
        return (
            f"min_seconds: the range {limit.min_seconds}-{limit.max_seconds} s must include the stretch's "
            f"own hold of {default} s"
        )
    if limit.variant is not None:
        if limit.variant not in stretches:
            return f"variant: unknown stretch {limit.variant!r}"
        if limit.variant == limit.stretch:
            return "variant: must be another stretch"
    return None


class StretchLike(Protocol):
    """What adaptation reads of a stretch (dialogs.content.Stretch)."""

    @property
    def title(self) -> str: ...
    @property
    def hold_seconds(self) -> int: ...
    @property
    def tags(self) -> Sequence[str]: ...


class RoutineLike(Protocol):
    """What adaptation reads of a routine (dialogs.content.Routine)."""

    @property
    def title(self) -> str: ...
    @property
    def partner(self) -> bool: ...
    @property
    def stretches(self) -> Sequence[str]: ...
