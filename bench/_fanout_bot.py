"""Child process: the real Cutaway bot (real discord.py client, real services) with bench-only probes.

Started by `bench.fanout`. The probes are monkeypatches installed before the bot starts; no bot
code is edited:

* `aiohttp.StreamReader.feed_data` stamps when each piece of a backend event stream reaches the
  client (the moment the event loop reads it off the socket);
* `bot.nemo.client.iter_chat_events` is wrapped so every parsed event carries the arrival time of
  the bytes that completed it; when the bot asks for the next event, its handler has finished;
* `discord.http.HTTPClient.request` records every Discord REST call the bot issues (time, channel,
  kind), and the first one issued while an event is being handled gives "event → REST issued";
* `NemoClient._open_stream` is timed (waiting for a pooled connection shows up here) and counts
  concurrently open backend streams.
"""

from __future__ import annotations

import asyncio
import contextlib
import cProfile
import gc
import os
import time
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterable
from contextlib import aclosing
from pathlib import Path
from typing import Any

import aiohttp
import discord

import bot.nemo.client as nemo_client
from bench._common import (
    JSON,
    NEMO_TOKEN,
    TOKEN,
    LoopLag,
    install_arrival_probe,
    proc_status,
    reset_peak_rss,
    serve_commands,
    stamped_pieces,
    summarise,
)
from bot import runtime
from bot.app import CutawayBot
from bot.config import Settings
from bot.core.intake import Intake
from bot.core.ports import IncomingMessage
from bot.nemo import sse
from bot.nemo.client import NemoClient


