"""A render held by a process known to be gone is taken over at once (issue 15, item 2).

Known to be gone: its liveness row went stale (or is missing), or it is an earlier incarnation of this
installation's shard range, which a restart replaces. The storage rule runs against every backend
(SQLite always, PostgreSQL when a server is available); the restart runs the real `python -m bot`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.core.liveness import Liveness, identity_of, new_incarnation, shard_identity
from devkit.fakes.memory import MemoryRender
from storage import RenderJob, RenderStatus, Repository, open_sqlite
from tests.core_kit import ALICE, Core
from tests.harness import (
    DRAFT,
    BotProcess,
    assert_one_render_one_link,
    bot_process_against_fakes,
    export_in_progress,
    finish_renders_at_next_poll,
    new_project,
)
from tests.test_storage import backend, project, render, repo  # noqa: F401 - fixtures: every backend

# --- storage: who may take a held lease ---------------------------------------------------------


async def test_a_lease_held_by_a_process_with_a_stale_or_missing_liveness_row_is_taken(repo: Repository) -> None:  # noqa: F811
    await repo.create_project(project(100))
    for rid in ("stale", "missing", "alive"):
        await repo.add_render(render(rid))
    await repo.heartbeat_process("proc-alive")
    await repo.heartbeat_process("proc-stale")
    assert await repo.acquire_render_lease("stale", "proc-stale", 600) is not None
    assert await repo.acquire_render_lease("missing", "proc-never-seen", 600) is not None
    assert await repo.acquire_render_lease("alive", "proc-alive", 600) is not None
    # Without a liveness cut-off every valid lease holds, as before.
    assert await repo.acquire_render_lease("stale", "proc-new", 600) is None
    assert await repo.claimable_renders() == []
    # proc-stale stops refreshing its row: after the cut-off it is gone, as is a holder with no row at all.
    await asyncio.sleep(0.01)
    cutoff = datetime.now(UTC)
    await repo.heartbeat_process("proc-alive")
    await repo.heartbeat_process("proc-new")
    claimable = await repo.claimable_renders(alive_after=cutoff)
    assert sorted(j.render_id for j in claimable) == ["missing", "stale"]
    taken = await repo.acquire_render_lease("stale", "proc-new", 600, alive_after=cutoff)
    assert taken is not None
    assert await repo.renew_render_lease("stale", "proc-stale", taken - 1, 600) is False  # fenced off
    assert await repo.acquire_render_lease("missing", "proc-new", 600, alive_after=cutoff) is not None
    assert await repo.acquire_render_lease("alive", "proc-new", 600, alive_after=cutoff) is None  # alive: held
    assert await repo.claimable_renders(alive_after=cutoff) == []


async def test_a_lease_held_by_an_incarnation_listed_as_gone_is_taken(repo: Repository) -> None:  # noqa: F811
    await repo.create_project(project(100))
    await repo.add_render(render("r-1"))
    await repo.add_render(render("r-2", created_at=render("x").created_at + timedelta(seconds=1)))
    await repo.heartbeat_process("shards=all|host:1:aaaa")
    await repo.heartbeat_process("shards=all|host:1:bbbb")
    assert await repo.acquire_render_lease("r-1", "shards=all|host:1:aaaa", 600) is not None
    assert await repo.acquire_render_lease("r-2", "shards=all|host:1:cccc", 600) is not None
    # A fresh row does not matter: the restart knows its predecessor is gone.
    gone = {"shards=all|host:1:aaaa"}
    assert [j.render_id for j in await repo.claimable_renders(gone=gone)] == ["r-1"]
    assert await repo.acquire_render_lease("r-1", "shards=all|host:1:bbbb", 600, gone=gone) is not None
    assert await repo.acquire_render_lease("r-2", "shards=all|host:1:bbbb", 600, gone=gone) is None
    assert await repo.claimable_renders(gone=gone) == []


async def test_many_newcomers_take_a_gone_holders_lease_exactly_once(repo: Repository) -> None:  # noqa: F811
    await repo.create_project(project(100))
    await repo.add_render(render("r-1"))
    assert await repo.acquire_render_lease("r-1", "dead", 600) is not None
    owners = [f"proc-{i}" for i in range(20)]
    for owner in owners:
        await repo.heartbeat_process(owner)
    cutoff = datetime.now(UTC) - timedelta(minutes=1)
    for _ in range(3):
        await repo.release_render_lease("r-1", "x", 0)  # no effect: not the holder
        results = await asyncio.gather(
            *(repo.acquire_render_lease("r-1", o, 600, alive_after=cutoff, gone={"dead"}) for o in owners)
        )
        assert sum(r is not None for r in results) == 1
        winner = owners[next(i for i, r in enumerate(results) if r is not None)]
        # the winner is alive: nobody takes it from them
        assert await repo.acquire_render_lease("r-1", "dead-2", 600, alive_after=cutoff, gone={"dead"}) is None
        await repo.forget_process(winner)  # the winner dies in turn
        owners.remove(winner)


async def test_known_processes_lists_liveness_rows(repo: Repository) -> None:  # noqa: F811
    assert await repo.known_processes() == []
    await repo.heartbeat_process("a")
    await repo.heartbeat_process("b")
    assert sorted(await repo.known_processes()) == ["a", "b"]
    await repo.forget_process("a")
    assert await repo.known_processes() == ["b"]


# --- the incarnation and its predecessors ---------------------------------------------------------


def test_an_incarnation_starts_with_its_shard_identity() -> None:
    assert shard_identity(None) == "shards=all"
    assert shard_identity(4) == "shards=*/4"
    assert shard_identity(4, [3, 1]) == "shards=1,3/4"
    incarnation = new_incarnation(shard_identity(2, [0]))
    assert identity_of(incarnation) == "shards=0/2" and incarnation != new_incarnation(shard_identity(2, [0]))
    assert identity_of("host:12:abcdef12") is None  # rows of older versions: never a predecessor


async def test_a_restart_replaces_the_earlier_incarnations_of_its_own_shard_range(tmp_path: Path) -> None:
    store = await open_sqlite(tmp_path / "bot.sqlite3")
    try:
        old = new_incarnation("shards=0/2")
        other_shard = new_incarnation("shards=1/2")
        for incarnation in (old, other_shard, "host:1:legacy"):
            await store.heartbeat_process(incarnation)
        liveness = Liveness(store, interval=5.0, identity="shards=0/2")
        await liveness.start()
        try:
            assert liveness.predecessors == {old}
            assert liveness.incarnation in await store.known_processes()
        finally:
            await liveness.stop()
        assert liveness.incarnation not in await store.known_processes()
    finally:
        await store.close()


# --- the core: a restart's sweep takes the render over at once ------------------------------------


async def test_a_render_of_the_replaced_incarnation_is_resumed_at_once(core: Core) -> None:
    project = await core.project(100)
    core.backend.sessions[project.session_id].draft = DRAFT
    now = datetime.now(UTC)
    job = RenderJob("render_old", 100, project.session_id, ALICE, RenderStatus.PROCESSING, now, now, language="en")
    await core.repo.add_render(job)
    core.backend.renders["render_old"] = MemoryRender("render_old", project.session_id, DRAFT, {"format": "mp4"})
    previous = "shards=all|host:1:previous"
    await core.repo.heartbeat_process(previous)  # its row is fresh: SIGKILL a moment ago
    assert await core.repo.acquire_render_lease("render_old", previous, 60) is not None  # a 60 s lease
    assert await core.renders.resume_all() == 0  # not known to be gone: the lease holds
    core.renders._liveness.predecessors = frozenset({previous})  # type: ignore[union-attr]
    assert await core.renders.resume_all() == 1  # this process is its restart: taken over at once
    await core.renders.join(5)
    assert core.surface(100).find("https://renders.example/render_old.mp4") is not None


# --- end to end: `python -m bot` SIGKILLed during an export, restarted ----------------------------


@pytest.fixture
async def bot_process(tmp_path: Path) -> AsyncIterator[BotProcess]:
    # Leases and liveness far longer than the test may wait: only knowing the predecessor is gone helps.
    env = {"RENDER_LEASE_SECONDS": "60", "LIVENESS_SECONDS": "30", "RENDER_POLL_SECONDS": "0.2"}
    async with bot_process_against_fakes(tmp_path, **env) as process:
        yield process


@pytest.mark.e2e
async def test_a_restarted_bot_posts_the_link_without_waiting_for_its_dead_predecessors_lease(
    bot_process: BotProcess,
) -> None:
    fake, nemo = bot_process.discord, bot_process.fake_nemo
    await bot_process.start()
    thread_id = await new_project(fake, "Restart export")
    await export_in_progress(fake, nemo, thread_id, polls=2)
    await bot_process.kill()
    finish_renders_at_next_poll(nemo)  # done by now: the link can come at the first poll
    restarted = time.monotonic()
    await bot_process.start()
    await fake.wait_for_bot_message(thread_id, contains="video is ready", timeout=20)
    waited = time.monotonic() - restarted
    print(f"link after restart: {waited:.2f}s (lease 60 s, liveness window 90 s)")
    await bot_process.stop()
    assert_one_render_one_link(fake, nemo, thread_id)
