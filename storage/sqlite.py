"""The SQLite backend of `Repository`: one aiosqlite connection per process.

Why it is safe to share one connection between many tasks: aiosqlite runs every
call on one worker thread in submission order, and the connection is in autocommit
mode so each write is one statement that is its own committed transaction (no
read-modify-write sequences exist; claims and leases are single conditional
statements with RETURNING). Migrations run before the repository is handed out;
a write racing `close()` gets StorageError. WAL + synchronous=NORMAL: a committed write survives the process
being killed (not necessarily a power cut, which is the accepted trade-off).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import sqlite3
from collections.abc import AsyncIterator, Collection, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self

import aiosqlite

from . import migrations as _migrations
from .migrations import UNFINISHED_RENDERS_WHERE, Migration
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

# aiosqlite logs every statement *with its parameters* at DEBUG, tokens included: never let it.
logging.getLogger("aiosqlite").setLevel(logging.INFO)

MEMORY: Final = ":memory:"
"""Pass as path for a throw-away in-memory database (tests of other modules)."""

BUSY_TIMEOUT_MS: Final = 5000
"""How long a write waits for another process's lock before failing."""

_FILE_MODE: Final = 0o600
_DIR_MODE: Final = 0o700

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
    f"WHERE {UNFINISHED_RENDERS_WHERE} ORDER BY created_at, rowid"
)
_GET_PROJECT: Final = f"SELECT {_PROJECT_COLUMNS} FROM projects WHERE thread_id = ?"  # noqa: S608
_ACTIVE_PROJECTS: Final = (
    f"SELECT {_PROJECT_COLUMNS} FROM projects WHERE last_message_id > ? "  # noqa: S608
    "ORDER BY last_message_id DESC LIMIT ?"
)
_INSERT_PROJECT: Final = f"INSERT INTO projects ({_PROJECT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"  # noqa: S608
_GET_RENDER: Final = f"SELECT {_RENDER_COLUMNS} FROM renders WHERE render_id = ?"  # noqa: S608
_INSERT_RENDER: Final = f"INSERT INTO renders ({_RENDER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"  # noqa: S608
# A render lease a newcomer may take: free, expired, held by an incarnation listed as gone (a JSON
# array), or (when a liveness cut-off is given) by a process whose liveness row is stale or missing.
_LEASE_FREE: Final = (
    "(lease_owner IS NULL OR lease_expires_at < ? "
    "OR lease_owner IN (SELECT value FROM json_each(?)) "
    "OR (? IS NOT NULL AND NOT EXISTS (SELECT 1 FROM processes p "
    "WHERE p.incarnation = renders.lease_owner AND p.last_seen >= ?)))"
)
_RUNNING_STATUSES: Final = "('starting', 'pending', 'processing')"
_RUNNING_RENDER: Final = (
    f"SELECT {_RENDER_COLUMNS} FROM renders WHERE thread_id = ? AND status IN {_RUNNING_STATUSES} "  # noqa: S608
    "AND created_at > ? ORDER BY created_at DESC, rowid DESC LIMIT 1"
)
# One statement: SQLite runs it under its write lock, so the check and the insert cannot interleave
# with another writer's (a stale read fails with SQLITE_BUSY_SNAPSHOT instead of inserting twice).
_INSERT_RENDER_UNLESS_RUNNING: Final = (
    f"INSERT INTO renders ({_RENDER_COLUMNS}) SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? "  # noqa: S608
    f"WHERE NOT EXISTS (SELECT 1 FROM renders WHERE thread_id = ? AND status IN {_RUNNING_STATUSES} "
    "AND created_at > ?)"
)
_THREAD_RENDERS: Final = (
    f"SELECT {_RENDER_COLUMNS} FROM renders WHERE thread_id = ? "  # noqa: S608
    "ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?"
)


# --- conversions ---------------------------------------------------------------------------------


