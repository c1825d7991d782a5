"""stretchbot's outgoing path inside the bench process: the runtime and outbox as bot.app builds them, a
real Sender (bot/delivery.py), and a transport that renders every body as the platform transports do
(bot/outgoing.py) and records when it was sent, with nothing leaving the process.

Used by the fan-out and timer measures and by idle_bot.py, so "due -> sent" is timed over stretchbot's
whole path except the network: claim, engine, one commit with the messages, the doorbell, the sender's
claim, render, send, mark.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from bot.app import Core, Parts, Settings, make_parts, sender_for
from bot.clock import Clock
from bot.delivery import Sender
from bot.ratelimit import Rate
from bot.storage import Storage


def no_rates(chat: str) -> Sequence[Rate]:
    """The platform's pace is not what these measures time (the lines that keep it say so)."""
    return ()


class RenderingTransport:
    """An in-process platform. Each send renders the body into views (what a platform transport does
    before its API call), then calls `record(chat, body, unix time)`; `done` is set after `expected` sends."""

    platform = "telegram"

    def __init__(
        self,
        parts: Parts,
        *,
        rates: Callable[[str], Sequence[Rate]] = no_rates,
        expected: int | None = None,
        record: Callable[[str, dict[str, Any], float], None] | None = None,
    ) -> None:
        self.outgoing = parts.outgoing
        self._rates = rates
        self.expected = expected
        self.record = record
        self.sent = 0
        self.views = 0
        self.done = asyncio.Event()

    def rates(self, chat: str) -> Sequence[Rate]:
        return self._rates(chat)

    async def send(self, chat: str, body: dict[str, Any]) -> None:
        self.views += len(await self.outgoing.views(body))
        self.sent += 1
        if self.record is not None:
            self.record(chat, body, time.time())
        if self.expected is not None and self.sent >= self.expected:
            self.done.set()


def sender_on(parts: Parts, transport: RenderingTransport, clock: Clock | None = None) -> Sender:
    """The Sender exactly as bot.app.sender_for wires it (doorbell, unreachable callback, flood notice),
    on another clock when given: the fan-out's runtime stands on a FakeClock (so no later timer comes
    due meanwhile) while its sender runs in real time."""
    sender = sender_for(parts, transport)
    if clock is not None:
        sender.clock = clock
    return sender


def load_core() -> Core:
    """Content, engine and renderer as `stretchbot` loads them (the default content folder)."""
    return Core.load(Settings.from_env({}))


def in_process_parts(core: Core, storage: Storage, clock: Clock, *, time_scale: float = 1.0) -> Parts:
    return make_parts(core, storage, clock, "telegram", time_scale=time_scale)


@asynccontextmanager
async def sending(sender: Sender, grace: float = 30.0):
    """The sender's loop for the block; on the way out it finishes its sends in flight (nothing is cut off)."""
    task = asyncio.create_task(sender.run(), name="bench sender")
    try:
        yield task
    finally:
        sender.stop(grace=grace)
        await task


@asynccontextmanager
async def scheduling(parts: Parts):
    """The runtime's scheduler for the block, as bot.app.background runs it."""
    task = asyncio.create_task(parts.runtime.run_scheduler(), name="bench scheduler")
    try:
        yield task
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
