"""End to end through the real discord.py client: projects, uploads, chat, heartbeats, commands."""

from __future__ import annotations

import pytest

from devkit.fakes.nemo_steps import Pause, Text, ToolCall, ToolResult
from tests.harness import Cutaway, assert_nothing_leaked

pytestmark = pytest.mark.e2e  # starts the bot, a fake server or a subprocess

DRAFT = {
    "t": [
        {"tt": 0, "sg": [{"d": 10000, "m": {"name": "beach.mp4"}}]},
        {"tt": 1, "sg": [{"d": 10000, "m": {"name": "Lo-fi", "volume": 0.35}}]},
    ],
    "d": 10000,
}


async def test_commands_synced_once_and_not_again_after_restart(cutaway: Cutaway) -> None:
    assert cutaway.discord.command_puts == 1
    names = {c["name"] for c in cutaway.discord.commands}
    assert {"export", "credits", "status", "project"} <= names
    export = next(c for c in cutaway.discord.commands if c["name"] == "export")
    assert export.get("description_localizations", {}).get("zh-CN")
    await cutaway.restart()
    assert cutaway.discord.command_puts == 1


async def test_project_command_creates_thread_with_welcome(cutaway: Cutaway) -> None:
    inter = await cutaway.discord.slash(cutaway.discord.text_channel_id, "project", {"name": "Beach trip"})
    followup = await inter.wait_followup()
    thread = next(t for t in cutaway.discord.threads.values() if t.name == "Beach trip")
    assert f"<#{thread.id}>" in followup.text
    welcome = await cutaway.discord.wait_for_bot_message(thread.id, contains="Cutaway video project")
    assert len(welcome.content.splitlines()) == 2
    project = await cutaway.app.repo.get_project(thread.id)
    assert project is not None and project.owner_id == cutaway.discord.users["alice"].id


async def test_attachment_in_project_channel_starts_project_and_uploads_intact(cutaway: Cutaway) -> None:
    fake = cutaway.discord
    att = fake.add_attachment("sunset_at_the_pier.mp4", size=3 * 1024 * 1024 + 17, content_type="video/mp4")
    message = await fake.send_message(fake.text_channel_id, "", attachments=[att])
    thread_id = await fake.wait_for(
        lambda: message.id if message.id in fake.threads else None, what="thread on the message"
    )
    assert fake.threads[thread_id].name == "sunset at the pier"
    await fake.wait_for_bot_message(thread_id, contains=r"Uploaded **sunset\_at\_the\_pier.mp4**")
    upload = cutaway.nemo.uploads[-1]
    assert upload.size == att["size"]
    assert upload.sha256 == await fake.expected_sha256(att)
    texts = cutaway.texts(thread_id)
    assert "Cutaway video project" in texts[0]


async def test_forum_post_starts_project(cutaway: Cutaway) -> None:
    fake = cutaway.discord
    att = fake.add_attachment("intro.mov", size=4096, content_type="video/quicktime")
    thread, _starter = await fake.create_forum_post(
        fake.forum_channel_id, "Travel reel", "make it upbeat", attachments=[att]
    )
    await fake.wait_for_bot_message(thread.id, contains="Uploaded **intro.mov**")
    reply = await fake.wait_for_bot_message(thread.id, contains="track")
    assert reply is not None
    project = await cutaway.app.repo.get_project(thread.id)
    assert project is not None and project.session_id
    assert cutaway.nemo.chat_messages[-1][1] == "make it upbeat"


async def test_batch_upload_of_several_attachments(cutaway: Cutaway) -> None:
    fake = cutaway.discord
    thread_id = await cutaway.new_project()
    atts = [fake.add_attachment(f"clip{i}.mp4", size=1000 + i, content_type="video/mp4") for i in range(3)]
    await fake.send_message(thread_id, "", attachments=atts)
    await fake.wait_for_bot_message(thread_id, contains="Uploaded 3 files")
    assert sorted(u.filename for u in cutaway.nemo.uploads) == ["clip0.mp4", "clip1.mp4", "clip2.mp4"]


async def test_chat_reply_is_posted_with_gui_wording_translated(cutaway: Cutaway) -> None:
    thread_id = await cutaway.new_project()
    await cutaway.discord.send_message(thread_id, "add background music that matches the mood")
    reply = await cutaway.discord.wait_for_bot_message(thread_id, contains="track")
    assert "Click Export" not in reply.text
    assert "Type **export**" in reply.text
    assert reply.allowed_mentions is not None and reply.allowed_mentions.get("parse") == []
    assert cutaway.discord.typing_calls.count(thread_id) >= 1
    assert_nothing_leaked(cutaway)


