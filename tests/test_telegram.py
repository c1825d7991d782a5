"""The Telegram adapter end to end: the real python-telegram-bot Application talks HTTP to the fake Bot
API; real engine and shipped content; real SQLite in tmp_path; a FakeClock fires hold cues (no real
sleeping: `fire()` advances the clock and runs the runtime's fire_due, which delivers before it returns).
"""
from __future__ import annotations

import asyncio
import logging
import socket
from pathlib import Path

import httpx
import pytest

from bot import ConfigError
from bot.cli import Settings
from bot.cli import main as cli_main
from bot.runtime import FakeClock
from bot.telegram_adapter import RedactToken, TelegramConfig, chunks, keyboard, main, parse_callback_data, user_key
from conftest import T0
from dialogs.content import DEFAULT_CONTENT_DIR
from dialogs.model import Choice, Say
from telegram_fake import FakeBotApi
from telegram_harness import bot_api  # noqa: F401  (a fixture)
from telegram_world import ALICE, BOB, GROUP, SEVEN_COMMANDS, TOKEN, World, config_for


@pytest.fixture(autouse=True)
def timedelta_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # as main() does: no deprecation warning per RetryAfter


@pytest.fixture
async def world(bot_api: FakeBotApi, content, tmp_path: Path):
    world = World(bot_api, content, tmp_path / "bot.db", FakeClock(T0), config_for(bot_api))
    await world.start()
    yield world
    await world.stop()


def count(texts: list[str], fragment: str) -> int:
    return sum(fragment in text for text in texts)


# ---- conversations ------------------------------------------------------------------------------------
async def test_full_routine_with_hold_cues_check_ins_and_summary(world: World) -> None:
    assert [c["command"] for c in world.api.commands] == SEVEN_COMMANDS
    welcome = await world.send(ALICE, "/start")
    assert "Hi, I'm stretchbot" in welcome[0]
    screen = (await world.state(ALICE)).screen
    assert world.api.buttons(world.api.last_sent(ALICE)) == [f"{ALICE}:{screen}:start", f"{ALICE}:{screen}:remind",
                                                             f"{ALICE}:{screen}:help"]
    said = await world.press(ALICE, "start")
    assert "Question 1 of" in said[0]
    menu = world.api.message(ALICE, 2)
    assert world.api.keyboard(menu) is None and menu["text"].endswith("✓ Start stretching")  # no replays

    said = await world.start_routine(ALICE)  # /stretch: carries on with the session in progress
    assert "Stretch 1 of 3: Knee-to-chest stretch" in said[-1]
    timings = []
    while (state := await world.state(ALICE)).session is not None:
        if state.session.phase == "position":
            said += await world.press(ALICE, "ready")
        elif state.session.phase == "holding":
            timings.append(await world.seconds_to_next_timer())
            said += await world.fire(timings[-1])
        else:
            said += await world.press(ALICE, "good")
    assert timings == [12.5, 12.5, 12.5, 12.5, 20, 20, 15, 15]  # halfway and release of four holds
    assert count(said, "Halfway") == 4 and count(said, "Release, gently.") == 4
    assert count(said, "How did that feel?") == 3
    assert "Well done! You did 3 stretches" in said[-1]
    assert world.api.unanswered_queries == set()
    (row,) = await world.storage.history(user_key(ALICE))
    assert (row.outcome, row.routine, row.stretches_done) == ("completed", "lower5", 3)


async def test_pain_button_mid_hold_refers_and_stops_every_cue(world: World) -> None:
    await world.start_routine(ALICE)
    await world.press(ALICE, "ready")
    said = await world.press(ALICE, "pain")
    assert said == [world.content.triage.pain_stop]
    assert await world.fire(300) == []
    assert (await world.state(ALICE)).session is None
    assert [r.outcome for r in await world.storage.history(user_key(ALICE))] == ["referral"]


async def test_typed_ouch_mid_hold_refers_and_stops_every_cue(world: World) -> None:
    await world.start_routine(ALICE)
    await world.press(ALICE, "ready")
    assert await world.send(ALICE, "ouch that hurts") == [world.content.triage.pain_stop]
    assert await world.fire(300) == []
    assert await world.storage.next_due() is None


async def test_red_flag_gets_the_emergency_referral_and_no_stretches(world: World) -> None:
    await world.send(ALICE, "/stretch")
    said = await world.press(ALICE, "yes")  # new numbness around the genitals: level A
    assert said == [world.content.referral("A")]
    assert not any("Stretch" in text for text in world.api.sent_texts())
    assert (await world.state(ALICE)).profile.last_triage_level == "A"


