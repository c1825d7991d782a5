"""Discord: slash commands and buttons in, engine actions out as interaction responses and DMs.

Thin on purpose: interactions become engine events, actions become messages. Health content is
never public: in a server every answer is ephemeral (only the user sees it); in DMs messages are
ordinary. Buttons are `DynamicItem`s that carry only ids ("owner:screen:choice"), so a button keeps
working after a restart and any process can answer it. Timer output (hold cues, check-ins) goes
out as an ephemeral follow-up on the user's latest interaction token while it lives (15 minutes),
else as a DM; daily reminders always by DM.
"""
from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import re
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta

import discord
from discord import app_commands

from bot import ConfigError
from bot.runtime import Runtime, Undeliverable
from bot.storage import UserKey
from dialogs.model import Action, Button, Command, ExportData, Notice, Say, Text

log = logging.getLogger("stretchbot.discord")

PLATFORM = "discord"
TOKEN_MARGIN = timedelta(minutes=1)  # don't start a follow-up on a token about to expire
MAX_CONTENT = 2000  # Discord's limit for a message's text
DMS_CLOSED = 50007  # "Cannot send messages to this user"
NOTHING_TO_SAY = "OK."  # only if the engine answered a command with nothing visible (it should not)
EXPORT_FILENAME = "stretchbot-mydata.json"
TRACKED_SCREENS = 10_000  # users whose newest screen we remember (to remove its buttons later)
# three base64url parts joined by dots; checked so a pasted "Bot ..." or a client secret fails early
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{20,}")
PORTAL = "https://discord.com/developers/applications"

# Shown in Discord's command picker. Every name maps to Command(name); the engine does the rest.
COMMANDS = {
    "start": "Say hello and see what stretchbot can do",
    "stretch": "Start a guided back-stretch routine (safety questions first)",
    "stop": "Stop the current routine now",
    "remind": "Set up a daily stretch reminder",
    "help": "How stretchbot works",
    "mydata": "Download everything stretchbot stores about you",
    "forget": "Delete everything stretchbot stores about you",
}
STYLES = {"pain": discord.ButtonStyle.danger, "ready": discord.ButtonStyle.success,
          "start": discord.ButtonStyle.primary, "forget_yes": discord.ButtonStyle.danger}
MARKERS = {"cue": "⏱️ ", "referral": "⚠️ ", "reminder": "⏰ "}

# (text, view or None, files, is_notice) -> the message sent (None if the platform returns none)
Send = Callable[[str, "discord.ui.View | None", list[discord.File], bool], Awaitable["discord.Message | None"]]


class ChoiceButton(discord.ui.DynamicItem[discord.ui.Button],
                   template=r"(?P<owner>\d+):(?P<screen>\d+):(?P<choice>[a-z0-9_]+)"):
    """A button whose whole state is its custom_id: any client, before or after a restart, answers it."""

    def __init__(self, owner: int, screen: int, choice: str, label: str | None = None) -> None:
        super().__init__(discord.ui.Button(label=(label or choice)[:80], custom_id=f"{owner}:{screen}:{choice}",
                                           style=STYLES.get(choice, discord.ButtonStyle.secondary)))
        self.owner, self.screen, self.choice = owner, screen, choice

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Button,
                             match: re.Match[str]) -> "ChoiceButton":
        return cls(int(match["owner"]), int(match["screen"]), match["choice"], item.label)

    async def callback(self, interaction: discord.Interaction) -> None:
        # Ownership is checked in the handler, not interaction_check: a False check would leave the
        # press unanswered ("This interaction failed").
        await interaction.client.on_choice(interaction, self)


def screen_view(owner: int, say: Say) -> discord.ui.View | None:
    """The buttons of a screen. Only DynamicItems: a view that also held static items would drop the
    DynamicItem registration when it times out."""
    if not say.choices or say.screen is None:
        return None
    view = discord.ui.View(timeout=None)  # discord.py places 5 buttons per row by itself
    for choice in say.choices[:25]:
        view.add_item(ChoiceButton(owner, say.screen, choice.id, choice.label))
    return view


def chunks(text: str, limit: int = MAX_CONTENT) -> list[str]:
    """Split text for Discord's 2000-character limit, at paragraph or line breaks where possible."""
    parts: list[str] = []
    while len(text) > limit:
        cut = max(text.rfind("\n\n", 0, limit), text.rfind("\n", 0, limit), text.rfind(" ", 0, limit))
        cut = cut if cut > limit // 2 else limit
        parts.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    return parts + [text] if text or not parts else parts


def token_usable(address: Mapping) -> bool:
    """Can this stored interaction token still carry an ephemeral follow-up? Only server addresses use
    it: in DMs a plain DM is the same conversation and does not expire."""
    if not (address.get("guild_id") and address.get("token") and address.get("token_expires_at")):
        return False
    expires_at = datetime.fromisoformat(address["token_expires_at"])
    return discord.utils.utcnow() < expires_at - TOKEN_MARGIN


