"""Choosing a routine and doing it: position, hold (timed cues), check-in, next stretch, summary.

A routine starts from today's plan (dialogs.adaptation.adjust): each stretch with today's hold and the
note that explains a change, stretches resting after a pain stop left out (with a way to bring them back
on the routine screen). Every check-in is remembered, so the next plan adapts.

Cues are sparse and tied to fixed due times: a hold of 20 s or more gets "halfway" then "release", a
shorter one only "release". The release is due at the halfway's due time plus the rest of the hold, not
"now" plus the rest, so a late halfway never stretches the hold; a cue overdue by more than a minute (an
outage) comes with an apology, and a halfway that is already past its release is left out. Hold timers are
durations, so the runtime may speed them up for demos (`scalable`).
"""

from __future__ import annotations

from datetime import timedelta

from dialogs import adaptation
from dialogs.content import Stretch
from dialogs.events import Line, TimerFired
from dialogs.flows.safety import note_line, refer
from dialogs.flows.timers import HOLD_TIMER
from dialogs.screens import offered_routines
from dialogs.state import AskIfHurts, Choosing, Exercising, ForgetConfirm, Planned, Screen, Session
from dialogs.turn import Handoff, Next, Turn, line
from dialogs.understanding import Answer, Choose

HALFWAY_FROM_SECONDS = 20  # holds this long get a halfway cue; shorter ones only "release"
LATE_AFTER = timedelta(seconds=60)  # a cue this late (after an outage) comes with an apology


def _session(turn: Turn) -> Session:
    session = turn.state.session
    assert session is not None, "only called during a session"
    return session


def _exercising(turn: Turn) -> tuple[Session, Exercising]:
    session = _session(turn)
    assert session.phase.kind == "exercise", "only called while exercising"
    return session, session.phase


def _planned(phase: Exercising) -> Planned:
    return phase.plan[phase.stretch]


def _stretch(turn: Turn, phase: Exercising) -> Stretch:
    return turn.content.stretches[_planned(phase).stretch]


# ---- choosing a routine -----------------------------------------------------------------------------
def choose_routine(turn: Turn, *lines: Line) -> None:
    """Offer the routines the answers leave; none left: say why and refer to a GP or physiotherapist."""
    session = _session(turn)
    routines = offered_routines(turn.content, session.ruled_out, session.audience)
    if not routines:
        turn.say(*lines)
        turn.clear_screen()
        turn.say(line("no_routine_fits"), line("@safety_net"), kind="referral")
        turn.end_session("referral", "C")
        if session.audience == "self":
            turn.state.profile.last_outcome = "C"
        return
    session.phase = Choosing()
    resting = _resting(turn, [s for r in routines for s in r.stretches])
    if session.audience == "partner" and len(routines) == 1 and not resting:  # nothing to choose: straight in
        turn.say(*lines)
        return _begin_routine(turn, routines[0].id)
    params = {"audience": session.audience, "ruled_out": ",".join(session.ruled_out),
              "ruled_out_by": ",".join(session.ruled_out_by), "gentle": session.gentle,
              "resting": ",".join(rest.stretch for rest in resting)}
    turn.show(Screen(id="routine.choose", params=params), *lines, *(note_line(rest.note) for rest in resting))


def _resting(turn: Turn, stretch_ids: list[str]) -> list[adaptation.RestingStretch]:
    """Stretches of these routines resting today after a pain stop (each once, in order)."""
    unique = list(dict.fromkeys(stretch_ids))
    return list(adaptation.adjust(unique, turn.state.profile.adaptation, turn.content.adaptation,
                                  turn.content.stretches, turn.now).resting)


