"""`/run_sse` internals of the fake backend: ADK request validation and stream playback.

Validation mirrors ADK's `RunAgentRequest` (snake_case or camelCase keys, genai `Content`
forbidding unknown keys) and answers with FastAPI-style 422 details, because a client that
sends a subtly wrong body must fail here exactly as it would against the real server.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from aiohttp import web

from devkit.fakes.nemo_models import Session, TurnRecord
from devkit.fakes.nemo_steps import (
    AdkTurn,
    Drop,
    ErrorLine,
    HeartbeatKind,
    ModelError,
    Pause,
    Step,
    ToolResult,
    drop_fragment,
    heartbeat_frame,
    state_delta_of,
)

INVALID_JSON: Any = object()
"""Stands in for a request body that was sent as JSON but did not parse."""

STATE_KEYS = frozenset({"draft", "video_infos", "canvas_config", "video_analyses", "generated_media"})
_APP_NAME_RE = re.compile(r"^[a-zA-Z0-9_]+$")
_PART_KEYS = frozenset(
    {
        "text",
        "thought",
        "thoughtSignature",
        "thought_signature",
        "functionCall",
        "function_call",
        "functionResponse",
        "function_response",
        "inlineData",
        "inline_data",
        "fileData",
        "file_data",
        "executableCode",
        "executable_code",
        "codeExecutionResult",
        "code_execution_result",
        "videoMetadata",
        "video_metadata",
        "mediaResolution",
        "media_resolution",
    }
)
_NOT_OBJECT = "Input should be a valid dictionary or object to extract fields from"

PlayResult = Literal["completed", "error", "dropped"]


@dataclass(frozen=True, slots=True)
class RunRequest:
    """The fields of a valid `/run_sse` body the fake acts on."""

    app_name: str
    user_id: str
    session_id: str
    text: str
    streaming: bool


def validate_run_request(raw: Any) -> tuple[RunRequest | None, list[dict[str, Any]]]:
    """ADK's RunAgentRequest rules; returns the request or the 422 `detail` list."""
    if raw is INVALID_JSON:
        return None, [
            {
                "type": "json_invalid",
                "loc": ["body", 0],
                "msg": "JSON decode error",
                "input": {},
                "ctx": {"error": "Expecting value"},
            }
        ]
    if not isinstance(raw, dict):
        return None, [{"type": "model_attributes_type", "loc": ["body"], "msg": _NOT_OBJECT, "input": raw}]
    errors: list[dict[str, Any]] = []
    fields: dict[str, str] = {}
    for snake, camel in (("app_name", "appName"), ("user_id", "userId"), ("session_id", "sessionId")):
        value = raw.get(snake, raw.get(camel))
        if value is None:
            errors.append({"type": "missing", "loc": ["body", snake], "msg": "Field required", "input": raw})
        elif not isinstance(value, str):
            errors.append(
                {"type": "string_type", "loc": ["body", snake], "msg": "Input should be a valid string", "input": value}
            )
        else:
            fields[snake] = value
    app_name = fields.get("app_name")
    if app_name is not None and not _APP_NAME_RE.match(app_name):
        errors.append(
            {
                "type": "string_pattern_mismatch",
                "loc": ["body", "app_name"],
                "msg": "String should match pattern '^[a-zA-Z0-9_]+$'",
                "input": app_name,
            }
        )
    streaming = raw.get("streaming", False)
    if not isinstance(streaming, bool):
        errors.append(
            {
                "type": "bool_type",
                "loc": ["body", "streaming"],
                "msg": "Input should be a valid boolean",
                "input": streaming,
            }
        )
    message = raw.get("new_message", raw.get("newMessage"))
    texts: list[str] = []
    if message is not None:
        errors.extend(_validate_content(message, texts))
    if errors:
        return None, errors
    return RunRequest(
        fields["app_name"], fields["user_id"], fields["session_id"], "".join(texts), streaming is True
    ), []


