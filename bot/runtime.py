"""The event loop every Cutaway process runs on.

uvloop where it is available (Linux and macOS): at a thousand busy threads the bot's CPU per event
fell by about a fifth and every backend stream could be open at once (bench/fanout, bench/README.md).
Everything the bot uses (aiohttp, aiosqlite, asyncpg, signal handlers) runs unchanged on it; on a
platform without uvloop the standard loop is used.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:  # Windows, or a platform without a wheel
        return None
    return uvloop.new_event_loop


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run`, on the fastest loop this platform has."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(main)


# Young collections every 10,000 net allocations instead of 700, and a full collection only after 100
# of the middle generation's instead of 10. At a thousand busy threads the defaults ran a full
# collection every few seconds, each walking 80,000-150,000 live objects for 65-160 ms during which no
# event was handled (bench/fanout); with these there was none during the load, and RSS stayed the same.
GC_THRESHOLDS = (10_000, 10, 100)


def settle_gc() -> None:
    """Once start-up is done: nothing loaded so far is garbage, and collections should be rare."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
