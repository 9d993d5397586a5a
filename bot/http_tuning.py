"""Make discord.py's rate-limit table cheap for a bot that talks in thousands of threads at once.

discord.py keeps one rate-limit bucket per (route, channel). Once it holds 256 of them, *every* new
bucket triggers a scan of the whole table for idle ones (`HTTPClient._try_clear_expired_ratelimits`),
so a burst of replies across N threads costs O(N²): at 1,000 busy threads that scan was 29% of
the bot's CPU under cProfile (bench/fanout; bench/README.md, finding 9).

The scan is replaced, on this client's instance only, by the same scan run when the table has
doubled since the last one or when `min_interval` has passed: amortised O(1) per new bucket, and
the table stays within twice its live size. What is dropped is unchanged (discord.py's own
`is_inactive` decides). discord.py's HTTP client is private API, so the hook checks for the exact
attributes it needs and leaves the client alone (with a warning) if they are not there.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

SWEEP_FLOOR = 256  # discord.py's own threshold: below it no sweep ever runs
SWEEP_MIN_INTERVAL = 30.0  # a bucket only becomes removable after 300 s idle; sweeping more often finds nothing


class AmortisedBucketSweep:
    """Callable that stands in for `HTTPClient._try_clear_expired_ratelimits`."""

    def __init__(
        self,
        http: Any,
        sweep: Callable[[], None],
        *,
        min_interval: float = SWEEP_MIN_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        self._sweep = sweep
        self._min_interval = min_interval
        self._clock = clock
        self._next_size = SWEEP_FLOOR
        self._next_time = clock() + min_interval
        self.sweeps = 0

    def __call__(self) -> None:
        size = len(self._http._buckets)
        if size < SWEEP_FLOOR:
            return
        now = self._clock()
        if size < self._next_size and now < self._next_time:
            return
        self._sweep()
        self.sweeps += 1
        self._next_size = max(SWEEP_FLOOR, 2 * len(self._http._buckets))
        self._next_time = now + self._min_interval


def amortise_bucket_sweep(http: Any, *, min_interval: float = SWEEP_MIN_INTERVAL) -> AmortisedBucketSweep | None:
    """Install the amortised sweep on one `discord.http.HTTPClient`; None when discord.py has changed."""
    sweep = getattr(http, "_try_clear_expired_ratelimits", None)
    buckets = getattr(http, "_buckets", None)
    if not callable(sweep) or not isinstance(buckets, dict):
        log.warning("discord.py's HTTP client has changed; rate-limit bucket sweep left as it is")
        return None
    if isinstance(sweep, AmortisedBucketSweep):
        return sweep
    amortised = AmortisedBucketSweep(http, sweep, min_interval=min_interval)
    http._try_clear_expired_ratelimits = amortised
    return amortised
