"""Server-sent-event framing exactly as Google ADK's API server writes it (docs/engine-api.md,
"Chat stream"): one `data: <compact JSON>\\n\\n` block per event, UTF-8, no `event:`/`id:`
lines, no closing sentinel; the connection's end ends the turn."""

from __future__ import annotations

import json
import time
from typing import Any, Literal

from aiohttp import web

from engine.wire.envelopes import dumps

HeartbeatKind = Literal["json", "empty", "comment"]
EVENT_STREAM = "text/event-stream"


def frame(obj: dict[str, Any]) -> bytes:
    """One event: compact JSON, non-ASCII kept as UTF-8 (pydantic's `model_dump_json`)."""
    return b"data: " + dumps(obj).encode() + b"\n\n"


def error_line(message: str, error_type: str = "RuntimeError") -> bytes:
    """ADK's last line after an exception in the agent. It uses `json.dumps`' default spacing,
    unlike the events, because ADK builds it differently."""
    body = {
        "error": f"{error_type}: {message}",
        "error_details": {"error_type": error_type, "error_message": message, "timestamp": time.time()},
    }
    return b"data: " + json.dumps(body, ensure_ascii=False).encode() + b"\n\n"


def heartbeat_frame(kind: HeartbeatKind) -> bytes:
    """The three keep-alive spellings a gateway in front of ADK may use (ADK itself sends none)."""
    if kind == "json":
        return b'data: {"type":"heartbeat"}\n\n'
    if kind == "empty":
        return b"data: \n\n"
    return b": keep-alive\n\n"


def event_stream_response() -> web.StreamResponse:
    """A 200 response typed `text/event-stream; charset=utf-8` (prepare it, then write frames)."""
    response = web.StreamResponse(status=200)
    response.content_type = EVENT_STREAM
    response.charset = "utf-8"
    return response
