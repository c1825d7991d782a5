"""Measure 1: the pure Engine, steps/s and per-step latency, over a realistic mix on one core.

The mix is recorded once from scripted conversations (the full safety screen, the quick check, routines
with hold cues and check-ins, the back score after, typed answers, free text, unsafe requests, pain, stale
buttons, commands), then
every recorded (state, event, now) is replayed through Engine.handle and timed one by one.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from benchlib import Result, fmt, median, percentile

from dialogs.content import load_content
from dialogs.engine import Engine
from dialogs.events import Button, CancelTimer, Command, Event, ScheduleTimer, Text, TimerFired
from dialogs.flows.timers import HOLD_TIMER
from dialogs.state import UserState

EXERCISE_SCREENS = ("stretch.position", "stretch.hold", "stretch.checkin", "stretch.unsure")

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Recorder:
    """Drives the engine like the runtime would and records every step's input."""

    def __init__(self, engine: Engine, trace: list, now: datetime = T0, state: UserState | None = None):
        self.engine, self.trace, self.now = engine, trace, now
        self.state = state or UserState()
        self.timers: dict[str, tuple[datetime, dict]] = {}

    def send(self, event: Event) -> None:
        self.trace.append((self.state, event, self.now))
        step = self.engine.handle(self.state, event, self.now)
        self.state = step.state
        for action in step.actions:
            if isinstance(action, ScheduleTimer):
                self.timers[action.name] = (action.due, action.payload)
            elif isinstance(action, CancelTimer):
                self.timers.pop(action.name, None)

    def say(self, text: str) -> None:
        self.send(Command(text[1:]) if text.startswith("/") else Text(text))

    def press(self, choice: str) -> None:
        self.send(Button(choice, self.state.screen_no))

    def screen(self) -> str:
        return self.state.screen.id if self.state.screen else ""

    def ids(self) -> tuple[str, ...]:
        return self.engine.screens.spec(self.state.screen).choice_ids() if self.state.screen else ()

    def finish_hold(self) -> None:
        while HOLD_TIMER in self.timers:
            due, payload = self.timers.pop(HOLD_TIMER)
            self.now = max(self.now, due)
            self.send(TimerFired(HOLD_TIMER, due, payload))

    def screening(self, typed: bool) -> None:
        while self.screen().startswith("screening."):
            if "low" in self.ids():
                self.say("2") if typed else self.press("low")
            elif "better" in self.ids():
                self.press("better")
            else:
                self.say("no") if typed else self.press("no")

    def routine(self, routine: str, typed: bool, text_mid_hold: bool) -> None:
        title = self.engine.content.routines[routine].title
        self.say(title) if typed else self.press(routine)
        while self.state.session and self.screen() in EXERCISE_SCREENS:
            screen = self.screen()
            if screen == "stretch.position":
                self.say("ready") if typed else self.press("ready")
            elif screen == "stretch.hold":
                if text_mid_hold:
                    self.say("this is nice")  # typed mid-hold: "does anything hurt?", the hold keeps going
                    self.press("skip" if self.state.screen_no % 7 == 0 else "nothing")  # some stale presses
                self.finish_hold()
            elif screen == "stretch.unsure":
                self.press("carry_on")
            else:
                self.say("tight") if typed else self.press("good")
            self.now += timedelta(seconds=3)


def record_mix(engine: Engine) -> list:
    trace: list = []
    solo = [routine.id for routine in engine.content.routines.values() if not routine.partner]
    for n in range(12):
        user = Recorder(engine, trace, T0 + timedelta(days=n))
        typed = n % 2 == 1
        user.say("/start")
        user.say("hello there")  # free text on the menu
        user.press("start") if not typed else user.say(engine.content.t("label_start"))
        user.screening(typed)
        user.routine(solo[n % len(solo)], typed, text_mid_hold=n % 3 == 0)
        if user.screen() == "session.score_after":  # how is the back now? a number, typed or pressed
            user.say("2") if typed else user.press("s2")
        while user.screen() in ("session.offer", "weekly.offer", "session.done"):  # no to any offer
            user.press("no")
        # a returning user: quick check, then a session ended by pain, an unsafe request, commands
        user.now += timedelta(days=1)
        user.say("/stretch")
        user.press("no") if user.screen() == "screening.quick" else user.screening(typed)
        user.press(solo[(n + 1) % len(solo)])
        user.press("ready")
        user.say("can you walk on my back")
        if n % 2:
            user.say("ouch that hurts")
        else:
            user.press("stop")
        user.press("start")  # a stale press on an old screen
        user.say("/help")
        user.say("/mydata")
        user.say("/dance")
        user.say("crack my neck please")
        user.say("/stop")
    return trace


def run(quick: bool) -> list[Result]:
    engine = Engine(load_content())
    trace = record_mix(engine)
    mix = Counter(type(event).__name__ for _, event, _ in trace)
    target_steps = 6_000 if quick else 20_000
    rounds = 3 if quick else 5
    affinity = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    if affinity:
        os.sched_setaffinity(0, {min(affinity)})  # one core, as promised
    try:
        # as the runtime calls it: advance() on a state just loaded from its stored JSON (loading is the
        # storage's cost, so each pass's states are loaded before the clock starts)
        stored = [(state.to_json(), event, now) for state, event, now in trace]
        rates, p50s, p99s, maxes = _rounds(rounds, target_steps, lambda: [
            (engine.advance, UserState.model_validate_json(text), event, now) for text, event, now in stored])
        # handle(): the pure call for a caller that keeps its state (the engine copies it first)
        copy_rates = _rounds(rounds, target_steps, lambda: [(engine.handle, *step) for step in trace])[0]
    finally:
        if affinity:
            os.sched_setaffinity(0, affinity)
    rate, p99 = median(rates), median(p99s)
    described = ", ".join(f"{name} {count}" for name, count in mix.most_common())
    return [
        Result(
            "engine",
            "steps/s, 1 core",
            fmt(rate),
            ">= 10,000",
            rate >= 10_000,
            f"advance() as the runtime calls it; median of {rounds} rounds x {target_steps:,} steps; "
            f"mix of {len(trace)}: {described}",
        ),
        Result(
            "engine",
            "per-step p50 / p99 / max (ms)",
            f"{median(p50s):.3f} / {p99:.3f} / {median(maxes):.2f}",
            "p99 < 1 ms",
            p99 < 1.0,
        ),
        Result(
            "engine",
            "handle() with its private copy: steps/s",
            fmt(median(copy_rates)),
            note="the pure call for callers that keep their state; the runtime hands over a state it has just "
            "loaded (advance(), above) and skips the copy",
        ),
    ]


Pass = list[tuple[Callable[[UserState, Event, datetime], object], UserState, Event, datetime]]


def _rounds(rounds: int, target_steps: int, make_pass: Callable[[], Pass]) -> tuple[list[float], ...]:
    """Per round: steps/s over the timed steps only, and the p50, p99 and max of one step (ms)."""
    rates, p50s, p99s, maxes = [], [], [], []
    clock = time.perf_counter_ns
    for _ in range(rounds):
        samples: list[int] = []
        while len(samples) < target_steps:
            for call, state, event, now in make_pass():
                before = clock()
                call(state, event, now)
                samples.append(clock() - before)
        rates.append(len(samples) / (sum(samples) / 1e9))
        p50s.append(percentile(samples, 0.50) / 1e6)
        p99s.append(percentile(samples, 0.99) / 1e6)
        maxes.append(max(samples) / 1e6)
    return rates, p50s, p99s, maxes
