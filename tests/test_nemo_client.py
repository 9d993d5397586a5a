"""The NemoVideo client against the fake backend: every endpoint, error code and recovery."""

from __future__ import annotations

import hashlib
import tracemalloc
from collections.abc import AsyncIterator

import pytest

from bot.nemo import errors
from bot.nemo.client import UploadSource
from bot.nemo.events import EndEvent, ErrorEvent, StateDeltaEvent, TextEvent, ToolCallEvent, ToolResultEvent
from bot.nemo.models import RenderProgress
from devkit.fakes.nemo import FakeNemo, RecordedRequest
from devkit.fakes.nemo_steps import Drop, ErrorLine, Heartbeat, Pause, Text, ToolCall, ToolResult

pytestmark = pytest.mark.e2e  # starts the bot, a fake server or a subprocess

DRAFT = {"t": [{"tt": 0, "sg": [{"d": 10000, "m": {"name": "clip"}}]}], "d": 10000}
# The client sends `output` as given (the export defaults are bot.core.exports.ExportOptions).
OUTPUT = {"format": "mp4", "quality": "high", "resolution": "1080p"}


def api_requests(fake: FakeNemo, path_part: str) -> list[RecordedRequest]:
    return [r for r in fake.requests if path_part in r.path]


async def test_anonymous_token_is_fetched_once_and_sent_with_attribution(fake_nemo, make_client, repo):
    client = make_client()
    session = await client.create_session("en")
    await client.credits()
    await client.state(session.session_id)
    assert fake_nemo.tokens_issued == 1
    auth = await repo.get_auth()
    assert auth is not None and auth.token and auth.client_id
    for request in fake_nemo.requests:
        assert request.has_attribution, request.path
        assert request.header("X-Skill-Source") == "background-music-to"
        if "anonymous-token" in request.path:
            assert request.header("X-Client-Id") == auth.client_id
            assert request.header("Authorization") is None
        else:
            assert request.header("Authorization") == f"Bearer {auth.token}"


async def test_token_survives_a_new_client_object(fake_nemo, make_client):
    await make_client().credits()
    await make_client().credits()
    assert fake_nemo.tokens_issued == 1


async def test_expired_token_is_renewed_with_the_same_client_id(fake_nemo, make_client, repo):
    client = make_client()
    await client.credits()
    first = await repo.get_auth()
    assert first is not None and first.token
    fake_nemo.expire_token(first.token)
    credits = await client.credits()
    assert credits.available == 100
    second = await repo.get_auth()
    assert second is not None
    assert second.client_id == first.client_id and second.token != first.token
    client_ids = {r.header("X-Client-Id") for r in api_requests(fake_nemo, "anonymous-token")}
    assert client_ids == {first.client_id}


async def test_static_token_never_asks_for_an_anonymous_one(repo, http):
    from bot.config import BackendSettings
    from bot.credentials import RepositoryCredentials
    from bot.nemo.auth import TokenProvider
    from bot.nemo.client import NemoClient

    async with FakeNemo(registered_tokens={"nmv_usr_operator": 5000}) as fake:
        settings = BackendSettings(api_base=fake.base_url, rate_limit_retry_seconds=30.0, sse_timeout_seconds=30.0)
        auth = TokenProvider(RepositoryCredentials(repo), static_token="nmv_usr_operator")
        client = NemoClient(http, settings, auth)
        credits = await client.credits()
        assert credits.available == 5000
        assert not api_requests(fake, "anonymous-token")
        assert await repo.get_auth() is None


async def test_missing_client_id_400_gets_a_new_client_id(fake_nemo, make_client, repo):
    fake_nemo.fail("anonymous_token", code=400, http_status=400)
    await make_client().credits()
    ids = [r.header("X-Client-Id") for r in api_requests(fake_nemo, "anonymous-token")]
    assert len(ids) == 2 and ids[0] != ids[1]
    auth = await repo.get_auth()
    assert auth is not None and auth.client_id == ids[1]


async def test_create_session_sends_language(fake_nemo, make_client):
    info = await make_client().create_session("zh-CN")
    assert isinstance(info.session_id, str) and info.session_id.isdigit()
    body = api_requests(fake_nemo, "with-session")[0].json
    assert body == {"task_name": "project", "language": "zh-CN"}
    assert fake_nemo.sessions[info.session_id].language == "zh-CN"


