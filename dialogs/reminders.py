"""Daily reminders: the /remind conversation and the reminder timers. Pure, like the engine.

The conversation is a small flow in `UserState.flow`:
- {"kind": "remind", "step": "time" | "zone" | "days" | "menu" | "pause", ...}: setting a reminder
  (time -> zone -> days) or, when one exists, the menu: change, pause for N days, turn off.
- {"kind": "due", "on": <local ISO date>}: the reminder message with Start now / Snooze / Skip today.

Delivery uses the runtime's timers: "daily" (stable name; scheduling again replaces it) at the next
occurrence, and "snooze" one hour after a snooze. A daily timer that fires schedules the next one;
`Reminder.last_sent_on` makes sure no local day gets two. After an outage a reminder up to
LATE_LIMIT late is still sent; an older one is skipped without a word.
"""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from dialogs import schedule
from dialogs.content import ui_key
from dialogs.model import CancelTimer, Reminder, ScheduleTimer, TimerFired
from dialogs.text import match_choice, normalise

if TYPE_CHECKING:
    from dialogs.engine import Engine, Turn

DAILY_TIMER = "daily"
SNOOZE_TIMER = "snooze"
SNOOZE_SECONDS = 60 * 60  # scaled by the engine's time_scale (demos), like hold timers
LATE_LIMIT = timedelta(hours=2)  # a reminder later than this (outage) is skipped: it would be noise
TIME_BUTTONS = ((7, 0), (8, 0), (12, 30), (18, 0), (21, 0))
PAUSE_BUTTONS = (1, 3, 7)
MAX_PAUSE_DAYS = 30
ECHO_LIMIT = 40  # characters of bad input quoted back in a hint

K = {name: ui_key(name, *ph) for name, ph in {
    "remind_ask_time": (), "remind_bad_time": ("value",), "remind_ask_zone": (), "remind_bad_zone": ("value",),
    "remind_ask_days": (), "remind_summary": ("time", "days", "zone"), "remind_every_day": (),
    "remind_on_weekdays": (), "remind_set": ("summary", "next"), "remind_status": ("summary", "next"),
    "remind_status_paused": ("summary", "next"), "remind_status_stopped": ("summary",),
    "remind_after_session": (), "remind_ask_pause": ("max",), "remind_bad_pause": ("value", "max"),
    "remind_paused": ("next",), "remind_resumed": ("next",), "remind_off": (), "remind_kept": (),
    "reminder_due": (), "remind_snoozed": (), "remind_skipped": ("next",), "label_zone_keep": ("zone",),
    "label_every_day": (), "label_weekdays": (), "label_change": (), "label_pause": (), "label_resume": (),
    "label_off": (), "label_keep": (), "label_pause_days": ("days",), "label_pause_day": (),
    "label_start_now": (), "label_snooze": (), "label_skip_today": (),
}.items()}


# ---- entry points (called by dialogs.engine) --------------------------------------------------------
def start(engine: "Engine", turn: "Turn") -> None:
    """/remind, or the "Daily reminders" choice: set one up, or show the one there is."""
    if turn.state.session:
        return turn.reshow(turn.t("remind_after_session"))
    reminder = turn.state.profile.reminder
    if reminder is None:
        return _ask_time(turn)
    _menu(turn, reminder)


def choose(engine: "Engine", turn: "Turn", choice: str) -> None:
    """A valid choice on a reminder screen, pressed or typed."""
    flow = turn.state.flow or {}
    if flow.get("kind") == "due":
        return _due_choice(engine, turn, choice, flow)
    step = flow.get("step")
    if step == "time" and re.fullmatch(r"at_\d{4}", choice):
        return _ask_zone(turn, int(choice[3:5]), int(choice[5:7]))
    if step == "zone" and choice.startswith("zone_"):
        zone = turn.state.profile.timezone if choice == "zone_keep" else _button_zone(turn, choice)
        if zone:
            return _ask_days(turn, zone)
    if step == "days" and choice in ("daily", "weekdays"):
        return _set(turn, flow, choice)
    reminder = turn.state.profile.reminder
    if step == "menu" and reminder is not None:
        if choice == "change":
            return _ask_time(turn)
        if choice == "pause":
            return _ask_pause(turn)
        if choice == "resume":
            reminder.enabled, reminder.paused_until = True, None
            return _done(turn, turn.t("remind_resumed", next=_describe(_schedule(turn, reminder), reminder)))
        if choice == "off":
            turn.state.profile.reminder = None
            turn.actions += [CancelTimer(DAILY_TIMER), CancelTimer(SNOOZE_TIMER)]
            return _done(turn, turn.t("remind_off"))
        if choice == "keep":
            return _done(turn, turn.t("remind_kept"))
    if step == "pause" and reminder is not None and re.fullmatch(r"pause_\d+", choice):
        return _pause(turn, reminder, int(choice[6:]))
    # a flow from an older version, or its reminder is gone: close it and say what is possible now
    turn.state.flow = None
    turn.clear_screen()
    engine.hint(turn)


