"""Routines that adapt to how each stretch felt, and say so. Pure: memory in, new memory and notes out.

The rules are content (content/adaptation.yaml, dialogs.adaptation_rules); what a user's past sessions
taught is an `AdaptationMemory` kept in their state. The engine calls:
- `after_checkin` after "Good" / "Tight but OK" / a skip on a stretch;
- `after_pain_stop` when a session stops for pain (the stretch rests; repeated stops bring the GP or
  physiotherapist advice, once);
- `after_session` when a session ends (a run of all-good routines brings an offer, never an imposition);
- `adjust` before a routine starts: each stretch's hold for today, with a note saying why, and the
  stretches that are resting, with how to bring them back (`bring_back`);
- `accept_offer` / `decline_offer` on the offer's buttons.
Notes are data (a text key and params); dialogs.adaptation_text.note_text renders them from content.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from dialogs.adaptation_rules import AdaptationRules, HoldLimit, RoutineLike, StretchLike

Rating = Literal["good", "tight", "pain", "skipped"]
CheckinRating = Literal["good", "tight", "skipped"]  # a pain stop goes through after_pain_stop
RECENT_RATINGS = 5  # ratings remembered per stretch


# ---- the memory kept in the user's state ------------------------------------------------------------------
class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StretchMemory(_Frozen):
    recent: tuple[Rating, ...] = ()  # the last few ratings, newest last
    hold_seconds: int | None = None  # the adapted hold; None: the usual one (preferred, else content's)
    preferred_seconds: int | None = None  # the usual hold, raised when the user accepted a longer one
    use_variant: bool = False  # do the gentler variant instead (tight at the shortest hold)
    resting_until: datetime | None = None  # left out until then, after a stop for pain
    returning: bool = False  # back after a rest: say so, until its next check-in
    pain_stops: int = 0


class AdaptationMemory(_Frozen):
    """What adaptation remembers about one user; store it in their state (e.g. `Profile.adaptation`)."""

    stretches: dict[str, StretchMemory] = Field(default_factory=dict)
    good_streaks: dict[str, int] = Field(default_factory=dict)  # routine id -> all-good sessions running
    offered_at: dict[str, datetime] = Field(default_factory=dict)  # routine id -> last offer
    pain_stops: tuple[datetime, ...] = ()  # stops for pain within the repeated-pain window
    advised_at: datetime | None = None  # when the GP or physiotherapist advice was given (only once)

    def stretch(self, stretch_id: str) -> StretchMemory:
        return self.stretches.get(stretch_id, StretchMemory())

    def with_stretch(self, stretch_id: str, memory: StretchMemory) -> AdaptationMemory:
        return self.model_copy(update={"stretches": {**self.stretches, stretch_id: memory}})


class Offer(_Frozen):
    """A longer routine or longer holds, offered after all-good sessions. Storable (JSON) until answered."""

    kind: Literal["routine", "hold"]
    routine: str
    longer: str | None = None  # kind "routine": the routine to try next time
    holds: dict[str, int] = Field(default_factory=dict)  # kind "hold": stretch id -> its longer usual hold
    step_seconds: int = 0


# ---- what the engine gets back --------------------------------------------------------------------------
@dataclass(frozen=True)
class Note:
    """Something to tell the user: a text key of content/adaptation.yaml and its params (ids, numbers)."""

    key: str
    params: Mapping[str, str | int] = field(default_factory=dict)


@dataclass(frozen=True)
class Update:
    memory: AdaptationMemory
    note: Note | None = None  # say this now (e.g. the GP or physiotherapist advice)
    offer: Offer | None = None  # offer this now, with its note (`offer_note`) and yes / no buttons


@dataclass(frozen=True)
class PlannedStretch:
    stretch: str  # the stretch to do: the routine's, or its gentler variant
    hold_seconds: int  # each hold of it today
    instead_of: str | None = None  # the routine's stretch, when a variant replaces it
    note: Note | None = None  # show with this stretch (why its hold or variant changed)


@dataclass(frozen=True)
class RestingStretch:
    stretch: str
    until: datetime
    note: Note


@dataclass(frozen=True)
class Plan:
    stretches: tuple[PlannedStretch, ...]
    resting: tuple[RestingStretch, ...] = ()

    @property
    def intro_notes(self) -> tuple[Note, ...]:
        """Before the first stretch: which stretches rest today, and how to bring one back."""
        if not self.resting:
            return ()
        if not self.stretches:
            return (*(r.note for r in self.resting), Note("all_resting"))
        return (*(r.note for r in self.resting), Note("resting_ask"))


# ---- holds ------------------------------------------------------------------------------------------------
def _clamp(seconds: int, limit: HoldLimit) -> int:
    return max(limit.min_seconds, min(limit.max_seconds, seconds))


def usual_hold(
    stretch_id: str, memory: AdaptationMemory, rules: AdaptationRules, stretches: Mapping[str, StretchLike]
) -> int:
    """The stretch's usual hold: content's, or the longer one the user accepted, within its range."""
    default = stretches[stretch_id].hold_seconds
    limit = rules.limit(stretch_id)
    if limit is None:
        return default
    return _clamp(memory.stretch(stretch_id).preferred_seconds or default, limit)


def hold_for(
    stretch_id: str, memory: AdaptationMemory, rules: AdaptationRules, stretches: Mapping[str, StretchLike]
) -> int:
    """Today's hold: the adapted one when there is one, always within the stretch's range (content may
    have changed since it was remembered); a stretch without a range keeps content's hold."""
    limit = rules.limit(stretch_id)
    adapted = memory.stretch(stretch_id).hold_seconds
    if limit is None or adapted is None:
        return usual_hold(stretch_id, memory, rules, stretches)
    return _clamp(adapted, limit)


