"""The operators' endpoint of a running bot: `stretchbot telegram` as bot.app wires it (scheduler, sender and
/healthz + /metrics in background()), against the fake Bot API, fetched over real HTTP."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import aiohttp
import pytest
import telegram_harness
from conftest import T0
from telegram_fake import FakeBotApi
from telegram_world import ALICE, World, config_for

from bot.runtime import FakeClock

bot_api = telegram_harness.bot_api


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def fetch(port: int, path: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}{path}") as reply:
        return reply.status, await reply.text()


def sample(metrics: str, name: str) -> float:
    [value] = [float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines() if line.startswith(name)]
    return value


async def test_a_serving_bot_reports_its_health_and_metrics(
    bot_api: FakeBotApi, content, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    port = free_port()
    world = World(bot_api, content, tmp_path / "bot.db", FakeClock(T0), config_for(bot_api))
    world.environ = {"STRETCHBOT_OPS_PORT": str(port)}
    await world.start(serving=True)
    try:
        await world.send(ALICE, "/start")
        status, text = await fetch(port, "/healthz")
        health = json.loads(text)
        assert status == 200 and health["ok"] is True
        assert set(health["rounds"]) == {"scheduler", "sender"}
        assert health["outbox_depth"] == 0 and health["dead_letters"] == 0

        status, metrics = await fetch(port, "/metrics")
        assert status == 200
        assert sample(metrics, 'stretchbot_updates_handled_total{platform="telegram"}') == 1
        assert sample(metrics, 'stretchbot_messages_sent_total{kind="message",platform="telegram"}') == 1
        assert "stretchbot_timer_lateness_seconds_bucket" in metrics and "TOKEN" not in metrics
    finally:
        await world.stop()
    with pytest.raises(aiohttp.ClientConnectionError):  # stopped with the bot
        await fetch(port, "/healthz")
