"""The fake gateway's heartbeats: the real bot measures a sane latency and never "can't keep up"."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest

from devkit.fakes.discord import FakeDiscord
from devkit.fakes.discord_gateway import HEARTBEAT_ACK_DELAY
from devkit.fakes.nemo import FakeNemo
from tests.harness import TOKEN, Cutaway, restored_discord_globals

pytestmark = pytest.mark.e2e


def heartbeats_reached(fake: FakeDiscord, count: int) -> Callable[[], bool]:
    """For `wait_for`: the fake gateway has received `count` heartbeats."""
    return lambda: fake.gateway.heartbeats >= count


async def test_heartbeat_ack_takes_a_round_trip_like_discords() -> None:
    """An ACK sent at once can beat discord.py's keep-alive thread to recording when it sent the
    heartbeat; it then measures from the previous beat (a whole interval "behind")."""
    async with (
        FakeDiscord(token=TOKEN) as fake,
        aiohttp.ClientSession() as http,
        http.ws_connect(fake.gateway_url) as ws,
    ):
        hello = json.loads((await ws.receive(timeout=5)).data)
        assert hello["op"] == 10
        for _ in range(3):
            sent = time.monotonic()
            await ws.send_str(json.dumps({"op": 1, "d": None}))
            ack = json.loads((await ws.receive(timeout=5)).data)
            waited = time.monotonic() - sent
            assert ack["op"] == 11
            assert waited >= HEARTBEAT_ACK_DELAY * 0.9, waited


async def test_the_bot_measures_a_small_latency_over_several_heartbeats(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    interval = 0.4
    caplog.set_level(logging.WARNING, logger="discord")
    with restored_discord_globals():
        async with (
            FakeDiscord(token=TOKEN, heartbeat_interval_ms=int(interval * 1000)) as fake,
            FakeNemo() as nemo,
        ):
            cutaway = Cutaway(discord=fake, nemo=nemo, db=tmp_path / "bot.sqlite3")
            bot = await cutaway.start()
            try:
                latencies = []
                for beat in range(2, 9):  # the first heartbeat goes out with HELLO; sample before each later one
                    await fake.wait_for(heartbeats_reached(fake, beat), timeout=10, what="heartbeat")
                    latencies.append(bot.latency)
            finally:
                await cutaway.stop()
    assert all(latency < interval / 2 for latency in latencies), latencies
    assert not [r for r in caplog.records if "Can't keep up" in r.getMessage()]
