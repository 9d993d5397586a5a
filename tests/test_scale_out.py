"""Several bot processes on one PostgreSQL database (real server): shard ranges, exactly-once
message handling, render takeover after SIGKILL."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from devkit.fakes.discord import FakeDiscord
from devkit.fakes.nemo import FakeNemo
from devkit.fakes.nemo_steps import Text, ToolResult
from tests.harness import TOKEN, BotProcess
from tests.test_storage import fresh_pg_database

pytestmark = pytest.mark.e2e  # starts the bot, a fake server or a subprocess

DRAFT = {"t": [{"tt": 0, "sg": [{"d": 5000, "m": {"name": "a.mp4"}}]}], "d": 5000}


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[tuple[FakeDiscord, FakeNemo, str]]:
    async with fresh_pg_database() as dsn, FakeDiscord(token=TOKEN) as discord_fake, FakeNemo() as nemo:
        yield discord_fake, nemo, dsn


async def _processes(
    world: tuple[FakeDiscord, FakeNemo, str], tmp_path: Path, shard_sets: list[str], count: int
) -> list[BotProcess]:
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


async def _project_in(fake: FakeDiscord, channel_id: int, name: str) -> int:
    inter = await fake.slash(channel_id, "project", {"name": name})
    await inter.wait_followup(timeout=15)
    thread = next(t for t in fake.threads.values() if t.name == name)
    await fake.wait_for_bot_message(thread.id, contains="Cutaway video project", timeout=15)
    return int(thread.id)


async def test_two_processes_on_disjoint_shards_share_one_database(world, tmp_path: Path) -> None:
    fake, nemo, _ = world
    channel_a = _channel_on_shard(fake, 0)
    channel_b = _channel_on_shard(fake, 1)
    procs = await _processes(world, tmp_path, ["0", "1"], 2)
    try:
        thread_a = await _project_in(fake, channel_a, "Alpha")
        thread_b = await _project_in(fake, channel_b, "Beta")
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


async def test_message_delivered_to_two_processes_is_handled_once(world, tmp_path: Path) -> None:
    fake, nemo, _ = world
    # A hand-over: two processes run the same shard range, so both receive every event.
    procs = await _processes(world, tmp_path, ["0", "0"], 1)
    try:
        thread_id = await _project_in(fake, fake.text_channel_id, "Handover")
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


async def test_sigkilled_process_render_is_taken_over_and_linked_once(world, tmp_path: Path) -> None:
    fake, nemo, _ = world
    channel_a = _channel_on_shard(fake, 0)
    procs = await _processes(world, tmp_path, ["0", "1"], 2)
    try:
        thread_id = await _project_in(fake, channel_a, "Takeover")
        nemo.script_turn([ToolResult("edit_multitrack", {}, draft=DRAFT), Text("drafted")])
        await fake.send_message(thread_id, "draft")
        await fake.wait_for_bot_message(thread_id, contains="drafted", timeout=15)
        nemo.render_polls_to_complete = 10_000
        await fake.send_message(thread_id, "export")
        await nemo.wait_for(
            lambda: sum(r.path.startswith("/api/render/proxy/lambda/") for r in nemo.requests) >= 2, timeout=15
        )
        await procs[0].kill()
        killed_at = time.monotonic()
        for job in nemo.renders.values():
            job.polls_to_complete = 1
        await fake.wait_for_bot_message(thread_id, contains="video is ready", timeout=20)
        takeover = time.monotonic() - killed_at
        print(f"render takeover after SIGKILL: {takeover:.2f}s (lease 1.5 s)")
        assert takeover < 10
        await procs[1].stop()
        assert len([m for m in fake.bot_messages(thread_id) if "video is ready" in m.text]) == 1
        assert len([r for r in nemo.requests if r.path == "/api/render/proxy/lambda"]) == 1
    finally:
        for proc in procs:
            await proc.stop()
