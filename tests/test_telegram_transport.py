"""The Telegram bot talks to the Bot API through python-telegram-bot's own transport (HTTPXRequest, issue
14), so proxies come from the environment as PTB users expect. Offline: the fake Bot API stands in for
the proxy too (an HTTP proxy receives the whole URL), and the API's host name cannot resolve, so a reply
can only come back through the proxy."""

from __future__ import annotations

import logging

import pytest
import telegram_harness
from conftest import T0
from telegram.request import HTTPXRequest
from telegram_fake import FakeBotApi
from telegram_world import ALICE, TOKEN, World

from bot.runtime import FakeClock
from bot.telegram.config import TelegramConfig

bot_api = telegram_harness.bot_api  # the Bot API fake fixture, shared by the Telegram tests

UNRESOLVABLE_API = "http://api.telegram.invalid/bot"  # .invalid never resolves (RFC 2606)
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


@pytest.fixture(autouse=True)
def timedelta_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.mark.parametrize("variable", ["ALL_PROXY", "HTTP_PROXY"])
async def test_the_bot_uses_httpx_request_and_the_proxy_from_the_environment(
    variable, bot_api: FakeBotApi, content, tmp_path, monkeypatch
) -> None:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(variable, f"http://127.0.0.1:{bot_api.port}")
    config = TelegramConfig(token=TOKEN, base_url=UNRESOLVABLE_API, poll_timeout=5)
    world = World(bot_api, content, tmp_path / "bot.db", FakeClock(T0), config)
    await world.start()
    try:
        bot = world.adapter.application.bot
        requests = bot._request  # (getUpdates, everything else): PTB's own transport for both
        assert all(isinstance(request, HTTPXRequest) for request in requests)
        assert requests[0].read_timeout > config.poll_timeout  # a long poll is not cut off as a timeout
        said = await world.send(ALICE, "/start")
        assert said and bot_api.calls_to("getMe") and bot_api.calls_to("getUpdates")
        assert bot_api.hosts == {"api.telegram.invalid"}  # each asked for through the proxy
    finally:
        await world.stop()


async def test_an_update_the_library_cannot_read_is_skipped_once_not_fetched_forever(
    bot_api: FakeBotApi, content, tmp_path, caplog
) -> None:
    world = World(bot_api, content, tmp_path / "bot.db", FakeClock(T0), TelegramConfig(
        token=TOKEN, base_url=bot_api.base_url, poll_timeout=1))
    await world.start(serving=True)
    try:
        with caplog.at_level(logging.WARNING, logger="stretchbot.telegram"):
            bad = bot_api._push({"message": {"message_id": 1, "text": "no chat, no date"}})  # unreadable
            said = await world.send(ALICE, "/start")  # the next update still gets its answer
        assert said and content.t("welcome") in said[0]
        moved_on = await bot_api.wait_for(
            lambda call: call.method == "getUpdates" and int(call.params.get("offset", 0)) > bad["update_id"])
        assert moved_on.status == 200, "the offset moved past the unreadable update"
        fetched = [call for call in bot_api.calls_to("getUpdates")
                   if int(call.params.get("offset", 0)) <= bad["update_id"]]
        assert len(fetched) == 1, "fetched once, not again and again"
        assert caplog.text.count(f"skipping Telegram update {bad['update_id']}") == 1
    finally:
        await world.stop()


async def test_a_network_error_while_polling_is_one_line_not_a_traceback(
    bot_api: FakeBotApi, content, tmp_path, caplog
) -> None:
    world = World(bot_api, content, tmp_path / "bot.db", FakeClock(T0), TelegramConfig(
        token=TOKEN, base_url=bot_api.base_url, poll_timeout=1))
    await world.start(serving=True)
    try:
        with caplog.at_level(logging.INFO):
            bot_api.fail_next("getUpdates", status=502, times=1)
            mark = bot_api.mark()
            bot_api.send_command(ALICE, None, "/start")  # polling recovers by itself (PTB waits ~1 s)
            await bot_api.wait_for("sendMessage", after=mark, timeout=10)
        lines = [r for r in caplog.records if "Telegram polling" in r.getMessage()]
        assert lines and all(r.levelno == logging.WARNING and r.exc_info is None for r in lines)
        assert "Traceback" not in caplog.text
    finally:
        await world.stop()
