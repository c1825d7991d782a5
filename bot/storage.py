"""Durable state for the runtime: users, timers and session history, in a SQLite file (aiosqlite)
or in PostgreSQL (asyncpg, bot/storage_pg.py) when several processes share one database.

One row per user holds the engine's state document plus a version for optimistic concurrency; the
timers the engine scheduled live next to it and are written in the same transaction as the state
change that made them, so a restart never loses or duplicates a reminder. Times are integer epoch
milliseconds (UTC): cheap to compare and identical on both databases. The SQL is written once, with
`?` placeholders, in the dialect both understand (SqlStorage here); a backend (bot/storage_sqlite.py,
bot/storage_pg.py) adds its connection handling and claim_due. open_storage() picks one by URL.
"""
from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, TypeVar

from bot import ConfigError
from bot.schema import MIGRATIONS, USER_TABLES  # noqa: F401  (MIGRATIONS: part of this module's interface)

DEFAULT_SQLITE_PATH = "./stretchbot.db"
POSTGRES_SCHEMES = ("postgresql", "postgres")
ACCEPTED_URLS = ("sqlite:///relative/path.db, sqlite:////absolute/path.db or"
                 " postgresql://user:password@host:5432/database (unset: ./stretchbot.db)")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
LOAD_CHUNK = 500  # users per load_many query: a whole claimed batch (1,000 parameters: inside every limit)


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


@dataclass(frozen=True)
class Save:
    """One user's save: the arguments of Storage.save, so a batch of them can share a transaction."""

    key: UserKey
    expected_version: int
    state_json: str
    address: dict | None
    profile: dict
    schedule: list[TimerRow]
    cancel: list[str]
    history: list[HistoryRow]
    fired: TimerRow | None = None


class Storage(Protocol):
    backend: str  # for people: "SQLite" / "PostgreSQL"
    location: str  # the file, or the URL with its password hidden
    found_version: int  # the schema version found on opening (before migrating)

    async def load(self, key: UserKey) -> Loaded: ...
    async def load_many(self, keys: list[UserKey]) -> dict[UserKey, Loaded]: ...
    async def save(self, key: UserKey, *, expected_version: int, state_json: str, address: dict | None,
                   profile: dict, schedule: list[TimerRow], cancel: list[str],
                   history: list[HistoryRow], fired: TimerRow | None = None) -> bool: ...
    async def save_many(self, saves: list[Save]) -> list[bool]: ...
    # platforms: only timers of these platforms (a Telegram-only process cannot deliver to Discord)
    async def claim_due(self, now: datetime, *, limit: int, lease: timedelta, owner: str,
                        platforms: tuple[str, ...] | None = None) -> list[TimerRow]: ...
    async def next_due(self, platforms: tuple[str, ...] | None = None) -> datetime | None: ...
    async def history(self, key: UserKey) -> list[HistoryRow]: ...
    async def export_user(self, key: UserKey) -> dict: ...
    async def forget_user(self, key: UserKey) -> None: ...
    async def schema_version(self) -> int: ...
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



# A claimed timer becomes claimable again when its lease runs out; until then it is not "due".
_CLAIMABLE_AT = "CASE WHEN claimed_until_ms > due_ms THEN claimed_until_ms ELSE due_ms END"
# The rows claim_due returns, in the order TimerRow needs them.
CLAIMED_COLUMNS = "platform, user_id, name, due_ms, payload"


def only(platforms: tuple[str, ...] | None) -> tuple[str, tuple]:
    """SQL to AND to a timers query so it sees only these platforms (None: all), and its parameters."""
    if platforms is None:
        return "", ()
    return f" AND platform IN ({', '.join('?' * len(platforms)) or 'NULL'})", tuple(platforms)


T = TypeVar("T")


class Tx(Protocol):
    """An open transaction (or, for reads, a connection) as the shared SQL sees it: `?` placeholders."""

    async def execute(self, sql: str, params: tuple = ()) -> int: ...  # how many rows changed
    async def execute_many(self, sql: str, rows: list[tuple]) -> None: ...  # nothing when rows is empty
    async def fetch(self, sql: str, params: tuple = ()) -> list[tuple]: ...


