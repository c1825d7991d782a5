"""Negation scopes (NegEx-style) and the lexicon's rules, over one message's phrases.

A cue before a phrase ("no", "don't", "without") negates it when it stands at most `window_before`
words earlier in the same sentence, with no "but"/"however" and no comma in between; a comma is crossed
only in a list of symptoms ("no numbness, tingling or weakness"). A cue directly followed by
punctuation is an answer, not a scope: "no, it hurts" is pain. Cues after a phrase ("pain free",
"the ache has gone", "hurts less than yesterday") work the same way backwards within `window_after`.

Every query is a bisection or a prefix sum, so a message of any length is read in linear time.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import Literal

from dialogs.understanding.normal import HARD, SOFT, Tokens
from dialogs.understanding.phrasebook import Match, positions_by_class

Status = Literal["present", "hypothetical", "improving", "negated"]
RANK: dict[Status, int] = {"present": 0, "hypothetical": 1, "improving": 2, "negated": 3}
NEG_BEFORE, NEG_AFTER = "neg_before", "neg_after"
IMPROVING_BEFORE, IMPROVING_AFTER = "improving_before", "improving_after"
HYPOTHETICAL, UNTIL = "hypothetical", "until"
SUBJECT, ANSWER_WORD, ANSWER_UNTIL = "subject", "answer_word", "answer_until"
DOUBLE = "double"  # "without": after another negation it cancels it
_BEFORE: tuple[tuple[str, Status], ...] = (
    (NEG_BEFORE, "negated"),
    (IMPROVING_BEFORE, "improving"),
    (HYPOTHETICAL, "hypothetical"),
)
_AFTER: tuple[tuple[str, Status], ...] = ((NEG_AFTER, "negated"), (IMPROVING_AFTER, "improving"))
_CUES = frozenset(name for name, _ in _BEFORE + _AFTER)
_HARD, _SOFT = " hard", " soft"  # keys of the stop counts among the class counts (no class has a space)


@dataclass(frozen=True, slots=True)
class CompiledRule:
    means: str
    what: str
    head: frozenset[str]
    others: tuple[frozenset[str], ...]
    within: int
    order: str


@dataclass(frozen=True, slots=True)
class Finding:
    means: str
    what: str
    status: Status
    at: int  # token index of the head


class Scope:
    """One message's phrases, indexed for negation and rule queries."""

    def __init__(
        self,
        tokens: Tokens,
        matches: Sequence[Match],
        *,
        window_before: int,
        window_after: int,
        list_classes: frozenset[str],
    ) -> None:
        self.size = len(tokens)
        self.stops = tokens.stops
        self.window_before, self.window_after = window_before, window_after
        self.by_class = positions_by_class(matches)
        self._starts: dict[str, list[int]] = {}
        self._matches = matches
        self._list_classes = list_classes  # a comma right after one continues a list under the same negation
        self._list_ends: frozenset[int] | None = None
        self._prefixes: dict[str, list[int]] = {}
        self._cued = not _CUES.isdisjoint(self.by_class)
        self._statuses: dict[Match, Status] = {}

    # prefix counts over the tokens, built on first use (most messages never need them); plain attributes,
    # not functools.cached_property, whose lock costs more than the work here (Python 3.11)
    def _counts(self, name: str) -> list[int]:
        counts = self._prefixes.get(name)
        if counts is None:
            if name == _HARD:
                counts = [0, *accumulate(map(HARD.__eq__, self.stops))]
            elif name == _SOFT:
                counts = [0, *accumulate(map(SOFT.__eq__, self.stops))]
            else:
                counts = self._prefix(name)
            self._prefixes[name] = counts
        return counts

    def _list_end(self, index: int) -> bool:
        if self._list_ends is None:
            self._list_ends = frozenset(m.end for m in self._matches if m.classes & self._list_classes)
        return index in self._list_ends

    def sentence(self, index: int) -> int:
        """Which sentence token `index` is in (counting hard stops)."""
        return self._counts(_HARD)[index + 1]

    def _prefix(self, name: str) -> list[int]:
        """prefix[i]: how many matches of the class start before token i."""
        marks = [0] * (self.size + 1)
        for match in self.by_class.get(name, ()):
            marks[match.start + 1] = 1
        return list(accumulate(marks))

    # ---- queries -------------------------------------------------------------------------------------
    def near(self, names: frozenset[str], low: int, high: int) -> list[Match]:
        """Matches of any of these classes starting in [low, high]."""
        out: list[Match] = []
        for name in names:
            out += self._near(name, low, high)
        return out

    def _near(self, name: str, low: int, high: int) -> list[Match]:
        found = self.by_class.get(name)
        if not found:
            return []
        starts = self._starts.get(name)
        if starts is None:
            starts = self._starts[name] = [m.start for m in found]
        index = bisect_left(starts, low)
        end = index
        while end < len(starts) and starts[end] <= high:
            end += 1
        return found[index:end]

    def _clear(self, left: int, right: int, *, list_ok: bool, answer: bool = False, clause: bool = True) -> bool:
        """No hard stop, "but" or new clause between token `left` (exclusive) and `right`; a comma only in a
        list of symptoms. After an answer word ("no", "nope") a possessive starts a new clause too."""
        if left >= right:
            return True
        hard, soft, until = self._counts(_HARD), self._counts(_SOFT), self._counts(UNTIL)
        if hard[right + 1] - hard[left + 1] or until[right] - until[left + 1]:
            return False  # a full stop, or "but"
        if answer and (after_answer := self._counts(ANSWER_UNTIL))[right] - after_answer[left + 1]:
            return False  # "no my legs are numb"
        if clause and (subject := self._counts(SUBJECT))[right + 1] - subject[left + 1]:
            return False  # a new clause, even one the phrase itself starts ("no no no it hurts")
        if soft[right + 1] - soft[left + 1] == 0:
            return True
        if not list_ok:
            return False
        comma = next(i for i in range(right, left, -1) if self.stops[i] == SOFT)  # the last one before `right`
        return self._list_end(comma) and right - comma <= 2

    def status(self, head: Match) -> Status:
        if not self._cued:
            return "present"  # most messages have no negation, hedge or hypothesis at all
        known = self._statuses.get(head)
        if known is None:
            known = self._statuses[head] = self._status(head)
        return known

    def _cues_before(self, name: str, head: Match, *, list_ok: bool, clause: bool = True) -> list[Match]:
        """The cues of a class whose scope reaches the head, nearest last."""
        out = []
        for cue in self._near(name, head.start - self.window_before - 4, head.start - 1):
            if cue.end > head.start or head.start - cue.end > self.window_before:
                continue
            if cue.end < self.size and self.stops[cue.end]:
                continue  # "no, it hurts": an answer, not a scope
            answer = ANSWER_WORD in cue.classes
            new_clause = clause and name != HYPOTHETICAL  # "what if it hurts": the clause is what it is about
            if self._clear(cue.end - 1, head.start, list_ok=list_ok, answer=answer, clause=new_clause):
                out.append(cue)
        return out

    def _status(self, head: Match) -> Status:
        best: Status = "present"
        in_list = bool(head.classes & self._list_classes)
        for name, meaning in _BEFORE:
            cues = self._cues_before(name, head, list_ok=in_list)
            if not cues or RANK[meaning] <= RANK[best]:
                continue
            nearest = cues[-1]
            if (
                name == NEG_BEFORE
                and DOUBLE in nearest.classes
                and self._cues_before(name, nearest, list_ok=False, clause=False)
            ):
                continue  # "I can't do that without pain": two negations, so the pain is there
            best = meaning
        for name, meaning in _AFTER:
            for cue in self._near(name, head.end, head.end + self.window_after):
                if self._clear(head.end - 1, cue.start, list_ok=False) and RANK[meaning] > RANK[best]:
                    best = meaning
        return best

    # ---- rules ---------------------------------------------------------------------------------------
    def heads(self, names: frozenset[str]) -> list[Match]:
        found = [m for name in names for m in self.by_class.get(name, ())]
        return sorted(set(found), key=lambda m: m.start) if len(names) > 1 else found

    def _others_near(self, rule: CompiledRule, head: Match, supplied: frozenset[str]) -> bool:
        sentence = self.sentence(head.start)
        for names in rule.others:
            if names & supplied:
                continue
            low = head.start - rule.within if rule.order != "after" else head.start
            high = head.end - 1 + rule.within if rule.order != "before" else head.start
            ok = False
            for other in self.near(names, max(0, low), high):
                if self.sentence(other.start) != sentence:
                    continue
                if rule.order == "after" and other.start < head.end:
                    continue
                if rule.order == "before" and other.end > head.start:
                    continue
                ok = True
                break
            if not ok:
                return False
        return True

    def find(self, rules: Sequence[CompiledRule], supplied: frozenset[str]) -> list[Finding]:
        """For each rule that applies, its finding with the strongest status (present first)."""
        out: list[Finding] = []
        for rule in rules:
            best: Finding | None = None
            for head in self.heads(rule.head):
                if not self._others_near(rule, head, supplied):
                    continue
                status = self.status(head)
                if best is None or RANK[status] < RANK[best.status]:
                    best = Finding(rule.means, rule.what, status, head.start)
                    if status == "present":
                        break
            if best is not None:
                out.append(best)
        return out
