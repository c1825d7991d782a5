"""The storage contract: one suite, run unchanged against SQLite (a tmp_path file) and PostgreSQL (a
fresh schema on a real server). Round trips, optimistic concurrency, atomic saves, timers with
claims and leases, history, export and forget, migrations.

Each backend comes with an inspector (tests/storage_backends.py) that reads the database behind the
storage's back, on its own connection, so the tests check what is really stored, including "no row
left in any table".
"""
from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest

from bot import storage as storage_module
from bot.cli import main as cli_main
from bot.storage import (
    MIGRATIONS,
    FeedbackRow,
    HistoryRow,
    Loaded,
    OutgoingMessage,
    StorageConfigError,
    TimerRow,
    UserKey,
    open_storage,
    to_ms,
)
from bot.storage import schema as storage_schema  # where _migrate reads MIGRATIONS

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ANNA = UserKey("telegram", "101")
BORIS = UserKey("discord", "202")
PROFILE = {"timezone": "Europe/Berlin", "last_triage_at": T0, "last_triage_level": "D"}
LEASE = timedelta(seconds=60)
# the only tables without platform/user_id columns; outbox_chats has a row only while a chat has queued
# messages, so forget_user removes it with the user's outbox rows (checked below)
NOT_ABOUT_USERS = {"meta", "sqlite_sequence", "media", "outbox_chats"}
EMPTY_EXPORT = {"profile": None, "state": None, "timers": [], "history": [], "feedback": [], "queued_messages": [],
                "undelivered_messages": []}


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def timer(key, name, seconds, **payload) -> TimerRow:
    return TimerRow(key, name, at(seconds), payload)


def ended(outcome="completed", seconds=0) -> HistoryRow:
    return HistoryRow(outcome, "lower_back", None, 3, 90, at(seconds))


async def save(storage, key, version, state="{}", *, address=None, profile=None, schedule=(), cancel=(),
               history=(), fired=None, inputs=None) -> bool:
    return await storage.save(key, expected_version=version, state_json=state, address=address,
                              profile=profile if profile is not None else {}, schedule=list(schedule),
                              cancel=list(cancel), history=list(history), fired=fired, inputs=inputs)


async def snapshot(backend) -> dict[str, list]:
    """Every row of every table."""
    tables = await backend.columns()
    return {table: sorted(await backend.query(f"SELECT * FROM {table}"), key=repr) for table in tables}


def claimed_names(rows: list[TimerRow]) -> list[tuple[UserKey, str]]:
    return [(row.key, row.name) for row in rows]


# ---- schema -------------------------------------------------------------------------------------
async def test_migrations_create_the_schema_and_record_the_version(store, backend):
    assert {"meta", "users", "timers", "history"} <= set(await backend.columns())
    assert await backend.query("SELECT value FROM meta WHERE key = 'schema_version'") == [(str(len(MIGRATIONS)),)]
    assert await store.schema_version() == len(MIGRATIONS)
    assert store.found_version == 0


async def test_reopening_an_up_to_date_database_changes_nothing(store, backend):
    assert await save(store, ANNA, 0, '{"a": 1}')
    before = await snapshot(backend)
    again = await open_storage(backend.url)
    try:
        assert again.found_version == len(MIGRATIONS)
        assert await snapshot(backend) == before
        assert (await again.load(ANNA)).state_json == '{"a": 1}'
    finally:
        await again.close()


async def test_processes_starting_together_migrate_once(backend):
    opened = await asyncio.gather(*(open_storage(backend.url) for _ in range(4)))
    try:
        assert [await s.schema_version() for s in opened] == [len(MIGRATIONS)] * 4
        assert sorted(s.found_version for s in opened)[0] == 0
        assert await save(opened[0], ANNA, 0) and (await opened[3].load(ANNA)).version == 1
    finally:
        await asyncio.gather(*(s.close() for s in opened))


