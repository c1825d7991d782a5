"""A MessageView as Telegram shows it: HTML text in chunks under the size limit, and an inline keyboard.

Buttons carry "<owner id>:<screen>:<choice id>" only, so a press is checked against its owner and the
engine recognises stale screens, even across restarts.
"""

from __future__ import annotations

from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from dialogs.views import ButtonView, MessageView, TextPart

MAX_TEXT = 4000  # Telegram allows 4096 (UTF-16 units) after entity parsing; stay clear of the edge
MAX_CAPTION = 1000  # a photo's caption: 1024
MAX_CALLBACK_DATA_BYTES = 64
PARSE_MODE = "HTML"


def callback_data(owner: str, screen: int, choice: str) -> str:
    data = f"{owner}:{screen}:{choice}"
    if len(data.encode()) > MAX_CALLBACK_DATA_BYTES:
        raise ValueError(f"callback data over {MAX_CALLBACK_DATA_BYTES} bytes for choice {choice!r}")
    return data


def parse_callback_data(data: str | None) -> tuple[str, int, str] | None:
    """(owner user id, screen, choice id), or None for data we never made."""
    owner, screen, choice = ([*(data or "").split(":", 2), "", ""])[:3]
    if not owner.isdigit() or not screen.isdigit() or not choice:
        return None
    return owner, int(screen), choice


def keyboard(owner: str, view: MessageView) -> InlineKeyboardMarkup | None:
    """The buttons in the view's order: short labels share rows; "It hurts" (danger) always gets a row of
    its own, where the screen puts it (first during a hold), so every platform lists the same order."""
    if not view.buttons or view.screen is None:
        return None
    screen = view.screen

    def button(choice: ButtonView) -> InlineKeyboardButton:
        label = f"🛑 {choice.label}" if choice.role == "danger" else choice.label
        return InlineKeyboardButton(label, callback_data=callback_data(owner, screen, choice.choice))

    others = [b for b in view.buttons if b.role != "danger"]
    short = all(len(b.label) <= 14 for b in others)
    per_row = (3 if len(others) == 3 else 2) if short else 1
    rows: list[list[InlineKeyboardButton]] = []
    run: list[ButtonView] = []  # the buttons since the last danger button, laid out together
    for choice in [*view.buttons, None]:
        if choice is None or choice.role == "danger":
            rows += [[button(b) for b in run[i:i + per_row]] for i in range(0, len(run), per_row)]
            run = []
            if choice is not None:
                rows.append([button(choice)])
        else:
            run.append(choice)
    return InlineKeyboardMarkup(rows)


def part_html(part: TextPart, emphasis: bool = False) -> str:
    text = escape(part.text, quote=False)
    if part.style != "plain" or emphasis:
        text = f"<b>{text}</b>"
    return f"• {text}" if part.bullet else text


def html_chunks(view: MessageView, limit: int = MAX_TEXT) -> list[str]:
    """The view's text as HTML, split at paragraph boundaries so that no chunk exceeds `limit`.

    A referral is bold throughout and starts with its marker, so it never looks like any message."""
    emphasis = view.kind == "referral"
    paragraphs: list[str] = []
    for part in view.parts:
        html = part_html(part, emphasis)
        if paragraphs and part.bullet and paragraphs[-1].startswith("• "):
            paragraphs[-1] += "\n" + html  # list items stay together
        else:
            paragraphs += _split(html, part, emphasis, limit)
    if view.marker and paragraphs:
        paragraphs[0] = f"{view.marker} {paragraphs[0]}"
    chunks: list[str] = []
    for paragraph in paragraphs or [""]:
        if chunks and len(chunks[-1]) + 2 + len(paragraph) <= limit:
            chunks[-1] += "\n\n" + paragraph
        else:
            chunks.append(paragraph)
    return chunks


def _split(html: str, part: TextPart, emphasis: bool, limit: int) -> list[str]:
    """A paragraph too long for one message: split its plain text, then mark each piece up again."""
    if len(html) <= limit:
        return [html]
    size = limit // 6  # escaping makes a character at most 5 long ("&" -> "&amp;"), plus the tags
    pieces, text = [], part.text
    while text:
        cut = text.rfind(" ", 0, size)
        cut = cut if cut > size // 2 else size
        pieces.append(part_html(TextPart(text[:cut], part.style), emphasis))
        text = text[cut:].lstrip()
    return pieces
