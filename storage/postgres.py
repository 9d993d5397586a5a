"""The PostgreSQL backend of `Repository`: an asyncpg pool shared by the process's tasks.

Several bot processes may share one database, so nothing here relies on being the
only writer: every write is one autocommitted statement whose WHERE clause carries
its own condition (monotonic `last_message_id`, COALESCE updates), which READ
COMMITTED re-checks against the newest row version when two writers collide; so
there is no read-modify-write to lose. `updated_at`, lease expiry, claim times and
liveness rows come from the database clock (`now()`), so processes on different
hosts agree on them; the caller's `alive_after` / `older_than` are compared with it.

Migrations run in transactions that first take `pg_advisory_xact_lock`: asyncpg's
pool runs `pg_advisory_unlock_all()` when a connection is released, so a
session-level lock would silently vanish; a transaction-scoped one lives exactly as
long as the migration step it protects.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Collection, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Final, Self
from urllib.parse import urlsplit

import asyncpg
from asyncpg import Record

from . import pg_migrations as _migrations
from .migrations import Migration
from .pg_migrations import MIGRATION_LOCK_KEY, SCHEMA_VERSION_DDL, UNFINISHED_RENDERS_WHERE
from .repository import (
    AlreadyExistsError,
    AuthRecord,
    GuildSettings,
    NotFoundError,
    OpenTurn,
    Project,
    RenderJob,
    RenderStatus,
    SchemaTooNewError,
    StorageError,
)

log = logging.getLogger(__name__)

DEFAULT_MAX_SIZE: Final = 10
COMMAND_TIMEOUT: Final = 60.0
"""Seconds one statement may take (a migrator waiting on another's lock included)."""
CLOSE_TIMEOUT: Final = 10.0
"""Seconds `close()` waits for in-flight statements before terminating connections."""

_RENDER_COLUMNS: Final = (
    "render_id, thread_id, session_id, requested_by, status, progress, url, error, "
    "status_message_id, language, link_posted, created_at, updated_at"
)
_PROJECT_COLUMNS: Final = (
    "thread_id, guild_id, parent_id, owner_id, session_id, language, name, created_at, last_message_id"
)
# Queries assembled from the constant column lists above only (never from input),
# hence the S608 exemptions.
_UNFINISHED_QUERY: Final = (
    f"SELECT {_RENDER_COLUMNS} FROM renders "  # noqa: S608
    f"WHERE {UNFINISHED_RENDERS_WHERE} ORDER BY created_at, seq"
)
_GET_PROJECT: Final = f"SELECT {_PROJECT_COLUMNS} FROM projects WHERE thread_id = $1"  # noqa: S608
_ACTIVE_PROJECTS: Final = (
    f"SELECT {_PROJECT_COLUMNS} FROM projects WHERE last_message_id > $1 "  # noqa: S608
    "ORDER BY last_message_id DESC LIMIT $2"
)
_INSERT_PROJECT: Final = f"INSERT INTO projects ({_PROJECT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"  # noqa: S608
_GET_RENDER: Final = f"SELECT {_RENDER_COLUMNS} FROM renders WHERE render_id = $1"  # noqa: S608
_INSERT_RENDER: Final = (
    f"INSERT INTO renders ({_RENDER_COLUMNS}) "  # noqa: S608
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
)
_RUNNING_RENDER: Final = (
    f"SELECT {_RENDER_COLUMNS} FROM renders WHERE thread_id = $1 "  # noqa: S608
    "AND status IN ('starting', 'pending', 'processing') AND created_at > $2 "
    "ORDER BY created_at DESC, seq DESC LIMIT 1"
)
_THREAD_RENDERS: Final = (
    f"SELECT {_RENDER_COLUMNS} FROM renders WHERE thread_id = $1 "  # noqa: S608
    "ORDER BY created_at DESC, seq DESC LIMIT $2 OFFSET $3"
)
_UPDATE_RENDER: Final = (
    "UPDATE renders SET "
    "status = COALESCE($1::text, status), "
    "progress = COALESCE($2::integer, progress), "
    "url = COALESCE($3::text, url), "
    "error = COALESCE($4::text, error), "
    "status_message_id = COALESCE($5::bigint, status_message_id), "
    "link_posted = COALESCE($6::boolean, link_posted), "
    "updated_at = now() "
    "WHERE render_id = $7 AND ($8::integer IS NULL OR lease_generation = $8)"
)
# A render lease a newcomer may take: free, expired, held by an incarnation listed as gone ($N), or (when a
# liveness cut-off $M is given) by a process whose liveness row is stale or missing.
_LEASE_FREE: Final = (
    "(lease_owner IS NULL OR lease_expires_at < now() OR lease_owner = ANY({gone}::text[]) "
    "OR ({cutoff}::timestamptz IS NOT NULL AND NOT EXISTS (SELECT 1 FROM processes p "
    "WHERE p.incarnation = renders.lease_owner AND p.last_seen >= {cutoff}::timestamptz)))"
)
# Assembled from the constants above only (never from input), hence the S608 exemption.
_ACQUIRE_LEASE: Final = (
    "UPDATE renders SET lease_owner = $2, lease_expires_at = now() + make_interval(secs => $3), "  # noqa: S608
    "lease_generation = lease_generation + 1 "
    "WHERE render_id = $1 AND (lease_owner = $2 OR " + _LEASE_FREE.format(gone="$4", cutoff="$5") + ") "
    "RETURNING lease_generation"
)
_CLAIMABLE_RENDERS: Final = (
    f"SELECT {_RENDER_COLUMNS} FROM renders WHERE {UNFINISHED_RENDERS_WHERE} "  # noqa: S608
    "AND " + _LEASE_FREE.format(gone="$2", cutoff="$3") + " ORDER BY created_at, seq LIMIT $1"
)
_CLAIM_MESSAGE: Final = (
    "INSERT INTO message_claims (message_id, thread_id, claimed_by, claimed_at) VALUES ($1, $2, $3, now()) "
    "ON CONFLICT (message_id) DO UPDATE SET claimed_by = excluded.claimed_by, claimed_at = excluded.claimed_at "
    "WHERE NOT message_claims.done AND message_claims.claimed_by <> excluded.claimed_by "
    "AND NOT EXISTS (SELECT 1 FROM processes p WHERE p.incarnation = message_claims.claimed_by "
    "AND p.last_seen >= $4) "
    "RETURNING message_id"
)


# --- conversions ---------------------------------------------------------------------------------


def _dt_to_db(value: datetime) -> datetime:
    """UTC-aware datetime for TIMESTAMPTZ; naive datetimes are a bug (asyncpg would guess)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value!r}: storage needs timezone-aware datetimes")
    return value.astimezone(UTC)


def _dt_from_db(value: datetime) -> datetime:
    return value.astimezone(UTC)


def _opt_dt_to_db(value: datetime | None) -> datetime | None:
    return None if value is None else _dt_to_db(value)


def _render_values(job: RenderJob) -> tuple[Any, ...]:
    """A render's row, in _RENDER_COLUMNS order."""
    return (
        job.render_id,
        job.thread_id,
        job.session_id,
        job.requested_by,
        RenderStatus(job.status).value,
        job.progress,
        job.url,
        job.error,
        job.status_message_id,
        job.language,
        bool(job.link_posted),
        _dt_to_db(job.created_at),
        _dt_to_db(job.updated_at),
    )


def _opt_dt_from_db(value: datetime | None) -> datetime | None:
    return None if value is None else _dt_from_db(value)


def _changed(status: str) -> int:
    """Rows touched, from a command tag such as "UPDATE 1"."""
    return int(status.rsplit(" ", 1)[-1])


def _project_from_row(row: Record) -> Project:
    return Project(
        thread_id=row["thread_id"],
        guild_id=row["guild_id"],
        parent_id=row["parent_id"],
        owner_id=row["owner_id"],
        session_id=row["session_id"],
        language=row["language"],
        name=row["name"],
        created_at=_dt_from_db(row["created_at"]),
        last_message_id=row["last_message_id"],
    )


def _render_from_row(row: Record) -> RenderJob:
    return RenderJob(
        render_id=row["render_id"],
        thread_id=row["thread_id"],
        session_id=row["session_id"],
        requested_by=row["requested_by"],
        status=RenderStatus(row["status"]),
        created_at=_dt_from_db(row["created_at"]),
        updated_at=_dt_from_db(row["updated_at"]),
        progress=row["progress"],
        url=row["url"],
        error=row["error"],
        status_message_id=row["status_message_id"],
        language=row["language"],
        link_posted=bool(row["link_posted"]),
    )


def _turn_from_row(row: Record) -> OpenTurn:
    return OpenTurn(
        thread_id=row["thread_id"],
        message_id=row["message_id"],
        preview=row["preview"],
        started_at=_dt_from_db(row["started_at"]),
    )


def _translate_integrity(exc: asyncpg.IntegrityConstraintViolationError, what: str) -> StorageError:
    """Map constraint failures onto the backend-neutral errors of the contract."""
    if isinstance(exc, asyncpg.UniqueViolationError):
        return AlreadyExistsError(f"{what} already exists")
    if isinstance(exc, asyncpg.ForeignKeyViolationError):
        return NotFoundError(f"{what}: its thread is not a project")
    return StorageError(f"{what}: constraint failed ({exc})")


def safe_dsn(dsn: str) -> str:
    """The DSN without its password, for messages and logs."""
    parts = urlsplit(dsn)
    if parts.password is None:
        return dsn
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = f"{parts.username or ''}:***@{host}"
    if parts.port is not None:
        netloc += f":{parts.port}"
    return parts._replace(netloc=netloc).geturl()


# --- the repository --------------------------------------------------------------------------------


_AUTH_LOCK_KEY = 0x63757461_01  # "cuta" + 1: the anonymous-token lock


class PostgresRepository:
    """`Repository` on an asyncpg pool; open it with `open_postgres`."""

    def __init__(self, pool: asyncpg.Pool, dsn: str) -> None:
        """Use `open_postgres`; this only wraps an already created pool on a migrated database."""
        self._pool = pool
        self._dsn = dsn
        self._close_lock = asyncio.Lock()
        self._closed = False

    @property
    def dsn(self) -> str:
        """The connection string, password removed."""
        return safe_dsn(self._dsn)

    @property
    def closed(self) -> bool:
        return self._closed

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Wait for in-flight statements (bounded), then close the pool; safe to call twice or concurrently."""
        async with self._close_lock:
            if self._closed:
                return
            self._closed = True  # new calls fail at once from here on
            try:
                async with asyncio.timeout(CLOSE_TIMEOUT):
                    await self._pool.close()
            except TimeoutError:
                log.warning("PostgreSQL pool did not close within %.0f s; terminating it", CLOSE_TIMEOUT)
                self._pool.terminate()

    # -- low-level helpers

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[asyncpg.pool.PoolConnectionProxy]:
        """A pooled connection; "pool is closing" races with close() become StorageError."""
        if self._closed:
            raise StorageError("repository is closed")
        try:
            async with self._pool.acquire() as conn:
                yield conn
        except asyncpg.InterfaceError as exc:
            if self._closed:
                raise StorageError("repository is closed") from exc
            raise

    async def _fetch(self, sql: str, *args: Any) -> list[Record]:
        async with self._connection() as conn:
            return await conn.fetch(sql, *args)

    async def _fetchrow(self, sql: str, *args: Any) -> Record | None:
        async with self._connection() as conn:
            return await conn.fetchrow(sql, *args)

    async def _execute(self, sql: str, *args: Any) -> int:
        """Run one autocommitted statement; returns the number of rows it touched."""
        async with self._connection() as conn:
            return _changed(await conn.execute(sql, *args))

    # -- projects

    async def get_project(self, thread_id: int) -> Project | None:
        row = await self._fetchrow(_GET_PROJECT, thread_id)
        return None if row is None else _project_from_row(row)

    async def create_project(self, project: Project) -> None:
        """Raises AlreadyExistsError if the thread is already a project (creation races lose cleanly)."""
        try:
            await self._execute(
                _INSERT_PROJECT,
                project.thread_id,
                project.guild_id,
                project.parent_id,
                project.owner_id,
                project.session_id,
                project.language,
                project.name,
                _dt_to_db(project.created_at),
                project.last_message_id,
            )
        except asyncpg.IntegrityConstraintViolationError as exc:
            raise _translate_integrity(exc, f"project {project.thread_id}") from exc

    async def set_project_session(self, thread_id: int, session_id: str) -> None:
        """Raises NotFoundError for an unknown thread."""
        changed = await self._execute("UPDATE projects SET session_id = $1 WHERE thread_id = $2", session_id, thread_id)
        if changed == 0:
            raise NotFoundError(f"project {thread_id} not found")

    async def set_project_language(self, thread_id: int, language: str) -> None:
        """Raises NotFoundError for an unknown thread."""
        changed = await self._execute("UPDATE projects SET language = $1 WHERE thread_id = $2", language, thread_id)
        if changed == 0:
            raise NotFoundError(f"project {thread_id} not found")

    async def mark_message_handled(self, thread_id: int, message_id: int) -> None:
        """Raise last_message_id to message_id; the condition is re-checked on the newest row, so never back."""
        await self._execute(
            "UPDATE projects SET last_message_id = $1 "
            "WHERE thread_id = $2 AND (last_message_id IS NULL OR last_message_id < $1)",
            message_id,
            thread_id,
        )

    async def active_projects(self, since_message_id: int, *, limit: int = 1000) -> list[Project]:
        """Projects whose newest handled message is newer than `since_message_id` (index range scan).

        A negative limit means no limit, as in SQLite.
        """
        rows = await self._fetch(_ACTIVE_PROJECTS, since_message_id, None if limit < 0 else limit)
        return [_project_from_row(row) for row in rows]

    async def count_projects(self) -> int:
        row = await self._fetchrow("SELECT COUNT(*) AS n FROM projects")
        return 0 if row is None else int(row["n"])

    # -- renders

    async def add_render(self, job: RenderJob) -> None:
        """Raises AlreadyExistsError for a known render_id, NotFoundError if the thread is no project."""
        try:
            await self._execute(_INSERT_RENDER, *_render_values(job))
        except asyncpg.IntegrityConstraintViolationError as exc:
            raise _translate_integrity(exc, f"render {job.render_id}") from exc

    async def add_render_unless_running(self, job: RenderJob, *, started_after: datetime) -> RenderJob | None:
        """Store `job` unless its thread has a running render newer than `started_after` (returned instead).

        The project's row is locked first (FOR UPDATE), so the check and the insert of concurrent calls for
        one thread, from any process, run one after the other."""
        cutoff = _dt_to_db(started_after)
        try:
            async with self._connection() as conn, conn.transaction():
                if await conn.fetchval("SELECT 1 FROM projects WHERE thread_id = $1 FOR UPDATE", job.thread_id) is None:
                    raise NotFoundError(f"project {job.thread_id} not found")
                row = await conn.fetchrow(_RUNNING_RENDER, job.thread_id, cutoff)
                if row is not None:
                    return _render_from_row(row)
                await conn.execute(_INSERT_RENDER, *_render_values(job))
        except asyncpg.IntegrityConstraintViolationError as exc:
            raise _translate_integrity(exc, f"render {job.render_id}") from exc
        return None

    async def running_render(self, thread_id: int, *, started_after: datetime) -> RenderJob | None:
        row = await self._fetchrow(_RUNNING_RENDER, thread_id, _dt_to_db(started_after))
        return None if row is None else _render_from_row(row)

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
        """Set only the non-None fields and bump updated_at; one statement, so no lost updates.

        COALESCE keeps the stored value for every None argument (so a field cannot be
        cleared back to NULL, by design). With `lease_generation`, only a holder of that lease
        generation writes (False otherwise). Without it, raises NotFoundError for an unknown render.
        """
        changed = await self._execute(
            _UPDATE_RENDER,
            None if status is None else RenderStatus(status).value,
            progress,
            url,
            error,
            status_message_id,
            link_posted,
            render_id,
            lease_generation,
        )
        if changed == 0 and lease_generation is None:
            raise NotFoundError(f"render {render_id} not found")
        return changed > 0

    async def get_render(self, render_id: str) -> RenderJob | None:
        row = await self._fetchrow(_GET_RENDER, render_id)
        return None if row is None else _render_from_row(row)

    async def unfinished_renders(self) -> list[RenderJob]:
        """Renders to resume after a restart, oldest first.

        Exactly: status is starting/pending/processing, or status is completed and
        link_posted is False (the link still has to be posted). Failed and cancelled
        renders are never returned, whatever link_posted says. Served by the partial
        index `renders_unfinished`, so start-up cost does not grow with history.
        """
        return [_render_from_row(row) for row in await self._fetch(_UNFINISHED_QUERY)]

    # -- render leases (times from the database clock, which every process shares)

    async def acquire_render_lease(
        self,
        render_id: str,
        owner: str,
        ttl_seconds: float,
        *,
        alive_after: datetime | None = None,
        gone: Collection[str] = (),
    ) -> int | None:
        """Take the render's lease when it is free, expired, already ours, or its holder is known to be
        gone (see Repository); the new generation, or None.

        Concurrent takers serialise on the row: the later one re-checks the winner's committed row, whose
        holder is alive and whose lease is fresh, so exactly one wins."""
        async with self._connection() as conn:
            generation = await conn.fetchval(
                _ACQUIRE_LEASE, render_id, owner, float(ttl_seconds), sorted(gone), _opt_dt_to_db(alive_after)
            )
        return None if generation is None else int(generation)

    async def renew_render_lease(self, render_id: str, owner: str, generation: int, ttl_seconds: float) -> bool:
        """Extend our lease; False when it was lost (taken over, or released)."""
        changed = await self._execute(
            "UPDATE renders SET lease_expires_at = now() + make_interval(secs => $4) "
            "WHERE render_id = $1 AND lease_owner = $2 AND lease_generation = $3",
            render_id,
            owner,
            generation,
            float(ttl_seconds),
        )
        return changed > 0

    async def release_render_lease(self, render_id: str, owner: str, generation: int) -> None:
        """Give the lease up so a peer can take the render at once; a lost lease is left alone."""
        await self._execute(
            "UPDATE renders SET lease_owner = NULL, lease_expires_at = NULL "
            "WHERE render_id = $1 AND lease_owner = $2 AND lease_generation = $3",
            render_id,
            owner,
            generation,
        )

    async def claimable_renders(
        self, *, limit: int = 50, alive_after: datetime | None = None, gone: Collection[str] = ()
    ) -> list[RenderJob]:
        """Unfinished renders nobody holds (no lease, an expired one, or a holder known to be gone), oldest first."""
        rows = await self._fetch(
            _CLAIMABLE_RENDERS, None if limit < 0 else limit, sorted(gone), _opt_dt_to_db(alive_after)
        )
        return [_render_from_row(row) for row in rows]

    # -- message claims and process liveness

    async def claim_message(self, thread_id: int, message_id: int, owner: str, *, alive_after: datetime) -> bool:
        """True for exactly one claimant: the first, or a later one when the first never finished and its
        process stopped refreshing its liveness row before `alive_after` (it died).

        Concurrent claims of one message serialise on its primary key; the loser's conflict
        clause is evaluated against the winner's committed row.
        """
        async with self._connection() as conn:
            claimed = await conn.fetchval(_CLAIM_MESSAGE, message_id, thread_id, owner, _dt_to_db(alive_after))
        return claimed is not None

    async def finish_message(self, message_id: int) -> None:
        await self._execute("UPDATE message_claims SET done = TRUE WHERE message_id = $1", message_id)

    async def heartbeat_process(self, incarnation: str) -> None:
        await self._execute(
            "INSERT INTO processes (incarnation, last_seen) VALUES ($1, now()) "
            "ON CONFLICT (incarnation) DO UPDATE SET last_seen = excluded.last_seen",
            incarnation,
        )

    async def forget_process(self, incarnation: str) -> None:
        await self._execute("DELETE FROM processes WHERE incarnation = $1", incarnation)

    async def known_processes(self) -> list[str]:
        rows = await self._fetch("SELECT incarnation FROM processes ORDER BY last_seen")
        return [str(row["incarnation"]) for row in rows]

    async def prune_message_claims(self, older_than: datetime) -> int:
        """Drop liveness rows and claims older than `older_than`; returns the number of claims dropped."""
        cutoff = _dt_to_db(older_than)
        async with self._connection() as conn:
            await conn.execute("DELETE FROM processes WHERE last_seen < $1", cutoff)
            return _changed(await conn.execute("DELETE FROM message_claims WHERE claimed_at < $1", cutoff))

    async def explain_unfinished_renders(self) -> list[str]:
        """PostgreSQL's plan for `unfinished_renders` (lets tests prove the index is used)."""
        rows = await self._fetch(f"EXPLAIN {_UNFINISHED_QUERY}")
        return [str(row[0]) for row in rows]

    async def explain_active_projects(self, since_message_id: int, *, limit: int = 1000) -> list[str]:
        """PostgreSQL's plan for `active_projects` (lets tests prove it never scans every project)."""
        rows = await self._fetch(f"EXPLAIN {_ACTIVE_PROJECTS}", since_message_id, limit)
        return [str(row[0]) for row in rows]

    async def analyze(self) -> None:
        """Refresh planner statistics now instead of waiting for autovacuum (tests, bulk imports)."""
        async with self._connection() as conn:
            await conn.execute("ANALYZE")

    async def diagnostics(self) -> dict[str, int | str]:
        """Schema version, server version and pool size, for tests and status output."""
        row = await self._fetchrow(
            "SELECT (SELECT COALESCE(MAX(version), 0) FROM schema_version) AS schema_version, "
            "current_setting('server_version') AS server_version, current_database() AS database"
        )
        assert row is not None  # a SELECT without FROM always returns one row
        return {
            "schema_version": int(row["schema_version"]),
            "server_version": str(row["server_version"]),
            "database": str(row["database"]),
            "pool_max_size": self._pool.get_max_size(),
        }

    async def renders_for_thread(self, thread_id: int, *, limit: int = 10, offset: int = 0) -> list[RenderJob]:
        """Newest first (ties: last inserted first); served by the (thread_id, created_at, seq) index."""
        if limit < 0 or offset < 0:
            raise ValueError("limit and offset must not be negative")
        rows = await self._fetch(_THREAD_RENDERS, thread_id, limit, offset)
        return [_render_from_row(row) for row in rows]

    # -- auth

    @asynccontextmanager
    async def auth_lock(self) -> AsyncIterator[None]:
        """One process at a time fetches the anonymous token: a transaction-scoped advisory lock
        (asyncpg's pool resets session-level locks on release, so those would leak or vanish)."""
        async with self._connection() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _AUTH_LOCK_KEY)
            yield

    async def get_auth(self) -> AuthRecord | None:
        row = await self._fetchrow("SELECT client_id, token, expires_at, user_id FROM auth WHERE id = 1")
        if row is None:
            return None
        return AuthRecord(
            client_id=row["client_id"],
            token=row["token"],
            expires_at=_opt_dt_from_db(row["expires_at"]),
            user_id=row["user_id"],
        )

    async def save_auth(self, record: AuthRecord) -> None:
        """Replace the single auth row (every field, including None ones)."""
        await self._execute(
            "INSERT INTO auth (id, client_id, token, expires_at, user_id) VALUES (1, $1, $2, $3, $4) "
            "ON CONFLICT (id) DO UPDATE SET client_id = excluded.client_id, token = excluded.token, "
            "expires_at = excluded.expires_at, user_id = excluded.user_id",
            record.client_id,
            record.token,
            _opt_dt_to_db(record.expires_at),
            record.user_id,
        )

    # -- open chat turns

    async def open_turn(self, turn: OpenTurn) -> None:
        """Store the turn (NotFoundError if the thread is no project); re-opening replaces it."""
        try:
            await self._execute(
                "INSERT INTO open_turns (thread_id, message_id, preview, started_at) VALUES ($1, $2, $3, $4) "
                "ON CONFLICT (thread_id, message_id) DO UPDATE SET "
                "preview = excluded.preview, started_at = excluded.started_at",
                turn.thread_id,
                turn.message_id,
                turn.preview,
                _dt_to_db(turn.started_at),
            )
        except asyncpg.IntegrityConstraintViolationError as exc:
            raise _translate_integrity(exc, f"turn {turn.thread_id}/{turn.message_id}") from exc

    async def close_turn(self, thread_id: int, message_id: int) -> None:
        """Forget the turn; an unknown turn is a no-op."""
        await self._execute("DELETE FROM open_turns WHERE thread_id = $1 AND message_id = $2", thread_id, message_id)

    async def open_turns(self) -> list[OpenTurn]:
        """Oldest first."""
        rows = await self._fetch(
            "SELECT thread_id, message_id, preview, started_at FROM open_turns "
            "ORDER BY started_at, thread_id, message_id"
        )
        return [_turn_from_row(row) for row in rows]

    # -- per-guild settings

    async def all_guild_settings(self) -> list[GuildSettings]:
        """Every guild with a role row or a project channel, by guild id; both tables from one snapshot."""
        async with self._connection() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            roles = {
                int(r["guild_id"]): r["role_id"]
                for r in await conn.fetch("SELECT guild_id, role_id FROM guild_settings")
            }
            channels: dict[int, set[int]] = {}
            for row in await conn.fetch("SELECT guild_id, channel_id FROM guild_project_channels"):
                channels.setdefault(int(row["guild_id"]), set()).add(int(row["channel_id"]))
        return [
            GuildSettings(
                guild_id=guild_id,
                project_channel_ids=frozenset(channels.get(guild_id, ())),
                role_id=None if roles.get(guild_id) is None else int(roles[guild_id]),
            )
            for guild_id in sorted(set(roles) | set(channels))
        ]

    async def add_project_channel(self, guild_id: int, channel_id: int) -> None:
        """Adding a channel twice is a no-op."""
        await self._execute(
            "INSERT INTO guild_project_channels (guild_id, channel_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            guild_id,
            channel_id,
        )

    async def set_guild_role(self, guild_id: int, role_id: int | None) -> None:
        """Set or clear (None) the guild's role; the guild is listed either way afterwards."""
        await self._execute(
            "INSERT INTO guild_settings (guild_id, role_id) VALUES ($1, $2) "
            "ON CONFLICT (guild_id) DO UPDATE SET role_id = excluded.role_id",
            guild_id,
            role_id,
        )

    # -- meta

    async def get_meta(self, key: str) -> str | None:
        row = await self._fetchrow("SELECT value FROM meta WHERE key = $1", key)
        return None if row is None else str(row["value"])

    async def set_meta(self, key: str, value: str) -> None:
        await self._execute(
            "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            key,
            value,
        )


