"""`stretchbot telegram` and `stretchbot discord` as real processes (`python -m bot`), stopped the way a
platform stops them (systemd, Docker, a PaaS): SIGTERM. Each must exit 0 promptly, without a traceback,
having closed its storage: SQLite checkpoints the write-ahead log into the database and deletes the -wal
file only when the last connection closes cleanly, so a -wal file left behind means storage was not
closed (a killed process leaves it). Telegram talks to the Bot API fake; Discord to the small local
Discord of tests/discord_gateway_fake.py (simcord works in-process only), which also lets a process
see its token rejected.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path

import telegram_harness
from discord_gateway_fake import FakeDiscord
from telegram_fake import FakeBotApi
from telegram_world import ALICE, TOKEN

bot_api = telegram_harness.bot_api
DISCORD_TOKEN = "A" * 26 + "." + "B" * 6 + "." + "C" * 38  # the shape of a bot token, nothing more
START_SECONDS = 30.0  # a cold start imports a platform library and draws nothing: seconds, on a busy machine
STOP_SECONDS = 8.0  # "promptly": the sender's grace for sends in flight (bot.app.STOP_GRACE_SECONDS) is 5 s


async def start(command: str, db: Path, **environ: str) -> asyncio.subprocess.Process:
    # the defaults (log level, no ops port...), whatever the environment running the tests sets
    settings = ("STRETCHBOT_", "LOG_", "DISCORD_", "TELEGRAM_", "DATABASE_URL")
    inherited = {name: value for name, value in os.environ.items() if not name.startswith(settings)}
    env = {**inherited, "DATABASE_URL": f"sqlite:///{db}", **environ}
    return await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", command, env=env,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)


async def until(condition: Callable[[], bool], process: asyncio.subprocess.Process, what: str) -> None:
    """Poll `condition` (the process's progress is seen from outside) until it holds; fail if the process
    ends first or START_SECONDS pass."""
    deadline = time.monotonic() + START_SECONDS
    while not condition():
        if process.returncode is not None or time.monotonic() > deadline:
            if process.returncode is None:
                process.kill()
            _, err = await process.communicate()
            raise AssertionError(f"no {what} (exit {process.returncode}); stderr:\n{err.decode()[-3000:]}")
        await asyncio.sleep(0.05)


async def terminate(process: asyncio.subprocess.Process) -> tuple[int, float, str]:
    """SIGTERM; returns (exit code, seconds until it exited, stderr)."""
    sent = time.monotonic()
    process.send_signal(signal.SIGTERM)
    try:
        _, err = await asyncio.wait_for(process.communicate(), STOP_SECONDS * 3)
    except TimeoutError:
        process.kill()
        raise AssertionError("the process ignored SIGTERM") from None
    return process.returncode, time.monotonic() - sent, err.decode()


def wal(db: Path) -> Path:
    return db.with_name(db.name + "-wal")


def assert_closed_cleanly(db: Path) -> None:
    assert not wal(db).exists(), "the write-ahead log was left behind: storage was not closed"
    with sqlite3.connect(db) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)


async def test_telegram_exits_0_on_sigterm_with_storage_closed(bot_api: FakeBotApi, tmp_path: Path) -> None:
    db = tmp_path / "bot.db"
    process = await start("telegram", db, TELEGRAM_TOKEN=TOKEN, TELEGRAM_BASE_URL=bot_api.base_url)
    await until(lambda: bot_api.waiting_pollers > 0, process, "long poll")
    mark = bot_api.mark()
    bot_api.send_command(ALICE, None, "/start")  # a committed step: the database has something to checkpoint
    await until(lambda: any(c.method == "sendMessage" for c in bot_api.calls[mark:]), process, "reply to /start")
    assert wal(db).stat().st_size > 0  # running: commits wait in the write-ahead log

    code, seconds, stderr = await terminate(process)

    print(f"\ntelegram: SIGTERM -> exit {code} in {seconds:.2f} s")
    assert code == 0 and seconds < STOP_SECONDS
    assert stderr == ""  # at the default log level a clean start and stop say nothing
    assert_closed_cleanly(db)
    with sqlite3.connect(db) as connection:  # the step before the signal was kept
        assert connection.execute("SELECT COUNT(*) FROM users").fetchone() == (1,)


async def test_discord_exits_0_on_sigterm_with_storage_closed(tmp_path: Path) -> None:
    db = tmp_path / "bot.db"
    async with FakeDiscord() as discord:
        process = await start("discord", db, DISCORD_TOKEN=DISCORD_TOKEN, **discord.environ())
        await until(discord.identified.is_set, process, "gateway connection (IDENTIFY)")
        assert {command["name"] for command in discord.commands} >= {"start", "stretch", "help"}
        assert wal(db).stat().st_size > 0  # running: the schema it created waits in the write-ahead log

        code, seconds, stderr = await terminate(process)

    print(f"\ndiscord: SIGTERM -> exit {code} in {seconds:.2f} s")
    assert code == 0 and seconds < STOP_SECONDS
    assert stderr == ""  # at the default log level a clean start and stop say nothing
    assert_closed_cleanly(db)
    assert not discord.unexpected


async def test_discord_turns_a_rejected_token_into_one_line(tmp_path: Path) -> None:
    # the process-level twin of tests/test_discord_config.py: what an operator sees on stderr, all of it
    db = tmp_path / "bot.db"
    async with FakeDiscord() as discord:
        discord.reject_token = True
        process = await start("discord", db, DISCORD_TOKEN=DISCORD_TOKEN, **discord.environ())
        _, err = await asyncio.wait_for(process.communicate(), START_SECONDS)

    stderr = err.decode().strip()
    assert process.returncode == 2
    assert stderr.splitlines() == [stderr] and stderr.startswith("stretchbot: DISCORD_TOKEN was rejected by Discord")
    assert DISCORD_TOKEN not in stderr
    assert_closed_cleanly(db)
