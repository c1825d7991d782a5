"""The runtime's handle() over a real SQLite file: one transaction per input holding the new state, timers,
history, feedback AND the step's outgoing messages (the outbox), nothing at all when that transaction
fails, the messages' order and fields, forget and export, and retries on conflicts.

Most tests drive a tiny engine of our own (tests/runtime_world.py), so they pin down the runtime's
contract and not the dialog; one test runs the real engine and content. Timers, the scheduler and
delivery through a real sender are in test_runtime_timers.py and test_runtime_delivery.py.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from datetime import timedelta

import pytest
import runtime_world
from runtime_world import ANNA, BORIS, HOLD_SECONDS, T0, make, queued, state_of

from bot.outgoing import Outgoing
from bot.runtime import Reply, Runtime, StateConflict
from bot.storage import FeedbackRow, SqliteStorage, TimerRow, UserKey
from dialogs.events import Button, Command, Text
from dialogs.render import Renderer
from dialogs.state import UserState
from dialogs.views import MessageView, TextPart

# the world's fixtures (assignments, so a test's arguments do not redefine imports)
bell = runtime_world.bell
clock = runtime_world.clock
db_url = runtime_world.db_url
failing = runtime_world.failing
runtime = runtime_world.runtime
store = runtime_world.store
tiny = runtime_world.tiny

CAROL = UserKey("telegram", "303")


# ---- handle: one transaction, its messages included ---------------------------------------------------
async def test_handle_commits_state_timer_and_the_step_s_messages_together(runtime, store, bell):
    reply = await runtime.handle(ANNA, Text("hold"), {"chat_id": 5})
    assert reply == Reply(now=[], queued=1)  # nothing is shown by the adapter: the sender delivers it
    loaded = await store.load(ANNA)
    assert (loaded.version, loaded.address) == (1, {"chat_id": 5})
    assert (await state_of(store, ANNA)).screen_no == 1
    assert await store.timers(ANNA) == [TimerRow(ANNA, "hold", T0 + timedelta(seconds=30), {"screen": 1})]
    [row] = await store.pending("telegram:5")  # the chat it came from
    assert row.key == ANNA
    assert row.body == {
        "user": ["telegram", "101"],
        "address": {"chat_id": 5},
        "reply": None,
        "first": True,
        "kind": "message",
        "safety": False,
        "say": {"kind": "message", "lines": [{"key": "hold on", "params": {}}], "screen": None, "number": None},
    }
    assert runtime.wake.is_set()  # the scheduler must look at the new timer
    assert bell.rings == 1  # and the sender at the new message


async def test_handle_writes_history_feedback_profile_and_cancels_in_one_step(runtime, store, clock):
    await runtime.handle(ANNA, Text("hold"))
    clock.advance(12)
    assert (await runtime.handle(ANNA, Text("stop"))).queued == 1
    assert await store.timers(ANNA) == []
    [row] = await store.history(ANNA)
    assert (row.outcome, row.routine, row.seconds, row.ended_at) == ("stopped", "lower_back", 12, clock.now())
    assert await store.feedback(ANNA) == [FeedbackRow(clock.now(), "lower_back", "knee_hug", "good", 0)]
    assert (await store.export_user(ANNA))["profile"]["last_triage_level"] == "D"
    assert await queued(store, "telegram:101") == [("message", "hold on"), ("message", "stopped")]


async def test_every_outgoing_action_is_queued_in_action_order_with_its_fields(runtime, store):
    reply = await runtime.handle(BORIS, Text("many"), {"channel": 9})  # no chat_id: the user's own queue
    assert reply == Reply(now=[], queued=5)
    rows = await store.pending("discord:202")
    assert [(row.body["kind"], row.body["safety"], row.body["first"]) for row in rows] == [
        ("message", False, True),
        ("referral", True, False),
        ("notice", False, False),
        ("reminder", False, False),
        ("reminder", False, False),
    ]  # only a referral is safety: never dropped
    assert [row.safety for row in rows] == [False, True, False, False, False]  # the column storage keeps
    assert await queued(store, "discord:202") == [
        ("message", "one"),
        ("referral", "see a doctor"),
        ("notice", "noted"),
        ("reminder", "two"),
        ("reminder", "<weekly progress>"),
    ]
    assert rows[2].body["notice"] == {"key": "noted", "params": {"n": 3}}
    assert all(
        row.body["user"] == ["discord", "202"] and row.body["address"] == {"channel": 9} and row.body["reply"] is None
        for row in rows
    )
    assert [row.id for row in rows] == sorted(row.id for row in rows)


async def test_answers_say_what_they_reply_to_and_the_first_queued_one_is_first(runtime, store):
    assert (await runtime.handle(ANNA, Text("hold"), {"chat_id": 5})).queued == 1
    assert (await runtime.handle(ANNA, Command("help"))).queued == 1  # no address: the stored one
    assert (await runtime.handle(ANNA, Button("go", 1))).queued == 1
    rows = await store.pending("telegram:5")
    assert [
        (what, row.body["reply"], row.body["first"])
        for what, row in zip(await queued(store, "telegram:5"), rows, strict=True)
    ] == [
        (("message", "hold on"), None, True),
        (("message", "help text"), "command", True),
        (("message", "next"), "button", True),
    ]  # the toast before "next" is not queued, so "next" is first
    assert all(row.body["address"] == {"chat_id": 5} for row in rows)


async def test_a_button_s_notice_is_shown_now_and_not_queued(runtime, store, bell):
    await runtime.handle(ANNA, Text("hold"), {"chat_id": 5})
    reply = await runtime.handle(ANNA, Button("stale", 0))
    assert reply == Reply(now=[MessageView("notice", (TextPart("stale"),))], queued=0)
    reply = await runtime.handle(ANNA, Button("go", 2))
    assert reply == Reply(now=[MessageView("notice", (TextPart("saved"),))], queued=1)
    assert await queued(store, "telegram:5") == [("message", "hold on"), ("message", "next")]
    assert (await store.load(ANNA)).version == 3  # a press that only toasts still saves its step
    assert bell.rings == 2  # only the commits with messages rang


async def test_a_text_s_notice_is_queued_not_shown(runtime, store):
    assert await runtime.handle(ANNA, Text("hello"), {"chat_id": 5}) == Reply(now=[], queued=1)
    assert await queued(store, "telegram:5") == [("notice", "hint")]


async def test_an_input_delivered_again_is_recognised_by_its_number_and_skipped(runtime, store, bell):
    """A platform may deliver an input again after a crash (Telegram: handled, not yet confirmed): its
    number per stream was saved with the step that handled it, so it is not handled twice."""
    assert (await runtime.handle(ANNA, Text("hold"), {"chat_id": 5}, input_id=("5", 41))).queued == 1
    assert (await runtime.handle(ANNA, Text("hold"), {"chat_id": 5}, input_id=("5", 41))) == Reply([], 0)
    assert (await runtime.handle(ANNA, Text("hello"), {"chat_id": 5}, input_id=("5", 40))) == Reply([], 0)
    assert (await store.load(ANNA)).version == 1 and bell.rings == 1  # nothing saved, nothing queued
    # another stream of the same user (a group) counts on its own; a higher number is a new input
    assert (await runtime.handle(ANNA, Text("hello"), {"chat_id": -9}, input_id=("-9", 12))).queued == 1
    assert (await runtime.handle(ANNA, Text("hello"), {"chat_id": 5}, input_id=("5", 42))).queued == 1
    assert (await store.load(ANNA)).inputs == {"5": 42, "-9": 12}
    assert await queued(store, "telegram:5") == [("message", "hold on"), ("notice", "hint")]


@pytest.mark.parametrize("fail_at", ["users", "INSERT INTO outbox ("])
async def test_a_failing_save_commits_nothing_not_even_its_messages(tiny, failing, store, clock, bell, fail_at):
    """The state write (first) or the outbox insert (after state, timers, history, feedback) fails: the
    whole step rolls back, so no message of a step that did not happen is ever sent, and vice versa."""
    runtime = make(tiny, failing, clock, notify=bell)
    await runtime.handle(ANNA, Text("hold"), {"chat_id": 5})
    before = await store.export_user(ANNA)
    failing.fail_at = fail_at
    with pytest.raises(sqlite3.OperationalError, match="disk I/O error"):
        await runtime.handle(ANNA, Text("stop"))
    assert await store.export_user(ANNA) == before  # state, profile, timers, history, feedback, outbox
    assert (await store.load(ANNA)).version == 1
    assert await queued(store, "telegram:5") == [("message", "hold on")]
    assert bell.rings == 1  # a failed commit rings nothing

    failing.fail_at = None  # the input comes again (the platform redelivers it): it counts once
    assert (await runtime.handle(ANNA, Text("stop"))).queued == 1
    assert await queued(store, "telegram:5") == [("message", "hold on"), ("message", "stopped")]
    assert len(await store.history(ANNA)) == 1


# ---- forget, a stranger, export -----------------------------------------------------------------------
async def test_forget_deletes_every_row_and_queues_the_confirmation(runtime, store, bell):
    await runtime.handle(ANNA, Text("hold"), {"chat_id": 5})
    await runtime.handle(ANNA, Text("stop"))
    await runtime.handle(BORIS, Text("hold"))
    assert await runtime.handle(ANNA, Text("forget")) == Reply(now=[], queued=1)
    export = await store.export_user(ANNA)
    [confirmation] = export.pop("queued_messages")
    assert export == {
        "profile": None,
        "state": None,
        "timers": [],
        "history": [],
        "feedback": [],
        "undelivered_messages": [],
    }
    assert (confirmation["chat"], confirmation["message"]["say"]["lines"]) == (
        "telegram:5",
        [{"key": "forgotten", "params": {}}],
    )  # the queued "hold on" and "stopped" went with everything else
    assert await queued(store, "telegram:5") == [("message", "forgotten")]
    assert (await store.load(BORIS)).version == 1 and await queued(store, "discord:202") == [("message", "hold on")]
    assert bell.rings == 4


@pytest.mark.parametrize("fail_at", ["DELETE FROM users", "INSERT INTO outbox ("])
async def test_a_failing_forget_deletes_nothing_and_queues_nothing(tiny, failing, store, clock, fail_at):
    runtime = make(tiny, failing, clock)
    await runtime.handle(ANNA, Text("hold"), {"chat_id": 5})
    await runtime.handle(ANNA, Text("stop"))
    before = await store.export_user(ANNA)
    failing.fail_at = fail_at
    with pytest.raises(sqlite3.OperationalError):
        await runtime.handle(ANNA, Text("forget"))
    assert await store.export_user(ANNA) == before
    assert await queued(store, "telegram:5") == [("message", "hold on"), ("message", "stopped")]


async def test_a_stranger_s_help_is_answered_without_storing_a_profile(runtime, store, bell):
    assert await runtime.handle(CAROL, Command("help"), {"chat_id": 7}) == Reply(now=[], queued=1)
    export = await store.export_user(CAROL)
    assert (export["profile"], export["state"], export["timers"]) == (None, None, [])
    assert (await store.load(CAROL)).version == 0
    [row] = await store.pending("telegram:7")
    assert (row.key, row.body["reply"], row.body["first"]) == (CAROL, "command", True)
    assert bell.rings == 1

    await runtime.handle(ANNA, Text("hold"), {"chat_id": 5})
    await runtime.handle(ANNA, Text("forget"))  # after /forget, ANNA is a stranger too
    await runtime.handle(ANNA, Command("help"), {"chat_id": 5})
    assert (await store.export_user(ANNA))["profile"] is None
    assert await queued(store, "telegram:5") == [("message", "forgotten"), ("message", "help text")]


async def test_the_export_is_queued_after_the_engine_s_words_and_read_when_sent(runtime, store, clock, content):
    await runtime.handle(ANNA, Text("hold"), {"chat_id": 5, "token": "secret-token"})
    assert (await runtime.handle(ANNA, Text("mydata"))).queued == 2
    rows = await store.pending("telegram:5")
    assert await queued(store, "telegram:5") == [
        ("message", "hold on"),
        ("message", "here it is"),
        ("message", "<export>"),
    ]
    export = rows[-1].body
    assert (export["export"], export["first"], export["safety"]) == (True, False, False)
    # what the export says is read from storage when it is sent (bot/outgoing.py), not frozen in the row
    await runtime.handle(ANNA, Text("stop"))
    words, file = await Outgoing(store, Renderer(content), content, clock).views(export)
    assert words.text and words.attachment is None  # plain words first, then the file
    assert file.attachment is not None and file.attachment.mime == "application/json"
    data = json.loads(file.attachment.data)
    assert data["profile"]["user_id"] == "101" and [row["outcome"] for row in data["history"]] == ["stopped"]
    assert "secret-token" not in file.attachment.data.decode(), "a live credential never goes into the file"


# ---- states, races, time scale ---------------------------------------------------------------------------
async def test_an_unreadable_state_starts_fresh_with_a_warning(runtime, store, caplog):
    assert await store.save(
        ANNA,
        expected_version=0,
        state_json='{"schema": 0, "step": "old-style"}',
        address=None,
        profile={},
        schedule=[],
        cancel=[],
        history=[],
    )
    with caplog.at_level(logging.WARNING, logger="stretchbot.runtime"):
        assert (await runtime.handle(ANNA, Text("hello"))).queued == 1
    assert "unreadable state for telegram:101" in caplog.text
    assert (await state_of(store, ANNA)).screen_no == 1
    assert (await store.load(ANNA)).version == 2
    assert await queued(store, "telegram:101") == [("notice", "hint")]


class RacingStorage(SqliteStorage):
    """Another process writes this user's state right after each of our loads (up to `races` times)."""

    races = 1

    async def load(self, key):
        loaded = await super().load(key)
        if self.races > 0:
            self.races -= 1
            assert await self.rival.save(
                key,
                expected_version=loaded.version,
                state_json=UserState(screen_no=100 + loaded.version).to_json(),
                address=None,
                profile={},
                schedule=[],
                cancel=[],
                history=[],
            )
        return loaded


