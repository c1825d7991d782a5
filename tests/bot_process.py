"""`stretchbot telegram` as a real child process (`python -m bot telegram`) for the kill tests, and the
record of what it committed to its outbox.

- BotProcess starts the bot against a Bot API fake with a SQLite file, kills it with SIGKILL (nothing
  runs on the way out: no finally, no close, no flush) or stops it with SIGTERM, and keeps what every
  incarnation logged in one file, for the failure message.
- record_commits() adds a trigger to the bot's database: outbox rows are deleted once sent, so the
  trigger copies each row into `committed` as it is inserted. It runs inside the bot's own transaction,
  so `committed` holds exactly what was committed (a step that rolled back leaves nothing there).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.storage import open_storage

TOKEN = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11"  # shaped like a BotFather token; not a real one
EXIT_SECONDS = 20  # a killed or stopped bot is gone within this (generous: two busy cores)


class BotProcess:
    """One bot incarnation after another over the same database, each a fresh `python -m bot telegram`."""

    def __init__(self, base_url: str, db: Path, log: Path, **settings: str) -> None:
        self.env = {
            "TELEGRAM_TOKEN": TOKEN,
            "TELEGRAM_BASE_URL": base_url,
            "DATABASE_URL": f"sqlite:///{db}",
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
            **settings,
        }
        self.log = log
        self.process: asyncio.subprocess.Process | None = None
        self.starts = 0

    async def start(self) -> None:
        assert self.process is None or self.process.returncode is not None, "the bot is still running"
        self.starts += 1
        with self.log.open("ab") as log:
            log.write(f"---- start {self.starts}\n".encode())
            log.flush()
            self.process = await asyncio.create_subprocess_exec(
                # the test's environment too: XDG_CACHE_HOME (tests/conftest.py) has the pictures drawn once per run
                sys.executable, "-m", "bot", "telegram", env={**os.environ, **self.env},
                stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def kill(self) -> None:
        """SIGKILL, and wait until the process is gone (its sockets closed by the kernel)."""
        assert self.process is not None and self.running, f"the bot died by itself:\n{self.log_tail()}"
        self.process.send_signal(signal.SIGKILL)
        await asyncio.wait_for(self.process.wait(), EXIT_SECONDS)

    async def stop(self) -> int | None:
        """SIGTERM (a clean stop), then SIGKILL if it does not end; the exit code (None: it was not running)."""
        if self.process is None or not self.running:
            return None
        self.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.process.wait(), EXIT_SECONDS)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
        return self.process.returncode

    def log_tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


# ---- what the bot committed, read from its database ----------------------------------------------------
RECORD_COMMITS = (
    "CREATE TABLE committed (id INTEGER PRIMARY KEY, chat TEXT NOT NULL, body TEXT NOT NULL)",
    "CREATE TRIGGER record_commit AFTER INSERT ON outbox BEGIN"
    " INSERT INTO committed (id, chat, body) VALUES (NEW.id, NEW.chat, NEW.body); END",
)


async def record_commits(db: Path) -> None:
    """Create the bot's schema (as `stretchbot migrate` would), then the trigger that keeps every outbox
    row ever committed."""
    storage = await open_storage(f"sqlite:///{db}")
    await storage.close()
    connection = sqlite3.connect(db)
    try:
        for statement in RECORD_COMMITS:
            connection.execute(statement)
        connection.commit()
    finally:
        connection.close()


@dataclass(frozen=True)
class Committed:
    id: int
    chat: str
    body: dict[str, Any]


@dataclass(frozen=True)
class Snapshot:
    """The database as a dead (or stopped) bot left it."""

    committed: list[Committed]  # every outbox row ever committed, in id order
    queued: set[int]  # ids still in the outbox (not marked sent)
    leased: dict[str, int]  # chat -> the id of the head row its sender had claimed (in flight)
    dead_letters: int


def snapshot(db: Path) -> Snapshot:
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        committed = [Committed(i, chat, json.loads(body))
                     for i, chat, body in connection.execute("SELECT id, chat, body FROM committed ORDER BY id")]
        queued = {i for (i,) in connection.execute("SELECT id FROM outbox")}
        leased = dict(connection.execute(
            "SELECT chat, head_id FROM outbox_chats WHERE claimed_by IS NOT NULL AND head_id IS NOT NULL"))
        (dead,) = connection.execute("SELECT count(*) FROM dead_letters").fetchone()
    finally:
        connection.close()
    return Snapshot(committed, queued, leased, dead)
