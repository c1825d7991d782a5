"""Shared test helpers: the shipped content, an engine, and a script-style chat over the pure engine."""

from __future__ import annotations

import logging
import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from storage_backends import backend, store  # noqa: F401  (fixtures: a test using them runs on SQLite and PostgreSQL)

from dialogs.content import DEFAULT_CONTENT_DIR, FILES, Content, load_content
from dialogs.engine import Engine
from dialogs.events import Button, CancelTimer, Command, EndSession, Event, Say, ScheduleTimer, Text, TimerFired
from dialogs.flows.timers import HOLD_TIMER
from dialogs.render import Renderer
from dialogs.state import Param, UserState
from dialogs.turn import Step
from dialogs.views import MessageView

# Local fake servers must never be reached through a proxy.
os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
os.environ.setdefault("no_proxy", "127.0.0.1,localhost")

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="session", autouse=True)
def picture_cache(tmp_path_factory: pytest.TempPathFactory):
    """Stretch pictures are drawn once per test run into a temporary cache (XDG_CACHE_HOME), shared by
    every test that sends them, and never into the real ~/.cache."""
    with pytest.MonkeyPatch.context() as patch:
        cache = tmp_path_factory.mktemp("cache")
        patch.setenv("XDG_CACHE_HOME", str(cache))
        yield cache


@pytest.fixture(autouse=True)
def restore_root_logger():
    """A test that runs the CLI in-process installs stretchbot's log handler on the stream pytest captured for
    it, which is closed once the test ends: put the root logger back, or later records (an aiosqlite thread's)
    hit the closed stream and print "--- Logging error ---" into the run."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture(scope="session")
def content() -> Content:
    return load_content()


@pytest.fixture
def engine(content: Content) -> Engine:
    return Engine(content)


@pytest.fixture
def content_dir(tmp_path: Path) -> Path:
    """A copy of the shipped content folder, for tests that break one file (never the real folder)."""
    directory = tmp_path / "content"
    directory.mkdir()
    for name in FILES:
        shutil.copy(DEFAULT_CONTENT_DIR / name, directory / name)
    load_content(directory)  # the untouched copy is valid
    return directory


class Chat:
    """Drives the pure engine like a runtime would, with a fake clock and an in-memory timer table.

    Script-style: `chat.say("/start")`, `chat.press("Start stretching")`, `chat.wait(15)`; each returns
    the Step(s) so tests can assert on what the bot answered, rendered by the real renderer.
    """

    def __init__(self, engine: Engine, now: datetime = T0, state: UserState | None = None) -> None:
        self.engine = engine
        self.renderer = Renderer(engine.content, engine.screens)
        self.now = now
        self.state = state or UserState()
        self.timers: dict[str, tuple[datetime, dict[str, Param]]] = {}
        self.ended: list[EndSession] = []
        self.steps: list[Step] = []

    def send(self, event: Event) -> Step:
        step = self.engine.handle(self.state, event, self.now)
        self.state = step.state
        for action in step.actions:
            if isinstance(action, ScheduleTimer):
                self.timers[action.name] = (action.due, dict(action.payload))
            elif isinstance(action, CancelTimer):
                self.timers.pop(action.name, None)
            elif isinstance(action, EndSession):
                self.ended.append(action)
        self.steps.append(step)
        return step

    def say(self, text: str) -> Step:
        if text.startswith("/"):
            name, _, argument = text[1:].partition(" ")
            return self.send(Command(name, argument))
        return self.send(Text(text))

    def press(self, choice: str) -> Step:
        """Press the current screen's button with this id or label."""
        for button in self.buttons():
            if choice in (button.choice, button.label):
                return self.send(Button(button.choice, self.state.screen_no))
        raise AssertionError(f"no choice {choice!r} on screen {self.screen_id()}: {self.choice_ids()}")

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

    # ---- what is on screen ------------------------------------------------------------------------
    def view(self) -> MessageView | None:
        """The screen on display, rendered."""
        if self.state.screen is None:
            return None
        return self.renderer.render(Say(screen=self.state.screen, number=self.state.screen_no))

    def buttons(self) -> list:
        view = self.view()
        return list(view.buttons) if view else []

    def choice_ids(self) -> list[str]:
        return [button.choice for button in self.buttons()]

    def screen_id(self) -> str | None:
        return self.state.screen.id if self.state.screen else None

    @property
    def prompt(self) -> str:
        view = self.view()
        return view.text if view else ""

    def phase(self) -> str | None:
        session = self.state.session
        if session is None:
            return None
        phase = session.phase
        return phase.stage if phase.kind in ("screening", "exercise") else phase.kind  # type: ignore[union-attr]

    # ---- shortcuts ----------------------------------------------------------------------------------
    def screen_safely(self) -> Step:
        """Answer the safety screen with the answers that flag nothing."""
        step = self.steps[-1]
        while self.screen_id() in ("screening.group", "screening.item", "screening.score", "screening.kneeling",
                                   "screening.quick", "screening.after_pain"):
            ids = self.choice_ids()
            step = self.press("low" if "low" in ids else ("better" if "better" in ids else "no"))
        return step

    def said(self, step: Step | list[Step]) -> str:
        return said(step, self.renderer)


def said(step: Step | list[Step], renderer: Renderer | None = None) -> str:
    """Everything said in these steps, rendered (messages, notices), joined by newlines."""
    steps = step if isinstance(step, list) else [step]
    if renderer is None:
        renderer = _RENDERER
    out = []
    for one in steps:
        for action in one.actions:
            if isinstance(action, Say):
                out.append(renderer.render(action).text)
            elif hasattr(action, "line"):
                out.append(renderer.notice(action).text)  # type: ignore[arg-type]
    return "\n".join(out)


_RENDERER = Renderer(load_content())


@pytest.fixture
def chat(engine: Engine) -> Chat:
    return Chat(engine)
