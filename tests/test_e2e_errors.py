"""Every backend error docs/backend-contract.md lists becomes a short, friendly message; the thread stays usable."""

from __future__ import annotations

import pytest

from devkit.fakes.nemo_steps import Drop, ErrorLine, Pause, Text, ToolCall, ToolResult
from tests.core_kit import DRAFT
from tests.harness import Cutaway, assert_nothing_leaked

pytestmark = pytest.mark.e2e  # starts the bot, a fake server or a subprocess


async def _chat(cutaway: Cutaway, thread_id: int, text: str, expect: str, timeout: float = 8.0) -> str:
    await cutaway.discord.send_message(thread_id, text)
    message = await cutaway.discord.wait_for_bot_message(thread_id, contains=expect, timeout=timeout)
    return message.text


async def test_out_of_credits_shows_registration_link(cutaway: Cutaway) -> None:
    thread_id = await cutaway.new_project()
    await _chat(cutaway, thread_id, "hello", "I can add")  # creates the session and the anonymous account
    token = next(iter(cutaway.nemo.tokens))
    cutaway.nemo.account(token).available = 0
    text = await _chat(cutaway, thread_id, "add a title", "out of free credits")
    user_id = cutaway.nemo.account(token).user_id
    assert f"https://nemovideo.com/register?bind={user_id}" in text
    assert_nothing_leaked(cutaway)


async def test_unsupported_and_oversized_files_are_refused_before_download(cutaway: Cutaway) -> None:
    fake = cutaway.discord
    thread_id = await cutaway.new_project()
    exe = fake.add_attachment("setup.exe", size=1000, content_type="application/octet-stream")
    huge = fake.add_attachment("huge.mp4", size=600 * 1024 * 1024, content_type="video/mp4")
    fake_mp4 = fake.add_attachment("notreally.mp4", data=b"MZ\x90\x00" + b"\x00" * 200, content_type="video/mp4")
    empty = fake.add_attachment("empty.mp4", data=b"", content_type="video/mp4")
    await fake.send_message(thread_id, "", attachments=[exe, huge, fake_mp4, empty])
    await fake.wait_for(lambda: len([t for t in cutaway.texts(thread_id) if "Skipped" in t]) == 4, what="four refusals")
    texts = "\n".join(cutaway.texts(thread_id))
    assert "setup.exe: not a format I can use" in texts
    assert "huge.mp4: larger than 500 MB" in texts
    assert "notreally.mp4: its contents don't look like MP4" in texts
    assert "empty.mp4: the file is empty" in texts
    assert cutaway.nemo.uploads == []
    assert int(huge["id"]) not in fake.cdn.downloads


async def test_backend_rejects_upload_with_4001_and_4002(cutaway: Cutaway) -> None:
    fake = cutaway.discord
    thread_id = await cutaway.new_project()
    cutaway.nemo.fail("upload", code=4001)
    await fake.send_message(thread_id, "", attachments=[fake.add_attachment("a.mp4", size=100)])
    await fake.wait_for_bot_message(thread_id, contains="file type isn't supported")
    cutaway.nemo.fail("upload", code=4002)
    await fake.send_message(thread_id, "", attachments=[fake.add_attachment("b.mp4", size=100)])
    await fake.wait_for_bot_message(thread_id, contains="too large")
    await fake.send_message(thread_id, "", attachments=[fake.add_attachment("c.mp4", size=100)])
    await fake.wait_for_bot_message(thread_id, contains="Uploaded **c.mp4**")


async def test_export_blocked_402(cutaway: Cutaway) -> None:
    thread_id = await cutaway.new_project()
    cutaway.nemo.script_turn([ToolResult("edit_multitrack", {}, draft=DRAFT), Text("ok, drafted")])
    await _chat(cutaway, thread_id, "make a draft", "ok, drafted")
    await cutaway.idle()
    cutaway.nemo.fail("render_start", http_status=402)
    inter = await cutaway.discord.slash(thread_id, "export")
    followup = await inter.wait_followup()
    assert "free plan" in followup.text or "Export isn't available" in followup.text
    assert "not credits" in followup.text


async def test_rate_limited_twice_says_busy(cutaway: Cutaway) -> None:
    thread_id = await cutaway.new_project()
    await _chat(cutaway, thread_id, "hello", "I can add")
    cutaway.nemo.fail("credits", code=429, http_status=429, times=2)
    await _chat(cutaway, thread_id, "credits", "busy right now")
    await _chat(cutaway, thread_id, "credits", "available")


async def test_rate_limited_once_recovers_silently(cutaway: Cutaway) -> None:
    thread_id = await cutaway.new_project()
    cutaway.nemo.fail("credits", code=429, http_status=429, times=1)
    await _chat(cutaway, thread_id, "balance", "available")
    assert not any("busy" in t for t in cutaway.texts(thread_id))


