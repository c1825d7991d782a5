"""A world for the runtime's tests: a tiny engine of our own (so the tests pin down the runtime, not the
dialog), a renderer that shows keys, a real SQLite file, the FakeClock, and ways to read back what the
runtime queued in the outbox. Fixtures are imported by the test modules (test_runtime*.py)."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from bot.runtime import FakeClock, Runtime
from bot.storage import SqliteStorage, UserKey, open_storage
from dialogs import events
from dialogs.events import (
    Button,
    CancelTimer,
    Command,
    EndSession,
    ExportData,
    ForgetUser,
    Line,
    Notice,
    Say,
    ScheduleTimer,
    ShowProgress,
    Text,
    TimerFired,
)
from dialogs.state import UserState
from dialogs.turn import Step
from dialogs.views import MessageView, TextPart

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ANNA = UserKey("telegram", "101")
BORIS = UserKey("discord", "202")
HOLD_SECONDS = 30


def say(text: str, kind: str = "message") -> Say:
    return Say((Line(text),), kind=kind)  # type: ignore[arg-type]  # tests pass the kinds as plain strings


class TinyRenderer:
    """Renders a line as its key: these tests pin down the runtime, not the wording."""

    def notice(self, notice: Notice) -> MessageView:
        return MessageView("notice", (TextPart(notice.line.key),))

    def text(self, key: str, values: dict | None = None) -> str:
        return f"{key}:{','.join(f'{k}={v}' for k, v in sorted((values or {}).items()))}"


class TinyEngine:
    """A stand-in with the real engine's shape: 'hold' starts a 30 s timer that says 'release'."""

    def __init__(self) -> None:
        self.events: list[object] = []
        self.broken_timers: set[str] = set()

    def advance(self, state: UserState, event, now: datetime) -> Step:
        self.events.append(event)
        if event == Command("help"):  # answers, changes nothing: a stranger stays a stranger
            return Step(state, (say("help text"),))
        state = state.model_copy(deep=True)
        state.screen_no += 1
        match event:
            case Text(text="hold"):
                due = now + timedelta(seconds=HOLD_SECONDS)
                return Step(state, (ScheduleTimer("hold", due, {"screen": state.screen_no}), say("hold on")))
            case Text(text="scaled"):
                due = now + timedelta(seconds=HOLD_SECONDS)
                return Step(
                    state,
                    (
                        ScheduleTimer("hold", due, {"screen": state.screen_no}, scalable=True),
                        ScheduleTimer("daily", due, {}),
                        say("scaled"),
                    ),
                )
            case Text(text="daily"):
                return Step(state, (ScheduleTimer("daily", now + timedelta(seconds=HOLD_SECONDS), {}),))
            case Text(text="quiet"):
                return Step(state, (ScheduleTimer("quiet", now, {}),))
            case Text(text="many"):  # every kind of outgoing action, in an order the outbox must keep
                return Step(
                    state,
                    (
                        say("one"),
                        say("see a doctor", kind="referral"),
                        Notice(Line("noted", {"n": 3})),
                        say("two", kind="reminder"),
                        ShowProgress(weekly=True),
                    ),
                )
            case Text(text="stop"):
                state.profile.last_outcome = "clear"
                return Step(
                    state,
                    (
                        CancelTimer("hold"),
                        say("stopped"),
                        EndSession("stopped", "lower_back", None, 1, 12, (("knee_hug", "good"),)),
                    ),
                )
            case Text(text="forget"):
                return Step(state, (ForgetUser(), say("forgotten")))
            case Text(text="mydata"):  # the real engine's order: its words, then what is stored
                return Step(state, (say("here it is"), ExportData()))
            case Button(choice="stale"):
                return Step(state, (Notice(Line("stale")),))
            case Button(choice="go"):
                return Step(state, (Notice(Line("saved")), say("next")))
            case TimerFired(name=name) if name in self.broken_timers:
                raise RuntimeError(f"engine bug on {name}")
            case TimerFired(name="hold", due=due, payload=payload):
                late = int((now - due).total_seconds())
                return Step(state, (say(f"release {payload['screen']} late {late}", kind="cue"),))
            case TimerFired(name="daily"):
                return Step(state, (say("time to stretch", kind="reminder"),))
            case TimerFired():
                return Step(state, ())
            case events.Undeliverable():  # like the real engine: pause, and say nothing nobody would see
                state.profile.unreachable = True
                return Step(state, (CancelTimer("hold"),))
        return Step(state, (Notice(Line("hint")),))


class Bell:
    """The runtime's notify(): counts the rings (the sender's doorbell after a commit with messages)."""

    def __init__(self) -> None:
        self.rings = 0
        self.event = asyncio.Event()

    def __call__(self) -> None:
        self.rings += 1
        self.event.set()


class FailingStorage(SqliteStorage):
    """Real SQLite whose write transactions fail at the first statement containing `fail_at` (a disk error
    midway): the transaction must roll back whole, so nothing it wrote before that survives."""

    fail_at: str | None = None

    async def _transaction(self, work, *, write: bool = True):
        trigger = self.fail_at
        if not write or trigger is None:
            return await super()._transaction(work, write=write)

        async def failing(tx):
            return await work(_Failing(tx, trigger))

        return await super()._transaction(failing, write=write)


class _Failing:
    def __init__(self, tx, trigger: str) -> None:
        self.tx, self.trigger = tx, trigger

    def _check(self, sql: str) -> None:
        if self.trigger in sql:
            raise sqlite3.OperationalError(f"disk I/O error (test) at: {sql[:40]}")

    async def execute(self, sql, params=()):
        self._check(sql)
        return await self.tx.execute(sql, params)

    async def execute_many(self, sql, rows):
        if rows:
            self._check(sql)
        return await self.tx.execute_many(sql, rows)

    async def fetch(self, sql, params=()):
        self._check(sql)
        return await self.tx.fetch(sql, params)


def what(body: dict) -> tuple[str, str]:
    """An outbox body as (kind, what it says): the line keys of a Say, a notice's key, or what is attached."""
    if "say" in body:
        return body["kind"], " ".join(line["key"] for line in body["say"]["lines"])
    if "notice" in body:
        return body["kind"], body["notice"]["key"]
    if body.get("export"):
        return body["kind"], "<export>"
    return body["kind"], "<weekly progress>" if body["progress"]["weekly"] else "<progress>"


async def queued(storage, chat: str) -> list[tuple[str, str]]:
    """What is waiting in a chat's outbox queue, in sending order."""
    return [what(row.body) for row in await storage.pending(chat)]


async def state_of(storage, key) -> UserState:
    return UserState.from_json((await storage.load(key)).state_json)


def make(engine, storage, clock, **options) -> Runtime:
    return Runtime(engine, storage, clock=clock, renderer=TinyRenderer(), **options)


@pytest.fixture
def db_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'runtime.db'}"


@pytest.fixture
async def store(db_url):
    """SQLite only (not conftest's two backends): some tests count SQLite's statements or subclass it."""
    storage = await open_storage(db_url)
    yield storage
    await storage.close()


@pytest.fixture
async def failing(db_url, store):
    """A second connection to the same file that can be made to fail (`store` reads what it committed)."""
    storage = await FailingStorage.open(db_url.removeprefix("sqlite:///"))
    yield storage
    await storage.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def tiny() -> TinyEngine:
    return TinyEngine()


@pytest.fixture
def bell() -> Bell:
    return Bell()


@pytest.fixture
def runtime(tiny, store, clock, bell) -> Runtime:
    return make(tiny, store, clock, owner="test", notify=bell)
