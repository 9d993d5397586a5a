"""Job UX end to end: quick actions, persistent buttons (also after a restart), cancel, history,
export options, /setup, forum tags, Chinese localisations."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import discord
import pytest

from bot.core.actions import EXPORT_ID, cancel_id, quick_action_id, quick_actions
from bot.discord_surface import make_view
from devkit.fakes.nemo_steps import Pause, Text, ToolResult
from tests.core_kit import DRAFT
from tests.harness import Cutaway

pytestmark = pytest.mark.e2e  # starts the bot, a fake server or a subprocess


async def _reply_with_actions(cutaway: Cutaway, thread_id: int) -> int:
    await cutaway.discord.send_message(thread_id, "add music")
    reply = await cutaway.discord.wait_for_bot_message(thread_id, contains="Lo-fi")
    await cutaway.discord.wait_for(lambda: reply.buttons, what="quick actions under the reply")
    return reply.id


async def test_quick_action_goes_through_the_queue_as_typed_text(cutaway: Cutaway) -> None:
    fake = cutaway.discord
    thread_id = await cutaway.new_project()
    reply_id = await _reply_with_actions(cutaway, thread_id)
    inter = await fake.press_button(reply_id, quick_action_id("quieter"), user=fake.users["bob"])
    echo = await inter.wait_response()
    assert echo is not None
    await fake.wait_for_bot_message(thread_id, contains="bob: “make the background music quieter”")
    await fake.wait_for_bot_message(thread_id, contains="music volume to")
    assert cutaway.nemo.chat_messages[-1][1] == "make the background music quieter"
    # The buttons moved to the newest reply.
    await cutaway.idle()
    assert fake.message(reply_id).buttons == []


async def test_quick_actions_follow_the_threads_language(cutaway: Cutaway) -> None:
    fake = cutaway.discord
    inter = await fake.slash(fake.text_channel_id, "project", {"name": "中文项目"})
    await inter.wait_followup()
    thread = next(t for t in fake.threads.values() if t.name == "中文项目")
    await fake.send_message(thread.id, "添加背景音乐")
    reply = await fake.wait_for_bot_message(thread.id, contains="已添加")
    await fake.wait_for(lambda: reply.buttons, what="buttons")
    assert reply.buttons[0][0] == "匹配氛围"
    await fake.press_button(reply.id, quick_action_id("vertical"))
    await fake.wait_for_bot_message(thread.id, contains="画布已改为 9:16")
    assert cutaway.nemo.chat_messages[-1][1] == "把画面比例改成竖屏 9:16"


async def test_buttons_still_work_after_a_restart(cutaway: Cutaway) -> None:
    fake = cutaway.discord
    thread_id = await cutaway.new_project()
    reply_id = await _reply_with_actions(cutaway, thread_id)
    await cutaway.restart()
    await fake.press_button(reply_id, quick_action_id("square"))
    await fake.wait_for_bot_message(thread_id, contains="Changed the canvas to 1:1")
    inter = await fake.press_button(reply_id, EXPORT_ID)
    followup = await inter.wait_followup()
    assert "Export started" in followup.text
    link = await fake.wait_for_bot_message(thread_id, contains="video is ready", timeout=10)
    assert [label for label, _ in link.buttons] == ["Download MP4", "Export again"]
    await cutaway.app.renders.join(5)
    await cutaway.restart()
    inter = await fake.press_button(link.id, EXPORT_ID)
    await inter.wait_followup()
    await fake.wait_for(
        lambda: sum("video is ready" in m.text for m in fake.bot_messages(thread_id)) == 2,
        what="the second export's link",
        timeout=10,
    )


async def test_buttons_outside_a_project_explain_themselves(cutaway: Cutaway) -> None:
    fake = cutaway.discord
    # A message of the bot's in a plain channel that carries our button.
    channel = cutaway.app.get_channel(fake.text_channel_id)
    assert isinstance(channel, discord.TextChannel)
    view = make_view(quick_actions("en"))
    assert view is not None
    stray = await channel.send("stray", view=view)
    inter = await fake.press_button(stray.id, quick_action_id("mood"))
    await inter.wait_response()
    assert inter.original is not None and "project thread" in inter.original.text and inter.original.ephemeral


async def test_export_options_and_cancel(cutaway: Cutaway) -> None:
    fake, nemo = cutaway.discord, cutaway.nemo
    thread_id = await cutaway.project_with_draft(DRAFT)
    nemo.render_mode = "never"
    inter = await fake.slash(thread_id, "export", {"quality": "medium", "resolution": "720p"})
    await inter.wait_followup()
    body = next(r.json for r in nemo.requests if r.path == "/api/render/proxy/lambda")
    assert body["output"] == {"format": "mp4", "quality": "medium", "resolution": "720p"}
    status = await fake.wait_for_bot_message(thread_id, contains="Rendering")
    render_id = body["id"]
    assert ("Cancel", cancel_id(render_id)) in status.buttons
    inter = await fake.press_button(status.id, cancel_id(render_id), user=fake.users["bob"])
    await fake.wait_for(lambda: "cancelled" in fake.message(status.id).text, what="status says cancelled")
    assert "still charged" in fake.message(status.id).text and inter.followups == []  # said once, there
    assert any(r.path == f"/api/render/proxy/lambda/{render_id}/cancel" for r in nemo.requests)
    assert fake.message(status.id).buttons == []
    job = await cutaway.app.repo.get_render(render_id)
    assert job is not None and job.status == "cancelled"


async def test_export_pressed_during_an_edit_renders_the_draft_after_the_edit(cutaway: Cutaway) -> None:
    """/export (and the Export buttons) wait behind the thread's pending edits, as a typed "export" does;
    the interaction is deferred at once, well inside Discord's 3 seconds, and answered when it starts."""
    fake, nemo = cutaway.discord, cutaway.nemo
    thread_id = await cutaway.project_with_draft(DRAFT)
    edited = {"t": [*DRAFT["t"], {"tt": 1, "sg": [{"d": 5000, "m": {"name": "Lo-fi", "volume": 0.35}}]}], "d": 5000}
    nemo.script_turn([Pause(0.6), ToolResult("edit_multitrack", {}, draft=edited), Text("Added music.")])
    await fake.send_message(thread_id, "add music")
    await nemo.wait_for(lambda: any(t.status == "running" for t in nemo.turns))
    inter = await fake.slash(thread_id, "export")
    response = await inter.wait_response()
    assert response.type == 5 and response.at - inter.created_at < 3  # deferred ("thinking…")
    followup = await inter.wait_followup(timeout=10)
    assert "Export started" in followup.text
    body = next(r.json for r in nemo.requests if r.path == "/api/render/proxy/lambda")
    assert body["draft"] == edited  # not the draft of before the edit
    texts = cutaway.texts(thread_id)
    assert texts.index("Added music.") < next(i for i, text in enumerate(texts) if "Starting the export" in text)
    await fake.wait_for_bot_message(thread_id, contains="video is ready", timeout=10)
    await cutaway.app.renders.join(5)


