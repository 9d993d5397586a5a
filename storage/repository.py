"""The storage contract: everything the bot persists, behind one small interface.

Callers never see SQL. A PostgreSQL backend can be added later by implementing
`Repository` again; the contract tests in tests/test_storage.py run against every backend.
"""

from __future__ import annotations

import enum
from collections.abc import Collection
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


class StorageError(Exception):
    """Base class for every error a storage backend raises on purpose."""


class AlreadyExistsError(StorageError):
    """The row to create (project, render) is already stored."""


class NotFoundError(StorageError, LookupError):
    """The project or render the call refers to is not stored."""


class SchemaTooNewError(StorageError):
    """The database was written by a newer bot version; refusing to touch it."""


class RenderStatus(enum.StrEnum):
    STARTING = "starting"  # row stored, render POST not yet confirmed
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (RenderStatus.COMPLETED, RenderStatus.FAILED, RenderStatus.CANCELLED)


@dataclass(frozen=True, slots=True)
class Project:
    thread_id: int
    guild_id: int | None
    parent_id: int | None
    owner_id: int
    session_id: str
    language: str
    name: str
    created_at: datetime
    last_message_id: int | None = None


@dataclass(frozen=True, slots=True)
class RenderJob:
    render_id: str
    thread_id: int
    session_id: str
    requested_by: int
    status: RenderStatus
    created_at: datetime
    updated_at: datetime
    progress: int = 0
    url: str | None = None
    error: str | None = None
    status_message_id: int | None = None
    language: str = "en"
    link_posted: bool = False


@dataclass(frozen=True, slots=True)
class GuildSettings:
    """What a server's admins set with /setup (on top of PROJECT_CHANNEL_IDS / PROJECT_ROLE_ID)."""

    guild_id: int
    project_channel_ids: frozenset[int] = frozenset()
    role_id: int | None = None


@dataclass(frozen=True, slots=True)
class AuthRecord:
    """The installation's one anonymous NemoVideo identity."""

    client_id: str
    token: str | None = None
    expires_at: datetime | None = None
    user_id: str | None = None


@dataclass(frozen=True, slots=True)
class OpenTurn:
    """A chat message sent to the backend whose answer was not yet fully handled."""

    thread_id: int
    message_id: int
    preview: str
    started_at: datetime


