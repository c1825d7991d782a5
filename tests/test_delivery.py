"""The sender (bot/delivery.py) over real storage (SQLite and PostgreSQL where storage matters), with an
in-process fake transport and the FakeClock: order per chat, fairness, retries and outages, dead
letters, "maybe sent", a crash between send and mark, two senders, flood coalescing, metrics."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta

import pytest
from delivery_world import T0, FakeTransport, Users, body, let_time_pass, running
from storage_backends import pg_url  # noqa: F401  (fixture)

from bot.delivery import Gone, MaybeSent, Retry, RetryPolicy, Sender
from bot.metrics import Metrics
from bot.ratelimit import Rate, telegram_rates
from bot.runtime import FakeClock
from bot.storage import open_storage


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def transport(clock) -> FakeTransport:
    return FakeTransport(clock, rates=telegram_rates)


@pytest.fixture
def users(store) -> Users:
    return Users(store)


def make_sender(store, transport, clock, **options) -> Sender:
    return Sender(store, [transport], clock=clock, rng=random.Random(7), **options)


def value(metrics: Metrics, name: str, **labels) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


async def test_each_chat_gets_its_messages_in_order(store, users, transport, clock):
    for round_ in range(3):  # interleaved steps of three chats
        for chat in ("telegram:1", "telegram:2", "telegram:3"):
            await users.say(chat, body(round_ * 2), body(round_ * 2 + 1))
    sender = make_sender(store, transport, clock)
    async with running(sender):
        await let_time_pass(sender, clock, 6)
    assert transport.chats() == {chat: list(range(6)) for chat in ("telegram:1", "telegram:2", "telegram:3")}
    assert (await store.outbox_stats()).depth == 0


async def test_a_flood_in_one_chat_does_not_delay_another_chats_first_message(store, users, transport, clock):
    for start in range(0, 1000, 100):
        await users.say("telegram:flood", *(body(n) for n in range(start, start + 100)))
    await users.say("telegram:quiet", body(0))
    sender = make_sender(store, transport, clock)  # no notice_for, so no coalescing: pure fairness
    async with running(sender):
        await let_time_pass(sender, clock, 0.2)
    sent_to = [chat for _, chat, _ in transport.sent]
    assert sent_to.index("telegram:quiet") < 3  # in the first round, beside the flood's first burst
    assert transport.sent[sent_to.index("telegram:quiet")][0] == 0.0


async def test_a_commit_wakes_the_sender_at_once(store, users, transport, clock):
    sender = make_sender(store, transport, clock, poll_interval=timedelta(minutes=5))
    async with running(sender):
        await users.say("telegram:1", body(1))
        sender.notify()
        await sender.settled()
        assert transport.sent == [(0.0, "telegram:1", 1)]  # no fake time passed


async def test_platform_rates_pace_a_chat(store, users, clock):
    transport = FakeTransport(clock, rates=lambda chat: [Rate(chat, 1, 1.0)])
    await users.say("telegram:1", *(body(n) for n in range(4)))
    sender = make_sender(store, transport, clock, max_rate_wait=0.5)  # longer waits go back to storage
    async with running(sender):
        await let_time_pass(sender, clock, 4)
    assert [(round(t, 1), n) for t, _, n in transport.sent] == [(0.0, 0), (1.0, 1), (2.0, 2), (3.0, 3)]


async def test_after_a_5_s_outage_everything_goes_out_in_order_within_3_s(store, users, transport, clock):
    chats = [f"telegram:{n}" for n in range(10)]
    for step in range(3):
        for chat in chats:
            await users.say(chat, body(step))

    def outage(chat, body_):
        if clock.now() < T0 + timedelta(seconds=5):
            raise Retry(None, "Bad Gateway")

    transport.behaviour = outage
    metrics = Metrics()
    sender = make_sender(store, transport, clock, metrics=metrics)
    async with running(sender):
        await let_time_pass(sender, clock, 8.5)
    assert transport.chats() == {chat: [0, 1, 2] for chat in chats}
    assert max(t for t, _, _ in transport.sent) <= 5 + 3
    assert value(metrics, "stretchbot_message_failures_total", platform="telegram", error="retry") >= 10
    assert value(metrics, "stretchbot_messages_sent_total", platform="telegram", kind="message") == 30


async def test_when_the_platform_answers_again_chats_in_backoff_go_at_once(store, users, transport, clock):
    chats = [f"telegram:{n}" for n in range(6)]
    for chat in chats:
        await users.say(chat, body(1))

    def outage(chat, body_):
        if clock.now() < T0 + timedelta(seconds=20):
            raise Retry(None, "connection refused")

    transport.behaviour = outage
    # long backoffs: without the release each chat would come back at its own jittered time
    sender = make_sender(store, transport, clock, policy=RetryPolicy(first=4, cap=30))
    async with running(sender):
        await let_time_pass(sender, clock, 60, step=0.1)
    times = sorted(t for t, _, _ in transport.sent)
    assert len(times) == 6 and times[-1] - times[0] <= 0.15  # the first success released the others


async def test_a_server_given_retry_after_is_honoured(store, users, transport, clock):
    await users.say("telegram:1", body(1))
    transport.behaviour = lambda chat, b: (
        (_ for _ in ()).throw(Retry(7.0, "429 Too Many Requests")) if transport.tried == 1 else None
    )
    sender = make_sender(store, transport, clock)
    async with running(sender):
        await let_time_pass(sender, clock, 8)
    [(moment, _, _)] = transport.sent
    assert moment == pytest.approx(7.0, abs=0.06)


async def test_a_message_that_keeps_failing_is_dead_lettered_after_bounded_attempts(store, users, transport, clock):
    await users.say("telegram:1", body(1), body(2))

    def broken(chat, b):
        if b["n"] == 1:
            raise Retry(None, "HTTP 500")

    transport.behaviour = broken
    sender = make_sender(store, transport, clock, policy=RetryPolicy(max_attempts=4))
    async with running(sender):
        await let_time_pass(sender, clock, 10)
    assert transport.chats() == {"telegram:1": [2]}
    [dead] = await store.dead_letters()
    assert dead["reason"] == "gave up after 4 attempts: HTTP 500" and dead["attempts"] == 3


async def test_an_unreachable_chat_is_dead_lettered_and_reported_once(store, users, transport, clock):
    await users.say("telegram:1", body(1), body(2), body(3))
    await users.say("telegram:2", body(1))
    reported = []

    async def on_unreachable(chat, body_, reason):
        reported.append((chat, body_["n"], reason))

    transport.behaviour = lambda chat, b: (
        (_ for _ in ()).throw(Gone("403: bot was blocked by the user")) if chat == "telegram:1" else None
    )
    sender = make_sender(store, transport, clock, on_unreachable=on_unreachable)
    async with running(sender):
        await let_time_pass(sender, clock, 2)
    assert reported == [("telegram:1", 1, "403: bot was blocked by the user")]
    assert [d["body"]["n"] for d in await store.dead_letters("telegram:1")] == [1, 2, 3]
    assert transport.chats() == {"telegram:2": [1]}


async def test_maybe_sent_is_not_sent_again(store, users, transport, clock):
    await users.say("telegram:1", body(1), body(2))
    transport.behaviour = lambda chat, b: (
        (_ for _ in ()).throw(MaybeSent("connection reset after the request")) if b["n"] == 1 else None
    )
    metrics = Metrics()
    sender = make_sender(store, transport, clock, metrics=metrics, lease=timedelta(seconds=5))
    async with running(sender):
        await let_time_pass(sender, clock, 12)  # well past any lease
    assert transport.tried == 2 and transport.chats() == {"telegram:1": [2]}
    assert value(metrics, "stretchbot_message_failures_total", platform="telegram", error="maybe_sent") == 1
    assert (await store.outbox_stats()).depth == 0


async def test_a_sender_killed_between_send_and_mark_resends_exactly_that_row(store, users, clock):
    await users.say("telegram:1", body(1), body(2))
    await users.say("telegram:2", body(1))
    first = FakeTransport(clock)
    request_out = asyncio.Event()

    def hang_after_sending(chat, b):
        if chat == "telegram:1" and b["n"] == 1:
            request_out.set()  # the platform got it...
            return asyncio.Event().wait()  # ...and the answer never comes: the process dies here

    first.behaviour = hang_after_sending
    doomed = make_sender(store, first, clock, lease=timedelta(seconds=30), owner="doomed")
    task = asyncio.create_task(doomed.run())
    await asyncio.wait_for(request_out.wait(), timeout=10)
    while await store.pending("telegram:2"):  # the other chat's send is marked: one row in flight only
        await asyncio.sleep(0.01)
    task.cancel()  # killed
    await asyncio.gather(task, return_exceptions=True)
    assert first.chats() == {"telegram:2": [1]}

    second = FakeTransport(clock)
    heir = make_sender(store, second, clock, lease=timedelta(seconds=30), owner="heir")
    async with running(heir):
        await let_time_pass(heir, clock, 29, step=1)
        assert second.sent == []  # telegram:1 is held by the dead sender's lease
        await let_time_pass(heir, clock, 3, step=0.5)
    assert second.chats() == {"telegram:1": [1, 2]}  # exactly the in-flight row again, then the rest


async def test_two_senders_on_postgresql_never_send_the_same_row(pg_url, clock):  # noqa: F811
    stores = [await open_storage(pg_url) for _ in range(2)]
    try:
        users = Users(stores[0])
        chats = [f"telegram:{n}" for n in range(40)]
        for step in range(4):
            for chat in chats:
                await users.say(chat, body(step))
        transport, other = FakeTransport(clock), FakeTransport(clock)
        other.sent = transport.sent  # one log of what users got, in the order they got it
        senders = [
            make_sender(s, t, clock, owner=f"worker-{i}", max_in_flight=8)
            for i, (s, t) in enumerate(zip(stores, (transport, other), strict=True))
        ]
        tasks = [asyncio.create_task(sender.run()) for sender in senders]  # both start claiming at once
        try:
            for _ in range(40):
                await asyncio.gather(*(s.settled() for s in senders))
                clock.advance(0.05)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        assert len(transport.sent) == 160  # nothing twice
        assert transport.tried > 20 and other.tried > 20  # both took their share
        assert transport.chats() == {chat: [0, 1, 2, 3] for chat in chats}
        assert (await stores[1].outbox_stats()).depth == 0
    finally:
        await asyncio.gather(*(s.close() for s in stores))


async def test_a_flood_is_coalesced_with_one_notice_and_keeps_safety_messages(store, users, transport, clock):
    await users.say("telegram:1", *(body(n) for n in range(12)))
    await users.say("telegram:1", body(12, "referral", safety=True))
    await users.say("telegram:1", *(body(n) for n in range(13, 30)))
    metrics = Metrics()
    sender = make_sender(
        store,
        transport,
        clock,
        metrics=metrics,
        flood_threshold=10,
        notice_for=lambda chat: {"kind": "notice", "safety": False, "n": "still answering"},
    )
    async with running(sender):
        await let_time_pass(sender, clock, 6)
    assert transport.chats() == {"telegram:1": [0, "still answering", 12, 29]}
    assert value(metrics, "stretchbot_messages_coalesced_total", platform="telegram") == 27


async def test_stop_lets_the_sends_in_flight_finish(store, users, clock):
    await users.say("telegram:1", body(1), body(2))
    transport = FakeTransport(clock)
    answered = asyncio.Event()
    transport.behaviour = lambda chat, b: answered.wait()  # a slow API call
    sender = make_sender(store, transport, clock)
    task = asyncio.create_task(sender.run())
    while transport.tried == 0:
        await asyncio.sleep(0.01)
    sender.stop(grace=10)
    answered.set()
    await asyncio.wait_for(task, timeout=10)
    assert transport.chats() == {"telegram:1": [1]}  # finished and marked; nothing new was claimed
    assert [row.body["n"] for row in await store.pending("telegram:1")] == [2]
    [again] = await store.claim_outbox(clock.now(), limit=5, lease=timedelta(seconds=9), owner="next")
    assert again.body["n"] == 2  # nothing left held by the stopped sender
