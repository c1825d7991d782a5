"""A world for sender tests: an in-process fake transport, the FakeClock, and helpers to queue outbox rows
the way the runtime does (one save per step) and to let fake time pass."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

from bot.delivery import Sender
from bot.ratelimit import Rate
from bot.runtime import FakeClock
from bot.storage import OutgoingMessage, UserKey

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class FakeTransport:
    """Records what it sent (fake seconds since T0, chat, the body's "n" or kind). `behaviour(chat, body)`
    may raise a delivery error, or return an awaitable to wait on before the send counts."""

    def __init__(
        self, clock: FakeClock, platform: str = "telegram", rates: Callable[[str], list[Rate]] = lambda chat: []
    ) -> None:
        self.clock = clock
        self.platform = platform
        self._rates = rates
        self.behaviour: Callable | None = None
        self.sent: list[tuple[float, str, object]] = []
        self.tried = 0

    def rates(self, chat: str) -> list[Rate]:
        return self._rates(chat)

    async def send(self, chat: str, body: dict) -> None:
        self.tried += 1
        if self.behaviour is not None:
            waiting = self.behaviour(chat, body)
            if waiting is not None:
                await waiting
        self.sent.append(((self.clock.now() - T0).total_seconds(), chat, body.get("n", body["kind"])))

    def chats(self) -> dict[str, list]:
        """What each chat got, in order."""
        got: dict[str, list] = {}
        for _, chat, what in self.sent:
            got.setdefault(chat, []).append(what)
        return got


def body(n: int, kind: str = "message", *, safety: bool = False) -> dict:
    return {"kind": kind, "safety": safety, "n": n}


class Users:
    """Queues messages as users' steps would: each save is version-checked and carries its outbox rows."""

    def __init__(self, store) -> None:
        self.store = store
        self.versions: dict[UserKey, int] = {}

    async def say(self, chat: str, *bodies: dict) -> None:
        key = UserKey(chat.split(":", 1)[0], chat.rsplit(":", 1)[-1])
        version = self.versions.get(key, 0)
        assert await self.store.save(
            key,
            expected_version=version,
            state_json="{}",
            address=None,
            profile={},
            schedule=[],
            cancel=[],
            history=[],
            outbox=[OutgoingMessage(chat, b) for b in bodies],
        )
        self.versions[key] = version + 1


@asynccontextmanager
async def running(sender: Sender):
    task = asyncio.create_task(sender.run())
    try:
        await sender.settled()
        yield task
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def let_time_pass(sender: Sender, clock: FakeClock, seconds: float, step: float = 0.05) -> None:
    """Advance fake time in small steps, letting the sender finish everything due at each."""
    for _ in range(round(seconds / step)):
        await asyncio.wait_for(sender.settled(), timeout=10)
        clock.advance(step)
    await asyncio.wait_for(sender.settled(), timeout=10)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)
