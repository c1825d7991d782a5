"""Measure 2: stretchbot's own cost on the Telegram transport, next to a plain PTB echo bot on the same one.

The fake Bot API runs in another process (fake_api_server.py), on the other core; the bot under test
runs in this process, pinned to one core. Each round queues a script of updates from many new users at
once and times until the bot's last message arrives at the fake, and counts this process's CPU time.

- stretchbot (tgbots.stretch_bot): every update goes through the real PTB Application (HTTPXRequest,
  per-chat update processor), bot/telegram/adapter.py, the runtime (load, engine, one commit of state,
  timers and the reply into the outbox), then the sender claims it, renders it (HTML, an inline
  keyboard) and sends it through bot/telegram/send.py over that same HTTPXRequest, and marks it sent.
- the echo bot on the same transport: build()'s Application with its handlers taken out and an echo
  handler put in, so the HTTP client, its settings and the update processor are stretchbot's exactly.
- for information: the echo bot as PTB builds it by default.
- pictures: a script that reaches the first stretch, whose message is an animation with the words as
  its caption and the buttons on it. A fresh database each round, so the first sends upload the GIF
  and later ones reuse Telegram's file_id (kept in storage), as a new deployment would.

Target. Telegram lets a bot send about 30 messages/s (bot/ratelimit.py): that is the most a production
bot ever sends, while updates coming in are not capped. stretchbot must sustain well above it on one
core: >= 100 messages/s, more than three times the cap, so at the cap it needs under a third of a core
and the rest is left for a burst of input, the scheduler's fan-outs and the garbage collector, also on
a small machine shared with other work (a 2-core Xeon VM: 280/s when quiet, 105-128/s while other
processes kept both cores busy). The CPU per message is printed too, and what one core could send at
that cost. The ratio to the echo bot on the same transport is reported without a target: what the
engine, storage, outbox, sender and longer replies cost beyond PTB. It replaces the measure's target
before the outbox (stretchbot / echo on PTB's defaults >= 0.7): issue 14 asks for stretchbot's own cost
on the same transport, which that echo bot, handling one update at a time, did not give. The default
echo bot is still printed, and stretchbot / it is in the ratio's note.
Rounds alternate between the bots; medians reported.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from benchbot import load_core
from benchlib import Result, fmt, median
from tgbots import FakeApiProcess, echo_bot, stretch_bot

from dialogs.events import Command, Text
from dialogs.state import UserState

SCRIPT = ["/start", "hello", "/stretch"]  # a welcome and home screen, a greeting, the first safety question
SAFE_TYPED = ("no", "no", "2", "no")  # typed answers to the safety screens that flag nothing
TARGET = 100  # messages/s on one core: over three times Telegram's 30 messages/s per bot (see above)


def picture_script() -> list[str]:
    """/start, /stretch, the safety screens answered by typing, then the routine's title: the first
    stretch's message (an animation). Checked against the engine, so a content change fails here."""
    core = load_core()
    script = ["/start", "/stretch", *SAFE_TYPED, core.content.routines["lower5"].title]
    state, now = UserState(), datetime.now(UTC)
    for line in script:
        event = Command(line[1:]) if line.startswith("/") else Text(line)
        state = core.engine.handle(state, event, now).state
    if state.screen is None or state.screen.id != "stretch.position":
        raise RuntimeError(f"the picture script ends on {state.screen}, not on a stretch's position")
    return script


@contextmanager
def one_core():
    """This process on one core and the fake on another (when there is one)."""
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if len(cores) < 2:
        yield None
        return
    os.sched_setaffinity(0, {cores[0]})
    try:
        yield cores[1]
    finally:
        os.sched_setaffinity(0, set(cores))


async def one_round(fake: FakeApiProcess, bot, users: int, first: int, script: list[str]) -> dict:
    await fake.ask(cmd="reset")
    async with bot:
        await fake.polling()
        cpu = time.process_time()
        queued = (await fake.ask(cmd="load", users=users, first=first, script=script))["queued"]
        done = await fake.ask(cmd="wait", count=queued, timeout=180, quiet=0.5)
        cpu = time.process_time() - cpu
        if "error" in done:
            raise RuntimeError(done["error"])
    return {
        "updates": queued / done["elapsed"],
        "messages": done["sent"] / done["elapsed"],
        "cpu_ms": cpu * 1000 / done["sent"],
        "sent": done["sent"],
        "uploads": done["uploads"],
        "reuses": done["reuses"],
    }


