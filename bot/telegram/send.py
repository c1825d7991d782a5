"""Telegram as a delivery transport (bot/delivery.py): an outbox body in, Bot API calls out.

The body is rendered now (bot/outgoing.py), then mapped to Telegram: HTML text in chunks with the inline
keyboard on the last, a stretch's picture as a photo or animation with the text as its caption and the
buttons on it (uploaded once per bot: Telegram's file_id is kept in storage and reused, also after a
restart), what is stored about someone (/mydata) only ever
into their private chat. Errors are sorted for the sender: Retry (not
sent: try again), MaybeSent (the request went out and its answer was lost: never sent twice), Gone (can
never be sent).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
from telegram import Bot, InputFile, Message
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.delivery import Gone, MaybeSent, Retry
from bot.outgoing import Outgoing
from bot.ratelimit import Rate, telegram_rates
from bot.storage import Storage
from bot.telegram.render import MAX_CAPTION, PARSE_MODE, html_chunks, keyboard
from dialogs.views import Attachment, MessageView

log = logging.getLogger("stretchbot.telegram")

PLATFORM = "telegram"
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)  # failed before the request went out


class TelegramTransport:
    platform = PLATFORM

    def __init__(self, bot: Bot, outgoing: Outgoing, storage: Storage, *,
                 rates: Callable[[str], Sequence[Rate]] = telegram_rates, private_only_text: str = "") -> None:
        self.bot, self.outgoing, self.storage = bot, outgoing, storage
        self._rates = rates
        self.private_only_text = private_only_text  # said in a group when the export cannot reach the person
        self._first_upload: dict[str, asyncio.Lock] = {}  # picture digest -> held while it is first uploaded

    def rates(self, chat: str) -> Sequence[Rate]:
        return self._rates(chat)

    async def send(self, chat: str, body: dict[str, Any]) -> None:
        chat_id = int(chat.split(":", 1)[1])
        owner = str(body["user"][1])
        try:
            views = await self.outgoing.views(body)
            if body.get("export") and chat_id != int(owner):
                return await self._send_privately(chat_id, owner, views)
            for view in views:
                await self.show(chat_id, owner, view)
        except RetryAfter as error:
            retry_after = error.retry_after
            seconds = retry_after.total_seconds() if hasattr(retry_after, "total_seconds") else float(retry_after)
            raise Retry(seconds, "Telegram flood control") from error
        except Forbidden as error:  # blocked the bot, or the bot left the group
            raise Gone(f"Telegram: {error}") from error
        except BadRequest as error:
            whole = "chat not found" in str(error).lower()
            raise Gone(f"Telegram: {error}", whole_chat=whole) from error
        except TimedOut as error:
            raise (Retry(None, "Telegram: not sent (timeout before sending)") if isinstance(error.__cause__, NOT_SENT)
                   else MaybeSent("Telegram: timed out after sending")) from error
        except NetworkError as error:
            cause = error.__cause__
            if cause is None or isinstance(cause, NOT_SENT):  # a 5xx answer, or no connection at all
                raise Retry(None, f"Telegram: {error}") from error
            raise MaybeSent(f"Telegram: {type(cause).__name__}") from error

    # ---- one view -----------------------------------------------------------------------------------
    async def show(self, chat_id: int, owner: str, view: MessageView) -> None:
        attachment = view.attachment
        if attachment is not None and attachment.kind == "file":
            return await self._send_file(chat_id, owner, view)
        chunks = html_chunks(view)
        buttons = keyboard(owner, view)
        if attachment is not None and (attachment.path or attachment.data):
            caption = html_chunks(view, limit=MAX_CAPTION)
            if len(caption) == 1:  # the words fit the caption: one message, picture and buttons together
                await self._send_picture(chat_id, view, caption[0], buttons)
                return None
            await self._send_picture(chat_id, view, None, None)
        for chunk in chunks[:-1]:
            await self.bot.send_message(chat_id, chunk, parse_mode=PARSE_MODE)
        await self.bot.send_message(chat_id, chunks[-1], parse_mode=PARSE_MODE, reply_markup=buttons)
        return None

    async def _send_picture(self, chat_id: int, view: MessageView, caption: str | None, buttons: Any) -> None:
        """A photo or animation, uploaded once: later sends reuse Telegram's file_id (kept in storage)."""
        attachment = view.attachment
        assert attachment is not None
        animation = attachment.kind == "animation"
        method = self.bot.send_animation if animation else self.bot.send_photo
        extra = {"caption": caption, "parse_mode": PARSE_MODE if caption else None, "reply_markup": buttons}
        digest = attachment.digest
        known = await self.storage.media_id(PLATFORM, digest) if digest else None
        if known is None and digest:
            # a picture new to this bot, wanted by many chats at once (a wave of cues, new users arriving
            # together): one send uploads it, the others wait for its file_id instead of uploading it too
            async with self._first_upload.setdefault(digest, asyncio.Lock()):
                known = await self.storage.media_id(PLATFORM, digest)
                if known is None:
                    return await self._upload(chat_id, attachment, method, extra)
        if known is not None:
            try:
                await method(chat_id, known, **extra)
                return None
            except BadRequest as error:  # the file_id is no longer valid (another bot, or expired): upload again
                log.info("stored file id for %s refused (%s); uploading again", attachment.name, error)
        return await self._upload(chat_id, attachment, method, extra)

    async def _upload(self, chat_id: int, attachment: Attachment, method: Any, extra: dict[str, Any]) -> None:
        """Send the picture's bytes; remember the file_id Telegram gives it, for every later send."""
        data = attachment.data if attachment.data is not None else Path(attachment.path or "").read_bytes()
        message = await method(chat_id, InputFile(data, filename=attachment.name), **extra)
        file_id = _file_id(message, attachment.kind == "animation")
        if attachment.digest and file_id:
            await self.storage.remember_media(PLATFORM, attachment.digest, file_id)

    async def _send_file(self, chat_id: int, owner: str, view: MessageView) -> None:
        """A file (the /mydata export): only ever into the person's private chat."""
        attachment = view.attachment
        assert attachment is not None and attachment.data is not None
        await self.bot.send_document(int(owner), InputFile(attachment.data, filename=attachment.name),
                                     caption=view.text[:MAX_CAPTION] or None)

    async def _send_privately(self, group_id: int, owner: str, views: list[MessageView]) -> None:
        """What is stored about someone (/mydata asked in a group) goes to their private chat, words and
        file alike; when the bot cannot write to them there, the group is told how to get it."""
        try:
            for view in views:
                await self.show(int(owner), owner, view)
        except Forbidden:  # they never opened a private chat with the bot
            await self.bot.send_message(group_id, self.private_only_text)


def _file_id(message: Message, animation: bool) -> str | None:
    if animation and message.animation is not None:
        return message.animation.file_id
    if message.photo:
        return message.photo[-1].file_id  # the largest size
    return None

