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

from bot import ConfigError, discord_adapter
from bot.cli import Settings
from bot.discord_adapter import DiscordBot, screen_view
from bot.runtime import FakeClock, Undeliverable
from bot.storage import UserKey
from dialogs.content import DEFAULT_CONTENT_DIR
from dialogs.model import Choice, Say
from discord_world import World, choices, custom_ids, new_bot, new_runtime, restarted

START = datetime(2026, 1, 1, tzinfo=UTC)  # simcord's virtual epoch; engine time starts there too
DEFERRED_MESSAGE, DEFERRED_UPDATE = 5, 6  # Discord interaction callback types
FAKE_TOKEN = "A" * 26 + "." + "B" * 6 + "." + "C" * 38  # the shape of a bot token, nothing more


# ----------------------------------------------------------------------------------------- fixtures
@pytest.fixture
async def db_url(tmp_path):
    return f"sqlite:///{tmp_path / 'stretchbot.db'}"


@pytest.fixture
async def runtime(engine, db_url):
    runtime = await new_runtime(engine, db_url, FakeClock(START))
    yield runtime
    await runtime.storage.close()


@pytest.fixture
def simcord_bot(runtime):
    return new_bot(runtime)


@pytest.fixture
def expected_errors() -> list[str]:
    """Logger names a test expects ERROR records from (e.g. a handler failure it provokes)."""
    return []


@pytest.fixture(autouse=True)
def fail_on_swallowed_errors(caplog, expected_errors):
    """discord.py and the adapter log exceptions instead of raising them: a logged error fails the test."""
    yield
    records = caplog.get_records("call")
    unexpected = [r for r in records if r.levelno >= logging.ERROR
                  and not any(r.name.startswith(name) for name in expected_errors)]
    assert not unexpected, [f"{r.name}: {r.getMessage()}" for r in unexpected]


@pytest.fixture
def world(simcord_env, runtime) -> World:
    guild = simcord_env.create_guild(name="Back club")
    channel = guild.create_text_channel("stretching")
    alice = guild.add_member(simcord_env.create_user("alice"))
    bob = guild.add_member(simcord_env.create_user("bob"))
    return World(simcord_env, runtime, channel, alice, bob)


# -------------------------------------------------------------------------------------- sessions
async def test_a_whole_routine_in_a_server_is_private(world):
    me = world.server

    started = await me.slash("stretch")

    assert started.acknowledged and started.ephemeral
    assert world.answer_types() == [DEFERRED_MESSAGE]  # "thinking..." first, then the edit
    assert world.t("triage_intro", count=len(world.runtime.engine.content.triage.questions)) in started.response.content
    assert custom_ids(started.response)[0].startswith(f"{world.alice.id}:")
    await me.triage_safely()
    assert world.t("triage_clear") in me.screen().content
    said = "\n".join(await me.routine("lower5"))

    assert set(world.answer_types()[1:]) == {DEFERRED_UPDATE}  # every press: a deferred update first
    for text in ("halfway", "release", "checkin"):
        assert world.t(text) in said
    assert world.t("finished", done=3, minutes=3).split(" in about")[0] in said
    assert choices(me.screen()) == ["remind", "no_thanks"]  # only the newest screen keeps buttons
    history = await world.runtime.storage.history(UserKey("discord", str(world.alice.id)))
    assert [(h.outcome, h.routine, h.stretches_done) for h in history] == [("completed", "lower5", 3)]
    assert all(m.flags.ephemeral for m in me.messages())
    assert world.channel.history(viewer=world.bob) == [] and world.channel.history() == []
    answered = [m.content for m in me.messages() if "→ **" in m.content]
    assert answered and all(not m.components for m in me.messages()[:-1])


async def test_a_whole_routine_in_dms_with_typed_answers(world):
    me = world.dms

    started = await me.slash("stretch")

    assert started.acknowledged and not started.ephemeral
    await world.alice.user.send_dm("hmm " * 499)  # as long as Discord allows: a hint, same screen
    assert world.t("hint", options="Yes, No") in me.screen().content
    await world.alice.user.send_dm("No")  # typed answers count like buttons
    assert "Question 2 of" in me.screen().content
    await me.triage_safely()
    said = "\n".join(await me.routine("lower5"))

    assert world.t("halfway") in said and world.t("checkin") in said
    assert "Well done!" in said
    assert choices(me.screen()) == ["remind", "no_thanks"]
    assert not any(m.flags.ephemeral for m in me.messages())  # a DM is private already: keep the record
    assert world.channel.history(viewer=world.bob) == []


async def test_it_hurts_mid_hold_refers_and_stops_every_cue(world):
    me = world.server
    await me.start_hold()
    before = len(me.messages())

    hurt = await me.press("pain")

    assert world.runtime.engine.content.triage.pain_stop in hurt.followups[0].content
    assert all(not m.components for m in me.messages())  # nothing left to press
    assert await world.wait(10 * 60) == 0
    assert len(me.messages()) == before + 1
    assert (await world.state(world.alice)).session is None