class Repository(Protocol):
    """Persistence used by the core. All datetimes are timezone-aware UTC."""

    async def close(self) -> None: ...

    # projects
    async def get_project(self, thread_id: int) -> Project | None: ...
    async def create_project(self, project: Project) -> None:
        """Raises AlreadyExistsError if the thread is already a project."""
        ...

    async def set_project_session(self, thread_id: int, session_id: str) -> None:
        """Raises NotFoundError for an unknown thread."""
        ...

    async def set_project_language(self, thread_id: int, language: str) -> None:
        """Raises NotFoundError for an unknown thread."""
        ...

    async def mark_message_handled(self, thread_id: int, message_id: int) -> None:
        """Record the newest handled message; never moves backwards (unknown thread: no-op)."""
        ...

    async def active_projects(self, since_message_id: int, *, limit: int = 1000) -> list[Project]:
        """Projects whose last handled message id is newer than `since_message_id`, newest first."""
        ...

    async def count_projects(self) -> int: ...

    # renders
    async def add_render(self, job: RenderJob) -> None:
        """Raises AlreadyExistsError for a known render_id, NotFoundError if the thread is no project."""
        ...

    async def add_render_unless_running(self, job: RenderJob, *, started_after: datetime) -> RenderJob | None:
        """Store `job` unless its thread already has a running render (starting, pending or processing)
        created after `started_after`; that render is returned instead (None: `job` was stored).

        Atomic across processes: of concurrent calls for one thread exactly one stores its job. Raises
        like `add_render`."""
        ...

    async def running_render(self, thread_id: int, *, started_after: datetime) -> RenderJob | None:
        """The thread's newest running render (starting, pending or processing) created after `started_after`."""
        ...

    async def update_render(
        self,
        render_id: str,
        *,
        status: RenderStatus | None = None,
        progress: int | None = None,
        url: str | None = None,
        error: str | None = None,
        status_message_id: int | None = None,
        link_posted: bool | None = None,
        lease_generation: int | None = None,
    ) -> bool:
        """Set only the fields that are not None and bump updated_at; NotFoundError if unknown.

        With `lease_generation`, write only while that lease generation is current (False otherwise):
        a stalled former owner can never overwrite the process that took the render over."""
        ...

    async def get_render(self, render_id: str) -> RenderJob | None: ...
    async def unfinished_renders(self) -> list[RenderJob]:
        """Renders to resume after a restart, oldest first.

        Exactly: status is starting/pending/processing, or status is completed and
        link_posted is False (the download link still has to be posted). Failed and
        cancelled renders are never returned.
        """
        ...

    async def renders_for_thread(self, thread_id: int, *, limit: int = 10, offset: int = 0) -> list[RenderJob]:
        """Newest first."""
        ...

    # render leases: exactly one process polls a render; a crashed owner's renders are taken over
    async def acquire_render_lease(
        self,
        render_id: str,
        owner: str,
        ttl_seconds: float,
        *,
        alive_after: datetime | None = None,
        gone: Collection[str] = (),
    ) -> int | None:
        """Take the lease when it is free, expired, already ours, or held by a process known to be gone;
        the new generation, or None.

        Known to be gone: with `alive_after`, a holder whose liveness row is older (or missing); and any
        holder listed in `gone` (earlier incarnations of this installation, which a restart replaces)."""
        ...

    async def renew_render_lease(self, render_id: str, owner: str, generation: int, ttl_seconds: float) -> bool: ...
    async def release_render_lease(self, render_id: str, owner: str, generation: int) -> None: ...
    async def claimable_renders(
        self, *, limit: int = 50, alive_after: datetime | None = None, gone: Collection[str] = ()
    ) -> list[RenderJob]:
        """Unfinished renders whose lease `acquire_render_lease` would grant to a newcomer, oldest first."""
        ...

    # message claims: every Discord message is acted on once, by one live process
    async def claim_message(self, thread_id: int, message_id: int, owner: str, *, alive_after: datetime) -> bool:
        """Claim before acting. A claim left unfinished by a dead process (no liveness since
        `alive_after`) can be taken over; one held by a live process, or finished, never."""
        ...

    async def finish_message(self, message_id: int) -> None: ...
    async def heartbeat_process(self, incarnation: str) -> None: ...
    async def forget_process(self, incarnation: str) -> None: ...
    async def known_processes(self) -> list[str]:
        """The incarnations that have a liveness row (alive, or died without `forget_process`)."""
        ...

    async def prune_message_claims(self, older_than: datetime) -> int: ...

    # auth
    def auth_lock(self) -> AbstractAsyncContextManager[None]:
        """Held while the anonymous token is fetched: across processes on PostgreSQL."""
        ...

    async def get_auth(self) -> AuthRecord | None: ...
    async def save_auth(self, record: AuthRecord) -> None: ...

    # open chat turns (restart reporting)
    async def open_turn(self, turn: OpenTurn) -> None:
        """Store the turn (NotFoundError if the thread is no project); re-opening replaces it."""
        ...

    async def close_turn(self, thread_id: int, message_id: int) -> None:
        """Forget the turn; closing an unknown turn is a no-op."""
        ...

    async def open_turns(self) -> list[OpenTurn]:
        """Oldest first."""
        ...

    # per-guild settings (/setup); the table holds one row per configured guild, so loading all is cheap
    async def all_guild_settings(self) -> list[GuildSettings]: ...
    async def add_project_channel(self, guild_id: int, channel_id: int) -> None: ...
    async def set_guild_role(self, guild_id: int, role_id: int | None) -> None: ...

    # small key/value settings (e.g. the app-command hash)
    async def get_meta(self, key: str) -> str | None: ...
    async def set_meta(self, key: str, value: str) -> None: ...
