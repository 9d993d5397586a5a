"""Long renders: old status messages are replaced (30046), links arrive after the 15-minute token."""

from __future__ import annotations

import pytest

from tests.core_kit import DRAFT
from tests.harness import Cutaway

pytestmark = pytest.mark.e2e  # starts the bot, a fake server or a subprocess


async def test_render_outliving_the_interaction_token_and_the_edit_window(cutaway: Cutaway) -> None:
    fake, nemo = cutaway.discord, cutaway.nemo
    thread_id = await cutaway.project_with_draft(DRAFT)
    nemo.render_polls_to_complete = 10_000
    inter = await fake.slash(thread_id, "export")
    await inter.wait_followup()
    first_status = await fake.wait_for_bot_message(thread_id, contains="Rendering")
    await fake.wait_for(lambda: len(first_status.edits) >= 2, what="progress edits")
    fake.advance_clock(2 * 3600)  # the token is long dead and the status is too old to edit (30046)
    replacement = await fake.wait_for(
        lambda: next(
            (m for m in fake.bot_messages(thread_id) if "Rendering" in m.text and m.id != first_status.id), None
        ),
        what="a fresh status message",
    )
    await fake.wait_for(lambda: first_status.deleted, what="the old status removed")
    for job in nemo.renders.values():
        job.polls_to_complete = 1
    link = await fake.wait_for_bot_message(thread_id, contains="video is ready", timeout=10)
    assert link.buttons and link.buttons[0][0] == "Download MP4"
    await cutaway.app.renders.join(5)
    assert replacement.deleted
    statuses = [m for m in fake.bot_messages(thread_id) if "Rendering" in m.text]
    assert statuses == []
