"""Progress figures (dialogs.progress) and their words (dialogs.progress_text) over weeks of a fake
timeline: plain figures for the last 7 and 30 days, local days in the user's zone, a habit line that a
missed day never resets, plurals, the before/after trend and its safety rule, and the text chart."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dialogs.content import Content
from dialogs.progress import (
    SERIES_DAYS,
    FeedbackRecord,
    ProgressSummary,
    SessionRecord,
    counts_as_session,
    habit_run,
    score_needs_referral,
    summarize,
)
from dialogs.progress_text import GLYPHS, progress_text, text_chart, weekly_text

BERLIN = "Europe/Berlin"


class Timeline:
    """A user's history written in their own local time: `session(date(...), "19:00", ratings=...)`."""

    def __init__(self, zone: str = BERLIN) -> None:
        self.zone = zone
        self.sessions: list[SessionRecord] = []
        self.feedback: list[FeedbackRecord] = []

    def at(self, day: date, clock: str) -> datetime:
        hour, minute = map(int, clock.split(":"))
        return datetime.combine(day, time(hour, minute), ZoneInfo(self.zone)).astimezone(UTC)

    def session(
        self,
        day: date,
        clock: str = "19:00",
        ratings: str = "gg",
        seconds: int | None = None,
        before: int | None = None,
        after: int | None = None,
        pain: bool = False,
        outcome: str = "completed",
        routine: str | None = "lower5",
    ) -> None:
        """`ratings`: one letter per stretch rated: g good, t tight, s skipped, p pain."""
        ended = self.at(day, clock)
        done = sum(1 for r in ratings if r in "gt")
        self.sessions.append(
            SessionRecord(
                ended,
                outcome,
                routine,
                done,
                60 * done if seconds is None else seconds,  # type: ignore[arg-type]  # outcome is a test parameter
                before,
                after,
                pain,
            )
        )
        names = {"g": "good", "t": "tight", "s": "skipped", "p": "pain"}
        for index, letter in enumerate(ratings):
            self.feedback.append(
                FeedbackRecord(
                    ended - timedelta(minutes=len(ratings) - index), routine, f"stretch{index}", names[letter], 25
                )
            )  # type: ignore[arg-type]

    def summary(self, now: datetime) -> ProgressSummary:
        return summarize(self.sessions, self.feedback, now, self.zone)


def day(text: str) -> date:
    return date.fromisoformat(text)


# ---- the figures in plain words ------------------------------------------------------------------------
def test_five_weeks_in_plain_words(content: Content) -> None:
    line = Timeline()
    line.session(day("2026-02-17"))  # a Tuesday, outside the 30 days
    for monday in ("2026-02-23", "2026-03-02", "2026-03-09"):  # Mondays and Thursdays, 2 stretches each
        line.session(day(monday), ratings="gg", seconds=120)
        line.session(day(monday) + timedelta(days=3), ratings="gg", seconds=120)
    line.session(day("2026-03-16"), ratings="ggt", seconds=150, before=5, after=3)
    line.session(day("2026-03-18"), ratings="ggg", seconds=150, before=4, after=3)
    line.session(day("2026-03-20"), ratings="gts", seconds=150, before=4)  # 2 done (skipped one), no after
    summary = line.summary(line.at(day("2026-03-20"), "20:00"))

    assert progress_text(summary, content.progress) == "\n".join(
        [
            "Your progress",
            "Last 7 days: 3 sessions, 8 stretches, 8 minutes of holds.",
            "How the stretches felt: 6 good, 2 tight but OK, 1 skipped.",
            "Last 30 days: 9 sessions, 20 stretches, 20 minutes of holds.",
            "How the stretches felt: 18 good, 2 tight but OK, 1 skipped.",
            "You stretched on 3 of the last 7 days.",
            "A habit: at least 2 sessions a week for 4 weeks.",
            "10 sessions so far. Every one counts.",
            "Your back before and after (last 30 days, 2 sessions): on average 4.5 before and 3 after, out of 10.",
            "On average it felt 1.5 points better afterwards.",
        ]
    )
    assert summary.weekly == (3, 2, 2, 2, 1)
    assert weekly_text(summary, content.progress) == (
        "Your week in stretches:\nThis week: 3 sessions and 8 minutes of holds. Nice work, and go gently."
    )


