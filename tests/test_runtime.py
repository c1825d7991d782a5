"""The runtime over a real SQLite file: one transaction per input, retries on conflicts, timers that
survive a restart and fire exactly once, delivery failures, and the scheduler on a fake clock.

Most tests drive a tiny engine of our own (below), so they pin down the runtime's contract and not
the dialog; one test runs the real engine and content.
"""
from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import pytest

from bot.runtime import FakeClock, Runtime, StateConflict, SystemClock, Undeliverable
from bot.storage import SqliteStorage, TimerRow, UserKey, open_storage
from dialogs import model
from dialogs.model import (
    CancelTimer, Command, EndSession, ExportData, ForgetUser, Notice, Say, ScheduleTimer, Step, Text,
    TimerFired, UserState,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ANNA = UserKey("telegram", "101")
BORIS = UserKey("discord", "202")
HOLD_SECONDS = 30


class TinyContent:
    def t(self, key: str, **values: object) -> str:
        return f"{key}:{','.join(f'{k}={v}' for k, v in sorted(values.items()))}"


class TinyEngine:
    """A stand-in with the real engine's shape: 'hold' starts a 30 s timer that says 'release'."""

    def __init__(self) -> None:
        self.content = TinyContent()
        self.events: list[object] = []
        self.broken_timers: set[str] = set()

    def handle(self, state: UserState, event, now: datetime) -> Step:
        self.events.append(event)
        state = state.model_copy(deep=True)
        state.screen += 1
        match event:
            case Text(text="hold"):
                due = now + timedelta(seconds=HOLD_SECONDS)
                return Step(state, (ScheduleTimer("hold", due, {"screen": state.screen}), Say("hold on")))
            case Text(text="quiet"):
                return Step(state, (ScheduleTimer("quiet", now, {}),))
            case Text(text="stop"):
                state.profile.last_triage_level = "D"
                return Step(state, (CancelTimer("hold"), EndSession("stopped", "lower_back", None, 1, 12),
                                    Say("stopped")))
            case Text(text="forget"):
                return Step(state, (ForgetUser(), Say("forgotten")))
            case Text(text="mydata"):
                return Step(state, (ExportData(), Say("here it is")))
            case TimerFired(name=name) if name in self.broken_timers:
                raise RuntimeError(f"engine bug on {name}")
            case TimerFired(name="hold", due=due, payload=payload):
                late = int((now - due).total_seconds())
                return Step(state, (Say(f"release {payload['screen']} late {late}", kind="cue"),))
            case TimerFired():
                return Step(state, ())
            case model.Undeliverable():
                state.profile.unreachable = True
                return Step(state, (Say("nobody will see this"),))
        return Step(state, (Notice("hint"),))


class Inbox:
    """A deliver() hook that records what reached whom."""

    def __init__(self) -> None:
        self.got: list[tuple[UserKey, dict, list]] = []
        self.arrived = asyncio.Event()
        self.refuse: dict[UserKey, Exception] = {}

    async def __call__(self, key: UserKey, address: dict, actions: list) -> None:
        if key in self.refuse:
            raise self.refuse[key]
        self.got.append((key, address, actions))
        self.arrived.set()

    def texts(self, key: UserKey | None = None) -> list[str]:
        return [a.text for k, _, actions in self.got if key in (None, k) for a in actions]


@pytest.fixture
def db_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'runtime.db'}"


@pytest.fixture
async def store(db_url):
    storage = await open_storage(db_url)
    yield storage
    await storage.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def tiny() -> TinyEngine:
    return TinyEngine()


@pytest.fixture
def inbox() -> Inbox:
    return Inbox()


@pytest.fixture
def runtime(tiny, store, clock, inbox) -> Runtime:
    return Runtime(tiny, store, clock=clock, deliver=inbox, owner="test")


async def state_of(storage, key) -> UserState:
    return UserState.from_json((await storage.load(key)).state_json)


# ---- handle ---------------------------------------------------------------------------------------
async def test_handle_saves_state_and_timer_and_returns_what_to_show(runtime, store):
    actions = await runtime.handle(ANNA, Text("hold"), {"chat_id": 5})
    assert actions == [Say("hold on")]
    loaded = await store.load(ANNA)
    assert (loaded.version, loaded.address) == (1, {"chat_id": 5})
    assert (await state_of(store, ANNA)).screen == 1
    assert await store.timers(ANNA) == [TimerRow(ANNA, "hold", T0 + timedelta(seconds=30), {"screen": 1})]
    assert runtime.wake.is_set()  # the scheduler must look at the new timer


