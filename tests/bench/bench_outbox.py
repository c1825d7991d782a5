"""Measure: outbox throughput on SQLite and PostgreSQL. Messages committed into the outbox with their
users' states (the scheduler's batches and the reply path), and messages sent by the Sender through a
no-op transport (so the figure is stretchbot's own cost: claims, marks, bookkeeping). PostgreSQL is the
server at STRETCHBOT_TEST_DATABASE_URL (default 127.0.0.1:5432, database test), each run in a throw-away
schema, with the server's own commit settings (synchronous_commit on: every commit waits for its WAL).

Targets, against the platforms' caps (Telegram about 30 messages/s per bot, Discord 50/s):
- committed in batches >= 1,000 msg/s: the fan-out measure's target, which now writes every cue into
  the outbox in the batch's transaction;
- sent >= 300 msg/s: ten times Telegram's cap, so draining a backlog (after an outage, a fan-out of
  cues) is bound by the platform, and at the platform's rate the sender costs under a tenth of that;
- one chat >= 10 msg/s: ten times Telegram's 1 message/s per chat, although a chat's rows go one at a
  time (claim, send, mark) by design;
- with many chats queued (10,000 with --quick, else 50,000), at least half the rate of the 500 or
  2,000-chat line: a message's cost must not grow with the outbox (a reminder wave queues one chat per
  user).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

from benchlib import Result, fmt, median, pg_schema

from bot.delivery import Sender
from bot.runtime import SystemClock
from bot.storage import OutgoingMessage, Save, UserKey, open_storage

BATCH = 500  # users per save_many, as the scheduler's CLAIM_BATCH
PER_USER = 2  # messages per step (a cue and a follow-up, a reply and its buttons)


class NoOpTransport:
    platform = "telegram"

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.sent = 0
        self.distinct: set[tuple[str, int]] = set()
        self.done = asyncio.Event()

    def rates(self, chat: str) -> list:
        return []  # the platform's pace is not what is measured

    async def send(self, chat: str, body: dict) -> None:
        self.sent += 1
        self.distinct.add((chat, body["n"]))
        if len(self.distinct) >= self.expected:
            self.done.set()


def message(chat: str, n: int) -> OutgoingMessage:
    return OutgoingMessage(chat, {"kind": "cue", "safety": False, "screen": "hold", "n": n})


@asynccontextmanager
async def database(kind: str, folder: Path):
    """A fresh database URL of this kind; None when PostgreSQL is not reachable."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / f'outbox-{time.monotonic_ns()}.db'}"
        return
    async with pg_schema() as url:
        yield url


async def committed(url: str, users: int) -> dict:
    """msg/s committed: batches of BATCH users' saves (scheduler), then one save per user, 32 at a time."""
    storage = await open_storage(url)
    try:
        keys = [UserKey("telegram", str(n)) for n in range(users)]
        started = time.perf_counter()
        for start in range(0, users, BATCH):
            await storage.save_many(
                [
                    Save(
                        key,
                        0,
                        "{}",
                        None,
                        {},
                        [],
                        [],
                        [],
                        outbox=[message(f"telegram:{key.user_id}", i) for i in range(PER_USER)],
                    )
                    for key in keys[start : start + BATCH]
                ]
            )
        batched = users * PER_USER / (time.perf_counter() - started)
        gate = asyncio.Semaphore(32)

        async def reply(key: UserKey) -> None:
            async with gate:
                assert await storage.save(
                    key,
                    expected_version=1,
                    state_json="{}",
                    address=None,
                    profile={},
                    schedule=[],
                    cancel=[],
                    history=[],
                    outbox=[message(f"telegram:{key.user_id}", i) for i in range(PER_USER)],
                )

        started = time.perf_counter()
        await asyncio.gather(*(reply(key) for key in keys))
        single = users * PER_USER / (time.perf_counter() - started)
    finally:
        await storage.close()
    return {"batched": batched, "single": single}


