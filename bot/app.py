"""The composition root: builds content, engine, renderer, storage, runtime, sender and the chosen adapter,
and hands each what it needs. Nothing else in bot/ puts these together, and no module imports upward.

A running bot is four loops over one database: the platform's input (polling, the gateway, the
terminal), the scheduler (timers), the sender (the outbox) and, when asked for, the operators' endpoint
(/healthz, /metrics). Platform libraries are imported inside the function that runs that platform, so
`stretchbot console` never loads python-telegram-bot or discord.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from bot import ConfigError
from bot.clock import Clock, SystemClock
from bot.delivery import Sender, Transport
from bot.metrics import Metrics
from bot.ops import OpsSettings, ops_server
from bot.outgoing import Outgoing
from bot.runtime import Runtime
from bot.storage import Storage, UserKey, open_storage
from dialogs.content import DEFAULT_CONTENT_DIR, Content, load_content
from dialogs.engine import Engine
from dialogs.render import Renderer

if TYPE_CHECKING:
    from bot.pictures import PictureStore

STOP_GRACE_SECONDS = 5.0  # on SIGTERM: sends in flight may finish (what is cut off is sent again later)
# How long a claimed timer or outbox message stays with the process that claimed it: after a crash, what it
# held is taken over (fired, sent again) this long after the claim. It must outlast a send (PTB's timeouts
# are 10 s), so production keeps the default; a demo or test that kills processes on purpose shortens it.
DEFAULT_LEASE_SECONDS = 60.0
# shorter, a send that waited out a rate limit (up to 2 s) could outlast its lease and go twice
MIN_LEASE_SECONDS = 5.0


@dataclass(frozen=True)
class Settings:
    database_url: str | None
    time_scale: float
    content_dir: Path
    lease_seconds: float = DEFAULT_LEASE_SECONDS

    @classmethod
    def from_env(cls, environ: Mapping[str, str], *, database_url: str | None = None, time_scale: str | None = None,
                 content_dir: str | None = None) -> Settings:
        """Settings from command-line values where given, else the environment."""
        raw_scale = time_scale if time_scale is not None else environ.get("STRETCHBOT_TIME_SCALE", "1")
        try:
            scale = float(raw_scale)
        except ValueError:
            raise ConfigError(f"STRETCHBOT_TIME_SCALE: {raw_scale!r} is not a number (try 0.05)") from None
        if not 0 < scale <= 1:
            raise ConfigError(f"STRETCHBOT_TIME_SCALE: {scale} must be more than 0 and at most 1")
        content = content_dir or environ.get("STRETCHBOT_CONTENT") or DEFAULT_CONTENT_DIR
        raw_lease = environ.get("STRETCHBOT_LEASE_SECONDS", "").strip() or str(DEFAULT_LEASE_SECONDS)
        try:
            lease = float(raw_lease)
        except ValueError:
            raise ConfigError(f"STRETCHBOT_LEASE_SECONDS: {raw_lease!r} is not a number (default 60)") from None
        if not MIN_LEASE_SECONDS <= lease <= 3600:
            raise ConfigError(f"STRETCHBOT_LEASE_SECONDS: {lease:g} must be from {MIN_LEASE_SECONDS:g} to 3600 "
                              "(default 60)")
        return cls(database_url=database_url or environ.get("DATABASE_URL") or None, time_scale=scale,
                   content_dir=Path(content), lease_seconds=lease)


@dataclass(frozen=True)
class Core:
    """What every process needs, whatever its platform: content, the engine and the renderer."""

    content: Content
    engine: Engine
    renderer: Renderer

    @classmethod
    def load(cls, settings: Settings) -> Core:
        content = load_content(settings.content_dir)
        engine = Engine(content)
        return cls(content, engine, Renderer(content, engine.screens))

    def commands(self) -> list[tuple[str, str]]:
        """The command menu (name, description), from content, for Telegram and Discord alike."""
        return [(command.name, command.description) for command in self.content.wording.commands]


@dataclass
class Parts:
    """One process's runtime and what delivers its messages, over one open storage."""

    runtime: Runtime
    outgoing: Outgoing
    metrics: Metrics
    doorbell: asyncio.Event  # rung when the runtime commits messages: the sender wakes for them
    lease: timedelta = timedelta(seconds=DEFAULT_LEASE_SECONDS)  # the sender's, as the runtime's claims


