"""Script-style engine tests: user says X, bot answers Y. Pure engine, fake clock, no I/O."""

from __future__ import annotations

from datetime import timedelta

import pytest
from conftest import T0, Chat, said

from dialogs.content import Content
from dialogs.engine import Engine
from dialogs.events import (
    Button,
    CancelTimer,
    Command,
    EndSession,
    ExportData,
    ForgetUser,
    Notice,
    ScheduleTimer,
    Text,
    TimerFired,
)
from dialogs.flows.timers import HOLD_TIMER
from dialogs.state import UserState


def start_routine(chat: Chat, routine: str = "lower5") -> None:
    chat.say("/start")
    chat.press("start")
    chat.screen_safely()
    chat.press(routine)


# ---- start --------------------------------------------------------------------------------------------
def test_start_welcomes_with_disclaimer_and_choices(chat: Chat) -> None:
    step = chat.say("/start")
    assert "not medical advice" in chat.said(step).lower()
    assert chat.choice_ids() == ["start", "partner", "progress", "remind", "help"]
    assert step.says()[0].number == chat.state.screen_no


def test_describing_back_pain_on_the_welcome_screen_starts_the_safety_check(chat: Chat, content: Content) -> None:
    chat.say("/start")
    step = chat.say("I have back pain, can you help?")
    assert content.t("pain_ack_start") in chat.said(step)
    assert chat.screen_id() == "screening.group" and not chat.ended


def test_pain_described_while_choosing_asks_the_score_again(chat: Chat, content: Content) -> None:
    chat.say("/stretch")
    chat.screen_safely()
    step = chat.say("my back really hurts today")
    assert chat.screen_id() == "screening.score" and content.t("pain_ack_routine") in chat.said(step)
    step = chat.say("8")
    assert content.triage.referral("C") in chat.said(step)


# ---- the routine ----------------------------------------------------------------------------------------
def test_a_whole_routine_with_sparse_cues_checkins_and_summary(engine: Engine, content: Content) -> None:
    chat = Chat(engine)
    start_routine(chat, "lower5")
    routine = content.routines["lower5"]
    cues, seconds = [], 0
    for index, stretch_id in enumerate(routine.stretches):
        stretch = content.stretches[stretch_id]
        for _side in stretch.holds():
            assert chat.screen_id() == "stretch.position"
            assert f"Stretch {index + 1} of {len(routine.stretches)}: {stretch.title}" in chat.prompt
            hold = chat.press("ready")
            assert hold.says()[-1].kind == "cue"
            steps = chat.finish_hold()
            cues.append(len(steps))
            assert content.t(f"release_{stretch.mode}", count=stretch.count) in chat.said(steps[-1])
            if stretch.hold_seconds >= 20:
                assert content.t(f"halfway_{stretch.mode}") in chat.said(steps[0])
            seconds += stretch.hold_seconds
        assert chat.screen_id() == "stretch.checkin" and chat.choice_ids() == ["good", "tight", "pain"]
        last = chat.press("good")
    assert all(n <= 2 for n in cues), "never a message per second: at most halfway + release"
    done = len(routine.stretches)
    assert content.t("finished", done=done, duration=chat.renderer.duration(seconds)) in chat.said(last)
    ratings = tuple((s, "good") for s in routine.stretches)
    assert chat.ended[-1] == EndSession("completed", "lower5", None, done, seconds, ratings, score_before=0)
    assert chat.screen_id() == "session.score_after" and chat.state.session is None
    chat.press("skip")
    assert chat.screen_id() == "session.done"


def test_the_summary_counts_real_hold_time_not_the_clock(chat: Chat, content: Content) -> None:
    start_routine(chat, "nokneel")
    chat.now += timedelta(hours=3)  # a long pause before the first stretch must not inflate the minutes
    while chat.state.session is not None:
        if chat.screen_id() == "stretch.position":
            chat.press("ready")
            chat.finish_hold()
        else:
            step = chat.press("good")
    seconds = sum(content.stretches[s].hold_seconds * len(content.stretches[s].holds())
                  for s in content.routines["nokneel"].stretches)
    assert chat.renderer.duration(seconds) in chat.said(step)


def test_plural_forms_follow_the_count(chat: Chat, content: Content) -> None:
    start_routine(chat)
    chat.press("ready")
    chat.finish_hold()
    chat.press("ready")
    chat.finish_hold()
    chat.press("good")
    step = chat.say("/stop")
    assert "1 stretch." in chat.said(step) and "1 stretches" not in chat.said(step)


