"""A typed "export" says "Export started" as /export does (issue 16): it used to skip the line."""

from __future__ import annotations

import pytest

from tests.core_kit import DRAFT
from tests.harness import Cutaway


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("typed", "started"),
    [
        ("export", "🎞️ Export started — I'll post the link in this thread when it's ready."),
        ("导出", "🎞️ 已开始导出——完成后我会在这个帖子里发送链接。"),
    ],
)
async def test_a_typed_export_says_export_started_like_the_command(cutaway: Cutaway, typed: str, started: str) -> None:
    fake = cutaway.discord
    thread_id = await cutaway.project_with_draft(DRAFT)
    inter = await fake.slash(thread_id, "export")
    assert (await inter.wait_followup()).text == "🎞️ Export started — I'll post the link in this thread when it's ready."
    await fake.wait_for_bot_message(thread_id, contains="video is ready", timeout=10)
    await cutaway.app.renders.join(5)

    def said() -> int:
        return sum(m.text == started for m in fake.bot_messages(thread_id))

    before = said()  # /export's own answer is in the thread too (in English)
    await fake.send_message(thread_id, typed)
    await fake.wait_for(lambda: said() == before + 1, what=f"{started!r} for the typed export", timeout=10)
    await fake.wait_for(
        lambda: sum("video is ready" in m.text or "视频已就绪" in m.text for m in fake.bot_messages(thread_id)) == 2,
        what="the typed export's link",
        timeout=10,
    )
