"""The sender: delivers the outbox through each platform's Transport, at least once, in order per chat.

The runtime writes a step's outgoing messages into the outbox in the transaction that saves the step
(bot/storage/outbox.py), then calls `Sender.notify()`. The sender claims chats whose turn it is and
sends each one's oldest message: one message in flight per chat, many chats per claim, turns
round-robin (a chat just served goes behind the chats that were waiting; a new conversation goes
first). So a flood in one chat never delays another chat, and a slow or failing chat holds one slot out
of `max_in_flight`, never the loop. Per send:

- the platform's declared rates (bot/ratelimit.py) are kept by waiting briefly, or, for a longer wait,
  by putting the row back until then (postpone) so it holds no slot;
- flood control (on when `notice_for` is given): a chat with more than `flood_threshold` queued rows is
  coalesced first: its non-safety backlog shrinks to the newest row, with one "still answering" notice
  (notice_for(chat)) where the backlog began; a safety row is never dropped;
- success: the row is deleted (mark_sent). A transport raises one of three errors instead:
  Retry     transient (network error before the request went out, 5xx, 429): the row waits out a capped,
            jittered exponential backoff measured from the failure (or the server's retry_after), then
            is retried; after `max_attempts` it is dead-lettered. When the platform answers again, rows
            that backed off because of the outage are released at once instead of waiting out their backoff;
  MaybeSent the connection dropped after the request went out: it may have arrived, so it is marked
            sent (a duplicate is worse than a gap) and counted;
  Gone      it can never be sent (bot blocked, chat deleted, DMs closed, another 4xx): the row (and by
            default the chat's other queued rows) goes to dead_letters and `on_unreachable(chat, body,
            reason)` tells the runtime, which can pause the session.
A sender killed between a send and its mark leaves the row claimed; when its lease runs out, a sender
sends exactly that row again: the only duplicate.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from bot.metrics import Metrics
from bot.ratelimit import Limiter, Rate
from bot.storage import OutboxRow, OutboxStore

log = logging.getLogger("stretchbot.delivery")

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# A platform with no successful send for this long looks down: its failures are an outage, not one chat's
OUTAGE_AFTER = timedelta(seconds=1)

Body = dict[str, Any]
OnUnreachable = Callable[[str, Body, str], Awaitable[None]]
NoticeFor = Callable[[str], Body]


class Clock(Protocol):  # bot/runtime.py's SystemClock and FakeClock
    def now(self) -> datetime: ...
    async def sleep_until(self, when: datetime, wake: asyncio.Event) -> None: ...


class DeliveryError(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Retry(DeliveryError):
    """Transient: try again later (after `after` seconds when the platform said so, e.g. 429 retry_after)."""

    def __init__(self, after: float | None, reason: str) -> None:
        super().__init__(reason)
        self.after = after


class MaybeSent(DeliveryError):
    """The request went out but its answer was lost: it may have arrived. Never retried blindly."""


class Gone(DeliveryError):
    """This can never be sent. whole_chat: the chat itself is unreachable (blocked, deleted, DMs closed),
    so its other queued messages cannot be sent either; False for a message-specific 4xx."""

    def __init__(self, reason: str, *, whole_chat: bool = True) -> None:
        super().__init__(reason)
        self.whole_chat = whole_chat


class Transport(Protocol):
    platform: str  # "telegram", "discord", "console": the outbox rows it delivers

    def rates(self, chat: str) -> Sequence[Rate]:
        """The platform limits a send to this chat counts against (bot/ratelimit.py)."""
        ...

    async def send(self, chat: str, body: Body) -> None:
        """Render and send one outbox body; raise Retry, MaybeSent or Gone when it did not plainly work."""
        ...


@dataclass(frozen=True)
class RetryPolicy:
    first: float = 0.25  # seconds before the first retry
    factor: float = 2.0
    # A low cap: after an outage every chat's next try comes within 2 s, so a 5 s outage is over for
    # everyone within ~2 s (then the outage release frees the rest). Hammering a platform that is down
    # is bounded by the rate limiter (30/s for Telegram), not by the backoff.
    cap: float = 2.0
    jitter: float = 0.5  # each delay is drawn from [(1 - jitter) * d, d], so chats do not retry in step
    max_attempts: int = 100  # then dead-lettered: at least ~1.5 min of failures with the defaults

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait after the `attempt`-th failure (1-based)."""
        ceiling = min(self.cap, self.first * self.factor ** (attempt - 1))
        return ceiling * (1 - self.jitter * rng.random())


