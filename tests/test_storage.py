"""SQLite storage against a real database file: schema migrations, optimistic concurrency, atomic
writes, timer claiming with leases, export and forget, and storage URL parsing."""
from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from bot import storage as storage_module
from bot.storage import (
    MIGRATIONS, HistoryRow, Loaded, SqliteStorage, StorageConfigError, TimerRow, UserKey, open_storage,
    sqlite_path,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ANNA = UserKey("telegram", "101")
BORIS = UserKey("discord", "202")
PROFILE = {"timezone": "Europe/Berlin", "last_triage_at": T0, "last_triage_level": "D"}


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "stretch.db"


@pytest.fixture
async def store(db_path):
    storage = await open_storage(f"sqlite:///{db_path}")
    yield storage
    await storage.close()


async def save(storage, key, version, state="{}", *, address=None, profile=None, schedule=(), cancel=(),
               history=(), fired=None) -> bool:
    return await storage.save(key, expected_version=version, state_json=state, address=address,
                              profile=profile if profile is not None else {}, schedule=list(schedule),
                              cancel=list(cancel), history=list(history), fired=fired)


def timer(key, name, seconds, **payload) -> TimerRow:
    return TimerRow(key, name, at(seconds), payload)


def ended(outcome="completed", seconds=0) -> HistoryRow:
    return HistoryRow(outcome, "lower_back", None, 3, 90, at(seconds))


def snapshot(path) -> dict[str, list]:
    """Every row of every table, read with a separate plain sqlite3 connection."""
    with sqlite3.connect(path) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: sorted(db.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in tables}


def query(path, sql, params=()) -> list[tuple]:
    with sqlite3.connect(path) as db:
        return db.execute(sql, params).fetchall()


# ---- schema -------------------------------------------------------------------------------------
async def test_migrations_create_the_schema_and_record_the_version(store, db_path):
    tables = {r[0] for r in query(db_path, "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"meta", "users", "timers", "history"} <= tables
    indexes = {r[0] for r in query(db_path, "SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"timers_due", "history_user"} <= indexes
    assert query(db_path, "SELECT value FROM meta WHERE key = 'schema_version'") == [(str(len(MIGRATIONS)),)]
    assert await store.schema_version() == len(MIGRATIONS)
    assert query(db_path, "PRAGMA journal_mode") == [("wal",)]


async def test_reopening_an_up_to_date_database_changes_nothing(store, db_path):
    assert await save(store, ANNA, 0, '{"a": 1}')
    await store.close()
    schema_cookie = query(db_path, "PRAGMA schema_version")
    before = snapshot(db_path)
    again = await open_storage(f"sqlite:///{db_path}")
    try:
        assert query(db_path, "PRAGMA schema_version") == schema_cookie  # no DDL ran
        assert snapshot(db_path) == before
        assert (await again.load(ANNA)).state_json == '{"a": 1}'
    finally:
        await again.close()


async def test_new_migration_steps_are_applied_in_order_on_open(store, db_path, monkeypatch):
    await save(store, ANNA, 0)
    await store.close()
    extra = ("ALTER TABLE users ADD COLUMN nickname TEXT", "UPDATE users SET nickname = 'first'")
    monkeypatch.setattr(storage_module, "MIGRATIONS", [*MIGRATIONS, extra])
    again = await open_storage(f"sqlite:///{db_path}")
    await again.close()
    assert query(db_path, "SELECT value FROM meta WHERE key = 'schema_version'") == [(str(len(MIGRATIONS) + 1),)]
    assert query(db_path, "SELECT nickname FROM users") == [("first",)]


async def test_a_failing_migration_step_rolls_back_entirely(store, db_path, monkeypatch):
    await store.close()
    broken = ("CREATE TABLE extra (x INTEGER)", "THIS IS NOT SQL")
    monkeypatch.setattr(storage_module, "MIGRATIONS", [*MIGRATIONS, broken])
    with pytest.raises(StorageConfigError, match="stretch.db"):
        await open_storage(f"sqlite:///{db_path}")
    assert query(db_path, "SELECT name FROM sqlite_master WHERE name = 'extra'") == []
    assert query(db_path, "SELECT value FROM meta WHERE key = 'schema_version'") == [(str(len(MIGRATIONS)),)]


async def test_a_database_from_a_newer_program_is_refused(store, db_path):
    await store.close()
    with sqlite3.connect(db_path) as db:
        db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(StorageConfigError, match="newer"):
        await open_storage(f"sqlite:///{db_path}")


# ---- users --------------------------------------------------------------------------------------
async def test_a_new_user_loads_empty(store):
    assert await store.load(ANNA) == Loaded(state_json=None, version=0, address={})


async def test_save_and_load_round_trip(store, db_path):
    assert await save(store, ANNA, 0, '{"screen": 1}', address={"chat_id": 5}, profile=PROFILE)
    assert await store.load(ANNA) == Loaded('{"screen": 1}', 1, {"chat_id": 5})
    assert query(db_path, "SELECT timezone, last_triage_at_ms, last_triage_level FROM users") == [
        ("Europe/Berlin", storage_module.to_ms(T0), "D")]

    # address None keeps the stored one; the version moves on with every save
    assert await save(store, ANNA, 1, '{"screen": 2}', address=None, profile={})
    assert await store.load(ANNA) == Loaded('{"screen": 2}', 2, {"chat_id": 5})
    assert query(db_path, "SELECT timezone, last_triage_at_ms FROM users") == [(None, None)]
    assert (await store.load(BORIS)).version == 0


async def test_a_second_insert_for_a_new_user_loses(store):
    assert await save(store, ANNA, 0, '{"who": "first"}')
    assert not await save(store, ANNA, 0, '{"who": "second"}')
    assert (await store.load(ANNA)).state_json == '{"who": "first"}'


async def test_a_version_conflict_returns_false_and_changes_nothing(store, db_path):
    assert await save(store, ANNA, 0, '{"v": 1}', address={"chat_id": 1}, schedule=[timer(ANNA, "hold", 30)],
                      history=[ended()])
    assert await save(store, ANNA, 1, '{"v": 2}', schedule=[timer(ANNA, "daily", 3600)])
    before = snapshot(db_path)

    stale = await save(store, ANNA, 1, '{"v": "lost"}', address={"chat_id": 9}, profile=PROFILE,
                       schedule=[timer(ANNA, "other", 5)], cancel=["daily"], history=[ended("stopped")],
                       fired=timer(ANNA, "hold", 30))
    assert stale is False
    assert snapshot(db_path) == before
    assert await store.load(ANNA) == Loaded('{"v": 2}', 2, {"chat_id": 1})


async def test_state_timers_and_history_commit_together(store):
    assert await save(store, ANNA, 0, '{"v": 1}', schedule=[timer(ANNA, "hold", 30), timer(ANNA, "daily", 60)])
    assert await save(store, ANNA, 1, '{"v": 2}', schedule=[timer(ANNA, "next", 90, step=2)], cancel=["hold"],
                      history=[ended()])
    assert (await store.load(ANNA)).state_json == '{"v": 2}'
    assert [(t.name, t.due, t.payload) for t in await store.timers(ANNA)] == [
        ("daily", at(60), {}), ("next", at(90), {"step": 2})]
    assert await store.history(ANNA) == [ended()]


@pytest.mark.parametrize("breakage", ["timer payload", "history row"])
async def test_a_failure_mid_save_writes_nothing(store, db_path, breakage):
    assert await save(store, ANNA, 0, '{"v": 1}', schedule=[timer(ANNA, "hold", 30)])
    before = snapshot(db_path)
    if breakage == "timer payload":  # the state UPDATE has run when the payload fails to serialise
        kwargs = {"schedule": [timer(ANNA, "daily", 60), TimerRow(ANNA, "bad", at(5), {"x": object()})]}
        error = TypeError
    else:  # a naive time in the last statement of the transaction
        kwargs = {"history": [ended(), HistoryRow("completed", None, None, 1, 1, datetime(2026, 1, 1))]}
        error = ValueError
    with pytest.raises(error):
        await save(store, ANNA, 1, '{"v": 2}', cancel=["hold"], **kwargs)
    assert snapshot(db_path) == before
    # the connection is usable again: no transaction left open, the lock released
    assert await save(store, ANNA, 1, '{"v": 2}')
    assert (await store.load(ANNA)).version == 2


async def test_scheduling_the_same_name_again_replaces_the_timer(store):
    assert await save(store, ANNA, 0, schedule=[timer(ANNA, "hold", 30, seq=1)])
    assert [t.name for t in await store.claim_due(at(30), limit=10, lease=timedelta(seconds=60), owner="p1")] == ["hold"]
    assert await save(store, ANNA, 1, schedule=[timer(ANNA, "hold", 45, seq=2)])
    assert await store.timers(ANNA) == [timer(ANNA, "hold", 45, seq=2)]
    # the replacement is a fresh timer: not held by the old claim
    assert await store.claim_due(at(45), limit=10, lease=timedelta(seconds=60), owner="p2") == [
        timer(ANNA, "hold", 45, seq=2)]


# ---- timers -------------------------------------------------------------------------------------
async def test_claim_due_takes_due_timers_oldest_first_and_leases_them(store):
    assert await save(store, ANNA, 0, schedule=[timer(ANNA, "hold", 20), timer(ANNA, "daily", 100)])
    assert await save(store, BORIS, 0, schedule=[timer(BORIS, "hold", 10), timer(BORIS, "late", 30)])
    lease = timedelta(seconds=60)

    claimed = await store.claim_due(at(30), limit=10, lease=lease, owner="p1")
    assert [(t.key, t.name) for t in claimed] == [(BORIS, "hold"), (ANNA, "hold"), (BORIS, "late")]
    assert await store.claim_due(at(50), limit=10, lease=lease, owner="p2") == []  # within the lease
    assert await store.next_due() == at(90)  # the earliest lease end comes before the daily timer

    again = await store.claim_due(at(90), limit=2, lease=lease, owner="p2")  # leases ran out
    assert [(t.key, t.name) for t in again] == [(BORIS, "hold"), (ANNA, "hold")]
    assert [(t.key, t.name) for t in await store.claim_due(at(100), limit=10, lease=lease, owner="p2")] == [
        (BORIS, "late"), (ANNA, "daily")]


async def test_claim_due_is_one_statement_per_batch(store):
    for number in range(5):
        key = UserKey("telegram", str(number))
        assert await save(store, key, 0, schedule=[timer(key, "hold", number)])
    statements: list[str] = []
    await store._db.set_trace_callback(statements.append)
    claimed = await store.claim_due(at(10), limit=500, lease=timedelta(seconds=60), owner="p1")
    await store._db.set_trace_callback(None)
    assert len(claimed) == 5
    assert [s.split()[0] for s in statements] == ["BEGIN", "UPDATE", "COMMIT"]


async def test_two_processes_never_claim_the_same_timer(store, db_path):
    for number in range(40):
        key = UserKey("discord", str(number))
        assert await save(store, key, 0, schedule=[timer(key, "hold", number % 7)])
    other = await open_storage(f"sqlite:///{db_path}")
    try:
        lease = timedelta(seconds=60)
        first, second = await asyncio.gather(
            *(s.claim_due(at(10), limit=15, lease=lease, owner=o) for s, o in ((store, "a"), (other, "b"))))
        rest = await store.claim_due(at(10), limit=100, lease=lease, owner="a")
    finally:
        await other.close()
    names = [(t.key, t.name) for t in first + second + rest]
    assert len(names) == len(set(names)) == 40


async def test_a_fired_timer_is_deleted_only_if_its_due_is_unchanged(store):
    assert await save(store, ANNA, 0, schedule=[timer(ANNA, "hold", 30), timer(ANNA, "daily", 40)])
    hold, daily = await store.claim_due(at(40), limit=10, lease=timedelta(seconds=60), owner="p1")
    # meanwhile another input rescheduled "daily"
    assert await save(store, ANNA, 1, schedule=[timer(ANNA, "daily", 90)])
    assert await save(store, ANNA, 2, fired=hold)
    assert await save(store, ANNA, 3, fired=daily)
    assert await store.timers(ANNA) == [timer(ANNA, "daily", 90)]


async def test_a_fired_timer_scheduled_again_for_the_same_time_stays(store):
    assert await save(store, ANNA, 0, schedule=[timer(ANNA, "daily", 30)])
    [daily] = await store.claim_due(at(30), limit=10, lease=timedelta(seconds=60), owner="p1")
    assert await save(store, ANNA, 1, schedule=[timer(ANNA, "daily", 30, again=True)], fired=daily)
    assert await store.timers(ANNA) == [timer(ANNA, "daily", 30, again=True)]


async def test_next_due_is_none_without_timers(store):
    assert await store.next_due() is None
    assert await save(store, ANNA, 0, schedule=[timer(ANNA, "hold", 30)])
    assert await store.next_due() == at(30)


# ---- history, export, forget --------------------------------------------------------------------
async def test_history_keeps_sessions_in_order_per_user(store):
    assert await save(store, ANNA, 0, history=[ended("completed", 1)])
    assert await save(store, BORIS, 0, history=[ended("referral", 2)])
    assert await save(store, ANNA, 1, history=[ended("stopped", 3)])
    assert [h.outcome for h in await store.history(ANNA)] == ["completed", "stopped"]
    assert (await store.history(ANNA))[1].ended_at == at(3)


async def test_export_user_returns_every_row_as_json(store):
    assert await save(store, ANNA, 0, '{"screen": 3}', address={"chat_id": 5}, profile=PROFILE,
                      schedule=[timer(ANNA, "daily", 60, kind="reminder")], history=[ended()])
    assert await save(store, BORIS, 0, '{"screen": 9}', history=[ended("stopped")])
    data = await store.export_user(ANNA)
    json.dumps(data)  # JSON-able as it is
    assert data["state"] == {"screen": 3}
    assert data["profile"] | {"created_at": None, "updated_at": None} == {
        "platform": "telegram", "user_id": "101", "address": {"chat_id": 5}, "timezone": "Europe/Berlin",
        "last_triage_at": T0.isoformat(), "last_triage_level": "D", "version": 1,
        "created_at": None, "updated_at": None}
    assert data["timers"] == [{"name": "daily", "due": at(60).isoformat(), "payload": {"kind": "reminder"}}]
    assert data["history"] == [{"outcome": "completed", "routine": "lower_back", "level": None,
                                "stretches_done": 3, "seconds": 90, "ended_at": T0.isoformat()}]
    assert await store.export_user(UserKey("console", "nobody")) == {
        "profile": None, "state": None, "timers": [], "history": []}


async def test_forget_user_removes_the_user_from_every_table(store, db_path):
    for key in (ANNA, BORIS):
        assert await save(store, key, 0, address={"id": 1}, profile=PROFILE,
                          schedule=[timer(key, "hold", 5), timer(key, "daily", 50)], history=[ended()])
    await store.forget_user(ANNA)

    with sqlite3.connect(db_path) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            columns = {r[1] for r in db.execute(f"PRAGMA table_info({table})")}
            if table in ("meta", "sqlite_sequence"):
                assert "user_id" not in columns
                continue
            # a new table about users must be keyed the same way, or forget would miss it
            assert {"platform", "user_id"} <= columns, table
            count = lambda key: db.execute(  # noqa: E731
                f"SELECT COUNT(*) FROM {table} WHERE platform = ? AND user_id = ?",
                (key.platform, key.user_id)).fetchone()[0]
            assert count(ANNA) == 0, table
            assert count(BORIS) > 0, table
    assert await store.load(ANNA) == Loaded(None, 0, {})
    assert await save(store, ANNA, 0)  # starts over as a new user


# ---- URLs ---------------------------------------------------------------------------------------
def test_storage_urls_name_sqlite_files():
    assert sqlite_path(None) == "./stretchbot.db"
    assert sqlite_path("") == "./stretchbot.db"
    assert sqlite_path("sqlite:///data/bot.db") == "data/bot.db"
    assert sqlite_path("sqlite:////var/lib/stretchbot/bot.db") == "/var/lib/stretchbot/bot.db"


@pytest.mark.parametrize("url, message", [
    ("postgresql://bot:secret@db/stretch", "PostgreSQL storage arrives with the scale-out work"),
    ("postgres://bot:secret@db/stretch", "PostgreSQL storage arrives with the scale-out work"),
    ("mysql://bot:secret@db/stretch", "unsupported storage URL scheme 'mysql': use sqlite:///"),
    ("stretch.db", "storage URL has no scheme: use sqlite:///"),
    ("sqlite://", "SQLite URL needs a path"),
    ("sqlite:///", "SQLite URL needs a path"),
])
def test_bad_storage_urls_explain_themselves(url, message):
    with pytest.raises(StorageConfigError) as raised:
        sqlite_path(url)
    text = str(raised.value)
    assert message in text and "\n" not in text
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


async def test_postgres_is_not_yet_available():
    with pytest.raises(StorageConfigError, match="scale-out"):
        await open_storage("postgresql://localhost/stretch")


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
