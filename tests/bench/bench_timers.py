"""Measure 3: timer accuracy. Many concurrent users mid-hold; how late does each cue reach Telegram?

The database is seeded with users whose holds started evenly spread over one hold length (as when
holds run back to back), so halfway and release cues come due continuously. stretchbot then runs as
`stretchbot telegram` does (SystemClock, run_scheduler, telegram_adapter, rate limits off) against
the fake Bot API in another process, which stamps every sendMessage with the wall-clock time it
arrived. Lateness = arrival - the cue's due time.
"""
from __future__ import annotations

import asyncio
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench_telegram import FakeApiProcess, stretch_bot
from benchlib import Result, create_schema, holding_state, percentile, seed_users, shifted_state
from dialogs.content import load_content
from dialogs.engine import Engine

LEAD = timedelta(seconds=2.5)  # the first cue comes due this long after seeding (the bot starts meanwhile)
FIRST_USER = 5_000_000


def seed_holds(db: Path, engine: Engine, users: int, start: datetime) -> tuple[dict[int, tuple], timedelta]:
    """Users mid-hold; returns {chat id: (halfway due, release due)} and the scaled hold length."""
    state, timer = holding_state(engine, now=start)
    half = timer.due - start
    hold = 2 * half
    states, halfway_dues, dues = [], [], {}
    for n in range(users):
        halfway = start + LEAD + hold * n / users
        began = halfway - half
        states.append(shifted_state(state, began).to_json())
        halfway_dues.append(halfway)
        dues[FIRST_USER + n] = (halfway, began + hold)
    seed_users(str(db), users, state_json=states, timer=(timer.name, halfway_dues, timer.payload),
               first_id=FIRST_USER)
    return dues, hold


def lateness(sends: list, dues: dict[int, tuple], halfway_text: str, release_text: str) -> list[float]:
    """Seconds late of each cue: the first halfway and the first release message in each chat."""
    late, seen = [], set()
    for chat_id, text, at in sends:
        for which, cue in ((0, halfway_text), (1, release_text)):
            if text.endswith(cue) and (chat_id, which) not in seen and chat_id in dues:
                seen.add((chat_id, which))
                late.append(at - dues[chat_id][which].timestamp())
    return late


async def measure(quick: bool) -> list[Result]:
    users, scale = (200, 0.2) if quick else (1_000, 0.5)
    engine = Engine(load_content(), time_scale=scale)
    fake = FakeApiProcess()
    try:
        with tempfile.TemporaryDirectory(prefix="stretchbot-bench-") as tmp:
            db = Path(tmp) / "timers.db"
            await create_schema(str(db))
            start = datetime.now(UTC)
            dues, hold = seed_holds(db, engine, users, start)
            last_due = max(release for _, release in dues.values())
            async with stretch_bot(fake.base_url, db, time_scale=scale):
                await asyncio.sleep((last_due - datetime.now(UTC)).total_seconds() + 1.5)
            sends = (await fake.ask(cmd="sends"))["sends"]
    finally:
        fake.close()
    content = engine.content
    late = lateness(sends, dues, content.t("halfway"), content.t("release"))
    if not late:
        return [Result("timers", "cue lateness", "no cues arrived", "p99 < 100 ms", False)]
    p50, p99, worst = percentile(late, 0.5) * 1000, percentile(late, 0.99) * 1000, max(late) * 1000
    seconds = hold.total_seconds()
    load = f"{len(sends) / (seconds * 1.5):.0f}"
    note = (f"{users:,} users mid-hold (time scale {scale}: {seconds:g} s holds, started evenly over one hold); "
            f"{len(late)} of {2 * users} cues measured; {len(sends)} messages sent, about {load}/s; "
            f"rate limiter off")
    return [
        Result("timers", "cue lateness p50 / p99 (ms)", f"{p50:.0f} / {p99:.0f}", "p99 < 100 ms",
               p99 < 100 and len(late) == 2 * users, note),
        Result("timers", "cue lateness max (ms)", f"{worst:.0f}", "max < 500 ms", worst < 500),
    ]


def run(quick: bool) -> list[Result]:
    return asyncio.run(measure(quick))
