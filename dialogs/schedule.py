"""Pure time maths for daily reminders: parsing a typed time or zone, and the next occurrence.

A reminder keeps the user's wall-clock time in their zone (zoneinfo + tzdata), so it follows DST:
- a local time that does not exist that day (spring forward) fires at the first valid minute after it;
- a local time that exists twice (fall back) fires once, at the first of the two (fold=0), and the
  per-day `last_sent_on` guard in the reminder stops a second one.
Zones are IANA names ("Europe/Berlin") or fixed offsets, stored as "UTC+05:30".
"""
from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from functools import cache
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import BaseModel, ConfigDict

WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
SEARCH_DAYS = 400  # a reminder allowed on at least 5 days a week, paused for at most a year, fits easily

_CLOCK = re.compile(
    r"(?P<hour>\d{1,2})(?:\s*[:.h]\s*(?P<minute>\d{1,2}))?\s*(?P<half>a\.?m\.?|p\.?m\.?)?|(?P<hhmm>\d{4})")
_OFFSET = re.compile(r"(?:utc|gmt)?\s*(?P<sign>[+-])\s*(?P<hours>\d{1,2})(?::?(?P<minutes>\d{2}))?")
_OFFSET_NAME = re.compile(r"UTC(?P<sign>[+-])(?P<hours>\d{2}):(?P<minutes>\d{2})")


class Reminder(BaseModel):
    """A daily reminder's settings, kept in the user's profile."""

    model_config = ConfigDict(extra="forbid")

    hour: int
    minute: int
    timezone: str
    days: Literal["daily", "weekdays"] = "daily"
    paused_until: str | None = None  # ISO local date: no reminder before this day ("pause for N days")
    last_sent_on: str | None = None  # ISO local date of the last reminder sent (never two a day)
    enabled: bool = True  # False: paused until the user turns it back on (e.g. they were unreachable)


# ---- typed input -----------------------------------------------------------------------------------
def parse_time(text: str) -> tuple[int, int] | None:
    """(hour, minute) for "7:30", "19:00", "0730", "7pm", "7.30 am", "7"; None when it is not a time."""
    match = _CLOCK.fullmatch(text.strip().lower())
    if not match:
        return None
    if match["hhmm"]:
        hour, minute, half = int(match["hhmm"][:2]), int(match["hhmm"][2:]), None
    else:
        hour, minute, half = int(match["hour"]), int(match["minute"] or 0), match["half"]
    if minute > 59:
        return None
    if half:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if half.startswith("p") else 0)
    return (hour, minute) if 0 <= hour <= 23 else None


@cache
def _zone_names() -> dict[str, str]:
    """Every IANA zone name, keyed by its lower-case form (typed text arrives lower-cased)."""
    return {name.lower(): name for name in available_timezones()}


def parse_zone(text: str, cities: dict[str, str]) -> str | None:
    """The zone name to store for a typed city, IANA name or UTC offset; None when unknown."""
    cleaned = " ".join(text.strip().lower().split())
    if cleaned in cities:
        return cities[cleaned]
    if cleaned in ("utc", "gmt", "z"):
        return "UTC"
    match = _OFFSET.fullmatch(cleaned)
    if match and (cleaned[0] in "+-" or cleaned[:3] in ("utc", "gmt")):
        hours, minutes = int(match["hours"]), int(match["minutes"] or 0)
        total = hours * 60 + minutes
        if minutes % 15 or (match["sign"] == "+" and total > 14 * 60) or (match["sign"] == "-" and total > 12 * 60):
            return None
        return "UTC" if total == 0 else f"UTC{match['sign']}{hours:02d}:{minutes:02d}"
    return _zone_names().get(cleaned.replace(" ", "_"))


def zone_of(name: str) -> tzinfo:
    """The tzinfo for a stored zone name ("Europe/Berlin" or "UTC+05:30"). ValueError when unknown."""
    match = _OFFSET_NAME.fullmatch(name)
    if match:
        offset = timedelta(hours=int(match["hours"]), minutes=int(match["minutes"]))
        return timezone(offset if match["sign"] == "+" else -offset, name)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}") from None


