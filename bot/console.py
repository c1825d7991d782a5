"""Console chat: the adapter anyone can try with no token. Choices have typed keys; type the key or the words.

Same engine, runtime and storage as the chat platforms, so /stop, resume after a restart and history
work here too. Hold cues arrive from the shared scheduler while you wait at the prompt. Keys come from
the view (dialogs/screens.py): they are stable within a stretch, and "It hurts" is always 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
import threading
from pathlib import Path
from typing import Any, TextIO

from bot.delivery import Sender
from bot.outgoing import Outgoing
from bot.runtime import Runtime
from bot.storage import UserKey
from dialogs.events import Button, Command, Event, Text
from dialogs.views import MessageView

log = logging.getLogger("stretchbot.console")

ADDRESS = {"console": True}


def format_view(view: MessageView, folder: Path | None = None) -> list[str]:
    """A view as console lines: its marker, its text, then its choices with their keys; a picture as a
    pointer to its file (a chart drawn now is saved into `folder` first)."""
    lines = []
    text = view.text
    if view.kind == "notice":
        return [f"  ({text})"]
    lines.append(f"\nbot> {view.marker + ' ' if view.marker else ''}{text}")
    if view.buttons:
        lines.append("  " + "   ".join(f"[{b.key}] {b.label}" if b.key is not None else f"({b.label})"
                                      for b in view.buttons))
    attachment = view.attachment
    if attachment is not None and attachment.data is not None and attachment.mime == "application/json":
        lines.append(json.dumps(json.loads(attachment.data), indent=2, ensure_ascii=False))
    elif attachment is not None and attachment.data is not None and folder is not None:
        path = folder / attachment.name
        path.write_bytes(attachment.data)
        lines += [f"  [picture: {path}]", attachment.alt]
    elif attachment is not None and attachment.path:
        lines.append(f"  [picture: {attachment.path}] {attachment.alt}")
    return lines


class ConsoleChat:
    """The terminal: typed lines in, and (as the sender's transport) outbox bodies out, printed."""

    platform = "console"

    def __init__(self, runtime: Runtime, key: UserKey, outgoing: Outgoing, out: TextIO = sys.stdout,
                 folder: Path | None = None) -> None:
        self.runtime = runtime
        self.key = key
        self.outgoing = outgoing
        self.out = out
        self.folder = folder or Path.cwd()  # where a chart (/progress) is saved to look at
        self.screen: MessageView | None = None  # the latest view with buttons
        self.queued = self.delivered = 0  # messages asked for, and printed: the prompt waits for the replies
        self._printed = asyncio.Event()

    @property
    def chat(self) -> str:
        return f"console:{self.key.user_id}"

    # ---- output: the sender's transport ----------------------------------------------------------
    def rates(self, chat: str) -> tuple[()]:
        return ()  # a terminal has no limits

    async def send(self, chat: str, body: dict[str, Any]) -> None:
        self.show(await self.outgoing.views(body))
        self.delivered += 1
        self._printed.set()

    def show(self, views: list[MessageView]) -> None:
        for view in views:
            for line in format_view(view):
                print(line, file=self.out)
            if view.buttons:
                self.screen = view
            elif view.kind == "referral":
                self.screen = None
        self.out.flush()

    async def replies(self, timeout: float = 5.0) -> None:
        """Wait (a little) until what the last input queued is printed, so the prompt comes after it."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while self.delivered < self.queued and loop.time() < end:
            self._printed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._printed.wait(), end - loop.time())

    # ---- input --------------------------------------------------------------------------------
    def event_for(self, line: str) -> Event:
        if line.startswith("/"):
            name, _, argument = line[1:].partition(" ")
            return Command(name.split("@", 1)[0].lower(), argument.strip())
        screen = self.screen
        if screen is not None and screen.screen is not None:
            for button in screen.buttons:
                if button.key is not None and line.strip() == button.key:
                    return Button(button.choice, screen.screen)
        return Text(line)

    async def type(self, line: str) -> None:
        """A line the person typed: a command, a choice's key, or words."""
        try:
            reply = await self.runtime.handle(self.key, self.event_for(line), ADDRESS)
        except Exception:  # a bug on our side must not end the chat: say sorry, keep the prompt
            log.exception("handling a console line failed")
            print(f"\nbot> {self.runtime.text('error_sorry')}", file=self.out)
            return
        self.show(reply.now)
        self.queued = max(self.queued, self.delivered) + reply.queued
        await self.replies()

    async def run(self, lines: asyncio.Queue[str | None]) -> None:
        print("stretchbot console. Type /help for help; Ctrl-D or Ctrl-C to quit.", file=self.out)
        await self.type("/start")
        while True:
            self.out.write("you> ")
            self.out.flush()
            line = await lines.get()
            if line is None:
                print("\nBye. Stretch gently.", file=self.out)
                return
            if line.strip():
                await self.type(line.strip())


def stdin_lines(loop: asyncio.AbstractEventLoop, stream: TextIO = sys.stdin) -> asyncio.Queue[str | None]:
    """Read lines on a daemon thread: works for terminals and pipes, and never blocks exit."""
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def pump() -> None:
        for line in stream:
            loop.call_soon_threadsafe(queue.put_nowait, line.rstrip("\n"))
        loop.call_soon_threadsafe(queue.put_nowait, None)

    threading.Thread(target=pump, name="stdin", daemon=True).start()
    return queue


async def run_console(runtime: Runtime, chat: ConsoleChat, sender: Sender) -> None:
    """The chat, with the scheduler (timers) and the sender (the outbox) running beside it."""
    helpers = [asyncio.create_task(runtime.run_scheduler(), name="scheduler"),
               asyncio.create_task(sender.run(), name="sender")]
    try:
        await chat.run(stdin_lines(asyncio.get_running_loop()))
    finally:
        for task in helpers:
            task.cancel()
        await asyncio.gather(*helpers, return_exceptions=True)
