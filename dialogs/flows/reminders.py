"""Daily reminders: the /remind conversation and the reminder timers. Pure, like the engine.

Setting one up is a side flow (`ReminderSetup`: time -> zone -> days); with a reminder set, /remind shows
a menu: change, pause for N days, turn off. When it comes due, `ReminderDue` holds the day it is for,
with Start now / Snooze / Skip today. Delivery uses the runtime's timers: "daily" (stable name, so
scheduling again replaces it) at the next occurrence, and "snooze" one hour after a snooze. A daily timer
that fires schedules the next one; `Reminder.last_sent_on` makes sure no local day gets two. After an
outage a reminder up to LATE_LIMIT late is still sent; an older one is skipped without a word.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from dialogs import schedule
from dialogs.events import Line
from dialogs.flows.timers import DAILY_TIMER, SNOOZE_TIMER
from dialogs.schedule import Reminder
from dialogs.state import Param, ReminderDue, ReminderSetup, Screen
from dialogs.turn import Handoff, Next, Turn, line
from dialogs.understanding import Answer, Choose, Days, TimeOfDay, Zone, ZoneAmbiguous

SNOOZE = timedelta(hours=1)  # a duration: the runtime may speed it up for demos, like a hold
LATE_LIMIT = timedelta(hours=2)  # a reminder later than this (outage) is skipped: it would be noise
MAX_PAUSE_DAYS = 30
ECHO_LIMIT = 40  # characters of bad input quoted back in a hint


# ---- entry points (called by dialogs.engine) --------------------------------------------------------
def start(turn: Turn) -> None:
    """/remind, or the "Daily reminders" choice: set one up, or show the one there is."""
    if turn.state.session is not None:
        turn.reshow(line("remind_after_session"))
        return
    reminder = turn.state.profile.reminder
    if reminder is None:
        _ask_time(turn)
    else:
        _menu(turn, reminder)


def answer(turn: Turn, reading: Answer) -> Next | None:
    """An answer on a reminder screen, pressed or typed."""
    side = turn.state.side
    if isinstance(side, ReminderDue) and isinstance(reading, Choose):
        return _due_choice(turn, reading.choice_id, side)
    if not isinstance(side, ReminderSetup):
        return _close(turn)
    reminder = turn.state.profile.reminder
    choice = reading.choice_id if isinstance(reading, Choose) else ""
    if side.step == "time":
        if isinstance(reading, TimeOfDay):
            return _ask_zone(turn, reading.hour, reading.minute)
        if match := re.fullmatch(r"at_(\d\d)(\d\d)", choice):
            return _ask_zone(turn, int(match[1]), int(match[2]))
    if side.step == "zone":
        if isinstance(reading, Zone):
            return _ask_days(turn, side, reading.name)
        if isinstance(reading, ZoneAmbiguous):
            turn.reshow(line("remind_ambiguous_zone", value=_echo(reading.text), options=", ".join(reading.candidates)))
            return None
        zone = turn.state.profile.timezone if choice == "zone_keep" else _button_zone(turn, choice)
        if zone:
            return _ask_days(turn, side, zone)
    if side.step == "days" and choice in ("daily", "weekdays"):
        return _set(turn, side, choice)
    if side.step == "menu" and reminder is not None and choice:
        return _menu_choice(turn, reminder, choice)
    if side.step == "pause" and reminder is not None:
        days = reading.count if isinstance(reading, Days) else _pause_button(choice)
        if days is not None and 1 <= days <= MAX_PAUSE_DAYS:
            return _pause(turn, reminder, days)
    return Next(Handoff.HINT)


def bad_input(turn: Turn, raw: str) -> bool:
    """Typed text that is not a time, zone or number where one was asked: say precisely what would work."""
    side = turn.state.side
    if not isinstance(side, ReminderSetup) or side.step not in ("time", "zone", "pause"):
        return False
    key = {"time": "remind_bad_time", "zone": "remind_bad_zone", "pause": "remind_bad_pause"}[side.step]
    turn.reshow(line(key, value=_echo(raw), max=MAX_PAUSE_DAYS))
    return True


def timer(turn: Turn, name: str, due: datetime, payload_day: Param) -> None:
    """The daily timer or a snooze came due (maybe late, after an outage or a restart)."""
    reminder = turn.state.profile.reminder
    if reminder is None or not reminder.enabled or name not in (DAILY_TIMER, SNOOZE_TIMER):
        return  # turned off or paused meanwhile (its timers were cancelled), or not ours: nothing to say
    late = turn.now - due > LATE_LIMIT
    day = _day(payload_day) or schedule.local_date(due, reminder.timezone)
    if name == SNOOZE_TIMER:
        if not late and turn.state.session is None:
            _remind_now(turn, day)
        return
    if not schedule.is_occurrence(reminder, day, due):
        # outdated: the settings changed after this timer was claimed; make sure the right one is set
        _schedule(turn, reminder)
        return
    if schedule.allowed_on(reminder, day) and not late:
        reminder.last_sent_on = day.isoformat()
        if turn.state.session is None:  # someone already stretching needs no reminder to
            _remind_now(turn, day)
    _schedule(turn, reminder, after=max(turn.now, due))


def undeliverable(turn: Turn) -> None:
    """A message could not be delivered (bot blocked, DMs closed): stop reminding until they're back."""
    profile = turn.state.profile
    profile.unreachable = True
    if profile.reminder is not None:
        profile.reminder.enabled = False  # the settings stay: /remind offers to turn it back on
        turn.cancel(DAILY_TIMER, SNOOZE_TIMER)
    if isinstance(turn.state.side, ReminderDue):  # that message never arrived
        turn.state.side = None
        turn.clear_screen()