@pytest.fixture
async def racing(db_url, store):
    racing = await RacingStorage.open(db_url.removeprefix("sqlite:///"))
    racing.rival = store
    yield racing
    await racing.close()


async def test_a_lost_race_reloads_and_runs_the_engine_again(racing, tiny, clock):
    runtime = make(tiny, racing, clock)
    assert (await runtime.handle(ANNA, Text("hold"))).queued == 1
    assert len(tiny.events) == 2  # the first result was computed from a stale state and thrown away
    state = await state_of(racing, ANNA)
    assert state.screen_no == 101  # built on the rival's write, not lost under it
    assert (await racing.load(ANNA)).version == 2
    assert [row.payload for row in await racing.timers(ANNA)] == [{"screen": 101}]
    assert await queued(racing, "telegram:101") == [("message", "hold on")]  # the lost step queued nothing


async def test_endless_conflicts_give_up_with_a_clear_error(racing, tiny, clock):
    racing.races = 99
    runtime = make(tiny, racing, clock)
    with pytest.raises(StateConflict, match="telegram:101"):
        await runtime.handle(ANNA, Text("hold"))
    assert await racing.timers(ANNA) == []
    assert await racing.pending("telegram:101") == []


def test_adapters_get_their_few_texts_from_the_renderer(runtime):
    assert runtime.text("foreign_button") == "foreign_button:"
    assert runtime.text("hint", options="a, b") == "hint:options=a, b"