def text(engine: "Engine", turn: "Turn", raw: str) -> None:
    """Typed text while a reminder flow is open (pain, emergencies and commands were handled first)."""
    flow = turn.state.flow or {}
    step = flow.get("step") if flow.get("kind") == "remind" else None
    text = normalise(raw)
    echo = " ".join(raw[:ECHO_LIMIT * 2].split())
    echo = echo if len(echo) <= ECHO_LIMIT else echo[:ECHO_LIMIT] + "…"
    if step == "time" and (parsed := schedule.parse_time(text)):
        return _ask_zone(turn, *parsed)
    if step == "zone" and (zone := schedule.parse_zone(text, turn.content.places.cities)):
        return _ask_days(turn, zone)
    if step == "pause" and (days := _typed_days(text)) is not None and turn.state.profile.reminder:
        if 1 <= days <= MAX_PAUSE_DAYS:
            return _pause(turn, turn.state.profile.reminder, days)
    choice = match_choice(text, turn.state.choices)
    if choice is not None:
        return choose(engine, turn, choice)
    # bad input changes nothing: say precisely what would work, and show the same screen again
    if step == "time":
        return turn.reshow(turn.t("remind_bad_time", value=echo))
    if step == "zone":
        return turn.reshow(turn.t("remind_bad_zone", value=echo))
    if step == "pause":
        return turn.reshow(turn.t("remind_bad_pause", value=echo, max=MAX_PAUSE_DAYS))
    engine.hint(turn)


def timer(engine: "Engine", turn: "Turn", event: TimerFired) -> None:
    """The daily timer or a snooze came due (maybe late, after an outage or a restart)."""
    reminder = turn.state.profile.reminder
    if reminder is None or not reminder.enabled or event.name not in (DAILY_TIMER, SNOOZE_TIMER):
        return  # turned off or paused meanwhile (its timers were cancelled), or not ours: nothing to say
    late = turn.now - event.due > LATE_LIMIT
    day = _payload_day(event) or schedule.local_date(event.due, reminder.timezone)
    if event.name == SNOOZE_TIMER:
        if not late and turn.state.session is None:
            _remind_now(turn, day)
        return
    if not schedule.is_occurrence(reminder, day, event.due):
        # outdated: the settings changed after this timer was claimed; make sure the right one is set
        _schedule(turn, reminder)
        return
    if schedule.allowed_on(reminder, day) and not late:
        reminder.last_sent_on = day.isoformat()
        if turn.state.session is None:  # someone already stretching needs no reminder to
            _remind_now(turn, day)
    _schedule(turn, reminder, after=max(turn.now, event.due))


def undeliverable(engine: "Engine", turn: "Turn") -> None:
    """A message could not be delivered (bot blocked, DMs closed): stop reminding until they're back."""
    profile = turn.state.profile
    profile.unreachable = True
    if profile.reminder is not None:
        profile.reminder.enabled = False  # the settings stay: /remind offers to turn it back on
        turn.actions += [CancelTimer(DAILY_TIMER), CancelTimer(SNOOZE_TIMER)]
    if turn.state.flow and turn.state.flow.get("kind") == "due":  # that message never arrived
        turn.state.flow = None
        turn.clear_screen()


# ---- setting a reminder ----------------------------------------------------------------------------
def _ask_time(turn: "Turn") -> None:
    turn.state.flow = {"kind": "remind", "step": "time"}
    turn.screen(turn.t("remind_ask_time"),
                [(f"at_{h:02d}{m:02d}", schedule.clock_text(h, m)) for h, m in TIME_BUTTONS])


def _ask_zone(turn: "Turn", hour: int, minute: int) -> None:
    turn.state.flow = {"kind": "remind", "step": "zone", "hour": hour, "minute": minute}
    known = turn.state.profile.timezone
    choices = [("zone_keep", turn.t("label_zone_keep", zone=known))] if known else []
    choices += [(f"zone_{i}", button.label) for i, button in enumerate(turn.content.places.buttons)
                if button.zone != known]
    turn.screen(turn.t("remind_ask_zone"), choices)


def _button_zone(turn: "Turn", choice: str) -> str | None:
    buttons = turn.content.places.buttons
    index = choice.removeprefix("zone_")
    return buttons[int(index)].zone if index.isdigit() and int(index) < len(buttons) else None


def _ask_days(turn: "Turn", zone: str) -> None:
    turn.state.flow = {**turn.state.flow, "step": "days", "zone": zone}
    turn.screen(turn.t("remind_ask_days"),
                [("daily", turn.t("label_every_day")), ("weekdays", turn.t("label_weekdays"))])


def _set(turn: "Turn", flow: dict, days: str) -> None:
    previous = turn.state.profile.reminder
    reminder = Reminder(hour=flow["hour"], minute=flow["minute"], timezone=flow["zone"], days=days,
                        # a change never brings a second reminder on a day that already had one
                        last_sent_on=previous.last_sent_on if previous else None)
    turn.state.profile.reminder = reminder
    turn.state.profile.timezone = reminder.timezone
    turn.actions.append(CancelTimer(SNOOZE_TIMER))
    due = _schedule(turn, reminder)
    _done(turn, turn.t("remind_set", summary=_summary(turn, reminder), next=_describe(due, reminder)))