async def test_typed_answers_work_wherever_a_button_does(world: World) -> None:
    await world.send(ALICE, "/stretch")
    said = await world.send(ALICE, "no")
    assert "Question 2 of" in said[0]


async def test_mydata_goes_to_the_private_chat_only(world: World) -> None:
    await world.send(ALICE, "/start")
    said = await world.send(ALICE, "/mydata", replies=2)
    assert said[0] == world.content.t("mydata") and '"telegram"' in said[1] and str(ALICE) in said[1]
    mark = world.api.mark()
    world.api.send_command(ALICE, GROUP, "/mydata")
    await world.api.wait_for(lambda c: c.method == "sendMessage" and c.params["chat_id"] == ALICE, after=mark)
    assert [c.params["chat_id"] for c in world.api.calls_to("sendMessage")[-2:]] == [GROUP, ALICE]


# ---- buttons that must change nothing ---------------------------------------------------------------
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
    screen = (await world.state(ALICE)).screen
    assert world.api.buttons(question) == [f"{ALICE}:{screen}:yes", f"{ALICE}:{screen}:no"]
    assert (await world.storage.load(user_key(BOB))).version == 0

    await world.send(BOB, "no", GROUP)  # Bob's own (empty) state answers; Alice's question is untouched
    assert (await world.state(ALICE)).session.question == 0
    said = await world.press(ALICE, "no", GROUP)
    assert "Question 2 of" in said[0]
    assert (await world.storage.load(user_key(ALICE))).address == {"chat_id": GROUP}
    world.api.send_command(ALICE, GROUP, "/stop@some_other_bot")  # not for us: ignored
    said = await world.send(ALICE, "/help@stretch_test_bot", GROUP)  # updates are handled in order
    assert len(said) == 1 and "How it works" in said[0]


# ---- Telegram failures --------------------------------------------------------------------------------
async def test_429_is_waited_out_and_retried_once(world: World) -> None:
    world.api.fail_next("sendMessage", 429, retry_after=0.05)  # Telegram sends whole seconds; kept short
    mark = world.api.mark()
    said = await world.send(ALICE, "/start")
    assert len(said) == 1 and "Hi, I'm stretchbot" in said[0]
    assert [c.status for c in world.api.calls[mark:] if c.method == "sendMessage"] == [429, 200]


async def test_500_is_retried_then_delivered(world: World) -> None:
    world.api.fail_next("sendMessage", 500)
    mark = world.api.mark()
    said = await world.send(ALICE, "/start")
    assert len(said) == 1
    assert [c.status for c in world.api.calls[mark:] if c.method == "sendMessage"] == [500, 200]


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
    assert world.content.t("unreachable_notice") in said[0]


