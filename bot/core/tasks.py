"""Background tasks, one registry per owner: every task the bot starts and does not await at once.

The event loop keeps only weak references to tasks, so a task must be held until it ends; a failure
must be logged, not lost in "Task exception was never retrieved"; and shutdown must cancel what
is left and wait for it. A registry does all three. A key (a thread id, a render id) allows one
live task per key; a finished task leaves the registry by itself.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Coroutine, Hashable
from typing import Any

from bot.log_context import context_for

log = logging.getLogger(__name__)


class TaskRegistry:
    def __init__(self, owner: str) -> None:
        self._owner = owner
        self._tasks: dict[Hashable, asyncio.Task[Any]] = {}
        self._anonymous = itertools.count()
        self._closed = False

    def spawn(
        self,
        coro: Coroutine[Any, Any, Any],
        *,
        key: Hashable | None = None,
        name: str | None = None,
        thread_id: int | None = None,
    ) -> asyncio.Task[Any]:
        """Start `coro` now. With `thread_id`, its log lines carry that thread (bot.log_context).

        A key must not have a live task already (check `running(key)`). After `close()`, the task is
        cancelled at once: work started during shutdown never outlives it."""
        if key is None:
            key = ("anonymous", next(self._anonymous))
        elif self.running(key):
            coro.close()
            raise ValueError(f"{self._owner}: a task for {key!r} is still running")
        context = context_for(thread_id) if thread_id is not None else None
        task = asyncio.create_task(coro, name=name or f"{self._owner}-{key}", context=context)
        self._tasks[key] = task
        task.add_done_callback(lambda done: self._finished(key, done))
        if self._closed:
            task.cancel()
        return task

    def _finished(self, key: Hashable, task: asyncio.Task[Any]) -> None:
        if self._tasks.get(key) is task:
            del self._tasks[key]
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            log.error("%s: task %s failed", self._owner, task.get_name(), exc_info=error)

    def running(self, key: Hashable) -> bool:
        task = self._tasks.get(key)
        return task is not None and not task.done()

    def __len__(self) -> int:
        """Tasks not yet finished."""
        return sum(not task.done() for task in self._tasks.values())

    async def cancel(self, key: Hashable) -> None:
        """Cancel the task of `key` (if any) and wait until it has ended."""
        task = self._tasks.get(key)
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def join(self, timeout: float | None = None) -> None:
        """Wait until every task, including those started meanwhile, has ended (tests, clean shutdown)."""
        async with asyncio.timeout(timeout):
            while tasks := [task for task in self._tasks.values() if not task.done()]:
                await asyncio.gather(*tasks, return_exceptions=True)

    async def close(self) -> None:
        """Cancel every task and wait for them; tasks spawned from now on are cancelled at once."""
        self._closed = True
        while tasks := [task for task in self._tasks.values() if not task.done()]:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