# ---- setting a reminder ----------------------------------------------------------------------------
def _ask_time(turn: Turn) -> Next | None:
    turn.state.side = ReminderSetup(step="time")
    turn.show(Screen(id="remind.time"))
    return None


def _ask_zone(turn: Turn, hour: int, minute: int) -> Next | None:
    turn.state.side = ReminderSetup(step="zone", hour=hour, minute=minute)
    turn.show(Screen(id="remind.zone", params={"known": turn.state.profile.timezone or ""}))
    return None


def _button_zone(turn: Turn, choice: str) -> str | None:
    buttons = turn.content.places.buttons
    index = choice.removeprefix("zone_")
    return buttons[int(index)].zone if index.isdigit() and int(index) < len(buttons) else None


def _ask_days(turn: Turn, side: ReminderSetup, zone: str) -> Next | None:
    turn.state.side = side.model_copy(update={"step": "days", "zone": zone})
    turn.show(Screen(id="remind.days"))
    return None


def _set(turn: Turn, side: ReminderSetup, days: str) -> Next | None:
    previous = turn.state.profile.reminder
    reminder = Reminder(hour=side.hour, minute=side.minute, timezone=side.zone or "UTC",
                        days="weekdays" if days == "weekdays" else "daily",
                        # a change never brings a second reminder on a day that already had one
                        last_sent_on=previous.last_sent_on if previous else None)
    turn.state.profile.reminder = reminder
    turn.state.profile.timezone = reminder.timezone
    turn.cancel(SNOOZE_TIMER)
    due = _schedule(turn, reminder)
    return _done(turn, line("remind_set", **_summary(reminder), next_at=due.isoformat()))


# ---- the menu for an existing reminder --------------------------------------------------------------
def _menu(turn: Turn, reminder: Reminder) -> None:
    turn.state.side = ReminderSetup(step="menu")
    params: dict[str, Param] = {**_summary(reminder), "weekly": turn.state.profile.weekly is not None}
    if not reminder.enabled:
        params["status"] = "stopped"
    else:
        _, due = schedule.next_occurrence(reminder, turn.now)
        paused = reminder.paused_until and date.fromisoformat(reminder.paused_until) > _today(turn, reminder)
        params.update(status="paused" if paused else "active", next_at=due.isoformat())
    turn.show(Screen(id="remind.menu", params=params))


