"""When reminders fire: the pure time maths across DST, and the REAL runtime and SQLite storage on a fake
clock queueing them (10,000 users over three days with a DST change). Restarts, /forget and an unreachable
user: tests/test_reminder_restarts.py."""
from __future__ import annotations

import json
import random
import time as wallclock
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from functools import cache

import pytest
from storage_backends import SqliteBackend

from bot.outgoing import Outgoing
from bot.runtime import FakeClock, Runtime
from bot.storage import Save, TimerRow, UserKey, open_storage
from dialogs.engine import Engine
from dialogs.events import Button, ScheduleTimer
from dialogs.render import Renderer
from dialogs.schedule import (
    describe,
    is_occurrence,
    next_occurrence,
    occurrence,
    parse_time,
    parse_zone,
    pause_start,
    zone_of,
)
from dialogs.state import Reminder, ReminderSetup, Screen, UserState

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


class Queued:
    """The messages the runtime committed to the outbox (what a sender then delivers), read in bulk
    after each scheduler round: whom each was for, and when that was in their own local time."""

    def __init__(self, db: SqliteBackend, clock: FakeClock, zones: dict[str, str], outgoing: Outgoing) -> None:
        self.db, self.clock, self.zones, self.outgoing = db, clock, zones, outgoing
        self.got: list[tuple[str, date, time]] = []
        self.last_id = 0
        self.rendered: dict[str, list[str]] = {}  # each distinct message, as the sender would render it

    async def read(self) -> None:
        rows = await self.db.query(f"SELECT id, chat, body FROM outbox WHERE id > {self.last_id} ORDER BY id")
        for row_id, chat, text in rows:
            body = json.loads(text)
            user = body["user"][1]
            assert body["user"] == ["telegram", user] and chat == f"telegram:{user}"
            assert body["address"] == {"chat_id": int(user)} and body["kind"] == "reminder", body
            say = json.dumps(body["say"], sort_keys=True)
            if say not in self.rendered:
                self.rendered[say] = [view.kind for view in await self.outgoing.views(body)]
            self.got.append((user, *local(self.clock.now(), self.zones[user])))
            self.last_id = row_id


async def seed(store, engine: Engine, start: datetime, count: int, rng: random.Random) -> dict[str, Reminder]:
    """`count` users whose reminder was just set: the engine's last setup step per user, written as the
    runtime writes a batch (storage.save_many, one transaction)."""
    reminders, saves = {}, []
    for index in range(count):
        zone = SCALE_ZONES[index % len(SCALE_ZONES)]
        hour, minute = rng.choice(SCALE_TIMES)
        days = "weekdays" if index % 5 == 0 else "daily"
        state = UserState(screen_no=1, screen=Screen(id="remind.days"),
                          side=ReminderSetup(step="days", hour=hour, minute=minute, zone=zone))
        step = engine.handle(state, Button(days, 1), start)
        key = UserKey("telegram", str(index))
        schedule = [TimerRow(key, a.name, a.due, a.payload) for a in step.actions if isinstance(a, ScheduleTimer)]
        saves.append(Save(key, 0, step.state.to_json(), {"chat_id": index}, {"timezone": zone}, schedule, [], []))
        reminders[key.user_id] = step.state.profile.reminder
    assert all(await store.save_many(saves))
    return reminders


async def run_clock(runtime: Runtime, store, clock: FakeClock, end: datetime, queued: Queued) -> int:
    """Advance the fake clock from one due time to the next (as the scheduler sleeps), firing at each."""
    rounds = 0
    while (due := await store.next_due()) is not None and due <= end:
        clock.advance(max(0.0, (due - clock.now()).total_seconds()))
        await runtime.fire_due()
        await queued.read()
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
    renderer = Renderer(engine.content, engine.screens)
    queued = Queued(SqliteBackend(tmp_path / "scale.db"), clock, {user: r.timezone for user, r in reminders.items()},
                    Outgoing(store, renderer, engine.content, clock))
    runtime = Runtime(engine, store, clock=clock, renderer=renderer, owner="scale")
    end = start + timedelta(days=3)
    await run_clock(runtime, store, clock, end, queued)
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
    assert Counter((user, day) for user, day, _ in queued.got).most_common(1)[0][1] == 1  # never two a day
    assert sorted(queued.got) == sorted(expected)
    assert queued.rendered and all(kinds == ["reminder"] for kinds in queued.rendered.values())
    assert (await store.outbox_stats()).depth == len(expected)  # one message per reminder, nothing else
    # the DST cases really happened: a skipped or repeated local time among the deliveries
    shifted = [(u, d, t) for u, d, t in queued.got if t != time(reminders[u].hour, reminders[u].minute)]
    if start.month == 3:
        assert shifted and all(reminders[u].timezone in (LONDON, "Europe/Berlin") and d == date(2026, 3, 29)
                               for u, d, _ in shifted)
    else:
        assert not shifted and any(
            reminders[u].timezone == NEW_YORK and reminders[u].hour == 1 and d == date(2026, 11, 1)
            for u, d, _ in queued.got
        )
    assert (await store.next_due()) > end  # every user has the next one waiting
    await store.close()
    print(f"\n{users} users: seeded in {seeded - began:.1f} s,"
          f" {len(queued.got)} reminders queued in {fired - seeded:.1f} s")

