"""Child process: one upload, measured from inside (wall, CPU, peak RSS growth); prints one JSON line.

`--mode bot` runs the bot's real upload path, `Uploads.upload_files` with `CdnStreamer` and
`NemoClient.upload_files` built exactly as `CutawayBot.setup_hook` builds them (only the
Discord surface is a null one). `--mode bare` is the baseline: an aiohttp GET from the CDN
streamed with `iter_chunked` straight into a multipart POST to the same upload endpoint.
A fresh process per measurement keeps every figure independent of the previous run.
"""

from __future__ import annotations

import argparse
import gc
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime
from typing import Any, cast

import aiohttp
from aiohttp import payload as aiohttp_payload

from bench._common import NEMO_TOKEN, PeakSampler, proc_status, reset_peak_rss
from bot import runtime
from bot.app import USER_AGENT
from bot.config import Settings
from bot.core.ports import IncomingFile, IncomingMessage
from bot.core.progress import status_budget
from bot.core.queues import ThreadQueues
from bot.core.sessions import Sessions
from bot.core.uploads import CHUNK_BYTES, CdnStreamer, Uploads
from bot.credentials import RepositoryCredentials
from bot.nemo.auth import TokenProvider
from bot.nemo.client import APP_NAME, NemoClient
from storage import MEMORY, Project, open_sqlite


class NullStatus:
    message_id: int | None = None

    async def update(self, text: str, *args: object, **kwargs: object) -> None:
        return None

    async def finish(self, text: str | None = None) -> None:
        return None


class NullSurface:
    """Collects what the bot would post. Duck-typed on purpose: any other surface call is a
    no-op, so the benchmark keeps working while the surface protocol grows."""

    def __init__(self, thread_id: int) -> None:
        self.thread_id = thread_id
        self.posts: list[str] = []

    async def post(self, text: str, *args: object, **kwargs: object) -> int | None:
        self.posts.append(text)
        return None

    async def post_result(self, text: str, *args: object, **kwargs: object) -> int | None:
        self.posts.append(text)
        return None

    async def open_status(self, text: str, *args: object, **kwargs: object) -> NullStatus:
        return NullStatus()

    def resume_status(self, message_id: int) -> NullStatus:
        return NullStatus()

    def typing(self) -> AbstractAsyncContextManager[None]:
        return _no_typing()

    async def messages_after(self, message_id: int, *, limit: int = 100) -> list[object]:
        return []

    def __getattr__(self, name: str) -> Callable[..., Awaitable[None]]:
        async def noop(*args: object, **kwargs: object) -> None:
            return None

        return noop


@asynccontextmanager
async def _no_typing() -> AsyncIterator[None]:
    yield


def _session() -> aiohttp.ClientSession:
    """The same session `CutawayBot._session` builds."""
    connector = aiohttp.TCPConnector(limit=100, limit_per_host=50)
    return aiohttp.ClientSession(connector=connector, headers={"User-Agent": USER_AGENT})


class Measure:
    """Wall, CPU and peak-RSS growth of what runs between `start()` and `stop()`."""

    def __init__(self) -> None:
        self.sampler = PeakSampler()
        self.figures: dict[str, Any] = {}

    def start(self) -> None:
        gc.collect()
        self.base_kib = proc_status()["VmRSS"]
        self.hwm_reset = reset_peak_rss()
        self.sampler.start()
        self.cpu = time.process_time()
        self.wall = time.perf_counter()

    async def stop(self) -> dict[str, Any]:
        wall = time.perf_counter() - self.wall
        cpu = time.process_time() - self.cpu
        sampled = await self.sampler.stop()
        status = proc_status()
        peak = status["VmHWM"] if self.hwm_reset else sampled
        return {
            "seconds": wall,
            "cpu": cpu,
            "base_kib": self.base_kib,
            "peak_kib": max(peak, sampled),
            "growth_kib": max(peak, sampled) - self.base_kib,
            "hwm_reset": self.hwm_reset,
        }


async def run_bot(args: argparse.Namespace) -> dict[str, Any]:
    async with _session() as http:
        repo = await open_sqlite(MEMORY)
        try:
            # The bot's own defaults for everything the command line does not set.
            settings = Settings(
                _env_file=None, discord_token="bench", nemo_api_base=args.nemo, max_upload_bytes=args.max_bytes
            )
            auth = TokenProvider(RepositoryCredentials(repo), static_token=NEMO_TOKEN)
            nemo = NemoClient(http, settings.backend, auth)
            cdn = CdnStreamer(http, max_bytes=args.max_bytes)
            surface = NullSurface(thread_id=1)
            uploads = Uploads(
                nemo, Sessions(repo, nemo), cdn, ThreadQueues(limit=1), settings.uploads, budget=status_budget()
            )
            info = await nemo.create_session("en")  # also opens the pooled connection to the backend
            project = Project(
                thread_id=1,
                guild_id=None,
                parent_id=None,
                owner_id=1,
                session_id=info.session_id,
                language="en",
                name="bench",
                created_at=datetime.now(UTC),
            )
            file = IncomingFile(filename=args.name, url=args.url, size=args.size, content_type=args.content_type)
            message = IncomingMessage(message_id=2, thread_id=1, author_id=1, text="", files=(file,))
            measure = Measure()
            measure.start()
            await uploads.upload_files(project, message, cast(Any, surface), "en")
            figures = await measure.stop()
            figures["posts"] = surface.posts
        finally:
            await repo.close()
    return figures


async def run_bare(args: argparse.Namespace) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {NEMO_TOKEN}"}
    async with _session() as http:
        async with http.post(
            f"{args.nemo}/api/tasks/me/with-session/{APP_NAME}",
            headers=headers,
            json={"task_name": "project", "language": "en"},
        ) as resp:
            session_id = (await resp.json())["data"]["session_id"]
        measure = Measure()
        measure.start()
        async with http.get(args.url) as download:
            download.raise_for_status()

            async def chunks() -> AsyncIterator[bytes]:
                async for chunk in download.content.iter_chunked(CHUNK_BYTES):
                    yield chunk

            writer = aiohttp.MultipartWriter("form-data")
            part = aiohttp_payload.AsyncIterablePayload(chunks(), content_type=args.content_type)
            part.set_content_disposition("form-data", name="files", filename=args.name)
            writer.append_payload(part)
            async with http.post(
                f"{args.nemo}/api/upload-video/{APP_NAME}/me/{session_id}", data=writer, headers=headers
            ) as resp:
                body = await resp.json()
        figures = await measure.stop()
        figures["posts"] = [f"HTTP {resp.status} code {body.get('code')}"]
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=["bot", "bare"], required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--nemo", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--size", type=int, required=True)
    parser.add_argument("--content-type", default="video/mp4")
    parser.add_argument("--max-bytes", type=int, default=500 * 1024 * 1024)
    args = parser.parse_args()
    runner = run_bot if args.mode == "bot" else run_bare
    figures = runtime.run(runner(args))  # the loop `python -m bot` runs on, for both paths
    print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()
