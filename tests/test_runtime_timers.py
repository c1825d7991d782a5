"""The runtime's timers over a real SQLite file: fire_due queues what each timer says in the transaction
that consumes the timer (exactly once, also across a restart), one bad timer or a failed commit loses
nothing, a batch costs one load and one commit, each process fires only its own platforms' and users'
timers, and the scheduler on a fake clock. The tiny engine is tests/runtime_world.py's.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, timedelta

import runtime_world
from runtime_world import ANNA, BORIS, HOLD_SECONDS, T0, TinyEngine, make, queued

from bot.runtime import FakeClock, SystemClock
from bot.storage import UserKey, open_storage
from dialogs.events import Text

# the world's fixtures (assignments, so a test's arguments do not redefine imports)
bell = runtime_world.bell
clock = runtime_world.clock
db_url = runtime_world.db_url
failing = runtime_world.failing
runtime = runtime_world.runtime
store = runtime_world.store
tiny = runtime_world.tiny


async def test_fire_due_queues_each_timer_s_message_once(runtime, clock, store, bell):
    await runtime.handle(ANNA, Text("hold"), {"chat_id": 5})
    await runtime.handle(BORIS, Text("hold"), {"channel": 9})
    assert await runtime.fire_due() == 0  # nothing due yet
    clock.advance(HOLD_SECONDS)
    assert await runtime.fire_due() == 2
    assert await queued(store, "telegram:5") == [("message", "hold on"), ("cue", "release 1 late 0")]
    assert await queued(store, "discord:202") == [("message", "hold on"), ("cue", "release 1 late 0")]
    cue = (await store.pending("telegram:5"))[-1].body
    assert (cue["address"], cue["reply"], cue["first"], cue["safety"]) == ({"chat_id": 5}, None, True, False)
    assert bell.rings == 3  # two answers, then one ring for the batch
    assert await runtime.fire_due() == 0
    assert len(await store.pending("telegram:5")) == 2 and len(await store.pending("discord:202")) == 2
    assert await store.next_due() is None


async def test_a_timer_with_nothing_to_say_queues_nothing(runtime, store, bell):
    assert (await runtime.handle(ANNA, Text("quiet"))).queued == 0
    assert await runtime.fire_due() == 1
    assert await store.pending("telegram:101") == []
    assert await store.timers(ANNA) == []
    assert (await store.load(ANNA)).version == 2  # its step was still saved
    assert bell.rings == 0


async def test_two_timers_of_one_user_in_a_batch_fire_once_each(runtime, clock, store):
    await runtime.handle(ANNA, Text("scaled"))  # "hold" and "daily", both due in 30 s
    await runtime.handle(BORIS, Text("hold"))
    clock.advance(HOLD_SECONDS)
    assert await runtime.fire_due() == 3
    assert await queued(store, "telegram:101") == [
        ("message", "scaled"),
        ("reminder", "time to stretch"),
        ("cue", "release 1 late 0"),
    ]
    assert await store.timers(ANNA) == [] and await store.timers(BORIS) == []
    assert (await store.load(ANNA)).version == 3
    assert await runtime.fire_due() == 0


async def test_restart_with_overdue_timers_fires_them_once(db_url, tiny):
    first = await open_storage(db_url)
    await make(tiny, first, FakeClock(T0)).handle(ANNA, Text("hold"), {"chat_id": 5})
    await first.close()  # the process stops before the hold ends

    storage = await open_storage(db_url)
    try:
        runtime = make(TinyEngine(), storage, FakeClock(T0 + timedelta(hours=2)))
        assert await runtime.fire_due() == 1
        assert await runtime.fire_due() == 0
        late = 2 * 3600 - HOLD_SECONDS  # the engine sees the original due time and can apologise
        assert await queued(storage, "telegram:5") == [("message", "hold on"), ("cue", f"release 1 late {late}")]
    finally:
        await storage.close()


async def test_one_bad_timer_does_not_stop_the_others(runtime, tiny, clock, store, caplog):
    await runtime.handle(ANNA, Text("hold"))
    await runtime.handle(BORIS, Text("daily"))
    carol = UserKey("telegram", "303")
    await runtime.handle(carol, Text("scaled"))  # "daily" and "hold": one by one, one user per step
    tiny.broken_timers.add("hold")
    clock.advance(HOLD_SECONDS)

    with caplog.at_level(logging.ERROR, logger="stretchbot.runtime"):
        assert await runtime.fire_due() == 2  # Boris's and Carol's "daily", in the batch and one by one
    assert "timer 'hold' for telegram:101 failed" in caplog.text
    assert "timer 'hold' for telegram:303 failed" in caplog.text
    assert len(await store.timers(ANNA)) == 1  # kept: retried when its lease runs out
    assert await queued(store, "telegram:101") == [("message", "hold on")]
    assert await queued(store, "discord:202") == [("reminder", "time to stretch")]
    assert await queued(store, "telegram:303") == [("message", "scaled"), ("reminder", "time to stretch")]

    tiny.broken_timers.clear()
    assert await runtime.fire_due() == 0  # still claimed
    clock.advance(60)
    assert await runtime.fire_due() == 2
    assert await queued(store, "telegram:101") == [("message", "hold on"), ("cue", "release 1 late 60")]
    assert await queued(store, "telegram:303") == [
        ("message", "scaled"),
        ("reminder", "time to stretch"),
        ("cue", "release 1 late 60"),
    ]
    assert await store.next_due() is None


async def test_a_batch_whose_commit_fails_queues_nothing_and_is_retried(tiny, failing, store, clock, caplog):
    runtime = make(tiny, failing, clock)
    await runtime.handle(ANNA, Text("hold"), {"chat_id": 5})
    await runtime.handle(BORIS, Text("hold"))
    clock.advance(HOLD_SECONDS)
    failing.fail_at = "INSERT INTO outbox ("  # after the states and timers of the batch were written
    with caplog.at_level(logging.ERROR, logger="stretchbot.runtime"):
        assert await runtime.fire_due() == 0
    assert "saving a batch of 2 fired timers failed" in caplog.text
    assert (await store.load(ANNA)).version == 1 and (await store.load(BORIS)).version == 1
    assert len(await store.timers(ANNA)) == 1 and len(await store.timers(BORIS)) == 1
    assert await queued(store, "telegram:5") == [("message", "hold on")]

    failing.fail_at = None
    clock.advance(60)  # the claim's lease runs out
    assert await runtime.fire_due() == 2
    assert await queued(store, "telegram:5") == [("message", "hold on"), ("cue", "release 1 late 60")]
    assert await queued(store, "discord:202") == [("message", "hold on"), ("cue", "release 1 late 60")]


async def test_a_batch_of_due_timers_costs_one_load_query_and_one_commit(tiny, store, clock):
    """Fan-out must not cost a transaction (a disk flush) or a load query per user."""
    runtime = make(tiny, store, clock)
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
    assert (await store.outbox_stats()).depth == 600  # each user's "hold on" and cue
    for n in (0, 150, 299):
        assert await queued(store, f"telegram:{n}") == [("message", "hold on"), ("cue", "release 1 late 0")]
    assert await store.next_due() is None


async def test_each_process_fires_only_its_own_platforms_timers(tiny, store, clock):
    """A Telegram process cannot deliver to a Discord user: on one database they must not take each other's timers."""
    telegram = make(tiny, store, clock, owner="tg", platforms=("telegram",))
    discord = make(tiny, store, clock, owner="dc", platforms=("discord",))
    await telegram.handle(ANNA, Text("hold"), {"chat_id": 5})
    await discord.handle(BORIS, Text("hold"), {"channel": 9})
    clock.advance(HOLD_SECONDS)

    assert await telegram.fire_due() == 1
    assert await queued(store, "telegram:5") == [("message", "hold on"), ("cue", "release 1 late 0")]
    assert await queued(store, "discord:202") == [("message", "hold on")]
    assert await discord.fire_due() == 1
    assert await queued(store, "discord:202") == [("message", "hold on"), ("cue", "release 1 late 0")]


