"""Values that cross the engine boundary: events in, actions out.

The engine is `state + event + now -> new state + actions` (dialogs.engine). Everything here is plain,
immutable data, so adapters, storage and tests build and compare it without a loop or a clock. Nothing
here is rendered text: a message is a list of text references (`Line`) and a `Screen` (an id and its
parameters), rendered from content when it is sent (dialogs.render).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from dialogs.state import Param, Screen

# ---------------------------------------------------------------------------------------------
# Events: what happened. Adapters normalise platform input into these; the runtime adds
# TimerFired (a timer came due) and Undeliverable (delivery failed).


@dataclass(frozen=True)
class Command:
    """A slash command, without the slash. Unknown names are answered with a hint."""

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
    payload: Mapping[str, Param] = field(default_factory=dict)


@dataclass(frozen=True)
class Undeliverable:
    """The runtime could not deliver a message to this user (they blocked the bot, or closed DMs)."""

    reason: str = ""


Event = Command | Text | Button | TimerFired | Undeliverable


# ---------------------------------------------------------------------------------------------
# Actions: what should happen. The runtime performs them; the engine never does I/O.

MessageKind = Literal["message", "cue", "referral", "reminder"]


@dataclass(frozen=True)
class Line:
    """A text reference: a content key and the values for its placeholders, rendered when sent."""

    key: str
    params: Mapping[str, Param] = field(default_factory=dict)


@dataclass(frozen=True)
class Say:
    """A message: some lines, then (optionally) a screen with its buttons.

    `number` is the screen number its buttons carry (a press must match it to count); `kind` lets adapters
    style or route it: "cue" for hold cues, "referral" for referral text, "reminder" for the daily reminder.
    """

    lines: tuple[Line, ...] = ()
    screen: Screen | None = None
    number: int | None = None
    kind: MessageKind = "message"


@dataclass(frozen=True)
class Notice:
    """A short answer that changes nothing (a Telegram toast, a Discord ephemeral), e.g. a stale button."""

    line: Line


@dataclass(frozen=True)
class ScheduleTimer:
    """Schedule (or replace: names are stable per user) a timer that comes back as TimerFired.

    `scalable`: a duration the runtime may speed up for demos and tests (a hold, a snooze); a wall-clock
    time (a daily reminder) is never scaled.
    """

    name: str
    due: datetime
    payload: Mapping[str, Param] = field(default_factory=dict)
    scalable: bool = False


@dataclass(frozen=True)
class CancelTimer:
    name: str


Outcome = Literal["completed", "stopped", "referral"]


@dataclass(frozen=True)
class EndSession:
    """A session ended. The runtime writes it to the user's history (with how each stretch felt)."""

    outcome: Outcome
    routine: str | None = None
    level: str | None = None  # a referral's level: "A", "B", "C", or "pain" for a pain stop
    stretches_done: int = 0
    seconds: int = 0
    ratings: tuple[tuple[str, str], ...] = ()  # (stretch, good | tight | pain | skipped), in order
    score_before: int | None = None  # the back score 0-10 before the session, when asked


@dataclass(frozen=True)
class RecordScore:
    """The back score 0-10 after the session that just ended: the runtime adds it to that history row."""

    after: int


@dataclass(frozen=True)
class ShowProgress:
    """/progress, or the weekly summary: the runtime loads the history and attaches the figures and chart."""

    weekly: bool = False


@dataclass(frozen=True)
class ExportData:
    """The user asked to see what is stored about them (/mydata): the runtime attaches it."""


@dataclass(frozen=True)
class ForgetUser:
    """The user confirmed /forget: delete every row about them."""


Action = (Say | Notice | ScheduleTimer | CancelTimer | EndSession | RecordScore | ShowProgress | ExportData
          | ForgetUser)


# ---------------------------------------------------------------------------------------------
# A message as plain JSON data, for the outbox: stored when the step commits, rendered when it is sent.


def message_data(say: Say) -> dict[str, object]:
    """A Say as JSON-able data (lines, screen, number, kind): never rendered text."""
    return {
        "kind": say.kind,
        "lines": [{"key": line.key, "params": dict(line.params)} for line in say.lines],
        "screen": None if say.screen is None else {"id": say.screen.id, "params": dict(say.screen.params)},
        "number": say.number,
    }


def message_from_data(data: Mapping[str, object]) -> Say:
    """The Say that message_data stored (ValueError for data it never made)."""
    kind = data.get("kind")
    if kind not in ("message", "cue", "referral", "reminder"):
        raise ValueError(f"not a message kind: {kind!r}")
    raw_lines = data.get("lines")
    if not isinstance(raw_lines, list):
        raise ValueError("a stored message needs its lines")
    lines = tuple(Line(str(item["key"]), dict(item.get("params") or {})) for item in raw_lines)
    raw_screen = data.get("screen")
    screen = Screen.model_validate(raw_screen) if raw_screen is not None else None
    number = data.get("number")
    return Say(lines, screen, number if isinstance(number, int) else None, kind)