def test_plurals_read_right_for_one(content: Content) -> None:
    line = Timeline()
    line.session(day("2026-03-18"), ratings="g", seconds=60, before=3, after=2)
    summary = line.summary(line.at(day("2026-03-18"), "21:00"))
    text = progress_text(summary, content.progress)
    assert "Last 7 days: 1 session, 1 stretch, 1 minute of holds." in text
    assert "How the stretches felt: 1 good." in text
    assert "You stretched on 1 of the last 7 days." in text
    assert "1 session so far." in text
    assert "(last 30 days, 1 session): on average 3 before and 2 after" in text
    assert "On average it felt 1 point better afterwards." in text
    assert "A habit" not in text  # one week is not yet a habit
    units = content.progress.units
    assert [units.stretch.of(n) for n in (0, 1, 2)] == ["0 stretches", "1 stretch", "2 stretches"]
    assert units.point.of(0.5) == "0.5 points" and units.point.of(2.0) == "2 points"


def test_a_few_seconds_held_read_as_under_a_minute_and_no_session_reads_kindly(content: Content) -> None:
    line = Timeline()
    line.session(day("2026-03-01"), ratings="g", seconds=20)
    now = line.at(day("2026-03-02"), "09:00")
    assert "1 stretch, under a minute of holds." in progress_text(line.summary(now), content.progress)
    later = progress_text(line.summary(now + timedelta(days=20)), content.progress)
    assert "Last 7 days: no sessions." in later
    assert "No sessions in the last 7 days. Whenever you're ready, /stretch is here." in later
    assert "1 session so far. Every one counts." in later  # never reset, never scolded
    empty = progress_text(summarize([], [], now, BERLIN), content.progress)
    assert "so far" not in empty and "before and after" not in empty


def test_score_trend_about_the_same_or_worse(content: Content) -> None:
    same, worse = Timeline(), Timeline()
    for offset, (before, after) in enumerate([(3, 3), (4, 4), (3, 4)]):
        same.session(day("2026-03-10") + timedelta(days=offset), before=before, after=after)
    for offset, (before, after) in enumerate([(2, 4), (3, 5)]):
        worse.session(day("2026-03-10") + timedelta(days=offset), before=before, after=after)
    now = same.at(day("2026-03-14"), "12:00")
    assert "On average it felt about the same afterwards." in progress_text(same.summary(now), content.progress)
    text = progress_text(worse.summary(now), content.progress)
    assert "On average it felt 2 points worse afterwards." in text
    assert "see a GP or physiotherapist" in text


# ---- local days in the user's zone -------------------------------------------------------------------------
def test_a_session_late_in_the_evening_counts_on_that_local_day() -> None:
    york = Timeline("America/New_York")
    york.session(day("2026-03-10"), "23:30")  # 03:30 UTC on the 11th
    assert york.sessions[0].ended_at.date() == day("2026-03-11")
    summary = york.summary(york.at(day("2026-03-10"), "23:45"))
    assert summary.today == day("2026-03-10")
    assert summary.series[-1] == summary.series[-1].__class__(day("2026-03-10"), 1, "good")

    berlin = Timeline(BERLIN)
    berlin.session(day("2026-03-11"), "00:30")  # 23:30 UTC on the 10th
    summary = berlin.summary(berlin.at(day("2026-03-11"), "08:00"))
    assert [(e.day, e.sessions) for e in summary.series[-2:]] == [(day("2026-03-10"), 0), (day("2026-03-11"), 1)]
    # the same moments seen from UTC fall on the other day
    in_utc = summarize(berlin.sessions, berlin.feedback, berlin.at(day("2026-03-11"), "08:00"), "UTC")
    assert [(e.day, e.sessions) for e in in_utc.series[-2:]] == [(day("2026-03-10"), 1), (day("2026-03-11"), 0)]


def test_the_series_is_28_local_days_ending_today_with_each_days_feeling() -> None:
    line = Timeline()
    line.session(day("2026-03-01"), ratings="gg")
    line.session(day("2026-03-02"), ratings="gt")  # a tie reads as tight
    line.session(day("2026-03-03"), ratings="ggt")  # mostly good
    line.session(day("2026-03-04"), ratings="gg")
    line.session(day("2026-03-04"), "20:00", ratings="p", pain=True, outcome="referral")  # any pain: pain
    line.session(day("2026-03-05"), ratings="ss")  # finished, every stretch skipped: a session, unrated
    line.session(day("2026-03-06"), ratings="", outcome="referral", routine=None)  # ended at the safety questions
    summary = line.summary(line.at(day("2026-03-07"), "10:00"))
    assert len(summary.series) == SERIES_DAYS
    assert summary.series[0].day == day("2026-02-08") and summary.series[-1].day == day("2026-03-07")
    by_day = {e.day.isoformat()[-2:]: (e.sessions, e.feeling) for e in summary.series[-7:]}
    assert by_day == {
        "01": (1, "good"),
        "02": (1, "tight"),
        "03": (1, "good"),
        "04": (2, "pain"),
        "05": (1, "none"),
        "06": (0, "none"),
        "07": (0, "none"),
    }


