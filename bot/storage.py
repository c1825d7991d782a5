"""Durable state for the runtime: users, timers and session history in SQLite (aiosqlite).

One row per user holds the engine's state document plus a version for optimistic concurrency; the
timers the engine scheduled live next to it and are written in the same transaction as the state
change that made them, so a restart never loses or duplicates a reminder. Times are integer epoch
milliseconds (UTC): cheap to compare and identical on PostgreSQL. The SQL stays plain so that
bot/storage_pg.py can mirror it with asyncpg.
"""
from __future__ import annotations

import asyncio
import json
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import aiosqlite
from bot import ConfigError

DEFAULT_SQLITE_PATH = "./stretchbot.db"
BUSY_TIMEOUT_MS = 5000  # another process holding the write lock: wait this long before failing
ACCEPTED_URLS = "sqlite:///relative/path.db or sqlite:////absolute/path.db (unset: ./stretchbot.db)"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class StorageConfigError(ConfigError):
    """The storage URL is wrong or the database cannot be opened. str() is one line for the CLI."""


@dataclass(frozen=True)
class UserKey:
    """Who a state belongs to."""

    platform: str  # "console" | "telegram" | "discord"
    user_id: str  # platform user id as text


@dataclass(frozen=True)
class TimerRow:
    key: UserKey
    name: str  # stable per user ("hold", "daily"): scheduling again replaces
    due: datetime  # aware UTC
    payload: dict


@dataclass(frozen=True)
class Loaded:
    state_json: str | None  # None for a new user
    version: int  # 0 for a new user
    address: dict  # the adapter's opaque delivery address; {} if none


@dataclass(frozen=True)
class HistoryRow:
    outcome: str
    routine: str | None
    level: str | None
    stretches_done: int
    seconds: int
    ended_at: datetime


class Storage(Protocol):
    async def load(self, key: UserKey) -> Loaded: ...

    async def save(self, key: UserKey, *, expected_version: int, state_json: str, address: dict | None,
                   profile: dict, schedule: list[TimerRow], cancel: list[str],
                   history: list[HistoryRow], fired: TimerRow | None = None) -> bool: ...

    async def claim_due(self, now: datetime, *, limit: int, lease: timedelta,
                        owner: str) -> list[TimerRow]: ...

    async def next_due(self) -> datetime | None: ...

    async def history(self, key: UserKey) -> list[HistoryRow]: ...

    async def export_user(self, key: UserKey) -> dict: ...

    async def forget_user(self, key: UserKey) -> None: ...

    async def close(self) -> None: ...


def to_ms(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment.isoformat()}: storage needs aware UTC times")
    return (moment - EPOCH) // timedelta(milliseconds=1)


def from_ms(ms: int) -> datetime:
    return EPOCH + timedelta(milliseconds=ms)


def _optional_ms(moment: datetime | None) -> int | None:
    return None if moment is None else to_ms(moment)


def _optional_iso(ms: int | None) -> str | None:
    return None if ms is None else from_ms(ms).isoformat()


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


# ---- schema -------------------------------------------------------------------------------------
# Each entry is one migration step (a tuple of statements), applied in order inside one transaction.
# Never edit a released step: append a new one. The schema version is len(MIGRATIONS).
MIGRATIONS: list[tuple[str, ...]] = [
    (
        """CREATE TABLE users (
            platform TEXT NOT NULL,
            user_id TEXT NOT NULL,
            address TEXT NOT NULL DEFAULT '{}',
            timezone TEXT,
            last_triage_at_ms BIGINT,
            last_triage_level TEXT,
            state TEXT NOT NULL,
            version BIGINT NOT NULL,
            created_ms BIGINT NOT NULL,
            updated_ms BIGINT NOT NULL,
            PRIMARY KEY (platform, user_id))""",
        """CREATE TABLE timers (
            platform TEXT NOT NULL,
            user_id TEXT NOT NULL,
            name TEXT NOT NULL,
            due_ms BIGINT NOT NULL,
            payload TEXT NOT NULL DEFAULT '{}',
            claimed_by TEXT,
            claimed_until_ms BIGINT,
            PRIMARY KEY (platform, user_id, name))""",
        "CREATE INDEX timers_due ON timers (due_ms)",
        """CREATE TABLE history (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            platform TEXT NOT NULL,
            user_id TEXT NOT NULL,
            outcome TEXT NOT NULL,
            routine TEXT,
            level TEXT,
            stretches_done INTEGER NOT NULL,
            seconds INTEGER NOT NULL,
            ended_ms BIGINT NOT NULL)""",
        "CREATE INDEX history_user ON history (platform, user_id)",
    ),
]
USER_TABLES = ("users", "timers", "history")  # every table with rows about a user (forget/export)

