"""Console chat: the first adapter. Choices are numbered; type the number or the word.

Same engine, runtime and storage as the chat platforms, so /stop, resume after a restart and history
work here too. Hold cues arrive from the shared scheduler while you wait at the prompt.
"""
from __future__ import annotations

import asyncio
import json
import sys
import threading
from typing import TextIO

from bot.runtime import Runtime
from bot.storage import UserKey
from dialogs.model import Action, Button, Command, ExportData, Notice, Say, Text

ADDRESS = {"console": True}
# On a score question typed numbers are scores ("7"), not choice numbers.
SCORE_CHOICES = ("low", "mid", "high")


class ConsoleChat:
    def __init__(self, runtime: Runtime, key: UserKey, out: TextIO = sys.stdout) -> None:
        self.runtime = runtime
        self.key = key
        self.out = out
        self.screen: Say | None = None  # the latest message with choices

    # ---- output -------------------------------------------------------------------------------
    async def deliver(self, key: UserKey, address: dict, actions: list[Action]) -> None:
        """The runtime's delivery hook: timer messages (hold cues, check-ins) arrive here."""
        await self.show(actions)

    async def show(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, Say):
                self._say(action)
            elif isinstance(action, Notice):
                self._write(f"  ({action.text})")
            elif isinstance(action, ExportData):
                data = await self.runtime.storage.export_user(self.key)
                self._write(json.dumps(data, indent=2, default=str))
        self.out.flush()

    def _say(self, say: Say) -> None:
        marker = {"cue": "⏱ ", "referral": "⚠ ", "reminder": "⏰ "}.get(say.kind, "")
        self._write(f"\nbot> {marker}{say.text}")
        if say.choices:
            self.screen = say
            self._write("  " + "   ".join(f"[{n}] {c.label}" for n, c in enumerate(say.choices, 1)))
        elif say.kind == "referral":
            self.screen = None

    def _write(self, text: str) -> None:
        print(text, file=self.out)

    # ---- input --------------------------------------------------------------------------------
    def event_for(self, line: str):
        if line.startswith("/"):
            name, _, argument = line[1:].partition(" ")
            return Command(name.split("@", 1)[0].lower(), argument.strip())
        screen = self.screen
        if screen and line.isdigit() and tuple(c.id for c in screen.choices) != SCORE_CHOICES:
            number = int(line)
            if 1 <= number <= len(screen.choices):
                return Button(screen.choices[number - 1].id, screen.screen)
        return Text(line)

    async def send(self, line: str) -> None:
        actions = await self.runtime.handle(self.key, self.event_for(line), ADDRESS)
        await self.show(actions)

    async def run(self, lines: "asyncio.Queue[str | None]") -> None:
        self._write("stretchbot console. Type /help for help; Ctrl-D or Ctrl-C to quit.")
        await self.send("/start")
        while True:
            self.out.write("you> ")
            self.out.flush()
            line = await lines.get()
            if line is None:
                self._write("\nBye. Stretch gently.")
                return
            if line.strip():
                await self.send(line.strip())


def stdin_lines(loop: asyncio.AbstractEventLoop, stream: TextIO = sys.stdin) -> "asyncio.Queue[str | None]":
    """Read lines on a daemon thread: works for terminals and pipes, and never blocks exit."""
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def pump() -> None:
        for line in stream:
            loop.call_soon_threadsafe(queue.put_nowait, line.rstrip("\n"))
        loop.call_soon_threadsafe(queue.put_nowait, None)

    threading.Thread(target=pump, name="stdin", daemon=True).start()
    return queue


async def run_console(runtime: Runtime, chat: ConsoleChat) -> None:
    scheduler = asyncio.create_task(runtime.run_scheduler(), name="scheduler")
    try:
        await chat.run(stdin_lines(asyncio.get_running_loop()))
    finally:
        scheduler.cancel()
        await asyncio.gather(scheduler, return_exceptions=True)
