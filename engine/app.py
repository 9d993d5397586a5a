"""The engine's HTTP API: the NemoVideo endpoints the bot calls (engine/wire's route table), plus
the links it hands out (`/results/<id>.mp4`, `/media/<id>`). Wire shapes: docs/engine-api.md.

Handlers are thin: they authenticate, validate, and hand over to the store (engine/store.py),
the upload path (engine/ingest.py), the editor (engine/chat.py) and the render queue
(engine/jobs.py). A middleware turns every unexpected exception into a generic JSON error
(logged with its traceback here, never sent to the client).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
import weakref
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from aiohttp import web

from engine import editor
from engine.chat import TurnFn, stream_turn
from engine.config import EngineSettings
from engine.draft import Draft, InvalidDraft
from engine.ingest import Ingest, IngestError
from engine.jobs import QueueFull, RenderQueue, uploads_used
from engine.media import MediaInfo
from engine.probe import CONTENT_TYPES
from engine.retention import expired_message
from engine.session import BackgroundTasks, StoreSession
from engine.store import DuplicateRender, RenderRow, SessionRow, Store
from engine.wire import (
    APP_NAME,
    INVALID_JSON,
    NemoHandlers,
    WireError,
    add_routes,
    business_error,
    drain_body,
    json_response,
    ok,
    render_error,
    render_ok,
    route_of,
    session_not_found,
    unprocessable,
    validate_run_request,
)

log = logging.getLogger(__name__)

TOKEN_TTL_S: Final = 7 * 86_400.0
"""Anonymous tokens last 7 days, like the hosted backend's."""
MAX_CLIENT_ID: Final = 64
MAX_JSON_BYTES: Final = 4 * 1024 * 1024
"""JSON bodies (a render's draft is the largest) are read whole, so they are capped."""
DRAIN_LIMIT: Final = 1024 * 1024
"""An error answer reads at most this much unread body first (aiohttp lingers over the rest, then closes)."""
RENDER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
RESOLUTIONS: Final = ("1080p", "720p")

