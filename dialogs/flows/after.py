"""After a finished session: the summary, the optional back score, then at most one offer.

The back score ("how is your back now, 0-10?") is one tap and can be skipped; a score of 7 or more, or
a rise of 3 or more since the start, gets the referral text as the triage pain score does. Then one
offer, the first that applies: a longer routine or longer holds after three all-good sessions
(dialogs.adaptation: offered, never imposed), the weekly summary after the third session (opt-in), a
daily reminder when none is set. A session that stops early ends any good streak.
"""

from __future__ import annotations

from dialogs import adaptation, weekly
from dialogs.events import Line, RecordScore
from dialogs.flows.safety import LEVELS, note_line, refer
from dialogs.progress import score_needs_referral
from dialogs.state import AfterSession, Screen, Session
from dialogs.turn import Handoff, Next, Turn, line
from dialogs.understanding import Answer, Choose, Score


def finished(turn: Turn, *lines: Line) -> None:
    """The routine is done: record it, learn from it, then ask for the back score."""
    session = turn.state.session
    assert session is not None and session.phase.kind == "exercise"
    routine = session.phase.routine
    ratings = [rating for _, rating in session.ratings]
    turn.end_session("completed")
    profile = turn.state.profile
    profile.sessions_completed += 1
    update = _learn(turn, session, ratings, completed=True)
    offer = update.offer.model_dump(mode="json") if update.offer else None
    turn.state.side = AfterSession(routine=routine, score_before=session.score_before, offer=offer)
    turn.show(Screen(id="session.score_after"), *lines)


def stopped(turn: Turn, session: Session) -> None:
    """A session stopped early: nothing to offer, but any run of all-good sessions ends."""
    if session.phase.kind == "exercise":
        _learn(turn, session, [rating for _, rating in session.ratings], completed=False)


def _learn(turn: Turn, session: Session, ratings: list[adaptation.Rating], *, completed: bool) -> adaptation.Update:
    content, profile = turn.content, turn.state.profile
    routine = session.phase.routine if session.phase.kind == "exercise" else None
    update = adaptation.after_session(profile.adaptation, routine, ratings, completed, content.adaptation,
                                      content.routines, content.stretches, turn.now)
    profile.adaptation = update.memory
    return update


def answer(turn: Turn, reading: Answer) -> Next | None:
    """An answer on one of the screens after a session."""
    screen, side = turn.state.screen, turn.state.side
    if screen is None or not isinstance(side, AfterSession):
        turn.clear_screen()
        return Next(Handoff.HINT)
    if screen.id == "session.score_after":
        return _scored(turn, side, reading)
    if not isinstance(reading, Choose) or reading.choice_id not in ("yes", "no"):
        return Next(Handoff.HINT)
    yes = reading.choice_id == "yes"
    if screen.id == "session.offer" and side.offer is not None:
        memory, offer = turn.state.profile.adaptation, adaptation.Offer.model_validate(side.offer)
        update = adaptation.accept_offer(memory, offer) if yes else adaptation.decline_offer(memory)
        turn.state.profile.adaptation = update.memory
        side.offer = None
        return _next(turn, side, *((note_line(update.note),) if update.note else ()))
    if screen.id == "weekly.offer":
        turn.state.profile.weekly_offered = True
        if yes:
            turn.state.side = None
            return Next(Handoff.WEEKLY_ON)
        return _next(turn, side.model_copy(update={"step": "remind"}))
    turn.state.side = None  # "session.done": a daily reminder?
    if yes:
        return Next(Handoff.REMIND)
    turn.clear_screen()
    turn.say(line("goodbye"))
    return None


def _scored(turn: Turn, side: AfterSession, reading: Answer) -> Next | None:
    if isinstance(reading, Choose) and reading.choice_id == "skip":
        turn.state.profile.tracks_score = False
        return _next(turn, side)
    value = reading.value if isinstance(reading, Score) else _button_score(reading)
    if value is None or not 0 <= value <= 10:
        return Next(Handoff.HINT)
    turn.actions.append(RecordScore(after=value))
    turn.state.profile.tracks_score = True
    rule = turn.content.progress.scores
    level = LEVELS.get(rule.level)
    if level is not None and score_needs_referral(side.score_before, value, rule):
        turn.state.side = None
        refer(turn, level)
        return None
    return _next(turn, side)


def _button_score(reading: Answer) -> int | None:
    if isinstance(reading, Choose) and reading.choice_id.startswith("s") and reading.choice_id[1:].isdigit():
        return int(reading.choice_id[1:])
    return None


def _next(turn: Turn, side: AfterSession, *lines: Line) -> Next | None:
    """The first offer that applies, else a goodbye."""
    profile = turn.state.profile
    if side.offer is not None:
        note = adaptation.offer_note(adaptation.Offer.model_validate(side.offer), turn.content.adaptation)
        turn.state.side = side.model_copy(update={"step": "offer"})
        turn.show(Screen(id="session.offer", params={"key": note.key, **note.params}), *lines)
        return None
    if side.step in ("score", "offer") and weekly.offer_due(profile.sessions_completed, profile.weekly,
                                                             profile.weekly_offered,
                                                             turn.content.progress.weekly_offer_after_sessions):
        turn.state.side = side.model_copy(update={"step": "weekly"})
        turn.show(Screen(id="weekly.offer"), *lines)
        return None
    if profile.reminder is None:
        turn.state.side = side.model_copy(update={"step": "remind"})
        turn.show(Screen(id="session.done"), *lines)
        return None
    turn.state.side = None
    turn.clear_screen()
    turn.say(*lines, line("goodbye"))
    return None