def test_repetitions_and_durations_are_not_held(engine: Engine, content: Content) -> None:
    cat_cow = content.stretches["cat_cow"]
    massage = content.stretches["gentle_massage"]
    assert cat_cow.mode == "reps" and massage.mode == "duration"
    chat = Chat(engine)
    start_routine(chat, "lower5")
    while "Cat-cow" not in chat.prompt:
        chat.press("skip")
    step = chat.press("ready")
    assert f"Do {cat_cow.count} slow rounds" in chat.said(step) and "Hold for" not in chat.said(step)
    assert content.t("release_reps", count=cat_cow.count) in chat.said(chat.finish_hold())
    partner = Chat(engine)
    partner.say("/start")
    partner.press("partner")
    partner.screen_safely()
    while partner.screen_id() == "stretch.position" and "massage" not in partner.prompt.lower():
        partner.press("skip")
    step = partner.press("ready")
    assert "about 1 minute" in partner.said(step) and "Hold for" not in partner.said(step)


def test_the_second_side_says_only_what_changes(chat: Chat, content: Content) -> None:
    start_routine(chat)
    stretch = content.stretches[content.routines["lower5"].stretches[0]]
    assert stretch.position in chat.prompt and content.t("side_left") in chat.prompt
    chat.press("ready")
    chat.finish_hold()
    assert content.t("side_right") in chat.prompt
    assert stretch.other_side in chat.prompt and stretch.position not in chat.prompt


def test_cues_are_due_at_fixed_times_even_when_a_timer_fires_late(engine: Engine, content: Content) -> None:
    chat = Chat(engine)
    start_routine(chat)
    stretch = content.stretches[content.routines["lower5"].stretches[0]]
    step = chat.press("ready")
    started = chat.now
    [timer] = [a for a in step.actions if isinstance(a, ScheduleTimer)]
    assert timer.scalable, "a hold is a duration: the runtime may speed it up for demos"
    halfway_due, payload = chat.timers[HOLD_TIMER]
    assert halfway_due == started + timedelta(seconds=stretch.hold_seconds / 2)
    chat.now = halfway_due + timedelta(seconds=3)  # the scheduler was 3 s late
    step = chat.send(TimerFired(HOLD_TIMER, halfway_due, payload))
    assert [a.due for a in step.actions if isinstance(a, ScheduleTimer)] == [
        started + timedelta(seconds=stretch.hold_seconds)]


def test_a_cue_overdue_after_an_outage_comes_once_with_an_apology(engine: Engine, content: Content) -> None:
    chat = Chat(engine)
    start_routine(chat)
    chat.press("ready")
    due, payload = chat.timers.pop(HOLD_TIMER)
    chat.now = due + timedelta(minutes=10)  # both halfway and release are long overdue
    step = chat.send(TimerFired(HOLD_TIMER, due, payload))
    text = chat.said(step)
    assert content.t("late") in text and content.t("release_hold") in text and content.t("halfway_hold") not in text
    assert HOLD_TIMER not in chat.timers


def test_short_holds_get_no_halfway_cue(content: Content) -> None:
    short = content.stretches["knee_to_chest"].model_copy(update={"hold_seconds": 10})
    limits = [limit for limit in content.adaptation.holds if limit.stretch != "knee_to_chest"]
    patched = content.model_copy(update={"stretches": {**content.stretches, "knee_to_chest": short},
                                         "adaptation": content.adaptation.model_copy(update={"holds": limits})})
    chat = Chat(Engine(patched))
    start_routine(chat)
    chat.press("ready")
    steps = chat.finish_hold()
    assert len(steps) == 1 and content.t("halfway_hold") not in chat.said(steps)


def test_skip_moves_on_and_cancels_the_hold(chat: Chat, content: Content) -> None:
    start_routine(chat)
    chat.press("ready")
    step = chat.press("skip")
    assert CancelTimer(HOLD_TIMER) in step.actions
    assert chat.state.screen.number("number") == 2 and content.t("skipped") in chat.said(step)
    assert HOLD_TIMER not in chat.timers


def test_tight_checkin_gives_a_gentle_tip(chat: Chat, content: Content) -> None:
    start_routine(chat)
    while chat.screen_id() != "stretch.checkin":
        chat.press("ready")
        chat.finish_hold()
    assert content.t("tight_tip") in chat.said(chat.press("tight"))


def test_partner_mode_never_teaches_cracking_and_uses_partner_stretches(chat: Chat, content: Content) -> None:
    chat.say("/start")
    chat.press("partner")
    step = chat.screen_safely()
    assert "never" in chat.said(step).lower()
    stretch = content.stretches[content.routines["partner"].stretches[0]]
    assert stretch.title in chat.prompt


# ---- pain, at any point ----------------------------------------------------------------------------------
def test_pain_button_mid_hold_ends_with_referral_and_no_further_cue(chat: Chat, content: Content) -> None:
    start_routine(chat)
    hold = chat.press("ready")
    step = chat.send(Button("pain", hold.says()[-1].number or 0))
    assert content.triage.pain_stop in chat.said(step)
    assert CancelTimer(HOLD_TIMER) in step.actions
    assert chat.ended[-1].outcome == "referral" and chat.state.session is None
    assert chat.wait(600) == [] and chat.timers == {}


