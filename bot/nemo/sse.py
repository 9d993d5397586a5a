"""Server-sent-event framing and the ADK event parser for `/run_sse` (docs/backend-contract.md).

Two layers, kept apart so each can be tested on its own:

* `SseDecoder` / `iter_sse_messages` turn raw body chunks into `SseMessage`s following the
  WHATWG event-stream rules. The backend's lines can be large (a 195 KB event was observed),
  and aiohttp hands us arbitrary chunk sizes, so framing works on bytes with an append-only
  buffer and only ever scans newly arrived bytes: linear in the input, never quadratic.
* `AdkEventParser` turns one message's JSON into typed `ChatEvent`s. The real payload is
  Google ADK's event (camelCase, snake_case before May 2025) with NemoVideo keep-alives mixed
  in; a withdrawn vendor doc showed a simplified `{"type": …}` shape, accepted as well. Anything
  unreadable is skipped, never raised: one odd line must not kill a paid turn.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncGenerator, AsyncIterable
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, Final

from .events import (
    ChatEvent,
    ErrorEvent,
    HeartbeatEvent,
    PartialTextEvent,
    StateDeltaEvent,
    TextEvent,
    ToolCallEvent,
    ToolResultEvent,
)

__all__ = [
    "DEFAULT_MAX_EVENT_BYTES",
    "AdkEventParser",
    "SseDecoder",
    "SseLineTooLong",
    "SseMessage",
    "iter_chat_events",
    "iter_sse_messages",
]

log = logging.getLogger(__name__)

DEFAULT_MAX_EVENT_BYTES: Final = 8 * 1024 * 1024
# Room for the field name ("data: ", a BOM) on a line that is still arriving: the exact limit
# is applied to the data value once the line is complete.
_FIELD_SLACK: Final = 16
_LOG_PREVIEW: Final = 200

_LINE_END: Final = re.compile(rb"[\r\n]")
_BOM: Final = b"\xef\xbb\xbf"
_CR: Final = 0x0D
_LF: Final = 0x0A
_COLON: Final = 0x3A


# --------------------------------------------------------------------------- SSE framing


@dataclass(frozen=True, slots=True)
class SseMessage:
    """One dispatched event-stream block."""

    data: str | None
    """The block's `data` lines joined with "\\n"; None when it had no data field."""
    event: str | None = None
    comment: bool = False
    """True when the block carried no data, only comment lines (a keep-alive)."""


class SseLineTooLong(Exception):
    """An event (or a line still arriving) exceeded `max_event_bytes`; the stream is unusable."""


