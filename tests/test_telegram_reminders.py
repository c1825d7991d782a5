"""Daily reminders end to end on Telegram: the real /remind conversation through the real PTB Application
(against the fake Bot API), the real "daily" timer fired by the runtime as the FakeClock reaches it.

T0 is Monday 2 March 2026, 09:00 UTC (10:00 in Berlin). Time moves in steps of at most an hour
(`until`), as the scheduler would see it: one big jump would make a due reminder "late" and skipped
silently, so a test that expects nothing would pass for the wrong reason.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import telegram_harness
from conftest import T0
from expected import screen, text
from telegram_fake import FakeBotApi
from telegram_world import ALICE, World, config_for

from bot.runtime import FakeClock

bot_api = telegram_harness.bot_api  # the Bot API fake fixture, shared by the Telegram tests

BERLIN = "Europe/Berlin"
TUE_0700_BERLIN = datetime(2026, 3, 3, 6, 0, tzinfo=UTC)
REMINDER_CHOICES = ("start_now", "snooze", "skip_today")
STEP_SECONDS = 3600  # well inside the engine's LATE_LIMIT (2 hours)


@pytest.fixture(autouse=True)
def timedelta_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # as run_telegram() does: no deprecation warning per RetryAfter


@pytest.fixture
async def world(bot_api: FakeBotApi, content, tmp_path):
    world = World(bot_api, content, tmp_path / "bot.db", FakeClock(T0), config_for(bot_api))
    await world.start()
    yield world
    await world.stop()


async def until(world: World, when: datetime) -> list[str]:
    """Move the clock to `when` in steps of at most an hour, firing what comes due; the texts sent."""
    said: list[str] = []
    while (left := (when - world.clock.now()).total_seconds()) > 0:
        said += await world.fire(min(left, STEP_SECONDS))
    return said


async def set_reminder_by_buttons(world: World) -> list[str]:
    """/remind, then 07:00, the "Berlin, Paris" zone button and Every day: returns the confirmation."""
    assert (await world.send(ALICE, "/remind"))[0] == world.content.t("remind_ask_time")
    assert (await world.press(ALICE, "at_0700"))[0] == world.content.t("remind_ask_zone")
    zone_button = next(f"zone_{i}" for i, b in enumerate(world.content.places.buttons) if b.zone == BERLIN)
    assert (await world.press(ALICE, zone_button))[0] == world.content.t("remind_ask_days")
    return await world.press(ALICE, "daily")


def summary(world: World, time: str) -> str:
    return world.content.t("remind_summary", time=time, days=world.content.t("remind_every_day"), zone=BERLIN)


def due(world: World) -> str:
    """The daily reminder as shown: its marker, its text (its buttons are checked apart)."""
    return text(world.renderer, on=screen("remind.due"), kind="reminder")


async def test_a_reminder_set_by_buttons_snoozed_skipped_changed_and_turned_off(world: World) -> None:
    t = world.content.t
    confirmation = await set_reminder_by_buttons(world)
    assert confirmation == [t("remind_set", summary=summary(world, "07:00"), next="Tue 3 Mar at 07:00 (Europe/Berlin)")]
    assert await world.storage.next_due() == TUE_0700_BERLIN

    # Tuesday 07:00 Berlin: exactly one reminder, with its three buttons, in Alice's chat
    mark = world.api.mark()
    assert await until(world, TUE_0700_BERLIN) == [due(world)]
    [sent] = [c for c in world.api.calls[mark:] if c.method == "sendMessage"]
    assert sent.params["chat_id"] == ALICE
    message = world.api.last_sent(ALICE)
    number = (await world.state(ALICE)).screen_no
    assert world.api.buttons(message) == [f"{ALICE}:{number}:{choice}" for choice in REMINDER_CHOICES]
    assert [b["text"] for row in world.api.keyboard(message) for b in row] == [
        t("label_start_now"),
        t("label_snooze"),
        t("label_skip_today"),
    ]

    # Snooze: one more reminder an hour later, and nothing else until Wednesday's
    assert await world.press(ALICE, "snooze") == [t("remind_snoozed")]
    assert world.api.buttons(message) == []  # the pressed reminder cannot be pressed again
    assert await world.fire(STEP_SECONDS - 1) == []
    assert await world.fire(1) == [due(world)]
    wednesday = TUE_0700_BERLIN.replace(day=4)
    assert await until(world, wednesday) == [due(world)]  # Wednesday's, on time, and nothing between
    assert world.clock.now() == wednesday and world.api.shown_texts(ALICE).count(due(world)) == 3

    # Wednesday: Skip today says when the next one comes; nothing more that day
    assert await world.press(ALICE, "skip_today") == [t("remind_skipped", next="Thu 5 Mar at 07:00 (Europe/Berlin)")]
    assert await until(world, datetime(2026, 3, 5, 5, 0, tzinfo=UTC)) == []  # to Thursday 06:00 Berlin

    # Thursday 06:00 Berlin: change to a typed 19:30, keeping the zone
    assert await world.send(ALICE, "/remind") == [
        t("remind_status", summary=summary(world, "07:00"), next="Thu 5 Mar at 07:00 (Europe/Berlin)")
    ]
    await world.press(ALICE, "change")
    assert await world.send(ALICE, "19:30") == [t("remind_ask_zone")]
    number = (await world.state(ALICE)).screen_no
    assert world.api.buttons(world.api.last_sent(ALICE))[0] == f"{ALICE}:{number}:zone_keep"
    await world.press(ALICE, "zone_keep")
    assert await world.press(ALICE, "daily") == [
        t("remind_set", summary=summary(world, "19:30"), next="Thu 5 Mar at 19:30 (Europe/Berlin)")
    ]
    thursday_1930 = datetime(2026, 3, 5, 18, 30, tzinfo=UTC)
    assert await until(world, thursday_1930) == [due(world)]  # not at 07:00, once at 19:30
    assert world.clock.now() == thursday_1930

    # turned off: nothing more, two days on
    await world.send(ALICE, "/remind")
    assert await world.press(ALICE, "off") == [t("remind_off")]
    assert await world.storage.next_due() is None
    assert await until(world, datetime(2026, 3, 7, 19, 0, tzinfo=UTC)) == []
    assert (await world.state(ALICE)).profile.reminder is None


async def test_a_blocked_bot_pauses_reminders_and_the_next_command_says_why(world: World) -> None:
    t = world.content.t
    await set_reminder_by_buttons(world)
    world.api.fail_next("sendMessage", 403, times=None, chat_id=ALICE)  # Alice blocked the bot
    mark = world.api.mark()
    assert await until(world, TUE_0700_BERLIN) == []
    assert [c.status for c in world.api.calls[mark:] if c.method == "sendMessage"] == [403]  # tried once
    profile = (await world.state(ALICE)).profile
    assert profile.unreachable is True and profile.reminder.enabled is False
    assert await world.storage.next_due() is None  # paused: no timer left to retry or to fire
    mark = world.api.mark()
    assert await until(world, datetime(2026, 3, 5, 9, 0, tzinfo=UTC)) == []
    assert not any(c.method == "sendMessage" for c in world.api.calls[mark:])  # not even tried again

    world.api.clear_failures()  # Alice unblocks the bot; her next command says what happened
    said = await world.send(ALICE, "/remind", replies=2)
    assert said == [t("unreachable_notice"), t("remind_status_stopped", summary=summary(world, "07:00"))]
    assert (await world.state(ALICE)).profile.unreachable is False
    # Thursday 10:00 Berlin: today's 07:00 is gone, so the next one is Friday's
    assert await world.press(ALICE, "resume") == [t("remind_resumed", next="Fri 6 Mar at 07:00 (Europe/Berlin)")]
    assert await until(world, datetime(2026, 3, 6, 6, 0, tzinfo=UTC)) == [due(world)]