def _dt_to_db(value: datetime) -> str:
    """Fixed-width ISO-8601 UTC text, so text order is time order; naive datetimes are a bug."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value!r}: storage needs timezone-aware datetimes")
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def _dt_from_db(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(UTC)


def _opt_dt_to_db(value: datetime | None) -> str | None:
    return None if value is None else _dt_to_db(value)


def _opt_dt_from_db(value: str | None) -> datetime | None:
    return None if value is None else _dt_from_db(value)


def _now() -> str:
    return _dt_to_db(datetime.now(UTC))


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
        int(job.link_posted),
        _dt_to_db(job.created_at),
        _dt_to_db(job.updated_at),
    )


def _lease_free_params(now: datetime, alive_after: datetime | None, gone: Collection[str]) -> tuple[Any, ...]:
    """The parameters of _LEASE_FREE, in its order."""
    cutoff = None if alive_after is None else _dt_to_db(alive_after)
    return (_dt_to_db(now), json.dumps(sorted(gone)), cutoff, cutoff)


def _project_from_row(row: sqlite3.Row) -> Project:
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


def _render_from_row(row: sqlite3.Row) -> RenderJob:
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


def _turn_from_row(row: sqlite3.Row) -> OpenTurn:
    return OpenTurn(
        thread_id=row["thread_id"],
        message_id=row["message_id"],
        preview=row["preview"],
        started_at=_dt_from_db(row["started_at"]),
    )


def _translate_integrity(exc: sqlite3.IntegrityError, what: str) -> StorageError:
    """Map SQLite constraint failures onto the backend-neutral errors of the contract."""
    name = getattr(exc, "sqlite_errorname", "")
    if name in ("SQLITE_CONSTRAINT_PRIMARYKEY", "SQLITE_CONSTRAINT_UNIQUE"):
        return AlreadyExistsError(f"{what} already exists")
    if name == "SQLITE_CONSTRAINT_FOREIGNKEY":
        return NotFoundError(f"{what}: its thread is not a project")
    return StorageError(f"{what}: constraint failed ({exc})")


# --- files -----------------------------------------------------------------------------------------


def _prepare_files(path: Path) -> None:
    """Create missing folders 0o700 (only those) and the database file 0o600. Runs in a thread."""
    missing: list[Path] = []
    folder = path.parent
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for created in reversed(missing):
        try:
            created.mkdir(mode=_DIR_MODE)
        except FileExistsError:  # another process won the race: not ours to chmod
            continue
        created.chmod(_DIR_MODE)  # mkdir's mode is filtered by the umask
    path.touch(mode=_FILE_MODE, exist_ok=True)
    path.chmod(_FILE_MODE)  # also tightens a file that already existed


def _tighten_siblings(path: Path) -> None:
    """SQLite copies the main file's mode to -wal/-shm; enforce it anyway for older files."""
    for suffix in ("-wal", "-shm", "-journal"):
        sibling = path.with_name(path.name + suffix)
        try:
            sibling.chmod(_FILE_MODE)
        except FileNotFoundError:
            continue


# --- the repository --------------------------------------------------------------------------------


