"""Discord's per-route rate limits for the fake: the `X-RateLimit-*` headers and 429s.

Opt-in (`FakeDiscord(rate_limits=RateLimits())`): without it the fake sends no headers, and
discord.py then treats every bucket as one request at a time. With it, the headers tell
discord.py what Discord would (limit, remaining, reset, reset-after, bucket hash), so its own
limiter paces the bot exactly as on Discord, and a request past the limit gets Discord's 429
(`Via` header, JSON `retry_after`, `X-RateLimit-Scope: user`). Windows are fixed, per route
bucket and channel, as Discord's "major parameter" keys them.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class BucketRule:
    """One route group: `limit` requests per `window` seconds per channel."""

    bucket: str
    method: str
    pattern: re.Pattern[str]
    limit: int
    window: float


def default_rules(window: float = 5.0) -> tuple[BucketRule, ...]:
    """Discord's observed channel buckets: 5 per 5 s for message create, edit and typing."""
    channel = r"^/channels/(\d+)"
    return (
        BucketRule("messages-create", "POST", re.compile(channel + r"/messages$"), 5, window),
        BucketRule("messages-edit", "PATCH", re.compile(channel + r"/messages/\d+$"), 5, window),
        BucketRule("messages-delete", "DELETE", re.compile(channel + r"/messages/\d+$"), 5, window),
        BucketRule("typing", "POST", re.compile(channel + r"/typing$"), 5, window),
    )


@dataclass(slots=True)
class _Window:
    started: float
    used: int = 0


@dataclass
class RateLimits:
    """The limiter; `limited` counts the 429s it served (a well-behaved client sees none)."""

    rules: tuple[BucketRule, ...] = field(default_factory=default_rules)
    clock: Callable[[], float] = time.monotonic
    limited: int = 0
    _windows: dict[tuple[str, str], _Window] = field(default_factory=dict)

    def take(self, method: str, path: str) -> tuple[dict[str, str], float | None]:
        """Headers for this request, and how long to retry after when it is over the limit."""
        for rule in self.rules:
            if rule.method != method:
                continue
            match = rule.pattern.search(path)
            if match is None:
                continue
            now = self.clock()
            key = (rule.bucket, match.group(1))
            window = self._windows.get(key)
            if window is None or now - window.started >= rule.window:
                window = self._windows[key] = _Window(started=now)
            reset_after = max(window.started + rule.window - now, 0.0)
            headers = {
                "X-RateLimit-Limit": str(rule.limit),
                "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
                "X-RateLimit-Reset-After": f"{math.ceil(reset_after * 1000) / 1000:.3f}",
                "X-RateLimit-Bucket": rule.bucket,
            }
            if window.used >= rule.limit:
                self.limited += 1
                headers.update({"X-RateLimit-Remaining": "0", "X-RateLimit-Scope": "user"})
                return headers, max(reset_after, 0.001)
            window.used += 1
            headers["X-RateLimit-Remaining"] = str(rule.limit - window.used)
            return headers, None
        return {}, None
