"""The answer to the question on screen: a choice, yes or no, a score, a time, a zone or a number of days.

A choice is named by its label as shown ("Tight but OK") or by what people type for it (content's
`choices`: "a bit tight", "fine", "done"...), never when negated ("not ready"). On a yes/no screen the
yes and no words are weighed with what colours them: "fine" is a no to a safety question but a yes
to an offer; "a bit" or "probably not" is doubt on a red-flag question; a denied symptom ("no
numbness") is a no. A number on a score screen is a score, on the time screen an hour, on the pause
screen days: never the number of a button.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from dialogs.understanding.clock import Clock
from dialogs.understanding.lexicon import Lexicon
from dialogs.understanding.normal import Tokens, fold, phrase_words
from dialogs.understanding.phrasebook import NEUTRAL, Match
from dialogs.understanding.readings import (
    Answer,
    Choose,
    Days,
    Doubt,
    Expectation,
    Option,
    Pick,
    Score,
    TimeOfDay,
    Zone,
    ZoneAmbiguous,
)
from dialogs.understanding.scope import NEG_BEFORE, Scope
from dialogs.understanding.zones import Zones

CHOICE = "choice:"
_LABEL_CACHE_LIMIT = 2_000
_MAX_SCORE = 10
_SHORT = 4  # words: "I do" is a yes, "I have back pain" is not an answer


@dataclass(frozen=True, slots=True)
class Message:
    """One message as read so far: its tokens, the lexicon's words for them, its phrases, and whether it
    denies a symptom ("no numbness", "doesn't hurt") without reporting one."""

    tokens: Tokens
    words: list[str]
    matches: list[Match]
    scope: Scope
    denial: bool


class AnswerReader:
    def __init__(self, lexicon: Lexicon, clock: Clock, zones: Zones) -> None:
        self._pairs = lexicon.choice_pairs
        self._denial_choices = lexicon.denial_choices
        self._cautious = lexicon.cautious_choices
        self._ordinals = lexicon.ordinals
        self._ordinal_nouns = frozenset(lexicon.ordinal_nouns)
        self._clock, self._zones = clock, zones
        self._labels: dict[str, tuple[str, ...]] = {}

    def answer(self, message: Message, expect: Expectation) -> Answer | None:
        kind = expect.answer
        if kind == "yes_no":
            return self._yes_no(message, expect)
        if kind == "choice":
            return self._choice(message, expect)
        text = message.tokens.text
        if kind == "score":
            return self._score(message, expect)
        if kind == "time":
            parsed = self._clock.time_of_day(text)
            return TimeOfDay(*parsed) if parsed else self._named(message, expect)
        if kind == "zone":
            zone: Zone | ZoneAmbiguous | None = self._zones.read(text)
            return zone if zone is not None else self._named(message, expect)
        if kind == "days":
            days = self._clock.days(text)
            return Days(days) if days is not None else self._named(message, expect)  # Days(count)
        return None

    # ---- choices -------------------------------------------------------------------------------------
    def _label_words(self, label: str) -> tuple[str, ...]:
        words = self._labels.get(label)
        if words is None:
            if len(self._labels) >= _LABEL_CACHE_LIMIT:
                self._labels.clear()
            words = self._labels[label] = phrase_words(label)
        return words

    def _named(self, message: Message, expect: Expectation) -> Choose | None:
        """The option a message names by label or synonym. When it names several, the most cautious
        (content's `cautious_choices`: "yes delete... no, cancel" cancels), else the first: people
        answer first and explain after ("good, the stiffness from yesterday has gone")."""
        named = [found[2] for found in self._named_all(message, expect.options)]
        if not named:
            return None
        cautious = [choice for choice in self._cautious if choice in named]
        return Choose(cautious[0] if cautious else named[0])

    def _named_all(self, message: Message, options: tuple[Option, ...]) -> list[tuple[int, int, str]]:
        words, scope = message.words, message.scope
        found: list[tuple[int, int, str]] = []
        present = set(words)
        longest_at: dict[int, Match] | None = None
        for option in options:
            for match in scope.by_class.get(_choice_class(option.id), ()):
                if scope.status(match) != "negated":
                    found.append((match.start, match.end, option.id))
            label = self._label_words(option.label)
            if not label or label[0] not in present:
                continue
            if longest_at is None:
                longest_at = {m.start: m for m in message.matches}
                masks = [m for m in message.matches if NEUTRAL in m.classes]
            for start in _occurrences(words, label):
                end = start + len(label)
                longer = longest_at.get(start)
                if longer is not None and longer.end > end:
                    continue  # "good" in "good morning"
                if any(m.start <= start and end <= m.end and (m.start, m.end) != (start, end) for m in masks):
                    continue
                if scope.status(Match(start, end, frozenset())) != "negated":
                    found.append((start, end, option.id))
        if len(found) < 2:
            return found
        # a name inside a longer one is part of it: the "ok" of "tight but ok" is not Good
        found = [
            f for f in found if not any(o[0] <= f[0] and f[1] <= o[1] and o[1] - o[0] > f[1] - f[0] for o in found)
        ]
        return sorted(found)

    def _choice(self, message: Message, expect: Expectation) -> Choose | Doubt | None:
        named = self._named(message, expect)
        if named is not None:
            return named
        for pair in self._pairs:
            if expect.has(pair.yes) and expect.has(pair.no):
                said = self._polarity(message, red_flag=False, offer=False)
                if said == "doubt":
                    return Choose(pair.unsure) if pair.unsure else Doubt()
                if said is not None:
                    return Choose(pair.yes if said == "yes" else pair.no)
        if message.denial:
            for choice_id in self._denial_choices:
                if expect.has(choice_id):
                    return Choose(choice_id)
        return None

    # ---- yes / no ------------------------------------------------------------------------------------
    def _yes_no(self, message: Message, expect: Expectation) -> Choose | Pick | Doubt | None:
        named = self._named(message, expect)  # the labels: "One or more", "None of these"
        said = self._polarity(message, red_flag=expect.red_flag, offer=expect.moment == "idle")
        picked = self._picked(message)
        if picked is not None and said in (None, "yes") and (named is None or named.choice_id == "yes"):
            return picked  # "the second one", "yes, number 2"
        if named is not None and said in (None, named.choice_id):
            return named
        if said == "doubt" or (named is not None and said is not None):
            return Doubt()
        return Choose(said) if said else None

    def _picked(self, message: Message) -> Pick | None:
        """An item of a listed group named by its place: "the second one", "2nd", "number 3", "the first"."""
        words, stops = message.words, message.tokens.stops
        for index, word in enumerate(words):
            place = self._ordinals.get(word)
            if place is None and word == "number" and index + 1 < len(words) and words[index + 1].isdigit():
                place = int(words[index + 1])
                index += 1
            elif place is None:
                continue
            named = index + 1 >= len(words) or stops[index + 1] > 0 or words[index + 1] in self._ordinal_nouns
            if named and message.scope.status(Match(index, index + 1, frozenset())) != "negated":
                return Pick(place - 1)
        return None

    def _polarity(self, message: Message, *, red_flag: bool, offer: bool) -> str | None:
        """ "yes", "no", "doubt", or None when the message says neither."""
        scope = message.scope
        yes = no = doubt = False

        def said(name: str) -> tuple[bool, bool]:  # (present, negated)
            found = scope.by_class.get(name, ())
            statuses = [scope.status(m) for m in found]
            return any(s != "negated" for s in statuses), any(s == "negated" for s in statuses)

        present, negated = said("yes")
        yes, no = present, negated  # "not correct" is a no
        if len(message.words) <= _SHORT and said("affirm")[0]:
            yes = True
        no = no or bool(scope.by_class.get("no"))
        agreeing, disagreeing = said("agree" if offer else "fine")
        if offer:
            yes, no = yes or agreeing, no or disagreeing
        else:
            no = no or agreeing  # "fine", "normal": all is well, so no to a safety question
        first = message.matches[0] if message.matches else None
        if first is not None and first.start == 0 and NEG_BEFORE in first.classes:
            no = True  # "not pregnant", "never had it", "haven't fallen"
        if scope.by_class.get("partly"):
            doubt, yes = (True, yes) if red_flag else (doubt, True)
        if scope.by_class.get("lean_no"):
            doubt, no = (True, no) if red_flag else (doubt, True)
        if scope.by_class.get("unsure"):
            doubt = True
        no = no or message.denial
        if yes and no:
            return "doubt"
        if doubt and (red_flag or not (yes or no)):
            return "doubt"
        return "yes" if yes else "no" if no else None

    # ---- numbers -------------------------------------------------------------------------------------
    def _score(self, message: Message, expect: Expectation) -> Score | Choose | None:
        """The highest number said (the cautious reading of "5 or 6"); a label typed whole is its option."""
        named = self._named(message, expect)
        typed = "".join(message.tokens.text.split())
        if named is not None and typed == "".join(fold(_label(expect, named.choice_id)).split()):
            return named  # the label typed whole: "7-10" (but "7/10" is a score)
        numbers = [n for n in self._clock.numbers(message.tokens.text) if n <= 99]
        if numbers:
            return Score(min(max(numbers), _MAX_SCORE))
        if named is not None:
            return named
        if message.denial or message.scope.by_class.get("no"):
            return Score(0)  # "no pain", "none"
        return None


@cache
def _choice_class(option_id: str) -> str:
    return CHOICE + option_id


def _label(expect: Expectation, option_id: str) -> str:
    return next((o.label for o in expect.options if o.id == option_id), "")


def _occurrences(words: list[str], label: tuple[str, ...]) -> list[int]:
    if not label:
        return []
    first, size = label[0], len(label)
    return [i for i, word in enumerate(words) if word == first and tuple(words[i : i + size]) == label]
