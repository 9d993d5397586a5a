"""One worker per busy thread: messages in a thread run one at a time, in order.

Workers are created on demand and exit when their queue is empty, so a thousand quiet
threads cost nothing. Queues are bounded: a flood gets a friendly refusal, not memory growth.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


class ThreadQueues(Generic[T]):
    def __init__(self, handler: Callable[[int, T], Awaitable[None]], *, limit: int = 25) -> None:
        self._handler = handler
        self._limit = limit
        self._queues: dict[int, asyncio.Queue[T]] = {}
        self._workers: dict[int, asyncio.Task[None]] = {}
        self._busy: set[int] = set()
        self._closed = False

    def waiting(self, key: int) -> int:
        """How many items are ahead of a newly submitted one (running item included)."""
        queue = self._queues.get(key)
        return (queue.qsize() if queue else 0) + (1 if key in self._busy else 0)

    def submit(self, key: int, item: T) -> bool:
        """Enqueue without awaiting, so Discord's event order is kept. False when the queue is full."""
        if self._closed:
            return False
        queue = self._queues.get(key)
        if queue is None:
            queue = self._queues[key] = asyncio.Queue(self._limit)
        try:
            queue.put_nowait(item)
        except asyncio.QueueFull:
            return False
        if key not in self._workers:
            self._workers[key] = asyncio.create_task(self._run(key, queue), name=f"thread-worker-{key}")
        return True

    async def _run(self, key: int, queue: asyncio.Queue[T]) -> None:
        try:
            while not queue.empty():
                item = queue.get_nowait()
                self._busy.add(key)
                try:
                    await self._handler(key, item)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("thread %s: handler failed", key)
                finally:
                    self._busy.discard(key)
        finally:
            self._workers.pop(key, None)
            if queue.empty():
                self._queues.pop(key, None)

    @property
    def active(self) -> int:
        return len(self._workers)

    @property
    def queued(self) -> int:
        """Items waiting behind the running ones, over all threads."""
        return sum(queue.qsize() for queue in self._queues.values())

    async def join(self, timeout: float | None = None) -> None:
        """Wait for all current work (tests and clean shutdown)."""
        async with asyncio.timeout(timeout):
            while self._workers:
                await asyncio.gather(*list(self._workers.values()), return_exceptions=True)

    async def close(self) -> None:
        self._closed = True
        tasks = list(self._workers.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._workers.clear()
        self._queues.clear()
