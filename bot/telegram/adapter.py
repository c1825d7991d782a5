"""Telegram: updates become engine events, views become Bot API calls. No dialog logic here.

Every person has their own state (UserKey("telegram", user id)), also in groups; the chat a message
came from is the delivery address for timer output (hold cues, check-ins). Views are rendered once in
shared code (dialogs.render); this module only maps them to Telegram (bot/telegram/render.py).
Run with `stretchbot telegram` (see README).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from html import escape
from typing import Any

from telegram import BotCommand, Message, Update
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.ext import Application, ApplicationBuilder, CallbackQueryHandler, ContextTypes, MessageHandler, filters
from telegram.request import HTTPXRequest

from bot import ConfigError
from bot.outgoing import Outgoing
from bot.ratelimit import Rate, telegram_rates
from bot.runtime import Runtime
from bot.storage import UserKey
from bot.telegram.config import PerChatUpdateProcessor, TelegramConfig
from bot.telegram.polling import PollingRequest, polling_error
from bot.telegram.render import PARSE_MODE, parse_callback_data
from bot.telegram.send import PLATFORM, TelegramTransport
from dialogs.events import Button, Command, Event, Text

log = logging.getLogger("stretchbot.telegram")

MAX_TOAST = 200
ALLOWED_UPDATES = ["message", "callback_query"]  # edits, reactions, inline queries: not for us


def user_key(user_id: int | str) -> UserKey:
    return UserKey("telegram", str(user_id))


def input_id(update: Update) -> tuple[str, int]:
    """The runtime's input number for an update: update_ids grow, and the updates of a chat are handled in
    order (PerChatUpdateProcessor, by the same chat), so one delivered again after a crash is recognised."""
    chat = update.effective_chat
    return str(chat.id if chat is not None else None), update.update_id


class TelegramBot:
    """The Telegram side of stretchbot: updates in (to a ready Runtime), outbox bodies out (its transport).
    `commands`: (name, description) pairs from content."""

    platform = PLATFORM

    def __init__(self, application: Application, runtime: Runtime, commands: list[tuple[str, str]],
                 transport: TelegramTransport, requests: tuple[HTTPXRequest, ...] = ()) -> None:
        self.application, self.bot, self.runtime = application, application.bot, runtime
        self.commands = commands
        self.transport = transport  # the sender's way out (bot/telegram/send.py)
        self.requests = requests  # the Bot API connection pools, closed by serve() whatever happens

    # ---- life cycle -------------------------------------------------------------------------------
    async def publish_commands(self) -> None:
        """The command menu Telegram shows next to the text field (names and descriptions from content)."""
        await self.bot.set_my_commands([BotCommand(name, text) for name, text in self.commands])

    # ---- input ------------------------------------------------------------------------------------
    async def on_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None:
            return
        head, _, argument = (message.text or "").partition(" ")
        name, _, addressee = head[1:].partition("@")
        if addressee and addressee.lower() != (self.bot.username or "").lower():
            return  # "/start@other_bot" in a group is not for us
        await self._handle(update, Command(name.lower(), argument.strip()))

    async def on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is not None and message.text:
            await self._handle(update, Text(message.text))

    async def _handle(self, update: Update, event: Event) -> None:
        user, message = update.effective_user, update.effective_message
        if user is None or user.is_bot or message is None:  # channel posts, other bots in a group
            return
        await self.runtime.handle(user_key(user.id), event, {"chat_id": message.chat_id},
                                  input_id=input_id(update))

    async def on_press(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None:
            return
        parsed = parse_callback_data(query.data)
        if parsed is None:
            await query.answer(self.runtime.text("stale_button"))
            return
        owner, screen, choice = parsed
        if owner != str(query.from_user.id):
            await query.answer(self.runtime.text("foreign_button"))  # someone else's session: no change
            return
        message = query.message if isinstance(query.message, Message) else None
        # an inaccessible (very old) message: answer in the owner's private chat
        chat_id = message.chat_id if message else int(owner)
        reply = await self.runtime.handle(user_key(owner), Button(choice, screen), {"chat_id": chat_id},
                                          input_id=input_id(update))
        notices = [view.text for view in reply.now if view.kind == "notice"]
        try:
            await query.answer(" ".join(notices)[:MAX_TOAST] if notices else None)
        except BadRequest as error:
            # too old (handled after a restart) or answered already (a press delivered again): the press
            # itself was handled, only its toast is lost, so this is no error to apologise for
            log.info("could not answer button press of update %s: %s", update.update_id, error)
        if reply.queued and message is not None:  # the press was taken: the next screen is on its way
            await self._close_keyboard(message, query.data or "")

    async def _close_keyboard(self, message: Message, pressed: str) -> None:
        """Drop the buttons of a message once one was used (no replays), noting the answer chosen."""
        rows = message.reply_markup.inline_keyboard if message.reply_markup else ()
        label = next((b.text for row in rows for b in row if b.callback_data == pressed), None)
        try:
            if label and message.text and len(message.text) + len(label) < 4000:
                await message.edit_text(f"{message.text_html}\n\n✓ {escape(label, quote=False)}", parse_mode=PARSE_MODE)
            else:
                await message.edit_reply_markup(reply_markup=None)
        except BadRequest as error:  # already closed by a double press, or too old to edit
            log.info("could not close keyboard of message %s: %s", message.message_id, error)

    # ---- output: the sender's transport ----------------------------------------------------------
    def rates(self, chat: str) -> Sequence[Rate]:
        return self.transport.rates(chat)

    async def send(self, chat: str, body: dict[str, Any]) -> None:
        await self.transport.send(chat, body)

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
                    await update.callback_query.answer(self.runtime.text("error_sorry"))
                    return
            if update.effective_chat is not None:
                await self.bot.send_message(update.effective_chat.id, self.runtime.text("error_sorry"))
        except TelegramError as error:
            log.info("could not apologise for update %s: %s", update.update_id, type(error).__name__)


# ---- wiring ---------------------------------------------------------------------------------------
def build(config: TelegramConfig, runtime: Runtime, commands: list[tuple[str, str]], outgoing: Outgoing, *,
          rates: Callable[[str], Sequence[Rate]] = telegram_rates) -> TelegramBot:
    """The Application and adapter around an existing Runtime (tests pass one with a FakeClock). Sending
    is the sender's (bot/delivery.py), with `rates` as the platform's limits; PTB's own limiter and
    retries are not used, so nothing is sent twice behind the sender's back."""
    # python-telegram-bot's own httpx transport: proxies (HTTPS_PROXY, ALL_PROXY, SOCKS) from the
    # environment as PTB users expect; 8 connections are plenty at Telegram's ~30 messages/s
    request = HTTPXRequest(connection_pool_size=8, connect_timeout=5, read_timeout=10, write_timeout=10,
                           pool_timeout=3)
    polling = PollingRequest(connection_pool_size=1, connect_timeout=5, read_timeout=config.poll_timeout + 10)
    builder = (ApplicationBuilder().token(config.token).concurrent_updates(PerChatUpdateProcessor())
               .request(request).get_updates_request(polling))
    if config.base_url:
        builder = builder.base_url(config.base_url)
    application = builder.build()
    polling.handled = lambda: handled(application)
    transport = TelegramTransport(application.bot, outgoing, runtime.storage, rates=rates,
                                  private_only_text=runtime.text("mydata_private_only"))
    adapter = TelegramBot(application, runtime, commands, transport, requests=(request, polling))
    new_messages = filters.UpdateType.MESSAGE  # an edited message must not answer a question again
    application.add_handler(MessageHandler(new_messages & filters.COMMAND, adapter.on_command))
    application.add_handler(MessageHandler(new_messages & filters.TEXT & ~filters.COMMAND, adapter.on_text))
    application.add_handler(CallbackQueryHandler(adapter.on_press))
    application.add_error_handler(adapter.on_error)
    return adapter


