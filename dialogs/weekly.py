"""The weekly summary's timing: the user's chosen weekday and time in their own zone. Pure.

It is scheduled like a daily reminder (dialogs.schedule: wall-clock time, DST-correct) on one weekday,
through a durable timer named WEEKLY_TIMER whose payload carries the local day it is for. Exactly once
per week: `last_sent_on` keeps a second summary out of the same Monday-to-Sunday week, whether a
repeated hour (clocks going back), a timer claimed twice, or a change of weekday after this week's
summary went out would otherwise bring one.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from dialogs import schedule

WEEKLY_TIMER = "weekly"


class WeeklySummary(BaseModel):
    """The user's weekly summary settings, kept in their state (e.g. `Profile.weekly`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    weekday: int = Field(ge=0, le=6)  # 0 Monday ... 6 Sunday, in the user's zone
    hour: int = Field(ge=0, le=23)
    minute: int = Field(ge=0, le=59)
    timezone: str  # as stored by dialogs.schedule.parse_zone: "Europe/Berlin" or "UTC+05:30"
    last_sent_on: date | None = None  # local day of the last summary sent


def _week(day: date) -> tuple[int, int]:
    iso = day.isocalendar()
    return iso.year, iso.week


def allowed_on(settings: WeeklySummary, day: date) -> bool:
    """The chosen weekday, in a week that has not had its summary yet."""
    sent = settings.last_sent_on is not None and _week(day) <= _week(settings.last_sent_on)
    return day.weekday() == settings.weekday and not sent


def next_weekly(settings: WeeklySummary, after: datetime) -> tuple[date, datetime]:
    """The next (local day, aware UTC due) strictly after `after` on which the summary is sent."""
    return schedule.next_on(
        settings.hour, settings.minute, settings.timezone, after, lambda day: allowed_on(settings, day)
    )


def is_weekly_occurrence(settings: WeeklySummary, day: date, due: datetime) -> bool:
    """Is a fired timer (`day`, `due`) what the current settings schedule? False: an outdated timer."""
    return (
        day.weekday() == settings.weekday
        and schedule.occurrence(settings.hour, settings.minute, settings.timezone, day) == due
    )


def should_send(settings: WeeklySummary, day: date, due: datetime) -> bool:
    """A fired weekly timer is sent when it is current and its week has not had a summary yet."""
    return is_weekly_occurrence(settings, day, due) and allowed_on(settings, day)


def sent(settings: WeeklySummary, day: date) -> WeeklySummary:
    """The settings after the summary for local `day` went out (record it before scheduling the next)."""
    return settings.model_copy(update={"last_sent_on": day})


def offer_due(
    sessions_completed: int, settings: WeeklySummary | None, offered_before: bool, offer_after_sessions: int
) -> bool:
    """Offer the weekly summary once, after the user's `offer_after_sessions`-th completed session."""
    return settings is None and not offered_before and sessions_completed >= offer_after_sessions
