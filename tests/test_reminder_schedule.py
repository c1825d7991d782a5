"""When reminders fire: the pure time maths across DST, and delivery through the REAL runtime and SQLite
storage on a fake clock (10,000 users over three days with a DST change; restarts after an outage)."""
from __future__ import annotations

import random
import time as wallclock
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from functools import cache

import pytest

from bot.runtime import FakeClock, Runtime, Undeliverable
from bot.storage import TimerRow, UserKey, open_storage
from dialogs.engine import Engine
from dialogs.model import Button, Command, ForgetUser, Reminder, Say, ScheduleTimer, Text, UserState
from dialogs.reminders import DAILY_TIMER
from dialogs.schedule import (
    describe, is_occurrence, next_occurrence, occurrence, parse_time, parse_zone, pause_start, zone_of,
)

LONDON, NEW_YORK = "Europe/London", "America/New_York"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def reminder(hour: int, minute: int, zone: str, **more) -> Reminder:
    return Reminder(hour=hour, minute=minute, timezone=zone, **more)


def local(moment: datetime, zone: str) -> tuple[date, time]:
    moment = moment.astimezone(zone_of(zone))
    return moment.date(), moment.time().replace(tzinfo=None)


# ---- pure: occurrences across DST ------------------------------------------------------------------
@pytest.mark.parametrize("zone, day, wall, expected_utc", [
    # London 2026-03-29: 01:00 GMT jumps to 02:00 BST
    (LONDON, date(2026, 3, 28), (7, 30), utc(2026, 3, 28, 7, 30)),
    (LONDON, date(2026, 3, 29), (7, 30), utc(2026, 3, 29, 6, 30)),
    (LONDON, date(2026, 3, 29), (0, 59), utc(2026, 3, 29, 0, 59)),
    (LONDON, date(2026, 3, 29), (1, 0), utc(2026, 3, 29, 1, 0)),  # skipped: 02:00 BST, the first valid minute
    (LONDON, date(2026, 3, 29), (1, 30), utc(2026, 3, 29, 1, 0)),
    (LONDON, date(2026, 3, 29), (2, 0), utc(2026, 3, 29, 1, 0)),
    (LONDON, date(2026, 3, 29), (2, 1), utc(2026, 3, 29, 1, 1)),
    # London 2026-10-25: 02:00 BST falls back to 01:00 GMT; 01:xx happens twice: the first one counts
    (LONDON, date(2026, 10, 25), (1, 30), utc(2026, 10, 25, 0, 30)),
    (LONDON, date(2026, 10, 25), (2, 30), utc(2026, 10, 25, 2, 30)),
    (LONDON, date(2026, 10, 26), (7, 30), utc(2026, 10, 26, 7, 30)),
    # New York 2026-03-08: 02:00 EST jumps to 03:00 EDT
    (NEW_YORK, date(2026, 3, 8), (2, 30), utc(2026, 3, 8, 7, 0)),  # 03:00 EDT
    (NEW_YORK, date(2026, 3, 8), (1, 59), utc(2026, 3, 8, 6, 59)),
    (NEW_YORK, date(2026, 3, 8), (7, 0), utc(2026, 3, 8, 11, 0)),
    # New York 2026-11-01: 02:00 EDT falls back to 01:00 EST
    (NEW_YORK, date(2026, 11, 1), (1, 30), utc(2026, 11, 1, 5, 30)),  # 01:30 EDT, the first of the two
    (NEW_YORK, date(2026, 11, 1), (7, 0), utc(2026, 11, 1, 12, 0)),
    # fixed offsets never shift
    ("UTC+05:30", date(2026, 3, 29), (7, 0), utc(2026, 3, 29, 1, 30)),
    ("UTC-05:30", date(2026, 3, 29), (7, 0), utc(2026, 3, 29, 12, 30)),
])
def test_occurrence_keeps_the_wall_clock_time(zone, day, wall, expected_utc):
    assert occurrence(*wall, zone, day) == expected_utc


