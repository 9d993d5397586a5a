"""One worker per busy thread: the thread's work runs one job at a time, in order.

Every job of a thread goes through here: its messages (bot.core.intake) and the export requests of
/export and the Export buttons (bot.core.renders), so an export never overtakes an edit sent before it.
Workers are created on demand and exit when their queue is empty, so a thousand quiet threads cost
nothing. Queues are bounded: a flood gets a friendly refusal, not memory growth.

After a fresh gateway session, what was posted during the gap is read back from each thread's history
(catch-up). That must run before anything the new session delivers, or a newer message would move the
thread's high-water mark past the missed one: `hold()` keeps new jobs back, in order, while the
catch-up jobs are queued with `first=True`, and `release()` lets them follow. Threads the eager
catch-up does not cover (quiet for longer than its window) get theirs lazily: after `begin_session`,
a thread's first job of the session is preceded by the session's opener for that thread.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, deque
from collections.abc import Awaitable, Callable

from bot.log_context import set_thread

from .tasks import TaskRegistry

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[None]]
OPENED_LIMIT = 100_000


class ThreadQueues:
    def __init__(self, *, limit: int) -> None:
        self._limit = limit
        # Unbounded as asyncio queues: `submit` enforces the limit, counting held jobs too, so a job
        # accepted while held is never refused when it is let through.
        self._queues: dict[int, asyncio.Queue[Job]] = {}
        self._workers = TaskRegistry("thread-worker")
        self._busy: set[int] = set()
        self._closed = False
        self._holds = 0
        self._held: deque[tuple[int, Job]] = deque()
        self._held_per_thread: Counter[int] = Counter()
        self._opener: Callable[[int], Job] | None = None
        self._opened: set[int] = set()

    def waiting(self, thread_id: int) -> int:
        """How many jobs are ahead of a newly submitted one (the running job included)."""
        queue = self._queues.get(thread_id)
        queued = (queue.qsize() if queue else 0) + self._held_per_thread[thread_id]
        return queued + (1 if thread_id in self._busy else 0)

    def submit(self, thread_id: int, job: Job, *, first: bool = False) -> bool:
        """Enqueue without awaiting, so Discord's event order is kept. False when the queue is full.

        `first`: not held back by `hold()` (the catch-up that must precede what is held)."""
        if self._closed:
            return False
        queue = self._queues.get(thread_id)
        if not first and (queue.qsize() if queue else 0) + self._held_per_thread[thread_id] >= self._limit:
            return False
        jobs = [job]
        if first:
            self.mark_opened(thread_id)
        elif self._opener is not None and thread_id not in self._opened:
            self.mark_opened(thread_id)
            jobs.insert(0, self._opener(thread_id))
        for each in jobs:
            if self._holds and not first:
                self._held.append((thread_id, each))
                self._held_per_thread[thread_id] += 1
            else:
                self._enqueue(thread_id, each)
        return True

    def begin_session(self, opener: Callable[[int], Job]) -> None:
        """A new session: each thread's first job from now on is preceded by `opener(thread_id)`, unless
        the thread is marked opened (or gets a `first=True` job) before."""
        self._opener = opener
        self._opened.clear()

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

    def hold(self) -> None:
        """Keep new jobs back (in order) until the matching `release()`; holds nest."""
        self._holds += 1

    def release(self) -> None:
        """End one hold; when none is left, the held jobs join their threads' queues in order."""
        self._holds = max(0, self._holds - 1)
        if self._holds or self._closed:
            return
        held, self._held = self._held, deque()
        self._held_per_thread.clear()
        if held:
            log.info("releasing %d job(s) held during catch-up", len(held))
        for thread_id, job in held:
            self._enqueue(thread_id, job)

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
        """Jobs waiting behind the running ones, over all threads (held ones included)."""
        return sum(queue.qsize() for queue in self._queues.values()) + len(self._held)

    async def join(self, timeout: float | None = None) -> None:
        """Wait for all current work, including jobs queued meanwhile (tests and clean shutdown)."""
        await self._workers.join(timeout)

    async def close(self) -> None:
        self._closed = True
        self._held.clear()
        self._held_per_thread.clear()
        await self._workers.close()
        self._queues.clear()
