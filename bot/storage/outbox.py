"""The transactional outbox, its dead letters and the platforms' picture cache: SQL both backends share.

A step's outgoing messages are outbox rows written in the transaction that saves its state (sql.py).
Next to them, outbox_chats has one row per chat with queued messages: how many (pending), when its
turn comes (ready_ms) and the one lease a sender may hold on it. A sender claims CHATS, never rows:
claim_outbox leases the ready chats in turn order and hands out each one's head (lowest id). So a
chat's messages go strictly in order, one in flight at a time, while one claim serves many chats; and
the turns are round-robin: a new conversation (ready_ms 0) goes first, a chat just served goes behind
the chats that were waiting (ready_ms becomes the time of its claim), a failed one waits out its
backoff (ready_ms is the retry time), a held one its lease (ready_ms is the lease's end, so a sender
that died holds nothing for longer than that). Finding the heads takes one index probe per claimed
chat, however long the queue: a claim costs the same with 100 rows or 100,000.

The pending counters are only ever changed by adding to or subtracting from them, in the transaction
that inserts or deletes the rows, under the chat row's lock (taken in chat order, so two transactions
never wait for each other's chats crosswise); that keeps them right on PostgreSQL with
concurrent writers (a recount in a statement could miss a row committed meanwhile). A chat row is
deleted when its count reaches 0, so it never outlives the user's messages.

Why ids give the order: a chat's rows are written by its user's saves, which the version check on the
user's row serialises, so ids of one chat are allocated in commit order even on PostgreSQL.

A sent row is deleted (mark_sent); a failed one is released with a backoff (retry_later); one that can
never be sent moves to dead_letters with its reason (dead_letter). Every change to a claimed chat names
the owner that claimed it: after its lease ran out and another sender took it over, it changes
nothing. A sender killed between its send and its mark leaves the chat leased; when the lease runs
out, a sender sends exactly that row again (the one duplicate at-least-once delivery allows).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta

from bot.storage.base import (
    JsonDict,
    OutboxRow,
    OutboxStats,
    OutgoingMessage,
    Params,
    Row,
    T,
    Transaction,
    Tx,
    UserKey,
    from_ms,
    now_ms,
    only,
    optional_iso,
    to_json,
    to_ms,
)

# An outbox row as OutboxRow needs it (pending comes from its chat's row).
OUTBOX_COLUMNS = "id, platform, user_id, chat, body, attempts, created_ms"
_DEAD_COLUMNS = "platform, user_id, chat, kind, safety, body, created_ms, attempts"
_CHUNK = 500  # ids per statement (far inside both databases' parameter limits)
# The keys of a body (bot/runtime.py outgoing()) that say whom a message is for and how it goes out, as
# opposed to what it says: a flood notice that takes a dropped row's place keeps them
ADDRESSING = ("user", "address", "reply", "first")


async def insert_outbox(tx: Tx, messages: Sequence[tuple[UserKey, OutgoingMessage]], created_ms: int) -> None:
    """Queue messages in this order (ids ascend within one executemany on both databases) and count them
    in their chats' rows (a new chat's turn comes first: ready_ms 0)."""
    await tx.execute_many(
        "INSERT INTO outbox (platform, user_id, chat, kind, safety, body, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (
                key.platform,
                key.user_id,
                message.chat,
                message.kind,
                int(message.safety),
                to_json(message.body),
                created_ms,
            )
            for key, message in messages
        ],
    )
    counts = Counter((key.platform, message.chat) for key, message in messages)
    # a new chat row takes the id of the chat's first row (a chat without a row has no other rows)
    await tx.execute_many(
        "INSERT INTO outbox_chats (chat, platform, pending, ready_ms, first_id)"
        " SELECT CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS INTEGER), 0, MIN(id) FROM outbox WHERE chat = ?"
        " ON CONFLICT (chat) DO UPDATE SET pending = outbox_chats.pending + excluded.pending",
        [
            (chat, platform, count, chat)
            for (platform, chat), count in sorted(counts.items(), key=lambda item: item[0][1])
        ],
    )


async def uncount(tx: Tx, removed: Sequence[str]) -> None:
    """Rows of these chats (one entry per row) are gone: subtract them; drop chats left with none."""
    counts = Counter(removed)
    await tx.execute_many(
        "UPDATE outbox_chats SET pending = pending - ? WHERE chat = ?",
        [(count, chat) for chat, count in sorted(counts.items())],
    )
    await tx.execute_many(
        "DELETE FROM outbox_chats WHERE chat = ? AND pending <= 0", [(chat,) for chat in sorted(counts)]
    )


def outbox_rows(rows: list[Row], pending: dict[str, int] | None = None) -> list[OutboxRow]:
    """Rows of OUTBOX_COLUMNS in id order, with their chats' pending counts (when known)."""
    return [
        OutboxRow(
            row_id,
            UserKey(platform, user_id),
            chat,
            json.loads(body),
            attempts,
            from_ms(created),
            (pending or {}).get(chat, 1),
        )
        for row_id, platform, user_id, chat, body, attempts, created in sorted(rows)
    ]


