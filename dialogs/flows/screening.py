"""The safety screen (issue 13): grouped checklists with a drill-down, the pain score, kneeling; or the
quick "anything new?" when a recent screening found nothing; or, after a pain stop, how the pain is now.

Every red flag in content is still asked and still leads to its level: the first group holds only level A
flags, so "one or more" refers at once; in other groups "one or more" asks the items one by one, most
urgent first, and the first that refers decides (nothing asked later could be higher). Someone unsure
gets an explanation and the cautious path (a second "not sure" counts as a yes), never a bare repeat.
"""

from __future__ import annotations

from datetime import timedelta

from dialogs.events import Line
from dialogs.flows.safety import LEVELS, refer
from dialogs.screens import offered_routines
from dialogs.state import Audience, Screen, Screening, Session
from dialogs.triage import Question
from dialogs.turn import Handoff, Next, Turn, line
from dialogs.understanding import Answer, Choose, Doubt, Pick, Score


def _screening(turn: Turn) -> tuple[Session, Screening]:
    session = turn.state.session
    assert session is not None and session.phase.kind == "screening", "only called while screening"
    return session, session.phase


# ---- starting a session ----------------------------------------------------------------------------
def begin(turn: Turn, audience: Audience, *lines: Line) -> None:
    """Start a session with the screening that fits what happened before."""
    state, triage = turn.state, turn.content.triage
    state.side = None
    state.sessions_started += 1
    profile = state.profile
    session = Session(id=state.sessions_started, started_at=turn.now, audience=audience, phase=Screening())
    state.session = session
    recent = profile.last_screened_at is not None and (
        turn.now - profile.last_screened_at < timedelta(days=triage.repeat_after_days))
    answers = triage.answers_needed()
    if audience == "partner":  # about someone else: always the whole screen, never remembered answers
        _ask_group(turn, 0, *lines, line("screening_intro_partner", answers=answers))
        return
    if recent and profile.last_outcome == "pain":
        session.phase = Screening(stage="after_pain")
        session.gentle = True
        return turn.show(Screen(id="screening.after_pain"), *lines)
    if recent and profile.last_outcome == "clear":
        return _quick(turn, *lines)
    if profile.last_outcome in ("A", "B", "C"):
        intro = line("screening_after_referral")
    elif profile.last_screened_at is not None:
        intro = line("screening_again", days=triage.repeat_after_days)
    else:
        intro = line("screening_intro", answers=answers)
    _ask_group(turn, 0, *lines, intro)


def _quick(turn: Turn, *lines: Line) -> None:
    session, _ = _screening(turn)
    profile = turn.state.profile
    session.ruled_out, session.ruled_out_by = list(profile.restrictions), list(profile.restricted_by)
    session.phase = Screening(stage="quick")
    turn.show(Screen(id="screening.quick"), *lines)


def rescore(turn: Turn, *lines: Line) -> None:
    """Pain described while choosing a routine: ask the pain score again, then on to the routines."""
    session = turn.state.session
    assert session is not None
    session.phase = Screening(stage="score")
    turn.show(Screen(id="screening.score", params={"audience": session.audience, "again": True}), *lines)