def _menu_choice(turn: Turn, reminder: Reminder, choice: str) -> Next | None:
    if choice == "change":
        return _ask_time(turn)
    if choice == "pause":
        turn.state.side = ReminderSetup(step="pause")
        turn.show(Screen(id="remind.pause", params={"max": MAX_PAUSE_DAYS}))
        return None
    if choice == "resume":
        reminder.enabled, reminder.paused_until = True, None
        due = _schedule(turn, reminder)
        return _done(turn, line("remind_resumed", next_at=due.isoformat(), zone=reminder.timezone))
    if choice == "off":
        turn.state.profile.reminder = None
        turn.cancel(DAILY_TIMER, SNOOZE_TIMER)
        return _done(turn, line("remind_off"))
    if choice == "keep":
        return _done(turn, line("remind_kept"))
    if choice in ("weekly_on", "weekly_off"):
        turn.state.side = None
        return Next(Handoff.WEEKLY_ON if choice == "weekly_on" else Handoff.WEEKLY_OFF)
    return Next(Handoff.HINT)


def _pause_button(choice: str) -> int | None:
    match = re.fullmatch(r"pause_(\d+)", choice)
    return int(match[1]) if match else None


def _pause(turn: Turn, reminder: Reminder, days: int) -> Next | None:
    """No reminder on the next `days` days (counting today if today's is still to come)."""
    resume = schedule.pause_start(reminder, turn.now) + timedelta(days=days)
    reminder.enabled, reminder.paused_until = True, resume.isoformat()
    turn.cancel(SNOOZE_TIMER)
    due = _schedule(turn, reminder)
    return _done(turn, line("remind_paused", next_at=due.isoformat(), zone=reminder.timezone))


# ---- the reminder itself -----------------------------------------------------------------------------
def _remind_now(turn: Turn, day: date) -> None:
    turn.state.side = ReminderDue(on=day.isoformat())
    turn.show(Screen(id="remind.due"), kind="reminder")


def _due_choice(turn: Turn, choice: str, side: ReminderDue) -> Next | None:
    if choice == "start_now":
        turn.cancel(SNOOZE_TIMER)
        turn.state.side = None
        return Next(Handoff.BEGIN)
    reminder = turn.state.profile.reminder
    if choice == "snooze":
        turn.schedule(SNOOZE_TIMER, turn.now + SNOOZE, {"on": side.on}, scalable=True)
        return _done(turn, line("remind_snoozed"))
    if choice != "skip_today":
        return Next(Handoff.HINT)
    turn.cancel(SNOOZE_TIMER)
    if reminder is None or not reminder.enabled:
        return _done(turn, line("goodbye"))
    _, due = schedule.next_occurrence(reminder, turn.now)
    return _done(turn, line("remind_skipped", next_at=due.isoformat(), zone=reminder.timezone))


# ---- helpers ---------------------------------------------------------------------------------------
def _schedule(turn: Turn, reminder: Reminder, after: datetime | None = None) -> datetime:
    """(Re)schedule the daily timer at the next occurrence; returns when that is."""
    day, due = schedule.next_occurrence(reminder, after or turn.now)
    turn.schedule(DAILY_TIMER, due, {"on": day.isoformat()})
    return due


def _done(turn: Turn, text: Line) -> Next | None:
    turn.state.side = None
    turn.clear_screen()
    turn.say(text)
    return None


def _close(turn: Turn) -> Next:
    """A reminder screen whose flow is gone (an old state): close it and say what is possible now."""
    turn.state.side = None
    turn.clear_screen()
    return Next(Handoff.HINT)


def _summary(reminder: Reminder) -> dict[str, Param]:
    return {"hour": reminder.hour, "minute": reminder.minute, "days": reminder.days, "zone": reminder.timezone}


def _echo(raw: str) -> str:
    echo = " ".join(raw[: ECHO_LIMIT * 2].split())
    return echo if len(echo) <= ECHO_LIMIT else echo[:ECHO_LIMIT] + "…"


def _today(turn: Turn, reminder: Reminder) -> date:
    return schedule.local_date(turn.now, reminder.timezone)


def _day(value: Param) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