def make_parts(core: Core, storage: Storage, clock: Clock, platform: str, *, time_scale: float = 1.0,
               users: tuple[str, ...] | None = None, pictures: PictureStore | None = None,
               lease_seconds: float = DEFAULT_LEASE_SECONDS) -> Parts:
    """A runtime and its outgoing side over an open storage (tests pass a FakeClock and a SQLite file)."""
    metrics, doorbell, lease = Metrics(), asyncio.Event(), timedelta(seconds=lease_seconds)
    runtime = Runtime(core.engine, storage, clock=clock, renderer=core.renderer, time_scale=time_scale,
                      platforms=(platform,), users=users, metrics=metrics, notify=doorbell.set, claim_lease=lease)
    outgoing = Outgoing(storage, core.renderer, core.content, clock, pictures)
    return Parts(runtime, outgoing, metrics, doorbell, lease)


async def open_parts(settings: Settings, core: Core, platform: str, *, users: tuple[str, ...] | None = None) -> Parts:
    from bot.pictures import PictureStore  # draws nothing until a picture is first asked for

    storage = await open_storage(settings.database_url)
    return make_parts(core, storage, SystemClock(), platform, time_scale=settings.time_scale, users=users,
                      pictures=PictureStore(core.content), lease_seconds=settings.lease_seconds)


def sender_for(parts: Parts, transport: Transport, *, chats: tuple[str, ...] | None = None) -> Sender:
    runtime = parts.runtime
    return Sender(runtime.storage, [transport], clock=runtime.clock, metrics=parts.metrics,
                  on_unreachable=runtime.on_undeliverable, wake=parts.doorbell, chats=chats, lease=parts.lease,
                  notice_for=lambda chat: {"kind": "notice", "safety": False, "notice": {"key": "still_answering"}})


def stop_on_signals(stop: asyncio.Event) -> None:
    """SIGINT and SIGTERM (a platform stopping the process) end the run cleanly: storage is closed."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # Windows: Ctrl-C raises KeyboardInterrupt
            loop.add_signal_handler(sig, stop.set)


@contextlib.asynccontextmanager
async def background(parts: Parts, sender: Sender, environ: Mapping[str, str]) -> AsyncIterator[None]:
    """The scheduler, the sender and (when STRETCHBOT_OPS_PORT is set) /healthz and /metrics, for as long
    as the platform runs; on the way out the sender finishes what it is sending."""
    runtime = parts.runtime
    ops = OpsSettings.from_env(environ)
    async with contextlib.AsyncExitStack() as stack:
        if ops is not None:
            await stack.enter_async_context(
                ops_server(ops, parts.metrics, stats=lambda: runtime.storage.outbox_stats(runtime.platforms)))
        scheduler = asyncio.create_task(runtime.run_scheduler(), name="scheduler")
        delivering = asyncio.create_task(sender.run(), name="sender")
        try:
            yield
        finally:
            scheduler.cancel()
            sender.stop(grace=STOP_GRACE_SECONDS)
            await asyncio.gather(scheduler, delivering, return_exceptions=True)


async def _run(parts: Parts, run: Callable[[], Awaitable[None]]) -> None:
    try:
        await run()
    finally:
        await parts.runtime.storage.close()


# ---- the platforms ----------------------------------------------------------------------------------
async def run_console(settings: Settings, core: Core, user: str) -> None:
    from bot.console import ConsoleChat
    from bot.console import run_console as chat_loop

    # a terminal fires only its own user's timers and prints only its own messages: two consoles on one
    # database never see each other's cues or reminders
    parts = await open_parts(settings, core, "console", users=(user,))
    chat = ConsoleChat(parts.runtime, UserKey("console", user), parts.outgoing)
    await _run(parts, lambda: chat_loop(parts.runtime, chat, sender_for(parts, chat, chats=(chat.chat,))))


async def run_telegram(settings: Settings, core: Core, environ: Mapping[str, str]) -> None:
    from bot.telegram.adapter import build, serve
    from bot.telegram.config import TelegramConfig, protect_token

    config = TelegramConfig.from_env(environ)
    protect_token(config.token)
    os.environ.setdefault("PTB_TIMEDELTA", "true")  # PTB 22 warns on every RetryAfter without it
    parts = await open_parts(settings, core, "telegram")

    async def run() -> None:
        adapter = build(config, parts.runtime, core.commands(), parts.outgoing)
        stop = asyncio.Event()
        stop_on_signals(stop)
        async with background(parts, sender_for(parts, adapter), environ):
            await serve(adapter, config, stop)

    await _run(parts, run)


async def run_discord(settings: Settings, core: Core, environ: Mapping[str, str]) -> None:
    from bot.discord.adapter import DiscordBot, read_guild_id, read_token, serve

    token, guild_id = read_token(environ), read_guild_id(environ)
    parts = await open_parts(settings, core, "discord")

    async def run() -> None:
        bot = DiscordBot(parts.runtime, core.commands(), parts.outgoing, guild_id=guild_id)
        stop = asyncio.Event()
        stop_on_signals(stop)
        async with background(parts, sender_for(parts, bot), environ):
            await serve(bot, token, stop)

    await _run(parts, run)
