"""One worker per busy thread: the thread's work runs one job at a time, in order.

Every job of a thread goes through here: its messages (bot.core.intake) and the export requests of
/export and the Export buttons (bot.core.exports), so an export never overtakes an edit sent before it.
Workers are created on demand and exit when their queue is empty, so a thousand quiet threads cost
nothing. Queues are bounded: a flood gets a friendly refusal, not memory growth.

After a fresh gateway session, what was posted during the gap is read back from each thread's history
(catch-up). That must run before anything the new session delivers, or a newer message would move the
thread's high-water mark past the missed one. So `begin_session` names the session's *opener* (the
catch-up), and a thread's first job of the session is preceded by it; `open` queues it at once for the
threads caught up eagerly (the recently active ones), whether or not anything new arrives for them.
Either way a thread is opened once per session, and its opener is never refused.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from bot.log_context import set_thread

from .tasks import TaskRegistry

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[None]]
OPENED_LIMIT = 100_000


class ThreadQueues:
    def __init__(self, *, limit: int) -> None:
        self._limit = limit
        # Unbounded as asyncio queues: `submit` enforces the limit (an opener may go one past it).
        self._queues: dict[int, asyncio.Queue[Job]] = {}
        self._workers = TaskRegistry("thread-worker")
        self._busy: set[int] = set()
        self._closed = False
        self._opener: Callable[[int], Job] | None = None
        self._opened: set[int] = set()

    def waiting(self, thread_id: int) -> int:
        """How many jobs are ahead of a newly submitted one (the running job included)."""
        queue = self._queues.get(thread_id)
        return (queue.qsize() if queue else 0) + (1 if thread_id in self._busy else 0)

    def submit(self, thread_id: int, job: Job) -> bool:
        """Enqueue without awaiting, so Discord's event order is kept. False when the queue is full.

        The thread's first job of a session is preceded by the session's opener (see `begin_session`)."""
        if self._closed:
            return False
        queue = self._queues.get(thread_id)
        if queue is not None and queue.qsize() >= self._limit:
            return False
        self.open(thread_id)
        self._enqueue(thread_id, job)
        return True

    def begin_session(self, opener: Callable[[int], Job]) -> None:
        """A new session: each thread's first job from now on is preceded by `opener(thread_id)`, unless
        the thread is opened (`open`) or marked opened before."""
        self._opener = opener
        self._opened.clear()

    def open(self, thread_id: int) -> None:
        """Queue the session's opener for this thread now, unless the thread has been opened already."""
        if self._closed or self._opener is None or thread_id in self._opened:
            return
        self.mark_opened(thread_id)
        self._enqueue(thread_id, self._opener(thread_id))

    def mark_opened(self, thread_id: int) -> None:
        """This thread needs no opener in this session (caught up already, or new)."""
        if len(self._opened) >= OPENED_LIMIT:
            self._opened.clear()  # at worst some thread is caught up twice: harmless, never unbounded
        self._opened.add(thread_id)

    def _enqueue(self, thread_id: int, job: Job) -> None:
        queue = self._queues.get(thread_id)
        if queue is None:
            queue = self._queues[thread_id] = asyncio.Queue()
        queue.put_nowait(job)
        if not self._workers.running(thread_id):
            self._workers.spawn(self._run(thread_id, queue), key=thread_id, name=f"thread-worker-{thread_id}")

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