async def test_new_migration_steps_are_applied_in_order_on_open(store, backend, monkeypatch):
    await save(store, ANNA, 0)
    extra = ("ALTER TABLE users ADD COLUMN nickname TEXT", "UPDATE users SET nickname = 'first'")
    monkeypatch.setattr(storage_schema, "MIGRATIONS", [*MIGRATIONS, extra])
    again = await open_storage(backend.url)
    await again.close()
    assert again.found_version == len(MIGRATIONS)
    assert await backend.query("SELECT value FROM meta WHERE key = 'schema_version'") == [
        (str(len(MIGRATIONS) + 1),)]
    assert await backend.query("SELECT nickname FROM users") == [("first",)]


async def test_a_failing_migration_step_rolls_back_entirely(store, backend, monkeypatch):
    broken = ("CREATE TABLE extra (x INTEGER)", "THIS IS NOT SQL")
    monkeypatch.setattr(storage_schema, "MIGRATIONS", [*MIGRATIONS, broken])
    with pytest.raises(StorageConfigError) as raised:
        await open_storage(backend.url)
    assert "\n" not in str(raised.value)
    assert "extra" not in await backend.columns()
    assert await backend.query("SELECT value FROM meta WHERE key = 'schema_version'") == [(str(len(MIGRATIONS)),)]


async def test_a_database_from_a_newer_program_is_refused(store, backend):
    await store.save(ANNA, expected_version=0, state_json="{}", address=None, profile={}, schedule=[],
                     cancel=[], history=[])
    await backend.query("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(StorageConfigError, match="newer"):
        await open_storage(backend.url)


def test_migrate_command_names_the_backend_and_version(backend, capsys):
    assert cli_main(["migrate", "--database-url", backend.url]) == 0
    first = capsys.readouterr().out.strip()
    assert cli_main(["migrate", "--database-url", backend.url]) == 0
    second = capsys.readouterr().out.strip()
    label = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}[backend.name]
    version = len(MIGRATIONS)
    assert first.startswith(f"{label} database ") and first.endswith(
        f"schema version {version} (migrated from version 0)")
    assert second.endswith(f"schema version {version} (already up to date)")


# ---- users --------------------------------------------------------------------------------------
async def test_a_new_user_loads_empty(store):
    assert await store.load(ANNA) == Loaded(state_json=None, version=0, address={})


async def test_save_and_load_round_trip(store, backend):
    assert await save(store, ANNA, 0, '{"screen": 1}', address={"chat_id": 5}, profile=PROFILE)
    assert await store.load(ANNA) == Loaded('{"screen": 1}', 1, {"chat_id": 5})
    assert await backend.query("SELECT timezone, last_triage_at_ms, last_triage_level FROM users") == [
        ("Europe/Berlin", to_ms(T0), "D")]

    # address None keeps the stored one; the version moves on with every save
    assert await save(store, ANNA, 1, '{"screen": 2}', address=None, profile={})
    assert await store.load(ANNA) == Loaded('{"screen": 2}', 2, {"chat_id": 5})
    assert await backend.query("SELECT timezone, last_triage_at_ms FROM users") == [(None, None)]
    assert (await store.load(BORIS)).version == 0


async def test_the_input_numbers_go_with_the_step_that_handled_them(store):
    """What Runtime.handle recognises a delivered-again input by: written with the step, or not at all."""
    assert await save(store, ANNA, 0, inputs={"5": 10})
    assert (await store.load(ANNA)).inputs == {"5": 10}
    assert await save(store, ANNA, 1)  # None (a timer's step) keeps them
    assert not await save(store, ANNA, 1, inputs={"5": 11})  # a lost save writes none
    assert (await store.load(ANNA)).inputs == {"5": 10}
    assert await save(store, ANNA, 2, inputs={"5": 12, "-100": 3})
    assert (await store.load_many([ANNA, BORIS])) == {
        ANNA: Loaded("{}", 3, {}, {"5": 12, "-100": 3}), BORIS: Loaded(None, 0, {})}


async def test_a_second_insert_for_a_new_user_loses(store):
    assert await save(store, ANNA, 0, '{"who": "first"}')
    assert not await save(store, ANNA, 0, '{"who": "second"}')
    assert (await store.load(ANNA)).state_json == '{"who": "first"}'


