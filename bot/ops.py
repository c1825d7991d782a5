"""An opt-in local HTTP endpoint for operators: /healthz and /metrics (Prometheus text), on aiohttp.

Off unless STRETCHBOT_OPS_PORT is set; it listens on 127.0.0.1 (STRETCHBOT_OPS_HOST to change that, e.g.
0.0.0.0 in a container whose probes come from outside). Every long-running command wraps its work in
`async with ops_server(settings, metrics, stats=...)`.

/healthz answers 200 with a short JSON document when every background loop had a round recently and
the database answers; 503 (same document, "ok": false) otherwise, so a supervisor can restart the bot.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from prometheus_client import CONTENT_TYPE_LATEST

from bot import ConfigError
from bot.metrics import Metrics
from bot.storage import OutboxStats

if TYPE_CHECKING:  # aiohttp is imported when the endpoint starts: a process without it (the console,
    from aiohttp import web  # check-content) skips a quarter of a second of start-up

log = logging.getLogger("stretchbot.ops")

DEFAULT_HOST = "127.0.0.1"
# a loop whose last round is older than this is stuck; both loops wake at least every minute
DEFAULT_STALE_AFTER = 180.0


@dataclass(frozen=True)
class OpsSettings:
    port: int  # 0: any free port (tests)
    host: str = DEFAULT_HOST
    # loop name -> seconds without a round before /healthz says "not ok" (others: DEFAULT_STALE_AFTER)
    stale_after: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> OpsSettings | None:
        """None when STRETCHBOT_OPS_PORT is unset or empty (the endpoint is off)."""
        raw = (environ.get("STRETCHBOT_OPS_PORT") or "").strip()
        if not raw:
            return None
        if not raw.isdigit() or not 0 < int(raw) < 65536:
            raise ConfigError(f"STRETCHBOT_OPS_PORT: {raw!r} is not a port number (e.g. 9090; unset: off)")
        host = (environ.get("STRETCHBOT_OPS_HOST") or DEFAULT_HOST).strip()
        return cls(port=int(raw), host=host)


StatsReader = Callable[[], Awaitable[OutboxStats]]


class OpsServer:
    def __init__(self, settings: OpsSettings, metrics: Metrics, stats: StatsReader | None) -> None:
        self.settings = settings
        self.metrics = metrics
        self.stats = stats
        self.port = settings.port  # the bound port once started (useful with port 0)
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        from aiohttp import web

        app = web.Application()
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/metrics", self.prometheus)
        self._runner = web.AppRunner(app, access_log=None)  # a probe every few seconds is not news
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.settings.host, self.settings.port)
        try:
            await site.start()
        except OSError as error:
            await self._runner.cleanup()
            raise ConfigError(
                f"STRETCHBOT_OPS_PORT: cannot listen on {self.settings.host}:{self.settings.port}"
                f" ({error.strerror or error})"
            ) from None
        self.port = self._runner.addresses[0][1]
        log.info("ops endpoint on http://%s:%d (/healthz, /metrics)", self.settings.host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _refresh(self) -> tuple[OutboxStats | None, str | None]:
        """Read the outbox figures into the gauges; (stats, None), or (None, why) when the database fails."""
        if self.stats is None:
            return None, None
        try:
            stats = await self.stats()
        except Exception as error:
            return None, f"{type(error).__name__}: {' '.join(str(error).split())}"[:200]
        self.metrics.outbox_depth.set(stats.depth)
        self.metrics.outbox_oldest.set(stats.oldest_age(datetime.now(UTC)))
        self.metrics.dead_letters.set(stats.dead_letters)
        return stats, None

    async def healthz(self, request: web.Request) -> web.Response:
        from aiohttp import web

        stats, problem = await self._refresh()
        rounds = self.metrics.round_ages()
        stale = {
            loop: age for loop, age in rounds.items() if age > self.settings.stale_after.get(loop, DEFAULT_STALE_AFTER)
        }
        ok = problem is None and not stale
        document: dict[str, object] = {"ok": ok, "rounds": rounds}
        if stats is not None:
            document |= {
                "outbox_depth": stats.depth,
                "outbox_oldest_seconds": round(stats.oldest_age(datetime.now(UTC)), 3),
                "dead_letters": stats.dead_letters,
            }
        if problem is not None:
            document["database"] = problem
        if stale:
            document["stale"] = sorted(stale)
        return web.json_response(document, status=200 if ok else 503)

    async def prometheus(self, request: web.Request) -> web.Response:
        from aiohttp import web

        await self._refresh()
        response = web.Response(body=self.metrics.render())
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response


@asynccontextmanager
async def ops_server(
    settings: OpsSettings | None, metrics: Metrics, *, stats: StatsReader | None = None
) -> AsyncIterator[OpsServer | None]:
    """Serve /healthz and /metrics while the block runs; nothing at all when settings is None (off)."""
    if settings is None:
        yield None
        return
    server = OpsServer(settings, metrics, stats)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
