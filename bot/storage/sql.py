"""SqlStorage: the Storage logic both backends share, written once with `?` placeholders in the dialect
SQLite and PostgreSQL both understand. A backend (sqlite.py, postgres.py) adds `_transaction`, the two
claims (timers, outbox), `close` and its constants; open_storage() in __init__.py picks one by URL.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import bot.storage.schema as schema
from bot.storage.base import (
    LOAD_CHUNK,
    FeedbackRow,
    HistoryRow,
    JsonDict,
    Loaded,
    OutgoingMessage,
    Params,
    Row,
    Save,
    StorageConfigError,
    T,
    TimerRow,
    Transaction,
    Tx,
    UserKey,
    from_ms,
    now_ms,
    only,
    optional_iso,
    optional_ms,
    to_json,
    to_ms,
)
from bot.storage.outbox import OutboxSql, insert_outbox, uncount

# A claimed timer becomes claimable again when its lease runs out; until then it is not "due".
_CLAIMABLE_AT = "CASE WHEN claimed_until_ms > due_ms THEN claimed_until_ms ELSE due_ms END"
# The rows claim_due returns, in the order TimerRow needs them.
CLAIMED_COLUMNS = "platform, user_id, name, due_ms, payload"
_HISTORY_COLUMNS = "outcome, routine, level, stretches_done, seconds, ended_ms, score_before, score_after"


class SqlStorage(OutboxSql):
    """The Storage logic both backends share. A backend adds `_transaction` (run `work(tx)` in one
    transaction, or on a plain connection when write=False), `claim_due`, `claim_outbox`, `close`
    and the constants."""

    backend = "SQL"  # for people: "SQLite" / "PostgreSQL"
    location = ""  # the file or the URL with its password hidden
    found_version = 0  # the schema version the database had when this process opened it
    META_EXISTS_SQL = ""  # one row, one column: 0 while the meta table does not exist yet
    SCHEMA_LOCK_SQL = ""  # run first in a migration: keeps other processes from migrating meanwhile
    SPELLINGS: tuple[tuple[str, str], ...] = ()  # (SQLite spelling, this database's) for MIGRATIONS

    async def _transaction(self, work: Transaction[T], *, write: bool = True) -> T:
        raise NotImplementedError

    async def _read(self, sql: str, params: Params = ()) -> list[Row]:
        return await self._transaction(lambda tx: tx.fetch(sql, params), write=False)

    # ---- users ---------------------------------------------------------------------------------
    async def load(self, key: UserKey) -> Loaded:
        rows = await self._read(
            "SELECT state, version, address, inputs FROM users WHERE platform = ? AND user_id = ?",
            (key.platform, key.user_id),
        )
        if not rows:
            return Loaded(state_json=None, version=0, address={})
        state, version, address, inputs = rows[0]
        return Loaded(state_json=state, version=version, address=json.loads(address), inputs=json.loads(inputs))

    async def load_many(self, keys: list[UserKey]) -> dict[UserKey, Loaded]:
        """Several users' states in one query per LOAD_CHUNK users (the scheduler's batches)."""
        found = {key: Loaded(state_json=None, version=0, address={}) for key in keys}
        for start in range(0, len(keys), LOAD_CHUNK):
            chunk = keys[start : start + LOAD_CHUNK]
            rows = await self._read(
                "SELECT platform, user_id, state, version, address, inputs FROM users WHERE (platform, user_id) IN"
                f" (VALUES {', '.join('(?, ?)' for _ in chunk)})",
                tuple(part for key in chunk for part in (key.platform, key.user_id)),
            )
            for platform, user_id, state, version, address, inputs in rows:
                found[UserKey(platform, user_id)] = Loaded(state, version, json.loads(address), json.loads(inputs))
        return found

    async def save(
        self,
        key: UserKey,
        *,
        expected_version: int,
        state_json: str,
        address: JsonDict | None,
        profile: JsonDict,
        schedule: list[TimerRow],
        cancel: list[str],
        history: list[HistoryRow],
        fired: TimerRow | None = None,
        outbox: Sequence[OutgoingMessage] = (),
        feedback: Sequence[FeedbackRow] = (),
        score_after: int | None = None,
        inputs: dict[str, int] | None = None,
    ) -> bool:
        [saved] = await self.save_many(
            [
                Save(
                    key,
                    expected_version,
                    state_json,
                    address,
                    profile,
                    schedule,
                    cancel,
                    history,
                    fired,
                    list(outbox),
                    list(feedback),
                    score_after,
                    inputs,
                )
            ]
        )
        return saved

    async def save_many(self, saves: list[Save]) -> list[bool]:
        """Several users' saves in ONE transaction, so one commit (one disk flush) for a whole batch.

        Each user's state is version-checked on its own: one who lost a race is left out (False) and
        nothing of theirs is written (no timer, history, feedback or outgoing message), while the
        others still commit. Each kind of row of all winners goes in one executemany.
        """
        now = now_ms()

        async def work(tx: Tx) -> list[bool]:
            results = [await self._write_state(tx, save, now) for save in saves]
            won = [save for save, ok in zip(saves, results, strict=True) if ok]
            # the fired rows go first: a step may schedule the same name again, and that must stay
            await tx.execute_many(
                "DELETE FROM timers WHERE platform = ? AND user_id = ? AND name = ? AND due_ms = ?",
                [(s.key.platform, s.key.user_id, s.fired.name, to_ms(s.fired.due)) for s in won if s.fired],
            )
            await tx.execute_many(
                "DELETE FROM timers WHERE platform = ? AND user_id = ? AND name = ?",
                [(s.key.platform, s.key.user_id, name) for s in won for name in s.cancel],
            )
            await tx.execute_many(
                "INSERT INTO timers (platform, user_id, name, due_ms, payload) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (platform, user_id, name) DO UPDATE SET due_ms = excluded.due_ms,"
                " payload = excluded.payload, claimed_by = NULL, claimed_until_ms = NULL",
                [
                    (s.key.platform, s.key.user_id, t.name, to_ms(t.due), to_json(t.payload))
                    for s in won
                    for t in s.schedule
                ],
            )
            await tx.execute_many(
                f"INSERT INTO history (platform, user_id, {_HISTORY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        s.key.platform,
                        s.key.user_id,
                        r.outcome,
                        r.routine,
                        r.level,
                        r.stretches_done,
                        r.seconds,
                        to_ms(r.ended_at),
                        r.score_before,
                        r.score_after,
                    )
                    for s in won
                    for r in s.history
                ],
            )
            await tx.execute_many(
                "INSERT INTO feedback (platform, user_id, at_ms, routine, stretch, rating, hold_seconds)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (s.key.platform, s.key.user_id, to_ms(f.at), f.routine, f.stretch, f.rating, f.hold_seconds)
                    for s in won
                    for f in s.feedback
                ],
            )
            await tx.execute_many(
                "UPDATE history SET score_after = ? WHERE id = (SELECT MAX(id) FROM history"
                " WHERE platform = ? AND user_id = ?)",
                [(s.score_after, s.key.platform, s.key.user_id) for s in won if s.score_after is not None],
            )
            await insert_outbox(tx, [(s.key, message) for s in won for message in s.outbox], now)
            return results

        return await self._transaction(work) if saves else []

    @staticmethod
    async def _write_state(tx: Tx, save: Save, now: int) -> bool:
        """The version-checked state write; False (and nothing written) when another write won."""
        who = (save.key.platform, save.key.user_id)
        profile = save.profile
        columns = (
            profile.get("timezone"),
            optional_ms(profile.get("last_triage_at")),
            profile.get("last_triage_level"),
        )
        if save.expected_version == 0:
            changed = await tx.execute(
                "INSERT INTO users (platform, user_id, address, timezone, last_triage_at_ms,"
                " last_triage_level, state, version, created_ms, updated_ms, inputs)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?) ON CONFLICT (platform, user_id) DO NOTHING",
                (*who, to_json(save.address or {}), *columns, save.state_json, now, now, to_json(save.inputs or {})),
            )
        else:
            changed = await tx.execute(
                "UPDATE users SET address = COALESCE(?, address), timezone = ?, last_triage_at_ms = ?,"
                " last_triage_level = ?, state = ?, version = version + 1, updated_ms = ?,"
                " inputs = COALESCE(?, inputs) WHERE platform = ? AND user_id = ? AND version = ?",
                (
                    None if save.address is None else to_json(save.address),
                    *columns,
                    save.state_json,
                    now,
                    None if save.inputs is None else to_json(save.inputs),
                    *who,
                    save.expected_version,
                ),
            )
        return changed == 1

    # ---- timers --------------------------------------------------------------------------------
    @staticmethod
    def _claimed(rows: list[Row]) -> list[TimerRow]:
        """Rows of CLAIMED_COLUMNS as TimerRows, oldest due first (RETURNING order is unspecified)."""
        rows = sorted(rows, key=lambda row: (row[3], row[0], row[1], row[2]))
        return [
            TimerRow(UserKey(platform, user_id), name, from_ms(due), json.loads(payload))
            for platform, user_id, name, due, payload in rows
        ]

    async def next_due(self, platforms: tuple[str, ...] | None = None,
                       users: tuple[str, ...] | None = None) -> datetime | None:
        where, params = only(platforms, also=("user_id", users))
        rows = await self._read(f"SELECT MIN({_CLAIMABLE_AT}) FROM timers WHERE 1 = 1{where}", params)
        return None if rows[0][0] is None else from_ms(rows[0][0])

    async def timers(self, key: UserKey) -> list[TimerRow]:
        rows = await self._read(
            "SELECT name, due_ms, payload FROM timers WHERE platform = ? AND user_id = ? ORDER BY due_ms, name",
            (key.platform, key.user_id),
        )
        return [TimerRow(key, name, from_ms(due), json.loads(payload)) for name, due, payload in rows]

    # ---- history, feedback ---------------------------------------------------------------------
    async def history(self, key: UserKey) -> list[HistoryRow]:
        rows = await self._read(
            f"SELECT {_HISTORY_COLUMNS} FROM history WHERE platform = ? AND user_id = ? ORDER BY id",
            (key.platform, key.user_id),
        )
        return [
            HistoryRow(outcome, routine, level, done, seconds, from_ms(ended), before, after)
            for outcome, routine, level, done, seconds, ended, before, after in rows
        ]

    async def feedback(self, key: UserKey, since: datetime | None = None) -> list[FeedbackRow]:
        """The user's per-stretch ratings, oldest first; `since`: only those at or after that time."""
        rows = await self._read(
            "SELECT at_ms, routine, stretch, rating, hold_seconds FROM feedback WHERE platform = ? AND user_id = ?"
            " AND at_ms >= ? ORDER BY at_ms, id",
            (key.platform, key.user_id, 0 if since is None else to_ms(since)),
        )
        return [FeedbackRow(from_ms(at), routine, stretch, rating, hold) for at, routine, stretch, rating, hold in rows]

    # ---- export, forget ------------------------------------------------------------------------
    async def export_user(self, key: UserKey) -> JsonDict:
        """Every row about the user, in plain words: JSON-able values, times as ISO 8601 UTC, and none of
        the bookkeeping columns (versions, claims, leases)."""
        users = await self._read(
            "SELECT address, timezone, last_triage_at_ms, last_triage_level, state, created_ms, updated_ms"
            " FROM users WHERE platform = ? AND user_id = ?",
            (key.platform, key.user_id),
        )
        profile: JsonDict | None = None
        state: Any = None
        if users:
            address, timezone, triage_ms, level, state_json, created, updated = users[0]
            profile = {
                "platform": key.platform,
                "user_id": key.user_id,
                "address": json.loads(address),
                "timezone": timezone,
                "last_triage_at": optional_iso(triage_ms),
                "last_triage_level": level,
                "created_at": optional_iso(created),
                "updated_at": optional_iso(updated),
            }
            state = json.loads(state_json)
        timers = [{"name": t.name, "due": t.due.isoformat(), "payload": t.payload} for t in await self.timers(key)]
        history = [
            {
                "outcome": h.outcome,
                "routine": h.routine,
                "level": h.level,
                "stretches_done": h.stretches_done,
                "seconds": h.seconds,
                "ended_at": h.ended_at.isoformat(),
                "score_before": h.score_before,
                "score_after": h.score_after,
            }
            for h in await self.history(key)
        ]
        feedback = [
            {
                "at": f.at.isoformat(),
                "routine": f.routine,
                "stretch": f.stretch,
                "rating": f.rating,
                "hold_seconds": f.hold_seconds,
            }
            for f in await self.feedback(key)
        ]
        return {
            "profile": profile,
            "state": state,
            "timers": timers,
            "history": history,
            "feedback": feedback,
            **await self._export_messages(key),
        }

    async def enqueue(self, key: UserKey, outbox: Sequence[OutgoingMessage]) -> None:
        """Queue messages with no state change (an answer to someone nothing is stored about)."""

        async def work(tx: Tx) -> None:
            await insert_outbox(tx, [(key, message) for message in outbox], now_ms())

        if outbox:
            await self._transaction(work)

    async def forget_user(self, key: UserKey, *, outbox: Sequence[OutgoingMessage] = ()) -> None:
        """Delete every row about the user from every table, in one transaction. `outbox`: messages to
        send afterwards (the confirmation), written in the same transaction so a crash cannot lose it."""
        who = (key.platform, key.user_id)

        async def work(tx: Tx) -> None:
            # the outbox first, with its chats' counts and any lease on a deleted row (outbox.py)
            await tx.execute(
                "UPDATE outbox_chats SET pending = pending WHERE chat IN"
                " (SELECT chat FROM outbox WHERE platform = ? AND user_id = ?)",
                who,
            )  # lock them
            gone = await tx.fetch("DELETE FROM outbox WHERE platform = ? AND user_id = ? RETURNING id, chat", who)
            await tx.execute_many(
                "UPDATE outbox_chats SET claimed_by = NULL, claimed_at_ms = NULL, head_id = NULL,"
                " ready_ms = 0 WHERE chat = ? AND head_id = ?",
                [(chat, row_id) for row_id, chat in gone],
            )
            await uncount(tx, [chat for _, chat in gone])
            for table in schema.USER_TABLES:
                await tx.execute(f"DELETE FROM {table} WHERE platform = ? AND user_id = ?", who)
            await insert_outbox(tx, [(key, message) for message in outbox], now_ms())

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
        """Bring the schema to len(schema.MIGRATIONS). An up-to-date database is only read, never written."""
        migrations = schema.MIGRATIONS  # read at call time: tests append steps to try new ones
        target = len(migrations)
        self.found_version = await self.schema_version()
        if self.found_version == target:
            return

        async def work(tx: Tx) -> None:
            if self.SCHEMA_LOCK_SQL:
                await tx.fetch(self.SCHEMA_LOCK_SQL)
            current = await self._stored_version(tx)  # again under the lock: another process may have won
            if current > target:
                raise StorageConfigError(
                    f"database schema version {current} is newer than this stretchbot understands ({target})"
                )
            await tx.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            for step in migrations[current:]:
                for statement in step:
                    for sqlite_spelling, spelling in self.SPELLINGS:
                        statement = statement.replace(sqlite_spelling, spelling)
                    await tx.execute(statement)
            await tx.execute(
                "INSERT INTO meta (key, value) VALUES ('schema_version', ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (str(target),),
            )

        await self._transaction(work)