async def test_handle_writes_history_profile_and_cancels_in_one_step(runtime, store, clock, db_url):
    await runtime.handle(ANNA, Text("hold"))
    clock.advance(12)
    assert await runtime.handle(ANNA, Text("stop")) == [Say("stopped")]
    assert await store.timers(ANNA) == []
    [row] = await store.history(ANNA)
    assert (row.outcome, row.routine, row.seconds, row.ended_at) == ("stopped", "lower_back", 12, clock.now())
    assert (await store.export_user(ANNA))["profile"]["last_triage_level"] == "D"


async def test_forget_deletes_everything_and_still_answers(runtime, store):
    await runtime.handle(ANNA, Text("hold"), {"chat_id": 5})
    await runtime.handle(ANNA, Text("stop"))
    await runtime.handle(BORIS, Text("hold"))
    actions = await runtime.handle(ANNA, Text("forget"))
    assert [a for a in actions if isinstance(a, Say)] == [Say("forgotten")]
    assert await store.export_user(ANNA) == {"profile": None, "state": None, "timers": [], "history": []}
    assert (await store.load(BORIS)).version == 1


async def test_export_is_passed_on_to_the_adapter(runtime):
    assert await runtime.handle(ANNA, Text("mydata")) == [ExportData(), Say("here it is")]


async def test_an_unreadable_state_starts_fresh_with_a_warning(runtime, store, caplog):
    assert await store.save(ANNA, expected_version=0, state_json='{"schema": 0, "step": "old-style"}',
                            address=None, profile={}, schedule=[], cancel=[], history=[])
    with caplog.at_level(logging.WARNING, logger="stretchbot.runtime"):
        assert await runtime.handle(ANNA, Text("hello")) == [Notice("hint")]
    assert "unreadable state for telegram:101" in caplog.text
    assert (await state_of(store, ANNA)).screen == 1
    assert (await store.load(ANNA)).version == 2


class RacingStorage(SqliteStorage):
    """Another process writes this user's state right after each of our loads (up to `races` times)."""

    races = 1

    async def load(self, key):
        loaded = await super().load(key)
        if self.races > 0:
            self.races -= 1
            assert await self.rival.save(key, expected_version=loaded.version, state_json=UserState(
                screen=100 + loaded.version).to_json(), address=None, profile={}, schedule=[], cancel=[],
                history=[])
        return loaded


@pytest.fixture
async def racing(db_url, store):
    racing = await RacingStorage.open(db_url.removeprefix("sqlite:///"))
    racing.rival = store
    yield racing
    await racing.close()


async def test_a_lost_race_reloads_and_runs_the_engine_again(racing, tiny, clock):
    runtime = Runtime(tiny, racing, clock=clock)
    await runtime.handle(ANNA, Text("hold"))
    assert len(tiny.events) == 2  # the first result was computed from a stale state and thrown away
    state = await state_of(racing, ANNA)
    assert state.screen == 101  # built on the rival's write, not lost under it
    assert (await racing.load(ANNA)).version == 2


async def test_endless_conflicts_give_up_with_a_clear_error(racing, tiny, clock):
    racing.races = 99
    runtime = Runtime(tiny, racing, clock=clock)
    with pytest.raises(StateConflict, match="telegram:101"):
        await runtime.handle(ANNA, Text("hold"))
    assert await racing.timers(ANNA) == []


def test_ui_strings_come_from_the_engine_content(runtime):
    assert runtime.ui("foreign_button") == "foreign_button:"
    assert runtime.ui("hint", options="a, b") == "hint:options=a, b"


# ---- timers ---------------------------------------------------------------------------------------
async def test_fire_due_delivers_each_timer_once(runtime, clock, inbox, store):
    await runtime.handle(ANNA, Text("hold"), {"chat_id": 5})
    await runtime.handle(BORIS, Text("hold"), {"channel": 9})
    assert await runtime.fire_due() == 0  # nothing due yet
    clock.advance(HOLD_SECONDS)
    assert await runtime.fire_due() == 2
    assert sorted(inbox.got, key=repr) == sorted([
        (ANNA, {"chat_id": 5}, [Say("release 1 late 0", kind="cue")]),
        (BORIS, {"channel": 9}, [Say("release 1 late 0", kind="cue")])], key=repr)
    assert await runtime.fire_due() == 0
    assert len(inbox.got) == 2
    assert await store.next_due() is None


async def test_a_timer_with_nothing_to_say_is_not_delivered(runtime, inbox, store):
    await runtime.handle(ANNA, Text("quiet"))
    assert await runtime.fire_due() == 1
    assert inbox.got == []
    assert await store.timers(ANNA) == []


