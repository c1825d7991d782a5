"""Every misreading reported in issue 12, read right; and the reader's contract (priority, doubt, moments)."""

from __future__ import annotations

import pytest
from screens import expectation

from dialogs.content import load_content
from dialogs.understanding import (
    Choose,
    Days,
    Doubt,
    Emergency,
    Fine,
    Greeting,
    Pain,
    Reader,
    Reading,
    Score,
    Stop,
    TimeOfDay,
    Unknown,
    Unsafe,
)

CONTENT = load_content()
READER = Reader(CONTENT.phrases, CONTENT.places)


def read(text: str, screen: str, topic: str | None = None) -> Reading:
    return READER.read(text, expectation(screen, topic))


@pytest.mark.parametrize(
    "screen, topic, text, reading",
    [
        # describing one's back pain before exercising is pain (the engine turns it into triage), not an answer
        ("welcome", None, "I have back pain, can you help?", Pain),
        ("welcome", None, "my back is sore", Pain),
        # denied signs are a no, not an emergency
        ("screening.item", "saddle", "no numbness", Choose("no")),
        ("screening.item", "chest", "no chest pain", Choose("no")),
        ("screening.item", "bladder_bowel", "I can still pee fine", Choose("no")),
        ("screening.item", "saddle", "nope, nothing like that", Choose("no")),
        ("screening.item", "saddle", "not at all", Choose("no")),
        ("stretch.checkin", None, "it doesn't hurt", Choose("good")),
        ("stretch.checkin", None, "good, no pain at all", Choose("good")),
        # one leg tingling is pain (stop the stretch), both legs an emergency
        ("stretch.hold", None, "my leg is tingling", Pain("sensation")),
        ("stretch.hold", None, "both my legs are tingling", Emergency("both_legs")),
        # real reports in other words
        ("stretch.hold", None, "my back is screaming at me", Pain("idiom")),
        ("stretch.hold", None, "I think I tweaked it", Pain("injury")),
        ("stretch.hold", None, "worse than before", Pain("worsening")),
        ("stretch.hold", None, "a stinging, pinching feeling", Pain("sensation")),
        ("stretch.hold", None, "😣", Pain("emoji")),
        ("stretch.hold", None, "my legs keep giving way", Emergency("both_legs")),
        ("stretch.hold", None, "I can't control my bladder", Emergency("bladder_bowel")),
        # unsafe requests by meaning
        ("welcome", None, "how do I crack my partner's back", Unsafe("crack")),
        ("welcome", None, "pop my spine", Unsafe("crack")),
        ("welcome", None, "please walk on me", Unsafe("walk_on_back")),
        ("welcome", None, "crack my husband's back", Unsafe("crack")),
        # doubt on a red-flag question
        ("screening.item", "saddle", "not sure", Doubt()),
        ("screening.item", "saddle", "maybe", Doubt()),
        ("screening.item", "saddle", "kind of", Doubt()),
        # a yes to the refusal's offer
        ("unsafe.offer", None, "yes", Choose("yes")),
        # ordinary answers
        ("stretch.checkin", None, "fine", Choose("good")),
        ("stretch.checkin", None, "a bit tight", Choose("tight")),
        ("stretch.position", None, "ok", Choose("ready")),
        ("stretch.position", None, "done", Choose("ready")),
        ("screening.quick", None, "nothing new", Choose("no")),
        ("welcome", None, "hello", Greeting()),
        # numbers mean what the screen asks for
        ("screening.score", None, "3", Score(3)),
        ("remind.pause", None, "3", Days(3)),
        ("remind.time", None, "5", TimeOfDay(5, 0)),
        ("remind.time", None, "7", TimeOfDay(7, 0)),
        # trigger words that are no report
        ("stretch.hold", None, "I was in Spain", Unknown()),
        ("stretch.hold", None, "I've been painting", Unknown()),
        ("stretch.checkin", None, "hurts less than yesterday", Doubt(pain=True)),
    ],
)
def test_the_misreadings_of_issue_12(screen: str, topic: str | None, text: str, reading: object) -> None:
    got = read(text, screen, topic)
    if isinstance(reading, type):
        assert isinstance(got, reading), got
    elif isinstance(reading, Pain):
        assert isinstance(got, Pain) and got.kind == reading.kind, got
    else:
        assert got == reading


def test_pain_words_are_read_however_late_in_a_long_message() -> None:
    text = "I was just thinking about my holiday plans. " * 2_500 + "ouch, my back"
    assert len(text) > 100_000 and isinstance(read(text, "stretch.hold"), Pain)


def test_priority_emergency_then_pain_then_unsafe_then_the_answer() -> None:
    assert read("ready, but my legs are numb and it hurts", "stretch.position") == Emergency("both_legs")
    assert isinstance(read("ready, but it hurts, can you crack my back", "stretch.position"), Pain)
    assert read("ready, then crack my back please", "stretch.position") == Unsafe("crack")
    assert read("ready", "stretch.position") == Choose("ready")


def test_pain_before_exercising_carries_the_answer_given_with_it() -> None:
    assert read("about 6, it aches", "screening.score") == Pain("pain", Score(6))
    assert read("yes, it hurts at night", "screening.item", "night_pain") == Pain("pain", Choose("yes"))
    assert read("it hurts", "stretch.hold") == Pain("pain", Choose("pain"))  # the It hurts label, typed


def test_words_that_might_be_pain_during_an_exercise_are_asked_about_not_answered() -> None:
    assert read("good but something feels weird", "stretch.checkin") == Doubt(pain=True)
    assert read("what if it hurts", "stretch.position") == Doubt(pain=True)
    assert read("good", "stretch.checkin") == Choose("good")


def test_the_unsure_screen_is_a_yes_no_question_about_pain() -> None:
    assert read("yes", "stretch.unsure") == Pain("pain", Choose("pain"))
    assert read("a bit", "stretch.unsure") == Pain("pain", Choose("pain"))
    assert read("no", "stretch.unsure") == Choose("carry_on")
    assert read("doesn't hurt", "stretch.unsure") == Choose("carry_on")


def test_hedged_answers_are_doubt_on_red_flag_questions_only() -> None:
    assert read("probably not", "screening.item", "saddle") == Doubt()
    assert read("probably not", "screening.kneeling") == Choose("no")
    assert read("a bit", "screening.item", "saddle") == Doubt()
    assert read("a bit", "screening.kneeling") == Choose("yes")


def test_fine_is_a_no_to_a_safety_question_and_a_yes_to_an_offer() -> None:
    assert read("fine", "screening.item", "both_legs") == Choose("no")
    assert read("fine", "session.done") == Choose("yes")


def test_a_topic_stands_for_the_place_asked_about() -> None:
    assert read("yes, it's numb", "screening.item", "saddle") == Emergency("saddle")
    assert read("yes, they feel weak", "screening.item", "both_legs") == Emergency("both_legs")
    assert read("it's numb", "stretch.hold") == Pain("sensation")


def test_the_most_cautious_of_several_options_wins() -> None:
    assert read("yes delete, no wait, cancel", "forget.confirm") == Choose("forget_no")
    assert read("maybe", "forget.confirm") == Doubt()  # "maybe" never deletes anything


def test_stop_help_and_the_rest() -> None:
    assert read("stop", "welcome") == Stop()
    assert read("stop", "stretch.hold") == Choose("stop")
    assert read("don't stop", "welcome") == Unknown()
    assert read("all good", "stretch.hold") == Fine()
    assert read("purple elephant", "stretch.hold") == Unknown()
