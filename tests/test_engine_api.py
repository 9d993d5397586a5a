"""The engine's HTTP API through the bot's real client (bot.nemo.client.NemoClient + TokenProvider):
tokens, sessions, state, credits, chat over SSE, renders, results with Range, errors.

The engine runs in-process on 127.0.0.1; the editor and the render are the real ones when they
are installed (engine.editor.turn, engine.render.pipeline) and small stand-ins otherwise
(tests/engine_support.py), so what is tested here is the server itself.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.config import BackendSettings
from bot.core.timeline import has_content
from bot.nemo import errors
from bot.nemo.client import NemoClient
from bot.nemo.events import EndEvent, ErrorEvent, StateDeltaEvent, TextEvent, ToolCallEvent, ToolResultEvent
from devkit.fakes.nemo import FakeNemo
from engine.editor import EditorEvent, EditorSession, Say
from engine.server import Engine
from engine.wire import ROUTES, add_routes
from storage.sqlite import SqliteRepository
from tests import mediagen
from tests.engine_support import (
    HangingTurn,
    StandInRender,
    client_for,
    failing_turn,
    file_source,
    make_engine,
    settings,
    stand_in_turn,
)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("engine-api-media")
    return {
        "clip": mediagen.clip(folder / "clip.mp4", 2.0, size=(320, 180)),
        "second": mediagen.clip(folder / "second.mp4", 1.0, size=(320, 180), pattern="smptebars"),
    }


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    async with make_engine(tmp_path / "engine", turn_fn=stand_in_turn) as running:
        yield running


@pytest.fixture
def client(engine: Engine, http: aiohttp.ClientSession, repo: SqliteRepository) -> NemoClient:
    return client_for(engine, http, repo)


async def raw(
    http: aiohttp.ClientSession, method: str, url: str, *, token: str | None = None, **kw: Any
) -> tuple[int, Any, aiohttp.typedefs.LooseHeaders]:
    headers = dict(kw.pop("headers", {}))
    if token:
        headers["Authorization"] = f"Bearer {token}"
    async with http.request(method, url, headers=headers, **kw) as resp:
        body = await resp.read()
        try:
            parsed: Any = json.loads(body)
        except ValueError:
            parsed = body
        return resp.status, parsed, resp.headers


async def token_of(http: aiohttp.ClientSession, engine: Engine, client_id: str = "client-1") -> str:
    status, body, _ = await raw(
        http, "POST", f"{engine.base_url}/api/auth/anonymous-token", headers={"X-Client-Id": client_id}
    )
    assert status == 200, body
    return str(body["data"]["token"])


async def session_with_clip(client: NemoClient, clip: Path) -> str:
    session = await client.create_session("en")
    await client.upload_files(session.session_id, [file_source(clip, content_type="video/mp4")])
    return session.session_id


async def render_to_end(client: NemoClient, render_id: str, timeout: float = 60.0) -> Any:
    async with asyncio.timeout(timeout):
        while True:
            progress = await client.render_status(render_id)
            if progress.finished:
                return progress
            await asyncio.sleep(0.05)


# ---------------------------------------------------------------------------- the wire is shared


def _mounted(app: web.Application) -> set[tuple[str, str]]:
    return {(r.method, r.resource.canonical) for r in app.router.routes() if r.resource is not None}


def test_engine_and_fake_mount_the_same_route_table(engine: Engine) -> None:
    table = {(r.method, r.path) for r in ROUTES}
    assert engine.app is not None
    assert table <= _mounted(engine.app.web_app())
    fake_app = web.Application()
    add_routes(fake_app.router, FakeNemo())
    assert _mounted(fake_app) == table


# ---------------------------------------------------------------------------- auth


async def test_anonymous_token_is_stable_per_client_id(engine: Engine, http: aiohttp.ClientSession) -> None:
    url = f"{engine.base_url}/api/auth/anonymous-token"
    status, first, _ = await raw(http, "POST", url, headers={"X-Client-Id": "abc"})
    assert status == 200 and first["code"] == 0
    data = first["data"]
    assert data["token"].startswith("nmv_usr_") and data["user_id"].startswith("anon_")
    assert data["expires_at"].endswith("Z") and data["credits"] == 0
    _, again, _ = await raw(http, "POST", url, headers={"X-Client-Id": "abc"})
    assert again["data"]["token"] == data["token"]
    _, other, _ = await raw(http, "POST", url, headers={"X-Client-Id": "another"})
    assert other["data"]["token"] != data["token"] and other["data"]["user_id"] != data["user_id"]
    status, missing, _ = await raw(http, "POST", url)
    assert status == 400 and missing["code"] == 400
    status, _, _ = await raw(http, "POST", url, headers={"X-Client-Id": "x" * 65})
    assert status == 400


async def test_made_up_bearer_gets_1001(engine: Engine, http: aiohttp.ClientSession, repo: SqliteRepository) -> None:
    for token in ("nmv_usr_madeup", "something-else", ""):
        status, body, _ = await raw(http, "GET", f"{engine.base_url}/api/credits/balance/simple", token=token)
        assert (status, body["code"]) == (401, 1001), body
    client = client_for(engine, http, repo, static_token="nmv_usr_" + "x" * 40)
    with pytest.raises(errors.TokenInvalid):
        await client.credits()


async def test_client_gets_and_uses_a_token(client: NemoClient, repo: SqliteRepository) -> None:
    credits = await client.credits()
    assert (credits.available, credits.frozen, credits.total) == (0, 0, 0)
    record = await repo.get_auth()
    assert record is not None and record.token and record.token.startswith("nmv_usr_")


async def test_credits_say_local(engine: Engine, http: aiohttp.ClientSession) -> None:
    token = await token_of(http, engine)
    status, body, _ = await raw(http, "GET", f"{engine.base_url}/api/credits/balance/simple", token=token)
    assert status == 200
    assert body == {"code": 0, "data": {"available": 0, "frozen": 0, "total": 0, "local": True}}


async def test_a_refused_chunked_upload_is_answered_before_its_body_ends(
    engine: Engine, http: aiohttp.ClientSession
) -> None:
    """A body without a length (chunked) is drained only so far before the refusal: the answer
    must not wait for the rest, which here is only sent once the answer has arrived."""
    answered = asyncio.Event()

    async def body() -> AsyncIterator[bytes]:
        for _ in range(8):
            yield b"\0" * (1024 * 1024)
        await answered.wait()
        yield b"--x--\r\n"

    url = f"{engine.base_url}/api/upload-video/nemo_agent/me/1234567890123456789"
    headers = {"Authorization": "Bearer nmv_usr_madeup", "Content-Type": "multipart/form-data; boundary=x"}
    async with asyncio.timeout(20), http.post(url, data=body(), headers=headers) as resp:
        answered.set()
        assert resp.status == 401 and (await resp.json())["code"] == 1001


# ---------------------------------------------------------------------------- sessions and state


async def test_new_session_has_nothing_to_export(client: NemoClient) -> None:
    session = await client.create_session("zh-CN")
    assert session.session_id.isdigit() and len(session.session_id) == 19
    state = await client.state(session.session_id)
    assert state.video_infos == [] and not has_content(state.draft)
    assert state.canvas_config == {"width": 1920, "height": 1080, "aspect_ratio": "16:9", "fit": "pad"}


async def test_unknown_or_foreign_session_is_1002(
    engine: Engine, client: NemoClient, http: aiohttp.ClientSession
) -> None:
    with pytest.raises(errors.SessionNotFound):
        await client.state("1234567890123456789")
    session = await client.create_session("en")
    stranger = await token_of(http, engine, "stranger")
    status, body, _ = await raw(
        http, "GET", f"{engine.base_url}/api/state/nemo_agent/me/{session.session_id}/latest", token=stranger
    )
    assert (status, body["code"]) == (200, 1002)
    status, body, _ = await raw(
        http,
        "POST",
        f"{engine.base_url}/api/upload-video/nemo_agent/me/{session.session_id}",
        token=stranger,
        json={"urls": ["https://example.com/a.mp4"], "source_type": "url"},
    )
    assert body["code"] == 1002


async def test_user_id_is_accepted_in_paths(engine: Engine, http: aiohttp.ClientSession) -> None:
    url = f"{engine.base_url}/api/auth/anonymous-token"
    _, body, _ = await raw(http, "POST", url, headers={"X-Client-Id": "paths"})
    token, user = body["data"]["token"], body["data"]["user_id"]
    status, created, _ = await raw(
        http, "POST", f"{engine.base_url}/api/tasks/{user}/with-session/nemo_agent", token=token, json={}
    )
    assert status == 200 and created["data"]["user_id"] == user
    sid = created["data"]["session_id"]
    status, state, _ = await raw(
        http, "GET", f"{engine.base_url}/api/state/nemo_agent/{user}/{sid}/latest", token=token
    )
    assert state["code"] == 0 and state["data"]["session_id"] == sid and state["data"]["task_name"] == "project"


async def test_upload_puts_the_clip_on_the_timeline(client: NemoClient, clips: dict[str, Path]) -> None:
    session = await client.create_session("en")
    result = await client.upload_files(
        session.session_id,
        [file_source(clips["clip"], "Beach day.mp4", "video/mp4"), file_source(clips["second"], "b.mp4", "video/mp4")],
    )
    assert result.session_state_applied is True
    assert [f.filename for f in result.files] == ["Beach day.mp4", "b.mp4"]
    state = await client.state(session.session_id)
    assert [v["filename"] for v in state.video_infos] == ["Beach day.mp4", "b.mp4"]
    assert has_content(state.draft)
    assert state.draft is not None
    segments = state.draft["t"][0]["sg"]
    assert [s["m"]["media"] for s in segments] == [v["media_id"] for v in state.video_infos]
    assert state.draft["d"] == pytest.approx(3000, abs=100)
    async with aiohttp.ClientSession() as http, http.get(state.video_infos[0]["cdn_url"]) as resp:
        assert resp.status == 200 and resp.content_type == "video/mp4"
        assert await resp.read() == clips["clip"].read_bytes()


# ---------------------------------------------------------------------------- chat


async def test_chat_streams_adk_events_and_commits_the_draft(client: NemoClient, clips: dict[str, Path]) -> None:
    sid = await session_with_clip(client, clips["clip"])
    events = [e async for e in client.chat(sid, "mute the clips")]
    kinds = [type(e) for e in events]
    assert kinds == [TextEvent, ToolCallEvent, ToolResultEvent, StateDeltaEvent, TextEvent, EndEvent]
    call, result = events[1], events[2]
    assert isinstance(call, ToolCallEvent) and isinstance(result, ToolResultEvent)
    assert call.call_id == result.call_id and call.call_id
    delta = events[3]
    assert isinstance(delta, StateDeltaEvent)
    assert delta.delta["draft"]["m"]["clip_sound"] == "mute"
    assert delta.delta["canvas_config"]["aspect_ratio"] == "16:9"
    state = await client.state(sid)
    assert state.draft == delta.delta["draft"]
    undo = [e async for e in client.chat(sid, "undo")]
    restored = next(e for e in undo if isinstance(e, StateDeltaEvent))
    assert restored.delta["draft"]["m"]["clip_sound"] == "keep"
    assert (await client.state(sid)).draft == restored.delta["draft"]


async def test_run_sse_wire_format(engine: Engine, http: aiohttp.ClientSession, client: NemoClient) -> None:
    session = await client.create_session("en")
    token = await token_of(http, engine, "wire")
    sid = (
        await raw(
            http,
            "POST",
            f"{engine.base_url}/api/tasks/me/with-session/nemo_agent",
            token=token,
            json={"language": "en"},
        )
    )[1]["data"]["session_id"]
    body = {"appName": "nemo_agent", "userId": "me", "sessionId": sid, "newMessage": {"parts": [{"text": "hello"}]}}
    async with http.post(f"{engine.base_url}/run_sse", json=body, headers={"Authorization": f"Bearer {token}"}) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "text/event-stream; charset=utf-8"
        raw_body = await resp.read()
    blocks = raw_body.decode().split("\n\n")
    assert blocks[-1] == ""
    events = [json.loads(b.removeprefix("data: ")) for b in blocks[:-1]]
    assert all(b.startswith("data: {") and "\n" not in b for b in blocks[:-1])
    assert len({e["invocationId"] for e in events}) == 1 and events[0]["invocationId"].startswith("e-")
    assert all(e["author"] == "nemo_agent" and "stateDelta" in e["actions"] for e in events)
    assert events[2]["content"]["role"] == "user" and "functionResponse" in events[2]["content"]["parts"][0]
    # ADK-style refusals before any streaming
    status, detail, _ = await raw(http, "POST", f"{engine.base_url}/run_sse", token=token, json={"app_name": "x"})
    assert status == 422 and {d["loc"][-1] for d in detail["detail"]} >= {"user_id", "session_id"}
    status, detail, _ = await raw(
        http,
        "POST",
        f"{engine.base_url}/run_sse",
        token=token,
        data=b"{nope",
        headers={"Content-Type": "application/json"},
    )
    assert status == 422 and detail["detail"][0]["type"] == "json_invalid"
    missing = {**body, "sessionId": "1234567890123456789"}
    status, detail, _ = await raw(http, "POST", f"{engine.base_url}/run_sse", token=token, json=missing)
    assert (status, detail) == (404, {"detail": "Session not found: 1234567890123456789"})
    foreign = {**body, "sessionId": session.session_id}
    status, detail, _ = await raw(http, "POST", f"{engine.base_url}/run_sse", token=token, json=foreign)
    assert status == 404
    status, detail, _ = await raw(http, "POST", f"{engine.base_url}/run_sse", token="nmv_usr_bad", json=body)
    assert (status, detail["code"]) == (401, 1001)


async def test_editor_exception_ends_the_stream_with_adk_error_line(
    tmp_path: Path, http: aiohttp.ClientSession, repo: SqliteRepository, caplog: pytest.LogCaptureFixture
) -> None:
    async with make_engine(tmp_path / "engine", turn_fn=failing_turn) as engine:
        client = client_for(engine, http, repo)
        session = await client.create_session("en")
        with caplog.at_level(logging.ERROR, logger="engine"):
            events = [e async for e in client.chat(session.session_id, "break")]
        assert isinstance(events[0], TextEvent)
        error = next(e for e in events if isinstance(e, ErrorEvent))
        assert "/secret/path" not in repr(error) and error.message
        assert isinstance(events[-1], EndEvent)
        assert any(f"session={session.session_id}" in r.getMessage() and r.exc_info for r in caplog.records)
        assert (await client.credits()).total == 0  # still serving


async def test_client_hanging_up_cancels_the_turn(
    tmp_path: Path, http: aiohttp.ClientSession, repo: SqliteRepository
) -> None:
    hanging = HangingTurn()
    async with make_engine(tmp_path / "engine", turn_fn=hanging) as engine:
        client = client_for(engine, http, repo)
        session = await client.create_session("en")
        stream = client.chat(session.session_id, "think hard")
        assert isinstance(stream, AsyncGenerator)
        first = await anext(stream)
        assert isinstance(first, TextEvent)
        await asyncio.wait_for(hanging.started.wait(), 10)
        await stream.aclose()  # the bot gives up on the stream: the connection closes
        await asyncio.wait_for(hanging.cancelled.wait(), 10)


# ---------------------------------------------------------------------------- renders


async def test_render_completes_and_the_link_serves_ranges(
    client: NemoClient, clips: dict[str, Path], http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    sid = await session_with_clip(client, clips["clip"])
    state = await client.state(sid)
    assert state.draft is not None
    started = await client.start_render(sid, state.draft, output={"resolution": "720p"})
    assert started.status == "pending" and started.progress == 0
    done = await render_to_end(client, started.render_id)
    assert done.status == "completed" and done.progress == 100 and done.url
    assert done.url.startswith("http://127.0.0.1:") and done.url.endswith(f"/results/{started.render_id}.mp4")
    async with http.get(done.url) as resp:
        whole = await resp.read()
        assert resp.status == 200 and resp.content_type == "video/mp4"
        assert resp.headers["Accept-Ranges"] == "bytes"
    async with http.get(done.url, headers={"Range": "bytes=100-199"}) as resp:
        assert resp.status == 206
        assert resp.headers["Content-Range"] == f"bytes 100-199/{len(whole)}"
        assert await resp.read() == whole[100:200]
    async with http.get(done.url, headers={"Range": f"bytes={len(whole) - 10}-"}) as resp:
        assert resp.status == 206 and await resp.read() == whole[-10:]
    (tmp_path / "result.mp4").write_bytes(whole)
    assert mediagen.probe(tmp_path / "result.mp4").video_codec == "h264"


async def test_render_poll_shape_and_download(
    engine: Engine, client: NemoClient, clips: dict[str, Path], http: aiohttp.ClientSession, repo: SqliteRepository
) -> None:
    sid = await session_with_clip(client, clips["clip"])
    state = await client.state(sid)
    assert state.draft is not None
    started = await client.start_render(sid, state.draft)
    await render_to_end(client, started.render_id)
    token = (await repo.get_auth()).token  # type: ignore[union-attr]
    status, body, _ = await raw(
        http, "GET", f"{engine.base_url}/api/render/proxy/lambda/{started.render_id}", token=token
    )
    assert status == 200 and body["success"] is True
    data = body["data"]
    assert set(data) == {
        "id",
        "status",
        "progress",
        "outputUrl",
        "output",
        "createdAt",
        "completedAt",
        "error",
        "userMessage",
    }
    assert data["output"]["url"] == data["outputUrl"] and data["output"]["size"] > 0
    assert data["output"]["duration"] == pytest.approx(2.0, abs=0.2)
    assert data["completedAt"] >= data["createdAt"] > 1_700_000_000_000
    assert data["error"] is None and data["userMessage"] is None
    async with http.get(
        f"{engine.base_url}/api/render/proxy/{started.render_id}/download", headers={"Authorization": f"Bearer {token}"}
    ) as resp:
        assert resp.status == 200 and "attachment" in resp.headers["Content-Disposition"]
        assert len(await resp.read()) == data["output"]["size"]
    status, body, _ = await raw(http, "GET", f"{engine.base_url}/api/render/proxy/lambda/render_unknown", token=token)
    assert (status, body["success"]) == (404, False)


async def test_duplicate_render_id_gets_a_fresh_one(client: NemoClient, clips: dict[str, Path]) -> None:
    sid = await session_with_clip(client, clips["clip"])
    state = await client.state(sid)
    assert state.draft is not None
    first = await client.start_render(sid, state.draft, render_id="render_fixed_1")
    second = await client.start_render(sid, state.draft, render_id="render_fixed_1")
    assert first.render_id == "render_fixed_1" and second.render_id != first.render_id
    assert (await render_to_end(client, second.render_id)).status == "completed"


async def test_bad_render_requests_are_refused_clearly(
    engine: Engine, client: NemoClient, clips: dict[str, Path], http: aiohttp.ClientSession, repo: SqliteRepository
) -> None:
    sid = await session_with_clip(client, clips["clip"])
    state = await client.state(sid)
    assert state.draft is not None
    token = (await repo.get_auth()).token  # type: ignore[union-attr]
    url = f"{engine.base_url}/api/render/proxy/lambda"
    foreign = json.loads(json.dumps(state.draft))
    foreign["t"][0]["sg"][0]["m"]["media"] = "m_" + "0" * 32
    cases = [
        ({"id": "r1", "sessionId": sid, "draft": {}}, "empty"),
        ({"id": "r2", "sessionId": sid, "draft": {"t": [{"tt": 5, "sg": []}]}}, "track type"),
        ({"id": "r3", "sessionId": sid, "draft": foreign}, "not in this session"),
        ({"id": "r4", "sessionId": "1234567890123456789", "draft": state.draft}, "session not found"),
        ({"id": "../etc", "sessionId": sid, "draft": state.draft}, "invalid id"),
        ({"id": "r5", "sessionId": sid, "draft": state.draft, "output": {"resolution": "4k"}}, "resolution"),
    ]
    for body, reason in cases:
        status, answer, _ = await raw(http, "POST", url, token=token, json=body)
        assert status in (400, 404) and answer["success"] is False and reason in answer["error"], (body, answer)
    with pytest.raises(errors.NemoError, match="empty"):
        await client.start_render(sid, {})


async def test_render_queue_refuses_when_full(
    tmp_path: Path,
    http: aiohttp.ClientSession,
    repo: SqliteRepository,
    clips: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("engine.jobs.MAX_QUEUED", 1)
    slow = StandInRender(realtime=True)
    async with make_engine(tmp_path / "engine", render_fn=slow) as engine:
        client = client_for(engine, http, repo, rate_limit_retry_seconds=0)
        sid = await session_with_clip(client, clips["clip"])
        state = await client.state(sid)
        assert state.draft is not None
        await client.start_render(sid, state.draft)
        await slow.wait_for(lambda: slow.running == 1)
        await client.start_render(sid, state.draft)
        with pytest.raises(errors.RateLimited):
            await client.start_render(sid, state.draft)


# ---------------------------------------------------------------------------- robustness


async def test_unexpected_exception_is_a_generic_json_error(
    tmp_path: Path,
    http: aiohttp.ClientSession,
    repo: SqliteRepository,
    clips: dict[str, Path],
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(*_: object) -> Any:
        raise RuntimeError("internal detail /srv/secret")

    async with make_engine(tmp_path / "engine", place_fn=broken) as engine:
        client = client_for(engine, http, repo)
        session = await client.create_session("en")
        token = (await repo.get_auth()).token  # type: ignore[union-attr]
        form = aiohttp.FormData()
        form.add_field("files", clips["clip"].read_bytes(), filename="a.mp4", content_type="video/mp4")
        with caplog.at_level(logging.ERROR, logger="engine"):
            status, body, _ = await raw(
                http,
                "POST",
                f"{engine.base_url}/api/upload-video/nemo_agent/me/{session.session_id}",
                token=token,
                data=form,
            )
        assert (status, body) == (500, {"code": 500, "message": "internal error"})
        assert any(r.exc_info and "unexpected error" in r.getMessage() for r in caplog.records)
        status, body, _ = await raw(http, "GET", f"{engine.base_url}/no/such/path")
        assert (status, body["code"]) == (404, 404)
        assert (await client.credits()).total == 0
        assert list((engine.settings.media_dir / session.session_id).iterdir()) == []


# ---------------------------------------------------------------------------- the whole engine


async def test_real_editor_adds_music_and_the_real_render_exports_it(
    tmp_path: Path, http: aiohttp.ClientSession, repo: SqliteRepository
) -> None:
    """Upload a clip with a silent soundtrack, ask for music, export: the MP4 has the music."""
    clip = mediagen.clip(tmp_path / "quiet.mp4", 3.0, size=(320, 180), audio="silent")
    async with Engine(settings(tmp_path / "engine")) as engine:  # the real editor, music and render
        client = client_for(engine, http, repo)
        session = await client.create_session("en")
        await client.upload_files(session.session_id, [file_source(clip, "quiet.mp4", "video/mp4")])
        events = [e async for e in client.chat(session.session_id, "add some calm background music")]
        assert any(isinstance(e, TextEvent) for e in events) and isinstance(events[-1], EndEvent)
        state = await client.state(session.session_id)
        assert state.draft is not None
        music = [t for t in state.draft["t"] if t["tt"] == 1]
        assert music and music[0]["sg"][0]["m"]["source"] == "composer"
        started = await client.start_render(session.session_id, state.draft, output={"resolution": "720p"})
        done = await render_to_end(client, started.render_id, timeout=240)
        assert done.status == "completed" and done.url, done
        async with http.get(done.url) as resp:
            (tmp_path / "out.mp4").write_bytes(await resp.read())
    out = mediagen.probe(tmp_path / "out.mp4")
    assert (out.video_codec, out.width, out.height, out.audio_codec) == ("h264", 1280, 720, "aac")
    assert out.duration_s == pytest.approx(3.0, abs=0.1)
    assert mediagen.rms_db(mediagen.decode_audio(tmp_path / "out.mp4")) > -40  # the music is there


async def test_background_work_is_one_per_key_and_stops_with_the_engine(
    tmp_path: Path, http: aiohttp.ClientSession, repo: SqliteRepository
) -> None:
    outcomes: dict[str, str] = {}
    release = asyncio.Event()

    async def work(name: str) -> None:
        try:
            await release.wait() if name != "forever" else await asyncio.Event().wait()
            outcomes[name] = "done"
        except asyncio.CancelledError:
            outcomes[name] = "cancelled"
            raise

    async def turn(session: EditorSession, text: str) -> AsyncIterator[EditorEvent]:
        for name in text.split():
            session.background(work(name), key="forever" if name == "forever" else "music")
        yield Say("scheduled")

    async with make_engine(tmp_path / "engine", turn_fn=turn) as engine:
        client = client_for(engine, http, repo)
        session = await client.create_session("en")
        [e async for e in client.chat(session.session_id, "first second")]
        [e async for e in client.chat(session.session_id, "forever")]
        await asyncio.sleep(0)
        release.set()
        async with asyncio.timeout(10):
            while "second" not in outcomes:
                await asyncio.sleep(0.01)
        assert outcomes["second"] == "done" and outcomes.get("first") != "done"  # replaced by the newer one
    assert outcomes["forever"] == "cancelled"  # the engine's stop cancelled it


async def test_links_use_the_public_url_when_set(
    tmp_path: Path, http: aiohttp.ClientSession, repo: SqliteRepository, clips: dict[str, Path]
) -> None:
    async with make_engine(tmp_path / "engine", public_url="https://videos.example.org/cutaway/") as engine:
        client = client_for(engine, http, repo)
        sid = await session_with_clip(client, clips["clip"])
        state = await client.state(sid)
        assert state.video_infos[0]["cdn_url"].startswith("https://videos.example.org/cutaway/media/m_")
        assert state.draft is not None
        started = await client.start_render(sid, state.draft)
        done = await render_to_end(client, started.render_id)
        assert done.url == f"https://videos.example.org/cutaway/results/{started.render_id}.mp4"


async def test_links_follow_the_host_the_client_used(
    engine: Engine, client: NemoClient, clips: dict[str, Path]
) -> None:
    sid = await session_with_clip(client, clips["clip"])
    port = engine.base_url.rsplit(":", 1)[1]
    async with aiohttp.ClientSession() as other:
        settings = BackendSettings(
            api_base=f"http://localhost:{port}", rate_limit_retry_seconds=30.0, sse_timeout_seconds=30.0
        )
        other_client = NemoClient(other, settings, client._auth)  # same token, another name
        state = await other_client.state(sid)
    assert state.video_infos[0]["cdn_url"].startswith(f"http://localhost:{port}/media/")
