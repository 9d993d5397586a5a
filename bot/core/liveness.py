"""This process's identity and a liveness row in the database, refreshed while it runs.

Other processes (or this one after a restart) may take over work claimed by an incarnation whose
row went stale: it died without finishing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from datetime import UTC, datetime, timedelta

from storage.repository import Repository

from .tasks import TaskRegistry

log = logging.getLogger(__name__)


def new_incarnation() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Liveness:
    def __init__(self, repo: Repository, *, interval: float, incarnation: str | None = None) -> None:
        self._repo = repo
        self.interval = interval
        self.incarnation = incarnation or new_incarnation()
        self._tasks = TaskRegistry("liveness")

    @property
    def window(self) -> timedelta:
        """A process silent for this long is presumed dead."""
        return timedelta(seconds=self.interval * 3)

    def alive_after(self) -> datetime:
        return datetime.now(UTC) - self.window

    async def start(self) -> None:
        await self._repo.heartbeat_process(self.incarnation)
        self._tasks.spawn(self._beat(), key="beat", name="liveness")

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self._repo.heartbeat_process(self.incarnation)
            except Exception:
                log.warning("liveness heartbeat failed", exc_info=True)

    async def stop(self) -> None:
        await self._tasks.close()
        with contextlib.suppress(Exception):
            await self._repo.forget_process(self.incarnation)