async def test_a_triage_red_flag_gives_the_emergency_referral_and_no_stretches(world):
    me = world.server
    await me.slash("stretch")

    flagged = await me.press("yes")  # question 1 is an emergency (level A) flag

    [referral] = flagged.followups
    assert world.runtime.engine.content.referral("A") in referral.content and referral.ephemeral
    assert all(not m.components for m in me.messages())
    history = await world.runtime.storage.history(UserKey("discord", str(world.alice.id)))
    assert [(h.outcome, h.level, h.stretches_done) for h in history] == [("referral", "A", 0)]
    assert world.channel.history(viewer=world.bob) == []


async def test_mydata_is_a_private_json_file_without_the_token(world):
    me = world.server
    await me.slash("stretch")

    result = await me.slash("mydata")

    assert result.ephemeral and world.t("mydata") in result.response.content
    [attachment] = result.response.attachments
    data = json.loads(await attachment.read())
    assert data["profile"]["user_id"] == str(world.alice.id)
    assert data["profile"]["address"]["token"] == "(hidden)"
    assert world.channel.history(viewer=world.bob) == []


async def test_forget_deletes_everything(world):
    me = world.server
    await me.slash("stretch")
    await me.slash("forget")

    done = await me.press("forget_yes")

    assert world.t("forgotten") in done.followups[0].content
    loaded = await world.runtime.storage.load(UserKey("discord", str(world.alice.id)))
    assert loaded.state_json is None


@pytest.mark.parametrize("name", list(discord_adapter.COMMANDS))
async def test_every_command_answers_in_a_server_and_in_dms(world, name):
    for me in (world.server, world.dms):
        result = await me.slash(name)
        assert result.acknowledged and result.response.content
        assert result.ephemeral == (not me.dm)


# --------------------------------------------------------------------------- stale and foreign buttons
async def test_buttons_survive_a_restart_and_stale_ones_change_nothing(world, engine, db_url):
    me = world.server
    first = (await me.slash("stretch")).response
    async with restarted(world, engine, db_url):
        menu = (await me.slash("stop")).response  # the new process cannot strip the old screen's buttons
        before = (await world.state(world.alice)).to_json()
        shown = first.content

        [stale_id] = [c for c in custom_ids(first) if c.endswith(":no")]
        stale = await me.actor.click(first, custom_id=stale_id)

        assert stale.followups[0].ephemeral and stale.followups[0].content == world.t("stale_button")
        assert first.content == shown and custom_ids(first)  # the old message is left as it was
        assert (await world.state(world.alice)).to_json() == before
        [start] = [c for c in custom_ids(menu) if c.endswith(":start")]
        again = await me.actor.click(menu, custom_id=start)
        assert "Question 1 of" in again.followups[0].content  # a live button from before works


async def test_a_hold_running_across_a_restart_cues_on_the_stored_token(world, engine, db_url):
    ready = await world.server.start_hold()
    async with restarted(world, engine, db_url):  # the timer lives in SQLite, the token in the address
        assert await world.wait_for_timer() == 1

        assert world.t("halfway") in ready.followups[-1].content and ready.followups[-1].ephemeral


async def test_stale_button_after_the_token_expired(world):
    me = world.server
    first = (await me.slash("stretch")).response
    await world.wait(16 * 60)  # the old message can no longer be edited
    await me.slash("stop")

    [stale_id] = [c for c in custom_ids(first) if c.endswith(":no")]
    stale = await world.alice.click(first, custom_id=stale_id)

    assert stale.followups[0].content == world.t("stale_button") and stale.followups[0].ephemeral


async def test_a_foreign_press_is_rejected_and_changes_nothing(world):
    me = world.server
    mine = (await me.slash("stretch")).response
    with pytest.raises(simcord.SetupError):  # bob cannot even see alice's ephemeral screen
        await world.bob.click(mine, custom_id=custom_ids(mine)[0])
    # A message with alice's buttons that bob can see (the bot never posts one; this proves the check).
    state = await world.state(world.alice)
    say = Say("Question?", (Choice("no", "No"),), state.screen)
    public = await world.bot.get_channel(world.channel.id).send("Question?", view=screen_view(world.alice.id, say))

    rejected = await world.bob.click(public, label="No")

    assert rejected.ephemeral and rejected.response.content == world.t("foreign_button")
    assert (await world.state(world.alice)).to_json() == state.to_json()
    assert world.channel.history(viewer=world.bob)[-1].content == world.t("foreign_button")
    assert custom_ids(public) == [f"{world.alice.id}:{state.screen}:no"]


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
    assert "Question 1 of" in result.response.content


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
    me = world.server
    ready = await me.start_hold()

    assert await world.wait_for_timer() == 1  # halfway: on the "ready" press's token, privately
    assert world.t("halfway") in ready.followups[-1].content and ready.followups[-1].ephemeral

    await world.env.advance_time(15 * 60)  # Discord time only: the token is dead, the hold is not over
    assert await world.wait_for_timer() == 1
    [dm, screen] = world.alice.user.dm_channel.history()
    assert world.t("release") in dm.content
    assert choices(screen) and not dm.flags.ephemeral  # the next screen, with its buttons
    assert world.channel.history(viewer=world.bob) == []