PlaceFn = Callable[[Draft, Sequence[MediaInfo]], Draft]


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class EngineApp:
    """The handlers of one engine (implements `engine.wire.NemoHandlers`)."""

    def __init__(
        self,
        settings: EngineSettings,
        store: Store,
        queue: RenderQueue,
        ingest: Ingest,
        *,
        turn_fn: TurnFn = editor.run_turn,
        place_fn: PlaceFn = editor.place_uploads,
    ) -> None:
        self.settings = settings
        self.store = store
        self.queue = queue
        self.ingest = ingest
        self.background = BackgroundTasks()
        self._turn_fn = turn_fn
        self._place = place_fn
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def web_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware], client_max_size=MAX_JSON_BYTES)
        add_routes(app.router, self)
        app.router.add_get("/results/{rid}.mp4", self.handle_result)
        app.router.add_get("/media/{media_id}", self.handle_media)
        app.router.add_get("/healthz", self.handle_health)
        return app

    # ------------------------------------------------------------------ plumbing
    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        started = time.perf_counter()
        try:
            response = await handler(request)
        except WireError as error:
            if error.drain:
                with contextlib.suppress(Exception):
                    await drain_body(request, DRAIN_LIMIT)
            response = error.response
        except web.HTTPException as exc:
            if exc.status in (404, 405):
                response = json_response({"code": exc.status, "message": exc.reason.lower()}, exc.status)
            else:
                raise
        except (asyncio.CancelledError, ConnectionError):
            raise
        except Exception:
            log.exception("unexpected error on %s %s", request.method, request.path)
            route = route_of(request)
            if route is not None and route.is_render:
                response = json_response({"success": False, "error": "internal error", "code": 500}, 500)
            else:
                response = json_response({"code": 500, "message": "internal error"}, 500)
        log.debug(
            "%s %s -> %d in %.0f ms",
            request.method,
            request.path,
            response.status,
            (time.perf_counter() - started) * 1e3,
        )
        return response

    def _lock(self, session_id: str) -> asyncio.Lock:
        lock = self._locks.get(session_id)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[session_id] = lock
        return lock

    def base_url(self, request: web.Request) -> str:
        """Where links point: ENGINE_PUBLIC_URL when set, else the address the client used."""
        if self.settings.public_url:
            return self.settings.public_url.rstrip("/")
        return f"{request.scheme}://{request.host}"

    async def _json_body(self, request: web.Request) -> Any:
        if not request.can_read_body:
            return None
        try:
            return await request.json()
        except ValueError:
            return INVALID_JSON
        except web.HTTPRequestEntityTooLarge:
            raise business_error(400, "the request body is too large", status=413) from None

    async def _user(self, request: web.Request) -> str:
        """The caller's user id; a missing, unknown or expired bearer gets 1001."""
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        token = value.strip()
        if scheme.lower() == "bearer" and token.startswith("nmv_usr_") and len(token) <= 128:
            user = await self.store.user_for_token(token, time.time())
            if user is not None:
                return user
        raise business_error(1001)

    async def _session(self, request: web.Request, user_id: str) -> SessionRow:
        """The session in the path, if it is the caller's; else 1002."""
        session = await self.store.session(request.match_info["sid"])
        if session is None or session.user_id != user_id or request.match_info["user"] not in ("me", user_id):
            raise business_error(1002)
        return session

    # ------------------------------------------------------------------ auth, sessions, credits
    async def handle_anonymous_token(self, request: web.Request) -> web.StreamResponse:
        """The same client id gets the same token while it is valid, then a new one for the same user."""
        client_id = request.headers.get("X-Client-Id", "").strip()
        if not client_id:
            raise business_error(400, "missing X-Client-Id")
        if len(client_id) > MAX_CLIENT_ID or not client_id.isprintable():
            raise business_error(400, "invalid X-Client-Id")
        now = time.time()
        token = await self.store.valid_token(client_id, now)
        if token is None:
            token = await self.store.issue_token(client_id, now, TOKEN_TTL_S)
            log.info("issued a token for user %s", token.user_id)
        return ok({"token": token.token, "user_id": token.user_id, "expires_at": _iso(token.expires_at), "credits": 0})

    async def handle_create_session(self, request: web.Request) -> web.StreamResponse:
        user = await self._user(request)
        if request.match_info["user"] not in ("me", user):
            raise business_error(403, "user mismatch")
        body = await self._json_body(request)
        if body is None:
            body = {}
        if not isinstance(body, dict):
            raise business_error(400, "invalid JSON body")
        task_name, language = body.get("task_name", "project"), body.get("language", "en")
        if not isinstance(task_name, str) or not isinstance(language, str):
            raise business_error(400, "task_name and language must be strings")
        if len(task_name) > 200 or len(language) > 35:
            raise business_error(400, "task_name or language too long")
        session = await self.store.create_session(
            user, task_name.strip() or "project", language.strip() or "en", time.time()
        )
        log.info("session=%s created (language %s)", session.session_id, session.language)
        return ok({"task_id": session.task_id, "session_id": session.session_id, "user_id": user})

    async def handle_credits(self, request: web.Request) -> web.StreamResponse:
        """Local work costs nothing; `local` lets the bot say so."""
        await self._user(request)
        return ok({"available": 0, "frozen": 0, "total": 0, "local": True})

    async def handle_state(self, request: web.Request) -> web.StreamResponse:
        user = await self._user(request)
        session = await self._session(request, user)
        draft = Draft.from_json(await self.store.draft(session.session_id))
        media = await self.store.media(session.session_id)
        base = self.base_url(request)
        state = {
            "video_infos": [m.video_info(f"{base}/media/{m.media_id}") for m in media],
            # Empty means "nothing to export" to the bot (a timeline needs a clip).
            "draft": {} if draft.is_empty() else draft.to_json(),
            "canvas_config": draft.canvas.config(),
            "video_analyses": session.video_analyses,
            "generated_media": session.generated_media,
        }
        return ok(
            {
                "session_id": session.session_id,
                "task_id": session.task_id,
                "task_name": session.task_name,
                "state": state,
            }
        )

    # ------------------------------------------------------------------ uploads
    async def handle_upload(self, request: web.Request) -> web.StreamResponse:
        user = await self._user(request)
        session = await self._session(request, user)
        try:
            if request.content_type == "application/json":
                body = await self._json_body(request)
                urls = body.get("urls") if isinstance(body, dict) else None
                if not isinstance(urls, list) or not urls or not all(isinstance(u, str) and u for u in urls):
                    raise business_error(400, "urls must be a non-empty list of strings", status=400)
                media = await self.ingest.from_urls(urls, session.session_id)
            elif request.content_type.startswith("multipart/"):
                media = await self.ingest.from_multipart(request, session.session_id)
            else:
                raise business_error(400, "expected multipart/form-data or JSON", status=400)
        except IngestError as exc:
            log.info("session=%s upload refused (%d): %s", session.session_id, exc.code, exc.message)
            error = business_error(exc.code, exc.message, status=exc.status)
            error.drain = exc.code != 4002  # an oversized body is not read on
            raise error from None
        await self._record_uploads(session, media)
        base = self.base_url(request)
        return ok({"files": [m.video_info(f"{base}/media/{m.media_id}") for m in media], "session_state_applied": True})

    async def _record_uploads(self, session: SessionRow, media: list[MediaInfo]) -> None:
        """Store the uploads and put clips and images on the timeline, in one transaction."""
        try:
            async with self._lock(session.session_id):
                visual = [m for m in media if m.kind in ("video", "image")]
                new_draft = None
                if visual:
                    current = Draft.from_json(await self.store.draft(session.session_id))
                    new_draft = self._place(current, visual).to_json()
                await self.store.add_media(session.session_id, media, new_draft, time.time())
        except BaseException:
            for info in media:  # not recorded: not kept
                await asyncio.to_thread(info.path.unlink, True)
            raise

    # ------------------------------------------------------------------ chat
    async def handle_run_sse(self, request: web.Request) -> web.StreamResponse:
        """Validate like ADK (1001, 422, 404 before any streaming), then stream the editor's turn."""
        user = await self._user(request)
        run, errors = validate_run_request(await self._json_body(request))
        if run is None:
            raise unprocessable(errors)
        row = await self.store.session(run.session_id)
        if row is None or run.app_name != APP_NAME or row.user_id != user or run.user_id not in ("me", user):
            raise session_not_found(run.session_id)
        async with self._lock(row.session_id):
            session = await StoreSession.load(row, self.store, self.settings, self.background)
            log.info("session=%s message (%d chars)", row.session_id, len(run.text))
            return await stream_turn(request, session, run.text, self._turn_fn)

    # ------------------------------------------------------------------ renders
    async def _render_row(self, request: web.Request, user: str) -> RenderRow:
        row = await self.store.render(request.match_info["rid"])
        if row is None or row.user_id != user:
            raise render_error("render not found", 404)
        return row

    async def handle_render_start(self, request: web.Request) -> web.StreamResponse:
        user = await self._user(request)
        body = await self._json_body(request)
        if not isinstance(body, dict):
            raise render_error("invalid JSON body", 400)
        render_id = body.get("id")
        if not isinstance(render_id, str) or not RENDER_ID.match(render_id):
            raise render_error("invalid id: 1-128 letters, digits, '.', '_' or '-'", 400)
        if await self.store.render(render_id) is not None:
            raise render_error(f"duplicate id: {render_id} is taken", 400)
        session_id = body.get("sessionId")
        session = await self.store.session(session_id) if isinstance(session_id, str) else None
        if session is None or session.user_id != user:
            raise render_error("session not found", 404)
        try:
            draft = Draft.from_json(body.get("draft"))
        except InvalidDraft as exc:
            raise render_error(f"invalid draft: {exc}", 400) from None
        if draft.is_empty():
            raise render_error("the timeline is empty: upload a clip first", 400)
        media = {m.media_id for m in await self.store.media(session.session_id)}
        if not uploads_used(draft) <= media:
            raise render_error("the draft uses media that is not in this session", 400)
        output = body.get("output") or {}
        if not isinstance(output, dict):
            raise render_error("output must be an object", 400)
        resolution = str(output.get("resolution") or "1080p").lower()
        if resolution not in RESOLUTIONS:
            raise render_error("resolution must be 1080p or 720p", 400)
        if str(output.get("format") or "mp4").lower() != "mp4":
            raise render_error("only mp4 output is supported", 400)
        row = RenderRow(
            render_id=render_id,
            session_id=session.session_id,
            user_id=user,
            draft=draft.to_json(),
            resolution=resolution,
            quality=str(output.get("quality") or "high")[:20],
            status="pending",
            progress=0,
            created_at=time.time(),
        )
        try:
            await self.queue.submit(row)
        except QueueFull:
            raise render_error("the engine is busy with other exports; try again in a few minutes", 429) from None
        except DuplicateRender:
            raise render_error(f"duplicate id: {render_id} is taken", 400) from None
        return render_ok({"id": render_id, "status": "pending", "progress": 0})

    async def _result_file(self, row: RenderRow) -> str | None:
        """The result's path if it is there to serve."""
        if row.status != "completed" or row.expired_at is not None or not row.file:
            return None
        path = self.settings.data_dir / row.file
        return str(path) if await asyncio.to_thread(path.is_file) else None

    async def handle_render_poll(self, request: web.Request) -> web.StreamResponse:
        """Shape A: `{"success": true, "data": {id, status, progress, outputUrl, output, createdAt,
        completedAt, error}}` (docs/engine-api.md)."""
        user = await self._user(request)
        row = await self._render_row(request, user)
        status, progress, error = row.status, row.progress, row.error
        url = None
        output = None
        if status == "completed":
            if await self._result_file(row) is None:
                status = "failed"
                error = (
                    expired_message(self.settings) if row.expired_at else "the exported file is missing; export again"
                )
            else:
                url = f"{self.base_url(request)}/results/{row.render_id}.mp4"
                output = {"url": url, "duration": row.duration_s, "size": row.size}
        elif status == "processing":
            progress = self.queue.progress(row.render_id) or 0
        return render_ok(
            {
                "id": row.render_id,
                "status": status,
                "progress": progress,
                "outputUrl": url,
                "output": output,
                "createdAt": int(row.created_at * 1000),
                "completedAt": int(row.completed_at * 1000) if row.completed_at else None,
                "error": error,
                # Every reason the engine gives is written for the person who exported (no paths, no
                # ffmpeg log): it says so, and the bot shows it instead of a bare "the export failed".
                "userMessage": error if status == "failed" else None,
            }
        )

    async def handle_render_cancel(self, request: web.Request) -> web.StreamResponse:
        """Stops the render at once (ffmpeg is gone when this answers)."""
        user = await self._user(request)
        row = await self._render_row(request, user)
        if row.finished or not await self.queue.cancel(row.render_id):
            raise render_error("render already finished", 400)
        return render_ok({"id": row.render_id, "status": "cancelled"})

    async def handle_render_download(self, request: web.Request) -> web.StreamResponse:
        """The API's fallback download: the MP4 itself, as an attachment."""
        user = await self._user(request)
        row = await self._render_row(request, user)
        path = await self._result_file(row)
        if path is None:
            if row.expired_at is not None:
                raise render_error(expired_message(self.settings), 410)
            raise render_error("render not ready", 404)
        return web.FileResponse(
            path,
            headers={
                "Content-Type": "video/mp4",
                "Content-Disposition": f'attachment; filename="{row.render_id}.mp4"',
            },
        )

    # ------------------------------------------------------------------ links
    async def handle_result(self, request: web.Request) -> web.StreamResponse:
        """`outputUrl`: the MP4, with Range support (no token, like the hosted backend's CDN)."""
        row = await self.store.render(request.match_info["rid"])
        path = await self._result_file(row) if row is not None else None
        if row is None or path is None:
            if row is not None and row.expired_at is not None:
                return web.Response(status=410, text=expired_message(self.settings) + "\n")
            return web.Response(status=404, text="Not Found\n")
        return web.FileResponse(
            path,
            headers={
                "Content-Type": "video/mp4",
                "Content-Disposition": f'inline; filename="{row.render_id}.mp4"',
                "Cache-Control": "private, max-age=3600",
            },
        )

    async def handle_media(self, request: web.Request) -> web.StreamResponse:
        """An upload's `cdn_url` (media ids are unguessable), with Range support."""
        media_id = request.match_info["media_id"]
        info = await self.store.media_item(media_id) if media_id.startswith("m_") else None
        if info is None or not await asyncio.to_thread(info.path.is_file):
            return web.Response(status=404, text="Not Found\n")
        content_type = CONTENT_TYPES.get(info.path.suffix.lstrip("."), "application/octet-stream")
        return web.FileResponse(info.path, headers={"Content-Type": content_type})

    async def handle_health(self, request: web.Request) -> web.StreamResponse:
        return json_response({"ok": True, "renders_running": len(self.queue.running())})

    async def close(self) -> None:
        await self.background.close()


# EngineApp answers every route of the shared table (checked by mypy).
_: type[NemoHandlers] = EngineApp
