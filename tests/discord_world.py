"""Helpers for driving the Discord adapter through simcord: a World (one server, alice and bob, the
runtime) and a Conversation (what one user sees, in the channel or in DMs, and how they press)."""
from __future__ import annotations

import contextlib
from dataclasses import dataclass

import discord
import simcord

from bot.discord_adapter import DiscordBot
from bot.runtime import FakeClock, Runtime
from bot.storage import UserKey, open_storage
from dialogs.model import UserState


async def new_runtime(engine, url: str, clock: FakeClock) -> Runtime:
    return Runtime(engine, await open_storage(url), clock=clock)


def new_bot(runtime: Runtime) -> DiscordBot:
    bot = DiscordBot(runtime)
    runtime.deliver = bot.deliver
    return bot


def custom_ids(message) -> list[str]:
    """Button ids of a simcord ResponseMessage (raw dicts) or a discord.Message (ActionRows)."""
    return [c["custom_id"] if isinstance(row, dict) else c.custom_id for row in message.components
            for c in (row.get("components", []) if isinstance(row, dict) else row.children)]


def choices(message) -> list[str]:
    return [custom_id.rsplit(":", 1)[1] for custom_id in custom_ids(message)]


@dataclass
class World:
    env: simcord.Env
    runtime: Runtime
    channel: simcord.ChannelHandle
    alice: simcord.MemberActor
    bob: simcord.MemberActor

    clock = property(lambda self: self.runtime.clock)
    bot = property(lambda self: self.env.bot)
    server = property(lambda self: Conversation(self, self.alice, dm=False))  # alice in the channel
    dms = property(lambda self: Conversation(self, self.alice, dm=True))  # alice in her DMs

    def t(self, key: str, **values) -> str:
        return self.runtime.ui(key, **values)

    def answer_types(self) -> list[int]:
        """The type of every initial interaction answer the bot sent, in order."""
        return [e.json["type"] for e in self.env.http_requests
                if e.method == "POST" and e.path.endswith("/callback")]

    async def state(self, actor) -> UserState:
        loaded = await self.runtime.storage.load(UserKey("discord", str(actor.id)))
        return UserState.from_json(loaded.state_json)

    async def wait(self, seconds: float) -> int:
        """Let time pass on both clocks, then fire what came due (as the scheduler would)."""
        self.clock.advance(seconds)
        await self.env.advance_time(seconds)
        return await self.runtime.fire_due()

    async def wait_for_timer(self) -> int:
        due = await self.runtime.storage.next_due()
        assert due is not None, "no timer is scheduled"
        return await self.wait(max(0.0, (due - self.clock.now()).total_seconds()))


class Conversation:
    """One user's view of the bot, in a server channel (ephemeral messages) or in their DMs."""

    def __init__(self, world: World, actor, *, dm: bool) -> None:
        self.world, self.actor, self.dm = world, actor, dm

    def messages(self) -> list[discord.Message]:
        return self.actor.user.dm_channel.history() if self.dm else self.world.channel.history(viewer=self.actor)

    def texts(self) -> list[str]:
        return [m.content for m in self.messages()]

    def screen(self) -> discord.Message:
        with_buttons = [m for m in self.messages() if m.components]
        assert len(with_buttons) == 1, f"expected one screen with buttons, got {[m.content for m in with_buttons]}"
        return with_buttons[0]

    async def slash(self, name: str) -> simcord.InteractionResult:
        return await (self.actor.user.slash(name) if self.dm else self.actor.slash(self.world.channel, name))

    async def press(self, choice: str) -> simcord.InteractionResult:
        screen = self.screen()
        [custom_id] = [c for c in custom_ids(screen) if c.endswith(f":{choice}")]
        clicker = self.actor.user if self.dm else self.actor
        result = await clicker.click(screen, custom_id=custom_id)
        assert result.acknowledged
        return result

    async def triage_safely(self) -> None:
        """Answer every safety question with the answer that is not a red flag."""
        while {"no", "low"} & set(choices(self.screen())):
            await self.press("low" if "low" in choices(self.screen()) else "no")

    async def start_hold(self) -> simcord.InteractionResult:
        """/stretch, a safe triage, the 5-minute routine, Ready: the first hold is running."""
        await self.slash("stretch")
        await self.triage_safely()
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
    """Another process takes over: a new client and a new Runtime on the same SQLite file."""
    world.runtime = await new_runtime(engine, db_url, world.clock)
    try:
        await world.env.restart_bot(new_bot(world.runtime))
        yield
    finally:
        await world.runtime.storage.close()
