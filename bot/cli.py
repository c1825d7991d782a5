"""The `stretchbot` command: console, telegram, discord, check-content, migrate, render-pictures.

Configuration comes from the environment (tokens never from arguments, so they stay out of shell
history and process lists). Every start-up problem is one clear line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import logging
import os
import sys
import time
from pathlib import Path

from bot import ConfigError
from bot.app import Core, Settings, run_console, run_discord, run_telegram
from bot.logs import configure_logging
from bot.storage import open_storage
from dialogs.content import ContentError, load_content

log = logging.getLogger("stretchbot")


def cmd_check_content(settings: Settings, args: argparse.Namespace) -> int:
    content = load_content(settings.content_dir)
    print(f"content OK ({settings.content_dir}): {content.summary()}")
    for routine in content.routines.values():
        seconds = sum(content.stretches[s].hold_seconds * len(content.stretches[s].holds()) for s in routine.stretches)
        mode = "partner" if routine.partner else "solo"
        print(f"  routine {routine.id:<10} {mode:<7} {len(routine.stretches)} stretches, {seconds} s of holds")
    return 0


def cmd_render_pictures(settings: Settings, args: argparse.Namespace) -> int:
    """Draw every stretch's picture (cached by content hash) and copy them to --out to look at."""
    from bot.pictures import PictureStore  # here, not at the top: Pillow is for this command only

    content = load_content(settings.content_dir)
    began = time.perf_counter()
    store = PictureStore(content)
    pictures = store.render_all(Path(args.out) if args.out else None)
    elapsed = time.perf_counter() - began
    for picture in pictures:
        size = picture.path.stat().st_size
        print(f"{picture.path}  {picture.kind} {picture.width}x{picture.height}  {size / 1024:.0f} KB")
    print(f"{len(pictures)} pictures ({store.renders} drawn, {len(pictures) - store.renders} from the cache "
          f"{store.cache_dir}) in {elapsed:.2f} s")
    return 0


def cmd_console(settings: Settings, args: argparse.Namespace) -> int:
    core = Core.load(settings)
    try:
        asyncio.run(run_console(settings, core, args.user))
    except KeyboardInterrupt:
        print("\nBye. Stretch gently.")
    return 0


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
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
    core = Core.load(settings)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C where signal handlers are not available
        asyncio.run(run_telegram(settings, core, os.environ))
    return 0


def cmd_discord(settings: Settings, args: argparse.Namespace) -> int:
    core = Core.load(settings)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_discord(settings, core, os.environ))
    return 0


# ordinary network trouble of each platform's libraries: logged as one line, never a traceback
NETWORK_ERRORS = {
    "telegram": (("telegram.error", "NetworkError"), ("httpx", "TransportError")),
    "discord": (("aiohttp", "ClientError"),),
}


def _network_errors(command: str) -> tuple[type[BaseException], ...]:
    """Imported only for the command that uses them (the console never loads a platform library)."""
    return tuple(getattr(importlib.import_module(module), name) for module, name in NETWORK_ERRORS.get(command, ()))


COMMANDS = {
    "console": (cmd_console, "chat in this terminal (no token needed)"),
    "telegram": (cmd_telegram, "run the Telegram bot (TELEGRAM_TOKEN)"),
    "discord": (cmd_discord, "run the Discord bot (DISCORD_TOKEN)"),
    "check-content": (cmd_check_content, "validate content/ and print a summary"),
    "migrate": (cmd_migrate, "create or migrate the database schema"),
    "render-pictures": (cmd_render_pictures, "draw every stretch's picture (PNG/GIF) to look at"),
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
        if name == "render-pictures":
            cmd.add_argument("--out", help="also copy the pictures into this folder (default: only the cache)")
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        configure_logging(args.log_level, os.environ.get("LOG_FORMAT", "text"), expected=_network_errors(args.command))
        logging.getLogger("httpx").setLevel(logging.WARNING)  # httpx logs URLs, and Telegram URLs hold the token
        settings = Settings.from_env(os.environ, database_url=args.database_url, time_scale=args.time_scale,
                                     content_dir=args.content)
        return COMMANDS[args.command][0](settings, args)
    except (ConfigError, ContentError) as error:
        print(f"stretchbot: {error}", file=sys.stderr)
        return 2
