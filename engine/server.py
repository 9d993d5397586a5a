"""One running engine: its data folder, store, render queue, retention sweeps and HTTP server.

    async with Engine(settings) as engine:   # binds settings.host:settings.port (0 = a free port)
        print(engine.base_url)

`python -m engine` runs one (engine/__main__.py); tests start one in-process, optionally with a
stand-in render, editor or DNS resolver. Stopping it loses nothing: a render in progress is
stopped and rendered again at the next start (engine/jobs.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

from aiohttp import web

from engine import editor
from engine.app import EngineApp, PlaceFn
from engine.chat import TurnFn
from engine.config import EngineSettings
from engine.fetch import AddressPolicy, Fetcher, Resolve, system_resolve
from engine.ingest import Ingest
from engine.jobs import RenderFn, RenderQueue
from engine.render import render
from engine.retention import Sweeper, sweep
from engine.store import Store
from engine.wire import listen

log = logging.getLogger(__name__)

SHUTDOWN_TIMEOUT = 3.0
"""Seconds open requests get to finish when the engine stops (streams are then cancelled)."""
LINGER_SECONDS = 5.0
"""How long the body of a refused upload is still read, so the client sees the answer."""


class Engine:
    def __init__(
        self,
        settings: EngineSettings,
        *,
        render_fn: RenderFn = render,
        turn_fn: TurnFn = editor.run_turn,
        place_fn: PlaceFn = editor.place_uploads,
        url_policy: AddressPolicy | None = None,
        resolve: Resolve = system_resolve,
    ) -> None:
        self.settings = settings
        self._render_fn = render_fn
        self._turn_fn = turn_fn
        self._place_fn = place_fn
        self._policy = url_policy or AddressPolicy(allow_private=settings.allow_private_urls)
        self._resolve = resolve
        self.store: Store | None = None
        self.queue: RenderQueue | None = None
        self.app: EngineApp | None = None
        self._sweeper: Sweeper | None = None
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    async def start(self) -> str:
        """Open everything and listen; returns the base URL. On failure, what was opened is closed."""
        try:
            await self._start()
        except BaseException:
            await self.close()
            raise
        return self.base_url

    async def _start(self) -> None:
        settings = self.settings
        await asyncio.to_thread(_make_folders, settings)
        self.store = await Store.open(settings.db_path, settings.data_dir)
        self.queue = RenderQueue(self.store, settings, render_fn=self._render_fn)
        removed = await sweep(self.store, settings)
        if removed:
            log.info("removed %d expired result(s)", removed)
        await self.queue.start()
        self._sweeper = Sweeper(self.store, settings)
        self._sweeper.start()
        ingest = Ingest(settings, Fetcher(self._policy, resolve=self._resolve))
        self.app = EngineApp(settings, self.store, self.queue, ingest, turn_fn=self._turn_fn, place_fn=self._place_fn)
        self._runner, self.base_url = await listen(
            self.app.web_app(),
            settings.host,
            settings.port,
            handler_cancellation=True,
            shutdown_timeout=SHUTDOWN_TIMEOUT,
            access_log=None,
            lingering_time=LINGER_SECONDS,
        )
        log.info("engine listening on %s (data in %s)", self.base_url, settings.data_dir)

    async def close(self) -> None:
        """Stop listening, stop streams and renders (ffmpeg killed, jobs left pending), close the db."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self.app is not None:
            await self.app.close()
        if self._sweeper is not None:
            await self._sweeper.close()
            self._sweeper = None
        if self.queue is not None:
            await self.queue.close()
        if self.store is not None:
            await self.store.close()
            self.store = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()


def _make_folders(settings: EngineSettings) -> None:
    """The data folder and its parts, private to the engine's user (tokens and uploads are in it).
    Half-received uploads an engine that was killed left behind (`*.part`) are removed: nothing
    refers to them, and no upload is under way before the engine listens."""
    folders: Sequence[Path] = (
        settings.data_dir,
        settings.media_dir,
        settings.results_dir,
        settings.work_dir,
        settings.cache_dir,
    )
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o700)
    for partial in settings.media_dir.glob("*/*.part"):
        partial.unlink(missing_ok=True)
