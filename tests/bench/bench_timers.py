"""Measure 3: timer accuracy. Many concurrent users mid-hold; how late is each cue sent?

The database is seeded with users whose holds started evenly spread over one hold length (as when
holds run back to back), so halfway and release cues come due continuously. stretchbot then runs as
`stretchbot telegram` does, on the system clock: the scheduler fires each due timer and commits the
cue into the outbox with the user's state, the doorbell wakes the sender, the sender claims, renders
and sends it. Two transports, each its own run:

- in-process: benchbot's rendering transport stamps each cue when its send is called (stretchbot's own
  path, due -> sent, nothing on the wire);
- Telegram: the real PTB Application and Telegram transport against the fake Bot API in another
  process, which stamps every message with the wall-clock time it arrived.

Lateness = the stamp - the cue's due time. The targets are the ones the cues had before the outbox
(p99 < 100 ms, max < 500 ms): a 20-40 s hold whose "release" comes a tenth of a second late is still
on time for a person. Three lines:

- in-process, the old load (200 users at time scale 0.2 with --quick, else 1,000 at 0.5: 80-160
  messages/s), Telegram's rates off: stretchbot's own path under a heavy load;
- Telegram, production load: about 15-25 messages/s (100 users at 0.5 with --quick, else 200 at 1.0),
  under Telegram's 30/s, with Telegram's rates kept by the sender as `stretchbot telegram` keeps them:
  what a user sees;
- Telegram, the old load with the rates off, without a target: this was the measure's target line
  before the outbox. Production never sends that much (Telegram stops a bot above about 30/s), and on
  PTB's HTTPXRequest a message costs the bot 3.5-6 ms of CPU on a 2-core Xeon VM (bench_telegram; the
  more, the busier the machine): at 80-160 messages/s that is a third of a core to a whole one for the
  bot alone, plus the fake's, so on a small or shared machine the figure measures a queue, not the
  scheduler. It stays, to compare with
  earlier runs (5 / 30 / 53 ms on an idle EPYC with the hand-written aiohttp transport, issue 14).
"""

from __future__ import annotations

import asyncio
import tempfile
from datetime import UTC, datetime, timedelta
from html import escape
from pathlib import Path

from benchbot import RenderingTransport, in_process_parts, load_core, scheduling, sending
from benchlib import Result, create_schema, holding_state, percentile, seed_users, shifted_state
from tgbots import FakeApiProcess, stretch_bot

from bot.app import sender_for
from bot.ratelimit import telegram_rates
from bot.runtime import SystemClock
from bot.storage import open_storage
from dialogs.engine import Engine

LEAD = timedelta(seconds=2.5)  # the first cue comes due this long after seeding (the bot starts meanwhile)
FIRST_USER = 5_000_000
CUES = ("halfway_hold", "release_hold")  # the ui lines of the halfway and the release cue


def seed_holds(
    db: Path, engine: Engine, users: int, start: datetime, scale: float
) -> tuple[dict[int, tuple], timedelta]:
    """Users mid-hold; returns {chat id: (halfway due, release due)} and the scaled hold length."""
    state, timer = holding_state(engine, now=start, time_scale=scale)
    half = timer.due - start
    hold = 2 * half
    states, halfway_dues, dues = [], [], {}
    for n in range(users):
        halfway = start + LEAD + hold * n / users
        began = halfway - half
        states.append(shifted_state(state, began).to_json())
        halfway_dues.append(halfway)
        dues[FIRST_USER + n] = (halfway, began + hold)
    seed_users(str(db), users, state_json=states, timer=(timer.name, halfway_dues, timer.payload), first_id=FIRST_USER)
    return dues, hold


class Lateness:
    """Seconds late of each cue: the first halfway and the first release message in each chat."""

    def __init__(self, dues: dict[int, tuple]) -> None:
        self.dues = dues
        self.late: list[float] = []
        self.seen: set[tuple[int, int]] = set()
        self.sent = 0

    def cue(self, chat_id: int, which: int, at: float) -> None:
        if (chat_id, which) not in self.seen and chat_id in self.dues:
            self.seen.add((chat_id, which))
            self.late.append(at - self.dues[chat_id][which].timestamp())

    def body(self, chat: str, body: dict, at: float) -> None:
        """The in-process transport's record: the cue is known by its ui line."""
        self.sent += 1
        keys = {line["key"] for line in body.get("say", {}).get("lines", [])}
        for which, key in enumerate(CUES):
            if key in keys:
                self.cue(int(chat.rsplit(":", 1)[1]), which, at)

    def texts(self, sends: list, halfway_text: str, release_text: str) -> None:
        """The fake Bot API's record: texts as sent (HTML-escaped, so the cue texts are escaped too)."""
        self.sent += len(sends)
        cues = [escape(halfway_text, quote=False), escape(release_text, quote=False)]
        for chat_id, text, at in sends:
            for which, cue in enumerate(cues):
                if text.endswith(cue):
                    self.cue(chat_id, which, at)


