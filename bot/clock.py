"""Clocks for the runtime, the scheduler and the sender: the system clock, and a fake one for tests.

A clock tells the time and sleeps until a moment or until woken. The fake one moves only when a test
advances it, and wakes its sleepers without any real sleeping.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...

    async def sleep_until(self, when: datetime, wake: asyncio.Event) -> None: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep_until(self, when: datetime, wake: asyncio.Event) -> None:
        remaining = (when - self.now()).total_seconds()
        if remaining <= 0 or wake.is_set():
            return
        # asyncio.wait, not wait_for: Python 3.11's wait_for swallows a cancellation that arrives just as
        # the event is set (a stop at that instant then never ends the scheduler)
        woken = asyncio.ensure_future(wake.wait())
        try:
            await asyncio.wait({woken}, timeout=remaining)
        finally:
            woken.cancel()


class FakeClock:
    """A clock for tests: time moves only when advance() is called; sleepers wake without real sleeping."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FakeClock needs an aware datetime")
        self._now = start
        self._sleepers: list[tuple[datetime, asyncio.Future[None]]] = []

    def now(self) -> datetime:
        return self._now

    @property
    def sleepers(self) -> int:
        """How many tasks are waiting in sleep_until (lets a test see the scheduler is idle)."""
        return sum(1 for _, future in self._sleepers if not future.done())

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)
        for when, future in self._sleepers:
            if when <= self._now and not future.done():
                future.set_result(None)

    async def sleep_until(self, when: datetime, wake: asyncio.Event) -> None:
        if wake.is_set() or self._now >= when:
            return
        entry = (when, asyncio.get_running_loop().create_future())
        self._sleepers.append(entry)
        woken = asyncio.ensure_future(wake.wait())
        try:
            await asyncio.wait({entry[1], woken}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            woken.cancel()
            entry[1].cancel()
            self._sleepers.remove(entry)
