"""Adaptation notes in words, from content/adaptation.yaml (texts) and content/progress.yaml (plurals).

A Note is data (a text key and params: stretch and routine ids, numbers); here ids become titles and counts
their plural forms, when the note is shown, so a content fix reaches every stored note.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from dialogs.adaptation import Note
from dialogs.adaptation_rules import AdaptationRules, RoutineLike, StretchLike
from dialogs.progress_words import ProgressWords


class AdaptationContent(Protocol):
    """What `note_text` reads of dialogs.content.Content."""

    @property
    def adaptation(self) -> AdaptationRules: ...
    @property
    def progress(self) -> ProgressWords: ...
    @property
    def stretches(self) -> Mapping[str, StretchLike]: ...
    @property
    def routines(self) -> Mapping[str, RoutineLike]: ...


def note_text(note: Note, content: AdaptationContent) -> str:
    """A note in words: stretch and routine ids become their titles, counts their plural forms."""
    units = content.progress.units
    values: dict[str, str] = {}
    for name, value in note.params.items():
        if name in ("stretch", "variant"):
            stretch = content.stretches.get(str(value))
            values[name] = stretch.title if stretch is not None else str(value)
        elif name in ("routine", "longer"):
            routine = content.routines.get(str(value))
            values[name] = routine.title if routine is not None else str(value)
        elif name == "days" and isinstance(value, int):
            values[name] = units.day.of(value)
        elif name == "sessions" and isinstance(value, int):
            values[name] = units.session.of(value)
        elif name == "stops" and isinstance(value, int):
            values[name] = units.time.of(value)
        else:
            values[name] = str(value)
    text: str = getattr(content.adaptation.texts, note.key)
    return text.format(**values)
