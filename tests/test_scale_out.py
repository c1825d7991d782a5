"""Scale-out on PostgreSQL: two bot processes on one database.

Each "process" is a Runtime with its own PgStorage (its own connection pool) and owner name, the
real engine and content, and one shared FakeClock. Users are returning users (their full triage,
run once on the pure engine, is a day old) who get into a hold through real steps in the runtime:
/stretch, "nothing new", the routine, "ready". The hold cues their timers produce are what the
tests count.
"""
from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

import pytest

from bot import runtime as runtime_module
from bot.runtime import CLAIM_LEASE, FakeClock, Runtime
from bot.storage import TimerRow, UserKey
from bot.storage_pg import PgStorage
from conftest import T0, Chat
from dialogs.engine import HOLD_TIMER
from dialogs.model import Button, Command, Say, Text, UserState
from storage_backends import pg_url  # noqa: F401  (fixture)

REAL_USERS = 200  # brought into a hold through the engine, step by step
CLONED_USERS = 1000  # stored as the engine leaves a user mid-hold, to have many due timers at once
ROUTINE = "lower5"


class Inbox:
    """deliver() for both processes: every message that reached a user, and through which process."""

    def __init__(self) -> None:
        self.got: list[tuple[str, UserKey, str]] = []

    def for_process(self, owner: str):
        async def deliver(key: UserKey, address: dict, actions: list) -> None:
            assert address == {"chat_id": key.user_id}
            self.got += [(owner, key, action.text) for action in actions if isinstance(action, Say)]
        return deliver

    def cues(self, cue_text: str) -> Counter:
        """How often each user got a message ending with this cue (a late one starts with an apology)."""
        return Counter(key for _, key, text in self.got if text.endswith(cue_text))


@pytest.fixture
async def stores(pg_url):  # noqa: F811
    first, second = await PgStorage.open(pg_url), await PgStorage.open(pg_url)
    yield first, second
    await asyncio.gather(first.close(), second.close())


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def inbox() -> Inbox:
    return Inbox()


@pytest.fixture
def runtimes(engine, stores, clock, inbox) -> tuple[Runtime, Runtime]:
    return tuple(Runtime(engine, storage, clock=clock, deliver=inbox.for_process(owner), owner=owner)
                 for storage, owner in zip(stores, ("a", "b")))


def user(number: int) -> UserKey:
    return UserKey("telegram", str(number))


def last_screen(actions: list) -> Say:
    return [a for a in actions if isinstance(a, Say) and a.choices][-1]


def returning_user(engine) -> UserState:
    """The state the engine leaves after a full, clear triage and a session stopped yesterday."""
    chat = Chat(engine, now=T0 - timedelta(days=1))
    chat.say("/stretch")
    chat.triage_all_no()
    chat.say("/stop")
    assert chat.state.session is None and chat.state.profile.last_triage_level == "D"
    return chat.state


async def seed(storage, keys, state: UserState, timers=()) -> None:
    """Store users as the runtime would: one save each, with the timers the engine scheduled."""
    await gather_limited(storage.save(
        key, expected_version=0, state_json=state.to_json(), address={"chat_id": key.user_id}, profile={},
        schedule=[TimerRow(key, name, due, payload) for name, (due, payload) in timers], cancel=[], history=[])
        for key in keys)


async def start_hold(runtime: Runtime, key: UserKey) -> None:
    """/stretch, answer the quick check (or any triage question) safely, pick the routine, "ready"."""
    actions = await runtime.handle(key, Command("stretch"), {"chat_id": key.user_id})
    while True:
        screen = last_screen(actions)
        ids = [choice.id for choice in screen.choices]
        choice = next(c for c in ("ready", ROUTINE, "low", "no") if c in ids)
        actions = await runtime.handle(key, Button(choice, screen.screen))
        if choice == "ready":
            assert any(isinstance(a, Say) and a.kind == "cue" for a in actions)  # the hold started
            return


def pure_hold(engine) -> Chat:
    """The same steps on the pure engine: what storage must hold for a user mid-hold."""
    chat = Chat(engine, state=returning_user(engine))
    chat.say("/stretch")
    chat.press("no")  # nothing new since the last triage
    chat.press(ROUTINE)
    chat.press("ready")
    return chat


async def gather_limited(coroutines, limit: int = 40) -> list:
    gate = asyncio.Semaphore(limit)

    async def one(coroutine):
        async with gate:
            return await coroutine
    return await asyncio.gather(*(one(c) for c in coroutines))


async def stored_states(storage: PgStorage) -> dict[UserKey, UserState]:
    rows = await storage.pool.fetch("SELECT platform, user_id, state FROM users")
    return {UserKey(r["platform"], r["user_id"]): UserState.from_json(r["state"]) for r in rows}


