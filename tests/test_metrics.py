"""What the bot does is counted for Prometheus (issue 15, item 9): messages handled by kind, chat turns
and uploads and renders by outcome, errors users were told about by kind, and how long backend streams
take (to the first event and in all). Fast tests read the registry; the end-to-end test reads GET
/metrics on HEALTH_PORT. Counters are per process, so each test compares before and after."""

from __future__ import annotations

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.metrics import REGISTRY, error_kind
from bot.nemo.errors import BackendUnavailable
from bot.nemo.events import ErrorEvent, TextEvent
from devkit.fakes.nemo_steps import Text, ToolResult
from tests.core_kit import DRAFT, Core
from tests.harness import Cutaway

MP4 = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_error_kinds_are_snake_case() -> None:
    assert error_kind(BackendUnavailable("x")) == "backend_unavailable"
    assert error_kind("internal") == "internal"


async def test_messages_turns_uploads_renders_and_errors_are_counted(core: Core) -> None:
    from bot.core.ports import IncomingFile

    project = await core.project(100)
    names = [
        ("cutaway_messages_handled_total", {"kind": kind}) for kind in ("chat", "files", "credits", "status", "export")
    ] + [
        ("cutaway_chat_turns_total", {"outcome": "answered"}),
        ("cutaway_chat_turns_total", {"outcome": "error"}),
        ("cutaway_uploads_total", {"outcome": "uploaded"}),
        ("cutaway_uploads_total", {"outcome": "rejected"}),
        ("cutaway_renders_total", {"outcome": "completed"}),
        ("cutaway_errors_total", {"kind": "stream_error"}),
        ("cutaway_errors_total", {"kind": "backend_unavailable"}),
    ]
    before = {(n, tuple(lb.items())): sample(n, **lb) for n, lb in names}
    core.backend.script(TextEvent("Added a title."))
    core.backend.script(ErrorEvent("boom"))
    core.send(100, "add a title")
    core.send(100, "add music")
    url = "https://cdn.discordapp.com/attachments/1/2/clip.mp4"
    core.attachments.files[url] = MP4
    files = (IncomingFile("clip.mp4", url, len(MP4), "video/mp4"), IncomingFile("setup.exe", url, 10))
    core.send(100, files=files)
    core.send(100, "credits")
    await core.idle()
    core.backend.fail["state"] = BackendUnavailable("503")
    core.send(100, "status")
    await core.idle()
    core.backend.sessions[project.session_id].draft = DRAFT
    core.send(100, "export")
    await core.idle()
    await core.renders.join(5)
    after = {(n, tuple(lb.items())): sample(n, **lb) for n, lb in names}
    delta = {f"{n}{dict(lb)}": after[(n, lb)] - before[(n, lb)] for n, lb in before}
    assert delta == {
        "cutaway_messages_handled_total{'kind': 'chat'}": 2,
        "cutaway_messages_handled_total{'kind': 'files'}": 1,
        "cutaway_messages_handled_total{'kind': 'credits'}": 1,
        "cutaway_messages_handled_total{'kind': 'status'}": 1,
        "cutaway_messages_handled_total{'kind': 'export'}": 1,
        "cutaway_chat_turns_total{'outcome': 'answered'}": 1,
        "cutaway_chat_turns_total{'outcome': 'error'}": 1,
        "cutaway_uploads_total{'outcome': 'uploaded'}": 1,
        "cutaway_uploads_total{'outcome': 'rejected'}": 1,
        "cutaway_renders_total{'outcome': 'completed'}": 1,
        "cutaway_errors_total{'kind': 'stream_error'}": 1,
        "cutaway_errors_total{'kind': 'backend_unavailable'}": 1,
    }


@pytest.mark.e2e
async def test_metrics_endpoint_serves_the_counters_and_the_stream_timing(cutaway: Cutaway) -> None:
    await cutaway.restart(health_port=0)
    health = cutaway.app.health
    assert health is not None and health.port

    async def scrape() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{health.port}/metrics") as resp:
            assert resp.status == 200
            text = await resp.text()
        return {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
        }

    fake, nemo = cutaway.discord, cutaway.nemo
    before = await scrape()
    thread_id = await cutaway.new_project()
    nemo.script_turn([ToolResult("edit_multitrack", {}, draft=DRAFT), Text("drafted")])
    await fake.send_message(thread_id, "draft it")
    await fake.wait_for_bot_message(thread_id, contains="drafted")
    att = fake.add_attachment("clip.mp4", size=4096, content_type="video/mp4")
    await fake.send_message(thread_id, "", attachments=[att])
    await fake.wait_for_bot_message(thread_id, contains="Uploaded")
    await fake.send_message(thread_id, "export")
    await fake.wait_for_bot_message(thread_id, contains="video is ready", timeout=10)
    await cutaway.app.renders.join(5)
    after = await scrape()

    def grew(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert grew("cutaway_messages_handled_total", kind="chat") == 1
    assert grew("cutaway_messages_handled_total", kind="files") == 1
    assert grew("cutaway_messages_handled_total", kind="export") == 1
    assert grew("cutaway_chat_turns_total", outcome="answered") == 1
    assert grew("cutaway_uploads_total", outcome="uploaded") == 1
    assert grew("cutaway_renders_total", outcome="completed") == 1
    for phase in ("open", "first_event", "whole"):
        assert grew("cutaway_backend_stream_seconds_count", phase=phase) == 1
    assert grew("cutaway_backend_request_seconds_count", endpoint="/api/upload-video/nemo_agent/me/{id}") == 1
