"""pytest helpers for tests that drive a real python-telegram-bot Application against FakeBotApi.

Use them from a test module (no conftest): `bot_api = telegram_harness.bot_api` (an assignment, so a test's
`bot_api` argument does not redefine an import) and `from telegram_harness import running`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio
from telegram_fake import FakeBotApi


@pytest_asyncio.fixture
async def bot_api(monkeypatch) -> AsyncIterator[FakeBotApi]:
    """A running FakeBotApi; httpx kept off proxies, and its token-bearing INFO lines out of the logs."""
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(name, "127.0.0.1,localhost")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    async with FakeBotApi() as api:
        yield api


@contextlib.asynccontextmanager
async def running(
    application: Any, *, poll_timeout: float = 10, raise_handler_errors: bool = True
) -> AsyncIterator[Any]:
    """Poll with a PTB Application inside the test's loop (run_polling cannot), stop in reverse order,
    then re-raise the first exception a handler raised (PTB would only log it)."""
    errors: list[BaseException] = []

    async def collect(update: object, context: Any) -> None:
        errors.append(context.error)

    if raise_handler_errors:
        application.add_error_handler(collect)
    await application.initialize()
    await application.start()
    await application.updater.start_polling(poll_interval=0, timeout=poll_timeout)
    try:
        yield application
    finally:
        await application.updater.stop()
        await application.stop()
        await application.shutdown()
        if raise_handler_errors:
            application.remove_error_handler(collect)
    if errors:
        raise errors[0]
