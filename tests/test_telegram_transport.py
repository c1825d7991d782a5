"""bot/telegram_http.py: the aiohttp Bot API transport sends what PTB's own httpx transport sends, and
turns transport failures into PTB's errors (TimedOut, NetworkError) without the token in the message.

Everything runs over real HTTP on 127.0.0.1: the fake Bot API, or a small recording server below.
"""
from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from telegram import Bot, BotCommand, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.request import HTTPXRequest

from bot.telegram_http import AiohttpRequest
from telegram_fake import FakeBotApi
from telegram_harness import bot_api  # noqa: F401  (a fixture)
from telegram_world import TOKEN

@pytest.fixture(autouse=True)
def timedelta_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # as bot.telegram_adapter.main() does


TRANSPORTS = {"httpx (PTB's default)": HTTPXRequest, "aiohttp (stretchbot's)": AiohttpRequest}


def make_bot(transport: type, base_url: str, **timeouts: float) -> Bot:
    return Bot(TOKEN, base_url=base_url, request=transport(**timeouts), get_updates_request=transport())


class Recorder:
    """A bare HTTP server: records each request as the server saw it and answers ok (or hangs)."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.hang = False
        self.release = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        fields = {}
        for name, value in (await request.post()).items():
            fields[name] = ((value.filename, value.file.read(), value.content_type)
                            if isinstance(value, web.FileField) else value)
        self.requests.append({"path": request.path, "host": request.host, "content_type": request.content_type,
                              "fields": fields})
        if self.hang:
            await self.release.wait()
        if request.path.endswith("/getMe"):  # Bot.initialize() asks first
            return web.json_response({"ok": True, "result": {"id": 1, "is_bot": True, "first_name": "Rec",
                                                             "username": "rec_bot"}})
        return web.json_response({"ok": True, "result": True})


@pytest.fixture
async def recorder(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[Recorder, str]]:
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(name, "127.0.0.1,localhost")
    server = Recorder()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", server.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        yield server, f"http://127.0.0.1:{port}"
    finally:
        server.release.set()
        await runner.cleanup()


@contextlib.asynccontextmanager
async def started(**options: float) -> AsyncIterator[AiohttpRequest]:
    """An AiohttpRequest between initialize() and shutdown(), as an Application holds it."""
    request = AiohttpRequest(**options)
    await request.initialize()
    try:
        yield request
    finally:
        await request.shutdown()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---- same requests as PTB's own transport --------------------------------------------------------
async def calls_made_with(transport: type, api: FakeBotApi) -> list[tuple[str, dict]]:
    start = len(api.calls)
    async with make_bot(transport, api.base_url) as bot:
        await bot.set_my_commands([BotCommand("start", "Welcome"), BotCommand("stretch", "Stretch")])
        markup = InlineKeyboardMarkup([[InlineKeyboardButton("Ready ✓", callback_data="7:1:ready"),
                                        InlineKeyboardButton("It hurts", callback_data="7:1:pain")]])
        sent = await bot.send_message(7, "Hold for 30 s & breathe — «slowly» 🙂\nline two", reply_markup=markup)
        assert sent.text.startswith("Hold for 30 s") and sent.reply_markup == markup
        await bot.edit_message_reply_markup(7, sent.message_id, reply_markup=None)
    return [(call.method, {k: v for k, v in call.params.items() if k != "message_id"})
            for call in api.calls[start:]]


async def test_aiohttp_sends_the_same_bot_api_calls_as_httpx(bot_api: FakeBotApi) -> None:
    with_httpx = await calls_made_with(HTTPXRequest, bot_api)
    with_aiohttp = await calls_made_with(AiohttpRequest, bot_api)
    assert [method for method, _ in with_aiohttp] == ["getMe", "setMyCommands", "sendMessage",
                                                     "editMessageReplyMarkup"]
    assert with_aiohttp == with_httpx
    sent = with_aiohttp[2][1]
    assert sent["text"] == "Hold for 30 s & breathe — «slowly» 🙂\nline two"
    assert sent["reply_markup"]["inline_keyboard"][0][1] == {"text": "It hurts", "callback_data": "7:1:pain"}


@pytest.mark.parametrize("transport", TRANSPORTS.values(), ids=TRANSPORTS.keys())
async def test_an_attached_file_goes_as_multipart(recorder: tuple[Recorder, str], transport: type) -> None:
    server, url = recorder
    async with make_bot(transport, f"{url}/bot") as bot:
        assert await bot.set_chat_photo(42, photo=b"\x89PNG fake picture")
    request = server.requests[-1]
    assert request["path"] == f"/bot{TOKEN}/setChatPhoto"
    assert request["content_type"] == "multipart/form-data"
    assert request["fields"]["chat_id"] == "42"
    filename, content, _ = next(v for v in request["fields"].values() if isinstance(v, tuple))
    assert content == b"\x89PNG fake picture" and filename


@pytest.mark.parametrize(("status", "error"), [(400, BadRequest), (403, Forbidden), (429, RetryAfter)])
async def test_telegram_errors_become_ptb_exceptions(bot_api: FakeBotApi, status: int, error: type) -> None:
    async with make_bot(AiohttpRequest, bot_api.base_url) as bot:
        bot_api.fail_next("sendMessage", status, description="Bad Request: chat not found", retry_after=3)
        with pytest.raises(error) as raised:
            await bot.send_message(7, "hello")
        if error is RetryAfter:
            assert raised.value.retry_after.total_seconds() == 3
        assert (await bot.send_message(7, "again")).text == "again"  # the session is still usable


# ---- transport failures --------------------------------------------------------------------------
async def test_a_slow_answer_times_out(recorder: tuple[Recorder, str]) -> None:
    server, url = recorder
    async with started(read_timeout=0.05) as request:
        server.hang = True
        with pytest.raises(TimedOut):
            await request.post(f"{url}/bot{TOKEN}/getMe")
        server.hang = False
        assert (await request.post(f"{url}/bot{TOKEN}/getMe"))["username"] == "rec_bot"  # next call works
        server.hang = True
        with pytest.raises(TimedOut):  # a per-call timeout overrides the default
            await request.post(f"{url}/bot{TOKEN}/getMe", read_timeout=0.01)


async def test_an_unreachable_api_is_a_network_error_without_the_token() -> None:
    async with started(connect_timeout=2) as request:
        with pytest.raises(NetworkError) as raised:
            await request.post(f"http://127.0.0.1:{free_port()}/bot{TOKEN}/getMe")
    assert not isinstance(raised.value, TimedOut)
    assert "aiohttp.ClientConnectorError" in str(raised.value)
    assert TOKEN not in str(raised.value) and TOKEN.split(":")[1] not in str(raised.value)


async def test_proxy_settings_come_from_the_environment(recorder: tuple[Recorder, str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    server, url = recorder
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("HTTP_PROXY", url)  # the recorder plays the proxy
    async with started() as request:
        assert await request.post(f"http://api.telegram.invalid/bot{TOKEN}/close") is True
    assert server.requests[-1]["host"] == "api.telegram.invalid"

    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{free_port()}")  # nobody listens there...
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")  # ...but 127.0.0.1 goes direct
    async with started() as request:
        assert await request.post(f"{url}/bot{TOKEN}/close") is True
    assert server.requests[-1]["host"] == url.removeprefix("http://")


async def test_life_cycle() -> None:
    request = AiohttpRequest()
    with pytest.raises(NetworkError, match="not initialized"):  # PTB wraps our RuntimeError
        await request.post(f"http://127.0.0.1:1/bot{TOKEN}/getMe")
    await request.initialize()
    await request.shutdown()
    await request.shutdown()  # twice is fine, as PTB may do on a failed start
    with pytest.raises(NetworkError, match="not initialized"):
        await request.post(f"http://127.0.0.1:1/bot{TOKEN}/getMe")
    await request.initialize()  # an Application can be started again after a stop
    await request.shutdown()
    with pytest.raises(ValueError):
        AiohttpRequest(connection_pool_size=0)
