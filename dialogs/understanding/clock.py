"""Times of day, pain scores and numbers of days as people type them.

"7:30", "19h30", "0730", "7pm", "7.30 am", "half past seven", "quarter to 8", "ten to nine", "half seven",
"seven thirty", "7 in the evening", "noon", "midnight", "7ish", and a bare "5" (an hour: 05:00). The words
(numbers, parts of the day, "past"/"to") come from the lexicon's `clock` section; the shapes are here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

_WORD = re.compile(r"[a-z]+|\d+")
_CLOCK = re.compile(r"(?<![\d.:])(\d{1,2})\s*[:.h]\s*(\d{2})(?![\d.:])")
_FOUR = re.compile(r"(?<![\d.:])(\d{3,4})(?![\d.:])")
_MAX_WORDS = 400  # a time is said in a few words: beyond these, a message is not a time answer


class ClockWords(BaseModel):
    """The lexicon's `clock` section."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    numbers: dict[str, int] = Field(min_length=10)  # "seven": 7, "twenty": 20, "a couple": 2
    am: list[str] = Field(min_length=1)  # words that put an hour in the morning ("am", "in the morning")
    pm: list[str] = Field(min_length=1)  # ... in the afternoon or evening ("pm", "tonight")
    named: dict[str, str] = Field(default_factory=dict)  # "noon": "12:00"
    past: list[str] = Field(min_length=1)  # "past", "after"
    to: list[str] = Field(min_length=1)  # "to", "till", "before"
    fractions: dict[str, int] = Field(default_factory=dict)  # "half": 30, "quarter": 15
    durations: dict[str, int] = Field(default_factory=dict)  # "week": 7, "fortnight": 14 (plurals with an s)


@dataclass(frozen=True, slots=True)
class _Word:
    kind: str  # "n" number, "am", "pm", "past", "to", "frac", "unit", "other"
    value: int = 0


class Clock:
    def __init__(self, words: ClockWords) -> None:
        self._single: dict[str, _Word] = {}
        self._phrases: dict[tuple[str, ...], _Word] = {}
        entries: list[tuple[str, _Word]] = [(k, _Word("n", v)) for k, v in words.numbers.items()]
        entries += [(k, _Word("am")) for k in words.am] + [(k, _Word("pm")) for k in words.pm]
        entries += [(k, _Word("past")) for k in words.past] + [(k, _Word("to")) for k in words.to]
        entries += [(k, _Word("frac", v)) for k, v in words.fractions.items()]
        for unit, days in words.durations.items():
            entries += [(unit, _Word("unit", days)), (unit + "s", _Word("unit", days))]
        for name, value in words.named.items():
            hour, minute = value.split(":")
            entries.append((name, _Word("named", int(hour) * 60 + int(minute))))
        for text, word in entries:
            parts = tuple(_WORD.findall(text.lower()))
            if len(parts) == 1:
                self._single[parts[0]] = word
            elif parts:
                self._phrases[parts] = word
        self._longest = max((len(p) for p in self._phrases), default=1)

    def _words(self, text: str) -> list[_Word]:
        raw = _WORD.findall(text)[:_MAX_WORDS]
        raw = [w[:-3] if w.endswith("ish") and len(w) > 3 else w for w in raw]  # "7ish", "sevenish"
        out: list[_Word] = []
        index = 0
        while index < len(raw):
            for size in range(min(self._longest, len(raw) - index), 1, -1):
                word = self._phrases.get(tuple(raw[index : index + size]))
                if word:
                    out.append(word)
                    index += size
                    break
            else:
                token = raw[index]
                out.append(
                    _Word("n", int(token))
                    if token.isdigit() and len(token) <= 3
                    else self._single.get(token, _Word("other"))
                )
                index += 1
        # "twenty five" -> 25
        merged: list[_Word] = []
        for word in out:
            if (
                word.kind == "n"
                and merged
                and merged[-1].kind == "n"
                and merged[-1].value in (20, 30, 40, 50)
                and 0 < word.value < 10
            ):
                merged[-1] = _Word("n", merged[-1].value + word.value)
            else:
                merged.append(word)
        return merged

    # ---- times ---------------------------------------------------------------------------------------
    def time_of_day(self, text: str) -> tuple[int, int] | None:
        words = self._words(text)
        half = next((w.kind for w in reversed(words) if w.kind in ("am", "pm")), None)  # "I am free at 7pm"
        match = _CLOCK.search(text)
        if match:
            return _with_half(int(match[1]), int(match[2]), half)
        for index, word in enumerate(words):
            if word.kind == "named":
                return divmod(word.value, 60)
            if word.kind in ("frac", "n") and index + 2 < len(words) and words[index + 1].kind in ("past", "to"):
                hour_word = words[index + 2]
                if hour_word.kind == "n" and word.value <= 59:
                    minutes = word.value
                    hour = hour_word.value if words[index + 1].kind == "past" else hour_word.value - 1
                    minute = minutes if words[index + 1].kind == "past" else 60 - minutes
                    return _with_half(hour % 24 if hour >= 0 else 23, minute, half)
            if word.kind == "frac" and word.value == 30 and index + 1 < len(words) and words[index + 1].kind == "n":
                return _with_half(words[index + 1].value, 30, half)  # "half seven": 7:30 (British)
        match = _FOUR.search(text)
        if match and len(match[1]) in (3, 4):
            digits = match[1].zfill(4)
            return _with_half(int(digits[:2]), int(digits[2:]), half)
        numbers = [i for i, w in enumerate(words) if w.kind == "n"]
        if numbers:
            first = numbers[0]
            hour = words[first].value
            following = words[first + 1] if first + 1 < len(words) else None
            if following is not None and following.kind == "n" and 0 <= following.value <= 59:
                return _with_half(hour, following.value, half)  # "seven thirty", "7 30"
            return _with_half(hour, 0, half)
        return None

    # ---- scores and days -----------------------------------------------------------------------------
    def numbers(self, text: str) -> list[int]:
        """Every number in the text, in order ("6/10" and "6 out of 10" give 6 only)."""
        out: list[int] = []
        skip_ten = False
        for word in self._words(text):
            if word.kind != "n":
                continue
            if skip_ten and word.value == 10:
                skip_ten = False
                continue
            out.append(word.value)
            skip_ten = _out_of(text, word.value)
        return out

    def days(self, text: str) -> int | None:
        """A number of days: "3", "3 days", "a week", "two weeks", "a fortnight"."""
        words = self._words(text)
        for index, word in enumerate(words):
            if word.kind == "unit":  # "a week", "2 weeks", "a couple of days"
                before = [w.value for w in words[max(0, index - 2) : index] if w.kind == "n"]
                return (before[-1] if before else 1) * word.value
        for index, word in enumerate(words):
            if word.kind == "n":
                after = words[index + 1] if index + 1 < len(words) else None
                return word.value * (after.value if after is not None and after.kind == "unit" else 1)
        return None


def _out_of(text: str, value: int) -> bool:
    return re.search(rf"(?<!\d){value}\s*(?:/|out\s+of|outta)\s*10(?!\d)", text) is not None


def _with_half(hour: int, minute: int, half: str | None) -> tuple[int, int] | None:
    if not 0 <= minute <= 59:
        return None
    if half is not None:
        if not 1 <= hour <= 12:
            return None  # "13pm", "0am"
        hour = hour % 12 + (12 if half == "pm" else 0)
    return (hour, minute) if 0 <= hour <= 23 else None
