"""Telegram Bot API wire format for the fake (tests/telegram_fake.py): how PTB encodes parameters, the
error JSON, and the limits Telegram enforces on text and buttons."""

from __future__ import annotations

import html
import itertools
import json
import re
from typing import Any

from aiohttp import web

# Form values arrive raw for str parameters and as JSON text otherwise; these are always strings, so
# JSON-decoding them ("42", "true") would change their type.
STRING_PARAMS = frozenset({"text", "caption", "callback_query_id", "inline_message_id", "parse_mode", "url",
                           "secret_token", "description", "title", "language_code", "action", "query"})
MAX_TEXT_LENGTH = 4096
MAX_CALLBACK_DATA_BYTES = 64
DESCRIPTIONS = {
    400: "Bad Request: chat not found",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
    500: "Internal Server Error",
    502: "Bad Gateway",
}
UserLike = int | dict          # a user id, or a full User dict


class ApiError(Exception):
    """Raised by a method handler or an injected fault; becomes Telegram's error JSON."""

    def __init__(self, status: int, description: str | None = None, *, retry_after: int | None = None):
        if status == 429 and description is None:
            description = f"Too Many Requests: retry after {retry_after}"
        super().__init__(description or DESCRIPTIONS.get(status, "Internal Server Error"))
        self.status, self.description, self.retry_after = status, str(self), retry_after

    def body(self) -> dict:
        body: dict[str, Any] = {"ok": False, "error_code": self.status, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


async def read_params(request: web.Request) -> dict:
    params: dict[str, Any] = {key: decode_form_value(key, value) for key, value in request.query.items()}
    if request.content_type == "application/json" and request.can_read_body:
        body = await request.json()
        params.update(body if isinstance(body, dict) else {})
    elif request.can_read_body:
        for key, value in (await request.post()).items():
            params[key] = value.file.read() if isinstance(value, web.FileField) else decode_form_value(key, value)
    if isinstance(params.get("chat_id"), str) and params["chat_id"].lstrip("-").isdigit():
        params["chat_id"] = int(params["chat_id"])
    return params


def decode_form_value(key: str, value: str) -> Any:
    if key in STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value  # e.g. chat_id="@channel"


def visible_text(params: dict) -> str:
    """The text as Telegram stores it (HTML tags stripped), within Telegram's limits."""
    text = str(params.get("text", ""))
    if (params.get("parse_mode") or "").upper() == "HTML":
        text = html.unescape(re.sub(r"<[^>]*>", "", text))
    if not text.strip():
        raise ApiError(400, "Bad Request: message text is empty")
    if len(text) > MAX_TEXT_LENGTH:
        raise ApiError(400, "Bad Request: message is too long")
    return text


def inline_markup(params: dict) -> dict | None:
    """The inline keyboard a Message shows (Telegram does not echo reply keyboards back)."""
    markup = params.get("reply_markup")
    if not isinstance(markup, dict) or not markup.get("inline_keyboard"):
        return None
    for button in itertools.chain.from_iterable(markup["inline_keyboard"]):
        if len(str(button.get("callback_data", "")).encode()) > MAX_CALLBACK_DATA_BYTES:
            raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
    return markup


def as_user(user: UserLike) -> dict:
    if isinstance(user, dict):
        return user
    return {"id": user, "is_bot": False, "first_name": f"User{user}", "language_code": "en"}


def new_chat(chat_id: Any) -> dict:
    if isinstance(chat_id, int) and chat_id > 0:
        return {"id": chat_id, "type": "private", "first_name": f"User{chat_id}"}
    kind = "supergroup" if str(chat_id).startswith("-100") else "group"
    return {"id": chat_id, "type": kind, "title": f"Group {chat_id}"}
