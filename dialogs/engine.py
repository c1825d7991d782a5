"""The dialog engine: `Engine(content).handle(state, event, now) -> Step(new_state, actions)`.

Pure and synchronous: no I/O, no clock (time comes in as `now`), nothing platform-specific. Every
event from every state is answered. Safety rules that hold everywhere, before anything else:
- a nerve or bladder/bowel word ends the session with the emergency (A) referral;
- any pain (the Pain button from any screen, or a pain phrase typed at any point) ends the session
  with the pain referral, cancelling the hold timer in the same step;
- an unsafe request (walk on my back, crack my neck...) gets a kind "why not" and a safe alternative.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from dialogs import reminders
from dialogs.content import Content, Routine, Stretch, ui_key
from dialogs.model import (
    Action, Button, CancelTimer, Choice, Command, EndSession, Event, ExportData, ForgetUser, Notice,
    Say, ScheduleTimer, Session, Step, Text, TimerFired, Undeliverable, UserState,
)
from dialogs.text import Understanding, match_choice, normalise, score

HOLD_TIMER = "hold"
HALFWAY_FROM_SECONDS = 20  # holds this long get a halfway cue; shorter ones only "release"
LATE_AFTER_SECONDS = 60  # a cue this late (after an outage) comes with an apology

# UI strings the engine uses; content/ui.yaml must define each (checked at load).
K = {name: ui_key(name, *ph) for name, ph in {
    "welcome": (), "welcome_back": (), "help": (), "hint": ("options",), "hint_idle": (),
    "unknown_command": ("name",), "stale_button": (), "foreign_button": (), "late": (),
    "label_start": (), "label_remind": (), "label_help": (), "label_yes": (), "label_no": (),
    "label_ready": (), "label_skip": (), "label_stop": (), "label_pain": (), "label_good": (),
    "label_tight": (), "label_no_thanks": (), "label_new_yes": (), "label_new_no": (),
    "triage_intro": ("count",), "question": ("number", "count", "text"), "triage_clear": (),
    "choose_routine": (), "routine_line": ("title", "description"), "ruled_out_note": (),
    "stretch_position": ("number", "count", "title", "side", "position", "cautions"),
    "side_left": (), "side_right": (), "round": ("number", "count"),
    "hold_start": ("seconds", "during"), "halfway": (), "release": (), "checkin": (),
    "tight_tip": (), "skipped": (), "finished": ("done", "minutes"), "offer_reminder": (),
    "goodbye": (), "stopped": ("done",), "nothing_to_stop": (), "unreachable_notice": (),
    "mydata": (), "forget_confirm": (), "label_forget_yes": (), "label_forget_no": (),
    "forgotten": (), "forget_cancelled": (), "score_labels": ("low", "high"),
    "error_sorry": (), "mydata_private_only": (),  # said by adapters (runtime.ui), same on every platform
}.items()}


class Turn:
    """One engine step under construction: a private copy of the state plus the actions so far."""

    def __init__(self, content: Content, state: UserState, now: datetime) -> None:
        self.content = content
        self.state = state
        self.now = now
        self.actions: list[Action] = []

    def t(self, key: str, **values: object) -> str:
        return self.content.t(key, **values)

    def say(self, text: str, kind: str = "message") -> None:
        self.actions.append(Say(text=text, kind=kind))

    def screen(self, text: str, choices: list[tuple[str, str]], kind: str = "message") -> None:
        """Show a new screen: a message with choices. Older buttons become stale."""
        # A new (or forgotten) user starts numbering at the clock, so a button drawn before the
        # reset can never match a screen drawn after it.
        self.state.screen = self.state.screen + 1 if self.state.screen else int(self.now.timestamp())
        self.state.prompt, self.state.choices = text, list(choices)
        self.actions.append(Say(text, tuple(Choice(i, l) for i, l in choices), self.state.screen, kind))

    def reshow(self, prefix: str = "") -> None:
        """Show the current screen again (same number: its buttons stay valid)."""
        text = f"{prefix}\n\n{self.state.prompt}".strip() if self.state.prompt else prefix
        choices = tuple(Choice(i, l) for i, l in self.state.choices)
        self.actions.append(Say(text, choices, self.state.screen if choices else None))

    def clear_screen(self) -> None:
        self.state.prompt, self.state.choices = "", []

    def step(self) -> Step:
        return Step(self.state, tuple(self.actions))


class Engine:
    def __init__(self, content: Content, *, time_scale: float = 1.0) -> None:
        if not 0 < time_scale <= 1:
            raise ValueError("time_scale must be in (0, 1]")
        self.content = content
        self.time_scale = time_scale  # < 1 speeds every timer up (demos, tests); texts keep real seconds
        self.understand = Understanding(content)

    # ---- entry point ------------------------------------------------------------------------
    def handle(self, state: UserState, event: Event, now: datetime) -> Step:
        # a private copy: the caller's state never changes (a JSON round trip: 3x a deep copy's speed)
        turn = Turn(self.content, UserState.from_json(state.to_json()), now)
        if isinstance(event, TimerFired):
            if event.name == HOLD_TIMER:
                self._hold_timer(turn, event)
            else:
                reminders.timer(self, turn, event)
            return turn.step()
        if isinstance(event, Undeliverable):
            reminders.undeliverable(self, turn)
            return turn.step()
        if turn.state.profile.unreachable:
            turn.state.profile.unreachable = False
            turn.say(turn.t("unreachable_notice"))
        if isinstance(event, Text):
            self._text(turn, event.text)
        elif isinstance(event, Button):
            self._button(turn, event)
        elif isinstance(event, Command):
            self._command(turn, event.name.lower().lstrip("/"))
        return turn.step()

    def scaled(self, seconds: float) -> timedelta:
        return timedelta(seconds=seconds * self.time_scale)

    # ---- input kinds --------------------------------------------------------------------------
    def _text(self, turn: Turn, raw: str) -> None:
        text = normalise(raw)
        if self.understand.is_emergency(text):
            return self.refer(turn, "A")
        if self.understand.is_pain(text):
            return self.refer(turn, "pain")
        unsafe = self.understand.unsafe_request(text)
        if unsafe:
            return turn.reshow(unsafe.reply)
        if text.startswith("/"):
            name = text[1:].split(" ", 1)[0].split("@", 1)[0]
            return self._command(turn, name)
        if turn.state.flow and turn.state.flow.get("kind") != "forget":
            return reminders.text(self, turn, raw)  # raw: a bad time or zone is quoted as typed
        session = turn.state.session
        if session and session.phase == "triage":
            question = self.content.triage.questions[session.question]
            if question.kind == "score" and (value := score(text)) is not None:
                return self._answer(turn, value)
        choice = match_choice(text, turn.state.choices)
        if choice is None and {"yes", "no"} <= {c for c, _ in turn.state.choices}:
            choice = self.understand.yes_no(text)
        if choice is None and text in ("stop", "quit", "cancel") and session:
            return self.stop(turn)
        if choice is None:
            return self.hint(turn)
        self._choose(turn, choice)

    def _button(self, turn: Turn, event: Button) -> None:
        if event.choice == "pain":  # pain counts from any screen, however old: no exceptions
            return self.refer(turn, "pain")
        valid = {c for c, _ in turn.state.choices}
        if event.screen != turn.state.screen or event.choice not in valid:
            turn.actions.append(Notice(turn.t("stale_button")))
            return
        self._choose(turn, event.choice)

    def _command(self, turn: Turn, name: str) -> None:
        session = turn.state.session
        if name == "stop":
            if session or turn.state.flow:
                return self.stop(turn)
            return turn.say(turn.t("nothing_to_stop"))
        if name == "help":
            return turn.reshow(turn.t("help"))
        if name in ("start", "stretch"):
            turn.state.flow = None
            if session:
                return turn.reshow(turn.t("welcome_back"))
            if name == "stretch":
                return self.begin(turn)
            return self.menu(turn, turn.t("welcome"))
        if name == "remind":
            return reminders.start(self, turn)
        if name == "mydata":
            turn.actions.append(ExportData())
            return turn.say(turn.t("mydata"))
        if name == "forget":
            # remember the screen this covers, so "Cancel" can bring it back
            turn.state.flow = {"kind": "forget", "prompt": turn.state.prompt,
                               "choices": [list(c) for c in turn.state.choices]}  # JSON-shaped
            return turn.screen(turn.t("forget_confirm"), [
                ("forget_yes", turn.t("label_forget_yes")), ("forget_no", turn.t("label_forget_no"))])
        turn.reshow(turn.t("unknown_command", name=name[:40]))

    def _choose(self, turn: Turn, choice: str) -> None:
        """A valid choice on the current screen, pressed or typed."""
        if choice == "pain":
            return self.refer(turn, "pain")
        if choice == "stop":
            return self.stop(turn)
        if turn.state.flow and turn.state.flow.get("kind") == "forget":
            covered = turn.state.flow
            turn.state.flow = None
            turn.clear_screen()
            if choice == "forget_yes":
                # the runtime deletes every row; the engine's own answer agrees: nothing is left
                turn.actions += [CancelTimer(HOLD_TIMER), ForgetUser()]
                turn.state = UserState(screen=turn.state.screen + 1)
                return turn.say(turn.t("forgotten"))
            turn.state.prompt = covered.get("prompt", "")
            turn.state.choices = [tuple(c) for c in covered.get("choices", [])]
            turn.state.screen += 1  # the covered screen comes back with fresh buttons
            return turn.reshow(turn.t("forget_cancelled"))
        if turn.state.flow:
            return reminders.choose(self, turn, choice)
        session = turn.state.session
        if session is None:
            if choice == "start":
                return self.begin(turn)
            if choice == "remind":
                return reminders.start(self, turn)
            if choice == "help":
                return turn.reshow(turn.t("help"))
            turn.clear_screen()
            return turn.say(turn.t("goodbye"))  # "no thanks" to the reminder offer
        if session.phase == "quick_check":
            return self._triage_question(turn, start=True) if choice == "yes" else self._choose_routine(turn)
        if session.phase == "triage":
            question = self.content.triage.questions[session.question]
            if question.kind == "score":
                return self._answer(turn, {"low": 0, "mid": question.flag_at - 1, "high": 10}[choice])
            return self._answer(turn, choice == "yes")
        if session.phase == "choose_routine":
            session.routine = choice
            session.stretch = session.hold = 0
            intro = self.content.routines[choice].intro
            return self._position(turn, intro)
        if session.phase == "position":
            return self._start_hold(turn) if choice == "ready" else self._skip(turn)
        if session.phase == "holding":
            return self._skip(turn)
        if session.phase == "checkin":
            return self._next_stretch(turn, turn.t("tight_tip") if choice == "tight" else "")

    # ---- menus and endings --------------------------------------------------------------------
    def menu(self, turn: Turn, text: str) -> None:
        turn.screen(text, [("start", turn.t("label_start")), ("remind", turn.t("label_remind")),
                           ("help", turn.t("label_help"))])

    def hint(self, turn: Turn) -> None:
        if not turn.state.choices:
            return turn.say(turn.t("hint_idle"))
        options = ", ".join(label for _, label in turn.state.choices)
        turn.reshow(turn.t("hint", options=options))

    def refer(self, turn: Turn, level: str) -> None:
        """End everything with referral text. `level` is A/B/C from triage, or "pain"."""
        session = turn.state.session
        text = self.content.triage.pain_stop if level == "pain" else self.content.referral(level)
        recorded = "C" if level == "pain" else level
        turn.actions.append(CancelTimer(HOLD_TIMER))
        turn.state.flow = None
        turn.clear_screen()
        turn.state.screen += 1  # every earlier button is stale now
        turn.say(text, kind="referral")
        if session:
            turn.actions.append(EndSession("referral", session.routine, recorded, session.stretches_done,
                                           session.hold_seconds_done))
            turn.state.session = None
            # the next session asks the full triage again
            turn.state.profile.last_triage_level = recorded
            turn.state.profile.last_triage_at = turn.now

    def stop(self, turn: Turn) -> None:
        session = turn.state.session
        turn.state.flow = None
        turn.actions.append(CancelTimer(HOLD_TIMER))
        if session is None:
            turn.clear_screen()
            return turn.say(turn.t("stopped", done=0))
        turn.actions.append(EndSession("stopped", session.routine, None, session.stretches_done,
                                       session.hold_seconds_done))
        turn.state.session = None
        self.menu(turn, turn.t("stopped", done=session.stretches_done))

    # ---- triage -------------------------------------------------------------------------------
    def begin(self, turn: Turn) -> None:
        turn.state.flow = None
        turn.state.sessions_started += 1
        turn.state.session = Session(id=turn.state.sessions_started, phase="quick_check", started_at=turn.now)
        profile, triage = turn.state.profile, self.content.triage
        fresh = profile.last_triage_at and turn.now - profile.last_triage_at < timedelta(days=triage.repeat_after_days)
        if fresh and profile.last_triage_level == "D":
            return turn.screen(triage.quick_check, [("yes", turn.t("label_new_yes")), ("no", turn.t("label_new_no"))])
        self._triage_question(turn, start=True)

    def _triage_question(self, turn: Turn, start: bool = False) -> None:
        session = turn.state.session
        questions = self.content.triage.questions
        if start:
            session.phase, session.question, session.full_triage, session.ruled_out = "triage", 0, True, []
        question = questions[session.question]
        text = turn.t("question", number=session.question + 1, count=len(questions), text=question.text)
        if start:
            text = turn.t("triage_intro", count=len(questions)) + "\n\n" + text
        if question.kind == "score":
            flag = question.flag_at
            choices = [("low", turn.t("score_labels", low=0, high=max(0, flag - 4))),
                       ("mid", turn.t("score_labels", low=max(1, flag - 3), high=flag - 1)),
                       ("high", turn.t("score_labels", low=flag, high=10))]
        else:
            choices = [("yes", turn.t("label_yes")), ("no", turn.t("label_no"))]
        turn.screen(text, choices)

    def _answer(self, turn: Turn, answer: bool | int) -> None:
        session = turn.state.session
        question = self.content.triage.questions[session.question]
        flagged = answer >= question.flag_at if question.kind == "score" else answer is True
        if flagged and question.level:
            return self.refer(turn, question.level)
        if flagged:
            session.ruled_out = sorted(set(session.ruled_out) | set(question.rules_out))
        session.question += 1
        if session.question < len(self.content.triage.questions):
            return self._triage_question(turn)
        turn.state.profile.last_triage_at = turn.now
        turn.state.profile.last_triage_level = "D"
        self._choose_routine(turn, turn.t("triage_clear"))

    # ---- routine --------------------------------------------------------------------------------
    def offered_routines(self, ruled_out: list[str]) -> list[Routine]:
        banned = set(ruled_out)
        return [r for r in self.content.routines.values()
                if not any(banned & set(self.content.stretches[s].tags) for s in r.stretches)]

    def _choose_routine(self, turn: Turn, prefix: str = "") -> None:
        session = turn.state.session
        session.phase = "choose_routine"
        routines = self.offered_routines(session.ruled_out)
        lines = [turn.t("routine_line", title=r.title, description=r.description) for r in routines]
        note = turn.t("ruled_out_note") if len(routines) < len(self.content.routines) else ""
        text = "\n\n".join(part for part in (prefix, turn.t("choose_routine"), "\n".join(lines), note) if part)
        turn.screen(text, [(r.id, r.title) for r in routines])

    def _current(self, turn: Turn) -> tuple[Routine, Stretch]:
        routine = self.content.routines[turn.state.session.routine]
        return routine, self.content.stretches[routine.stretches[turn.state.session.stretch]]

    def _position(self, turn: Turn, prefix: str = "") -> None:
        session = turn.state.session
        session.phase = "position"
        routine, stretch = self._current(turn)
        holds = stretch.holds()
        side = {"left": turn.t("side_left"), "right": turn.t("side_right"), "": ""}[holds[session.hold]]
        if stretch.reps > 1:
            side += turn.t("round", number=session.hold // (len(holds) // stretch.reps) + 1, count=stretch.reps)
        text = turn.t("stretch_position", number=session.stretch + 1, count=len(routine.stretches),
                      title=stretch.title, side=side, position=stretch.position,
                      cautions=" ".join(stretch.cautions))
        if prefix:
            text = f"{prefix}\n\n{text}"
        turn.screen(text, [("ready", turn.t("label_ready")), ("skip", turn.t("label_skip")),
                           ("pain", turn.t("label_pain")), ("stop", turn.t("label_stop"))])

    def _start_hold(self, turn: Turn) -> None:
        session = turn.state.session
        _, stretch = self._current(turn)
        session.phase, session.hold_started_at = "holding", turn.now
        session.hold_seq += 1
        halfway = stretch.hold_seconds >= HALFWAY_FROM_SECONDS
        cue = "halfway" if halfway else "release"
        due = turn.now + self.scaled(stretch.hold_seconds / 2 if halfway else stretch.hold_seconds)
        turn.actions.append(ScheduleTimer(HOLD_TIMER, due, {"session": session.id, "seq": session.hold_seq, "cue": cue}))
        turn.screen(turn.t("hold_start", seconds=stretch.hold_seconds, during=stretch.during).strip(),
                    [("pain", turn.t("label_pain")), ("skip", turn.t("label_skip")), ("stop", turn.t("label_stop"))],
                    kind="cue")

    def _hold_timer(self, turn: Turn, event: TimerFired) -> None:
        session = turn.state.session
        if (session is None or session.phase != "holding" or event.payload.get("seq") != session.hold_seq
                or event.payload.get("session") != session.id):
            return  # a cue for a hold that is over (stopped, skipped, pain): nothing to say
        _, stretch = self._current(turn)
        late = turn.now - event.due > self.scaled(LATE_AFTER_SECONDS)
        apology = turn.t("late") + " " if late else ""
        release_due = session.hold_started_at + self.scaled(stretch.hold_seconds)
        if event.payload.get("cue") == "halfway" and turn.now < release_due:
            turn.actions.append(ScheduleTimer(HOLD_TIMER, release_due, {**event.payload, "cue": "release"}))
            return turn.say(apology + turn.t("halfway"), kind="cue")
        session.hold_seconds_done += stretch.hold_seconds
        session.hold += 1
        turn.say(apology + turn.t("release"), kind="cue")
        if session.hold < len(stretch.holds()):
            return self._position(turn)
        session.stretches_done += 1
        session.phase = "checkin"
        turn.screen(turn.t("checkin"), [("good", turn.t("label_good")), ("tight", turn.t("label_tight")),
                                        ("pain", turn.t("label_pain"))])

    def _skip(self, turn: Turn) -> None:
        turn.actions.append(CancelTimer(HOLD_TIMER))
        self._next_stretch(turn, turn.t("skipped"))

    def _next_stretch(self, turn: Turn, prefix: str) -> None:
        session = turn.state.session
        routine, _ = self._current(turn)
        session.stretch += 1
        session.hold = 0
        if session.stretch < len(routine.stretches):
            return self._position(turn, prefix)
        elapsed = (turn.now - session.started_at).total_seconds() / self.time_scale
        minutes = max(1, round(elapsed / 60))
        turn.actions.append(EndSession("completed", routine.id, None, session.stretches_done,
                                       session.hold_seconds_done))
        done = session.stretches_done
        turn.state.session = None
        summary = turn.t("finished", done=done, minutes=minutes)
        if turn.state.profile.reminder:
            turn.clear_screen()
            return turn.say(f"{prefix}\n\n{summary}".strip())
        turn.screen(f"{prefix}\n\n{summary}\n\n{turn.t('offer_reminder')}".strip(),
                    [("remind", turn.t("label_remind")), ("no_thanks", turn.t("label_no_thanks"))])