class SseDecoder:
    """Incremental, synchronous WHATWG event-stream decoder; feed it bytes, get messages.

    Lines are split on bytes (CR, LF and CRLF are ASCII and never occur inside a UTF-8
    multi-byte sequence) and each complete field value is decoded as UTF-8 with replacement,
    which gives the same text as decoding the whole stream incrementally: a character split
    across chunks is simply still in the line buffer when the next chunk arrives.

    Deliberate differences from a browser's EventSource, to expose what the bot needs:
    a block whose only content is comment lines is dispatched (as a keep-alive), as is a
    block with an empty `data:` (browsers drop both); `id` and `retry` are ignored; and at
    EOF a final line without its line end and a final event without its blank line are still
    dispatched (browsers discard them). ADK always ends cleanly, but a gateway might not, and a
    truncated JSON line is harmless because the parser skips what does not parse.
    """

    __slots__ = (
        "_data",
        "_data_bytes",
        "_event",
        "_first_line",
        "_max",
        "_partial",
        "_saw_comment",
        "_skip_lf",
    )

    def __init__(self, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> None:
        if max_event_bytes <= 0:
            raise ValueError("max_event_bytes must be positive")
        self._max = max_event_bytes
        self._partial = bytearray()  # the current, unterminated line
        self._skip_lf = False  # the previous chunk ended in CR: a leading LF belongs to it
        self._first_line = True  # a BOM is only stripped from the very first line
        self._data: list[str] = []
        self._data_bytes = 0  # UTF-8 size of the joined data so far (exact limit check)
        self._event: str | None = None
        self._saw_comment = False

    def feed(self, chunk: bytes) -> list[SseMessage]:
        """Consume one chunk and return the messages it completed (possibly none)."""
        n = len(chunk)
        pos = 0
        if self._skip_lf and n:
            self._skip_lf = False
            if chunk[0] == _LF:
                pos = 1
        out: list[SseMessage] = []
        while pos < n:
            match = _LINE_END.search(chunk, pos)
            if match is None:
                self._partial += chunk[pos:]
                if len(self._partial) + self._data_bytes > self._max + _FIELD_SLACK:
                    raise SseLineTooLong(f"event exceeds {self._max} bytes")
                break
            end = match.start()
            if self._partial:
                self._partial += chunk[pos:end]
                line = bytes(self._partial)
                self._partial.clear()
            else:
                line = chunk[pos:end]
            if chunk[end] == _CR:
                if end + 1 < n:
                    pos = end + 2 if chunk[end + 1] == _LF else end + 1
                else:
                    self._skip_lf = True
                    pos = n
            else:
                pos = end + 1
            message = self._line(line)
            if message is not None:
                out.append(message)
        return out

    def close(self) -> list[SseMessage]:
        """Signal EOF: dispatch an unterminated last line/event (lenient, see the class doc)."""
        out: list[SseMessage] = []
        if self._partial:
            line = bytes(self._partial)
            self._partial.clear()
            message = self._line(line)
            if message is not None:
                out.append(message)
        message = self._dispatch()
        if message is not None:
            out.append(message)
        return out

    def _line(self, line: bytes) -> SseMessage | None:
        if self._first_line:
            self._first_line = False
            if line.startswith(_BOM):
                line = line[len(_BOM) :]
        if not line:
            return self._dispatch()
        if line[0] == _COLON:
            self._saw_comment = True
            return None
        colon = line.find(b":")
        if colon < 0:
            field, value = line, b""
        else:
            field, value = line[:colon], line[colon + 1 :]
            if value[:1] == b" ":
                value = value[1:]
        if field == b"data":
            size = self._data_bytes + len(value) + (1 if self._data else 0)
            if size > self._max:
                raise SseLineTooLong(f"event data exceeds {self._max} bytes")
            self._data.append(value.decode("utf-8", "replace"))
            self._data_bytes = size
        elif field == b"event":
            self._event = value.decode("utf-8", "replace") or None
        # `id`, `retry` and unknown fields are ignored: ADK sends none and we never reconnect.
        return None

    def _dispatch(self) -> SseMessage | None:
        data = "\n".join(self._data) if self._data else None
        message: SseMessage | None = None
        if data is not None or self._saw_comment:
            message = SseMessage(data=data, event=self._event, comment=data is None)
        self._data = []
        self._data_bytes = 0
        self._event = None
        self._saw_comment = False
        return message


async def iter_sse_messages(
    chunks: AsyncIterable[bytes], *, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES
) -> AsyncGenerator[SseMessage, None]:
    """Yield the event-stream messages in `chunks` (e.g. aiohttp's `content.iter_any()`).

    Raises SseLineTooLong rather than buffering an event larger than `max_event_bytes`.
    """
    decoder = SseDecoder(max_event_bytes)
    async for chunk in chunks:
        for message in decoder.feed(chunk):
            yield message
    for message in decoder.close():
        yield message


# --------------------------------------------------------------------------- ADK events

_KEEPALIVE_TYPES: Final = frozenset({"heartbeat", "ping", "keepalive", "keep-alive", "keep_alive"})
_SIMPLE_TYPES: Final = frozenset({"text", "tool_call", "tool_result", "error", "done", "end"})
# ADK's exception handler builds `{"error": "<str(e)>"}` with an f-string, so a message with a
# quote in it yields invalid JSON; recognise it to still surface the failure.
_BROKEN_ERROR_HEAD: Final = re.compile(r'\s*\{\s*"error"\s*:\s*"')
_BROKEN_ERROR_DETAILS: Final = re.compile(r'"\s*,\s*"error_details"\s*:')


def _pick(obj: dict[str, Any], camel: str, snake: str) -> object:
    """ADK emits camelCase since ~May 2025 and snake_case before; accept both."""
    value = obj.get(camel)
    return obj.get(snake) if value is None else value


def _str_or_none(value: object) -> str | None:
    if isinstance(value, str):
        return value or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _as_mapping(value: object, key: str = "result") -> dict[str, Any]:
    """Tool args/results should be objects; wrap a bare value rather than lose it."""
    if isinstance(value, dict):
        return value
    if value is None:
        return {}
    return {key: value}


def _preview(data: str) -> str:
    return data if len(data) <= _LOG_PREVIEW else data[:_LOG_PREVIEW] + "…"


class AdkEventParser:
    """Turns SSE messages of one chat turn into ChatEvents; create one per turn.

    State is needed for streaming partials: partial chunks are previews only, the aggregated
    non-partial event that follows carries the full text once, and `flush()` at EOF emits
    the concatenated partials if the aggregate never came.
    """

    __slots__ = ("_emitted", "_pending_partial")

    def __init__(self) -> None:
        self._pending_partial: list[str] = []
        self._emitted: set[tuple[str | None, str, str]] = set()

    def feed(self, message: SseMessage) -> list[ChatEvent]:
        """Return the events carried by one message; never raises on malformed content."""
        if message.data is None:
            return [HeartbeatEvent()] if message.comment else []
        data = message.data
        if not data.strip() or (message.event or "").lower() in _KEEPALIVE_TYPES:
            return [HeartbeatEvent()]
        try:
            payload = json.loads(data)
        except ValueError:  # JSONDecodeError, and UnicodeDecodeError never arises from str
            return self._not_json(data)
        except RecursionError:
            log.debug("skipping too deeply nested SSE data: %r", _preview(data))
            return []
        if not isinstance(payload, dict):
            log.debug("skipping SSE data that is not a JSON object: %r", _preview(data))
            return []
        return self._payload(payload)

    def flush(self) -> list[ChatEvent]:
        """At EOF: the text of partial chunks whose aggregated event never arrived."""
        if not self._pending_partial:
            return []
        text = "".join(self._pending_partial)
        self._pending_partial = []
        return [TextEvent(text)] if text else []

    # ----------------------------------------------------------------- helpers

    @staticmethod
    def _not_json(data: str) -> list[ChatEvent]:
        head = _BROKEN_ERROR_HEAD.match(data)
        if head is None:
            log.debug("skipping non-JSON SSE data: %r", _preview(data))
            return []
        rest = data[head.end() :]
        details = _BROKEN_ERROR_DETAILS.search(rest)
        if details is not None:
            text = rest[: details.start()]
        else:  # strip the closing `"}` if the line got that far (linear, unlike a `$` regex)
            text = rest.rstrip()
            text = text[:-1].rstrip() if text.endswith("}") else text
            text = text[:-1] if text.endswith('"') else text
        log.debug("malformed ADK error line: %r", _preview(data))
        return [ErrorEvent(message=text.strip() or "backend error")]

    def _payload(self, obj: dict[str, Any]) -> list[ChatEvent]:
        kind = obj.get("type")
        if isinstance(kind, str):
            lowered = kind.lower()
            if lowered in _KEEPALIVE_TYPES:
                return [HeartbeatEvent()]
            if lowered in _SIMPLE_TYPES:
                return self._simple(lowered, obj)
        if obj.get("error") is not None:
            return [self._error(obj)]
        return self._adk(obj)

    @staticmethod
    def _error(obj: dict[str, Any]) -> ErrorEvent:
        """`{"error": "...", "error_details": {...}}` from ADK's exception handler."""
        error = obj.get("error")
        details = obj.get("error_details")
        details = details if isinstance(details, dict) else {}
        message: str | None = None
        code: str | None = None
        if isinstance(error, str):
            message = error or None
        elif isinstance(error, dict):  # Google-API style {"code":…, "message":…, "status":…}
            message = _str_or_none(error.get("message"))
            code = _str_or_none(error.get("status")) or _str_or_none(error.get("code"))
        elif error is not None and not isinstance(error, list):
            message = str(error)
        if message is None:
            message = _str_or_none(details.get("error_message")) or "backend error"
        if code is None:
            code = _str_or_none(details.get("error_type"))
        return ErrorEvent(message=message, code=code)

    @staticmethod
    def _simple(kind: str, obj: dict[str, Any]) -> list[ChatEvent]:
        """The withdrawn vendor format: `{"type": "text"|"tool_call"|…}`."""
        if kind == "text":
            text = obj.get("content")
            if not isinstance(text, str):
                text = obj.get("text")
            return [TextEvent(text)] if isinstance(text, str) and text else []
        if kind in ("tool_call", "tool_result"):
            name = obj.get("name")
            if not isinstance(name, str):
                return []
            call_id = _str_or_none(obj.get("id"))
            if kind == "tool_call":
                return [ToolCallEvent(name=name, args=_as_mapping(obj.get("args"), "args"), call_id=call_id)]
            result = obj.get("result")
            if result is None:
                result = obj.get("response")
            return [ToolResultEvent(name=name, response=_as_mapping(result), call_id=call_id)]
        if kind == "error":
            message = _str_or_none(obj.get("message")) or _str_or_none(obj.get("error")) or "backend error"
            return [ErrorEvent(message=message, code=_str_or_none(obj.get("code")))]
        return []  # done / end: EOF ends the turn anyway

    def _adk(self, obj: dict[str, Any]) -> list[ChatEvent]:
        """A Google ADK `Event` (camelCase or snake_case)."""
        partial = obj.get("partial") is True
        content = obj.get("content")
        parts: list[object] = []
        visible = True
        if isinstance(content, dict):
            raw_parts = content.get("parts")
            if isinstance(raw_parts, list):
                parts = raw_parts
            role = content.get("role")
            # Only the agent's words are shown; `user` content is a function response or an echo.
            visible = role is None or role == "model"

        if partial:
            out_partial: list[ChatEvent] = []
            if visible:
                for part in parts:
                    text = self._visible_text(part)
                    if text:
                        self._pending_partial.append(text)
                        out_partial.append(PartialTextEvent(text))
            return out_partial

        out: list[ChatEvent] = []
        invocation = _str_or_none(_pick(obj, "invocationId", "invocation_id"))
        event_id = _str_or_none(obj.get("id"))
        for part in parts:
            if not isinstance(part, dict):
                continue
            text = self._visible_text(part) if visible else None
            if text:
                # The aggregate of any streamed partials: it supersedes them.
                self._pending_partial = []
                if event_id is not None:
                    key = (invocation, event_id, text)
                    if key in self._emitted:
                        continue
                    self._emitted.add(key)
                out.append(TextEvent(text))
                continue
            call = _pick(part, "functionCall", "function_call")
            if isinstance(call, dict):
                name = call.get("name")
                if isinstance(name, str):
                    out.append(
                        ToolCallEvent(
                            name=name,
                            args=_as_mapping(call.get("args"), "args"),
                            call_id=_str_or_none(call.get("id")),
                        )
                    )
                continue
            response = _pick(part, "functionResponse", "function_response")
            if isinstance(response, dict):
                name = response.get("name")
                if isinstance(name, str):
                    out.append(
                        ToolResultEvent(
                            name=name,
                            response=_as_mapping(response.get("response")),
                            call_id=_str_or_none(response.get("id")),
                        )
                    )
            # inlineData, fileData, executableCode, codeExecutionResult, …: not for the user.

        actions = obj.get("actions")
        if isinstance(actions, dict):
            delta = _pick(actions, "stateDelta", "state_delta")
            if isinstance(delta, dict) and delta:
                out.append(StateDeltaEvent(delta=delta))

        code = _str_or_none(_pick(obj, "errorCode", "error_code"))
        error_message = _str_or_none(_pick(obj, "errorMessage", "error_message"))
        if code is not None or error_message is not None:
            out.append(ErrorEvent(message=error_message or code or "backend error", code=code))
        return out

    @staticmethod
    def _visible_text(part: object) -> str | None:
        if not isinstance(part, dict) or part.get("thought") is True:
            return None
        text = part.get("text")
        return text if isinstance(text, str) and text else None


async def iter_chat_events(
    chunks: AsyncIterable[bytes], *, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES
) -> AsyncGenerator[ChatEvent, None]:
    """Typed events of one `/run_sse` turn. No EndEvent: the client adds it after a clean EOF."""
    parser = AdkEventParser()
    async with aclosing(iter_sse_messages(chunks, max_event_bytes=max_event_bytes)) as messages:
        async for message in messages:
            for event in parser.feed(message):
                yield event
    for event in parser.flush():
        yield event