async def test_closed_dms_make_the_user_unreachable_and_they_hear_it_next_time(world):
    me = world.server
    await me.start_hold()
    await world.env.advance_time(15 * 60)  # the token expired: a cue must go by DM
    world.env.inject_error("POST", f"/channels/{world.alice.user.dm_channel.id}/messages", status=403,
                           code=50007, message="Cannot send messages to this user")

    assert await world.wait_for_timer() == 1

    assert (await world.state(world.alice)).profile.unreachable
    assert world.alice.user.dm_channel.history() == []
    answer = await me.slash("help")
    assert answer.response.content.startswith(world.t("unreachable_notice"))
    assert not (await world.state(world.alice)).profile.unreachable


async def test_a_daily_reminder_always_goes_by_dm(world):
    await world.alice.slash(world.channel, "help")  # a fresh, valid interaction token
    key = UserKey("discord", str(world.alice.id))
    address = (await world.runtime.storage.load(key)).address
    assert discord_adapter.token_usable(address)

    await world.bot.deliver(key, address, [Say("Time for your stretch.", kind="reminder")])

    [dm] = world.alice.user.dm_channel.history()
    assert "Time for your stretch." in dm.content and not dm.flags.ephemeral
    world.env.inject_error("POST", f"/channels/{world.alice.user.dm_channel.id}/messages", status=403,
                           code=50007)
    with pytest.raises(Undeliverable):
        await world.bot.deliver(key, address, [Say("Time for your stretch.", kind="reminder")])


async def test_commands_are_synced_for_servers_and_dms(world):
    assert set(discord_adapter.COMMANDS) <= set(world.alice.available_commands(world.channel))
    assert set(discord_adapter.COMMANDS) <= set(world.alice.user.available_commands())

    guild_bot = DiscordBot(world.runtime, guild_id=world.env.guild.id)  # DISCORD_GUILD_ID: a test server
    world.runtime.deliver = guild_bot.deliver
    await world.env.restart_bot(guild_bot)
    result = await world.alice.slash(world.channel, "help")
    assert result.ephemeral and world.t("help") in result.response.content
    assert any(e.method == "PUT" and e.path.endswith(f"/guilds/{world.env.guild.id}/commands")
               for e in world.env.http_requests)


# ----------------------------------------------------------------------------------------- main()
@pytest.mark.parametrize("environ, message", [
    ({}, "DISCORD_TOKEN is not set"),
    ({"DISCORD_TOKEN": "  "}, "DISCORD_TOKEN is not set"),
    ({"DISCORD_TOKEN": "Bot " + FAKE_TOKEN}, "does not look like a Discord bot token"),
    ({"DISCORD_TOKEN": "hunter2"}, "does not look like a Discord bot token"),
    ({"DISCORD_TOKEN": FAKE_TOKEN, "DISCORD_GUILD_ID": "my server"}, "DISCORD_GUILD_ID"),
])
def test_main_refuses_bad_configuration_in_one_line(monkeypatch, environ, message):
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    monkeypatch.delenv("DISCORD_GUILD_ID", raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)

    with pytest.raises(ConfigError) as error:
        discord_adapter.main(settings=None, engine=None)

    assert message in str(error.value) and "\n" not in str(error.value)
    assert "hunter2" not in str(error.value) and FAKE_TOKEN not in str(error.value)


def test_main_reports_a_rejected_token_and_closes_storage(monkeypatch, tmp_path, engine):
    async def rejected(client, token):  # what discord.py raises when Discord answers 401 to the login
        raise discord.LoginFailure("Improper token has been passed.")

    monkeypatch.setattr(discord.Client, "login", rejected)
    monkeypatch.setenv("DISCORD_TOKEN", FAKE_TOKEN)
    monkeypatch.delenv("DISCORD_GUILD_ID", raising=False)
    settings = Settings(f"sqlite:///{tmp_path / 'bot.db'}", 1.0, DEFAULT_CONTENT_DIR)

    with pytest.raises(ConfigError, match="DISCORD_TOKEN was rejected by Discord"):
        discord_adapter.main(settings, engine)

    assert (tmp_path / "bot.db").exists()
