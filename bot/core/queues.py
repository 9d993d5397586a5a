"""One worker per busy thread: the thread's work runs one job at a time, in order.

Every job of a thread goes through here: its messages (bot.core.intake) and the export requests of
/export and the Export buttons (bot.core.renders), so an export never overtakes an edit sent before it.
Workers are created on demand and exit when their queue is empty, so a thousand quiet threads cost
nothing. Queues are bounded: a flood gets a friendly refusal, not memory growth.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from bot.log_context import set_thread

from .tasks import TaskRegistry

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[None]]


class ThreadQueues:
    def __init__(self, *, limit: int) -> None:
        self._limit = limit
        self._queues: dict[int, asyncio.Queue[Job]] = {}
        self._workers = TaskRegistry("thread-worker")
        self._busy: set[int] = set()
        self._closed = False

    def waiting(self, thread_id: int) -> int:
        """How many jobs are ahead of a newly submitted one (the running job included)."""
        queue = self._queues.get(thread_id)
        return (queue.qsize() if queue else 0) + (1 if thread_id in self._busy else 0)

    def submit(self, thread_id: int, job: Job) -> bool:
        """Enqueue without awaiting, so Discord's event order is kept. False when the queue is full."""
        if self._closed:
            return False
        queue = self._queues.get(thread_id)
        if queue is None:
            queue = self._queues[thread_id] = asyncio.Queue(self._limit)
        try:
            queue.put_nowait(job)
        except asyncio.QueueFull:
            return False
        if not self._workers.running(thread_id):
            self._workers.spawn(self._run(thread_id, queue), key=thread_id, name=f"thread-worker-{thread_id}")
        return True

    async def _run(self, thread_id: int, queue: asyncio.Queue[Job]) -> None:
        set_thread(thread_id)
        try:
            while not queue.empty():
                job = queue.get_nowait()
                self._busy.add(thread_id)
                try:
                    await job()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("job failed")
                finally:
                    self._busy.discard(thread_id)
        finally:
            if queue.empty() and self._queues.get(thread_id) is queue:
                del self._queues[thread_id]

    @property
    def queued(self) -> int:
        """Jobs waiting behind the running ones, over all threads."""
        return sum(queue.qsize() for queue in self._queues.values())

    async def join(self, timeout: float | None = None) -> None:
        """Wait for all current work, including jobs queued meanwhile (tests and clean shutdown)."""
        await self._workers.join(timeout)

    async def close(self) -> None:
        self._closed = True
        await self._workers.close()
        self._queues.clear()