class SqlStorage:
    """The Storage logic both backends share. A backend adds `_transaction` (run `work(tx)` in one
    transaction, or on a plain connection when write=False), `claim_due`, `close` and the constants."""

    backend = "SQL"  # for people: "SQLite" / "PostgreSQL"
    location = ""  # the file or the URL with its password hidden
    found_version = 0  # the schema version the database had when this process opened it
    META_EXISTS_SQL = ""  # one row, one column: 0 while the meta table does not exist yet
    SCHEMA_LOCK_SQL = ""  # run first in a migration: keeps other processes from migrating meanwhile
    SPELLINGS: tuple[tuple[str, str], ...] = ()  # (SQLite spelling, this database's) for MIGRATIONS

    async def _transaction(self, work: Callable[[Tx], Awaitable[T]], *, write: bool = True) -> T:
        raise NotImplementedError

    async def _read(self, sql: str, params: tuple = ()) -> list[tuple]:
        return await self._transaction(lambda tx: tx.fetch(sql, params), write=False)

    # ---- users ---------------------------------------------------------------------------------
    async def load(self, key: UserKey) -> Loaded:
        rows = await self._read("SELECT state, version, address FROM users WHERE platform = ? AND user_id = ?",
                                (key.platform, key.user_id))
        if not rows:
            return Loaded(state_json=None, version=0, address={})
        state, version, address = rows[0]
        return Loaded(state_json=state, version=version, address=json.loads(address))

    async def load_many(self, keys: list[UserKey]) -> dict[UserKey, Loaded]:
        """Several users' states in one query per LOAD_CHUNK users (the scheduler's batches)."""
        found = {key: Loaded(state_json=None, version=0, address={}) for key in keys}
        for start in range(0, len(keys), LOAD_CHUNK):
            chunk = keys[start:start + LOAD_CHUNK]
            rows = await self._read(
                "SELECT platform, user_id, state, version, address FROM users WHERE (platform, user_id) IN"
                f" (VALUES {', '.join('(?, ?)' for _ in chunk)})",
                tuple(part for key in chunk for part in (key.platform, key.user_id)))
            for platform, user_id, state, version, address in rows:
                found[UserKey(platform, user_id)] = Loaded(state, version, json.loads(address))
        return found

    async def save(self, key: UserKey, *, expected_version: int, state_json: str, address: dict | None,
                   profile: dict, schedule: list[TimerRow], cancel: list[str],
                   history: list[HistoryRow], fired: TimerRow | None = None) -> bool:
        [saved] = await self.save_many([Save(key, expected_version, state_json, address, profile, schedule,
                                             cancel, history, fired)])
        return saved

    async def save_many(self, saves: list[Save]) -> list[bool]:
        """Several users' saves in ONE transaction, so one commit (one disk flush) for a whole batch.

        Each user's state is version-checked on its own: one who lost a race is left out (False) and
        nothing of theirs is written, while the others still commit. Timer and history writes of all
        winners go in one executemany each.
        """
        now = to_ms(datetime.now(UTC))

        async def work(tx: Tx) -> list[bool]:
            results = [await self._write_state(tx, save, now) for save in saves]
            won = [save for save, ok in zip(saves, results) if ok]
            # the fired rows go first: a step may schedule the same name again, and that must stay
            await tx.execute_many(
                "DELETE FROM timers WHERE platform = ? AND user_id = ? AND name = ? AND due_ms = ?",
                [(s.key.platform, s.key.user_id, s.fired.name, to_ms(s.fired.due)) for s in won if s.fired])
            await tx.execute_many(
                "DELETE FROM timers WHERE platform = ? AND user_id = ? AND name = ?",
                [(s.key.platform, s.key.user_id, name) for s in won for name in s.cancel])
            await tx.execute_many(
                "INSERT INTO timers (platform, user_id, name, due_ms, payload) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (platform, user_id, name) DO UPDATE SET due_ms = excluded.due_ms,"
                " payload = excluded.payload, claimed_by = NULL, claimed_until_ms = NULL",
                [(s.key.platform, s.key.user_id, t.name, to_ms(t.due), _json(t.payload))
                 for s in won for t in s.schedule])
            await tx.execute_many(
                "INSERT INTO history (platform, user_id, outcome, routine, level, stretches_done,"
                " seconds, ended_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(s.key.platform, s.key.user_id, r.outcome, r.routine, r.level, r.stretches_done,
                  r.seconds, to_ms(r.ended_at)) for s in won for r in s.history])
            return results

        return await self._transaction(work) if saves else []

    @staticmethod
    async def _write_state(tx: Tx, save: Save, now: int) -> bool:
        """The version-checked state write; False (and nothing written) when another write won."""
        who = (save.key.platform, save.key.user_id)
        profile = save.profile
        columns = (profile.get("timezone"), _optional_ms(profile.get("last_triage_at")),
                   profile.get("last_triage_level"))
        if save.expected_version == 0:
            changed = await tx.execute(
                "INSERT INTO users (platform, user_id, address, timezone, last_triage_at_ms,"
                " last_triage_level, state, version, created_ms, updated_ms)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?) ON CONFLICT (platform, user_id) DO NOTHING",
                (*who, _json(save.address or {}), *columns, save.state_json, now, now))
        else:
            changed = await tx.execute(
                "UPDATE users SET address = COALESCE(?, address), timezone = ?, last_triage_at_ms = ?,"
                " last_triage_level = ?, state = ?, version = version + 1, updated_ms = ?"
                " WHERE platform = ? AND user_id = ? AND version = ?",
                (None if save.address is None else _json(save.address), *columns, save.state_json, now,
                 *who, save.expected_version))
        return changed == 1

    # ---- timers --------------------------------------------------------------------------------
    @staticmethod
    def _claimed(rows: list[tuple]) -> list[TimerRow]:
        """Rows of CLAIMED_COLUMNS as TimerRows, oldest due first (RETURNING order is unspecified)."""
        rows = sorted(rows, key=lambda row: (row[3], row[0], row[1], row[2]))
        return [TimerRow(UserKey(platform, user_id), name, from_ms(due), json.loads(payload))
                for platform, user_id, name, due, payload in rows]

    async def next_due(self, platforms: tuple[str, ...] | None = None) -> datetime | None:
        where, params = only(platforms)
        rows = await self._read(f"SELECT MIN({_CLAIMABLE_AT}) FROM timers WHERE 1 = 1{where}", params)
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
        async def work(tx: Tx) -> None:
            for table in USER_TABLES:
                await tx.execute(f"DELETE FROM {table} WHERE platform = ? AND user_id = ?",
                                 (key.platform, key.user_id))

        await self._transaction(work)

    # ---- schema --------------------------------------------------------------------------------
    async def schema_version(self) -> int:
        return await self._transaction(self._stored_version, write=False)

    async def _stored_version(self, tx: Tx) -> int:
        [(meta_exists,)] = await tx.fetch(self.META_EXISTS_SQL)
        if not meta_exists:
            return 0
        rows = await tx.fetch("SELECT value FROM meta WHERE key = 'schema_version'")
        return int(rows[0][0]) if rows else 0

    async def _migrate(self) -> None:
        """Bring the schema to len(MIGRATIONS). An up-to-date database is only read, never written."""
        target = len(MIGRATIONS)
        self.found_version = await self.schema_version()
        if self.found_version == target:
            return

        async def work(tx: Tx) -> None:
            if self.SCHEMA_LOCK_SQL:
                await tx.fetch(self.SCHEMA_LOCK_SQL)
            current = await self._stored_version(tx)  # again under the lock: another process may have won
            if current > target:
                raise StorageConfigError(
                    f"database schema version {current} is newer than this stretchbot understands ({target})")
            await tx.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            for step in MIGRATIONS[current:]:
                for statement in step:
                    for sqlite_spelling, spelling in self.SPELLINGS:
                        statement = statement.replace(sqlite_spelling, spelling)
                    await tx.execute(statement)
            await tx.execute("INSERT INTO meta (key, value) VALUES ('schema_version', ?)"
                             " ON CONFLICT (key) DO UPDATE SET value = excluded.value", (str(target),))

        await self._transaction(work)