# ---- answers ---------------------------------------------------------------------------------------
def answer(turn: Turn, reading: Answer) -> Next | None:
    """An answer to the screening screen on display (pressed or typed)."""
    session, phase = _screening(turn)
    if phase.stage == "after_pain" and isinstance(reading, Choose):
        if reading.choice_id == "same":
            turn.say(line("after_pain_same"), line("@safety_net"), kind="referral")
            turn.clear_screen()
            turn.end_session("referral", "pain")
            return None
        _quick(turn)
        return None
    if isinstance(reading, Doubt) or (isinstance(reading, Choose) and reading.choice_id == "unsure"):
        return _doubt(turn, phase, already_explained=isinstance(reading, Choose))
    if phase.stage == "quick" and isinstance(reading, Choose):
        if reading.choice_id == "yes":
            session.ruled_out, session.ruled_out_by = [], []
            return _ask_group(turn, 0, line("screening_after_new"))
        return _clear(turn, full=False)
    if phase.stage == "group":
        return _group_answer(turn, phase, reading)
    if phase.stage == "item" and isinstance(reading, Choose) and phase.item is not None:
        triage = turn.content.triage
        if reading.choice_id == "yes":
            return _flagged(turn, triage.question(phase.item))
        if phase.parent is not None:  # no to a follow-up: the question that led to it applies
            return _applies(turn, triage.question(phase.parent))
        return _next_item(turn)
    if phase.stage == "score":
        value = _score_value(turn, reading)
        if value is not None:
            return _scored(turn, value)
    if phase.stage == "before":
        return _before_score(turn, session, reading)
    if phase.stage == "kneeling" and isinstance(reading, Choose):
        if reading.choice_id == "yes":
            _rule_out(session, turn.content.triage.kneeling)
        return _clear(turn, full=True)
    return Next(Handoff.HINT)


def _doubt(turn: Turn, phase: Screening, *, already_explained: bool) -> Next | None:
    """Not sure: explain the question once; not sure again: the cautious path, as if it were a yes."""
    screen = turn.state.screen
    if screen is None:
        return Next(Handoff.HINT)
    if phase.unsure or already_explained:
        if phase.stage == "group":
            return _open_group(turn, phase)
        if phase.stage == "item" and phase.item is not None:
            return _flagged(turn, turn.content.triage.question(phase.item))
        if phase.stage == "kneeling":
            _rule_out(_screening(turn)[0], turn.content.triage.kneeling)
            return _clear(turn, full=True)
        if phase.stage == "quick":
            _screening(turn)[0].ruled_out = []
            return _ask_group(turn, 0, line("screening_after_new"))
    phase.unsure = True
    turn.show(Screen(id=screen.id, params={**screen.params, "explained": True}))
    return None


# ---- groups and their items -------------------------------------------------------------------------
def _ask_group(turn: Turn, index: int, *lines: Line) -> Next | None:
    session, _ = _screening(turn)
    session.phase = Screening(stage="group", group=index)
    turn.show(Screen(id="screening.group", params={"group": index, "audience": session.audience}), *lines)
    return None


def _group_answer(turn: Turn, phase: Screening, reading: Answer) -> Next | None:
    group = turn.content.triage.groups[phase.group]
    if isinstance(reading, Pick) and 0 <= reading.index < len(group.items):
        return _flagged(turn, turn.content.triage.question(group.items[reading.index]))
    if not isinstance(reading, Choose):
        return Next(Handoff.HINT)
    if reading.choice_id == "no":
        return _after_group(turn, phase.group)
    return _open_group(turn, phase)


def _open_group(turn: Turn, phase: Screening) -> Next | None:
    """"One or more": if every item refers at the same level, that is the answer; else ask one by one."""
    triage = turn.content.triage
    items = triage.groups[phase.group].items
    levels = {triage.question(item).level for item in items}
    if len(levels) == 1 and (level := LEVELS.get(levels.pop())):
        refer(turn, level)
        return None
    phase.pending = list(items)
    return _next_item(turn)


def _next_item(turn: Turn) -> Next | None:
    session, phase = _screening(turn)
    if not phase.pending:
        return _after_group(turn, phase.group)
    item, *rest = phase.pending
    session.phase = Screening(stage="item", group=phase.group, item=item, pending=rest)
    turn.show(Screen(id="screening.item", params={"question": item, "audience": session.audience}))
    return None


def _flagged(turn: Turn, question: Question) -> Next | None:
    """A yes to a question: its follow-up first (if it has one), else what the question leads to."""
    session, phase = _screening(turn)
    if question.follow_up and phase.parent is None:
        session.phase = Screening(stage="item", group=phase.group, item=question.follow_up, parent=question.id,
                                  pending=phase.pending)
        turn.show(Screen(id="screening.item", params={"question": question.follow_up, "audience": session.audience}))
        return None
    return _applies(turn, question)


