"""Scale-out on PostgreSQL: two bot processes on one database (tests/scale_world.py: each a Runtime with its
own PgStorage and owner plus its own Sender, the real engine and content, one shared FakeClock).

Each cue is fired exactly once and reaches the user even when a process dies mid-burst: its claimed
timers are taken over when their lease runs out, and the outbox rows its sender had claimed are sent
again after theirs (the only duplicates: the rows it had sent but not yet marked). Concurrent inputs
for one user end as if they had come one after the other. The kill at other moments, with the
production loops: tests/test_scale_out_kill.py.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from datetime import timedelta

import pytest
import storage_backends
from conftest import T0, Chat
from process_world import Delivery, Process, core_of
from scale_world import (
    chat,
    cue_order,
    cues,
    gather_limited,
    hang,
    key_of,
    open_processes,
    pure_hold,
    returning_user,
    seed,
    start_hold,
    stored_states,
    user,
)

from bot import runtime as runtime_module
from bot.runtime import CLAIM_LEASE, FakeClock
from dialogs.events import Button, Command, Notice, Say, Text, message_data
from dialogs.flows.timers import HOLD_TIMER
from dialogs.render import Renderer
from dialogs.state import UserState

pg_url = storage_backends.pg_url  # a throw-away PostgreSQL schema per test (a fixture)

REAL_USERS = 100  # brought into a hold through the engine, step by step
CLONED_USERS = 500  # stored as the engine leaves a user mid-hold, to have many due timers at once
BATCH = 50  # timers per claim: a burst takes each process several claims, so their claims interleave


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def deliveries() -> list[Delivery]:
    return []


@pytest.fixture
async def processes(pg_url, engine, clock, deliveries):
    a, b = await open_processes(pg_url, core_of(engine), clock, deliveries)
    yield a, b
    await asyncio.gather(a.storage.close(), b.storage.close())


async def test_two_processes_fire_each_cue_exactly_once_even_when_one_dies(
    processes: tuple[Process, Process], clock, deliveries: list[Delivery], engine, monkeypatch
):
    monkeypatch.setattr(runtime_module, "CLAIM_BATCH", BATCH)
    senders = {p.name: asyncio.create_task(p.sender.run()) for p in processes}
    try:
        await two_bursts_and_a_death(*processes, senders, clock, deliveries, engine)
    finally:
        for task in senders.values():
            task.cancel()
        await asyncio.gather(*senders.values(), return_exceptions=True)


async def two_bursts_and_a_death(a: Process, b: Process, senders: dict, clock, deliveries: list[Delivery],
                                 engine) -> None:
    """The halfway cues with both processes alive, then the release cues while "a" dies."""
    # 100 users reach a hold through real steps in the runtime, half through each process
    await seed(a.storage, [user(n) for n in range(REAL_USERS)], returning_user(engine))
    await gather_limited(start_hold((a, b)[n % 2].runtime, user(n)) for n in range(REAL_USERS))
    # 500 more are stored exactly as the engine leaves a user mid-hold, with its hold timer
    model = pure_hold(engine)
    await seed(b.storage, [user(n) for n in range(REAL_USERS, REAL_USERS + CLONED_USERS)], model.state,
               model.timers.items())
    everyone = {user(n) for n in range(REAL_USERS + CLONED_USERS)}
    [(due, _)] = model.timers.values()
    assert await a.storage.next_due() == due == T0 + timedelta(seconds=12.5)
    halfway, release = engine.content.t("halfway_hold"), engine.content.t("release_hold")
    await asyncio.gather(a.settle(), b.settle())

    # ---- both processes fire the 600 halfway cues at once; both senders deliver
    clock.advance((due - T0).total_seconds())
    fired = await asyncio.gather(a.runtime.fire_due(), b.runtime.fire_due())
    await asyncio.gather(a.settle(), b.settle())
    assert sum(fired) == len(everyone) and min(fired) > 0, fired
    assert cues(deliveries, halfway) == Counter(everyone)  # every user once, nobody twice
    assert {d.process for d in deliveries if d.text.endswith(halfway)} == {"a", "b"}

    # ---- the release cues: process "a" dies mid-burst. Its scheduler hangs in its second claim (the
    # first batch is saved); its sender hangs with every slot taken: for even users after the send went
    # out (before the row is marked sent), for odd users before.
    a_batches: list[list] = []
    real_claim, hung = a.storage.claim_due, asyncio.Event()

    async def claim_then_hang(*args, **kwargs):
        a_batches.append(await real_claim(*args, **kwargs))
        if len(a_batches) == 2:
            hung.set()
            await hang()
        return a_batches[-1]

    in_flight: list[str] = []  # chats whose head a's sender held when it died
    sent_unmarked: list[str] = []
    stuck = asyncio.Event()

    async def send_or_hang(chat_name: str, body: dict) -> None:
        in_flight.append(chat_name)
        if len(in_flight) == a.sender.max_in_flight:
            stuck.set()
        if int(body["user"][1]) % 2:
            await hang()  # never reaches the user
        sent_unmarked.append(chat_name)

    async def mark_hangs(*args, **kwargs):
        await hang()

    a.storage.claim_due, a.before_send, a.storage.mark_sent = claim_then_hang, send_or_hang, mark_hangs
    clock.advance(12.5)
    a_fire, b_fire = asyncio.create_task(a.runtime.fire_due()), asyncio.create_task(b.runtime.fire_due())
    await asyncio.wait_for(asyncio.gather(stuck.wait(), hung.wait()), timeout=30)
    for task in (a_fire, senders["a"]):  # killed: its scheduler and its sender
        task.cancel()
    await asyncio.gather(a_fire, senders["a"], return_exceptions=True)
    orphans = {row.key for row in a_batches[1]}
    assert len(a_batches[0]) == len(orphans) == BATCH and {row.name for row in a_batches[1]} == {HOLD_TIMER}
    assert len(in_flight) == a.sender.max_in_flight and 0 < len(sent_unmarked) < len(in_flight)
    not_yet = {key_of(c) for c in in_flight} - {key_of(c) for c in sent_unmarked}

    assert await asyncio.wait_for(b_fire, timeout=60) == len(everyone) - 2 * len(orphans)
    await b.settle()
    assert cues(deliveries, release) == Counter(everyone - orphans - not_yet)
    assert await b.runtime.fire_due() == 0  # a's claims are not due for b until their lease runs out

    clock.advance(CLAIM_LEASE.total_seconds() + 1)  # a's leases run out: b takes over its timers and chats
    assert await b.fire() == len(orphans)
    release_count = cues(deliveries, release)
    duplicated = {key for key, count in release_count.items() if count > 1}
    assert set(release_count) == everyone  # every release cue reached its user
    assert duplicated == {key_of(c) for c in sent_unmarked}  # only a's sent-but-unmarked
    assert all(release_count[key] == 2 for key in duplicated)
    assert cues(deliveries, halfway) == Counter(everyone)
    assert all(order in (["0", "1"], ["0", "1", "1"]) for order in cue_order(deliveries, halfway, release).values())
    late = engine.content.t("late")
    assert {key_of(d.chat) for d in deliveries if d.text.startswith(late)} == orphans  # with an apology
    assert await b.storage.next_due() is None
    stats = await b.storage.outbox_stats()
    assert (stats.depth, stats.dead_letters) == (0, 0)  # nothing left behind, nothing given up
    print(f"\na died holding {len(orphans)} timers and {len(in_flight)} outbox rows; "
          f"{len(duplicated)} sent twice (sent, not yet marked), {len(not_yet)} first sent by b")

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


def two_inputs(renderer: Renderer, state: UserState) -> tuple:
    """Two different inputs for the current screen: a button press and a typed choice (its label)."""
    assert state.screen is not None
    shown = renderer.render(Say(screen=state.screen, number=state.screen_no))
    choices = [button for button in shown.buttons if button.choice not in ("pain", "remind")]
    pressed = Button(choices[0].choice, state.screen_no)
    typed = Text(choices[-1].label) if len(choices) > 1 else Command("help")
    return pressed, typed


def serially(engine, state: UserState, timers: list, now, first, second) -> Chat:
    chat = Chat(engine, now=now, state=state)
    chat.timers = {t.name: (t.due, t.payload) for t in timers}
    chat.send(first)
    chat.send(second)
    chat.events = (first, second)
    return chat


def messages_of(chat: Chat) -> list:
    """What the runtime queues for the chat's last two steps: each message, and each notice answering
    typed input (a notice answering a press is a toast, never queued)."""
    queued = []
    for step, event in zip(chat.steps[-2:], chat.events, strict=True):
        for action in step.actions:
            if isinstance(action, Say):
                queued.append(("say", json.loads(json.dumps(message_data(action)))))
            elif isinstance(action, Notice) and not isinstance(event, Button):
                queued.append(("notice", action.line.key))
    return queued


def queued_bodies(rows) -> list:
    return [("say", row.body["say"]) if "say" in row.body else (row.body["kind"], row.body["notice"]["key"])
            for row in rows]


async def test_concurrent_inputs_for_one_user_end_in_a_serial_outcome(processes, clock, engine):
    a, b = processes
    users = [user(n) for n in range(20)]
    await seed(a.storage, users, returning_user(engine))
    await gather_limited(start_hold(processes[n % 2].runtime, key) for n, key in enumerate(users))
    conflicts = 0
    for storage in (a.storage, b.storage):  # count the saves that lost a race (the runtime then reloads)
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
            first, second = two_inputs(a.runtime.renderer, before)
            timers = await a.storage.timers(key)
            history = len(await a.storage.history(key))
            queued = len(await a.storage.pending(chat(key)))  # no sender runs here: the outbox keeps all
            plans[key] = (
                first,
                second,
                [serially(engine, before, timers, clock.now(), *order) for order in ((first, second), (second, first))],
                history,
                queued,
            )
        await asyncio.gather(
            *(
                process.runtime.handle(key, event)
                for key, (first, second, *_) in plans.items()
                for process, event in ((a, first), (b, second))
            )
        )
        for key, (_, _, outcomes, history_before, queued_before) in plans.items():
            stored = UserState.from_json((await b.storage.load(key)).state_json)
            timers = {t.name: (t.due, t.payload) for t in await b.storage.timers(key)}
            history = [h.outcome for h in await b.storage.history(key)][history_before:]
            queued = queued_bodies((await b.storage.pending(chat(key)))[queued_before:])
            matching = [c for c in outcomes if c.state == stored and c.timers == timers
                        and [e.outcome for e in c.ended] == history and messages_of(c) == queued]
            assert matching, f"{key}: {stored}, {timers}, {history}, {queued} is neither serial order"
            different += outcomes[0].state != outcomes[1].state
    assert conflicts >= len(users)  # the two processes really raced
    assert different >= len(users)  # and the order mattered, so the outcome check means something
