"""Telegram Bot API wire format for the fake (tests/telegram_fake.py): how PTB encodes parameters, the
error JSON, the limits Telegram enforces on text and buttons, and HTML parse mode as Telegram reads it
(tags become entities with UTF-16 offsets; an unknown tag or an unescaped "<" is a 400)."""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass
from typing import Any

from aiohttp import web

# Form values arrive raw for str parameters and as JSON text otherwise; these are always strings, so
# JSON-decoding them ("42", "true") would change their type.
STRING_PARAMS = frozenset(
    {
        "text",
        "caption",
        "callback_query_id",
        "inline_message_id",
        "parse_mode",
        "url",
        "secret_token",
        "description",
        "title",
        "language_code",
        "action",
        "query",
    }
)
MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
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
UserLike = int | dict  # a user id, or a full User dict


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


@dataclass(frozen=True)
class Upload:
    """A file sent as multipart/form-data (sendDocument's `document`)."""

    filename: str
    content: bytes
    content_type: str


async def read_params(request: web.Request) -> dict:
    params: dict[str, Any] = {key: decode_form_value(key, value) for key, value in request.query.items()}
    if request.content_type == "application/json" and request.can_read_body:
        body = await request.json()
        params.update(body if isinstance(body, dict) else {})
    elif request.can_read_body:
        for key, value in (await request.post()).items():
            if isinstance(value, web.FileField):
                params[key] = Upload(value.filename, value.file.read(), value.content_type)
            else:
                params[key] = decode_form_value(key, value)
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


def visible_text(params: dict, field: str = "text", limit: int = MAX_TEXT_LENGTH) -> tuple[str, list[dict]]:
    """The text as Telegram stores it, and its entities: HTML parsed (parse_mode=HTML) or `entities` as
    sent; within Telegram's limits (which count the text without markup)."""
    text = str(params.get(field, ""))
    entities_key = "entities" if field == "text" else "caption_entities"
    entities = params.get(entities_key) if isinstance(params.get(entities_key), list) else []
    if (params.get("parse_mode") or "").upper() == "HTML":
        text, entities = parse_html(text)
    if field == "text" and not text.strip():
        raise ApiError(400, "Bad Request: message text is empty")
    if utf16_len(text) > limit:
        raise ApiError(
            400, "Bad Request: message is too long" if field == "text" else "Bad Request: message caption is too long"
        )
    return text, entities


# ---- HTML parse mode ---------------------------------------------------------------------------------
# https://core.telegram.org/bots/api#html-style: these tags only; named entities only &lt; &gt; &amp; &quot;
TAG_ENTITIES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "code": "code",
    "pre": "pre",
    "a": "text_link",
    "tg-spoiler": "spoiler",
    "blockquote": "blockquote",
}
NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_TOKEN = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)((?:\s+[^>]*)?)>|<|&(#[0-9]+|#x[0-9A-Fa-f]+|[A-Za-z]+);")
_HREF = re.compile(r"""\bhref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""")


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def parse_html(markup: str) -> tuple[str, list[dict]]:
    """Telegram's reading of an HTML message: (visible text, entities). A tag Telegram does not know, a
    stray "<" (text that was not escaped), an unknown named entity or a tag left open is a 400, as there."""

    def refuse(what: str, at: int) -> ApiError:
        return ApiError(400, f"Bad Request: can't parse entities: {what} at byte offset {len(markup[:at].encode())}")

    text: list[str] = []
    entities: list[dict] = []
    open_tags: list[tuple[str, int, dict]] = []  # (tag, UTF-16 offset where it started, extra fields)
    offset, position = 0, 0
    for match in _TOKEN.finditer(markup):
        plain = markup[position : match.start()]
        text.append(plain)
        offset += utf16_len(plain)
        position = match.end()
        closing, attributes, entity = match.group(1), match.group(3), match.group(4)
        tag = (match.group(2) or "").lower()
        if entity is not None:
            if entity.startswith("#"):
                value = chr(int(entity[2:], 16) if entity[1:2].lower() == "x" else int(entity[1:]))
            elif entity in NAMED_ENTITIES:
                value = NAMED_ENTITIES[entity]
            else:
                raise refuse(f'Unsupported HTML entity "&{entity};"', match.start())
            text.append(value)
            offset += utf16_len(value)
        elif not tag:
            raise refuse("Unexpected character '<'", match.start())
        elif not closing:
            if tag not in TAG_ENTITIES and not (tag == "span" and "tg-spoiler" in attributes):
                raise refuse(f'Unsupported start tag "{tag}"', match.start())
            extra: dict[str, Any] = {}
            if tag == "a":
                href = _HREF.search(attributes)
                extra["url"] = next((g for g in href.groups() if g is not None), "") if href else ""
            open_tags.append((tag, offset, extra))
        else:
            if not open_tags or open_tags[-1][0] != tag:
                raise refuse(f'Unmatched end tag "{tag}"', match.start())
            _, start, extra = open_tags.pop()
            if offset > start:
                kind = "spoiler" if tag == "span" else TAG_ENTITIES[tag]
                entities.append({"type": kind, "offset": start, "length": offset - start, **extra})
    if open_tags:
        raise refuse(f'Can\'t find end tag corresponding to start tag "{open_tags[-1][0]}"', len(markup))
    text.append(markup[position:])
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(text), entities


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