async def test_a_console_fires_only_its_own_user_s_timers(tiny, store, clock):
    """Two terminals on one database: each fires its own user's cues, never the other terminal's."""
    alice, bob = UserKey("console", "alice"), UserKey("console", "bob")
    alices = make(tiny, store, clock, owner="a", platforms=("console",), users=("alice",))
    bobs = make(tiny, store, clock, owner="b", platforms=("console",), users=("bob",))
    await alices.handle(alice, Text("hold"))
    clock.advance(10)
    await bobs.handle(bob, Text("hold"))
    assert await alices.storage.next_due(alices.platforms, alices.users) == T0 + timedelta(seconds=HOLD_SECONDS)
    assert await bobs.storage.next_due(bobs.platforms, bobs.users) == T0 + timedelta(seconds=HOLD_SECONDS + 10)
    clock.advance(HOLD_SECONDS)

    assert await alices.fire_due() == 1
    assert await queued(store, "console:alice") == [("message", "hold on"), ("cue", "release 1 late 10")]
    assert await queued(store, "console:bob") == [("message", "hold on")]
    assert len(await store.timers(bob)) == 1
    assert await bobs.fire_due() == 1
    assert await queued(store, "console:bob") == [("message", "hold on"), ("cue", "release 1 late 0")]


# ---- scheduler and clocks -------------------------------------------------------------------------
async def until(condition, what: str) -> None:
    """Let the loop (and aiosqlite's thread) run until condition() holds; a guard, not a sleep."""

    async def poll():
        while not condition():
            await asyncio.sleep(0)

    try:
        await asyncio.wait_for(poll(), timeout=5)
    except TimeoutError:
        raise AssertionError(f"never happened: {what}") from None


