"""Intake (bot.core.intake) and exports (bot.core.exports) in memory: queue order per thread, threads in
parallel, rate limits, catch-up, and every export request waiting behind the thread's pending edits."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from bot.core.exports import ExportOptions, ExportRequest
from bot.core.renders import render_nonce
from bot.nemo.events import TextEvent, ToolCallEvent
from devkit.fakes.memory import Gate, SetDraft
from tests.core_kit import ALICE, BOB, DRAFT, Core, Replies, eventually, open_core

EDITED = {
    "t": [
        {"tt": 0, "sg": [{"d": 5000, "m": {"name": "a.mp4"}}]},
        {"tt": 1, "sg": [{"d": 5000, "m": {"name": "Lo-fi", "volume": 0.35}}]},
    ],
    "d": 5000,
}
STARTED = "🎞️ Export started — I'll post the link in this thread when it's ready."


async def test_messages_of_one_thread_run_one_at_a_time_in_order(core: Core) -> None:
    await core.project(100)
    surface = core.surface(100)
    gate = Gate()
    core.backend.script(gate, TextEvent("first answer"))
    core.backend.script(TextEvent("second answer"))
    core.backend.script(TextEvent("third answer"))
    core.send(100, "one")
    second, third = core.send(100, "two"), core.send(100, "three")
    await eventually(gate.reached.is_set, what="the first turn streaming")
    await eventually(lambda: {(second.message_id, "🕒"), (third.message_id, "🕒")} <= surface.reactions)
    await core.clock.advance(120)
    assert surface.statuses[0].text == "⏳ Still working… 2 more waiting (2m 00s)"
    assert [text for _, text in core.backend.chat_messages] == ["one"]
    gate.open()
    await core.idle()
    assert [text for _, text in core.backend.chat_messages] == ["one", "two", "three"]
    answers = [text for text in surface.texts if text.endswith("answer")]
    assert answers == ["first answer", "second answer", "third answer"]
    assert surface.reactions == set()  # 🕒 comes off as each one's turn comes


async def test_a_queued_message_another_process_handles_loses_its_clock_too(core: Core) -> None:
    await core.project(100)
    surface = core.surface(100)
    gate = Gate()
    core.backend.script(gate, TextEvent("first answer"))
    core.send(100, "one")
    await eventually(gate.reached.is_set, what="the first turn streaming")
    second = core.send(100, "two")
    await eventually(lambda: (second.message_id, "🕒") in surface.reactions)
    # Another live process saw it too and claimed it first: this one skips it.
    await core.repo.heartbeat_process("other-process")
    assert await core.repo.claim_message(100, second.message_id, "other-process", alive_after=datetime.now(UTC))
    gate.open()
    await core.idle()
    assert [text for _, text in core.backend.chat_messages] == ["one"]
    assert surface.reactions == set()


async def test_different_threads_run_at_the_same_time(core: Core) -> None:
    await core.project(100)
    await core.project(200)
    gates = Gate(), Gate()
    for gate in gates:
        core.backend.script(gate, TextEvent("answer"))
    core.send(100, "work a")
    core.send(200, "work b")
    await eventually(lambda: all(gate.reached.is_set() for gate in gates), what="both turns streaming at once")
    for gate in gates:
        gate.open()
    await core.idle()
    assert core.surface(100).find("answer") and core.surface(200).find("answer")


async def test_a_flood_from_one_user_gets_one_notice_and_others_are_not_limited() -> None:
    core = await open_core(user_messages_per_minute=3)
    try:
        await core.project(100)
        accepted = [core.intake.submit(core.message(100, "credits")) for _ in range(5)]
        assert accepted == [True, True, True, False, False]
        assert core.intake.submit(core.message(100, "credits", author=BOB))
        await core.idle()
        texts = core.surface(100).texts
        notices = [text for text in texts if "faster than I can take them" in text]
        assert notices == ["🚦 You're sending messages faster than I can take them. Wait 60s, then send that again."]
        assert sum(text.startswith("💳 Credits") for text in texts) == 4
        await core.clock.advance(60)  # the window has passed
        assert core.intake.submit(core.message(100, "credits"))
    finally:
        await core.close()


async def test_a_full_thread_queue_refuses_kindly() -> None:
    core = await open_core(queue_limit=2)
    try:
        await core.project(100)
        gate = Gate()
        core.backend.script(gate, TextEvent("slow"))
        core.send(100, "one")
        await eventually(gate.reached.is_set)
        assert core.intake.submit(core.message(100, "two")) and core.intake.submit(core.message(100, "three"))
        assert not core.intake.submit(core.message(100, "four"))
        await eventually(lambda: core.surface(100).find("too many messages waiting"))
        gate.open()
        await core.idle()
        assert [text for _, text in core.backend.chat_messages] == ["one", "two", "three"]
    finally:
        await core.close()


async def test_messages_in_threads_that_are_not_projects_are_ignored(core: Core) -> None:
    core.send(300, "add music")
    await core.idle()
    assert not core.intake.submit(core.message(300, "again"))  # known now: not even queued
    assert core.backend.chat_messages == [] and core.surface(300).posts == []


async def test_catch_up_handles_what_was_posted_while_offline_in_order_once(core: Core) -> None:
    await core.project(100)
    surface = core.surface(100)
    surface.history = [core.message(100, "add a title"), core.message(100, "add music")]
    core.intake.begin_session(missed_after=0)  # start-up: the first READY
    core.intake.schedule_catch_up([100])
    live = core.send(100, "live one")
    await core.idle()
    assert [text for _, text in core.backend.chat_messages] == ["add a title", "add music", "live one"]
    core.intake.begin_session(missed_after=0)  # a second start-up finds nothing new
    core.intake.schedule_catch_up([100])
    await core.idle()
    assert len(core.backend.chat_messages) == 3
    assert (await core.sessions.get(100)).last_message_id == live.message_id  # type: ignore[union-attr]


async def test_an_export_pressed_during_an_edit_renders_the_draft_after_the_edit(core: Core) -> None:
    project = await core.project(100)
    core.backend.sessions[project.session_id].draft = DRAFT
    gate = Gate()
    core.backend.script(ToolCallEvent("edit_multitrack", {}), gate, SetDraft(EDITED), TextEvent("Added music."))
    core.send(100, "add music")
    await eventually(gate.reached.is_set, what="the edit streaming")
    replies = Replies()
    assert core.exports.request(ExportRequest(100, BOB, "en", replies))
    for _ in range(20):
        await asyncio.sleep(0)
    assert core.backend.renders == {} and replies == []  # it waits behind the edit
    gate.open()
    await core.idle()
    (render,) = core.backend.renders.values()
    assert render.draft == EDITED
    assert render.output == {"format": "mp4", "quality": "high", "resolution": "1080p"}
    assert replies == [STARTED]
    surface = core.surface(100)
    assert surface.find("Added music.") is not None
    assert surface.log.index(("post", "Added music.")) < surface.log.index(("status", "🎞️ Starting the export…"))


async def test_typed_export_runs_in_turn_without_a_chat_turn_and_posts_the_link(core: Core) -> None:
    project = await core.project(100)
    core.backend.sessions[project.session_id].draft = DRAFT
    core.backend.polls_to_complete = 2
    core.send(100, "导出")
    await core.idle()
    assert core.backend.chat_messages == []  # routed, never sent to the chat stream
    surface = core.surface(100)
    status = surface.statuses[0]
    await eventually(lambda: len(status.texts) == 2, what="the first poll's progress")
    assert status.texts[0] == "🎞️ 正在开始导出…" and status.texts[1].startswith("🎞️ 渲染中… 10%")
    # "Export started", as /export says it (issue 16: a typed export used to skip it), after the status.
    assert surface.texts[-1] == "🎞️ 已开始导出——完成后我会在这个帖子里发送链接。"
    assert surface.log.index(("status", "🎞️ 正在开始导出…")) < surface.log.index(("post", surface.texts[-1]))
    (render,) = core.backend.renders.values()
    await core.clock.advance(30)  # the next poll: the fake render has completed
    await core.renders.join(5)
    link = surface.find("视频已就绪")
    assert link is not None and link.mention_user == ALICE and link.nonce == render_nonce(render.render_id)
    url = f"https://renders.example/{render.render_id}.mp4"
    assert url in link.text and [b.url for b in link.actions if b.url] == [url]
    assert status.deleted and surface.forum_stage == "done"
    job = await core.repo.get_render(render.render_id)
    assert job is not None and job.status == "completed" and job.link_posted


async def test_export_options_and_nothing_to_export_are_answered_to_the_requester(core: Core) -> None:
    project = await core.project(100)
    replies = Replies()
    core.exports.request(ExportRequest(100, ALICE, "en", replies))
    await core.idle()
    assert replies == ["There's nothing to export yet — upload a clip and tell me what to make first."]
    core.backend.sessions[project.session_id].draft = DRAFT
    options = ExportOptions.chosen(quality="medium", resolution=None)
    core.exports.request(ExportRequest(100, ALICE, "en", replies, options))
    await core.idle()
    (render,) = core.backend.renders.values()
    assert render.output == {"format": "mp4", "quality": "medium", "resolution": "1080p"}
    assert replies[-1] == STARTED


async def test_an_export_refused_by_the_backend_is_explained_and_the_status_removed(core: Core) -> None:
    from bot.nemo.errors import ExportBlocked

    project = await core.project(100)
    core.backend.sessions[project.session_id].draft = DRAFT
    core.backend.fail["start_render"] = ExportBlocked("plan", http_status=402)
    replies = Replies()
    core.exports.request(ExportRequest(100, ALICE, "en", replies))
    await core.idle()
    assert replies[0].startswith("⚠️ Export isn't available on the free plan")
    assert core.surface(100).statuses[0].deleted
    (job,) = await core.repo.renders_for_thread(100)
    assert job.status == "failed"
