"""Child process: the machine's limit for the fan-out, the same network work done bare.

Started by `bench.fanout` next to the bot, against the same fakes and the same scripted turns. For
each thread, at the moment the bot would get its user message, it sends one typing POST and the
`/run_sse` POST, splits the event stream into SSE events and decodes each one's JSON, and posts
every text event to the fake Discord's REST with plain aiohttp: the least any relay must do.
There is no discord.py, no gateway, no project service, no storage, no status message and no
typing renewal. Latency is stamped exactly as in the bot (`aiohttp.StreamReader.feed_data`): bytes
read off the socket until the text's POST is issued, or until a keep-alive is handled.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from typing import Any

import aiohttp

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

Arrivals = deque[tuple[float, int]]


class BareRelay:
    def __init__(self) -> None:
        self.session: aiohttp.ClientSession | None = None
        self.arrivals: dict[int, Arrivals] = {}
        self.latency: dict[str, list[float]] = {"text": [], "keepalive": []}
        self.inside: dict[str, list[float]] = {"text": [], "keepalive": []}
        self.rest: list[tuple[float, int]] = []
        self.streams_open = 0
        self.streams_max = 0
        self.tasks: set[asyncio.Task[None]] = set()
        self.lag = LoopLag()
        self.cpu = self.marked = 0.0
        self.rss_at_mark = 0
        self.api = self.nemo = ""

    def handlers(self) -> dict[str, Any]:
        return {
            "start": self.start,
            "go": self.go,
            "wait_idle": self.wait_idle,
            "report": self.report,
            "stop": self.stop,
        }

    async def start(self, args: JSON) -> JSON:
        install_arrival_probe(self.arrivals)
        self.api, self.nemo = str(args["api_base"]), str(args["nemo_base"])
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        return {"ok": True}

    async def go(self, args: JSON) -> JSON:
        """Start every thread's turn, spread over the ramp like the fakes spread the user messages."""
        reset_peak_rss()
        self.rss_at_mark = proc_status()["VmRSS"]
        self.lag.start()
        self.cpu, self.marked = time.process_time(), time.monotonic()
        threads: list[JSON] = args["threads"]
        ramp = float(args["ramp"])
        started = time.monotonic()
        for i, thread in enumerate(threads):
            delay = started + ramp * i / len(threads) - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(self._turn(int(thread["thread_id"]), str(thread["session_id"])))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        return {"sent_at": started}

    async def _post(self, channel_id: int, path: str, body: JSON | None) -> None:
        assert self.session is not None
        self.rest.append((time.monotonic(), channel_id))
        headers = {"Authorization": f"Bot {TOKEN}"}
        async with self.session.post(f"{self.api}/channels/{channel_id}{path}", json=body, headers=headers) as resp:
            await resp.read()

    async def _turn(self, thread_id: int, session_id: str) -> None:
        assert self.session is not None
        await self._post(thread_id, "/typing", None)
        body = {
            "app_name": "nemo_agent",
            "user_id": "me",
            "session_id": session_id,
            "new_message": {"role": "user", "parts": [{"text": "make the music match the mood"}]},
        }
        headers = {"Authorization": f"Bearer {NEMO_TOKEN}", "Accept": "text/event-stream"}
        async with self.session.post(
            f"{self.nemo}/run_sse", json=body, headers=headers, timeout=aiohttp.ClientTimeout(total=None, sock_read=600)
        ) as resp:
            resp.raise_for_status()
            queue: Arrivals = deque()
            self.arrivals[id(resp.content)] = queue
            self.streams_open += 1
            self.streams_max = max(self.streams_max, self.streams_open)
            try:
                await self._relay(resp, queue, thread_id)
            finally:
                self.streams_open -= 1
                self.arrivals.pop(id(resp.content), None)

    async def _relay(self, resp: aiohttp.ClientResponse, queue: Arrivals, thread_id: int) -> None:
        buffer = b""
        box = [time.monotonic()]
        previous_done = [0.0]  # replies of a thread go out in order: the next event waits for this one's POST
        async for piece in stamped_pieces(resp.content.iter_any(), queue, box):
            buffer += piece
            while b"\n\n" in buffer:
                raw, buffer = buffer.split(b"\n\n", 1)
                await self._event(raw, box[0], thread_id, previous_done)

    async def _event(self, raw: bytes, arrived: float, thread_id: int, previous_done: list[float]) -> None:
        ready = max(arrived, previous_done[0])
        data = b"\n".join(line[5:].strip() for line in raw.split(b"\n") if line.startswith(b"data:"))
        event = json.loads(data) if data else None
        parts = ((event.get("content") or {}).get("parts") or []) if isinstance(event, dict) else []
        text = "".join(str(p.get("text") or "") for p in parts if isinstance(p, dict) and not p.get("thought"))
        kind = "text" if text and not (isinstance(event, dict) and event.get("partial")) else "keepalive"
        now = time.monotonic()
        self.latency[kind].append(now - arrived)
        self.inside[kind].append(now - ready)
        if kind == "text":
            await self._post(thread_id, "/messages", {"content": text[:2000], "allowed_mentions": {"parse": []}})
        previous_done[0] = time.monotonic()

    async def wait_idle(self, args: JSON) -> JSON:
        async with asyncio.timeout(float(args["timeout"])):
            while self.tasks:
                await asyncio.gather(*list(self.tasks), return_exceptions=True)
        return {"idle_at": time.monotonic()}

    async def report(self, args: JSON) -> JSON:
        cpu, wall = time.process_time() - self.cpu, time.monotonic() - self.marked
        await self.lag.stop()
        status = proc_status()
        everything = self.latency["text"] + self.latency["keepalive"]
        return {
            "cpu": cpu,
            "wall": wall,
            "events": len(everything),
            "own": {
                "all": summarise(everything),
                "TextEvent": summarise(self.latency["text"]),
                "HeartbeatEvent": summarise(self.latency["keepalive"]),
            },
            "inside": {
                "all": summarise(self.inside["text"] + self.inside["keepalive"]),
                "TextEvent": summarise(self.inside["text"]),
                "HeartbeatEvent": summarise(self.inside["keepalive"]),
            },
            "loop_lag": summarise(self.lag.samples),
            "streams_max": self.streams_max,
            "rss_at_mark_kib": self.rss_at_mark,
            "hwm_kib": status["VmHWM"],
            "calls": len(self.rest),
        }

    async def stop(self, args: JSON) -> JSON:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.session is not None:
            await self.session.close()
        return {"ok": True}


async def main() -> None:
    relay = BareRelay()
    try:
        await serve_commands(relay.handlers())
    finally:
        await relay.stop({})


if __name__ == "__main__":
    runtime.run(main())  # the same loop as the bot
