"""Telegram settings and the safety around the Bot API connection: configuration from the environment,
per-chat ordering of updates, and keeping the bot token out of logs. Used by bot/telegram/adapter.py.
"""
from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from telegram.ext import BaseUpdateProcessor

from bot import ConfigError

log = logging.getLogger("stretchbot.telegram")

# BotFather tokens look like "110201543:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw": the bot id, a colon and
# 35 characters. Checked loosely so a future, longer secret still passes.
TOKEN_PATTERN = re.compile(r"\d+:[A-Za-z0-9_-]{30,}")
SECRET_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,256}")  # Telegram's rule for webhook secret tokens


@dataclass(frozen=True)
class TelegramConfig:
    token: str = field(repr=False)  # never printed, never logged
    base_url: str | None = None  # Bot API root (a local Bot API server, or the tests' fake)
    webhook_url: str | None = None  # set: webhook mode; unset: long polling
    webhook_secret: str | None = field(default=None, repr=False)
    webhook_port: int = 8443
    webhook_listen: str = "0.0.0.0"
    poll_timeout: float = 30

    @property
    def webhook_path(self) -> str:
        return urlsplit(self.webhook_url or "").path.lstrip("/")

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> TelegramConfig:
        token = (environ.get("TELEGRAM_TOKEN") or "").strip()
        if not token:
            raise ConfigError("TELEGRAM_TOKEN is not set: create a bot with @BotFather and put its token "
                              "in the TELEGRAM_TOKEN environment variable")
        if not TOKEN_PATTERN.fullmatch(token):
            raise ConfigError("TELEGRAM_TOKEN does not look like a token from @BotFather "
                              "(<bot id>:<35 letters, digits, _ or ->); copy it again from BotFather")
        base_url = (environ.get("TELEGRAM_BASE_URL") or "").strip() or None
        if base_url and urlsplit(base_url).scheme not in ("http", "https"):
            raise ConfigError("TELEGRAM_BASE_URL must start with http:// or https:// "
                              "(e.g. http://127.0.0.1:8081/bot)")
        webhook_url = (environ.get("TELEGRAM_WEBHOOK_URL") or "").strip() or None
        if webhook_url is None:
            return cls(token=token, base_url=base_url)
        parts = urlsplit(webhook_url)
        if parts.scheme != "https" or not parts.hostname:
            raise ConfigError("TELEGRAM_WEBHOOK_URL must be a public https:// URL "
                              "(e.g. https://bot.example.com/telegram)")
        secret = (environ.get("TELEGRAM_WEBHOOK_SECRET") or "").strip()
        if not SECRET_PATTERN.fullmatch(secret):
            raise ConfigError("TELEGRAM_WEBHOOK_SECRET is required with TELEGRAM_WEBHOOK_URL: 1-256 letters, "
                              "digits, _ or - (e.g. from `openssl rand -hex 32`)")
        raw_port = (environ.get("TELEGRAM_WEBHOOK_PORT") or "8443").strip()
        if not raw_port.isdigit() or not 0 < int(raw_port) < 65536:
            raise ConfigError(f"TELEGRAM_WEBHOOK_PORT: {raw_port!r} is not a port number (default 8443)")
        listen = (environ.get("TELEGRAM_WEBHOOK_LISTEN") or "0.0.0.0").strip()
        return cls(token=token, base_url=base_url, webhook_url=webhook_url, webhook_secret=secret,
                   webhook_port=int(raw_port), webhook_listen=listen)


class PerChatUpdateProcessor(BaseUpdateProcessor):
    """Handle updates of different chats side by side, and each chat's updates in order.

    PTB's default handles one update at a time, so one person's database write and Bot API call
    hold up everybody else. Running different chats concurrently overlaps that waiting; keeping
    each chat in order means a person's "no" can never overtake the question it answers.
    """

    def __init__(self, max_concurrent_updates: int = 64) -> None:
        super().__init__(max_concurrent_updates)
        # chat id -> (its lock, how many updates hold or wait for it); dropped when that reaches 0
        self._chats: dict[int | None, tuple[asyncio.Lock, int]] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        chat = getattr(getattr(update, "effective_chat", None), "id", None)
        lock, users = self._chats.get(chat, (asyncio.Lock(), 0))
        self._chats[chat] = (lock, users + 1)
        try:
            async with lock:
                await coroutine
        finally:
            lock, users = self._chats[chat]
            if users == 1:
                del self._chats[chat]
            else:
                self._chats[chat] = (lock, users - 1)

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to tear down."""


def quiet_token_loggers() -> None:
    """httpx logs request URLs at INFO and PTB logs the API URL (and message texts) at DEBUG: the URL
    holds the token. Keep both above those levels whatever --log-level says (and never below it: at the
    default WARNING, python-telegram-bot's INFO lines stay out too)."""
    for name, level in (("httpx", logging.WARNING), ("httpcore", logging.WARNING), ("telegram", logging.INFO)):
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < level or logger.level == logging.NOTSET:
            logger.setLevel(max(level, logger.getEffectiveLevel()))


class RedactToken(logging.Filter):
    """Last line of defence: replace the token in any record a handler formats."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.token in message:
            record.msg, record.args = message.replace(self.token, "<token>"), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text and self.token in record.exc_text:
            record.exc_text = record.exc_text.replace(self.token, "<token>")
        return True


def protect_token(token: str) -> None:
    """Keep the token out of every log line: quiet the loggers that print URLs, and redact what remains."""
    quiet_token_loggers()
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactToken(token))
