"""Persistence for Cutaway: the `Repository` contract and its SQLite and PostgreSQL backends.

Everything else in the bot imports from here and never writes SQL itself.
"""

from __future__ import annotations

from pathlib import Path

from .repository import (
    AlreadyExistsError,
    AuthRecord,
    GuildSettings,
    NotFoundError,
    OpenTurn,
    Project,
    RenderJob,
    RenderStatus,
    Repository,
    SchemaTooNewError,
    StorageError,
)
from .sqlite import MEMORY, SqliteRepository, open_sqlite

__all__ = [
    "MEMORY",
    "AlreadyExistsError",
    "AuthRecord",
    "GuildSettings",
    "NotFoundError",
    "OpenTurn",
    "Project",
    "RenderJob",
    "RenderStatus",
    "Repository",
    "SchemaTooNewError",
    "SqliteRepository",
    "StorageError",
    "open_repository",
    "open_sqlite",
]


async def open_repository(path_or_url: str | Path) -> Repository:
    """Open the configured backend: a `postgresql://` URL, else a SQLite file path (or ":memory:").

    The PostgreSQL backend is imported only when asked for, so a SQLite-only
    installation never loads asyncpg.
    """
    if str(path_or_url).startswith(("postgres://", "postgresql://")):
        from .postgres import open_postgres

        return await open_postgres(str(path_or_url))
    return await open_sqlite(path_or_url)
