"""The `stretchbot` command: console, telegram, discord, check-content, migrate.

Configuration comes from the environment (tokens never from arguments, so they stay out of shell
history and process lists). Every start-up problem is one clear line on stderr and exit code 2.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from bot import ConfigError
from dialogs.content import DEFAULT_CONTENT_DIR, Content, ContentError, load_content
from dialogs.engine import Engine

log = logging.getLogger("stretchbot")


@dataclass(frozen=True)
class Settings:
    database_url: str | None
    time_scale: float
    content_dir: Path

    @classmethod
    def from_env(cls, args: argparse.Namespace) -> "Settings":
        raw_scale = args.time_scale if args.time_scale is not None else os.environ.get("STRETCHBOT_TIME_SCALE", "1")
        try:
            scale = float(raw_scale)
        except ValueError:
            raise ConfigError(f"STRETCHBOT_TIME_SCALE: {raw_scale!r} is not a number (try 0.05)") from None
        if not 0 < scale <= 1:
            raise ConfigError(f"STRETCHBOT_TIME_SCALE: {scale} must be more than 0 and at most 1")
        content = args.content or os.environ.get("STRETCHBOT_CONTENT") or DEFAULT_CONTENT_DIR
        return cls(database_url=args.database_url or os.environ.get("DATABASE_URL") or None,
                   time_scale=scale, content_dir=Path(content))


def build_engine(settings: Settings) -> Engine:
    return Engine(load_content(settings.content_dir), time_scale=settings.time_scale)


async def open_runtime(settings: Settings, engine: Engine, platform: str, deliver=None):
    from bot.runtime import Runtime, SystemClock
    from bot.storage import open_storage

    storage = await open_storage(settings.database_url)
    return Runtime(engine, storage, clock=SystemClock(), deliver=deliver, platforms=(platform,))


# ---- subcommands ----------------------------------------------------------------------------------
def cmd_check_content(settings: Settings, args: argparse.Namespace) -> int:
    content: Content = load_content(settings.content_dir)
    print(f"content OK ({settings.content_dir}): {content.summary()}")
    for routine in content.routines.values():
        seconds = sum(content.stretches[s].hold_seconds * len(content.stretches[s].holds()) for s in routine.stretches)
        mode = "partner" if routine.partner else "solo"
        print(f"  routine {routine.id:<10} {mode:<7} {len(routine.stretches)} stretches, {seconds} s of holds")
    return 0


def cmd_console(settings: Settings, args: argparse.Namespace) -> int:
    from bot.console import ConsoleChat, run_console
    from bot.storage import UserKey

    engine = build_engine(settings)

    async def main() -> None:
        runtime = await open_runtime(settings, engine, "console")
        chat = ConsoleChat(runtime, UserKey("console", args.user))
        runtime.deliver = chat.deliver
        try:
            await run_console(runtime, chat)
        finally:
            await runtime.storage.close()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        print("\nBye. Stretch gently.")
    return 0


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    from bot.storage import open_storage

    async def main() -> str:
        storage = await open_storage(settings.database_url)
        try:
            version = await storage.schema_version()
        finally:
            await storage.close()
        found = storage.found_version
        change = "already up to date" if found == version else f"migrated from version {found}"
        return f"{storage.backend} database {storage.location}: schema version {version} ({change})"

    print(asyncio.run(main()))
    return 0


def cmd_telegram(settings: Settings, args: argparse.Namespace) -> int:
    from bot import telegram_adapter

    return telegram_adapter.main(settings, build_engine(settings))


def cmd_discord(settings: Settings, args: argparse.Namespace) -> int:
    from bot import discord_adapter

    return discord_adapter.main(settings, build_engine(settings))


COMMANDS = {
    "console": (cmd_console, "chat in this terminal (no token needed)"),
    "telegram": (cmd_telegram, "run the Telegram bot (TELEGRAM_TOKEN)"),
    "discord": (cmd_discord, "run the Discord bot (DISCORD_TOKEN)"),
    "check-content": (cmd_check_content, "validate content/ and print a summary"),
    "migrate": (cmd_migrate, "create or migrate the database schema"),
}


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="stretchbot", description="Guided back stretches, safely.")
    root.add_argument("--log-level", default=os.environ.get("LOG_LEVEL", "WARNING"))
    sub = root.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (_, help_text) in COMMANDS.items():
        cmd = sub.add_parser(name, help=help_text, description=help_text)
        cmd.add_argument("--database-url", help="sqlite:///path or postgresql://... (default: $DATABASE_URL, "
                                                "else sqlite:///stretchbot.db)")
        cmd.add_argument("--time-scale", help="speed timers up, e.g. 0.05 (default: $STRETCHBOT_TIME_SCALE or 1)")
        cmd.add_argument("--content", help="content folder (default: the shipped content/)")
        if name == "console":
            cmd.add_argument("--user", default=os.environ.get("USER", "me"), help="whose profile to use")
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # httpx logs URLs, and Telegram URLs hold the token
    try:
        settings = Settings.from_env(args)
        return COMMANDS[args.command][0](settings, args)
    except (ConfigError, ContentError) as error:
        print(f"stretchbot: {error}", file=sys.stderr)
        return 2
