"""Helpers for driving the Discord adapter through simcord: a World (one server, alice and bob, the
runtime) and a Conversation (what one user sees, in the channel or in DMs, and how they press)."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Awaitable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import discord
import simcord
from delivery_world import running as sending

from bot.app import Parts, make_parts, sender_for
from bot.delivery import Sender
from bot.discord.adapter import DiscordBot
from bot.pictures import PictureStore
from bot.runtime import FakeClock, Runtime
from bot.storage import UserKey, open_storage
from dialogs.engine import Engine
from dialogs.render import Renderer
from dialogs.state import UserState

T = TypeVar("T")
SAFE_ANSWERS = ("low", "better", "no")  # the answer to each screening screen that flags nothing
SETTLE_SECONDS = 10  # real seconds a test waits for the sender at most


async def new_parts(engine: Engine, url: str, clock: FakeClock, pictures: Path | None = None) -> Parts:
    """A Discord process's runtime and outgoing side (bot.app.make_parts) on a real database; stretch
    pictures from `pictures` (None: the run's cache, tests/conftest.py)."""
    from bot.app import Core

    core = Core(engine.content, engine, Renderer(engine.content, engine.screens))
    return make_parts(core, await open_storage(url), clock, "discord", pictures=PictureStore(engine.content, pictures))


def commands_of(runtime: Runtime) -> list[tuple[str, str]]:
    """The command menu from content, as the composition root (bot.app.Core.commands) gives it."""
    return [(command.name, command.description) for command in runtime.renderer.content.wording.commands]


def no_rates(chat: str) -> tuple[()]:
    return ()  # the sender's rate keeping is tested on its own (tests/test_delivery.py)


def new_bot(parts: Parts, *, guild_id: int | None = None) -> DiscordBot:
    return DiscordBot(parts.runtime, commands_of(parts.runtime), parts.outgoing, guild_id=guild_id, rates=no_rates)


def plain(content: str) -> str:
    """Discord Markdown as the user reads it: bold markers dropped, escapes undone (one pass, left to
    right, so an escaped "*" next to a bold marker is read as Discord reads it)."""
    return re.sub(r"\\(.)|\*\*", lambda match: match.group(1) or "", content, flags=re.DOTALL)


def marked_bold(content: str, marker: str) -> bool:
    """Does the message start with `marker`, and is everything after it bold (each paragraph in **)?"""
    if not content.startswith(f"{marker} "):
        return False
    paragraphs = content[len(marker) + 1 :].split("\n\n")
    return all(len(p) > 4 and p.startswith("**") and p.endswith("**") for p in paragraphs)


def custom_ids(message) -> list[str]:
    """Button ids of a simcord ResponseMessage (raw dicts) or a discord.Message (ActionRows)."""
    return [
        c["custom_id"] if isinstance(row, dict) else c.custom_id
        for row in message.components
        for c in (row.get("components", []) if isinstance(row, dict) else row.children)
    ]


def choices(message) -> list[str]:
    return [custom_id.rsplit(":", 1)[1] for custom_id in custom_ids(message)]


@dataclass
class World:
    env: simcord.Env
    parts: Parts
    channel: simcord.ChannelHandle
    alice: simcord.MemberActor
    bob: simcord.MemberActor
    sender: Sender | None = None
    _sending: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack)

    clock = property(lambda self: self.runtime.clock)
    bot = property(lambda self: self.env.bot)
    server = property(lambda self: Conversation(self, self.alice, dm=False))  # alice in the channel
    dms = property(lambda self: Conversation(self, self.alice, dm=True))  # alice in her DMs

    @property
    def runtime(self) -> Runtime:
        return self.parts.runtime

    @property
    def renderer(self) -> Renderer:
        return self.runtime.renderer

    def t(self, key: str, **values) -> str:
        return self.runtime.text(key, **values)

    # ---- the sender (the process's outbox loop, on the fake clock) -----------------------------------
    async def start_sending(self) -> None:
        """Run a sender for the current bot (bot.app.sender_for), inside simcord's time context so its
        sends reach the simulated Discord."""
        self.sender = sender_for(self.parts, self.bot)
        with self.env.time_context():
            await self._sending.enter_async_context(sending(self.sender))

    async def stop_sending(self) -> None:
        await self._sending.aclose()
        self._sending = contextlib.AsyncExitStack()

    async def settle(self) -> None:
        """Wait until the sender has delivered everything due now, and Discord has taken it in."""
        assert self.sender is not None
        await asyncio.wait_for(self.sender.settled(), SETTLE_SECONDS)
        await self.env.settle()

    async def settled(self, interaction: Awaitable[T]) -> T:
        """`await world.settled(actor.click(...))`: the interaction's result once its answers were sent."""
        result = await interaction
        await self.settle()
        return result

    def answer_types(self) -> list[int]:
        """The type of every initial interaction answer the bot sent, in order."""
        return [e.json["type"] for e in self.env.http_requests if e.method == "POST" and e.path.endswith("/callback")]

    async def state(self, actor) -> UserState:
        loaded = await self.runtime.storage.load(UserKey("discord", str(actor.id)))
        return UserState.from_json(loaded.state_json)

    async def screen_id(self, actor) -> str | None:
        screen = (await self.state(actor)).screen
        return screen.id if screen else None

    async def wait(self, seconds: float) -> int:
        """Let time pass on both clocks, then fire what came due (as the scheduler would); the sender
        delivers it."""
        self.clock.advance(seconds)
        await self.env.advance_time(seconds)
        fired = await self.runtime.fire_due()
        await self.settle()
        return fired

    async def wait_for_timer(self) -> int:
        due = await self.runtime.storage.next_due(("discord",))
        assert due is not None, "no timer is scheduled"
        return await self.wait(max(0.0, (due - self.clock.now()).total_seconds()))