def test_what_counts_as_a_session() -> None:
    def record(**changes: object) -> SessionRecord:
        values: dict[str, object] = {
            "ended_at": datetime(2026, 3, 1, tzinfo=UTC),
            "outcome": "stopped",
            "routine": "lower5",
            "stretches_done": 0,
            "seconds": 0,
        }
        return SessionRecord(**{**values, **changes})  # type: ignore[arg-type]  # built from a test dict

    assert counts_as_session(record(stretches_done=1))
    assert counts_as_session(record(outcome="completed"))  # finished, even if every stretch was skipped
    assert counts_as_session(record(outcome="referral", stopped_for_pain=True))  # pain in the first hold
    assert not counts_as_session(record())  # stopped before the first stretch
    assert not counts_as_session(record(outcome="referral", routine=None))  # triage referral
    assert not counts_as_session(record(outcome="referral", routine=None, stopped_for_pain=True))


# ---- the habit line: forgiving, never reset --------------------------------------------------------------
def test_missed_days_never_reset_the_habit_or_the_count(content: Content) -> None:
    line = Timeline()
    start = day("2026-02-02")  # a Monday
    for week in range(5):  # Monday, Wednesday, Friday for 5 weeks
        for offset in (0, 2, 4):
            line.session(start + timedelta(days=7 * week + offset))
    # then a week with only Tuesday and Saturday: every other day is missed
    line.session(day("2026-03-10"))
    line.session(day("2026-03-14"))
    seen = []
    for offset in range(7):  # every evening of that week
        today = day("2026-03-09") + timedelta(days=offset)
        summary = line.summary(line.at(today, "22:00"))
        run = habit_run(summary.weekly, content.progress.habit.min_per_week)
        seen.append((today.isoformat(), summary.active_days, run.weeks, run.per_week, summary.all_time))
    assert seen == [
        ("2026-03-09", 2, 5, 3, 15),  # Monday missed: the 5 weeks stand (this week is not counted yet)
        ("2026-03-10", 3, 5, 3, 16),
        ("2026-03-11", 2, 5, 3, 16),  # Wednesday missed: nothing resets
        ("2026-03-12", 2, 5, 3, 16),
        ("2026-03-13", 1, 5, 3, 16),
        ("2026-03-14", 2, 6, 2, 17),  # the second session of the week: it joins the run
        ("2026-03-15", 2, 6, 2, 17),
    ]
    text = progress_text(line.summary(line.at(day("2026-03-13"), "22:00")), content.progress)
    assert "You stretched on 1 of the last 7 days." in text
    assert "A habit: at least 3 sessions a week for 5 weeks." in text


def test_a_short_week_in_progress_never_breaks_the_run_but_a_finished_one_ends_it() -> None:
    assert habit_run((0, 3, 2, 4), 2).weeks == 3  # this week is still to come
    assert habit_run((2, 3, 2, 4), 2) == habit_run((2, 3, 2, 4), 2).__class__(per_week=2, weeks=4)
    assert habit_run((3, 1, 4, 4), 2).weeks == 1  # last week had one: the run is from this week only
    assert habit_run((), 2).weeks == 0


def _history() -> st.SearchStrategy[tuple[list[SessionRecord], list[FeedbackRecord]]]:
    moments = st.datetimes(
        min_value=datetime(2024, 1, 1),
        max_value=datetime(2026, 6, 1),
        timezones=st.sampled_from([UTC, ZoneInfo(BERLIN), ZoneInfo("Pacific/Chatham")]),
    )
    scores = st.one_of(st.none(), st.integers(-5, 15))
    session = st.builds(
        SessionRecord,
        moments,
        st.sampled_from(["completed", "stopped", "referral"]),
        st.one_of(st.none(), st.sampled_from(["lower5", "gentle"])),
        st.integers(-3, 9),
        st.integers(-100, 10_000),
        scores,
        scores,
        st.booleans(),
    )
    feedback = st.builds(
        FeedbackRecord,
        moments,
        st.none(),
        st.sampled_from(["hamstring", "cat_cow"]),
        st.sampled_from(["good", "tight", "pain", "skipped"]),
        st.integers(0, 120),
    )
    return st.tuples(st.lists(session, max_size=40), st.lists(feedback, max_size=60))


