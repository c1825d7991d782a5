"""The bots the Telegram measures run, and the fake Bot API they talk to (in another process).

- stretch_bot(): stretchbot as `stretchbot telegram` runs it (bot.app.run_telegram): the real PTB
  Application with its HTTPXRequest, the runtime committing every reply to the outbox, the scheduler and
  the sender (bot.app.background) delivering through the Telegram transport; Telegram's rates off unless
  asked for, optionally with stretch pictures.
- echo_bot(): the baseline, a plain PTB echo bot answering each message in its handler, either on
  exactly stretchbot's transport (the Application that bot.telegram.adapter.build() makes, its handlers
  taken out: same HTTPXRequest settings, same per-chat update processor), or on PTB's defaults.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import time
from contextlib import asynccontextmanager
from pathlib import Path

from benchbot import load_core, no_rates
from benchlib import python_child, read_json_line
from telegram_harness import running  # start/stop a PTB Application inside this loop, as the tests do

TOKEN = "123456:" + "A" * 35  # shaped like a BotFather token; the fake accepts any such token


class FakeApiProcess:
    """fake_api_server.py in a child process; ask() sends one command and returns its answer."""

    def __init__(self, cpu: int | None = None) -> None:
        self.child = python_child("fake_api_server.py", stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        if cpu is not None:  # keep the fake off the bot's core
            os.sched_setaffinity(self.child.pid, {cpu})
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


def _config(base_url: str):
    from bot.telegram.config import TelegramConfig

    return TelegramConfig(token=TOKEN, base_url=base_url, poll_timeout=10)


@asynccontextmanager
async def stretch_bot(base_url: str, db: Path, *, time_scale: float = 1.0, pictures: Path | None = None, rates=None):
    """stretchbot as `stretchbot telegram` runs it against the fake; `pictures`: a cache folder for the
    stretch pictures (None: none drawn or sent); `rates`: Telegram's limits (None: off)."""
    from bot.app import background, make_parts, sender_for
    from bot.pictures import PictureStore
    from bot.runtime import SystemClock
    from bot.storage import open_storage
    from bot.telegram.adapter import build, serve

    core = load_core()
    storage = await open_storage(f"sqlite:///{db}")
    store = PictureStore(core.content, pictures) if pictures is not None else None
    parts = make_parts(core, storage, SystemClock(), "telegram", time_scale=time_scale, pictures=store)
    config = _config(base_url)
    adapter = build(config, parts.runtime, core.commands(), parts.outgoing, rates=rates or no_rates)
    logging.getLogger("telegram").setLevel(logging.WARNING)  # build() leaves PTB's INFO lines on
    stop = asyncio.Event()
    try:
        async with background(parts, sender_for(parts, adapter), {}):
            serving = asyncio.create_task(serve(adapter, config, stop))
            try:
                while not adapter.application.running:
                    if serving.done():
                        await serving  # it failed to start: say why
                    await asyncio.sleep(0.01)
                yield adapter
            finally:
                stop.set()
                await serving
    finally:
        await storage.close()


@asynccontextmanager
async def echo_bot(base_url: str, folder: Path, *, same_transport: bool = True):
    """A plain echo bot: each message answered with its own text, sent from the handler."""
    from telegram.ext import ApplicationBuilder, MessageHandler, filters

    from bot.app import make_parts
    from bot.runtime import SystemClock
    from bot.storage import open_storage
    from bot.telegram.adapter import build

    async def echo(update, context) -> None:
        await context.bot.send_message(update.effective_chat.id, update.effective_message.text)

    storage = None
    if same_transport:
        # build() needs a runtime to hand its handlers; they are taken out, so it never handles anything
        core = load_core()
        storage = await open_storage(f"sqlite:///{folder / f'echo-{time.monotonic_ns()}.db'}")
        parts = make_parts(core, storage, SystemClock(), "telegram")
        application = build(_config(base_url), parts.runtime, [], parts.outgoing, rates=no_rates).application
        for group, handlers in list(application.handlers.items()):
            for handler in list(handlers):
                application.remove_handler(handler, group)
        application.error_handlers.clear()
    else:
        application = ApplicationBuilder().token(TOKEN).base_url(base_url).build()
    application.add_handler(MessageHandler(filters.TEXT, echo))
    try:
        async with running(application, poll_timeout=10, raise_handler_errors=False):
            yield application
    finally:
        if storage is not None:
            await storage.close()
