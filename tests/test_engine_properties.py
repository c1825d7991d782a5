"""Engine invariants, checked with hypothesis over random event sequences from random states.

- any event from any reachable state is handled without an exception, every user input is answered, and
  the state stays storable;
- the It hurts button from any state, and pain typed in any words during an exercise, end the session with
  referral text in that same step and cancel the hold timer;
- no stretch prompt or hold cue ever follows a referral until the user starts again;
- hold timers only fire for the hold that scheduled them.
"""

from __future__ import annotations

from datetime import timedelta

from conftest import Chat
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dialogs.content import COMMANDS, load_content
from dialogs.engine import Engine
from dialogs.events import Button, CancelTimer, Command, EndSession, Text, TimerFired
from dialogs.flows.timers import HOLD_TIMER
from dialogs.state import UserState
from dialogs.turn import Step

CONTENT = load_content()
ENGINE = Engine(CONTENT)
LABELS = sorted({entry for key, entry in CONTENT.wording.strings.items() if key.startswith("label_")
                 and isinstance(entry, str)} | {r.title for r in CONTENT.routines.values()})
CHOICE_IDS = ["start", "partner", "remind", "help", "yes", "no", "unsure", "low", "mid", "high", "ready", "skip",
              "stop", "pain", "good", "tight", "carry_on", "gone", "better", "same", "forget_yes", "forget_no",
              *CONTENT.routines]
USER_INPUTS = ("command", "text", "press", "button")
PAIN_NOW = ["ouch", "that hurts", "it really hurts now", "sharp pain in my back", "OW", "my back hurts"]
EXERCISE_SCREENS = ("stretch.position", "stretch.hold", "stretch.checkin", "stretch.unsure")

# One input of a random script: each is resolved against the chat's current state when it runs.
inputs = st.one_of(
    st.tuples(st.just("command"), st.sampled_from([*COMMANDS, "dance", "START", "stretch@bot"])),
    st.tuples(st.just("text"), st.one_of(st.text(max_size=60),
                                         st.sampled_from([*LABELS, "y", "n", "7", "0", "10", "not sure"]))),
    st.tuples(st.just("press"), st.integers(0, 5)),  # the n-th choice on the current screen
    st.tuples(st.just("button"), st.tuples(st.sampled_from(CHOICE_IDS), st.integers(-2, 50))),  # any, maybe stale
    st.tuples(st.just("wait"), st.floats(0, 120)),  # time passes; due timers fire
    st.tuples(st.just("timer"), st.tuples(st.sampled_from([HOLD_TIMER, "daily", "x"]), st.integers(0, 5))),
)


def play(chat: Chat, kind: str, value: object) -> list[Step]:
    if kind == "command":
        return [chat.send(Command(str(value)))]
    if kind == "text":
        return [chat.send(Text(str(value)))]
    if kind == "press":
        ids = chat.choice_ids()
        if not ids:
            return []
        return [chat.send(Button(ids[int(value) % len(ids)], chat.state.screen_no))]  # type: ignore[call-overload]
    if kind == "button":
        choice, screen = value  # type: ignore[misc]
        return [chat.send(Button(choice, chat.state.screen_no if screen < 0 else screen))]
    if kind == "wait":
        return chat.wait(float(value))  # type: ignore[arg-type]
    if kind == "timer":
        name, seq = value  # type: ignore[misc]
        return [chat.send(TimerFired(name, chat.now, {"session": seq, "seq": seq, "cue": "release"}))]
    raise AssertionError(kind)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(inputs, max_size=40))
def test_any_event_from_any_state_is_handled(script: list[tuple[str, object]]) -> None:
    chat = Chat(ENGINE)
    for kind, value in script:
        steps = play(chat, kind, value)
        if kind in USER_INPUTS and steps:
            assert steps[0].actions, f"{kind} {value!r} got no answer"  # every user input is answered
        for step in steps:
            assert UserState.from_json(step.state.to_json()) == step.state  # always storable
            for say in step.says():
                chat.renderer.render(say)  # and always renderable
    # a mid-routine chat always has a way on: a screen with choices, or a running hold
    if chat.state.session:
        assert chat.choice_ids() or HOLD_TIMER in chat.timers


def assert_ends_now(chat: Chat, step: Step, had_session: bool) -> None:
    referrals = [s for s in step.says() if s.kind == "referral"]
    assert len(referrals) == 1, step.actions
    assert CancelTimer(HOLD_TIMER) in step.actions and HOLD_TIMER not in chat.timers
    assert chat.state.session is None and chat.choice_ids() == []
    if had_session:
        assert any(isinstance(a, EndSession) and a.outcome == "referral" for a in step.actions)


def assert_nothing_follows(chat: Chat, after: list[tuple[str, object]]) -> None:
    """After a referral: no stretch prompt or hold cue until the user explicitly starts again."""
    for kind, value in after:
        if kind in ("command", "press") or (kind == "text" and str(value).startswith("/")):
            break  # only a command (or a new screen's button) can start again: the invariant ends here
        for later in play(chat, kind, value):
            assert not any(s.kind == "cue" for s in later.says()), later.actions
            assert chat.screen_id() not in ("stretch.position", "stretch.hold")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(inputs, max_size=30), st.lists(inputs, max_size=15))
def test_the_pain_button_from_any_state_ends_the_session_at_once(before: list, after: list) -> None:
    chat = Chat(ENGINE)
    for kind, value in before:
        play(chat, kind, value)
    had_session = chat.state.session is not None
    step = chat.send(Button("pain", chat.state.screen_no))
    assert_ends_now(chat, step, had_session)
    assert_nothing_follows(chat, after)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(inputs, max_size=30), st.sampled_from(PAIN_NOW), st.sampled_from(["", "hmm ", "OK so "]),
       st.sampled_from(["", "!", " now", "..."]), st.lists(inputs, max_size=15))
def test_pain_typed_during_an_exercise_ends_the_session_at_once(before: list, pain: str, prefix: str, suffix: str,
                                                                after: list) -> None:
    chat = Chat(ENGINE)
    chat.say("/stretch")
    chat.screen_safely()
    chat.press(chat.choice_ids()[0])
    for kind, value in before:
        if kind in ("command", "button") or (kind == "text" and str(value).startswith("/")):
            continue  # stay inside the exercise
        play(chat, kind, value)
        if chat.screen_id() not in EXERCISE_SCREENS:
            break
    if chat.screen_id() not in EXERCISE_SCREENS:
        return
    step = chat.send(Text(f"{prefix}{pain}{suffix}"))
    assert_ends_now(chat, step, had_session=True)
    assert_nothing_follows(chat, after)


@settings(max_examples=100, deadline=None)
@given(st.lists(inputs, max_size=30), st.integers(0, 10_000))
def test_timers_only_fire_for_the_hold_that_scheduled_them(script: list, seconds: int) -> None:
    chat = Chat(ENGINE)
    for kind, value in script:
        play(chat, kind, value)
    if HOLD_TIMER in chat.timers:
        due, payload = chat.timers[HOLD_TIMER]
        stale = {**payload, "seq": int(payload["seq"] or 0) - 1}
        step = chat.send(TimerFired(HOLD_TIMER, due, stale))
        assert step.actions == ()
    chat.wait(seconds)
    assert all(due > chat.now for due, _ in chat.timers.values())
    assert chat.now - (chat.state.session.started_at if chat.state.session else chat.now) >= timedelta(0)