def test_a_daily_reminder_stays_at_its_wall_clock_time_through_spring_forward():
    r = reminder(7, 30, LONDON)
    after, seen = utc(2026, 3, 27, 12), []
    for _ in range(4):
        day, due = next_occurrence(r, after)
        seen.append((day, due, local(due, LONDON)[1]))
        r = r.model_copy(update={"last_sent_on": day.isoformat()})
        after = due
    assert [due for _, due, _ in seen] == [utc(2026, 3, 28, 7, 30), utc(2026, 3, 29, 6, 30),
                                          utc(2026, 3, 30, 6, 30), utc(2026, 3, 31, 6, 30)]
    assert {wall for _, _, wall in seen} == {time(7, 30)}


def test_a_skipped_local_time_fires_once_at_the_first_valid_minute_after_it():
    r = reminder(1, 30, LONDON)
    day, due = next_occurrence(r, utc(2026, 3, 28, 12))
    assert (day, due) == (date(2026, 3, 29), utc(2026, 3, 29, 1, 0))
    assert local(due, LONDON) == (date(2026, 3, 29), time(2, 0))
    assert next_occurrence(r, due) == (date(2026, 3, 30), utc(2026, 3, 30, 0, 30))  # 01:30 BST again


@pytest.mark.parametrize("zone, day, first", [
    (LONDON, date(2026, 10, 25), utc(2026, 10, 25, 0, 30)),
    (NEW_YORK, date(2026, 11, 1), utc(2026, 11, 1, 5, 30)),
])
def test_a_repeated_hour_fires_once(zone, day, first):
    r = reminder(1, 30, zone)
    assert next_occurrence(r, first - timedelta(hours=12)) == (day, first)
    # an hour later the same wall-clock time comes round again; it is not a new occurrence
    second = first + timedelta(hours=1)
    assert local(second, zone) == local(first, zone)
    next_day, next_due = next_occurrence(r, first)
    assert next_day == day + timedelta(days=1) and next_due > second
    assert next_occurrence(r, second)[0] == day + timedelta(days=1)
    assert not is_occurrence(r, day, second)


def test_weekdays_skip_the_weekend():
    r = reminder(8, 0, NEW_YORK, days="weekdays")
    friday_evening = utc(2026, 3, 6, 23)  # Fri 18:00 EST
    assert next_occurrence(r, friday_evening) == (date(2026, 3, 9), utc(2026, 3, 9, 12, 0))  # Mon 08:00 EDT


def test_a_pause_skips_days_and_a_sent_day_never_repeats():
    after = utc(2026, 3, 2, 9)  # Mon 10:00 Berlin
    paused = reminder(7, 30, "Europe/Berlin", paused_until="2026-03-05")
    assert next_occurrence(paused, after)[0] == date(2026, 3, 5)
    evening = reminder(18, 0, "Europe/Berlin")
    assert next_occurrence(evening, after)[0] == date(2026, 3, 2)
    sent_today = evening.model_copy(update={"last_sent_on": "2026-03-02"})
    assert next_occurrence(sent_today, after)[0] == date(2026, 3, 3)
    assert pause_start(evening, after) == date(2026, 3, 2)  # today's is still to come: it is paused too
    assert pause_start(reminder(7, 30, "Europe/Berlin"), after) == date(2026, 3, 3)


@pytest.mark.parametrize("typed, parsed", [
    ("7:30", (7, 30)), ("19:00", (19, 0)), ("7pm", (19, 0)), ("7.30 am", (7, 30)), ("12am", (0, 0)),
    ("12pm", (12, 0)), ("0730", (7, 30)), ("7", (7, 0)), ("19h30", (19, 30)),
    ("25:00", None), ("24:00", None), ("7:60", None), ("13pm", None), ("0am", None), ("noonish", None), ("", None),
])
def test_parse_time(typed, parsed):
    assert parse_time(typed) == parsed


@pytest.mark.parametrize("typed, zone", [
    ("berlin", "Europe/Berlin"), ("new  york", NEW_YORK), ("europe/london", LONDON), ("Asia/Tokyo", "Asia/Tokyo"),
    ("america/argentina/buenos aires", "America/Argentina/Buenos_Aires"), ("UTC", "UTC"), ("gmt", "UTC"),
    ("utc+2", "UTC+02:00"), ("UTC-5:30", "UTC-05:30"), ("GMT+1", "UTC+01:00"), ("+05:45", "UTC+05:45"),
    ("utc+14", "UTC+14:00"), ("utc-12", "UTC-12:00"), ("utc+0", "UTC"),
    ("mars/olympus", None), ("utc+15", None), ("utc-13", None), ("utc+2:10", None), ("5", None), ("", None),
])
def test_parse_zone(typed, zone):
    assert parse_zone(typed, {"berlin": "Europe/Berlin", "new york": NEW_YORK}) == zone


