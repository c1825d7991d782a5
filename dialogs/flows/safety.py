"""Ending a session for safety: a referral (levels A, B, C) or a pain stop. Used from every flow."""

from __future__ import annotations

from typing import Literal

from dialogs import adaptation
from dialogs.events import Line
from dialogs.flows.timers import HOLD_TIMER
from dialogs.turn import Turn, line

Stop = Literal["A", "B", "C", "pain"]
LEVELS: dict[str, Stop] = {"A": "A", "B": "B", "C": "C"}  # a question's level, when it refers


def note_line(note: adaptation.Note) -> Line:
    """An adaptation note (a key of content/adaptation.yaml and its values), rendered when sent."""
    return Line("@note", {"key": note.key, **note.params})


def refer(turn: Turn, level: Stop) -> None:
    """End everything with referral text: a level's referral, or the pain-stop text. No exceptions."""
    session = turn.state.session
    turn.cancel(HOLD_TIMER)
    turn.clear_screen()
    turn.state.screen_no += 1  # every earlier button is stale now (pain still counts from any screen)
    lines = [line("@pain_stop") if level == "pain" else line("@referral", level=level)]
    if level == "pain" and session is not None:
        lines += _remember_pain(turn)
    turn.say(*lines, kind="referral")
    turn.end_session("referral", level)
    if session is None or session.audience == "self":
        # remembered, so the next session asks what fits: how the pain is now, or the full screen again
        turn.state.profile.last_outcome = level
        turn.state.profile.last_screened_at = turn.now


def _remember_pain(turn: Turn) -> list[Line]:
    """A pain stop: the stretch it happened on rests a while, and repeated stops bring the GP or
    physiotherapist advice, once (dialogs.adaptation). Returns that advice, if due now."""
    session = turn.state.session
    assert session is not None
    stretch, instead_of = None, None
    if session.phase.kind == "exercise" and session.phase.plan:
        planned = session.phase.plan[min(session.phase.stretch, len(session.phase.plan) - 1)]
        stretch, instead_of = planned.stretch, planned.instead_of
        session.ratings.append((instead_of or stretch, "pain"))
    profile = turn.state.profile
    update = adaptation.after_pain_stop(profile.adaptation, stretch, turn.content.adaptation, turn.now,
                                        instead_of=instead_of)
    profile.adaptation = update.memory
    return [note_line(update.note)] if update.note else []
