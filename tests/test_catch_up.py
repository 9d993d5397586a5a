"""A message posted while the gateway session is re-established is handled (issue 15, item 3).

Discord replays nothing to a new session: catch-up from each thread's history runs after every fresh
READY, not only the first, and runs before anything the new session delivers, so a newer message can
never move the thread's high-water mark past the missed one. Each message is handled once, in order.
"""

from __future__ import annotations

import pytest

from tests.core_kit import Core
from tests.harness import Cutaway


async def test_catch_up_runs_before_what_the_new_session_delivers(core: Core) -> None:
    await core.project(100)
    core.send(100, "hello")
    await core.idle()
    surface = core.surface(100)
    gap = core.message(100, "add a title")  # posted while no session was connected
    core.intake.begin_session(missed_after=0)  # a fresh READY: bot/app.py begins it before its first await
    live = core.send(100, "add music")  # the new session's first event, queued before the eager catch-up is
    surface.history = [gap, live]
    core.intake.schedule_catch_up([100])
    await core.idle()
    assert [text for _, text in core.backend.chat_messages] == ["hello", "add a title", "add music"]
    project = await core.sessions.get(100)
    assert project is not None and project.last_message_id == live.message_id


async def test_the_eager_catch_up_reads_a_thread_once_per_session(core: Core) -> None:
    """A thread on the eager list is caught up at READY even when nothing new arrives in it, and a live
    message after that does not read its history again."""
    await core.project(100)
    core.send(100, "hello")
    await core.idle()
    surface = core.surface(100)
    surface.history = [core.message(100, "add a title")]
    core.intake.begin_session(missed_after=0)
    core.intake.schedule_catch_up([100])
    await core.idle()
    assert [text for _, text in core.backend.chat_messages] == ["hello", "add a title"]
    surface.history.append(core.message(100, "never delivered, and not read again this session"))
    core.send(100, "add music")
    core.intake.schedule_catch_up([100])  # a second schedule in the same session reads nothing either
    await core.idle()
    assert [text for _, text in core.backend.chat_messages] == ["hello", "add a title", "add music"]


async def test_a_thread_outside_the_eager_catch_up_is_caught_up_before_its_first_job(core: Core) -> None:
    """A thread quiet for longer than the catch-up window is not read at READY; its first job of the new
    session is preceded by its catch-up, from when the gap began (older backlog is left alone)."""
    await core.project(100)
    core.send(100, "hello")
    await core.idle()
    surface = core.surface(100)
    backlog = core.message(100, "from long ago, while the bot was down")  # before the gap: left alone
    gap = core.message(100, "add a title")
    core.intake.begin_session(missed_after=gap.message_id - 1)
    live = core.send(100, "add music")
    surface.history = [backlog, gap, live]
    core.intake.schedule_catch_up([])  # the eager list does not have this thread
    await core.idle()
    assert [text for _, text in core.backend.chat_messages] == ["hello", "add a title", "add music"]
    core.send(100, "and then")  # the thread is caught up for this session: no second read
    surface.history = []
    await core.idle()
    assert [text for _, text in core.backend.chat_messages][-1] == "and then"


async def test_a_thread_started_in_the_session_needs_no_catch_up(core: Core) -> None:
    core.intake.begin_session(missed_after=0)
    core.surface(200).history = [core.message(200, "never part of this project")]
    await core.project(200)
    core.send(200, "hello")
    await core.idle()
    assert [text for _, text in core.backend.chat_messages] == ["hello"]


async def test_a_full_thread_still_gets_its_catch_up(core: Core) -> None:
    """A flood is refused at the thread's limit, but the catch-up of a new session never is: it is queued
    behind what the old session delivered (older than anything in the gap), so nothing is lost."""
    await core.project(100)
    accepted = [core.intake.submit(core.message(100, f"m{i}", author=i)) for i in range(30)]
    assert accepted.count(True) == 25  # THREAD_QUEUE_LIMIT
    gap = core.message(100, "add a title")
    core.surface(100).history = [gap]
    core.intake.begin_session(missed_after=0)
    core.intake.schedule_catch_up([100])  # the catch-up itself is never refused
    await core.idle()
    texts = [text for _, text in core.backend.chat_messages]
    assert len(texts) == 26 and texts[-1] == "add a title"


@pytest.mark.e2e
@pytest.mark.parametrize("shards", [None, 2], ids=["one-session", "two-shards"])
async def test_a_message_posted_while_the_session_is_re_established_is_answered(
    cutaway: Cutaway, shards: int | None
) -> None:
    fake = cutaway.discord
    if shards is not None:
        await cutaway.restart(shard_count=shards)  # AutoShardedBot: catch-up per shard (on_shard_connect)
    thread_id = await cutaway.new_project()
    await fake.send_message(thread_id, "hello")
    await fake.wait_for_bot_message(thread_id, contains="I can add")
    await cutaway.idle()

    async def during() -> None:
        await fake.send_message(thread_id, "add a title")  # no session is connected: never delivered

    # discord.py waits 5 s before it re-IDENTIFYs (Client.before_identify_hook).
    await fake.invalidate_session(resumable=False, during=during, timeout=30)
    await fake.send_message(thread_id, "add music")  # delivered live by the new session
    await fake.wait_for_bot_message(thread_id, contains="Added the title", timeout=15)
    await fake.wait_for_bot_message(thread_id, contains="Lo-fi", timeout=15)
    await cutaway.idle()
    assert [t for _, t in cutaway.nemo.chat_messages] == ["hello", "add a title", "add music"]


@pytest.mark.e2e
async def test_a_gap_message_in_a_thread_outside_the_eager_list_is_answered(
    cutaway: Cutaway, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bot.app.CATCH_UP_THREADS", 0)  # as for a thread quiet for longer than the window
    fake = cutaway.discord
    thread_id = await cutaway.new_project()
    await fake.send_message(thread_id, "hello")
    await fake.wait_for_bot_message(thread_id, contains="I can add")
    await cutaway.idle()

    async def during() -> None:
        await fake.send_message(thread_id, "add a title")

    await fake.invalidate_session(resumable=False, during=during, timeout=30)
    await fake.send_message(thread_id, "add music")
    await fake.wait_for_bot_message(thread_id, contains="Added the title", timeout=15)
    await fake.wait_for_bot_message(thread_id, contains="Lo-fi", timeout=15)
    await cutaway.idle()
    assert [t for _, t in cutaway.nemo.chat_messages] == ["hello", "add a title", "add music"]
