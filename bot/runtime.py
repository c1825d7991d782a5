"""The runtime: performs what the pure engine decides.

Every input (a message, a button, a timer that came due) takes the same path: load the user's state,
run the engine, write the new state together with its timers and history in ONE transaction, then
hand the user-visible actions back (a reply) or to `deliver` (timer output). State is read for every
input and never cached, and a write that lost a race reloads and runs the engine again, so several
processes can serve the same users.
"""
from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from bot.storage import HistoryRow, Loaded, Save, Storage, TimerRow, UserKey
from dialogs import model
from dialogs.model import (
    Action, CancelTimer, EndSession, Event, ForgetUser, ScheduleTimer, Step, TimerFired, UserState,
)

log = logging.getLogger("stretchbot.runtime")

SAVE_ATTEMPTS = 5  # optimistic concurrency: reload and re-run the engine this often before giving up
CLAIM_BATCH = 500
CLAIM_LEASE = timedelta(seconds=60)  # a claimed timer whose process died is retried after this
POLL_INTERVAL = timedelta(seconds=60)  # wake at least this often: other processes may add timers
ERROR_BACKOFF = timedelta(seconds=5)
FIRE_CONCURRENCY = 20  # users whose timers are handled (and delivered) at the same time


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
        try:
            await asyncio.wait_for(wake.wait(), remaining)
        except TimeoutError:
            pass


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


class Undeliverable(Exception):
    """Raised by an adapter's deliver() when the user blocked the bot or closed their DMs."""


class StateConflict(Exception):
    """The user's state kept changing underneath us: every save attempt lost the race."""


Deliver = Callable[[UserKey, dict, list[Action]], Awaitable[None]]


@dataclass
class _Plan:
    """One engine step, split into what storage writes and what the user sees."""

    schedule: list[TimerRow] = field(default_factory=list)
    cancel: list[str] = field(default_factory=list)
    history: list[HistoryRow] = field(default_factory=list)
    outputs: list[Action] = field(default_factory=list)
    forget: bool = False


def _plan(key: UserKey, step: Step, now: datetime) -> _Plan:
    plan = _Plan()
    timers: dict[str, ScheduleTimer | CancelTimer] = {}  # per name the last word wins, in action order
    for action in step.actions:
        if isinstance(action, (ScheduleTimer, CancelTimer)):
            timers.pop(action.name, None)
            timers[action.name] = action
        elif isinstance(action, EndSession):
            plan.history.append(HistoryRow(action.outcome, action.routine, action.level,
                                           action.stretches_done, action.seconds, now))
        else:
            plan.forget = plan.forget or isinstance(action, ForgetUser)
            plan.outputs.append(action)
    for name, timer in timers.items():
        if isinstance(timer, ScheduleTimer):
            plan.schedule.append(TimerRow(key, name, timer.due, dict(timer.payload)))
        else:
            plan.cancel.append(name)
    return plan


def _profile_columns(state: UserState) -> dict:
    """The profile fields storage keeps as columns (queryable, exported, deleted with the user)."""
    profile = state.profile
    return {"timezone": profile.timezone, "last_triage_at": profile.last_triage_at,
            "last_triage_level": profile.last_triage_level}