async def test_restart_with_overdue_timers_fires_them_once(db_url, tiny):
    first = await open_storage(db_url)
    await Runtime(tiny, first, clock=FakeClock(T0)).handle(ANNA, Text("hold"), {"chat_id": 5})
    await first.close()  # the process stops before the hold ends

    later = FakeClock(T0 + timedelta(hours=2))
    inbox = Inbox()
    storage = await open_storage(db_url)
    try:
        runtime = Runtime(TinyEngine(), storage, clock=later, deliver=inbox)
        assert await runtime.fire_due() == 1
        assert await runtime.fire_due() == 0
    finally:
        await storage.close()
    late = 2 * 3600 - HOLD_SECONDS  # the engine sees the original due time and can apologise
    assert inbox.got == [(ANNA, {"chat_id": 5}, [Say(f"release 1 late {late}", kind="cue")])]


async def test_one_bad_timer_does_not_stop_the_others(runtime, tiny, clock, inbox, store, caplog):
    tiny.broken_timers.add("hold")
    await runtime.handle(ANNA, Text("hold"))
    tiny.broken_timers.clear()
    await runtime.handle(BORIS, Text("hold"))
    tiny.broken_timers.add("hold")
    clock.advance(HOLD_SECONDS)

    with caplog.at_level(logging.ERROR, logger="stretchbot.runtime"):
        assert await runtime.fire_due() == 0
    assert "timer 'hold' for telegram:101 failed" in caplog.text
    assert len(await store.timers(ANNA)) == 1  # kept: retried when its lease runs out

    tiny.broken_timers.clear()
    clock.advance(60)
    assert await runtime.fire_due() == 2
    assert inbox.texts() == [f"release 1 late {60}"] * 2


async def test_an_unreachable_user_is_logged_and_marked(runtime, clock, inbox, store, caplog):
    inbox.refuse[ANNA] = Undeliverable("bot was blocked by the user")
    inbox.refuse[BORIS] = ConnectionError("network down")
    await runtime.handle(ANNA, Text("hold"))
    await runtime.handle(BORIS, Text("hold"))
    clock.advance(HOLD_SECONDS)
    with caplog.at_level(logging.INFO, logger="stretchbot.runtime"):
        assert await runtime.fire_due() == 2
    assert "cannot reach telegram:101" in caplog.text
    assert "delivering timer 'hold' to discord:202 failed" in caplog.text
    assert (await state_of(store, ANNA)).profile.unreachable
    assert not (await state_of(store, BORIS)).profile.unreachable
    assert await store.timers(ANNA) == [] and await store.timers(BORIS) == []
    assert inbox.got == []


async def test_message_text_is_never_logged_at_info(runtime, clock, caplog):
    with caplog.at_level(logging.INFO, logger="stretchbot.runtime"):
        await runtime.handle(ANNA, Text("hold"))
        clock.advance(HOLD_SECONDS)
        await runtime.fire_due()
        await runtime.handle(ANNA, Text("forget"))
    assert "release" not in caplog.text and "forgotten" not in caplog.text


# ---- scheduler and clocks -------------------------------------------------------------------------
async def until(condition, what: str) -> None:
    """Let the loop (and aiosqlite's thread) run until condition() holds; a guard, not a sleep."""
    async def poll():
        while not condition():
            await asyncio.sleep(0.001)
    try:
        await asyncio.wait_for(poll(), timeout=5)
    except TimeoutError:
        raise AssertionError(f"never happened: {what}") from None


async def test_run_scheduler_fires_timers_as_fake_time_passes(runtime, clock, inbox):
    scheduler = asyncio.create_task(runtime.run_scheduler())
    try:
        await until(lambda: clock.sleepers == 1, "scheduler asleep")
        await runtime.handle(ANNA, Text("hold"), {"chat_id": 5})  # wakes it: a new, earlier timer
        await until(lambda: clock.sleepers == 1 and not runtime.wake.is_set(), "asleep until the hold ends")
        clock.advance(HOLD_SECONDS - 1)
        await until(lambda: clock.sleepers == 1, "still asleep")
        assert inbox.got == []
        clock.advance(1)
        await asyncio.wait_for(inbox.arrived.wait(), timeout=5)
        assert inbox.got == [(ANNA, {"chat_id": 5}, [Say("release 1 late 0", kind="cue")])]

        inbox.arrived.clear()
        await runtime.handle(BORIS, Text("hold"))
        clock.advance(3600)  # far past the due time: fired once, late
        await asyncio.wait_for(inbox.arrived.wait(), timeout=5)
        await until(lambda: clock.sleepers == 1, "idle again")
        assert inbox.texts(BORIS) == [f"release 1 late {3600 - HOLD_SECONDS}"]
    finally:
        scheduler.cancel()
        await asyncio.gather(scheduler, return_exceptions=True)
    assert len(inbox.got) == 2