def _applies(turn: Turn, question: Question) -> Next | None:
    """A question answered yes: its level refers, or (level D) its effect is kept and the screen goes on."""
    session, _ = _screening(turn)
    level = LEVELS.get(question.level)
    if level is not None:
        refer(turn, level)
        return None
    _rule_out(session, question)
    if question.advice and question.advice not in session.advice:
        session.advice.append(question.advice)
    return _next_item(turn)


def _after_group(turn: Turn, index: int) -> Next | None:
    session, _ = _screening(turn)
    if index + 1 < len(turn.content.triage.groups):
        return _ask_group(turn, index + 1)
    session.phase = Screening(stage="score")
    turn.show(Screen(id="screening.score", params={"audience": session.audience}))
    return None


# ---- the pain score and kneeling --------------------------------------------------------------------
def _score_value(turn: Turn, reading: Answer) -> int | None:
    flag = turn.content.triage.score.flag_at
    if isinstance(reading, Score) and 0 <= reading.value <= 10:
        return reading.value
    if isinstance(reading, Choose):
        return {"low": 0, "mid": flag - 1, "high": flag}.get(reading.choice_id)
    return None


def _scored(turn: Turn, value: int) -> Next | None:
    session, _ = _screening(turn)
    score = turn.content.triage.score
    session.score_before = value  # the back score before this session, for the trend in /progress
    if value >= score.flag_at:
        refer(turn, score.level)
        return None
    kneeling = turn.content.triage.kneeling
    routines = offered_routines(turn.content, session.ruled_out, session.audience)
    asks_kneeling = any(set(kneeling.rules_out) & set(turn.content.stretches[s].tags)
                        for r in routines for s in r.stretches)
    if not asks_kneeling or kneeling.id in session.ruled_out_by:
        return _clear(turn, full=True)
    session.phase = Screening(stage="kneeling")
    turn.show(Screen(id="screening.kneeling", params={"audience": session.audience}))
    return None


def _rule_out(session: Session, question: Question) -> None:
    for tag in question.rules_out:
        if tag not in session.ruled_out:
            session.ruled_out.append(tag)
    if question.rules_out and question.id not in session.ruled_out_by:
        session.ruled_out_by.append(question.id)


def _clear(turn: Turn, *, full: bool) -> Next:
    """Nothing referred: remember what was learnt, safety-net (never "all clear"), offer the routines."""
    session, _ = _screening(turn)
    profile = turn.state.profile
    if session.audience == "self":
        profile.last_outcome = "clear"
        if full:
            profile.last_screened_at = turn.now
            profile.restrictions, profile.restricted_by = list(session.ruled_out), list(session.ruled_out_by)
    lines = [line("screening_clear"), line("@safety_net"), *(line(key) for key in session.advice)]
    if not full and profile.tracks_score and session.audience == "self":
        # someone who rates their back after sessions gets the one-tap "before" too (skippable)
        session.phase = Screening(stage="before")
        turn.show(Screen(id="screening.before"), *lines)
        return Next(Handoff.NONE)
    return Next(Handoff.CHOOSE_ROUTINE, tuple(lines))


def _before_score(turn: Turn, session: Session, reading: Answer) -> Next | None:
    """The optional back score before a session: 7 or more refers, as the triage pain score does."""
    if isinstance(reading, Choose) and reading.choice_id == "skip":
        return Next(Handoff.CHOOSE_ROUTINE)
    value = reading.value if isinstance(reading, Score) else None
    if isinstance(reading, Choose) and reading.choice_id.startswith("s") and reading.choice_id[1:].isdigit():
        value = int(reading.choice_id[1:])
    if value is None or not 0 <= value <= 10:
        return Next(Handoff.HINT)
    session.score_before = value
    if value >= turn.content.progress.scores.refer_at:
        level = LEVELS.get(turn.content.progress.scores.level)
        refer(turn, level or "C")
        return None
    return Next(Handoff.CHOOSE_ROUTINE)