async def seeded(folder: Path, name: str, engine: Engine, users: int, scale: float):
    db = folder / f"{name}.db"
    await create_schema(str(db))
    dues, hold = seed_holds(db, engine, users, datetime.now(UTC), scale)
    last_due = max(release for _, release in dues.values())
    return db, dues, hold, last_due


async def until(moment: datetime) -> None:
    await asyncio.sleep(max(0.0, (moment - datetime.now(UTC)).total_seconds()))


async def in_process(folder: Path, users: int, scale: float) -> tuple[Lateness, timedelta]:
    core = load_core()
    db, dues, hold, last_due = await seeded(folder, "in-process", core.engine, users, scale)
    lateness = Lateness(dues)
    storage = await open_storage(f"sqlite:///{db}")
    try:
        parts = in_process_parts(core, storage, SystemClock(), time_scale=scale)
        transport = RenderingTransport(parts, record=lateness.body)
        async with scheduling(parts), sending(sender_for(parts, transport)):
            await until(last_due + timedelta(seconds=1.5))
    finally:
        await storage.close()
    return lateness, hold


async def over_telegram(folder: Path, users: int, scale: float, rates=None) -> tuple[Lateness, timedelta]:
    engine = load_core().engine
    fake = FakeApiProcess()
    try:
        db, dues, hold, last_due = await seeded(folder, f"telegram-{users}-{scale}", engine, users, scale)
        async with stretch_bot(fake.base_url, db, time_scale=scale, rates=rates):
            await until(last_due + timedelta(seconds=1.5))
        sends = (await fake.ask(cmd="sends"))["sends"]
    finally:
        fake.close()
    lateness = Lateness(dues)
    lateness.texts(sends, engine.content.t("halfway_hold"), engine.content.t("release_hold"))
    return lateness, hold


def lines(
    label: str, lateness: Lateness, users: int, scale: float, hold: timedelta, *, rates: bool, target: bool = True
) -> list[Result]:
    late = lateness.late
    if not late:
        return [Result("timers", f"{label}: cue lateness", "no cues sent", "p99 < 100 ms", False)]
    p50, p99, worst = percentile(late, 0.5) * 1000, percentile(late, 0.99) * 1000, max(late) * 1000
    seconds = hold.total_seconds()
    note = (
        f"{users:,} users mid-hold (time scale {scale}: {seconds:g} s holds, started evenly over one hold); "
        f"{len(late)} of {2 * users} cues measured; {lateness.sent} messages sent, about "
        f"{lateness.sent / (seconds * 1.5):.0f}/s; Telegram's rates {'kept' if rates else 'off'}"
    )
    if not target:
        return [
            Result(
                "timers",
                f"{label}: cue lateness p50 / p99 / max (ms)",
                f"{p50:.0f} / {p99:.0f} / {worst:.0f}",
                "",
                None,
                note + "; no target (see bench_timers.py)",
            )
        ]
    return [
        Result(
            "timers",
            f"{label}: cue lateness p50 / p99 (ms)",
            f"{p50:.0f} / {p99:.0f}",
            "p99 < 100 ms",
            p99 < 100 and len(late) == 2 * users,
            note,
        ),
        Result("timers", f"{label}: cue lateness max (ms)", f"{worst:.0f}", "max < 500 ms", worst < 500),
    ]


async def measure(quick: bool) -> list[Result]:
    heavy = (200, 0.2) if quick else (1_000, 0.5)  # 80-160 messages/s: the load of the old measure
    production = (100, 0.5) if quick else (200, 1.0)  # 15-25 messages/s: under Telegram's 30/s
    with tempfile.TemporaryDirectory(prefix="stretchbot-bench-") as tmp:
        inside, inside_hold = await in_process(Path(tmp), *heavy)
        wire, wire_hold = await over_telegram(Path(tmp), *production, rates=telegram_rates)
        old, old_hold = await over_telegram(Path(tmp), *heavy)
    return [
        *lines("in-process, due -> sent", inside, *heavy, inside_hold, rates=False),
        *lines("Telegram stack, production load", wire, *production, wire_hold, rates=True),
        *lines("Telegram stack, the old load", old, *heavy, old_hold, rates=False, target=False),
    ]


def run(quick: bool) -> list[Result]:
    return asyncio.run(measure(quick))
