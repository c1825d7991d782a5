"""The platform-neutral view of one outgoing message, produced once by dialogs.render.

Each adapter only maps a MessageView to its platform: Telegram HTML and an inline keyboard, Discord
content, button styles and components, console lines with numbered keys. So a referral looks like a
referral everywhere, and one conversation script can assert the same screens through every channel.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ViewKind = Literal["message", "cue", "referral", "reminder", "notice"]
Style = Literal["plain", "strong", "title"]
Role = Literal["primary", "danger", "secondary"]


@dataclass(frozen=True)
class TextPart:
    """A paragraph (or a line of a list) and how much weight it carries."""

    text: str
    style: Style = "plain"
    bullet: bool = False  # a list item ("• ...")


@dataclass(frozen=True)
class ButtonView:
    """A choice: the id a press sends, its label, its role (danger = pain), and a stable typed key (console)."""

    choice: str
    label: str
    role: Role = "secondary"
    key: str | None = None  # what to type on a keyboard-only channel; None: none (a typed number means a value)


@dataclass(frozen=True)
class Attachment:
    """Something sent with the message: a file (the /mydata export), or a picture.

    `data` holds a file's bytes; a picture is a `path` on disk plus a `digest` a platform may cache an
    upload under (Telegram file_id). `alt` describes a picture for people who cannot see it.
    """

    kind: Literal["file", "picture", "animation"]
    name: str
    data: bytes | None = None
    path: str | None = None
    digest: str | None = None
    alt: str = ""
    mime: str = "application/octet-stream"


@dataclass(frozen=True)
class MessageView:
    kind: ViewKind
    parts: tuple[TextPart, ...]
    buttons: tuple[ButtonView, ...] = ()
    screen: int | None = None  # the number the buttons carry
    marker: str = ""  # a sign for the kind (e.g. "⚠️" for a referral), from content; "" for plain messages
    attachment: Attachment | None = None
    typed_hint: str = ""  # for keyboard-only channels: what may be typed besides the keys (e.g. "a number 0-10")

    @property
    def text(self) -> str:
        """The whole message as plain text (paragraphs separated by blank lines, list items by line breaks)."""
        out: list[str] = []
        for part in self.parts:
            line = f"• {part.text}" if part.bullet else part.text
            if out and part.bullet and out[-1].startswith("• "):
                out[-1] += "\n" + line
            else:
                out.append(line)
        return "\n\n".join(out)