async def test_run_scheduler_fires_timers_as_fake_time_passes(runtime, clock, store, bell):
    scheduler = asyncio.create_task(runtime.run_scheduler())
    try:
        await until(lambda: clock.sleepers == 1, "scheduler asleep")
        await runtime.handle(ANNA, Text("hold"), {"chat_id": 5})  # wakes it: a new, earlier timer
        await until(lambda: clock.sleepers == 1 and not runtime.wake.is_set(), "asleep until the hold ends")
        bell.event.clear()
        clock.advance(HOLD_SECONDS - 1)
        await until(lambda: clock.sleepers == 1, "still asleep")
        assert not bell.event.is_set()
        assert await queued(store, "telegram:5") == [("message", "hold on")]
        clock.advance(1)
        await asyncio.wait_for(bell.event.wait(), timeout=5)
        assert await queued(store, "telegram:5") == [("message", "hold on"), ("cue", "release 1 late 0")]

        await runtime.handle(BORIS, Text("hold"))
        await until(lambda: clock.sleepers == 1 and not runtime.wake.is_set(), "asleep until Boris's hold ends")
        bell.event.clear()
        clock.advance(3600)  # far past the due time: fired once, late
        await asyncio.wait_for(bell.event.wait(), timeout=5)
        await until(lambda: clock.sleepers == 1, "idle again")
        assert await queued(store, "discord:202") == [
            ("message", "hold on"),
            ("cue", f"release 1 late {3600 - HOLD_SECONDS}"),
        ]
    finally:
        scheduler.cancel()
        await asyncio.gather(scheduler, return_exceptions=True)
    assert bell.rings == 4
    assert await store.next_due() is None


class WatchedClock(SystemClock):
    """The real clock, telling the test when the scheduler has gone to sleep."""

    def __init__(self) -> None:
        self.asleep = asyncio.Event()

    async def sleep_until(self, when, wake):
        self.asleep.set()
        await super().sleep_until(when, wake)


async def test_a_stop_that_comes_as_a_new_timer_wakes_the_scheduler_still_stops_it(tiny, store):
    """Python 3.11's asyncio.wait_for swallows a cancellation that arrives just as the awaited event is
    set; the console then hung on exit after a Ready. The scheduler must end however the two coincide."""
    clock = WatchedClock()
    runtime = make(tiny, store, clock)
    scheduler = asyncio.create_task(runtime.run_scheduler())
    await asyncio.wait_for(clock.asleep.wait(), 5)
    await asyncio.sleep(0)  # into the wait itself
    runtime.wake.set()  # a new timer...
    scheduler.cancel()  # ...and a stop, in the same instant
    done, _ = await asyncio.wait({scheduler}, timeout=5)
    assert done, "the scheduler ignored its cancellation"


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
