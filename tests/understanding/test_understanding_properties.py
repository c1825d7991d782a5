"""Properties of the reader, checked with hypothesis.

- any exercise screen x any pain-now phrasing from the corpus, wrapped in random surrounding text, case
  and punctuation, reads as Pain or Emergency;
- any denied form of an emergency sign, on any screen, never reads as an Emergency, nor does any negated
  utterance of the corpus on its own screen, in random wrapping;
- any text on any screen gives a Reading (never an exception), and the same one every time.
"""

from __future__ import annotations

from corpus import Case, load
from hypothesis import given, settings
from hypothesis import strategies as st
from screens import EXERCISE_SCREENS, SCREENING_TOPICS, SCREENS, expectation

from dialogs.content import load_content
from dialogs.understanding import Emergency, Pain, Reader, Reading

CONTENT = load_content()
READER = Reader(CONTENT.phrases, CONTENT.places)
CORPUS = load()
# pain now in words that say so on any exercise screen ("a bit" is pain only as the answer to "Does anything hurt?")
# (from the tuning part: the held-out part is never tuned on, so a property must not depend on it)
PAIN_NOW = sorted(
    {
        c.text
        for c in CORPUS
        if c.cls == "pain_now" and not c.heldout and len(c.text) < 200 and c.screen != "stretch.unsure"
    }
)
NEGATED = sorted({c for c in CORPUS if c.cls == "negated"}, key=lambda c: (c.file, c.text))
# chatter around a message: no negation, hypothesis or hedge in it, so it cannot change the meaning
FILLER = [
    "hmm",
    "ok",
    "well",
    "anyway",
    "the weather is nice today",
    "sorry",
    "one sec",
    "lol",
    "so",
    "right",
    "this stretch",
    "my dog",
    "hey",
    "just saying",
    "honestly",
    "haha",
    "um",
    "erm",
    "again",
    "wow",
]
PUNCTUATION = ["", ".", "!", "!!", "?", ",", " -", "...", " :(", " 🙃"]
# emergency signs in other words than the lexicon's, and ways people deny them
SIGNS = [
    "numbness around my bottom",
    "tingling in my groin",
    "numbness in both legs",
    "weakness in my legs",
    "chest pain",
    "pain in my chest",
    "trouble peeing",
    "problems with my bladder",
    "bowel problems",
    "numb legs",
    "tightness in my chest",
    "pins and needles in both feet",
    "loss of feeling down there",
    "any leaking",
    "legs giving way",
]
DENIALS = [
    "no {}",
    "no {} at all",
    "I don't have any {}",
    "I haven't had any {}",
    "there's no {}",
    "nope, no {}",
    "never had {}",
    "no, no {}",
    "without any {}",
    "I've not noticed any {}",
    "definitely no {}",
    "No {} whatsoever.",
    "absolutely no {}",
    "not had {}",
    "NO {}",
]


def _cased(text: str, how: int) -> str:
    return [text, text.upper(), text.lower(), text.title(), text.swapcase()][how]


wrapped_pain = st.tuples(
    st.sampled_from(PAIN_NOW),
    st.lists(st.sampled_from(FILLER), max_size=3),
    st.lists(st.sampled_from(FILLER), max_size=3),
    st.sampled_from(PUNCTUATION),
    st.sampled_from(PUNCTUATION),
    st.integers(0, 4),
)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(EXERCISE_SCREENS), wrapped_pain)
def test_pain_now_in_any_wrapping_reads_as_pain(screen: str, parts: tuple) -> None:  # type: ignore[type-arg]
    phrase, before, after, stop_before, stop_after, how = parts
    text = " ".join([*before]) + (stop_before + " " if before else "") + _cased(phrase, how) + stop_after
    text += (" " + " ".join(after)) if after else ""
    reading = READER.read(text, expectation(screen))
    assert isinstance(reading, Pain | Emergency), (text, reading)


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(sorted(SCREENS)),
    st.sampled_from([None, *SCREENING_TOPICS]),
    st.sampled_from(DENIALS),
    st.sampled_from(SIGNS),
    st.sampled_from(PUNCTUATION),
    st.integers(0, 4),
)
def test_a_denied_sign_never_reads_as_an_emergency(
    screen: str, topic: str | None, denial: str, sign: str, stop: str, how: int
) -> None:
    text = _cased(denial.format(sign), how) + stop
    reading = READER.read(text, expectation(screen, topic if screen == "screening.item" else None))
    assert not isinstance(reading, Emergency), (text, reading)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(NEGATED),
    st.lists(st.sampled_from(FILLER), max_size=2),
    st.sampled_from(PUNCTUATION),
    st.integers(0, 4),
)
def test_the_corpus_negations_in_any_wrapping_never_read_as_an_emergency(
    case: object, before: list[str], stop: str, how: int
) -> None:
    assert isinstance(case, Case)
    text = " ".join(before) + (", " if before else "") + _cased(case.text, how) + stop
    reading = READER.read(text, case.expectation)
    assert not isinstance(reading, Emergency), (text, reading)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(SCREENS)), st.text(max_size=300))
def test_any_text_on_any_screen_gives_one_reading(screen: str, text: str) -> None:
    first: Reading = READER.read(text, expectation(screen))
    assert READER.read(text, expectation(screen)) == first