class Runtime:
    def __init__(self, engine: Any, storage: Storage, *, clock: Clock, deliver: Deliver | None = None,
                 owner: str | None = None, platforms: tuple[str, ...] | None = None) -> None:
        self.engine = engine
        # the platforms whose timers this process fires: a Telegram process cannot deliver to a
        # Discord user, so two bots on one database must not take each other's timers (None: all)
        self.platforms = platforms
        self.storage = storage
        self.clock = clock
        self.deliver = deliver
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.wake = asyncio.Event()  # set when a new timer may be earlier than the scheduler's sleep

    def ui(self, key: str, **values: object) -> str:
        return self.engine.content.t(key, **values)

    async def handle(self, key: UserKey, event: Event, address: dict | None = None) -> list[Action]:
        """Run one input through the engine and storage; return what the user should see now."""
        outputs, _ = await self._step(key, event, address)
        return outputs

    async def _step(self, key: UserKey, event: Event, address: dict | None,
                    fired: TimerRow | None = None) -> tuple[list[Action], dict]:
        """The one path every input takes. Returns (user-visible actions, the user's address)."""
        for attempt in range(1, SAVE_ATTEMPTS + 1):
            loaded = await self.storage.load(key)
            now = self.clock.now()
            step = self.engine.handle(self._state(key, loaded), event, now)
            plan = _plan(key, step, now)
            known_address = address if address is not None else loaded.address
            if plan.forget:
                # nothing of this step is stored: the user asked for every row to go
                await self.storage.forget_user(key)
                log.info("forgot %s:%s", key.platform, key.user_id)
                return plan.outputs, known_address
            saved = await self.storage.save(
                key, expected_version=loaded.version, state_json=step.state.to_json(), address=address,
                profile=_profile_columns(step.state),
                schedule=plan.schedule, cancel=plan.cancel, history=plan.history, fired=fired)
            if saved:
                if plan.schedule:
                    self.wake.set()
                return plan.outputs, known_address
            log.info("state of %s:%s changed meanwhile (attempt %d); reloading",
                     key.platform, key.user_id, attempt)
        raise StateConflict(f"{key.platform}:{key.user_id}: gave up after {SAVE_ATTEMPTS} conflicting saves")

    def _state(self, key: UserKey, loaded: Loaded) -> UserState:
        if loaded.state_json is None:
            return UserState()
        try:
            return UserState.from_json(loaded.state_json)
        except Exception as error:  # an old or unknown shape: start safely rather than crash-loop
            log.warning("unreadable state for %s:%s (%s); starting fresh", key.platform, key.user_id,
                        type(error).__name__)
            return UserState()

    # ---- timers ---------------------------------------------------------------------------------
    async def fire_due(self) -> int:
        """Fire every timer due now, oldest first. Returns how many went through the engine.

        A claimed batch costs one query to load every user in it, the engine steps in memory, and
        ONE transaction to save them all; only a user whose state changed meanwhile (or who has two
        timers in the batch) takes the one-by-one path. Deliveries run while the next batch is
        claimed, so a slow send does not hold up cues that come due behind it.
        """
        fired = 0
        sending: set[asyncio.Task] = set()
        gate = asyncio.Semaphore(FIRE_CONCURRENCY)
        try:
            while True:
                rows = await self.storage.claim_due(self.clock.now(), limit=CLAIM_BATCH, lease=CLAIM_LEASE,
                                                    owner=self.owner, platforms=self.platforms)
                if not rows:
                    return fired
                fired += await self._fire_batch(rows, gate, sending)
                if len(rows) < CLAIM_BATCH:
                    # a timer scheduled "now" by one of these steps waits for the next round, so an
                    # engine that keeps rescheduling at `now` cannot spin this loop forever
                    return fired
        finally:
            await asyncio.gather(*sending)

    async def _fire_batch(self, rows: list[TimerRow], gate: asyncio.Semaphore, sending: set) -> int:
        by_user: dict[UserKey, list[TimerRow]] = {}
        for row in rows:
            by_user.setdefault(row.key, []).append(row)
        singles = [user_rows[0] for user_rows in by_user.values() if len(user_rows) == 1]
        one_by_one = [row for user_rows in by_user.values() if len(user_rows) > 1 for row in user_rows]
        loaded = await self.storage.load_many([row.key for row in singles])
        now = self.clock.now()
        saves: list[Save] = []
        sent: list[tuple[TimerRow, list[Action], dict]] = []
        for row in singles:
            try:
                step = self.engine.handle(self._state(row.key, loaded[row.key]),
                                          TimerFired(row.name, row.due, row.payload), now)
            except Exception:  # one bad timer must never stop the others; its lease expires, it retries
                log.exception("timer %r for %s:%s failed", row.name, row.key.platform, row.key.user_id)
                continue
            plan = _plan(row.key, step, now)
            if plan.forget:
                one_by_one.append(row)
                continue
            saves.append(Save(row.key, loaded[row.key].version, step.state.to_json(), None,
                              _profile_columns(step.state), plan.schedule, plan.cancel, plan.history, row))
            sent.append((row, plan.outputs, loaded[row.key].address))
        try:
            results = await self.storage.save_many(saves)
        except Exception:  # the whole batch stays claimed; its lease expires and it is retried
            log.exception("saving a batch of %d fired timers failed", len(saves))
            results = [False] * len(saves)
            sent = []
        if any(save.schedule for save in saves):
            self.wake.set()
        for (row, outputs, address), saved in zip(sent, results):
            if saved:
                self._send_later(row, outputs, address, gate, sending)
            else:
                one_by_one.append(row)  # its state changed since the load: the careful path retries
        done = sum(results)
        for row in sorted(one_by_one, key=lambda r: r.due):
            done += await self._fire(row)
        return done

    def _send_later(self, row: TimerRow, outputs: list[Action], address: dict, gate: asyncio.Semaphore,
                    sending: set) -> None:
        if not outputs or self.deliver is None:
            return

        async def send() -> None:
            async with gate:
                await self._deliver(row, outputs, address)

        task = asyncio.create_task(send())
        sending.add(task)
        task.add_done_callback(sending.discard)

    async def _fire(self, row: TimerRow) -> int:
        """One timer through the careful path: reload, step, version-checked save, retries."""
        key = row.key
        try:
            outputs, address = await self._step(key, TimerFired(row.name, row.due, row.payload), None,
                                                fired=row)
        except Exception:  # one bad timer must never stop the others; its lease expires, it retries
            log.exception("timer %r for %s:%s failed", row.name, key.platform, key.user_id)
            return 0
        if outputs and self.deliver is not None:
            await self._deliver(row, outputs, address)
        return 1

    async def _deliver(self, row: TimerRow, outputs: list[Action], address: dict) -> None:
        key = row.key
        try:
            await self.deliver(key, address, outputs)
        except Undeliverable as error:
            log.warning("cannot reach %s:%s (%s)", key.platform, key.user_id, error)
            await self._unreachable(key, str(error))
        except Exception:
            log.exception("delivering timer %r to %s:%s failed", row.name, key.platform, key.user_id)

    async def _unreachable(self, key: UserKey, reason: str) -> None:
        """Tell the engine (it marks the user unreachable); whatever it says cannot be delivered."""
        try:
            await self._step(key, model.Undeliverable(reason), None)
        except Exception:
            log.exception("recording that %s:%s is unreachable failed", key.platform, key.user_id)

    async def run_scheduler(self) -> None:
        """Forever: sleep until the next timer is due (or a new one is scheduled), then fire."""
        while True:
            try:
                next_due = await self.storage.next_due(self.platforms)
                latest = self.clock.now() + POLL_INTERVAL
                await self.clock.sleep_until(min(next_due, latest) if next_due else latest, self.wake)
                self.wake.clear()
                await self.fire_due()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("scheduler round failed; retrying shortly")
                await self.clock.sleep_until(self.clock.now() + ERROR_BACKOFF, asyncio.Event())
