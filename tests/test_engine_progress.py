"""Issue 16 through the engine, over weeks on a fake clock: routines that adapt to how each stretch felt
(and say so), the back score before and after, the offers, the weekly summary, /progress and /pictures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from conftest import Chat

from dialogs.content import Content
from dialogs.engine import Engine
from dialogs.events import CancelTimer, EndSession, RecordScore, ScheduleTimer, ShowProgress, TimerFired
from dialogs.weekly import WEEKLY_TIMER


def session(chat: Chat, routine: str = "nokneel", feel: str = "good", score: str = "skip") -> None:
    """One whole session: /stretch, the safety screen, the routine with every check-in `feel`."""
    chat.say("/stretch")
    chat.screen_safely()
    if chat.screen_id() == "screening.before":
        chat.press("skip")
    chat.press(routine)
    while chat.state.session is not None:
        if chat.screen_id() == "stretch.position":
            chat.press("ready")
            chat.finish_hold()
        else:
            chat.press(feel)
    if chat.screen_id() == "session.score_after":
        chat.press(score) if score == "skip" else chat.say(score)
    chat.say("/stop") if chat.state.session else None


def next_day(chat: Chat) -> None:
    chat.now += timedelta(days=1)
    chat.state.side = None
    chat.state.screen = None


def hold_of(chat: Chat, stretch: str) -> int:
    return next(int(s.params["seconds"]) for s in [chat.state.screen] if s and s.params.get("stretch") == stretch)


def test_tight_means_a_shorter_hold_next_time_and_the_bot_says_why(chat: Chat, content: Content) -> None:
    session(chat, "nokneel", feel="tight")
    next_day(chat)
    chat.say("/stretch")
    chat.screen_safely()
    step = chat.press("nokneel")
    first = content.routines["nokneel"].stretches[0]
    usual = content.stretches[first].hold_seconds
    shorter = usual - content.adaptation.tight.step_seconds
    assert hold_of(chat, first) == shorter
    title = content.stretches[first].title
    assert f"{title}: last time it felt tight, so today we'll hold it for {shorter} s." in chat.said(step)
    chat.press("ready")
    assert f"Hold for {shorter} s" in chat.prompt


def test_three_good_sessions_bring_an_offer_never_an_imposition(chat: Chat, content: Content) -> None:
    for _ in range(3):
        session(chat, "lower5")
        if chat.screen_id() == "session.offer":
            break
        if chat.screen_id() in ("weekly.offer", "session.done"):
            chat.press("no")
        next_day(chat)
    assert chat.screen_id() == "session.offer"
    longer = content.adaptation.good_streak.longer_routines["lower5"]
    assert content.routines[longer].title in chat.prompt
    step = chat.press("no")
    assert content.adaptation.texts.offer_declined in chat.said(step)
    next_day(chat)
    chat.say("/stretch")
    chat.screen_safely()
    assert "lower5" in chat.choice_ids(), "nothing changed by itself"


def test_a_pain_stop_rests_that_stretch_then_it_comes_back_on_request(chat: Chat, content: Content) -> None:
    chat.say("/stretch")
    chat.screen_safely()
    chat.press("nokneel")
    first = content.routines["nokneel"].stretches[0]
    chat.press("pain")
    next_day(chat)
    chat.say("/stretch")
    chat.press("better")
    step = chat.press("no")
    assert f"back_{first}" in chat.choice_ids()
    assert f"{content.stretches[first].title} is having a rest" in chat.said(step)
    chat.press("nokneel")
    assert chat.state.screen.params["stretch"] != first, "left out today"
    chat.say("/stop")
    chat.say("/stretch")
    chat.press("no") if chat.screen_id() == "screening.quick" else chat.screen_safely()
    step = chat.press(f"back_{first}")
    assert f"{content.stretches[first].title} is back in your routine" in chat.said(step)
    chat.press("nokneel")
    assert chat.state.screen.params["stretch"] == first


def test_repeated_pain_stops_bring_the_gp_advice_once(chat: Chat, content: Content) -> None:
    advice = "please see a GP or physiotherapist about it"
    said = []
    for _ in range(3):
        chat.say("/stretch")
        if chat.screen_id() == "screening.after_pain":
            chat.press("better")
        chat.screen_safely()
        chat.press(chat.choice_ids()[0])
        said.append(chat.said(chat.press("pain")))
        next_day(chat)
    assert [advice in text for text in said] == [False, True, False]


def test_a_high_back_score_after_a_session_refers(chat: Chat, content: Content) -> None:
    session(chat, "nokneel", score="8")
    step = chat.steps[-1]
    assert RecordScore(after=8) in step.actions
    assert content.triage.referral("C") in chat.said(step)


def test_a_rise_of_three_within_a_session_refers(chat: Chat, content: Content) -> None:
    chat.say("/stretch")
    chat.press("no")
    chat.press("no")
    chat.say("2")  # the pain score before
    chat.press("no")
    chat.press("nokneel")
    while chat.state.session is not None:
        chat.press("ready") if chat.screen_id() == "stretch.position" else None
        chat.finish_hold() if chat.screen_id() == "stretch.hold" else chat.press("good")
    assert chat.ended[-1].score_before == 2
    step = chat.say("5")
    assert content.triage.referral("C") in chat.said(step)


def test_the_before_score_is_asked_of_someone_who_rates_their_back(chat: Chat, content: Content) -> None:
    session(chat, "nokneel", score="2")
    next_day(chat)
    chat.say("/stretch")
    chat.press("no")  # nothing new
    assert chat.screen_id() == "screening.before"
    chat.say("2")
    assert chat.screen_id() == "routine.choose" and chat.state.session.score_before == 2
    chat.say("/stop")
    chat.say("/stretch")
    chat.press("no")
    step = chat.say("9")
    assert content.triage.referral("C") in chat.said(step)


def test_the_weekly_summary_is_offered_after_the_third_session_and_sent_once_a_week(engine: Engine) -> None:
    chat = Chat(engine, now=datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    for _ in range(3):
        session(chat, "nokneel")
        if chat.screen_id() == "session.offer":  # the third all-good session also brings longer holds first
            chat.press("no")
        if chat.screen_id() == "weekly.offer":
            break
        chat.press("no") if chat.choice_ids() else None
        next_day(chat)
    assert chat.screen_id() == "weekly.offer" and chat.state.profile.sessions_completed == 3
    chat.press("yes")
    assert chat.screen_id() == "weekly.day"
    chat.press("day_6")  # Sunday
    assert chat.screen_id() == "weekly.zone"
    step = chat.say("berlin")
    assert "Sundays at 18:00 (Europe/Berlin)" in chat.said(step)
    [timer] = [a for a in step.actions if isinstance(a, ScheduleTimer)]
    assert timer.name == WEEKLY_TIMER and timer.due.weekday() == 6 and not timer.scalable
    sent = [step for step in chat.wait(21 * 86400) if ShowProgress(weekly=True) in step.actions]
    assert len(sent) == 3  # three Sundays, once each
    due, payload = chat.timers[WEEKLY_TIMER]
    chat.now = due
    once = chat.send(TimerFired(WEEKLY_TIMER, due, payload))
    twice = chat.send(TimerFired(WEEKLY_TIMER, due, payload))  # claimed twice: still once
    assert ShowProgress(weekly=True) in once.actions and ShowProgress(weekly=True) not in twice.actions


def test_the_weekly_summary_can_be_turned_off_in_remind_and_forget_cancels_it(chat: Chat) -> None:
    chat.say("/remind")
    chat.say("7:30")
    chat.say("berlin")
    chat.press("daily")
    chat.say("/remind")
    chat.press("weekly_on")
    chat.press("day_0")
    assert chat.state.profile.weekly is not None and chat.state.profile.weekly.hour == 7
    chat.say("/remind")
    step = chat.press("weekly_off")
    assert CancelTimer(WEEKLY_TIMER) in step.actions and chat.state.profile.weekly is None
    chat.say("/remind")
    chat.press("weekly_on")
    chat.press("day_2")
    chat.say("/forget")
    step = chat.press("forget_yes")
    assert CancelTimer(WEEKLY_TIMER) in step.actions


def test_progress_asks_the_runtime_for_the_figures(chat: Chat) -> None:
    assert ShowProgress() in chat.say("/progress").actions
    chat.say("/start")
    assert ShowProgress() in chat.press("progress").actions


def test_pictures_can_be_turned_off_and_on(chat: Chat, content: Content) -> None:
    chat.say("/stretch")
    chat.screen_safely()
    chat.press("nokneel")
    assert chat.view().attachment is not None and chat.view().attachment.alt
    step = chat.say("/pictures off")
    assert content.t("pictures_off") in chat.said(step)
    chat.press("ready")
    chat.finish_hold()
    assert chat.view().attachment is None, "text only; the words still say everything"
    chat.say("/pictures on")
    chat.press("skip")
    assert chat.view().attachment is not None


def test_ratings_go_to_history_with_the_session(chat: Chat) -> None:
    session(chat, "nokneel", feel="tight")
    ended = chat.ended[-1]
    assert isinstance(ended, EndSession) and ended.ratings and {r for _, r in ended.ratings} == {"tight"}
