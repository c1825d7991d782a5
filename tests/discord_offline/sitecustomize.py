"""Imported by Python at start-up when this folder is on PYTHONPATH (tests/discord_gateway_fake.py puts it
there for the bot processes it starts): points discord.py's REST API and gateway at the local fake named
by STRETCHBOT_TEST_DISCORD_API. The bot's own code is not changed; nothing here runs in production."""

import os

_api = os.environ.get("STRETCHBOT_TEST_DISCORD_API")
if _api:
    import discord.gateway
    import discord.http
    import yarl

    discord.http.Route.BASE = f"{_api}/api/v10"
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(f"{_api.replace('http://', 'ws://')}/gateway/")