def quiet_discord_logs() -> None:
    """discord.py logs webhook URLs, which contain interaction tokens, at DEBUG."""
    logger = logging.getLogger("discord")
    if logger.getEffectiveLevel() < logging.INFO:
        logger.setLevel(logging.INFO)


class DiscordBot(discord.Client):
    """The Discord side of stretchbot. Takes a ready Runtime; set `runtime.deliver = bot.deliver`."""

    def __init__(self, runtime: Runtime, *, guild_id: int | None = None) -> None:
        super().__init__(intents=discord.Intents.default())  # DMs carry content without the privileged intent
        quiet_discord_logs()
        self.runtime = runtime
        self.guild_id = guild_id
        self.tree = app_commands.CommandTree(
            self, allowed_contexts=app_commands.AppCommandContext(guild=True, dm_channel=True),
            allowed_installs=app_commands.AppInstallationType(guild=True))
        self.tree.on_error = self.on_tree_error
        # the newest message with buttons per user, so a newer screen can remove its buttons;
        # memory only: after a restart an old screen keeps its buttons and the engine calls them stale
        self._screens: dict[int, tuple[discord.Message, datetime | None]] = {}
        for name, description in COMMANDS.items():
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
            actions = await self.runtime.handle(key, Command(name), address)
            first = True

            async def send(text: str, view, files, notice: bool):
                nonlocal first
                if first:  # the first message replaces "stretchbot is thinking..."
                    first = False
                    extra = {"view": view} if view else {}
                    return await interaction.edit_original_response(content=text, attachments=files, **extra)
                return await self._followup(interaction, text, view, files, ephemeral=private or notice)

            await self._render(key, actions, send, expires_at=interaction.expires_at)
            if first:
                await interaction.edit_original_response(content=NOTHING_TO_SAY)
        except Exception:
            await self._failed(interaction, f"/{name}")

    async def on_choice(self, interaction: discord.Interaction, button: ChoiceButton) -> None:
        try:
            if interaction.user.id != button.owner:  # checked first: someone else's press changes nothing
                await interaction.response.send_message(self.runtime.ui("foreign_button"), ephemeral=True)
                return
            await interaction.response.defer()  # a deferred update: no "thinking" message
            key, address = self._who(interaction)
            actions = await self.runtime.handle(key, Button(button.choice, button.screen), address)
            if any(isinstance(action, Say) for action in actions) and interaction.message is not None:
                # the pressed screen is answered: keep its text, show the answer, drop its buttons
                self._forget_screen(button.owner, interaction.message.id)
                answered = f"{interaction.message.content}\n\n→ **{button.item.label}**"
                await interaction.edit_original_response(
                    content=answered if len(answered) <= MAX_CONTENT else discord.utils.MISSING, view=None)
            private = interaction.guild_id is not None

            async def send(text: str, view, files, notice: bool):
                return await self._followup(interaction, text, view, files, ephemeral=private or notice)

            await self._render(key, actions, send, expires_at=interaction.expires_at)
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
            actions = await self.runtime.handle(key, Text(message.content), address)

            async def send(text: str, view, files, notice: bool):
                return await message.channel.send(text or None, **_attachments(view, files))

            await self._render(key, actions, send, expires_at=None)
        except Exception:
            log.exception("DM text from user %s failed (message %s)", message.author.id, message.id)
            try:
                await message.channel.send(self.runtime.ui("error_sorry"))
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

    # ---- output ---------------------------------------------------------------------------------
    async def _render(self, key: UserKey, actions: list[Action], send: Send, *, expires_at: datetime | None) -> None:
        """Each Say is a message (the newest screen carries the buttons); a Notice is a short private note;
        ExportData attaches the user's data to the message that follows it."""
        owner = int(key.user_id)
        files: list[discord.File] = []
        for action in actions:
            if isinstance(action, ExportData):
                files.append(await self._export_file(key))
            elif isinstance(action, Notice):
                await send(action.text, None, [], True)
            elif isinstance(action, Say):
                view = screen_view(owner, action)
                if view or action.kind == "referral":  # a newer screen (or the end): old buttons go
                    await self._strip_screen(owner)
                parts = chunks(MARKERS.get(action.kind, "") + action.text)
                for part in parts[:-1]:
                    await send(part, None, [], False)
                sent = await send(parts[-1], view, files, False)
                files = []
                if view and sent is not None:
                    self._screens[owner] = (sent, expires_at)
                    if len(self._screens) > TRACKED_SCREENS:  # forget the oldest: worst case a stale press
                        del self._screens[next(iter(self._screens))]
        if files:
            await send("", None, files, False)

    async def _followup(self, interaction: discord.Interaction, text: str, view, files, *, ephemeral: bool):
        return await interaction.followup.send(text, ephemeral=ephemeral, wait=True, **_attachments(view, files))

    async def _export_file(self, key: UserKey) -> discord.File:
        data = await self.runtime.storage.export_user(key)
        address = (data.get("profile") or {}).get("address") or {}
        if address.get("token"):  # a live credential for 15 minutes: not something to hand around in a file
            address["token"] = "(hidden)"
        body = json.dumps(data, indent=2, ensure_ascii=False, default=str).encode()
        return discord.File(io.BytesIO(body), filename=EXPORT_FILENAME)

    def _forget_screen(self, owner: int, message_id: int) -> None:
        shown = self._screens.get(owner)
        if shown and shown[0].id == message_id:
            del self._screens[owner]

    async def _strip_screen(self, owner: int) -> None:
        """Best effort: remove the buttons of the user's previous screen (its token may be gone)."""
        shown = self._screens.pop(owner, None)
        if shown is None:
            return
        message, expires_at = shown
        if expires_at is not None and discord.utils.utcnow() >= expires_at - TOKEN_MARGIN:
            return  # an ephemeral message can only be edited through its interaction's token
        try:
            await message.edit(view=None)
        except discord.HTTPException as error:
            log.info("could not remove old buttons for user %s (%s)", owner, error.status)

    async def deliver(self, key: UserKey, address: dict, actions: list[Action]) -> None:
        """The runtime's delivery hook for timer output. Raises Undeliverable if DMs are closed."""
        user_id = int(key.user_id)
        reminder = any(isinstance(a, Say) and a.kind == "reminder" for a in actions)
        usable = not reminder and token_usable(address)
        expires_at = datetime.fromisoformat(address["token_expires_at"]) if usable else None
        webhook = discord.Webhook.from_state(
            {"id": int(address["application_id"]), "type": 3, "token": address["token"]},
            state=self._connection) if usable else None

        async def send(text: str, view, files, notice: bool):
            nonlocal webhook
            if webhook is not None:
                try:
                    return await webhook.send(text, ephemeral=True, wait=True, **_attachments(view, files))
                except discord.NotFound:  # the token died after all (10015): the rest goes by DM
                    log.info("interaction token of user %s expired; sending by DM", user_id)
                    webhook = None
            return await self._dm(user_id, text, view, files)

        await self._render(key, actions, send, expires_at=expires_at)

    async def _dm(self, user_id: int, text: str, view, files) -> discord.Message:
        try:
            user = self.get_user(user_id) or await self.fetch_user(user_id)
            return await user.send(text or None, **_attachments(view, files))
        except discord.Forbidden as error:
            if error.code == DMS_CLOSED:
                raise Undeliverable(f"discord user {user_id}: DMs closed") from error
            raise

    # ---- errors ---------------------------------------------------------------------------------
    async def _failed(self, interaction: discord.Interaction, what: str) -> None:
        """Log with ids (never the token) and answer politely, so nobody sees "This interaction failed"."""
        log.exception("%s failed (user %s, guild %s, channel %s, interaction %s)", what, interaction.user.id,
                      interaction.guild_id, interaction.channel_id, interaction.id)
        try:
            if interaction.response.is_done():
                await interaction.followup.send(self.runtime.ui("error_sorry"), ephemeral=True)
            else:
                await interaction.response.send_message(self.runtime.ui("error_sorry"), ephemeral=True)
        except discord.HTTPException:
            log.warning("could not tell user %s about the failure (interaction %s)", interaction.user.id,
                        interaction.id)

    async def on_tree_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        log.error("command tree error (user %s, interaction %s): %r", interaction.user.id, interaction.id, error)


