"""stretchbot's Telegram bot in a test: the real Application (bot/telegram_adapter.py) over HTTP against
FakeBotApi, the real engine and content, a SQLite file and a FakeClock, plus helpers to talk to it.
Used by tests/test_telegram.py.
"""
from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from bot.runtime import FakeClock, Runtime
from bot.storage import open_storage
from bot.telegram_adapter import Limits, TelegramConfig, build, serve, user_key
from dialogs.engine import Engine
from dialogs.model import UserState
from telegram_fake import FakeBotApi
from telegram_harness import running

TOKEN = "123456789:" + "AbC1_-xY9z" * 3 + "Q2w3e"  # BotFather's shape (35 characters); not a real token
ALICE, BOB, GROUP = 501, 502, -100600
# No flood-rate waits in tests (Telegram allows 20 messages a minute in a group); retries stay on.
TEST_LIMITS = Limits(overall_per_second=0, group_per_minute=0, retries_after_429=3, network_retry_delays=(0, 0))
SEVEN_COMMANDS = ["start", "stretch", "remind", "stop", "help", "mydata", "forget"]


class World:
    """One bot process (Application + Runtime over a SQLite file) plus helpers to talk to it."""

    def __init__(self, api: FakeBotApi, content, db: Path, clock: FakeClock, config: TelegramConfig) -> None:
        self.api, self.content, self.db, self.clock, self.config = api, content, db, clock, config
        self.raise_handler_errors = True

    async def start(self, *, serving: bool = False) -> None:
        """serving=False: the test harness polls and the test fires timers; True: serve() as in production
        (command menu, scheduler task, polling or webhook)."""
        self.storage = await open_storage(f"sqlite:///{self.db}")
        self.runtime = Runtime(Engine(self.content), self.storage, clock=self.clock)
        self.adapter = build(self.config, self.runtime, limits=TEST_LIMITS)
        self.stack = contextlib.AsyncExitStack()
        if serving:
            stop = asyncio.Event()
            task = asyncio.create_task(serve(self.adapter, self.config, stop))
            self.stack.push_async_callback(lambda: task)  # awaited after stop is set
            self.stack.callback(stop.set)
            while not self.adapter.application.running:
                if task.done():
                    await task
                await asyncio.sleep(0.01)
        else:
            await self.stack.enter_async_context(
                running(self.adapter.application, raise_handler_errors=self.raise_handler_errors))
            await self.adapter.publish_commands()

    async def stop(self) -> None:
        try:
            await self.stack.aclose()
        finally:
            await self.storage.close()

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    # ---- talking to the bot ---------------------------------------------------------------------
    def _sent_after(self, mark: int) -> list[str]:
        return [c.params["text"] for c in self.api.calls[mark:] if c.method == "sendMessage" and c.status == 200]

    async def send(self, user: int, text: str, chat: int | None = None, *, replies: int = 1) -> list[str]:
        mark = self.api.mark()
        if text.startswith("/"):
            self.api.send_command(user, chat, text)
        else:
            self.api.send_text(user, chat, text)
        await self.api.wait_for(lambda c: c.method == "sendMessage" and c.status == 200, after=mark, count=replies)
        return self._sent_after(mark)

    def message_with(self, chat: int, choice: str) -> dict:
        """The newest bot message in `chat` that still has a button for `choice`."""
        for (chat_id, _), message in reversed(self.api.messages.items()):
            if chat_id == chat and message["from"]["is_bot"]:
                for data in self.api.buttons(message):
                    if data.rsplit(":", 1)[-1] == choice:
                        return message
        raise LookupError(f"no button {choice!r} in chat {chat}")

    async def press(self, user: int, choice: str, chat: int | None = None, *, owner: int | None = None,
                    message: dict | None = None, replies: int = 1) -> list[str]:
        message = message or self.message_with(chat or user, choice)
        data = next(d for d in self.api.buttons(message) if d.rsplit(":", 1)[-1] == choice)
        mark = self.api.mark()
        self.api.press(user, chat, message, data)
        await self.api.wait_for("answerCallbackQuery", after=mark)
        if replies:
            await self.api.wait_for(lambda c: c.method == "sendMessage" and c.status == 200, after=mark,
                                    count=replies)
        return self._sent_after(mark)

    async def fire(self, seconds: float) -> list[str]:
        mark = self.api.mark()
        self.clock.advance(seconds)
        await self.runtime.fire_due()
        return self._sent_after(mark)

    async def seconds_to_next_timer(self) -> float:
        return ((await self.storage.next_due()) - self.clock.now()).total_seconds()

    async def state(self, user: int) -> UserState:
        loaded = await self.storage.load(user_key(user))
        return UserState.from_json(loaded.state_json) if loaded.state_json else UserState()

    async def start_routine(self, user: int, routine: str = "lower5", chat: int | None = None) -> list[str]:
        """/stretch, the safe answer to every triage question, then the routine: returns what was said."""
        said = await self.send(user, "/stretch", chat)
        while (state := await self.state(user)).session.phase == "triage":
            ids = [choice_id for choice_id, _ in state.choices]
            said += await self.press(user, "low" if "low" in ids else "no", chat)
        return said + await self.press(user, routine, chat)


def config_for(api: FakeBotApi, **overrides) -> TelegramConfig:
    return TelegramConfig(token=TOKEN, base_url=api.base_url, poll_timeout=5, **overrides)
