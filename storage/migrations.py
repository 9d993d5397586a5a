"""Versioned SQLite schema.

`MIGRATIONS[i]` moves the schema from version i to i + 1; the version lives in
`PRAGMA user_version` (0 = empty file). Migrations are append-only: never edit a
shipped one, add a new tuple instead, so every installed database can be upgraded.
Each migration runs in its own transaction, so a crash mid-upgrade leaves the
previous version intact.
"""

from __future__ import annotations

from collections.abc import Sequence

Migration = Sequence[str]
"""The statements of one migration (no executescript: it would commit early)."""

# The statuses in which a render is finished; must match RenderStatus.finished
# (tests/test_storage.py checks every status against it).
_FINISHED = "('completed', 'failed', 'cancelled')"

UNFINISHED_RENDERS_WHERE = f"status NOT IN {_FINISHED} OR (status = 'completed' AND link_posted = 0)"
"""Shared by the partial index and the query, which SQLite only matches textually-equal."""

_V1: Migration = (
    """
    CREATE TABLE projects (
        thread_id       INTEGER PRIMARY KEY,
        guild_id        INTEGER,
        parent_id       INTEGER,
        owner_id        INTEGER NOT NULL,
        session_id      TEXT NOT NULL,
        language        TEXT NOT NULL,
        name            TEXT NOT NULL,
        created_at      TEXT NOT NULL,
        last_message_id INTEGER
    )
    """,
    """
    CREATE TABLE renders (
        render_id         TEXT PRIMARY KEY NOT NULL,
        thread_id         INTEGER NOT NULL REFERENCES projects (thread_id) ON DELETE CASCADE,
        session_id        TEXT NOT NULL,
        requested_by      INTEGER NOT NULL,
        status            TEXT NOT NULL CHECK (status IN
                              ('starting', 'pending', 'processing', 'completed', 'failed', 'cancelled')),
        progress          INTEGER NOT NULL DEFAULT 0,
        url               TEXT,
        error             TEXT,
        status_message_id INTEGER,
        language          TEXT NOT NULL DEFAULT 'en',
        link_posted       INTEGER NOT NULL DEFAULT 0 CHECK (link_posted IN (0, 1)),
        created_at        TEXT NOT NULL,
        updated_at        TEXT NOT NULL
    )
    """,
    "CREATE INDEX renders_thread_created ON renders (thread_id, created_at)",
    f"CREATE INDEX renders_unfinished ON renders (created_at) WHERE {UNFINISHED_RENDERS_WHERE}",
    """
    CREATE TABLE auth (
        id         INTEGER PRIMARY KEY CHECK (id = 1),
        client_id  TEXT NOT NULL,
        token      TEXT,
        expires_at TEXT,
        user_id    TEXT
    )
    """,
    """
    CREATE TABLE open_turns (
        thread_id  INTEGER NOT NULL REFERENCES projects (thread_id) ON DELETE CASCADE,
        message_id INTEGER NOT NULL,
        preview    TEXT NOT NULL,
        started_at TEXT NOT NULL,
        PRIMARY KEY (thread_id, message_id)
    )
    """,
    """
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY NOT NULL,
        value TEXT NOT NULL
    )
    """,
)

_V2: Migration = (
    # Restart catch-up reads only recently active threads (by their newest handled message id,
    # a time-ordered snowflake): never a scan of every project.
    "CREATE INDEX projects_last_message ON projects (last_message_id)",
)

_V3: Migration = (
    """
    CREATE TABLE guild_settings (
        guild_id INTEGER PRIMARY KEY,
        role_id  INTEGER
    )
    """,
    """
    CREATE TABLE guild_project_channels (
        guild_id   INTEGER NOT NULL,
        channel_id INTEGER NOT NULL,
        PRIMARY KEY (guild_id, channel_id)
    )
    """,
)

_V4: Migration = (
    # Exactly once across processes: a render is polled by whoever holds its lease; the generation
    # number fences off a stalled former owner.
    "ALTER TABLE renders ADD COLUMN lease_owner TEXT",
    "ALTER TABLE renders ADD COLUMN lease_expires_at TEXT",
    "ALTER TABLE renders ADD COLUMN lease_generation INTEGER NOT NULL DEFAULT 0",
    # Every Discord message is claimed before it is acted on (live events and restart catch-up alike).
    """
    CREATE TABLE message_claims (
        message_id INTEGER PRIMARY KEY,
        thread_id  INTEGER NOT NULL,
        claimed_by TEXT NOT NULL,
        claimed_at TEXT NOT NULL,
        done       INTEGER NOT NULL DEFAULT 0
    )
    """,
    "CREATE INDEX message_claims_age ON message_claims (claimed_at)",
    # Live bot processes (one row per incarnation, refreshed while it runs): a claim left unfinished by
    # a process that stopped refreshing may be taken over; one held by a live process never is.
    """
    CREATE TABLE processes (
        incarnation TEXT PRIMARY KEY,
        last_seen   TEXT NOT NULL
    )
    """,
)

MIGRATIONS: tuple[Migration, ...] = (_V1, _V2, _V3, _V4)
"""All migrations in order; the schema version the code expects is len(MIGRATIONS)."""