async def test_two_processes_fire_each_cue_exactly_once_even_when_one_dies(
        runtimes, stores, clock, inbox, engine, monkeypatch):
    a, b = runtimes
    monkeypatch.setattr(runtime_module, "CLAIM_BATCH", 100)  # several batches each: claims interleave
    # 200 users reach a hold through real steps in the runtime, half through each process
    await seed(a.storage, [user(n) for n in range(REAL_USERS)], returning_user(engine))
    await gather_limited(start_hold(runtimes[n % 2], user(n)) for n in range(REAL_USERS))
    # 1,000 more are stored exactly as the engine leaves a user mid-hold, with its hold timer
    model = pure_hold(engine)
    await seed(b.storage, [user(n) for n in range(REAL_USERS, REAL_USERS + CLONED_USERS)], model.state,
               model.timers.items())
    everyone = {user(n) for n in range(REAL_USERS + CLONED_USERS)}
    [(due, _)] = model.timers.values()
    assert await a.storage.next_due() == due == T0 + timedelta(seconds=12.5)
    halfway, release = engine.content.t("halfway"), engine.content.t("release")

    # ---- both processes fire the 1,200 halfway cues at once
    clock.advance((due - T0).total_seconds())
    fired = await asyncio.gather(a.fire_due(), b.fire_due())
    assert sum(fired) == len(everyone) and min(fired) > 0, fired
    assert inbox.cues(halfway) == Counter(everyone)  # every user once, nobody twice
    assert {owner for owner, _, _ in inbox.got} == {"a", "b"}

    # ---- the release cues: process "a" dies right after its first claim
    claimed_by_a: list = []
    a_claimed = asyncio.Event()
    real_claim = a.storage.claim_due

    async def claim_then_die(*args, **kwargs):
        claimed_by_a.extend(await real_claim(*args, **kwargs))
        a_claimed.set()
        await asyncio.Event().wait()  # the process hangs here until it is killed

    a.storage.claim_due = claim_then_die
    clock.advance(12.5)
    a_task, b_task = asyncio.create_task(a.fire_due()), asyncio.create_task(b.fire_due())
    await asyncio.wait_for(a_claimed.wait(), timeout=10)
    a_task.cancel()  # killed, holding 100 claimed rows
    await asyncio.gather(a_task, return_exceptions=True)
    orphans = {row.key for row in claimed_by_a}
    assert len(orphans) == 100 and {row.name for row in claimed_by_a} == {HOLD_TIMER}

    assert await asyncio.wait_for(b_task, timeout=60) == len(everyone) - len(orphans)
    assert inbox.cues(release) == Counter(everyone - orphans)
    assert await b.fire_due() == 0  # a's claims are not due for b until their lease runs out

    clock.advance(CLAIM_LEASE.total_seconds() + 1)  # a's leases run out: b takes the orphans over
    assert await b.fire_due() == len(orphans)
    assert inbox.cues(release) == Counter(everyone)  # still exactly once each
    assert inbox.cues(halfway) == Counter(everyone)
    late = engine.content.t("late")
    assert {key for _, key, text in inbox.got if text.startswith(late)} == orphans  # with an apology
    assert await b.storage.next_due() is None

    # every user's stored state is what the engine gives when each cue fires once, in order
    on_time = pure_hold(engine)
    on_time.wait(25)
    states = await stored_states(b.storage)
    assert set(states) == everyone
    assert all(states[key] == on_time.state for key in everyone - orphans)
    late_release = pure_hold(engine)
    late_release.wait(12.5)
    late_release.wait(12.5 + CLAIM_LEASE.total_seconds() + 1)
    assert all(states[key] == late_release.state for key in orphans)


def two_inputs(state: UserState) -> tuple:
    """Two different inputs for the current screen: a button press and a typed choice."""
    choices = [(i, label) for i, label in state.choices if i not in ("pain", "remind")]
    pressed = Button(choices[0][0], state.screen)
    typed = Text(choices[-1][1]) if len(choices) > 1 else Command("help")
    return pressed, typed


def serially(engine, state: UserState, timers: list, now, first, second) -> Chat:
    chat = Chat(engine, now=now, state=state)
    chat.timers = {t.name: (t.due, t.payload) for t in timers}
    chat.send(first)
    chat.send(second)
    return chat


async def test_concurrent_inputs_for_one_user_end_in_a_serial_outcome(runtimes, stores, clock, engine):
    a, b = runtimes
    users = [user(n) for n in range(20)]
    await seed(a.storage, users, returning_user(engine))
    await gather_limited(start_hold(runtimes[n % 2], key) for n, key in enumerate(users))
    conflicts = 0
    for storage in stores:  # count the saves that lost a race (the runtime then reloads and retries)
        real_save = storage.save

        async def counting_save(*args, _real=real_save, **kwargs):
            nonlocal conflicts
            saved = await _real(*args, **kwargs)
            conflicts += not saved
            return saved
        storage.save = counting_save

    different = 0
    for _ in range(4):  # rounds: hold -> skip/stop -> menu -> start/help -> ...
        clock.advance(1)
        plans = {}
        for key in users:
            state = await a.storage.load(key)
            before = UserState.from_json(state.state_json)
            first, second = two_inputs(before)
            timers = await a.storage.timers(key)
            history = len(await a.storage.history(key))
            plans[key] = (first, second, [serially(engine, before, timers, clock.now(), *order)
                                          for order in ((first, second), (second, first))], history)
        await asyncio.gather(*(process.handle(key, event) for key, (first, second, _, _) in plans.items()
                               for process, event in ((a, first), (b, second))))
        for key, (_, _, outcomes, history_before) in plans.items():
            stored = UserState.from_json((await b.storage.load(key)).state_json)
            timers = {t.name: (t.due, t.payload) for t in await b.storage.timers(key)}
            history = [h.outcome for h in await b.storage.history(key)][history_before:]
            matching = [chat for chat in outcomes if chat.state == stored]
            assert matching, f"{key}: {stored} is neither serial order"
            assert timers == matching[0].timers and history == [e.outcome for e in matching[0].ended]
            different += outcomes[0].state != outcomes[1].state
    assert conflicts >= len(users)  # the two processes really raced
    assert different >= len(users)  # and the order mattered, so the outcome check means something