async def _chunks(size: int, chunk: int = 256 * 1024) -> AsyncIterator[bytes]:
    block = bytes(range(256)) * (chunk // 256)
    sent = 0
    while sent < size:
        piece = block[: min(chunk, size - sent)]
        sent += len(piece)
        yield piece


def _expected_sha(size: int, chunk: int = 256 * 1024) -> str:
    digest = hashlib.sha256()
    block = bytes(range(256)) * (chunk // 256)
    sent = 0
    while sent < size:
        piece = block[: min(chunk, size - sent)]
        sent += len(piece)
        digest.update(piece)
    return digest.hexdigest()


async def test_large_upload_is_streamed_not_buffered(fake_nemo, make_client):
    client = make_client()
    session = await client.create_session("en")
    size = 64 * 1024 * 1024
    source = UploadSource("big.mp4", lambda: _chunks(size), "video/mp4", size)
    tracemalloc.start()
    try:
        result = await client.upload_files(session.session_id, [source])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.files and result.files[0].filename == "big.mp4"
    record = fake_nemo.uploads[-1]
    assert record.size == size and record.sha256 == _expected_sha(size)
    # Client and fake share this process: both together stayed far below the file size.
    assert peak < 16 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"


async def test_batch_upload_sends_every_file_as_a_files_part(fake_nemo, make_client):
    client = make_client()
    session = await client.create_session("en")
    sources = [UploadSource(f"clip{i}.mp4", lambda: _chunks(1000), "video/mp4", 1000) for i in range(3)]
    result = await client.upload_files(session.session_id, sources)
    assert [f.filename for f in result.files] == ["clip0.mp4", "clip1.mp4", "clip2.mp4"]
    assert [u.filename for u in fake_nemo.uploads] == ["clip0.mp4", "clip1.mp4", "clip2.mp4"]


async def test_upload_by_url(fake_nemo, make_client):
    client = make_client()
    session = await client.create_session("en")
    await client.upload_urls(session.session_id, ["https://cdn.discordapp.com/attachments/1/2/a.mp4"])
    body = api_requests(fake_nemo, "upload-video")[-1].json
    assert body == {"urls": ["https://cdn.discordapp.com/attachments/1/2/a.mp4"], "source_type": "url"}


@pytest.mark.parametrize(("code", "exc"), [(4001, errors.UnsupportedFileType), (4002, errors.FileTooLarge)])
async def test_upload_errors(fake_nemo, make_client, code, exc):
    client = make_client()
    session = await client.create_session("en")
    fake_nemo.fail("upload", code=code)
    with pytest.raises(exc):
        await client.upload_files(session.session_id, [UploadSource("a.mp4", lambda: _chunks(10), "video/mp4", 10)])


async def test_upload_of_unsupported_type_is_refused_by_the_backend(fake_nemo, make_client):
    client = make_client()
    session = await client.create_session("en")
    with pytest.raises(errors.UnsupportedFileType):
        await client.upload_files(session.session_id, [UploadSource("a.exe", lambda: _chunks(10), "x/y", 10)])


async def test_state_and_credits(fake_nemo, make_client):
    client = make_client()
    session = await client.create_session("en")
    fake_nemo.sessions[session.session_id].draft = DRAFT
    state = await client.state(session.session_id)
    assert state.draft == DRAFT
    assert state.canvas_config is not None
    credits = await client.credits()
    assert (credits.available, credits.frozen, credits.total) == (100, 0, 100)


async def test_session_not_found(fake_nemo, make_client):
    client = make_client()
    session = await client.create_session("en")
    fake_nemo.forget_session(session.session_id)
    with pytest.raises(errors.SessionNotFound):
        await client.state(session.session_id)
    with pytest.raises(errors.SessionNotFound):
        async for _ in client.chat(session.session_id, "hi"):
            pass


async def test_rate_limit_waits_then_retries_once(fake_nemo, make_client, sleeper):
    fake_nemo.fail("credits", code=429, http_status=429)
    credits = await make_client().credits()
    assert credits.available == 100
    assert sleeper.delays == [30.0]


async def test_rate_limit_twice_raises(fake_nemo, make_client, sleeper):
    fake_nemo.fail("credits", code=429, http_status=429, times=2)
    with pytest.raises(errors.RateLimited):
        await make_client().credits()
    assert sleeper.delays == [30.0]


async def test_5xx_on_idempotent_call_retries_with_backoff(fake_nemo, make_client, sleeper):
    fake_nemo.fail("credits", http_status=503, times=2)
    credits = await make_client().credits()
    assert credits.available == 100
    assert sleeper.delays == [0.5, 1.0]


async def test_5xx_that_persists_gives_up(fake_nemo, make_client, sleeper):
    fake_nemo.fail("credits", http_status=502, times=None)
    with pytest.raises(errors.BackendUnavailable):
        await make_client().credits()
    assert len(sleeper.delays) == 3


async def test_connection_refused_is_backend_unavailable(repo, http, sleeper):
    from bot.config import BackendSettings
    from bot.credentials import RepositoryCredentials
    from bot.nemo.auth import TokenProvider
    from bot.nemo.client import NemoClient

    settings = BackendSettings(api_base="http://127.0.0.1:9", rate_limit_retry_seconds=30.0, sse_timeout_seconds=30.0)
    auth = TokenProvider(RepositoryCredentials(repo), static_token="x")
    client = NemoClient(http, settings, auth, sleep=sleeper)
    with pytest.raises(errors.BackendUnavailable):
        await client.credits()


async def test_out_of_credits_carries_the_bind_id(fake_nemo, make_client, repo):
    client = make_client()
    session = await client.create_session("en")
    auth = await repo.get_auth()
    assert auth is not None and auth.token
    fake_nemo.account(auth.token).available = 0
    with pytest.raises(errors.OutOfCredits) as info:
        async for _ in client.chat(session.session_id, "add music"):
            pass
    assert info.value.bind_id and info.value.bind_id.startswith("anon_")
    assert not info.value.registered


async def test_chat_default_turn_yields_typed_events(fake_nemo, make_client):
    client = make_client()
    session = await client.create_session("en")
    events = [e async for e in client.chat(session.session_id, "add background music")]
    assert isinstance(events[-1], EndEvent)
    assert any(isinstance(e, ToolCallEvent) for e in events)
    assert any(isinstance(e, ToolResultEvent) for e in events)
    assert any(isinstance(e, StateDeltaEvent) for e in events)
    texts = [e.text for e in events if isinstance(e, TextEvent)]
    assert texts and "track" in texts[-1].lower()
    sse = api_requests(fake_nemo, "/run_sse")[0]
    assert sse.header("Accept") == "text/event-stream"
    assert sse.json == {
        "app_name": "nemo_agent",
        "user_id": "me",
        "session_id": session.session_id,
        "new_message": {"parts": [{"text": "add background music"}]},
    }


async def test_partials_are_not_shown_twice(fake_nemo, make_client):
    client = make_client()
    session = await client.create_session("en")
    fake_nemo.script_turn([Text("Hello there, friend", partial_chunks=3)])
    events = [e async for e in client.chat(session.session_id, "hi")]
    assert [e.text for e in events if isinstance(e, TextEvent)] == ["Hello there, friend"]


async def test_dropped_stream_raises_and_never_resends(fake_nemo, make_client):
    client = make_client()
    session = await client.create_session("en")
    fake_nemo.script_turn([Text("Working on it"), Drop()])
    seen: list[object] = []
    with pytest.raises(errors.StreamDropped):
        async for event in client.chat(session.session_id, "add music"):
            seen.append(event)
    assert any(isinstance(e, TextEvent) for e in seen)
    assert fake_nemo.chat_messages == [(session.session_id, "add music")]


async def test_stream_timeout(fake_nemo, make_client):
    client = make_client(sse_timeout=0.3)
    session = await client.create_session("en")
    fake_nemo.script_turn([Heartbeat(), Pause(5.0), Text("too late")])
    with pytest.raises(errors.StreamTimeout):
        async for _ in client.chat(session.session_id, "slow"):
            pass
    assert len(fake_nemo.chat_messages) == 1


async def test_error_line_becomes_error_event(fake_nemo, make_client):
    client = make_client()
    session = await client.create_session("en")
    fake_nemo.script_turn([ToolCall("edit_multitrack", {}), ErrorLine("RuntimeError: boom")])
    events = [e async for e in client.chat(session.session_id, "x")]
    assert any(isinstance(e, ErrorEvent) and "boom" in e.message for e in events)
    assert isinstance(events[-1], EndEvent)


async def test_chat_503_is_not_retried(fake_nemo, make_client, sleeper):
    client = make_client()
    session = await client.create_session("en")
    fake_nemo.fail("run_sse", http_status=503)
    with pytest.raises(errors.NemoError):
        async for _ in client.chat(session.session_id, "x"):
            pass
    assert len(api_requests(fake_nemo, "/run_sse")) == 1


async def test_chat_with_expired_token_is_renewed_and_sent_once(fake_nemo, make_client, repo):
    client = make_client()
    session = await client.create_session("en")
    auth = await repo.get_auth()
    assert auth is not None and auth.token
    fake_nemo.expire_token(auth.token)
    # The old token's account owns the session; renewal with the same client id keeps the user.
    events = [e async for e in client.chat(session.session_id, "add music")]
    assert isinstance(events[-1], EndEvent)
    assert fake_nemo.chat_messages == [(session.session_id, "add music")]


async def test_render_start_and_poll_shape_a(fake_nemo, make_client):
    client = make_client()
    session = await client.create_session("en")
    fake_nemo.sessions[session.session_id].draft = DRAFT
    started = await client.start_render(session.session_id, DRAFT, render_id="render_1", output=OUTPUT)
    assert started.render_id == "render_1"
    body = api_requests(fake_nemo, "/api/render/proxy/lambda")[0].json
    assert body["sessionId"] == session.session_id and body["output"] == OUTPUT
    progress = await client.render_status("render_1")
    while progress.status != "completed":
        progress = await client.render_status("render_1")
    assert progress.url and progress.url.endswith(".mp4")


async def test_render_poll_shape_b(fake_nemo, make_client):
    fake_nemo.render_shape = "B"
    fake_nemo.render_polls_to_complete = 1
    client = make_client()
    session = await client.create_session("en")
    await client.start_render(session.session_id, DRAFT, render_id="render_b", output=OUTPUT)
    progress = await client.render_status("render_b")
    assert progress.status == "completed" and progress.url


async def test_render_duplicate_id_gets_a_fresh_one(fake_nemo, make_client):
    client = make_client()
    session = await client.create_session("en")
    await client.start_render(session.session_id, DRAFT, render_id="render_dup", output=OUTPUT)
    again = await client.start_render(session.session_id, DRAFT, render_id="render_dup", output=OUTPUT)
    assert again.render_id != "render_dup"


async def test_render_402_is_export_blocked(fake_nemo, make_client):
    client = make_client()
    session = await client.create_session("en")
    fake_nemo.fail("render_start", http_status=402)
    with pytest.raises(errors.ExportBlocked):
        await client.start_render(session.session_id, DRAFT, render_id="render_402", output=OUTPUT)


async def test_render_failure_and_cancel(fake_nemo, make_client):
    client = make_client()
    session = await client.create_session("en")
    fake_nemo.render_mode = "fail"
    await client.start_render(session.session_id, DRAFT, render_id="render_f", output=OUTPUT)
    progress = await client.render_status("render_f")
    while not progress.finished:
        progress = await client.render_status("render_f")
    assert progress.status == "failed" and progress.error
    fake_nemo.render_mode = "never"
    await client.start_render(session.session_id, DRAFT, render_id="render_c", output=OUTPUT)
    await client.cancel_render("render_c")
    assert (await client.render_status("render_c")).status in ("cancelled", "canceled")


def test_render_progress_accepts_both_shapes() -> None:
    a = RenderProgress.from_payload(
        {"success": True, "data": {"status": "completed", "progress": 100, "outputUrl": "https://x/a.mp4"}}
    )
    b = RenderProgress.from_payload(
        {"taskId": "r", "status": "completed", "progress": 100, "output": {"url": "https://x/b.mp4"}}
    )
    none = RenderProgress.from_payload({"success": True, "data": {"status": "completed"}})
    assert a.url == "https://x/a.mp4" and b.url == "https://x/b.mp4"
    assert none.status == "completed" and none.url is None
    odd = RenderProgress.from_payload({"data": {"status": "PROCESSING", "progress": "42.6"}})
    assert odd.status == "processing" and odd.progress == 43


async def test_state_delta_in_tool_result(fake_nemo, make_client):
    client = make_client()
    session = await client.create_session("en")
    fake_nemo.script_turn([ToolCall("edit_multitrack", {}), ToolResult("edit_multitrack", {"ok": True}, draft=DRAFT)])
    events = [e async for e in client.chat(session.session_id, "edit")]
    deltas = [e for e in events if isinstance(e, StateDeltaEvent)]
    assert deltas and deltas[0].delta["draft"] == DRAFT
    assert fake_nemo.sessions[session.session_id].draft == DRAFT