# A claimed timer becomes claimable again when its lease runs out; until then it is not "due".
_CLAIMABLE_AT = "CASE WHEN claimed_until_ms > due_ms THEN claimed_until_ms ELSE due_ms END"


class SqliteStorage:
    """Storage on one aiosqlite connection. Transactions are serialised by an asyncio.Lock (the
    connection is shared) and start with BEGIN IMMEDIATE, so other processes wait on busy_timeout."""

    def __init__(self, db: aiosqlite.Connection, path: str) -> None:
        self._db = db
        self.path = path
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: str) -> "SqliteStorage":
        if sqlite3.sqlite_version_info < (3, 35, 0):
            raise StorageConfigError(
                f"SQLite {sqlite3.sqlite_version} is too old: stretchbot needs 3.35 or newer (RETURNING)")
        try:
            # probe with plain sqlite3 first: when aiosqlite.connect() itself fails, its worker thread
            # reports back to the event loop later, possibly after the loop has closed
            await asyncio.to_thread(lambda: sqlite3.connect(path).close())
            db = await aiosqlite.connect(path, isolation_level=None)  # we issue BEGIN/COMMIT ourselves
        except sqlite3.Error as error:
            raise StorageConfigError(f"cannot open SQLite database {path}: {error}") from None
        try:
            await db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            await db.execute("PRAGMA journal_mode = WAL")
            await _migrate(db)
        except StorageConfigError:
            await db.close()
            raise
        except sqlite3.Error as error:
            await db.close()
            raise StorageConfigError(f"cannot open SQLite database {path}: {error}") from None
        return cls(db, path)

    async def _transaction(self, work) -> Any:
        """Run `work(db)` inside BEGIN IMMEDIATE .. COMMIT; roll back on any exception."""
        async with self._lock:
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                result = await work(self._db)
            except BaseException:
                await self._db.execute("ROLLBACK")
                raise
            await self._db.execute("COMMIT")
            return result

    async def _read(self, sql: str, params: tuple = ()) -> list[tuple]:
        async with self._lock:
            async with self._db.execute(sql, params) as cursor:
                return list(await cursor.fetchall())

    # ---- users ---------------------------------------------------------------------------------
    async def load(self, key: UserKey) -> Loaded:
        rows = await self._read("SELECT state, version, address FROM users WHERE platform = ? AND user_id = ?",
                                (key.platform, key.user_id))
        if not rows:
            return Loaded(state_json=None, version=0, address={})
        state, version, address = rows[0]
        return Loaded(state_json=state, version=version, address=json.loads(address))

    async def save(self, key: UserKey, *, expected_version: int, state_json: str, address: dict | None,
                   profile: dict, schedule: list[TimerRow], cancel: list[str],
                   history: list[HistoryRow], fired: TimerRow | None = None) -> bool:
        who = (key.platform, key.user_id)
        now = to_ms(datetime.now(UTC))
        columns = (profile.get("timezone"), _optional_ms(profile.get("last_triage_at")),
                   profile.get("last_triage_level"))

        async def work(db: aiosqlite.Connection) -> bool:
            if expected_version == 0:
                cursor = await db.execute(
                    "INSERT INTO users (platform, user_id, address, timezone, last_triage_at_ms,"
                    " last_triage_level, state, version, created_ms, updated_ms)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?) ON CONFLICT (platform, user_id) DO NOTHING",
                    (*who, _json(address or {}), *columns, state_json, now, now))
            else:
                cursor = await db.execute(
                    "UPDATE users SET address = COALESCE(?, address), timezone = ?, last_triage_at_ms = ?,"
                    " last_triage_level = ?, state = ?, version = version + 1, updated_ms = ?"
                    " WHERE platform = ? AND user_id = ? AND version = ?",
                    (None if address is None else _json(address), *columns, state_json, now, *who,
                     expected_version))
            if cursor.rowcount != 1:
                return False  # lost the race: nothing was written, so the COMMIT changes nothing
            # the fired row goes first: a step may schedule the same name again, and that must stay
            if fired is not None:
                await db.execute("DELETE FROM timers WHERE platform = ? AND user_id = ? AND name = ?"
                                 " AND due_ms = ?", (*who, fired.name, to_ms(fired.due)))
            for name in cancel:
                await db.execute("DELETE FROM timers WHERE platform = ? AND user_id = ? AND name = ?",
                                 (*who, name))
            for timer in schedule:
                await db.execute(
                    "INSERT INTO timers (platform, user_id, name, due_ms, payload) VALUES (?, ?, ?, ?, ?)"
                    " ON CONFLICT (platform, user_id, name) DO UPDATE SET due_ms = excluded.due_ms,"
                    " payload = excluded.payload, claimed_by = NULL, claimed_until_ms = NULL",
                    (*who, timer.name, to_ms(timer.due), _json(timer.payload)))
            for row in history:
                await db.execute(
                    "INSERT INTO history (platform, user_id, outcome, routine, level, stretches_done,"
                    " seconds, ended_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (*who, row.outcome, row.routine, row.level, row.stretches_done, row.seconds,
                     to_ms(row.ended_at)))
            return True

        return await self._transaction(work)

    # ---- timers --------------------------------------------------------------------------------
    async def claim_due(self, now: datetime, *, limit: int, lease: timedelta, owner: str) -> list[TimerRow]:
        now_ms = to_ms(now)
        until_ms = to_ms(now + lease)

        async def work(db: aiosqlite.Connection) -> list[tuple]:
            # one statement for the whole batch; RETURNING order is unspecified, so sort below
            async with db.execute(
                "UPDATE timers SET claimed_by = ?, claimed_until_ms = ? WHERE rowid IN ("
                " SELECT rowid FROM timers WHERE due_ms <= ?"
                " AND (claimed_until_ms IS NULL OR claimed_until_ms <= ?)"
                " ORDER BY due_ms LIMIT ?)"
                " RETURNING platform, user_id, name, due_ms, payload",
                (owner, until_ms, now_ms, now_ms, limit),
            ) as cursor:
                return list(await cursor.fetchall())

        rows = sorted(await self._transaction(work), key=lambda row: (row[3], row[0], row[1], row[2]))
        return [TimerRow(UserKey(platform, user_id), name, from_ms(due), json.loads(payload))
                for platform, user_id, name, due, payload in rows]

    async def next_due(self) -> datetime | None:
        rows = await self._read(f"SELECT MIN({_CLAIMABLE_AT}) FROM timers")
        return None if rows[0][0] is None else from_ms(rows[0][0])

    async def timers(self, key: UserKey) -> list[TimerRow]:
        rows = await self._read("SELECT name, due_ms, payload FROM timers WHERE platform = ? AND user_id = ?"
                                " ORDER BY due_ms, name", (key.platform, key.user_id))
        return [TimerRow(key, name, from_ms(due), json.loads(payload)) for name, due, payload in rows]

    # ---- history, export, forget ---------------------------------------------------------------
    async def history(self, key: UserKey) -> list[HistoryRow]:
        rows = await self._read(
            "SELECT outcome, routine, level, stretches_done, seconds, ended_ms FROM history"
            " WHERE platform = ? AND user_id = ? ORDER BY id", (key.platform, key.user_id))
        return [HistoryRow(outcome, routine, level, done, seconds, from_ms(ended))
                for outcome, routine, level, done, seconds, ended in rows]

    async def export_user(self, key: UserKey) -> dict:
        """Every row about the user, as JSON-able values (times as ISO 8601 UTC)."""
        users = await self._read(
            "SELECT address, timezone, last_triage_at_ms, last_triage_level, state, version, created_ms,"
            " updated_ms FROM users WHERE platform = ? AND user_id = ?", (key.platform, key.user_id))
        profile: dict | None = None
        state: Any = None
        if users:
            address, timezone, triage_ms, level, state_json, version, created, updated = users[0]
            profile = {
                "platform": key.platform, "user_id": key.user_id, "address": json.loads(address),
                "timezone": timezone, "last_triage_at": _optional_iso(triage_ms),
                "last_triage_level": level, "version": version,
                "created_at": _optional_iso(created), "updated_at": _optional_iso(updated),
            }
            state = json.loads(state_json)
        timers = [{"name": t.name, "due": t.due.isoformat(), "payload": t.payload}
                  for t in await self.timers(key)]
        history = [{"outcome": h.outcome, "routine": h.routine, "level": h.level,
                    "stretches_done": h.stretches_done, "seconds": h.seconds,
                    "ended_at": h.ended_at.isoformat()} for h in await self.history(key)]
        return {"profile": profile, "state": state, "timers": timers, "history": history}

    async def forget_user(self, key: UserKey) -> None:
        async def work(db: aiosqlite.Connection) -> None:
            for table in USER_TABLES:
                await db.execute(f"DELETE FROM {table} WHERE platform = ? AND user_id = ?",
                                 (key.platform, key.user_id))

        await self._transaction(work)

    async def schema_version(self) -> int:
        async with self._lock:
            return await _schema_version(self._db)

    async def close(self) -> None:
        async with self._lock:
            await self._db.close()


