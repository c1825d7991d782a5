"""What a test reads back from the Telegram fake (tests/telegram_fake.py): the calls the bot made, the
messages as Telegram stores them (after edits), keyboards, toasts, and waiting for a call to arrive."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Call:
    """One request the bot made; `status` is what the fake answered (200 unless it failed), `result` what
    it returned then (for a sent message: the Message as Telegram stored it, text without markup)."""

    method: str
    params: dict
    token: str
    status: int = 200
    result: Any = None


SENDS = ("sendMessage", "sendDocument", "sendPhoto", "sendAnimation")  # what puts a new message in a chat


class Inspection:
    """Read-only helpers over FakeBotApi's `calls` and `messages` (mixed into FakeBotApi)."""

    calls: list[Call]
    messages: dict[tuple[int | str, int], dict]
    _calls_event: asyncio.Event

    def calls_to(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method == method]

    def sent_texts(self, chat_id: int | str | None = None) -> list[str]:
        """`text` as sent (markup included) of every successful sendMessage, optionally to one chat."""
        return [
            call.params.get("text", "")
            for call in self.calls_to("sendMessage")
            if call.status == 200 and chat_id in (None, call.params.get("chat_id"))
        ]

    def shown_texts(self, chat_id: int | str | None = None, after: int = 0) -> list[str]:
        """What the user saw of every message sent (sendMessage text, a document, photo or animation caption), markup
        parsed away, as it was when sent; optionally to one chat, or only calls from index `after`."""
        return [
            call.result.get("text", call.result.get("caption", ""))
            for call in self.calls[after:]
            if call.method in SENDS
            and call.status == 200
            and chat_id in (None, call.params.get("chat_id"))
        ]

    def last_sent(self, chat_id: int | str | None = None) -> dict:
        """Current state (after edits) of the newest message the bot sent, optionally to one chat."""
        sent = [m for (cid, _), m in self.messages.items() if m["from"]["is_bot"] and chat_id in (None, cid)]
        if not sent:
            raise LookupError(f"the bot sent nothing to chat {chat_id}")
        return sent[-1]

    def message(self, chat_id: int | str, message_id: int) -> dict:
        return self.messages[(chat_id, message_id)]  # KeyError: no such message in that chat

    def keyboard(self, message: dict) -> list[list[dict]] | None:
        """The message's CURRENT inline keyboard rows (looked up by chat and id), None once removed."""
        current = self.messages.get((message["chat"]["id"], message["message_id"]), message)
        return (current.get("reply_markup") or {}).get("inline_keyboard")

    def buttons(self, message: dict) -> list[str]:
        """callback_data of every button currently on the message."""
        rows = self.keyboard(message) or []
        return [b["callback_data"] for b in itertools.chain.from_iterable(rows) if "callback_data" in b]

    def toasts(self) -> list[str | None]:
        """`text` of every successful answerCallbackQuery (None when answered silently)."""
        return [c.params.get("text") for c in self.calls_to("answerCallbackQuery") if c.status == 200]

    def mark(self) -> int:
        """A position in `calls` for wait_for(after=...): only calls answered later count."""
        return len(self.calls)

    async def wait_for(
        self, match: str | Callable[[Call], bool], *, timeout: float = 2.0, after: int = 0, count: int = 1
    ) -> Call:
        """The `count`-th call at index >= `after` matching a method name or predicate, returned once it
        has been answered (failed calls count too: check .status). TimeoutError lists what did arrive."""
        predicate = (lambda call: call.method == match) if isinstance(match, str) else match
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            event = self._calls_event
            found = [call for call in self.calls[after:] if predicate(call)]
            if len(found) >= count:
                return found[count - 1]
            if (remaining := deadline - loop.time()) <= 0:
                seen = [(c.method, c.status) for c in self.calls[after:] if c.method != "getUpdates"]
                raise TimeoutError(f"no call matching {match!r} (x{count}) within {timeout}s; saw {seen}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)
