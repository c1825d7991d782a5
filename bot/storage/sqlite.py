"""SQLite storage (aiosqlite): one file, the default. The tables and the SQL are SqlStorage's (sql.py).

Several processes may share the file (WAL, and BEGIN IMMEDIATE waits up to BUSY_TIMEOUT_MS for the
write lock), which suits one machine; for several machines use PostgreSQL (postgres.py).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Coroutine
from datetime import datetime, timedelta
from typing import Any, cast

import aiosqlite

from bot.storage.base import Params, Row, StorageConfigError, T, TimerRow, Transaction, Tx, only, to_ms
from bot.storage.sql import CLAIMED_COLUMNS, SqlStorage

BUSY_TIMEOUT_MS = 5000  # another process holding the write lock: wait this long before failing


class _SqliteTx:
    """The shared SQL on the raw sqlite3 connection, inside aiosqlite's own thread.

    The methods are coroutines only to fit the Tx protocol the shared SQL awaits; they never
    suspend, so a whole transaction body runs to its end in one call (see _run_to_end)."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    async def execute(self, sql: str, params: Params = ()) -> int:
        return self._connection.execute(sql, params).rowcount

    async def fetch(self, sql: str, params: Params = ()) -> list[Row]:
        return self._connection.execute(sql, params).fetchall()

    async def execute_many(self, sql: str, rows: list[Params]) -> None:
        if rows:
            self._connection.executemany(sql, rows)


def _run_to_end(body: Coroutine[Any, Any, T]) -> T:
    """Drive a transaction body whose only awaits are _SqliteTx calls (which never suspend)."""
    try:
        body.send(None)
    except StopIteration as done:
        return cast(T, done.value)
    body.close()
    raise RuntimeError("a SQLite transaction body awaited something other than the database")


async def _use_wal(db: aiosqlite.Connection) -> None:
    """Switch the file to WAL. The switch fails at once with "database is locked", without waiting on
    busy_timeout, while another process opening the same new file holds its lock (seen with four bots
    starting together), so it is retried for up to BUSY_TIMEOUT_MS; a file already in WAL is left alone."""
    deadline = asyncio.get_running_loop().time() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            async with db.execute("PRAGMA journal_mode") as cursor:
                row = await cursor.fetchone()
            if row is not None and str(row[0]).lower() == "wal":
                return
            await db.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.05)


class SqliteStorage(SqlStorage):
    """Storage on one aiosqlite connection. Each transaction is one call on aiosqlite's thread, which
    runs calls one at a time in the order they were made, so transactions never interleave; each
    starts with BEGIN IMMEDIATE, so other processes wait on busy_timeout."""

    backend = "SQLite"
    META_EXISTS_SQL = "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'"

    def __init__(self, db: aiosqlite.Connection, path: str) -> None:
        self._db = db
        self.path = self.location = path

    @classmethod
    async def open(cls, path: str) -> SqliteStorage:
        if sqlite3.sqlite_version_info < (3, 35, 0):
            raise StorageConfigError(
                f"SQLite {sqlite3.sqlite_version} is too old: stretchbot needs 3.35 or newer (RETURNING)"
            )
        try:
            # probe with plain sqlite3 first: when aiosqlite.connect() itself fails, its worker thread
            # reports back to the event loop later, possibly after the loop has closed
            await asyncio.to_thread(lambda: sqlite3.connect(path).close())
            db = await aiosqlite.connect(path, isolation_level=None)  # we issue BEGIN/COMMIT ourselves
        except sqlite3.Error as error:
            raise StorageConfigError(f"cannot open SQLite database {path}: {error}") from None
        storage = cls(db, path)
        try:
            await db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            await _use_wal(db)
            # With WAL, NORMAL still never corrupts and never loses a commit when the process dies;
            # only a power cut may lose the last few. FULL flushes the disk on every commit, which
            # halved the scheduler's throughput in tests/bench (one commit per batch now, too).
            await db.execute("PRAGMA synchronous = NORMAL")
            await storage._migrate()
        except StorageConfigError:
            await db.close()
            raise
        except sqlite3.Error as error:
            await db.close()
            raise StorageConfigError(f"cannot open SQLite database {path}: {error}") from None
        return storage

    async def _transaction(self, work: Transaction[T], *, write: bool = True) -> T:
        """Run `work(tx)` inside BEGIN IMMEDIATE .. COMMIT (rolled back on any exception); reads skip it.

        The whole transaction runs in ONE call on aiosqlite's thread rather than a thread round trip per
        statement: that waiting was a third of a Telegram update's extra cost in tests/bench. No lock
        around it either: a trip to the thread and back costs ~70-200 us of CPU (two thread wake-ups),
        but calls made while the thread is busy queue up and run back to back, sharing wake-ups; a lock
        made every caller wait for the previous trip to finish (5x the CPU per update in tests/bench
        with 64 users at once)."""
        # aiosqlite's _execute runs one call on its thread (private API, kept to one line here)
        result = await self._db._execute(self._in_thread, work, write)
        return cast(T, result)

    def _in_thread(self, work: Transaction[T], write: bool) -> T:
        connection = self._db._conn  # aiosqlite's sqlite3 connection; we are on its thread
        if not write:
            return _run_to_end(cast(Coroutine[Any, Any, T], work(_SqliteTx(connection))))
        connection.execute("BEGIN IMMEDIATE")
        try:
            result = _run_to_end(cast(Coroutine[Any, Any, T], work(_SqliteTx(connection))))
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")
        return result

    async def claim_due(
        self, now: datetime, *, limit: int, lease: timedelta, owner: str, platforms: tuple[str, ...] | None = None,
        users: tuple[str, ...] | None = None,
    ) -> list[TimerRow]:
        now_ms = to_ms(now)
        where, params = only(platforms, also=("user_id", users))
        # one statement for the whole batch; BEGIN IMMEDIATE keeps other processes out meanwhile
        rows = await self._transaction(
            lambda tx: tx.fetch(
                "UPDATE timers SET claimed_by = ?, claimed_until_ms = ? WHERE rowid IN ("
                " SELECT rowid FROM timers WHERE due_ms <= ?"
                f" AND (claimed_until_ms IS NULL OR claimed_until_ms <= ?){where}"
                f" ORDER BY due_ms LIMIT ?) RETURNING {CLAIMED_COLUMNS}",
                (owner, to_ms(now + lease), now_ms, now_ms, *params, limit),
            )
        )
        return self._claimed(rows)

    async def _claim_chats(
        self, tx: Tx, now_ms: int, lease_end_ms: int, owner: str, where: str, params: Params, limit: int
    ) -> list[Row]:
        # one statement; BEGIN IMMEDIATE keeps other processes out meanwhile
        return await tx.fetch(
            "UPDATE outbox_chats SET claimed_by = ?, claimed_at_ms = ?, ready_ms = ? WHERE chat IN ("
            f" SELECT chat FROM outbox_chats WHERE ready_ms <= ?{where} ORDER BY ready_ms, first_id LIMIT ?)"
            " RETURNING chat, pending",
            (owner, now_ms, lease_end_ms, now_ms, *params, limit),
        )

    async def close(self) -> None:
        await self._db.close()  # after the calls already made: aiosqlite's queue is first in, first out
