"""Measure 4: reminder fan-out. N timers due at once, through the outbox, on SQLite.

Users are real engine states mid-hold whose halfway cue is due now, so each fired timer loads a state,
runs the engine (a cue plus the release timer) and commits state, timers and the cue (an outbox row) in
the batch's one transaction. The runtime's clock is a FakeClock standing still, so the release timers
scheduled meanwhile never come due here. Three ways:

- committed: Runtime.fire_due() alone, timed until every cue is in the outbox; SQL statements counted
  with sqlite3's trace callback (claims, user loads and transactions per claimed batch);
- due -> sent: fire_due() with a real Sender running beside it (bot/delivery.py, on the system clock,
  woken by the runtime's doorbell as in production) delivering to an in-process transport that renders
  every message (benchbot.py), timed until the last cue was sent; no rate limit;
- with Telegram's rates (bot/ratelimit.py: 30 messages/s per bot, kept by the sender's own limiter):
  the share of that budget the sender uses while more is waiting than it allows.

Targets are those the fan-out had before the outbox: >= 1,000 messages/s (a reminder wave of 10,000
leaves within 10 s, well ahead of what Telegram lets out at 30/s), a bounded number of queries per
claimed batch, and >= 95 % of the 30/s budget used. The old "no limiter" line handed each message to a
callback that only counted it; its target now applies to both halves: committed (what the old
callback saw) and sent (claim, render, send and mark by the sender as well).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from benchbot import RenderingTransport, in_process_parts, load_core, sender_on, sending
from benchlib import Result, create_schema, fmt, holding_state, median, seed_users, shifted_state

from bot import runtime as runtime_module
from bot.app import Core, Parts
from bot.ratelimit import TELEGRAM_OVERALL, telegram_rates
from bot.runtime import FakeClock, SystemClock
from bot.storage import open_storage

TARGET_RATE = 1_000


def statement_kind(sql: str) -> str:
    words = sql.split()
    head = " ".join(words[:3]).upper()
    if head.startswith("UPDATE TIMERS"):
        return "claim"
    if head.startswith("SELECT") and " FROM USERS " in f" {sql.upper()} ":
        return "load"
    if head in ("INSERT INTO OUTBOX", "INSERT INTO OUTBOX_CHATS"):
        return "outbox row" if head == "INSERT INTO OUTBOX" else "outbox chat"
    return words[0].upper() if words else "?"


async def prepared(folder: Path, count: int, core: Core) -> tuple[Parts, Counter[str]]:
    """A fresh database with `count` users whose halfway cue is due now; their parts and a SQL counter."""
    path = str(folder / f"fanout-{count}-{time.monotonic_ns()}.db")
    await create_schema(path)
    now = datetime.now(UTC).replace(microsecond=0)
    state, timer = holding_state(core.engine, now=now)
    half = timer.due - now
    started = now - half  # the hold began half a hold ago: its halfway cue is due exactly now
    seed_users(
        path,
        count,
        state_json=shifted_state(state, started).to_json(),
        timer=(timer.name, [now] * count, timer.payload),
    )
    storage = await open_storage(f"sqlite:///{path}")
    statements: Counter[str] = Counter()
    await storage._db.set_trace_callback(lambda sql: statements.update((statement_kind(sql),)))
    return in_process_parts(core, storage, FakeClock(now)), statements


async def committed(folder: Path, count: int, core: Core) -> dict:
    parts, statements = await prepared(folder, count, core)
    storage = parts.runtime.storage
    try:
        began = time.perf_counter()
        fired = await parts.runtime.fire_due()
        elapsed = time.perf_counter() - began
        await storage._db.set_trace_callback(None)
        queued = (await storage.outbox_stats()).depth
    finally:
        await storage.close()
    assert fired == count == queued, (fired, count, queued)
    batches = statements["claim"]
    return {
        "rate": queued / elapsed,
        "elapsed": elapsed,
        "batches": batches,
        "per_timer": (sum(statements.values()) - batches) / fired,
        "kinds": dict(statements),
    }


async def end_to_end(folder: Path, count: int, core: Core) -> dict:
    """fire_due with the sender running: seconds from the start to the first and the last cue sent."""
    parts, _ = await prepared(folder, count, core)
    await parts.runtime.storage._db.set_trace_callback(None)
    stamps: list[float] = []
    transport = RenderingTransport(parts, expected=count, record=lambda chat, body, at: stamps.append(at))
    sender = sender_on(parts, transport, SystemClock())
    try:
        async with sending(sender):
            began = time.time()
            fired = await parts.runtime.fire_due()
            fired_after = time.time() - began
            await asyncio.wait_for(transport.done.wait(), timeout=600)
        left = (await parts.runtime.storage.outbox_stats()).depth
    finally:
        await parts.runtime.storage.close()
    assert fired == count == transport.sent and left == 0, (fired, count, transport.sent, left)
    return {
        "rate": count / (max(stamps) - began),
        "first": min(stamps) - began,
        "last": max(stamps) - began,
        "fired_after": fired_after,
    }


async def limited(folder: Path, seconds: float, core: Core) -> dict:
    """The sender keeping Telegram's rates, for `seconds` after a 1-second warm-up (its window starts empty)."""
    count = int(TELEGRAM_OVERALL * (seconds + 3))  # always more waiting than the budget allows
    parts, _ = await prepared(folder, count, core)
    await parts.runtime.storage._db.set_trace_callback(None)
    stamps: list[float] = []
    transport = RenderingTransport(parts, rates=telegram_rates, record=lambda chat, body, at: stamps.append(at))
    sender = sender_on(parts, transport, SystemClock())
    try:
        async with sending(sender, grace=2):
            began = time.time()
            await parts.runtime.fire_due()
            await asyncio.sleep(1 + seconds - (time.time() - began))
    finally:
        await parts.runtime.storage.close()
    window = [s for s in stamps if began + 1 <= s < began + 1 + seconds]
    return {"share": len(window) / (TELEGRAM_OVERALL * seconds), "sent": len(window)}


