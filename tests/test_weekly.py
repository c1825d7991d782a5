"""The weekly summary's timing (dialogs.weekly): the chosen weekday and time in the user's zone, exactly
once per week, through DST changes, with outdated or repeated timers recognised."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dialogs.weekly import WeeklySummary, is_weekly_occurrence, next_weekly, offer_due, sent, should_send


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def run_weeks(settings_: WeeklySummary, start: datetime, weeks: int) -> list[datetime]:
    """A runtime on a fake clock: schedule, let the timer fire at its due time, send, schedule the next.
    Each timer also fires a second time an hour later (a retry after a crash, a second claimer)."""
    sends = []
    now = start
    day, due = next_weekly(settings_, now)
    while due < start + timedelta(weeks=weeks):
        for fired_at in (due, due + timedelta(hours=1)):
            now = fired_at
            if should_send(settings_, day, due):
                settings_ = sent(settings_, day)
                sends.append(due)
        day, due = next_weekly(settings_, max(now, due))
    return sends


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York", "Australia/Sydney", "UTC+05:30"])
def test_exactly_once_a_week_at_the_local_time_through_both_dst_changes(zone: str) -> None:
    weekly = WeeklySummary(weekday=6, hour=18, minute=0, timezone=zone)  # Sundays at 18:00
    sends = run_weeks(weekly, utc(2026, 1, 5), 52)
    assert len(sends) == 52
    tz = ZoneInfo(zone) if "/" in zone else None
    local = [s.astimezone(tz) if tz else s + timedelta(hours=5, minutes=30) for s in sends]
    assert all(t.weekday() == 6 and (t.hour, t.minute) == (18, 0) for t in local)
    weeks = Counter(t.date().isocalendar()[:2] for t in local)
    assert set(weeks.values()) == {1}
    assert all(
        b - a in (timedelta(days=7), timedelta(days=7, hours=1), timedelta(days=6, hours=23))
        for a, b in pairwise(sends)
    )


def test_a_time_in_the_spring_gap_comes_at_the_first_minute_after_it_and_a_repeated_one_once() -> None:
    weekly = WeeklySummary(weekday=6, hour=2, minute=30, timezone="Europe/Berlin")  # Sundays 02:30
    sends = run_weeks(weekly, utc(2026, 3, 16), 34)
    berlin = [s.astimezone(ZoneInfo("Europe/Berlin")) for s in sends]
    spring = next(t for t in berlin if t.date() == date(2026, 3, 29))
    assert (spring.hour, spring.minute) == (3, 0)  # 02:30 does not exist that night
    autumn = [s for s in sends if s.astimezone(ZoneInfo("Europe/Berlin")).date() == date(2026, 10, 25)]
    assert autumn == [utc(2026, 10, 25, 0, 30)]  # 02:30 happens twice: only the first
    assert len(sends) == len({t.isocalendar()[:2] for t in berlin}) == 34


def test_a_new_weekday_never_brings_a_second_summary_in_the_same_week() -> None:
    monday = WeeklySummary(weekday=0, hour=9, minute=0, timezone="Europe/Berlin")
    day, due = next_weekly(monday, utc(2026, 3, 1))
    assert (day, due) == (date(2026, 3, 2), utc(2026, 3, 2, 8))
    done = sent(monday, day)
    wednesday = done.model_copy(update={"weekday": 2})  # changed after Monday's went out
    assert next_weekly(wednesday, due)[0] == date(2026, 3, 11)  # not this Wednesday: next week's
    friday_before = WeeklySummary(weekday=4, hour=9, minute=0, timezone="Europe/Berlin", last_sent_on=date(2026, 2, 27))
    assert next_weekly(friday_before.model_copy(update={"weekday": 0}), utc(2026, 2, 28))[0] == date(2026, 3, 2)


def test_an_outdated_timer_is_recognised() -> None:
    weekly = WeeklySummary(weekday=6, hour=18, minute=0, timezone="Europe/Berlin")
    day, due = next_weekly(weekly, utc(2026, 3, 2))
    assert is_weekly_occurrence(weekly, day, due)
    later = weekly.model_copy(update={"hour": 19})
    assert not is_weekly_occurrence(later, day, due) and not should_send(later, day, due)
    other_day = weekly.model_copy(update={"weekday": 5})
    assert not is_weekly_occurrence(other_day, day, due)


def test_the_offer_comes_once_after_the_third_session() -> None:
    weekly = WeeklySummary(weekday=6, hour=18, minute=0, timezone="UTC")
    assert [offer_due(n, None, False, 3) for n in range(5)] == [False, False, False, True, True]
    assert not offer_due(3, None, True, 3)  # offered before
    assert not offer_due(7, weekly, False, 3)  # already on


@settings(max_examples=100, deadline=None)
@given(
    weekday=st.integers(0, 6),
    hour=st.integers(0, 23),
    minute=st.integers(0, 59),
    zone=st.sampled_from(
        [
            "Europe/Berlin",
            "America/Sao_Paulo",
            "Australia/Lord_Howe",
            "Pacific/Chatham",
            "America/Havana",
            "Asia/Tehran",
            "UTC",
        ]
    ),
    start=st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2027, 1, 1), timezones=st.just(UTC)),
)
def test_never_two_in_a_week_never_a_week_missed(weekday, hour, minute, zone, start) -> None:
    weekly = WeeklySummary(weekday=weekday, hour=hour, minute=minute, timezone=zone)
    sends = run_weeks(weekly, start, 10)
    weeks = [s.astimezone(ZoneInfo(zone)).date().isocalendar()[:2] for s in sends]
    assert len(weeks) == len(set(weeks)) >= 9
    assert all(timedelta(days=6) < b - a < timedelta(days=8) for a, b in pairwise(sends))