async def test_durations_are_scaled_for_demos_and_wall_clock_times_are_not(tiny, store, clock):
    runtime = make(tiny, store, clock, time_scale=0.1)
    await runtime.handle(ANNA, Text("scaled"))
    timers = {row.name: row.due for row in await store.timers(ANNA)}
    assert timers == {"hold": T0 + timedelta(seconds=HOLD_SECONDS * 0.1), "daily": T0 + timedelta(seconds=30)}
    for wrong in (0, 1.5):
        with pytest.raises(ValueError):
            make(tiny, store, clock, time_scale=wrong)


# ---- the real engine ------------------------------------------------------------------------------------
async def test_the_real_engine_greets_with_choices(store, clock, content):
    from dialogs.engine import Engine

    renderer = Renderer(content)
    runtime = Runtime(Engine(content), store, clock=clock, renderer=renderer)
    reply = await runtime.handle(ANNA, Command("start"), {"chat_id": 5})
    rows = await store.pending("telegram:5")
    assert reply == Reply(now=[], queued=len(rows)) and rows
    assert rows[0].body["first"] and rows[0].body["reply"] == "command"
    outgoing = Outgoing(store, renderer, content, clock)
    [greeting] = await outgoing.views(rows[-1].body)
    assert greeting.buttons and greeting.screen is not None
    assert content.t("welcome") in " ".join([(await outgoing.views(row.body))[0].text for row in rows])
    assert (await state_of(store, ANNA)).screen_no == greeting.screen == rows[-1].body["say"]["number"]
    assert runtime.text("foreign_button") == content.t("foreign_button")
