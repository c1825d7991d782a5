"""Telegram settings and start-up without a bot running: configuration from the environment, run_telegram's
one-line refusals, the token redaction filter, the per-chat update processor, and the lease on claims."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import T0
from delivery_world import FakeTransport
from telegram_world import TOKEN, core_for

from bot import ConfigError
from bot.app import Settings, make_parts, run_telegram, sender_for
from bot.cli import main as cli_main
from bot.runtime import FakeClock
from bot.storage import open_storage
from bot.telegram.config import RedactToken, TelegramConfig
from dialogs.content import DEFAULT_CONTENT_DIR


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


@pytest.mark.parametrize(
    "token, message",
    [
        (None, "TELEGRAM_TOKEN is not set"),
        ("  ", "TELEGRAM_TOKEN is not set"),
        ("12345", "does not look like a token from @BotFather"),
        ("123456:short", "does not look like a token from @BotFather"),
        ("bot123456:" + "A" * 35, "does not look like a token from @BotFather"),
    ],
)
async def test_run_telegram_refuses_a_missing_or_malformed_token(token, message, settings, content, tmp_path):
    environ = {} if token is None else {"TELEGRAM_TOKEN": token}
    with pytest.raises(ConfigError, match=message) as raised:
        await run_telegram(settings, core_for(content), environ)
    assert "\n" not in str(raised.value) and (not token or not token.strip() or token not in str(raised.value))
    assert not (tmp_path / "never.db").exists()  # refused before any I/O


def test_cli_prints_one_line_and_exits_2(monkeypatch, capsys) -> None:
    monkeypatch.delenv("TELEGRAM_TOKEN", raising=False)
    assert cli_main(["telegram"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("stretchbot: TELEGRAM_TOKEN is not set") and err.count("\n") == 1


@pytest.mark.parametrize(
    "env, message",
    [
        ({"TELEGRAM_WEBHOOK_URL": "http://bot.example.com/hook", "TELEGRAM_WEBHOOK_SECRET": "abc"}, "https://"),
        ({"TELEGRAM_WEBHOOK_URL": "https://bot.example.com/hook"}, "TELEGRAM_WEBHOOK_SECRET is required"),
        (
            {"TELEGRAM_WEBHOOK_URL": "https://bot.example.com/hook", "TELEGRAM_WEBHOOK_SECRET": "has space"},
            "TELEGRAM_WEBHOOK_SECRET",
        ),
        (
            {
                "TELEGRAM_WEBHOOK_URL": "https://b.example.com/h",
                "TELEGRAM_WEBHOOK_SECRET": "a",
                "TELEGRAM_WEBHOOK_PORT": "x",
            },
            "TELEGRAM_WEBHOOK_PORT",
        ),
        ({"TELEGRAM_BASE_URL": "127.0.0.1:8081/bot"}, "TELEGRAM_BASE_URL"),
    ],
)
def test_config_errors_name_the_setting(env, message) -> None:
    with pytest.raises(ConfigError, match=message):
        TelegramConfig.from_env({"TELEGRAM_TOKEN": TOKEN, **env})


def test_config_polling_by_default_and_webhook_when_asked() -> None:
    polling = TelegramConfig.from_env({"TELEGRAM_TOKEN": f" {TOKEN}\n"})
    assert polling.token == TOKEN and polling.webhook_url is None and polling.base_url is None
    assert TOKEN not in repr(polling)
    hook = TelegramConfig.from_env(
        {
            "TELEGRAM_TOKEN": TOKEN,
            "TELEGRAM_WEBHOOK_URL": "https://b.example.com/tg/in",
            "TELEGRAM_WEBHOOK_SECRET": "abc_DEF-1",
        }
    )
    assert (hook.webhook_port, hook.webhook_path, hook.webhook_listen) == (8443, "tg/in", "0.0.0.0")
    assert "abc_DEF-1" not in repr(hook)


async def test_updates_of_one_chat_stay_in_order_while_other_chats_go_ahead() -> None:
    from types import SimpleNamespace

    from bot.telegram.config import PerChatUpdateProcessor

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

    tasks = [
        asyncio.create_task(processor.process_update(in_chat(1), work("alice 1", first_may_finish))),
        asyncio.create_task(processor.process_update(in_chat(1), work("alice 2"))),
        asyncio.create_task(processor.process_update(in_chat(2), work("bob 1"))),
    ]
    for _ in range(20):
        await asyncio.sleep(0)
    assert "bob 1 end" in seen and "alice 2 start" not in seen  # bob is not held up by alice's slow update
    first_may_finish.set()
    await asyncio.gather(*tasks)
    assert seen.index("alice 1 end") < seen.index("alice 2 start")  # alice's answers never overtake
    assert processor._chats == {}  # no lock is kept for a chat with nothing queued


# ---- the lease on claims (STRETCHBOT_LEASE_SECONDS) -------------------------------------------------------
@pytest.mark.parametrize("raw, seconds", [(None, 60.0), ("", 60.0), ("5", 5.0), (" 90 ", 90.0)])
async def test_the_lease_on_claims_comes_from_the_environment_and_reaches_the_runtime_and_the_sender(
        raw, seconds, content, tmp_path) -> None:
    settings = Settings.from_env({} if raw is None else {"STRETCHBOT_LEASE_SECONDS": raw})
    assert settings.lease_seconds == seconds
    storage = await open_storage(f"sqlite:///{tmp_path / 'bot.db'}")
    try:
        parts = make_parts(core_for(content), storage, FakeClock(T0), "telegram", lease_seconds=settings.lease_seconds)
        sender = sender_for(parts, FakeTransport(parts.runtime.clock, "telegram"))
    finally:
        await storage.close()
    assert parts.runtime.claim_lease == sender.lease == timedelta(seconds=seconds)


@pytest.mark.parametrize("raw, message", [
    ("soon", "STRETCHBOT_LEASE_SECONDS: 'soon' is not a number"),
    ("2", "STRETCHBOT_LEASE_SECONDS: 2 must be from 5 to 3600"),  # a send waiting out a rate limit outlasts it
    ("nan", "STRETCHBOT_LEASE_SECONDS: nan must be from 5 to 3600"),
])
def test_a_bad_lease_is_one_clear_line(raw, message) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.from_env({"STRETCHBOT_LEASE_SECONDS": raw})