async def test_a_long_turn_shows_one_status_that_gives_way_to_one_mention(cutaway: Cutaway) -> None:
    """Through Discord: the status is a message of its own, deleted at the end, and the requester (only
    them) is pinged. Its timing (posted once, then edited every HEARTBEAT_SECONDS within Discord's
    per-thread pace) is tests/test_core_progress.py's, on a fake clock."""
    await cutaway.restart(heartbeat_seconds=0.3)
    thread_id = await cutaway.new_project()
    cutaway.nemo.script_turn([ToolCall("generate_music", {}), Pause(0.8), Text("All done: music added.")])
    await cutaway.discord.send_message(thread_id, "add music")
    await cutaway.discord.wait_for_bot_message(thread_id, contains="All done", timeout=10)
    await cutaway.idle()
    statuses = [
        m
        for m in cutaway.all_bot_messages()
        if m.channel_id == thread_id
        and ("Still working" in m.text or any("Still working" in e.content for e in m.edits))
    ]
    assert len(statuses) == 1, [m.text for m in cutaway.discord.bot_messages(thread_id)]
    status = statuses[0]
    assert any("adding music" in e.content for e in status.edits) or "adding music" in status.text
    assert status.deleted  # the status gives way to the result...
    done = await cutaway.discord.wait_for_bot_message(thread_id, contains="Done in")
    alice = cutaway.discord.users["alice"]
    assert f"<@{alice.id}>" in done.text  # ...and the requester, only them, is pinged once
    assert [str(u) for u in (done.allowed_mentions or {}).get("users", [])] == [str(alice.id)]
    reply = await cutaway.discord.wait_for_bot_message(thread_id, contains="All done")
    assert [label for label, _ in reply.buttons] == [
        "Match the mood",
        "Music quieter",
        "Vertical 9:16",
        "Square 1:1",
        "Export",
    ]


async def test_silent_close_reports_timeline_changes(cutaway: Cutaway) -> None:
    thread_id = await cutaway.new_project()
    cutaway.nemo.script_turn([ToolCall("edit_multitrack", {}), ToolResult("edit_multitrack", {"ok": 1}, draft=DRAFT)])
    await cutaway.discord.send_message(thread_id, "put lo-fi music under it")
    message = await cutaway.discord.wait_for_bot_message(thread_id, contains="What changed")
    assert "added BGM: Lo-fi (0-10s, 35%)" in message.text


async def test_silent_close_without_change_says_so(cutaway: Cutaway) -> None:
    thread_id = await cutaway.new_project()
    cutaway.nemo.script_turn([ToolCall("edit_multitrack", {})])
    await cutaway.discord.send_message(thread_id, "do the thing")
    await cutaway.discord.wait_for_bot_message(thread_id, contains="timeline didn't change")


async def _project_with_draft(cutaway: Cutaway) -> int:
    thread_id = await cutaway.new_project()
    cutaway.nemo.script_turn(
        [ToolCall("edit_multitrack", {}), ToolResult("edit_multitrack", {}, draft=DRAFT), Text("Added music.")]
    )
    await cutaway.discord.send_message(thread_id, "add music")
    await cutaway.discord.wait_for_bot_message(thread_id, contains="Added music")
    await cutaway.idle()
    return thread_id


async def test_export_command_posts_link_in_thread(cutaway: Cutaway) -> None:
    thread_id = await _project_with_draft(cutaway)
    inter = await cutaway.discord.slash(thread_id, "export")
    followup = await inter.wait_followup()
    assert "Export started" in followup.text
    link = await cutaway.discord.wait_for_bot_message(thread_id, contains="video is ready", timeout=10)
    url = next(u for label, u in link.buttons if label == "Download MP4")
    assert url.startswith(cutaway.nemo.base_url) and url.endswith(".mp4")
    assert url in link.text
    alice = cutaway.discord.users["alice"]
    assert f"<@{alice.id}>" in link.text
    assert link.allowed_mentions is not None
    assert [str(u) for u in link.allowed_mentions.get("users", [])] == [str(alice.id)]
    await cutaway.app.renders.join(5)
    jobs = await cutaway.app.repo.renders_for_thread(thread_id)
    assert jobs[0].status == "completed" and jobs[0].link_posted
    body = next(r.json for r in cutaway.nemo.requests if r.path == "/api/render/proxy/lambda")
    assert body["draft"] == DRAFT and body["output"]["format"] == "mp4"
    assert_nothing_leaked(cutaway)


