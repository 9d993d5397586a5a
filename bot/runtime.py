"""The event loop every Cutaway process runs on.

uvloop where it is available (Linux and macOS): at a thousand busy threads the bot's CPU per event
fell by about a fifth and every backend stream could be open at once (bench/fanout, bench/README.md).
Everything the bot uses (aiohttp, aiosqlite, asyncpg, signal handlers) runs unchanged on it; on a
platform without uvloop the standard loop is used. Also here: glibc's allocator thresholds (large
streamed reads) and the garbage collector's (thousands of live turns), both measured in bench/.
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import platform
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
    tune_malloc()
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(main)


# glibc serves every allocation at or above its mmap threshold with a fresh mmap and returns it on
# free. uvloop hands each ~256 KiB socket read over as a new bytes object of just that size, which
# the threshold's own adjustment never covers: streaming a 500 MiB upload took ~150,000 page faults
# and 3.6x the CPU of the standard loop. Below 1 MiB from the heap, and up to 16 MiB of free heap
# kept rather than trimmed and re-faulted after every read.
MMAP_THRESHOLD = 1 << 20
TRIM_THRESHOLD = 16 << 20
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # <malloc.h>


def tune_malloc() -> bool:
    """Apply the thresholds above on glibc (Linux); elsewhere nothing happens. True when applied."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))


# Young collections every 10,000 net allocations instead of 700, and a full collection only after 100
# of the middle generation's instead of 10. At a thousand busy threads the defaults ran a full
# collection every few seconds, each walking 80,000-150,000 live objects for 65-160 ms during which no
# event was handled (bench/fanout); with these there was none during the load, and RSS stayed the same.
GC_THRESHOLDS = (10_000, 10, 100)


def settle_gc() -> None:
    """Once start-up is done: nothing loaded so far is garbage, and collections should be rare."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
