"""`stretchbot discord` start-up without a Discord connection: run_discord refuses bad settings in one line
before any I/O, and turns a token Discord rejects into one line, with storage closed."""

from __future__ import annotations

import discord
import pytest

from bot import ConfigError
from bot.app import Core, Settings, run_discord
from bot.storage.sqlite import SqliteStorage
from dialogs.content import DEFAULT_CONTENT_DIR
from dialogs.render import Renderer

FAKE_TOKEN = "A" * 26 + "." + "B" * 6 + "." + "C" * 38  # the shape of a bot token, nothing more


@pytest.fixture
def core(engine) -> Core:
    return Core(engine.content, engine, Renderer(engine.content, engine.screens))


@pytest.mark.parametrize(
    "environ, message",
    [
        ({}, "DISCORD_TOKEN is not set"),
        ({"DISCORD_TOKEN": "  "}, "DISCORD_TOKEN is not set"),
        ({"DISCORD_TOKEN": "Bot " + FAKE_TOKEN}, "does not look like a Discord bot token"),
        ({"DISCORD_TOKEN": "hunter2"}, "does not look like a Discord bot token"),
        ({"DISCORD_TOKEN": FAKE_TOKEN, "DISCORD_GUILD_ID": "my server"}, "DISCORD_GUILD_ID"),
    ],
)
async def test_run_discord_refuses_bad_configuration_in_one_line(environ, message, core, tmp_path):
    settings = Settings(f"sqlite:///{tmp_path / 'never.db'}", 1.0, DEFAULT_CONTENT_DIR)

    with pytest.raises(ConfigError) as error:
        await run_discord(settings, core, environ)

    assert message in str(error.value) and "\n" not in str(error.value)
    assert "hunter2" not in str(error.value) and FAKE_TOKEN not in str(error.value)
    assert not (tmp_path / "never.db").exists()  # refused before any I/O


async def test_run_discord_reports_a_rejected_token_and_closes_storage(monkeypatch, tmp_path, core):
    async def rejected(client, token):  # what discord.py raises when Discord answers 401 to the login
        raise discord.LoginFailure("Improper token has been passed.")

    monkeypatch.setattr(discord.Client, "login", rejected)
    settings = Settings(f"sqlite:///{tmp_path / 'bot.db'}", 1.0, DEFAULT_CONTENT_DIR)
    closed = []
    real_close = SqliteStorage.close

    async def close(storage):
        closed.append(storage)
        await real_close(storage)

    monkeypatch.setattr(SqliteStorage, "close", close)

    with pytest.raises(ConfigError, match="DISCORD_TOKEN was rejected by Discord"):
        await run_discord(settings, core, {"DISCORD_TOKEN": FAKE_TOKEN})

    assert (tmp_path / "bot.db").exists() and len(closed) == 1
