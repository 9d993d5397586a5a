"""Cancelling an export says "Export cancelled" once (issue 16): on the status message the Cancel button
sits on, for everyone in the thread; the presser gets no second copy. A render cancelled on another
process, or by the backend itself, ends the same way, never as "The export failed"."""

from __future__ import annotations

import pytest

from bot.core.actions import cancel_id
from storage import RenderStatus
from tests.core_kit import DRAFT, Core
from tests.harness import Cutaway

CANCELLED = "🛑 Export cancelled. Chat edits already made are still charged; the export itself was free."


async def test_a_render_cancelled_on_another_process_is_not_reported_again(core: Core) -> None:
    render_id = (await core.running_export()).render_id
    status = core.surface(100).statuses[0]
    core.backend.renders[render_id].status = "cancelled"  # the other process's Cancel reached the backend
    await core.repo.update_render(render_id, status=RenderStatus.CANCELLED)  # and said so on the status
    edits = len(status.texts)
    await core.clock.advance(30)
    await core.renders.join(5)
    assert len(status.texts) == edits and not status.text.startswith("❌")
    job = await core.repo.get_render(render_id)
    assert job is not None and job.status == "cancelled"


async def test_a_render_the_backend_cancelled_says_so_once_not_failed(core: Core) -> None:
    render_id = (await core.running_export()).render_id
    status = core.surface(100).statuses[0]
    core.backend.renders[render_id].status = "cancelled"
    await core.clock.advance(30)
    await core.renders.join(5)
    assert status.text == CANCELLED and [t for t in status.texts if "cancelled" in t] == [CANCELLED]
    job = await core.repo.get_render(render_id)
    assert job is not None and job.status == "cancelled"


@pytest.mark.e2e
async def test_cancel_is_said_once_in_the_thread_and_not_again_to_the_presser(cutaway: Cutaway) -> None:
    fake, nemo = cutaway.discord, cutaway.nemo
    thread_id = await cutaway.project_with_draft(DRAFT)
    nemo.render_mode = "never"
    inter = await fake.slash(thread_id, "export")
    await inter.wait_followup()
    status = await fake.wait_for_bot_message(thread_id, contains="Rendering")
    render_id = next(r.json["id"] for r in nemo.requests if r.path == "/api/render/proxy/lambda")
    press = await fake.press_button(status.id, cancel_id(render_id))
    await fake.wait_for(lambda: "cancelled" in fake.message(status.id).text, what="the status says cancelled")
    await cutaway.app.renders.join(5)
    response = await press.wait_response()
    assert response.type == 6  # acknowledged without a message of its own
    said = [m.text for m in cutaway.all_bot_messages() if "Export cancelled" in m.text]
    assert said == [CANCELLED] and press.followups == []
    assert fake.message(status.id).buttons == []  # no second press: the button went with the render


async def test_a_failure_the_backend_explains_to_users_is_shown_literally(core: Core) -> None:
    """Cutaway's engine writes its render failures for users (`userMessage`): "try again" cannot help
    when a clip is broken, so the reason is shown — as text, never as markup or a mention."""
    render_id = (await core.running_export()).render_id
    status = core.surface(100).statuses[0]
    render = core.backend.renders[render_id]
    render.status, render.error = "failed", "ffmpeg exited with 1"
    render.user_message = "“my_clip.mov” could not be read to the end; upload it again @everyone"
    await core.clock.advance(30)
    await core.renders.join(5)
    assert status.text == (
        "❌ The export failed: “my\\_clip.mov” could not be read to the end; upload it again \\@everyone"
    )
    assert "ffmpeg" not in status.text  # the log-only detail stays in the log


async def test_a_failure_without_a_reason_for_users_stays_generic(core: Core) -> None:
    render_id = (await core.running_export()).render_id
    status = core.surface(100).statuses[0]
    render = core.backend.renders[render_id]
    render.status, render.error = "failed", 'invalid draft {"code": 7}'
    await core.clock.advance(30)
    await core.renders.join(5)
    assert status.text == "❌ The export failed. Try `/export` again in a moment."
