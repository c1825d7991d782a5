"""The safety screen (issue 13): grouped checklists, every red flag to its level, remembered answers,
re-screening that fits what happened, partner mode, doubt, safety-netting. Pure engine, fake clock."""

from __future__ import annotations

from datetime import timedelta

import pytest
from conftest import Chat

from dialogs.content import Content
from dialogs.engine import Engine
from dialogs.triage import Question

SCREENING = ("screening.group", "screening.item", "screening.score", "screening.kneeling", "screening.quick",
             "screening.after_pain")


def answers_to_first_stretch(chat: Chat, first: str) -> int:
    """Answer safely from `first` on, counting every answer until a stretch's position screen shows."""
    count = 0
    chat.press(first)
    count += 1
    while chat.screen_id() != "stretch.position":
        ids = chat.choice_ids()
        if chat.screen_id() == "routine.choose":
            chat.press(ids[0])
        else:
            chat.press("low" if "low" in ids else ("better" if "better" in ids else "no"))
        count += 1
    return count


def test_first_session_reaches_the_first_stretch_in_six_answers_or_fewer(chat: Chat) -> None:
    chat.say("/start")
    assert answers_to_first_stretch(chat, "start") <= 6


def test_a_later_session_reaches_the_first_stretch_in_three_answers_or_fewer(chat: Chat) -> None:
    chat.say("/start")
    answers_to_first_stretch(chat, "start")
    chat.say("/stop")
    chat.now += timedelta(days=2)
    chat.say("/start")
    assert chat.screen_id() == "home"
    assert answers_to_first_stretch(chat, "start") <= 3


def test_the_intro_says_how_many_answers_and_not_only_the_first_time(chat: Chat, content: Content) -> None:
    chat.say("/start")
    step = chat.press("start")
    assert content.t("screening_intro", answers=content.triage.answers_needed()) in chat.said(step)
    assert "30 days" not in chat.said(step)


# ---- every question x answer, by button and by typing ---------------------------------------------------
def reach(chat: Chat, content: Content, target: Question, typed: bool) -> None:
    """Answer the screen so that exactly `target` gets a yes."""
    chat.say("/stretch")
    answer = (lambda text: chat.say(text)) if typed else (lambda choice: chat.press(choice))
    for index, group in enumerate(content.triage.groups):
        assert chat.screen_id() == "screening.group" and chat.state.screen.number("group") == index
        if target.id not in group.items:
            answer("none of these" if typed else "no")
            continue
        answer("yes, one of them" if typed else "yes")
        if chat.screen_id() != "screening.item":
            return  # a group where every item has one level refers at once
        while chat.state.screen.text("question") != target.id:
            answer("nope" if typed else "no")
        answer("yes, I have that" if typed else "yes")
        return


def flagged_questions(content: Content) -> list[Question]:
    return [q for q in content.triage.questions if any(q.id in g.items for g in content.triage.groups)]


@pytest.mark.parametrize("typed", [False, True], ids=["button", "typed"])
def test_every_red_flag_reaches_its_level(engine: Engine, content: Content, typed: bool) -> None:
    for question in flagged_questions(content):
        chat = Chat(engine)
        reach(chat, content, question, typed)
        if question.follow_up:  # pregnant: the warning signs are asked first
            follow_up = content.triage.question(question.follow_up)
            assert chat.state.screen.text("question") == follow_up.id
            no_then = Chat(engine, state=chat.state)
            step = no_then.press("no")
            assert content.triage.referral(question.level) in no_then.said(step)
            step = chat.press("yes")
            assert content.triage.referral(follow_up.level) in chat.said(step), question.id
            continue
        last = chat.steps[-1]
        if question.level in ("A", "B", "C"):
            assert content.triage.referral(question.level) in chat.said(last), question.id
            assert chat.ended[-1].level == question.level and chat.state.session is None
            assert [s.kind for s in last.says()] == ["referral"]
        else:  # level D: the screen goes on, and its effect is kept
            assert chat.state.session is not None, question.id
            assert chat.screen_id() in (*SCREENING, "routine.choose")
            session = chat.state.session
            assert set(question.rules_out) <= set(session.ruled_out)
            assert question.advice is None or question.advice in session.advice


