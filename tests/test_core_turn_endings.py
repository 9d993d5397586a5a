"""Every way a chat turn can end says how it ended, also after the editor said something first
(issue 15, item 1), and each ending is counted (cutaway_chat_turns_total{outcome})."""

from __future__ import annotations

import pytest

from bot.metrics import REGISTRY
from bot.nemo.errors import BackendUnavailable, BadResponse
from bot.nemo.events import ErrorEvent, TextEvent, ToolCallEvent
from devkit.fakes.memory import Drop, Gate, TimeOut
from tests.core_kit import ALICE, Core, eventually

OPENING = "Sure! Let me find music that matches the mood…"
PARTIAL = (
    "⚠️ The editor hit a problem before it finished that, so it may be only partly done. "
    "Check `status`, then ask again for what's missing."
)


def turns(outcome: str) -> float:
    return REGISTRY.get_sample_value("cutaway_chat_turns_total", {"outcome": outcome}) or 0.0


@pytest.mark.parametrize(
    ("steps", "last_text", "outcome"),
    [
        ((TextEvent(OPENING), ErrorEvent("RuntimeError: quota")), PARTIAL, "error"),
        ((TextEvent(OPENING), ToolCallEvent("generate_music", {}), ErrorEvent("model error")), PARTIAL, "error"),
        ((TextEvent(OPENING), TimeOut()), "⚠️ That took longer than 15 minutes", "timeout"),
    ],
    ids=["error-line-after-text", "model-error-after-a-tool", "timeout-after-text"],
)
async def test_a_turn_that_ends_badly_after_text_says_so(
    core: Core, steps: tuple[object, ...], last_text: str, outcome: str
) -> None:
    await core.project(100)
    before = turns(outcome)
    core.backend.script(*steps)  # type: ignore[arg-type]
    core.send(100, "add background music that matches the mood")
    await core.idle()
    texts = core.surface(100).texts
    assert texts[1] == OPENING
    assert texts[-1].startswith(last_text)
    assert turns(outcome) == before + 1
    assert not await core.repo.open_turns()


async def test_a_drop_after_text_is_reported_after_the_state_checks(core: Core) -> None:
    await core.project(100)
    before = turns("dropped")
    core.backend.script(TextEvent(OPENING), Drop())
    core.send(100, "add music")
    await eventually(lambda: 30.0 in core.clock.slept, what="the first recovery wait")
    await core.clock.advance(270)
    await core.idle()
    texts = core.surface(100).texts
    assert texts[1] == OPENING and texts[-2].startswith("⚠️ The connection to the editor dropped")
    assert texts[-1] == f"⚠️ Stopped after 4m 30s, <@{ALICE}> — see above."  # the watch made it a long turn
    assert turns("dropped") == before + 1


@pytest.mark.parametrize(
    ("error", "text"),
    [
        (BackendUnavailable("503"), "⚠️ I can't reach the editing service right now."),
        (BadResponse("not json"), "⚠️ The editing service gave an answer I couldn't use."),
    ],
)
async def test_a_turn_the_backend_refuses_says_why_and_is_closed(core: Core, error: Exception, text: str) -> None:
    await core.project(100)
    before = turns("failed")
    core.backend.fail["chat"] = error  # type: ignore[assignment]
    core.send(100, "add music")
    await core.idle()
    assert core.surface(100).texts[-1].startswith(text)
    assert turns("failed") == before + 1
    assert not await core.repo.open_turns()


async def test_a_long_turn_cut_by_an_error_mentions_the_requester_without_saying_done(core: Core) -> None:
    await core.project(100)
    surface = core.surface(100)
    gate = Gate()
    core.backend.script(TextEvent(OPENING), gate, ErrorEvent("RuntimeError: boom"))
    core.send(100, "add music")
    await eventually(gate.reached.is_set, what="the turn streaming")
    await core.clock.advance(120)
    await core.clock.advance(120)
    gate.open()
    await core.idle()
    assert surface.texts[-2] == PARTIAL
    mention = surface.posts[-1]
    assert mention.text == f"⚠️ Stopped after 4m 00s, <@{ALICE}> — see above." and mention.mention_user == ALICE


async def test_a_turn_cancelled_by_shutdown_stays_open_and_is_counted(core: Core) -> None:
    await core.project(100)
    before = turns("cancelled")
    gate = Gate()
    core.backend.script(TextEvent(OPENING), gate)
    core.send(100, "add music")
    await eventually(gate.reached.is_set, what="the turn streaming")
    await core.queues.close()
    assert turns("cancelled") == before + 1
    (turn,) = await core.repo.open_turns()  # reported at the next start-up, never re-sent
    assert turn.preview == "add music"
