"""`/run_sse` playback of the fake backend: scripted steps onto one SSE response, with the
gateway keep-alives a test asks for. Request validation is the shared one (engine/wire), so a
client that sends a subtly wrong body fails here exactly as it would against ADK or the engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
from collections.abc import Callable
from typing import Literal

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
from engine.wire import INVALID_JSON, RunRequest, validate_run_request

__all__ = ["INVALID_JSON", "STATE_KEYS", "RunRequest", "SseStream", "play_steps", "validate_run_request"]

STATE_KEYS = frozenset({"draft", "video_infos", "canvas_config", "video_analyses", "generated_media"})

PlayResult = Literal["completed", "error", "dropped"]


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