class Sender:
    def __init__(
        self,
        storage: OutboxStore,
        transports: Sequence[Transport],
        *,
        clock: Clock,
        metrics: Metrics | None = None,
        owner: str | None = None,
        on_unreachable: OnUnreachable | None = None,
        notice_for: NoticeFor | None = None,
        flood_threshold: int = 10,
        notice_every: timedelta = timedelta(minutes=1),
        policy: RetryPolicy = RetryPolicy(),
        lease: timedelta = timedelta(seconds=60),
        max_in_flight: int = 32,
        max_rate_wait: float = 2.0,
        poll_interval: timedelta = timedelta(seconds=5),
        rng: random.Random | None = None,
        chats: tuple[str, ...] | None = None,
        wake: asyncio.Event | None = None,
    ) -> None:
        self.storage = storage
        self.transports = {transport.platform: transport for transport in transports}
        self.platforms = tuple(self.transports)
        self.chats = chats  # only these chats (a console delivers to its own terminal only); None: all
        self.clock = clock
        self.metrics = metrics or Metrics()
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}:sender"
        self.on_unreachable = on_unreachable
        # the body of the "I'm still answering your last messages" notice; None: no flood control at all
        self.notice_for = notice_for
        self.flood_threshold = flood_threshold  # queued rows in one chat before its backlog is coalesced
        self.notice_every = notice_every  # at most one notice per chat this often
        self.policy = policy
        self.lease = lease  # must outlast a send plus max_rate_wait
        self.max_in_flight = max_in_flight  # chats being sent to at once (~1 s of Telegram's global rate)
        self.max_rate_wait = max_rate_wait  # a longer rate-limit wait puts the row back instead of holding a slot
        self.poll_interval = poll_interval  # other processes' rows, leases running out: look at least this often
        self.rng = rng or random.Random()
        # set after outbox rows are committed (notify, or the runtime rings it directly when it is shared)
        self.wake = wake if wake is not None else asyncio.Event()
        self.limiter = Limiter()
        self._tasks: set[asyncio.Task[None]] = set()
        self._outage: dict[str, set[int]] = {}  # platform -> rows backed off while it looked down
        self._last_success: dict[str, datetime] = {}
        self._noticed: dict[str, datetime] = {}  # chat -> when it was last given a flood notice
        self._asleep = 0  # tasks (and the loop) waiting on the clock: see settled()
        self._quiet = asyncio.Event()
        self._stopping, self._grace = False, 0.0

    def notify(self) -> None:
        """New outbox rows were committed: deliver them now rather than at the next poll."""
        self.wake.set()

    # ---- the loop ----------------------------------------------------------------------------------
    async def run(self) -> None:
        """Until stop() (or cancelled): claim the chats' heads into free slots, deliver them, sleep until
        there is more. Cancelled, it cancels its sends at once; rows cut off mid-send are sent again
        after their lease, so a clean shutdown calls stop() first."""
        try:
            while not self._stopping:
                self.wake.clear()  # before claiming: a row committed from now on sets it again
                try:
                    claimed = await self.round()
                    when = await self._next_wake(claimed)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.warning(
                        "sender round failed; retrying in %.0f s",
                        self.poll_interval.total_seconds(),
                        exc_info=log.isEnabledFor(logging.DEBUG),
                    )
                    when = self.clock.now() + self.poll_interval
                if not self._stopping:
                    await self._sleep(when, self.wake)
            if self._tasks:  # stop(): let the sends in flight finish (a cut-off send may arrive twice)
                await asyncio.wait(set(self._tasks), timeout=self._grace)
        finally:
            await self._cancel_tasks()

    def stop(self, grace: float = 5.0) -> None:
        """Claim nothing more; run() returns once the sends in flight are done, or after `grace` real
        seconds cancels the rest (those rows stay claimed and are sent again after their lease)."""
        self._stopping, self._grace = True, grace
        self.wake.set()

    async def round(self) -> int:
        """Claim as many heads as there are free slots and start delivering them. Returns how many."""
        self.metrics.beat("sender")
        free = self.max_in_flight - len(self._tasks)
        if free <= 0:
            return 0
        rows = await self.storage.claim_outbox(
            self.clock.now(), limit=free, lease=self.lease, owner=self.owner, platforms=self.platforms,
            chats=self.chats,
        )
        for row in rows:
            task = asyncio.create_task(self._deliver(row), name=f"send {row.chat} #{row.id}")
            self._tasks.add(task)
            task.add_done_callback(self._finished)
        return len(rows)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self.wake.set()  # a slot is free and the chat's next row may be claimable
        if not task.cancelled() and task.exception() is not None:
            log.error("delivery task failed", exc_info=task.exception())

    async def _next_wake(self, claimed: int) -> datetime:
        now = self.clock.now()
        latest = now + self.poll_interval
        if len(self._tasks) >= self.max_in_flight:
            return latest  # full: a finishing task wakes the loop
        due = await self.storage.next_outbox_due(self.platforms, self.chats)
        if due is None or due >= latest:
            return latest
        # a head claimable already but not claimed by this round (a race with a commit): look again soon,
        # but never spin on it
        return max(due, now + timedelta(milliseconds=50)) if claimed == 0 else due

    async def _sleep(self, when: datetime, wake: asyncio.Event) -> None:
        self._asleep += 1
        if self._asleep > len(self._tasks):
            self._quiet.set()
        try:
            await self.clock.sleep_until(when, wake)
        finally:
            self._asleep -= 1
            self._quiet.clear()

    async def settled(self) -> None:
        """Wait until the loop and every delivery are asleep on the clock (for tests with a FakeClock)."""
        while True:
            await self._quiet.wait()
            for _ in range(5):  # let the wake-ups scheduled meanwhile run (two loop turns each)
                await asyncio.sleep(0)
            if self._quiet.is_set():
                return

    async def _cancel_tasks(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # ---- one row -----------------------------------------------------------------------------------
    async def _deliver(self, row: OutboxRow) -> None:
        transport = self.transports[row.platform]
        if self.notice_for is not None and row.pending > self.flood_threshold:
            await self._coalesce(row)
        if not await self._wait_for_rate(row, transport.rates(row.chat)):
            return
        started = time.perf_counter()
        try:
            await transport.send(row.chat, row.body)
        except Retry as error:
            await self._failed(row, error)
        except MaybeSent as error:
            log.warning("%s: connection lost after sending #%d (%s); not resending it", row.chat, row.id, error.reason)
            self.metrics.failed.labels(row.platform, "maybe_sent").inc()
            await self._sent(row, started)
        except Gone as error:
            await self._gone(row, error)
        except asyncio.CancelledError:
            raise  # stopped mid-send: the row stays claimed and is sent again after its lease
        except Exception as error:
            log.exception("%s: sending #%d failed unexpectedly", row.chat, row.id)
            self.metrics.failed.labels(row.platform, "bug").inc()
            await self._failed(row, Retry(None, f"bug: {type(error).__name__}: {error}"), outage=False)
        else:
            await self._sent(row, started)

    async def _wait_for_rate(self, row: OutboxRow, rates: Sequence[Rate]) -> bool:
        """True once the platform's rates allow the send; False when the row was put back for later."""
        while (wait := self.limiter.take(rates, self.clock.now().timestamp())) > 0:
            if wait > self.max_rate_wait:
                await self.storage.postpone(row.id, self.owner, self.clock.now() + timedelta(seconds=wait))
                return False
            try:
                await self._sleep(self.clock.now() + timedelta(seconds=wait), asyncio.Event())
            except asyncio.CancelledError:  # stopping before it was sent: give the row back at once
                await asyncio.shield(self.storage.postpone(row.id, self.owner, self.clock.now()))
                raise
        return True

    async def _sent(self, row: OutboxRow, started: float) -> None:
        self.metrics.send_seconds.labels(row.platform).observe(time.perf_counter() - started)
        self.metrics.delivery_seconds.labels(row.platform).observe(
            max(0.0, (datetime.now(UTC) - row.created_at).total_seconds())
        )
        self.metrics.sent.labels(row.platform, str(row.body.get("kind"))).inc()
        if not await self.storage.mark_sent(row.id, self.owner):
            log.warning("%s: #%d was sent after its lease ran out; another sender may send it again", row.chat, row.id)
        self._last_success[row.platform] = self.clock.now()
        backed_off = self._outage.pop(row.platform, None)
        if backed_off:
            released = await self.storage.release_backoff(sorted(backed_off), self.clock.now())
            log.info("%s answers again: %d waiting messages released", row.platform, released)

    async def _failed(self, row: OutboxRow, error: Retry, *, outage: bool = True) -> None:
        attempts = row.attempts + 1
        self.metrics.failed.labels(row.platform, "retry").inc()
        if attempts >= self.policy.max_attempts:
            reason = f"gave up after {attempts} attempts: {error.reason}"
            moved = await self.storage.dead_letter(row.id, self.owner, reason)
            self.metrics.dead_lettered.labels(row.platform).inc(moved)
            log.error("%s: message #%d dead-lettered (%s)", row.chat, row.id, reason)
            return
        delay = error.after if error.after is not None else self.policy.delay(attempts, self.rng)
        now = self.clock.now()
        retry_at = now + timedelta(seconds=delay)  # measured from the failure
        await self.storage.retry_later(row.id, self.owner, retry_at, error.reason)
        # An outage (no success on the platform lately): these rows are released as soon as it answers
        # again. A server-given retry_after is kept, never released early.
        down = now - self._last_success.get(row.platform, EPOCH) >= OUTAGE_AFTER
        if outage and error.after is None and down:
            first = row.platform not in self._outage
            self._outage.setdefault(row.platform, set()).add(row.id)
            # one line per problem: the first failure of an outage at WARNING, the rest at DEBUG
            log.log(
                logging.WARNING if first else logging.DEBUG,
                "%s: send failed (%s); retry %d in %.1f s",
                row.chat,
                error.reason,
                attempts,
                delay,
            )
        else:
            log.info("%s: send deferred (%s); retry %d in %.1f s", row.chat, error.reason, attempts, delay)

    async def _gone(self, row: OutboxRow, error: Gone) -> None:
        moved = await self.storage.dead_letter(row.id, self.owner, error.reason, whole_chat=error.whole_chat)
        self.metrics.failed.labels(row.platform, "gone").inc()
        self.metrics.dead_lettered.labels(row.platform).inc(moved)
        log.warning("%s: cannot be delivered (%s); %d message(s) dead-lettered", row.chat, error.reason, moved)
        if self.on_unreachable is None:
            return
        try:
            await self.on_unreachable(row.chat, row.body, error.reason)
        except Exception:
            log.exception("%s: on_unreachable failed", row.chat)

    async def _coalesce(self, row: OutboxRow) -> None:
        now = self.clock.now()
        last = self._noticed.get(row.chat)
        notice = None
        if self.notice_for is not None and (last is None or now - last >= self.notice_every):
            notice = self.notice_for(row.chat)
            if notice.get("kind") != "notice" or notice.get("safety") is not False:
                raise ValueError(f"notice_for must give a body with kind 'notice' and safety false, not {notice}")
            for chat in [c for c, at in self._noticed.items() if now - at >= self.notice_every]:
                del self._noticed[chat]  # keep the map small: only chats noticed within the interval
            self._noticed[row.chat] = now
        dropped = await self.storage.coalesce(row.chat, now, notice=notice)
        if dropped:
            self.metrics.coalesced.labels(row.platform).inc(dropped)
            log.info("%s: flood of %d queued messages; %d dropped", row.chat, row.pending, dropped)
