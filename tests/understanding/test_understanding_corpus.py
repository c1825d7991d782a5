"""The reader on the labelled corpus: what issue 12 requires of it.

Recall 100 % on pain now and emergencies present (tuning corpus), no negated emergency read as one and a
false-stop rate of at most 2 % (everywhere, held-out included), and floors on the held-out part so that
a change to the lexicon that generalises worse fails here. `python tests/understanding/evaluate.py`
prints the full figures.
"""

from __future__ import annotations

from collections import Counter

import pytest
from corpus import Case, agrees, false_stop, load

from dialogs.content import load_content
from dialogs.understanding import Emergency, Reader, Reading

MINIMUM = {
    "pain_now": 150,
    "emergency_present": 60,
    "negated": 80,
    "pain_before": 40,
    "answer": 150,
    "doubt": 20,
    "unsafe": 60,
    "harmless": 20,
}
LONG = 5_000  # characters before the pain words in the longest messages


@pytest.fixture(scope="module")
def results() -> list[tuple[Case, Reading]]:
    content = load_content()
    reader = Reader(content.phrases, content.places)
    return [(case, reader.read(case.text, case.expectation)) for case in load()]


def _tuning(results: list[tuple[Case, Reading]]) -> list[tuple[Case, Reading]]:
    return [(c, r) for c, r in results if not c.heldout]


def _misses(pairs: list[tuple[Case, Reading]]) -> list[str]:
    return [f"{c.screen}: {c.text[-80:]!r} -> {r}" for c, r in pairs if not agrees(r, c)]


def test_the_corpus_covers_every_class(results: list[tuple[Case, Reading]]) -> None:
    tuning = Counter(c.cls for c, _ in _tuning(results))
    assert sum(tuning.values()) >= 600
    for cls, least in MINIMUM.items():
        assert tuning[cls] >= least, cls
    assert sum(c.heldout for c, _ in results) >= 150
    pain_now = [c for c, _ in results if c.cls == "pain_now"]
    assert any(len(c.text) > LONG for c in pain_now), "very long messages with the pain words at the end"
    assert any(not c.text.isascii() for c in pain_now), "emoji"
    assert any(c.text.isupper() for c in pain_now), "shouting"


def test_every_pain_now_phrasing_reads_as_pain(results: list[tuple[Case, Reading]]) -> None:
    pain = [(c, r) for c, r in _tuning(results) if c.cls == "pain_now"]
    assert _misses(pain) == []


def test_every_emergency_reported_reads_as_that_emergency(results: list[tuple[Case, Reading]]) -> None:
    emergencies = [(c, r) for c, r in _tuning(results) if c.cls == "emergency_present"]
    assert _misses(emergencies) == []


def test_no_negated_or_denied_sign_reads_as_an_emergency(results: list[tuple[Case, Reading]]) -> None:
    negated = [(c, r) for c, r in results if c.cls == "negated"]
    assert [f"{c.text!r} -> {r}" for c, r in negated if isinstance(r, Emergency)] == []


def test_false_stops_stay_under_two_percent(results: list[tuple[Case, Reading]]) -> None:
    rest = [(c, r) for c, r in results if c.expect not in ("pain", "emergency")]
    stops = [f"{c.screen}: {c.text!r} -> {r}" for c, r in rest if false_stop(r, c)]
    assert len(stops) <= 0.02 * len(rest), stops


def test_negated_forms_and_harmless_trigger_words_are_read_as_labelled(results: list[tuple[Case, Reading]]) -> None:
    assert _misses([(c, r) for c, r in _tuning(results) if c.cls in ("negated", "pain_before", "doubt")]) == []


def test_unsafe_requests_are_refused_by_meaning(results: list[tuple[Case, Reading]]) -> None:
    assert _misses([(c, r) for c, r in _tuning(results) if c.cls == "unsafe"]) == []


def test_ordinary_answers_per_screen(results: list[tuple[Case, Reading]]) -> None:
    assert _misses([(c, r) for c, r in _tuning(results) if c.cls == "answer"]) == []


def test_the_held_out_part_generalises(results: list[tuple[Case, Reading]]) -> None:
    """Floors, not targets, for the wording the lexicon was not written for (evaluate.py prints its misses)."""
    heldout = [(c, r) for c, r in results if c.heldout]
    right = sum(agrees(r, c) for c, r in heldout)
    assert right >= 0.9 * len(heldout)
    pain = [(c, r) for c, r in heldout if c.cls == "pain_now"]
    assert sum(agrees(r, c) for c, r in pain) >= 0.8 * len(pain)
