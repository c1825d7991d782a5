"""Normalising and tokenising typed text: one linear pass, however long the message.

"Zürich" and "zurich", "CAN'T" and "can’t" and "cant" read the same: text is case-folded, accents and
emoji modifiers are dropped, apostrophes inside words are removed ("can't" -> "cant", "wife's" ->
"wifes"). Words and emoji become tokens; punctuation becomes a stop between tokens (a comma a soft
stop, a full stop, ?, !, ;, : or a new line a hard one), which negation scopes and phrases never cross.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

SOFT, HARD = 1, 2

_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'", "\u00b4": "'", "\u2032": "'"})
# combining accents, emoji variation selectors, zero-width joiners, skin tones: dropped after NFKD
_MARKS = re.compile("[\u0300-\u036f\ufe0e\ufe0f\u200d\U0001f3fb-\U0001f3ff]")
_INNER_APOSTROPHE = re.compile(r"(?<=[^\W_])'(?=[^\W_])")
_TOKEN = re.compile(
    r"(?P<word>[^\W_]+)|(?P<hard>[.!?;:\n]|\s[-\u2013\u2014]+\s)|(?P<soft>,)|(?P<symbol>[^\x00-\x7f\s\w])"
)


def fold(text: str) -> str:
    """Lower case without accents, straight apostrophes: "Zürich" -> "zurich", "Can’t" -> "can't"."""
    text = text.translate(_QUOTES)
    if not text.isascii():
        text = _MARKS.sub("", unicodedata.normalize("NFKD", text))
    return text.casefold()


@dataclass(frozen=True, slots=True)
class Tokens:
    """The words and emoji of a message, and the stop before each (0 none, SOFT comma, HARD sentence)."""

    words: tuple[str, ...]
    stops: tuple[int, ...]  # stops[i]: the strongest break between words[i - 1] and words[i]
    text: str  # the folded text (times, zones and numbers are read from it)

    def __len__(self) -> int:
        return len(self.words)


def tokenise(raw: str) -> Tokens:
    text = fold(raw)
    words: list[str] = []
    stops: list[int] = []
    pending = 0
    for word, hard, _comma, symbol in _TOKEN.findall(_INNER_APOSTROPHE.sub("", text)):
        if word or symbol:
            words.append(word or symbol)
            stops.append(pending)
            pending = 0
        elif hard:
            pending = HARD
        elif pending == 0:
            pending = SOFT
    return Tokens(tuple(words), tuple(stops), text)


def phrase_words(phrase: str) -> tuple[str, ...]:
    """The tokens of a lexicon phrase, normalised as typed text is ("Can't feel" -> ("cant", "feel"))."""
    return tokenise(phrase).words
