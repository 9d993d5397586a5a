"""A render's life (bot.core.renders) in memory: resumed link posts leave the registry, the timeout runs
on the fake clock, a cancelled render stops polling."""

from __future__ import annotations

from datetime import UTC, datetime

from storage import RenderJob, RenderStatus
from tests.core_kit import ALICE, Core, eventually


async def test_a_resumed_link_post_leaves_the_registry(core: Core) -> None:
    """The render finished while the bot was down, before its link was posted: posted once at start-up,
    and the task is gone afterwards (it used to stay: the renders metric overcounted, shutdown waited)."""
    project = await core.project(100)
    now = datetime.now(UTC)
    url = "https://renders.example/render_done.mp4"
    await core.repo.add_render(
        RenderJob("render_done", 100, project.session_id, ALICE, RenderStatus.COMPLETED, now, now, url=url)
    )
    assert await core.renders.resume_all() == 1
    await core.renders.join(5)
    assert core.renders.active == 0
    (link,) = [post for post in core.surface(100).posts if url in post.text]
    assert link.mention_user == ALICE
    job = await core.repo.get_render("render_done")
    assert job is not None and job.link_posted
    assert await core.renders.resume_all() == 0  # posted once, never again


async def test_a_render_that_never_finishes_gives_up_at_the_timeout(core: Core) -> None:
    await core.running_export()
    status = core.surface(100).statuses[0]
    await eventually(lambda: len(status.texts) >= 2, what="the first progress")
    for _ in range(59):  # a poll every 30 s, up to RENDER_TIMEOUT_SECONDS (1800 s)
        await eventually(lambda: core.clock.sleeping == 1, what="the poller asleep")  # its database writes
        await core.clock.advance(30)
    await eventually(lambda: core.clock.sleeping == 1, what="the poller asleep")
    assert core.renders.active == 1 and not status.text.startswith("❌")
    await core.clock.advance(30)
    await core.renders.join(5)
    assert status.text == "❌ The export didn't finish in time. Try `/export` again later."
    (job,) = await core.repo.renders_for_thread(100)
    assert job.status == "failed"


async def test_cancel_stops_polling_and_says_so_on_the_status(core: Core) -> None:
    render = await core.running_export()
    assert await core.renders.cancel(render.render_id, "en") is None  # the status says it, once
    assert core.renders.active == 0 and render.status == "cancelled"
    # Its lease is handed back, not kept until shutdown (one entry per cancel, for the process's life).
    assert await core.repo.acquire_render_lease(render.render_id, "another-process", 60) is not None
    assert core.surface(100).statuses[0].text.startswith("🛑 Export cancelled.")
    assert not any("cancelled" in text for text in core.surface(100).texts)
    assert await core.renders.cancel(render.render_id, "en") == "This export has already finished."
