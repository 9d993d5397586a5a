"""SIGKILL the real `python -m bot` process at each stage: nothing is lost, nothing duplicated."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from devkit.fakes.nemo_steps import Pause
from tests.harness import (
    BotProcess,
    assert_one_render_one_link,
    bot_process_against_fakes,
    export_in_progress,
    finish_renders_at_next_poll,
    new_project,
)

pytestmark = pytest.mark.e2e  # starts the bot, a fake server or a subprocess


@pytest.fixture
async def bot_process(tmp_path: Path) -> AsyncIterator[BotProcess]:
    async with bot_process_against_fakes(tmp_path) as process:
        yield process


async def test_kill_during_upload_reuploads_once_after_restart(bot_process: BotProcess) -> None:
    fake, nemo = bot_process.discord, bot_process.fake_nemo
    await bot_process.start()
    thread_id = await new_project(fake, "Kill test")
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
    fake, nemo = bot_process.discord, bot_process.fake_nemo
    await bot_process.start()
    thread_id = await new_project(fake, "Kill test")
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
    fake, nemo = bot_process.discord, bot_process.fake_nemo
    await bot_process.start()
    thread_id = await new_project(fake, "Kill test")
    await export_in_progress(fake, nemo, thread_id, polls=3)
    await bot_process.kill()
    finish_renders_at_next_poll(nemo)
    await bot_process.start()
    await fake.wait_for_bot_message(thread_id, contains="video is ready", timeout=20)
    await bot_process.stop()
    await bot_process.start()
    await fake.send_message(thread_id, "status")
    await fake.wait_for_bot_message(thread_id, contains="📋", timeout=20)
    assert_one_render_one_link(fake, nemo, thread_id)
