"""The runtime with a real Sender (bot/delivery.py) on the FakeClock, over fake Telegram and Discord
transports (tests/delivery_world.py): what handle() and fire_due() queue reaches the right chat in
order, a user who blocked the bot is paused by the engine (its Undeliverable event) while the message
goes to the dead letters, and no message text is ever logged at INFO.
"""

from __future__ import annotations

import asyncio
import logging
import random

import pytest
import runtime_world
from delivery_world import FakeTransport, let_time_pass, running
from runtime_world import ANNA, BORIS, HOLD_SECONDS, queued, state_of, what

from bot.delivery import Gone, Retry, Sender
from bot.storage import UserKey
from dialogs import events
from dialogs.events import Command, Text

# the world's fixtures (assignments, so a test's arguments do not redefine imports)
bell = runtime_world.bell
clock = runtime_world.clock
db_url = runtime_world.db_url
runtime = runtime_world.runtime
store = runtime_world.store
tiny = runtime_world.tiny

BLOCKED = "Forbidden: bot was blocked by the user"


class Transports:
    """Fake Telegram and Discord transports that record what each chat was sent (as (kind, what it says)),
    failing for the chats in `blocked` (Gone) and once for the chats in `flaky` (Retry)."""

    def __init__(self, clock) -> None:
        self.telegram, self.discord = FakeTransport(clock, "telegram"), FakeTransport(clock, "discord")
        self.got: dict[str, list[tuple[str, str]]] = {}
        self.blocked: set[str] = set()
        self.flaky: set[str] = set()
        self.telegram.behaviour = self.discord.behaviour = self._send

    def _send(self, chat: str, body: dict) -> None:
        if chat in self.blocked:
            raise Gone(BLOCKED)
        if chat in self.flaky:
            self.flaky.discard(chat)
            raise Retry(1.0, "502 Bad Gateway")
        self.got.setdefault(chat, []).append(what(body))


@pytest.fixture
def transports(clock) -> Transports:
    return Transports(clock)


@pytest.fixture
def sender(store, transports, runtime, clock, bell) -> Sender:
    """Wired as bot/app.py wires it: the runtime's doorbell wakes it, and it tells the runtime of a user
    it cannot reach."""
    return Sender(
        store,
        [transports.telegram, transports.discord],
        clock=clock,
        wake=bell.event,
        on_unreachable=runtime.on_undeliverable,
        rng=random.Random(7),
    )


async def settle(sender: Sender) -> None:
    await asyncio.wait_for(sender.settled(), timeout=10)


async def test_what_handle_and_fire_due_queue_reaches_each_chat_in_order(runtime, sender, transports, clock, store):
    transports.flaky.add("telegram:5")  # its first send fails for a moment: nothing may overtake it
    async with running(sender):
        await runtime.handle(ANNA, Text("many"), {"chat_id": 5})
        await runtime.handle(BORIS, Text("hold"), {"channel": 9})
        await runtime.handle(ANNA, Text("hold"))
        await settle(sender)
        assert transports.got == {"discord:202": [("message", "hold on")]}  # telegram:5 waits out its retry
        await let_time_pass(sender, clock, 2)
        clock.advance(HOLD_SECONDS - 2)
        assert await runtime.fire_due() == 2
        await settle(sender)
    assert transports.got == {
        "telegram:5": [
            ("message", "one"),
            ("referral", "see a doctor"),
            ("notice", "noted"),
            ("reminder", "two"),
            ("reminder", "<weekly progress>"),
            ("message", "hold on"),
            ("cue", "release 2 late 0"),
        ],
        "discord:202": [("message", "hold on"), ("cue", "release 1 late 0")],
    }
    assert [chat for _, chat, _ in transports.telegram.sent] == ["telegram:5"] * 7  # each platform its own
    assert [chat for _, chat, _ in transports.discord.sent] == ["discord:202"] * 2
    assert (await store.outbox_stats()).depth == 0


