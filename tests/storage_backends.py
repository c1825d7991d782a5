"""The storage backends as tests see them: a throw-away PostgreSQL schema per test, and for each
backend an inspector that reads the database on its own connection.

The PostgreSQL server comes from STRETCHBOT_TEST_DATABASE_URL (default: the local trust-auth cluster that
.ci/run starts). Each test gets `CREATE SCHEMA stretchbot_test_<random>` and a URL whose
search_path points there, so tests never see each other's rows; the schema is dropped afterwards.
No server: the test is skipped locally, but fails when CI=true (CI must really test PostgreSQL).
"""
from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import pytest

from bot.storage import open_storage
from bot.storage.postgres import redact

TEST_DATABASE_URL = os.environ.get("STRETCHBOT_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")


async def admin_connection() -> asyncpg.Connection:
    try:
        return await asyncpg.connect(TEST_DATABASE_URL, timeout=5)
    except Exception as error:
        reason = f"PostgreSQL is not reachable at {redact(TEST_DATABASE_URL)}: {' '.join(str(error).split())}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)


def with_search_path(url: str, schema: str) -> str:
    # synchronous_commit=off: these schemas are thrown away, so commits need not wait for the disk
    return f"{url}{'&' if '?' in url else '?'}search_path={schema}&synchronous_commit=off"


@asynccontextmanager
async def fresh_schema() -> AsyncIterator[str]:
    """A database URL whose tables live in a fresh, empty schema of their own (dropped afterwards)."""
    admin = await admin_connection()
    schema = f"stretchbot_test_{uuid.uuid4().hex[:12]}"
    await admin.execute(f"CREATE SCHEMA {schema}")
    try:
        yield with_search_path(TEST_DATABASE_URL, schema)
    finally:
        await admin.execute(f"DROP SCHEMA {schema} CASCADE")
        await admin.close()


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    async with fresh_schema() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
async def backend(request, tmp_path):
    """Each backend in turn, as an inspector of its database (a test using it runs on both)."""
    if request.param == "sqlite":
        yield SqliteBackend(tmp_path / "contract.db")
        return
    async with fresh_schema() as url:
        inspector = PgBackend(url)
        yield inspector
        await inspector.close()


@pytest.fixture
async def store(backend):
    """The storage open on that backend's database."""
    storage = await open_storage(backend.url)
    yield storage
    await storage.close()


class SqliteBackend:
    name = "sqlite"

    def __init__(self, path) -> None:
        self.path = path
        self.url = f"sqlite:///{path}"

    async def query(self, sql: str) -> list[tuple]:
        with sqlite3.connect(self.path) as db:
            return [tuple(row) for row in db.execute(sql).fetchall()]

    async def columns(self) -> dict[str, set[str]]:
        """Every table of the database with its columns."""
        with sqlite3.connect(self.path) as db:
            tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            return {t: {r[1] for r in db.execute(f"PRAGMA table_info({t})")} for t in tables}

    @asynccontextmanager
    async def statements(self, storage):
        """Every SQL statement the storage sends meanwhile."""
        sent: list[str] = []
        await storage._db.set_trace_callback(sent.append)
        try:
            yield sent
        finally:
            await storage._db.set_trace_callback(None)


class PgBackend:
    name = "postgresql"

    def __init__(self, url: str) -> None:
        self.url = url
        self._connection: asyncpg.Connection | None = None

    async def query(self, sql: str) -> list[tuple]:
        if self._connection is None:
            self._connection = await asyncpg.connect(self.url)
        return [tuple(row) for row in await self._connection.fetch(sql)]

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()

    async def columns(self) -> dict[str, set[str]]:
        rows = await self.query("SELECT table_name, column_name FROM information_schema.columns"
                                " WHERE table_schema = current_schema()")
        tables: dict[str, set[str]] = {}
        for table, column in rows:
            tables.setdefault(table, set()).add(column)
        return tables

    @asynccontextmanager
    async def statements(self, storage):
        # the storage's pool holds one idle connection here (min_size=1, nothing running), so every
        # statement of the next call goes through the connection we hook
        sent: list[str] = []

        def log(record) -> None:
            sent.append(record.query.strip())
        async with storage.pool.acquire() as connection:
            connection.add_query_logger(log)
        try:
            yield sent
        finally:
            async with storage.pool.acquire() as connection:
                connection.remove_query_logger(log)
