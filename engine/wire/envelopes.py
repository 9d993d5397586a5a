"""The backend's two answer envelopes and its error codes (docs/engine-api.md, "The wire", "Errors").

Business endpoints answer `{"code": 0, "data": …}` or `{"code": N, "message": …}`; the render
endpoints answer `{"success": true, "data": …}` or `{"success": false, "error": …}`. Which HTTP
status goes with a business code is not documented by the vendor, so it is a setting
(`ErrorStatuses`): the fake can vary it to test the client, the engine uses the defaults.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import partial
from typing import Any

from aiohttp import web

MESSAGES: dict[int, str] = {
    400: "bad request",
    402: "free plan export blocked",
    429: "rate limited",
    500: "internal error",
    1001: "token expired or invalid",
    1002: "session not found",
    2001: "insufficient credits",
    4001: "unsupported file type",
    4002: "file too large",
}
"""The default message of each code (the vendor's error table, plus 500 for the engine's own faults)."""

dumps = partial(json.dumps, ensure_ascii=False, separators=(",", ":"))
"""Compact JSON with non-ASCII kept as UTF-8, like the backend's answers."""


@dataclass(frozen=True, slots=True)
class ErrorStatuses:
    """The HTTP status sent with each business code. Defaults: 401 for a refused token, 200 for
    every other business code (the code is in the body), and the code itself for the codes that
    are HTTP statuses (400, 402, 429, 500)."""

    auth: int = 401
    session_missing: int = 200
    business: int = 200

    def status_for(self, code: int) -> int:
        if code == 1001:
            return self.auth
        if code == 1002:
            return self.session_missing
        if 400 <= code < 600:
            return code
        return self.business


class WireError(Exception):
    """Raised by a handler to answer with `response` (the servers' middleware sends it).

    `drain` asks for the unread request body to be read first, so a small body does not reset
    the connection; an oversized upload is answered at once (`drain=False`)."""

    def __init__(self, response: web.StreamResponse, *, drain: bool = True) -> None:
        super().__init__(response.status)
        self.response = response
        self.drain = drain


def json_response(body: Any, status: int = 200) -> web.Response:
    return web.json_response(body, status=status, dumps=dumps)


def ok(data: Any) -> web.Response:
    """A business success: `{"code": 0, "data": …}`."""
    return json_response({"code": 0, "data": data})


def business_error(
    code: int, message: str | None = None, *, statuses: ErrorStatuses | None = None, status: int | None = None
) -> WireError:
    """A business failure `{"code": N, "message": …}`, at the status `statuses` gives the code."""
    body = {"code": code, "message": message or MESSAGES.get(code, "error")}
    if status is None:
        status = (statuses or ErrorStatuses()).status_for(code)
    return WireError(json_response(body, status))


def render_ok(data: Any) -> web.Response:
    """A render success: `{"success": true, "data": …}`."""
    return json_response({"success": True, "data": data})


def render_error(message: str, status: int = 400, *, code: int | None = None) -> WireError:
    """A render failure `{"success": false, "error": …}` (with `code` when there is one)."""
    body: dict[str, Any] = {"success": False, "error": message}
    if code is not None:
        body["code"] = code
    return WireError(json_response(body, status))


async def drain_body(request: web.Request, limit: int | None = None) -> None:
    """Read and drop what is left of the request body, or at most `limit` bytes of it (a chunked
    body announces no length, so only counting what is read bounds it)."""
    if not request.can_read_body:
        return
    read = 0
    while chunk := await request.content.readany():
        read += len(chunk)
        if limit is not None and read >= limit:
            return