async def test_export_keyword_and_progress_message(cutaway: Cutaway) -> None:
    cutaway.nemo.render_polls_to_complete = 4
    thread_id = await _project_with_draft(cutaway)
    await cutaway.discord.send_message(thread_id, "导出")
    await cutaway.discord.wait_for_bot_message(thread_id, contains="视频已就绪", timeout=10)
    status = next(
        m
        for m in cutaway.discord.all_messages()
        if m.channel_id == thread_id and any("渲染中" in e.content for e in m.edits)
    )
    assert status.deleted  # the progress message gives way to the result
    assert "导出" not in [text for _, text in cutaway.nemo.chat_messages]  # routed, never sent to chat


async def test_export_with_empty_timeline_says_so(cutaway: Cutaway) -> None:
    thread_id = await cutaway.new_project()
    inter = await cutaway.discord.slash(thread_id, "export")
    followup = await inter.wait_followup()
    assert "nothing to export" in followup.text


async def test_credits_and_status(cutaway: Cutaway) -> None:
    thread_id = await _project_with_draft(cutaway)
    inter = await cutaway.discord.slash(thread_id, "status")
    followup = await inter.wait_followup()
    assert "Timeline (2 tracks): 1. Video: beach.mp4 (0-10s) 2. BGM: Lo-fi (0-10s, 35%)" in followup.text
    inter = await cutaway.discord.slash(cutaway.discord.text_channel_id, "credits")
    followup = await inter.wait_followup()
    assert "available: **" in followup.text and followup.ephemeral
    await cutaway.discord.send_message(thread_id, "积分")
    await cutaway.discord.wait_for_bot_message(thread_id, contains="可用")
    await cutaway.discord.send_message(thread_id, "status")
    await cutaway.discord.wait_for_bot_message(thread_id, contains="📋 Timeline (2 tracks)")


async def test_export_and_status_outside_a_project_give_a_hint(cutaway: Cutaway) -> None:
    for name in ("export", "status"):
        inter = await cutaway.discord.slash(cutaway.discord.text_channel_id, name)
        response = await inter.wait_response()
        assert response is not None
        message = inter.original
        assert message is not None and "/project" in message.text and message.ephemeral


async def test_two_messages_in_one_thread_are_handled_in_order(cutaway: Cutaway) -> None:
    thread_id = await cutaway.new_project()
    cutaway.nemo.script_turn([Pause(0.6), Text("first answer")])
    cutaway.nemo.script_turn([Text("second answer")])
    await cutaway.discord.send_message(thread_id, "one")
    second = await cutaway.discord.send_message(thread_id, "two")
    await cutaway.discord.wait_for_bot_message(thread_id, contains="second answer")
    texts = cutaway.texts(thread_id)
    assert texts.index(next(t for t in texts if "first answer" in t)) < texts.index(
        next(t for t in texts if "second answer" in t)
    )
    assert [m for _, m in cutaway.nemo.chat_messages] == ["one", "two"]
    assert "🕒" in second.reactions or any("🕒" in str(r) for r in cutaway.discord.requests if "reactions" in r[1])


async def test_two_threads_run_concurrently(cutaway: Cutaway) -> None:
    a = await cutaway.new_project("A")
    b = await cutaway.new_project("B")
    for _ in range(2):
        cutaway.nemo.script_turn([Pause(1.5), Text("slow answer")])
    await cutaway.discord.send_message(a, "work a")
    await cutaway.discord.send_message(b, "work b")
    await cutaway.nemo.wait_for(lambda: sum(t.status == "running" for t in cutaway.nemo.turns) == 2, timeout=5)
    await cutaway.discord.wait_for_bot_message(a, contains="slow answer", timeout=10)
    await cutaway.discord.wait_for_bot_message(b, contains="slow answer", timeout=10)


async def test_messages_in_other_threads_are_ignored(cutaway: Cutaway) -> None:
    project_thread = await cutaway.new_project()
    thread = await cutaway.discord.create_user_thread(cutaway.discord.text_channel_id, "chit-chat")
    await cutaway.discord.send_message(thread.id, "add background music")
    # A later message in a project thread is answered: by then the earlier event was seen too.
    await cutaway.discord.send_message(project_thread, "add a title")
    await cutaway.discord.wait_for_bot_message(project_thread, contains="Added the title")
    await cutaway.idle()
    assert cutaway.discord.bot_messages(thread.id) == []
    assert [text for _, text in cutaway.nemo.chat_messages] == ["add a title"]
