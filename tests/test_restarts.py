"""Nothing is lost or duplicated across restarts: offline messages, renders, interrupted turns."""

from __future__ import annotations

import pytest

from devkit.fakes.nemo_steps import Pause, Text, ToolResult
from tests.core_kit import DRAFT
from tests.harness import Cutaway

pytestmark = pytest.mark.e2e  # starts the bot, a fake server or a subprocess


async def test_messages_sent_while_offline_are_handled_in_order(cutaway: Cutaway) -> None:
    fake = cutaway.discord
    thread_id = await cutaway.new_project()
    await fake.send_message(thread_id, "hello")
    await fake.wait_for_bot_message(thread_id, contains="I can add")
    await cutaway.idle()
    await cutaway.stop()
    await fake.send_message(thread_id, "add a title")
    await fake.send_message(thread_id, "add music")
    await cutaway.start()
    await fake.wait_for_bot_message(thread_id, contains="background music", timeout=10)
    await cutaway.idle()
    assert [t for _, t in cutaway.nemo.chat_messages] == ["hello", "add a title", "add music"]
    await cutaway.restart()
    await cutaway.idle()
    assert len(cutaway.nemo.chat_messages) == 3


async def test_unfinished_render_is_resumed_and_linked_once(cutaway: Cutaway) -> None:
    fake, nemo = cutaway.discord, cutaway.nemo
    thread_id = await cutaway.new_project()
    nemo.script_turn([ToolResult("edit_multitrack", {}, draft=DRAFT), Text("drafted")])
    await fake.send_message(thread_id, "draft it")
    await fake.wait_for_bot_message(thread_id, contains="drafted")
    await cutaway.idle()
    nemo.render_mode = "never"
    await fake.send_message(thread_id, "export")
    await nemo.wait_for(lambda: sum(r.path.startswith("/api/render/proxy/lambda/") for r in nemo.requests) >= 2)
    await cutaway.stop()
    nemo.render_mode = "ok"
    for job in nemo.renders.values():
        job.mode = "ok"
    await cutaway.start()
    link = await fake.wait_for_bot_message(thread_id, contains="video is ready", timeout=10)
    assert link.buttons
    await cutaway.app.renders.join(5)
    await cutaway.restart()
    await cutaway.app.renders.join(5)
    assert len([m for m in fake.bot_messages(thread_id) if "video is ready" in m.text]) == 1
    assert len([r for r in nemo.requests if r.path == "/api/render/proxy/lambda"]) == 1


async def test_turn_cut_by_restart_is_reported_not_resent(cutaway: Cutaway) -> None:
    fake, nemo = cutaway.discord, cutaway.nemo
    thread_id = await cutaway.new_project()
    nemo.script_turn([Pause(30)])
    await fake.send_message(thread_id, "make a long edit")
    await nemo.wait_for(lambda: any(t.status == "running" for t in nemo.turns))
    await cutaway.stop()
    await cutaway.start()
    notice = await fake.wait_for_bot_message(thread_id, contains="restarted while working on")
    assert "make a long edit" in notice.text
    await cutaway.restart()
    await cutaway.idle()
    assert len([m for m in fake.bot_messages(thread_id) if "restarted while" in m.text]) == 1
    assert [t for _, t in nemo.chat_messages] == ["make a long edit"]
