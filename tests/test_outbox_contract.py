"""The outbox part of the storage contract, run unchanged on SQLite and PostgreSQL (the `backend` and
`store` fixtures of tests/storage_backends.py): outgoing messages commit or roll back with the state
they belong to; a sender gets each chat's head only, one in flight per chat, in order; leases, backoff,
dead letters and flood coalescing; two senders never hold the same row; the media cache; feedback.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from bot.storage import FeedbackRow, HistoryRow, OutgoingMessage, TimerRow, UserKey, open_storage

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ANNA = UserKey("telegram", "101")
BORIS = UserKey("discord", "202")
ANNA_CHAT, BORIS_CHAT = "telegram:101", "discord:dm:202"
LEASE = timedelta(seconds=30)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def msg(chat: str, n: int, kind: str = "message", *, safety: bool = False) -> OutgoingMessage:
    return OutgoingMessage(chat, {"kind": kind, "safety": safety, "n": n})


async def write(store, key, version, *, outbox=(), state="{}", **rows) -> bool:
    return await store.save(
        key,
        expected_version=version,
        state_json=state,
        address=None,
        profile={},
        schedule=rows.get("schedule", []),
        cancel=[],
        history=rows.get("history", []),
        outbox=list(outbox),
        feedback=rows.get("feedback", []),
    )


def numbers(rows) -> list:
    return [row.body["n"] for row in rows]


async def queue(store, key, chat, count, *, first=0, version=0) -> int:
    """`count` messages for one chat, one save each (as a user's steps write them). Returns the version."""
    for n in range(first, first + count):
        assert await write(store, key, version, outbox=[msg(chat, n)])
        version += 1
    return version


# ---- written with the state --------------------------------------------------------------------
async def test_outgoing_messages_commit_with_the_state_timers_and_history(store):
    hold = TimerRow(ANNA, "hold", at(30), {})
    assert await write(
        store,
        ANNA,
        0,
        outbox=[msg(ANNA_CHAT, 1), msg(ANNA_CHAT, 2, "cue")],
        schedule=[hold],
        history=[HistoryRow("completed", "lower5", None, 3, 90, T0, score_before=6, score_after=3)],
    )
    assert (await store.load(ANNA)).version == 1 and await store.timers(ANNA) == [hold]
    assert [(r.chat, r.body, r.key) for r in await store.pending(ANNA_CHAT)] == [
        (ANNA_CHAT, {"kind": "message", "safety": False, "n": 1}, ANNA),
        (ANNA_CHAT, {"kind": "cue", "safety": False, "n": 2}, ANNA),
    ]
    [history] = await store.history(ANNA)
    assert (history.score_before, history.score_after) == (6, 3)


async def test_a_save_that_fails_after_its_outbox_rows_writes_nothing(store, backend):
    assert await write(store, ANNA, 0, outbox=[msg(ANNA_CHAT, 1)])
    unserialisable = OutgoingMessage(ANNA_CHAT, {"kind": "message", "safety": False, "x": object()})
    with pytest.raises(TypeError):  # the body fails in the transaction's last statement
        await write(
            store,
            ANNA,
            1,
            state='{"v": 2}',
            outbox=[msg(ANNA_CHAT, 2), unserialisable],
            schedule=[TimerRow(ANNA, "hold", at(5), {})],
            feedback=[FeedbackRow(T0, "lower5", "cat_cow", "good", 30)],
        )
    assert (await store.load(ANNA)).version == 1
    assert numbers(await store.pending(ANNA_CHAT)) == [1]
    assert await store.timers(ANNA) == [] and await store.feedback(ANNA) == []


async def test_a_save_that_lost_the_race_queues_no_message(store):
    assert await write(store, ANNA, 0, outbox=[msg(ANNA_CHAT, 1)])
    assert not await write(store, ANNA, 0, outbox=[msg(ANNA_CHAT, 99)])
    results = await store.save_many(
        [_save(ANNA, 1, [msg(ANNA_CHAT, 2)]), _save(BORIS, 5, [msg(BORIS_CHAT, 3)])]
    )  # Boris: stale version
    assert results == [True, False]
    assert numbers(await store.pending(ANNA_CHAT)) == [1, 2]
    assert await store.pending(BORIS_CHAT) == []


def _save(key, version, outbox):
    from bot.storage import Save

    return Save(key, version, "{}", None, {}, [], [], [], outbox=outbox)


def test_outgoing_messages_need_a_kind_and_a_safety_flag():
    with pytest.raises(ValueError, match="kind"):
        OutgoingMessage(ANNA_CHAT, {"kind": "shout", "safety": False})
    with pytest.raises(ValueError, match="safety"):
        OutgoingMessage(ANNA_CHAT, {"kind": "message"})
    with pytest.raises(ValueError, match="chat"):
        OutgoingMessage("", {"kind": "message", "safety": False})


# ---- claims: heads only, in order, one in flight per chat -------------------------------------
async def test_a_claim_takes_only_each_chats_head_oldest_first(store):
    await queue(store, ANNA, ANNA_CHAT, 3)
    await queue(store, BORIS, BORIS_CHAT, 2, first=10)
    claimed = await store.claim_outbox(at(0), limit=10, lease=LEASE, owner="s1")
    assert [(r.chat, r.body["n"], r.pending) for r in claimed] == [(ANNA_CHAT, 0, 3), (BORIS_CHAT, 10, 2)]
    # one in flight per chat: nothing more while the heads are held
    assert await store.claim_outbox(at(1), limit=10, lease=LEASE, owner="s2") == []
    assert await store.mark_sent(claimed[0].id, "s1")
    [next_anna] = await store.claim_outbox(at(1), limit=10, lease=LEASE, owner="s2")
    assert (next_anna.chat, next_anna.body["n"], next_anna.pending) == (ANNA_CHAT, 1, 2)


async def test_a_flooded_chat_gets_one_head_per_claim_among_many_chats(store):
    await queue(store, ANNA, ANNA_CHAT, 50)  # the flood comes first
    others = [UserKey("telegram", str(n)) for n in range(200, 220)]
    for key in others:
        await queue(store, key, f"telegram:{key.user_id}", 1)
    claimed = await store.claim_outbox(at(0), limit=100, lease=LEASE, owner="s1")
    assert len(claimed) == 21 and [r.chat for r in claimed].count(ANNA_CHAT) == 1


async def test_turns_go_round_robin_and_a_new_conversation_goes_first(store):
    await queue(store, ANNA, ANNA_CHAT, 3)
    await queue(store, BORIS, BORIS_CHAT, 1, first=10)
    [first] = await store.claim_outbox(at(0), limit=1, lease=LEASE, owner="s")
    assert (first.chat, first.body["n"]) == (ANNA_CHAT, 0)  # first come, first served
    assert await store.mark_sent(first.id, "s")  # Anna's next turn: behind whoever waited meanwhile
    [second] = await store.claim_outbox(at(1), limit=1, lease=LEASE, owner="s")
    assert (second.chat, second.body["n"]) == (BORIS_CHAT, 10)
    assert await store.mark_sent(second.id, "s")  # Boris has nothing left
    carla = UserKey("telegram", "303")
    await queue(store, carla, "telegram:303", 1, first=20)  # a new conversation starts
    [third] = await store.claim_outbox(at(2), limit=1, lease=LEASE, owner="s")
    assert (third.chat, third.body["n"]) == ("telegram:303", 20)  # before Anna's backlog
    assert numbers(await store.claim_outbox(at(2), limit=5, lease=LEASE, owner="s")) == [1]


async def test_the_limit_takes_the_oldest_heads(store):
    for n in range(5):
        await queue(store, UserKey("telegram", str(n)), f"telegram:{n}", 1, first=n)
    assert numbers(await store.claim_outbox(at(0), limit=2, lease=LEASE, owner="s")) == [0, 1]
    assert numbers(await store.claim_outbox(at(0), limit=10, lease=LEASE, owner="s")) == [2, 3, 4]


async def test_a_sender_killed_between_send_and_mark_gets_exactly_that_row_again(store):
    await queue(store, ANNA, ANNA_CHAT, 3)
    [in_flight] = await store.claim_outbox(at(0), limit=10, lease=LEASE, owner="dead")
    # ... it was sent, then the sender died before mark_sent: nothing happens until the lease runs out
    assert await store.claim_outbox(at(29), limit=10, lease=LEASE, owner="heir") == []
    assert await store.next_outbox_due() == at(30)
    [again] = await store.claim_outbox(at(30), limit=10, lease=LEASE, owner="heir")
    assert (again.id, again.body) == (in_flight.id, in_flight.body)  # exactly the in-flight row, once more
    assert not await store.mark_sent(in_flight.id, "dead")  # the dead sender's late mark changes nothing
    assert await store.mark_sent(again.id, "heir")
    sent = []
    while rows := await store.claim_outbox(at(31), limit=10, lease=LEASE, owner="heir"):
        sent += numbers(rows)
        for row in rows:
            assert await store.mark_sent(row.id, "heir")
    assert sent == [1, 2]  # the rest once each, in order


async def test_two_senders_never_hold_the_same_row_and_deliver_each_once_in_order(store, backend):
    chats = {UserKey("telegram", str(n)): f"telegram:{n}" for n in range(30)}
    for key, chat in chats.items():
        await queue(store, key, chat, 4)
    senders = [store, *[await open_storage(backend.url) for _ in range(3)]]  # own connections each
    delivered: dict[str, list[int]] = {}
    held: set[int] = set()

    async def sender(storage, owner: str) -> None:
        while rows := await storage.claim_outbox(at(0), limit=7, lease=LEASE, owner=owner):
            for row in rows:
                assert row.id not in held, f"{owner} got row {row.id} another sender holds"
                held.add(row.id)
            await asyncio.sleep(0)  # let the others claim meanwhile
            for row in rows:
                delivered.setdefault(row.chat, []).append(row.body["n"])
                held.discard(row.id)
                assert await storage.mark_sent(row.id, owner)

    try:
        await asyncio.gather(*(sender(s, f"sender-{i}") for i, s in enumerate(senders)))
    finally:
        await asyncio.gather(*(s.close() for s in senders[1:]))
    assert delivered == {chat: [0, 1, 2, 3] for chat in chats.values()}


async def test_claims_see_only_the_senders_platforms(store):
    await queue(store, ANNA, ANNA_CHAT, 1)
    await queue(store, BORIS, BORIS_CHAT, 1)
    assert (await store.outbox_stats(("discord",))).depth == 1
    [row] = await store.claim_outbox(at(0), limit=10, lease=LEASE, owner="d", platforms=("discord",))
    assert row.chat == BORIS_CHAT and row.platform == "discord"
    assert await store.claim_outbox(at(0), limit=10, lease=LEASE, owner="x", platforms=()) == []


# ---- failures ----------------------------------------------------------------------------------
async def test_retry_later_counts_the_attempt_and_waits_out_the_backoff(store):
    await queue(store, ANNA, ANNA_CHAT, 2)
    [head] = await store.claim_outbox(at(0), limit=10, lease=LEASE, owner="s")
    assert await store.retry_later(head.id, "s", at(4), "HTTP 502")
    assert not await store.retry_later(head.id, "s", at(4), "again")  # released: no longer this owner's
    assert await store.claim_outbox(at(3.9), limit=10, lease=LEASE, owner="s") == []  # the order holds too
    assert await store.next_outbox_due() == at(4)
    [again] = await store.claim_outbox(at(4), limit=10, lease=LEASE, owner="s")
    assert (again.id, again.attempts) == (head.id, 1)
    assert await store.postpone(again.id, "s", at(9))  # a rate limit: no attempt counted
    assert await store.release_backoff([again.id], at(5)) == 1  # the platform is back: go now
    [third] = await store.claim_outbox(at(5), limit=10, lease=LEASE, owner="s")
    assert (third.id, third.attempts) == (head.id, 1)


async def test_dead_letters_keep_the_reason_and_are_never_retried(store):
    await queue(store, ANNA, ANNA_CHAT, 3)
    await queue(store, BORIS, BORIS_CHAT, 2, first=10)
    anna, boris = await store.claim_outbox(at(0), limit=10, lease=LEASE, owner="s")
    assert await store.dead_letter(anna.id, "someone else", "x") == 0
    assert await store.dead_letter(anna.id, "s", "400: message is too long") == 1
    assert await store.dead_letter(boris.id, "s", "403: bot was blocked", whole_chat=True) == 2
    assert [(d["chat"], d["body"]["n"], d["reason"]) for d in await store.dead_letters()] == [
        (ANNA_CHAT, 0, "400: message is too long"),
        (BORIS_CHAT, 10, "403: bot was blocked"),
        (BORIS_CHAT, 11, "403: bot was blocked"),
    ]
    assert numbers(await store.claim_outbox(at(100), limit=10, lease=LEASE, owner="s")) == [1]  # Anna goes on
    stats = await store.outbox_stats()
    assert (stats.depth, stats.dead_letters) == (2, 3)


async def test_coalescing_drops_ordinary_rows_but_never_a_safety_row(store):
    version = await queue(store, ANNA, ANNA_CHAT, 2)  # 0, 1
    assert await write(store, ANNA, version, outbox=[msg(ANNA_CHAT, 2, "referral", safety=True)])
    await queue(store, ANNA, ANNA_CHAT, 4, first=3, version=version + 1)  # 3..6
    [head] = await store.claim_outbox(at(0), limit=10, lease=LEASE, owner="s")  # row 0 is in flight
    notice = {"kind": "notice", "safety": False, "text": "still answering"}
    assert await store.coalesce(ANNA_CHAT, at(0), notice=notice) == 4  # 1, 3, 4, 5 (1 became the notice)
    assert [(r.body["kind"], r.body.get("n")) for r in await store.pending(ANNA_CHAT)] == [
        ("message", 0),
        ("notice", None),
        ("referral", 2),
        ("message", 6),
    ]
    # more flood: dropped again, but a second notice is not queued while one waits
    await queue(store, ANNA, ANNA_CHAT, 3, first=7, version=version + 5)
    assert await store.coalesce(ANNA_CHAT, at(0), notice=notice) == 3
    assert [r.body.get("n") for r in await store.pending(ANNA_CHAT)] == [0, None, 2, 9]
    assert await store.mark_sent(head.id, "s")


async def test_a_flood_notice_keeps_the_addressing_of_the_row_it_replaces(store):
    # Regression: the notice replaced the whole body, so a transport (which reads "user" and "address")
    # failed on it over and over, and the flooder's referral waited behind it
    def said(n: int) -> OutgoingMessage:
        return OutgoingMessage(ANNA_CHAT, {"user": ["telegram", "101"], "address": {"chat_id": 101}, "reply": None,
                                           "first": True, "kind": "message", "safety": False, "say": {"n": n}})

    for version in range(4):
        assert await write(store, ANNA, version, outbox=[said(version)])
    await store.claim_outbox(at(0), limit=10, lease=LEASE, owner="s")
    notice = {"kind": "notice", "safety": False, "notice": {"key": "still_answering"}}
    assert await store.coalesce(ANNA_CHAT, at(0), notice=notice) == 2
    [_, replaced, _] = await store.pending(ANNA_CHAT)
    assert replaced.body == {"user": ["telegram", "101"], "address": {"chat_id": 101}, "reply": None, "first": True,
                             "kind": "notice", "safety": False, "notice": {"key": "still_answering"}}


# ---- reads, media, feedback, export ------------------------------------------------------------
async def test_stats_and_next_due_describe_the_queue(store):
    assert await store.next_outbox_due() is None
    assert (await store.outbox_stats()).depth == 0 and (await store.outbox_stats()).oldest_at is None
    await queue(store, ANNA, ANNA_CHAT, 2)
    stats = await store.outbox_stats()
    assert stats.depth == 2 and stats.oldest_at is not None
    assert stats.oldest_age(stats.oldest_at + timedelta(seconds=3)) == 3
    assert await store.next_outbox_due() <= datetime.now(UTC)  # claimable now


async def test_the_media_cache_remembers_file_ids_per_platform(store):
    assert await store.media_id("telegram", "sha256:aa") is None
    await store.remember_media("telegram", "sha256:aa", "AgAD-1")
    await store.remember_media("telegram", "sha256:aa", "AgAD-2")  # uploaded again: the newer id wins
    await store.remember_media("discord", "sha256:aa", "https://cdn/1.png")
    assert await store.media_id("telegram", "sha256:aa") == "AgAD-2"
    assert await store.media_id("discord", "sha256:aa") == "https://cdn/1.png"


async def test_feedback_is_kept_per_user_in_time_order(store):
    first = FeedbackRow(at(60), "lower5", "cat_cow", "good", 30)
    second = FeedbackRow(at(120), "lower5", "knee_hug", "pain", 25)
    assert await write(store, ANNA, 0, feedback=[second, first])
    assert await write(store, BORIS, 0, feedback=[FeedbackRow(at(5), "neck3", "tilt", "skipped", 20)])
    assert await store.feedback(ANNA) == [first, second]
    assert await store.feedback(ANNA, since=at(61)) == [second]
    with pytest.raises(ValueError, match="rating"):
        FeedbackRow(T0, "lower5", "cat_cow", "meh", 30)
    with pytest.raises(ValueError, match="0 to 10"):
        HistoryRow("completed", "lower5", None, 3, 90, T0, score_before=11)


async def test_export_names_queued_and_undelivered_messages_and_feedback(store):
    assert await write(
        store,
        ANNA,
        0,
        outbox=[msg(ANNA_CHAT, 1), msg(ANNA_CHAT, 2)],
        feedback=[FeedbackRow(T0, "lower5", "cat_cow", "tight", 30)],
    )
    [head] = await store.claim_outbox(at(0), limit=1, lease=LEASE, owner="s")
    await store.dead_letter(head.id, "s", "403: bot was blocked")
    data = await store.export_user(ANNA)
    assert [(m["chat"], m["kind"], m["message"]["n"]) for m in data["queued_messages"]] == [(ANNA_CHAT, "message", 2)]
    [undelivered] = data["undelivered_messages"]
    assert undelivered["reason"] == "403: bot was blocked" and undelivered["message"]["n"] == 1
    assert set(undelivered) == {"chat", "kind", "message", "queued_at", "failed_at", "reason"}  # no bookkeeping
    assert data["feedback"] == [
        {"at": T0.isoformat(), "routine": "lower5", "stretch": "cat_cow", "rating": "tight", "hold_seconds": 30}
    ]


async def test_forget_can_queue_its_confirmation_in_the_same_transaction(store):
    await queue(store, ANNA, ANNA_CHAT, 3)
    await store.forget_user(ANNA, outbox=[msg(ANNA_CHAT, 99, "notice")])
    assert numbers(await store.pending(ANNA_CHAT)) == [99]  # the old queue is gone, the goodbye is not
    assert (await store.load(ANNA)).version == 0