async def test_default_export_is_1080p_high(cutaway: Cutaway) -> None:
    fake, nemo = cutaway.discord, cutaway.nemo
    thread_id = await cutaway.project_with_draft(DRAFT)
    await fake.send_message(thread_id, "export")
    await fake.wait_for_bot_message(thread_id, contains="video is ready", timeout=10)
    body = next(r.json for r in nemo.requests if r.path == "/api/render/proxy/lambda")
    assert body["output"] == {"format": "mp4", "quality": "high", "resolution": "1080p"}


async def test_history_lists_exports_newest_first_with_pages(cutaway: Cutaway) -> None:
    fake = cutaway.discord
    thread_id = await cutaway.project_with_draft(DRAFT)

    def links_posted(count: int) -> Callable[[], bool]:
        return lambda: sum("video is ready" in m.text for m in fake.bot_messages(thread_id)) == count

    for done in range(1, 7):  # one export per thread at a time: each after the previous one's link
        await fake.send_message(thread_id, "export")
        await fake.wait_for(links_posted(done), what=f"export {done}", timeout=15)
    await cutaway.app.renders.join(5)
    inter = await fake.slash(thread_id, "history")
    await inter.wait_response()
    page = inter.original
    assert page is not None and page.ephemeral
    assert "page 1" in page.text and page.text.count(".mp4") == 5
    jobs = await cutaway.app.repo.renders_for_thread(thread_id, limit=10)
    assert jobs[0].url is not None and jobs[1].url is not None
    assert page.text.index(jobs[0].url) < page.text.index(jobs[1].url)
    older = next(cid for label, cid in page.buttons if label == "Older ▶")
    await fake.press_button(page.id, older)
    await fake.wait_for(lambda: "page 2" in fake.message(page.id).text, what="page 2")
    assert fake.message(page.id).text.count(".mp4") == 1
    assert [label for label, _ in fake.message(page.id).buttons] == ["◀ Newer"]