class Conversation:
    """One user's view of the bot, in a server channel (ephemeral messages) or in their DMs."""

    def __init__(self, world: World, actor, *, dm: bool) -> None:
        self.world, self.actor, self.dm = world, actor, dm

    def messages(self) -> list[discord.Message]:
        return self.actor.user.dm_channel.history() if self.dm else self.world.channel.history(viewer=self.actor)

    def texts(self) -> list[str]:
        """Each message as the user reads it (see `plain`)."""
        return [plain(m.content) for m in self.messages()]

    def screen(self) -> discord.Message:
        with_buttons = [m for m in self.messages() if m.components]
        assert len(with_buttons) == 1, f"expected one screen with buttons, got {[m.content for m in with_buttons]}"
        return with_buttons[0]

    async def slash(self, name: str) -> simcord.InteractionResult:
        result = await (self.actor.user.slash(name) if self.dm else self.actor.slash(self.world.channel, name))
        await self.world.settle()
        return result

    async def type(self, text: str) -> None:
        """Write a DM to the bot (typed text is read in DMs only) and wait for its answer."""
        await self.actor.user.send_dm(text)
        await self.world.settle()

    async def press(self, choice: str) -> simcord.InteractionResult:
        screen = self.screen()
        [custom_id] = [c for c in custom_ids(screen) if c.endswith(f":{choice}")]
        clicker = self.actor.user if self.dm else self.actor
        result = await clicker.click(screen, custom_id=custom_id)
        assert result.acknowledged
        await self.world.settle()
        return result

    async def screen_safely(self) -> None:
        """Answer every screening screen with the answer that flags nothing."""
        while (await self.world.screen_id(self.actor) or "").startswith("screening."):
            ids = choices(self.screen())
            await self.press(next(answer for answer in SAFE_ANSWERS if answer in ids))

    async def start_hold(self) -> simcord.InteractionResult:
        """/stretch, a safe screening, the 5-minute routine, Ready: the first hold is running."""
        await self.slash("stretch")
        await self.screen_safely()
        await self.press("lower5")
        return await self.press("ready")

    async def routine(self, routine_id: str) -> list[str]:
        """Do a whole routine: ready, wait out every hold, answer each check-in. Returns the texts."""
        seen = len(self.messages())
        await self.press(routine_id)
        for _ in range(100):
            ids = choices(self.screen())
            if "ready" in ids:
                await self.press("ready")
            elif "good" in ids:
                await self.press("good")
            elif "pain" in ids:  # holding: the cue comes from a timer
                assert await self.world.wait_for_timer() == 1
            else:
                break
        return self.texts()[seen:]


@contextlib.asynccontextmanager
async def restarted(world: World, engine, db_url: str):
    """Another process takes over: a new client, Runtime and sender on the same SQLite file."""
    await world.stop_sending()
    world.parts = await new_parts(engine, db_url, world.clock)
    try:
        await world.env.restart_bot(new_bot(world.parts))
        await world.start_sending()
        yield
    finally:
        await world.stop_sending()
        await world.runtime.storage.close()