# ---- updates ---------------------------------------------------------------------------------------------
def after_checkin(
    memory: AdaptationMemory,
    stretch: str,
    rating: CheckinRating,
    rules: AdaptationRules,
    stretches: Mapping[str, StretchLike],
    *,
    instead_of: str | None = None,
) -> AdaptationMemory:
    """Remember a check-in. Tight: a shorter hold next time (or, at the shortest, the gentler variant).
    Good: a shortened hold comes back a step towards the usual one, a variant back to the stretch."""
    key = instead_of or stretch
    own = memory.stretch(key)
    changes: dict[str, object] = {"recent": (*own.recent, rating)[-RECENT_RATINGS:], "returning": False}
    limit = rules.limit(key)
    if key in stretches and limit is not None:
        hold = hold_for(key, memory, rules, stretches)
        step = rules.tight.step_seconds
        if rating == "tight" and hold > limit.min_seconds:
            changes["hold_seconds"] = max(limit.min_seconds, hold - step)
        elif rating == "tight" and limit.variant is not None and limit.variant in stretches:
            changes["use_variant"] = True
        elif rating == "good" and instead_of is not None:
            changes["use_variant"] = False  # the variant felt good: the stretch itself next, at its shortest
        elif rating == "good":
            usual = usual_hold(key, memory, rules, stretches)
            raised = min(usual, hold + step)
            changes["hold_seconds"] = None if raised >= usual else raised
    return memory.with_stretch(key, own.model_copy(update=changes))


def after_pain_stop(
    memory: AdaptationMemory,
    stretch: str | None,
    rules: AdaptationRules,
    now: datetime,
    *,
    instead_of: str | None = None,
) -> Update:
    """A session stopped for pain (on `stretch`, or before any stretch: None). The stretch rests for the
    rule's days and comes back at its shortest hold; every good streak ends; and the second stop within
    the window brings the GP or physiotherapist advice (`Update.note`), which is given only once."""
    rule = rules.repeated_pain
    window_start = now - timedelta(days=rule.within_days)
    stops = (*(t for t in memory.pain_stops if t > window_start), now)
    changes: dict[str, object] = {"pain_stops": stops, "good_streaks": {}}
    note = None
    if memory.advised_at is None and len(stops) >= rule.stops:
        changes["advised_at"] = now
        note = Note("advise_gp", {"stops": len(stops), "days": rule.within_days})
    updated = memory.model_copy(update=changes)
    key = instead_of or stretch
    if key is not None:
        own = memory.stretch(key)
        limit = rules.limit(key)
        updated = updated.with_stretch(
            key,
            own.model_copy(
                update={
                    "recent": (*own.recent, "pain")[-RECENT_RATINGS:],
                    "pain_stops": own.pain_stops + 1,
                    "resting_until": now + timedelta(days=rules.pain_stop.rest_days),
                    "returning": True,
                    "use_variant": False,
                    "hold_seconds": limit.min_seconds if limit else None,
                }
            ),
        )
    return Update(updated, note=note)