@settings(max_examples=150, deadline=None)
@given(
    history=_history(),
    now=st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2026, 7, 1), timezones=st.just(UTC)),
    zone=st.sampled_from([BERLIN, "America/New_York", "UTC+05:45", "UTC", None, "Not/AZone"]),
)
def test_summarize_never_raises_and_its_figures_agree(history, now, zone, content: Content) -> None:
    sessions, feedback = history
    summary = summarize(sessions, feedback, now, zone)
    assert len(summary.series) == SERIES_DAYS and summary.series[-1].day == summary.today
    assert [e.day for e in summary.series] == [summary.today - timedelta(days=27 - i) for i in range(28)]
    assert 0 <= summary.week.sessions <= summary.month.sessions <= summary.all_time
    assert summary.week.seconds <= summary.month.seconds and summary.month.stretches >= 0
    assert sum(e.sessions for e in summary.series) <= summary.month.sessions
    assert summary.active_days == sum(1 for e in summary.series[-7:] if e.sessions)
    assert sum(summary.weekly) <= summary.all_time
    assert all(0 <= p.before <= 10 and 0 <= p.after <= 10 for p in summary.scores.points)
    assert progress_text(summary, content.progress) and text_chart(summary.series, content.progress.chart)
    # a day passing without a session lowers nothing that counts
    tomorrow = summarize(sessions, feedback, now + timedelta(days=1), zone)
    if all(s.ended_at.replace(tzinfo=s.ended_at.tzinfo or UTC) <= now for s in sessions):
        assert tomorrow.all_time == summary.all_time
        if tomorrow.today.weekday() != 0:  # still the same calendar week: the habit run is unchanged
            assert habit_run(tomorrow.weekly, 2) == habit_run(summary.weekly, 2)


def test_records_after_now_and_naive_times_are_handled() -> None:
    now = datetime(2026, 3, 10, 12, tzinfo=UTC)
    future = SessionRecord(now + timedelta(hours=1), "completed", "lower5", 3, 90)
    naive = SessionRecord(datetime(2026, 3, 10, 8), "completed", "lower5", 2, 60)  # read as UTC
    summary = summarize([future, naive], [], now, BERLIN)
    assert summary.all_time == 1 and summary.week.stretches == 2


# ---- the before/after score rule ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("before", "after", "refers"),
    [
        (None, None, False),
        (3, None, False),
        (None, 3, False),
        (6, 6, False),
        (2, 4, False),
        (5, 1, False),
        (7, None, True),
        (None, 7, True),
        (9, 3, True),
        (2, 5, True),
        (0, 3, True),
        (4, 8, True),
        (3, 9, True),
    ],
)
def test_a_high_score_or_a_rise_of_three_refers(before, after, refers, content: Content) -> None:
    assert score_needs_referral(before, after, content.progress.scores) is refers


def test_the_score_rule_refers_like_the_triage_pain_score(content: Content) -> None:
    triage_score = content.triage.score
    assert content.progress.scores.refer_at == triage_score.flag_at == 7
    assert content.progress.scores.level == triage_score.level
    assert content.progress.scores.rise_at == 3
    assert content.progress.scores.source in content.sources


# ---- the text chart --------------------------------------------------------------------------------------------
def test_the_text_chart_has_a_column_per_day_and_a_legend_of_what_is_there(content: Content) -> None:
    line = Timeline()
    line.session(day("2026-03-16"), ratings="gg")
    line.session(day("2026-03-16"), "20:00", ratings="gg")
    line.session(day("2026-03-18"), ratings="tt")
    line.session(day("2026-03-19"), ratings="p", pain=True, outcome="referral")
    chart = text_chart(line.summary(line.at(day("2026-03-20"), "21:00")).series, content.progress.chart)
    lines = chart.splitlines()
    assert lines[0] == "Sessions per day, last 4 weeks"
    assert lines[1] == "2 │ " + " " * 2 * 23 + "█"  # Monday 16th: two sessions, in column 24 of 28
    assert lines[2] == "1 │ " + " " * 2 * 23 + "█   ▒ !"
    assert lines[4].split() == ["S", "S", "M", "T", "W", "T", "F"] * 4  # 21 Feb is a Saturday
    assert lines[5].split() == ["21", "Feb", "28", "Feb", "7", "Mar", "14", "Mar", "today"]
    assert lines[6] == "█ Good  ▒ Tight but OK  ! Stopped for pain"
    assert set(GLYPHS) == {"good", "tight", "pain", "none"}


def test_the_text_chart_scales_busy_days_and_says_when_there_is_nothing(content: Content) -> None:
    line = Timeline()
    for index in range(9):
        line.session(day("2026-03-19"), f"{8 + index}:00")
    chart = text_chart(line.summary(line.at(day("2026-03-20"), "21:00")).series, content.progress.chart)
    rows = [row for row in chart.splitlines() if "│" in row]
    assert len(rows) == 5 and rows[0].startswith("9 │") and all(row.endswith("█") for row in rows)
    empty = text_chart(summarize([], [], datetime(2026, 3, 20, tzinfo=UTC), BERLIN).series, content.progress.chart)
    assert empty == "Sessions per day, last 4 weeks\nNo sessions in these 4 weeks yet"
