"""Keeping the disk in check: exported MP4s are removed ENGINE_RETENTION_DAYS after they were made,
and cached music beds and video analyses once unused for as long.

A sweep runs at start and then periodically. An expired export keeps its row (so its id stays
taken and its poll can say what happened): the poll answers `failed` with "this export expired
…", and its link answers 410 Gone (docs/engine-api.md, "Results"). A cache entry is made again
when it is next needed (reading one refreshes its age). Uploads are not swept: they belong to
sessions, which are kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from pathlib import Path

from engine.config import EngineSettings
from engine.store import Store

log = logging.getLogger(__name__)

DAY = 86_400.0
MAX_INTERVAL = 3_600.0


def expired_message(settings: EngineSettings) -> str:
    return f"this export expired (results are kept {settings.retention_days:g} days); export again"


async def sweep(store: Store, settings: EngineSettings, now: float | None = None) -> int:
    """Remove the results older than the retention period; returns how many were removed. Files
    in the results folder that no job refers to (an interrupted render's leftovers) go once they
    are as old as that too."""
    now = time.time() if now is None else now
    cutoff = now - settings.retention_days * DAY
    removed = 0
    for row in await store.results_older_than(cutoff):
        if row.file:
            await asyncio.to_thread(_unlink, settings.data_dir / row.file)
        await store.update_render(row.render_id, expired_at=now)
        log.info("render=%s result removed after %g days", row.render_id, settings.retention_days)
        removed += 1
    kept = {settings.data_dir / f for f in await store.result_files()}
    removed += await asyncio.to_thread(_strays, settings.results_dir, kept, cutoff)
    unused = await asyncio.to_thread(_unused_cache, settings.cache_dir, cutoff)
    if unused:
        log.info("removed %d cache file(s) unused for %g days", unused, settings.retention_days)
    return removed


def _unlink(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink(missing_ok=True)


def _strays(folder: Path, kept: set[Path], cutoff: float) -> int:
    if not folder.is_dir():
        return 0
    count = 0
    for path in folder.iterdir():
        with contextlib.suppress(OSError):
            if path.is_file() and path not in kept and path.stat().st_mtime < cutoff:
                path.unlink()
                count += 1
    return count


def _unused_cache(folder: Path, cutoff: float) -> int:
    """Cache files (music beds, analyses, and leftovers of interrupted writes) not used since `cutoff`."""
    if not folder.is_dir():
        return 0
    count = 0
    for path in folder.rglob("*"):
        with contextlib.suppress(OSError):
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink()
                count += 1
    return count


class Sweeper:
    """Runs `sweep` every `interval` seconds (an hour, or less for short retention periods)."""

    def __init__(self, store: Store, settings: EngineSettings, *, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._settings = settings
        self._clock = clock
        self._task: asyncio.Task[None] | None = None
        self.interval = min(MAX_INTERVAL, max(1.0, settings.retention_days * DAY / 24))

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="retention-sweeper")

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await sweep(self._store, self._settings, self._clock())
            except Exception:
                log.exception("retention sweep failed; retrying in %.0fs", self.interval)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
