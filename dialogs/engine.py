"""The dialog engine: `Engine(content).handle(state, event, now) -> Step(new_state, actions)`.

Pure and synchronous: no I/O, no clock (time comes in as `now`), nothing platform-specific, no rendered
text (actions name screens and lines; dialogs.render turns them into words when they are sent). Every
event from every state is answered. Typed text is read in the context of the screen on display
(dialogs.reading); what a reading leads to is decided here, safety first:
- an emergency sign reported as present ends everything with the emergency (A) referral, at any moment;
- pain during an exercise (the It hurts button from any screen, however old, or pain in the user's own
  words) ends the session at once with the pain referral, cancelling the hold timer in the same step;
  pain described BEFORE exercising leads into (or continues) the safety screen, whose questions decide;
- text not understood during an exercise gets "Does anything hurt?", never silence;
- an unsafe request (walk on my back, crack my neck...) gets a kind "why not" and the safer alternative.
Then the answer goes to the flow that owns the screen (dialogs/flows/).
"""

from __future__ import annotations

from datetime import datetime

from dialogs.content import Content
from dialogs.events import Button, Command, Event, ExportData, Text, TimerFired, Undeliverable
from dialogs.flows import after, exercise, forget, home, progress, reminders, screening
from dialogs.flows.safety import refer
from dialogs.flows.timers import DAILY_TIMER, HOLD_TIMER, SNOOZE_TIMER
from dialogs.screens import Screens, ScreenSpec
from dialogs.state import AskIfHurts, ForgetConfirm, Screen, UserState
from dialogs.turn import Handoff, Next, Step, Turn, line
from dialogs.understanding import (
    ANSWERS,
    Answer,
    Choose,
    Doubt,
    Emergency,
    Expectation,
    Fine,
    Greeting,
    Help,
    Option,
    Pain,
    Reader,
    Reading,
    Stop,
    Thanks,
    Unsafe,
)
from dialogs.weekly import WEEKLY_TIMER

HOME_SCREENS = ("home", "unsafe.offer")
AFTER_SCREENS = ("session.score_after", "session.offer", "weekly.offer", "session.done")


