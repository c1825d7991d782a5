"""Discord: slash commands and buttons in, views out as interaction responses and DMs. No dialog logic.

Health content is never public: in a server every answer is ephemeral (only the user sees it); in DMs
messages are ordinary. Buttons carry only ids (bot/discord/render.py), so they keep working after a
restart. Timer output (hold cues, check-ins) goes out as an ephemeral follow-up on the user's latest
interaction token while it lives (15 minutes), else as a DM; daily reminders always by DM.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import discord
from discord import app_commands

from bot import ConfigError
from bot.discord.render import MAX_CONTENT, ChoiceButton
from bot.discord.send import DiscordTransport
from bot.outgoing import Outgoing
from bot.ratelimit import Rate, discord_rates
from bot.runtime import Runtime
from bot.storage import UserKey
from dialogs.events import Button, Command, Text

log = logging.getLogger("stretchbot.discord")

PLATFORM = "discord"
# three base64url parts joined by dots; checked so a pasted "Bot ..." or a client secret fails early
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{20,}")
PORTAL = "https://discord.com/developers/applications"

def quiet_discord_logs() -> None:
    """discord.py logs webhook URLs, which contain interaction tokens, at DEBUG."""
    logger = logging.getLogger("discord")
    if logger.getEffectiveLevel() < logging.INFO:
        logger.setLevel(logging.INFO)


class DiscordBot(discord.Client):
    """The Discord side of stretchbot: interactions in (to a ready Runtime), outbox bodies out (its
    transport, bot/discord/send.py). `commands`: (name, description) pairs from content."""

    platform = PLATFORM

    def __init__(self, runtime: Runtime, commands: list[tuple[str, str]], outgoing: Outgoing, *,
                 guild_id: int | None = None, rates: Callable[[str], Sequence[Rate]] = discord_rates) -> None:
        for warning in ("warn_nacl", "warn_dave"):  # stretchbot never joins voice: no start-up warning about
            setattr(discord.VoiceClient, warning, False)  # voice libraries it does not need
        super().__init__(intents=discord.Intents.default())  # DMs carry content without the privileged intent
        quiet_discord_logs()
        self.runtime = runtime
        self.guild_id = guild_id
        self.tree = app_commands.CommandTree(
            self, allowed_contexts=app_commands.AppCommandContext(guild=True, dm_channel=True),
            allowed_installs=app_commands.AppInstallationType(guild=True))
        self.tree.error(self.on_tree_error)
        self.transport = DiscordTransport(self, outgoing, rates=rates)
        for name, description in commands:
            self.tree.add_command(app_commands.Command(name=name, description=description,
                                                       callback=self._command_callback(name)))

    async def setup_hook(self) -> None:
        self.add_dynamic_items(ChoiceButton)
        if self.guild_id:  # a test server: commands show up at once (global ones can take a while)
            guild = discord.Object(self.guild_id)
            self.tree.copy_global_to(guild=guild)
            await self.tree.sync(guild=guild)
        else:
            await self.tree.sync()

    def _command_callback(self, name: str):
        async def callback(interaction: discord.Interaction) -> None:
            await self.on_command(interaction, name)
        callback.__name__ = f"command_{name}"
        return callback

    # ---- input ----------------------------------------------------------------------------------
    async def on_command(self, interaction: discord.Interaction, name: str) -> None:
        private = interaction.guild_id is not None
        try:
            await interaction.response.defer(ephemeral=private, thinking=True)  # within 3 s, always
            key, address = self._who(interaction)
            reply = await self.runtime.handle(key, Command(name), address)
            if not reply.queued:  # nothing to replace "thinking..." with (the engine always answers)
                await interaction.edit_original_response(content=self.runtime.text("ok"))
        except Exception:
            await self._failed(interaction, f"/{name}")

    async def on_choice(self, interaction: discord.Interaction, button: ChoiceButton) -> None:
        try:
            if interaction.user.id != button.owner:  # checked first: someone else's press changes nothing
                await interaction.response.send_message(self.runtime.text("foreign_button"), ephemeral=True)
                return
            await interaction.response.defer()  # a deferred update: no "thinking" message
            key, address = self._who(interaction)
            reply = await self.runtime.handle(key, Button(button.choice, button.screen), address)
            if reply.queued and interaction.message is not None:
                # the pressed screen is answered: keep its text, show the answer, drop its buttons
                self.transport.forget_screen(button.owner, interaction.message.id)
                chosen = discord.utils.escape_markdown(button.item.label or "")  # content's words, not Markdown
                answered = f"{interaction.message.content}\n\n→ **{chosen}**"
                await interaction.edit_original_response(
                    content=answered if len(answered) <= MAX_CONTENT else discord.utils.MISSING, view=None)
            for notice in reply.now:  # a stale press: a short private note
                await interaction.followup.send(notice.text, ephemeral=True)
        except Exception:
            await self._failed(interaction, f"button {button.choice}")

    async def on_message(self, message: discord.Message) -> None:
        """Typed text, in DMs only (in servers bots get no message content, and health talk stays private)."""
        if message.author.bot or message.guild is not None or not message.content.strip():
            return
        key = UserKey(PLATFORM, str(message.author.id))
        address = {"application_id": str(self.application_id), "token": None, "token_expires_at": None,
                   "user_id": str(message.author.id), "channel_id": str(message.channel.id), "guild_id": None}
        try:
            await self.runtime.handle(key, Text(message.content), address)
        except Exception:
            log.exception("DM text from user %s failed (message %s)", message.author.id, message.id)
            try:
                await message.channel.send(self.runtime.text("error_sorry"))
            except discord.HTTPException:
                log.warning("could not tell user %s about the failure", message.author.id)

    def _who(self, interaction: discord.Interaction) -> tuple[UserKey, dict]:
        user_id = interaction.user.id
        address = {
            "application_id": str(interaction.application_id), "token": interaction.token,
            "token_expires_at": interaction.expires_at.isoformat(), "user_id": str(user_id),
            "channel_id": str(interaction.channel_id) if interaction.channel_id else None,
            "guild_id": str(interaction.guild_id) if interaction.guild_id else None,
        }
        return UserKey(PLATFORM, str(user_id)), address

    # ---- output: the sender's transport ----------------------------------------------------------
    def rates(self, chat: str) -> Sequence[Rate]:
        return self.transport.rates(chat)

    async def send(self, chat: str, body: dict[str, Any]) -> None:
        await self.wait_until_ready()  # a send needs a logged-in client
        await self.transport.send(chat, body)

    # ---- errors ---------------------------------------------------------------------------------
    async def _failed(self, interaction: discord.Interaction, what: str) -> None:
        """Log with ids (never the token) and answer politely, so nobody sees "This interaction failed"."""
        log.exception("%s failed (user %s, guild %s, channel %s, interaction %s)", what, interaction.user.id,
                      interaction.guild_id, interaction.channel_id, interaction.id)
        try:
            if interaction.response.is_done():
                await interaction.followup.send(self.runtime.text("error_sorry"), ephemeral=True)
            else:
                await interaction.response.send_message(self.runtime.text("error_sorry"), ephemeral=True)
        except discord.HTTPException:
            log.warning("could not tell user %s about the failure (interaction %s)", interaction.user.id,
                        interaction.id)

    async def on_tree_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        log.error("command tree error (user %s, interaction %s): %r", interaction.user.id, interaction.id, error)


# ---- start-up -----------------------------------------------------------------------------------
def read_token(environ: Mapping[str, str]) -> str:
    token = environ.get("DISCORD_TOKEN", "").strip()
    if not token:
        raise ConfigError("DISCORD_TOKEN is not set: create a bot in the Discord developer portal "
                          f"({PORTAL}), copy its token (Bot > Reset Token) and export DISCORD_TOKEN=...")
    if not TOKEN_SHAPE.fullmatch(token):
        raise ConfigError("DISCORD_TOKEN does not look like a Discord bot token (three parts joined by dots, "
                          "no 'Bot ' prefix): copy it again from the developer portal (Bot > Reset Token)")
    return token


def read_guild_id(environ: Mapping[str, str]) -> int | None:
    raw = environ.get("DISCORD_GUILD_ID", "").strip()
    if not raw:
        return None
    if not raw.isdigit():
        raise ConfigError(f"DISCORD_GUILD_ID: {raw[:30]!r} is not a server id (right-click the server > "
                          "Copy Server ID, with Developer Mode on)")
    return int(raw)


async def serve(bot: DiscordBot, token: str, stop: asyncio.Event) -> None:
    """Run until `stop` is set (SIGTERM, Ctrl-C) or the connection ends; a rejected token is a ConfigError."""
    async with bot:
        client = asyncio.create_task(bot.start(token), name="discord")
        stopping = asyncio.create_task(stop.wait(), name="stop")
        try:
            await asyncio.wait({client, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if client.done():
                client.result()  # raises what ended it, e.g. LoginFailure
        except discord.LoginFailure:
            raise ConfigError("DISCORD_TOKEN was rejected by Discord: reset the token in the developer portal "
                              f"({PORTAL}) and export the new one") from None
        finally:
            for task in (client, stopping):
                task.cancel()
            await asyncio.gather(client, stopping, return_exceptions=True)