def test_zone_of_and_describe():
    assert zone_of("UTC+05:30").utcoffset(None) == timedelta(hours=5, minutes=30)
    assert zone_of("UTC-03:00").utcoffset(None) == timedelta(hours=-3)
    with pytest.raises(ValueError):
        zone_of("Mars/Olympus")
    assert describe(utc(2026, 3, 3, 6, 30), "Europe/Berlin") == "Tue 3 Mar at 07:30 (Europe/Berlin)"


# ---- through the real runtime and storage ----------------------------------------------------------
SCALE_ZONES = [LONDON, NEW_YORK, "Europe/Berlin", "America/Los_Angeles", "Asia/Kolkata", "Asia/Kathmandu",
               "Australia/Sydney", "Pacific/Auckland", "America/St_Johns", "Asia/Tokyo", "UTC", "UTC-03:30"]
# wall-clock times inside the DST hours (00:xx-03:xx) as well as ordinary ones
SCALE_TIMES = [(0, 0), (0, 30), (1, 0), (1, 15), (1, 30), (1, 59), (2, 0), (2, 30), (2, 59), (3, 0), (6, 45),
               (7, 0), (7, 30), (12, 30), (18, 0), (21, 0), (23, 59)]


@cache
def first_reading(zone: str, day: date, hour: int, minute: int) -> datetime:
    """The first instant whose local clock reads day hour:minute or later: found by scanning, independently
    of dialogs.schedule (a skipped time gives the first minute after it; a repeated one its first time)."""
    tz, target = zone_of(zone), datetime.combine(day, time(hour, minute))
    moment = (target - timedelta(hours=16)).replace(tzinfo=UTC)
    while moment.astimezone(tz).replace(tzinfo=None) < target:
        moment += timedelta(minutes=15)  # every offset is a multiple of 15 minutes
    moment -= timedelta(minutes=15)
    while moment.astimezone(tz).replace(tzinfo=None) < target:
        moment += timedelta(minutes=1)
    return moment


class Collector:
    """The deliver hook: what reached whom, and when in their own local time."""

    def __init__(self, clock: FakeClock, zones: dict[str, str]) -> None:
        self.clock, self.zones = clock, zones
        self.got: list[tuple[str, date, time]] = []
        self.refuse: set[str] = set()

    async def __call__(self, key: UserKey, address: dict, actions: list) -> None:
        if key.user_id in self.refuse:
            raise Undeliverable("Forbidden: bot was blocked by the user")
        assert [a.kind for a in actions if isinstance(a, Say)] == ["reminder"], actions
        assert address == {"chat_id": int(key.user_id)}
        self.got.append((key.user_id, *local(self.clock.now(), self.zones[key.user_id])))


async def seed(store, engine: Engine, start: datetime, count: int, rng: random.Random) -> dict[str, Reminder]:
    """`count` users whose reminder was just set: the engine's last setup step per user, written by storage.save."""
    reminders = {}
    for index in range(count):
        zone = SCALE_ZONES[index % len(SCALE_ZONES)]
        hour, minute = rng.choice(SCALE_TIMES)
        days = "weekdays" if index % 5 == 0 else "daily"
        state = UserState(screen=1, choices=[("daily", "Every day"), ("weekdays", "Weekdays")],
                          flow={"kind": "remind", "step": "days", "hour": hour, "minute": minute, "zone": zone})
        step = engine.handle(state, Button(days, 1), start)
        key = UserKey("telegram", str(index))
        schedule = [TimerRow(key, a.name, a.due, a.payload) for a in step.actions if isinstance(a, ScheduleTimer)]
        assert await store.save(key, expected_version=0, state_json=step.state.to_json(), address={"chat_id": index},
                                profile={"timezone": zone}, schedule=schedule, cancel=[], history=[])
        reminders[key.user_id] = step.state.profile.reminder
    return reminders