def _validate_content(message: Any, texts: list[str]) -> list[dict[str, Any]]:
    """genai `Content`: only `parts`/`role`, each part only known keys, `text` a string."""
    loc: list[str | int] = ["body", "new_message"]
    if not isinstance(message, dict):
        return [{"type": "model_attributes_type", "loc": loc, "msg": _NOT_OBJECT, "input": message}]
    errors = [
        {"type": "extra_forbidden", "loc": [*loc, key], "msg": "Extra inputs are not permitted", "input": value}
        for key, value in message.items()
        if key not in ("parts", "role")
    ]
    parts = message.get("parts")
    if parts is None:
        return errors
    if not isinstance(parts, list):
        return [
            *errors,
            {"type": "list_type", "loc": [*loc, "parts"], "msg": "Input should be a valid list", "input": parts},
        ]
    for i, part in enumerate(parts):
        if not isinstance(part, dict):
            errors.append(
                {"type": "model_attributes_type", "loc": [*loc, "parts", i], "msg": _NOT_OBJECT, "input": part}
            )
            continue
        errors.extend(
            {
                "type": "extra_forbidden",
                "loc": [*loc, "parts", i, key],
                "msg": "Extra inputs are not permitted",
                "input": value,
            }
            for key, value in part.items()
            if key not in _PART_KEYS
        )
        text = part.get("text")
        if text is not None and not isinstance(text, str):
            errors.append(
                {
                    "type": "string_type",
                    "loc": [*loc, "parts", i, "text"],
                    "msg": "Input should be a valid string",
                    "input": text,
                }
            )
        elif isinstance(text, str) and not part.get("thought"):
            texts.append(text)
    return errors


class SseStream:
    """Serialises writes to one SSE response (steps and gateway keep-alives share it)."""

    def __init__(
        self, request: web.Request, response: web.StreamResponse, turn: TurnRecord, notify: Callable[[], None]
    ) -> None:
        self._request = request
        self._response = response
        self._turn = turn
        self._notify = notify
        self._lock = asyncio.Lock()
        self._last_write = asyncio.get_running_loop().time()
        self._keepalive: asyncio.Task[None] | None = None

    async def write(self, data: bytes) -> None:
        """Write one frame and wake `FakeNemo.wait_for` callers."""
        async with self._lock:
            await self._response.write(data)
            self._last_write = asyncio.get_running_loop().time()
            self._turn.events_sent += 1
        self._notify()

    def abort(self) -> None:
        """Close the connection in the middle of the response (for `Drop`)."""
        transport = self._request.transport
        if transport is not None:
            transport.close()

    def start_keepalive(self, every: float, kind: HeartbeatKind) -> None:
        """Act as the gateway: a keep-alive whenever nothing was written for `every` seconds."""
        self._keepalive = asyncio.create_task(self._keepalive_loop(every, kind))

    async def stop_keepalive(self) -> None:
        """Stop keep-alives (before the stream ends, so none follows the last event)."""
        task, self._keepalive = self._keepalive, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _keepalive_loop(self, every: float, kind: HeartbeatKind) -> None:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(ConnectionError):
            while True:
                await asyncio.sleep(max(0.0, self._last_write + every - loop.time()))
                if loop.time() - self._last_write >= every:
                    await self.write(heartbeat_frame(kind))


async def play_steps(
    stream: SseStream, adk: AdkTurn, session: Session, steps: list[Step], delay: float, notify: Callable[[], None]
) -> PlayResult:
    """Send the steps in order; a tool result's state delta is applied once it is sent."""
    result: PlayResult = "completed"
    for step in steps:
        if delay:
            await asyncio.sleep(delay)
        if isinstance(step, Pause):
            await asyncio.sleep(step.seconds)
            continue
        if isinstance(step, Drop):
            await stream.write(drop_fragment(adk))
            stream.abort()
            return "dropped"
        for data in adk.encode(step):
            await stream.write(data)
        if isinstance(step, ToolResult):
            for key, value in (state_delta_of(step) or {}).items():
                if key in STATE_KEYS:
                    setattr(session, key, copy.deepcopy(value))
            notify()
        if isinstance(step, ErrorLine):
            return "error"
        if isinstance(step, ModelError):
            result = "error"
    return result
