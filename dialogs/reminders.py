"""Daily reminders: the /remind conversation and the reminder timer (filled in by the reminders work)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from dialogs.content import ui_key
from dialogs.model import TimerFired

if TYPE_CHECKING:
    from dialogs.engine import Engine, Turn

COMING_SOON = ui_key("reminders_coming_soon")


def start(engine: "Engine", turn: "Turn") -> None:
    turn.reshow(turn.t(COMING_SOON))


def choose(engine: "Engine", turn: "Turn", choice: str) -> None:
    turn.state.flow = None
    engine.hint(turn)


def text(engine: "Engine", turn: "Turn", text: str) -> None:
    turn.state.flow = None
    engine.hint(turn)


def timer(engine: "Engine", turn: "Turn", event: TimerFired) -> None:
    """A timer this module does not know (or no longer knows): nothing to say."""


def undeliverable(engine: "Engine", turn: "Turn") -> None:
    turn.state.profile.unreachable = True
