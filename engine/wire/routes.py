"""The backend's route table: every path the bot's client calls, and who answers it.

The engine and the fake backend (devkit/fakes/nemo.py) mount the same table, so a path or a
method cannot drift between them. Each server implements `NemoHandlers`; paths that differ
between them (where results and uploads are served from) are theirs to add.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal, Protocol, get_args

from aiohttp import web

APP_NAME = "nemo_agent"
"""The ADK app name in paths and in `/run_sse` bodies."""

ATTRIBUTION_HEADERS: tuple[str, ...] = ("X-Skill-Source", "X-Skill-Version", "X-Skill-Platform")
"""Headers the hosted backend wants on every call (the engine does not require them)."""

Endpoint = Literal[
    "anonymous_token",
    "create_session",
    "upload",
    "credits",
    "state",
    "run_sse",
    "render_start",
    "render_poll",
    "render_cancel",
    "render_download",
]

ENDPOINTS: frozenset[str] = frozenset(get_args(Endpoint))

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class Route:
    method: Literal["GET", "POST"]
    path: str
    endpoint: Endpoint

    @property
    def is_render(self) -> bool:
        """Render routes answer in the `success` envelope, the others in the `code` one."""
        return self.endpoint.startswith("render")


ROUTES: tuple[Route, ...] = (
    Route("POST", "/api/auth/anonymous-token", "anonymous_token"),
    Route("POST", "/api/tasks/{user}/with-session/" + APP_NAME, "create_session"),
    Route("POST", "/api/upload-video/" + APP_NAME + "/{user}/{sid}", "upload"),
    Route("GET", "/api/credits/balance/simple", "credits"),
    Route("GET", "/api/state/" + APP_NAME + "/{user}/{sid}/latest", "state"),
    Route("POST", "/run_sse", "run_sse"),
    Route("POST", "/api/render/proxy/lambda", "render_start"),
    Route("GET", "/api/render/proxy/lambda/{rid}", "render_poll"),
    Route("POST", "/api/render/proxy/lambda/{rid}/cancel", "render_cancel"),
    Route("GET", "/api/render/proxy/{rid}/download", "render_download"),
)
"""Path parameters: `user` is `me` or the caller's user id, `sid` a session id, `rid` a render id."""


class NemoHandlers(Protocol):
    """One coroutine per endpoint of `ROUTES`."""

    async def handle_anonymous_token(self, request: web.Request) -> web.StreamResponse: ...
    async def handle_create_session(self, request: web.Request) -> web.StreamResponse: ...
    async def handle_upload(self, request: web.Request) -> web.StreamResponse: ...
    async def handle_credits(self, request: web.Request) -> web.StreamResponse: ...
    async def handle_state(self, request: web.Request) -> web.StreamResponse: ...
    async def handle_run_sse(self, request: web.Request) -> web.StreamResponse: ...
    async def handle_render_start(self, request: web.Request) -> web.StreamResponse: ...
    async def handle_render_poll(self, request: web.Request) -> web.StreamResponse: ...
    async def handle_render_cancel(self, request: web.Request) -> web.StreamResponse: ...
    async def handle_render_download(self, request: web.Request) -> web.StreamResponse: ...


def add_routes(router: web.UrlDispatcher, handlers: NemoHandlers) -> None:
    """Mount every route of `ROUTES` on `router`, answered by `handlers.handle_<endpoint>`."""
    for route in ROUTES:
        handler: Handler = getattr(handlers, f"handle_{route.endpoint}")
        router.add_route(route.method, route.path, handler, name=route.endpoint)


def route_of(request: web.Request) -> Route | None:
    """The table's route a request matched (None for other paths and unknown ones); middlewares
    use it to pick the envelope of an error."""
    resource = request.match_info.route.resource
    name = resource.name if resource is not None else None
    return next((r for r in ROUTES if r.endpoint == name), None)
