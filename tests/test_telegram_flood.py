"""A flood end to end over the Bot API fake, in real time: the real PTB Application, the runtime, the
scheduler and the sender (bot.app.background) with Telegram's real send limits, on a SQLite file.

One chat sends 1,000 messages within about 5 s while it is in the middle of a hold; another chat has an
ordinary conversation beside it. Latency is measured from the moment the fake offers an update (it is
queued for getUpdates) to the moment the fake answers the sendMessage that replies to it.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from telegram_fake import Call, FakeBotApi
from telegram_world import ALICE, BOB, World, config_for

from bot.clock import SystemClock
from bot.ratelimit import telegram_rates

FLOOD = 1000
FLOOD_SECONDS = 5.0
FLOOD_BATCH = 20  # messages offered together, every FLOOD_SECONDS * FLOOD_BATCH / FLOOD seconds
PAIN_AT = 500  # the flood's message that says it hurts
PAIN = "ouch that really hurts"
QUIET_MESSAGES = 20
# Telegram allows a chat about one message a second (3 per 3 s, bot/ratelimit.py): a person writing
# faster than that would wait for the limit, not for the flood, so the quiet chat writes just slower
QUIET_EVERY = 1.1
QUIET_LINES = ("/start", "/help", "hello", "how long does it take?", "thanks")  # one reply each
LATENCY_P99 = 1.0  # seconds: the target for the other chat's replies
REPLY_DEADLINE = 15.0  # real seconds a test waits for one reply at most (a hang fails, it does not block)


class TimedBotApi(FakeBotApi):
    """The fake, stamping each call with the monotonic time it was answered (answered_at[i] is calls[i]'s)."""

    def __init__(self) -> None:
        super().__init__()
        self.answered_at: list[float] = []

    def _record(self, call: Call) -> None:
        self.answered_at.append(time.monotonic())
        super()._record(call)

    def sends_to(self, chat: int, after: int = 0) -> list[tuple[float, str]]:
        """(when answered, text shown) of each message sent successfully to `chat` from call index `after`."""
        return [(self.answered_at[i], call.result.get("text", ""))
                for i, call in enumerate(self.calls[after:], start=after)
                if call.method == "sendMessage" and call.status == 200 and call.params.get("chat_id") == chat]


@pytest_asyncio.fixture
async def bot_api(monkeypatch) -> AsyncIterator[TimedBotApi]:
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(name, "127.0.0.1,localhost")
    async with TimedBotApi() as api:
        yield api


class SetupThenRealRates:
    """No limits while the flooder's routine is set up (the world's helpers wait 2 s per reply, and ten
    quick presses would wait for the per-chat limit), then Telegram's real limits for the test itself."""

    def __init__(self) -> None:
        self.real = False

    def __call__(self, chat: str):
        return telegram_rates(chat) if self.real else ()


def handled(world: World) -> float:
    return world.parts.metrics.registry.get_sample_value("stretchbot_updates_handled_total",
                                                         {"platform": "telegram"}) or 0.0


async def drained(world: World, updates: float, deadline: float = 60.0) -> None:
    """Wait until `updates` inputs were handled in all and the outbox is empty (polled: real time)."""
    end = time.monotonic() + deadline
    while handled(world) < updates or (await world.storage.outbox_stats(("telegram",))).depth:
        assert time.monotonic() < end, f"not drained within {deadline} s: {handled(world)} of {updates} handled"
        await asyncio.sleep(0.05)


def p99(samples: list[float]) -> float:
    """Nearest-rank 99th percentile (of 20 samples: the slowest)."""
    ordered = sorted(samples)
    return ordered[math.ceil(0.99 * len(ordered)) - 1]


async def flood(api: TimedBotApi) -> tuple[float, float]:
    """ALICE's 1,000 messages within FLOOD_SECONDS, the pain phrase among them. Returns when the pain
    phrase and the last message were offered (monotonic)."""
    pain_offered = 0.0
    start = time.monotonic()
    for first in range(0, FLOOD, FLOOD_BATCH):
        for n in range(first, first + FLOOD_BATCH):
            api.send_text(ALICE, None, PAIN if n == PAIN_AT else f"are you there? {n}")
            if n == PAIN_AT:
                pain_offered = time.monotonic()
        # pacing the load generator (not synchronisation): the next batch is due at its slot
        next_slot = start + (first + FLOOD_BATCH) * FLOOD_SECONDS / FLOOD
        if first + FLOOD_BATCH < FLOOD:
            await asyncio.sleep(max(0.0, next_slot - time.monotonic()))
    return pain_offered, time.monotonic()


async def conversation(api: TimedBotApi) -> list[tuple[float, float]]:
    """BOB's ordinary chat beside the flood: a line, its one reply, the next line QUIET_EVERY later.
    Returns (when offered, latency: update offered -> its sendMessage answered) for each line."""
    latencies = []
    start = time.monotonic()
    for n in range(QUIET_MESSAGES):
        line = QUIET_LINES[n % len(QUIET_LINES)]
        mark = api.mark()
        offered = time.monotonic()
        (api.send_command if line.startswith("/") else api.send_text)(BOB, None, line)
        reply = await api.wait_for(lambda call: call.method == "sendMessage" and call.params.get("chat_id") == BOB,
                                   after=mark, timeout=REPLY_DEADLINE)
        latencies.append((offered, api.answered_at[api.calls.index(reply)] - offered))
        await asyncio.sleep(max(0.0, start + (n + 1) * QUIET_EVERY - time.monotonic()))
    return latencies


async def test_a_flood_in_one_chat_neither_delays_another_chat_nor_hides_its_pain(
    bot_api: TimedBotApi, content, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    rates = SetupThenRealRates()
    world = World(bot_api, content, tmp_path / "bot.db", SystemClock(), config_for(bot_api), rates=rates)
    await world.start(serving=True)
    try:
        await world.start_routine(ALICE)
        hold = await world.press(ALICE, "ready")
        ready_at = time.monotonic()
        assert "Hold for 25 s" in hold[-1]  # knee-to-chest: halfway after 12.5 s, release after 25 s
        rates.real = True
        mark, before = bot_api.mark(), handled(world)
        began = time.monotonic()

        (pain_offered, flood_end), timed = await asyncio.gather(flood(bot_api), conversation(bot_api))

        # the other chat: every reply within the target, each line answered once
        latencies = [latency for _, latency in timed]
        during = [latency for offered, latency in timed if offered <= flood_end]
        print(f"\nquiet chat reply latency: p50 {sorted(latencies)[len(latencies) // 2]:.3f} s, "
              f"p99 {p99(latencies):.3f} s, max {max(latencies):.3f} s over {len(latencies)} replies "
              f"({len(during)} of them during the flood of {flood_end - began:.1f} s, max {max(during):.3f} s)")
        assert p99(latencies) < LATENCY_P99
        assert len(bot_api.sends_to(BOB, after=mark)) == QUIET_MESSAGES

        # the flooder: one notice, not a reply per message; the referral once, then no cue. The hold's
        # halfway cue was due 12.5 s after Ready: the conversation above lasted longer than that
        assert time.monotonic() - ready_at > 12.5 + 1
        await drained(world, before + FLOOD + QUIET_MESSAGES)
        print(f"everything handled and sent {time.monotonic() - began:.1f} s after the flood began")
        said = bot_api.sends_to(ALICE, after=mark)
        texts = [text for _, text in said]
        coalesced = world.parts.metrics.registry.get_sample_value("stretchbot_messages_coalesced_total",
                                                                  {"platform": "telegram"})
        print(f"flooder: {FLOOD} messages in, {len(said)} messages out, {coalesced:.0f} replies coalesced")
        assert texts.count(content.t("still_answering")) == 1
        # every flood message was read and answered by the engine (one reply each); all but a few of those
        # replies were dropped, one of them became the notice
        assert len(said) - 1 + coalesced == FLOOD and len(said) <= 12
        referrals = [i for i, text in enumerate(texts) if content.triage.pain_stop[:60] in text]
        assert len(referrals) == 1
        referral_at = said[referrals[0]][0]
        print(f"pain phrase offered -> referral sent: {referral_at - pain_offered:.3f} s")
        # "at once": only the chat's own limit (3 per 3 s) lets the notice and a reply or two go first
        assert referral_at - pain_offered < 5.0
        cue = content.wording.markers.cue  # every hold cue (hold, halfway, release) carries it
        assert not [text for text in texts[referrals[0]:] if cue in text]
        assert (await world.state(ALICE)).session is None
        assert await world.storage.next_due(("telegram",)) is None  # the hold's timer went with the session
    finally:
        await world.stop()
