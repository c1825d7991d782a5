"""One user's side of stretchbot on each channel, for the cross-channel script (tests/test_cross_channel.py).

Each channel acts as a person would (a slash command, a press on a button they can see, typed text, time
passing on the fake clock) and reports what they saw next, message by message, as a `Seen`: the text as
read (markup away), the choices' labels in the order shown, the choice ids the buttons carry where the
platform has them, and whether everything after the marker is bold where the platform has bold.

- ConsoleChannel: the real ConsoleChat in-process over a real Runtime and sender, a SQLite file and a
  FakeClock; it reads the printed lines back and presses by typing the key printed beside a label.
- TelegramChannel: the real PTB Application against the fake Bot API (tests/telegram_world.py), in a
  private chat; it reads the messages as Telegram stored them (HTML parsed into text and entities).
- DiscordChannel: real discord.py under simcord (tests/discord_world.py), in DMs, where typed text works.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import re
from dataclasses import dataclass
from typing import Protocol

from delivery_world import running as sending
from discord_world import World as DiscordWorld
from discord_world import custom_ids, plain
from telegram_inspect import SENDS
from telegram_wire import utf16_len
from telegram_world import ALICE
from telegram_world import World as TelegramWorld

from bot.app import Parts, sender_for
from bot.console import ConsoleChat
from bot.storage import UserKey

DANGER_PREFIX = "🛑 "  # Telegram's mark on a danger button (bot/telegram/render.py)


@dataclass(frozen=True)
class Seen:
    text: str  # as the user reads it, marker included
    labels: tuple[str, ...] = ()  # the choices, in the order shown
    choices: tuple[str, ...] | None = None  # the ids the buttons carry (None: the console shows keys instead)
    bold: bool | None = None  # everything after the marker bold (None: the channel has no bold)


class Channel(Protocol):
    name: str

    async def command(self, name: str) -> list[Seen]: ...
    async def press(self, choice: str, label: str) -> list[Seen]: ...
    async def type(self, text: str) -> list[Seen]: ...
    async def wait(self, seconds: float | None) -> list[Seen]: ...  # None: until the next timer


def _after_marker(text: str, marker: str) -> str:
    return text[len(marker) + 1 :] if marker and text.startswith(f"{marker} ") else text


# ---- the console ------------------------------------------------------------------------------------
_CHOICE = re.compile(r"\[(?P<key>[^\]]+)\] (?P<label>.+)|\((?P<plain>.+)\)")


def read_console(output: str) -> list[tuple[Seen, dict[str, str]]]:
    """The printed messages ("\\nbot> text", then "  [1] Ready   [2] Skip" or "  (0-3)   (4-6)"), each with
    its keys by label."""
    messages = []
    for block in output.split("\nbot> ")[1:]:
        lines = block.removesuffix("\n").split("\n")
        keys: dict[str, str] = {}
        labels: list[str] = []
        if lines[-1].startswith("  ") and all(_CHOICE.fullmatch(p) for p in lines[-1][2:].split("   ")):
            for part in lines.pop()[2:].split("   "):
                match = _CHOICE.fullmatch(part)
                assert match is not None
                label = match["label"] or match["plain"]
                labels.append(label)
                if match["key"]:
                    keys[label] = match["key"]
        messages.append((Seen("\n".join(lines), tuple(labels)), keys))
    return messages


class ConsoleChannel:
    """The console as `stretchbot console` wires it (bot.app): a ConsoleChat over the process's runtime, and
    a sender that delivers only this terminal's messages back to it. Use as `async with ConsoleChannel(...)`."""

    name = "console"

    def __init__(self, parts: Parts, user: str = "me") -> None:
        self.runtime, self.clock = parts.runtime, parts.runtime.clock
        self.out = io.StringIO()
        self.chat = ConsoleChat(parts.runtime, UserKey("console", user), parts.outgoing, self.out)
        self.sender = sender_for(parts, self.chat, chats=(self.chat.chat,))
        self.keys: dict[str, str] = {}  # the keys of the newest choices printed, by label
        self._sending = contextlib.AsyncExitStack()

    async def __aenter__(self) -> ConsoleChannel:
        await self._sending.enter_async_context(sending(self.sender))
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._sending.aclose()

    async def _read(self, action) -> list[Seen]:
        mark = len(self.out.getvalue())
        await action
        await asyncio.wait_for(self.sender.settled(), 10)
        messages = read_console(self.out.getvalue()[mark:])
        for seen, keys in messages:
            if seen.labels:
                self.keys = keys
        return [seen for seen, _ in messages]

    async def command(self, name: str) -> list[Seen]:
        return await self._read(self.chat.type(f"/{name}"))

    async def press(self, choice: str, label: str) -> list[Seen]:
        assert label in self.keys, f"no key printed beside {label!r}: {self.keys}"
        return await self._read(self.chat.type(self.keys[label]))

    async def type(self, text: str) -> list[Seen]:
        return await self._read(self.chat.type(text))

    async def wait(self, seconds: float | None) -> list[Seen]:
        if seconds is None:
            due = await self.runtime.storage.next_due()
            assert due is not None, "no timer is scheduled"
            seconds = (due - self.clock.now()).total_seconds()
        self.clock.advance(seconds)
        return await self._read(self.runtime.fire_due())


