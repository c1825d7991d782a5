"""/progress, the weekly summary (opt-in: set up, turned off, sent on its day) and /pictures.

The summary goes out through a durable timer like a daily reminder: on the chosen weekday in the user's
own zone, exactly once a week across daylight-saving changes (dialogs.weekly). What it shows is built by
the runtime from the stored history (a ShowProgress action): the engine only decides when.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from dialogs import weekly
from dialogs.events import CancelTimer, ShowProgress
from dialogs.state import Param, Screen, WeeklySetup
from dialogs.turn import Handoff, Next, Turn, line
from dialogs.understanding import Answer, Choose, Zone
from dialogs.weekly import WEEKLY_TIMER, WeeklySummary

DEFAULT_TIME = (18, 0)  # the weekly summary's time when no daily reminder gives one
LATE_LIMIT = timedelta(hours=12)  # a summary later than this (an outage) waits for next week


def show(turn: Turn) -> None:
    turn.actions.append(ShowProgress())


def start_weekly(turn: Turn) -> None:
    turn.state.side = WeeklySetup(step="day")
    turn.show(Screen(id="weekly.day"))


def stop_weekly(turn: Turn) -> None:
    turn.state.profile.weekly = None
    turn.actions.append(CancelTimer(WEEKLY_TIMER))
    turn.state.side = None
    turn.clear_screen()
    turn.say(line("weekly_off"))


def undeliverable(turn: Turn) -> None:
    """Messages cannot reach the user (bot blocked, DMs closed): no weekly summary until they are back,
    or a blocked bot would knock every week for ever. The settings stay."""
    if turn.state.profile.weekly is not None:
        turn.actions.append(CancelTimer(WEEKLY_TIMER))


def reachable_again(turn: Turn) -> None:
    """The user wrote again after being unreachable: the weekly summary goes on from its next day."""
    settings = turn.state.profile.weekly
    if settings is not None:
        _schedule(turn, settings)


def answer(turn: Turn, reading: Answer) -> Next | None:
    side = turn.state.side
    if not isinstance(side, WeeklySetup):
        turn.clear_screen()
        return Next(Handoff.HINT)
    if side.step == "day" and isinstance(reading, Choose) and reading.choice_id.startswith("day_"):
        weekday = int(reading.choice_id.removeprefix("day_"))
        zone = turn.state.profile.timezone
        if zone:
            _set(turn, weekday, zone)
            return None
        turn.state.side = WeeklySetup(step="zone", weekday=weekday)
        turn.show(Screen(id="weekly.zone", params={"known": ""}))
        return None
    if side.step == "zone":
        zone = reading.name if isinstance(reading, Zone) else _button_zone(turn, reading)
        if zone:
            _set(turn, side.weekday, zone)
            return None
    return Next(Handoff.HINT)


def _button_zone(turn: Turn, reading: Answer) -> str | None:
    if not isinstance(reading, Choose):
        return None
    index = reading.choice_id.removeprefix("zone_")
    buttons = turn.content.places.buttons
    return buttons[int(index)].zone if index.isdigit() and int(index) < len(buttons) else None


def _set(turn: Turn, weekday: int, zone: str) -> None:
    profile = turn.state.profile
    reminder = profile.reminder
    hour, minute = (reminder.hour, reminder.minute) if reminder else DEFAULT_TIME
    previous = profile.weekly
    settings = WeeklySummary(weekday=weekday, hour=hour, minute=minute, timezone=zone,
                             last_sent_on=previous.last_sent_on if previous else None)
    profile.weekly, profile.timezone = settings, zone
    due = _schedule(turn, settings)
    turn.state.side = None
    turn.clear_screen()
    params: dict[str, Param] = {"weekday": weekday, "hour": hour, "minute": minute, "zone": zone,
                                "next_at": due.isoformat()}
    turn.say(line("weekly_set", **params))


def _schedule(turn: Turn, settings: WeeklySummary, after: datetime | None = None) -> datetime:
    day, due = weekly.next_weekly(settings, after or turn.now)
    turn.schedule(WEEKLY_TIMER, due, {"on": day.isoformat()})
    return due


def timer(turn: Turn, due: datetime, payload_day: Param) -> None:
    """The weekly timer came due: send the summary once for its week, and schedule the next one."""
    settings = turn.state.profile.weekly
    if settings is None:
        return  # turned off meanwhile (its timer was cancelled)
    try:
        day = date.fromisoformat(str(payload_day))
    except ValueError:
        day = due.date()
    if weekly.should_send(settings, day, due) and turn.now - due <= LATE_LIMIT:
        settings = weekly.sent(settings, day)
        turn.state.profile.weekly = settings
        turn.actions.append(ShowProgress(weekly=True))
    _schedule(turn, settings, after=max(turn.now, due))


def pictures(turn: Turn, argument: str) -> None:
    """/pictures on|off (no argument: switch): a picture with each stretch, or text only."""
    profile = turn.state.profile
    wanted = {"on": True, "off": False}.get(argument.strip().lower(), not profile.pictures)
    profile.pictures = wanted
    turn.reshow(line("pictures_on" if wanted else "pictures_off"))