async def test_a_version_conflict_returns_false_and_changes_nothing(store, backend):
    assert await save(store, ANNA, 0, '{"v": 1}', address={"chat_id": 1}, schedule=[timer(ANNA, "hold", 30)],
                      history=[ended()])
    assert await save(store, ANNA, 1, '{"v": 2}', schedule=[timer(ANNA, "daily", 3600)])
    before = await snapshot(backend)

    stale = await save(store, ANNA, 1, '{"v": "lost"}', address={"chat_id": 9}, profile=PROFILE,
                       schedule=[timer(ANNA, "other", 5)], cancel=["daily"], history=[ended("stopped")],
                       fired=timer(ANNA, "hold", 30))
    assert stale is False
    assert await snapshot(backend) == before
    assert await store.load(ANNA) == Loaded('{"v": 2}', 2, {"chat_id": 1})


@pytest.mark.parametrize("start", [0, 1])
async def test_concurrent_saves_of_one_version_let_exactly_one_win(store, backend, start):
    if start:
        assert await save(store, ANNA, 0, '{"v": 0}')
    other = await open_storage(backend.url)
    try:
        results = await asyncio.gather(*(save(s, ANNA, start, f'{{"writer": {n}}}', schedule=[timer(ANNA, f"t{n}", n)])
                                         for n, s in enumerate([store, other] * 5)))
    finally:
        await other.close()
    assert results.count(True) == 1
    winner = results.index(True)
    assert await store.load(ANNA) == Loaded(f'{{"writer": {winner}}}', start + 1, {})
    assert [t.name for t in await store.timers(ANNA)] == [f"t{winner}"]  # the losers wrote nothing


async def test_state_timers_and_history_commit_together(store):
    assert await save(store, ANNA, 0, '{"v": 1}', schedule=[timer(ANNA, "hold", 30), timer(ANNA, "daily", 60)])
    assert await save(store, ANNA, 1, '{"v": 2}', schedule=[timer(ANNA, "next", 90, step=2)], cancel=["hold"],
                      history=[ended()])
    assert (await store.load(ANNA)).state_json == '{"v": 2}'
    assert [(t.name, t.due, t.payload) for t in await store.timers(ANNA)] == [
        ("daily", at(60), {}), ("next", at(90), {"step": 2})]
    assert await store.history(ANNA) == [ended()]


@pytest.mark.parametrize("breakage", ["timer payload", "history row"])
async def test_a_failure_mid_save_writes_nothing(store, backend, breakage):
    assert await save(store, ANNA, 0, '{"v": 1}', schedule=[timer(ANNA, "hold", 30)])
    before = await snapshot(backend)
    if breakage == "timer payload":  # the state UPDATE and a timer have run when the payload fails
        kwargs = {"schedule": [timer(ANNA, "daily", 60), TimerRow(ANNA, "bad", at(5), {"x": object()})]}
        error = TypeError
    else:  # a naive time in the last statement of the transaction
        kwargs = {"history": [ended(), HistoryRow("completed", None, None, 1, 1, datetime(2026, 1, 1))]}
        error = ValueError
    with pytest.raises(error):
        await save(store, ANNA, 1, '{"v": 2}', cancel=["hold"], **kwargs)
    assert await snapshot(backend) == before
    # the storage is usable again: no transaction left open, nothing locked
    assert await save(store, ANNA, 1, '{"v": 2}')
    assert (await store.load(ANNA)).version == 2


async def test_scheduling_the_same_name_again_replaces_the_timer(store):
    assert await save(store, ANNA, 0, schedule=[timer(ANNA, "hold", 30, seq=1)])
    assert claimed_names(await store.claim_due(at(30), limit=10, lease=LEASE, owner="p1")) == [(ANNA, "hold")]
    assert await save(store, ANNA, 1, schedule=[timer(ANNA, "hold", 45, seq=2)])
    assert await store.timers(ANNA) == [timer(ANNA, "hold", 45, seq=2)]
    # the replacement is a fresh timer: not held by the old claim
    assert await store.claim_due(at(45), limit=10, lease=LEASE, owner="p2") == [timer(ANNA, "hold", 45, seq=2)]


