"""Telegram: updates become engine events, engine actions become Bot API calls. No dialog logic here.

Every person has their own state (UserKey("telegram", user id)), also in groups; the chat a message
came from is the delivery address for timer output (hold cues, check-ins). Buttons carry
"<owner id>:<screen>:<choice id>" only, so a press is checked against its owner and the engine
recognises stale screens, even across restarts. Run with `stretchbot telegram` (see README).
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
from collections.abc import Mapping

from telegram import BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.ext import Application, ApplicationBuilder, CallbackQueryHandler, ContextTypes, MessageHandler
from telegram.ext import filters

from bot import ConfigError
from bot.runtime import Runtime, Undeliverable
from bot.storage import UserKey
from bot.telegram_config import (  # noqa: F401  (Limits, TelegramConfig: part of this module's interface)
    PRODUCTION_LIMITS, Limits, PerChatUpdateProcessor, PoliteRateLimiter, RedactToken, TelegramConfig,
    quiet_token_loggers,
)
from bot.telegram_http import AiohttpRequest
from dialogs import model
from dialogs.model import Action, Button, Command, ExportData, Notice, Say, Text

log = logging.getLogger("stretchbot.telegram")

MAX_TEXT = 4000  # Telegram allows 4096 (UTF-16 units); stay clear of the edge
MAX_CALLBACK_DATA_BYTES = 64
MAX_TOAST = 200
ALLOWED_UPDATES = ["message", "callback_query"]  # edits, reactions, inline queries: not for us

# Shown in Telegram's command menu (setMyCommands). The engine answers every one of them.
COMMAND_MENU = {
    "start": "Welcome and main menu",
    "stretch": "Start a stretching routine",
    "remind": "Set up a daily reminder",
    "stop": "Stop the current routine",
    "help": "How stretchbot works",
    "mydata": "Show what stretchbot stores about you",
    "forget": "Delete everything stretchbot stores about you",
}
assert set(COMMAND_MENU) == set(model.COMMANDS), "keep the Telegram command menu in step with the engine"

# Adapter-level fallbacks (not dialog text): used only when something failed on our side.


# ---- rendering ----------------------------------------------------------------------------------
def callback_data(owner: str, screen: int, choice: str) -> str:
    data = f"{owner}:{screen}:{choice}"
    if len(data.encode()) > MAX_CALLBACK_DATA_BYTES:
        raise ValueError(f"callback data over {MAX_CALLBACK_DATA_BYTES} bytes for choice {choice!r}")
    return data


def parse_callback_data(data: str | None) -> tuple[str, int, str] | None:
    """(owner user id, screen, choice id), or None for data we never made."""
    owner, screen, choice = ((data or "").split(":", 2) + ["", ""])[:3]
    if not owner.isdigit() or not screen.isdigit() or not choice:
        return None
    return owner, int(screen), choice


def keyboard(owner: str, say: Say) -> InlineKeyboardMarkup | None:
    if not say.choices or say.screen is None:
        return None
    buttons = [InlineKeyboardButton(c.label, callback_data=callback_data(owner, say.screen, c.id))
               for c in say.choices]
    short = all(len(c.label) <= 14 for c in say.choices)
    per_row = (3 if len(buttons) == 3 else 2) if short else 1
    return InlineKeyboardMarkup([buttons[i:i + per_row] for i in range(0, len(buttons), per_row)])


def chunks(text: str, size: int = MAX_TEXT) -> list[str]:
    """Split long text at line breaks where possible; never returns an empty list."""
    parts: list[str] = []
    while len(text) > size:
        cut = text.rfind("\n", 0, size)
        cut = cut if cut > size // 2 else size
        parts.append(text[:cut])
        text = text[cut:].lstrip("\n")
    return [*parts, text]


def user_key(user_id: int | str) -> UserKey:
    return UserKey("telegram", str(user_id))


# ---- the adapter ----------------------------------------------------------------------------------
class TelegramBot:
    def __init__(self, application: Application, runtime: Runtime, transports: tuple[AiohttpRequest, ...] = ()
                 ) -> None:
        self.application, self.bot, self.runtime = application, application.bot, runtime
        self.transports = transports  # closed by serve() even when start-up failed half way
        self._scheduler: asyncio.Task | None = None

    # ---- life cycle -------------------------------------------------------------------------------
    async def publish_commands(self) -> None:
        """The command menu Telegram shows next to the text field."""
        await self.bot.set_my_commands([BotCommand(name, text) for name, text in COMMAND_MENU.items()])

    def start_scheduler(self) -> None:
        if self._scheduler is None:
            # a bare task: Application.create_task tasks are awaited by stop(), and this one never ends
            self._scheduler = asyncio.create_task(self.runtime.run_scheduler(), name="stretchbot-scheduler")

    async def stop_scheduler(self) -> None:
        if self._scheduler is not None:
            self._scheduler.cancel()
            await asyncio.gather(self._scheduler, return_exceptions=True)
            self._scheduler = None

    # ---- input ------------------------------------------------------------------------------------
    async def on_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        head, _, argument = (update.effective_message.text or "").partition(" ")
        name, _, addressee = head[1:].partition("@")
        if addressee and addressee.lower() != (self.bot.username or "").lower():
            return  # "/start@other_bot" in a group is not for us
        await self._handle(update, Command(name.lower(), argument.strip()))

    async def on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._handle(update, Text(update.effective_message.text))

    async def _handle(self, update: Update, event: model.Event) -> None:
        user, chat_id = update.effective_user, update.effective_message.chat_id
        if user is None or user.is_bot:  # channel posts, other bots in a group
            return
        key = user_key(user.id)
        actions = await self.runtime.handle(key, event, {"chat_id": chat_id})
        await self.show(key, chat_id, actions)

    async def on_press(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        parsed = parse_callback_data(query.data)
        if parsed is None:
            await query.answer(self.runtime.ui("stale_button"))
            return
        owner, screen, choice = parsed
        if owner != str(query.from_user.id):
            await query.answer(self.runtime.ui("foreign_button"))  # someone else's session: no change
            return
        message = query.message if isinstance(query.message, Message) else None
        # an inaccessible (very old) message: answer in the owner's private chat
        chat_id = message.chat_id if message else int(owner)
        key = user_key(owner)
        actions = await self.runtime.handle(key, Button(choice, screen), {"chat_id": chat_id})
        notices = [a.text for a in actions if isinstance(a, Notice)]
        await query.answer(" ".join(notices)[:MAX_TOAST] if notices else None)
        rest = [a for a in actions if not isinstance(a, Notice)]
        if rest and message is not None:
            await self._close_keyboard(message, query.data)
        await self.show(key, chat_id, rest)

    async def _close_keyboard(self, message: Message, pressed: str) -> None:
        """Drop the buttons of a message once one was used (no replays), noting the answer chosen."""
        rows = message.reply_markup.inline_keyboard if message.reply_markup else ()
        label = next((b.text for row in rows for b in row if b.callback_data == pressed), None)
        try:
            if label and message.text and len(message.text) + len(label) < MAX_TEXT:
                await message.edit_text(f"{message.text}\n\n✓ {label}")  # no reply_markup: keyboard gone
            else:
                await message.edit_reply_markup(reply_markup=None)
        except BadRequest as error:  # already closed by a double press, or too old to edit
            log.info("could not close keyboard of message %s: %s", message.message_id, error)

    # ---- output -----------------------------------------------------------------------------------
    async def show(self, key: UserKey, chat_id: int, actions: list[Action]) -> None:
        exports = False
        for action in actions:
            if isinstance(action, Say):
                parts = chunks(action.text)
                for part in parts[:-1]:
                    await self.bot.send_message(chat_id, part)
                await self.bot.send_message(chat_id, parts[-1], reply_markup=keyboard(key.user_id, action))
            elif isinstance(action, Notice):  # outside a button press there is no toast to show it in
                await self.bot.send_message(chat_id, action.text)
            elif isinstance(action, ExportData):
                exports = True
        if exports:  # after "here is everything...", and only ever in the person's private chat
            await self._send_export(key, chat_id)

    async def _send_export(self, key: UserKey, chat_id: int) -> None:
        data = json.dumps(await self.runtime.storage.export_user(key), indent=1, default=str, ensure_ascii=False)
        try:
            for part in chunks(data):
                await self.bot.send_message(int(key.user_id), part)
        except Forbidden:
            if chat_id == int(key.user_id):
                raise
            await self.bot.send_message(chat_id, self.runtime.ui("mydata_private_only"))

    async def deliver(self, key: UserKey, address: dict, actions: list[Action]) -> None:
        """The runtime's hook for timer output. Undeliverable: the runtime pauses this user."""
        chat_id = address.get("chat_id")
        if chat_id is None:
            raise Undeliverable("no Telegram chat known for this user")
        try:
            await self.show(key, chat_id, actions)
        except Forbidden as error:  # blocked the bot, or the bot left the group
            raise Undeliverable(f"Telegram: {error}") from error
        except BadRequest as error:
            if "chat not found" in str(error).lower():
                raise Undeliverable(f"Telegram: {error}") from error
            raise

    # ---- errors -----------------------------------------------------------------------------------
    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Log (update id and error only: never message text or the token); apologise if we can."""
        error = context.error
        update_id = update.update_id if isinstance(update, Update) else None
        if isinstance(error, (NetworkError, RetryAfter, Forbidden)) and not isinstance(error, BadRequest):
            log.warning("update %s: Telegram %s: %s", update_id, type(error).__name__, error)
        else:
            log.error("update %s failed", update_id, exc_info=error)
        if isinstance(update, Update) and not isinstance(error, Forbidden):
            await self._apologise(update)

    async def _apologise(self, update: Update) -> None:
        try:
            if update.callback_query is not None:
                with contextlib.suppress(BadRequest):  # it may have been answered already
                    await update.callback_query.answer(self.runtime.ui("error_sorry"))
                    return
            if update.effective_chat is not None:
                await self.bot.send_message(update.effective_chat.id, self.runtime.ui("error_sorry"))
        except TelegramError as error:
            log.info("could not apologise for update %s: %s", update.update_id, type(error).__name__)


# ---- wiring ---------------------------------------------------------------------------------------
def build(config: TelegramConfig, runtime: Runtime, *, limits: Limits = PRODUCTION_LIMITS) -> TelegramBot:
    """The Application and adapter around an existing Runtime (tests pass one with a FakeClock)."""
    quiet_token_loggers()
    transports = (AiohttpRequest(connection_pool_size=8), AiohttpRequest(connection_pool_size=1))
    builder = (ApplicationBuilder().token(config.token).rate_limiter(PoliteRateLimiter(limits))
               .concurrent_updates(PerChatUpdateProcessor())
               # aiohttp, not PTB's default httpx: a third of the CPU per Bot API call (bot/telegram_http.py).
               # 8 connections are plenty at Telegram's 30 messages/s; getUpdates needs one.
               .request(transports[0]).get_updates_request(transports[1]))
    if config.base_url:
        builder = builder.base_url(config.base_url)
    application = builder.build()
    adapter = TelegramBot(application, runtime, transports)
    runtime.deliver = adapter.deliver
    new_messages = filters.UpdateType.MESSAGE  # an edited message must not answer a question again
    application.add_handler(MessageHandler(new_messages & filters.COMMAND, adapter.on_command))
    application.add_handler(MessageHandler(new_messages & filters.TEXT & ~filters.COMMAND, adapter.on_text))
    application.add_handler(CallbackQueryHandler(adapter.on_press))
    application.add_error_handler(adapter.on_error)
    return adapter


async def serve(adapter: TelegramBot, config: TelegramConfig, stop: asyncio.Event) -> None:
    """Run until `stop` is set: long polling, or a webhook server when TELEGRAM_WEBHOOK_URL is set."""
    application = adapter.application
    try:
        try:
            await application.initialize()  # getMe: checks the token
        except InvalidToken:
            raise ConfigError("TELEGRAM_TOKEN: Telegram rejected this token; get the current one from "
                              "@BotFather") from None
        except NetworkError as error:
            raise ConfigError(f"cannot reach the Telegram Bot API ({type(error).__name__}); check the "
                              "network or TELEGRAM_BASE_URL") from None
        await adapter.publish_commands()
        if config.webhook_url:
            # PTB's server answers 403 to a request without the right X-Telegram-Bot-Api-Secret-Token
            await application.updater.start_webhook(
                listen=config.webhook_listen, port=config.webhook_port, url_path=config.webhook_path,
                webhook_url=config.webhook_url, secret_token=config.webhook_secret,
                allowed_updates=ALLOWED_UPDATES)
        else:
            await application.updater.start_polling(timeout=config.poll_timeout, allowed_updates=ALLOWED_UPDATES)
        await application.start()
        adapter.start_scheduler()
        log.info("running on Telegram as @%s (%s)", application.bot.username,
                 "webhook" if config.webhook_url else "long polling")
        await stop.wait()
    finally:
        await adapter.stop_scheduler()
        if application.updater and application.updater.running:
            await application.updater.stop()
        if application.running:
            await application.stop()
        await application.shutdown()
        for transport in adapter.transports:  # shutdown() skips them if initialize() failed (bad token)
            await transport.shutdown()


async def _run(settings, engine, config: TelegramConfig) -> None:  # noqa: ANN001
    from bot.cli import open_runtime  # the one place a production Runtime is put together

    runtime = await open_runtime(settings, engine, "telegram")
    storage = runtime.storage
    try:
        adapter = build(config, runtime)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):  # Windows: Ctrl-C raises KeyboardInterrupt
                loop.add_signal_handler(sig, stop.set)
        await serve(adapter, config, stop)
    finally:
        await storage.close()


def main(settings, engine, environ: Mapping[str, str] | None = None) -> int:  # noqa: ANN001
    """`stretchbot telegram`. Raises ConfigError (printed as one line by the CLI) for bad settings."""
    config = TelegramConfig.from_env(os.environ if environ is None else environ)
    os.environ.setdefault("PTB_TIMEDELTA", "true")  # PTB 22 warns on every RetryAfter without it
    quiet_token_loggers()
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactToken(config.token))
    try:
        asyncio.run(_run(settings, engine, config))
    except KeyboardInterrupt:
        pass
    return 0