def after_session(
    memory: AdaptationMemory,
    routine: str | None,
    ratings: Sequence[Rating],
    completed: bool,
    rules: AdaptationRules,
    routines: Mapping[str, RoutineLike],
    stretches: Mapping[str, StretchLike],
    now: datetime,
) -> Update:
    """A session ended. Finished with "Good" on every stretch of the whole routine (none resting): the
    routine's good streak grows, else it ends. When the streak is long enough an offer comes back in
    `Update.offer`, recorded as made."""
    if routine is None:
        return Update(memory)
    whole = routine in routines and not any(_resting(memory.stretch(s), now) for s in routines[routine].stretches)
    all_good = whole and completed and bool(ratings) and all(r == "good" for r in ratings)
    streak = memory.good_streaks.get(routine, 0) + 1 if all_good else 0
    memory = memory.model_copy(update={"good_streaks": {**memory.good_streaks, routine: streak}})
    offer = offer_longer(routine, memory, rules, routines, stretches, now)
    if offer is not None:
        memory = memory.model_copy(
            update={
                "good_streaks": {**memory.good_streaks, routine: 0},
                "offered_at": {**memory.offered_at, routine: now},
            }
        )
    return Update(memory, offer=offer)


def offer_longer(
    routine: str,
    memory: AdaptationMemory,
    rules: AdaptationRules,
    routines: Mapping[str, RoutineLike],
    stretches: Mapping[str, StretchLike],
    now: datetime,
) -> Offer | None:
    """The offer due after `rules.good_streak.sessions` all-good sessions of `routine` running: its
    longer routine when content names one, else longer holds within range; None when not due, when
    one was made recently, or when nothing can be longer."""
    rule = rules.good_streak
    if memory.good_streaks.get(routine, 0) < rule.sessions or routine not in routines:
        return None
    last = memory.offered_at.get(routine)
    if last is not None and now - last < timedelta(days=rule.offer_again_after_days):
        return None
    longer = rule.longer_routines.get(routine)
    if longer is not None and longer in routines:
        return Offer(kind="routine", routine=routine, longer=longer)
    holds: dict[str, int] = {}
    for stretch_id in routines[routine].stretches:
        limit = rules.limit(stretch_id)
        if limit is None or stretch_id not in stretches:
            continue
        usual = usual_hold(stretch_id, memory, rules, stretches)
        if usual < limit.max_seconds:
            holds[stretch_id] = min(limit.max_seconds, usual + rule.hold_step_seconds)
    if not holds:
        return None
    return Offer(kind="hold", routine=routine, holds=holds, step_seconds=rule.hold_step_seconds)


def offer_note(offer: Offer, rules: AdaptationRules) -> Note:
    sessions = rules.good_streak.sessions
    if offer.kind == "routine" and offer.longer is not None:
        return Note("offer_routine", {"routine": offer.routine, "longer": offer.longer, "sessions": sessions})
    return Note("offer_hold", {"routine": offer.routine, "seconds": offer.step_seconds, "sessions": sessions})


