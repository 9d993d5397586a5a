"""`/healthz` and Prometheus `/metrics` on HEALTH_HOST:HEALTH_PORT (127.0.0.1 by default)."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable

import discord
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bot.metrics import REGISTRY

log = logging.getLogger(__name__)


def gateway_connected(client: discord.Client) -> bool:
    """Every gateway connection this process runs is open: its one websocket, or with SHARD_COUNT each
    shard of its range (discord.py's AutoShardedClient keeps them per shard and never sets `ws`)."""
    if not client.is_ready() or client.is_closed():
        return False
    if isinstance(client, discord.AutoShardedClient):
        wanted = client.shard_ids or range(client.shard_count or 0)
        shards = client.shards
        return bool(wanted) and all(i in shards and not shards[i].is_closed() for i in wanted)
    ws = client.ws
    return ws is not None and ws.open


class HealthServer:
    """Healthy means: the gateway is connected (every shard of this process) and the database answers."""

    def __init__(
        self, *, gateway_ok: Callable[[], bool], database_ok: Callable[[], Awaitable[bool]], host: str, port: int
    ) -> None:
        self._gateway_ok = gateway_ok
        self._database_ok = database_ok
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        log.info("health and metrics on http://%s:%s", self._host, self.port)

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _healthz(self, _request: web.Request) -> web.Response:
        gateway = self._gateway_ok()
        try:
            database = await self._database_ok()
        except Exception:
            log.warning("health check: database unreachable", exc_info=True)
            database = False
        body = {"gateway": gateway, "database": database}
        return web.Response(
            status=200 if gateway and database else 503, text=json.dumps(body), content_type="application/json"
        )

    async def _metrics(self, _request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST})