async def test_expired_token_is_renewed_invisibly(cutaway: Cutaway) -> None:
    thread_id = await cutaway.new_project()
    await _chat(cutaway, thread_id, "hello", "I can add")
    cutaway.nemo.expire_all_tokens()
    await _chat(cutaway, thread_id, "add a title please", "Added the title")
    assert cutaway.nemo.tokens_issued == 2
    assert len({r.header("X-Client-Id") for r in cutaway.nemo.requests if r.header("X-Client-Id")}) == 1


async def test_lost_session_is_replaced_and_message_sent_once(cutaway: Cutaway) -> None:
    thread_id = await cutaway.new_project()
    await _chat(cutaway, thread_id, "hello", "I can add")
    old = (await cutaway.app.repo.get_project(thread_id)).session_id  # type: ignore[union-attr]
    cutaway.nemo.forget_session(old)
    await _chat(cutaway, thread_id, "add music", "started a fresh one")
    await cutaway.discord.wait_for_bot_message(thread_id, contains="Lo-fi")
    new = (await cutaway.app.repo.get_project(thread_id)).session_id  # type: ignore[union-attr]
    assert new and new != old
    assert [t for s, t in cutaway.nemo.chat_messages if t == "add music"] == ["add music"]


async def test_dropped_stream_is_never_resent_and_is_reported(cutaway: Cutaway) -> None:
    thread_id = await cutaway.new_project()
    cutaway.nemo.script_turn([ToolCall("edit_multitrack", {}), Drop()])
    text = await _chat(cutaway, thread_id, "add music", "connection to the editor dropped")
    assert "didn't re-send" in text
    assert "send it again" in text  # the state never changed
    assert [t for _, t in cutaway.nemo.chat_messages] == ["add music"]


async def test_dropped_stream_after_the_draft_changed_reports_the_change(cutaway: Cutaway) -> None:
    thread_id = await cutaway.new_project()
    cutaway.nemo.script_turn([ToolCall("edit_multitrack", {}), ToolResult("edit_multitrack", {}, draft=DRAFT), Drop()])
    text = await _chat(cutaway, thread_id, "add a clip", "connection to the editor dropped")
    assert "timeline did change" in text and "added Video: a.mp4" in text


async def test_stream_error_line_and_model_error(cutaway: Cutaway) -> None:
    thread_id = await cutaway.new_project()
    cutaway.nemo.script_turn([ToolCall("edit_multitrack", {}), ErrorLine('RuntimeError: boom "quoted"')])
    text = await _chat(cutaway, thread_id, "do it", "editor hit a problem")
    assert "boom" not in text
    await _chat(cutaway, thread_id, "try again", "I can add")


async def test_stream_that_outlives_the_timeout(cutaway: Cutaway) -> None:
    await cutaway.restart(sse_timeout_seconds=0.5)
    thread_id = await cutaway.new_project()
    cutaway.nemo.script_turn([Pause(5)])
    await _chat(cutaway, thread_id, "slow one", "stopped waiting")
    assert len(cutaway.nemo.chat_messages) == 1


async def test_trailing_temporary_issue_noise_is_hidden(cutaway: Cutaway) -> None:
    thread_id = await cutaway.new_project()
    cutaway.nemo.script_turn([Text("Added a title."), Text("I encountered a temporary issue, please retry.")])
    await _chat(cutaway, thread_id, "add a title", "Added a title")
    await cutaway.idle()
    assert not any("temporary issue" in t for t in cutaway.texts(thread_id))


async def test_backend_down_gives_friendly_message_and_bot_stays_up(cutaway: Cutaway) -> None:
    thread_id = await cutaway.new_project()
    cutaway.nemo.fail("create_session", http_status=503, times=None)
    await _chat(cutaway, thread_id, "hello", "can't reach the editing service", timeout=15)
    cutaway.nemo._failures.clear()
    await _chat(cutaway, thread_id, "hello again", "I can add")


@pytest.mark.parametrize("mode", ["fail", "no_url"])
async def test_failed_render_is_reported(cutaway: Cutaway, mode: str) -> None:
    thread_id = await cutaway.new_project()
    cutaway.nemo.script_turn([ToolResult("edit_multitrack", {}, draft=DRAFT), Text("drafted")])
    await _chat(cutaway, thread_id, "draft", "drafted")
    await cutaway.idle()
    cutaway.nemo.render_mode = mode  # type: ignore[assignment]
    await _chat(cutaway, thread_id, "export", "export failed")
    await cutaway.app.renders.join(5)
    jobs = await cutaway.app.repo.renders_for_thread(thread_id)
    assert jobs[0].status == "failed"


async def test_render_that_never_finishes_gives_up(cutaway: Cutaway) -> None:
    await cutaway.restart(render_timeout_seconds=0.5)
    thread_id = await cutaway.new_project()
    cutaway.nemo.script_turn([ToolResult("edit_multitrack", {}, draft=DRAFT), Text("drafted")])
    await _chat(cutaway, thread_id, "draft", "drafted")
    await cutaway.idle()
    cutaway.nemo.render_mode = "never"
    await _chat(cutaway, thread_id, "export", "didn't finish in time")
