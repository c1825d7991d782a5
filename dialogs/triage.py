"""The safety screening as content: red-flag questions, their groups, referral texts (content/triage.yaml).

Models only (validated by pydantic when content loads); the conversation that asks them is
dialogs/flows/screening.py. Cross-references (sources, tags, follow-ups, group membership) are checked by
`check_triage`, which reports one precise line per problem like the rest of the content loader.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Level = Literal["A", "B", "C"]
QuestionLevel = Literal["A", "B", "C", "D"]  # D: no referral; the answer changes what is offered instead
Audience = Literal["self", "partner"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


class Wording(_Strict):
    """A sentence for the person stretching, and for a helper answering about their partner."""

    self_: str = Field(alias="self", min_length=3, max_length=400)
    partner: str = Field(min_length=3, max_length=400)

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True, populate_by_name=True)

    def for_(self, audience: Audience) -> str:
        return self.partner if audience == "partner" else self.self_


class Question(_Strict):
    id: str = Field(pattern=r"^[a-z0-9_]{1,24}$")
    level: QuestionLevel
    line: Wording | None = None  # the item as listed in its group (required for group members)
    text: Wording  # the single question (drill-down)
    explain: str = Field(min_length=10, max_length=400)  # what it means, for someone unsure
    rationale: str = Field(min_length=20, max_length=800)  # why it is asked and what it leads to
    follow_up: str | None = None  # asked after a yes, before this question's own level applies
    rules_out: list[str] = Field(default_factory=list)  # stretch tags a yes leaves out (remembered)
    advice: str | None = None  # a ui key shown before the routines after a yes
    source: str


class ScoreQuestion(_Strict):
    id: str = Field(pattern=r"^[a-z0-9_]{1,24}$")
    level: Level
    flag_at: int = Field(ge=1, le=10)  # flagged at this score or more
    text: Wording
    explain: str = Field(min_length=10, max_length=400)
    rationale: str = Field(min_length=20, max_length=800)
    source: str


class Group(_Strict):
    id: str = Field(pattern=r"^[a-z0-9_]{1,24}$")
    items: list[str] = Field(min_length=1, max_length=9)


class Referral(_Strict):
    level: Level
    text: str = Field(min_length=20)


class Triage(_Strict):
    groups: list[Group] = Field(min_length=1, max_length=4)
    questions: list[Question] = Field(min_length=1)
    score: ScoreQuestion
    kneeling: Question
    repeat_after_days: int = Field(default=30, ge=1, le=365)
    referrals: list[Referral]
    pain_stop: str = Field(min_length=20)  # pain during a routine (not a nerve word): stop, rest
    safety_net: str = Field(min_length=20)  # what to watch for: after screening and at every session end

    def question(self, question_id: str) -> Question:
        if question_id == self.kneeling.id:
            return self.kneeling
        for question in self.questions:
            if question.id == question_id:
                return question
        raise KeyError(question_id)

    def group(self, group_id: str) -> Group:
        for group in self.groups:
            if group.id == group_id:
                return group
        raise KeyError(group_id)

    def referral(self, level: str) -> str:
        for referral in self.referrals:
            if referral.level == level:
                return referral.text
        raise KeyError(level)

    def answers_needed(self) -> int:
        """How many answers a full screening with no flags takes: one per group, the score, kneeling."""
        return len(self.groups) + 2


def check_triage(triage: Triage, label: str, sources: set[str], tags: set[str], ui_keys: set[str]) -> str | None:
    """The first cross-reference problem as "<file>: <field>: <what>", or None when all is well."""
    ids = [q.id for q in triage.questions]
    for index, question_id in enumerate(ids):
        if question_id in ids[:index]:
            return f"{label}: questions[{index}].id: duplicate id {question_id!r}"
    members = [item for group in triage.groups for item in group.items]
    follow_ups = {q.follow_up for q in triage.questions if q.follow_up}
    for index, question in enumerate(triage.questions):
        where = f"{label}: questions[{index}]"
        if question.source not in sources:
            return f"{where}.source: unknown source {question.source!r}"
        if question.follow_up is not None and question.follow_up not in ids:
            return f"{where}.follow_up: unknown question {question.follow_up!r}"
        if question.level == "D" and not (question.rules_out or question.advice):
            return f"{where}.level: a level D question needs rules_out or advice (otherwise the answer does nothing)"
        if question.level != "D" and (question.rules_out or question.advice):
            return f"{where}.level: only a level D question may have rules_out or advice"
        for tag in question.rules_out:
            if tag not in tags:
                return f"{where}.rules_out: no stretch has the tag {tag!r}"
        if question.advice is not None and question.advice not in ui_keys:
            return f"{where}.advice: no ui string {question.advice!r}"
        if question.id not in members and question.id not in follow_ups:
            return f"{where}.id: {question.id!r} is in no group and follows no question, so it is never asked"
        if question.id in members and question.line is None:
            return f"{where}.line: is required for a question listed in a group"
    for index, group in enumerate(triage.groups):
        for item_index, item in enumerate(group.items):
            if item not in ids:
                return f"{label}: groups[{index}].items[{item_index}]: unknown question {item!r}"
            if item in follow_ups:
                return f"{label}: groups[{index}].items[{item_index}]: {item!r} is a follow-up, not a group item"
        levels_in_order = [triage.question(item).level for item in group.items if item in ids]
        if levels_in_order != sorted(levels_in_order):
            return (f"{label}: groups[{index}].items: list the most urgent first "
                    "(every A before any B, B before C, C before D)")
    if len(members) != len(set(members)):
        return f"{label}: groups: a question is listed in more than one group"
    first = set(triage.groups[0].items)
    for index, question in enumerate(triage.questions):
        if question.level == "A" and question.id not in first:
            return f"{label}: questions[{index}].level: a level A flag must be in the first group (most urgent first)"
    for field, special in (("score", triage.score), ("kneeling", triage.kneeling)):
        if special.source not in sources:
            return f"{label}: {field}.source: unknown source {special.source!r}"
    for tag in triage.kneeling.rules_out:
        if tag not in tags:
            return f"{label}: kneeling.rules_out: no stretch has the tag {tag!r}"
    levels: list[str] = []
    for index, referral in enumerate(triage.referrals):
        if referral.level in levels:
            return f"{label}: referrals[{index}].level: duplicate level {referral.level}"
        levels.append(referral.level)
    for level in ("A", "B", "C"):
        if level not in levels:
            return f"{label}: referrals: no referral text for level {level}"
    return None
