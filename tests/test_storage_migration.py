"""The schema since version 2 (outbox, dead letters, media, feedback, session scores; 3: the users' input
numbers) on databases of version 1.

tests/fixtures/schema_v1.sqlite.sql is a version-1 SQLite database made by the code before this schema
(two users with a timer and a history row each), dumped as SQL. On PostgreSQL the same rows are written
into tables made by the released step 1, which is the same text as then (never edited).
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from bot.storage import (
    MIGRATIONS,
    FeedbackRow,
    HistoryRow,
    Loaded,
    OutgoingMessage,
    TimerRow,
    UserKey,
    open_storage,
    schema,
)

V1_DUMP = Path(__file__).parent / "fixtures" / "schema_v1.sqlite.sql"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ANNA, BORIS = UserKey("telegram", "101"), UserKey("discord", "202")


def v1_rows() -> list[str]:
    """The dump's INSERTs into the user tables (not SQLite's own bookkeeping)."""
    return [
        line
        for line in V1_DUMP.read_text().splitlines()
        if line.startswith("INSERT INTO") and "sqlite_sequence" not in line and '"meta"' not in line
    ]


async def make_v1(backend, monkeypatch) -> None:
    if backend.name == "sqlite":
        with sqlite3.connect(backend.path) as db:
            db.executescript(V1_DUMP.read_text())
        return
    with monkeypatch.context() as patched:  # the released step 1, as a version-1 program ran it
        patched.setattr(schema, "MIGRATIONS", MIGRATIONS[:1])
        storage = await open_storage(backend.url)
        await storage.close()
    for insert in v1_rows():
        await backend.query(insert)
    await backend.query("SELECT setval(pg_get_serial_sequence('history', 'id'), (SELECT MAX(id) FROM history))")


def test_the_released_step_1_still_makes_the_schema_of_the_v1_fixture(tmp_path):
    fresh = sqlite3.connect(tmp_path / "step1.db")
    for statement in MIGRATIONS[0]:
        fresh.execute(statement)
    dumped = sqlite3.connect(":memory:")
    dumped.executescript(V1_DUMP.read_text())

    def tables(db) -> dict:
        names = [
            r[0]
            for r in db.execute(
                "SELECT name FROM sqlite_master WHERE type IN ('table', 'index')"
                " AND tbl_name NOT IN ('meta', 'sqlite_sequence')"
            )
        ]
        return {name: db.execute("SELECT sql FROM sqlite_master WHERE name = ?", (name,)).fetchone() for name in names}

    assert tables(fresh) == tables(dumped)


async def test_a_version_1_database_migrates_and_keeps_its_rows(backend, monkeypatch):
    await make_v1(backend, monkeypatch)
    storage = await open_storage(backend.url)
    try:
        assert storage.found_version == 1 and await storage.schema_version() == len(MIGRATIONS) == 3
        assert await storage.load(ANNA) == Loaded('{"screen": "menu"}', 1, {"chat_id": 101})
        assert await storage.timers(BORIS) == [TimerRow(BORIS, "hold", T0, {"seq": 1})]
        assert await storage.history(ANNA) == [HistoryRow("completed", "lower5", "D", 5, 150, T0)]  # no scores
        # everything new works on the old rows
        assert await storage.save(
            ANNA,
            expected_version=1,
            state_json="{}",
            address=None,
            profile={},
            schedule=[],
            cancel=[],
            history=[HistoryRow("completed", "lower5", "D", 5, 150, T0, score_before=7, score_after=4)],
            outbox=[OutgoingMessage("telegram:101", {"kind": "message", "safety": False})],
            feedback=[FeedbackRow(T0, "lower5", "cat_cow", "good", 30)],
        )
        assert [(h.score_before, h.score_after) for h in await storage.history(ANNA)] == [(None, None), (7, 4)]
        assert len(await storage.pending("telegram:101")) == 1
        assert len(await storage.feedback(ANNA)) == 1
        assert (await storage.export_user(BORIS))["history"][0]["score_before"] is None
    finally:
        await storage.close()