async def handled(application: Application) -> None:
    """Until every update fetched so far has been handled (its step committed). serve() starts the application
    before the poller's first request; a stopped one handles nothing more, so nothing is waited for then."""
    if application.running:
        await application.update_queue.join()


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
        updater = application.updater
        assert updater is not None
        if config.webhook_url:
            # PTB's server answers 403 to a request without the right X-Telegram-Bot-Api-Secret-Token
            await updater.start_webhook(
                listen=config.webhook_listen, port=config.webhook_port, url_path=config.webhook_path,
                webhook_url=config.webhook_url, secret_token=config.webhook_secret,
                allowed_updates=ALLOWED_UPDATES)
        else:
            await updater.start_polling(timeout=int(config.poll_timeout), allowed_updates=ALLOWED_UPDATES,
                                        error_callback=polling_error)
        # at once: start_polling only made the poller's task, which sends its first request after this
        await application.start()
        log.info("running on Telegram as @%s (%s)", application.bot.username,
                 "webhook" if config.webhook_url else "long polling")
        await stop.wait()
    finally:
        if application.updater and application.updater.running:
            await application.updater.stop()
        if application.running:
            await application.stop()
        await application.shutdown()
        for request in adapter.requests:  # shutdown() skips them if initialize() failed (a bad token)
            await request.shutdown()
