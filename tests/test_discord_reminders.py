"""Daily reminders end to end on Discord (real discord.py through simcord): /remind in a server with
ephemeral screens, the real "daily" timer fired by the runtime, the reminder always by DM.

Engine time and simcord's virtual clock both start at Thursday 1 January 2026, 00:00 UTC (00:00 in
London); `World.wait` moves both and fires what came due.
"""

from __future__ import annotations

import test_discord
from discord_world import World, choices, plain
from expected import line, screen, text

# The fixtures of the Discord suite and its check that no error was only logged: shared rather than
# copied, so both files build the same world (assigned, so a test's argument redefines no import).
db_url, parts, world = test_discord.db_url, test_discord.parts, test_discord.world
simcord_bot, expected_errors = test_discord.simcord_bot, test_discord.expected_errors
fail_on_swallowed_errors = test_discord.fail_on_swallowed_errors

LONDON = "Europe/London"


def zone_choice(world: World, zone: str) -> str:
    buttons = world.runtime.engine.content.places.buttons
    return next(f"zone_{i}" for i, button in enumerate(buttons) if button.zone == zone)


async def set_reminder_in_the_server(world: World) -> str:
    """/remind in the channel, then 07:00, London, Every day, all on ephemeral screens: the confirmation."""
    me = world.server
    asked = await me.slash("remind")
    assert asked.ephemeral and plain(asked.response.content) == world.t("remind_ask_time")
    await me.press("at_0700")
    assert plain(me.screen().content) == world.t("remind_ask_zone")
    await me.press(zone_choice(world, LONDON))
    assert plain(me.screen().content) == world.t("remind_ask_days")
    done = await me.press("daily")
    [confirmation] = done.followups
    assert confirmation.ephemeral
    return plain(confirmation.content)


async def test_a_reminder_set_in_a_server_arrives_by_dm_and_start_now_begins_a_session(world):
    confirmation = await set_reminder_in_the_server(world)
    summary = world.t("remind_summary", time="07:00", days=world.t("remind_every_day"), zone=LONDON)
    assert confirmation == world.t("remind_set", summary=summary, next="Thu 1 Jan at 07:00 (Europe/London)")
    assert all(m.flags.ephemeral for m in world.server.messages())
    assert world.alice.user.dm_channel.history() == []

    assert await world.wait(7 * 3600 - 1) == 0
    assert await world.wait(1) == 1  # 07:00 London

    [reminder] = world.alice.user.dm_channel.history()
    assert plain(reminder.content) == text(world.renderer, on=screen("remind.due"), kind="reminder")
    assert not reminder.flags.ephemeral
    assert choices(reminder) == ["start_now", "snooze", "skip_today"]
    assert not any(world.t("reminder_due") in said for said in world.server.texts())  # not in the server
    assert world.channel.history(viewer=world.bob) == [] and world.channel.history() == []
    assert world.bob.user.dm_channel.history() == []

    started = await world.dms.press("start_now")

    [question] = started.followups  # a new user: the safety screen first
    intro = line("screening_intro", answers=world.runtime.engine.content.triage.answers_needed())
    assert plain(question.content) == text(world.renderer, intro, on=screen("screening.group", group=0))
    assert not question.ephemeral
    assert choices(world.dms.screen()) == ["yes", "no"]  # the question is the only screen with buttons
    assert not world.alice.user.dm_channel.history()[0].components  # the reminder's buttons are gone
    state = await world.state(world.alice)
    assert state.session.phase.kind == "screening" and state.side is None
    assert world.channel.history(viewer=world.bob) == []


async def test_closed_dms_at_reminder_time_mark_the_user_unreachable(world):
    await set_reminder_in_the_server(world)
    world.env.inject_error(
        "POST",
        f"/channels/{world.alice.user.dm_channel.id}/messages",
        status=403,
        code=50007,
        message="Cannot send messages to this user",
        times=None,
    )

    assert await world.wait(7 * 3600) == 1

    assert world.alice.user.dm_channel.history() == []
    profile = (await world.state(world.alice)).profile
    assert profile.unreachable and profile.reminder.enabled is False
    assert await world.runtime.storage.next_due() is None  # paused: nothing is retried the next days
    assert await world.wait(2 * 86400) == 0
    assert world.channel.history(viewer=world.bob) == []

    answer = await world.server.slash("help")

    assert answer.ephemeral and plain(answer.response.content).startswith(world.t("unreachable_notice"))
    assert not (await world.state(world.alice)).profile.unreachable