def _attachments(view: discord.ui.View | None, files: list[discord.File]) -> dict:
    """Only pass what is there: discord.py treats view=None / files=[] as instructions."""
    extra: dict = {}
    if view is not None:
        extra["view"] = view
    if files:
        extra["files"] = files
    return extra


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


async def serve(settings, engine, token: str, guild_id: int | None) -> None:
    from bot.cli import open_runtime

    runtime = await open_runtime(settings, engine, "discord")
    bot = DiscordBot(runtime, guild_id=guild_id)
    runtime.deliver = bot.deliver

    async def scheduler() -> None:
        await bot.wait_until_ready()  # deliver() needs a logged-in client
        await runtime.run_scheduler()

    try:
        async with bot:
            # beside the client, not from setup_hook: the timers are the runtime's, not the client's
            timers = asyncio.create_task(scheduler(), name="scheduler")
            try:
                await bot.start(token)
            finally:
                timers.cancel()
                await asyncio.gather(timers, return_exceptions=True)
    except discord.LoginFailure:
        raise ConfigError("DISCORD_TOKEN was rejected by Discord: reset the token in the developer portal "
                          f"({PORTAL}) and export the new one") from None
    finally:
        await runtime.storage.close()


def main(settings, engine, environ: Mapping[str, str] | None = None) -> int:
    """`stretchbot discord`. Bad configuration raises ConfigError (the CLI prints one line)."""
    environ = os.environ if environ is None else environ
    token = read_token(environ)
    guild_id = read_guild_id(environ)
    quiet_discord_logs()
    try:
        asyncio.run(serve(settings, engine, token, guild_id))
    except KeyboardInterrupt:
        pass
    return 0
