"""Discord as a delivery transport (bot/delivery.py): an outbox body in, interaction responses and DMs out.

Where a message goes: the first message answering a slash command replaces the "stretchbot is thinking..."
placeholder (the interaction's @original); in a server the rest are ephemeral follow-ups on the user's
latest interaction token while it lives (15 minutes); after that, in DMs, and for daily reminders always,
a DM. The newest screen keeps its buttons, older screens lose theirs (best effort). Errors are sorted for
the sender: Retry, MaybeSent (the request went out, its answer was lost), Gone (DMs closed).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import discord

from bot.delivery import Gone, MaybeSent, Retry
from bot.discord.render import attachment_file, content_chunks, screen_view
from bot.outgoing import Outgoing
from bot.ratelimit import Rate, discord_rates
from dialogs.views import MessageView

log = logging.getLogger("stretchbot.discord")

TOKEN_MARGIN = timedelta(minutes=1)  # don't start a follow-up on a token about to expire
DMS_CLOSED = 50007  # "Cannot send messages to this user"
TRACKED_SCREENS = 10_000  # users whose newest screen we remember (to remove its buttons later)

# (text, view or None, files) -> the message sent (None if the platform returns none)
Send = Callable[[str, "discord.ui.View | None", list[discord.File]], Awaitable["discord.Message | None"]]


def token_alive(address: dict[str, Any]) -> bool:
    """Can this stored interaction token still be used (it lasts 15 minutes)?"""
    if not (address.get("token") and address.get("token_expires_at") and address.get("application_id")):
        return False
    return discord.utils.utcnow() < datetime.fromisoformat(address["token_expires_at"]) - TOKEN_MARGIN


class DiscordTransport:
    platform = "discord"

    def __init__(self, client: discord.Client, outgoing: Outgoing, *,
                 rates: Callable[[str], Sequence[Rate]] = discord_rates) -> None:
        self.client, self.outgoing = client, outgoing
        self._rates = rates
        # the newest message with buttons per user, so a newer screen can remove its buttons; memory only:
        # after a restart an old screen keeps its buttons and the engine calls them stale
        self._screens: dict[int, tuple[discord.Message, datetime | None]] = {}

    def rates(self, chat: str) -> Sequence[Rate]:
        return self._rates(chat)

    async def send(self, chat: str, body: dict[str, Any]) -> None:
        owner = int(body["user"][1])
        try:
            views = await self.outgoing.views(body)
            await self._show(owner, views, self._target(owner, body))
        except discord.Forbidden as error:
            if error.code == DMS_CLOSED:
                raise Gone(f"discord user {owner}: DMs closed") from error
            raise Gone(f"Discord: {error.status} {error.code}", whole_chat=False) from error
        except discord.HTTPException as error:
            if error.status == 429:
                raise Retry(None, "Discord rate limit") from error
            if error.status >= 500:
                raise Retry(None, f"Discord: {error.status}") from error
            raise Gone(f"Discord: {error.status} {error.code}", whole_chat=False) from error
        except (aiohttp.ClientConnectorError, aiohttp.ClientConnectionError) as error:
            if isinstance(error, aiohttp.ServerDisconnectedError):
                raise MaybeSent("Discord: the connection dropped after sending") from error
            raise Retry(None, f"Discord: {type(error).__name__}") from error
        except TimeoutError as error:
            raise MaybeSent("Discord: timed out after sending") from error

    # ---- where a message goes ---------------------------------------------------------------------
    def _target(self, owner: int, body: dict[str, Any]) -> Send:
        address: dict[str, Any] = body.get("address") or {}
        alive = body.get("kind") != "reminder" and token_alive(address)
        webhook = discord.Webhook.from_state(
            {"id": int(address["application_id"]), "type": 3, "token": address["token"]},
            state=self.client._connection) if alive else None  # an interaction's own webhook
        private = bool(address.get("guild_id"))  # in a server only the user sees the answers

        async def send(text: str, view: discord.ui.View | None, files: list[discord.File]) -> discord.Message | None:
            nonlocal webhook
            if webhook is not None:
                try:
                    # after a deferred "thinking..." answer, Discord makes the first follow-up that answer
                    # (edited in place, as private as it was); later ones are new messages
                    return await webhook.send(text, ephemeral=private, wait=True, **_attachments(view, files))
                except discord.NotFound:  # the token died after all (10015): the rest goes by DM
                    log.info("interaction token of user %s expired; sending by DM", owner)
                    webhook = None
            return await self._dm(owner, text, view, files)

        return send

    async def _dm(self, user_id: int, text: str, view: discord.ui.View | None,
                  files: list[discord.File]) -> discord.Message:
        user = self.client.get_user(user_id) or await self.client.fetch_user(user_id)
        return await user.send(text or None, **_attachments(view, files))

    # ---- the messages -----------------------------------------------------------------------------
    async def _show(self, owner: int, views: list[MessageView], send: Send) -> None:
        """Each view is a message (the newest screen carries the buttons); a notice is a short private note;
        an attachment (a picture, the /mydata export) goes with its message."""
        for view in views:
            if view.kind == "notice":
                await send(view.text, None, [])
                continue
            buttons = screen_view(owner, view)
            if buttons or view.kind == "referral":  # a newer screen (or the end): old buttons go
                await self.strip_screen(owner)
            parts = content_chunks(view)
            for part in parts[:-1]:
                await send(part, None, [])
            file = await asyncio.to_thread(attachment_file, view)
            sent = await send(parts[-1], buttons, [file] if file else [])
            if buttons and sent is not None:
                self._screens[owner] = (sent, None)
                if len(self._screens) > TRACKED_SCREENS:  # forget the oldest: worst case a stale press
                    del self._screens[next(iter(self._screens))]

    def forget_screen(self, owner: int, message_id: int) -> None:
        shown = self._screens.get(owner)
        if shown and shown[0].id == message_id:
            del self._screens[owner]

    async def strip_screen(self, owner: int) -> None:
        """Best effort: remove the buttons of the user's previous screen (its token may be gone)."""
        shown = self._screens.pop(owner, None)
        if shown is None:
            return
        message, _ = shown
        try:
            await message.edit(view=None)
        except discord.HTTPException as error:
            log.info("could not remove old buttons for user %s (%s)", owner, error.status)


def _attachments(view: discord.ui.View | None, files: list[discord.File]) -> dict[str, Any]:
    """Only pass what is there: discord.py treats view=None / files=[] as instructions."""
    extra: dict[str, Any] = {}
    if view is not None:
        extra["view"] = view
    if files:
        extra["files"] = files
    return extra