async def measure(quick: bool) -> list[Result]:
    core = load_core()
    results: list[Result] = []
    sizes = [(2_000, 2)] if quick else [(10_000, 3), (100_000, 1)]
    with tempfile.TemporaryDirectory(prefix="stretchbot-bench-") as tmp:
        folder = Path(tmp)
        for count, repeats in sizes:
            runs = [await committed(folder, count, core) for _ in range(repeats)]
            ends = [await end_to_end(folder, count, core) for _ in range(repeats)]
            how = f"median of {repeats}" if repeats > 1 else "1 run"
            rate, sent = median([r["rate"] for r in runs]), median([e["rate"] for e in ends])
            last, end = runs[-1], ends[-1]
            kinds, batches = last["kinds"], last["batches"]
            bounded = kinds.get("load", 0) <= batches and kinds.get("BEGIN", 0) <= 2 * batches
            results += [
                Result(
                    "fan-out",
                    f"{count:,} timers due at once: committed to the outbox, msg/s",
                    fmt(rate),
                    f">= {TARGET_RATE:,}",
                    rate >= TARGET_RATE,
                    f"{how}; {last['elapsed']:.1f} s for the wave: state, timers and cue per user, one transaction "
                    "per claimed batch",
                ),
                Result(
                    "fan-out",
                    f"{count:,} timers due at once: due -> sent by the Sender, msg/s",
                    fmt(sent),
                    f">= {TARGET_RATE:,}",
                    sent >= TARGET_RATE,
                    f"{how}; fire_due and the sender side by side, no rate limit, every cue rendered; first cue "
                    f"sent after {end['first'] * 1000:.0f} ms, last after {end['last']:.1f} s (all committed after "
                    f"{end['fired_after']:.1f} s)",
                ),
                Result(
                    "fan-out",
                    f"{count:,}: per batch of {runtime_module.CLAIM_BATCH}: claim / load queries / transactions",
                    f"1 / {kinds.get('load', 0) / batches:.1f} / {kinds.get('BEGIN', 0) / batches:.1f}",
                    "bounded per batch",
                    bounded,
                    f"{batches} batches; SQL statements per fired timer {last['per_timer']:.1f} (the version-checked "
                    f"state UPDATE per user; timer and outbox writes as executemany rows); by kind: {kinds}",
                ),
            ]
        seconds = 3.0 if quick else 10.0
        shares = [await limited(folder, seconds, core) for _ in range(1 if quick else 2)]
        share = median([s["share"] for s in shares])
        results.append(
            Result(
                "fan-out",
                f"Telegram's 30 msg/s kept by the Sender: share of the budget used over {seconds:.0f} s",
                f"{share:.1%}",
                ">= 95 %",
                share >= 0.95,
                f"bot/ratelimit.py telegram_rates (30/s per bot, 3 per 3 s per chat) in the sender's Limiter; sent "
                f"{[s['sent'] for s in shares]} after a 1 s warm-up",
            )
        )
    return results


def run(quick: bool) -> list[Result]:
    return asyncio.run(measure(quick))
