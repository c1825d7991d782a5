"""The corpus through the REAL engine: not what the reader reads, but what the bot then does.

Every utterance is typed on a state that shows its screen (reached the way a user reaches it), and the
step is judged: pain now during an exercise ends the session in that step with the pain referral and no
cue follows; an emergency sign present gives the emergency referral from any screen; a denied sign never
does; pain described before exercising never ends a session; and nothing else stops one.
"""

from __future__ import annotations

from datetime import timedelta
from functools import cache

import pytest
from conftest import T0, Chat
from corpus import CHATTER, Case, load
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from screens import screen_for

from dialogs.content import load_content
from dialogs.engine import Engine
from dialogs.events import CancelTimer, Say, Text
from dialogs.flows.timers import HOLD_TIMER
from dialogs.state import Screening, UserState
from dialogs.turn import Step

CONTENT = load_content()
ENGINE = Engine(CONTENT)
CASES = [case for case in load() if not case.heldout]
EXERCISE = ("stretch.position", "stretch.hold", "stretch.checkin", "stretch.unsure")
ZERO = timedelta(0)
ENGINE_NOW_OFFSET = timedelta(days=1)


@cache
def state_on(screen: str, topic: str | None) -> UserState:
    """A user's state with this screen on display, reached by pressing through the conversation."""
    chat = Chat(ENGINE, now=T0)
    if screen in ("welcome", "menu"):
        chat.say("/start")
    elif screen.startswith("screening.") or screen in ("routine.choose", *EXERCISE):
        chat.say("/stretch")
        if screen == "screening.group" and topic in ("urgent", "caution"):
            chat.press("no")
        elif screen == "screening.item":  # the question of this topic on display, whichever group holds it
            shown = screen_for(screen, topic)
            question = str(shown.params["question"])
            group = next(i for i, g in enumerate(CONTENT.triage.groups) if question in g.items)
            chat.state.session.phase = Screening(stage="item", group=group, item=question)
            chat.state.screen = shown
        elif screen in ("screening.score", "screening.kneeling", "routine.choose", *EXERCISE):
            chat.screen_safely()
            if screen == "screening.score":
                return _fresh_score(chat)
        if screen in EXERCISE:
            chat.press("nokneel")
            if screen in ("stretch.hold", "stretch.checkin", "stretch.unsure"):
                chat.press("ready")
            if screen == "stretch.checkin":
                chat.finish_hold()
                chat.press("ready")
                chat.finish_hold()
            if screen == "stretch.unsure":
                chat.say("purple elephant")
        elif screen == "screening.quick":
            return _quick(chat)
    elif screen.startswith("remind.") or screen in ("session.done", "unsafe.offer", "forget.confirm"):
        return _side(chat, screen)
    return chat.state


def _fresh_score(chat: Chat) -> UserState:
    fresh = Chat(ENGINE, now=T0)
    fresh.say("/stretch")
    fresh.press("no")
    fresh.press("no")
    return fresh.state


def _quick(chat: Chat) -> UserState:
    chat.screen_safely()
    chat.press(chat.choice_ids()[0])
    chat.say("/stop")
    chat.say("/stretch")
    return chat.state


def _side(chat: Chat, screen: str) -> UserState:
    if screen == "unsafe.offer":
        chat.say("/start")
        chat.say("walk on my back")
    elif screen == "forget.confirm":
        chat.say("/forget")
    elif screen == "session.done":
        chat.say("/stretch")
        chat.screen_safely()
        chat.press("nokneel")
        while chat.state.session is not None:
            chat.press("ready") if chat.screen_id() == "stretch.position" else chat.press("good")
            chat.finish_hold()
        chat.press("skip")
    else:
        chat.say("/remind")
        steps = {"remind.zone": ["7:30"], "remind.days": ["7:30", "berlin"]}.get(screen, [])
        for typed in steps:
            chat.say(typed)
        if screen in ("remind.menu", "remind.pause", "remind.due"):
            for typed in ("7:30", "berlin", "daily"):
                chat.say(typed) if typed != "daily" else chat.press("daily")
            if screen == "remind.due":
                chat.wait(86400)
            else:
                chat.say("/remind")
                if screen == "remind.pause":
                    chat.press("pause")
    return chat.state


