"""One computation per key at a time: concurrent identical requests await the same task.

Composing, fitting and analysing are cached on disk, but two chat turns asking for the same
music at once would both miss the cache and both compute; this joins the second to the first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class SingleFlight(Generic[T]):
    def __init__(self) -> None:
        self._running: dict[str, asyncio.Future[T]] = {}

    async def run(self, key: str, make: Callable[[], Awaitable[T]]) -> T:
        """`make()` once for `key` while it runs; callers that arrive meanwhile get its result.

        A caller that is cancelled does not cancel the work for the others (it is shielded); the
        entry is removed when the work ends, so a failure is retried by the next caller."""
        future = self._running.get(key)
        if future is None:
            future = asyncio.ensure_future(make())
            self._running[key] = future
            future.add_done_callback(lambda done: self._finished(key, done))
        return await asyncio.shield(future)

    def _finished(self, key: str, done: asyncio.Future[T]) -> None:
        self._running.pop(key, None)
        if not done.cancelled():
            done.exception()  # retrieved here too: if every caller left, asyncio must not log it as lost
