"""What a message should look like, rendered by the real renderer from content: tests compare what a
platform showed with this, so no test copies English. Shared by the Telegram, Discord and console worlds.
"""

from __future__ import annotations

from collections.abc import Mapping

from dialogs.events import Line, MessageKind, Say
from dialogs.render import Renderer
from dialogs.state import Param, Screen
from dialogs.views import MessageView


def shown(view: MessageView) -> str:
    """A view's text as every channel shows it, markup aside: its marker, a space, then the text."""
    return f"{view.marker} {view.text}" if view.marker else view.text


def line(key: str, **params: Param) -> Line:
    return Line(key, params)


def screen(screen_id: str, **params: Param) -> Screen:
    return Screen(id=screen_id, params=params)


def exercise(renderer: Renderer, screen_id: str, routine: str = "lower5", index: int = 0, hold: int = 0) -> Screen:
    """An exercise screen (stretch.position, .hold, .checkin) of a routine's stretch number `index`, with the
    parameters the engine draws it with on a first session (today's plan = the routine as written)."""
    stretches = renderer.content.routines[routine].stretches
    params: dict[str, Param] = {"stretch": stretches[index], "number": index + 1, "count": len(stretches)}
    if screen_id != "stretch.checkin":
        params["hold"] = hold
    return Screen(id=screen_id, params=params)


def view(
    renderer: Renderer,
    *lines: Line | str,
    on: Screen | None = None,
    kind: MessageKind = "message",
    params: Mapping[str, Param] | None = None,
) -> MessageView:
    """The view of a message with these lines (a bare string is a ui key) and optionally a screen."""
    said = tuple(Line(item, params or {}) if isinstance(item, str) else item for item in lines)
    return renderer.render(Say(said, on, 1 if on is not None else None, kind))


def text(renderer: Renderer, *lines: Line | str, on: Screen | None = None, kind: MessageKind = "message") -> str:
    """The text of that message as a platform shows it (see `shown`)."""
    return shown(view(renderer, *lines, on=on, kind=kind))


def referral(renderer: Renderer, level: str) -> str:
    """A referral message as shown: "pain" is the pain stop, else the level's referral text."""
    said = line("@pain_stop") if level == "pain" else line("@referral", level=level)
    return text(renderer, said, kind="referral")