async def test_cancel_removes_only_the_named_timer_of_that_user(store):
    assert await save(store, ANNA, 0, schedule=[timer(ANNA, "hold", 30), timer(ANNA, "daily", 60)])
    assert await save(store, BORIS, 0, schedule=[timer(BORIS, "hold", 30)])
    assert await save(store, ANNA, 1, cancel=["hold", "never-scheduled"])
    assert await store.timers(ANNA) == [timer(ANNA, "daily", 60)]
    assert await store.timers(BORIS) == [timer(BORIS, "hold", 30)]


# ---- timers -------------------------------------------------------------------------------------
async def test_claim_due_takes_due_timers_oldest_first_and_leases_them(store):
    assert await save(store, ANNA, 0, schedule=[timer(ANNA, "hold", 20), timer(ANNA, "daily", 100)])
    assert await save(store, BORIS, 0, schedule=[timer(BORIS, "hold", 10), timer(BORIS, "late", 30)])

    claimed = await store.claim_due(at(30), limit=10, lease=LEASE, owner="p1")
    assert claimed == [timer(BORIS, "hold", 10), timer(ANNA, "hold", 20), timer(BORIS, "late", 30)]
    assert await store.claim_due(at(50), limit=10, lease=LEASE, owner="p2") == []  # within the lease
    assert await store.next_due() == at(90)  # the earliest lease end comes before the daily timer

    again = await store.claim_due(at(90), limit=2, lease=LEASE, owner="p2")  # leases ran out; limit 2
    assert claimed_names(again) == [(BORIS, "hold"), (ANNA, "hold")]
    assert claimed_names(await store.claim_due(at(100), limit=10, lease=LEASE, owner="p2")) == [
        (BORIS, "late"), (ANNA, "daily")]


async def test_claim_due_marks_the_owner_and_lease_end(store, backend):
    assert await save(store, ANNA, 0, schedule=[timer(ANNA, "hold", 20)])
    await store.claim_due(at(30), limit=10, lease=LEASE, owner="worker-7")
    assert await backend.query("SELECT claimed_by, claimed_until_ms FROM timers") == [
        ("worker-7", to_ms(at(30) + LEASE))]


async def test_claim_due_is_one_statement_per_batch(store, backend):
    for number in range(5):
        key = UserKey("telegram", str(number))
        assert await save(store, key, 0, schedule=[timer(key, "hold", number)])
    async with backend.statements(store) as sent:
        claimed = await store.claim_due(at(10), limit=500, lease=LEASE, owner="p1")
    assert len(claimed) == 5
    work = [s for s in sent if s.split()[0].upper() not in ("BEGIN", "COMMIT")
            and "pg_advisory_unlock_all" not in s]  # transaction control; the pool's connection reset
    assert len(work) == 1, sent
    assert "UPDATE timers" in work[0] and "RETURNING" in work[0]


async def test_two_processes_never_claim_the_same_timer(store, backend):
    for number in range(40):
        key = UserKey("discord", str(number))
        assert await save(store, key, 0, schedule=[timer(key, "hold", number % 7)])
    other = await open_storage(backend.url)
    try:
        first, second = await asyncio.gather(
            *(s.claim_due(at(10), limit=15, lease=LEASE, owner=o) for s, o in ((store, "a"), (other, "b"))))
        rest = await store.claim_due(at(10), limit=100, lease=LEASE, owner="a")
    finally:
        await other.close()
    names = claimed_names(first + second + rest)
    assert len(first) == len(second) == 15
    assert len(names) == len(set(names)) == 40


async def test_a_process_can_claim_only_its_own_platforms(store):
    # a Telegram-only worker must leave Discord users' timers to the Discord worker
    assert await save(store, ANNA, 0, schedule=[timer(ANNA, "hold", 20)])
    assert await save(store, BORIS, 0, schedule=[timer(BORIS, "hold", 10)])
    assert await store.next_due(platforms=("telegram",)) == at(20)
    assert await store.next_due(platforms=("console",)) is None
    assert await store.claim_due(at(30), limit=10, lease=LEASE, owner="t", platforms=("telegram",)) == [
        timer(ANNA, "hold", 20)]
    assert await store.claim_due(at(30), limit=10, lease=LEASE, owner="x", platforms=()) == []
    assert await store.claim_due(at(30), limit=10, lease=LEASE, owner="d", platforms=("discord", "console")) == [
        timer(BORIS, "hold", 10)]