async def test_handler_failure_is_logged_answered_politely_and_the_bot_carries_on(
        bot_api: FakeBotApi, content, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    world = World(bot_api, content, tmp_path / "bot.db", FakeClock(T0), config_for(bot_api))
    world.raise_handler_errors = False
    await world.start()
    try:
        real_handle = world.runtime.handle

        async def broken_once(key, event, address=None):
            world.runtime.handle = real_handle
            raise RuntimeError("storage went away")

        world.runtime.handle = broken_once
        caplog.set_level(logging.ERROR, logger="stretchbot.telegram")
        update = world.api.send_text(ALICE, None, "my secret back story")
        sorry = await world.api.wait_for("sendMessage")
        assert sorry.params["text"].startswith("Sorry, something went wrong")
        assert f"update {update['update_id']} failed" in caplog.text
        assert "my secret back story" not in caplog.text
        assert "Hi, I'm stretchbot" in (await world.send(ALICE, "/start"))[0]
    finally:
        await world.stop()


# ---- restarts and the scheduler -----------------------------------------------------------------------
async def test_restart_mid_hold_delivers_release_and_check_in_exactly_once(world: World) -> None:
    await world.start_routine(ALICE)
    await world.press(ALICE, "ready")
    said = await world.fire(12.5) + await world.fire(12.5)  # left side done
    await world.press(ALICE, "ready")  # right side holding
    hold = world.api.last_sent(ALICE)
    await world.restart()  # new Application and Runtime, same SQLite file
    said += await world.fire(12.5) + await world.fire(12.5) + await world.fire(600)
    assert count(said, "Halfway") == 2 and count(said, "Release, gently.") == 2
    assert count(said, "How did that feel?") == 1 and said[-1].startswith("How did that feel?")
    assert await world.press(ALICE, "skip", message=hold, replies=0) == []  # from before the restart
    assert world.api.toasts()[-1] == world.content.t("stale_button")
    assert "Stretch 2 of 3: Cat-cow" in (await world.press(ALICE, "good"))[0]


async def test_serve_runs_the_scheduler_and_cancels_it_on_stop(world: World) -> None:
    await world.stop()
    await world.start(serving=True)
    assert [c["command"] for c in world.api.commands] == SEVEN_COMMANDS
    await world.start_routine(ALICE)
    await world.press(ALICE, "ready")
    scheduler = world.adapter._scheduler
    mark = world.api.mark()
    world.clock.advance(12.5)  # no fire_due: the runtime's own scheduler delivers the cue
    cue = await world.api.wait_for("sendMessage", after=mark)
    assert cue.params["text"].startswith("Halfway")
    await world.stop()
    assert scheduler.cancelled() and world.adapter._scheduler is None
    await world.start()  # for the fixture's teardown


async def test_webhook_mode_checks_the_secret_token(bot_api: FakeBotApi, content, tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = config_for(bot_api, webhook_url="https://bot.example.com/tg-hook", webhook_secret="s3cret-Token",
                        webhook_port=port, webhook_listen="127.0.0.1")
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
        assert "Hi, I'm stretchbot" in sent.params["text"]
    finally:
        await world.stop()
    assert bot_api.calls_to("getUpdates") == []


async def test_serve_turns_a_rejected_token_or_no_network_into_one_line(bot_api: FakeBotApi, content,
                                                                       tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    for base_url, message in ((f"http://127.0.0.1:{bot_api.port}/not-the-api", "rejected this token"),
                              (f"http://127.0.0.1:{closed_port}/bot", "cannot reach the Telegram Bot API")):
        config = TelegramConfig(token=TOKEN, base_url=base_url)
        world = World(bot_api, content, tmp_path / "bot.db", FakeClock(T0), config)
        with pytest.raises(ConfigError, match=message):
            await world.start(serving=True)
        assert all(transport.closed for transport in world.adapter.transports)  # no leaked HTTP sessions
        await world.storage.close()


# ---- logs, configuration, main() ----------------------------------------------------------------------
async def test_the_token_never_reaches_the_logs(world: World, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    await world.restart()  # building the bot logs the API URL at DEBUG in PTB
    await world.start_routine(ALICE)
    await world.press(ALICE, "ready")
    world.api.fail_next("sendMessage", 403, chat_id=ALICE)
    await world.fire(12.5)
    assert any(r.name.startswith("stretchbot") for r in caplog.records)
    assert "cannot reach telegram:501" in caplog.text
    secret = TOKEN.split(":", 1)[1]
    assert secret not in caplog.text and not any(secret in str(r.__dict__) for r in caplog.records)


def test_redaction_filter_covers_messages_and_tracebacks() -> None:
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "url %s", (f"/bot{TOKEN}/getMe",), None)
    try:
        raise ValueError(f"https://api.telegram.org/bot{TOKEN}/sendMessage")
    except ValueError as error:
        record.exc_info = (ValueError, error, error.__traceback__)
    RedactToken(TOKEN).filter(record)
    assert TOKEN not in record.getMessage() and TOKEN not in record.exc_text
    assert "<token>" in record.getMessage()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(database_url=f"sqlite:///{tmp_path}/never.db", time_scale=1, content_dir=DEFAULT_CONTENT_DIR)


@pytest.mark.parametrize("token, message", [
    (None, "TELEGRAM_TOKEN is not set"),
    ("  ", "TELEGRAM_TOKEN is not set"),
    ("12345", "does not look like a token from @BotFather"),
    ("123456:short", "does not look like a token from @BotFather"),
    ("bot123456:" + "A" * 35, "does not look like a token from @BotFather"),
])
def test_main_refuses_a_missing_or_malformed_token(token, message, settings, engine, monkeypatch, tmp_path):
    monkeypatch.delenv("TELEGRAM_TOKEN", raising=False)
    if token is not None:
        monkeypatch.setenv("TELEGRAM_TOKEN", token)
    with pytest.raises(ConfigError, match=message) as raised:
        main(settings, engine)
    assert "\n" not in str(raised.value) and (not token or not token.strip() or token not in str(raised.value))
    assert not (tmp_path / "never.db").exists()  # refused before any I/O


def test_cli_prints_one_line_and_exits_2(monkeypatch, capsys) -> None:
    monkeypatch.delenv("TELEGRAM_TOKEN", raising=False)
    assert cli_main(["telegram"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("stretchbot: TELEGRAM_TOKEN is not set") and err.count("\n") == 1


@pytest.mark.parametrize("env, message", [
    ({"TELEGRAM_WEBHOOK_URL": "http://bot.example.com/hook", "TELEGRAM_WEBHOOK_SECRET": "abc"}, "https://"),
    ({"TELEGRAM_WEBHOOK_URL": "https://bot.example.com/hook"}, "TELEGRAM_WEBHOOK_SECRET is required"),
    ({"TELEGRAM_WEBHOOK_URL": "https://bot.example.com/hook", "TELEGRAM_WEBHOOK_SECRET": "has space"},
     "TELEGRAM_WEBHOOK_SECRET"),
    ({"TELEGRAM_WEBHOOK_URL": "https://b.example.com/h", "TELEGRAM_WEBHOOK_SECRET": "a", "TELEGRAM_WEBHOOK_PORT": "x"},
     "TELEGRAM_WEBHOOK_PORT"),
    ({"TELEGRAM_BASE_URL": "127.0.0.1:8081/bot"}, "TELEGRAM_BASE_URL"),
])
def test_config_errors_name_the_setting(env, message) -> None:
    with pytest.raises(ConfigError, match=message):
        TelegramConfig.from_env({"TELEGRAM_TOKEN": TOKEN, **env})


def test_config_polling_by_default_and_webhook_when_asked() -> None:
    polling = TelegramConfig.from_env({"TELEGRAM_TOKEN": f" {TOKEN}\n"})
    assert polling.token == TOKEN and polling.webhook_url is None and polling.base_url is None
    assert TOKEN not in repr(polling)
    hook = TelegramConfig.from_env({"TELEGRAM_TOKEN": TOKEN, "TELEGRAM_WEBHOOK_URL": "https://b.example.com/tg/in",
                                    "TELEGRAM_WEBHOOK_SECRET": "abc_DEF-1"})
    assert (hook.webhook_port, hook.webhook_path, hook.webhook_listen) == (8443, "tg/in", "0.0.0.0")
    assert "abc_DEF-1" not in repr(hook)


# ---- rendering ----------------------------------------------------------------------------------------
def test_buttons_carry_ids_only_and_fit_telegrams_limit() -> None:
    say = Say("Ready?", (Choice("ready", "Ready"), Choice("skip", "Skip"), Choice("pain", "It hurts"),
                         Choice("stop", "Stop")), screen=123456)
    markup = keyboard("9876543210", say)
    assert [[b.callback_data for b in row] for row in markup.inline_keyboard] == [
        ["9876543210:123456:ready", "9876543210:123456:skip"], ["9876543210:123456:pain", "9876543210:123456:stop"]]
    assert keyboard("1", Say("no choices")) is None
    assert parse_callback_data("9876543210:123456:forget_yes") == ("9876543210", 123456, "forget_yes")
    assert parse_callback_data("garbage") is None and parse_callback_data(None) is None
    with pytest.raises(ValueError):
        keyboard("1", Say("x", (Choice("c" * 70, "C"),), screen=1))


def test_long_texts_are_split_below_telegrams_limit() -> None:
    parts = chunks("line\n" * 2000)
    assert len(parts) == 3 and all(0 < len(p) <= 4000 for p in parts)
    assert chunks("short") == ["short"]


async def test_updates_of_one_chat_stay_in_order_while_other_chats_go_ahead() -> None:
    from types import SimpleNamespace

    from bot.telegram_config import PerChatUpdateProcessor

    processor = PerChatUpdateProcessor(8)
    seen: list[str] = []
    first_may_finish = asyncio.Event()

    async def work(name: str, hold: asyncio.Event | None = None) -> None:
        seen.append(f"{name} start")
        if hold:
            await hold.wait()
        seen.append(f"{name} end")

    def in_chat(chat_id: int) -> SimpleNamespace:
        return SimpleNamespace(effective_chat=SimpleNamespace(id=chat_id))

    tasks = [asyncio.create_task(processor.process_update(in_chat(1), work("alice 1", first_may_finish))),
             asyncio.create_task(processor.process_update(in_chat(1), work("alice 2"))),
             asyncio.create_task(processor.process_update(in_chat(2), work("bob 1")))]
    for _ in range(20):
        await asyncio.sleep(0)
    assert "bob 1 end" in seen and "alice 2 start" not in seen  # bob is not held up by alice's slow update
    first_may_finish.set()
    await asyncio.gather(*tasks)
    assert seen.index("alice 1 end") < seen.index("alice 2 start")  # alice's answers never overtake
    assert processor._chats == {}  # no lock is kept for a chat with nothing queued