def test_a_yes_to_the_first_group_is_the_emergency_referral_at_once(chat: Chat, content: Content) -> None:
    assert {content.triage.question(i).level for i in content.triage.groups[0].items} == {"A"}
    chat.say("/stretch")
    step = chat.press("yes")
    assert content.triage.referral("A") in chat.said(step)


def test_an_item_can_be_named_by_its_place_in_the_list(chat: Chat, content: Content) -> None:
    chat.say("/stretch")
    chat.press("no")
    group = content.triage.groups[1]
    step = chat.say("the second one")
    assert content.triage.referral(content.triage.question(group.items[1]).level) in chat.said(step)


@pytest.mark.parametrize(("typed", "level"), [("8", "C"), ("about a 7 out of 10", "C"), ("10", "C")])
def test_a_high_pain_score_refers(chat: Chat, content: Content, typed: str, level: str) -> None:
    chat.say("/stretch")
    chat.press("no")
    chat.press("no")
    assert chat.screen_id() == "screening.score"
    step = chat.say(typed)
    assert content.triage.referral(level) in chat.said(step)


def test_a_typed_number_on_the_score_screen_is_a_score_never_a_button(chat: Chat) -> None:
    chat.say("/stretch")
    chat.press("no")
    chat.press("no")
    assert all(button.key is None for button in chat.buttons())
    chat.say("3")  # "3" is a score of 3, not the third range ("7-10")
    assert chat.state.session is not None and chat.screen_id() == "screening.kneeling"


# ---- remembered answers ----------------------------------------------------------------------------------
def test_kneeling_hurts_is_remembered_after_nothing_new(chat: Chat, content: Content) -> None:
    chat.say("/stretch")
    chat.press("no")
    chat.press("no")
    chat.press("low")
    step = chat.press("yes")  # kneeling hurts
    kneeling = {r.id for r in content.routines.values()
                if any("kneeling" in content.stretches[s].tags for s in r.stretches)}
    assert kneeling and not set(chat.choice_ids()) & kneeling
    assert content.t("ruled_out_kneeling_hurts") in chat.said(step)
    chat.say("/stop")
    chat.now += timedelta(days=3)
    chat.say("/stretch")
    assert chat.screen_id() == "screening.quick"
    step = chat.press("no")
    assert chat.screen_id() == "routine.choose"
    assert not set(chat.choice_ids()) & kneeling
    assert content.t("ruled_out_kneeling_hurts") in chat.said(step)


def test_osteoporosis_leaves_out_forward_bends_and_twists_and_says_why(chat: Chat, content: Content) -> None:
    bones = content.triage.question("bones_or_steroids")
    reach(chat, content, bones, typed=False)
    while chat.screen_id() != "routine.choose" and chat.state.session is not None:
        chat.press("low" if "low" in chat.choice_ids() else "no")
    assert set(bones.rules_out) <= set(chat.state.profile.restrictions)
    # every shipped routine has a forward bend or a twist, so none is left: say why, and refer
    if chat.state.session is None:
        assert content.t("no_routine_fits") in chat.said(chat.steps[-1])
        assert chat.ended[-1].level == "C"


def test_recurring_pain_alone_leads_to_gentle_stretches_with_advice(chat: Chat, content: Content) -> None:
    recurring = content.triage.question("keeps_coming_back")
    assert recurring.level == "D" and recurring.advice
    reach(chat, content, recurring, typed=False)
    while chat.screen_id() != "routine.choose":
        chat.press("low" if "low" in chat.choice_ids() else "no")
    assert content.t(recurring.advice) in chat.said(chat.steps[-1])
    assert chat.choice_ids(), "routines are offered"


# ---- re-screening that fits what happened -----------------------------------------------------------------
def start_a_stretch(chat: Chat) -> None:
    chat.say("/stretch")
    chat.screen_safely()
    chat.press(chat.choice_ids()[0])


