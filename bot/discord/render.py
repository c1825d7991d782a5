"""A MessageView as Discord shows it: Markdown content under 2,000 characters, buttons with styles by role.

Buttons are `DynamicItem`s whose custom_id carries only "owner:screen:choice", so a button keeps working
after a restart and any process can answer it.
"""

from __future__ import annotations

import io
import re
from typing import Any

import discord

from dialogs.views import MessageView, Role, TextPart

MAX_CONTENT = 2000  # Discord's limit for a message's text
STYLES: dict[Role, discord.ButtonStyle] = {
    "primary": discord.ButtonStyle.success, "danger": discord.ButtonStyle.danger,
    "secondary": discord.ButtonStyle.secondary,
}


class ChoiceButton(discord.ui.DynamicItem[discord.ui.Button[Any]],
                   template=r"(?P<owner>\d+):(?P<screen>\d+):(?P<choice>[a-z0-9_]+)"):
    """A button whose whole state is its custom_id: any client, before or after a restart, answers it."""

    def __init__(self, owner: int, screen: int, choice: str, label: str | None = None,
                 role: Role = "secondary") -> None:
        super().__init__(discord.ui.Button(label=(label or choice)[:80], custom_id=f"{owner}:{screen}:{choice}",
                                           style=STYLES[role]))
        self.owner, self.screen, self.choice = owner, screen, choice

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any],
                             match: re.Match[str]) -> ChoiceButton:
        label = item.label if isinstance(item, discord.ui.Button) else None
        return cls(int(match["owner"]), int(match["screen"]), match["choice"], label)

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        # Ownership is checked in the handler, not interaction_check: a False check would leave the
        # press unanswered ("This interaction failed").
        await interaction.client.on_choice(interaction, self)  # our DiscordBot client


def screen_view(owner: int, view: MessageView) -> discord.ui.View | None:
    """The buttons of a screen. Only DynamicItems: a view that also held static items would drop the
    DynamicItem registration when it times out."""
    if not view.buttons or view.screen is None:
        return None
    buttons = discord.ui.View(timeout=None)  # discord.py places 5 buttons per row by itself
    for choice in view.buttons[:25]:
        buttons.add_item(ChoiceButton(owner, view.screen, choice.choice, choice.label, choice.role))
    return buttons


def _part(part: TextPart, emphasis: bool) -> str:
    text = discord.utils.escape_markdown(part.text)
    if part.style != "plain" or emphasis:
        text = f"**{text}**"
    return f"• {text}" if part.bullet else text


def content_chunks(view: MessageView, limit: int = MAX_CONTENT) -> list[str]:
    """The text as Markdown in messages under `limit`, cut between paragraphs; a referral is bold with its
    marker. A paragraph too long for one message is cut between words and each piece marked up again, so
    bold never opens in one message and closes in the next."""
    emphasis = view.kind == "referral"
    paragraphs: list[str] = []
    for part in view.parts:
        text = _part(part, emphasis)
        if paragraphs and part.bullet and paragraphs[-1].startswith("• "):
            paragraphs[-1] += "\n" + text
        elif len(text) > limit // 2:
            # escaping at most doubles a character; room is left for "• ", "**" twice and the marker
            pieces = chunks(part.text, limit // 2 - 16)
            paragraphs += [_part(TextPart(piece, part.style, part.bullet), emphasis) for piece in pieces]
        else:
            paragraphs.append(text)
    if view.marker and paragraphs:
        paragraphs[0] = f"{view.marker} {paragraphs[0]}"
    messages: list[str] = []
    for paragraph in paragraphs or [""]:
        if messages and len(messages[-1]) + 2 + len(paragraph) <= limit:
            messages[-1] += "\n\n" + paragraph
        else:
            messages.append(paragraph)
    return [piece for message in messages for piece in chunks(message, limit)]  # a very long list: at its lines


def chunks(text: str, limit: int = MAX_CONTENT) -> list[str]:
    """Split text for Discord's limit, at a paragraph break if there is one in the second half of the
    message, else at a line break, else between words; never empty."""
    parts: list[str] = []
    while len(text) > limit:
        cut = limit
        for separator in ("\n\n", "\n", " "):
            found = text.rfind(separator, 0, limit)
            if found > limit // 2:
                cut = found
                break
        parts.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    return [*parts, text] if text or not parts else parts


def attachment_file(view: MessageView) -> discord.File | None:
    """The view's file or picture as a Discord attachment (a picture shows inline; `alt` is its description).
    Reads the file from disk: call it off the event loop."""
    attachment = view.attachment
    if attachment is None:
        return None
    description = attachment.alt[:1024] or None
    if attachment.data is not None:
        return discord.File(io.BytesIO(attachment.data), filename=attachment.name, description=description)
    if attachment.path:
        return discord.File(attachment.path, filename=attachment.name, description=description)
    return None