def step_on(case_screen: str, topic: str | None, text: str) -> tuple[Chat, Step]:
    state = state_on(case_screen, topic)
    chat = Chat(ENGINE, now=T0 + (ENGINE_NOW_OFFSET if case_screen == "remind.due" else ZERO), state=state)
    chat.timers = dict(_timers(state))
    return chat, chat.send(Text(text))




def _timers(state: UserState) -> dict:
    session = state.session
    if session is None or session.phase.kind != "exercise" or session.phase.stage != "hold":
        return {}
    phase = session.phase
    due = (phase.hold_started_at or T0) + timedelta(seconds=phase.plan[phase.stretch].seconds / 2)
    return {HOLD_TIMER: (due, {"session": session.id, "seq": phase.seq, "cue": "halfway"})}


def referral(step: Step) -> str | None:
    """"A", "pain"... when the step ended with a referral, else None."""
    says = [a for a in step.actions if isinstance(a, Say) and a.kind == "referral"]
    if not says:
        return None
    keys = [line.key for line in says[0].lines]
    if "@pain_stop" in keys:
        return "pain"
    return next((str(line.params.get("level")) for line in says[0].lines if line.key == "@referral"), "other")


def ids(case: Case) -> str:
    return f"{case.screen}:{case.text[:40]}"


@pytest.mark.parametrize("case", [c for c in CASES if c.cls == "pain_now"], ids=ids)
def test_pain_now_ends_the_session_in_that_step(case: Case) -> None:
    chat, step = step_on(case.screen, case.topic, case.text)
    assert referral(step) in ("pain", "A"), chat.said(step)
    assert chat.state.session is None and CancelTimer(HOLD_TIMER) in step.actions
    assert chat.wait(600) == [], "no cue after the referral"


@pytest.mark.parametrize("case", [c for c in CASES if c.cls == "emergency_present"], ids=ids)
def test_an_emergency_sign_present_gets_the_emergency_referral(case: Case) -> None:
    _, step = step_on(case.screen, case.topic, case.text)
    assert referral(step) == "A"


@pytest.mark.parametrize("case", [c for c in CASES if c.cls == "negated"], ids=ids)
def test_a_denied_sign_is_never_an_emergency(case: Case) -> None:
    _, step = step_on(case.screen, case.topic, case.text)
    assert referral(step) != "A"


def test_false_stops_on_everything_else_are_at_most_two_percent() -> None:
    rest = [c for c in CASES if c.cls not in ("pain_now", "emergency_present")]
    stops = []
    for case in rest:
        _, step = step_on(case.screen, case.topic, case.text)
        if referral(step) in ("pain", "A") and not (case.cls == "answer" and case.value == "pain"):
            stops.append(case)
    assert len(stops) / len(rest) <= 0.02, [(c.screen, c.text) for c in stops]


@pytest.mark.parametrize("case", [c for c in CASES if c.cls == "pain_before"], ids=ids)
def test_pain_described_before_exercising_never_ends_a_session(case: Case) -> None:
    chat, step = step_on(case.screen, case.topic, case.text)
    assert referral(step) not in ("pain",), chat.said(step)


# phrasings that mean pain on any exercise screen; answers to "does anything hurt?" ("yeah my back") only there
PAIN_NOW = sorted({c.text for c in CASES if c.cls == "pain_now" and len(c.text) < 200 and c.screen != "stretch.unsure"})
NOISE = [sentence.strip() for sentence in CHATTER.split(",") if sentence.strip()]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(EXERCISE), st.sampled_from(PAIN_NOW), st.sampled_from(NOISE), st.sampled_from(NOISE),
       st.sampled_from(["lower", "upper", "title", "same"]), st.sampled_from(["", "!", "!!!", "...", "?"]))
def test_any_exercise_screen_and_any_pain_phrasing_ends_the_session(screen: str, pain: str, before: str,
                                                                     after: str, case: str, mark: str) -> None:
    """Surrounding text (ordinary chatter, with no sign of its own), case and punctuation change nothing."""
    text = {"lower": str.lower, "upper": str.upper, "title": str.title, "same": str}[case](pain) + mark
    chat, step = step_on(screen, None, f"{before}. {text} {after}")
    assert referral(step) in ("pain", "A"), (screen, text)
    assert chat.state.session is None and chat.wait(600) == []