def accept_offer(memory: AdaptationMemory, offer: Offer) -> Update:
    """Yes to an offer. Longer holds become the stretches' usual holds; a longer routine is the engine's
    to suggest next time (the note says which)."""
    if offer.kind == "routine" and offer.longer is not None:
        return Update(memory, note=Note("offer_accepted_routine", {"longer": offer.longer}))
    for stretch_id, seconds in offer.holds.items():
        own = memory.stretch(stretch_id)
        memory = memory.with_stretch(
            stretch_id, own.model_copy(update={"preferred_seconds": seconds, "hold_seconds": None})
        )
    return Update(memory, note=Note("offer_accepted_hold", {"seconds": offer.step_seconds}))


def decline_offer(memory: AdaptationMemory) -> Update:
    """No to an offer: nothing changes (the offer stays recorded, so it does not come back soon)."""
    return Update(memory, note=Note("offer_declined"))


def bring_back(memory: AdaptationMemory, stretch: str) -> Update:
    """The user asked for a resting stretch back: it is planned again (at its shortest hold, with a note)."""
    own = memory.stretch(stretch)
    return Update(
        memory.with_stretch(stretch, own.model_copy(update={"resting_until": None})),
        note=Note("brought_back", {"stretch": stretch}),
    )


# ---- the plan for today ------------------------------------------------------------------------------------
def adjust(
    routine_stretches: Sequence[str],
    memory: AdaptationMemory,
    rules: AdaptationRules,
    stretches: Mapping[str, StretchLike],
    now: datetime,
    excluded_tags: Collection[str] = (),
) -> Plan:
    """Today's plan for a routine's stretches, in order: each stretch's hold with the note that explains
    a change, and the stretches left out (resting after pain) with theirs. A variant carrying a tag the
    user's triage ruled out (`excluded_tags`) is never planned: the stretch itself is, gently."""
    planned: list[PlannedStretch] = []
    resting: list[RestingStretch] = []
    for stretch_id in routine_stretches:
        if stretch_id not in stretches:
            continue  # content changed under a stored routine: nothing to plan
        own = memory.stretch(stretch_id)
        if own.resting_until is not None and _resting(own, now):
            days = max(1, -(-(own.resting_until - now) // timedelta(days=1)))
            resting.append(
                RestingStretch(stretch_id, own.resting_until, Note("resting", {"stretch": stretch_id, "days": days}))
            )
            continue
        planned.append(_planned(stretch_id, own, memory, rules, stretches, excluded_tags))
    return Plan(tuple(planned), tuple(resting))


def _planned(
    stretch_id: str,
    own: StretchMemory,
    memory: AdaptationMemory,
    rules: AdaptationRules,
    stretches: Mapping[str, StretchLike],
    excluded_tags: Collection[str],
) -> PlannedStretch:
    hold = hold_for(stretch_id, memory, rules, stretches)
    limit = rules.limit(stretch_id)
    variant = limit.variant if limit is not None and own.use_variant else None
    if variant is not None and variant in stretches and not set(stretches[variant].tags) & set(excluded_tags):
        variant_limit = rules.limit(variant)
        variant_hold = variant_limit.min_seconds if variant_limit else stretches[variant].hold_seconds
        return PlannedStretch(
            variant,
            variant_hold,
            instead_of=stretch_id,
            note=Note("tight_variant", {"stretch": stretch_id, "variant": variant}),
        )
    note = None
    shorter = hold < usual_hold(stretch_id, memory, rules, stretches)
    if own.returning:
        note = (
            Note("back_after_rest_shorter", {"stretch": stretch_id, "seconds": hold})
            if shorter
            else Note("back_after_rest", {"stretch": stretch_id})
        )
    elif _last_felt(own) == "tight":
        note = (
            Note("tight_shorter", {"stretch": stretch_id, "seconds": hold})
            if shorter
            else Note("tight_gentle", {"stretch": stretch_id})
        )
    return PlannedStretch(stretch_id, hold, note=note)


def _resting(own: StretchMemory, now: datetime) -> bool:
    return own.resting_until is not None and own.resting_until > now


def _last_felt(own: StretchMemory) -> Rating | None:
    """The last rating that says how it felt (a skip says nothing, so an adapted hold keeps its reason)."""
    return next((rating for rating in reversed(own.recent) if rating != "skipped"), None)
