"""stretchbot's Telegram bot in a test: the real Application (bot/telegram/adapter.py) over HTTP against
FakeBotApi, the real engine, renderer and content, a SQLite file and a FakeClock (or the system clock),
plus helpers to talk to it. Used by tests/test_telegram*.py and the cross-channel script.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from pathlib import Path

from delivery_world import running as sending
from telegram_fake import Call, FakeBotApi
from telegram_harness import running
from telegram_inspect import SENDS

from bot.app import Core, Parts, background, make_parts, sender_for
from bot.clock import Clock
from bot.pictures import PictureStore
from bot.ratelimit import Rate
from bot.storage import open_storage
from bot.telegram.adapter import build, serve, user_key
from bot.telegram.config import TelegramConfig, protect_token
from dialogs.content import Content
from dialogs.engine import Engine
from dialogs.render import Renderer
from dialogs.state import UserState

TOKEN = "123456789:" + "AbC1_-xY9z" * 3 + "Q2w3e"  # BotFather's shape (35 characters); not a real token
ALICE, BOB, GROUP = 501, 502, -100600
SAFE_ANSWERS = ("low", "better", "no")  # the answer to each screening screen that flags nothing
SETTLE_SECONDS = 10  # real seconds a test waits for the sender at most (it is done in milliseconds)


def no_rates(chat: str) -> tuple[()]:
    """No flood-rate waits in tests (Telegram allows 20 messages a minute in a group): the sender's
    rate keeping is tested on its own (tests/test_delivery.py)."""
    return ()


def core_for(content: Content) -> Core:
    """The composition root's bundle, from the content the tests loaded once."""
    engine = Engine(content)
    return Core(content, engine, Renderer(content, engine.screens))


def sent(call: Call) -> bool:
    """A message the user received: a successful sendMessage, sendDocument, sendPhoto or sendAnimation."""
    return call.method in SENDS and call.status == 200


