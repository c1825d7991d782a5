"""Measure 4: reminder fan-out. N timers due at once through Runtime.fire_due + SqliteStorage.

Users are real engine states mid-hold whose halfway cue is due now, so each fired timer loads a state,
runs the engine (a cue plus the release timer), saves in one transaction and delivers one message.
The clock is a FakeClock standing still, so the release timers scheduled meanwhile never fire here.
SQL statements are counted with sqlite3's trace callback on the aiosqlite connection.
"""
from __future__ import annotations

import asyncio
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from aiolimiter import AsyncLimiter

from benchlib import Result, create_schema, fmt, holding_state, median, seed_users, shifted_state
from bot import runtime as runtime_module
from bot.runtime import FakeClock, Runtime
from bot.storage import open_storage
from dialogs.content import load_content
from dialogs.engine import Engine

LIMIT_PER_SECOND = 30  # Telegram's broadcast budget, as PTB's AIORateLimiter sets it


def statement_kind(sql: str) -> str:
    words = sql.split()
    head = " ".join(words[:2]).upper()
    if head.startswith("UPDATE TIMERS"):
        return "claim"
    if head.startswith("SELECT") and " FROM USERS " in f" {sql.upper()} ":
        return "load"
    return words[0].upper() if words else "?"


async def prepared_runtime(folder: Path, count: int, engine: Engine, deliver):
    """A fresh database with `count` users whose halfway cue is due now; the runtime and a SQL counter."""
    path = str(folder / f"fanout-{count}-{time.monotonic_ns()}.db")
    await create_schema(path)
    now = datetime.now(UTC).replace(microsecond=0)
    state, timer = holding_state(engine, now=now)
    half = timer.due - now
    started = now - half  # the hold began half a hold ago: its halfway cue is due exactly now
    seed_users(path, count, state_json=shifted_state(state, started).to_json(),
               timer=(timer.name, [now] * count, timer.payload))
    storage = await open_storage(f"sqlite:///{path}")
    statements: Counter[str] = Counter()
    await storage._db.set_trace_callback(lambda sql: statements.update((statement_kind(sql),)))
    return Runtime(engine, storage, clock=FakeClock(now), deliver=deliver), statements


async def unlimited(folder: Path, count: int, engine: Engine) -> dict:
    delivered = 0

    async def deliver(key, address, actions) -> None:
        nonlocal delivered
        delivered += 1

    runtime, statements = await prepared_runtime(folder, count, engine, deliver)
    try:
        began = time.perf_counter()
        fired = await runtime.fire_due()
        elapsed = time.perf_counter() - began
    finally:
        await runtime.storage.close()
    assert fired == count == delivered, (fired, count, delivered)
    batches = statements["claim"]
    return {"rate": delivered / elapsed, "elapsed": elapsed, "batches": batches,
            "per_timer": (sum(statements.values()) - batches) / fired,
            "transactions_per_timer": statements["BEGIN"] / fired, "kinds": dict(statements)}


async def limited(folder: Path, seconds: float, engine: Engine) -> dict:
    """Deliver through a 30/s limiter for `seconds` after a 1-second warm-up (the bucket starts full)."""
    limiter = AsyncLimiter(LIMIT_PER_SECOND, 1)
    stamps: list[float] = []

    async def deliver(key, address, actions) -> None:
        async with limiter:
            stamps.append(time.perf_counter())

    count = int(LIMIT_PER_SECOND * (seconds + 3))  # always more waiting than the budget allows
    runtime, _ = await prepared_runtime(folder, count, engine, deliver)
    try:
        began = time.perf_counter()
        task = asyncio.create_task(runtime.fire_due())
        await asyncio.sleep(1 + seconds)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
    finally:
        await runtime.storage.close()
    window = [s for s in stamps if began + 1 <= s < began + 1 + seconds]
    return {"share": len(window) / (LIMIT_PER_SECOND * seconds), "sent": len(window)}


async def measure(quick: bool) -> list[Result]:
    engine = Engine(load_content())
    results: list[Result] = []
    sizes = [(2_000, 2)] if quick else [(10_000, 3), (100_000, 1)]
    with tempfile.TemporaryDirectory(prefix="stretchbot-bench-") as tmp:
        folder = Path(tmp)
        for count, repeats in sizes:
            runs = [await unlimited(folder, count, engine) for _ in range(repeats)]
            rate = median([r["rate"] for r in runs])
            last = runs[-1]
            how = f"median of {repeats}" if repeats > 1 else "1 run"
            results.append(Result("fan-out", f"{count:,} timers due at once, no limiter: msg/s", fmt(rate),
                                  ">= 1,000", rate >= 1_000, f"{how}; {last['elapsed']:.1f} s for the batch"))
            kinds = last["kinds"]
            batches = last["batches"]
            bounded = kinds.get("load", 0) <= batches and kinds.get("BEGIN", 0) <= 2 * batches
            results.append(Result(
                "fan-out", f"{count:,}: per batch of {runtime_module.CLAIM_BATCH}: claim / load queries / transactions",
                f"{batches / batches:.0f} / {kinds.get('load', 0) / batches:.1f} / {kinds.get('BEGIN', 0) / batches:.1f}",
                "bounded per batch", bounded,
                f"{batches} batches; SQL statements per fired timer {last['per_timer']:.1f} (the version-checked "
                f"state UPDATE per user, timer writes as executemany rows); by kind: {kinds}"))
        seconds = 3.0 if quick else 10.0
        shares = [await limited(folder, seconds, engine) for _ in range(1 if quick else 2)]
        share = median([s["share"] for s in shares])
        results.append(Result("fan-out", f"30 msg/s limiter: share of budget used over {seconds:.0f} s",
                              f"{share:.1%}", ">= 95 %", share >= 0.95,
                              f"aiolimiter AsyncLimiter(30, 1) as PTB's AIORateLimiter; sent "
                              f"{[s['sent'] for s in shares]} after a 1 s warm-up"))
    return results


def run(quick: bool) -> list[Result]:
    return asyncio.run(measure(quick))