# ---- occurrences -----------------------------------------------------------------------------------
def occurrence(hour: int, minute: int, zone: str, day: date) -> datetime:
    """When (aware UTC) the wall-clock time hour:minute happens on `day` in `zone`.

    A time that happens twice (fall back) gives the first; a time skipped by a DST gap gives the first
    valid minute after it.
    """
    tz = zone_of(zone)
    wall = datetime.combine(day, time(hour, minute))
    for step in range(24 * 60):  # only loops inside a gap (usually an hour)
        local = (wall + timedelta(minutes=step)).replace(tzinfo=tz, fold=0)
        moment = local.astimezone(UTC)
        if moment.astimezone(tz).replace(tzinfo=None) == local.replace(tzinfo=None):
            return moment
    raise ValueError(f"no valid local time after {wall} in {zone}")  # pragma: no cover (no such zone)


def local_date(moment: datetime, zone: str) -> date:
    return moment.astimezone(zone_of(zone)).date()


def scheduled_on(reminder: Reminder, day: date) -> bool:
    """Does the reminder's days rule, and any pause, let it fire on this local day?"""
    if reminder.days == "weekdays" and day.weekday() >= 5:
        return False
    return not (reminder.paused_until and day < date.fromisoformat(reminder.paused_until))


def allowed_on(reminder: Reminder, day: date) -> bool:
    """Scheduled on this day, and not sent yet that day (never two a day)."""
    sent = reminder.last_sent_on and day <= date.fromisoformat(reminder.last_sent_on)
    return scheduled_on(reminder, day) and not sent


def next_on(hour: int, minute: int, zone: str, after: datetime,
            allowed: Callable[[date], bool]) -> tuple[date, datetime]:
    """The first (local day, aware UTC due) strictly after `after` whose local day is `allowed`, at the
    wall-clock time hour:minute in `zone` (DST-correct, see occurrence). Daily reminders and the weekly
    summary both schedule through this."""
    day = local_date(after, zone) - timedelta(days=1)  # a day back: gaps may push past midnight
    for _ in range(SEARCH_DAYS):
        if allowed(day):
            due = occurrence(hour, minute, zone, day)
            if due > after:
                return day, due
        day += timedelta(days=1)
    raise ValueError("no occurrence within a year")  # pragma: no cover (pauses are at most 30 days)


def next_occurrence(reminder: Reminder, after: datetime) -> tuple[date, datetime]:
    """The first (local day, aware UTC due) strictly after `after` on which the reminder may fire."""
    return next_on(reminder.hour, reminder.minute, reminder.timezone, after,
                   lambda day: allowed_on(reminder, day))


def is_occurrence(reminder: Reminder, day: date, due: datetime) -> bool:
    """Is `due` on `day` what the reminder's current settings schedule? (False: an outdated timer.)"""
    return scheduled_on(reminder, day) and occurrence(reminder.hour, reminder.minute, reminder.timezone, day) == due


def pause_start(reminder: Reminder, now: datetime) -> date:
    """The first day a pause starts from: today if today's reminder is still to come, else tomorrow."""
    today = local_date(now, reminder.timezone)
    if allowed_on(reminder, today) and occurrence(reminder.hour, reminder.minute, reminder.timezone, today) > now:
        return today
    return today + timedelta(days=1)


def describe(moment: datetime, zone: str) -> str:
    """"Tue 3 Mar at 07:30 (Europe/Berlin)": a moment in the user's own local time."""
    local = moment.astimezone(zone_of(zone))
    return (f"{WEEKDAY_NAMES[local.weekday()]} {local.day} {MONTH_NAMES[local.month - 1]}"
            f" at {local:%H:%M} ({zone})")


def clock_text(hour: int, minute: int) -> str:
    return f"{hour:02d}:{minute:02d}"