class SqliteRepository:
    """`Repository` on one aiosqlite connection; open it with `open_sqlite`."""

    def __init__(self, conn: aiosqlite.Connection, path: Path | None) -> None:
        """Use `open_sqlite`; this only wraps an already configured, migrated connection."""
        self._conn = conn
        self._path = path
        self._lock = asyncio.Lock()
        self._auth_lock = asyncio.Lock()
        self._closed = False

    @property
    def path(self) -> Path | None:
        """The database file, or None for an in-memory database."""
        return self._path

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
        """Close after queued work finished; safe to call twice or concurrently."""
        async with self._lock:  # never cut a write transaction in half
            if self._closed:
                return
            self._closed = True
            try:
                await _exec(self._conn, "PRAGMA optimize")
            except sqlite3.Error:  # an optimisation hint only; closing matters more
                log.debug("PRAGMA optimize failed", exc_info=True)
            finally:
                await self._conn.close()

    # -- low-level helpers

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError("repository is closed")

    async def _fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        self._check_open()
        try:
            return list(await self._conn.execute_fetchall(sql, params))
        except ValueError as exc:  # aiosqlite's "Connection closed": close() won a race with us
            if self._closed:
                raise StorageError("repository is closed") from exc
            raise

    async def _fetchone(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        rows = await self._fetchall(sql, params)
        return rows[0] if rows else None

    async def _write(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one autocommitted write statement; returns the number of changed rows."""
        return len(await self._returning(f"{sql} RETURNING 1", params))

    async def _returning(self, sql: str, params: Sequence[Any]) -> list[sqlite3.Row]:
        """One autocommitted write statement with a RETURNING clause: its rows.

        One trip to aiosqlite's thread and no lock: a single autocommitted statement is atomic by
        itself, and aiosqlite runs statements one at a time (bench/storage: twice the write throughput
        of the locked three-trip version). A lock here also serialised every claim behind a full event
        loop turn: at 400 new messages/s claims queued for seconds (bench/fanout)."""
        self._check_open()
        try:
            rows = await self._conn.execute_fetchall(sql, params)
        except ValueError as exc:  # aiosqlite's "Connection closed": close() won a race with us
            if self._closed:
                raise StorageError("repository is closed") from exc
            raise
        return list(rows)

    # -- projects

    async def get_project(self, thread_id: int) -> Project | None:
        row = await self._fetchone(_GET_PROJECT, (thread_id,))
        return None if row is None else _project_from_row(row)

    async def create_project(self, project: Project) -> None:
        """Raises AlreadyExistsError if the thread is already a project (creation races lose cleanly)."""
        try:
            await self._write(
                _INSERT_PROJECT,
                (
                    project.thread_id,
                    project.guild_id,
                    project.parent_id,
                    project.owner_id,
                    project.session_id,
                    project.language,
                    project.name,
                    _dt_to_db(project.created_at),
                    project.last_message_id,
                ),
            )
        except sqlite3.IntegrityError as exc:
            raise _translate_integrity(exc, f"project {project.thread_id}") from exc

    async def set_project_session(self, thread_id: int, session_id: str) -> None:
        """Raises NotFoundError for an unknown thread."""
        changed = await self._write("UPDATE projects SET session_id = ? WHERE thread_id = ?", (session_id, thread_id))
        if changed == 0:
            raise NotFoundError(f"project {thread_id} not found")

    async def set_project_language(self, thread_id: int, language: str) -> None:
        """Raises NotFoundError for an unknown thread."""
        changed = await self._write("UPDATE projects SET language = ? WHERE thread_id = ?", (language, thread_id))
        if changed == 0:
            raise NotFoundError(f"project {thread_id} not found")

    async def mark_message_handled(self, thread_id: int, message_id: int) -> None:
        """Raise last_message_id to message_id; one conditional UPDATE, so it never moves back."""
        await self._write(
            "UPDATE projects SET last_message_id = ? "
            "WHERE thread_id = ? AND (last_message_id IS NULL OR last_message_id < ?)",
            (message_id, thread_id, message_id),
        )

    async def active_projects(self, since_message_id: int, *, limit: int = 1000) -> list[Project]:
        """Projects whose newest handled message is newer than `since_message_id` (index range scan)."""
        rows = await self._fetchall(_ACTIVE_PROJECTS, (since_message_id, limit))
        return [_project_from_row(row) for row in rows]

    async def count_projects(self) -> int:
        row = await self._fetchone("SELECT COUNT(*) AS n FROM projects")
        return 0 if row is None else int(row["n"])

    # -- renders

    async def add_render(self, job: RenderJob) -> None:
        """Raises AlreadyExistsError for a known render_id, NotFoundError if the thread is no project."""
        try:
            await self._write(_INSERT_RENDER, _render_values(job))
        except sqlite3.IntegrityError as exc:
            raise _translate_integrity(exc, f"render {job.render_id}") from exc

    async def add_render_unless_running(self, job: RenderJob, *, started_after: datetime) -> RenderJob | None:
        """Store `job` unless its thread has a running render newer than `started_after` (returned instead)."""
        cutoff = _dt_to_db(started_after)
        try:
            stored = await self._write(_INSERT_RENDER_UNLESS_RUNNING, (*_render_values(job), job.thread_id, cutoff))
        except sqlite3.IntegrityError as exc:
            raise _translate_integrity(exc, f"render {job.render_id}") from exc
        if stored:
            return None
        running = await self.running_render(job.thread_id, started_after=started_after)
        # It finished in between: the thread is free again, so this job may go after all.
        return (
            running if running is not None else await self.add_render_unless_running(job, started_after=started_after)
        )

    async def running_render(self, thread_id: int, *, started_after: datetime) -> RenderJob | None:
        row = await self._fetchone(_RUNNING_RENDER, (thread_id, _dt_to_db(started_after)))
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
        fence = "" if lease_generation is None else " AND lease_generation = ?"
        changed = await self._write(
            "UPDATE renders SET "  # noqa: S608 (the fence is a constant, values are parameters)
            "status = COALESCE(?, status), "
            "progress = COALESCE(?, progress), "
            "url = COALESCE(?, url), "
            "error = COALESCE(?, error), "
            "status_message_id = COALESCE(?, status_message_id), "
            "link_posted = COALESCE(?, link_posted), "
            "updated_at = ? "
            "WHERE render_id = ?" + fence,
            (
                None if status is None else RenderStatus(status).value,
                progress,
                url,
                error,
                status_message_id,
                None if link_posted is None else int(link_posted),
                _now(),
                render_id,
                *(() if lease_generation is None else (lease_generation,)),
            ),
        )
        if changed == 0 and lease_generation is None:
            raise NotFoundError(f"render {render_id} not found")
        return changed > 0

    async def get_render(self, render_id: str) -> RenderJob | None:
        row = await self._fetchone(_GET_RENDER, (render_id,))
        return None if row is None else _render_from_row(row)

    async def unfinished_renders(self) -> list[RenderJob]:
        """Renders to resume after a restart, oldest first.

        Exactly: status is starting/pending/processing, or status is completed and
        link_posted is False (the link still has to be posted). Failed and cancelled
        renders are never returned, whatever link_posted says. Served by the partial
        index `renders_unfinished`, so start-up cost does not grow with history.
        """
        return [_render_from_row(row) for row in await self._fetchall(_UNFINISHED_QUERY)]

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
        gone (see Repository); the new generation, or None. One statement: one winner."""
        now = datetime.now(UTC)
        rows = await self._returning(
            "UPDATE renders SET lease_owner = ?, lease_expires_at = ?, lease_generation = lease_generation + 1 "  # noqa: S608
            f"WHERE render_id = ? AND (lease_owner = ? OR {_LEASE_FREE}) RETURNING lease_generation",
            (
                owner,
                _dt_to_db(now + timedelta(seconds=ttl_seconds)),
                render_id,
                owner,
                *_lease_free_params(now, alive_after, gone),
            ),
        )
        return int(rows[0][0]) if rows else None

    async def renew_render_lease(self, render_id: str, owner: str, generation: int, ttl_seconds: float) -> bool:
        expires = _dt_to_db(datetime.now(UTC) + timedelta(seconds=ttl_seconds))
        changed = await self._write(
            "UPDATE renders SET lease_expires_at = ? WHERE render_id = ? AND lease_owner = ? AND lease_generation = ?",
            (expires, render_id, owner, generation),
        )
        return changed > 0

    async def release_render_lease(self, render_id: str, owner: str, generation: int) -> None:
        await self._write(
            "UPDATE renders SET lease_owner = NULL, lease_expires_at = NULL "
            "WHERE render_id = ? AND lease_owner = ? AND lease_generation = ?",
            (render_id, owner, generation),
        )

    async def claimable_renders(
        self, *, limit: int = 50, alive_after: datetime | None = None, gone: Collection[str] = ()
    ) -> list[RenderJob]:
        """Unfinished renders nobody holds (no lease, an expired one, or a holder known to be gone), oldest first."""
        rows = await self._fetchall(
            f"SELECT {_RENDER_COLUMNS} FROM renders WHERE ({UNFINISHED_RENDERS_WHERE}) "  # noqa: S608
            f"AND {_LEASE_FREE} ORDER BY created_at, rowid LIMIT ?",
            (*_lease_free_params(datetime.now(UTC), alive_after, gone), limit),
        )
        return [_render_from_row(row) for row in rows]

    async def claim_message(self, thread_id: int, message_id: int, owner: str, *, alive_after: datetime) -> bool:
        """True for exactly one claimant: the first, or a later one when the first never finished and its
        process stopped refreshing its liveness row before `alive_after` (it died)."""
        rows = await self._returning(
            "INSERT INTO message_claims (message_id, thread_id, claimed_by, claimed_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (message_id) DO UPDATE SET claimed_by = excluded.claimed_by, "
            "claimed_at = excluded.claimed_at "
            "WHERE message_claims.done = 0 AND message_claims.claimed_by <> excluded.claimed_by "
            "AND NOT EXISTS (SELECT 1 FROM processes p WHERE p.incarnation = message_claims.claimed_by "
            "AND p.last_seen >= ?) RETURNING message_id",
            (message_id, thread_id, owner, _now(), _dt_to_db(alive_after)),
        )
        return bool(rows)

    async def finish_message(self, message_id: int) -> None:
        await self._write("UPDATE message_claims SET done = 1 WHERE message_id = ?", (message_id,))

    async def heartbeat_process(self, incarnation: str) -> None:
        await self._write(
            "INSERT INTO processes (incarnation, last_seen) VALUES (?, ?) "
            "ON CONFLICT (incarnation) DO UPDATE SET last_seen = excluded.last_seen",
            (incarnation, _now()),
        )

    async def forget_process(self, incarnation: str) -> None:
        await self._write("DELETE FROM processes WHERE incarnation = ?", (incarnation,))

    async def known_processes(self) -> list[str]:
        return [str(row[0]) for row in await self._fetchall("SELECT incarnation FROM processes ORDER BY last_seen")]

    async def prune_message_claims(self, older_than: datetime) -> int:
        await self._write("DELETE FROM processes WHERE last_seen < ?", (_dt_to_db(older_than),))
        return await self._write("DELETE FROM message_claims WHERE claimed_at < ?", (_dt_to_db(older_than),))

    async def explain_unfinished_renders(self) -> list[str]:
        """SQLite's query plan for `unfinished_renders` (lets tests prove the index is used)."""
        rows = await self._fetchall(f"EXPLAIN QUERY PLAN {_UNFINISHED_QUERY}")
        return [str(row["detail"]) for row in rows]

    async def diagnostics(self) -> dict[str, int | str]:
        """Effective connection settings and schema version, for tests and status output."""
        result: dict[str, int | str] = {}
        for pragma in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout", "user_version"):
            row = await self._fetchone(f"PRAGMA {pragma}")
            result[pragma] = row[0] if row is not None else ""
        return result

    async def renders_for_thread(self, thread_id: int, *, limit: int = 10, offset: int = 0) -> list[RenderJob]:
        """Newest first (ties: last inserted first); served by the (thread_id, created_at) index."""
        if limit < 0 or offset < 0:
            raise ValueError("limit and offset must not be negative")
        rows = await self._fetchall(
            _THREAD_RENDERS,
            (thread_id, limit, offset),
        )
        return [_render_from_row(row) for row in rows]

    # -- auth

    async def get_auth(self) -> AuthRecord | None:
        row = await self._fetchone("SELECT client_id, token, expires_at, user_id FROM auth WHERE id = 1")
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
        await self._write(
            "INSERT INTO auth (id, client_id, token, expires_at, user_id) VALUES (1, ?, ?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET client_id = excluded.client_id, token = excluded.token, "
            "expires_at = excluded.expires_at, user_id = excluded.user_id",
            (record.client_id, record.token, _opt_dt_to_db(record.expires_at), record.user_id),
        )

    # -- open chat turns

    async def open_turn(self, turn: OpenTurn) -> None:
        """Store the turn (NotFoundError if the thread is no project); re-opening replaces it."""
        try:
            await self._write(
                "INSERT INTO open_turns (thread_id, message_id, preview, started_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (thread_id, message_id) DO UPDATE SET "
                "preview = excluded.preview, started_at = excluded.started_at",
                (turn.thread_id, turn.message_id, turn.preview, _dt_to_db(turn.started_at)),
            )
        except sqlite3.IntegrityError as exc:
            raise _translate_integrity(exc, f"turn {turn.thread_id}/{turn.message_id}") from exc

    async def close_turn(self, thread_id: int, message_id: int) -> None:
        """Forget the turn; an unknown turn is a no-op."""
        await self._write("DELETE FROM open_turns WHERE thread_id = ? AND message_id = ?", (thread_id, message_id))

    async def open_turns(self) -> list[OpenTurn]:
        """Oldest first."""
        rows = await self._fetchall(
            "SELECT thread_id, message_id, preview, started_at FROM open_turns "
            "ORDER BY started_at, thread_id, message_id"
        )
        return [_turn_from_row(row) for row in rows]

    # -- meta

    async def all_guild_settings(self) -> list[GuildSettings]:
        roles = {
            int(r["guild_id"]): r["role_id"]
            for r in await self._fetchall("SELECT guild_id, role_id FROM guild_settings")
        }
        channels: dict[int, set[int]] = {}
        for row in await self._fetchall("SELECT guild_id, channel_id FROM guild_project_channels"):
            channels.setdefault(int(row["guild_id"]), set()).add(int(row["channel_id"]))
        return [
            GuildSettings(
                guild_id=g,
                project_channel_ids=frozenset(channels.get(g, ())),
                role_id=int(roles[g]) if roles.get(g) is not None else None,
            )
            for g in sorted(set(roles) | set(channels))
        ]

    async def add_project_channel(self, guild_id: int, channel_id: int) -> None:
        await self._write(
            "INSERT INTO guild_project_channels (guild_id, channel_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
            (guild_id, channel_id),
        )

    async def set_guild_role(self, guild_id: int, role_id: int | None) -> None:
        await self._write(
            "INSERT INTO guild_settings (guild_id, role_id) VALUES (?, ?) "
            "ON CONFLICT (guild_id) DO UPDATE SET role_id = excluded.role_id",
            (guild_id, role_id),
        )

    @asynccontextmanager
    async def auth_lock(self) -> AsyncIterator[None]:
        """One fetch of the anonymous token at a time (SQLite serves one process)."""
        async with self._auth_lock:
            yield

    async def get_meta(self, key: str) -> str | None:
        row = await self._fetchone("SELECT value FROM meta WHERE key = ?", (key,))
        return None if row is None else str(row["value"])

    async def set_meta(self, key: str, value: str) -> None:
        await self._write(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )


# --- opening and migrating -------------------------------------------------------------------------


async def _exec(conn: aiosqlite.Connection, sql: str) -> None:
    """Run one statement and close its cursor at once."""
    async with conn.execute(sql):
        pass


@asynccontextmanager
async def _immediate_transaction(conn: aiosqlite.Connection) -> AsyncIterator[None]:
    """BEGIN IMMEDIATE … COMMIT, rolled back on any error (cancellation included)."""
    await _exec(conn, "BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        await conn.rollback()
        raise
    await conn.commit()


async def _user_version(conn: aiosqlite.Connection) -> int:
    rows = list(await conn.execute_fetchall("PRAGMA user_version"))
    return int(rows[0][0])


async def migrate(conn: aiosqlite.Connection, migrations: Sequence[Migration]) -> int:
    """Bring the schema to len(migrations), one transaction per step; returns the final version.

    The version is re-read inside each write transaction, so two processes starting
    together cannot both apply a step. A version above what this code knows raises
    SchemaTooNewError before anything is written.
    """
    target = len(migrations)
    started: int | None = None
    while True:
        async with _immediate_transaction(conn):
            version = await _user_version(conn)
            started = version if started is None else started
            if version > target:
                raise SchemaTooNewError(
                    f"database schema version {version} is newer than this bot supports ({target}); "
                    "upgrade the bot or restore a matching backup"
                )
            if version == target:
                if version != started:  # one line per start, not one per step
                    log.info("database migrated from schema version %d to %d", started, version)
                return version
            for statement in migrations[version]:
                await _exec(conn, statement)
            # PRAGMA takes no parameters; `version + 1` is an int we computed.
            await _exec(conn, f"PRAGMA user_version = {int(version) + 1}")
            log.debug("database migrated to schema version %d", version + 1)


async def _configure(conn: aiosqlite.Connection, in_memory: bool) -> None:
    """Per-connection settings; WAL is persistent in the file, the rest is per connection."""
    conn.row_factory = sqlite3.Row
    await _exec(conn, f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    await _exec(conn, "PRAGMA foreign_keys = ON")
    if not in_memory:
        rows = list(await conn.execute_fetchall("PRAGMA journal_mode = WAL"))
        mode = str(rows[0][0]).lower()
        if mode != "wal":
            log.warning("SQLite refused WAL mode (got %r); continuing with it", mode)
    await _exec(conn, "PRAGMA synchronous = NORMAL")


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    name = getattr(exc, "sqlite_errorname", "")
    return name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED"))


async def _configure_and_migrate(conn: aiosqlite.Connection, in_memory: bool, steps: Sequence[Migration]) -> None:
    """Retry while another process is also starting on this file.

    SQLite does not call the busy handler in some lock-upgrade cases (notably the
    switch to WAL while another connection reads), so "database is locked" can come
    back at once; both steps are safe to repeat (migrations are transactional).
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + BUSY_TIMEOUT_MS / 1000
    delay = 0.005
    while True:
        try:
            await _configure(conn, in_memory)
            await migrate(conn, steps)
        except sqlite3.OperationalError as exc:
            if not _is_busy(exc) or loop.time() >= deadline:
                raise
            log.debug("database busy during start-up, retrying: %s", exc)
            await asyncio.sleep(delay * (1 + random.random()))  # jitter breaks lock-step retries
            delay = min(delay * 2, 0.2)
        else:
            return


async def open_sqlite(path: str | Path, *, migrations: Sequence[Migration] | None = None) -> SqliteRepository:
    """Open (creating folder and file) and migrate the database at path; ":memory:" works too.

    `migrations` defaults to the shipped list; tests pass a longer one to simulate
    a newer bot. Raises SchemaTooNewError if the file is newer than the migrations.
    """
    steps = _migrations.MIGRATIONS if migrations is None else migrations
    in_memory = str(path) == MEMORY
    file_path = None if in_memory else Path(path)
    if file_path is not None:
        await asyncio.to_thread(_prepare_files, file_path)
    conn = await aiosqlite.connect(
        MEMORY if file_path is None else file_path,
        isolation_level=None,  # autocommit; transactions only where we BEGIN explicitly
        timeout=BUSY_TIMEOUT_MS / 1000,
    )
    try:
        await _configure_and_migrate(conn, in_memory, steps)
        if file_path is not None:
            await asyncio.to_thread(_tighten_siblings, file_path)
    except BaseException:
        await conn.close()
        raise
    return SqliteRepository(conn, file_path)