def _scheme(url: str) -> str:
    return url.split("://", 1)[0].lower() if "://" in url else ""


def sqlite_path(url: str | None) -> str:
    """The SQLite file a storage URL names; StorageConfigError for anything else."""
    if not url:
        return DEFAULT_SQLITE_PATH
    scheme = _scheme(url)
    if scheme != "sqlite":
        # never echo the URL itself: a database URL may carry a password
        named = f"unsupported storage URL scheme '{scheme}'" if scheme else "storage URL has no scheme"
        raise StorageConfigError(f"{named}: use {ACCEPTED_URLS}")
    prefix = "sqlite:///"
    if not url.lower().startswith(prefix) or len(url) == len(prefix):
        raise StorageConfigError(f"SQLite URL needs a path: use {ACCEPTED_URLS}")
    return url[len(prefix):]  # "sqlite:////abs" leaves "/abs"; "sqlite:///rel" leaves "rel"


def __getattr__(name: str) -> Any:
    """`from bot.storage import SqliteStorage` keeps working: the class lives in bot/storage_sqlite.py,
    which imports this module, so it is loaded on first use instead of at the top."""
    if name == "SqliteStorage":
        from bot.storage_sqlite import SqliteStorage

        return SqliteStorage
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


async def open_storage(url: str | None) -> Storage:
    """Open (and migrate) the storage a URL names: PostgreSQL for postgresql:// or postgres://,
    else a SQLite file (default ./stretchbot.db)."""
    if url and _scheme(url) in POSTGRES_SCHEMES:
        from bot.storage_pg import PgStorage  # backends are imported late: they import this module

        return await PgStorage.open(url)
    from bot.storage_sqlite import SqliteStorage

    path = sqlite_path(url)
    if path != ":memory:" and Path(path).is_dir():
        raise StorageConfigError(f"cannot open SQLite database {path}: it is a directory")
    return await SqliteStorage.open(path)
