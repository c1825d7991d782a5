"""PostgreSQL storage (asyncpg), for several bot processes sharing one database.

The tables, the SQL and the migrations are the ones sql.py writes for SQLite (SqlStorage);
this module adds what only a server database needs:
- a connection pool; every transaction runs on one pooled connection, so processes and tasks
  overlap freely and the optimistic version check in save() decides who wins;
- claim_due and claim_outbox as ONE statement each: `FOR UPDATE SKIP LOCKED` picks rows no other
  process is claiming right now, and the same statement marks them with a lease. A process that
  dies after claiming leaves rows whose lease runs out, and then any process claims them again;
- migrations under an advisory lock, so a release command and starting workers never race;
- configuration errors as one line that never shows the password.
"""

from __future__ import annotations

import itertools
import re
from datetime import datetime, timedelta
from functools import lru_cache
from urllib.parse import unquote, urlsplit, urlunsplit

import asyncpg

from bot.storage.base import Params, Row, StorageConfigError, T, TimerRow, Transaction, Tx, only, to_ms
from bot.storage.sql import CLAIMED_COLUMNS, SqlStorage

CONNECT_TIMEOUT_SECONDS = 5.0  # a wrong host must fail start-up quickly, not after a minute
COMMAND_TIMEOUT_SECONDS = 30.0  # a statement stuck this long fails (and its timer is retried later)
POOL_SIZE = 10  # connections per process; the runtime fires up to 20 users at once, they queue
MIGRATION_LOCK = 0x5354_5245_5443_48  # pg_advisory_xact_lock key, "STRETCH": one migrator at a time

# One statement per batch: lock the oldest claimable rows that nobody else has locked (SKIP LOCKED
# never waits for another claimer), and lease them to this owner. MATERIALIZED keeps the locking
# sub-select a single evaluation. Under READ COMMITTED a row another process claimed and committed
# meanwhile is re-checked against the WHERE clause and dropped, so no row is claimed twice.
CLAIM_SQL = f"""
WITH due AS MATERIALIZED (
    SELECT platform, user_id, name FROM timers
    WHERE due_ms <= ? AND (claimed_until_ms IS NULL OR claimed_until_ms <= ?){{only_platforms}}
    ORDER BY due_ms LIMIT ?
    FOR UPDATE SKIP LOCKED)
UPDATE timers SET claimed_by = ?, claimed_until_ms = ? FROM due
WHERE timers.platform = due.platform AND timers.user_id = due.user_id AND timers.name = due.name
RETURNING {", ".join(f"timers.{column}" for column in CLAIMED_COLUMNS.split(", "))}"""

# The outbox's claim, the same way: the ready chats (outbox.py) nobody else is locking, in turn order,
# leased in the same statement. A chat another sender leased and committed meanwhile fails the re-check
# of ready_ms <= now and is dropped, so no chat is ever held by two senders.
CLAIM_CHATS_SQL = """
WITH ready AS MATERIALIZED (
    SELECT chat FROM outbox_chats
    WHERE ready_ms <= ?{only}
    ORDER BY ready_ms, first_id LIMIT ?
    FOR UPDATE SKIP LOCKED)
UPDATE outbox_chats SET claimed_by = ?, claimed_at_ms = ?, ready_ms = ? FROM ready
WHERE outbox_chats.chat = ready.chat AND outbox_chats.ready_ms <= ?
RETURNING outbox_chats.chat, outbox_chats.pending"""


@lru_cache(maxsize=256)
def numbered(sql: str) -> str:
    """The shared SQL's `?` placeholders as PostgreSQL's $1, $2... (our SQL has no literal '?')."""
    counter = itertools.count(1)
    return re.sub(r"\?", lambda _: f"${next(counter)}", sql)