def _chunks(ids: Sequence[int]) -> list[tuple[str, Params]]:
    """(`IN (?, ...)` list, its parameters) per chunk of ids."""
    return [
        (", ".join("?" * len(ids[start : start + _CHUNK])), tuple(ids[start : start + _CHUNK]))
        for start in range(0, len(ids), _CHUNK)
    ]


class OutboxSql:
    """The outbox, dead letters and media cache; a part of SqlStorage (which supplies the transactions).
    A backend supplies `_claim_chats`, the one statement that leases ready chats."""

    async def _transaction(self, work: Transaction[T], *, write: bool = True) -> T:
        raise NotImplementedError

    async def _read(self, sql: str, params: Params = ()) -> list[Row]:
        raise NotImplementedError

    async def _claim_chats(
        self, tx: Tx, now_ms: int, lease_end_ms: int, owner: str, where: str, params: Params, limit: int
    ) -> list[Row]:
        """Lease up to `limit` chats with ready_ms <= now (and `where`: only(platforms)), in turn order:
        set claimed_by = owner, claimed_at_ms = now, ready_ms = the lease's end. Returns (chat, pending)."""
        raise NotImplementedError

    # ---- claims --------------------------------------------------------------------------------
    async def claim_outbox(
        self, now: datetime, *, limit: int, lease: timedelta, owner: str, platforms: tuple[str, ...] | None = None,
        chats: tuple[str, ...] | None = None,
    ) -> list[OutboxRow]:
        """The heads of up to `limit` chats whose turn it is, leased to `owner` (see the module's doc)."""
        where, params = only(platforms, also=("chat", chats))

        async def work(tx: Tx) -> list[OutboxRow]:
            chats: dict[str, int] = dict(
                await self._claim_chats(tx, to_ms(now), to_ms(now + lease), owner, where, params, limit)
            )
            if not chats:
                return []
            marks = ", ".join("?" * len(chats))
            heads = await tx.fetch(
                f"SELECT {OUTBOX_COLUMNS} FROM outbox WHERE id IN"
                f" (SELECT MIN(id) FROM outbox WHERE chat IN ({marks}) GROUP BY chat)",
                tuple(chats),
            )
            await tx.execute_many(
                "UPDATE outbox_chats SET head_id = ? WHERE chat = ?", [(row[0], row[3]) for row in heads]
            )
            # a chat without rows (its count went wrong somehow) would be claimed forever: drop it
            found = {row[3] for row in heads}
            await tx.execute_many("DELETE FROM outbox_chats WHERE chat = ?", [(c,) for c in chats if c not in found])
            return outbox_rows(heads, chats)

        return await self._transaction(work)

    # ---- a sender's claimed row ----------------------------------------------------------------
    async def mark_sent(self, row_id: int, owner: str) -> bool:
        """The row was delivered: delete it and release its chat, whose next turn comes after the chats
        that waited meanwhile. False when this owner no longer holds it (its lease was taken over)."""

        async def work(tx: Tx) -> bool:
            # the lease is found by the row's chat (outbox_chats' key): a lookup, not a scan of every chat
            gone = await tx.fetch(
                "DELETE FROM outbox WHERE id = ? AND EXISTS (SELECT 1 FROM outbox_chats WHERE outbox_chats.chat ="
                " outbox.chat AND outbox_chats.head_id = outbox.id AND outbox_chats.claimed_by = ?) RETURNING chat",
                (row_id, owner),
            )
            if not gone:  # not ours any more, or forget_user deleted it meanwhile (then release the chat)
                return await self._release(tx, row_id, owner, "claimed_at_ms")
            left = await tx.fetch(
                "UPDATE outbox_chats SET pending = pending - 1, ready_ms = claimed_at_ms, claimed_by = NULL,"
                " claimed_at_ms = NULL, head_id = NULL WHERE chat = ? RETURNING pending",
                (gone[0][0],),
            )
            if left and left[0][0] <= 0:
                await tx.execute("DELETE FROM outbox_chats WHERE chat = ? AND pending <= 0", (gone[0][0],))
            return True

        return await self._transaction(work)

    async def retry_later(self, row_id: int, owner: str, not_before: datetime, error: str) -> bool:
        """A transient failure: count the attempt, note the error, release the chat until `not_before`."""

        async def work(tx: Tx) -> bool:
            if not await self._release(tx, row_id, owner, "?", (to_ms(not_before),)):
                return False
            await tx.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE id = ?", (error[:500], row_id)
            )
            return True

        return await self._transaction(work)

    async def postpone(self, row_id: int, owner: str, not_before: datetime) -> bool:
        """Release the chat until `not_before` without counting an attempt (a rate limit said "later")."""
        return await self._transaction(lambda tx: self._release(tx, row_id, owner, "?", (to_ms(not_before),)))

    @staticmethod
    async def _release(tx: Tx, row_id: int, owner: str, ready: str, params: Params = ()) -> bool:
        """End this owner's lease on the chat whose head is row_id; its next turn at `ready` (SQL). The chat
        is found through the row (both keys), so the cost does not grow with the number of chats."""
        return (
            await tx.execute(
                f"UPDATE outbox_chats SET ready_ms = {ready}, claimed_by = NULL, claimed_at_ms = NULL, head_id = NULL"
                " WHERE chat = (SELECT chat FROM outbox WHERE id = ?) AND head_id = ? AND claimed_by = ?",
                (*params, row_id, row_id, owner),
            )
            == 1
        )

    async def dead_letter(self, row_id: int, owner: str, reason: str, *, whole_chat: bool = False) -> int:
        """The row can never be sent: move it to dead_letters with the reason; it is never retried.

        whole_chat: the chat itself is unreachable (bot blocked, chat deleted, DMs closed), so its other
        queued rows go too, in the same transaction, instead of each failing the same way (Discord bans
        a bot after too many failing requests). Returns how many rows moved (0: not this owner's row)."""

        async def work(tx: Tx) -> int:
            held = await tx.fetch(
                "SELECT chat FROM outbox_chats WHERE chat = (SELECT chat FROM outbox WHERE id = ?)"
                " AND head_id = ? AND claimed_by = ?",
                (row_id, row_id, owner),
            )
            if not held or not await self._release(tx, row_id, owner, "claimed_at_ms"):
                return 0
            where, params = ("chat = ?", (held[0][0],)) if whole_chat else ("id = ?", (row_id,))
            # DELETE .. RETURNING: exactly the rows deleted are copied, even if new ones arrive meanwhile
            moved = await tx.fetch(f"DELETE FROM outbox WHERE {where} RETURNING {_DEAD_COLUMNS}", params)
            await tx.execute_many(
                f"INSERT INTO dead_letters ({_DEAD_COLUMNS}, failed_ms, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(*row, now_ms(), reason[:500]) for row in moved],
            )
            await uncount(tx, [row[2] for row in moved])
            return len(moved)

        return await self._transaction(work)

    # ---- flood control, recovery -----------------------------------------------------------------
    async def coalesce(self, chat: str, now: datetime, *, notice: JsonDict | None, keep_newest: int = 1) -> int:
        """Shrink a chat's backlog: drop its queued non-safety rows except the `keep_newest` newest, never a
        safety row, a notice or the row in flight; the oldest dropped row becomes `notice` (so the notice goes
        out where the backlog began and the order of what is left stays), keeping that row's ADDRESSING (a
        transport needs to know whom and where to send it, like any row), unless the chat already has a
        notice queued. Returns how many queued messages were dropped."""

        async def work(tx: Tx) -> int:
            # the chat row's lock first: no sender can claim this chat until we are done
            await tx.execute("UPDATE outbox_chats SET pending = pending WHERE chat = ?", (chat,))
            held = await tx.fetch(
                "SELECT head_id FROM outbox_chats WHERE chat = ? AND claimed_by IS NOT NULL AND ready_ms > ?",
                (chat, to_ms(now)),
            )
            in_flight = {row_id for (row_id,) in held}
            rows = await tx.fetch("SELECT id, kind, safety FROM outbox WHERE chat = ? ORDER BY id", (chat,))
            rows = [row for row in rows if row[0] not in in_flight]
            ordinary = [row_id for row_id, kind, safety in rows if not safety and kind != "notice"]
            droppable = ordinary[: max(0, len(ordinary) - keep_newest)]
            if not droppable:
                return 0
            replaced = 0
            if notice is not None and not any(kind == "notice" for _, kind, _ in rows):
                [(old_body,)] = await tx.fetch("SELECT body FROM outbox WHERE id = ?", (droppable[0],))
                addressing = {key: value for key, value in json.loads(old_body).items() if key in ADDRESSING}
                replaced = await tx.execute(
                    "UPDATE outbox SET kind = 'notice', safety = 0, body = ?, attempts = 0, last_error = NULL"
                    " WHERE id = ?",
                    (to_json({**addressing, **notice}), droppable[0]),
                )
            deleted: list[str] = []
            for marks, ids in _chunks(droppable[replaced:]):
                deleted += [
                    c for (c,) in await tx.fetch(f"DELETE FROM outbox WHERE id IN ({marks}) RETURNING chat", ids)
                ]
            await uncount(tx, deleted)
            return replaced + len(deleted)

        return await self._transaction(work)

    async def release_backoff(self, row_ids: Sequence[int], now: datetime) -> int:
        """Give the chats of rows waiting out a backoff their turn now (the platform is back after an outage)."""

        async def work(tx: Tx) -> int:
            changed = 0
            for marks, ids in _chunks(list(row_ids)):
                changed += await tx.execute(
                    "UPDATE outbox_chats SET ready_ms = ? WHERE claimed_by IS NULL AND ready_ms > ?"
                    f" AND chat IN (SELECT chat FROM outbox WHERE id IN ({marks}))",
                    (to_ms(now), to_ms(now), *ids),
                )
            return changed

        return await self._transaction(work) if row_ids else 0

    # ---- reads -------------------------------------------------------------------------------------
    async def next_outbox_due(self, platforms: tuple[str, ...] | None = None,
                              chats: tuple[str, ...] | None = None) -> datetime | None:
        """When the next chat's turn comes (a backoff or a lease ends); None when the outbox is empty.
        A chat whose turn it is already gives a time in the past."""
        where, params = only(platforms, also=("chat", chats))
        rows = await self._read(f"SELECT MIN(ready_ms) FROM outbox_chats WHERE 1 = 1{where}", params)
        return None if rows[0][0] is None else from_ms(rows[0][0])

    async def outbox_stats(self, platforms: tuple[str, ...] | None = None) -> OutboxStats:
        where, params = only(platforms)
        [(depth,)] = await self._read(f"SELECT COALESCE(SUM(pending), 0) FROM outbox_chats WHERE 1 = 1{where}", params)
        oldest = await self._read(f"SELECT created_ms FROM outbox WHERE 1 = 1{where} ORDER BY id LIMIT 1", params)
        [(dead,)] = await self._read(f"SELECT COUNT(*) FROM dead_letters WHERE 1 = 1{where}", params)
        return OutboxStats(int(depth), from_ms(oldest[0][0]) if oldest else None, dead)

    async def pending(self, chat: str) -> list[OutboxRow]:
        """A chat's unsent rows in sending order (the one in flight included)."""
        rows = await self._read(f"SELECT {OUTBOX_COLUMNS} FROM outbox WHERE chat = ?", (chat,))
        return outbox_rows(rows, {chat: len(rows)})

    async def dead_letters(self, chat: str | None = None) -> list[JsonDict]:
        """Rows given up on (all, or one chat's), oldest first, for people and tests to look at."""
        where, params = ("WHERE chat = ?", (chat,)) if chat is not None else ("", ())
        rows = await self._read(
            f"SELECT platform, user_id, chat, body, attempts, created_ms, failed_ms, reason FROM dead_letters {where}"
            " ORDER BY id",
            params,
        )
        return [
            {
                "key": UserKey(platform, user_id),
                "chat": chat,
                "body": json.loads(body),
                "attempts": attempts,
                "queued_at": from_ms(created),
                "failed_at": from_ms(failed),
                "reason": reason,
            }
            for platform, user_id, chat, body, attempts, created, failed, reason in rows
        ]

    async def _export_messages(self, key: UserKey) -> JsonDict:
        """The user's queued and undeliverable messages, for export_user."""
        who = (key.platform, key.user_id)
        queued = await self._read(
            "SELECT chat, kind, body, created_ms FROM outbox WHERE platform = ? AND user_id = ? ORDER BY id", who
        )
        dead = await self._read(
            "SELECT chat, kind, body, created_ms, failed_ms, reason FROM dead_letters"
            " WHERE platform = ? AND user_id = ? ORDER BY id",
            who,
        )
        return {
            "queued_messages": [
                {"chat": chat, "kind": kind, "message": json.loads(body), "queued_at": optional_iso(created)}
                for chat, kind, body, created in queued
            ],
            "undelivered_messages": [
                {
                    "chat": chat,
                    "kind": kind,
                    "message": json.loads(body),
                    "queued_at": optional_iso(created),
                    "failed_at": optional_iso(failed),
                    "reason": reason,
                }
                for chat, kind, body, created, failed, reason in dead
            ],
        }

    # ---- media cache ---------------------------------------------------------------------------
    async def media_id(self, platform: str, digest: str) -> str | None:
        """The platform's file id for a picture uploaded before (by its content digest), or None."""
        rows = await self._read("SELECT file_id FROM media WHERE platform = ? AND digest = ?", (platform, digest))
        return str(rows[0][0]) if rows else None

    async def remember_media(self, platform: str, digest: str, file_id: str) -> None:
        await self._transaction(
            lambda tx: tx.execute(
                "INSERT INTO media (platform, digest, file_id, created_ms) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (platform, digest) DO UPDATE SET file_id = excluded.file_id",
                (platform, digest, file_id, now_ms()),
            )
        )
