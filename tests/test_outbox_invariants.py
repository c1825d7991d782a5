"""The outbox's bookkeeping under any sequence of operations (hypothesis, on a real SQLite file): every chat
with queued rows has exactly one outbox_chats row counting them, no chat row outlives its rows, a chat
is never handed to two senders at once, and each chat's rows are handed out in the order they were
written, each until it is marked sent (or dead-lettered, dropped by coalescing, or forgotten)."""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.storage import OutgoingMessage, UserKey, open_storage

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CHATS = ("telegram:1", "telegram:2", "telegram:3")
SENDERS = ("a", "b")

operation = st.one_of(
    st.tuples(st.just("queue"), st.sampled_from(CHATS), st.integers(1, 4), st.booleans()),
    st.tuples(st.just("claim"), st.sampled_from(SENDERS), st.integers(1, 3)),
    st.tuples(
        st.just("finish"), st.sampled_from(("mark", "retry", "postpone", "dead", "dead_chat")), st.integers(0, 5)
    ),
    st.tuples(st.just("coalesce"), st.sampled_from(CHATS)),
    st.tuples(st.just("forget"), st.sampled_from(CHATS)),
    st.tuples(st.just("wait"), st.sampled_from((1, 31))),
)


def check_counts(path: str) -> None:
    with sqlite3.connect(path) as db:
        rows = dict(db.execute("SELECT chat, COUNT(*) FROM outbox GROUP BY chat").fetchall())
        chats = dict(db.execute("SELECT chat, pending FROM outbox_chats").fetchall())
    assert chats == rows


async def play(path: str, operations: list) -> None:
    store = await open_storage(f"sqlite:///{path}")
    now = T0
    versions: dict[UserKey, int] = {}
    written: dict[str, list[int]] = {chat: [] for chat in CHATS}  # in writing order, minus what is gone
    held: dict[int, tuple[str, str, int, datetime]] = {}  # row id -> (sender, chat, n, lease end) as handed out
    serial = 0
    try:
        for op in operations:
            if op[0] == "queue":
                _, chat, count, safety = op
                key = UserKey("telegram", chat.rsplit(":", 1)[1])
                bodies = [
                    {"kind": "referral" if safety else "message", "safety": safety, "n": serial + i}
                    for i in range(count)
                ]
                assert await store.save(
                    key,
                    expected_version=versions.get(key, 0),
                    state_json="{}",
                    address=None,
                    profile={},
                    schedule=[],
                    cancel=[],
                    history=[],
                    outbox=[OutgoingMessage(chat, b) for b in bodies],
                )
                versions[key] = versions.get(key, 0) + 1
                written[chat] += [b["n"] for b in bodies]
                serial += count
            elif op[0] == "claim":
                _, sender, limit = op
                for row in await store.claim_outbox(now, limit=limit, lease=timedelta(seconds=30), owner=sender):
                    assert row.body["n"] == written[row.chat][0]  # the chat's oldest remaining row
                    # never two holders: whoever had this chat before must have run out of lease
                    assert all(until <= now for _, chat, _, until in held.values() if chat == row.chat)
                    held = {i: h for i, h in held.items() if h[1] != row.chat}
                    held[row.id] = (sender, row.chat, row.body["n"], now + timedelta(seconds=30))
            elif op[0] == "finish" and held:
                _, how, pick = op
                row_id = sorted(held)[pick % len(held)]
                sender, chat, n, _ = held.pop(row_id)
                if how == "mark" and await store.mark_sent(row_id, sender):
                    written[chat].remove(n)
                elif how == "retry":
                    await store.retry_later(row_id, sender, now + timedelta(seconds=1), "x")
                elif how == "postpone":
                    await store.postpone(row_id, sender, now)
                elif how.startswith("dead") and await store.dead_letter(
                    row_id, sender, "x", whole_chat=how == "dead_chat"
                ):
                    written[chat] = [] if how == "dead_chat" else [m for m in written[chat] if m != n]
            elif op[0] == "coalesce":
                await store.coalesce(op[1], now, notice=None)
                written[op[1]] = [r.body["n"] for r in await store.pending(op[1])]
            elif op[0] == "forget":
                key = UserKey("telegram", op[1].rsplit(":", 1)[1])
                await store.forget_user(key)
                versions.pop(key, None)
                written[op[1]] = []
            elif op[0] == "wait":
                now += timedelta(seconds=op[1])
            check_counts(path)
            for chat in CHATS:
                assert [r.body["n"] for r in await store.pending(chat)] == written[chat]
    finally:
        await store.close()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(operation, max_size=30))
def test_the_chat_counts_and_the_order_hold_under_any_operations(operations):
    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(play(f"{folder}/outbox.db", operations))
