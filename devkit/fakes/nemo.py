"""A faithful local fake of the NemoVideo backend (`mega-api-prod.nemovideo.ai`), on aiohttp.

Used by the tests and by the offline playground. It follows the wire contract as far as it is
known (docs/backend-contract.md); where the sources conflict it can emit every
variant behind a switch (`render_shape`, `run_sse_missing_session`, status codes, heartbeat
kinds, scripted steps), so the client's tolerance is what gets tested.

    async with FakeNemo() as fake:            # binds 127.0.0.1 on an ephemeral port
        ...                                   # point the client under test at fake.base_url
        fake.fail("upload", code=4001)        # next upload answers 4001 once
        fake.script_turn([ToolCall("edit_multitrack", {}), ToolResult("edit_multitrack"), Drop()])
        await fake.wait_for(lambda: len(fake.chat_messages) == 1)

Run by hand: `python -m devkit.fakes.nemo --port 8765` prints the base url.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import hashlib
import json
import re
import secrets
import signal
import string
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import PurePosixPath
from types import TracebackType
from typing import Any, Literal, Self
from urllib.parse import quote, unquote, urlsplit

from aiohttp import BodyPartReader, web
from multidict import CIMultiDict

from devkit.fakes.nemo_chat import SseStream, play_steps
from devkit.fakes.nemo_default import plan_default_turn
from devkit.fakes.nemo_models import (
    Account,
    Endpoint,
    Failure,
    RecordedRequest,
    RenderJob,
    RenderMode,
    RenderShape,
    Session,
    TokenRecord,
    TurnRecord,
    UploadRecord,
    tiny_mp4,
)
from devkit.fakes.nemo_render import advance, draft_ready, has_url, job_mp4, now_ms, poll_body
from devkit.fakes.nemo_steps import (
    AdkTurn,
    Drop,
    ErrorLine,
    Heartbeat,
    HeartbeatKind,
    ModelError,
    Pause,
    Raw,
    SimpleFormat,
    Step,
    Text,
    Thought,
    ToolCall,
    ToolResult,
)
from engine.wire import (
    APP_NAME,
    ATTRIBUTION_HEADERS,
    ENDPOINTS,
    INVALID_JSON,
    MESSAGES,
    ErrorStatuses,
    NemoHandlers,
    WireError,
    add_routes,
    business_error,
    drain_body,
    event_stream_response,
    json_response,
    listen,
    ok,
    render_error,
    render_ok,
    session_not_found,
    unprocessable,
    validate_run_request,
)

__all__ = [
    "Account",
    "Drop",
    "Endpoint",
    "ErrorLine",
    "FakeNemo",
    "Heartbeat",
    "ModelError",
    "Pause",
    "Raw",
    "RecordedRequest",
    "RenderJob",
    "Session",
    "SimpleFormat",
    "Step",
    "Text",
    "Thought",
    "ToolCall",
    "ToolResult",
    "TurnRecord",
    "UploadRecord",
    "tiny_mp4",
]

MIB = 1024 * 1024
TOKEN_TTL = timedelta(days=7)
CHUNK_SIZE = 256 * 1024
VIDEO_EXT = frozenset({"mp4", "mov", "avi", "webm", "mkv"})
IMAGE_EXT = frozenset({"jpg", "jpeg", "png", "gif", "webp"})
AUDIO_EXT = frozenset({"mp3", "wav", "m4a", "aac"})
SUPPORTED_EXT = VIDEO_EXT | IMAGE_EXT | AUDIO_EXT

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_LATIN = re.compile(r"[A-Za-z]")
_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_BODY = web.RequestKey("json_body", object)


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _ext(name: str) -> str:
    return PurePosixPath(name).suffix.lower().lstrip(".")


def _message_language(text: str, fallback: str) -> str:
    """Chinese when the text has Han characters, English when it has Latin letters, else `fallback`."""
    if _HAN.search(text):
        return "zh-CN"
    if _LATIN.search(text):
        return "en"
    return fallback


def _file_type(ext: str) -> Literal["video", "image", "audio"]:
    if ext in IMAGE_EXT:
        return "image"
    if ext in AUDIO_EXT:
        return "audio"
    return "video"


class FakeNemo:
    """The fake backend. All public attributes are plain data that tests read and tweak."""

    def __init__(
        self,
        *,
        port: int = 0,
        registered_tokens: Mapping[str, int] | None = None,
        anonymous_credits: int = 100,
        ip_token_cap: int = 10,
        upload_limit_bytes: int = 500 * MIB,
        turn_cost: int = 1,
        auth_error_status: Literal[200, 401] = 401,
        session_missing_status: int = 200,
        business_error_status: int = 200,
        run_sse_missing_session: Literal["adk", "code"] = "adk",
        require_attribution_for_export: bool = True,
        render_polls_to_complete: int = 2,
        render_mode: RenderMode = "ok",
        render_shape: RenderShape = "A",
        heartbeat_every: float | None = None,
        heartbeat_kind: HeartbeatKind = "json",
        default_turn_delay: float = 0.0,
    ) -> None:
        self.port = port
        self.anonymous_credits = anonymous_credits
        self.ip_token_cap = ip_token_cap
        self.upload_limit_bytes = upload_limit_bytes
        self.turn_cost = turn_cost
        self.auth_error_status: int = auth_error_status
        self.session_missing_status = session_missing_status
        self.business_error_status = business_error_status
        self.run_sse_missing_session = run_sse_missing_session
        self.require_attribution_for_export = require_attribution_for_export
        self.render_polls_to_complete = render_polls_to_complete
        self.render_mode: RenderMode = render_mode
        self.render_shape: RenderShape = render_shape
        self.render_error_message = "render failed: invalid draft"
        self.heartbeat_every = heartbeat_every
        self.heartbeat_kind: HeartbeatKind = heartbeat_kind
        self.default_turn_delay = default_turn_delay
        self.result_video: bytes | None = None
        """When set (the playground does), every finished render serves these bytes, inline, so a
        browser plays the link; otherwise a tiny MP4-looking file is served as a download."""
        self.reply_in_message_language = False
        """When True, a default reply follows each message's script (Chinese or Latin) like the real
        agent does, instead of the language the session was created with."""

        self.requests: list[RecordedRequest] = []
        self.uploads: list[UploadRecord] = []
        self.url_uploads: list[tuple[str, str]] = []
        self.chat_messages: list[tuple[str, str]] = []
        self.turns: list[TurnRecord] = []
        self.sessions: dict[str, Session] = {}
        self.renders: dict[str, RenderJob] = {}
        self.tokens: dict[str, TokenRecord] = {}
        self.tokens_issued = 0
        self.peak_upload_chunk_bytes = 0

        self._by_client: dict[str, TokenRecord] = {}
        self._issued_by_ip: dict[str, list[datetime]] = {}
        self._failures: dict[str, list[tuple[Failure, int | None]]] = {}
        self._scripts: list[tuple[str | None, list[Step]]] = []
        self._clock_offset = timedelta(0)
        self._changed = asyncio.Event()
        self._streams: set[asyncio.Task[Any]] = set()
        self._runner: web.AppRunner | None = None
        self.base_url = ""
        now = self._now()
        for token, credits in (registered_tokens or {}).items():
            account = Account(user_id=f"usr_{secrets.token_hex(8)}", available=credits, registered=True)
            forever = now + timedelta(days=3650)
            self.tokens[token] = TokenRecord(token, account, expires_at=forever, issued_at=now)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> str:
        """Bind 127.0.0.1 (port 0 = ephemeral) and return the base url."""
        app = web.Application(middlewares=[self._middleware], client_max_size=64 * MIB)
        add_routes(app.router, self)
        app.router.add_get("/render-result/{rid}.mp4", self._render_result)
        self._runner, self.base_url = await listen(
            app, "127.0.0.1", self.port, handler_cancellation=True, shutdown_timeout=1.0, access_log=None
        )
        return self.base_url

    async def close(self) -> None:
        """Stop streams still running (they would otherwise hold shutdown up) and the server."""
        for task in list(self._streams):
            task.cancel()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # ------------------------------------------------------------------ scripting

    def fail(
        self,
        endpoint: Endpoint,
        *,
        code: int | None = None,
        http_status: int | None = None,
        message: str | None = None,
        times: int | None = 1,
    ) -> None:
        """Make the next `times` calls of `endpoint` (None = every call) answer this error."""
        if endpoint not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {endpoint!r}; one of {sorted(ENDPOINTS)}")
        if code is None and http_status is None:
            raise ValueError("give a business code, an HTTP status, or both")
        if times is not None and times < 1:
            raise ValueError("times must be >= 1 or None")
        self._failures.setdefault(endpoint, []).append((Failure(code, http_status, message), times))

    def script_turn(self, steps: Sequence[Step], session_id: str | None = None) -> None:
        """The next `/run_sse` (for `session_id`, or any session) plays `steps` instead of the
        default reply. Scripts queue up and are used first-in, first-out."""
        self._scripts.append((session_id, list(steps)))

    def expire_token(self, token: str) -> None:
        """Make `token` expired now (requests with it get 1001; its client id gets a new one)."""
        self.tokens[token].expires_at = self._now() - timedelta(seconds=1)
        self._notify()

    def expire_all_tokens(self) -> None:
        """Expire every token, including configured registered ones."""
        for token in self.tokens:
            self.expire_token(token)

    def advance_time(self, delta: timedelta) -> None:
        """Move the fake's clock (token expiry, the per-IP 7-day window)."""
        self._clock_offset += delta
        self._notify()

    def forget_session(self, session_id: str) -> None:
        """Drop a session: later calls for it get 1002 (or ADK's 404 on `/run_sse`)."""
        self.sessions.pop(session_id, None)
        self._notify()

    def account(self, token: str) -> Account:
        """The credits account behind a token (tests set `.available` to run out of credits)."""
        return self.tokens[token].account

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Wait until `predicate()` holds; re-checked whenever the fake sees or sends anything."""
        async with asyncio.timeout(timeout):
            while not predicate():
                await self._changed.wait()

    # ------------------------------------------------------------------ plumbing

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def _now(self) -> datetime:
        return datetime.now(UTC) + self._clock_offset

    @web.middleware
    async def _middleware(self, request: web.Request, handler: _Handler) -> web.StreamResponse:
        """Record every request (with its JSON body) and turn `WireError` into its response."""
        body: Any = None
        if request.content_type == "application/json" and request.can_read_body:
            try:
                body = json.loads(await request.read())
            except ValueError:
                body = INVALID_JSON
        record = RecordedRequest(
            method=request.method,
            path=request.path,
            headers=CIMultiDict(request.headers),
            json=None if body is INVALID_JSON else body,
            query=dict(request.query),
            has_attribution=all(request.headers.get(h) for h in ATTRIBUTION_HEADERS),
        )
        request[_BODY] = body
        self.requests.append(record)
        self._notify()
        try:
            response = await handler(request)
        except WireError as abort:
            if abort.drain:
                await drain_body(request)
            response = abort.response
        except web.HTTPException as exc:  # aiohttp's own 404/405 for unknown routes
            record.status = exc.status
            raise
        finally:
            self._notify()
        record.status = response.status
        return response

    def _take_failure(self, endpoint: str) -> None:
        queue = self._failures.get(endpoint)
        if not queue:
            return
        failure, times = queue[0]
        if times is not None:
            if times <= 1:
                queue.pop(0)
            else:
                queue[0] = (failure, times - 1)
        raise WireError(self._failure_response(endpoint, failure))

    def _statuses(self) -> ErrorStatuses:
        """The status conventions in force (tests change the attributes while the fake runs)."""
        return ErrorStatuses(self.auth_error_status, self.session_missing_status, self.business_error_status)

    def _failure_response(self, endpoint: str, f: Failure) -> web.StreamResponse:
        if f.code is None:
            status = f.http_status or 500
            if status >= 500:  # what a proxy in front of the backend answers
                return web.Response(status=status, text=f"{status} upstream error", content_type="text/plain")
        status = f.http_status or self._statuses().status_for(f.code or 0)
        code = f.code if f.code is not None else status
        message = f.message or MESSAGES.get(code, "error")
        if endpoint.startswith("render"):
            return render_error(message, status, code=f.code).response
        return business_error(code, message, status=status).response

    def _error(
        self, code: int, message: str | None = None, *, status: int | None = None, drain: bool = True
    ) -> WireError:
        error = business_error(code, message, statuses=self._statuses(), status=status)
        error.drain = drain
        return error

    def _authenticate(self, request: web.Request) -> TokenRecord:
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        record = self.tokens.get(value.strip()) if scheme.lower() == "bearer" else None
        if record is None or record.expires_at <= self._now():
            raise self._error(1001)
        return record

    def _session(self, session_id: str, token: TokenRecord, user: str) -> Session:
        session = self.sessions.get(session_id)
        if session is None or session.user_id != token.account.user_id or user not in ("me", session.user_id):
            raise self._error(1002)
        return session

    def _body(self, request: web.Request) -> dict[str, Any]:
        body = request.get(_BODY)
        if body is None:
            return {}
        if not isinstance(body, dict):
            raise self._error(400, "invalid JSON body", status=400)
        return body

    # ------------------------------------------------------------------ auth, sessions, credits

    async def handle_anonymous_token(self, request: web.Request) -> web.Response:
        """1 token per client id per 7 days (a repeat gets the same one), N per IP per 7 days."""
        self._take_failure("anonymous_token")
        client_id = request.headers.get("X-Client-Id", "").strip()
        if not client_id:
            raise self._error(400, "missing X-Client-Id")
        if len(client_id) > 64:
            raise self._error(400, "invalid X-Client-Id")
        now = self._now()
        current = self._by_client.get(client_id)
        if current is None or current.expires_at <= now:
            ip = request.headers.get("X-Forwarded-For", "").split(",")[0].strip() or request.remote or "?"
            recent = [t for t in self._issued_by_ip.get(ip, []) if now - t < TOKEN_TTL]
            if len(recent) >= self.ip_token_cap:
                raise self._error(429, "rate limited: too many anonymous tokens from this IP")
            self._issued_by_ip[ip] = [*recent, now]
            account = (
                current.account
                if current
                else Account(user_id=f"anon_{secrets.token_hex(8)}", available=self.anonymous_credits)
            )
            alphabet = string.ascii_letters + string.digits
            token = "nmv_usr_" + "".join(secrets.choice(alphabet) for _ in range(40))
            current = TokenRecord(token, account, expires_at=now + TOKEN_TTL, issued_at=now, client_id=client_id, ip=ip)
            self.tokens[token] = current
            self._by_client[client_id] = current
            self.tokens_issued += 1
        return ok(
            {
                "token": current.token,
                "user_id": current.account.user_id,
                "expires_at": _iso(current.expires_at),
                "credits": current.account.available,
            }
        )

    async def handle_create_session(self, request: web.Request) -> web.Response:
        self._take_failure("create_session")
        token = self._authenticate(request)
        if request.match_info["user"] not in ("me", token.account.user_id):
            raise self._error(403, "user mismatch", status=403)
        body = self._body(request)
        task_name, language = body.get("task_name", "project"), body.get("language", "en")
        if not isinstance(task_name, str) or not isinstance(language, str):
            raise self._error(400, "task_name and language must be strings", status=400)
        session = Session(
            session_id=str(secrets.randbelow(9 * 10**18) + 10**18),
            task_id=f"task_{secrets.token_hex(8)}",
            user_id=token.account.user_id,
            task_name=task_name,
            language=language,
        )
        self.sessions[session.session_id] = session
        return ok(
            {
                "task_id": session.task_id,
                "session_id": session.session_id,
                "user_id": session.user_id,
            }
        )

    async def handle_credits(self, request: web.Request) -> web.Response:
        self._take_failure("credits")
        account = self._authenticate(request).account
        return ok(
            {
                "available": account.available,
                "frozen": account.frozen,
                "total": account.total,
            }
        )

    async def handle_state(self, request: web.Request) -> web.Response:
        self._take_failure("state")
        token = self._authenticate(request)
        session = self._session(request.match_info["sid"], token, request.match_info["user"])
        return ok(
            {
                "session_id": session.session_id,
                "task_id": session.task_id,
                "task_name": session.task_name,
                "state": copy.deepcopy(session.state()),
            }
        )

    # ------------------------------------------------------------------ uploads

    def _media_info(self, session_id: str, filename: str, digest: str) -> dict[str, Any]:
        kind = _file_type(_ext(filename))
        width, height = {"video": (1920, 1080), "image": (1080, 1080), "audio": (0, 0)}[kind]
        return {
            "filename": filename,
            "file_type": kind,
            "cdn_url": f"{self.base_url}/cdn/{session_id}/{quote(filename)}",
            "duration": {"video": 10.0, "image": 0.0, "audio": 30.0}[kind],
            "width": width,
            "height": height,
            "fps": 30 if kind == "video" else 0,
            "hash": digest[:16],
        }

    def _check_ext(self, filename: str) -> None:
        ext = _ext(filename)
        if ext not in SUPPORTED_EXT:
            raise self._error(4001, f"unsupported file type: .{ext or '?'}")

    async def handle_upload(self, request: web.Request) -> web.Response:
        """Multipart parts named `files` are hashed while streaming, never held whole."""
        self._take_failure("upload")
        token = self._authenticate(request)
        session = self._session(request.match_info["sid"], token, request.match_info["user"])
        if request.content_type == "application/json":
            files = self._upload_urls(session, self._body(request))
        elif request.content_type.startswith("multipart/"):
            files = await self._upload_multipart(session, request)
        else:
            raise self._error(400, "expected multipart/form-data or JSON", status=400)
        session.video_infos.extend(copy.deepcopy(files))
        return ok({"files": files, "session_state_applied": True})

    def _upload_urls(self, session: Session, body: dict[str, Any]) -> list[dict[str, Any]]:
        urls = body.get("urls")
        if not isinstance(urls, list) or not urls or not all(isinstance(u, str) and u for u in urls):
            raise self._error(400, "urls must be a non-empty list of strings", status=400)
        names = [PurePosixPath(unquote(urlsplit(u).path)).name or "remote.mp4" for u in urls]
        for name in names:
            if _ext(name):
                self._check_ext(name)
        self.url_uploads.extend((session.session_id, u) for u in urls)
        return [
            self._media_info(session.session_id, name, hashlib.sha256(url.encode()).hexdigest())
            for name, url in zip(names, urls, strict=True)
        ]

    async def _upload_multipart(self, session: Session, request: web.Request) -> list[dict[str, Any]]:
        reader = await request.multipart()
        records: list[UploadRecord] = []
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                raise self._error(400, "nested multipart is not supported", status=400)
            if part.name != "files":
                await part.release()
                continue
            filename = PurePosixPath((part.filename or "").replace("\\", "/")).name
            self._check_ext(filename)
            digest, size = hashlib.sha256(), 0
            while chunk := await part.read_chunk(CHUNK_SIZE):
                size += len(chunk)
                self.peak_upload_chunk_bytes = max(self.peak_upload_chunk_bytes, len(chunk))
                if size > self.upload_limit_bytes:
                    limit_mb = self.upload_limit_bytes / MIB
                    raise self._error(4002, f"file too large (limit {limit_mb:g} MB)", drain=False)
                digest.update(chunk)
            records.append(
                UploadRecord(
                    session.session_id,
                    filename,
                    size,
                    digest.hexdigest(),
                    part.headers.get("Content-Type"),
                    sent_filename=part.filename,
                )
            )
        if not records:
            raise self._error(400, "no parts named 'files'", status=400)
        self.uploads.extend(records)
        return [self._media_info(session.session_id, r.filename, r.sha256) for r in records]

    # ------------------------------------------------------------------ chat (/run_sse)

    def _next_script(self, session_id: str) -> list[Step] | None:
        for i, (sid, steps) in enumerate(self._scripts):
            if sid is None or sid == session_id:
                del self._scripts[i]
                return steps
        return None

    async def handle_run_sse(self, request: web.Request) -> web.StreamResponse:
        """Validate like ADK, charge credits, then stream the scripted or default turn."""
        self._take_failure("run_sse")
        token = self._authenticate(request)
        run, errors = validate_run_request(request.get(_BODY))
        if run is None:
            raise unprocessable(errors)
        session = self.sessions.get(run.session_id)
        if (
            session is None
            or run.app_name != APP_NAME
            or session.user_id != token.account.user_id
            or run.user_id not in ("me", session.user_id)
        ):
            if self.run_sse_missing_session == "code":
                raise self._error(1002)
            raise session_not_found(run.session_id)
        account = token.account
        if account.available < self.turn_cost:
            raise self._error(2001)

        script = self._next_script(session.session_id)
        language = session.language
        if self.reply_in_message_language:
            language = _message_language(run.text, session.language)
        steps = (
            script
            if script is not None
            else plan_default_turn(
                run.text,
                language=language,
                draft=session.draft,
                video_infos=session.video_infos,
                canvas=session.canvas_config,
            )
        )
        if script is None and run.streaming:
            steps = [Text(s.text, partial_chunks=3) if isinstance(s, Text) else s for s in steps]
        adk = AdkTurn()
        turn = TurnRecord(session.session_id, run.text, adk.invocation_id, scripted=script is not None)
        self.turns.append(turn)
        self.chat_messages.append((session.session_id, run.text))
        session.messages.append(run.text)
        account.available -= self.turn_cost
        account.frozen += self.turn_cost

        response = event_stream_response()
        task = asyncio.current_task()
        assert task is not None
        self._streams.add(task)
        stream = SseStream(request, response, turn, self._notify)
        try:
            await response.prepare(request)
            if self.heartbeat_every:
                stream.start_keepalive(self.heartbeat_every, self.heartbeat_kind)
            delay = self.default_turn_delay if script is None else 0.0
            turn.status = await play_steps(stream, adk, session, steps, delay, self._notify)
            await stream.stop_keepalive()
            if turn.status != "dropped":
                await response.write_eof()
        except ConnectionError:
            turn.status = "client_gone"
        except asyncio.CancelledError:
            turn.status = "client_gone"
            raise
        finally:
            await stream.stop_keepalive()
            account.frozen -= self.turn_cost
            self._streams.discard(task)
            self._notify()
        return response

    # ------------------------------------------------------------------ render

    def _job(self, request: web.Request) -> RenderJob:
        job = self.renders.get(request.match_info["rid"])
        if job is None:
            raise render_error("render not found", 404)
        return job

    async def handle_render_start(self, request: web.Request) -> web.Response:
        self._take_failure("render_start")
        self._authenticate(request)
        if self.require_attribution_for_export and not all(request.headers.get(h) for h in ATTRIBUTION_HEADERS):
            raise render_error("export blocked on the free plan (missing X-Skill-* headers)", 402)
        body = request.get(_BODY)
        if not isinstance(body, dict):
            raise render_error("invalid JSON body", 400)
        render_id = body.get("id")
        if not isinstance(render_id, str) or not render_id:
            raise render_error("missing id", 400)
        if render_id in self.renders:
            raise render_error("duplicate id", 400)
        draft = body.get("draft")
        if not isinstance(draft, dict) or not draft_ready(draft):
            raise render_error("invalid draft", 400)
        output = body.get("output")
        session_id = body.get("sessionId")
        job = RenderJob(
            id=render_id,
            session_id=session_id if isinstance(session_id, str) else None,
            draft=copy.deepcopy(draft),
            output=dict(output) if isinstance(output, dict) else {},
            mode=self.render_mode,
            polls_to_complete=self.render_polls_to_complete,
            created_at_ms=now_ms(),
        )
        self.renders[render_id] = job
        return render_ok({"id": job.id, "status": job.status, "progress": job.progress})

    async def handle_render_poll(self, request: web.Request) -> web.Response:
        self._take_failure("render_poll")
        self._authenticate(request)
        job = self._job(request)
        advance(job, self.render_error_message)
        url = f"{self.base_url}/render-result/{quote(job.id)}.mp4"
        return json_response(poll_body(job, self.render_shape, url))

    async def handle_render_cancel(self, request: web.Request) -> web.Response:
        self._take_failure("render_cancel")
        self._authenticate(request)
        job = self._job(request)
        if job.status in ("completed", "failed"):
            raise render_error("render already finished", 400)
        job.status = "cancelled"
        return render_ok({"id": job.id, "status": job.status})

    def _mp4_response(self, job: RenderJob) -> web.Response:
        if self.result_video is not None:
            return web.Response(
                body=self.result_video,
                content_type="video/mp4",
                headers={"Content-Disposition": f'inline; filename="{job.id}.mp4"'},
            )
        return web.Response(
            body=job_mp4(job),
            content_type="video/mp4",
            headers={"Content-Disposition": f'attachment; filename="{job.id}.mp4"'},
        )

    async def handle_render_download(self, request: web.Request) -> web.Response:
        """The API fallback: streams the file even when the poll gave no url."""
        self._take_failure("render_download")
        self._authenticate(request)
        job = self._job(request)
        if job.status != "completed":
            raise render_error("render not ready", 404)
        return self._mp4_response(job)

    async def _render_result(self, request: web.Request) -> web.Response:
        """The CDN url from the poll answer (no auth, like a public bucket)."""
        job = self.renders.get(request.match_info["rid"])
        if job is None or not has_url(job):
            raise WireError(web.Response(status=404, text="Not Found"))
        return self._mp4_response(job)


# ---------------------------------------------------------------------- command line
# FakeNemo answers every route of the shared table (checked by mypy, not at run time).
_: type[NemoHandlers] = FakeNemo


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m devkit.fakes.nemo", description="Run the fake NemoVideo backend on 127.0.0.1."
    )
    parser.add_argument("--port", type=int, default=0, help="port (default 0: ephemeral)")
    parser.add_argument(
        "--registered-token",
        action="append",
        default=[],
        metavar="TOKEN[=CREDITS]",
        help="accept this bearer token as a registered account (default 5000 credits)",
    )
    parser.add_argument("--delay", type=float, default=0.4, help="seconds between events of a default turn")
    parser.add_argument("--heartbeat-every", type=float, default=None, help="gateway keep-alive interval")
    parser.add_argument("--render-polls", type=int, default=2, help="polls until a render completes")
    parser.add_argument("--render-mode", choices=["ok", "fail", "never", "no_url"], default="ok")
    parser.add_argument("--render-shape", choices=["A", "B"], default="A")
    parser.add_argument("--upload-limit-mb", type=float, default=500.0)
    return parser.parse_args(argv)


async def _serve(args: argparse.Namespace) -> None:
    registered: dict[str, int] = {}
    for spec in args.registered_token:
        token, _, credits = spec.partition("=")
        registered[token] = int(credits) if credits else 5000
    fake = FakeNemo(
        port=args.port,
        registered_tokens=registered,
        default_turn_delay=args.delay,
        heartbeat_every=args.heartbeat_every,
        render_polls_to_complete=args.render_polls,
        render_mode=args.render_mode,
        render_shape=args.render_shape,
        upload_limit_bytes=int(args.upload_limit_mb * MIB),
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with fake:
        print(fake.base_url, flush=True)
        await stop.wait()


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of `python -m devkit.fakes.nemo`."""
    asyncio.run(_serve(_parse_args(argv)))


if __name__ == "__main__":
    main()