async def test_setup_marks_a_forum_and_needs_manage_server(cutaway: Cutaway) -> None:
    fake = cutaway.discord
    await cutaway.restart(project_channel_ids=[])
    forum = fake.add_forum_channel("reels", tags=["rendering", "done", "travel"])
    inter = await fake.slash(fake.text_channel_id, "setup", {"channel": forum.id}, user=fake.users["bob"])
    await inter.wait_response()
    assert inter.original is not None and "Manage Server" in inter.original.text
    admin = fake.add_user("admin", permissions=0x20)  # MANAGE_GUILD
    inter = await fake.slash(fake.text_channel_id, "setup", {"channel": forum.id}, user=admin)
    await inter.wait_response()
    assert inter.original is not None and "is now a project channel" in inter.original.text
    thread, _ = await fake.create_forum_post(forum.id, "Trip", "add music", tags=["travel"])
    await fake.wait_for_bot_message(thread.id, contains="Lo-fi")
    cutaway.nemo.script_turn([ToolResult("edit_multitrack", {}, draft=DRAFT), Text("drafted")])
    await fake.send_message(thread.id, "draft it")
    await fake.wait_for_bot_message(thread.id, contains="drafted")
    await fake.send_message(thread.id, "export")
    await fake.wait_for_bot_message(thread.id, contains="video is ready", timeout=10)
    names = {forum.tag_named(n).id: n for n in ("rendering", "done", "travel")}
    await fake.wait_for(
        lambda: {names.get(t) for t in fake.threads[thread.id].applied_tags} == {"travel", "done"},
        what="done tag applied, travel kept",
    )
    await cutaway.restart(project_channel_ids=[])
    assert cutaway.app.is_project_channel(fake.guild_id, forum.id)


async def test_commands_carry_chinese_localisations(cutaway: Cutaway) -> None:
    commands = {c["name"]: c for c in cutaway.discord.commands}
    assert {"export", "credits", "status", "project", "history", "setup"} <= set(commands)
    for command in commands.values():
        assert command.get("description_localizations", {}).get("zh-CN"), command["name"]
        for option in command.get("options", []):
            assert option.get("description_localizations", {}).get("zh-CN"), (command["name"], option["name"])


async def test_long_upload_shows_an_uploading_status_that_gives_way_to_the_result(cutaway: Cutaway) -> None:
    await cutaway.restart(heartbeat_seconds=0.3)
    fake = cutaway.discord
    thread_id = await cutaway.new_project()
    fake.cdn.chunk_delay = 0.02
    att = fake.add_attachment("long_take.mov", size=3 * 1024 * 1024)
    await fake.send_message(thread_id, "", attachments=[att])
    await fake.wait_for_bot_message(thread_id, contains=r"Uploaded **long\_take.mov**", timeout=15)
    status = next(
        m
        for m in cutaway.all_bot_messages()
        if m.channel_id == thread_id and ("uploading" in m.text or any("uploading" in e.content for e in m.edits))
    )
    assert "long\\_take.mov" in (status.edits[0].content if status.edits else status.text)
    await fake.wait_for(lambda: status.deleted, what="the uploading status removed")


async def test_typing_is_renewed_through_a_long_turn_and_stops_with_it(cutaway: Cutaway) -> None:
    fake = cutaway.discord
    cutaway.app.surfaces.typing_renew_seconds = 0.2
    thread_id = await cutaway.new_project()
    cutaway.nemo.script_turn([Text("listening"), Pause(1.5), Text("All done: music added")])
    await fake.send_message(thread_id, "add background music that matches the mood")
    await fake.wait_for(lambda: fake.typing_calls.count(thread_id) >= 4, what="typing renewed during the turn")
    await fake.wait_for_bot_message(thread_id, contains="All done")
    await cutaway.idle()
    renewing = [task for task in asyncio.all_tasks() if task.get_name() == f"typing-{thread_id}"]
    assert renewing == []  # the renewal ended with the turn
    assert fake.typing_calls.count(thread_id) <= 1 + 1.5 / 0.2 + 1
