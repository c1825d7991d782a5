"""The shipped content (content/*.yaml): it loads, it cites its sources, it never teaches anything unsafe,
and a broken content file fails with one precise line naming the file, the field and the problem."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from dialogs.content import DEFAULT_CONTENT_DIR, Content, ContentError, load_content
from dialogs.understanding.normal import fold as normalise

SEEDS_DIR = Path("/work/shared/seeds")
OWN_FILES = ("sources.yaml", "stretches.yaml", "routines.yaml", "triage.yaml", "phrases.yaml", "places.yaml",
             "progress.yaml", "adaptation.yaml", "poses.yaml")


@pytest.fixture(scope="module")
def shipped() -> Content:
    return load_content()


# --- the shipped content ---------------------------------------------------------------------------
def test_shipped_content_loads(shipped: Content) -> None:
    assert shipped.stretches and shipped.routines and shipped.triage.questions
    assert load_content(DEFAULT_CONTENT_DIR).summary() == shipped.summary()


def test_every_citation_names_a_known_source(shipped: Content) -> None:
    cited = [s.source for s in shipped.stretches.values()]
    cited += [q.source for q in [*shipped.triage.questions, shipped.triage.score, shipped.triage.kneeling]]
    cited += [u.source for u in shipped.phrases.unsafe]
    assert set(cited) <= set(shipped.sources)


def test_every_source_is_a_seed_or_a_named_guideline(shipped: Content) -> None:
    for source in shipped.sources.values():
        assert bool(source.seed) != bool(source.guideline), source.id


def test_stretches_come_only_from_seed_articles(shipped: Content) -> None:
    for stretch in shipped.stretches.values():
        assert shipped.sources[stretch.source].seed, f"{stretch.id} must cite a seed article"


def test_seed_articles_listed_in_sources_exist() -> None:
    if not SEEDS_DIR.is_dir():
        pytest.skip("shared/seeds is not present on this machine")
    content = load_content()
    seeds = [s.seed for s in content.sources.values() if s.seed]
    assert seeds
    for seed in seeds:
        assert (SEEDS_DIR / seed).is_file(), seed
    assert {p.name for p in SEEDS_DIR.glob("*.txt")} <= set(seeds), "every seed article has a source entry"


def test_routines_name_existing_stretches_and_include_a_partner_routine(shipped: Content) -> None:
    for routine in shipped.routines.values():
        assert all(s in shipped.stretches for s in routine.stretches), routine.id
    assert {"lower5", "gentle", "nokneel", "partner"} <= set(shipped.routines)
    partner = [r for r in shipped.routines.values() if r.partner]
    assert partner and all(r.intro for r in partner)
    assert not any("kneeling" in shipped.stretches[s].tags for s in shipped.routines["nokneel"].stretches)


def test_twists_and_forward_bends_are_tagged(shipped: Content) -> None:
    # Osteoporosis guidance (no twisting, no forward bending) can only be honoured if the tags are there.
    assert "twist" in shipped.stretches["spinal_twist"].tags
    for stretch_id in ("childs_pose", "hamstring", "partner_v_stretch"):
        assert "forward_bend" in shipped.stretches[stretch_id].tags, stretch_id


def test_the_screen_asks_emergencies_first_in_groups_then_the_score_and_kneeling(shipped: Content) -> None:
    triage = shipped.triage
    first = [triage.question(item) for item in triage.groups[0].items]
    assert {q.level for q in first} == {"A"}, "the first group is the emergency group"
    assert all(q.id in triage.groups[0].items for q in triage.questions if q.level == "A")
    for group in triage.groups:
        levels = [triage.question(item).level for item in group.items]
        assert levels == sorted(levels), f"{group.id}: most urgent first"
    assert {"A", "B", "C", "D"} <= {q.level for q in triage.questions}
    assert triage.score.flag_at == 7 and triage.score.level == "C"
    assert triage.kneeling.level == "D" and triage.kneeling.rules_out == ["kneeling"]
    assert triage.answers_needed() + 2 <= 6, "Start, the groups, score, kneeling and the routine: six at most"


def test_every_question_has_a_level_a_source_and_its_rationale(shipped: Content) -> None:
    triage = shipped.triage
    for question in [*triage.questions, triage.score, triage.kneeling]:
        assert question.level and question.source in shipped.sources and len(question.rationale) >= 20, question.id
        assert question.text.self_ and question.text.partner, question.id
        assert question.explain, question.id
    for question in triage.questions:
        if question.level == "D":
            assert question.rules_out or question.advice, question.id
    # the old flags are all still asked (issue 13: the grouped screen loses no safety)
    ids = {q.id for q in triage.questions}
    assert {"saddle_numbness", "bladder_bowel", "both_legs", "accident_or_fall", "chest_pain", "unwell",
            "cancer_or_lump", "constant_or_night", "pregnancy_warning", "first_time_age", "bones_or_steroids",
            "pregnant", "spine_history", "keeps_coming_back"} <= ids


def test_referrals_say_the_bot_is_not_a_clinician(shipped: Content) -> None:
    for level in "ABC":
        assert "not a clinician" in shipped.referral(level)
    assert "999" in shipped.referral("A") and "A&E" in shipped.referral("A")
    assert "111" in shipped.referral("B") and "maternity" in shipped.referral("B")
    assert "physiotherapist" in shipped.referral("C")
    assert "push through" in shipped.triage.pain_stop


# Words that must never be taught: they may appear only in a sentence that forbids them.
FORBIDDEN = re.compile(r"\b(walk\w*|step\w* on|stand\w* on|bear[- ]?hug\w*|lift\w*|pick\w* up|crack\w*|pop\w*)\b")
NEGATION = re.compile(r"\b(never|don't|do not|not|no|avoid|won't|can't)\b")


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?:;])\s+", normalise(text)) if s]


def test_stretches_and_routines_never_teach_forbidden_moves(shipped: Content) -> None:
    texts = []
    for stretch in shipped.stretches.values():
        texts += [stretch.title, stretch.position, stretch.during, *stretch.cautions]
    for routine in shipped.routines.values():
        texts += [routine.title, routine.description, routine.intro]
    for text in texts:
        for sentence in _sentences(text):
            if FORBIDDEN.search(sentence):
                assert NEGATION.search(sentence), f"teaches a forbidden move? {sentence!r}"


def test_partner_intro_sets_the_safety_rules(shipped: Content) -> None:
    intro = normalise(shipped.routines["partner"].intro)
    for word in ("never crack", "walk", "bear-hug", "lift", "talk", "stop", "pain"):
        assert word in intro, word


def test_unsafe_replies_refuse_and_name_a_safer_alternative(shipped: Content) -> None:
    assert {u.id for u in shipped.phrases.unsafe} == {"walk_on_back", "crack", "bear_hug", "lift"}
    for unsafe in shipped.phrases.unsafe:
        reply = unsafe.reply.lower()
        assert NEGATION.search(reply), unsafe.id
        assert "safer" in reply and "gentle" in reply, unsafe.id
        # the offer of a routine is the unsafe.offer screen's question, asked only when nothing is running
        assert not reply.endswith("?"), unsafe.id


# --- malformed content: one precise line -----------------------------------------------------------
def _edit(directory: Path, name: str, change) -> None:
    path = directory / name
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")


def _error(directory: Path) -> str:
    with pytest.raises(ContentError) as caught:
        load_content(directory)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_hold_too_long(content_dir: Path) -> None:
    _edit(content_dir, "stretches.yaml", lambda d: d["stretches"][2].update(hold_seconds=200))
    assert _error(content_dir) == (
        f"{content_dir}/stretches.yaml: stretches[2].hold_seconds: input should be less than or equal to 120"
    )


def test_hold_too_short(content_dir: Path) -> None:
    _edit(content_dir, "stretches.yaml", lambda d: d["stretches"][0].update(hold_seconds=1))
    assert _error(content_dir) == (
        f"{content_dir}/stretches.yaml: stretches[0].hold_seconds: input should be greater than or equal to 5"
    )


def test_routine_names_an_unknown_stretch(content_dir: Path) -> None:
    _edit(content_dir, "routines.yaml", lambda d: d["routines"][1]["stretches"].insert(1, "handstand"))
    assert _error(content_dir) == f"{content_dir}/routines.yaml: routines[1].stretches[1]: unknown stretch 'handstand'"


def test_question_with_an_unknown_level(content_dir: Path) -> None:
    _edit(content_dir, "triage.yaml", lambda d: d["questions"][3].update(level="E"))
    assert _error(content_dir) == (
        f"{content_dir}/triage.yaml: questions[3].level: input should be 'A', 'B', 'C' or 'D'")


def test_question_without_a_level(content_dir: Path) -> None:
    _edit(content_dir, "triage.yaml", lambda d: d["questions"][2].pop("level"))
    assert _error(content_dir) == f"{content_dir}/triage.yaml: questions[2].level: is required"


def test_question_without_a_source(content_dir: Path) -> None:
    _edit(content_dir, "triage.yaml", lambda d: d["questions"][5].pop("source"))
    assert _error(content_dir) == f"{content_dir}/triage.yaml: questions[5].source: is required"


def test_question_without_its_rationale(content_dir: Path) -> None:
    _edit(content_dir, "triage.yaml", lambda d: d["questions"][0].pop("rationale"))
    assert _error(content_dir) == f"{content_dir}/triage.yaml: questions[0].rationale: is required"


def test_a_level_a_flag_outside_the_first_group(content_dir: Path) -> None:
    def move(data: dict) -> None:
        data["groups"][0]["items"].remove("chest_pain")
        data["groups"][1]["items"].insert(0, "chest_pain")

    _edit(content_dir, "triage.yaml", move)
    index = [q["id"] for q in yaml.safe_load((content_dir / "triage.yaml").read_text())["questions"]].index(
        "chest_pain")
    assert _error(content_dir) == (f"{content_dir}/triage.yaml: questions[{index}].level: a level A flag must be "
                                   "in the first group (most urgent first)")


def test_a_group_not_ordered_by_urgency(content_dir: Path) -> None:
    _edit(content_dir, "triage.yaml", lambda d: d["groups"][1]["items"].reverse())
    assert _error(content_dir) == (f"{content_dir}/triage.yaml: groups[1].items: list the most urgent first "
                                   "(every A before any B, B before C, C before D)")


def test_a_question_in_no_group_is_never_asked(content_dir: Path) -> None:
    _edit(content_dir, "triage.yaml", lambda d: d["groups"][1]["items"].remove("unwell"))
    index = [q["id"] for q in yaml.safe_load((content_dir / "triage.yaml").read_text())["questions"]].index("unwell")
    assert _error(content_dir) == (f"{content_dir}/triage.yaml: questions[{index}].id: 'unwell' is in no group "
                                   "and follows no question, so it is never asked")


def test_a_ui_string_with_an_unknown_placeholder(content_dir: Path) -> None:
    _edit(content_dir, "ui.yaml", lambda d: d["strings"].update(home="What now, {name}?"))
    assert _error(content_dir) == f"{content_dir}/ui.yaml: strings.home: unknown placeholder {{name}} (allowed: none)"


def test_a_command_without_a_description(content_dir: Path) -> None:
    _edit(content_dir, "ui.yaml", lambda d: d.update(commands=d["commands"][:-1]))
    assert _error(content_dir) == f"{content_dir}/ui.yaml: commands: no description for /forget"


def test_duplicate_stretch_id(content_dir: Path) -> None:
    def duplicate(data: dict) -> None:
        data["stretches"][1]["id"] = data["stretches"][0]["id"]

    _edit(content_dir, "stretches.yaml", duplicate)
    assert _error(content_dir) == f"{content_dir}/stretches.yaml: stretches[1].id: duplicate id 'knee_to_chest'"


def test_duplicate_routine_id(content_dir: Path) -> None:
    _edit(content_dir, "routines.yaml", lambda d: d["routines"][2].update(id="lower5"))
    assert _error(content_dir) == f"{content_dir}/routines.yaml: routines[2].id: duplicate id 'lower5'"


def test_bad_yaml_names_the_line(content_dir: Path) -> None:
    path = content_dir / "stretches.yaml"
    lines = path.read_text(encoding="utf-8").splitlines()
    target = next(i for i, line in enumerate(lines) if line.startswith("    hold_seconds:"))
    lines[target] = "    hold_seconds: [25"  # an unclosed list
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    message = _error(content_dir)
    assert message.startswith(f"{content_dir}/stretches.yaml: not valid YAML at line ")
    line = int(re.search(r"at line (\d+)", message).group(1))
    assert target + 1 <= line <= target + 3, message  # the parser notices just after the broken line


def test_missing_file(content_dir: Path) -> None:
    (content_dir / "phrases.yaml").unlink()
    assert _error(content_dir) == f"{content_dir}/phrases.yaml: file not found"


def test_unknown_field(content_dir: Path) -> None:
    _edit(content_dir, "stretches.yaml", lambda d: d["stretches"][0].update(colour="blue"))
    assert _error(content_dir) == f"{content_dir}/stretches.yaml: stretches[0].colour: is not a known field"


def test_missing_required_field(content_dir: Path) -> None:
    _edit(content_dir, "triage.yaml", lambda d: d.pop("pain_stop"))
    assert _error(content_dir) == f"{content_dir}/triage.yaml: pain_stop: is required"


def test_stretch_cites_an_unknown_source(content_dir: Path) -> None:
    _edit(content_dir, "stretches.yaml", lambda d: d["stretches"][4].update(source="seed-999"))
    assert _error(content_dir) == f"{content_dir}/stretches.yaml: stretches[4].source: unknown source 'seed-999'"


def test_question_rules_out_a_tag_no_stretch_has(content_dir: Path) -> None:
    def rule_out(data: dict) -> None:
        index = next(i for i, q in enumerate(data["questions"]) if q.get("rules_out"))
        data["questions"][index]["rules_out"] = ["handstand"]
        rule_out.index = index

    _edit(content_dir, "triage.yaml", rule_out)
    assert _error(content_dir) == (
        f"{content_dir}/triage.yaml: questions[{rule_out.index}].rules_out: no stretch has the tag 'handstand'"
    )


def test_no_partner_routine(content_dir: Path) -> None:
    _edit(content_dir, "routines.yaml", lambda d: [r.pop("partner", None) for r in d["routines"]])
    assert _error(content_dir) == (
        f"{content_dir}/routines.yaml: routines: needs at least one solo and one partner routine"
    )


def test_source_with_a_bad_seed_name(content_dir: Path) -> None:
    _edit(content_dir, "sources.yaml", lambda d: d["sources"][0].update(seed="article.txt"))
    assert _error(content_dir) == (
        f"{content_dir}/sources.yaml: sources[0].seed: must be a seed file name like 004_417b83b23482b636.txt"
    )


def test_missing_referral_level(content_dir: Path) -> None:
    _edit(content_dir, "triage.yaml", lambda d: d.update(referrals=[r for r in d["referrals"] if r["level"] != "B"]))
    first_b = next(i for i, q in enumerate(yaml.safe_load((content_dir / "triage.yaml").read_text())["questions"])
                   if q.get("level") == "B")
    assert first_b >= 0
    assert _error(content_dir) == f"{content_dir}/triage.yaml: referrals: no referral text for level B"