async def test_a_user_who_blocked_the_bot_is_paused_and_the_message_dead_lettered(
    runtime, sender, transports, tiny, clock, store, caplog
):
    async with running(sender):
        await runtime.handle(ANNA, Text("hold"), {"chat_id": 5})
        await runtime.handle(BORIS, Text("hold"), {"channel": 9})
        await settle(sender)
        transports.blocked.add("telegram:5")  # Anna blocks the bot mid-hold
        clock.advance(HOLD_SECONDS)
        with caplog.at_level(logging.WARNING, logger="stretchbot.runtime"):
            assert await runtime.fire_due() == 2
            await settle(sender)
    assert transports.got == {
        "telegram:5": [("message", "hold on")],
        "discord:202": [("message", "hold on"), ("cue", "release 1 late 0")],
    }
    [dead] = await store.dead_letters("telegram:5")
    assert (dead["key"], what(dead["body"]), dead["reason"]) == (ANNA, ("cue", "release 1 late 0"), BLOCKED)
    assert await store.pending("telegram:5") == []
    assert tiny.events[-1] == events.Undeliverable(BLOCKED)  # the engine heard of it once
    assert sum(isinstance(event, events.Undeliverable) for event in tiny.events) == 1
    assert (await state_of(store, ANNA)).profile.unreachable  # and its step was committed
    assert (await store.load(ANNA)).version == 3  # hold, the cue, the pause
    assert not (await state_of(store, BORIS)).profile.unreachable
    assert "cannot reach telegram:101" in caplog.text


async def test_message_text_is_never_logged_at_info(runtime, sender, transports, clock, store, caplog):
    with caplog.at_level(logging.INFO):
        async with running(sender):
            transports.flaky.add("telegram:5")
            await runtime.handle(ANNA, Text("many"), {"chat_id": 5})
            await runtime.handle(ANNA, Text("hold"))
            await runtime.handle(BORIS, Text("hold"), {"channel": 9})
            await runtime.handle(BORIS, Text("my secret back story"))
            await let_time_pass(sender, clock, 2)
            transports.blocked.add("discord:202")
            clock.advance(HOLD_SECONDS)
            await runtime.fire_due()
            await runtime.handle(ANNA, Text("forget"))
            await settle(sender)
    assert transports.got["telegram:5"][-1] == ("message", "forgotten")
    # the log was listening: the retry, the forget and the blocked user are there, without any words
    assert "502 Bad Gateway" in caplog.text and "forgot telegram:101" in caplog.text
    assert "cannot reach discord:202" in caplog.text
    for words in ("hold on", "release", "forgotten", "see a doctor", "noted", "secret back story"):
        assert words not in caplog.text
    assert await queued(store, "telegram:5") == []


async def test_a_forgotten_user_or_a_stranger_who_blocked_the_bot_is_not_stored_again(
    runtime, sender, transports, tiny, store
):
    """The confirmation of /forget (or a stranger's answer) cannot be delivered: there is nothing to pause,
    and recording "unreachable" (as the real engine does) would store the person again."""
    carol = UserKey("telegram", "303")
    await runtime.handle(ANNA, Text("hold"), {"chat_id": 5})
    await runtime.handle(ANNA, Text("forget"))
    await runtime.handle(carol, Command("help"), {"chat_id": 7})
    transports.blocked |= {"telegram:5", "telegram:7"}
    async with running(sender):
        await settle(sender)
    assert [what(dead["body"]) for dead in await store.dead_letters()] == [
        ("message", "forgotten"),
        ("message", "help text"),
    ]
    for key in (ANNA, carol):
        export = await store.export_user(key)
        assert (export["profile"], export["state"]) == (None, None)
        assert (await store.load(key)).version == 0


class ChattyWhenBlocked(runtime_world.TinyEngine):
    """An engine that (unlike the real one) says something when told a chat is unreachable."""

    def advance(self, state, event, now):
        step = super().advance(state, event, now)
        if isinstance(event, events.Undeliverable):
            return type(step)(step.state, (*step.actions, runtime_world.say("are you there?")))
        return step


async def test_what_an_engine_says_to_an_unreachable_chat_is_not_queued_to_bounce_again(
    store, clock, transports, bell
):
    engine = ChattyWhenBlocked()
    runtime = runtime_world.make(engine, store, clock, notify=bell)
    sender = Sender(store, [transports.telegram], clock=clock, wake=bell.event, on_unreachable=runtime.on_undeliverable)
    async with running(sender):
        await runtime.handle(ANNA, Text("hold"), {"chat_id": 5})
        await settle(sender)
        transports.blocked.add("telegram:5")
        clock.advance(HOLD_SECONDS)
        await runtime.fire_due()
        await settle(sender)
        await let_time_pass(sender, clock, 5)
    dead = [what(row["body"]) for row in await store.dead_letters("telegram:5")]
    assert await store.pending("telegram:5") == [] and dead == [("cue", "release 1 late 0")], dead
    assert sum(isinstance(event, events.Undeliverable) for event in engine.events) == 1  # no bounce loop
    assert (await state_of(store, ANNA)).profile.unreachable
