"""`/run_sse`: one chat message through the editor, streamed as ADK events (docs/engine-api.md,
"Chat stream").

The editor yields `Say`, `Call` and `Result`; each becomes one ADK event. A `Result` carrying a
draft puts it, with the canvas, in `actions.stateDelta` (the editor has committed it already).
An exception inside the editor ends the stream with ADK's error line, never a traceback, and is
logged with the session id; a client hanging up cancels the turn (aiohttp cancels the handler).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any

from aiohttp import web

from engine.editor import Call, EditorEvent, EditorSession, Say
from engine.wire import AdkTurn, error_line, event_stream_response, frame

log = logging.getLogger(__name__)

TurnFn = Callable[[EditorSession, str], AsyncIterator[EditorEvent]]

EDITOR_FAILED = "the editor could not finish this message; check the project's state before repeating it"


def encode(turn: AdkTurn, event: EditorEvent) -> bytes:
    """One editor event as one SSE frame."""
    if isinstance(event, Say):
        return frame(turn.text(event.text))
    if isinstance(event, Call):
        return frame(turn.tool_call(event.name, event.args))
    delta: dict[str, Any] | None = None
    if event.draft is not None:
        delta = {"draft": event.draft.to_json(), "canvas_config": event.draft.canvas.config()}
    return frame(turn.tool_result(event.name, event.response, delta))


async def stream_turn(request: web.Request, session: EditorSession, text: str, turn_fn: TurnFn) -> web.StreamResponse:
    """Run the editor on `text` and stream its events; the connection's end ends the turn."""
    response = event_stream_response()
    await response.prepare(request)
    turn = AdkTurn()
    events = 0
    editor_events = turn_fn(session, text)
    try:
        async for event in editor_events:
            await response.write(encode(turn, event))
            events += 1
    except asyncio.CancelledError:
        log.info("session=%s client hung up; turn cancelled after %d events", session.session_id, events)
        raise
    except ConnectionError:
        log.info("session=%s client hung up; turn stopped after %d events", session.session_id, events)
        return response
    except Exception as exc:
        log.exception("session=%s editor failed on a message", session.session_id)
        try:
            await response.write(error_line(EDITOR_FAILED, type(exc).__name__))
        except ConnectionError:
            return response
    else:
        log.info("session=%s turn done (%d events)", session.session_id, events)
    finally:
        # A turn stopped early (hang-up, cancel) is closed here, not whenever it is collected.
        if isinstance(editor_events, AsyncGenerator):
            await editor_events.aclose()
    await response.write_eof()
    return response
