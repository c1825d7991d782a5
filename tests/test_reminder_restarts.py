"""Reminders through the REAL runtime, SQLite storage and sender on a fake clock, for one user across
restarts: after an outage a due reminder is sent once or skipped, a snooze survives a restart, /forget
deletes the reminder and its timers, and a user who blocked the bot gets no more until they turn them
back on (the sender's transport says Gone; the runtime hears it through on_undeliverable)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta

import pytest
from process_world import BLOCKED, Process, core_of

from bot.app import Core
from bot.runtime import FakeClock
from bot.storage import UserKey, open_storage
from dialogs.engine import Engine
from dialogs.flows.timers import DAILY_TIMER
from dialogs.schedule import zone_of


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def local(moment: datetime, zone: str) -> tuple[date, time]:
    moment = moment.astimezone(zone_of(zone))
    return moment.date(), moment.time().replace(tzinfo=None)


ANNA, ANNA_CHAT, BERLIN = UserKey("telegram", "7"), "telegram:7", "Europe/Berlin"
T0 = utc(2026, 3, 2, 9)  # Mon 10:00 in Berlin
DUE = utc(2026, 3, 3, 6, 30)  # Tue 07:30 in Berlin


@pytest.fixture
def db_path(tmp_path) -> str:
    return str(tmp_path / "restart.db")


@pytest.fixture
def core(engine: Engine) -> Core:
    return core_of(engine)


@contextlib.asynccontextmanager
async def bot_process(db_path: str, core: Core, clock: FakeClock, name: str) -> AsyncIterator[Process]:
    """One run of the bot on the database file: runtime and sender until the block ends (a restart is the
    next block, with a new storage connection, runtime and sender)."""
    store = await open_storage(f"sqlite:///{db_path}")
    process = Process(core, store, clock, name=name)
    try:
        async with process.sending():
            yield process
    finally:
        await store.close()


def reminders(process: Process) -> list[tuple[str, date, time]]:
    """The reminders that reached the user through this process, and when in Berlin time."""
    return [(d.user, *local(d.at, BERLIN)) for d in process.delivered if d.body["kind"] == "reminder"]


async def daily_timers(process: Process) -> list[tuple[str, datetime]]:
    return [(t.name, t.due) for t in await process.storage.timers(ANNA)]


async def set_up_anna(process: Process) -> None:
    said = await process.talk(ANNA, "/remind", "7:30", "Berlin", "[daily]", address={"chat_id": 7})
    assert "Next reminder: Tue 3 Mar at 07:30 (Europe/Berlin)" in said[-1]
    assert await daily_timers(process) == [(DAILY_TIMER, DUE)]


def until(clock: FakeClock, moment: datetime) -> float:
    return (moment - clock.now()).total_seconds()


@pytest.mark.parametrize("late, sent", [(timedelta(minutes=1), True), (timedelta(hours=1), True),
                                        (timedelta(hours=2), True), (timedelta(hours=3), False)])
async def test_after_an_outage_a_due_reminder_is_sent_once_or_skipped(db_path, core, late, sent):
    clock = FakeClock(T0)
    async with bot_process(db_path, core, clock, "first") as first:
        await set_up_anna(first)
    clock.advance(until(clock, DUE + late))  # down while it came due
    async with bot_process(db_path, core, clock, "second") as second:
        assert await second.fire() == 1
        assert reminders(second) == ([(ANNA.user_id, *local(DUE + late, BERLIN))] if sent else [])
        assert await second.fire() == 0
        assert await daily_timers(second) == [(DAILY_TIMER, DUE + timedelta(days=1))]
        assert await second.storage.pending(ANNA_CHAT) == []  # nothing left to send either
        clock.advance(3600)
    async with bot_process(db_path, core, clock, "third") as third:  # yet another restart later that day
        assert await third.fire() == 0 and third.delivered == []  # still nothing doubled
        clock.advance(until(clock, DUE + timedelta(days=1)))
        assert await third.fire() == 1 and [day for _, day, _ in reminders(third)] == [date(2026, 3, 4)]


async def test_a_snooze_survives_a_restart(db_path, core):
    clock = FakeClock(T0)
    async with bot_process(db_path, core, clock, "first") as first:
        await set_up_anna(first)
        clock.advance(until(clock, DUE))
        assert await first.fire() == 1 and reminders(first) == [(ANNA.user_id, date(2026, 3, 3), time(7, 30))]
        said = await first.talk(ANNA, "[snooze]")
        assert "in an hour" in said[0]
    clock.advance(3600)
    async with bot_process(db_path, core, clock, "second") as second:
        assert await second.fire() == 1 and reminders(second) == [(ANNA.user_id, date(2026, 3, 3), time(8, 30))]


async def test_forget_deletes_the_reminder_and_its_timers(db_path, core):
    clock = FakeClock(T0)
    async with bot_process(db_path, core, clock, "first") as process:
        await set_up_anna(process)
        said = await process.talk(ANNA, "/forget", "[forget_yes]")
        assert "deleted" in said[-1]  # the confirmation was queued with the deletion, and delivered
        assert await process.storage.timers(ANNA) == [] and (await process.storage.load(ANNA)).state_json is None
        assert await process.storage.pending(ANNA_CHAT) == []
        clock.advance(3 * 86400)
        assert await process.fire() == 0 and reminders(process) == []


async def test_an_unreachable_user_gets_no_more_reminders_until_they_turn_them_back_on(db_path, core):
    clock = FakeClock(T0)
    async with bot_process(db_path, core, clock, "first") as process:
        await set_up_anna(process)
        process.gone.add(ANNA_CHAT)  # she blocks the bot: the transport answers "Forbidden"
        tried = process.transport.tried
        clock.advance(until(clock, DUE))
        assert await process.fire() == 1
        assert reminders(process) == [] and process.transport.tried > tried
        # the sender dead-lettered the reminder and told the runtime, which stopped reminding her
        assert [(d["body"]["kind"], d["reason"]) for d in await process.storage.dead_letters(ANNA_CHAT)] == [
            ("reminder", BLOCKED)]
        state = await process.state(ANNA)
        assert state.profile.unreachable and state.profile.reminder.enabled is False
        assert await process.storage.timers(ANNA) == [] and await process.storage.pending(ANNA_CHAT) == []
        tried = process.transport.tried
        clock.advance(3 * 86400)
        assert await process.fire() == 0 and process.transport.tried == tried  # not even an attempt
        process.gone.clear()
        said = await process.talk(ANNA, "/remind")
        assert "couldn't reach you" in said[0]
        said = await process.talk(ANNA, "/remind", "[resume]")
        assert "Next reminder: Sat 7 Mar at 07:30" in said[-1]
        clock.advance(until(clock, utc(2026, 3, 7, 6, 30)))
        assert await process.fire() == 1 and reminders(process) == [(ANNA.user_id, date(2026, 3, 7), time(7, 30))]
