"""Durable state for the runtime: users, timers, session history, feedback and the outgoing messages (the
outbox), in a SQLite file (aiosqlite) or in PostgreSQL (asyncpg) when several processes share one database.

The package's modules, each importing only the ones below it (never this file), so nothing is cyclic:
- schema.py: the migration steps, shared by both databases;
- base.py: the rows (dataclasses), the Storage and OutboxStore protocols, small helpers;
- outbox.py: the outbox, dead letters and the media cache (SQL both backends share);
- sql.py: SqlStorage, the rest of the SQL both backends share (users, timers, history, feedback,
  export, forget, migrations);
- sqlite.py / postgres.py: each backend's connections, transactions and claims.
This file names the public parts and picks a backend by URL (open_storage).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.storage.base import (
    FEEDBACK_RATINGS,
    LOAD_CHUNK,
    MESSAGE_KINDS,
    FeedbackRow,
    HistoryRow,
    Loaded,
    OutboxRow,
    OutboxStats,
    OutboxStore,
    OutgoingMessage,
    Save,
    Storage,
    StorageConfigError,
    TimerRow,
    UserKey,
    from_ms,
    to_ms,
)
from bot.storage.schema import MIGRATIONS, USER_TABLES
from bot.storage.sql import SqlStorage
from bot.storage.sqlite import SqliteStorage

if TYPE_CHECKING:
    from bot.storage.postgres import PgStorage

__all__ = [
    "FEEDBACK_RATINGS",
    "LOAD_CHUNK",
    "MESSAGE_KINDS",
    "MIGRATIONS",
    "USER_TABLES",
    "FeedbackRow",
    "HistoryRow",
    "Loaded",
    "OutboxRow",
    "OutboxStats",
    "OutboxStore",
    "OutgoingMessage",
    "PgStorage",
    "Save",
    "SqlStorage",
    "SqliteStorage",
    "Storage",
    "StorageConfigError",
    "TimerRow",
    "UserKey",
    "from_ms",
    "open_storage",
    "sqlite_path",
    "to_ms",
]

DEFAULT_SQLITE_PATH = "./stretchbot.db"
POSTGRES_SCHEMES = ("postgresql", "postgres")
ACCEPTED_URLS = (
    "sqlite:///relative/path.db, sqlite:////absolute/path.db or"
    " postgresql://user:password@host:5432/database (unset: ./stretchbot.db)"
)


def __getattr__(name: str) -> Any:
    """PgStorage on first use: asyncpg is imported only by a process that uses PostgreSQL."""
    if name == "PgStorage":
        from bot.storage.postgres import PgStorage

        return PgStorage
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
    return url[len(prefix) :]  # "sqlite:////abs" leaves "/abs"; "sqlite:///rel" leaves "rel"


async def open_storage(url: str | None) -> Storage:
    """Open (and migrate) the storage a URL names: PostgreSQL for postgresql:// or postgres://,
    else a SQLite file (default ./stretchbot.db)."""
    if url and _scheme(url) in POSTGRES_SCHEMES:
        from bot.storage.postgres import PgStorage

        return await PgStorage.open(url)
    path = sqlite_path(url)
    if path != ":memory:" and Path(path).is_dir():
        raise StorageConfigError(f"cannot open SQLite database {path}: it is a directory")
    return await SqliteStorage.open(path)
