"""Per-user message rate limit for project threads: a flood gets one friendly notice, not a backlog."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class UserRateLimiter:
    """Sliding window of `limit` messages per `window` seconds per user; memory bounded by active users."""

    def __init__(self, limit: int, window: float = 60.0, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._limit = limit
        self._window = window
        self._clock = clock
        self._hits: dict[int, deque[float]] = {}
        self._warned_until: dict[int, float] = {}

    def check(self, user_id: int) -> float:
        """0 when the message may pass; otherwise the seconds until it would."""
        now = self._clock()
        hits = self._hits.setdefault(user_id, deque())
        while hits and now - hits[0] >= self._window:
            hits.popleft()
        if len(hits) >= self._limit:
            return self._window - (now - hits[0])
        hits.append(now)
        self._prune(now)
        return 0.0

    def should_warn(self, user_id: int, retry_after: float) -> bool:
        """Only the first refused message of a burst gets a notice."""
        now = self._clock()
        if self._warned_until.get(user_id, 0.0) > now:
            return False
        self._warned_until[user_id] = now + retry_after
        return True

    def _prune(self, now: float) -> None:
        if len(self._hits) < 10_000:
            return
        for user_id in [u for u, h in self._hits.items() if not h or now - h[-1] >= self._window]:
            self._hits.pop(user_id, None)
            self._warned_until.pop(user_id, None)


class TokenBucket:
    """A bot-wide budget for optional Discord calls (status edits): Discord allows 50 requests/s per bot,
    so heartbeats over many busy threads skip a tick rather than queue behind the rate limiter."""

    def __init__(self, rate: float, burst: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._rate = rate
        self._burst = burst
        self._tokens = burst
        self._clock = clock
        self._last = clock()

    def try_take(self) -> bool:
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._last) * self._rate)
        self._last = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False
