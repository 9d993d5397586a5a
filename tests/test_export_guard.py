"""One export per thread at a time (issue 15, item 8): two quick /exports (or the Export button
pressed twice) start one render and post one link; the second requester is told one is running and
where. It never blocks "Export again" once the first has finished, failed or been cancelled, and it
holds across processes (the storage decides, atomically)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from bot.core.exports import ExportRequest
from bot.metrics import REGISTRY
from bot.nemo.errors import RenderFailed
from storage import RenderStatus, Repository
from tests.core_kit import ALICE, BOB, DRAFT, Core, Replies, eventually
from tests.harness import Cutaway
from tests.test_storage import backend, project, render, repo  # noqa: F401 - fixtures: every backend

STARTED = "🎞️ Export started — I'll post the link in this thread when it's ready."
LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)


def already_running(link: str) -> str:
    return (
        f"🎞️ An export is already running in this thread: {link} — I'll post its link here when it's ready. "
        "Use `/export` again after it has finished."
    )


# --- storage: the check and the insert are one step -----------------------------------------------


async def test_a_thread_stores_one_running_render_at_a_time(repo: Repository) -> None:  # noqa: F811
    await repo.create_project(project(100))
    await repo.create_project(project(200))
    assert (
        await repo.add_render_unless_running(render("a", status=RenderStatus.STARTING), started_after=LONG_AGO) is None
    )
    blocking = await repo.add_render_unless_running(render("b"), started_after=LONG_AGO)
    assert blocking is not None and blocking.render_id == "a"
    assert await repo.get_render("b") is None
    assert (
        await repo.add_render_unless_running(render("c", thread_id=200), started_after=LONG_AGO) is None
    )  # other thread
    # Older than the cut-off (past RENDER_TIMEOUT_SECONDS): it does not count.
    later = render("a").created_at + timedelta(seconds=1)
    assert await repo.add_render_unless_running(render("d"), started_after=later) is None
    assert (await repo.running_render(100, started_after=LONG_AGO)).render_id == "d"  # type: ignore[union-attr]
    for rid, status in (("a", RenderStatus.FAILED), ("d", RenderStatus.COMPLETED)):
        await repo.update_render(rid, status=status)
    assert await repo.running_render(100, started_after=LONG_AGO) is None
    assert await repo.add_render_unless_running(render("e"), started_after=LONG_AGO) is None  # "Export again"


async def test_concurrent_exports_of_one_thread_store_exactly_one(repo: Repository) -> None:  # noqa: F811
    await repo.create_project(project(100))
    results = await asyncio.gather(
        *(repo.add_render_unless_running(render(f"r{i}"), started_after=LONG_AGO) for i in range(20))
    )
    stored = [f"r{i}" for i, blocking in enumerate(results) if blocking is None]
    assert len(stored) == 1
    assert {b.render_id for b in results if b is not None} == set(stored)
    assert [j.render_id for j in await repo.renders_for_thread(100)] == stored


# --- the core: the second request is told where the first one is ----------------------------------


def refused() -> float:
    return REGISTRY.get_sample_value("cutaway_renders_total", {"outcome": "already_running"}) or 0.0


async def test_two_quick_exports_render_once_and_the_second_is_told_where(core: Core) -> None:
    project = await core.project(100)
    core.backend.sessions[project.session_id].draft = DRAFT
    core.backend.polls_to_complete = 2
    first, second = Replies(), Replies()
    before = refused()
    core.exports.request(ExportRequest(100, ALICE, "en", first))
    core.exports.request(ExportRequest(100, BOB, "en", second))  # pressed again within a second
    await core.idle()
    assert len(core.backend.renders) == 1
    status = core.surface(100).statuses[0]
    assert first == [STARTED]
    assert second == [already_running(f"https://discord.test/channels/1/100/{status.message_id}")]
    assert refused() == before + 1
    await eventually(lambda: len(status.texts) >= 2, what="the first poll")
    await core.clock.advance(30)
    await core.renders.join(5)
    assert len([p for p in core.surface(100).posts if "video is ready" in p.text]) == 1
    again = Replies()
    core.exports.request(ExportRequest(100, ALICE, "en", again))  # "Export again": the first is done
    await core.idle()
    assert again == [STARTED] and len(core.backend.renders) == 2


async def test_a_typed_export_during_a_running_one_is_told_too(core: Core) -> None:
    project = await core.project(100)
    core.backend.sessions[project.session_id].draft = DRAFT
    core.backend.polls_to_complete = 10_000
    core.send(100, "export")
    core.send(100, "导出")
    await core.idle()
    assert len(core.backend.renders) == 1
    assert core.surface(100).texts[-1].startswith("🎞️ 这个帖子里已经有一个导出正在进行：https://discord.test/")


@pytest.mark.parametrize("end", ["failed", "cancelled"])
async def test_a_failed_or_cancelled_export_does_not_block_the_next(core: Core, end: str) -> None:
    render_ = await core.running_export()
    if end == "cancelled":
        await core.renders.cancel(render_.render_id, "en")
    else:
        core.backend.fail["render_status"] = RenderFailed("boom")
        await core.clock.advance(30)
        await core.renders.join(5)
    (job,) = await core.repo.renders_for_thread(100)
    assert job.status == end
    replies = Replies()
    core.exports.request(ExportRequest(100, ALICE, "en", replies))
    await core.idle()
    assert replies == [STARTED] and len(core.backend.renders) == 2


# --- end to end: two /exports within a second through the real discord.py ------------------------


@pytest.mark.e2e
async def test_two_quick_export_commands_render_once_and_post_one_link(cutaway: Cutaway) -> None:
    fake, nemo = cutaway.discord, cutaway.nemo
    thread_id = await cutaway.project_with_draft(DRAFT)
    nemo.render_polls_to_complete = 3
    first = await fake.slash(thread_id, "export")
    second = await fake.slash(thread_id, "export", user=fake.users["bob"])
    answers = [(await first.wait_followup()).text, (await second.wait_followup()).text]
    assert "Export started" in answers[0]
    status = next(m for m in fake.bot_messages(thread_id) if any(label == "Cancel" for label, _ in m.buttons))
    guild_id = fake.threads[thread_id].guild_id
    assert answers[1] == already_running(f"https://discord.com/channels/{guild_id}/{thread_id}/{status.id}")
    await fake.wait_for_bot_message(thread_id, contains="video is ready", timeout=10)
    await cutaway.app.renders.join(5)
    assert len([r for r in nemo.requests if r.path == "/api/render/proxy/lambda"]) == 1
    assert len([m for m in fake.bot_messages(thread_id) if "video is ready" in m.text]) == 1
