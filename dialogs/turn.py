"""One engine step under construction: a private copy of the state, the time, and the actions so far.

Flows (dialogs/flows/) receive a Turn and add to it; they never render text, they name screens and
lines. A flow that wants another flow to take over returns a Handoff for the engine to resolve, so flows
never import each other or the engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from dialogs.content import Content
from dialogs.events import Action, CancelTimer, EndSession, Line, MessageKind, Notice, Outcome, Say, ScheduleTimer
from dialogs.screens import Screens, ScreenSpec
from dialogs.state import Param, Screen, Session, UserState


class Handoff(Enum):
    """What a flow asks the engine to do next, when another flow does it."""

    BEGIN = "begin"  # start a session (self)
    BEGIN_PARTNER = "begin_partner"  # start a session helping a partner
    CHOOSE_ROUTINE = "choose_routine"  # screening is done: offer the routines
    RESCORE = "rescore"  # pain described at the routine choice: ask the pain score again
    REMIND = "remind"  # open the reminder set-up (or its menu)
    HOME = "home"  # show the home menu
    HELP = "help"  # show help over the current screen
    STOP = "stop"  # stop the session (the Stop button or /stop)
    FINISHED = "finished"  # the routine is done: the summary, the back score, then at most one offer
    WEEKLY_ON = "weekly_on"  # set up the weekly summary
    WEEKLY_OFF = "weekly_off"  # turn the weekly summary off
    HINT = "hint"  # the answer does not fit the screen: say what would
    NONE = "none"  # handled: nothing more to do
    PROGRESS = "progress"  # show /progress


@dataclass(frozen=True)
class Next:
    """A handoff with the lines to show before what the next flow shows."""

    to: Handoff
    lines: tuple[Line, ...] = ()


@dataclass(frozen=True)
class Step:
    """The engine's answer: the state to store and the actions to perform, in order."""

    state: UserState
    actions: tuple[Action, ...]

    def says(self) -> list[Say]:
        return [a for a in self.actions if isinstance(a, Say)]


def line(key: str, **params: Param) -> Line:
    return Line(key, params)


class Turn:
    def __init__(self, content: Content, screens: Screens, state: UserState, now: datetime) -> None:
        self.content = content
        self.screens = screens
        self.state = state
        self.now = now
        self.actions: list[Action] = []

    # ---- screens and messages -------------------------------------------------------------------
    def show(self, screen: Screen, *lines: Line, kind: MessageKind = "message") -> None:
        """Show a new screen (with its buttons) after some lines. Earlier buttons become stale."""
        # A new (or forgotten) user starts numbering at the clock, so a button drawn before the reset
        # can never match a screen drawn after it.
        self.state.screen_no = self.state.screen_no + 1 if self.state.screen_no else int(self.now.timestamp())
        self.state.screen = screen
        self.actions.append(Say(lines, screen, self.state.screen_no, kind))

    def say(self, *lines: Line, kind: MessageKind = "message") -> None:
        """A message without buttons; the screen on display stays as it is."""
        if lines:
            self.actions.append(Say(lines, kind=kind))

    def reshow(self, *lines: Line) -> None:
        """Some lines, then the current screen again (same number: its buttons stay valid)."""
        screen = self.state.screen
        if screen is None:
            self.say(*lines)
        else:
            self.actions.append(Say(lines, screen, self.state.screen_no))

    def clear_screen(self) -> None:
        self.state.screen = None

    def notice(self, key: str) -> None:
        self.actions.append(Notice(Line(key)))

    def spec(self) -> ScreenSpec | None:
        screen = self.state.screen
        return self.screens.spec(screen) if screen is not None and self.screens.known(screen.id) else None

    # ---- timers and records ---------------------------------------------------------------------
    def schedule(self, name: str, due: datetime, payload: dict[str, Param], *, scalable: bool = False) -> None:
        self.actions.append(ScheduleTimer(name, due, payload, scalable))

    def cancel(self, *names: str) -> None:
        self.actions += [CancelTimer(name) for name in names]

    def end_session(self, outcome: Outcome, level: str | None = None) -> Session | None:
        """Record the session's end (history) and close it, with any side flow. Returns the ended session."""
        session = self.state.session
        if session is not None:
            routine = session.phase.routine if session.phase.kind == "exercise" else None
            self.actions.append(EndSession(outcome, routine, level, session.stretches_done,
                                           session.hold_seconds_done, tuple(session.ratings),
                                           session.score_before))
        self.state.session = None
        self.state.side = None
        return session

    def step(self) -> Step:
        return Step(self.state, tuple(self.actions))
