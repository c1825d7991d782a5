"""What is particular to each backend: the SQLite file (WAL, no DDL on reopening, file errors),
PostgreSQL connection problems, and storage URLs. The behaviour both backends share (round trips,
conflicts, timers, leases, export, forget, migrations) is in test_storage_contract.py."""
from __future__ import annotations

import asyncio
import sqlite3

import pytest
from storage_backends import admin_connection, pg_url  # noqa: F401  (pg_url is a fixture)

from bot import ConfigError
from bot.storage import MIGRATIONS, SqliteStorage, StorageConfigError, UserKey, open_storage, sqlite_path
from bot.storage import postgres as storage_pg
from bot.storage.postgres import PgStorage, redact

ANNA = UserKey("telegram", "101")


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "stretch.db"


@pytest.fixture
async def store(db_path):
    storage = await open_storage(f"sqlite:///{db_path}")
    yield storage
    await storage.close()


def snapshot(path) -> dict[str, list]:
    """Every row of every table, read with a separate plain sqlite3 connection."""
    with sqlite3.connect(path) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: sorted(db.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in tables}


def query(path, sql, params=()) -> list[tuple]:
    with sqlite3.connect(path) as db:
        return db.execute(sql, params).fetchall()


# ---- SQLite -------------------------------------------------------------------------------------
async def test_sqlite_uses_wal_and_creates_the_indexes(store, db_path):
    assert query(db_path, "PRAGMA journal_mode") == [("wal",)]
    indexes = {r[0] for r in query(db_path, "SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"timers_due", "history_user"} <= indexes
    assert (store.backend, store.location) == ("SQLite", str(db_path))


async def test_reopening_an_up_to_date_sqlite_file_runs_no_ddl(store, db_path):
    assert await store.save(ANNA, expected_version=0, state_json='{"a": 1}', address=None, profile={},
                            schedule=[], cancel=[], history=[])
    await store.close()
    schema_cookie = query(db_path, "PRAGMA schema_version")
    before = snapshot(db_path)
    again = await open_storage(f"sqlite:///{db_path}")
    try:
        assert query(db_path, "PRAGMA schema_version") == schema_cookie  # no DDL ran
        assert snapshot(db_path) == before
    finally:
        await again.close()


# ---- PostgreSQL ---------------------------------------------------------------------------------
async def test_postgres_urls_open_postgres_storage(pg_url):  # noqa: F811
    for url in (pg_url, pg_url.replace("postgresql://", "postgres://", 1)):
        storage = await open_storage(url)
        try:
            assert isinstance(storage, PgStorage)
            assert storage.backend == "PostgreSQL" and await storage.schema_version() == len(MIGRATIONS)
        finally:
            await storage.close()


async def test_postgres_gets_bigserial_ids_and_the_indexes(pg_url):  # noqa: F811
    storage = await open_storage(pg_url)
    await storage.close()
    admin = await admin_connection()
    try:
        schema = pg_url.split("search_path=", 1)[1].split("&", 1)[0]
        id_type = await admin.fetchval("SELECT data_type FROM information_schema.columns WHERE table_schema = $1"
                                       " AND table_name = 'history' AND column_name = 'id'", schema)
        indexes = {r[0] for r in await admin.fetch("SELECT indexname FROM pg_indexes WHERE schemaname = $1", schema)}
    finally:
        await admin.close()
    assert id_type == "bigint"
    assert {"timers_due", "history_user"} <= indexes


def test_redact_hides_every_password():
    assert redact("postgresql://bot:s3cret@db.example.com:5432/stretch") == (
        "postgresql://bot:***@db.example.com:5432/stretch")
    assert redact("postgres://bot:p@ss:w0rd@db/stretch?sslmode=require") == (
        "postgres://bot:***@db/stretch?sslmode=require")
    assert redact("postgresql://db/stretch?user=bot&password=s3cret") == (
        "postgresql://db/stretch?user=bot&password=***")
    assert redact("postgresql://bot@db/stretch") == "postgresql://bot@db/stretch"


def assert_one_clear_line(error: StorageConfigError, *parts: str) -> None:
    text = str(error)
    assert isinstance(error, ConfigError)
    assert "\n" not in text and "s3cret" not in text, text
    for part in parts:
        assert part in text, text


async def test_an_unreachable_server_is_one_line_without_the_password():
    # port 1: nothing listens there, so the connection is refused at once
    with pytest.raises(StorageConfigError) as raised:
        await open_storage("postgresql://bot:s3cret@127.0.0.1:1/stretch")
    assert_one_clear_line(raised.value, "cannot connect to PostgreSQL at postgresql://bot:***@127.0.0.1:1/stretch",
                          "Connect call failed")


async def test_a_server_that_never_answers_times_out(monkeypatch):
    silent = await asyncio.start_server(lambda reader, writer: None, "127.0.0.1", 0)  # accepts, says nothing
    port = silent.sockets[0].getsockname()[1]
    monkeypatch.setattr(storage_pg, "CONNECT_TIMEOUT_SECONDS", 0.1)  # the real one is 5 s
    try:
        with pytest.raises(StorageConfigError) as raised:
            await open_storage(f"postgresql://bot:s3cret@127.0.0.1:{port}/stretch")
    finally:
        silent.close()
        await silent.wait_closed()
    assert_one_clear_line(raised.value, f"bot:***@127.0.0.1:{port}", "no answer within 0.1 s")


async def test_bad_credentials_and_missing_databases_are_named():
    await (await admin_connection()).close()  # skips (or fails on CI) without a server
    with pytest.raises(StorageConfigError) as raised:
        await open_storage("postgresql://nobody_here:s3cret@127.0.0.1:5432/test")
    assert_one_clear_line(raised.value, "nobody_here:***@", 'role "nobody_here" does not exist')
    with pytest.raises(StorageConfigError) as raised:
        await open_storage("postgresql://postgres@127.0.0.1:5432/no_such_db?password=s3cret")
    assert_one_clear_line(raised.value, "password=***", 'database "no_such_db" does not exist')


# ---- URLs ---------------------------------------------------------------------------------------
def test_storage_urls_name_sqlite_files():
    assert sqlite_path(None) == "./stretchbot.db"
    assert sqlite_path("") == "./stretchbot.db"
    assert sqlite_path("sqlite:///data/bot.db") == "data/bot.db"
    assert sqlite_path("sqlite:////var/lib/stretchbot/bot.db") == "/var/lib/stretchbot/bot.db"


@pytest.mark.parametrize("url, message", [
    ("mysql://bot:secret@db/stretch", "unsupported storage URL scheme 'mysql': use sqlite:///"),
    ("postgresql+asyncpg://bot:secret@db/stretch", "unsupported storage URL scheme 'postgresql+asyncpg'"),
    ("stretch.db", "storage URL has no scheme: use sqlite:///"),
    ("sqlite://", "SQLite URL needs a path"),
    ("sqlite:///", "SQLite URL needs a path"),
])
async def test_bad_storage_urls_explain_themselves(url, message):
    with pytest.raises(StorageConfigError) as raised:
        await open_storage(url)
    text = str(raised.value)
    assert message in text and "\n" not in text
    assert "postgresql://user:password@host:5432/database" in text  # the accepted forms, as placeholders
    assert "secret" not in text


async def test_open_storage_defaults_to_stretchbot_db_here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    storage = await open_storage(None)
    await storage.close()
    assert (tmp_path / "stretchbot.db").exists()


async def test_open_storage_with_a_relative_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    storage = await open_storage("sqlite:///data/bot.db")
    assert isinstance(storage, SqliteStorage)
    await storage.close()
    assert (tmp_path / "data" / "bot.db").exists()


@pytest.mark.parametrize("make", ["missing directory", "a directory", "not a database"])
async def test_an_unopenable_path_names_the_path(tmp_path, make):
    path = tmp_path / "missing" / "bot.db"
    if make == "a directory":
        path = tmp_path / "adir"
        path.mkdir()
    elif make == "not a database":
        path = tmp_path / "notes.db"
        path.write_text("these are my notes, not a database " * 100)
    with pytest.raises(StorageConfigError) as raised:
        await open_storage(f"sqlite:///{path}")
    assert str(path) in str(raised.value)
    assert "\n" not in str(raised.value)


async def test_a_sqlite_transaction_body_must_only_await_the_database(tmp_path):
    """Transactions run in one call on the database thread; a body that awaits anything else is a bug."""
    import asyncio as _asyncio

    storage = await open_storage(f"sqlite:///{tmp_path / 'bot.db'}")
    try:
        async def strays(tx):
            await tx.execute("CREATE TABLE scratch (x)")
            await _asyncio.sleep(0)  # would suspend: not allowed inside a transaction

        with pytest.raises(RuntimeError, match="awaited something other than the database"):
            await storage._transaction(strays)
        tables = await storage._read("SELECT name FROM sqlite_master WHERE name = 'scratch'")
        assert tables == []  # rolled back
    finally:
        await storage.close()


async def test_concurrent_sqlite_transactions_never_interleave(tmp_path):
    """No lock around the database thread: transactions asked for at once still run one at a time, in
    order, each whole; a failing one rolls back only itself."""
    storage = await open_storage(f"sqlite:///{tmp_path / 'bot.db'}")
    try:
        await storage._transaction(lambda tx: tx.execute("CREATE TABLE counter (n INTEGER)"))
        await storage._transaction(lambda tx: tx.execute("INSERT INTO counter VALUES (0)"))

        async def increment(tx, fail: bool) -> int:
            [(n,)] = await tx.fetch("SELECT n FROM counter")
            await tx.execute("UPDATE counter SET n = ?", (n + 1,))
            if fail:
                raise ValueError("this one fails after writing")
            return n + 1

        results = await asyncio.gather(*(storage._transaction(lambda tx, i=i: increment(tx, i % 10 == 9))
                                         for i in range(200)), return_exceptions=True)
        failed = [r for r in results if isinstance(r, ValueError)]
        assert len(failed) == 20
        assert [r for r in results if not isinstance(r, ValueError)] == list(range(1, 181))  # in order
        assert await storage._read("SELECT n FROM counter") == [(180,)]
    finally:
        await storage.close()
