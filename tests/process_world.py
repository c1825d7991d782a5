"""A bot process in a test, with no platform in front: the real Runtime and a real Sender over one open
storage on a FakeClock, delivering to delivery_world's FakeTransport. What reaches the transport is
rendered as the user would see it (bot.outgoing.Outgoing.views) and recorded with the fake time. Used by
the reminder, weekly summary, migration and scale-out tests.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from delivery_world import FakeTransport
from delivery_world import running as sending

from bot.app import Core, make_parts, sender_for
from bot.delivery import Gone
from bot.runtime import FakeClock, Reply
from bot.storage import Storage, UserKey
from dialogs.engine import Engine
from dialogs.events import Button, Command, Text
from dialogs.render import Renderer
from dialogs.state import UserState
from dialogs.views import MessageView

SETTLE_SECONDS = 30  # real seconds a test waits for a sender at most (it is done in milliseconds)
BLOCKED = "Forbidden: bot was blocked by the user"


def core_of(engine: Engine) -> Core:
    """The composition root's bundle around the engine the tests made."""
    return Core(engine.content, engine, Renderer(engine.content, engine.screens))


@dataclass(frozen=True)
class Delivery:
    """One outbox message that reached the transport: when (fake time), through which process, what."""

    at: datetime
    process: str
    chat: str
    body: dict[str, Any]
    views: list[MessageView]

    @property
    def text(self) -> str:
        return "\n\n".join(view.text for view in self.views)

    @property
    def user(self) -> str:
        return str(self.body["user"][1])


class Process:
    """One bot process: its runtime (owner `name`) and its sender, over `storage`. `deliveries` may be
    shared by several processes (one list of everything that reached a user, in arrival order)."""

    def __init__(
        self,
        core: Core,
        storage: Storage,
        clock: FakeClock,
        *,
        name: str = "bot",
        platform: str = "telegram",
        deliveries: list[Delivery] | None = None,
    ) -> None:
        self.clock, self.name = clock, name
        self.parts = make_parts(core, storage, clock, platform)
        self.runtime = self.parts.runtime
        self.runtime.owner = name
        self.storage = storage
        self.transport = FakeTransport(clock, platform)
        self.transport.behaviour = self._behaviour
        self.sender = sender_for(self.parts, self.transport)
        self.sender.owner = f"{name}:sender"
        self.delivered: list[Delivery] = deliveries if deliveries is not None else []
        self.gone: set[str] = set()  # chats whose user blocked the bot: the transport raises Gone
        # a test's hook, awaited inside each send before it counts (e.g. to hang a process mid-send)
        self.before_send: Callable[[str, dict[str, Any]], Awaitable[None]] | None = None

    def _behaviour(self, chat: str, body: dict[str, Any]) -> Awaitable[None]:
        if chat in self.gone:
            raise Gone(BLOCKED)
        return self._deliver(chat, body)

    async def _deliver(self, chat: str, body: dict[str, Any]) -> None:
        if self.before_send is not None:
            await self.before_send(chat, body)
        views = await self.parts.outgoing.views(body)
        self.delivered.append(Delivery(self.clock.now(), self.name, chat, body, views))

    @contextlib.asynccontextmanager
    async def sending(self) -> AsyncIterator[asyncio.Task[None]]:
        """The sender runs (as in production) until the block ends."""
        async with sending(self.sender) as task:
            yield task

    async def settle(self) -> None:
        """Wait until the sender has delivered everything due now (fake time does not move)."""
        await asyncio.wait_for(self.sender.settled(), SETTLE_SECONDS)

    # ---- inputs and timers ---------------------------------------------------------------------------
    async def handle(
        self, key: UserKey, event: Command | Text | Button, address: dict[str, Any] | None = None
    ) -> Reply:
        reply = await self.runtime.handle(key, event, address)
        await self.settle()
        return reply

    async def fire(self) -> int:
        """One scheduler round: fire what is due; the sender delivers it."""
        fired = await self.runtime.fire_due()
        await self.settle()
        return fired

    async def run_until(self, end: datetime) -> int:
        """Move the clock from one due time to the next up to `end` (as the scheduler sleeps), firing and
        delivering at each. Returns how many timers fired."""
        fired = 0
        while (due := await self.storage.next_due()) is not None and due <= end:
            self.clock.advance(max(0.0, (due - self.clock.now()).total_seconds()))
            fired += await self.fire()
        self.clock.advance(max(0.0, (end - self.clock.now()).total_seconds()))
        await self.settle()
        return fired

    async def state(self, key: UserKey) -> UserState:
        loaded = await self.storage.load(key)
        return UserState.from_json(loaded.state_json) if loaded.state_json else UserState()

    async def talk(self, key: UserKey, *inputs: str, address: dict[str, Any] | None = None) -> list[str]:
        """Type or press ("[choice]" presses that button on the screen the user has now) through the
        runtime; returns everything the user saw meanwhile (toasts and delivered messages), in order."""
        seen: list[str] = []
        for entry in inputs:
            if entry.startswith("["):
                event: Command | Text | Button = Button(entry[1:-1], (await self.state(key)).screen_no)
            elif entry.startswith("/"):
                name, _, argument = entry[1:].partition(" ")
                event = Command(name, argument)
            else:
                event = Text(entry)
            mark = len(self.delivered)
            reply = await self.handle(key, event, address)
            seen += [view.text for view in reply.now]
            seen += [d.text for d in self.delivered[mark:] if d.user == key.user_id]
        return seen