def test_typed_pain_mid_hold_ends_it_in_the_same_reply(chat: Chat, content: Content) -> None:
    start_routine(chat)
    chat.press("ready")
    step = chat.say("ouch that hurts")
    assert content.triage.pain_stop in chat.said(step) and CancelTimer(HOLD_TIMER) in step.actions
    assert chat.wait(600) == []


def test_both_legs_mid_hold_get_the_emergency_text(chat: Chat, content: Content) -> None:
    start_routine(chat)
    chat.press("ready")
    step = chat.say("I have tingling in both legs")
    assert content.triage.referral("A") in chat.said(step)
    assert chat.ended[-1].level == "A"


def test_a_pain_button_from_an_old_screen_still_counts(chat: Chat, content: Content) -> None:
    start_routine(chat)
    old_screen = chat.state.screen_no
    chat.press("ready")
    chat.finish_hold()
    step = chat.send(Button("pain", old_screen))
    assert content.triage.pain_stop in chat.said(step) and chat.state.session is None


def test_text_not_understood_mid_hold_asks_whether_anything_hurts(chat: Chat, content: Content) -> None:
    start_routine(chat)
    chat.press("ready")
    timers = dict(chat.timers)
    step = chat.say("purple elephant")
    assert content.t("unsure") in chat.said(step)
    assert chat.choice_ids()[0] == "pain", "It hurts is the first option"
    assert chat.timers == timers, "the hold goes on meanwhile"
    step = chat.press("carry_on")
    assert chat.screen_id() == "stretch.hold"
    steps = chat.finish_hold()
    assert content.t("release_hold") in chat.said(steps)


def test_it_hurts_on_the_unsure_screen_ends_the_session(chat: Chat, content: Content) -> None:
    start_routine(chat)
    chat.say("hmm")
    step = chat.press("pain")
    assert content.triage.pain_stop in chat.said(step) and chat.state.session is None


def test_pain_after_referral_is_remembered(chat: Chat) -> None:
    start_routine(chat)
    chat.say("ouch")
    assert chat.state.profile.last_outcome == "pain"


# ---- unsafe requests, stop, help, bad input -------------------------------------------------------------
@pytest.mark.parametrize("request_text", ["can you walk on my back", "Crack my neck please", "give me a bear hug",
                                          "lift me up"])
def test_unsafe_requests_mid_hold_get_a_kind_no_and_the_hold_goes_on(chat: Chat, content: Content,
                                                                     request_text: str) -> None:
    start_routine(chat)
    chat.press("ready")
    before_state, before_timers = chat.state, dict(chat.timers)
    step = chat.say(request_text)
    replies = {u.reply for u in content.phrases.unsafe}
    assert any(reply in chat.said(step) for reply in replies)
    assert chat.state.session == before_state.session and chat.timers == before_timers


def test_an_unsafe_request_when_idle_offers_a_routine_and_yes_is_understood(chat: Chat) -> None:
    chat.say("/start")
    chat.say("can you walk on my back")
    assert chat.screen_id() == "unsafe.offer"
    chat.say("yes")
    assert chat.screen_id() == "screening.group"


def test_stop_mid_hold_cancels_and_records(chat: Chat, content: Content) -> None:
    start_routine(chat)
    chat.press("ready")
    step = chat.say("/stop")
    assert CancelTimer(HOLD_TIMER) in step.actions
    assert chat.ended[-1].outcome == "stopped" and chat.state.session is None
    assert content.t("stopped", done=0) in chat.said(step) and chat.screen_id() == "home"
    assert chat.wait(600) == []


def test_stop_with_nothing_running(chat: Chat, content: Content) -> None:
    assert content.t("nothing_to_stop") in chat.said(chat.say("/stop"))


def test_help_keeps_the_current_screen_and_says_how_many_answers(chat: Chat, content: Content) -> None:
    start_routine(chat)
    screen, number = chat.state.screen, chat.state.screen_no
    step = chat.say("/help")
    assert content.t("help", answers=content.triage.answers_needed()) in chat.said(step)
    assert chat.state.screen == screen and chat.state.screen_no == number
    assert step.says()[-1].number == number


def test_unknown_command_and_free_text_get_a_hint_with_options(chat: Chat, content: Content) -> None:
    chat.say("/start")
    assert content.t("unknown_command", name="dance") in chat.said(chat.say("/dance"))
    step = chat.say("purple elephant")
    assert content.t("label_start") in chat.said(step) and chat.screen_id() == "home"


def test_typed_choice_words_work_like_buttons(chat: Chat) -> None:
    start_routine(chat)
    chat.say("ready")
    assert chat.screen_id() == "stretch.hold"


