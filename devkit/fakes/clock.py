"""Time that moves only when a test says so: the services' `clock` and `sleep` seams.

`FakeClock.now` stands in for time.monotonic and `FakeClock.sleep` for asyncio.sleep. A sleeper wakes
when `advance()` moves time past its deadline, in deadline order, so a two-minute heartbeat or a
five-minute recovery schedule runs in milliseconds and exactly on time.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable


class FakeClock:
    def __init__(self, start: float = 1000.0) -> None:
        self._now = start
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self.slept: list[float] = []
        """Every delay asked for, in order (what a schedule looked like)."""

    def now(self) -> float:
        return self._now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        wake: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + seconds, next(self._order), wake))
        await wake

    @property
    def sleeping(self) -> int:
        """Sleepers not yet woken (nor cancelled)."""
        return sum(not wake.done() for _, _, wake in self._sleepers)

    def next_wake(self) -> float | None:
        """Seconds until the earliest sleeper is due."""
        pending = [deadline for deadline, _, wake in self._sleepers if not wake.done()]
        return min(pending) - self._now if pending else None

    async def advance(self, seconds: float) -> None:
        """Move time forward by `seconds`, waking each sleeper due on the way at its own deadline.

        Work that is ready to run runs first, so a task started just before begins its sleep at "now"."""
        await _run_ready()
        target = self._now + seconds
        while self._sleepers and self._sleepers[0][0] <= target:
            deadline, _, wake = heapq.heappop(self._sleepers)
            if wake.done():
                continue  # cancelled
            self._now = max(self._now, deadline)
            wake.set_result(None)
            await _run_ready()
        self._now = target
        await _run_ready()


async def _run_ready(rounds: int = 20) -> None:
    """Let every task that can run without waiting on I/O or time run."""
    for _ in range(rounds):
        await asyncio.sleep(0)


async def eventually(predicate: Callable[[], object], *, timeout: float = 5.0, what: str = "the condition") -> None:
    """Wait (in real time, bounded) until `predicate()` holds: for work that waits on a thread (the
    SQLite driver), not on the fake clock."""
    try:
        async with asyncio.timeout(timeout):
            while not predicate():  # noqa: ASYNC110 - state another thread (the SQLite driver) changes
                await asyncio.sleep(0.001)
    except TimeoutError:
        raise AssertionError(f"{what} did not happen within {timeout}s") from None