class World:
    """One bot process (Application, Runtime and Sender over a SQLite file) plus helpers to talk to it."""

    def __init__(self, api: FakeBotApi, content: Content, db: Path, clock: Clock, config: TelegramConfig,
                 pictures: Path | None = None, rates: Callable[[str], Sequence[Rate]] = no_rates) -> None:
        """clock: a FakeClock (the tests move time), or the SystemClock for tests that measure real latency;
        rates: the platform limits the sender keeps (none, unless a test is about them)."""
        self.api, self.content, self.db, self.clock, self.config = api, content, db, clock, config
        self.rates = rates
        self.core = core_for(content)
        self.renderer = self.core.renderer
        self.pictures = pictures  # a cache folder for stretch pictures (None: the run's, tests/conftest.py)
        self.raise_handler_errors = True
        self.environ: dict[str, str] = {}  # the process environment serve mode reads (STRETCHBOT_OPS_PORT)

    async def start(self, *, serving: bool = False) -> None:
        """serving=False: the test harness polls and the test fires timers; True: serve() as in production
        (command menu, scheduler task, polling or webhook)."""
        protect_token(self.config.token)  # as run_telegram() does before it builds the bot
        self.storage = await open_storage(f"sqlite:///{self.db}")
        self.parts: Parts = make_parts(self.core, self.storage, self.clock, "telegram",
                                       pictures=PictureStore(self.content, self.pictures))
        self.runtime = self.parts.runtime
        self.adapter = build(self.config, self.runtime, self.core.commands(), self.parts.outgoing, rates=self.rates)
        self.sender = sender_for(self.parts, self.adapter)
        self.stack = contextlib.AsyncExitStack()
        if serving:
            stop = asyncio.Event()
            await self.stack.enter_async_context(background(self.parts, self.sender, self.environ))
            task = asyncio.create_task(serve(self.adapter, self.config, stop))
            self.stack.push_async_callback(lambda: task)  # awaited after stop is set
            self.stack.callback(stop.set)
            while not self.adapter.application.running:
                if task.done():
                    await task
                await asyncio.sleep(0.01)
        else:
            await self.stack.enter_async_context(sending(self.sender))
            await self.stack.enter_async_context(
                running(self.adapter.application, raise_handler_errors=self.raise_handler_errors)
            )
            await self.adapter.publish_commands()

    async def stop(self) -> None:
        try:
            await self.stack.aclose()
        finally:
            await self.storage.close()

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    async def settle(self) -> None:
        """Wait until the sender has delivered everything due now (fake time does not move)."""
        await asyncio.wait_for(self.sender.settled(), SETTLE_SECONDS)

    async def let_time_pass(self, seconds: float, step: float = 0.25) -> None:
        """Fake time passes in steps; the sender delivers (and retries) what comes due at each."""
        for _ in range(round(seconds / step)):
            await self.settle()
            self.clock.advance(step)
        await self.settle()

    # ---- talking to the bot ---------------------------------------------------------------------
    def _sent_after(self, mark: int) -> list[str]:
        """What the user saw of each message sent since `mark` (markup parsed away, as Telegram shows it)."""
        return self.api.shown_texts(after=mark)

    async def send(self, user: int, text: str, chat: int | None = None, *, replies: int = 1) -> list[str]:
        """Type `text` (a /command or words); returns what the bot said once `replies` messages arrived
        and the sender has nothing more to send."""
        mark = self.api.mark()
        if text.startswith("/"):
            self.api.send_command(user, chat, text)
        else:
            self.api.send_text(user, chat, text)
        await self.api.wait_for(sent, after=mark, count=replies)
        await self.settle()
        return self._sent_after(mark)

    def message_with(self, chat: int, choice: str) -> dict:
        """The newest bot message in `chat` that still has a button for `choice`."""
        for (chat_id, _), message in reversed(self.api.messages.items()):
            if chat_id == chat and message["from"]["is_bot"]:
                for data in self.api.buttons(message):
                    if data.rsplit(":", 1)[-1] == choice:
                        return message
        raise LookupError(f"no button {choice!r} in chat {chat}")

    async def press(
        self, user: int, choice: str, chat: int | None = None, *, message: dict | None = None, replies: int = 1
    ) -> list[str]:
        message = message or self.message_with(chat or user, choice)
        data = next(d for d in self.api.buttons(message) if d.rsplit(":", 1)[-1] == choice)
        mark = self.api.mark()
        self.api.press(user, chat, message, data)
        await self.api.wait_for("answerCallbackQuery", after=mark)
        if replies:
            await self.api.wait_for(sent, after=mark, count=replies)
        await self.settle()
        return self._sent_after(mark)

    async def fire(self, seconds: float) -> list[str]:
        """Move the clock on and fire what came due, as the scheduler would; the sender delivers it."""
        mark = self.api.mark()
        self.clock.advance(seconds)
        await self.runtime.fire_due()
        await self.settle()
        return self._sent_after(mark)

    async def seconds_to_next_timer(self) -> float:
        due = await self.storage.next_due(("telegram",))
        assert due is not None, "no timer is scheduled"
        return (due - self.clock.now()).total_seconds()

    async def state(self, user: int) -> UserState:
        loaded = await self.storage.load(user_key(user))
        return UserState.from_json(loaded.state_json) if loaded.state_json else UserState()

    async def screen_id(self, user: int) -> str | None:
        screen = (await self.state(user)).screen
        return screen.id if screen else None

    async def start_routine(self, user: int, routine: str = "lower5", chat: int | None = None) -> list[str]:
        """/stretch, the answer that flags nothing to every screening screen, then the routine: what was said."""
        said = await self.send(user, "/stretch", chat)
        while (screen := await self.screen_id(user)) and screen.startswith("screening."):
            buttons = [data.rsplit(":", 1)[-1] for data in self.api.buttons(self.api.last_sent(chat or user))]
            said += await self.press(user, next(a for a in SAFE_ANSWERS if a in buttons), chat)
        return said + await self.press(user, routine, chat)


def config_for(api: FakeBotApi, **overrides) -> TelegramConfig:
    return TelegramConfig(token=TOKEN, base_url=api.base_url, poll_timeout=5, **overrides)