async def sent(url: str, chats: int, per_chat: int, take: int | None = None) -> dict:
    """msg/s sent by one Sender draining chats x per_chat queued rows (or the first `take` of them); CPU ms
    of this process per message."""
    storage = await open_storage(url)
    try:
        for start in range(0, chats, BATCH):
            await storage.save_many(
                [
                    Save(
                        UserKey("telegram", str(n)),
                        0,
                        "{}",
                        None,
                        {},
                        [],
                        [],
                        [],
                        outbox=[message(f"telegram:{n}", i) for i in range(per_chat)],
                    )
                    for n in range(start, min(chats, start + BATCH))
                ]
            )
        transport = NoOpTransport(take or chats * per_chat)
        sender = Sender(storage, [transport], clock=SystemClock(), poll_interval=timedelta(seconds=1))
        cpu, wall = time.process_time(), time.perf_counter()
        task = asyncio.create_task(sender.run())
        await asyncio.wait_for(transport.done.wait(), timeout=600)
        elapsed, cpu = time.perf_counter() - wall, time.process_time() - cpu
        sender.stop(grace=30)  # the last marks finish: nothing is left behind
        await task
        left = (await storage.outbox_stats()).depth
    finally:
        await storage.close()
    duplicates = transport.sent - len(transport.distinct)
    return {
        "rate": len(transport.distinct) / elapsed,
        "cpu_ms": cpu * 1000 / transport.sent,
        "left": left,
        "duplicates": duplicates,
        "elapsed": elapsed,
    }


async def measure(quick: bool) -> list[Result]:
    results: list[Result] = []
    users, chats, per_chat, one_chat = (2_000, 500, 4, 100) if quick else (10_000, 2_000, 5, 300)
    deep, take = (10_000, 2_000) if quick else (50_000, 5_000)  # many chats queued: the first `take` sent
    repeats = 1 if quick else 3
    with tempfile.TemporaryDirectory(prefix="stretchbot-bench-") as tmp:
        for kind, label in (("sqlite", "SQLite"), ("postgresql", "PostgreSQL")):
            commits, sends, singles, deeps = [], [], [], []
            for _ in range(repeats):
                async with database(kind, Path(tmp)) as url:
                    if url is None:
                        break
                    commits.append(await committed(url, users))
                async with database(kind, Path(tmp)) as url:
                    sends.append(await sent(url, chats, per_chat))
                async with database(kind, Path(tmp)) as url:
                    singles.append(await sent(url, 1, one_chat))
                async with database(kind, Path(tmp)) as url:
                    deeps.append(await sent(url, deep, 1, take=take))
            if not commits:
                results.append(
                    Result(
                        "outbox",
                        f"{label}: could not run",
                        "no server",
                        ">= 300 msg/s sent",
                        None,
                        "PostgreSQL not reachable (STRETCHBOT_TEST_DATABASE_URL)",
                    )
                )
                continue
            how = f"median of {repeats}" if repeats > 1 else "1 run"
            batched = median([c["batched"] for c in commits])
            single = median([c["single"] for c in commits])
            rate = median([s["rate"] for s in sends])
            cpu = median([s["cpu_ms"] for s in sends])
            lone = median([s["rate"] for s in singles])
            crowded = median([s["rate"] for s in deeps])
            results += [
                Result(
                    "outbox",
                    f"{label}: committed, batches of {BATCH} users x {PER_USER}: msg/s",
                    fmt(batched),
                    ">= 1,000",
                    batched >= 1_000,
                    f"{how}; {users:,} users",
                ),
                Result(
                    "outbox",
                    f"{label}: committed, one save per reply (32 at once): msg/s",
                    fmt(single),
                    "",
                    None,
                    f"{how}; {PER_USER} messages per save",
                ),
                Result(
                    "outbox",
                    f"{label}: sent through a no-op transport, {chats:,} chats x {per_chat}: msg/s",
                    fmt(rate),
                    ">= 300",
                    rate >= 300 and all(s["left"] == s["duplicates"] == 0 for s in sends),
                    f"{how}; {cpu:.2f} ms of this process's CPU per message (claims, marks, bookkeeping);"
                    f" left unsent: {sum(s['left'] for s in sends)}, sent twice: {sum(s['duplicates'] for s in sends)}",
                ),
                Result(
                    "outbox",
                    f"{label}: sent with {deep:,} chats queued (the first {take:,}): msg/s",
                    fmt(crowded),
                    f">= half the {chats:,}-chat rate",
                    crowded >= rate / 2,
                    f"{how}; {median([s['cpu_ms'] for s in deeps]):.2f} ms CPU per message: a claim and a mark are "
                    "lookups, whatever the outbox holds (each mark used to read every queued chat: 100,000 cues "
                    "due at once were sent at 147 msg/s)",
                ),
                Result(
                    "outbox",
                    f"{label}: sent, one chat ({one_chat} queued): msg/s",
                    fmt(lone),
                    ">= 10",
                    lone >= 10,
                    f"{how}; one row in flight per chat: a claim, a send and a mark each",
                ),
            ]
    return results


def run(quick: bool) -> list[Result]:
    return asyncio.run(measure(quick))
