"""Prometheus metrics. One registry per process; served by bot.health on HEALTH_PORT.

Kept free of discord.py so the core can count what it does.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

ACTIVE_TURNS = Gauge("cutaway_active_turns", "Chat turns streaming from the backend now", registry=REGISTRY)
QUEUED_MESSAGES = Gauge("cutaway_queued_messages", "Messages waiting in per-thread queues", registry=REGISTRY)
RENDERS_POLLING = Gauge("cutaway_renders_polling", "Renders this process is polling", registry=REGISTRY)
RENDERS_FINISHED = Counter(
    "cutaway_renders_finished_total", "Renders that ended, by final state", ["state"], registry=REGISTRY
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
DISCORD_LATENCY = Histogram(
    "cutaway_discord_request_seconds",
    "Discord REST calls made by the bot",
    ["action"],
    registry=REGISTRY,
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
GATEWAY_LATENCY = Gauge("cutaway_gateway_latency_seconds", "Discord gateway heartbeat latency", registry=REGISTRY)
