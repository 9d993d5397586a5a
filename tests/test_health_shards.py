"""/healthz's gateway check with one connection and with several shards in one process (SHARD_COUNT)."""

from __future__ import annotations

from typing import Any

import aiohttp
import discord
import pytest

from tests.harness import Cutaway

pytestmark = pytest.mark.e2e


async def _healthz(cutaway: Cutaway) -> tuple[int, dict[str, Any]]:
    health = cutaway.app.health
    assert health is not None and health.port
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{health.port}/healthz") as resp:
        return resp.status, await resp.json()


async def test_single_connection_is_healthy_while_connected(cutaway: Cutaway) -> None:
    await cutaway.restart(health_port=0)
    assert not isinstance(cutaway.app, discord.AutoShardedClient)
    assert await _healthz(cutaway) == (200, {"gateway": True, "database": True})


async def test_sharded_process_is_healthy_only_while_every_shard_is_connected(cutaway: Cutaway) -> None:
    bot = await cutaway.restart(health_port=0, shard_count=2)
    assert isinstance(bot, discord.AutoShardedClient) and sorted(bot.shards) == [0, 1]
    assert sorted(tuple(i["shard"]) for i in cutaway.discord.identifies[-2:]) == [(0, 2), (1, 2)]
    assert await _healthz(cutaway) == (200, {"gateway": True, "database": True})

    shard = bot.get_shard(1)
    assert shard is not None
    await shard.disconnect()
    assert await _healthz(cutaway) == (503, {"gateway": False, "database": True})

    await shard.connect()
    await cutaway.discord.wait_for(lambda: not shard.is_closed(), timeout=10, what="shard 1 to reconnect")
    assert await _healthz(cutaway) == (200, {"gateway": True, "database": True})


async def test_a_process_running_some_shards_checks_only_its_own(cutaway: Cutaway) -> None:
    bot = await cutaway.restart(health_port=0, shard_count=3, shard_ids=[1])
    assert isinstance(bot, discord.AutoShardedClient) and sorted(bot.shards) == [1]
    assert await _healthz(cutaway) == (200, {"gateway": True, "database": True})