async def rounds(quick: bool, folder: Path) -> tuple[dict[str, list[dict]], int, list[str]]:
    users, count = (100, 2) if quick else (300, 3)
    pictures = picture_script()
    runs: dict[str, list[dict]] = {}
    with one_core() as other:
        fake = FakeApiProcess(cpu=other)
        try:
            for n in range(count + 1):  # round 0 warms the bots up (and draws the picture) and is not counted
                first = 1_000_000 + n * users  # new users every round: each /start is a first contact
                bots = {
                    "echo": (echo_bot(fake.base_url, folder), SCRIPT),
                    "stretchbot": (stretch_bot(fake.base_url, folder / f"tg-{n}.db"), SCRIPT),
                    "echo, PTB defaults": (echo_bot(fake.base_url, folder, same_transport=False), SCRIPT),
                    "pictures": (
                        stretch_bot(fake.base_url, folder / f"pic-{n}.db", pictures=folder / "pictures"),
                        pictures,
                    ),
                }
                for name, (bot, script) in bots.items():
                    result = await one_round(fake, bot, users, first, script)
                    if n:
                        runs.setdefault(name, []).append(result)
        finally:
            fake.close()
    return runs, users, pictures


def _rounds(runs: list[dict], key: str, digits: int = 0) -> list:
    return [round(r[key], digits) if digits else round(r[key]) for r in runs]


async def measure(quick: bool) -> list[Result]:
    with tempfile.TemporaryDirectory(prefix="stretchbot-bench-") as tmp:
        runs, users, pictures = await rounds(quick, Path(tmp))
    ours, echo, pics, default = runs["stretchbot"], runs["echo"], runs["pictures"], runs["echo, PTB defaults"]
    how = f"median of {len(ours)} rounds"
    sent, cpu = median([r["messages"] for r in ours]), median([r["cpu_ms"] for r in ours])
    cpu_ratio = median([o["cpu_ms"] / e["cpu_ms"] for o, e in zip(ours, echo, strict=True)])
    rate_ratio = median([o["messages"] / e["messages"] for o, e in zip(ours, echo, strict=True)])
    default_ratio = median([o["messages"] / d["messages"] for o, d in zip(ours, default, strict=True)])
    pic_sent, pic_cpu = median([r["messages"] for r in pics]), median([r["cpu_ms"] for r in pics])
    updates = users * len(SCRIPT)
    return [
        Result(
            "telegram",
            "stretchbot, one core: messages/s sent",
            fmt(sent),
            f">= {TARGET} (> 3x Telegram's 30/s)",
            sent >= TARGET,
            f"{how}: {_rounds(ours, 'messages')}; {median([r['updates'] for r in ours]):.0f} updates/s; "
            f"{cpu:.2f} ms CPU per message (one core: {1000 / cpu:,.0f}/s); {updates} updates a round "
            f"({users} new users x {SCRIPT}); PTB Application + HTTPXRequest + runtime + outbox + sender",
        ),
        Result(
            "telegram",
            "echo bot, same transport: messages/s sent",
            fmt(median([r["messages"] for r in echo])),
            "",
            None,
            f"{how}: {_rounds(echo, 'messages')}; {median([r['cpu_ms'] for r in echo]):.2f} ms CPU per message; "
            "build()'s Application (HTTPXRequest settings, per-chat update processor), an echo handler",
        ),
        Result(
            "telegram",
            "ratio stretchbot / echo, same transport: CPU per message; throughput",
            f"{cpu_ratio:.2f}; {rate_ratio:.2f}",
            "",
            None,
            f"CPU per message by round {[round(o['cpu_ms'] / e['cpu_ms'], 2) for o, e in zip(ours, echo, strict=True)]}"
            ": what the engine, storage, outbox, sender and longer replies (HTML, keyboard, parsed back by "
            f"PTB) cost beyond a bare PTB handler; throughput / the echo bot on PTB's defaults {default_ratio:.2f} "
            "(the target before the outbox: >= 0.7)",
        ),
        Result(
            "telegram",
            "echo bot, PTB defaults: messages/s sent",
            fmt(median([r["messages"] for r in default])),
            "",
            None,
            f"{how}: {_rounds(default, 'messages')}; {median([r['cpu_ms'] for r in default]):.2f} ms CPU per "
            "message; ApplicationBuilder() defaults: one update at a time",
        ),
        Result(
            "telegram",
            "stretchbot with stretch pictures, one core: messages/s sent",
            fmt(pic_sent),
            f">= {TARGET}",
            pic_sent >= TARGET,
            f"{how}: {_rounds(pics, 'messages')}; {pic_cpu:.2f} ms CPU per message; {users} new users x "
            f"{pictures}: the last is a stretch's animation with caption and buttons; uploads / file_id reuses "
            f"per round {[(r['uploads'], r['reuses']) for r in pics]}",
        ),
    ]


def run(quick: bool) -> list[Result]:
    return asyncio.run(measure(quick))