def test_after_a_pain_stop_the_next_session_asks_how_the_pain_is(chat: Chat, content: Content) -> None:
    start_a_stretch(chat)
    chat.say("ouch, that hurts")
    chat.now += timedelta(days=1)
    step = chat.say("/stretch")
    assert chat.screen_id() == "screening.after_pain"
    assert "30 days" not in chat.said(step)
    chat.press("better")
    assert chat.screen_id() == "screening.quick"  # anything new? (the emergency signs restated)
    chat.press("no")
    assert chat.screen_id() == "routine.choose"
    assert content.t("choose_routine_gentle") in chat.prompt


def test_pain_the_same_or_worse_ends_with_advice_not_stretches(chat: Chat, content: Content) -> None:
    start_a_stretch(chat)
    chat.press("pain")
    chat.say("/stretch")
    step = chat.press("same")
    assert content.t("after_pain_same") in chat.said(step)
    assert chat.state.session is None and [s.kind for s in step.says()] == ["referral"]


def test_after_a_referral_the_next_session_explains_why_it_asks_again(chat: Chat, content: Content) -> None:
    chat.say("/stretch")
    chat.press("yes")  # emergency
    step = chat.say("/stretch")
    assert content.t("screening_after_referral") in chat.said(step)
    assert chat.screen_id() == "screening.group"


def test_full_screen_again_after_30_days_and_on_something_new(chat: Chat, content: Content) -> None:
    start_a_stretch(chat)
    chat.say("/stop")
    chat.say("/stretch")
    chat.press("yes")  # something's new
    assert chat.screen_id() == "screening.group"
    chat.say("/stop")
    chat.now += timedelta(days=31)
    step = chat.say("/stretch")
    assert chat.screen_id() == "screening.group"
    assert content.t("screening_again", days=30) in chat.said(step)


# ---- doubt -------------------------------------------------------------------------------------------------
def test_doubt_on_a_red_flag_gets_an_explanation_then_the_cautious_path(chat: Chat, content: Content) -> None:
    chat.say("/stretch")
    step = chat.say("not sure")
    assert content.t("doubt_group_intro") in chat.said(step)
    assert "unsure" in chat.choice_ids()
    step = chat.press("unsure")  # still not sure: treated as a yes (this group refers at once)
    assert content.triage.referral("A") in chat.said(step)


def test_doubt_on_one_item_explains_that_item(chat: Chat, content: Content) -> None:
    chat.say("/stretch")
    chat.press("no")
    chat.press("yes")
    item = content.triage.question(chat.state.screen.text("question"))
    step = chat.say("maybe")
    assert item.explain in chat.said(step)
    step = chat.say("i don't know")
    assert content.triage.referral(item.level) in chat.said(step)


# ---- partner mode ------------------------------------------------------------------------------------------
def test_partner_mode_screens_the_partner_in_their_words(chat: Chat, content: Content) -> None:
    chat.say("/start")
    step = chat.press("partner")
    first = content.triage.question(content.triage.groups[0].items[0])
    assert first.line is not None and first.line.partner in chat.said(step)
    assert content.t("group_ask_partner") in chat.said(step)
    chat.press("no")
    chat.press("no")
    assert content.triage.score.text.partner in chat.prompt
    step = chat.press("low")
    partner = next(r for r in content.routines.values() if r.partner)
    # one partner routine: straight in, after its safety rules
    assert chat.screen_id() == "stretch.position"
    assert partner.intro in chat.said(step)
    assert chat.state.profile.last_outcome is None, "answers about a partner are not the user's own"


# ---- safety-netting ------------------------------------------------------------------------------------------
def test_no_flag_is_never_called_all_clear_and_the_signs_are_restated(chat: Chat, content: Content) -> None:
    chat.say("/stretch")
    step = chat.screen_safely()
    text = chat.said(step).lower()
    assert content.triage.safety_net.lower() in text
    for word in ("cleared", "all clear", "you are fine", "safe to stretch"):
        assert word not in text.replace("isn't an all-clear", "")
