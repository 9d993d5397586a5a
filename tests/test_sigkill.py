"""SIGKILL the real `python -m bot` process at each stage: nothing is lost, nothing duplicated."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from devkit.fakes.discord import FakeDiscord
from devkit.fakes.nemo import FakeNemo
from devkit.fakes.nemo_steps import Pause, Text, ToolResult
from tests.harness import TOKEN, BotProcess

pytestmark = pytest.mark.e2e  # starts the bot, a fake server or a subprocess

DRAFT = {"t": [{"tt": 0, "sg": [{"d": 5000, "m": {"name": "a.mp4"}}]}], "d": 5000}


@pytest.fixture
async def bot_process(tmp_path: Path) -> AsyncIterator[BotProcess]:
    async with FakeDiscord(token=TOKEN) as discord_fake, FakeNemo() as nemo:
        process = BotProcess(discord_fake, nemo, tmp_path)
        try:
            yield process
        finally:
            try:
                await process.stop()
            finally:
                for index, log in enumerate(process.logs):  # shown by pytest when a test fails
                    print(f"--- bot process run {index} ---\n{log[-4000:]}")


async def _project(bot: BotProcess) -> int:
    inter = await bot.discord.slash(bot.discord.text_channel_id, "project", {"name": "Kill test"})
    await inter.wait_followup(timeout=15)
    thread = next(t for t in bot.discord.threads.values() if t.name == "Kill test")
    await bot.discord.wait_for_bot_message(thread.id, contains="Cutaway video project", timeout=15)
    return int(thread.id)


async def test_kill_during_upload_reuploads_once_after_restart(bot_process: BotProcess) -> None:
    fake, nemo = bot_process.discord, bot_process.nemo
    await bot_process.start()
    thread_id = await _project(bot_process)
    fake.cdn.chunk_delay = 0.01  # ~6 MB/s: the kill lands mid-transfer
    att = fake.add_attachment("long_take.mp4", size=8 * 1024 * 1024, content_type="video/mp4")
    await fake.send_message(thread_id, "", attachments=[att])
    await nemo.wait_for(lambda: any("upload-video" in r.path for r in nemo.requests), timeout=15)
    await bot_process.kill()
    assert nemo.uploads == []  # nothing complete arrived
    fake.cdn.chunk_delay = 0.0
    await bot_process.start()
    await fake.wait_for_bot_message(thread_id, contains=r"Uploaded **long\_take.mp4**", timeout=20)
    await nemo.wait_for(lambda: len(nemo.uploads) == 1, timeout=5)
    assert nemo.uploads[0].sha256 == await fake.expected_sha256(att)
    assert len([m for m in fake.bot_messages(thread_id) if "Uploaded" in m.text]) == 1


async def test_kill_during_stream_reports_and_never_resends(bot_process: BotProcess) -> None:
    fake, nemo = bot_process.discord, bot_process.nemo
    await bot_process.start()
    thread_id = await _project(bot_process)
    nemo.script_turn([Pause(60)])
    await fake.send_message(thread_id, "make it cinematic")
    await nemo.wait_for(lambda: any(t.status == "running" for t in nemo.turns), timeout=15)
    await bot_process.kill()
    await bot_process.start()
    notice = await fake.wait_for_bot_message(thread_id, contains="restarted while working on", timeout=20)
    assert "make it cinematic" in notice.text
    await bot_process.stop()
    await bot_process.start()
    await fake.send_message(thread_id, "hello")
    await fake.wait_for_bot_message(thread_id, contains="I can add", timeout=20)
    assert [t for _, t in nemo.chat_messages] == ["make it cinematic", "hello"]
    assert len([m for m in fake.bot_messages(thread_id) if "restarted while" in m.text]) == 1


async def test_kill_during_render_poll_posts_link_once(bot_process: BotProcess) -> None:
    fake, nemo = bot_process.discord, bot_process.nemo
    await bot_process.start()
    thread_id = await _project(bot_process)
    nemo.script_turn([ToolResult("edit_multitrack", {}, draft=DRAFT), Text("drafted")])
    await fake.send_message(thread_id, "draft")
    await fake.wait_for_bot_message(thread_id, contains="drafted", timeout=15)
    nemo.render_polls_to_complete = 10_000
    await fake.send_message(thread_id, "export")
    await nemo.wait_for(
        lambda: sum(r.path.startswith("/api/render/proxy/lambda/") for r in nemo.requests) >= 3, timeout=15
    )
    await bot_process.kill()
    for job in nemo.renders.values():
        job.polls_to_complete = 1
    await bot_process.start()
    await fake.wait_for_bot_message(thread_id, contains="video is ready", timeout=20)
    await bot_process.stop()
    await bot_process.start()
    await fake.send_message(thread_id, "status")
    await fake.wait_for_bot_message(thread_id, contains="📋", timeout=20)
    assert len([m for m in fake.bot_messages(thread_id) if "video is ready" in m.text]) == 1
    assert len([r for r in nemo.requests if r.path == "/api/render/proxy/lambda"]) == 1
