"""Just enough of Discord on 127.0.0.1 for an unmodified `stretchbot discord` PROCESS to log in, sync its
commands and connect to the gateway, so process-level behaviour (signals, a rejected token) can be tested
offline. In-process Discord tests use simcord (tests/discord_world.py); simcord attaches to a client
object, so it cannot stand in for Discord in another process.

The process is pointed here by tests/discord_offline/sitecustomize.py, which Python imports at start-up
when that folder is on PYTHONPATH: it sets discord.py's REST base and gateway address to this server
(STRETCHBOT_TEST_DISCORD_API). What it serves:
  GET  /api/v10/users/@me                  the bot user (401 once `reject_token` is set: a wrong token)
  GET  /api/v10/oauth2/applications/@me    the application
  PUT  /api/v10/applications/{id}/commands the command sync (recorded in `commands`)
  GET  /gateway/ (WebSocket)               HELLO, READY after IDENTIFY, an ACK for each heartbeat
Anything else answers 404 and is recorded in `unexpected`.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

SITECUSTOMIZE_DIR = Path(__file__).parent / "discord_offline"
APP_ID = "900000000000000001"
BOT_USER = {"id": "900000000000000002", "username": "stretchbot-test", "discriminator": "0", "avatar": None,
            "global_name": None, "bot": True, "verified": True, "mfa_enabled": False, "flags": 0}
HELLO, IDENTIFY, HEARTBEAT, HEARTBEAT_ACK, DISPATCH = 10, 2, 1, 11, 0


def _json(data: Any, status: int = 200) -> web.Response:
    # exactly "application/json": discord.py reads a body as JSON only then (aiohttp's json_response adds
    # "; charset=utf-8")
    return web.Response(body=json.dumps(data).encode(), status=status, headers={"Content-Type": "application/json"})


class FakeDiscord:
    def __init__(self) -> None:
        self.reject_token = False
        self.commands: list[Any] = []
        self.unexpected: list[str] = []
        self.identified = asyncio.Event()  # a process sent IDENTIFY and was answered READY
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._sockets: set[web.WebSocketResponse] = set()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def environ(self) -> dict[str, str]:
        """What a subprocess needs in its environment to talk to this fake instead of Discord."""
        path = os.pathsep.join(filter(None, (str(SITECUSTOMIZE_DIR), os.environ.get("PYTHONPATH"))))
        return {"STRETCHBOT_TEST_DISCORD_API": self.base_url, "PYTHONPATH": path}

    async def __aenter__(self) -> FakeDiscord:
        app = web.Application()
        app.router.add_get("/api/v10/users/@me", self._me)
        app.router.add_get("/api/v10/oauth2/applications/@me", self._application)
        app.router.add_put("/api/v10/applications/{app}/commands", self._sync)
        app.router.add_get("/gateway/", self._gateway)
        app.router.add_route("*", "/{tail:.*}", self._unknown)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.port = self._runner.addresses[0][1]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        for socket in list(self._sockets):
            await socket.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _me(self, request: web.Request) -> web.Response:
        if self.reject_token:  # Discord's answer to a wrong token
            return _json({"message": "401: Unauthorized", "code": 0}, status=401)
        return _json(BOT_USER)

    async def _application(self, request: web.Request) -> web.Response:
        return _json({"id": APP_ID, "name": "stretchbot-test", "description": "", "icon": None,
                                  "bot_public": False, "bot_require_code_grant": False, "owner": BOT_USER,
                                  "verify_key": "0" * 64, "flags": 0})

    async def _sync(self, request: web.Request) -> web.Response:
        self.commands = await request.json()
        return _json([])

    async def _unknown(self, request: web.Request) -> web.Response:
        self.unexpected.append(f"{request.method} {request.path}")
        return _json({"message": "404: Not Found", "code": 0}, status=404)

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self._sockets.add(socket)
        try:
            await socket.send_str(json.dumps({"op": HELLO, "d": {"heartbeat_interval": 41250}}))
            async for message in socket:
                if message.type is not WSMsgType.TEXT:  # discord.py sends JSON text; close frames end the loop
                    continue
                op = json.loads(message.data).get("op")
                if op == IDENTIFY:
                    ready = {"v": 10, "user": BOT_USER, "guilds": [], "session_id": "fake-session",
                             "resume_gateway_url": f"ws://127.0.0.1:{self.port}/gateway/",
                             "application": {"id": APP_ID, "flags": 0}}
                    await socket.send_str(json.dumps({"op": DISPATCH, "t": "READY", "s": 1, "d": ready}))
                    self.identified.set()
                elif op == HEARTBEAT:
                    await socket.send_str(json.dumps({"op": HEARTBEAT_ACK, "d": None}))
        finally:
            self._sockets.discard(socket)
        return socket
