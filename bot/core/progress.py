"""The one "⏳ Still working…" message of a long operation (a chat turn, an upload).

The bot's own clock drives it, not the backend's bytes: the backend may send nothing for minutes
(docs/backend-contract.md, section 4). Every `interval` seconds the message is posted once,
then edited in place, showing the stage, the elapsed time and how many jobs wait behind it.
Edits are optional, so they stay inside Discord's limits: at most one per thread every
MIN_STATUS_EDIT_GAP seconds and a bot-wide budget; a skipped tick just shows up a tick later.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Self

from .ports import StatusMessage, ThreadSurface
from .ratelimit import TokenBucket
from .texts import format_duration, t

log = logging.getLogger(__name__)

# Discord: 50 requests/s per bot, about 5 per 5 s per channel. Status edits get half the bot's budget
# and at most one per 1.25 s per thread.
STATUS_EDITS_PER_SECOND = 25.0
MIN_STATUS_EDIT_GAP = 1.25


def status_budget(clock: Callable[[], float] = time.monotonic) -> TokenBucket:
    """One per process, shared by every Progress: heartbeats over many busy threads skip a tick rather
    than queue behind discord.py's rate limiter."""
    return TokenBucket(STATUS_EDITS_PER_SECOND, STATUS_EDITS_PER_SECOND * 2, clock=clock)


class Progress:
    """`async with Progress(…) as progress:` runs the heartbeat; `stage` may change meanwhile.

    After the block, `status` is the message shown (None if the operation was quick) for the caller to
    finish: the result replaces it."""

    def __init__(
        self,
        surface: ThreadSurface,
        lang: str,
        *,
        interval: float,
        budget: TokenBucket,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
        stage: str | None = None,
        waiting: Callable[[], int] = lambda: 0,
    ) -> None:
        self.stage = stage
        self.status: StatusMessage | None = None
        self._surface = surface
        self._lang = lang
        self._interval = interval
        self._budget = budget
        self._clock = clock
        self._sleep = sleep
        self._waiting = waiting
        self.started = clock()
        self._last_edit = float("-inf")
        self._stopped = False
        self._sleeping = False
        self._task: asyncio.Task[None] | None = None

    def elapsed(self) -> float:
        return self._clock() - self.started

    async def __aenter__(self) -> Self:
        self._task = asyncio.create_task(self._beat(), name=f"heartbeat-{self._surface.thread_id}")
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is not None and issubclass(exc_type, asyncio.CancelledError):
            self.cancel()  # shutdown: do not wait for Discord
            return
        await self.stop()

    async def stop(self) -> None:
        """End the heartbeat. It is cancelled only while it sleeps: cancelling it inside a discord.py
        request would break that channel's rate-limit bookkeeping (its edits would stall)."""
        self._stopped = True
        if self._task is None:
            return
        if self._sleeping:
            self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)

    def cancel(self) -> None:
        self._stopped = True
        if self._task is not None:
            self._task.cancel()

    async def _beat(self) -> None:
        while not self._stopped:
            self._sleeping = True
            try:
                await self._sleep(self._interval)
            finally:
                self._sleeping = False
            if not self._stopped:  # stop() may have come during the sleep without cancelling it
                await self._tick()

    async def _tick(self) -> None:
        now = self._clock()
        if now - self._last_edit < MIN_STATUS_EDIT_GAP or not self._budget.try_take():
            return
        self._last_edit = now
        text = self.text()
        try:
            if self.status is None:
                self.status = await self._surface.open_status(text)
            else:
                await self.status.update(text)
        except Exception:
            log.exception("status update failed")

    def text(self) -> str:
        elapsed = format_duration(self.elapsed(), self._lang)
        stage = self.stage
        waiting = self._waiting()
        if waiting > 0:
            extra = t("stage_waiting", self._lang, count=waiting)
            stage = f"{stage} · {extra}" if stage else extra
        if stage:
            return t("still_working_stage", self._lang, stage=stage, elapsed=elapsed)
        return t("still_working", self._lang, elapsed=elapsed)
