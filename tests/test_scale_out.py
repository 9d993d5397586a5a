"""Several bot processes on one PostgreSQL database (real server): shard ranges, exactly-once
message handling, render takeover after SIGKILL."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from devkit.fakes.discord import FakeDiscord
from devkit.fakes.nemo import FakeNemo
from tests.harness import (
    TOKEN,
    BotProcess,
    assert_one_render_one_link,
    export_in_progress,
    finish_renders_at_next_poll,
    new_project,
)
from tests.test_storage import fresh_pg_database

pytestmark = pytest.mark.e2e  # starts the bot, a fake server or a subprocess

World = tuple[FakeDiscord, FakeNemo, str]
"""The fake Discord, the fake backend and the fresh database's DSN that the processes share."""


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with fresh_pg_database() as dsn, FakeDiscord(token=TOKEN) as discord_fake, FakeNemo() as nemo:
        yield discord_fake, nemo, dsn


async def _processes(world: World, tmp_path: Path, shard_sets: list[str], count: int) -> list[BotProcess]:
    discord_fake, nemo, dsn = world
    procs = []
    for index, shard_ids in enumerate(shard_sets):
        workdir = tmp_path / f"p{index}"
        workdir.mkdir()
        procs.append(
            BotProcess(
                discord_fake,
                nemo,
                workdir,
                DATABASE_URL=dsn,
                SHARD_COUNT=str(count),
                SHARD_IDS=shard_ids,
                RENDER_LEASE_SECONDS="1.5",
                LIVENESS_SECONDS="0.5",
            )
        )
    for proc in procs:
        await proc.start()
    return procs


def _channel_on_shard(fake: FakeDiscord, shard: int) -> int:
    guild = fake.add_guild(f"Server on shard {shard}", shard=(shard, 2))
    for user in ("alice", "bob"):
        fake.add_member(fake.users[user], guild_id=guild.id)
    return int(fake.add_text_channel("general", guild_id=guild.id).id)


async def test_two_processes_on_disjoint_shards_share_one_database(world: World, tmp_path: Path) -> None:
    fake, nemo, _ = world
    channel_a = _channel_on_shard(fake, 0)
    channel_b = _channel_on_shard(fake, 1)
    procs = await _processes(world, tmp_path, ["0", "1"], 2)
    try:
        thread_a = await new_project(fake, "Alpha", channel_id=channel_a)
        thread_b = await new_project(fake, "Beta", channel_id=channel_b)
        await fake.send_message(thread_a, "add music")
        await fake.send_message(thread_b, "add a title")
        await fake.wait_for_bot_message(thread_a, contains="Lo-fi", timeout=15)
        await fake.wait_for_bot_message(thread_b, contains="Added the title", timeout=15)
        assert sorted(t for _, t in nemo.chat_messages) == ["add a title", "add music"]
        # Each IDENTIFY asked for its own shard of two.
        assert sorted(tuple(i["shard"]) for i in fake.identifies) == [(0, 2), (1, 2)]
    finally:
        for proc in procs:
            await proc.stop()
    # One anonymous token for the whole installation, shared through the database.
    assert nemo.tokens_issued == 1


async def test_message_delivered_to_two_processes_is_handled_once(world: World, tmp_path: Path) -> None:
    fake, nemo, _ = world
    # A hand-over: two processes run the same shard range, so both receive every event.
    procs = await _processes(world, tmp_path, ["0", "0"], 1)
    try:
        thread_id = await new_project(fake, "Handover", channel_id=fake.text_channel_id)
        for text in ("add music", "add a title", "make it square 1:1"):
            await fake.send_message(thread_id, text)
        await fake.wait_for(lambda: len(nemo.chat_messages) >= 3, timeout=20)
        await fake.wait_for(lambda: all(t.status != "running" for t in nemo.turns), timeout=20)
        for proc in procs:
            await proc.stop()
        # Exactly once each (order across two processes during a hand-over is not guaranteed).
        assert sorted(t for _, t in nemo.chat_messages) == ["add a title", "add music", "make it square 1:1"]
        welcome = [m for m in fake.bot_messages(thread_id) if "Cutaway video project" in m.text]
        assert len(welcome) == 1
    finally:
        for proc in procs:
            await proc.stop()


async def test_sigkilled_process_render_is_taken_over_and_linked_once(world: World, tmp_path: Path) -> None:
    fake, nemo, _ = world
    channel_a = _channel_on_shard(fake, 0)
    procs = await _processes(world, tmp_path, ["0", "1"], 2)
    try:
        thread_id = await new_project(fake, "Takeover", channel_id=channel_a)
        await export_in_progress(fake, nemo, thread_id, polls=2)
        await procs[0].kill()
        killed_at = time.monotonic()
        finish_renders_at_next_poll(nemo)
        await fake.wait_for_bot_message(thread_id, contains="video is ready", timeout=20)
        takeover = time.monotonic() - killed_at
        print(f"render takeover after SIGKILL: {takeover:.2f}s (lease 1.5 s)")
        assert takeover < 10
        await procs[1].stop()
        assert_one_render_one_link(fake, nemo, thread_id)
    finally:
        for proc in procs:
            await proc.stop()