class Engine:
    def __init__(self, content: Content, reader: Reader | None = None) -> None:
        self.content = content
        self.screens = Screens(content)
        self.reader = reader or Reader.from_content(content)

    # ---- entry point --------------------------------------------------------------------------
    def handle(self, state: UserState, event: Event, now: datetime) -> Step:
        """One step; the caller's state never changes (the engine works on a private copy)."""
        # a JSON round trip: 3x a deep copy's speed
        return self.advance(UserState.model_validate_json(state.to_json()), event, now)

    def advance(self, state: UserState, event: Event, now: datetime) -> Step:
        """One step on a state the caller hands over and never uses again: it is worked on in place.

        The runtime loads a fresh state from storage for every step, so copying it again would be waste
        (half of a step's time); everyone else calls handle()."""
        turn = Turn(self.content, self.screens, state, now)
        exercise.upgrade(turn)
        if isinstance(event, TimerFired):
            if event.name == HOLD_TIMER:
                exercise.timer(turn, event)
            elif event.name in (DAILY_TIMER, SNOOZE_TIMER):
                reminders.timer(turn, event.name, event.due, event.payload.get("on"))
            elif event.name == WEEKLY_TIMER:
                progress.timer(turn, event.due, event.payload.get("on"))
            return turn.step()
        if isinstance(event, Undeliverable):
            self._undeliverable(turn)
            return turn.step()
        if turn.state.profile.unreachable:
            turn.state.profile.unreachable = False
            turn.say(line("unreachable_notice"))
            progress.reachable_again(turn)
        if isinstance(event, Text):
            self._text(turn, event.text)
        elif isinstance(event, Button):
            self._button(turn, event)
        elif isinstance(event, Command):
            self._command(turn, event.name.lower().lstrip("/"), event.argument)
        return turn.step()

    def expectation(self, spec: ScreenSpec | None) -> Expectation:
        """What the screen on display expects, for the reader."""
        if spec is None:
            return Expectation("free")
        return Expectation(spec.answer, tuple(Option(c.id, c.label) for c in spec.choices), spec.moment,
                           spec.red_flag, spec.topic)

    # ---- input kinds --------------------------------------------------------------------------
    def _text(self, turn: Turn, raw: str) -> None:
        stripped = raw.strip()
        if stripped.startswith("/") and len(stripped) > 1:
            name, _, argument = stripped[1:].partition(" ")
            return self._command(turn, name.split("@", 1)[0].lower(), argument.strip())
        spec = turn.spec()
        reading = self.reader.read(raw, self.expectation(spec))
        self._reading(turn, reading, raw)

    def _reading(self, turn: Turn, reading: Reading, raw: str) -> None:
        session = turn.state.session
        exercising = session is not None and session.phase.kind == "exercise"
        if isinstance(reading, Emergency):
            return refer(turn, "A")
        if isinstance(reading, Pain):
            if exercising:
                return refer(turn, "pain")
            return self._pain_before_exercise(turn, reading.answer, raw)
        if isinstance(reading, Doubt) and reading.pain and exercising:
            return exercise.ask_if_hurts(turn)  # words that might be pain: never carry on past them
        if isinstance(reading, Unsafe):
            reply = line("@unsafe", id=reading.request_id)
            if session is None and turn.state.side is None:
                return turn.show(Screen(id="unsafe.offer"), reply)
            return turn.reshow(reply)
        if isinstance(reading, Stop):
            return self._stop(turn)
        if isinstance(reading, Help):
            return self._help(turn)
        if isinstance(reading, Greeting):
            if session is None and turn.state.side is None:
                return home.show(turn, line("greeting"))
            return turn.reshow(line("greeting"))
        if isinstance(reading, Thanks):
            return turn.reshow(line("thanks"))
        if isinstance(reading, Fine):
            if turn.state.screen is not None and turn.state.screen.id == "stretch.unsure":
                return self._resolve(turn, self._answer(turn, Choose("carry_on")), raw)
            if exercising:
                return turn.reshow(line("carry_on"))
        if isinstance(reading, ANSWERS):
            return self._resolve(turn, self._answer(turn, reading), raw)
        # not understood
        if exercising:
            return exercise.ask_if_hurts(turn)
        if reminders.bad_input(turn, raw):
            return None
        self._hint(turn)

    def _button(self, turn: Turn, event: Button) -> None:
        if event.choice == "pain":  # pain counts from any screen, however old: no exceptions
            return refer(turn, "pain")
        spec = turn.spec()
        if spec is None or event.screen != turn.state.screen_no or event.choice not in spec.choice_ids():
            return turn.notice("stale_button")
        self._resolve(turn, self._answer(turn, Choose(event.choice)))

    def _command(self, turn: Turn, name: str, argument: str = "") -> None:
        session = turn.state.session
        if name == "stop":
            return self._stop(turn)
        if name == "help":
            return self._help(turn)
        if name in ("start", "stretch"):
            if session is not None:
                side = turn.state.side
                covered = side.covered if isinstance(side, (AskIfHurts, ForgetConfirm)) else None
                turn.state.side = None
                screen = covered or turn.state.screen
                if screen is not None:
                    return turn.show(screen, line("welcome_back"))
            turn.state.side = None
            if name == "stretch":
                return screening.begin(turn, "self")
            return home.show(turn, line("welcome"))
        if name == "remind":
            return reminders.start(turn)
        if name == "mydata":
            turn.say(line("mydata"))
            return turn.actions.append(ExportData())  # the words first, then what is stored
        if name == "forget":
            return forget.start(turn)
        if name == "progress":
            return progress.show(turn)
        if name == "pictures":
            return progress.pictures(turn, argument)
        turn.reshow(line("unknown_command", name=name[:40]))

    # ---- answers, handoffs --------------------------------------------------------------------
    def _answer(self, turn: Turn, answer: Answer) -> Next | None:
        """The flow that owns the screen on display takes the answer."""
        screen = turn.state.screen
        if screen is None:
            return Next(Handoff.HINT)
        if screen.id in HOME_SCREENS:
            return home.answer(turn, answer)
        if screen.id in AFTER_SCREENS:
            return after.answer(turn, answer)
        if screen.id.startswith("weekly."):
            return progress.answer(turn, answer)
        if screen.id == "forget.confirm":
            return forget.answer(turn, answer)
        if screen.id.startswith("remind."):
            return reminders.answer(turn, answer)
        session = turn.state.session
        if session is None:
            return Next(Handoff.HINT)
        if screen.id.startswith("screening."):
            return screening.answer(turn, answer) if session.phase.kind == "screening" else Next(Handoff.HINT)
        return exercise.answer(turn, answer)

    def _resolve(self, turn: Turn, next_: Next | None, raw: str | None = None) -> None:
        if next_ is None:
            return
        to, lines = next_.to, next_.lines
        if to in (Handoff.BEGIN, Handoff.BEGIN_PARTNER):
            screening.begin(turn, "partner" if to == Handoff.BEGIN_PARTNER else "self", *lines)
        elif to == Handoff.CHOOSE_ROUTINE:
            exercise.choose_routine(turn, *lines)
        elif to == Handoff.RESCORE:
            screening.rescore(turn, *lines)
        elif to == Handoff.REMIND:
            turn.say(*lines)
            reminders.start(turn)
        elif to == Handoff.HOME:
            home.show(turn, *lines)
        elif to == Handoff.HELP:
            self._help(turn)
        elif to == Handoff.STOP:
            self._stop(turn)
        elif to == Handoff.FINISHED:
            after.finished(turn, *lines)
        elif to == Handoff.WEEKLY_ON:
            progress.start_weekly(turn)
        elif to == Handoff.WEEKLY_OFF:
            progress.stop_weekly(turn)
        elif to == Handoff.PROGRESS:
            progress.show(turn)
        elif to == Handoff.NONE:
            pass
        elif raw is None or not reminders.bad_input(turn, raw):
            self._hint(turn)

    # ---- shared answers -----------------------------------------------------------------------
    def _pain_before_exercise(self, turn: Turn, answer: Answer | None, raw: str) -> None:
        """Describing one's back pain before exercising is not a stop: it leads into the safety screen,
        whose questions decide. An answer given in the same words ("about a 6, it aches") is taken."""
        session = turn.state.session
        if session is None:
            return screening.begin(turn, "self", line("pain_ack_start"))
        if session.phase.kind == "choosing":
            return screening.rescore(turn, line("pain_ack_routine"))
        if answer is not None and session.phase.kind == "screening":
            turn.say(line("pain_ack_screening"))
            return self._resolve(turn, self._answer(turn, answer), raw)
        turn.reshow(line("pain_ack_screening"))

    def _stop(self, turn: Turn) -> None:
        session = turn.state.session
        if session is None and turn.state.side is None:
            return turn.say(line("nothing_to_stop"))
        turn.cancel(HOLD_TIMER)
        if session is None:  # a side flow only (reminder set-up, /forget)
            turn.state.side = None
            turn.clear_screen()
            return turn.say(line("ok"))
        turn.end_session("stopped")
        after.stopped(turn, session)
        home.show(turn, line("stopped", done=session.stretches_done))

    def _help(self, turn: Turn) -> None:
        turn.reshow(line("help", answers=self.content.triage.answers_needed()))

    def _hint(self, turn: Turn) -> None:
        spec = turn.spec()
        if spec is None or not spec.choices:
            return turn.say(line("hint_idle"))
        if spec.typed:
            return turn.reshow(line("hint_typed", typed=turn.content.t(spec.typed)))
        turn.reshow(line("hint", options=", ".join(choice.label for choice in spec.choices)))

    def _undeliverable(self, turn: Turn) -> None:
        """Messages cannot reach the user: pause a running hold where it is (it resumes at their next
        command from the position screen), and stop reminding until they are back."""
        exercise.pause(turn)
        if isinstance(turn.state.side, AskIfHurts):
            turn.state.side = None
        reminders.undeliverable(turn)
        progress.undeliverable(turn)