def test_stale_and_unknown_buttons_change_nothing(chat: Chat, content: Content) -> None:
    start_routine(chat)
    old = chat.state.screen_no
    chat.press("ready")
    before = chat.state
    step = chat.send(Button("ready", old))
    assert [type(a) for a in step.actions] == [Notice] and chat.state == before
    assert chat.said(step) == content.t("stale_button")
    step = chat.send(Button("no_such_choice", chat.state.screen_no))
    assert isinstance(step.actions[0], Notice) and chat.state == before


def test_a_huge_message_gets_a_hint(chat: Chat, content: Content) -> None:
    chat.say("/start")
    step = chat.say("x" * 1_000_000)
    assert content.t("label_start") in chat.said(step)


def test_stale_timers_are_ignored(chat: Chat) -> None:
    start_routine(chat)
    chat.press("ready")
    due, payload = chat.timers[HOLD_TIMER]
    chat.press("skip")
    step = chat.send(TimerFired(HOLD_TIMER, due, payload))
    assert step.actions == () and step.state == chat.state


def test_start_mid_session_resumes_the_current_screen(chat: Chat, content: Content) -> None:
    start_routine(chat)
    prompt = chat.prompt
    step = chat.say("/start")
    assert content.t("welcome_back") in chat.said(step) and prompt in chat.said(step)


# ---- data ---------------------------------------------------------------------------------------------------
def test_mydata_asks_for_an_export(chat: Chat) -> None:
    assert ExportData() in chat.say("/mydata").actions


def test_forget_needs_confirmation(chat: Chat, content: Content) -> None:
    start_routine(chat)
    chat.press("ready")
    chat.say("/forget")
    assert ForgetUser() not in chat.steps[-1].actions
    step = chat.press("forget_yes")
    assert ForgetUser() in step.actions and CancelTimer(HOLD_TIMER) in step.actions
    assert chat.state.session is None and chat.state.profile.last_screened_at is None
    chat.say("/forget")
    step = chat.press("forget_no")
    assert ForgetUser() not in step.actions and content.t("forget_cancelled") in chat.said(step)


def test_cancelling_forget_mid_session_brings_the_screen_back(chat: Chat, content: Content) -> None:
    chat.say("/stretch")
    screen = chat.state.screen
    chat.say("/forget")
    step = chat.press("forget_no")
    assert content.t("forget_cancelled") in chat.said(step) and chat.state.screen == screen
    assert step.says()[-1].number == chat.state.screen_no
    chat.press("no")
    assert chat.state.screen.number("group") == 1


def test_the_engine_does_not_mutate_the_state_it_was_given(engine: Engine) -> None:
    state = UserState()
    engine.handle(state, Command("stretch"), T0)
    assert state == UserState()


def test_advance_on_a_handed_over_state_steps_exactly_like_handle(engine: Engine) -> None:
    # the runtime calls advance() on the state it has just loaded (no copy); it must mean the same step
    state, now, screens = UserState(), T0, set()
    script = [Command("stretch"), Button("no", 0), Text("no numbness"), Text("no"), Text("none of those"),
              Text("2"), Text("no"), Text("can you walk on my back"), Command("help"), Text("ouch it hurts")]
    for event in script:
        if isinstance(event, Button):
            event = Button(event.choice, state.screen_no)
        kept = state.to_json()
        pure = engine.handle(state, event, now)
        assert state.to_json() == kept
        handed_over = engine.advance(UserState.model_validate_json(kept), event, now)
        assert handed_over == pure
        state, now = pure.state, now + timedelta(seconds=5)
        screens.add(state.screen.id if state.screen else None)
    assert len(screens) >= 3  # the script really moved through the screening


def test_state_survives_a_json_round_trip_mid_hold(chat: Chat) -> None:
    start_routine(chat)
    chat.press("ready")
    assert UserState.from_json(chat.state.to_json()) == chat.state


def test_a_content_fix_reaches_a_screen_already_on_display(engine: Engine, content: Content) -> None:
    chat = Chat(engine)
    chat.say("/stretch")
    chat.press("no")
    chat.press("no")
    assert chat.screen_id() == "screening.score"
    fixed = content.triage.score.model_copy(update={"text": content.triage.score.text.model_copy(
        update={"self_": "How much does your back hurt right now, from 0 to 10?"})})
    patched = content.model_copy(update={"triage": content.triage.model_copy(update={"score": fixed})})
    later = Chat(Engine(patched), now=chat.now, state=chat.state)  # the same stored state, new content
    step = later.say("/help")  # any repeat of the screen renders it again
    assert "How much does your back hurt right now" in later.said(step)


def test_said_helper_renders_notices_too(chat: Chat, content: Content) -> None:
    step = chat.send(Button("ready", 12345))
    assert said(step) == content.t("stale_button")
