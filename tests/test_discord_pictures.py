"""Pictures on Discord (issue 15) and /progress with its chart (issue 16): real discord.py through simcord,
the real runtime, outbox, sender and PictureStore. A stretch's picture is an attachment on its position
message, private in a server (ephemeral) and in DMs alike; /pictures off sends words only."""

from __future__ import annotations

import test_discord
from discord_world import Conversation, World, plain
from expected import exercise, text

db_url, parts, world = test_discord.db_url, test_discord.parts, test_discord.world
simcord_bot, expected_errors = test_discord.simcord_bot, test_discord.expected_errors
fail_on_swallowed_errors = test_discord.fail_on_swallowed_errors

PNG, GIF = b"\x89PNG", b"GIF8"


async def first_position(me: Conversation):
    """/stretch, a safe screening, the 5-minute routine: the first stretch's position message."""
    await me.slash("stretch")
    await me.screen_safely()
    await me.press("lower5")
    return me.screen()


async def test_in_a_server_the_position_message_carries_the_picture_privately(world: World) -> None:
    r = world.renderer
    position = await first_position(world.server)
    assert plain(position.content) == text(r, on=exercise(r, "stretch.position", index=0, hold=0))
    assert position.flags.ephemeral
    [attachment] = position.attachments
    assert (await attachment.read())[:4] in (PNG, GIF)
    assert world.channel.history(viewer=world.bob) == []  # nobody else sees it


async def test_in_dms_the_position_message_carries_the_picture(world: World) -> None:
    position = await first_position(world.dms)
    [attachment] = position.attachments
    assert attachment.filename.endswith((".png", ".gif")) and (await attachment.read())[:4] in (PNG, GIF)
    await world.dms.press("pain")  # pain from a message with a picture ends the session at once
    assert (await world.state(world.alice)).session is None


async def test_pictures_off_sends_words_only(world: World) -> None:
    me = world.dms
    off = await me.slash("pictures")  # no argument: switches (on by default, so off)
    assert plain(off.response.content).startswith(world.t("pictures_off"))
    position = await first_position(me)
    assert position.attachments == []


async def test_progress_is_words_and_a_chart(world: World) -> None:
    for me in (world.server, world.dms):
        result = await me.slash("progress")
        [report] = [m for m in me.messages() if m.attachments]
        assert world.runtime.engine.content.progress.texts.title in plain(report.content)
        assert (await report.attachments[0].read()).startswith(PNG)
        assert result.ephemeral == (not me.dm)
