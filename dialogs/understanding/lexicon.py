"""The lexicon in content/phrases.yaml, validated at load: word classes, the rules that give them meaning,
negation cues, answers, choice synonyms, typo targets and the unsafe requests to refuse.

Everything the reader recognises is data here; the code only knows the section names. A rule names
word classes ("nerve|weak" is either class) that must occur in one sentence within `within` words;
the first is its head, on which negation is read ("no numbness in my legs").
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, field_validator

from dialogs.understanding.clock import ClockWords

Phrase = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
ClassName = Annotated[str, StringConstraints(pattern=r"^[a-z_]{2,32}(\|[a-z_]{2,32})*$")]
Phrases = list[Phrase]

MEANINGS = ("emergency", "pain", "maybe_pain", "unsafe")
SIGNS = ("saddle", "bladder_bowel", "both_legs", "chest")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


class Rule(_Strict):
    means: Literal["emergency", "pain", "maybe_pain", "unsafe"]
    what: str = Field(pattern=r"^[a-z_]{2,32}$")  # emergency sign, pain kind, or unsafe request id
    all: list[ClassName] = Field(min_length=1, max_length=4)  # the first is the head
    within: int = Field(default=8, ge=1, le=20)  # words between the head and each other class
    order: Literal["any", "after", "before"] = "any"  # where the other classes stand relative to the head
    examples: Phrases = Field(default_factory=list)  # messages this rule must read (tests check them)

    @field_validator("what")
    @classmethod
    def _sign(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("means") == "emergency" and value not in SIGNS:
            raise ValueError(f"emergency sign {value!r} is not one of {', '.join(SIGNS)}")
        return value


class Negation(_Strict):
    before: Phrases = Field(min_length=1)  # "no", "not", "don't": negate what follows within window_before
    after: Phrases = Field(min_length=1)  # "free", "gone": negate what comes just before
    improving_before: Phrases = Field(default_factory=list)  # "less" (less sore): not a report, but ask
    improving_after: Phrases = Field(default_factory=list)  # "less", "better" (hurts less than yesterday)
    hypothetical: Phrases = Field(default_factory=list)  # "what if", "will it": not a report, but ask
    until: Phrases = Field(min_length=1)  # "but", "however": a scope ends here
    subjects: Phrases = Field(default_factory=list)  # "it", "i", "they": a new clause, so a scope ends here too
    answer_words: Phrases = Field(default_factory=list)  # "no", "nope": also an answer; their scope is shorter
    answer_until: Phrases = Field(default_factory=list)  # "my", "the": end an answer word's scope ("no my legs...")
    double: Phrases = Field(default_factory=list)  # "without": after another negation both cancel ("can't X without")
    window_before: int = Field(default=5, ge=1, le=10)

    @field_validator("double")
    @classmethod
    def _double_cues_are_cues(cls, value: list[str], info: ValidationInfo) -> list[str]:
        missing = [p for p in value if p not in (info.data.get("before") or ())]
        if missing:
            raise ValueError(f"{missing[0]!r} must also be in negation.before")
        return value

    window_after: int = Field(default=3, ge=1, le=6)


class Answers(_Strict):
    """Answers to a yes/no question, and the words that colour them."""

    yes: Phrases = Field(min_length=1)
    no: Phrases = Field(min_length=1)
    affirm: Phrases = Field(default_factory=list)  # a yes only as a short answer: "I do" (not "I have back pain")
    agree: Phrases = Field(min_length=1)  # a yes to an offer (idle yes/no screens): "ok", "fine", "sure"
    fine: Phrases = Field(min_length=1)  # all is well: a no to a safety question, Fine elsewhere
    partly: Phrases = Field(min_length=1)  # "a bit", "kind of": a yes, but doubt on a red-flag question
    lean_no: Phrases = Field(min_length=1)  # "probably not": a no, but doubt on a red-flag question
    unsure: Phrases = Field(min_length=1)  # "not sure", "maybe", "I don't know"


class ChoicePair(_Strict):
    """A choice screen that asks a yes/no question in other words ("Does anything hurt?")."""

    yes: str
    no: str
    unsure: str | None = None  # the cautious option for "maybe"; None: doubt


class Talk(_Strict):
    stop: Phrases = Field(min_length=1)
    greeting: Phrases = Field(min_length=1)
    thanks: Phrases = Field(min_length=1)
    help: Phrases = Field(min_length=1)


class Typos(_Strict):
    targets: Phrases = Field(min_length=1)  # words a typo is corrected towards ("hurst" -> "hurts")
    real_words: Phrases = Field(default_factory=list)  # real words one edit away, never corrected
    min_length: int = Field(default=5, ge=4, le=8)  # shorter words: only a swap of two letters


class UnsafeRequest(_Strict):
    id: str = Field(pattern=r"^[a-z0-9_]{1,24}$")
    reply: str = Field(min_length=20)
    source: str


RESERVED = frozenset(
    {
        "neutral",
        "yes",
        "no",
        "affirm",
        "agree",
        "fine",
        "partly",
        "lean_no",
        "unsure",
        "stop",
        "greeting",
        "thanks",
        "help",
        # the reader's own classes (negation cues, clause words)
        "neg_before",
        "neg_after",
        "improving_before",
        "improving_after",
        "hypothetical",
        "until",
        "subject",
        "answer_word",
        "answer_until",
        "double",
    }
)


class Lexicon(_Strict):
    words: dict[str, Phrases] = Field(min_length=1)
    rules: list[Rule] = Field(min_length=1)
    topics: dict[str, str] = Field(default_factory=dict)  # screen topic -> the word class it stands for
    negation: Negation
    answers: Answers
    choices: dict[str, Phrases] = Field(default_factory=dict)  # option id -> what people type for it
    choice_pairs: list[ChoicePair] = Field(default_factory=list)
    denial_choices: list[str] = Field(default_factory=list)  # what "no pain" picks: the first on screen
    cautious_choices: list[str] = Field(default_factory=list)  # when a message names several options
    pain_choices: list[str] = Field(default_factory=list)
    ordinals: dict[str, int] = Field(default_factory=dict)  # "second": 2, "2nd": 2 (an item of a listed group)
    ordinal_nouns: list[str] = Field(
        default_factory=list
    )  # what may follow one: "the second one", "2nd sign"  # options that report pain ("It hurts"): read as Pain
    talk: Talk
    neutral: Phrases = Field(default_factory=list)  # phrases that mean nothing and hide what is inside
    clock: ClockWords
    typos: Typos
    unsafe: list[UnsafeRequest] = Field(min_length=1)

    @field_validator("words")
    @classmethod
    def _class_names(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for name, phrases in value.items():
            if name in RESERVED or not name.replace("_", "").isalpha() or name != name.lower():
                raise ValueError(f"word class {name!r}: use another name (lower case letters and _, not reserved)")
            if not phrases:
                raise ValueError(f"word class {name!r} is empty")
        return value

    @field_validator("rules")
    @classmethod
    def _rules_name_classes(cls, value: list[Rule], info: ValidationInfo) -> list[Rule]:
        words = info.data.get("words") or {}
        for index, rule in enumerate(value):
            for element in rule.all:
                for name in element.split("|"):
                    if name not in words:
                        raise ValueError(f"rules[{index}].all: unknown word class {name!r}")
            if rule.means == "emergency" and not rule.examples:
                raise ValueError(f"rules[{index}].examples: an emergency rule needs examples")
        return value

    @field_validator("topics")
    @classmethod
    def _topics_name_classes(cls, value: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        words = info.data.get("words") or {}
        for topic, name in value.items():
            if name not in words:
                raise ValueError(f"topic {topic!r}: unknown word class {name!r}")
        return value

    @field_validator("unsafe")
    @classmethod
    def _unsafe_rules_have_replies(cls, value: list[UnsafeRequest], info: ValidationInfo) -> list[UnsafeRequest]:
        ids = {u.id for u in value}
        for index, rule in enumerate(info.data.get("rules") or []):
            if rule.means == "unsafe" and rule.what not in ids:
                raise ValueError(f"rules[{index}].what: no unsafe entry with the id {rule.what!r}")
        return value

    # ---- figures, and the flat lists the old engine (dialogs/text.py) and its tests still read ----------
    def classes_meaning(self, means: str) -> list[str]:
        """The word classes that head a rule with this meaning."""
        return sorted({name for r in self.rules if r.means == means for name in r.all[0].split("|")})

    @property
    def pain(self) -> list[str]:
        """Every phrase that on its own reads as pain (a single-class pain rule)."""
        heads = {name for r in self.rules if r.means == "pain" and len(r.all) == 1 for name in r.all[0].split("|")}
        return [phrase for name in sorted(heads) for phrase in self.words[name]]

    @property
    def emergency(self) -> list[str]:
        """The examples of the emergency rules: messages that must read as an emergency."""
        return [example for r in self.rules if r.means == "emergency" for example in r.examples]
