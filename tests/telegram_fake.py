"""A small, faithful Telegram Bot API server on 127.0.0.1 for driving the real python-telegram-bot.

Only the internet is faked: PTB talks real HTTP to it. Telegram's rules that bots trip over are kept
(updates stay until confirmed by `offset`; an edit without `reply_markup` removes the inline keyboard;
"message is not modified"; a callback query is answered once; 4096 characters; 64-byte callback_data;
HTML parse mode read into entities, and unescaped text refused), so adapter bugs fail here the way they
would in production. Documents (sendDocument) are kept with their bytes in `documents`. Usage: see
tests/test_telegram_fake.py; pytest helpers (the `bot_api` fixture, `running()`) are in tests/telegram_harness.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import re
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from telegram_inspect import Call, Inspection
from telegram_wire import (
    MAX_CAPTION_LENGTH,
    ApiError,
    Upload,
    as_user,
    inline_markup,
    new_chat,
    read_params,
    visible_text,
)

BOT_TOKEN_PATTERN = re.compile(r"^\d+:[A-Za-z0-9_-]+$")
MAX_LONG_POLL_SECONDS = 50.0
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
QUERY_INVALID = "Bad Request: query is too old and response timeout expired or query ID is invalid"

UserLike = int | dict  # a user id, or a full User dict
ChatLike = int | dict | None  # None = the user's private chat
MessageLike = int | dict  # a message_id, or a Message dict (its message_id is used)


@dataclass
class _Fault:
    method: str
    error: ApiError
    remaining: int | None  # None = until clear_failures()
    chat_id: int | str | None


class FakeBotApi(Inspection):
    """The server plus what a test needs to feed it updates and to inspect what the bot did."""

    def __init__(self, *, bot_username: str = "stretch_test_bot", bot_first_name: str = "Stretch Test Bot"):
        self.bot_username, self.bot_first_name = bot_username, bot_first_name
        self.calls: list[Call] = []
        self.messages: dict[tuple[int | str, int], dict] = {}  # (chat_id, message_id) -> current Message
        self.chats: dict[int | str, dict] = {}
        self.commands: list[dict] = []  # from setMyCommands
        self.documents: dict[tuple[int | str, int], Upload] = {}  # (chat_id, message_id) -> the file sent
        self.media: dict[str, Upload] = {}  # file_id -> a photo or animation uploaded (then reusable by its id)
        self.webhook: dict | None = None  # from setWebhook: {"url", "secret_token"}
        self.hosts: set[str] = set()  # the Host of each request (the API's name when it came through a proxy)
        self.waiting_pollers = 0  # getUpdates requests long-polling right now
        self.port = 0
        self.updates: list[dict] = []  # queued Updates, kept until a getUpdates offset confirms them
        self._faults: list[_Fault] = []
        self.unanswered_queries: set[str] = set()  # callback query ids pressed but not answered yet
        self._update_ids, self._query_ids = itertools.count(1), itertools.count(1)
        self._message_ids: dict[int | str, itertools.count] = {}
        self._calls_event, self._updates_event, self._closing = asyncio.Event(), asyncio.Event(), asyncio.Event()
        self._runner: web.AppRunner | None = None

    async def __aenter__(self) -> FakeBotApi:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        # handler_cancellation: a long poll the client abandoned (PTB's stop) must not linger.
        self._runner = web.AppRunner(app, shutdown_timeout=0.5, handler_cancellation=True, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.port = self._runner.addresses[0][1]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._closing.set()
        self._updates_event.set()  # release long polls at once
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def connections(self) -> int:
        """Client connections open now. A killed bot's go once the kernel's close is read: every request
        it made has been answered (recorded in `calls`) or cut off (and so never took effect)."""
        server = self._runner.server if self._runner is not None else None
        return len(server.connections) if server is not None else 0

    @property
    def base_url(self) -> str:
        """For ApplicationBuilder().base_url(...): PTB appends the token and method."""
        return f"http://127.0.0.1:{self.port}/bot"

    # ----- feeding updates (each returns the queued Update dict) -----------------------------------
    def send_text(self, user: UserLike, chat: ChatLike, text: str) -> dict:
        return self._push({"message": self._user_message(user, chat, text)})

    def send_command(self, user: UserLike, chat: ChatLike, text: str) -> dict:
        """A command such as "/start" or "/start payload", with its bot_command entity."""
        if not text.startswith("/"):
            raise ValueError(f"a command starts with '/': {text!r}")
        message = self._user_message(user, chat, text)
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split(maxsplit=1)[0])}]
        return self._push({"message": message})

    def press(
        self,
        user: UserLike,
        chat: ChatLike,
        message: MessageLike,
        callback_data: str | None = None,
        *,
        label: str | None = None,
        check: bool = True,
    ) -> dict:
        """A press of the button with `callback_data` (or visible text `label`) on a stored message. With
        `check` it must be on the message's CURRENT keyboard: nobody can press a removed button."""
        user_dict = as_user(user)
        chat_dict = self._chat(chat, user_dict)
        current = self.message(chat_dict["id"], message if isinstance(message, int) else message["message_id"])
        if label is not None:
            rows = self.keyboard(current) or []
            labelled = [
                b["callback_data"] for b in itertools.chain(*rows) if b.get("text") == label and "callback_data" in b
            ]
            if not labelled:
                raise ValueError(f"no button labelled {label!r} on message {current['message_id']}")
            callback_data = labelled[0]
        if check and callback_data not in self.buttons(current):
            raise ValueError(
                f"no button {callback_data!r} on message {current['message_id']}; buttons now: {self.buttons(current)}"
            )
        query_id = str(next(self._query_ids))
        self.unanswered_queries.add(query_id)
        return self._push(
            {
                "callback_query": {
                    "id": query_id,
                    "from": user_dict,
                    "chat_instance": f"ci{chat_dict['id']}",
                    "message": copy.deepcopy(current),
                    "data": callback_data,
                }
            }
        )

    # ----- fault injection -------------------------------------------------------------------------
    def fail_next(
        self,
        method: str,
        status: int = 429,
        *,
        retry_after: int = 1,
        times: int | None = 1,
        description: str | None = None,
        chat_id: int | str | None = None,
    ) -> None:
        """Answer the next `times` calls of `method` (None = all until clear_failures()), optionally only
        those for `chat_id`, with Telegram's error JSON and no state change. PTB raises RetryAfter for
        429 (parameters.retry_after), Forbidden for 403, BadRequest for 400, NetworkError for 5xx."""
        error = ApiError(status, description, retry_after=retry_after if status == 429 else None)
        self._faults.append(_Fault(method, error, times, chat_id))

    def clear_failures(self) -> None:
        self._faults.clear()

    # ----- HTTP ------------------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.Response:
        token, sent_method = request.match_info["token"], request.match_info["method"]
        self.hosts.add(request.host.split(":")[0])
        method = _METHODS.get(sent_method.lower(), sent_method)  # Telegram: method names ignore case
        params = await read_params(request)
        try:
            if not BOT_TOKEN_PATTERN.match(token) or sent_method.lower() not in _METHODS:
                raise ApiError(404)
            self._raise_injected_fault(method, params)
            if method == "getUpdates":
                result = await self._get_updates(params)
            else:
                result = getattr(self, f"_api_{method}")(params, token)
        except ApiError as error:
            self._record(Call(method, params, token, error.status))
            return web.json_response(error.body(), status=error.status)
        self._record(Call(method, params, token, result=copy.deepcopy(result)))
        return web.json_response({"ok": True, "result": result})

    def _raise_injected_fault(self, method: str, params: dict) -> None:
        for fault in self._faults:
            if fault.method == method and fault.chat_id in (None, params.get("chat_id")):
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                raise fault.error

    def _record(self, call: Call) -> None:
        self.calls.append(call)
        self._calls_event.set()
        self._calls_event = asyncio.Event()

    # ----- Bot API methods (params decoded; raise ApiError for Telegram's errors) -------------------
    def _api_getMe(self, params: dict, token: str) -> dict:
        return {
            **self._botas_user(token),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    async def _get_updates(self, params: dict) -> list[dict]:
        offset = int(params.get("offset") or 0)
        if offset > 0:  # confirms every earlier update
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
        elif offset < 0:  # Telegram: keep only the last -offset updates, forget the rest
            self.updates = self.updates[offset:]
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        timeout = min(max(float(params.get("timeout") or 0), 0.0), MAX_LONG_POLL_SECONDS)
        deadline = asyncio.get_running_loop().time() + timeout
        self.waiting_pollers += 1
        try:
            while True:
                event = self._updates_event
                remaining = deadline - asyncio.get_running_loop().time()
                if self.updates or remaining <= 0 or self._closing.is_set():
                    return copy.deepcopy(self.updates[:limit])
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), remaining)
        finally:
            self.waiting_pollers -= 1

    _api_getUpdates = _get_updates  # listed in _METHODS; awaited separately in _handle

    def _api_sendMessage(self, params: dict, token: str) -> dict:
        chat, markup = self._known_chat(params.get("chat_id")), inline_markup(params)
        text, entities = visible_text(params)
        message = self._new_bot_message(chat, token, text=text)
        if entities:
            message["entities"] = entities
        if markup:
            message["reply_markup"] = markup
        return message

    def _api_sendDocument(self, params: dict, token: str) -> dict:
        chat, upload = self._known_chat(params.get("chat_id")), params.get("document")
        if not isinstance(upload, Upload):  # a file_id or URL: not something stretchbot sends
            raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        caption, entities = visible_text(params, "caption", MAX_CAPTION_LENGTH)
        message = self._new_bot_message(chat, token)
        message["document"] = {
            "file_id": f"doc{len(self.documents) + 1}",
            "file_unique_id": f"u{len(self.documents)}",
            "file_name": upload.filename,
            "mime_type": upload.content_type,
            "file_size": len(upload.content),
        }
        if caption:
            message["caption"] = caption
        if entities:
            message["caption_entities"] = entities
        self.documents[(chat["id"], message["message_id"])] = upload
        return message

    def _api_sendPhoto(self, params: dict, token: str) -> dict:
        return self._send_media("photo", params, token)

    def _api_sendAnimation(self, params: dict, token: str) -> dict:
        return self._send_media("animation", params, token)

    def _send_media(self, kind: str, params: dict, token: str) -> dict:
        """A photo or animation: uploaded (a new file_id), or sent again by a file_id this bot got before."""
        chat, media = self._known_chat(params.get("chat_id")), params.get(kind)
        if isinstance(media, Upload):
            file_id = f"{kind}-{len(self.media) + 1}"
            self.media[file_id] = media
        elif isinstance(media, str) and media in self.media:
            file_id = media
        else:
            raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        caption, entities = visible_text(params, "caption", MAX_CAPTION_LENGTH)
        message = self._new_bot_message(chat, token)
        size = {"file_id": file_id, "file_unique_id": f"u-{file_id}", "width": 640, "height": 480}
        message[kind] = [size] if kind == "photo" else {**size, "duration": 2}
        if caption:
            message["caption"] = caption
        if entities:
            message["caption_entities"] = entities
        if markup := inline_markup(params):
            message["reply_markup"] = markup
        return message

    def _api_editMessageText(self, params: dict, token: str) -> dict:
        message = self._editable(params, token)
        text, entities = visible_text(params)
        return self._store_edit(message, text, entities, inline_markup(params))

    def _api_editMessageReplyMarkup(self, params: dict, token: str) -> dict:
        message, markup = self._editable(params, token), inline_markup(params)
        if markup == message.get("reply_markup"):
            raise ApiError(400, NOT_MODIFIED)
        if markup:  # only the keyboard changes: a photo keeps its caption, a message its text
            message["reply_markup"] = markup
        else:
            message.pop("reply_markup", None)
        message["edit_date"] = int(time.time())
        return message

    def _api_answerCallbackQuery(self, params: dict, token: str) -> bool:
        query_id = params.get("callback_query_id")
        if query_id not in self.unanswered_queries:  # unknown, or answered already
            raise ApiError(400, QUERY_INVALID)
        self.unanswered_queries.discard(query_id)
        return True

    def _api_setMyCommands(self, params: dict, token: str) -> bool:
        self.commands = list(params.get("commands") or [])
        return True

    def _api_setWebhook(self, params: dict, token: str) -> bool:
        self.webhook = {"url": params.get("url"), "secret_token": params.get("secret_token")}
        return True

    def _api_deleteWebhook(self, params: dict, token: str) -> bool:
        self.webhook = None
        if params.get("drop_pending_updates"):
            self.updates.clear()
        return True

    def _api_close(self, params: dict, token: str) -> bool:
        return True

    _api_logOut = _api_close

    # ----- internals -------------------------------------------------------------------------------
    def _push(self, body: dict) -> dict:
        update = {"update_id": next(self._update_ids), **body}
        self.updates.append(update)
        self._updates_event.set()
        self._updates_event = asyncio.Event()
        return update

    def _user_message(self, user: UserLike, chat: ChatLike, text: str) -> dict:
        user_dict = as_user(user)
        chat_dict = self._chat(chat, user_dict)
        message = {
            "message_id": self._next_message_id(chat_dict["id"]),
            "date": int(time.time()),
            "chat": chat_dict,
            "from": user_dict,
            "text": text,
        }
        self.messages[(chat_dict["id"], message["message_id"])] = message
        return copy.deepcopy(message)

    def _chat(self, chat: ChatLike, user: dict) -> dict:
        if isinstance(chat, dict):
            self.chats[chat["id"]] = chat
            return chat
        chat_id = user["id"] if chat is None else chat
        if chat_id == user["id"]:
            return self.chats.setdefault(chat_id, {"id": chat_id, "type": "private", "first_name": user["first_name"]})
        return self.chats.setdefault(chat_id, new_chat(chat_id))

    def _known_chat(self, chat_id: Any) -> dict:
        if chat_id in (None, ""):
            raise ApiError(400, "Bad Request: chat_id is empty")
        # Lenient on purpose: a chat never seen is created, so direct bot calls in tests just work.
        return self.chats.setdefault(chat_id, new_chat(chat_id))

    def _next_message_id(self, chat_id: int | str) -> int:
        # One counter per chat for user and bot messages alike, as in Telegram.
        return next(self._message_ids.setdefault(chat_id, itertools.count(1)))

    def _editable(self, params: dict, token: str) -> dict:
        message = self.messages.get((params.get("chat_id"), params.get("message_id")))
        if message is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        if message["from"]["id"] != self._botas_user(token)["id"]:
            raise ApiError(400, "Bad Request: message can't be edited")
        return message

    def _store_edit(self, message: dict, text: str | None, entities: list[dict], markup: dict | None) -> dict:
        # Telegram drops the inline keyboard when an edit does not repeat it.
        if (
            text == message.get("text")
            and entities == message.get("entities", [])
            and markup == message.get("reply_markup")
        ):
            raise ApiError(400, NOT_MODIFIED)
        message["text"] = text
        for key, value in (("entities", entities), ("reply_markup", markup)):
            if value:
                message[key] = value
            else:
                message.pop(key, None)
        message["edit_date"] = int(time.time())
        return message

    def _new_bot_message(self, chat: dict, token: str, **fields: Any) -> dict:
        message = {
            "message_id": self._next_message_id(chat["id"]),
            "date": int(time.time()),
            "chat": chat,
            "from": self._botas_user(token),
            **fields,
        }
        self.messages[(chat["id"], message["message_id"])] = message
        return message

    def _botas_user(self, token: str) -> dict:
        return {
            "id": int(token.split(":", 1)[0]),
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }


_METHODS = {name[len("_api_") :].lower(): name[len("_api_") :] for name in vars(FakeBotApi) if name.startswith("_api_")}
__all__ = ["Call", "FakeBotApi"]
