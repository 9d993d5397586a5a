"""The fake NemoVideo backend, exercised with raw aiohttp (no project client involved).

These pin the wire contract the fake promises (docs/backend-contract.md): envelopes, error codes,
token rules, streaming uploads, ADK SSE framing, scripted steps and both render shapes.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import signal
import struct
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from devkit.fakes.nemo import (
    Drop,
    ErrorLine,
    FakeNemo,
    Heartbeat,
    ModelError,
    Pause,
    Raw,
    SimpleFormat,
    Text,
    Thought,
    ToolCall,
    ToolResult,
    tiny_mp4,
)

pytestmark = pytest.mark.e2e  # starts the bot, a fake server or a subprocess

ATTRIBUTION = {"X-Skill-Source": "background-music-to", "X-Skill-Version": "1.0.0", "X-Skill-Platform": "unknown"}
DRAFT = {"t": [{"tt": 0, "sg": [{"d": 10000, "m": {"name": "clip.mp4"}}]}], "d": 10000}
ROOT = Path(__file__).resolve().parents[1]


def parse_sse(raw: bytes) -> list[bytes]:
    """Split on blank lines the way ADK frames: every block is one `data: ` line."""
    assert raw.endswith(b"\n\n"), raw[-80:]
    return raw[:-2].split(b"\n\n")


def adk_events(raw: bytes) -> list[dict[str, Any]]:
    events = []
    for block in parse_sse(raw):
        assert block.startswith(b"data: "), block[:40]
        assert b"\n" not in block
        events.append(json.loads(block[len(b"data: ") :]))
    return events


def texts(events: list[dict[str, Any]]) -> list[str]:
    return [
        p["text"]
        for e in events
        if not e.get("partial")
        for p in e.get("content", {}).get("parts", [])
        if "text" in p and not p.get("thought")
    ]


class Api:
    """Just enough of a client to drive the fake over HTTP."""

    def __init__(self, http: aiohttp.ClientSession, fake: FakeNemo) -> None:
        self.http = http
        self.fake = fake
        self.base = fake.base_url
        self.token: str | None = None

    async def get_token(self, client_id: str = "client-1", **headers: str) -> tuple[int, dict[str, Any]]:
        async with self.http.post(
            self.base + "/api/auth/anonymous-token", headers={"X-Client-Id": client_id, **headers}
        ) as r:
            return r.status, await r.json()

    async def login(self, client_id: str = "client-1") -> str:
        status, body = await self.get_token(client_id)
        assert status == 200, body
        self.token = body["data"]["token"]
        return self.token

    def auth(self, token: str | None = None, attribution: bool = True) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {token or self.token}"}
        return {**headers, **ATTRIBUTION} if attribution else headers

    async def call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        attribution: bool = True,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> tuple[int, Any]:
        async with self.http.request(
            method, self.base + path, headers={**self.auth(token, attribution), **(headers or {})}, **kwargs
        ) as r:
            if r.content_type == "application/json":
                return r.status, await r.json()
            if r.content_type.startswith("text/"):
                return r.status, await r.text()
            return r.status, await r.read()

    async def session(self, language: str = "en") -> str:
        if self.token is None:
            await self.login()
        status, body = await self.call(
            "POST", "/api/tasks/me/with-session/nemo_agent", json={"task_name": "project", "language": language}
        )
        assert status == 200 and body["code"] == 0, body
        return str(body["data"]["session_id"])

    async def chat_raw(self, sid: str, text: str, **extra: Any) -> tuple[int, str, bytes]:
        body = {
            "app_name": "nemo_agent",
            "user_id": "me",
            "session_id": sid,
            "new_message": {"parts": [{"text": text}]},
            **extra,
        }
        async with self.http.post(
            self.base + "/run_sse", json=body, headers={**self.auth(), "Accept": "text/event-stream"}
        ) as r:
            return r.status, r.headers.get("Content-Type", ""), await r.read()

    async def chat(self, sid: str, text: str, **extra: Any) -> list[dict[str, Any]]:
        status, ctype, raw = await self.chat_raw(sid, text, **extra)
        assert status == 200, raw
        assert ctype == "text/event-stream; charset=utf-8"
        return adk_events(raw)

    async def upload(self, sid: str, files: list[tuple[str, Any, str]]) -> tuple[int, Any]:
        form = aiohttp.FormData()
        for name, data, ctype in files:
            form.add_field("files", data, filename=name, content_type=ctype)
        return await self.call("POST", f"/api/upload-video/nemo_agent/me/{sid}", data=form)

    async def state(self, sid: str) -> dict[str, Any]:
        status, body = await self.call("GET", f"/api/state/nemo_agent/me/{sid}/latest")
        assert status == 200 and body["code"] == 0, body
        return dict(body["data"]["state"])

    async def render(self, render_id: str, draft: Any = DRAFT, **kwargs: Any) -> tuple[int, Any]:
        body = {"id": render_id, "sessionId": "1", "draft": draft, "output": {"format": "mp4", "quality": "high"}}
        return await self.call("POST", "/api/render/proxy/lambda", json=body, **kwargs)

    async def poll(self, render_id: str) -> Any:
        status, body = await self.call("GET", f"/api/render/proxy/lambda/{render_id}")
        assert status == 200, body
        return body


@pytest.fixture
async def fake() -> AsyncIterator[FakeNemo]:
    async with FakeNemo(registered_tokens={"nmv_usr_operator": 5000}) as f:
        yield f


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as s:
        yield s


@pytest.fixture
async def api(http: aiohttp.ClientSession, fake: FakeNemo) -> Api:
    return Api(http, fake)


# ---------------------------------------------------------------------------- tokens and auth


async def test_anonymous_token_shape(api: Api, fake: FakeNemo) -> None:
    assert fake.base_url.startswith("http://127.0.0.1:")
    status, body = await api.get_token()
    assert status == 200 and body["code"] == 0
    data = body["data"]
    assert re.fullmatch(r"nmv_usr_[A-Za-z0-9]{40}", data["token"])
    assert re.fullmatch(r"anon_[0-9a-f]{16}", data["user_id"])
    assert data["credits"] == 100
    expires = datetime.strptime(data["expires_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert abs(expires - (datetime.now(UTC) + timedelta(days=7))) < timedelta(minutes=1)
    assert fake.tokens_issued == 1


async def test_anonymous_token_requires_client_id(api: Api, fake: FakeNemo) -> None:
    async with api.http.post(api.base + "/api/auth/anonymous-token") as r:
        assert r.status == 400
        assert await r.json() == {"code": 400, "message": "missing X-Client-Id"}
    assert fake.tokens_issued == 0


async def test_same_client_id_same_token_until_expired(api: Api, fake: FakeNemo) -> None:
    first = (await api.get_token("c"))[1]["data"]
    again = (await api.get_token("c"))[1]["data"]
    assert again["token"] == first["token"]
    assert fake.tokens_issued == 1

    fake.expire_token(first["token"])
    status, body = await api.call("GET", "/api/credits/balance/simple", token=first["token"])
    assert (status, body) == (401, {"code": 1001, "message": "token expired or invalid"})

    renewed = (await api.get_token("c"))[1]["data"]
    assert renewed["token"] != first["token"]
    assert renewed["user_id"] == first["user_id"]  # same client id, same account
    assert fake.tokens_issued == 2
    status, body = await api.call("GET", "/api/credits/balance/simple", token=renewed["token"])
    assert status == 200 and body["code"] == 0


async def test_tokens_expire_after_seven_days(api: Api, fake: FakeNemo) -> None:
    token = await api.login("c")
    fake.advance_time(timedelta(days=7, seconds=1))
    status, body = await api.call("GET", "/api/credits/balance/simple", token=token)
    assert status == 401 and body["code"] == 1001
    assert (await api.get_token("c"))[1]["data"]["token"] != token


async def test_per_ip_cap(api: Api, http: aiohttp.ClientSession) -> None:
    async with FakeNemo(ip_token_cap=3) as fake:
        api = Api(http, fake)
        tokens = [(await api.get_token(f"c{i}"))[1]["data"]["token"] for i in range(3)]
        assert len(set(tokens)) == 3
        status, body = await api.get_token("c3")
        assert status == 429 and body["code"] == 429
        # a repeat for a client that already holds a valid token is not a new token
        assert (await api.get_token("c0"))[1]["data"]["token"] == tokens[0]
        # other "IPs" have their own budget; the window is 7 days
        assert (await api.get_token("c4", **{"X-Forwarded-For": "10.0.0.9"}))[0] == 200
        fake.advance_time(timedelta(days=8))
        assert (await api.get_token("c3"))[0] == 200
        assert fake.tokens_issued == 5


async def test_auth_failures_and_registered_token(api: Api, http: aiohttp.ClientSession) -> None:
    status, body = await api.call("GET", "/api/credits/balance/simple", token="nmv_usr_nope")
    assert (status, body) == (401, {"code": 1001, "message": "token expired or invalid"})
    async with http.get(api.base + "/api/credits/balance/simple") as r:
        assert r.status == 401
    status, body = await api.call("GET", "/api/credits/balance/simple", token="nmv_usr_operator")
    assert status == 200 and body["data"] == {"available": 5000, "frozen": 0, "total": 5000}
    api.fake.expire_all_tokens()
    status, body = await api.call("GET", "/api/credits/balance/simple", token="nmv_usr_operator")
    assert (status, body["code"]) == (401, 1001)

    async with FakeNemo(auth_error_status=200) as fake:
        status, body = await Api(http, fake).call("GET", "/api/credits/balance/simple", token="x")
        assert (status, body["code"]) == (200, 1001)


async def test_requests_are_recorded_with_attribution(api: Api, fake: FakeNemo) -> None:
    await api.login()
    await api.call("POST", "/api/tasks/me/with-session/nemo_agent", json={"task_name": "project"})
    await api.call("GET", "/api/credits/balance/simple", attribution=False)
    login, create, credits = fake.requests
    assert (login.method, login.path, login.header("x-client-id")) == ("POST", "/api/auth/anonymous-token", "client-1")
    assert create.json == {"task_name": "project"} and create.has_attribution
    assert create.header("authorization") == f"Bearer {api.token}"
    assert not credits.has_attribution and credits.status == 200


# ---------------------------------------------------------------------------- sessions, state, credits


async def test_create_session_and_state(api: Api, fake: FakeNemo) -> None:
    sid = await api.session("zh-CN")
    assert re.fullmatch(r"\d{19}", sid)
    session = fake.sessions[sid]
    assert session.language == "zh-CN" and re.fullmatch(r"task_[0-9a-f]+", session.task_id)
    status, body = await api.call("GET", f"/api/state/nemo_agent/{session.user_id}/{sid}/latest")
    assert status == 200
    assert body["data"] == {
        "session_id": sid,
        "task_id": session.task_id,
        "task_name": "project",
        "state": {
            "video_infos": [],
            "draft": None,
            "canvas_config": {"width": 1920, "height": 1080, "aspect_ratio": "16:9"},
            "video_analyses": {},
            "generated_media": [],
        },
    }
    status, body = await api.call("POST", "/api/tasks/anon_0000000000000000/with-session/nemo_agent", json={})
    assert status == 403


async def test_unknown_or_forgotten_session(api: Api, fake: FakeNemo, http: aiohttp.ClientSession) -> None:
    sid = await api.session()
    fake.forget_session(sid)
    status, body = await api.call("GET", f"/api/state/nemo_agent/me/{sid}/latest")
    assert (status, body) == (200, {"code": 1002, "message": "session not found"})

    async with FakeNemo(session_missing_status=404) as other:
        api2 = Api(http, other)
        await api2.login()
        status, body = await api2.call("GET", "/api/state/nemo_agent/me/1234567890123456789/latest")
        assert (status, body["code"]) == (404, 1002)


async def test_sessions_belong_to_their_user(api: Api, fake: FakeNemo) -> None:
    sid = await api.session()
    _, body = await api.call("GET", f"/api/state/nemo_agent/me/{sid}/latest", token="nmv_usr_operator")
    assert body["code"] == 1002


async def test_credits_are_charged_and_frozen_per_turn(api: Api, fake: FakeNemo) -> None:
    sid = await api.session()
    fake.script_turn([Text("working"), Pause(5)])
    async with api.http.post(
        api.base + "/run_sse",
        headers=api.auth(),
        json={"app_name": "nemo_agent", "user_id": "me", "session_id": sid, "new_message": {"parts": [{"text": "go"}]}},
    ) as r:
        await r.content.readuntil(b"\n\n")
        _, body = await api.call("GET", "/api/credits/balance/simple")
        assert body["data"] == {"available": 99, "frozen": 1, "total": 100}
    await fake.wait_for(lambda: fake.turns[-1].status != "running")
    _, body = await api.call("GET", "/api/credits/balance/simple")
    assert body["data"] == {"available": 99, "frozen": 0, "total": 99}


async def test_out_of_credits_before_streaming(api: Api, fake: FakeNemo) -> None:
    sid = await api.session()
    assert api.token is not None
    fake.account(api.token).available = 0
    status, ctype, raw = await api.chat_raw(sid, "add music")
    assert status == 200 and ctype.startswith("application/json")
    assert json.loads(raw) == {"code": 2001, "message": "insufficient credits"}
    assert fake.chat_messages == []


# ---------------------------------------------------------------------------- uploads


async def test_multipart_upload_shape(api: Api, fake: FakeNemo) -> None:
    sid = await api.session()
    status, body = await api.upload(
        sid, [("trip.mp4", b"\x00" * 5000, "video/mp4"), ("cover.PNG", b"png!", "image/png")]
    )
    assert status == 200 and body["code"] == 0 and body["data"]["session_state_applied"] is True
    video, image = body["data"]["files"]
    assert video == {
        "filename": "trip.mp4",
        "file_type": "video",
        "cdn_url": f"{fake.base_url}/cdn/{sid}/trip.mp4",
        "duration": 10.0,
        "width": 1920,
        "height": 1080,
        "fps": 30,
        "hash": hashlib.sha256(b"\x00" * 5000).hexdigest()[:16],
    }
    assert image["file_type"] == "image"
    assert [(u.filename, u.size, u.content_type) for u in fake.uploads] == [
        ("trip.mp4", 5000, "video/mp4"),
        ("cover.PNG", 4, "image/png"),
    ]
    assert fake.uploads[1].sha256 == hashlib.sha256(b"png!").hexdigest()
    assert [v["filename"] for v in (await api.state(sid))["video_infos"]] == ["trip.mp4", "cover.PNG"]


async def test_50mb_upload_is_streamed(api: Api, fake: FakeNemo, monkeypatch: pytest.MonkeyPatch) -> None:
    sid = await api.session()

    def buffered(*_: object) -> None:
        raise AssertionError("the fake must not buffer uploads")

    monkeypatch.setattr(web.BaseRequest, "post", buffered)
    monkeypatch.setattr(web.BaseRequest, "read", buffered)
    expected = hashlib.sha256()
    size = 50 * 1024 * 1024
    block = bytes(range(256)) * 4096  # 1 MiB

    async def body() -> AsyncIterator[bytes]:
        for i in range(size // len(block)):
            chunk = block[i % 7 :] + block[: i % 7]
            expected.update(chunk)
            yield chunk

    status, resp = await api.upload(sid, [("big.mov", body(), "video/quicktime")])
    assert status == 200 and resp["code"] == 0, resp
    record = fake.uploads[-1]
    assert (record.size, record.sha256) == (size, expected.hexdigest())
    assert resp["data"]["files"][0]["hash"] == expected.hexdigest()[:16]
    assert 0 < fake.peak_upload_chunk_bytes <= 1024 * 1024


async def test_upload_errors(api: Api, http: aiohttp.ClientSession) -> None:
    async with FakeNemo(upload_limit_bytes=1024 * 1024) as fake:
        api = Api(http, fake)
        sid = await api.session()
        status, body = await api.upload(sid, [("notes.txt", b"hello", "text/plain")])
        assert status == 200 and body["code"] == 4001
        status, body = await api.upload(sid, [("huge.mp4", b"\x01" * (4 * 1024 * 1024), "video/mp4")])
        assert status == 200 and body["code"] == 4002
        assert fake.uploads == [] and fake.sessions[sid].video_infos == []
        status, body = await api.upload("1111111111111111111", [("a.mp4", b"x", "video/mp4")])
        assert body["code"] == 1002


async def test_upload_by_url_is_recorded_not_fetched(api: Api, fake: FakeNemo) -> None:
    sid = await api.session()
    url = "http://127.0.0.1:9/never/fetched/beach%20day.mp4"
    status, body = await api.call(
        "POST", f"/api/upload-video/nemo_agent/me/{sid}", json={"urls": [url], "source_type": "url"}
    )
    assert status == 200 and body["code"] == 0
    assert body["data"]["files"][0]["filename"] == "beach day.mp4"
    assert fake.url_uploads == [(sid, url)] and fake.uploads == []
    status, body = await api.call(
        "POST", f"/api/upload-video/nemo_agent/me/{sid}", json={"urls": ["https://x.test/a.exe"], "source_type": "url"}
    )
    assert body["code"] == 4001


# ---------------------------------------------------------------------------- scripted failures


async def _prepared(api: Api) -> str:
    sid = await api.session()
    assert (await api.render("render_fixture"))[0] == 200
    return sid


CALLS: dict[str, Callable[[Api, str, int], Awaitable[tuple[int, Any]]]] = {
    "anonymous_token": lambda api, sid, n: api.get_token(f"fresh-{n}"),
    "create_session": lambda api, sid, n: api.call("POST", "/api/tasks/me/with-session/nemo_agent", json={}),
    "upload": lambda api, sid, n: api.upload(sid, [("a.mp4", b"abc", "video/mp4")]),
    "credits": lambda api, sid, n: api.call("GET", "/api/credits/balance/simple"),
    "state": lambda api, sid, n: api.call("GET", f"/api/state/nemo_agent/me/{sid}/latest"),
    "run_sse": lambda api, sid, n: api.call(
        "POST",
        "/run_sse",
        json={"app_name": "nemo_agent", "user_id": "me", "session_id": sid, "new_message": {"parts": [{"text": "hi"}]}},
    ),
    "render_start": lambda api, sid, n: api.render(f"render_{n}"),
    "render_poll": lambda api, sid, n: api.call("GET", "/api/render/proxy/lambda/render_fixture"),
    "render_cancel": lambda api, sid, n: api.call("POST", "/api/render/proxy/lambda/render_fixture/cancel"),
}


@pytest.mark.parametrize("endpoint", sorted(CALLS))
async def test_fail_answers_a_business_code_once(api: Api, fake: FakeNemo, endpoint: str) -> None:
    sid = await _prepared(api)
    fake.fail(endpoint, code=4001)  # type: ignore[arg-type]
    status, body = await CALLS[endpoint](api, sid, 1)
    assert status == 200
    if endpoint.startswith("render"):
        assert body["success"] is False and body["code"] == 4001
    else:
        assert body == {"code": 4001, "message": "unsupported file type"}
    status, body = await CALLS[endpoint](api, sid, 2)
    assert status == 200
    ok = (
        body.get("success") is True
        if endpoint.startswith("render")
        else (isinstance(body, str) or body.get("code") == 0)
    )
    assert ok, body


async def test_fail_http_statuses_and_repeats(api: Api, fake: FakeNemo) -> None:
    sid = await api.session()
    fake.fail("run_sse", http_status=503)
    status, ctype, _ = await api.chat_raw(sid, "hi")
    assert status == 503 and ctype.startswith("text/plain")
    assert fake.chat_messages == []

    fake.fail("credits", code=429, http_status=429, times=2)
    for _ in range(2):
        status, body = await api.call("GET", "/api/credits/balance/simple")
        assert (status, body) == (429, {"code": 429, "message": "rate limited"})
    assert (await api.call("GET", "/api/credits/balance/simple"))[0] == 200

    fake.fail("render_start", http_status=402, message="upgrade to export", times=None)
    for n in range(3):
        status, body = await api.render(f"r{n}")
        assert (status, body) == (402, {"success": False, "error": "upgrade to export"})

    with pytest.raises(ValueError, match="unknown endpoint"):
        fake.fail("nope", code=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        fake.fail("state")


# ---------------------------------------------------------------------------- /run_sse


async def test_default_turn_framing_and_draft(api: Api, fake: FakeNemo) -> None:
    sid = await api.session()
    await api.upload(sid, [("city.mp4", b"v" * 100, "video/mp4")])
    status, ctype, raw = await api.chat_raw(sid, "add lo-fi background music")
    assert (status, ctype) == (200, "text/event-stream; charset=utf-8")
    assert b"event:" not in raw and b"\nid:" not in raw and b"heartbeat" not in raw
    events = adk_events(raw)
    assert len({e["invocationId"] for e in events}) == 1
    assert all(e["author"] == "nemo_agent" and "stateDelta" in e["actions"] for e in events)
    assert all(re.fullmatch(r"e-[0-9a-f-]{36}", e["invocationId"]) for e in events)
    calls = [p["functionCall"] for e in events for p in e["content"]["parts"] if "functionCall" in p]
    results = [(e, p["functionResponse"]) for e in events for p in e["content"]["parts"] if "functionResponse" in p]
    assert {c["name"] for c in calls} == {"edit_multitrack"}
    assert [c["id"] for c in calls] == [r["id"] for _, r in results]
    assert all(e["content"]["role"] == "user" for e, _ in results)
    last_draft = results[-1][0]["actions"]["stateDelta"]["draft"]
    assert last_draft == {
        "t": [
            {"tt": 0, "sg": [{"d": 10000, "m": {"name": "city.mp4", "url": f"{fake.base_url}/cdn/{sid}/city.mp4"}}]},
            {"tt": 1, "sg": [{"d": 10000, "m": {"name": "Lo-fi", "volume": 0.35}}]},
        ],
        "d": 10000,
    }
    assert (await api.state(sid))["draft"] == last_draft
    [reply] = texts(events)
    assert "Lo-fi track (0-10s, 35% volume)" in reply and "Click Export" in reply
    assert fake.chat_messages == [(sid, "add lo-fi background music")]
    assert fake.turns[-1].status == "completed" and not fake.turns[-1].scripted


async def test_default_turn_edits(api: Api, fake: FakeNemo) -> None:
    sid = await api.session()
    await api.chat(sid, "add music")
    await api.chat(sid, 'add the title "Urban Dreams"')
    draft = fake.sessions[sid].draft
    assert draft is not None
    assert [t["tt"] for t in draft["t"]] == [1, 7]
    assert draft["t"][1]["sg"] == [{"d": 3000, "m": {"text": "Urban Dreams"}}]
    await api.chat(sid, "make the music quieter")
    assert fake.sessions[sid].draft["t"][0]["sg"][0]["m"]["volume"] == 0.2  # type: ignore[index]
    await api.chat(sid, "louder")
    assert fake.sessions[sid].draft["t"][0]["sg"][0]["m"]["volume"] == 0.35  # type: ignore[index]
    events = await api.chat(sid, "make it vertical 9:16")
    assert (await api.state(sid))["canvas_config"] == {"width": 1080, "height": 1920, "aspect_ratio": "9:16"}
    assert "9:16" in texts(events)[0]
    for small_talk in ("hello, what can you do?", "some context about this"):  # "context" is not "text"
        events = await api.chat(sid, small_talk)
        assert not any("functionCall" in p for e in events for p in e["content"]["parts"])
        assert texts(events) and "background music" in texts(events)[0]
    assert [text for _, text in fake.chat_messages][-1] == "some context about this"
    assert len(fake.chat_messages) == 7


async def test_default_turn_in_chinese(api: Api, fake: FakeNemo) -> None:
    sid = await api.session("zh-CN")
    status, _, raw = await api.chat_raw(sid, "加一段欢快的背景音乐")
    assert status == 200
    assert "完成".encode() in raw and b"\\u" not in raw  # UTF-8, not \u-escaped
    [reply] = texts(adk_events(raw))
    assert reply.startswith("完成！") and "点击「导出」" in reply and "Upbeat Pop" in reply


async def test_streaming_request_gets_partials_then_aggregate(api: Api) -> None:
    sid = await api.session()
    events = await api.chat(sid, "add title 'Hi'", streaming=True)
    partial = [p["text"] for e in events if e.get("partial") for p in e["content"]["parts"]]
    [full] = texts(events)
    assert len(partial) == 3 and "".join(partial) == full


async def test_run_sse_unknown_session(api: Api, fake: FakeNemo, http: aiohttp.ClientSession) -> None:
    await api.login()
    status, _, raw = await api.chat_raw("404404404404404404", "hi")
    assert (status, json.loads(raw)) == (404, {"detail": "Session not found: 404404404404404404"})
    sid = await api.session()
    fake.forget_session(sid)
    assert (await api.chat_raw(sid, "hi"))[0] == 404
    assert fake.chat_messages == []

    async with FakeNemo(run_sse_missing_session="code") as other:
        api2 = Api(http, other)
        await api2.login()
        status, _, raw = await api2.chat_raw("1", "hi")
        assert (status, json.loads(raw)) == (200, {"code": 1002, "message": "session not found"})


async def test_run_sse_validation(api: Api, fake: FakeNemo) -> None:
    sid = await api.session()
    status, body = await api.call("POST", "/run_sse", json={"app_name": "nemo_agent", "user_id": "me"})
    assert status == 422
    assert body["detail"][0]["type"] == "missing" and body["detail"][0]["loc"] == ["body", "session_id"]
    status, body = await api.call(
        "POST",
        "/run_sse",
        json={
            "app_name": "nemo_agent",
            "user_id": "me",
            "session_id": sid,
            "new_message": {"parts": [{"text": "hi", "bogus": 1}]},
        },
    )
    assert status == 422 and body["detail"][0]["type"] == "extra_forbidden"
    status, body = await api.call("POST", "/run_sse", data=b"{not json", headers={"Content-Type": "application/json"})
    assert status == 422
    # camelCase is accepted, as ADK's alias generator allows
    status, _ = await api.call(
        "POST",
        "/run_sse",
        json={"appName": "nemo_agent", "userId": "me", "sessionId": sid, "newMessage": {"parts": [{"text": "hi"}]}},
    )
    assert status == 200
    assert fake.chat_messages == [(sid, "hi")]


async def test_scripted_steps_are_framed_like_adk(api: Api, fake: FakeNemo) -> None:
    sid = await api.session()
    new_draft = {"t": [{"tt": 1, "sg": [{"d": 5000, "m": {"name": "Jazz", "volume": 0.5}}]}], "d": 5000}
    fake.script_turn(
        [
            Thought("planning"),
            Text("Hello there", partial_chunks=2),
            ToolCall("edit_multitrack", {"action": "add_bgm"}),
            ToolResult("edit_multitrack", draft=new_draft),
            Heartbeat("json"),
            Heartbeat("empty"),
            Heartbeat("comment"),
            ModelError("MALFORMED_FUNCTION_CALL", "bad call"),
            SimpleFormat("text", "simple"),
            Raw(b"data: {not json\n\n"),
            ErrorLine("Deadline exceeded"),
            Text("never sent"),
        ],
        session_id=sid,
    )
    status, _, raw = await api.chat_raw(sid, "go")
    assert status == 200
    blocks = parse_sse(raw)
    assert blocks[6:9] == [b'data: {"type":"heartbeat"}', b"data: ", b": keep-alive"]
    assert blocks[11] == b"data: {not json"
    assert blocks[12].startswith(b'data: {"error": "RuntimeError: Deadline exceeded", "error_details": {')
    assert len(blocks) == 13 and b"never sent" not in raw
    ev = [json.loads(b[6:]) for b in blocks[:6]]
    assert ev[0]["content"]["parts"][0] == {"text": "planning", "thought": True}
    assert [e.get("partial") for e in ev[1:4]] == [True, True, None]
    assert ev[1]["content"]["parts"][0]["text"] + ev[2]["content"]["parts"][0]["text"] == "Hello there"
    call, result = ev[4]["content"]["parts"][0]["functionCall"], ev[5]["content"]["parts"][0]["functionResponse"]
    assert call["id"] == result["id"] and ev[5]["actions"]["stateDelta"] == {"draft": new_draft}
    model_error = json.loads(blocks[9][6:])
    assert model_error["errorCode"] == "MALFORMED_FUNCTION_CALL" and "content" not in model_error
    assert json.loads(blocks[10][6:]) == {"type": "text", "content": "simple"}
    assert fake.sessions[sid].draft == new_draft
    assert fake.turns[-1].status == "error" and fake.turns[-1].scripted


async def test_script_for_one_session_only(api: Api, fake: FakeNemo) -> None:
    a, b = await api.session(), await api.session()
    fake.script_turn([Text("scripted for b")], session_id=b)
    assert texts(await api.chat(a, "hello"))[0] != "scripted for b"
    assert texts(await api.chat(b, "hello")) == ["scripted for b"]
    assert not texts(await api.chat(b, "hello"))[0].startswith("scripted")


async def _arrivals(api: Api, sid: str) -> tuple[bytes, list[tuple[float, int]]]:
    """The whole body, and when each byte count had arrived (loop time, bytes so far)."""
    loop = asyncio.get_running_loop()
    raw, marks = b"", []
    async with api.http.post(
        api.base + "/run_sse",
        headers=api.auth(),
        json={"app_name": "nemo_agent", "user_id": "me", "session_id": sid, "new_message": {"parts": [{"text": "go"}]}},
    ) as r:
        while chunk := await r.content.readany():
            raw += chunk
            marks.append((loop.time(), len(raw)))
    return raw, marks


async def test_pause_sends_nothing(api: Api, fake: FakeNemo) -> None:
    sid = await api.session()
    fake.script_turn([Text("one"), Pause(0.4), Text("two")])
    raw, marks = await _arrivals(api, sid)
    assert [texts([e])[0] for e in adk_events(raw)] == ["one", "two"]  # no keep-alive in between
    first_len = raw.index(b"\n\n") + 2
    first_done = next(t for t, n in marks if n >= first_len)
    second_started = next(t for t, n in marks if n > first_len)
    assert second_started - first_done >= 0.35


async def test_gateway_heartbeats_fill_silence(api: Api, fake: FakeNemo) -> None:
    fake.heartbeat_every = 0.05
    fake.heartbeat_kind = "empty"
    sid = await api.session()
    fake.script_turn([Text("one"), Pause(0.4), Text("two")])
    raw, _ = await _arrivals(api, sid)
    blocks = parse_sse(raw)
    assert blocks.count(b"data: ") >= 3
    assert blocks[0].startswith(b'data: {"content"') and b"two" in blocks[-1]


async def test_drop_aborts_mid_event_and_keeps_state(api: Api, fake: FakeNemo) -> None:
    sid = await api.session()
    fake.script_turn([ToolCall("edit_multitrack", {}), Drop(), ToolResult("edit_multitrack", draft=DRAFT)])
    received = b""
    with pytest.raises(aiohttp.ClientPayloadError):
        async with api.http.post(
            api.base + "/run_sse",
            headers=api.auth(),
            json={
                "app_name": "nemo_agent",
                "user_id": "me",
                "session_id": sid,
                "new_message": {"parts": [{"text": "go"}]},
            },
        ) as r:
            while chunk := await r.content.readany():
                received += chunk
    first, rest = received.split(b"\n\n", 1)
    assert b"functionCall" in first
    assert rest.startswith(b"data: {") and not rest.endswith(b"\n")  # half an event line
    await fake.wait_for(lambda: fake.turns[-1].status != "running")
    assert fake.turns[-1].status == "dropped"
    assert fake.sessions[sid].draft is None


async def test_client_hang_up_stops_the_turn(api: Api, fake: FakeNemo) -> None:
    sid = await api.session()
    fake.script_turn([Text("starting"), Pause(10), ToolResult("edit_multitrack", draft=DRAFT)])
    async with api.http.post(
        api.base + "/run_sse",
        headers=api.auth(),
        json={"app_name": "nemo_agent", "user_id": "me", "session_id": sid, "new_message": {"parts": [{"text": "go"}]}},
    ) as r:
        await r.content.readuntil(b"\n\n")
        r.close()
    await fake.wait_for(lambda: fake.turns[-1].status != "running", timeout=5)
    assert fake.turns[-1].status == "client_gone"
    assert fake.sessions[sid].draft is None


async def test_close_ends_running_streams(http: aiohttp.ClientSession) -> None:
    fake = FakeNemo()
    await fake.start()
    api = Api(http, fake)
    sid = await api.session()
    fake.script_turn([Text("x"), Pause(30)])
    async with api.http.post(
        api.base + "/run_sse",
        headers=api.auth(),
        json={"app_name": "nemo_agent", "user_id": "me", "session_id": sid, "new_message": {"parts": [{"text": "go"}]}},
    ) as r:
        await r.content.readuntil(b"\n\n")
        async with asyncio.timeout(5):
            await fake.close()
    assert fake.turns[-1].status == "client_gone"


async def test_wait_for_times_out(fake: FakeNemo) -> None:
    with pytest.raises(TimeoutError):
        await fake.wait_for(lambda: False, timeout=0.05)


# ---------------------------------------------------------------------------- render


async def test_render_start_rules(api: Api, fake: FakeNemo) -> None:
    await api.login()
    status, body = await api.render("render_1")
    assert (status, body) == (200, {"success": True, "data": {"id": "render_1", "status": "pending", "progress": 5}})
    assert fake.renders["render_1"].output == {"format": "mp4", "quality": "high"}
    assert (await api.render("render_1")) == (400, {"success": False, "error": "duplicate id"})
    bad_drafts: list[Any] = [None, {}, {"t": []}, {"t": [{"tt": 0, "sg": []}]}]
    for draft in bad_drafts:
        assert (await api.render(f"r-{draft}", draft=draft)) == (400, {"success": False, "error": "invalid draft"})
    status, body = await api.render("render_2", attribution=False)
    assert status == 402 and body["success"] is False
    assert set(fake.renders) == {"render_1"}


async def test_render_shape_a(api: Api, fake: FakeNemo) -> None:
    await api.login()
    await api.render("render_a")
    first = await api.poll("render_a")
    assert first["data"]["status"] == "processing" and 5 < first["data"]["progress"] < 100
    assert "outputUrl" not in first["data"]
    done = (await api.poll("render_a"))["data"]
    assert set(done) == {"id", "status", "progress", "outputUrl", "createdAt", "completedAt"}
    assert (done["status"], done["progress"]) == ("completed", 100)
    assert done["outputUrl"] == f"{fake.base_url}/render-result/render_a.mp4"
    assert done["completedAt"] >= done["createdAt"] > 1_700_000_000_000
    async with api.http.get(done["outputUrl"]) as r:  # a CDN url: no auth
        assert r.status == 200 and r.content_type == "video/mp4"
        video = await r.read()
    assert video[4:8] == b"ftyp"
    status, body = await api.call("GET", "/api/render/proxy/render_a/download")
    assert (status, body) == (200, video)


async def test_render_shape_b(api: Api, fake: FakeNemo) -> None:
    fake.render_shape = "B"
    fake.render_polls_to_complete = 1
    await api.login()
    await api.render("render_b")
    body = await api.poll("render_b")
    assert set(body) == {"taskId", "status", "progress", "output"}
    assert (body["taskId"], body["status"], body["progress"]) == ("render_b", "completed", 100)
    async with api.http.get(body["output"]["url"]) as r:
        assert len(await r.read()) == body["output"]["size"]
    assert body["output"]["duration"] == 10.0


@pytest.mark.parametrize("shape", ["A", "B"])
async def test_render_modes(api: Api, fake: FakeNemo, shape: str) -> None:
    fake.render_shape = shape  # type: ignore[assignment]
    await api.login()

    def view(body: dict[str, Any]) -> dict[str, Any]:
        return body["data"] if shape == "A" else body

    fake.render_mode = "fail"
    await api.render("r_fail")
    await api.poll("r_fail")
    failed = view(await api.poll("r_fail"))
    assert failed["status"] == "failed" and failed["error"] == "render failed: invalid draft"

    fake.render_mode = "never"
    await api.render("r_never")
    progress = [view(await api.poll("r_never"))["progress"] for _ in range(5)]
    assert progress == sorted(progress) and progress[-1] < 100
    assert view(await api.poll("r_never"))["status"] == "processing"

    fake.render_mode = "no_url"
    await api.render("r_nourl")
    await api.poll("r_nourl")
    done = view(await api.poll("r_nourl"))
    assert done["status"] == "completed" and "outputUrl" not in done
    assert "url" not in done.get("output", {})
    async with api.http.get(f"{fake.base_url}/render-result/r_nourl.mp4") as r:
        assert r.status == 404
    status, _ = await api.call("GET", "/api/render/proxy/r_nourl/download")  # the fallback still works
    assert status == 200


async def test_render_cancel(api: Api, fake: FakeNemo) -> None:
    await api.login()
    await api.render("r_c")
    status, body = await api.call("POST", "/api/render/proxy/lambda/r_c/cancel")
    assert (status, body) == (200, {"success": True, "data": {"id": "r_c", "status": "cancelled"}})
    assert (await api.poll("r_c"))["data"]["status"] == "cancelled"
    status, _ = await api.call("POST", "/api/render/proxy/lambda/nope/cancel")
    assert status == 404
    status, _ = await api.call("GET", "/api/render/proxy/r_c/download")
    assert status == 404


def test_tiny_mp4_is_well_formed() -> None:
    data = tiny_mp4(12_345)
    boxes, pos = [], 0
    while pos < len(data):
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        boxes.append(kind)
        pos += size
    assert boxes == [b"ftyp", b"moov", b"mdat"] and pos == len(data)
    mvhd = data.index(b"mvhd")
    timescale, duration = struct.unpack(">II", data[mvhd + 16 : mvhd + 24])
    assert (timescale, duration) == (1000, 12_345)


# ---------------------------------------------------------------------------- command line


async def test_command_line_prints_base_url_and_serves(http: aiohttp.ClientSession) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "devkit.fakes.nemo",
        "--port",
        "0",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(20):
            base = (await proc.stdout.readline()).decode().strip()
            assert re.fullmatch(r"http://127\.0\.0\.1:\d+", base), base
            async with http.post(base + "/api/auth/anonymous-token", headers={"X-Client-Id": "cli"}) as r:
                assert (await r.json())["code"] == 0
            proc.send_signal(signal.SIGTERM)
            assert await proc.wait() == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
