"""A turn that ends in an error says so over the real wire, also after a friendly opening line
(issue 15, item 1): ADK's `{"error": …}` last line and a model `errorCode` event alike."""

from __future__ import annotations

import pytest

from devkit.fakes.nemo_steps import ErrorLine, ModelError, Text, ToolCall
from tests.harness import Cutaway, assert_nothing_leaked

pytestmark = pytest.mark.e2e  # starts the bot, a fake server or a subprocess

OPENING = "Sure! Let me find music that matches the mood…"


@pytest.mark.parametrize(
    "failure",
    [ErrorLine('RuntimeError: quota "exceeded"'), ModelError("MALFORMED_FUNCTION_CALL", "bad call")],
    ids=["error-line", "model-error"],
)
async def test_an_error_after_the_opening_line_is_reported(cutaway: Cutaway, failure: object) -> None:
    fake = cutaway.discord
    thread_id = await cutaway.new_project()
    cutaway.nemo.script_turn([Text(OPENING), ToolCall("generate_music", {}), failure])  # type: ignore[list-item]
    await fake.send_message(thread_id, "add background music that matches the mood")
    notice = await fake.wait_for_bot_message(thread_id, contains="hit a problem before it finished")
    texts = cutaway.texts(thread_id)
    assert texts.index(OPENING) < texts.index(notice.text)
    assert "quota" not in notice.text and "MALFORMED" not in notice.text
    await cutaway.idle()
    assert not await cutaway.app.repo.open_turns()
    assert_nothing_leaked(cutaway)