async def run_clock(runtime: Runtime, store, clock: FakeClock, end: datetime) -> int:
    """Advance the fake clock from one due time to the next (as the scheduler sleeps), firing at each."""
    rounds = 0
    while (due := await store.next_due()) is not None and due <= end:
        clock.advance(max(0.0, (due - clock.now()).total_seconds()))
        await runtime.fire_due()
        rounds += 1
    clock.advance(max(0.0, (end - clock.now()).total_seconds()))
    return rounds


@pytest.mark.parametrize("start, users", [
    pytest.param(utc(2026, 3, 27, 18), 10_000, id="london-berlin-spring-forward-10000-users"),
    pytest.param(utc(2026, 10, 31, 12), 2_000, id="new-york-fall-back-2000-users"),
])
async def test_every_reminder_fires_once_a_day_at_its_local_time_across_dst(tmp_path, engine, start, users):
    rng = random.Random(5)
    store = await open_storage(f"sqlite:///{tmp_path / 'scale.db'}")
    clock = FakeClock(start)
    began = wallclock.perf_counter()
    reminders = await seed(store, engine, start, users, rng)
    seeded = wallclock.perf_counter()
    inbox = Collector(clock, {user: r.timezone for user, r in reminders.items()})
    runtime = Runtime(engine, store, clock=clock, deliver=inbox, owner="scale")
    end = start + timedelta(days=3)
    await run_clock(runtime, store, clock, end)
    fired = wallclock.perf_counter()

    expected = []
    for user, r in reminders.items():
        first_day = local(start, r.timezone)[0] - timedelta(days=1)
        for offset in range(6):
            day = first_day + timedelta(days=offset)
            if r.days == "weekdays" and day.weekday() >= 5:
                continue
            due = first_reading(r.timezone, day, r.hour, r.minute)
            if start < due <= end:
                expected.append((user, *local(due, r.timezone)))
    assert Counter((user, day) for user, day, _ in inbox.got).most_common(1)[0][1] == 1  # never two a day
    assert sorted(inbox.got) == sorted(expected)
    # the DST cases really happened: a skipped or repeated local time among the deliveries
    shifted = [(u, d, t) for u, d, t in inbox.got if t != time(reminders[u].hour, reminders[u].minute)]
    if start.month == 3:
        assert shifted and all(reminders[u].timezone in (LONDON, "Europe/Berlin") and d == date(2026, 3, 29)
                               for u, d, _ in shifted)
    else:
        assert not shifted and any(reminders[u].timezone == NEW_YORK and reminders[u].hour == 1 and d == date(2026, 11, 1)
                                   for u, d, _ in inbox.got)
    assert (await store.next_due()) > end  # every user has the next one waiting
    await store.close()
    print(f"\n{users} users: seeded in {seeded - began:.1f} s, {len(inbox.got)} reminders fired in {fired - seeded:.1f} s")


# ---- restarts, forget, unreachable: one user through the real runtime ------------------------------
ANNA = UserKey("telegram", "7")
T0 = utc(2026, 3, 2, 9)  # Mon 10:00 in Berlin
DUE = utc(2026, 3, 3, 6, 30)  # Tue 07:30 in Berlin


async def talk(runtime: Runtime, key: UserKey, *inputs: str) -> list:
    """Type or press (a "[choice]" presses that button on the last screen) through the runtime."""
    screen, outputs = None, []
    for entry in inputs:
        if entry.startswith("["):
            event = Button(entry[1:-1], screen)
        else:
            event = Command(entry[1:]) if entry.startswith("/") else Text(entry)
        outputs = await runtime.handle(key, event, address={"chat_id": 7})
        screen = next((a.screen for a in outputs if isinstance(a, Say) and a.screen is not None), screen)
    return outputs


@pytest.fixture
def db_path(tmp_path) -> str:
    return str(tmp_path / "restart.db")


async def set_up_anna(db_path: str, engine: Engine) -> tuple[Runtime, Collector, FakeClock]:
    clock = FakeClock(T0)
    store = await open_storage(f"sqlite:///{db_path}")
    inbox = Collector(clock, {ANNA.user_id: "Europe/Berlin"})
    runtime = Runtime(engine, store, clock=clock, deliver=inbox, owner="first")
    said = await talk(runtime, ANNA, "/remind", "7:30", "Berlin", "[daily]")
    assert "Next reminder: Tue 3 Mar at 07:30 (Europe/Berlin)" in said[-1].text
    assert [(t.name, t.due) for t in await store.timers(ANNA)] == [(DAILY_TIMER, DUE)]
    return runtime, inbox, clock


