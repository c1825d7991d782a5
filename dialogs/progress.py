"""Progress figures from a user's history: plain numbers for /progress, its chart and the weekly summary.

Pure and synchronous: the runtime loads the history (finished sessions and every "how did that feel?")
and passes it in with `now` and the user's zone. `summarize` returns data (dates, counts, seconds,
scores); `dialogs.progress_text` turns it into words from content/progress.yaml.

Days are local days in the user's zone: a session at 23:30 in Berlin counts on that Berlin day.
Nothing here ever resets: the habit figures count days and weeks with sessions, so a missed day only
means one day fewer in "4 of the last 7 days", and the all-time count only grows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Literal

from dialogs.progress_words import ScoreRule
from dialogs.schedule import zone_of

Outcome = Literal["completed", "stopped", "referral"]
Rating = Literal["good", "tight", "pain", "skipped"]
DayFeeling = Literal["good", "tight", "pain", "none"]  # "pain": a stop for pain that day

WEEK_DAYS = 7
MONTH_DAYS = 30
SERIES_DAYS = 28  # the chart: 4 weeks, one bar per day
SCORE_DAYS = 30  # the before/after trend looks back this far
SCORE_RANGE = range(11)  # the 0-10 back score


# ---- input: what the runtime loads ---------------------------------------------------------------------
@dataclass(frozen=True)
class SessionRecord:
    """One finished session from the history."""

    ended_at: datetime
    outcome: Outcome
    routine: str | None
    stretches_done: int
    seconds: int  # seconds held
    score_before: int | None = None  # "how is your back right now?" 0-10, when answered
    score_after: int | None = None
    stopped_for_pain: bool = False


@dataclass(frozen=True)
class FeedbackRecord:
    """One check-in after a stretch ("pain": the stretch was stopped for pain)."""

    at: datetime
    routine: str | None
    stretch: str
    rating: Rating
    hold_seconds: int


# ---- output: the summary as data -------------------------------------------------------------------------
@dataclass(frozen=True)
class FeelingCounts:
    good: int = 0
    tight: int = 0
    pain: int = 0
    skipped: int = 0


@dataclass(frozen=True)
class Period:
    """The last `days` local days, today included."""

    days: int
    sessions: int
    stretches: int
    seconds: int  # seconds held
    feelings: FeelingCounts


@dataclass(frozen=True)
class DayEntry:
    day: date
    sessions: int
    feeling: DayFeeling


@dataclass(frozen=True)
class ScorePoint:
    day: date
    before: int
    after: int


@dataclass(frozen=True)
class ScoreTrend:
    """Sessions of the last `days` days with both a before and an after score, oldest first."""

    days: int
    points: tuple[ScorePoint, ...] = ()

    @property
    def pairs(self) -> int:
        return len(self.points)

    @property
    def before(self) -> float | None:
        return _average([p.before for p in self.points])

    @property
    def after(self) -> float | None:
        return _average([p.after for p in self.points])


@dataclass(frozen=True)
class ProgressSummary:
    today: date  # the user's local today
    week: Period  # last 7 days
    month: Period  # last 30 days
    series: tuple[DayEntry, ...]  # the last 28 local days, oldest first; the last one is today
    active_days: int  # days with a session among the last 7
    weekly: tuple[int, ...]  # sessions in each local calendar week (Monday-Sunday), this week first
    all_time: int  # every session ever: it only grows
    scores: ScoreTrend = field(default_factory=lambda: ScoreTrend(SCORE_DAYS))


@dataclass(frozen=True)
class HabitRun:
    """`weeks` calendar weeks running, each with at least `per_week` sessions (0 weeks: no run)."""

    per_week: int
    weeks: int


# ---- summarising -------------------------------------------------------------------------------------------
@dataclass
class _Day:
    sessions: int = 0
    stretches: int = 0
    seconds: int = 0
    pain_stop: bool = False
    good: int = 0
    tight: int = 0
    pain: int = 0
    skipped: int = 0


def counts_as_session(session: SessionRecord) -> bool:
    """A session counts when a routine was really begun: some stretch done, the routine finished, or a
    stop for pain during it. A session that ended at the safety questions is not a practice day."""
    begun = session.routine is not None and (session.outcome == "completed" or session.stopped_for_pain)
    return session.stretches_done > 0 or begun


def _zone(name: str | None) -> tzinfo:
    # zones are validated when they are stored; an unknown one (content or tzdata changed) must not
    # take /progress down, so it reads as UTC
    try:
        return zone_of(name) if name else UTC
    except ValueError:
        return UTC


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def summarize(
    sessions: Iterable[SessionRecord], feedback: Iterable[FeedbackRecord], now: datetime, zone: str | None
) -> ProgressSummary:
    """Plain figures from the whole history. Never raises on any history; records after `now` are
    left out, negative numbers read as 0 and scores outside 0-10 as not given."""
    tz = _zone(zone)
    now = _aware(now)
    today = now.astimezone(tz).date()
    days: dict[date, _Day] = {}
    all_time = 0
    points: list[tuple[datetime, ScorePoint]] = []
    score_start = today - timedelta(days=SCORE_DAYS - 1)
    for session in sessions:
        ended = _aware(session.ended_at)
        if ended > now:
            continue
        day = ended.astimezone(tz).date()
        entry = days.setdefault(day, _Day())
        if session.stopped_for_pain:
            entry.pain_stop = True
        if not counts_as_session(session):
            continue
        all_time += 1
        entry.sessions += 1
        entry.stretches += max(0, session.stretches_done)
        entry.seconds += max(0, session.seconds)
        before, after = session.score_before, session.score_after
        if day >= score_start and before in SCORE_RANGE and after in SCORE_RANGE:
            assert before is not None and after is not None  # for mypy: `in range` has excluded None
            points.append((ended, ScorePoint(day, before, after)))
    for record in feedback:
        at = _aware(record.at)
        if at > now:
            continue
        entry = days.setdefault(at.astimezone(tz).date(), _Day())
        if record.rating in ("good", "tight", "pain", "skipped"):
            setattr(entry, record.rating, getattr(entry, record.rating) + 1)
    points.sort(key=lambda item: item[0])
    return ProgressSummary(
        today=today,
        week=_period(days, today, WEEK_DAYS),
        month=_period(days, today, MONTH_DAYS),
        series=tuple(
            DayEntry(d, days[d].sessions if d in days else 0, _feeling(days.get(d)))
            for d in (today - timedelta(days=back) for back in range(SERIES_DAYS - 1, -1, -1))
        ),
        active_days=sum(1 for back in range(WEEK_DAYS) if days.get(today - timedelta(days=back), _Day()).sessions),
        weekly=_weekly(days, today),
        all_time=all_time,
        scores=ScoreTrend(SCORE_DAYS, tuple(point for _, point in points)),
    )


def _period(days: dict[date, _Day], today: date, length: int) -> Period:
    entries = [days[d] for d in (today - timedelta(days=back) for back in range(length)) if d in days]
    return Period(
        days=length,
        sessions=sum(e.sessions for e in entries),
        stretches=sum(e.stretches for e in entries),
        seconds=sum(e.seconds for e in entries),
        feelings=FeelingCounts(
            good=sum(e.good for e in entries),
            tight=sum(e.tight for e in entries),
            pain=sum(e.pain for e in entries),
            skipped=sum(e.skipped for e in entries),
        ),
    )


def _feeling(entry: _Day | None) -> DayFeeling:
    """A day felt "pain" if anything was stopped for pain (safety first); otherwise as most of its
    ratings felt, a tie reading as "tight" (the gentler reading); "none" when nothing was rated."""
    if entry is None:
        return "none"
    if entry.pain_stop or entry.pain:
        return "pain"
    if not entry.good and not entry.tight:
        return "none"
    return "good" if entry.good > entry.tight else "tight"


def _weekly(days: dict[date, _Day], today: date) -> tuple[int, ...]:
    """Sessions per calendar week, this week first. Calendar weeks, not windows sliding with today: a
    finished week's count never changes, so a day without a session cannot lower a past week."""
    this_monday = today - timedelta(days=today.weekday())
    counts: dict[int, int] = {}
    for day, entry in days.items():
        back = (this_monday - (day - timedelta(days=day.weekday()))).days // WEEK_DAYS
        if back >= 0 and entry.sessions:
            counts[back] = counts.get(back, 0) + entry.sessions
    return tuple(counts.get(week, 0) for week in range(max(counts, default=0) + 1))


