"""Typed chat-stream events: what the rest of the bot sees of a `/run_sse` turn.

The wire format is Google ADK's event stream with gateway keep-alives mixed in
(docs/backend-contract.md, section 4); `bot.nemo.sse` turns raw bytes into these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class TextEvent:
    """Text the user should see (already de-duplicated: never a partial chunk)."""

    text: str


@dataclass(frozen=True, slots=True)
class PartialTextEvent:
    """A streaming chunk; only for live previews, the aggregated TextEvent follows."""

    text: str


@dataclass(frozen=True, slots=True)
class ToolCallEvent:
    """The agent started a tool; internal, but its name is useful for status."""

    name: str
    args: dict[str, Any] = field(default_factory=dict)
    call_id: str | None = None


@dataclass(frozen=True, slots=True)
class ToolResultEvent:
    """A tool finished; internal."""

    name: str
    response: dict[str, Any] = field(default_factory=dict)
    call_id: str | None = None


@dataclass(frozen=True, slots=True)
class StateDeltaEvent:
    """The event changed session state (e.g. a new draft)."""

    delta: dict[str, Any]


@dataclass(frozen=True, slots=True)
class HeartbeatEvent:
    """A keep-alive: a comment line, an empty `data:` or `{"type":"heartbeat"}`."""


@dataclass(frozen=True, slots=True)
class ErrorEvent:
    """The backend reported a failure inside the stream (ADK `{"error":…}` or `errorCode`)."""

    message: str
    code: str | None = None


@dataclass(frozen=True, slots=True)
class EndEvent:
    """The stream closed normally (ADK has no terminal sentinel: EOF ends the turn)."""


ChatEvent = (
    TextEvent
    | PartialTextEvent
    | ToolCallEvent
    | ToolResultEvent
    | StateDeltaEvent
    | HeartbeatEvent
    | ErrorEvent
    | EndEvent
)