class Probes:
    """Everything measured inside the bot process."""

    def __init__(self) -> None:
        self.arrivals: dict[int, deque[tuple[float, int]]] = {}
        self.pending: dict[asyncio.Task[Any], float] = {}
        self.issued: dict[asyncio.Task[Any], float] = {}
        self.reset()

    def reset(self) -> None:
        self.handler: dict[str, list[float]] = {}
        self.own: dict[str, list[float]] = {}
        self.inside: dict[str, list[float]] = {}
        self.issue: list[float] = []
        self.open_wait: list[float] = []
        self.streams_open = 0
        self.streams_max = 0
        self.rest: list[tuple[float, int, str]] = []
        self.rest_seconds: dict[str, list[float]] = {}
        self.opened: dict[str, float] = {}
        self.received: dict[str, float] = {}
        self.gc_pauses: list[float] = []
        self.wanted_streams = 0
        self.enough_streams = asyncio.Event()

    # ----------------------------------------------------------------- installation

    def install(self, *, latency: bool = True) -> None:
        """`latency=False` keeps only the cheap stream-open probe (to measure the probes' own CPU cost)."""
        probes = self
        gc_started = [0.0]

        def on_gc(phase: str, info: dict[str, int]) -> None:
            if phase == "start":
                gc_started[0] = time.perf_counter()
            elif info.get("generation") == 2:
                probes.gc_pauses.append(time.perf_counter() - gc_started[0])

        gc.callbacks.append(on_gc)
        original_open = NemoClient._open_stream

        async def open_stream(client: NemoClient, session_id: str, text: str) -> aiohttp.ClientResponse:
            started = time.monotonic()
            resp = await original_open(client, session_id, text)
            opened = time.monotonic()
            probes.open_wait.append(opened - started)
            probes.opened[session_id] = opened
            if len(probes.opened) >= probes.wanted_streams > 0:
                probes.enough_streams.set()
            return resp

        setattr(NemoClient, "_open_stream", open_stream)  # noqa: B010 - a bench-only probe
        original_submit = Intake.submit

        def submit(service: Intake, message: IncomingMessage) -> bool:
            probes.received.setdefault(str(message.thread_id), time.monotonic())
            return original_submit(service, message)

        setattr(Intake, "submit", submit)  # noqa: B010 - when the gateway handed the message over
        if not latency:
            return

        install_arrival_probe(probes.arrivals)

        original_iter = sse.iter_chat_events

        def iter_chat_events(chunks: AsyncIterable[bytes], **kwargs: Any) -> AsyncGenerator[Any, None]:
            return probes._events(original_iter, chunks, kwargs)

        setattr(nemo_client, "iter_chat_events", iter_chat_events)  # noqa: B010 - what NemoClient.chat calls

        original_request = discord.http.HTTPClient.request

        async def request(http: discord.http.HTTPClient, route: discord.http.Route, **kwargs: Any) -> Any:
            now = time.monotonic()
            task = asyncio.current_task()
            arrival = probes.pending.pop(task, None)  # type: ignore[arg-type]
            if arrival is not None and task is not None:
                probes.issue.append(now - arrival)
                probes.issued[task] = now
            kind = _kind(route, kwargs.get("json"))
            probes.rest.append((now, int(route.channel_id or 0), kind))
            try:
                return await original_request(http, route, **kwargs)
            finally:
                probes.rest_seconds.setdefault(kind, []).append(time.monotonic() - now)

        setattr(discord.http.HTTPClient, "request", request)  # noqa: B010

    async def _events(
        self,
        original: Any,
        chunks: AsyncIterable[bytes],
        kwargs: dict[str, Any],
    ) -> AsyncGenerator[Any, None]:
        reader = getattr(getattr(chunks, "read_func", None), "__self__", None)
        queue: deque[tuple[float, int]] = deque()
        key = id(reader)
        self.arrivals[key] = queue
        box = [time.monotonic()]
        task = asyncio.current_task()
        self.streams_open += 1
        self.streams_max = max(self.streams_max, self.streams_open)
        try:
            previous_done = 0.0
            async with aclosing(original(stamped_pieces(chunks, queue, box), **kwargs)) as events:
                async for event in events:
                    arrival = box[0]
                    # An event that arrived while the bot still waited on Discord's answer to the previous
                    # one (replies of a thread are posted in order) is only ready for the bot from then on.
                    ready = max(arrival, previous_done)
                    if task is not None:
                        self.pending[task] = arrival
                    yield event
                    done = time.monotonic()
                    issued = None
                    if task is not None:
                        self.pending.pop(task, None)
                        issued = self.issued.pop(task, None)
                    kind = type(event).__name__
                    self.handler.setdefault(kind, []).append(done - arrival)
                    self.own.setdefault(kind, []).append((issued or done) - arrival)
                    self.inside.setdefault(kind, []).append((issued or done) - ready)
                    previous_done = done
        finally:
            self.streams_open -= 1
            self.arrivals.pop(key, None)


def _kind(route: discord.http.Route, body: object) -> str:
    content = str(body.get("content") or "") if isinstance(body, dict) else ""
    if route.path == "/channels/{channel_id}/messages" and route.method == "POST":
        return "status_done" if content.startswith("✅") else "status_open" if content.startswith("⏳") else "post"
    if route.path == "/channels/{channel_id}/messages/{message_id}" and route.method == "PATCH":
        return "status_done" if content.startswith("✅") else "status_edit" if content.startswith("⏳") else "edit"
    if route.path.endswith("/typing"):
        return "typing"
    return f"{route.method} {route.path}"