async def _schema_version(db: aiosqlite.Connection) -> int:
    async with db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'") as cursor:
        if await cursor.fetchone() is None:
            return 0
    async with db.execute("SELECT value FROM meta WHERE key = 'schema_version'") as cursor:
        row = await cursor.fetchone()
    return 0 if row is None else int(row[0])


async def _migrate(db: aiosqlite.Connection) -> None:
    """Bring the schema to len(MIGRATIONS). An up-to-date database is only read, never written."""
    target = len(MIGRATIONS)
    if await _schema_version(db) == target:
        return
    await db.execute("BEGIN IMMEDIATE")
    try:
        current = await _schema_version(db)  # again under the write lock: another process may have won
        if current > target:
            raise StorageConfigError(
                f"database schema version {current} is newer than this stretchbot understands ({target})")
        await db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        for step in MIGRATIONS[current:]:
            for statement in step:
                await db.execute(statement)
        await db.execute("INSERT INTO meta (key, value) VALUES ('schema_version', ?)"
                         " ON CONFLICT (key) DO UPDATE SET value = excluded.value", (str(target),))
    except BaseException:
        await db.execute("ROLLBACK")
        raise
    await db.execute("COMMIT")


def sqlite_path(url: str | None) -> str:
    """The SQLite file a storage URL names; StorageConfigError for anything else."""
    if not url:
        return DEFAULT_SQLITE_PATH
    scheme = urlsplit(url).scheme.lower() if "://" in url else ""
    if scheme in ("postgresql", "postgres"):
        raise StorageConfigError("PostgreSQL storage arrives with the scale-out work")
    if scheme != "sqlite":
        # never echo the URL itself: a database URL may carry a password
        named = f"unsupported storage URL scheme '{scheme}'" if scheme else "storage URL has no scheme"
        raise StorageConfigError(f"{named}: use {ACCEPTED_URLS}")
    prefix = "sqlite:///"
    if not url.lower().startswith(prefix) or len(url) == len(prefix):
        raise StorageConfigError(f"SQLite URL needs a path: use {ACCEPTED_URLS}")
    return url[len(prefix):]  # "sqlite:////abs" leaves "/abs"; "sqlite:///rel" leaves "rel"


async def open_storage(url: str | None) -> Storage:
    path = sqlite_path(url)
    if path != ":memory:" and Path(path).is_dir():
        raise StorageConfigError(f"cannot open SQLite database {path}: it is a directory")
    return await SqliteStorage.open(path)
