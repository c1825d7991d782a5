"""The user's stored state: one JSON document per user, validated on load, migrated from older versions.

What is stored is data, never rendered text: `screen` says WHICH screen is on display (an id and its
parameters, aiogram-dialog style) and it is rendered from content whenever it is sent, so a content fix
reaches a screen already shown. The conversation's progress lives in typed flows: `session` (its phase is
a discriminated union: screening, choosing a routine, exercising) and `side`, a small flow that overlays
it (reminder set-up, a reminder that came due, the /forget confirmation, "does anything hurt?").
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from dialogs.adaptation import AdaptationMemory, Rating
from dialogs.migrate import SCHEMA_VERSION, migrate
from dialogs.schedule import Reminder
from dialogs.weekly import WeeklySummary

Param = str | int | bool | None
Audience = Literal["self", "partner"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Screen(_Model):
    """A screen as data: its id (see dialogs.screens) and the parameters it is rendered with."""

    id: str
    params: dict[str, Param] = Field(default_factory=dict)

    model_config = ConfigDict(extra="forbid", frozen=True)

    def param(self, name: str) -> Param:
        return self.params.get(name)

    def text(self, name: str) -> str:
        value = self.params.get(name)
        return value if isinstance(value, str) else ""

    def number(self, name: str) -> int:
        value = self.params.get(name)
        return value if isinstance(value, int) and not isinstance(value, bool) else 0


# ---- the session and its phases ------------------------------------------------------------------
class Screening(_Model):
    """The safety screen: grouped checklists, drill-down items, the pain score, kneeling; or the quick check."""

    kind: Literal["screening"] = "screening"
    stage: Literal["group", "item", "score", "kneeling", "quick", "after_pain", "before"] = "group"
    group: int = 0  # index into content triage.groups
    item: str | None = None  # the question being asked in a drill-down (or a follow-up)
    parent: str | None = None  # when `item` is a follow-up: the question whose yes led to it
    pending: list[str] = Field(default_factory=list)  # drill-down questions still to ask, in order
    unsure: bool = False  # the person said once that they are not sure about the question on screen


class Choosing(_Model):
    kind: Literal["choosing"] = "choosing"


class Planned(_Model):
    """One stretch of today's plan: the routine's own or its gentler variant, and today's hold."""

    stretch: str
    seconds: int
    instead_of: str | None = None  # the routine's stretch a variant replaces
    note: str | None = None  # why today's hold or variant changed: an adaptation note key...
    note_params: dict[str, str | int] = Field(default_factory=dict)  # ...and its values


class Exercising(_Model):
    kind: Literal["exercise"] = "exercise"
    routine: str
    plan: list[Planned] = Field(default_factory=list)  # today's stretches (adapted); [] only in old states
    stretch: int = 0  # index into the plan
    hold: int = 0  # index into that stretch's holds (sides x rounds)
    stage: Literal["position", "hold", "checkin"] = "position"
    hold_started_at: datetime | None = None
    seq: int = 0  # increases with every hold, so a timer of an earlier hold is recognised


Phase = Annotated[Screening | Choosing | Exercising, Field(discriminator="kind")]


class Session(_Model):
    id: int
    started_at: datetime
    audience: Audience = "self"  # "partner": a helper answering for, and stretching with, their partner
    phase: Phase
    ruled_out: list[str] = Field(default_factory=list)  # stretch tags left out (answers, remembered ones)
    ruled_out_by: list[str] = Field(default_factory=list)  # the questions that left them out (for the note)
    advice: list[str] = Field(default_factory=list)  # ui keys of advice to show with the routines
    gentle: bool = False  # after a pain stop: suggest taking it gently
    stretches_done: int = 0
    hold_seconds_done: int = 0
    ratings: list[tuple[str, Rating]] = Field(default_factory=list)  # (stretch, how it felt), in order
    score_before: int | None = None  # "how is your back right now?" 0-10, when asked


# ---- side flows ----------------------------------------------------------------------------------
class ReminderSetup(_Model):
    kind: Literal["remind"] = "remind"
    step: Literal["time", "zone", "days", "menu", "pause"] = "time"
    hour: int = 0
    minute: int = 0
    zone: str | None = None


class ReminderDue(_Model):
    kind: Literal["due"] = "due"
    on: str  # the local ISO date the reminder is for


class ForgetConfirm(_Model):
    kind: Literal["forget"] = "forget"
    covered: Screen | None = None  # the screen /forget covered, shown again on "Cancel"


class AskIfHurts(_Model):
    """Text not understood during an exercise: "Does anything hurt?" covers the exercise screen."""

    kind: Literal["unsure"] = "unsure"
    covered: Screen


class AfterSession(_Model):
    """The steps after a finished session: the back score, then at most one offer."""

    kind: Literal["after"] = "after"
    routine: str | None = None
    score_before: int | None = None
    offer: dict[str, object] | None = None  # an adaptation Offer (JSON) still to make or answer
    step: Literal["score", "offer", "weekly", "remind"] = "score"


class WeeklySetup(_Model):
    kind: Literal["weekly"] = "weekly"
    step: Literal["day", "zone"] = "day"
    weekday: int = 0


SideFlow = Annotated[ReminderSetup | ReminderDue | ForgetConfirm | AskIfHurts | AfterSession | WeeklySetup,
                     Field(discriminator="kind")]


# ---- the profile ---------------------------------------------------------------------------------
ScreeningOutcome = Literal["clear", "A", "B", "C", "pain"]


class Profile(_Model):
    last_screened_at: datetime | None = None
    # how the last screening or session ended: "clear" (no flag), a referral level, or a pain stop
    last_outcome: ScreeningOutcome | None = None
    restrictions: list[str] = Field(default_factory=list)  # stretch tags remembered answers leave out
    restricted_by: list[str] = Field(default_factory=list)  # the questions behind them
    timezone: str | None = None
    reminder: Reminder | None = None
    unreachable: bool = False  # delivery failed (blocked bot / closed DMs); told on next contact
    adaptation: AdaptationMemory = Field(default_factory=AdaptationMemory)  # what past sessions taught
    sessions_completed: int = 0
    tracks_score: bool = False  # gave a back score after a session: asked before the next one too
    weekly: WeeklySummary | None = None  # the weekly summary, when turned on
    weekly_offered: bool = False
    pictures: bool = True  # a picture with each stretch (/pictures off for slow connections)


class UserState(_Model):
    schema_: int = Field(default=SCHEMA_VERSION, alias="schema")
    screen_no: int = 0  # increases with every screen that has buttons; a press must carry the current one
    screen: Screen | None = None  # the screen on display, if it has buttons
    sessions_started: int = 0
    profile: Profile = Field(default_factory=Profile)
    session: Session | None = None
    side: SideFlow | None = None

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True)

    @classmethod
    def from_json(cls, text: str) -> UserState:
        """Load a stored document, migrating it from an older schema version first."""
        return cls.model_validate(migrate(text))
