"""The engine's memory: one SQLite file in the data folder (WAL, versioned migrations, mode 0600).

Everything a user could lose lives here, so it survives a restart: tokens, sessions (with their
language), the current draft of each session and an undo stack of earlier ones, every upload's
probe, and every render job with the draft it renders. Schema: docs/engine-api.md, "Storage".

One connection (aiosqlite runs it in its own thread) and one lock: every statement of a
transaction runs before another coroutine's, so two requests never interleave half-writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import secrets
import sqlite3
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import aiosqlite

from engine.media import MediaInfo

UNDO_DEPTH = 50
"""Drafts kept per session: the current one and the 49 before it."""

RenderStatus = Literal["pending", "processing", "completed", "failed", "cancelled"]
UNFINISHED: tuple[RenderStatus, ...] = ("pending", "processing")

_MIGRATIONS: tuple[str, ...] = (
    # 1: the first schema
    """
    CREATE TABLE tokens (
        token       TEXT PRIMARY KEY,
        client_id   TEXT NOT NULL,
        user_id     TEXT NOT NULL,
        issued_at   REAL NOT NULL,
        expires_at  REAL NOT NULL
    );
    CREATE INDEX tokens_by_client ON tokens (client_id, expires_at);

    CREATE TABLE sessions (
        session_id      TEXT PRIMARY KEY,
        user_id         TEXT NOT NULL,
        task_id         TEXT NOT NULL,
        task_name       TEXT NOT NULL,
        language        TEXT NOT NULL,
        created_at      REAL NOT NULL,
        video_analyses  TEXT NOT NULL DEFAULT '{}',
        generated_media TEXT NOT NULL DEFAULT '[]'
    );

    CREATE TABLE drafts (
        session_id    TEXT NOT NULL REFERENCES sessions (session_id) ON DELETE CASCADE,
        version       INTEGER NOT NULL,
        draft         TEXT NOT NULL,
        committed_at  REAL NOT NULL,
        PRIMARY KEY (session_id, version)
    );

    CREATE TABLE media (
        media_id     TEXT PRIMARY KEY,
        session_id   TEXT NOT NULL REFERENCES sessions (session_id) ON DELETE CASCADE,
        seq          INTEGER NOT NULL,
        path         TEXT NOT NULL,
        info         TEXT NOT NULL,
        uploaded_at  REAL NOT NULL
    );
    CREATE INDEX media_by_session ON media (session_id, seq);

    CREATE TABLE renders (
        render_id     TEXT PRIMARY KEY,
        session_id    TEXT NOT NULL,
        user_id       TEXT NOT NULL,
        draft         TEXT NOT NULL,
        resolution    TEXT NOT NULL,
        quality       TEXT NOT NULL,
        status        TEXT NOT NULL,
        progress      INTEGER NOT NULL DEFAULT 0,
        error         TEXT,
        file          TEXT,
        duration_s    REAL,
        size          INTEGER,
        created_at    REAL NOT NULL,
        started_at    REAL,
        completed_at  REAL,
        expired_at    REAL,
        attempts      INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX renders_by_status ON renders (status, created_at);
    """,
)
SCHEMA_VERSION = len(_MIGRATIONS)


class StoreError(RuntimeError):
    """The database cannot be used (a newer schema, a file that is not a database); one line for operators."""


class DuplicateRender(Exception):
    """A render with this id exists already."""


@dataclass(frozen=True, slots=True)
class TokenRow:
    token: str
    client_id: str
    user_id: str
    issued_at: float
    expires_at: float


@dataclass(frozen=True, slots=True)
class SessionRow:
    session_id: str
    user_id: str
    task_id: str
    task_name: str
    language: str
    created_at: float
    video_analyses: dict[str, Any]
    generated_media: list[Any]


@dataclass(frozen=True, slots=True)
class RenderRow:
    render_id: str
    session_id: str
    user_id: str
    draft: dict[str, Any]
    resolution: str
    quality: str
    status: RenderStatus
    progress: int
    created_at: float
    error: str | None = None
    file: str | None = None
    """The result, relative to the data folder."""
    duration_s: float | None = None
    size: int | None = None
    started_at: float | None = None
    completed_at: float | None = None
    expired_at: float | None = None
    attempts: int = 0

    @property
    def finished(self) -> bool:
        return self.status not in UNFINISHED


_RENDER_COLUMNS = tuple(f.name for f in dataclasses.fields(RenderRow))
_MEDIA_PROBE_FIELDS = tuple(
    f.name for f in dataclasses.fields(MediaInfo) if f.name not in ("media_id", "session_id", "path")
)


def new_session_id() -> str:
    """A 19-digit numeric string, the shape the hosted backend's session ids have."""
    return str(10**18 + secrets.randbelow(9 * 10**18))


class Store:
    """Async access to the engine's database. Open with `await Store.open(path, data_dir)`."""

    def __init__(self, db: aiosqlite.Connection, data_dir: Path) -> None:
        self._db = db
        self._data_dir = data_dir
        self._lock = asyncio.Lock()

    # ------------------------------------------------------------------ lifecycle
    @classmethod
    async def open(cls, path: Path, data_dir: Path) -> Store:
        """Open (creating it 0600 if new) and migrate. Raises `StoreError` with a one-line reason."""
        await asyncio.to_thread(_create_private, path)
        try:
            db = await aiosqlite.connect(path, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the database {path}: {exc}") from exc
        db.row_factory = aiosqlite.Row
        store = cls(db, data_dir)
        try:
            await store._setup()
        except BaseException:
            await db.close()
            raise
        return store

    async def _setup(self) -> None:
        try:
            await self._db.execute("PRAGMA journal_mode=WAL")
            await self._db.execute("PRAGMA synchronous=NORMAL")
            await self._db.execute("PRAGMA foreign_keys=ON")
            await self._db.execute("PRAGMA busy_timeout=5000")
            async with self._db.execute("PRAGMA user_version") as cur:
                row = await cur.fetchone()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"the database is unreadable ({exc})") from exc
        version = int(row[0]) if row else 0
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"the data folder was written by a newer engine (schema {version}, this one knows {SCHEMA_VERSION})"
            )
        for number in range(version, SCHEMA_VERSION):
            # executescript commits first; the version is set in the same script, so a crash
            # part-way leaves the previous version number and the script runs again.
            await self._db.executescript(
                f"BEGIN IMMEDIATE;\n{_MIGRATIONS[number]}\nPRAGMA user_version = {number + 1};\nCOMMIT;"
            )

    async def close(self) -> None:
        async with self._lock:
            with contextlib.suppress(sqlite3.Error):
                await self._db.execute("PRAGMA optimize")
            await self._db.close()

    @contextlib.asynccontextmanager
    async def _tx(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._lock:
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                await self._db.execute("ROLLBACK")
                raise
            await self._db.execute("COMMIT")

    async def _one(self, sql: str, args: Sequence[Any] = ()) -> aiosqlite.Row | None:
        async with self._lock, self._db.execute(sql, args) as cur:
            return await cur.fetchone()

    async def _all(self, sql: str, args: Sequence[Any] = ()) -> list[aiosqlite.Row]:
        async with self._lock, self._db.execute(sql, args) as cur:
            return list(await cur.fetchall())

    # ------------------------------------------------------------------ tokens
    async def valid_token(self, client_id: str, now: float) -> TokenRow | None:
        """The client's newest token that is still valid."""
        row = await self._one(
            "SELECT * FROM tokens WHERE client_id = ? AND expires_at > ? ORDER BY expires_at DESC LIMIT 1",
            (client_id, now),
        )
        return _token(row) if row else None

    async def issue_token(self, client_id: str, now: float, ttl_s: float) -> TokenRow:
        """A fresh token for the client; the client keeps its user id (and so its sessions)."""
        async with self._tx() as db:
            async with db.execute("SELECT user_id FROM tokens WHERE client_id = ? LIMIT 1", (client_id,)) as cur:
                row = await cur.fetchone()
            user_id = str(row[0]) if row else f"anon_{secrets.token_hex(8)}"
            token = TokenRow(f"nmv_usr_{secrets.token_urlsafe(30)}", client_id, user_id, now, now + ttl_s)
            await db.execute(
                "INSERT INTO tokens (token, client_id, user_id, issued_at, expires_at) VALUES (?, ?, ?, ?, ?)",
                (token.token, client_id, user_id, now, token.expires_at),
            )
        return token

    async def user_for_token(self, token: str, now: float) -> str | None:
        row = await self._one("SELECT user_id FROM tokens WHERE token = ? AND expires_at > ?", (token, now))
        return str(row[0]) if row else None

    # ------------------------------------------------------------------ sessions
    async def create_session(self, user_id: str, task_name: str, language: str, now: float) -> SessionRow:
        row = SessionRow(new_session_id(), user_id, f"task_{secrets.token_hex(8)}", task_name, language, now, {}, [])
        async with self._tx() as db:
            await db.execute(
                "INSERT INTO sessions (session_id, user_id, task_id, task_name, language, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (row.session_id, user_id, row.task_id, task_name, language, now),
            )
        return row

    async def session(self, session_id: str) -> SessionRow | None:
        row = await self._one("SELECT * FROM sessions WHERE session_id = ?", (session_id,))
        if row is None:
            return None
        return SessionRow(
            session_id=row["session_id"],
            user_id=row["user_id"],
            task_id=row["task_id"],
            task_name=row["task_name"],
            language=row["language"],
            created_at=row["created_at"],
            video_analyses=json.loads(row["video_analyses"]),
            generated_media=json.loads(row["generated_media"]),
        )

    # ------------------------------------------------------------------ drafts
    async def draft(self, session_id: str) -> dict[str, Any]:
        """The current draft's JSON (`{}` when the session has none)."""
        row = await self._one(
            "SELECT draft FROM drafts WHERE session_id = ? ORDER BY version DESC LIMIT 1", (session_id,)
        )
        return dict(json.loads(row[0])) if row else {}

    async def commit_draft(self, session_id: str, draft: dict[str, Any], now: float) -> None:
        """Make `draft` current; the previous one stays on the undo stack (the oldest fall off)."""
        async with self._tx() as db:
            await _push_draft(db, session_id, draft, now)

    async def undo_draft(self, session_id: str) -> dict[str, Any] | None:
        """Drop the current draft and return the one before (`{}` when that was the empty
        timeline); None when there is nothing to undo."""
        async with self._tx() as db:
            async with db.execute(
                "SELECT version FROM drafts WHERE session_id = ? ORDER BY version DESC LIMIT 2", (session_id,)
            ) as cur:
                versions = [int(r[0]) for r in await cur.fetchall()]
            if not versions or (len(versions) == 1 and versions[0] != 1):
                return None  # nothing committed, or the draft before has fallen off the stack
            await db.execute("DELETE FROM drafts WHERE session_id = ? AND version = ?", (session_id, versions[0]))
            if len(versions) == 1:
                return {}
            async with db.execute(
                "SELECT draft FROM drafts WHERE session_id = ? AND version = ?", (session_id, versions[1])
            ) as cur:
                row = await cur.fetchone()
            return dict(json.loads(row[0])) if row else {}

    # ------------------------------------------------------------------ media
    async def add_media(
        self, session_id: str, media: Sequence[MediaInfo], draft: dict[str, Any] | None, now: float
    ) -> None:
        """Record uploads and, in the same transaction, the draft with them placed (when given)."""
        async with self._tx() as db:
            async with db.execute("SELECT COALESCE(MAX(seq), 0) FROM media WHERE session_id = ?", (session_id,)) as cur:
                row = await cur.fetchone()
            seq = int(row[0]) if row else 0
            for info in media:
                seq += 1
                await db.execute(
                    "INSERT INTO media (media_id, session_id, seq, path, info, uploaded_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (info.media_id, session_id, seq, self._relative(info.path), _media_json(info), info.uploaded_at),
                )
            if draft is not None:
                await _push_draft(db, session_id, draft, now)

    async def media(self, session_id: str) -> list[MediaInfo]:
        """Every upload of the session, in upload order."""
        rows = await self._all("SELECT * FROM media WHERE session_id = ? ORDER BY seq", (session_id,))
        return [self._media(row) for row in rows]

    async def media_item(self, media_id: str) -> MediaInfo | None:
        row = await self._one("SELECT * FROM media WHERE media_id = ?", (media_id,))
        return self._media(row) if row else None

    def _media(self, row: aiosqlite.Row) -> MediaInfo:
        probe = json.loads(row["info"])
        fields = {k: probe[k] for k in _MEDIA_PROBE_FIELDS if k in probe}
        return MediaInfo(
            media_id=row["media_id"], session_id=row["session_id"], path=self._data_dir / row["path"], **fields
        )

    def _relative(self, path: Path) -> str:
        """Paths are stored relative to the data folder, so the folder can be moved."""
        try:
            return path.relative_to(self._data_dir).as_posix()
        except ValueError:
            return path.as_posix()

    # ------------------------------------------------------------------ renders
    async def add_render(self, row: RenderRow) -> None:
        """Store a new job; raises `DuplicateRender` when the id is taken."""
        try:
            async with self._tx() as db:
                await db.execute(
                    f"INSERT INTO renders ({', '.join(_RENDER_COLUMNS)}) "  # noqa: S608 (column names are ours)
                    f"VALUES ({', '.join('?' for _ in _RENDER_COLUMNS)})",
                    _render_values(row),
                )
        except sqlite3.IntegrityError as exc:
            raise DuplicateRender(row.render_id) from exc

    async def render(self, render_id: str) -> RenderRow | None:
        row = await self._one("SELECT * FROM renders WHERE render_id = ?", (render_id,))
        return _render(row) if row else None

    async def update_render(self, render_id: str, **changes: Any) -> None:
        """Set columns of one job (names are checked against the schema)."""
        unknown = set(changes) - set(_RENDER_COLUMNS)
        if unknown:
            raise ValueError(f"unknown render columns: {sorted(unknown)}")
        if not changes:
            return
        values = [json.dumps(v) if k == "draft" else v for k, v in changes.items()]
        assignments = ", ".join(f"{k} = ?" for k in changes)
        async with self._tx() as db:
            await db.execute(
                f"UPDATE renders SET {assignments} WHERE render_id = ?",  # noqa: S608 (column names checked above)
                (*values, render_id),
            )

    async def claim_render(self, render_id: str, now: float) -> RenderRow | None:
        """Start a waiting job: pending becomes processing (one more attempt) in one statement, so a
        cancel that came first wins. None when the job is no longer pending."""
        async with (
            self._tx() as db,
            db.execute(
                "UPDATE renders SET status = 'processing', progress = 0, started_at = ?, attempts = attempts + 1 "
                "WHERE render_id = ? AND status = 'pending' RETURNING *",
                (now, render_id),
            ) as cur,
        ):
            row = await cur.fetchone()
        return _render(row) if row else None

    async def cancel_pending(self, render_id: str, now: float) -> bool:
        """Cancel a job that has not started, in one statement; False when it is not pending (a
        worker claimed it, or it finished)."""
        async with (
            self._tx() as db,
            db.execute(
                "UPDATE renders SET status = 'cancelled', completed_at = ? WHERE render_id = ? AND status = 'pending'",
                (now, render_id),
            ) as cur,
        ):
            return cur.rowcount == 1

    async def unfinished_renders(self) -> list[RenderRow]:
        """Jobs left pending or processing (after a stop), oldest first."""
        rows = await self._all(
            "SELECT * FROM renders WHERE status IN (?, ?) ORDER BY created_at, render_id", UNFINISHED
        )
        return [_render(r) for r in rows]

    async def results_older_than(self, when: float) -> list[RenderRow]:
        """Completed jobs whose file is still kept and that finished before `when`."""
        rows = await self._all(
            "SELECT * FROM renders WHERE status = 'completed' AND expired_at IS NULL AND completed_at < ?",
            (when,),
        )
        return [_render(r) for r in rows]

    async def result_files(self) -> set[str]:
        """Every result file a job still refers to (for sweeping strays)."""
        rows = await self._all("SELECT file FROM renders WHERE file IS NOT NULL AND expired_at IS NULL")
        return {str(r[0]) for r in rows}


# ---------------------------------------------------------------------- helpers


def _create_private(path: Path) -> None:
    """The folder 0700 and the file 0600 before SQLite opens it: tokens live in it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    os.close(fd)
    path.chmod(0o600)


async def _push_draft(db: aiosqlite.Connection, session_id: str, draft: dict[str, Any], now: float) -> None:
    async with db.execute("SELECT COALESCE(MAX(version), 0) FROM drafts WHERE session_id = ?", (session_id,)) as cur:
        row = await cur.fetchone()
    version = (int(row[0]) if row else 0) + 1
    await db.execute(
        "INSERT INTO drafts (session_id, version, draft, committed_at) VALUES (?, ?, ?, ?)",
        (session_id, version, json.dumps(draft, ensure_ascii=False, separators=(",", ":")), now),
    )
    await db.execute("DELETE FROM drafts WHERE session_id = ? AND version <= ?", (session_id, version - UNDO_DEPTH))


def _token(row: aiosqlite.Row) -> TokenRow:
    return TokenRow(row["token"], row["client_id"], row["user_id"], row["issued_at"], row["expires_at"])


def _media_json(info: MediaInfo) -> str:
    return json.dumps({k: getattr(info, k) for k in _MEDIA_PROBE_FIELDS}, ensure_ascii=False)


def _render_values(row: RenderRow) -> tuple[Any, ...]:
    return tuple(json.dumps(row.draft) if name == "draft" else getattr(row, name) for name in _RENDER_COLUMNS)


def _render(row: aiosqlite.Row) -> RenderRow:
    values = {name: row[name] for name in _RENDER_COLUMNS}
    values["draft"] = json.loads(values["draft"])
    return RenderRow(**values)


__all__ = [
    "SCHEMA_VERSION",
    "UNDO_DEPTH",
    "DuplicateRender",
    "RenderRow",
    "RenderStatus",
    "SessionRow",
    "Store",
    "StoreError",
    "TokenRow",
    "new_session_id",
]