async def test_a_fired_timer_is_deleted_only_if_its_due_is_unchanged(store):
    assert await save(store, ANNA, 0, schedule=[timer(ANNA, "hold", 30), timer(ANNA, "daily", 40)])
    hold, daily = await store.claim_due(at(40), limit=10, lease=LEASE, owner="p1")
    # meanwhile another input rescheduled "daily"
    assert await save(store, ANNA, 1, schedule=[timer(ANNA, "daily", 90)])
    assert await save(store, ANNA, 2, fired=hold)
    assert await save(store, ANNA, 3, fired=daily)
    assert await store.timers(ANNA) == [timer(ANNA, "daily", 90)]


async def test_a_fired_timer_scheduled_again_for_the_same_time_stays(store):
    assert await save(store, ANNA, 0, schedule=[timer(ANNA, "daily", 30)])
    [daily] = await store.claim_due(at(30), limit=10, lease=LEASE, owner="p1")
    assert await save(store, ANNA, 1, schedule=[timer(ANNA, "daily", 30, again=True)], fired=daily)
    assert await store.timers(ANNA) == [timer(ANNA, "daily", 30, again=True)]


async def test_next_due_is_the_earliest_timer_or_none(store):
    assert await store.next_due() is None
    assert await save(store, ANNA, 0, schedule=[timer(ANNA, "hold", 30), timer(ANNA, "daily", 10)])
    assert await store.next_due() == at(10)
    assert await save(store, ANNA, 1, cancel=["hold", "daily"])
    assert await store.next_due() is None


async def test_times_keep_millisecond_precision(store):
    due = T0 + timedelta(milliseconds=1234)
    assert await save(store, ANNA, 0, schedule=[TimerRow(ANNA, "hold", due, {})])
    [row] = await store.timers(ANNA)
    assert row.due == due and row.due.tzinfo is not None


# ---- history, export, forget --------------------------------------------------------------------
async def test_history_keeps_sessions_in_order_per_user(store):
    assert await save(store, ANNA, 0, history=[ended("completed", 1)])
    assert await save(store, BORIS, 0, history=[ended("referral", 2)])
    assert await save(store, ANNA, 1, history=[ended("stopped", 3), ended("completed", 4)])
    assert [h.outcome for h in await store.history(ANNA)] == ["completed", "stopped", "completed"]
    assert (await store.history(ANNA))[1] == ended("stopped", 3)
    assert await store.history(UserKey("console", "nobody")) == []


async def test_export_user_returns_every_row_as_json(store):
    assert await save(store, ANNA, 0, '{"screen": 3}', address={"chat_id": 5}, profile=PROFILE,
                      schedule=[timer(ANNA, "daily", 60, kind="reminder")], history=[ended()])
    assert await save(store, BORIS, 0, '{"screen": 9}', history=[ended("stopped")])
    data = await store.export_user(ANNA)
    json.dumps(data)  # JSON-able as it is
    assert data["state"] == {"screen": 3}
    assert data["profile"] | {"created_at": None, "updated_at": None} == {
        "platform": "telegram", "user_id": "101", "address": {"chat_id": 5}, "timezone": "Europe/Berlin",
        "last_triage_at": T0.isoformat(), "last_triage_level": "D", "created_at": None, "updated_at": None}
    assert data["timers"] == [{"name": "daily", "due": at(60).isoformat(), "payload": {"kind": "reminder"}}]
    assert data["history"] == [{"outcome": "completed", "routine": "lower_back", "level": None,
                                "stretches_done": 3, "seconds": 90, "ended_at": T0.isoformat(),
                                "score_before": None, "score_after": None}]
    assert await store.export_user(UserKey("console", "nobody")) == EMPTY_EXPORT


