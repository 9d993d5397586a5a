"""The ADK side of `/run_sse`: validating the request like ADK's `RunAgentRequest`, and building
the events of one invocation (docs/engine-api.md, "Chat stream").

Validation answers with FastAPI-style 422 details, because a client that sends a subtly wrong
body must fail against a local server exactly as it would against the real one. Events are
camelCase, share one `invocationId`, and pair each `functionCall` id with its
`functionResponse`; a state change travels in `actions.stateDelta`.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass
from typing import Any

from engine.wire.envelopes import WireError, dumps, json_response

AUTHOR = "nemo_agent"

INVALID_JSON: Any = object()
"""Stands in for a request body that was sent as JSON but did not parse."""

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


@dataclass(frozen=True, slots=True)
class RunRequest:
    """The fields of a valid `/run_sse` body a server acts on."""

    app_name: str
    user_id: str
    session_id: str
    text: str
    streaming: bool


def unprocessable(errors: list[dict[str, Any]]) -> WireError:
    """FastAPI's 422 answer for a body that fails validation."""
    return WireError(json_response({"detail": errors}, 422))


def session_not_found(session_id: str) -> WireError:
    """ADK's answer, before any streaming, for a session it does not have."""
    return WireError(json_response({"detail": f"Session not found: {session_id}"}, 404))


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


class AdkTurn:
    """Builds the events of one invocation: a shared `invocationId`, call ids matched to results.

    Subclasses may add model metadata to model events (`model_fields`); the engine's editor is
    not a language model, so its events carry none."""

    def __init__(self, author: str = AUTHOR) -> None:
        self.author = author
        self.invocation_id = f"e-{uuid.uuid4()}"
        self._open_calls: dict[str, list[str]] = {}

    def model_fields(self, text: str | None, *, partial: bool = False) -> dict[str, Any]:
        """Extra keys for an event the model wrote (`text` is its text, None for an error)."""
        return {}

    def event(
        self, body: dict[str, Any], state_delta: dict[str, Any] | None = None, long_running: bool = False
    ) -> dict[str, Any]:
        """Wrap an event body with the keys every ADK event has."""
        event = dict(body)
        event["invocationId"] = self.invocation_id
        event["author"] = self.author
        event["actions"] = {
            "stateDelta": state_delta or {},
            "artifactDelta": {},
            "requestedAuthConfigs": {},
            "requestedToolConfirmations": {},
        }
        if long_running:
            event["longRunningToolIds"] = []
        event["id"] = str(uuid.uuid4())
        event["timestamp"] = time.time()
        return event

    def text(self, text: str, *, partial: bool = False, thought: bool = False) -> dict[str, Any]:
        """A model text event (or a partial chunk, or a thought the client must hide)."""
        part: dict[str, Any] = {"text": text}
        if thought:
            part["thought"] = True
        body: dict[str, Any] = {"content": {"parts": [part], "role": "model"}}
        if partial:
            body["partial"] = True
        body.update(self.model_fields(text, partial=partial))
        return self.event(body)

    def tool_call(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        """A `functionCall` event; its id is kept for the matching response."""
        call_id = f"adk-{uuid.uuid4()}"
        self._open_calls.setdefault(name, []).append(call_id)
        body: dict[str, Any] = {
            "content": {"parts": [{"functionCall": {"id": call_id, "args": args, "name": name}}], "role": "model"}
        }
        body.update(self.model_fields(dumps(args)))
        return self.event(body, long_running=True)

    def tool_result(
        self, name: str, response: dict[str, Any], state_delta: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """A `functionResponse` event (role `user`, as ADK writes it), paired with the oldest open
        call of the same name."""
        pending = self._open_calls.get(name)
        call_id = pending.pop(0) if pending else f"adk-{uuid.uuid4()}"
        body = {
            "content": {
                "parts": [{"functionResponse": {"id": call_id, "name": name, "response": response}}],
                "role": "user",
            }
        }
        return self.event(body, state_delta=state_delta)

    def model_error(self, code: str, message: str) -> dict[str, Any]:
        """A content-less event carrying `errorCode`/`errorMessage`."""
        return self.event({"errorCode": code, "errorMessage": message, **self.model_fields(None)})