# ---- Telegram ---------------------------------------------------------------------------------------
def telegram_bold(message: dict, marker: str) -> bool:
    """Is every visible character after the marker inside a bold entity (offsets count UTF-16 units)?"""
    text = message.get("text", "")
    bold = [False] * utf16_len(text)
    for entity in message.get("entities", []):
        if entity["type"] == "bold":
            bold[entity["offset"] : entity["offset"] + entity["length"]] = [True] * entity["length"]
    offset = utf16_len(f"{marker} ") if marker and text.startswith(f"{marker} ") else 0
    for char in _after_marker(text, marker):
        if not char.isspace() and not all(bold[offset : offset + utf16_len(char)]):
            return False
        offset += utf16_len(char)
    return True


class TelegramChannel:
    name = "telegram"

    def __init__(self, world: TelegramWorld, marker: str) -> None:
        self.world, self.api, self.marker = world, world.api, marker

    def _seen(self, message: dict) -> Seen:
        rows = (message.get("reply_markup") or {}).get("inline_keyboard") or []
        buttons = [button for row in rows for button in row]
        if "text" not in message:  # a picture: its caption is the message
            message = {**message, "text": message.get("caption", ""), "entities": message.get("caption_entities", [])}
        return Seen(
            message.get("text", ""),
            tuple(b["text"].removeprefix(DANGER_PREFIX) for b in buttons),
            tuple(b["callback_data"].rsplit(":", 1)[-1] for b in buttons),
            telegram_bold(message, self.marker),
        )

    def _since(self, mark: int) -> list[Seen]:
        return [
            self._seen(call.result)
            for call in self.api.calls[mark:]
            if call.method in SENDS and call.status == 200
        ]

    async def _handled(self, update: dict) -> None:
        """Until the bot has fetched the update (the fake forgets it once confirmed) and handled it."""
        while any(u["update_id"] == update["update_id"] for u in self.api.updates):
            await asyncio.sleep(0.001)
        await self.world.adapter.application.update_queue.join()
        await self.world.settle()

    async def command(self, name: str) -> list[Seen]:
        mark = self.api.mark()
        await self._handled(self.api.send_command(ALICE, None, f"/{name}"))
        return self._since(mark)

    async def press(self, choice: str, label: str) -> list[Seen]:
        message = self.world.message_with(ALICE, choice)
        [data] = [d for d in self.api.buttons(message) if d.rsplit(":", 1)[-1] == choice]
        mark = self.api.mark()
        await self._handled(self.api.press(ALICE, None, message, data))
        return self._since(mark)

    async def type(self, text: str) -> list[Seen]:
        mark = self.api.mark()
        await self._handled(self.api.send_text(ALICE, None, text))
        return self._since(mark)

    async def wait(self, seconds: float | None) -> list[Seen]:
        mark = self.api.mark()
        await self.world.fire(await self.world.seconds_to_next_timer() if seconds is None else seconds)
        return self._since(mark)


# ---- Discord ----------------------------------------------------------------------------------------
def labels(message) -> tuple[str, ...]:
    return tuple(c.label for row in message.components for c in row.children)


def discord_bold(content: str, marker: str) -> bool:
    """Is everything after the marker bold: each paragraph wrapped in ** (bullets: each line)?"""
    paragraphs = _after_marker(content, marker).split("\n\n")
    return all(
        line.removeprefix("• ").startswith("**") and line.endswith("**")
        for paragraph in paragraphs
        for line in paragraph.split("\n")
    )


class DiscordChannel:
    name = "discord"

    def __init__(self, world: DiscordWorld, marker: str) -> None:
        self.world, self.marker = world, marker
        self.user = world.alice.user

    def _history(self) -> list:
        """The bot's messages in the DM channel (the user's own typed messages are there too)."""
        return [m for m in self.user.dm_channel.history() if m.author.bot] if self.user.dm_channel else []

    async def _read(self, action) -> list[Seen]:
        before = len(self._history())
        await action
        await self.world.settle()
        return [
            Seen(
                plain(m.content),
                labels(m),
                tuple(c.rsplit(":", 1)[-1] for c in custom_ids(m)),
                discord_bold(m.content, self.marker),
            )
            for m in self._history()[before:]
        ]

    async def command(self, name: str) -> list[Seen]:
        return await self._read(self.user.slash(name))

    async def press(self, choice: str, label: str) -> list[Seen]:
        message = [m for m in self._history() if any(c.endswith(f":{choice}") for c in custom_ids(m))][-1]
        [custom_id] = [c for c in custom_ids(message) if c.endswith(f":{choice}")]
        return await self._read(self.user.click(message, custom_id=custom_id))

    async def type(self, text: str) -> list[Seen]:
        return await self._read(self.user.send_dm(text))

    async def wait(self, seconds: float | None) -> list[Seen]:
        return await self._read(self.world.wait_for_timer() if seconds is None else self.world.wait(seconds))
