"""The lexicon (content/phrases.yaml) and the zone names (content/places.yaml): checked at load, and consistent."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from screens import expectation

from dialogs.content import DEFAULT_CONTENT_DIR, ContentError, load_content
from dialogs.understanding import Emergency, Reader, Unsafe
from dialogs.understanding.normal import phrase_words, tokenise
from dialogs.understanding.phrasebook import Phrasebook

CONTENT = load_content()
LEXICON = CONTENT.phrases
READER = Reader(LEXICON, CONTENT.places)


def test_every_emergency_rule_reads_its_own_examples() -> None:
    for rule in LEXICON.rules:
        for example in rule.examples:
            reading = READER.read(example, expectation("stretch.hold"))
            if rule.means == "emergency":
                assert reading == Emergency(rule.what), (example, reading)
            elif rule.means == "unsafe":
                assert reading == Unsafe(rule.what), (example, reading)


def test_the_unsafe_ids_stay_those_the_engine_knows() -> None:
    assert {u.id for u in LEXICON.unsafe} == {"walk_on_back", "crack", "bear_hug", "lift"}
    assert {r.what for r in LEXICON.rules if r.means == "unsafe"} == {u.id for u in LEXICON.unsafe}


def test_phrases_starting_with_a_negation_hide_no_symptom() -> None:
    """At each word only the longest phrase counts, so an answer phrase that starts with a negation cue
    ("no issues") would hide the cue from the symptom inside it: such a phrase must be neutral (hiding the
    symptom too) or a negation cue itself."""
    cues = {phrase_words(p) for p in LEXICON.negation.before}
    first_words = {words[0] for words in cues if len(words) == 1}
    neutral = {phrase_words(p) for p in LEXICON.neutral}
    symptom_classes = LEXICON.classes_meaning("emergency") + LEXICON.classes_meaning("pain")
    symptoms = Phrasebook({name: LEXICON.words[name] for name in symptom_classes})
    answers = LEXICON.answers
    phrases = [
        p
        for group in (
            answers.yes,
            answers.no,
            answers.agree,
            answers.fine,
            answers.partly,
            answers.lean_no,
            answers.unsure,
            *LEXICON.choices.values(),
        )
        for p in group
    ]
    hiding = []
    for phrase in phrases:
        words = phrase_words(phrase)
        if len(words) > 1 and words[0] in first_words and words not in cues | neutral:
            _, inside = symptoms.scan(tokenise(phrase))
            if any(match.start > 0 for match in inside):
                hiding.append(phrase)
    assert hiding == []


def test_typo_targets_are_lexicon_words_and_real_words_are_not_targets() -> None:
    vocabulary = {w for phrases in LEXICON.words.values() for p in phrases for w in phrase_words(p)}
    assert set(LEXICON.typos.targets) <= vocabulary
    assert not set(LEXICON.typos.targets) & set(LEXICON.typos.real_words)


def test_real_words_near_pain_words_are_never_read_as_typos() -> None:
    for word in ("spain", "paint", "hunting", "arching", "singing", "turning", "shouting", "worst"):
        assert not isinstance(READER.read(word, expectation("stretch.hold")), Emergency)
        assert READER.read(f"I was {word}", expectation("stretch.hold")).__class__.__name__ != "Pain", word


# ---- malformed content: one precise line ---------------------------------------------------------
@pytest.fixture
def content_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "content"
    shutil.copytree(DEFAULT_CONTENT_DIR, directory)
    return directory


def _edit(directory: Path, name: str, change) -> None:  # type: ignore[no-untyped-def]
    path = directory / name
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def _error(directory: Path) -> str:
    with pytest.raises(ContentError) as info:
        load_content(directory)
    return str(info.value)


def test_a_rule_naming_an_unknown_word_class(content_dir: Path) -> None:
    _edit(content_dir, "phrases.yaml", lambda d: d["rules"][0].update({"all": ["nerve", "elbows"]}))
    assert _error(content_dir) == f"{content_dir}/phrases.yaml: rules: rules[0].all: unknown word class 'elbows'"


def test_an_emergency_rule_without_examples(content_dir: Path) -> None:
    _edit(content_dir, "phrases.yaml", lambda d: d["rules"][0].pop("examples"))
    assert (
        _error(content_dir) == f"{content_dir}/phrases.yaml: rules: rules[0].examples: an emergency rule needs examples"
    )


def test_an_emergency_rule_with_an_unknown_sign(content_dir: Path) -> None:
    _edit(content_dir, "phrases.yaml", lambda d: d["rules"][0].update({"what": "elbow"}))
    assert "phrases.yaml: rules[0].what: emergency sign 'elbow' is not one of" in _error(content_dir)


def test_an_unsafe_rule_without_its_reply(content_dir: Path) -> None:
    _edit(content_dir, "phrases.yaml", lambda d: d["unsafe"].pop())  # the last: lift
    assert "phrases.yaml: unsafe: rules[" in _error(content_dir) and "no unsafe entry with the id 'lift'" in _error(
        content_dir
    )


def test_an_unsafe_reply_citing_an_unknown_source(content_dir: Path) -> None:
    _edit(content_dir, "phrases.yaml", lambda d: d["unsafe"][0].update({"source": "nowhere"}))
    assert _error(content_dir) == f"{content_dir}/phrases.yaml: unsafe[0].source: unknown source 'nowhere'"


def test_an_abbreviation_for_an_unknown_zone(content_dir: Path) -> None:
    _edit(content_dir, "places.yaml", lambda d: d["abbreviations"].update({"mst": "Mars/Olympus"}))
    assert _error(content_dir).startswith(f"{content_dir}/places.yaml: abbreviations: unknown time zone 'Mars/Olympus'")


def test_an_ambiguous_name_with_one_zone(content_dir: Path) -> None:
    _edit(content_dir, "places.yaml", lambda d: d["ambiguous"].update({"ist": ["Asia/Kolkata"]}))
    assert _error(content_dir) == (
        f"{content_dir}/places.yaml: ambiguous: 'ist' needs at least two zones (otherwise put it in abbreviations)"
    )


def test_a_name_in_two_sections(content_dir: Path) -> None:
    _edit(content_dir, "places.yaml", lambda d: d["abbreviations"].update({"london": "Europe/London"}))
    assert _error(content_dir) == f"{content_dir}/places.yaml: abbreviations: 'london' is already in cities"


def test_a_name_with_an_accent(content_dir: Path) -> None:
    _edit(content_dir, "places.yaml", lambda d: d["cities"].update({"zürich": "Europe/Zurich"}))
    assert "must be lower case without accents" in _error(content_dir)