def answer(turn: Turn, reading: Answer) -> Next | None:
    """An answer on a routine or stretch screen (pressed or typed)."""
    session = _session(turn)
    if not isinstance(reading, Choose):
        return Next(Handoff.HINT)
    choice = reading.choice_id
    if session.phase.kind == "choosing":
        if choice.startswith("back_"):
            update = adaptation.bring_back(turn.state.profile.adaptation, choice.removeprefix("back_"))
            turn.state.profile.adaptation = update.memory
            choose_routine(turn, *((note_line(update.note),) if update.note else ()))
            return None
        _begin_routine(turn, choice)
        return None
    if choice == "pain":
        refer(turn, "pain")
        return None
    if choice == "stop":
        return Next(Handoff.STOP)
    if choice == "carry_on":
        return _carry_on(turn)
    session, phase = _exercising(turn)
    if phase.stage == "position" and choice == "ready":
        _start_hold(turn)
        return None
    if phase.stage in ("position", "hold"):
        return _skip(turn)
    _remember(turn, "tight" if choice == "tight" else "good")
    tip = (line("tight_tip"),) if choice == "tight" else ()
    return _next_stretch(turn, *tip)


def _begin_routine(turn: Turn, routine_id: str) -> None:
    session = _session(turn)
    content = turn.content
    plan = adaptation.adjust(content.routines[routine_id].stretches, turn.state.profile.adaptation,
                             content.adaptation, content.stretches, turn.now, excluded_tags=session.ruled_out)
    if not plan.stretches:  # every stretch of it is resting today: choose another, or bring one back
        return choose_routine(turn, *(note_line(note) for note in plan.intro_notes))
    session.phase = Exercising(routine=routine_id, plan=[
        Planned(stretch=p.stretch, seconds=p.hold_seconds, instead_of=p.instead_of,
                note=p.note.key if p.note else None, note_params=dict(p.note.params) if p.note else {})
        for p in plan.stretches])
    intro = (line("@routine_intro", routine=routine_id),) if content.routines[routine_id].intro else ()
    _position(turn, *intro, *_note_for(session.phase.plan[0]))


def _note_for(planned: Planned) -> tuple[Line, ...]:
    """Why this stretch changed today (shorter hold, variant, back after a rest), said before it."""
    return (note_line(adaptation.Note(planned.note, planned.note_params)),) if planned.note else ()


def upgrade(turn: Turn) -> None:
    """A session stored before plans existed (an older release) gets its plan and screen, once."""
    session = turn.state.session
    if session is None or session.phase.kind != "exercise" or session.phase.plan:
        return
    phase = session.phase
    phase.plan = [Planned(stretch=s, seconds=turn.content.stretches[s].hold_seconds)
                  for s in turn.content.routines[phase.routine].stretches]
    fresh = _screen(turn, f"stretch.{phase.stage}")
    if turn.state.screen is not None and turn.state.screen.id.startswith("stretch."):
        turn.state.screen = fresh
    side = turn.state.side
    if isinstance(side, (AskIfHurts, ForgetConfirm)) and side.covered and side.covered.id.startswith("stretch."):
        side.covered = fresh


# ---- one stretch ------------------------------------------------------------------------------------
def _screen(turn: Turn, screen_id: str) -> Screen:
    session, phase = _exercising(turn)
    planned = _planned(phase)
    params: dict[str, str | int | bool | None] = {
        "stretch": planned.stretch, "number": phase.stretch + 1, "count": len(phase.plan),
        "audience": session.audience}
    if screen_id != "stretch.checkin":
        # the picture comes with the stretch's first position; the second side needs only the words
        params.update(hold=phase.hold, seconds=planned.seconds,
                      pictures=turn.state.profile.pictures and phase.hold == 0)
    return Screen(id=screen_id, params=params)


def _position(turn: Turn, *lines: Line) -> None:
    _, phase = _exercising(turn)
    phase.stage = "position"
    turn.state.side = None  # a new exercise screen replaces "does anything hurt?"
    turn.show(_screen(turn, "stretch.position"), *lines)


