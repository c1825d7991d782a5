"""Measure 2: updates/s through the full Telegram stack, next to a bare PTB echo bot, same fake, same run.

The fake Bot API runs in another process (fake_api_server.py). Each round queues a script of updates
from many users at once and times until the bot's last reply arrives: for stretchbot every update
goes through the real PTB Application, bot/telegram_adapter.py, the engine and SQLite storage (one
sendMessage each: /start -> welcome menu, "hello" -> hint, /stretch -> first triage question); the
echo bot answers each with one sendMessage. The target compares with the echo bot as PTB builds it by
default (httpx); a third bot, the same echo on stretchbot's aiohttp transport, shows how much of the
difference is the transport and how much is stretchbot itself (no target). Rounds alternate between
the bots; medians reported.
"""
from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import tempfile
import time
from contextlib import asynccontextmanager
from pathlib import Path

from benchlib import Result, fmt, median, python_child, read_json_line
from telegram_harness import running  # start/stop a PTB Application inside this loop, as the tests do

TOKEN = "123456:" + "A" * 35  # shaped like a BotFather token; the fake accepts any such token
SCRIPT = ["/start", "hello", "/stretch"]


class FakeApiProcess:
    """fake_api_server.py in a child process; ask() sends one command and returns its answer."""

    def __init__(self) -> None:
        self.child = python_child("fake_api_server.py", stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.port = read_json_line(self.child, timeout=30)["port"]
        self.base_url = f"http://127.0.0.1:{self.port}/bot"

    async def ask(self, timeout: float = 120, **command: object) -> dict:
        def exchange() -> dict:
            self.child.stdin.write((json.dumps(command) + "\n").encode())
            self.child.stdin.flush()
            return read_json_line(self.child, timeout=timeout)

        return await asyncio.to_thread(exchange)

    async def polling(self, timeout: float = 10) -> None:
        """Return once a bot is long-polling (so queued updates are fetched at once)."""
        deadline = time.monotonic() + timeout
        while (await self.ask(cmd="pollers"))["pollers"] < 1:
            if time.monotonic() > deadline:
                raise TimeoutError("the bot never started polling")
            await asyncio.sleep(0.02)

    def close(self) -> None:
        self.child.stdin.close()
        self.child.terminate()
        self.child.wait(10)


@asynccontextmanager
async def echo_bot(base_url: str, *, our_transport: bool = False):
    """The baseline: PTB's defaults (httpx), or with stretchbot's aiohttp transport for the extra line."""
    from telegram.ext import ApplicationBuilder, MessageHandler, filters

    from bot.telegram_http import AiohttpRequest

    async def echo(update, context) -> None:
        await context.bot.send_message(update.effective_chat.id, update.effective_message.text)

    builder = ApplicationBuilder().token(TOKEN).base_url(base_url)
    if our_transport:
        builder = builder.request(AiohttpRequest(8)).get_updates_request(AiohttpRequest(1))
    application = builder.build()
    application.add_handler(MessageHandler(filters.TEXT, echo))
    async with running(application, poll_timeout=10, raise_handler_errors=False):
        yield application


@asynccontextmanager
async def stretch_bot(base_url: str, db: Path, *, time_scale: float = 1.0):
    """stretchbot as `stretchbot telegram` runs it (telegram_adapter.serve), rate limits off."""
    from bot import telegram_adapter as tg
    from bot.runtime import Runtime, SystemClock
    from bot.storage import open_storage
    from dialogs.content import load_content
    from dialogs.engine import Engine

    storage = await open_storage(f"sqlite:///{db}")
    runtime = Runtime(Engine(load_content(), time_scale=time_scale), storage, clock=SystemClock())
    config = tg.TelegramConfig(token=TOKEN, base_url=base_url, poll_timeout=10)
    no_limits = tg.Limits(overall_per_second=0, group_per_minute=0)
    adapter = tg.build(config, runtime, limits=no_limits)
    logging.getLogger("telegram").setLevel(logging.WARNING)  # build() leaves PTB's INFO lines on
    stop = asyncio.Event()
    serving = asyncio.create_task(tg.serve(adapter, config, stop))
    try:
        yield adapter
    finally:
        stop.set()
        await serving
        await storage.close()


async def one_round(fake: FakeApiProcess, bot, users: int, first: int) -> float:
    await fake.ask(cmd="reset")
    async with bot:
        await fake.polling()
        queued = (await fake.ask(cmd="load", users=users, first=first, script=SCRIPT))["queued"]
        done = await fake.ask(cmd="wait", count=queued, timeout=120)
        if "error" in done:
            raise RuntimeError(done["error"])
    return queued / done["elapsed"]


async def measure(quick: bool) -> list[Result]:
    users, rounds = (100, 2) if quick else (300, 3)
    rates: dict[str, list[float]] = {"echo": [], "stretchbot": [], "echo on aiohttp": []}
    fake = FakeApiProcess()
    try:
        with tempfile.TemporaryDirectory(prefix="stretchbot-bench-") as tmp:
            for n in range(rounds + 1):  # round 0 warms the bots up and is not counted
                first = 1_000 + n * users  # new users every round: each /start is a first contact
                bots = {"echo": echo_bot(fake.base_url),
                        "stretchbot": stretch_bot(fake.base_url, Path(tmp) / f"tg-{n}.db"),
                        "echo on aiohttp": echo_bot(fake.base_url, our_transport=True)}
                for name, bot in bots.items():
                    rate = await one_round(fake, bot, users, first)
                    if n:
                        rates[name].append(rate)
    finally:
        fake.close()
    ours, echo, echo_aiohttp = (median(rates[name]) for name in ("stretchbot", "echo", "echo on aiohttp"))
    ratios = [o / e for o, e in zip(rates["stretchbot"], rates["echo"])]
    same_transport = [o / e for o, e in zip(rates["stretchbot"], rates["echo on aiohttp"])]
    ratio = median(ratios)
    updates = users * len(SCRIPT)
    return [
        Result("telegram", "stretchbot full stack: updates/s", fmt(ours), "", None,
               f"PTB Application + telegram_adapter (Bot API over aiohttp, bot/telegram_http.py) + engine + "
               f"SQLite; {updates} updates a round ({users} users x {SCRIPT}); rounds: "
               f"{[round(r) for r in rates['stretchbot']]}"),
        Result("telegram", "bare PTB echo bot: updates/s", fmt(echo), "", None,
               f"PTB defaults (httpx); same fake (another process), same run; rounds: "
               f"{[round(r) for r in rates['echo']]}"),
        Result("telegram", "ratio stretchbot / echo", f"{ratio:.2f}", ">= 0.7", ratio >= 0.7,
               f"median of {rounds} paired rounds: {[round(r, 2) for r in ratios]}"),
        Result("telegram", "echo bot on stretchbot's aiohttp transport: updates/s", fmt(echo_aiohttp), "", None,
               f"no target; rounds: {[round(r) for r in rates['echo on aiohttp']]}"),
        Result("telegram", "ratio stretchbot / echo, same transport", f"{median(same_transport):.2f}", "", None,
               "no target: what engine, storage, adapter and larger replies (text + keyboard) cost beyond "
               f"bare PTB on the same transport; rounds: {[round(r, 2) for r in same_transport]}"),
    ]


def run(quick: bool) -> list[Result]:
    return asyncio.run(measure(quick))