def redact(url: str) -> str:
    """The URL for messages and logs: the password (in the user part or a query option) hidden."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(an unparsable postgresql:// URL)"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user, has_password, _ = userinfo.partition(":")
        netloc = f"{user}:***@{host}" if has_password else f"{user}@{host}"
    query = (
        "&".join(
            "password=***" if option.lower().startswith("password=") else option for option in parts.query.split("&")
        )
        if parts.query
        else ""
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def _secrets(url: str) -> list[str]:
    """Every spelling of the password a driver message might echo."""
    found = []
    try:
        parts = urlsplit(url)
        found += [parts.password or "", unquote(parts.password or "")]
        found += [
            option.partition("=")[2] for option in parts.query.split("&") if option.lower().startswith("password=")
        ]
    except ValueError:
        pass
    return [secret for secret in found if secret]


def _reason(error: BaseException, url: str) -> str:
    """One line saying what went wrong, never the password."""
    if isinstance(error, TimeoutError):
        return f"no answer within {CONNECT_TIMEOUT_SECONDS:g} s"
    text = " ".join(str(error).split()) or type(error).__name__
    for secret in _secrets(url):
        text = text.replace(secret, "***")
    return text


async def _keep_session(connection: asyncpg.Connection) -> None:
    """Pool reset: nothing to undo. asyncpg still rolls back an unfinished transaction first, and we
    never change session state (no SET, LISTEN, cursors or session advisory locks), so the default
    reset query would only cost one more round trip for every statement."""


class _PgTx:
    """The shared SQL on one asyncpg connection."""

    def __init__(self, connection: asyncpg.Connection) -> None:
        self._connection = connection

    async def execute(self, sql: str, params: Params = ()) -> int:
        status = await self._connection.execute(numbered(sql), *params)  # e.g. "UPDATE 1", "INSERT 0 1"
        count = status.rsplit(" ", 1)[-1]
        return int(count) if count.isdigit() else 0

    async def fetch(self, sql: str, params: Params = ()) -> list[Row]:
        return [tuple(record) for record in await self._connection.fetch(numbered(sql), *params)]

    async def execute_many(self, sql: str, rows: list[Params]) -> None:
        if rows:
            await self._connection.executemany(numbered(sql), rows)


class PgStorage(SqlStorage):
    """Storage on an asyncpg pool. Safe to use from many tasks and many processes at once."""

    backend = "PostgreSQL"
    # tables are created in current_schema(), the first schema of the search_path
    META_EXISTS_SQL = "SELECT COUNT(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = 'meta'"
    SCHEMA_LOCK_SQL = f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"
    SPELLINGS = (("INTEGER PRIMARY KEY AUTOINCREMENT", "BIGSERIAL PRIMARY KEY"),)

    def __init__(self, pool: asyncpg.Pool, location: str) -> None:
        self.pool = pool
        self.location = location

    @classmethod
    async def open(cls, url: str, *, pool_size: int = POOL_SIZE) -> PgStorage:
        """Connect and migrate. Any problem is a StorageConfigError naming the redacted URL.

        Query options of the URL other than libpq's (sslmode, password...) are server settings,
        e.g. `?search_path=stretchbot` keeps the tables in their own schema.
        """
        location = redact(url)
        try:
            pool = await asyncpg.create_pool(
                url,
                min_size=1,
                max_size=pool_size,
                timeout=CONNECT_TIMEOUT_SECONDS,
                command_timeout=COMMAND_TIMEOUT_SECONDS,
                reset=_keep_session,
            )
        except Exception as error:
            raise StorageConfigError(f"cannot connect to PostgreSQL at {location}: {_reason(error, url)}") from None
        storage = cls(pool, location)
        try:
            await storage._migrate()
        except StorageConfigError:
            await pool.close()
            raise
        except Exception as error:
            await pool.close()
            raise StorageConfigError(f"cannot prepare PostgreSQL schema at {location}: {_reason(error, url)}") from None
        return storage

    async def _transaction(self, work: Transaction[T], *, write: bool = True) -> T:
        async with self.pool.acquire() as connection:
            if not write:
                return await work(_PgTx(connection))
            async with connection.transaction():  # READ COMMITTED; rolls back on any exception
                return await work(_PgTx(connection))

    async def claim_due(
        self, now: datetime, *, limit: int, lease: timedelta, owner: str, platforms: tuple[str, ...] | None = None,
        users: tuple[str, ...] | None = None,
    ) -> list[TimerRow]:
        where, params = only(platforms, also=("user_id", users))
        sql = numbered(CLAIM_SQL.format(only_platforms=where))
        # a single statement is its own transaction: one round trip per batch, never one per user
        records = await self.pool.fetch(sql, to_ms(now), to_ms(now), *params, limit, owner, to_ms(now + lease))
        return self._claimed([tuple(record) for record in records])

    async def _claim_chats(
        self, tx: Tx, now_ms: int, lease_end_ms: int, owner: str, where: str, params: Params, limit: int
    ) -> list[Row]:
        return await tx.fetch(
            CLAIM_CHATS_SQL.format(only=where), (now_ms, *params, limit, owner, now_ms, lease_end_ms, now_ms)
        )

    async def close(self) -> None:
        await self.pool.close()
