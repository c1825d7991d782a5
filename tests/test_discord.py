"""The Discord adapter through real discord.py, driven offline by simcord, with the real engine, the
shipped content and a real SQLite file. Engine time is a FakeClock; Discord time (interaction tokens
expire after 15 minutes) is simcord's virtual clock; `World.wait` moves both and fires due timers."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime

import discord
import pytest
import simcord
from discord_world import World, choices, commands_of, custom_ids, marked_bold, new_bot, new_parts, plain, restarted
from expected import exercise, line, referral, screen, shown, text, view

from bot.delivery import Gone
from bot.discord.render import screen_view
from bot.discord.send import token_alive
from bot.runtime import FakeClock, outgoing
from bot.storage import UserKey
from dialogs.engine import Engine
from dialogs.events import Line, Say

START = datetime(2026, 1, 1, tzinfo=UTC)  # simcord's virtual epoch; engine time starts there too
DEFERRED_MESSAGE, DEFERRED_UPDATE = 5, 6  # Discord interaction callback types


# ----------------------------------------------------------------------------------------- fixtures
@pytest.fixture
async def db_url(tmp_path):
    return f"sqlite:///{tmp_path / 'stretchbot.db'}"


@pytest.fixture
async def parts(engine, db_url):
    parts = await new_parts(engine, db_url, FakeClock(START))
    yield parts
    await parts.runtime.storage.close()


@pytest.fixture
def simcord_bot(parts):
    return new_bot(parts)


@pytest.fixture
def expected_errors() -> list[str]:
    """Logger names a test expects ERROR records from (e.g. a handler failure it provokes)."""
    return []


@pytest.fixture(autouse=True)
def fail_on_swallowed_errors(caplog, expected_errors):
    """discord.py and the adapter log exceptions instead of raising them: a logged error fails the test."""
    yield
    records = caplog.get_records("call")
    unexpected = [
        r
        for r in records
        if r.levelno >= logging.ERROR and not any(r.name.startswith(name) for name in expected_errors)
    ]
    assert not unexpected, [f"{r.name}: {r.getMessage()}" for r in unexpected]


@pytest.fixture
async def world(simcord_env, parts):
    guild = simcord_env.create_guild(name="Back club")
    channel = guild.create_text_channel("stretching")
    alice = guild.add_member(simcord_env.create_user("alice"))
    bob = guild.add_member(simcord_env.create_user("bob"))
    world = World(simcord_env, parts, channel, alice, bob)
    await world.start_sending()
    yield world
    await world.stop_sending()


# -------------------------------------------------------------------------------------- sessions
async def test_a_whole_routine_in_a_server_is_private(world):
    me, r = world.server, world.renderer

    started = await me.slash("stretch")

    assert started.acknowledged and started.ephemeral
    assert world.answer_types() == [DEFERRED_MESSAGE]  # "thinking..." first, then the edit
    answers = world.runtime.engine.content.triage.answers_needed()
    intro = line("screening_intro", answers=answers)
    assert plain(started.response.content) == text(r, intro, on=screen("screening.group", group=0))
    assert custom_ids(started.response)[0].startswith(f"{world.alice.id}:")
    await me.screen_safely()
    assert world.t("screening_clear") in plain(me.screen().content)
    said = "\n".join(await me.routine("lower5"))

    assert set(world.answer_types()[1:]) == {DEFERRED_UPDATE}  # every press: a deferred update first
    for key in ("halfway_hold", "release_hold"):
        assert text(r, key, kind="cue") in said
    assert world.t("checkin_self") in said
    assert world.t("finished", done=3, duration="").split(",")[0] in said
    after = [button.choice for button in view(r, on=screen("session.score_after")).buttons]  # how is your back?
    assert choices(me.screen()) == after  # only the newest screen keeps buttons
    history = await world.runtime.storage.history(UserKey("discord", str(world.alice.id)))
    assert [(h.outcome, h.routine, h.stretches_done) for h in history] == [("completed", "lower5", 3)]
    assert all(m.flags.ephemeral for m in me.messages())
    assert world.channel.history(viewer=world.bob) == [] and world.channel.history() == []
    answered = [m.content for m in me.messages() if "→ **" in m.content]
    assert answered and all(not m.components for m in me.messages()[:-1])


async def test_a_whole_routine_in_dms_with_typed_answers(world):
    me, r = world.dms, world.renderer

    started = await me.slash("stretch")

    assert started.acknowledged and not started.ephemeral
    await me.type("hmm " * 499)  # as long as Discord allows: a hint, same screen
    hint = line("hint_typed", typed=world.t("group_typed"))
    assert plain(me.screen().content) == text(r, hint, on=screen("screening.group", group=0))
    await me.type(world.t("label_group_no"))  # typed answers count like buttons
    assert plain(me.screen().content) == text(r, on=screen("screening.group", group=1))
    await me.type("no")
    await me.type("2")  # a typed number is a pain score
    await me.screen_safely()
    said = "\n".join(await me.routine("lower5"))

    assert text(r, "halfway_hold", kind="cue") in said and world.t("checkin_self") in said
    assert choices(me.screen()) == [button.choice for button in view(r, on=screen("session.score_after")).buttons]
    assert not any(m.flags.ephemeral for m in me.messages())  # a DM is private already: keep the record
    assert world.channel.history(viewer=world.bob) == []


async def test_it_hurts_mid_hold_refers_and_stops_every_cue(world):
    me = world.server
    await me.start_hold()
    before = len(me.messages())

    hurt = await me.press("pain")

    [stop] = hurt.followups
    assert plain(stop.content) == referral(world.renderer, "pain") and stop.ephemeral
    assert marked_bold(stop.content, world.runtime.engine.content.wording.markers.referral)
    assert all(not m.components for m in me.messages())  # nothing left to press
    assert await world.wait(10 * 60) == 0
    assert len(me.messages()) == before + 1
    assert (await world.state(world.alice)).session is None


async def test_a_screening_red_flag_gives_the_emergency_referral_and_no_stretches(world):
    me = world.server
    await me.slash("stretch")

    flagged = await me.press("yes")  # one or more of the first group: each is an emergency (level A)

    [emergency] = flagged.followups
    assert plain(emergency.content) == referral(world.renderer, "A") and emergency.ephemeral
    assert marked_bold(emergency.content, world.runtime.engine.content.wording.markers.referral)
    assert all(not m.components for m in me.messages())
    history = await world.runtime.storage.history(UserKey("discord", str(world.alice.id)))
    assert [(h.outcome, h.level, h.stretches_done) for h in history] == [("referral", "A", 0)]
    assert world.channel.history(viewer=world.bob) == []


async def test_mydata_is_a_private_json_file_without_the_token(world):
    me = world.server
    await me.slash("stretch")

    result = await me.slash("mydata")

    assert result.ephemeral and plain(result.response.content) == world.t("mydata")
    words, file = result.followups
    assert words.ephemeral and "0 sessions recorded" in plain(words.content)  # what is stored, in words
    assert file.ephemeral and plain(file.content) == world.t("mydata_file")
    [attachment] = file.attachments
    data = json.loads(await attachment.read())
    assert data["profile"]["user_id"] == str(world.alice.id)
    token = (await world.runtime.storage.load(UserKey("discord", str(world.alice.id)))).address["token"]
    assert token and token not in (await attachment.read()).decode()  # a live credential: never in the file
    assert world.channel.history(viewer=world.bob) == []


async def test_forget_deletes_everything(world):
    me = world.server
    await me.slash("stretch")
    await me.slash("forget")

    done = await me.press("forget_yes")

    assert plain(done.followups[0].content) == world.t("forgotten")
    loaded = await world.runtime.storage.load(UserKey("discord", str(world.alice.id)))
    assert loaded.state_json is None


async def test_every_command_answers_in_a_server_and_in_dms(world):
    for name, _ in commands_of(world.runtime):
        for me in (world.server, world.dms):
            result = await me.slash(name)
            assert result.acknowledged and result.response.content, name
            assert result.ephemeral == (not me.dm)


# --------------------------------------------------------------------------- stale and foreign buttons
async def test_buttons_survive_a_restart_and_stale_ones_change_nothing(world, engine, db_url):
    me = world.server
    first = (await me.slash("stretch")).response
    async with restarted(world, engine, db_url):
        menu = (await me.slash("stop")).response  # the new process cannot strip the old screen's buttons
        before = (await world.state(world.alice)).to_json()
        shown_before = first.content

        [stale_id] = [c for c in custom_ids(first) if c.endswith(":no")]
        stale = await world.settled(me.actor.click(first, custom_id=stale_id))

        assert stale.followups[0].ephemeral and stale.followups[0].content == world.t("stale_button")
        assert first.content == shown_before and custom_ids(first)  # the old message is left as it was
        assert (await world.state(world.alice)).to_json() == before
        [start] = [c for c in custom_ids(menu) if c.endswith(":start")]
        again = await world.settled(me.actor.click(menu, custom_id=start))
        assert choices(again.followups[0]) == ["yes", "no"]  # a live button from before works: screening
        assert (await world.screen_id(world.alice)) == "screening.group"


async def test_a_hold_running_across_a_restart_cues_on_the_stored_token(world, engine, db_url):
    ready = await world.server.start_hold()
    async with restarted(world, engine, db_url):  # the timer lives in SQLite, the token in the address
        assert await world.wait_for_timer() == 1

        cue = ready.followups[-1]
        assert plain(cue.content) == text(world.renderer, "halfway_hold", kind="cue") and cue.ephemeral


async def test_stale_button_after_the_token_expired(world):
    me = world.server
    first = (await me.slash("stretch")).response
    await world.wait(16 * 60)  # the old message can no longer be edited
    await me.slash("stop")

    [stale_id] = [c for c in custom_ids(first) if c.endswith(":no")]
    stale = await world.settled(world.alice.click(first, custom_id=stale_id))

    assert stale.followups[0].content == world.t("stale_button") and stale.followups[0].ephemeral


async def test_a_foreign_press_is_rejected_and_changes_nothing(world):
    me = world.server
    mine = (await me.slash("stretch")).response
    with pytest.raises(simcord.SetupError):  # bob cannot even see alice's ephemeral screen
        await world.bob.click(mine, custom_id=custom_ids(mine)[0])
    # A message with alice's buttons that bob can see (the bot never posts one; this proves the check).
    state = await world.state(world.alice)
    question = world.renderer.render(Say(screen=state.screen, number=state.screen_no))
    public = await world.bot.get_channel(world.channel.id).send("Question?", view=screen_view(world.alice.id, question))

    rejected = await world.settled(world.bob.click(public, label=world.t("label_group_no")))

    assert rejected.ephemeral and rejected.response.content == world.t("foreign_button")
    assert (await world.state(world.alice)).to_json() == state.to_json()
    assert world.channel.history(viewer=world.bob)[-1].content == world.t("foreign_button")
    assert custom_ids(public) == [f"{world.alice.id}:{state.screen_no}:{b.choice}" for b in question.buttons]


# ------------------------------------------------------------------------------------- Discord rules
async def test_a_slow_runtime_still_acknowledges_within_3_seconds(world):
    handle = world.runtime.handle

    async def slow_handle(*args, **kwargs):
        await asyncio.sleep(10)  # virtual seconds: storage under load
        return await handle(*args, **kwargs)

    world.runtime.handle = slow_handle
    result = await world.alice.slash(world.channel, "stretch")

    assert result.acknowledged and result.deferred and result.ephemeral
    await world.env.advance_time(10)
    await world.settle()
    assert choices(result.response) == ["yes", "no"]


async def test_a_failing_handler_answers_politely_and_logs_ids_only(world, expected_errors, caplog):
    expected_errors.append("stretchbot.discord")

    async def broken(*args, **kwargs):
        raise RuntimeError("database on fire")

    world.runtime.handle = broken
    result = await world.alice.slash(world.channel, "stretch")

    assert result.acknowledged and world.t("error_sorry") in result.response.content and result.ephemeral
    [record] = [r for r in caplog.get_records("call") if r.name == "stretchbot.discord"]
    assert str(world.alice.id) in record.getMessage() and "/stretch" in record.getMessage()
    assert "webhooks" not in record.getMessage() and "token" not in record.getMessage()


async def test_cues_follow_up_privately_then_go_by_dm_when_the_token_expires(world):
    me, r = world.server, world.renderer
    ready = await me.start_hold()

    assert await world.wait_for_timer() == 1  # halfway: on the "ready" press's token, privately
    cue = ready.followups[-1]
    assert plain(cue.content) == text(r, "halfway_hold", kind="cue") and cue.ephemeral

    await world.env.advance_time(15 * 60)  # Discord time only: the token is dead, the hold is not over
    assert await world.wait_for_timer() == 1
    [dm, position] = world.alice.user.dm_channel.history()
    assert plain(dm.content) == text(r, "release_hold", kind="cue")
    assert plain(position.content) == text(r, on=exercise(r, "stretch.position", index=0, hold=1))
    assert choices(position) == ["ready", "skip", "stop", "pain"] and not dm.flags.ephemeral
    assert world.channel.history(viewer=world.bob) == []


async def test_closed_dms_make_the_user_unreachable_and_they_hear_it_next_time(world):
    me = world.server
    await me.start_hold()
    await world.env.advance_time(15 * 60)  # the token expired: a cue must go by DM
    world.env.inject_error(
        "POST",
        f"/channels/{world.alice.user.dm_channel.id}/messages",
        status=403,
        code=50007,
        message="Cannot send messages to this user",
    )

    assert await world.wait_for_timer() == 1

    assert (await world.state(world.alice)).profile.unreachable
    assert world.alice.user.dm_channel.history() == []
    answer = await me.slash("help")
    assert plain(answer.response.content).startswith(world.t("unreachable_notice"))
    assert not (await world.state(world.alice)).profile.unreachable


async def test_a_daily_reminder_always_goes_by_dm(world):
    await world.settled(world.alice.slash(world.channel, "stretch"))  # a fresh, valid interaction token
    key = UserKey("discord", str(world.alice.id))
    address = (await world.runtime.storage.load(key)).address
    assert token_alive(address)
    reminder = Say((Line("reminder_due"),), kind="reminder")
    [message] = outgoing(key, address, [reminder], None)  # as the runtime queues it when the timer fires

    await world.bot.send(message.chat, message.body)

    [dm] = world.alice.user.dm_channel.history()
    assert plain(dm.content) == shown(world.renderer.render(reminder)) and not dm.flags.ephemeral
    world.env.inject_error("POST", f"/channels/{world.alice.user.dm_channel.id}/messages", status=403, code=50007)
    with pytest.raises(Gone):  # DMs closed: the sender dead-letters it and the runtime pauses reminders
        await world.bot.send(message.chat, message.body)


async def test_commands_are_synced_for_servers_and_dms(world):
    names = [name for name, _ in commands_of(world.runtime)]
    assert set(names) <= set(world.alice.available_commands(world.channel))
    assert set(names) <= set(world.alice.user.available_commands())

    await world.stop_sending()
    await world.env.restart_bot(new_bot(world.parts, guild_id=world.env.guild.id))
    await world.start_sending()  # DISCORD_GUILD_ID
    result = await world.settled(world.alice.slash(world.channel, "help"))
    assert result.ephemeral
    assert world.t("help", answers=world.runtime.engine.content.triage.answers_needed()) in plain(
        result.response.content
    )
    assert any(
        e.method == "PUT" and e.path.endswith(f"/guilds/{world.env.guild.id}/commands") for e in world.env.http_requests
    )


async def test_an_answered_screen_shows_the_chosen_label_as_written(simcord_env, engine, db_url):
    """The label goes into Markdown: "*" or "_" in content must read as written, not as emphasis."""
    title = "Back *and* hips_gentle"
    content = engine.content
    routines = {**content.routines, "lower5": content.routines["lower5"].model_copy(update={"title": title})}
    changed = Engine(content.model_copy(update={"routines": routines}))
    parts = await new_parts(changed, db_url, FakeClock(START))
    try:
        await simcord_env.restart_bot(new_bot(parts))
        guild = simcord_env.create_guild(name="Back club")
        alice = guild.add_member(simcord_env.create_user("alice"))
        world = World(simcord_env, parts, guild.create_text_channel("stretching"), alice, alice)
        await world.start_sending()
        await world.server.slash("stretch")
        await world.server.screen_safely()
        await world.server.press("lower5")
        answered = [m for m in world.server.messages() if "→ " in m.content][-1]  # the routine menu
        assert answered.content.endswith(f"→ **{discord.utils.escape_markdown(title)}**")  # escaped, then bold
        assert plain(answered.content).endswith(f"→ {title}") and not answered.components
    finally:
        await world.stop_sending()
        await parts.runtime.storage.close()
