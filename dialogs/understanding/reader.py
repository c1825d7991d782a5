"""The reader: one typed message, in the context of the screen on display, to one Reading.

Priority when several meanings apply: an emergency sign reported as present, then pain, then an
unsafe request, then (during an exercise) words that might be pain, then the answer to the question
on screen, then doubt, then the rest (all is well, stop, help, thanks, a greeting). A denied or
negated report ("no numbness", "it doesn't hurt") is no report at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol
from zoneinfo import available_timezones

from dialogs.understanding.answers import CHOICE, AnswerReader, Message
from dialogs.understanding.clock import Clock
from dialogs.understanding.lexicon import Lexicon
from dialogs.understanding.normal import tokenise
from dialogs.understanding.phrasebook import NEUTRAL, Phrasebook
from dialogs.understanding.readings import (
    Choose,
    Doubt,
    Emergency,
    Expectation,
    Fine,
    Greeting,
    Help,
    Pain,
    Reading,
    Stop,
    Thanks,
    Unknown,
    Unsafe,
)
from dialogs.understanding.scope import (
    ANSWER_UNTIL,
    ANSWER_WORD,
    DOUBLE,
    HYPOTHETICAL,
    IMPROVING_AFTER,
    IMPROVING_BEFORE,
    NEG_AFTER,
    NEG_BEFORE,
    SUBJECT,
    UNTIL,
    CompiledRule,
    Finding,
    Scope,
)
from dialogs.understanding.zones import PlaceNames, Zones

SYMPTOMS = ("emergency", "pain")


class ContentLike(Protocol):
    """What the reader needs of dialogs.content.Content (a protocol: no import cycle with dialogs.content)."""

    @property
    def phrases(self) -> Lexicon: ...

    @property
    def places(self) -> PlaceNames: ...


class Reader:
    """Build once per content (compiling the lexicon takes milliseconds); `read` is pure and fast."""

    @classmethod
    def from_content(cls, content: ContentLike) -> Reader:
        return cls(content.phrases, content.places)

    def __init__(self, lexicon: Lexicon, places: PlaceNames, zone_names: Iterable[str] | None = None) -> None:
        self.lexicon = lexicon
        negation, answers, talk = lexicon.negation, lexicon.answers, lexicon.talk
        classes: dict[str, list[str]] = {**lexicon.words}
        classes.update(
            {
                NEG_BEFORE: negation.before,
                NEG_AFTER: negation.after,
                UNTIL: negation.until,
                IMPROVING_BEFORE: negation.improving_before,
                IMPROVING_AFTER: negation.improving_after,
                HYPOTHETICAL: negation.hypothetical,
                SUBJECT: negation.subjects,
                ANSWER_WORD: negation.answer_words,
                ANSWER_UNTIL: negation.answer_until,
                DOUBLE: negation.double,
                NEUTRAL: lexicon.neutral,
            }
        )
        classes.update(
            {
                "yes": answers.yes,
                "no": answers.no,
                "affirm": answers.affirm,
                "agree": answers.agree,
                "fine": answers.fine,
                "partly": answers.partly,
                "lean_no": answers.lean_no,
                "unsure": answers.unsure,
            }
        )
        classes.update({"stop": talk.stop, "greeting": talk.greeting, "thanks": talk.thanks, "help": talk.help})
        classes.update({CHOICE + choice_id: phrases for choice_id, phrases in lexicon.choices.items()})
        self._book = Phrasebook(
            classes,
            keep={*lexicon.words, SUBJECT, UNTIL, ANSWER_UNTIL},
            typo_targets=lexicon.typos.targets,
            real_words=lexicon.typos.real_words,
            typo_min_length=lexicon.typos.min_length,
        )
        self._rules = [
            CompiledRule(
                r.means,
                r.what,
                frozenset(r.all[0].split("|")),
                tuple(frozenset(e.split("|")) for e in r.all[1:]),
                r.within,
                r.order,
            )
            for r in lexicon.rules
        ]
        self._rules_by_head: dict[str, list[int]] = {}  # a rule is tried only when its head class is found
        for index, rule in enumerate(self._rules):
            for name in rule.head:
                self._rules_by_head.setdefault(name, []).append(index)
        self._symptom_classes = frozenset(
            name for r in lexicon.rules if r.means in SYMPTOMS for element in r.all for name in element.split("|")
        )
        self._answers = AnswerReader(
            lexicon, Clock(lexicon.clock), Zones(places, available_timezones() if zone_names is None else zone_names)
        )

    def read(self, text: str, expect: Expectation) -> Reading:
        tokens = tokenise(text)
        words, matches = self._book.scan(tokens)
        scope = Scope(
            tokens,
            matches,
            window_before=self.lexicon.negation.window_before,
            window_after=self.lexicon.negation.window_after,
            list_classes=self._symptom_classes,
        )
        topic_class = self.lexicon.topics.get(expect.topic or "")
        rules = [
            self._rules[i] for i in sorted({i for name in scope.by_class for i in self._rules_by_head.get(name, ())})
        ]
        findings = scope.find(rules, frozenset({topic_class}) if topic_class else frozenset())
        first: dict[str, Finding] = {}  # meaning -> the earliest finding reported as present
        symptoms = [f for f in findings if f.means in SYMPTOMS]
        for finding in findings:
            if finding.status == "present" and (finding.means not in first or finding.at < first[finding.means].at):
                first[finding.means] = finding
        denial = any(f.status == "negated" for f in symptoms) and not any(f.status == "present" for f in symptoms)
        message = Message(tokens, words, matches, scope, denial)

        if "emergency" in first:
            return Emergency(first["emergency"].what)
        # an emergency sign said to be easing, or in the past tense, is still reported: only a denial or a
        # question ("what if my legs go numb?") keeps it from the emergency text
        easing = [f for f in findings if f.means == "emergency" and f.status == "improving"]
        if easing:
            return Emergency(min(easing, key=lambda f: f.at).what)
        if "pain" in first:
            answer = self._answers.answer(message, expect)
            return Pain(first["pain"].what, None if isinstance(answer, Doubt) else answer)
        if "unsafe" in first:
            return Unsafe(first["unsafe"].what)
        maybe_pain = "maybe_pain" in first or any(f.status in ("hypothetical", "improving") for f in symptoms)
        if maybe_pain and expect.moment == "exercise":
            return Doubt(pain=True)
        answer = self._answers.answer(message, expect)
        if isinstance(answer, Choose) and answer.choice_id in self.lexicon.pain_choices:
            return Pain("pain", answer)  # "yes" to "Does anything hurt?", or the It hurts label typed
        if answer is not None:
            return answer
        if maybe_pain:
            return Doubt(pain=True)
        return _rest(message)


def _rest(message: Message) -> Reading:
    scope = message.scope

    def said(name: str) -> bool:
        return any(scope.status(m) != "negated" for m in scope.by_class.get(name, ()))

    if said("unsure") or said("partly") or said("lean_no"):
        return Doubt()
    if message.denial or said("fine"):
        return Fine()
    if said("stop"):
        return Stop()
    if said("help"):
        return Help()
    if said("thanks"):
        return Thanks()
    if said("greeting"):
        return Greeting()
    return Unknown()
