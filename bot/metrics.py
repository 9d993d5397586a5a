"""Prometheus metrics. One registry per process; served by bot.health on HEALTH_PORT.

Kept free of discord.py so the core can count what it does. Counters follow Prometheus naming
(`_total` is added by the client library); each label has a small, fixed set of values.
"""

from __future__ import annotations

import re

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

ACTIVE_TURNS = Gauge("cutaway_active_turns", "Chat turns streaming from the backend now", registry=REGISTRY)
QUEUED_MESSAGES = Gauge("cutaway_queued_messages", "Messages waiting in per-thread queues", registry=REGISTRY)
RENDERS_POLLING = Gauge("cutaway_renders_polling", "Renders this process is polling", registry=REGISTRY)
MESSAGES_HANDLED = Counter(
    "cutaway_messages_handled",
    "Thread messages handled, by what they asked for (files, chat, export, credits, status, upload)",
    ["kind"],
    registry=REGISTRY,
)
CHAT_TURNS = Counter(
    "cutaway_chat_turns",
    "Chat turns, by how they ended (answered, silent, error, dropped, timeout, failed, internal, cancelled)",
    ["outcome"],
    registry=REGISTRY,
)
UPLOADS = Counter(
    "cutaway_uploads",
    "Files offered for upload, by outcome (uploaded, rejected, download_failed, too_large, failed)",
    ["outcome"],
    registry=REGISTRY,
)
RENDERS = Counter(
    "cutaway_renders",
    "Exports, by how they ended (completed, failed, timed_out, cancelled, refused, already_running)",
    ["outcome"],
    registry=REGISTRY,
)
ERRORS = Counter(
    "cutaway_errors", "Errors a user was told about, by kind (snake_case of the error)", ["kind"], registry=REGISTRY
)
BACKEND_ERRORS = Counter(
    "cutaway_backend_errors_total", "Backend failures by business code or HTTP status", ["code"], registry=REGISTRY
)
BACKEND_LATENCY = Histogram(
    "cutaway_backend_request_seconds",
    "NemoVideo request latency",
    ["endpoint"],
    registry=REGISTRY,
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
BACKEND_STREAM = Histogram(
    "cutaway_backend_stream_seconds",
    "Chat streams (/run_sse): until the answer's headers (open), the first event (first_event), the end (whole)",
    ["phase"],
    registry=REGISTRY,
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 900),
)
DISCORD_LATENCY = Histogram(
    "cutaway_discord_request_seconds",
    "Discord REST calls made by the bot",
    ["action"],
    registry=REGISTRY,
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
GATEWAY_LATENCY = Gauge("cutaway_gateway_latency_seconds", "Discord gateway heartbeat latency", registry=REGISTRY)

_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def error_kind(error: BaseException | str) -> str:
    """The `kind` label of an error: its class name in snake_case (BackendUnavailable → backend_unavailable)."""
    name = error if isinstance(error, str) else type(error).__name__
    return _CAMEL.sub("_", name).lower()


def count_error(error: BaseException | str) -> None:
    """One error a user was told about (cutaway_errors_total{kind})."""
    ERRORS.labels(error_kind(error)).inc()