async def restart(db_path: str, engine: Engine, clock: FakeClock, old: Runtime) -> tuple[Runtime, Collector]:
    await old.storage.close()
    store = await open_storage(f"sqlite:///{db_path}")
    inbox = Collector(clock, {ANNA.user_id: "Europe/Berlin"})
    return Runtime(engine, store, clock=clock, deliver=inbox, owner="second"), inbox


@pytest.mark.parametrize("late, sent", [(timedelta(minutes=1), True), (timedelta(hours=1), True),
                                        (timedelta(hours=2), True), (timedelta(hours=3), False)])
async def test_after_an_outage_a_due_reminder_is_sent_once_or_skipped(db_path, engine, late, sent):
    first, _, clock = await set_up_anna(db_path, engine)
    clock.advance((DUE + late - clock.now()).total_seconds())  # down while it came due
    runtime, inbox = await restart(db_path, engine, clock, first)
    assert await runtime.fire_due() == 1
    assert len(inbox.got) == (1 if sent else 0)
    assert await runtime.fire_due() == 0
    assert [(t.name, t.due) for t in await runtime.storage.timers(ANNA)] == [(DAILY_TIMER, DUE + timedelta(days=1))]
    # yet another restart later the same day: still nothing doubled
    clock.advance(3600)
    again, inbox_again = await restart(db_path, engine, clock, runtime)
    assert await again.fire_due() == 0 and inbox_again.got == []
    clock.advance((DUE + timedelta(days=1) - clock.now()).total_seconds())
    assert await again.fire_due() == 1 and [day for _, day, _ in inbox_again.got] == [date(2026, 3, 4)]
    await again.storage.close()


async def test_a_snooze_survives_a_restart(db_path, engine):
    runtime, inbox, clock = await set_up_anna(db_path, engine)
    clock.advance((DUE - clock.now()).total_seconds())
    await runtime.fire_due()
    state = UserState.from_json((await runtime.storage.load(ANNA)).state_json)
    outputs = await runtime.handle(ANNA, Button("snooze", state.screen))
    assert "in an hour" in outputs[0].text
    clock.advance(3600)
    runtime, inbox = await restart(db_path, engine, clock, runtime)
    assert await runtime.fire_due() == 1 and inbox.got == [(ANNA.user_id, date(2026, 3, 3), time(8, 30))]
    await runtime.storage.close()


async def test_forget_deletes_the_reminder_and_its_timers(db_path, engine):
    runtime, inbox, clock = await set_up_anna(db_path, engine)
    outputs = await talk(runtime, ANNA, "/forget", "[forget_yes]")
    assert "deleted" in outputs[-1].text and ForgetUser() in outputs
    assert await runtime.storage.timers(ANNA) == [] and (await runtime.storage.load(ANNA)).state_json is None
    clock.advance(3 * 86400)
    assert await runtime.fire_due() == 0 and inbox.got == []
    await runtime.storage.close()


async def test_an_unreachable_user_gets_no_more_reminders_until_they_turn_them_back_on(db_path, engine):
    runtime, inbox, clock = await set_up_anna(db_path, engine)
    inbox.refuse.add(ANNA.user_id)
    clock.advance((DUE - clock.now()).total_seconds())
    assert await runtime.fire_due() == 1
    state = UserState.from_json((await runtime.storage.load(ANNA)).state_json)
    assert state.profile.unreachable and state.profile.reminder.enabled is False
    assert await runtime.storage.timers(ANNA) == []
    clock.advance(3 * 86400)
    assert await runtime.fire_due() == 0
    inbox.refuse.clear()
    outputs = await talk(runtime, ANNA, "/remind")
    assert "couldn't reach you" in outputs[0].text
    outputs = await talk(runtime, ANNA, "/remind", "[resume]")
    assert "Next reminder: Sat 7 Mar at 07:30" in outputs[-1].text
    clock.advance((utc(2026, 3, 7, 6, 30) - clock.now()).total_seconds())
    assert await runtime.fire_due() == 1 and inbox.got == [(ANNA.user_id, date(2026, 3, 7), time(7, 30))]
    await runtime.storage.close()