class BotChild:
    def __init__(self) -> None:
        self.probes = Probes()
        self.bot: CutawayBot | None = None
        self.task: asyncio.Task[None] | None = None
        self.lag = LoopLag()
        self.cpu = 0.0
        self.marked = 0.0
        self.rss_at_mark = 0
        self.profiler: cProfile.Profile | None = None

    def handlers(self) -> dict[str, Any]:
        return {
            "start": self.start,
            "mark": self.mark,
            "wait_idle": self.wait_idle,
            "report": self.report,
            "stop": self.stop,
        }

    async def start(self, args: JSON) -> JSON:
        self.probes.install(latency=not os.environ.get("BENCH_NO_PROBES"))
        settings = Settings(
            _env_file=None,
            discord_token=TOKEN,
            discord_api_base=args["api_base"],
            nemo_api_base=args["nemo_base"],
            nemo_token=NEMO_TOKEN,
            database_path=Path(args["db"]),
            heartbeat_seconds=float(args["heartbeat"]),
            sse_timeout_seconds=600.0,
            log_level="WARNING",
        )
        self.bot = CutawayBot(settings, guild_ready_timeout=0.1)
        self.task = asyncio.create_task(self.bot.start(TOKEN), name="cutaway")
        waiter = asyncio.create_task(self.bot.wait_until_ready())
        done, _ = await asyncio.wait({self.task, waiter}, timeout=60, return_when=asyncio.FIRST_COMPLETED)
        if self.task in done:
            waiter.cancel()
            self.task.result()
        if waiter not in done:
            raise RuntimeError("bot did not become ready")
        return {"rss_kib": proc_status()["VmRSS"]}

    async def mark(self, args: JSON) -> JSON:
        self.probes.reset()
        self.rss_at_mark = proc_status()["VmRSS"]
        reset_peak_rss()
        self.lag.start()
        if os.environ.get("BENCH_PROFILE"):
            self.profiler = cProfile.Profile()
            self.profiler.enable()
        self.cpu = time.process_time()
        self.marked = time.monotonic()
        return {"rss_kib": self.rss_at_mark}

    async def wait_idle(self, args: JSON) -> JSON:
        """Wait (bounded) until `n` backend streams were opened and every thread's queue ran dry."""
        assert self.bot is not None
        async with asyncio.timeout(float(args["timeout"])):
            self.probes.wanted_streams = int(args["n"])
            if len(self.probes.opened) >= self.probes.wanted_streams:
                self.probes.enough_streams.set()
            await self.probes.enough_streams.wait()
            await self.bot.queues.join()
        return {"idle_at": time.monotonic()}

    async def report(self, args: JSON) -> JSON:
        cpu = time.process_time() - self.cpu
        wall = time.monotonic() - self.marked
        if self.profiler is not None:
            self.profiler.disable()
            self.profiler.dump_stats(os.environ["BENCH_PROFILE"])
        await self.lag.stop()
        status = proc_status()
        p = self.probes
        latencies = {kind: summarise(values) for kind, values in p.handler.items()}
        latencies["all"] = summarise([v for values in p.handler.values() for v in values])
        own = {kind: summarise(values) for kind, values in p.own.items()}
        own["all"] = summarise([v for values in p.own.values() for v in values])
        inside = {kind: summarise(values) for kind, values in p.inside.items()}
        inside["all"] = summarise([v for values in p.inside.values() for v in values])
        per_channel: dict[str, dict[str, list[float]]] = {}
        for at, channel, kind in p.rest:
            per_channel.setdefault(str(channel), {}).setdefault(kind, []).append(at)
        return {
            "cpu": cpu,
            "wall": wall,
            "events": sum(len(v) for v in p.handler.values()),
            "latency": latencies,
            "own": own,
            "inside": inside,
            "issue": summarise(p.issue),
            "open_wait": summarise(p.open_wait),
            "streams_max": p.streams_max,
            "loop_lag": summarise(self.lag.samples),
            "gc2": summarise(p.gc_pauses),
            "gc2_total": sum(p.gc_pauses),
            "rss_at_mark_kib": self.rss_at_mark,
            "hwm_kib": status["VmHWM"],
            "rss_kib": status["VmRSS"],
            "rest_times": [at for at, _, _ in p.rest],
            "per_channel": per_channel,
            "opened": p.opened,
            "received": p.received,
            "rest_seconds": {kind: summarise(values) for kind, values in p.rest_seconds.items()},
        }

    async def stop(self, args: JSON) -> JSON:
        if self.bot is not None:
            await self.bot.close()
        if self.task is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(20):
                    await self.task
        return {"ok": True}


async def main() -> None:
    child = BotChild()
    try:
        await serve_commands(child.handlers())
    finally:
        await child.stop({})


if __name__ == "__main__":
    runtime.run(main())  # the loop `python -m bot` runs on