def habit_run(weekly: Sequence[int], min_per_week: int) -> HabitRun:
    """The run of calendar weeks, newest first, with at least `min_per_week` sessions each. This week
    may still fill up, so while it is short it never breaks the run: it is just not counted yet."""
    start = 0 if weekly and weekly[0] >= min_per_week else 1
    run: list[int] = []
    for count in weekly[start:]:
        if count < min_per_week:
            break
        run.append(count)
    return HabitRun(per_week=min(run, default=0), weeks=len(run))


def _average(values: Sequence[int]) -> float | None:
    if not values:
        return None
    tenths = (sum(values) * 10 * 2 + len(values)) // (2 * len(values))  # rounded half up, in tenths
    return tenths / 10


# ---- the before/after score rule ----------------------------------------------------------------------
def score_needs_referral(before: int | None, after: int | None, rule: ScoreRule) -> bool:
    """The safety rule for the optional before/after back score, as the triage pain score: a score of
    `rule.refer_at` or more (7), before or after, or a rise of `rule.rise_at` or more (3) within the
    session means referral (`rule.level`'s text). A skipped score (None) never refers by itself."""
    given = [score for score in (before, after) if score is not None]
    if any(score >= rule.refer_at for score in given):
        return True
    return before is not None and after is not None and after - before >= rule.rise_at
