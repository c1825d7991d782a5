"""Finding the lexicon's phrases in a token stream: a word trie, typo tolerance, masking.

At every token the longest phrase starting there counts ("a bit tight" is tight, not the hedge "a bit";
"can't move" is not the negation "can't", so a phrase that is also a negation cue is listed as one:
"can't feel" in "I can't feel any pain"). Shorter phrases starting at the same token add only their
`keep` classes (symptoms, clause words): "worse now" is an answer on one screen and still worsening.
Phrases starting at later tokens count too ("tight" inside "a bit tight" is also a chest symptom).
A `neutral` phrase ("knee to chest", "no doubt", "could be worse") hides every phrase inside it.

Typos: a word that is not in the lexicon is compared with the lexicon's typo targets ("hurst" ->
"hurts", "numbess" -> "numbness") by one edit (insertion, deletion, substitution or swap of two
neighbours), only one swap for words under five letters ("pian" -> "pain", never "pan"), and never for
real words the lexicon lists ("spain", "paint"). Letters held down ("owwww", "sooooore") are squeezed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from dialogs.understanding.normal import Tokens, phrase_words

NEUTRAL = "neutral"
_HELD = re.compile(r"(.)\1{2,}")  # a letter typed three or more times in a row
_CACHE_LIMIT = 20_000  # distinct unknown words remembered between reads (a pure memo: bounded, never stale)


@dataclass(frozen=True, slots=True)
class Match:
    start: int
    end: int  # exclusive
    classes: frozenset[str]


class _Node:
    __slots__ = ("children", "classes")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.classes: frozenset[str] = frozenset()


class Phrasebook:
    """Compiled phrase lists: class name -> phrases. Build once per lexicon; scanning is pure."""

    def __init__(
        self,
        classes: Mapping[str, Iterable[str]],
        *,
        keep: Iterable[str] = (),
        typo_targets: Iterable[str] = (),
        real_words: Iterable[str] = (),
        typo_min_length: int = 5,
    ) -> None:
        self._root = _Node()
        self._keep = frozenset(keep)
        vocabulary: set[str] = set()
        for name, phrases in classes.items():
            for phrase in phrases:
                words = phrase_words(phrase)
                if not words:
                    continue
                vocabulary.update(words)
                node = self._root
                for word in words:
                    node = node.children.setdefault(word, _Node())
                node.classes = node.classes | {name}
        self._vocabulary = frozenset(vocabulary)
        self._real_words = frozenset(w for p in real_words for w in phrase_words(p))
        self._min_length = typo_min_length
        self._typo_index: dict[str, list[str]] = {}
        for target in sorted({w for p in typo_targets for w in phrase_words(p)}):
            for key in {target, *_deletions(target)}:
                self._typo_index.setdefault(key, []).append(target)
        self._canon_cache: dict[str, str] = {}

    # ---- words -------------------------------------------------------------------------------------
    def canon(self, word: str) -> str:
        """The lexicon word a typed word stands for (itself when it is known or no typo fits)."""
        if word in self._vocabulary:
            return word
        known = self._canon_cache.get(word)
        if known is None:
            known = self._correct(word)
            if len(self._canon_cache) >= _CACHE_LIMIT:
                self._canon_cache.clear()
            self._canon_cache[word] = known
        return known

    def _correct(self, word: str) -> str:
        if not word.isalpha() or word in self._real_words or len(word) > 24:
            return word
        candidates = [word]
        if _HELD.search(word):
            candidates = [_HELD.sub(r"\1\1", word), _HELD.sub(r"\1", word)]
            for squeezed in candidates:
                if squeezed in self._vocabulary:
                    return squeezed
        for candidate in candidates:
            target = self._typo_of(candidate)
            if target:
                return target
        return word

    def _typo_of(self, word: str) -> str | None:
        if len(word) < 4:
            return None
        seen: set[str] = set()
        for key in (word, *_deletions(word)):
            for target in self._typo_index.get(key, ()):
                if target not in seen:
                    seen.add(target)
                    if _one_edit(word, target, short=min(len(word), len(target)) < self._min_length):
                        return target
        return None

    # ---- phrases -----------------------------------------------------------------------------------
    def scan(self, tokens: Tokens) -> tuple[list[str], list[Match]]:
        """The words as the lexicon knows them, and the longest phrase starting at each word (in order of
        start) less what neutral phrases hide."""
        vocabulary = self._vocabulary
        words = [w if w in vocabulary else self.canon(w) for w in tokens.words]
        stops = tokens.stops
        found: list[Match] = []
        children = self._root.children
        for start in range(len(words)):
            node = children.get(words[start])
            if node is None:
                continue
            longest: tuple[int, frozenset[str]] | None = None
            kept: frozenset[str] = frozenset()
            position = start + 1
            while True:
                if node.classes:
                    if longest is not None:
                        kept = kept | (longest[1] & self._keep)
                    longest = (position, node.classes)
                if position >= len(words) or stops[position]:
                    break
                next_node = node.children.get(words[position])
                if next_node is None:
                    break
                node, position = next_node, position + 1
            if longest is not None:
                classes = longest[1] if NEUTRAL in longest[1] or not kept else longest[1] | kept
                found.append(Match(start, longest[0], classes))
        return words, _unmasked(found)


def _unmasked(found: list[Match]) -> list[Match]:
    """Drop what lies inside a neutral phrase ("no" in "no doubt", "chest" in "knee to chest")."""
    if not any(NEUTRAL in m.classes for m in found):
        return found
    kept: list[Match] = []
    mask_end = -1
    mask_start = -1
    for match in found:  # in order of start: a mask hides the matches that start and end inside it
        inside = mask_start < match.start and match.end <= mask_end
        if NEUTRAL in match.classes and match.end > mask_end:
            mask_start, mask_end = match.start, match.end
        if not inside:
            kept.append(match)
    return kept


def _deletions(word: str) -> list[str]:
    return [word[:i] + word[i + 1 :] for i in range(len(word))]


def _one_edit(word: str, target: str, *, short: bool) -> bool:
    """One edit apart; for short words only a swap of two neighbouring letters counts."""
    if len(word) == len(target):
        diff = [i for i, (a, b) in enumerate(zip(word, target, strict=True)) if a != b]
        if len(diff) == 2 and diff[1] == diff[0] + 1:
            return word[diff[0]] == target[diff[1]] and word[diff[1]] == target[diff[0]]
        return len(diff) == 1 and not short
    if short or abs(len(word) - len(target)) != 1:
        return False
    longer, shorter = (word, target) if len(word) > len(target) else (target, word)
    return any(longer[:i] + longer[i + 1 :] == shorter for i in range(len(longer)))


def positions_by_class(matches: Sequence[Match]) -> dict[str, list[Match]]:
    """Class name -> its matches in order of start."""
    out: dict[str, list[Match]] = {}
    for match in matches:
        for name in match.classes:
            out.setdefault(name, []).append(match)
    return out
