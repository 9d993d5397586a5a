"""Versioned PostgreSQL schema (its own numbering; independent of the SQLite one).

`MIGRATIONS[i]` moves the schema from version i to i + 1. Applied versions are rows
of `schema_version` (no rows = empty database), written in the same transaction
as the migration's DDL, which PostgreSQL makes atomic: a crash or an error
mid-upgrade leaves the previous version intact. Append-only: never edit a shipped
migration, add a new tuple instead.

Types: Discord snowflakes are BIGINT (ids stay below 2**63), datetimes TIMESTAMPTZ
(microsecond precision, like the SQLite text format). `renders.seq` is an identity
column that stands in for SQLite's rowid, so "equal timestamps: insertion order"
ties are broken the same way on both backends.
"""

from __future__ import annotations

from typing import Final

from .migrations import Migration

SCHEMA_VERSION_DDL: Final = (
    "CREATE TABLE IF NOT EXISTS schema_version ("
    "version INTEGER PRIMARY KEY CHECK (version > 0), "
    "applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
)
"""Created (if missing) under the migration lock before the version is read."""

MIGRATION_LOCK_KEY: Final = 0x637574_6D6967  # "cutmig"; advisory locks are per database
"""`pg_advisory_xact_lock` key that serialises migrators of one database."""

# The statuses in which a render is finished; must match RenderStatus.finished
# (tests/test_storage.py checks every status against it).
_FINISHED = "('completed', 'failed', 'cancelled')"

UNFINISHED_RENDERS_WHERE: Final = f"(status NOT IN {_FINISHED} OR (status = 'completed' AND NOT link_posted))"
"""Shared by the partial index and the query, so the planner can prove the index applies."""

_V1: Migration = (
    """
    CREATE TABLE projects (
        thread_id       BIGINT PRIMARY KEY,
        guild_id        BIGINT,
        parent_id       BIGINT,
        owner_id        BIGINT NOT NULL,
        session_id      TEXT NOT NULL,
        language        TEXT NOT NULL,
        name            TEXT NOT NULL,
        created_at      TIMESTAMPTZ NOT NULL,
        last_message_id BIGINT
    )
    """,
    # Restart catch-up reads only recently active threads (a range scan, newest first).
    "CREATE INDEX projects_last_message ON projects (last_message_id)",
    """
    CREATE TABLE renders (
        render_id         TEXT PRIMARY KEY,
        seq               BIGINT GENERATED ALWAYS AS IDENTITY,
        thread_id         BIGINT NOT NULL REFERENCES projects (thread_id) ON DELETE CASCADE,
        session_id        TEXT NOT NULL,
        requested_by      BIGINT NOT NULL,
        status            TEXT NOT NULL CHECK (status IN
                              ('starting', 'pending', 'processing', 'completed', 'failed', 'cancelled')),
        progress          INTEGER NOT NULL DEFAULT 0,
        url               TEXT,
        error             TEXT,
        status_message_id BIGINT,
        language          TEXT NOT NULL DEFAULT 'en',
        link_posted       BOOLEAN NOT NULL DEFAULT FALSE,
        created_at        TIMESTAMPTZ NOT NULL,
        updated_at        TIMESTAMPTZ NOT NULL
    )
    """,
    "CREATE INDEX renders_thread_created ON renders (thread_id, created_at, seq)",
    # Start-up reads only the unfinished renders, whatever the size of the history.
    f"CREATE INDEX renders_unfinished ON renders (created_at, seq) WHERE {UNFINISHED_RENDERS_WHERE}",
    """
    CREATE TABLE auth (
        id         SMALLINT PRIMARY KEY CHECK (id = 1),
        client_id  TEXT NOT NULL,
        token      TEXT,
        expires_at TIMESTAMPTZ,
        user_id    TEXT
    )
    """,
    """
    CREATE TABLE open_turns (
        thread_id  BIGINT NOT NULL REFERENCES projects (thread_id) ON DELETE CASCADE,
        message_id BIGINT NOT NULL,
        preview    TEXT NOT NULL,
        started_at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (thread_id, message_id)
    )
    """,
    """
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )
    """,
)

_V2: Migration = (
    # Per-guild /setup settings (SQLite's migration 3): a handful of rows, loaded whole at start-up.
    """
    CREATE TABLE guild_settings (
        guild_id BIGINT PRIMARY KEY,
        role_id  BIGINT
    )
    """,
    """
    CREATE TABLE guild_project_channels (
        guild_id   BIGINT NOT NULL,
        channel_id BIGINT NOT NULL,
        PRIMARY KEY (guild_id, channel_id)
    )
    """,
)

_V3: Migration = (
    # Exactly once across processes (SQLite's migration 4): a render is polled by whoever holds its
    # lease; the generation number fences off a stalled former owner.
    "ALTER TABLE renders ADD COLUMN lease_owner TEXT",
    "ALTER TABLE renders ADD COLUMN lease_expires_at TIMESTAMPTZ",
    "ALTER TABLE renders ADD COLUMN lease_generation INTEGER NOT NULL DEFAULT 0",
    # Every Discord message is claimed before it is acted on (live events and restart catch-up alike).
    """
    CREATE TABLE message_claims (
        message_id BIGINT PRIMARY KEY,
        thread_id  BIGINT NOT NULL,
        claimed_by TEXT NOT NULL,
        claimed_at TIMESTAMPTZ NOT NULL,
        done       BOOLEAN NOT NULL DEFAULT FALSE
    )
    """,
    "CREATE INDEX message_claims_age ON message_claims (claimed_at)",
    # Live bot processes (one row per incarnation, refreshed while it runs).
    """
    CREATE TABLE processes (
        incarnation TEXT PRIMARY KEY,
        last_seen   TIMESTAMPTZ NOT NULL
    )
    """,
    "CREATE INDEX processes_last_seen ON processes (last_seen)",
)

MIGRATIONS: tuple[Migration, ...] = (_V1, _V2, _V3)
"""All migrations in order; the schema version the code expects is len(MIGRATIONS)."""
