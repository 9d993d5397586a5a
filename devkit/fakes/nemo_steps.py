"""Scripted `/run_sse` steps and how they are encoded.

A test scripts a turn as a list of steps (`Text`, `ToolCall`, `Drop`, …); the fake plays them
in order. Events and their framing come from the HTTP layer the engine shares (engine/wire), exactly
as Google ADK's API server frames them (docs/backend-contract.md, 4):
`data: <compact camelCase JSON, UTF-8>\\n\\n`, no `event:`/`id:` lines, no terminal sentinel.
Everything that is *not* ADK (heartbeats, the withdrawn `{"type":…}` format, raw bytes) exists
only as an explicit step, so a client's tolerance can be tested one variant at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.wire import AdkTurn as WireTurn
from engine.wire import HeartbeatKind, error_line, frame, heartbeat_frame

MODEL_VERSION = "gemini-2.5-flash"

__all__ = [
    "AdkTurn",
    "Drop",
    "ErrorLine",
    "Heartbeat",
    "HeartbeatKind",
    "ModelError",
    "Pause",
    "Raw",
    "SimpleFormat",
    "Step",
    "Text",
    "Thought",
    "ToolCall",
    "ToolResult",
    "drop_fragment",
    "error_line",
    "frame",
    "heartbeat_frame",
    "split_chunks",
    "state_delta_of",
]


@dataclass(frozen=True, slots=True)
class Text:
    """Visible model text; `partial_chunks > 0` first streams that many `partial:true` chunks."""

    text: str
    partial_chunks: int = 0


@dataclass(frozen=True, slots=True)
class Thought:
    """Model reasoning (`thought: true`): a client must not show it."""

    text: str


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A `functionCall` event; the id is shared with the next `ToolResult` of the same name."""

    name: str
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ToolResult:
    """A `functionResponse` event. `draft`/`state_delta` go into `actions.stateDelta` and are
    applied to the session the moment the event is sent (never earlier, so a drop before it
    leaves the state unchanged, as ADK does)."""

    name: str
    response: dict[str, Any] = field(default_factory=lambda: {"status": "success"})
    draft: dict[str, Any] | None = None
    state_delta: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """A gateway keep-alive: `{"type":"heartbeat"}`, an empty `data:` line, or a `:` comment."""

    kind: HeartbeatKind = "json"


@dataclass(frozen=True, slots=True)
class Pause:
    """Silence: nothing at all is sent for this long (unless `heartbeat_every` is set)."""

    seconds: float


@dataclass(frozen=True, slots=True)
class ErrorLine:
    """ADK's last line after an exception in the agent; the stream closes after it."""

    message: str
    error_type: str = "RuntimeError"


@dataclass(frozen=True, slots=True)
class ModelError:
    """A model-level failure: a normal event with `errorCode`/`errorMessage` and no content."""

    code: str
    message: str


@dataclass(frozen=True, slots=True)
class Drop:
    """Abort mid-event: half an event line is written, then the transport is closed."""


@dataclass(frozen=True, slots=True)
class Raw:
    """Bytes written verbatim (malformed lines, odd framing)."""

    data: bytes


@dataclass(frozen=True, slots=True)
class SimpleFormat:
    """The withdrawn `{"type":"text","content":…}` variant (docs/backend-contract.md, 4). A string payload
    becomes `content`; a dict is merged in (e.g. `{"name":…,"args":…}` for `tool_call`)."""

    type: str
    payload: dict[str, Any] | str = field(default_factory=dict)


Step = Text | Thought | ToolCall | ToolResult | Heartbeat | Pause | ErrorLine | ModelError | Drop | Raw | SimpleFormat


def split_chunks(text: str, n: int) -> list[str]:
    """Split text into `n` non-empty, nearly equal pieces (fewer if the text is short)."""
    n = max(1, min(n, len(text)))
    size, extra = divmod(len(text), n)
    out: list[str] = []
    pos = 0
    for i in range(n):
        end = pos + size + (1 if i < extra else 0)
        out.append(text[pos:end])
        pos = end
    return out


def _usage(text: str) -> dict[str, int]:
    out_tokens = len(text) // 4 + 1
    return {"candidatesTokenCount": out_tokens, "promptTokenCount": 812, "totalTokenCount": 812 + out_tokens}


class AdkTurn(WireTurn):
    """The shared ADK event builder (engine/wire) dressed as a language model: model events carry
    `finishReason`, `usageMetadata` and `modelVersion` like Gemini's do."""

    def model_fields(self, text: str | None, *, partial: bool = False) -> dict[str, Any]:
        if text is None or partial:
            return {"modelVersion": MODEL_VERSION}
        return {"finishReason": "STOP", "usageMetadata": _usage(text), "modelVersion": MODEL_VERSION}

    def encode(self, step: Step) -> list[bytes]:
        """The bytes for a step that only writes (`Pause` and `Drop` are played by the server)."""
        if isinstance(step, Text):
            chunks = split_chunks(step.text, step.partial_chunks) if step.partial_chunks > 0 else []
            return [*(frame(self.text(c, partial=True)) for c in chunks), frame(self.text(step.text))]
        if isinstance(step, Thought):
            return [frame(self.text(step.text, thought=True))]
        if isinstance(step, ToolCall):
            return [frame(self.tool_call(step.name, step.args))]
        if isinstance(step, ToolResult):
            return [frame(self.tool_result(step.name, step.response, state_delta_of(step)))]
        if isinstance(step, Heartbeat):
            return [heartbeat_frame(step.kind)]
        if isinstance(step, ErrorLine):
            return [error_line(step.message, step.error_type)]
        if isinstance(step, ModelError):
            return [frame(self.model_error(step.code, step.message))]
        if isinstance(step, Raw):
            return [step.data]
        if isinstance(step, SimpleFormat):
            extra = {"content": step.payload} if isinstance(step.payload, str) else step.payload
            return [frame({"type": step.type, **extra})]
        return []


def state_delta_of(step: ToolResult) -> dict[str, Any] | None:
    """The `stateDelta` a tool result carries (its `state_delta` plus `draft`)."""
    if step.draft is None and not step.state_delta:
        return None
    delta = dict(step.state_delta or {})
    if step.draft is not None:
        delta["draft"] = step.draft
    return delta


def drop_fragment(turn: AdkTurn) -> bytes:
    """Half of a believable event line, for `Drop`."""
    whole = frame(turn.text("Adding the background music to your timeline now"))
    return whole[: len(whole) // 2]
