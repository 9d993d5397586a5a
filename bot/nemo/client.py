"""Async NemoVideo client: one shared aiohttp session, typed answers, the contract's recovery rules.

Recovery rules (docs/backend-contract.md, section 3):
- 1001 / 1010 / 1011 / HTTP 401: renew the token (same client id) and retry once.
- 400 on the anonymous-token call: new client id, retry once (in TokenProvider).
- 429: wait RATE_LIMIT_RETRY_SECONDS and retry once.
- network errors and 5xx: bounded exponential backoff, but only for idempotent calls.
- a chat message is never sent twice: `/run_sse` is retried only when the backend provably
  did not accept it (auth refusal, 429, or a connection that never opened).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

import aiohttp
from aiohttp import payload as aiohttp_payload

from bot.config import BackendSettings
from bot.metrics import BACKEND_ERRORS, BACKEND_LATENCY, BACKEND_STREAM

from .auth import TokenProvider
from .errors import (
    CODE_TO_ERROR,
    BackendUnavailable,
    BadResponse,
    ExportBlocked,
    MissingClientId,
    NemoError,
    OutOfCredits,
    RateLimited,
    SessionNotFound,
    StreamDropped,
    StreamTimeout,
    TokenInvalid,
)
from .events import ChatEvent, EndEvent, HeartbeatEvent
from .models import AnonymousToken, Credits, RenderProgress, SessionInfo, SessionState, UploadResult
from .sse import SseLineTooLong, iter_chat_events

log = logging.getLogger(__name__)

SKILL_SOURCE = "background-music-to"
# The attribution headers want the skill's version, which its published text never states: a pinned stand-in.
SKILL_VERSION = "1.0.0"
SKILL_PLATFORM = "unknown"
APP_NAME = "nemo_agent"
UPLOAD_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=300)
AUTH_CODES = frozenset({1001, 1010, 1011})

ByteSource = Callable[[], AsyncIterator[bytes]]


@dataclass(frozen=True, slots=True)
class UploadSource:
    """A file to upload. `open` starts a fresh byte stream, so a retry can re-read it."""

    filename: str
    open: ByteSource
    content_type: str = "application/octet-stream"
    size: int | None = None


@dataclass(frozen=True, slots=True)
class RenderStarted:
    render_id: str
    status: str
    progress: int


class _Retry(Exception):
    """Internal: the attempt should be repeated (after `delay` seconds)."""

    def __init__(self, delay: float = 0.0) -> None:
        super().__init__()
        self.delay = delay


@dataclass
class _Attempt:
    auth_retried: bool = False
    rate_retried: bool = False
    transient_failures: int = 0


class NemoClient:
    """All backend calls. Never logs or raises anything containing the token."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        settings: BackendSettings,
        auth: TokenProvider,
        *,
        max_transient_retries: int = 3,
        backoff_base_seconds: float = 0.5,
        request_timeout_seconds: float = 60.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._http = http
        self._base = settings.api_base.rstrip("/")
        self._auth = auth
        self._rate_wait = settings.rate_limit_retry_seconds
        self._sse_timeout = settings.sse_timeout_seconds
        self._max_transient = max_transient_retries
        self._backoff = backoff_base_seconds
        self._timeout = aiohttp.ClientTimeout(total=request_timeout_seconds)
        self._sleep = sleep
        auth.bind_fetcher(self._fetch_anonymous_token)

    # ----------------------------------------------------------------- plumbing
    def _headers(self, token: str | None, *, json_body: bool = False) -> dict[str, str]:
        headers = {
            "X-Skill-Source": SKILL_SOURCE,
            "X-Skill-Version": SKILL_VERSION,
            "X-Skill-Platform": SKILL_PLATFORM,
        }
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if json_body:
            headers["Content-Type"] = "application/json"
        return headers

    async def _read_json(self, resp: aiohttp.ClientResponse) -> dict[str, Any]:
        raw = await resp.read()
        if not raw:
            return {}
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return {"_unparsed": raw[:200].decode("utf-8", "replace")}
        return body if isinstance(body, dict) else {"_value": body}

    def _business_code(self, body: dict[str, Any]) -> int | None:
        code = body.get("code")
        if isinstance(code, bool):
            return None
        if isinstance(code, int):
            return code
        if isinstance(code, str) and code.isdigit():
            return int(code)
        return None

    async def _raise_for(
        self, status: int, body: dict[str, Any], attempt: _Attempt, token: str | None, *, idempotent: bool
    ) -> None:
        """Turn a failed answer into a retry or a typed error; return if it is a success."""
        code = self._business_code(body)
        message = str(body.get("message") or body.get("error") or body.get("detail") or "")[:300]
        if (code is not None and code != 0) or status >= 400:
            BACKEND_ERRORS.labels(str(code if code not in (None, 0) else status)).inc()
        if code in AUTH_CODES or status == 401:
            if token is not None and not attempt.auth_retried:
                attempt.auth_retried = True
                await self._auth.invalidate(token)
                raise _Retry()
            raise TokenInvalid(message, code=code, http_status=status)
        if code == 429 or status == 429:
            if not attempt.rate_retried:
                attempt.rate_retried = True
                log.info("nemo rate limited; retrying once in %.1fs", self._rate_wait)
                raise _Retry(self._rate_wait)
            raise RateLimited(message, code=429, http_status=status)
        if code is not None and code != 0:
            if code == 2001:
                raise OutOfCredits(
                    message, bind_id=await self._auth.bind_id(), registered=self._auth.registered, http_status=status
                )
            error_type = CODE_TO_ERROR.get(code, NemoError)
            raise error_type(message, code=code, http_status=status)
        if status == 402:
            raise ExportBlocked(message, http_status=status)
        if status == 404 and "session" in message.lower():
            raise SessionNotFound(message, http_status=status)
        if status == 413:
            raise CODE_TO_ERROR[413](message, http_status=status)
        if status >= 500:
            self._transient(attempt, idempotent, f"HTTP {status}")
        if status >= 400:
            raise NemoError(message or f"HTTP {status}", http_status=status)

    def _transient(self, attempt: _Attempt, idempotent: bool, what: str) -> NoReturn:
        if not what.startswith("HTTP"):
            BACKEND_ERRORS.labels("network").inc()
        if idempotent and attempt.transient_failures < self._max_transient:
            attempt.transient_failures += 1
            delay = min(self._backoff * 2 ** (attempt.transient_failures - 1), 8.0)
            log.warning("nemo transient failure (%s); retry %d in %.2fs", what, attempt.transient_failures, delay)
            raise _Retry(delay)
        raise BackendUnavailable(what)

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        form: Callable[[], aiohttp.FormData | aiohttp.MultipartWriter] | None = None,
        idempotent: bool = True,
        authenticated: bool = True,
        timeout: aiohttp.ClientTimeout | None = None,
    ) -> dict[str, Any]:
        attempt = _Attempt()
        while True:
            try:
                return await self._attempt(
                    method,
                    path,
                    json_body=json_body,
                    form=form,
                    idempotent=idempotent,
                    authenticated=authenticated,
                    attempt=attempt,
                    timeout=timeout or self._timeout,
                )
            except _Retry as retry:
                if retry.delay:
                    await self._sleep(retry.delay)

    async def _attempt(
        self,
        method: str,
        path: str,
        *,
        json_body: Any,
        form: Callable[[], aiohttp.FormData | aiohttp.MultipartWriter] | None,
        idempotent: bool,
        authenticated: bool,
        attempt: _Attempt,
        timeout: aiohttp.ClientTimeout,
    ) -> dict[str, Any]:
        token = await self._auth.token() if authenticated else None
        headers = self._headers(token, json_body=json_body is not None)
        data = form() if form is not None else None
        started = time.perf_counter()
        try:
            async with self._http.request(
                method,
                self._base + path,
                headers=headers,
                data=json.dumps(json_body) if json_body is not None else data,
                timeout=timeout,
            ) as resp:
                body = await self._read_json(resp)
                status = resp.status
        except aiohttp.ClientConnectorError as exc:
            # The connection never opened: nothing reached the backend, retrying is always safe.
            self._transient(attempt, True, f"connect: {type(exc).__name__}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            self._transient(attempt, idempotent, f"network: {type(exc).__name__}")
        elapsed = time.perf_counter() - started
        BACKEND_LATENCY.labels(_endpoint(path)).observe(elapsed)
        log.debug("nemo %s %s -> %s in %.0f ms", method, path, status, elapsed * 1000)
        await self._raise_for(status, body, attempt, token, idempotent=idempotent)
        if "_unparsed" in body or "_value" in body:
            raise BadResponse(f"non-object answer from {path}")
        return body

    @staticmethod
    def _data(body: dict[str, Any]) -> dict[str, Any]:
        data = body.get("data")
        if isinstance(data, dict):
            return data
        raise BadResponse("answer has no data object")

    # ----------------------------------------------------------------- auth
    async def _fetch_anonymous_token(self, client_id: str) -> AnonymousToken:
        attempt = _Attempt(auth_retried=True)
        while True:
            try:
                return await self._fetch_token_once(client_id, attempt)
            except _Retry as retry:
                if retry.delay:
                    await self._sleep(retry.delay)

    async def _fetch_token_once(self, client_id: str, attempt: _Attempt) -> AnonymousToken:
        headers = self._headers(None)
        headers["X-Client-Id"] = client_id
        try:
            async with self._http.post(
                self._base + "/api/auth/anonymous-token", headers=headers, timeout=self._timeout
            ) as resp:
                body = await self._read_json(resp)
                status = resp.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            self._transient(attempt, True, f"token: {type(exc).__name__}")
        if status == 400 or self._business_code(body) == 400:
            raise MissingClientId("anonymous-token refused the client id", code=400, http_status=status)
        await self._raise_for(status, body, attempt, None, idempotent=True)
        try:
            return AnonymousToken.model_validate(self._data(body))
        except ValueError as exc:
            raise BadResponse("anonymous-token answer unreadable") from exc

    # ----------------------------------------------------------------- endpoints
    async def create_session(self, language: str) -> SessionInfo:
        body = await self._call(
            "POST",
            f"/api/tasks/me/with-session/{APP_NAME}",
            json_body={"task_name": "project", "language": language},
            idempotent=False,
        )
        try:
            return SessionInfo.model_validate(self._data(body))
        except ValueError as exc:
            raise BadResponse("session answer unreadable") from exc

    async def credits(self) -> Credits:
        body = await self._call("GET", "/api/credits/balance/simple")
        try:
            return Credits.model_validate(self._data(body))
        except ValueError as exc:
            raise BadResponse("credits answer unreadable") from exc

    async def state(self, session_id: str) -> SessionState:
        body = await self._call("GET", f"/api/state/{APP_NAME}/me/{session_id}/latest")
        return SessionState.from_data(self._data(body))

    async def upload_files(self, session_id: str, files: Sequence[UploadSource]) -> UploadResult:
        """Stream every file as a `files` part of one multipart request (never buffered whole)."""
        if not files:
            return UploadResult()
        # aiohttp reports an error raised by a body stream as a broken connection (ClientConnectionError
        # or ClientOSError), which reads as "the backend is unreachable". The stream's own error (the file
        # was larger than it said, its download broke off) is what happened: it is kept and raised instead.
        source_errors: list[Exception] = []

        def build() -> aiohttp.MultipartWriter:
            source_errors.clear()
            writer = aiohttp.MultipartWriter("form-data")
            for source in files:
                stream = _recording_errors(source.open(), source_errors)
                part = aiohttp_payload.AsyncIterablePayload(stream, content_type=source.content_type)
                part.set_content_disposition("form-data", name="files", filename=source.filename)
                writer.append_payload(part)
            return writer

        # A 500 MB upload outlives any total timeout: only a stalled transfer is an error. Once bytes went
        # out, a network failure is not retried (that would stream the whole file again, up to 3 times).
        try:
            body = await self._call(
                "POST",
                f"/api/upload-video/{APP_NAME}/me/{session_id}",
                form=build,
                idempotent=False,
                timeout=UPLOAD_TIMEOUT,
            )
        except Exception as exc:
            if source_errors:
                raise source_errors[0] from exc
            raise
        if source_errors:  # the request ended without noticing: the backend got a truncated file
            raise source_errors[0]
        return self._upload_result(body)

    async def upload_urls(self, session_id: str, urls: Sequence[str]) -> UploadResult:
        body = await self._call(
            "POST",
            f"/api/upload-video/{APP_NAME}/me/{session_id}",
            json_body={"urls": list(urls), "source_type": "url"},
        )
        return self._upload_result(body)

    def _upload_result(self, body: dict[str, Any]) -> UploadResult:
        try:
            return UploadResult.model_validate(self._data(body))
        except (ValueError, BadResponse):
            return UploadResult()

    async def start_render(
        self,
        session_id: str,
        draft: dict[str, Any],
        *,
        render_id: str | None = None,
        output: Mapping[str, str] | None = None,
    ) -> RenderStarted:
        """Start an export. The id is ours (a fresh one when not given); a 'duplicate id' answer gets
        one fresh id and a retry.

        `output` is sent as given, and left out when None (the backend's own defaults apply): the
        bot's export defaults live in bot.core.exports.ExportOptions, which always passes it."""
        rid = render_id or new_render_id()
        body_out = {} if output is None else {"output": dict(output)}
        for fresh_try in (False, True):
            try:
                body = await self._call(
                    "POST",
                    "/api/render/proxy/lambda",
                    json_body={"id": rid, "sessionId": session_id, "draft": draft, **body_out},
                )
            except NemoError as exc:
                if _is_duplicate(exc.detail) and not fresh_try:
                    rid = new_render_id()
                    continue
                raise
            if body.get("success") is False:
                error = str(body.get("error") or "")
                if _is_duplicate(error) and not fresh_try:
                    rid = new_render_id()
                    continue
                raise NemoError(f"render refused: {error[:200]}")
            progress = RenderProgress.from_payload(body)
            return RenderStarted(render_id=rid, status=progress.status, progress=progress.progress)
        raise NemoError("render refused twice")

    async def render_status(self, render_id: str) -> RenderProgress:
        body = await self._call("GET", f"/api/render/proxy/lambda/{render_id}")
        if body.get("success") is False:
            return RenderProgress(
                render_id=render_id, status="failed", error=str(body.get("error") or "render failed")[:300]
            )
        return RenderProgress.from_payload(body)

    async def cancel_render(self, render_id: str) -> None:
        await self._call("POST", f"/api/render/proxy/lambda/{render_id}/cancel")

    # ----------------------------------------------------------------- chat
    async def chat(self, session_id: str, text: str) -> AsyncIterator[ChatEvent]:
        """Send one message and yield its typed events, ending with EndEvent.

        Raises StreamTimeout after SSE_TIMEOUT_SECONDS and StreamDropped when the connection
        breaks; neither re-sends the message (the caller recovers by reading the state).
        """
        deadline = asyncio.get_running_loop().time() + self._sse_timeout
        started = time.perf_counter()
        resp = await self._open_stream(session_id, text)
        BACKEND_STREAM.labels("open").observe(time.perf_counter() - started)
        events = iter_chat_events(resp.content.iter_any())
        waiting_for_first = True
        try:
            while True:
                try:
                    async with asyncio.timeout_at(deadline):
                        event = await anext(events)
                except StopAsyncIteration:
                    break
                except TimeoutError as exc:
                    raise StreamTimeout(f"stream ran past {self._sse_timeout:.0f}s") from exc
                except (aiohttp.ClientError, ConnectionError, SseLineTooLong) as exc:
                    raise StreamDropped(f"stream broke: {type(exc).__name__}") from exc
                if waiting_for_first and not isinstance(event, HeartbeatEvent):
                    waiting_for_first = False  # the backend's first real answer (keep-alives do not count)
                    BACKEND_STREAM.labels("first_event").observe(time.perf_counter() - started)
                yield event
            yield EndEvent()
        finally:
            BACKEND_STREAM.labels("whole").observe(time.perf_counter() - started)
            await events.aclose()
            resp.close()

    async def _open_stream(self, session_id: str, text: str) -> aiohttp.ClientResponse:
        payload = {
            "app_name": APP_NAME,
            "user_id": "me",
            "session_id": session_id,
            "new_message": {"parts": [{"text": text}]},
        }
        attempt = _Attempt()
        while True:
            token = await self._auth.token()
            headers = self._headers(token, json_body=True)
            headers["Accept"] = "text/event-stream"
            try:
                resp = await self._http.post(
                    self._base + "/run_sse",
                    data=json.dumps(payload),
                    headers=headers,
                    timeout=aiohttp.ClientTimeout(total=None, sock_connect=30),
                )
            except aiohttp.ClientConnectorError as exc:
                try:
                    self._transient(attempt, True, f"connect: {type(exc).__name__}")
                except _Retry as retry:
                    await self._sleep(retry.delay)
                    continue
            except (aiohttp.ClientError, TimeoutError) as exc:
                # The request may have reached the backend: never re-send a chat message.
                raise StreamDropped(f"stream failed to open: {type(exc).__name__}") from exc
            content_type = resp.headers.get("Content-Type", "")
            if resp.status == 200 and "text/event-stream" in content_type:
                return resp
            try:
                body = await self._read_json(resp)
            finally:
                resp.close()
            try:
                # 5xx on the chat call is not retried: the message may have been taken.
                await self._raise_for(resp.status, body, attempt, token, idempotent=False)
            except _Retry as retry:
                if retry.delay:
                    await self._sleep(retry.delay)
                continue
            raise BadResponse(f"chat answered HTTP {resp.status} without an event stream")


async def _recording_errors(stream: AsyncIterator[bytes], errors: list[Exception]) -> AsyncIterator[bytes]:
    """`stream`, with any error it raises also appended to `errors` (see upload_files)."""
    try:
        async for chunk in stream:
            yield chunk
    except Exception as exc:
        errors.append(exc)
        raise


_ID_SEGMENT = re.compile(r"/(?:\d{6,}|render_[\w-]+)(?=/|$)")


def _endpoint(path: str) -> str:
    """A low-cardinality metric label: ids in the path are replaced."""
    return _ID_SEGMENT.sub("/{id}", path)


def _is_duplicate(error: str) -> bool:
    return "duplicate" in error.lower()


def new_render_id() -> str:
    """Render ids are chosen by the client (`render_<ts>`, docs/backend-contract.md); entropy for uniqueness."""
    return f"render_{int(time.time() * 1000)}_{uuid.uuid4().hex[:8]}"
