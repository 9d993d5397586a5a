"""The render queue: exports run one (ENGINE_RENDER_JOBS) at a time, in the order they came.

x264 saturates two cores, so renders beyond ENGINE_RENDER_JOBS wait in a bounded queue (a full
queue refuses new exports instead of growing). Progress is ffmpeg's own, reported by the render
(engine.render.render) and kept in memory for polls. Cancel stops ffmpeg at once: the job's
task is cancelled and engine/ffmpeg.py kills and reaps the child before the cancel returns.

Every job is in the store with its draft, so a stop loses nothing (docs/engine-api.md,
"Renders"): at start, jobs left pending or processing are queued again and rendered from
scratch, unless one already took the engine down twice (then it is failed with that reason).
A clean stop in the middle of a render puts the job back to pending, so only a job found still
`processing` (the engine died under it) counts against it: restarts are not the job's fault.
A job is never left processing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Final

from engine.config import EngineSettings
from engine.draft import Draft, InvalidDraft
from engine.render import RenderFailed, RenderResult, RenderSpec, render
from engine.store import RenderRow, Store

log = logging.getLogger(__name__)

RenderFn = Callable[[RenderSpec, Callable[[float], None]], Awaitable[RenderResult]]
"""`engine.render.render`, or a stand-in in tests."""

MAX_QUEUED: Final = 32
"""Exports waiting beyond the running ones; past this, new exports are refused (busy)."""
MAX_ATTEMPTS: Final = 2
"""Starts of one job; a job found still processing after this many (the engine died under it) is failed."""

GENERIC_FAILURE = "the render failed unexpectedly; try the export again"


class QueueFull(Exception):
    """Too many exports are waiting; the client should try again later."""


class RenderQueue:
    """Runs render jobs stored in `store`; `start()` recovers, `close()` stops without losing any."""

    def __init__(self, store: Store, settings: EngineSettings, *, render_fn: RenderFn = render) -> None:
        self._store = store
        self._settings = settings
        self._render = render_fn
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._workers: list[asyncio.Task[None]] = []
        self._running: dict[str, asyncio.Task[None]] = {}
        self._cancelled: set[str] = set()
        self._progress: dict[str, int] = {}

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Queue again what a previous run left unfinished, then start the workers."""
        await asyncio.to_thread(_clear_folder, self._settings.work_dir)
        for row in await self._store.unfinished_renders():
            if row.status == "processing" and row.attempts >= MAX_ATTEMPTS:
                log.warning(
                    "render=%s failed: the engine stopped %d times while rendering it", row.render_id, row.attempts
                )
                await self._store.update_render(
                    row.render_id,
                    status="failed",
                    error="the engine stopped while rendering this export, more than once; export again",
                    completed_at=time.time(),
                )
                continue
            if row.status == "processing":
                log.info("render=%s was running when the engine stopped; rendering it again", row.render_id)
                await self._store.update_render(row.render_id, status="pending", progress=0)
            self._queue.put_nowait(row.render_id)
        self._workers = [
            asyncio.create_task(self._work(), name=f"render-worker-{n}") for n in range(self._settings.render_jobs)
        ]

    async def close(self) -> None:
        """Stop the workers; a render in progress is stopped (ffmpeg killed) and left pending, so
        the next start renders it again."""
        for task in self._workers:
            task.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers.clear()

    # ------------------------------------------------------------------ requests
    def check_room(self) -> None:
        """Raise `QueueFull` when a new export would have to wait behind MAX_QUEUED others."""
        if self._queue.qsize() >= MAX_QUEUED:
            raise QueueFull

    async def submit(self, row: RenderRow) -> None:
        """Store a new job (raises `DuplicateRender` for a taken id) and queue it."""
        self.check_room()
        await self._store.add_render(row)
        self._queue.put_nowait(row.render_id)
        log.info("render=%s queued session=%s (%d waiting)", row.render_id, row.session_id, self._queue.qsize())

    async def cancel(self, render_id: str) -> bool:
        """Cancel a job that has not finished; returns False when it had. Returns once ffmpeg is gone."""
        self._cancelled.add(render_id)
        try:
            if await self._store.cancel_pending(render_id, time.time()):
                log.info("render=%s cancelled before it started", render_id)
                return True
            task = self._running.get(render_id)
            if task is None:
                return False
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(_wait(task))
            if render_id in self._cancelled:  # cancelled before its first step: its own handler never ran
                await self._store.update_render(render_id, status="cancelled", completed_at=time.time())
            log.info("render=%s cancelled", render_id)
            return True
        finally:
            self._cancelled.discard(render_id)

    def progress(self, render_id: str) -> int | None:
        """Live progress of a running job, 0..99 (None when it is not running)."""
        return self._progress.get(render_id)

    def running(self) -> list[str]:
        return list(self._running)

    # ------------------------------------------------------------------ work
    async def _work(self) -> None:
        while True:
            render_id = await self._queue.get()
            row = await self._store.claim_render(render_id, time.time())
            if row is None:  # cancelled (or gone) while it waited
                continue
            task = asyncio.create_task(self._run(row), name=f"render-{render_id}")
            self._running[render_id] = task
            try:
                await asyncio.shield(task)
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is None or not current.cancelling():
                    continue  # a user cancelled this job (`cancel`): on to the next one
                # The worker is being stopped: stop the render too, and wait until ffmpeg is gone.
                task.cancel()
                await _wait(task)
                if render_id not in self._progress:  # stopped before its first step: left processing
                    await self._store.update_render(render_id, status="pending", progress=0)
                raise
            finally:
                self._running.pop(render_id, None)
                self._progress.pop(render_id, None)

    async def _run(self, row: RenderRow) -> None:
        """Render a claimed job and record how it ended (completed, failed, cancelled, or pending
        again when the engine stops)."""
        render_id = row.render_id
        self._progress[render_id] = 0  # first, before any await: this job's end is recorded below
        started = row.started_at or time.time()
        work = self._settings.work_dir / render_id
        try:
            spec = await self._spec(row, work)
            log.info("render=%s started session=%s (%s)", render_id, row.session_id, row.resolution)
            result = await self._render(spec, lambda fraction: self._on_progress(render_id, fraction))
            await self._completed(row, result, started)
        except RenderFailed as exc:
            log.warning("render=%s failed: %s", render_id, exc.reason)
            await self._store.update_render(render_id, status="failed", error=exc.reason, completed_at=time.time())
        except asyncio.CancelledError:
            if render_id in self._cancelled:
                self._cancelled.discard(render_id)
                await self._store.update_render(render_id, status="cancelled", completed_at=time.time())
            else:
                # Engine stopping: the next start renders it again.
                await self._store.update_render(render_id, status="pending", progress=0)
            raise
        except Exception:
            log.exception("render=%s failed unexpectedly", render_id)
            await self._store.update_render(render_id, status="failed", error=GENERIC_FAILURE, completed_at=time.time())
        finally:
            await asyncio.to_thread(shutil.rmtree, work, True)

    async def _spec(self, row: RenderRow, work: Path) -> RenderSpec:
        try:
            draft = Draft.from_json(row.draft)
        except InvalidDraft as exc:
            raise RenderFailed(str(exc)) from None
        media = {m.media_id: m for m in await self._store.media(row.session_id)}
        missing = [
            m for m in uploads_used(draft) if m not in media or not await asyncio.to_thread(media[m].path.is_file)
        ]
        if missing:
            raise RenderFailed("an upload this export uses is no longer available; upload it again")
        await asyncio.to_thread(work.mkdir, parents=True, exist_ok=True)
        await asyncio.to_thread(self._settings.results_dir.mkdir, parents=True, exist_ok=True)
        return RenderSpec(
            draft=draft,
            media=media,
            out_path=self._settings.results_dir / f"{row.render_id}.mp4",
            work_dir=work,
            settings=self._settings,
            resolution="720p" if row.resolution == "720p" else "1080p",
        )

    def _on_progress(self, render_id: str, fraction: float) -> None:
        self._progress[render_id] = max(self._progress.get(render_id, 0), min(99, int(fraction * 100)))

    async def _completed(self, row: RenderRow, result: RenderResult, started: float) -> None:
        path = result.path
        if not await asyncio.to_thread(path.is_file):
            raise RenderFailed("the render produced no file")
        size = (await asyncio.to_thread(path.stat)).st_size
        try:
            relative = path.relative_to(self._settings.data_dir).as_posix()
        except ValueError:
            relative = path.as_posix()
        await self._store.update_render(
            row.render_id,
            status="completed",
            progress=100,
            file=relative,
            duration_s=result.duration_s,
            size=size,
            completed_at=time.time(),
            error=None,
        )
        log.info(
            "render=%s completed in %.1fs (%.1fs of video, %d bytes%s)",
            row.render_id,
            time.time() - started,
            result.duration_s,
            size,
            ", video copied" if result.stream_copied else "",
        )


def uploads_used(draft: Draft) -> set[str]:
    """The media ids a draft renders from: its clips and stills, and its music when that is an upload.
    Checked when an export is accepted (engine/app.py) and again when it starts."""
    used = {seg.m.media for seg in draft.visuals}
    if draft.music is not None and draft.music.m.source == "upload":
        used.add(draft.music.m.media)
    return used


async def _wait(task: asyncio.Task[None]) -> None:
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task


def _clear_folder(folder: Path) -> None:
    """Scratch space left by a stop is of no use to anyone."""
    if folder.is_dir():
        for child in folder.iterdir():
            if child.is_dir():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)
