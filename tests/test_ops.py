"""The operators' endpoint (bot/ops.py), fetched over real HTTP: /healthz and /metrics, off by default."""

from __future__ import annotations

import json

import aiohttp
import pytest
from prometheus_client import CONTENT_TYPE_LATEST

from bot import ConfigError
from bot.metrics import Metrics
from bot.ops import OpsSettings, ops_server
from bot.storage import OutgoingMessage, UserKey


async def fetch(server, path: str) -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{server.port}{path}") as reply:
        return reply.status, reply.headers["Content-Type"], await reply.text()


async def queue(store, count: int) -> None:
    key = UserKey("telegram", "7")
    assert await store.save(
        key,
        expected_version=0,
        state_json="{}",
        address=None,
        profile={},
        schedule=[],
        cancel=[],
        history=[],
        outbox=[OutgoingMessage("telegram:7", {"kind": "message", "safety": False})] * count,
    )


async def test_healthz_reports_the_outbox_and_the_loops(store):
    await queue(store, 3)
    metrics = Metrics()
    metrics.beat("sender")
    async with ops_server(OpsSettings(port=0), metrics, stats=store.outbox_stats) as server:
        status, kind, text = await fetch(server, "/healthz")
    assert status == 200 and kind.startswith("application/json")
    document = json.loads(text)
    assert document["ok"] is True and document["outbox_depth"] == 3 and document["dead_letters"] == 0
    assert set(document["rounds"]) == {"sender"} and document["rounds"]["sender"] < 5


async def test_healthz_says_not_ok_for_a_stuck_loop_or_a_lost_database(store):
    metrics = Metrics()
    metrics.beat("scheduler")
    settings = OpsSettings(port=0, stale_after={"scheduler": 0.0})
    async with ops_server(settings, metrics, stats=store.outbox_stats) as server:
        status, _, text = await fetch(server, "/healthz")
        assert status == 503 and '"stale": ["scheduler"]' in text

    async def broken():
        raise ConnectionRefusedError("connection refused")

    async with ops_server(OpsSettings(port=0), Metrics(), stats=broken) as server:
        status, _, text = await fetch(server, "/healthz")
    assert status == 503 and "ConnectionRefusedError: connection refused" in text


async def test_metrics_are_prometheus_text(store):
    await queue(store, 2)
    metrics = Metrics()
    metrics.sent.labels("telegram", "cue").inc(5)
    metrics.timer_lateness.observe(0.3)
    metrics.updates.labels("telegram").inc()
    async with ops_server(OpsSettings(port=0), metrics, stats=store.outbox_stats) as server:
        status, kind, text = await fetch(server, "/metrics")
    assert status == 200 and kind == CONTENT_TYPE_LATEST  # the Prometheus text format
    lines = text.splitlines()
    assert 'stretchbot_messages_sent_total{kind="cue",platform="telegram"} 5.0' in lines
    assert "stretchbot_outbox_depth 2.0" in lines
    assert 'stretchbot_timer_lateness_seconds_bucket{le="0.5"} 1.0' in lines
    assert 'stretchbot_updates_handled_total{platform="telegram"} 1.0' in lines
    assert "# TYPE stretchbot_send_seconds histogram" in lines


async def test_the_endpoint_is_off_unless_a_port_is_set():
    assert OpsSettings.from_env({}) is None and OpsSettings.from_env({"STRETCHBOT_OPS_PORT": " "}) is None
    assert OpsSettings.from_env({"STRETCHBOT_OPS_PORT": "9090"}) == OpsSettings(port=9090, host="127.0.0.1")
    assert OpsSettings.from_env({"STRETCHBOT_OPS_PORT": "9090", "STRETCHBOT_OPS_HOST": "0.0.0.0"}).host == "0.0.0.0"
    async with ops_server(None, Metrics()) as server:
        assert server is None
    for bad in ("http", "0", "70000"):
        with pytest.raises(ConfigError, match=f"STRETCHBOT_OPS_PORT: '{bad}' is not a port number"):
            OpsSettings.from_env({"STRETCHBOT_OPS_PORT": bad})


async def test_a_port_in_use_is_one_clear_line():
    async with ops_server(OpsSettings(port=0), Metrics()) as first:
        with pytest.raises(ConfigError) as raised:
            async with ops_server(OpsSettings(port=first.port), Metrics()):
                pass
    assert f"cannot listen on 127.0.0.1:{first.port}" in str(raised.value) and "\n" not in str(raised.value)
