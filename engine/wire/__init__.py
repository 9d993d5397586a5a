"""The HTTP layer the engine shares with the fake backend (devkit/fakes/nemo.py): the route
table, the two envelopes and their error codes, `/run_sse` validation, ADK events, SSE
framing and starting the server. Written once, so the fake the tests use and the engine users run cannot disagree on
the wire (docs/engine-api.md)."""

from engine.wire.adk import (
    AUTHOR,
    INVALID_JSON,
    AdkTurn,
    RunRequest,
    session_not_found,
    unprocessable,
    validate_run_request,
)
from engine.wire.envelopes import (
    MESSAGES,
    ErrorStatuses,
    WireError,
    business_error,
    drain_body,
    dumps,
    json_response,
    ok,
    render_error,
    render_ok,
)
from engine.wire.listen import listen
from engine.wire.routes import (
    APP_NAME,
    ATTRIBUTION_HEADERS,
    ENDPOINTS,
    ROUTES,
    Endpoint,
    NemoHandlers,
    Route,
    add_routes,
    route_of,
)
from engine.wire.sse import HeartbeatKind, error_line, event_stream_response, frame, heartbeat_frame

__all__ = [
    "APP_NAME",
    "ATTRIBUTION_HEADERS",
    "AUTHOR",
    "ENDPOINTS",
    "INVALID_JSON",
    "MESSAGES",
    "ROUTES",
    "AdkTurn",
    "Endpoint",
    "ErrorStatuses",
    "HeartbeatKind",
    "NemoHandlers",
    "Route",
    "RunRequest",
    "WireError",
    "add_routes",
    "business_error",
    "drain_body",
    "dumps",
    "error_line",
    "event_stream_response",
    "frame",
    "heartbeat_frame",
    "json_response",
    "listen",
    "ok",
    "render_error",
    "render_ok",
    "route_of",
    "session_not_found",
    "unprocessable",
    "validate_run_request",
]