async def test_forget_user_leaves_no_row_in_any_table(store, backend):
    for key in (ANNA, BORIS):
        chat = f"{key.platform}:{key.user_id}"
        assert await store.save(key, expected_version=0, state_json="{}", address={"id": 1}, profile=PROFILE,
                                schedule=[timer(key, "hold", 5), timer(key, "daily", 50)], cancel=[],
                                history=[ended()], feedback=[FeedbackRow(T0, "lower5", "cat_cow", "good", 30)],
                                outbox=[OutgoingMessage(chat, {"kind": "message", "safety": False, "n": n})
                                        for n in range(2)])
    for row in await store.claim_outbox(at(0), limit=10, lease=LEASE, owner="sender"):
        assert await store.dead_letter(row.id, "sender", "blocked") == 1  # a row in dead_letters each
    await store.remember_media("telegram", "sha256:abc", "file-1")
    await store.forget_user(ANNA)

    tables = await backend.columns()  # from the catalog: a table added later is checked too
    assert {"users", "timers", "history", "outbox", "outbox_chats", "dead_letters", "feedback", "media"} <= set(tables)
    for table, columns in tables.items():
        if table in NOT_ABOUT_USERS:
            assert "user_id" not in columns, table
            continue
        # a new table about users must be keyed the same way, or forget would miss it
        assert {"platform", "user_id"} <= columns, table
        rows = await backend.query(f"SELECT platform, user_id FROM {table}")
        assert (ANNA.platform, ANNA.user_id) not in rows, table
        assert (BORIS.platform, BORIS.user_id) in rows, table
    assert await backend.query("SELECT chat FROM outbox_chats") == [("discord:202",)]
    assert await store.load(ANNA) == Loaded(None, 0, {})
    assert await store.export_user(ANNA) == EMPTY_EXPORT
    assert await save(store, ANNA, 0)  # starts over as a new user


# ---- batches (the scheduler's path) ------------------------------------------------------------
async def test_load_many_reads_several_users_in_one_go(store):
    await save(store, ANNA, 0, '{"a": 1}', address={"chat_id": 5})
    nobody = UserKey("telegram", "999")
    loaded = await store.load_many([ANNA, BORIS, nobody])
    assert loaded[ANNA].state_json == '{"a": 1}' and loaded[ANNA].version == 1
    assert loaded[ANNA].address == {"chat_id": 5}
    assert loaded[BORIS] == loaded[nobody] == storage_module.Loaded(state_json=None, version=0, address={})


async def test_load_many_handles_more_users_than_one_query_takes(store):
    keys = [UserKey("telegram", str(n)) for n in range(storage_module.LOAD_CHUNK * 2 + 3)]
    await store.save_many([storage_module.Save(k, 0, f'{{"n": "{k.user_id}"}}', None, {}, [], [], [])
                           for k in keys])
    loaded = await store.load_many(keys)
    assert all(loaded[k].state_json == f'{{"n": "{k.user_id}"}}' for k in keys)


async def test_save_many_commits_the_winners_and_leaves_out_a_user_who_lost_the_race(store, backend):
    await save(store, ANNA, 0, '{"v": 1}', schedule=[timer(ANNA, "hold", 10)])
    await save(store, BORIS, 0, '{"v": 1}', schedule=[timer(BORIS, "hold", 10)])
    anna_fired, boris_fired = timer(ANNA, "hold", 10), timer(BORIS, "hold", 10)
    results = await store.save_many([
        storage_module.Save(ANNA, 1, '{"v": 2}', None, PROFILE, [timer(ANNA, "hold", 40)], [], [ended()],
                            anna_fired),
        storage_module.Save(BORIS, 7, '{"v": 99}', None, PROFILE, [timer(BORIS, "daily", 50)], ["hold"],
                            [ended()], boris_fired),  # stale version: none of this may be written
    ])
    assert results == [True, False]
    assert (await store.load(ANNA)).state_json == '{"v": 2}'
    assert [(t.name, t.due) for t in await store.timers(ANNA)] == [("hold", at(40))]
    assert len(await store.history(ANNA)) == 1
    assert (await store.load(BORIS)).state_json == '{"v": 1}'
    assert [(t.name, t.due) for t in await store.timers(BORIS)] == [("hold", at(10))]
    assert await store.history(BORIS) == []