# ---- the menu for an existing reminder --------------------------------------------------------------
def _menu(turn: "Turn", reminder: Reminder) -> None:
    turn.state.flow = {"kind": "remind", "step": "menu"}
    summary = _summary(turn, reminder)
    labels = {name: turn.t(f"label_{name}") for name in ("change", "pause", "resume", "off", "keep")}
    if not reminder.enabled:
        text, choices = turn.t("remind_status_stopped", summary=summary), ["resume", "change", "off"]
    else:
        _, due = schedule.next_occurrence(reminder, turn.now)
        paused = reminder.paused_until and date.fromisoformat(reminder.paused_until) > _today(turn, reminder)
        key, choices = (("remind_status_paused", ["resume", "change", "off"]) if paused
                        else ("remind_status", ["change", "pause", "off", "keep"]))
        text = turn.t(key, summary=summary, next=_describe(due, reminder))
    turn.screen(text, [(name, labels[name]) for name in choices])


def _ask_pause(turn: "Turn") -> None:
    turn.state.flow = {"kind": "remind", "step": "pause"}
    labels = {days: turn.t("label_pause_day") if days == 1 else turn.t("label_pause_days", days=days)
              for days in PAUSE_BUTTONS}
    turn.screen(turn.t("remind_ask_pause", max=MAX_PAUSE_DAYS),
                [(f"pause_{days}", label) for days, label in labels.items()])


def _typed_days(text: str) -> int | None:
    match = re.fullmatch(r"(?:for\s+)?(\d{1,4})\s*(?:d|days?)?\.?", text.strip())
    return int(match.group(1)) if match else None


def _pause(turn: "Turn", reminder: Reminder, days: int) -> None:
    """No reminder on the next `days` days (counting today if today's is still to come)."""
    resume = schedule.pause_start(reminder, turn.now) + timedelta(days=days)
    reminder.enabled, reminder.paused_until = True, resume.isoformat()
    turn.actions.append(CancelTimer(SNOOZE_TIMER))
    due = _schedule(turn, reminder)
    _done(turn, turn.t("remind_paused", next=_describe(due, reminder)))


# ---- the reminder itself -----------------------------------------------------------------------------
def _remind_now(turn: "Turn", day: date) -> None:
    turn.state.flow = {"kind": "due", "on": day.isoformat()}
    turn.screen(turn.t("reminder_due"), [("start_now", turn.t("label_start_now")),
                                         ("snooze", turn.t("label_snooze")),
                                         ("skip_today", turn.t("label_skip_today"))], kind="reminder")


def _due_choice(engine: "Engine", turn: "Turn", choice: str, flow: dict) -> None:
    if choice == "start_now":
        turn.actions.append(CancelTimer(SNOOZE_TIMER))
        return engine.begin(turn)  # begin() closes the flow; a fresh triage gets the quick check
    reminder = turn.state.profile.reminder
    if choice == "snooze":
        due = turn.now + engine.scaled(SNOOZE_SECONDS)
        turn.actions.append(ScheduleTimer(SNOOZE_TIMER, due, {"on": flow.get("on")}))
        return _done(turn, turn.t("remind_snoozed"))
    turn.actions.append(CancelTimer(SNOOZE_TIMER))  # "skip today"
    if reminder is None or not reminder.enabled:
        return _done(turn, turn.t("goodbye"))
    _, due = schedule.next_occurrence(reminder, turn.now)
    _done(turn, turn.t("remind_skipped", next=_describe(due, reminder)))


# ---- helpers ---------------------------------------------------------------------------------------
def _schedule(turn: "Turn", reminder: Reminder, after: datetime | None = None) -> datetime:
    """(Re)schedule the daily timer at the next occurrence; returns when that is."""
    day, due = schedule.next_occurrence(reminder, after or turn.now)
    turn.actions.append(ScheduleTimer(DAILY_TIMER, due, {"on": day.isoformat()}))
    return due


def _done(turn: "Turn", text: str) -> None:
    turn.state.flow = None
    turn.clear_screen()
    turn.say(text)


def _summary(turn: "Turn", reminder: Reminder) -> str:
    days = turn.t("remind_every_day" if reminder.days == "daily" else "remind_on_weekdays")
    return turn.t("remind_summary", time=schedule.clock_text(reminder.hour, reminder.minute), days=days,
                  zone=reminder.timezone)


def _describe(due: datetime, reminder: Reminder) -> str:
    return schedule.describe(due, reminder.timezone)


def _today(turn: "Turn", reminder: Reminder) -> date:
    return schedule.local_date(turn.now, reminder.timezone)


def _payload_day(event: TimerFired) -> date | None:
    try:
        return date.fromisoformat(event.payload["on"])
    except (KeyError, TypeError, ValueError):
        return None