# --- opening and migrating -------------------------------------------------------------------------


async def migrate(conn: asyncpg.Connection | asyncpg.pool.PoolConnectionProxy, migrations: Sequence[Migration]) -> int:
    """Bring the schema to len(migrations), one transaction per step; returns how many steps this call applied.

    Each step's transaction first takes `pg_advisory_xact_lock`, then reads the
    version, so of several processes starting together exactly one applies each
    step and the others wait, then find nothing to do. A version above what this
    code knows raises SchemaTooNewError before anything is written.
    """
    target = len(migrations)
    applied = 0
    while True:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK_KEY)
            await conn.execute(SCHEMA_VERSION_DDL)
            version = int(await conn.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_version"))
            if version > target:
                raise SchemaTooNewError(
                    f"database schema version {version} is newer than this bot supports ({target}); "
                    "upgrade the bot or restore a matching backup"
                )
            if version == target:
                if applied:  # one line per start, not one per step
                    log.info("PostgreSQL database migrated from schema version %d to %d", version - applied, version)
                return applied
            for statement in migrations[version]:
                await conn.execute(statement)
            await conn.execute("INSERT INTO schema_version (version) VALUES ($1)", version + 1)
            applied += 1
            log.debug("PostgreSQL database migrated to schema version %d", version + 1)


async def open_postgres(
    dsn: str,
    *,
    migrations: Sequence[Migration] | None = None,
    min_size: int = 1,
    max_size: int = DEFAULT_MAX_SIZE,
    command_timeout: float = COMMAND_TIMEOUT,
    statement_cache_size: int = 100,
) -> PostgresRepository:
    """Create the pool for `dsn` (postgresql://user:pass@host:port/db) and migrate the database.

    `migrations` defaults to the shipped list; tests pass a longer one to simulate
    a newer bot. Raises SchemaTooNewError if the database is newer than the
    migrations, StorageError if the server cannot be reached or refuses us. Use
    `statement_cache_size=0` behind pgbouncer in transaction mode.
    """
    steps = _migrations.MIGRATIONS if migrations is None else migrations
    try:
        pool = await asyncpg.create_pool(
            dsn,
            min_size=min_size,
            max_size=max_size,
            command_timeout=command_timeout,
            statement_cache_size=statement_cache_size,
        )
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise StorageError(f"cannot connect to PostgreSQL at {safe_dsn(dsn)}: {exc}") from exc
    try:
        async with pool.acquire() as conn:
            await migrate(conn, steps)
    except BaseException:
        pool.terminate()
        raise
    return PostgresRepository(pool, dsn)
