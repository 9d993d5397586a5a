"""Persistence for Cutaway: the `Repository` contract and its SQLite backend.

Everything else in the bot imports from here and never writes SQL itself.
"""

from __future__ import annotations

from pathlib import Path

from .repository import (
    AlreadyExistsError,
    AuthRecord,
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


async def open_repository(path: str | Path) -> Repository:
    """Open the configured backend; today a SQLite file path (or ":memory:").

    A `postgresql://` URL is refused explicitly until that backend exists, rather
    than being created as an oddly named SQLite file.
    """
    if str(path).startswith(("postgres://", "postgresql://")):
        raise StorageError("the PostgreSQL backend is not implemented yet; use DATABASE_PATH")
    return await open_sqlite(path)
