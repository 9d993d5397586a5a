"""This process's identity and a liveness row in the database, refreshed while it runs.

Other processes (or this one after a restart) may take over work claimed by an incarnation whose
row went stale: it died without finishing. An incarnation names the installation's shard range it
runs (its *identity*) first: a process starting with the identity of rows already in the table is
their restart, so it may take their render leases over at once instead of waiting for the leases
to run out (docs/faults.md, Restarts). Message claims never use that shortcut: a live predecessor
(a rolling update) may still be handling them, and a message must never be handled twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from storage.repository import Repository

from .tasks import TaskRegistry

log = logging.getLogger(__name__)

IDENTITY_SEPARATOR = "|"


def shard_identity(shard_count: int | None, shard_ids: Sequence[int] = ()) -> str:
    """What this process runs of the installation: every shard, or its SHARD_IDS of SHARD_COUNT."""
    if shard_count is None:
        return "shards=all"
    ids = ",".join(str(i) for i in sorted(shard_ids)) if shard_ids else "*"
    return f"shards={ids}/{shard_count}"


def new_incarnation(identity: str = "shards=all") -> str:
    return f"{identity}{IDENTITY_SEPARATOR}{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def identity_of(incarnation: str) -> str | None:
    """The identity an incarnation was started with (None for rows of older versions, which had none)."""
    identity, separator, _ = incarnation.partition(IDENTITY_SEPARATOR)
    return identity if separator else None


class Liveness:
    def __init__(
        self, repo: Repository, *, interval: float, incarnation: str | None = None, identity: str = "shards=all"
    ) -> None:
        self._repo = repo
        self.interval = interval
        self.incarnation = incarnation or new_incarnation(identity)
        self.predecessors: frozenset[str] = frozenset()
        """Earlier incarnations with this identity, found at start: this process replaces them."""
        self._tasks = TaskRegistry("liveness")

    @property
    def window(self) -> timedelta:
        """A process silent for this long is presumed dead."""
        return timedelta(seconds=self.interval * 3)

    def alive_after(self) -> datetime:
        return datetime.now(UTC) - self.window

    async def start(self) -> None:
        identity = identity_of(self.incarnation)
        if identity is not None:
            self.predecessors = frozenset(
                other
                for other in await self._repo.known_processes()
                if other != self.incarnation and identity_of(other) == identity
            )
            if self.predecessors:
                log.info("replacing %d earlier incarnation(s) of %s", len(self.predecessors), identity)
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