async def test_fake_clock_wakes_sleepers_only_when_their_time_comes(clock):
    wake = asyncio.Event()
    sleeper = asyncio.create_task(clock.sleep_until(T0 + timedelta(seconds=10), wake))
    await until(lambda: clock.sleepers == 1, "sleeping")
    clock.advance(9)
    await asyncio.sleep(0)
    assert not sleeper.done()
    clock.advance(1)
    await asyncio.wait_for(sleeper, timeout=5)
    assert clock.now() == T0 + timedelta(seconds=10) and clock.sleepers == 0

    woken = asyncio.create_task(clock.sleep_until(T0 + timedelta(days=1), wake))
    await until(lambda: clock.sleepers == 1, "sleeping")
    wake.set()
    await asyncio.wait_for(woken, timeout=5)
    await clock.sleep_until(T0, asyncio.Event())  # the past: returns at once


async def test_system_clock_returns_at_once_when_woken_or_past():
    clock = SystemClock()
    assert clock.now().tzinfo is UTC
    woken = asyncio.Event()
    woken.set()
    await asyncio.wait_for(clock.sleep_until(clock.now() + timedelta(hours=1), woken), timeout=1)
    await asyncio.wait_for(clock.sleep_until(clock.now() - timedelta(seconds=1), asyncio.Event()), timeout=1)
    wake = asyncio.Event()
    sleeper = asyncio.create_task(clock.sleep_until(clock.now() + timedelta(hours=1), wake))
    await asyncio.sleep(0)
    wake.set()
    await asyncio.wait_for(sleeper, timeout=1)


# ---- the real engine ------------------------------------------------------------------------------
async def test_the_real_engine_greets_with_choices(store, clock):
    from dialogs.content import load_content
    from dialogs.engine import Engine

    runtime = Runtime(Engine(load_content()), store, clock=clock)
    actions = await runtime.handle(ANNA, Command("start"), {"chat_id": 5})
    [greeting] = [a for a in actions if isinstance(a, Say)]
    assert greeting.choices and greeting.screen is not None
    assert (await state_of(store, ANNA)).screen == greeting.screen
    assert runtime.ui("foreign_button")


async def test_each_process_fires_only_its_own_platforms_timers(tiny, store, clock):
    """A Telegram process cannot deliver to a Discord user: on one database they must not take each other's timers."""
    telegram_inbox, discord_inbox = Inbox(), Inbox()
    telegram = Runtime(tiny, store, clock=clock, deliver=telegram_inbox, owner="tg", platforms=("telegram",))
    discord = Runtime(tiny, store, clock=clock, deliver=discord_inbox, owner="dc", platforms=("discord",))
    await telegram.handle(ANNA, Text("hold"), {"chat_id": 5})
    await discord.handle(BORIS, Text("hold"), {"channel": 9})
    clock.advance(HOLD_SECONDS)

    assert await telegram.fire_due() == 1
    assert [key for key, _, _ in telegram_inbox.got] == [ANNA]
    assert await discord.fire_due() == 1
    assert [key for key, _, _ in discord_inbox.got] == [BORIS]


async def test_a_batch_of_due_timers_costs_one_load_query_and_one_commit(tiny, store, clock):
    """Fan-out must not cost a transaction (a disk flush) or a load query per user."""
    inbox = Inbox()
    runtime = Runtime(tiny, store, clock=clock, deliver=inbox)
    users = [UserKey("telegram", str(n)) for n in range(300)]
    for key in users:
        await runtime.handle(key, Text("hold"), {"chat_id": int(key.user_id)})
    clock.advance(HOLD_SECONDS)
    statements: list[str] = []
    await store._db.set_trace_callback(statements.append)
    try:
        assert await runtime.fire_due() == 300
    finally:
        await store._db.set_trace_callback(None)
    assert sum(s.startswith("COMMIT") for s in statements) == 2  # the claim, then every user's save
    assert sum(s.startswith("SELECT") and "FROM users" in s for s in statements) == 1
    assert sorted(key.user_id for key, _, _ in inbox.got) == sorted(key.user_id for key in users)
    assert await store.next_due() is None
