"""Values that cross the engine boundary: events in, actions out, and the user's stored state.

The engine is `state + event + now -> new state + actions` (see dialogs.engine). Everything here is
plain data so that adapters, storage and tests can build and compare it without a loop or a clock.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# ---------------------------------------------------------------------------------------------
# Events: what happened. Adapters normalise platform input into these shapes; the runtime adds
# TimerFired (a timer came due) and Undeliverable (delivery failed).

COMMANDS = ("start", "stretch", "stop", "help", "remind", "mydata", "forget")


@dataclass(frozen=True)
class Command:
    """A slash command, without the slash: one of COMMANDS, or anything else (answered with a hint)."""

    name: str
    argument: str = ""


@dataclass(frozen=True)
class Text:
    """Free text the user typed."""

    text: str


@dataclass(frozen=True)
class Button:
    """A press on a choice. `screen` is the screen number the button was drawn for (stale detection)."""

    choice: str
    screen: int


@dataclass(frozen=True)
class TimerFired:
    """A timer the engine scheduled came due. `due` is when it was meant to fire."""

    name: str
    due: datetime
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Undeliverable:
    """The runtime could not deliver a message to this user (they blocked the bot, or closed DMs)."""

    reason: str = ""


Event = Command | Text | Button | TimerFired | Undeliverable


# ---------------------------------------------------------------------------------------------
# Actions: what should happen. The runtime performs them; the engine never does I/O.


@dataclass(frozen=True)
class Choice:
    id: str
    label: str


@dataclass(frozen=True)
class Say:
    """A message to the user. `choices` become buttons (or numbered lines on the console).

    `screen` is set when there are choices: the number a button press must carry to count.
    `kind` lets adapters style or route a message: "cue" for hold cues, "referral" for referral
    text, "reminder" for the daily reminder; everything else is "message".
    """

    text: str
    choices: tuple[Choice, ...] = ()
    screen: int | None = None
    kind: Literal["message", "cue", "referral", "reminder"] = "message"


@dataclass(frozen=True)
class Notice:
    """A short answer that changes nothing (Telegram toast, Discord ephemeral), e.g. a stale button."""

    text: str


@dataclass(frozen=True)
class ScheduleTimer:
    """Schedule (or replace: names are stable per user) a timer that comes back as TimerFired."""

    name: str
    due: datetime
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CancelTimer:
    name: str


Outcome = Literal["completed", "stopped", "referral"]


@dataclass(frozen=True)
class EndSession:
    """A session ended. The runtime writes it to the user's history."""

    outcome: Outcome
    routine: str | None = None
    level: str | None = None  # triage level of a referral: "A", "B" or "C"
    stretches_done: int = 0
    seconds: int = 0


@dataclass(frozen=True)
class ExportData:
    """The user asked to see what is stored about them (/mydata)."""


@dataclass(frozen=True)
class ForgetUser:
    """The user confirmed /forget: delete every row about them."""


Action = Say | Notice | ScheduleTimer | CancelTimer | EndSession | ExportData | ForgetUser


# ---------------------------------------------------------------------------------------------
# State: one JSON document per user, validated on load. `schema` changes when the shape changes;
# a document the code cannot read any more resets to a safe start (see dialogs.engine.load_state).

STATE_SCHEMA = 1

Phase = Literal[
    "quick_check",  # "anything new since last time?"
    "triage",  # full red-flag questions
    "choose_routine",
    "position",  # getting into position; waits for "ready"
    "holding",  # a hold is running; cues come from timers
    "checkin",  # "how did that feel?"
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Session(_Model):
    id: int
    phase: Phase
    started_at: datetime
    partner: bool = False
    question: int = 0  # triage: index into the question list
    ruled_out: list[str] = Field(default_factory=list)  # stretch tags a triage answer ruled out
    full_triage: bool = False
    routine: str | None = None
    stretch: int = 0  # index into the routine's stretches
    hold: int = 0  # index into that stretch's holds (sides x reps)
    hold_started_at: datetime | None = None
    hold_seq: int = 0  # increases with every hold, so a stale timer is recognised
    stretches_done: int = 0
    hold_seconds_done: int = 0


class Reminder(_Model):
    hour: int
    minute: int
    timezone: str
    days: Literal["daily", "weekdays"] = "daily"
    paused_until: str | None = None  # ISO local date: no reminder before this day ("pause for N days")
    last_sent_on: str | None = None  # ISO local date of the last reminder sent (never two a day)
    enabled: bool = True  # False: paused until the user turns it back on (e.g. they were unreachable)


class Profile(_Model):
    last_triage_at: datetime | None = None
    last_triage_level: str | None = None  # "A".."D"
    timezone: str | None = None
    reminder: Reminder | None = None
    unreachable: bool = False  # delivery failed (blocked bot / closed DMs); told on next contact


class UserState(_Model):
    schema_: int = Field(default=STATE_SCHEMA, alias="schema")
    screen: int = 0  # increases with every screen that has choices
    # the current screen as data (aiogram-dialog style), so it can be shown again at any time
    prompt: str = ""
    choices: list[tuple[str, str]] = Field(default_factory=list)  # (id, label)
    sessions_started: int = 0
    profile: Profile = Field(default_factory=Profile)
    session: Session | None = None
    # a small dialog outside a session (reminder setup, /forget confirmation); see dialogs.engine
    flow: dict[str, Any] | None = None

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True)

    @classmethod
    def from_json(cls, text: str) -> "UserState":
        return cls.model_validate_json(text)


@dataclass(frozen=True)
class Step:
    """The engine's answer: the state to store and the actions to perform, in order."""

    state: UserState
    actions: tuple[Action, ...]

    def says(self) -> list[Say]:
        return [a for a in self.actions if isinstance(a, Say)]

    def text(self) -> str:
        """Everything said in this step, joined: handy in tests and the console."""
        return "\n".join(a.text for a in self.actions if isinstance(a, (Say, Notice)))
