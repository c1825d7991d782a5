"""Shared test helpers: the shipped content, an engine, and a script-style chat over the pure engine."""
from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest

from dialogs.content import Content, load_content
from dialogs.engine import HOLD_TIMER, Engine
from dialogs.model import (
    Button, CancelTimer, Command, EndSession, Event, Say, ScheduleTimer, Step, Text, TimerFired, UserState,
)

# Local fake servers must never be reached through a proxy.
os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
os.environ.setdefault("no_proxy", "127.0.0.1,localhost")

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def content() -> Content:
    return load_content()


@pytest.fixture
def engine(content: Content) -> Engine:
    return Engine(content)


class Chat:
    """Drives the pure engine like a runtime would, with a fake clock and an in-memory timer table.

    Script-style: `chat.say("/start")`, `chat.press("Start stretching")`, `chat.wait(15)`; each returns
    the Step(s) so tests can assert on what the bot answered.
    """

    def __init__(self, engine: Engine, now: datetime = T0, state: UserState | None = None) -> None:
        self.engine = engine
        self.now = now
        self.state = state or UserState()
        self.timers: dict[str, tuple[datetime, dict]] = {}
        self.ended: list[EndSession] = []
        self.steps: list[Step] = []

    def send(self, event: Event) -> Step:
        step = self.engine.handle(self.state, event, self.now)
        self.state = step.state
        for action in step.actions:
            if isinstance(action, ScheduleTimer):
                self.timers[action.name] = (action.due, action.payload)
            elif isinstance(action, CancelTimer):
                self.timers.pop(action.name, None)
            elif isinstance(action, EndSession):
                self.ended.append(action)
        self.steps.append(step)
        return step

    def say(self, text: str) -> Step:
        if text.startswith("/"):
            return self.send(Command(text[1:]))
        return self.send(Text(text))

    def press(self, choice: str) -> Step:
        """Press the current screen's button with this id or label."""
        for choice_id, label in self.state.choices:
            if choice in (choice_id, label):
                return self.send(Button(choice_id, self.state.screen))
        raise AssertionError(f"no choice {choice!r} on screen: {self.state.choices}")

    def wait(self, seconds: float) -> list[Step]:
        """Let time pass; fire every timer that comes due, in due order (as the scheduler would)."""
        end = self.now + timedelta(seconds=seconds)
        fired = []
        while True:
            due = sorted((d, n) for n, (d, _) in self.timers.items() if d <= end)
            if not due:
                break
            when, name = due[0]
            self.now = max(self.now, when)
            _, payload = self.timers.pop(name)
            fired.append(self.send(TimerFired(name, when, payload)))
        self.now = end
        return fired

    def finish_hold(self) -> list[Step]:
        """Wait until the running hold releases."""
        steps = []
        while HOLD_TIMER in self.timers:
            steps += self.wait((self.timers[HOLD_TIMER][0] - self.now).total_seconds())
        return steps

    def choice_ids(self) -> list[str]:
        return [c for c, _ in self.state.choices]

    def triage_all_no(self) -> Step:
        """Answer every triage question with the safe answer."""
        step = self.steps[-1]
        while self.state.session and self.state.session.phase == "triage":
            step = self.press("low" if "low" in self.choice_ids() else "no")
        return step


def said(step: Step | list[Step]) -> str:
    steps = step if isinstance(step, list) else [step]
    return "\n".join(s.text() for s in steps)


def says(step: Step) -> list[Say]:
    return step.says()


@pytest.fixture
def chat(engine: Engine) -> Chat:
    return Chat(engine)