def _start_hold(turn: Turn) -> None:
    session, phase = _exercising(turn)
    seconds = _planned(phase).seconds
    phase.stage, phase.hold_started_at = "hold", turn.now
    phase.seq += 1
    halfway = seconds >= HALFWAY_FROM_SECONDS
    first = seconds / 2 if halfway else seconds
    turn.schedule(HOLD_TIMER, turn.now + timedelta(seconds=first),
                  {"session": session.id, "seq": phase.seq, "cue": "halfway" if halfway else "release"}, scalable=True)
    turn.show(_screen(turn, "stretch.hold"), kind="cue")


def pause(turn: Turn) -> None:
    """Messages cannot reach the user: a running hold stops where it is, and its position screen (drawn
    as every exercise screen is, from today's plan) waits for their next command."""
    session = turn.state.session
    if session is None or session.phase.kind != "exercise" or session.phase.stage != "hold":
        return
    turn.cancel(HOLD_TIMER)
    session.phase.stage = "position"
    turn.state.screen = _screen(turn, "stretch.position")


def timer(turn: Turn, event: TimerFired) -> None:
    """A hold cue came due. One for a hold that is over (stopped, skipped, pain) says nothing."""
    upgrade(turn)
    session = turn.state.session
    if session is None or session.phase.kind != "exercise":
        return
    phase = session.phase
    if (phase.stage != "hold" or event.payload.get("seq") != phase.seq
            or event.payload.get("session") != session.id):
        return
    stretch, seconds = _stretch(turn, phase), _planned(phase).seconds
    late = (line("late"),) if turn.now - event.due > LATE_AFTER else ()
    release_due = event.due + timedelta(seconds=seconds - seconds / 2)
    if event.payload.get("cue") == "halfway" and turn.now < release_due:
        turn.schedule(HOLD_TIMER, release_due, {**event.payload, "cue": "release"}, scalable=True)
        turn.say(*late, line(f"halfway_{stretch.mode}"), kind="cue")
        return
    session.hold_seconds_done += seconds
    phase.hold += 1
    turn.say(*late, line(f"release_{stretch.mode}", count=stretch.count), kind="cue")
    if phase.hold < len(stretch.holds()):
        return _position(turn)
    session.stretches_done += 1
    phase.stage = "checkin"
    turn.state.side = None
    turn.show(_screen(turn, "stretch.checkin"))


def _remember(turn: Turn, rating: adaptation.CheckinRating) -> None:
    """How the stretch felt: kept in the session (history) and in what adaptation remembers."""
    session, phase = _exercising(turn)
    planned = _planned(phase)
    session.ratings.append((planned.instead_of or planned.stretch, rating))
    profile = turn.state.profile
    profile.adaptation = adaptation.after_checkin(profile.adaptation, planned.stretch, rating,
                                                  turn.content.adaptation, turn.content.stretches,
                                                  instead_of=planned.instead_of)


def _skip(turn: Turn) -> Next | None:
    turn.cancel(HOLD_TIMER)
    _remember(turn, "skipped")
    return _next_stretch(turn, line("skipped"))


def _next_stretch(turn: Turn, *lines: Line) -> Next | None:
    session, phase = _exercising(turn)
    phase.stretch += 1
    phase.hold = 0
    if phase.stretch < len(phase.plan):
        _position(turn, *lines, *_note_for(_planned(phase)))
        return None
    summary = (*lines, line("finished", done=session.stretches_done, seconds=session.hold_seconds_done),
               line("@safety_net"))
    return Next(Handoff.FINISHED, summary)


# ---- "does anything hurt?" --------------------------------------------------------------------------
def ask_if_hurts(turn: Turn) -> None:
    """Text not understood during an exercise: never carry on past words that might be pain."""
    screen = turn.state.screen
    side = turn.state.side
    covered = side.covered if isinstance(side, AskIfHurts) else screen
    if covered is None:
        return
    turn.state.side = AskIfHurts(covered=covered)
    turn.show(Screen(id="stretch.unsure"))


def _carry_on(turn: Turn) -> Next | None:
    side = turn.state.side
    turn.state.side = None
    if isinstance(side, AskIfHurts):
        turn.show(side.covered, line("carry_on"))
    return None
