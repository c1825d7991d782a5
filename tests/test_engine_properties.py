"""Engine invariants, checked with hypothesis over random event sequences from random states.

- any event from any reachable state is handled without an exception, and the state stays storable;
- a pain report (button, or any phrase from the content lists) ends the session with referral text in
  that same step and cancels the hold timer;
- no stretch prompt or hold cue ever follows a referral until the user starts again.
"""
from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import Chat
from dialogs.content import load_content
from dialogs.engine import HOLD_TIMER, Engine
from dialogs.model import COMMANDS, Button, CancelTimer, Command, EndSession, Text, TimerFired, UserState

CONTENT = load_content()
ENGINE = Engine(CONTENT)
LABELS = sorted({label for key, label in CONTENT.ui.items() if key.startswith("label_")}
                | {r.title for r in CONTENT.routines.values()})
CHOICE_IDS = ["start", "remind", "help", "yes", "no", "low", "mid", "high", "ready", "skip", "stop", "pain",
              "good", "tight", "no_thanks", "forget_yes", "forget_no", *CONTENT.routines]
USER_INPUTS = ("command", "text", "press", "button")
PAIN_PHRASES = CONTENT.phrases.pain + CONTENT.phrases.emergency

# One input of a random script: each is resolved against the chat's current state when it runs.
inputs = st.one_of(
    st.tuples(st.just("command"), st.sampled_from([*COMMANDS, "dance", "START", "stretch@bot"])),
    st.tuples(st.just("text"), st.one_of(st.text(max_size=60), st.sampled_from(LABELS + ["y", "n", "7", "0", "10"]))),
    st.tuples(st.just("press"), st.integers(0, 5)),  # the n-th choice on the current screen
    st.tuples(st.just("button"), st.tuples(st.sampled_from(CHOICE_IDS), st.integers(-2, 50))),  # any, maybe stale
    st.tuples(st.just("wait"), st.floats(0, 120)),  # time passes; due timers fire
    st.tuples(st.just("timer"), st.tuples(st.sampled_from([HOLD_TIMER, "daily", "x"]), st.integers(0, 5))),
)
pain_reports = st.one_of(
    st.just(("button", None)),
    st.tuples(st.just("text"), st.sampled_from(PAIN_PHRASES).flatmap(
        lambda phrase: st.sampled_from([phrase, phrase.upper(), f"hmm {phrase}!", f"it's {phrase} now"]))),
)


def play(chat: Chat, kind: str, value) -> list:
    if kind == "command":
        return [chat.send(Command(value))]
    if kind == "text":
        return [chat.send(Text(value))]
    if kind == "press":
        if not chat.state.choices:
            return []
        choice, _ = chat.state.choices[value % len(chat.state.choices)]
        return [chat.send(Button(choice, chat.state.screen))]
    if kind == "button":
        choice, screen = value
        return [chat.send(Button(choice, chat.state.screen if screen < 0 else screen))]
    if kind == "wait":
        return chat.wait(value)
    if kind == "timer":
        name, seq = value
        return [chat.send(TimerFired(name, chat.now, {"session": seq, "seq": seq, "cue": "release"}))]
    raise AssertionError(kind)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(inputs, max_size=40))
def test_any_event_from_any_state_is_handled(script):
    chat = Chat(ENGINE)
    for kind, value in script:
        steps = play(chat, kind, value)
        if kind in USER_INPUTS and steps:
            assert steps[0].actions, f"{kind} {value!r} got no answer"  # every user input is answered
        for step in steps:
            assert UserState.from_json(step.state.to_json()) == step.state  # always storable
    # a mid-routine chat always has a way on: a screen with choices, or a running hold
    if chat.state.session:
        assert chat.state.choices or HOLD_TIMER in chat.timers


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(inputs, max_size=30), pain_reports, st.lists(inputs, max_size=15))
def test_pain_from_any_state_ends_the_session_at_once(before, pain, after):
    chat = Chat(ENGINE)
    for kind, value in before:
        play(chat, kind, value)
    had_session = chat.state.session is not None
    kind, value = pain
    step = chat.send(Button("pain", chat.state.screen) if kind == "button" else Text(value))
    referrals = [s for s in step.says() if s.kind == "referral"]
    assert len(referrals) == 1, step.actions
    assert CancelTimer(HOLD_TIMER) in step.actions and HOLD_TIMER not in chat.timers
    assert chat.state.session is None and chat.state.choices == []
    if had_session:
        assert any(isinstance(a, EndSession) and a.outcome == "referral" for a in step.actions)
    # afterwards: no stretch prompt or hold cue until the user explicitly starts again
    for kind, value in after:
        if kind == "command" or (kind == "text" and str(value).startswith("/")):
            break  # only a command can start again (a referral leaves no buttons): the invariant ends here
        for later in play(chat, kind, value):
            assert not any(s.kind == "cue" for s in later.says()), later.actions
            assert "Press Ready" not in later.text()


@settings(max_examples=100, deadline=None)
@given(st.lists(inputs, max_size=30), st.integers(0, 10_000))
def test_timers_only_fire_for_the_hold_that_scheduled_them(script, seconds):
    chat = Chat(ENGINE)
    for kind, value in script:
        play(chat, kind, value)
    if HOLD_TIMER in chat.timers:
        due, payload = chat.timers[HOLD_TIMER]
        stale = {**payload, "seq": payload["seq"] - 1}
        step = chat.send(TimerFired(HOLD_TIMER, due, stale))
        assert step.actions == ()
    chat.wait(seconds)
    assert all(due > chat.now for due, _ in chat.timers.values())
    assert chat.now - (chat.state.session.started_at if chat.state.session else chat.now) >= timedelta(0)
