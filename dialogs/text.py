"""Understanding typed text: phrase lists from content, and typed answers to the current choices."""
from __future__ import annotations

import re
import unicodedata
from functools import cached_property

from dialogs.content import Content, UnsafeRequest

# Only this much of a message is read: enough for any real answer, and a 1 MB paste costs nothing.
MAX_TEXT = 4000


def normalise(text: str) -> str:
    """Lower case, straight quotes, single spaces: so "That HURTS!" and "that hurts" read the same."""
    text = unicodedata.normalize("NFKC", text[:MAX_TEXT]).lower()
    text = text.replace("\u2019", "'").replace("\u2018", "'")
    return " ".join(text.split())


def _phrase_pattern(phrases: list[str]) -> re.Pattern[str]:
    # longest first so "sharp pain" wins over "pain"; whole words only ("pain" must not match "spain")
    parts = sorted({normalise(p) for p in phrases if p.strip()}, key=len, reverse=True)
    body = "|".join(re.escape(p).replace(r"\ ", r"\s+") for p in parts)
    return re.compile(rf"(?<![\w'])(?:{body})(?![\w'])")


class Understanding:
    """Compiled phrase lists for one Content; build once per engine."""

    def __init__(self, content: Content) -> None:
        self.content = content

    @cached_property
    def _pain(self) -> re.Pattern[str]:
        return _phrase_pattern(self.content.phrases.pain)

    @cached_property
    def _emergency(self) -> re.Pattern[str]:
        return _phrase_pattern(self.content.phrases.emergency)

    @cached_property
    def _unsafe(self) -> list[tuple[re.Pattern[str], UnsafeRequest]]:
        return [(_phrase_pattern(u.phrases), u) for u in self.content.phrases.unsafe]

    @cached_property
    def _yes(self) -> set[str]:
        return {normalise(p) for p in self.content.phrases.yes}

    @cached_property
    def _no(self) -> set[str]:
        return {normalise(p) for p in self.content.phrases.no}

    def is_emergency(self, text: str) -> bool:
        return bool(self._emergency.search(text))

    def is_pain(self, text: str) -> bool:
        return bool(self._pain.search(text))

    def unsafe_request(self, text: str) -> UnsafeRequest | None:
        for pattern, request in self._unsafe:
            if pattern.search(text):
                return request
        return None

    def yes_no(self, text: str) -> str | None:
        """'yes', 'no' or None for a typed answer such as "y", "Nope." or "no, never".

        Only a whole answer, a first part set off by punctuation, or words that are all yes words
        ("yeah sure") count: "no idea" or "not sure" must not be read as "no" on a red-flag
        question, so they get a hint instead.
        """
        whole = text.strip(" .!?")
        head = re.split(r"[,.;!?]", whole, maxsplit=1)[0].strip()
        for candidate in (whole, head):
            words = candidate.split()
            if candidate in self._yes or (words and all(w in self._yes for w in words)):
                return "yes"
            if candidate in self._no or (words and all(w in self._no for w in words)):
                return "no"
        return None


def score(text: str) -> int | None:
    """A 0-10 score typed as "7", "7/10" or "about a 4"; None when there is no such number."""
    match = re.search(r"(?<![\d.])(10|\d)(?![\d.])", text)
    return int(match.group(1)) if match else None


def match_choice(text: str, choices: list[tuple[str, str]]) -> str | None:
    """The id of the choice a typed answer names: its id, its label, or (one word) the label's first word."""
    cleaned = re.sub(r"[^\w' ]", " ", text).strip()
    cleaned = " ".join(cleaned.split())
    if not cleaned:
        return None
    for choice_id, label in choices:
        if cleaned in (choice_id.replace("_", " "), normalise(re.sub(r"[^\w' ]", " ", label)).strip()):
            return choice_id
    first_words = {}
    for choice_id, label in choices:
        words = re.sub(r"[^\w' ]", " ", normalise(label)).split()
        if words:
            first_words.setdefault(words[0], []).append(choice_id)
    # one typed word may stand for a label it begins ("tight" for "Tight but OK"), never more:
    # "no idea" must not read as "No"
    hits = first_words.get(cleaned, [])
    if len(hits) == 1:
        return hits[0]
    return None
