"""The Telegram adapter end to end: the real python-telegram-bot Application talks HTTP to the fake Bot
API; real engine and shipped content; real SQLite in tmp_path; a FakeClock fires hold cues (no real
sleeping: `fire()` advances the clock and runs the runtime's fire_due, which delivers before it returns).
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from pathlib import Path

import httpx
import pytest
import telegram_harness
from conftest import T0
from expected import exercise, line, referral, screen, text, view
from telegram_fake import FakeBotApi
from telegram_world import ALICE, BOB, GROUP, TOKEN, World, config_for

from bot import ConfigError
from bot.runtime import FakeClock
from bot.telegram.adapter import user_key
from bot.telegram.config import TelegramConfig
from dialogs.flows.exercise import HALFWAY_FROM_SECONDS

bot_api = telegram_harness.bot_api  # the Bot API fake fixture, shared by the Telegram tests


@pytest.fixture(autouse=True)
def timedelta_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # as run_telegram() does: no deprecation warning per RetryAfter


@pytest.fixture
async def world(bot_api: FakeBotApi, content, tmp_path: Path):
    world = World(bot_api, content, tmp_path / "bot.db", FakeClock(T0), config_for(bot_api))
    await world.start()
    yield world
    await world.stop()


def count(texts: list[str], fragment: str) -> int:
    return sum(fragment in text for text in texts)


def command_names(world: World) -> list[str]:
    return [command.name for command in world.content.wording.commands]


def cue_waits(world: World, routine: str) -> list[float]:
    """The seconds between the hold cues of a routine: halfway and release for long holds, else release."""
    waits: list[float] = []
    for stretch_id in world.content.routines[routine].stretches:
        stretch = world.content.stretches[stretch_id]
        long = stretch.hold_seconds >= HALFWAY_FROM_SECONDS
        waits += ([stretch.hold_seconds / 2] * 2 if long else [stretch.hold_seconds]) * len(stretch.holds())
    return waits


# ---- conversations ------------------------------------------------------------------------------------
async def test_full_routine_with_hold_cues_check_ins_and_summary(world: World) -> None:
    r = world.renderer
    assert [c["command"] for c in world.api.commands] == command_names(world)
    assert [c["description"] for c in world.api.commands] == [c.description for c in world.content.wording.commands]
    welcome = await world.send(ALICE, "/start")
    assert welcome == [text(r, "welcome", on=screen("home"))]
    number = (await world.state(ALICE)).screen_no
    home = [button.choice for button in view(r, on=screen("home")).buttons]
    assert world.api.buttons(world.api.last_sent(ALICE)) == [f"{ALICE}:{number}:{choice}" for choice in home]
    said = await world.press(ALICE, "start")
    answers = world.content.triage.answers_needed()
    assert said == [text(r, line("screening_intro", answers=answers), on=screen("screening.group", group=0))]
    menu = world.api.message(ALICE, 2)
    assert world.api.keyboard(menu) is None  # no replays
    assert menu["text"].endswith(f"✓ {world.content.t('label_start')}")

    said = await world.start_routine(ALICE)  # /stretch: carries on with the session in progress
    assert said[0] == text(r, "welcome_back", on=screen("screening.group", group=0))
    first = world.content.stretches["knee_to_chest"]
    assert said[-1].startswith(
        r.text("position_title", {"number": 1, "count": 3, "title": first.title, "side": r.text("side_left")})
    )
    timings = []
    while (screen_id := await world.screen_id(ALICE)) is not None and screen_id.startswith("stretch."):
        if screen_id == "stretch.position":
            said += await world.press(ALICE, "ready")
        elif screen_id == "stretch.hold":
            timings.append(await world.seconds_to_next_timer())
            said += await world.fire(timings[-1])
        else:
            said += await world.press(ALICE, "good")
    assert timings == cue_waits(world, "lower5")
    assert count(said, text(r, "halfway_hold", kind="cue")) == 3  # knee to chest twice, child's pose
    assert count(said, text(r, "release_hold", kind="cue")) == 3
    cat_cow = world.content.stretches["cat_cow"]
    assert count(said, text(r, "halfway_reps", kind="cue")) == 1
    assert said.count(text(r, line("release_reps", count=cat_cow.count), kind="cue")) == 1
    assert count(said, r.text("checkin_self")) == 3
    seconds = sum(
        world.content.stretches[s].hold_seconds * len(world.content.stretches[s].holds())
        for s in world.content.routines["lower5"].stretches
    )
    finished = line("finished", done=3, seconds=seconds)
    assert said[-1] == text(r, finished, "@safety_net", on=screen("session.score_after"))  # then: how is your back?
    assert world.api.unanswered_queries == set()
    (row,) = await world.storage.history(user_key(ALICE))
    assert (row.outcome, row.routine, row.stretches_done) == ("completed", "lower5", 3)


async def test_pain_button_mid_hold_refers_and_stops_every_cue(world: World) -> None:
    await world.start_routine(ALICE)
    await world.press(ALICE, "ready")
    said = await world.press(ALICE, "pain")
    assert said == [referral(world.renderer, "pain")]
    assert await world.fire(300) == []
    assert (await world.state(ALICE)).session is None
    assert [r.outcome for r in await world.storage.history(user_key(ALICE))] == ["referral"]


async def test_typed_ouch_mid_hold_refers_and_stops_every_cue(world: World) -> None:
    await world.start_routine(ALICE)
    await world.press(ALICE, "ready")
    assert await world.send(ALICE, "ouch that hurts") == [referral(world.renderer, "pain")]
    assert await world.fire(300) == []
    assert await world.storage.next_due() is None


async def test_red_flag_gets_the_emergency_referral_and_no_stretches(world: World) -> None:
    await world.send(ALICE, "/stretch")
    said = await world.press(ALICE, "yes")  # one or more of the first group: every one is an emergency (A)
    assert said == [referral(world.renderer, "A")]
    assert not any(call.params.get("reply_markup") for call in world.api.calls_to("sendMessage")[1:])
    assert (await world.state(ALICE)).profile.last_outcome == "A"
    assert (await world.storage.load(user_key(ALICE))).state_json is not None


async def test_typed_answers_work_wherever_a_button_does(world: World) -> None:
    await world.send(ALICE, "/stretch")
    said = await world.send(ALICE, "no")
    assert said == [text(world.renderer, on=screen("screening.group", group=1))]
    said = await world.send(ALICE, world.content.t("label_group_no"))  # the button's words
    assert said == [text(world.renderer, on=screen("screening.score"))]


async def test_mydata_is_a_file_in_the_private_chat_only(world: World) -> None:
    await world.send(ALICE, "/start")
    said = await world.send(ALICE, "/mydata", replies=3)
    assert said[0] == world.content.t("mydata") and said[2] == world.content.t("mydata_file")
    assert "0 sessions recorded" in said[1]  # what is stored, in plain words, before the file
    [document] = world.api.calls_to("sendDocument")
    upload = world.api.documents[(ALICE, document.result["message_id"])]
    data = json.loads(upload.content)
    assert upload.filename.endswith(".json") and data["profile"]["platform"] == "telegram"
    assert data["profile"]["user_id"] == str(ALICE)

    mark = world.api.mark()
    world.api.send_command(ALICE, GROUP, "/mydata")
    await world.api.wait_for("sendDocument", after=mark)
    assert [(c.method, c.params["chat_id"]) for c in world.api.calls[mark:] if c.method.startswith("send")] == [
        ("sendMessage", GROUP),
        ("sendMessage", ALICE),
        ("sendDocument", ALICE),
    ]  # "here is what is stored" in the group; what is stored, in words and as a file, in private

    world.api.fail_next("sendMessage", 403, chat_id=ALICE)  # Alice never opened a private chat with the bot
    said = await world.send(BOB, "/start")  # (Bob's own chat: unaffected)
    said = await world.send(ALICE, "/mydata", GROUP, replies=2)
    assert said == [world.content.t("mydata"), world.content.t("mydata_private_only")]
    assert world.api.calls_to("sendMessage")[-2].status == 403 and len(world.api.calls_to("sendDocument")) == 2


# ---- buttons that must change nothing ---------------------------------------------------------------
async def test_an_answered_screen_keeps_its_text_and_shows_the_answer_whatever_the_label(
    bot_api: FakeBotApi, content, tmp_path: Path
) -> None:
    """The pressed label goes into HTML: "&" or "<" in content must not make Telegram refuse the edit."""
    title = "Back & hips <gentle>"
    routines = {**content.routines, "lower5": content.routines["lower5"].model_copy(update={"title": title})}
    world = World(
        bot_api,
        content.model_copy(update={"routines": routines}),
        tmp_path / "bot.db",
        FakeClock(T0),
        config_for(bot_api),
    )
    await world.start()
    try:
        await world.start_routine(ALICE)
        menu = world.message_with(ALICE, "ready")  # the position screen; the routine menu before it
        [answered] = [
            m
            for (chat, _), m in bot_api.messages.items()
            if chat == ALICE and title in m.get("text", "") and m["from"]["is_bot"]
        ]
        assert answered["text"].endswith(f"✓ {title}") and bot_api.keyboard(answered) is None
        assert [e["type"] for e in answered.get("entities", [])] == []  # the menu had no bold; none was added
        assert bot_api.keyboard(menu) is not None
    finally:
        await world.stop()


async def test_stale_button_gets_a_toast_and_changes_nothing(world: World) -> None:
    await world.send(ALICE, "/stretch")
    question = world.api.last_sent(ALICE)
    await world.send(ALICE, "/stop")  # the session is over; the question keeps its (now stale) buttons
    before = (await world.state(ALICE)).to_json()
    mark = world.api.mark()
    assert await world.press(ALICE, "no", message=question, replies=0) == []
    assert world.api.toasts()[-1] == world.content.t("stale_button")
    assert [c.method for c in world.api.calls[mark:] if c.method != "getUpdates"] == ["answerCallbackQuery"]
    assert (await world.state(ALICE)).to_json() == before


async def test_group_buttons_belong_to_their_owner_and_text_to_its_writer(world: World) -> None:
    await world.send(ALICE, "/stretch@stretch_test_bot", GROUP)
    question = world.api.last_sent(GROUP)
    mark = world.api.mark()
    assert await world.press(BOB, "no", GROUP, message=question, replies=0) == []
    assert world.api.toasts()[-1] == world.content.t("foreign_button")
    assert [c.method for c in world.api.calls[mark:] if c.method != "getUpdates"] == ["answerCallbackQuery"]
    number = (await world.state(ALICE)).screen_no
    assert world.api.buttons(question) == [f"{ALICE}:{number}:yes", f"{ALICE}:{number}:no"]
    assert (await world.storage.load(user_key(BOB))).version == 0

    await world.send(BOB, "no", GROUP)  # Bob's own (empty) state answers; Alice's question is untouched
    assert (await world.state(ALICE)).session.phase.group == 0
    said = await world.press(ALICE, "no", GROUP)
    assert said == [text(world.renderer, on=screen("screening.group", group=1))]
    assert (await world.storage.load(user_key(ALICE))).address == {"chat_id": GROUP}
    world.api.send_command(ALICE, GROUP, "/stop@some_other_bot")  # not for us: ignored
    said = await world.send(ALICE, "/help@stretch_test_bot", GROUP)  # updates are handled in order
    help_text = line("help", answers=world.content.triage.answers_needed())
    assert said == [text(world.renderer, help_text, on=screen("screening.group", group=1))]


# ---- Telegram failures --------------------------------------------------------------------------------
def send_statuses(world: World, mark: int) -> list[int]:
    return [c.status for c in world.api.calls[mark:] if c.method == "sendMessage"]


async def test_429_is_waited_out_for_telegram_s_retry_after_then_sent_once(world: World) -> None:
    world.api.fail_next("sendMessage", 429, retry_after=3)
    mark = world.api.mark()
    world.api.send_command(ALICE, None, "/start")
    await world.api.wait_for("sendMessage", after=mark)
    await world.let_time_pass(2.5)
    assert send_statuses(world, mark) == [429]  # not before the 3 s Telegram asked for
    await world.let_time_pass(1)
    assert send_statuses(world, mark) == [429, 200]
    assert world.api.shown_texts(after=mark) == [text(world.renderer, "welcome", on=screen("home"))]


async def test_500_is_retried_after_a_short_backoff_then_delivered(world: World) -> None:
    world.api.fail_next("sendMessage", 500)
    mark = world.api.mark()
    world.api.send_command(ALICE, None, "/start")
    await world.api.wait_for("sendMessage", after=mark)
    await world.let_time_pass(0.5)  # the first retry comes within 0.25 s (bot/delivery.py RetryPolicy)
    assert send_statuses(world, mark) == [500, 200]
    assert world.api.shown_texts(after=mark) == [text(world.renderer, "welcome", on=screen("home"))]


async def test_blocked_during_a_cue_marks_the_user_unreachable_without_retrying(world: World) -> None:
    await world.start_routine(ALICE)
    await world.press(ALICE, "ready")
    world.api.fail_next("sendMessage", 403, times=None, chat_id=ALICE)
    mark = world.api.mark()
    assert await world.fire(12.5) == []
    assert [c.status for c in world.api.calls[mark:] if c.method == "sendMessage"] == [403]  # tried once
    assert (await world.state(ALICE)).profile.unreachable is True
    assert await world.fire(0) == []  # nothing was left behind to retry

    world.api.clear_failures()  # Alice unblocks the bot and writes again: she is told what happened
    said = await world.send(ALICE, "hello")
    assert said[0].startswith(world.content.t("unreachable_notice"))


async def test_handler_failure_is_logged_answered_politely_and_the_bot_carries_on(
    bot_api: FakeBotApi, content, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    world = World(bot_api, content, tmp_path / "bot.db", FakeClock(T0), config_for(bot_api))
    world.raise_handler_errors = False
    await world.start()
    try:
        real_handle = world.runtime.handle

        async def broken_once(key, event, address=None, input_id=None):
            world.runtime.handle = real_handle
            raise RuntimeError("storage went away")

        world.runtime.handle = broken_once
        caplog.set_level(logging.ERROR, logger="stretchbot.telegram")
        update = world.api.send_text(ALICE, None, "my secret back story")
        sorry = await world.api.wait_for("sendMessage")
        assert sorry.params["text"] == content.t("error_sorry")
        assert f"update {update['update_id']} failed" in caplog.text
        assert "my secret back story" not in caplog.text
        assert (await world.send(ALICE, "/start")) == [text(world.renderer, "welcome", on=screen("home"))]
    finally:
        await world.stop()


# ---- restarts and the scheduler -----------------------------------------------------------------------
async def test_restart_mid_hold_delivers_release_and_check_in_exactly_once(world: World) -> None:
    r = world.renderer
    await world.start_routine(ALICE)
    await world.press(ALICE, "ready")
    said = await world.fire(12.5) + await world.fire(12.5)  # left side done
    await world.press(ALICE, "ready")  # right side holding
    hold = world.api.last_sent(ALICE)
    await world.restart()  # new Application and Runtime, same SQLite file
    said += await world.fire(12.5) + await world.fire(12.5) + await world.fire(600)
    assert said.count(text(r, "halfway_hold", kind="cue")) == 2
    assert said.count(text(r, "release_hold", kind="cue")) == 2
    checkin = text(r, on=screen("stretch.checkin"))
    assert said.count(checkin) == 1 and said[-1] == checkin
    assert await world.press(ALICE, "skip", message=hold, replies=0) == []  # from before the restart
    assert world.api.toasts()[-1] == world.content.t("stale_button")
    [position] = await world.press(ALICE, "good")
    assert position == text(r, on=exercise(r, "stretch.position", index=1, hold=0))


def background_tasks() -> dict[str, asyncio.Task]:
    return {task.get_name(): task for task in asyncio.all_tasks() if task.get_name() in ("scheduler", "sender")}


async def test_serving_runs_the_scheduler_and_sender_and_stopping_ends_both(world: World) -> None:
    await world.stop()
    await world.start(serving=True)
    assert [c["command"] for c in world.api.commands] == command_names(world)
    await world.start_routine(ALICE)
    await world.press(ALICE, "ready")
    tasks = background_tasks()
    assert set(tasks) == {"scheduler", "sender"}
    mark = world.api.mark()
    world.clock.advance(12.5)  # no fire_due: the process's own scheduler fires the cue, its sender sends it
    cue = await world.api.wait_for("sendMessage", after=mark)
    assert cue.result["text"] == text(world.renderer, "halfway_hold", kind="cue")
    await world.stop()
    assert all(task.done() for task in tasks.values()) and background_tasks() == {}
    await world.start()  # for the fixture's teardown


async def test_webhook_mode_checks_the_secret_token(bot_api: FakeBotApi, content, tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = config_for(
        bot_api,
        webhook_url="https://bot.example.com/tg-hook",
        webhook_secret="s3cret-Token",
        webhook_port=port,
        webhook_listen="127.0.0.1",
    )
    world = World(bot_api, content, tmp_path / "bot.db", FakeClock(T0), config)
    await world.start(serving=True)
    try:
        assert bot_api.webhook == {"url": "https://bot.example.com/tg-hook", "secret_token": "s3cret-Token"}
        update = bot_api.send_command(ALICE, None, "/start")
        bot_api.updates.clear()  # this update travels by webhook, not getUpdates
        url = f"http://127.0.0.1:{port}/tg-hook"
        async with httpx.AsyncClient() as client:
            assert (await client.post(url, json=update)).status_code == 403
            wrong = {"X-Telegram-Bot-Api-Secret-Token": "guess"}
            assert (await client.post(url, json=update, headers=wrong)).status_code == 403
            assert bot_api.calls_to("sendMessage") == []
            right = {"X-Telegram-Bot-Api-Secret-Token": "s3cret-Token"}
            assert (await client.post(url, json=update, headers=right)).status_code == 200
        sent = await bot_api.wait_for("sendMessage")
        assert sent.result["text"] == text(world.renderer, "welcome", on=screen("home"))
    finally:
        await world.stop()
    assert bot_api.calls_to("getUpdates") == []


async def test_serve_turns_a_rejected_token_or_no_network_into_one_line(
    bot_api: FakeBotApi, content, tmp_path: Path
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    for base_url, message in (
        (f"http://127.0.0.1:{bot_api.port}/not-the-api", "rejected this token"),
        (f"http://127.0.0.1:{closed_port}/bot", "cannot reach the Telegram Bot API"),
    ):
        config = TelegramConfig(token=TOKEN, base_url=base_url)
        world = World(bot_api, content, tmp_path / "bot.db", FakeClock(T0), config)
        with pytest.raises(ConfigError, match=message):
            await world.start(serving=True)
        requests = world.adapter.requests
        assert set(requests) == set(world.adapter.application.bot._request)  # both of the bot's pools
        assert all(request._client.is_closed for request in requests)  # closed although initialize() failed
        await world.storage.close()


# ---- logs ---------------------------------------------------------------------------------------------
async def test_the_token_never_reaches_the_logs(world: World, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    await world.restart()  # building the bot logs the API URL at DEBUG in PTB
    await world.start_routine(ALICE)
    await world.press(ALICE, "ready")
    world.api.fail_next("sendMessage", 403, chat_id=ALICE)
    await world.fire(12.5)
    assert any(r.name.startswith("stretchbot") for r in caplog.records)
    assert f"cannot reach telegram:{ALICE}" in caplog.text
    secret = TOKEN.split(":", 1)[1]
    assert secret not in caplog.text and not any(secret in str(r.__dict__) for r in caplog.records)
