"""Contract tests for `storage.Repository`, plus SQLite- and PostgreSQL-specific checks.

The contract part runs against every backend listed in `BACKENDS` through the
`backend`/`repo` fixtures. SQLite always runs; PostgreSQL runs when
`CUTAWAY_TEST_PG_DSN` names a server where its role may create databases
(`eval "$(bash .ci/setup-postgres.sh)"` starts one), each test in a database of
its own that is dropped afterwards. Without the variable the PostgreSQL tests
skip, except under CI, where they fail: CI must run them.

SQLite internals are checked through the repository's own diagnostics, the file
header and the file system. The only SQL here is PostgreSQL administration
(creating and dropping test databases, reading pg_locks) and bulk-loading history
for the query-plan tests.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import stat
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import pytest

import storage
from storage import (
    AlreadyExistsError,
    AuthRecord,
    NotFoundError,
    OpenTurn,
    Project,
    RenderJob,
    RenderStatus,
    Repository,
    SchemaTooNewError,
    SqliteRepository,
    StorageError,
    open_repository,
    open_sqlite,
    pg_migrations,
)
from storage.migrations import MIGRATIONS
from storage.postgres import PostgresRepository, open_postgres, safe_dsn
from storage.repository import GuildSettings

REPO_ROOT = Path(__file__).resolve().parents[1]
T0 = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)
BIG_ID = 2**63 - 1  # Discord snowflakes are unsigned 64-bit but stay below this in practice


# --- backends ------------------------------------------------------------------------------------


@dataclass
class Backend:
    """How to (re)open the same store; `reopen` after `close` must see the same data."""

    name: str
    open: Callable[[], Awaitable[Repository]]


PG_DSN_VAR = "CUTAWAY_TEST_PG_DSN"
PG_HOW = 'eval "$(bash .ci/setup-postgres.sh)"'


def pg_admin_dsn() -> str:
    """The DSN of a role that may create databases; skip (locally) or fail (CI) without one."""
    dsn = os.environ.get(PG_DSN_VAR, "").strip()
    if dsn:
        return dsn
    if os.environ.get("CI"):
        pytest.fail(f"CI is set but {PG_DSN_VAR} is not: .ci/run must start PostgreSQL ({PG_HOW})", pytrace=False)
    pytest.skip(f"PostgreSQL tests need {PG_DSN_VAR} (start a throw-away server with: {PG_HOW})")


def dsn_for_database(dsn: str, database: str) -> str:
    """The same server and credentials, another database."""
    return urlsplit(dsn)._replace(path=f"/{database}").geturl()


@asynccontextmanager
async def fresh_pg_database() -> AsyncIterator[str]:
    """CREATE DATABASE test_<random> for one test, DROP it (closing stray sessions) afterwards."""
    admin_dsn = pg_admin_dsn()
    name = f"test_{uuid.uuid4().hex}"
    async with asyncio.timeout(30):
        admin = await asyncpg.connect(admin_dsn)
    try:
        async with asyncio.timeout(30):
            await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        try:
            yield dsn_for_database(admin_dsn, name)
        finally:
            async with asyncio.timeout(30):
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@asynccontextmanager
async def _sqlite_backend(tmp_path: Path) -> AsyncIterator[Backend]:
    path = tmp_path / "data" / "bot.sqlite3"
    yield Backend("sqlite", lambda: open_sqlite(path))


@asynccontextmanager
async def _postgres_backend(tmp_path: Path) -> AsyncIterator[Backend]:
    async with fresh_pg_database() as dsn:
        yield Backend("postgres", lambda: open_postgres(dsn))


BACKENDS: dict[str, Callable[[Path], AbstractAsyncContextManager[Backend]]] = {
    "sqlite": _sqlite_backend,
    "postgres": _postgres_backend,
}


@pytest.fixture(params=sorted(BACKENDS))
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    async with BACKENDS[request.param](tmp_path) as b:
        yield b


@pytest.fixture
async def pg_dsn() -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database for one PostgreSQL-only test."""
    async with fresh_pg_database() as dsn:
        yield dsn


@pytest.fixture
async def repo(backend: Backend) -> AsyncIterator[Repository]:
    r = await backend.open()
    try:
        yield r
    finally:
        await r.close()


# --- builders ------------------------------------------------------------------------------------


def project(thread_id: int = 100, **changes: object) -> Project:
    base = Project(
        thread_id=thread_id,
        guild_id=10,
        parent_id=20,
        owner_id=30,
        session_id=f"sess-{thread_id}",
        language="en",
        name=f"project {thread_id}",
        created_at=T0,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def render(render_id: str, thread_id: int = 100, **changes: object) -> RenderJob:
    base = RenderJob(
        render_id=render_id,
        thread_id=thread_id,
        session_id=f"sess-{thread_id}",
        requested_by=30,
        status=RenderStatus.PENDING,
        created_at=T0,
        updated_at=T0,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def assert_utc(value: datetime | None) -> None:
    assert value is not None
    assert value.tzinfo is not None
    assert value.utcoffset() == timedelta(0)


# === contract: projects ===========================================================================


async def test_project_round_trip_and_count(repo: Repository) -> None:
    assert await repo.get_project(100) is None
    assert await repo.count_projects() == 0
    p = project(100, guild_id=None, parent_id=None, last_message_id=7, name="Ünïcode ✂️")
    await repo.create_project(p)
    await repo.create_project(project(101))
    got = await repo.get_project(100)
    assert got == p
    assert got is not None
    assert_utc(got.created_at)
    assert await repo.count_projects() == 2


async def test_create_project_twice_is_refused_and_keeps_the_original(repo: Repository) -> None:
    await repo.create_project(project(100, name="first"))
    with pytest.raises(AlreadyExistsError):
        await repo.create_project(project(100, name="second"))
    got = await repo.get_project(100)
    assert got is not None and got.name == "first"
    assert await repo.count_projects() == 1


async def test_set_project_session_and_language(repo: Repository) -> None:
    await repo.create_project(project(100))
    await repo.create_project(project(101))
    await repo.set_project_session(100, "new-session")
    await repo.set_project_language(100, "zh")
    got = await repo.get_project(100)
    assert got is not None
    assert (got.session_id, got.language) == ("new-session", "zh")
    other = await repo.get_project(101)
    assert other == project(101)  # untouched


async def test_project_setters_on_unknown_thread_raise(repo: Repository) -> None:
    with pytest.raises(NotFoundError):
        await repo.set_project_session(999, "s")
    with pytest.raises(NotFoundError):
        await repo.set_project_language(999, "en")
    assert await repo.count_projects() == 0


async def test_mark_message_handled_never_moves_backwards(repo: Repository) -> None:
    await repo.create_project(project(100))
    await repo.mark_message_handled(100, 50)
    await repo.mark_message_handled(100, 40)
    got = await repo.get_project(100)
    assert got is not None and got.last_message_id == 50
    await repo.mark_message_handled(100, 50)
    await repo.mark_message_handled(100, BIG_ID)
    got = await repo.get_project(100)
    assert got is not None and got.last_message_id == BIG_ID


async def test_mark_message_handled_unknown_thread_is_a_noop(repo: Repository) -> None:
    await repo.mark_message_handled(999, 5)
    assert await repo.get_project(999) is None
    assert await repo.count_projects() == 0


async def test_big_snowflakes_round_trip(repo: Repository) -> None:
    p = project(BIG_ID, guild_id=BIG_ID - 1, parent_id=BIG_ID - 2, owner_id=BIG_ID - 3)
    await repo.create_project(p)
    assert await repo.get_project(BIG_ID) == p


async def test_datetimes_are_normalised_to_utc(repo: Repository) -> None:
    plus_eight = timezone(timedelta(hours=8))
    local = datetime(2024, 5, 1, 20, 0, 0, 1, tzinfo=plus_eight)
    await repo.create_project(project(100, created_at=local))
    got = await repo.get_project(100)
    assert got is not None
    assert got.created_at == local  # same instant
    assert got.created_at.tzinfo == UTC
    assert got.created_at.hour == 12


async def test_naive_datetimes_are_rejected(repo: Repository) -> None:
    with pytest.raises(ValueError, match="naive"):
        await repo.create_project(project(100, created_at=datetime(2024, 1, 1)))
    assert await repo.get_project(100) is None


# === contract: renders ============================================================================


async def test_render_round_trip_all_fields(repo: Repository) -> None:
    await repo.create_project(project(100))
    job = render(
        "r-1",
        status=RenderStatus.PROCESSING,
        progress=42,
        url="https://cdn.example/v.mp4",
        error="warn",
        status_message_id=BIG_ID,
        language="zh",
        link_posted=True,
        created_at=T0,
        updated_at=T0 + timedelta(seconds=5),
    )
    assert await repo.get_render("r-1") is None
    await repo.add_render(job)
    got = await repo.get_render("r-1")
    assert got == job
    assert got is not None
    assert_utc(got.created_at)
    assert_utc(got.updated_at)
    assert isinstance(got.status, RenderStatus)
    assert got.link_posted is True


@pytest.mark.parametrize("status", list(RenderStatus))
async def test_every_render_status_round_trips(repo: Repository, status: RenderStatus) -> None:
    """Guards the schema's status CHECK against a RenderStatus that grew without a migration."""
    await repo.create_project(project(100))
    await repo.add_render(render("r", status=status))
    got = await repo.get_render("r")
    assert got is not None and got.status is status


async def test_add_render_duplicate_and_unknown_thread(repo: Repository) -> None:
    await repo.create_project(project(100))
    await repo.add_render(render("r-1", progress=1))
    with pytest.raises(AlreadyExistsError):
        await repo.add_render(render("r-1", progress=2))
    got = await repo.get_render("r-1")
    assert got is not None and got.progress == 1
    with pytest.raises(NotFoundError):
        await repo.add_render(render("r-2", thread_id=999))
    assert await repo.get_render("r-2") is None


async def test_update_render_touches_only_given_fields(repo: Repository) -> None:
    await repo.create_project(project(100))
    original = render("r-1", url="https://u/1", error=None, status_message_id=77, language="zh")
    await repo.add_render(original)

    await repo.update_render("r-1", progress=55)
    got = await repo.get_render("r-1")
    assert got is not None
    assert got.progress == 55
    assert got.updated_at > original.updated_at
    assert_utc(got.updated_at)
    assert replace(got, progress=original.progress, updated_at=original.updated_at) == original

    first_bump = got.updated_at
    await repo.update_render(
        "r-1",
        status=RenderStatus.COMPLETED,
        url="https://u/2",
        error="none really",
        status_message_id=88,
        link_posted=True,
    )
    got = await repo.get_render("r-1")
    assert got is not None
    assert got.status is RenderStatus.COMPLETED
    assert (got.url, got.error, got.status_message_id, got.link_posted) == (
        "https://u/2",
        "none really",
        88,
        True,
    )
    assert got.progress == 55  # kept
    assert (got.created_at, got.language, got.session_id) == (T0, "zh", "sess-100")
    assert got.updated_at >= first_bump


async def test_update_render_without_fields_only_bumps_updated_at(repo: Repository) -> None:
    await repo.create_project(project(100))
    original = render("r-1", progress=3)
    await repo.add_render(original)
    await repo.update_render("r-1")
    got = await repo.get_render("r-1")
    assert got is not None
    assert got.updated_at > original.updated_at
    assert replace(got, updated_at=original.updated_at) == original


async def test_update_render_false_link_posted_is_applied(repo: Repository) -> None:
    """False is a value, not "not given"."""
    await repo.create_project(project(100))
    await repo.add_render(render("r-1", status=RenderStatus.COMPLETED, link_posted=True))
    await repo.update_render("r-1", link_posted=False)
    got = await repo.get_render("r-1")
    assert got is not None and got.link_posted is False
    await repo.update_render("r-1", progress=0)
    got = await repo.get_render("r-1")
    assert got is not None and got.progress == 0


async def test_update_unknown_render_raises(repo: Repository) -> None:
    with pytest.raises(NotFoundError):
        await repo.update_render("nope", progress=1)


async def test_unfinished_renders_exact_semantics(repo: Repository) -> None:
    await repo.create_project(project(100))
    expected: list[str] = []
    for i, status in enumerate(RenderStatus):
        for posted in (False, True):
            rid = f"{status.value}-{int(posted)}"
            # created_at descends so "oldest first" differs from insertion order
            await repo.add_render(
                render(rid, status=status, link_posted=posted, created_at=T0 - timedelta(minutes=2 * i + posted))
            )
            if not status.finished or (status is RenderStatus.COMPLETED and not posted):
                expected.append(rid)
    got = await repo.unfinished_renders()
    ids = [j.render_id for j in got]
    assert sorted(ids) == sorted(expected)
    assert "completed-0" in ids and "completed-1" not in ids
    assert "failed-0" not in ids and "cancelled-0" not in ids
    assert "starting-1" in ids  # unfinished regardless of link_posted
    assert [j.created_at for j in got] == sorted(j.created_at for j in got)


async def test_unfinished_renders_follow_updates(repo: Repository) -> None:
    await repo.create_project(project(100))
    await repo.add_render(render("a", status=RenderStatus.STARTING))
    await repo.add_render(render("b", status=RenderStatus.PENDING, created_at=T0 + timedelta(seconds=1)))
    assert [j.render_id for j in await repo.unfinished_renders()] == ["a", "b"]
    await repo.update_render("a", status=RenderStatus.COMPLETED, url="https://u")
    assert [j.render_id for j in await repo.unfinished_renders()] == ["a", "b"]  # link not posted yet
    await repo.update_render("a", link_posted=True)
    await repo.update_render("b", status=RenderStatus.FAILED, error="boom")
    assert await repo.unfinished_renders() == []


async def test_renders_for_thread_newest_first_with_paging(repo: Repository) -> None:
    await repo.create_project(project(100))
    await repo.create_project(project(200))
    for i in range(15):
        await repo.add_render(render(f"r-{i:02d}", created_at=T0 + timedelta(minutes=i)))
    await repo.add_render(render("other", thread_id=200, created_at=T0 + timedelta(days=1)))

    newest = [f"r-{i:02d}" for i in range(14, -1, -1)]
    assert [j.render_id for j in await repo.renders_for_thread(100)] == newest[:10]
    assert [j.render_id for j in await repo.renders_for_thread(100, limit=4, offset=10)] == newest[10:14]
    assert [j.render_id for j in await repo.renders_for_thread(100, limit=50, offset=14)] == newest[14:]
    assert await repo.renders_for_thread(100, offset=15) == []
    assert await repo.renders_for_thread(100, limit=0) == []
    assert [j.render_id for j in await repo.renders_for_thread(200)] == ["other"]
    assert await repo.renders_for_thread(300) == []
    with pytest.raises(ValueError):
        await repo.renders_for_thread(100, limit=-1)


async def test_renders_for_thread_equal_timestamps_last_inserted_first(repo: Repository) -> None:
    await repo.create_project(project(100))
    for rid in ("b", "a", "c"):
        await repo.add_render(render(rid))
    assert [j.render_id for j in await repo.renders_for_thread(100)] == ["c", "a", "b"]


# === contract: render leases and message claims (several processes on one store) ================


async def test_update_render_reports_and_fences_by_lease_generation(repo: Repository) -> None:
    await repo.create_project(project(100))
    await repo.add_render(render("r-1"))
    assert await repo.update_render("r-1", progress=1) is True
    generation = await repo.acquire_render_lease("r-1", "proc-a", 30)
    assert generation is not None
    assert await repo.update_render("r-1", progress=2, lease_generation=generation) is True
    assert await repo.update_render("r-1", progress=3, lease_generation=generation + 1) is False  # not current
    got = await repo.get_render("r-1")
    assert got is not None and got.progress == 2
    assert await repo.update_render("unknown", progress=1, lease_generation=1) is False  # fenced: no error


async def test_render_lease_lifecycle(repo: Repository) -> None:
    await repo.create_project(project(100))
    await repo.add_render(render("r-1"))
    first = await repo.acquire_render_lease("r-1", "proc-a", 30)
    assert first is not None
    assert await repo.acquire_render_lease("r-1", "proc-b", 30) is None  # held and valid
    again = await repo.acquire_render_lease("r-1", "proc-a", 30)  # ours already: re-taken, new generation
    assert again is not None and again > first
    assert await repo.renew_render_lease("r-1", "proc-a", again, 30) is True
    assert await repo.renew_render_lease("r-1", "proc-a", first, 30) is False  # stale generation
    assert await repo.renew_render_lease("r-1", "proc-b", again, 30) is False  # not the owner
    await repo.release_render_lease("r-1", "proc-b", again)  # not the owner: no effect
    assert await repo.acquire_render_lease("r-1", "proc-b", 30) is None
    await repo.release_render_lease("r-1", "proc-a", again)
    taken = await repo.acquire_render_lease("r-1", "proc-b", 30)
    assert taken is not None and taken > again
    assert await repo.update_render("r-1", progress=9, lease_generation=again) is False  # fenced off
    assert await repo.acquire_render_lease("unknown", "proc-a", 30) is None


async def test_expired_render_lease_is_taken_over(repo: Repository) -> None:
    await repo.create_project(project(100))
    await repo.add_render(render("r-1"))
    stale = await repo.acquire_render_lease("r-1", "proc-a", -1)  # expired at once
    assert stale is not None
    assert [j.render_id for j in await repo.claimable_renders()] == ["r-1"]
    taken = await repo.acquire_render_lease("r-1", "proc-b", 30)
    assert taken is not None and taken > stale
    assert await repo.renew_render_lease("r-1", "proc-a", stale, 30) is False  # the old owner learns it lost
    assert await repo.claimable_renders() == []


async def test_claimable_renders_are_unfinished_unleased_oldest_first(repo: Repository) -> None:
    await repo.create_project(project(100))
    for i, status in enumerate(RenderStatus):
        await repo.add_render(render(f"{status.value}", status=status, created_at=T0 - timedelta(minutes=i)))
    await repo.add_render(render("posted", status=RenderStatus.COMPLETED, link_posted=True))
    expected = sorted(
        (s for s in RenderStatus if not s.finished or s is RenderStatus.COMPLETED),
        key=lambda s: -list(RenderStatus).index(s),
    )
    assert [j.render_id for j in await repo.claimable_renders()] == [s.value for s in expected]
    assert await repo.acquire_render_lease("pending", "proc-a", 30) is not None
    ids = [j.render_id for j in await repo.claimable_renders()]
    assert "pending" not in ids and ids == [s.value for s in expected if s is not RenderStatus.PENDING]
    assert len(await repo.claimable_renders(limit=2)) == 2


async def test_message_claims(repo: Repository) -> None:
    await repo.heartbeat_process("proc-a")
    await repo.heartbeat_process("proc-b")
    alive_after = datetime.now(UTC) - timedelta(minutes=1)
    assert await repo.claim_message(100, 1, "proc-a", alive_after=alive_after) is True
    assert await repo.claim_message(100, 1, "proc-b", alive_after=alive_after) is False  # holder alive
    assert await repo.claim_message(100, 1, "proc-a", alive_after=alive_after) is False  # already ours
    # proc-a dies (its liveness row is older than alive_after): its unfinished claim is taken over
    await repo.forget_process("proc-a")
    assert await repo.claim_message(100, 1, "proc-b", alive_after=alive_after) is True
    await repo.finish_message(1)
    await repo.forget_process("proc-b")
    assert await repo.claim_message(100, 1, "proc-c", alive_after=alive_after) is False  # finished: never again
    assert await repo.claim_message(100, BIG_ID, "proc-c", alive_after=alive_after) is True


async def test_prune_message_claims(repo: Repository) -> None:
    await repo.heartbeat_process("proc-a")
    now = datetime.now(UTC)
    for message_id in (1, 2, 3):
        assert await repo.claim_message(100, message_id, "proc-a", alive_after=now - timedelta(minutes=1))
    assert await repo.prune_message_claims(now - timedelta(hours=1)) == 0
    assert await repo.prune_message_claims(now + timedelta(hours=1)) == 3
    # the liveness row went too, so a new claimant of message 1 is not blocked by it
    assert await repo.claim_message(100, 1, "proc-b", alive_after=now - timedelta(minutes=1)) is True


async def test_concurrent_claims_and_leases_have_one_winner(repo: Repository) -> None:
    await repo.create_project(project(100))
    await repo.add_render(render("r-1"))
    owners = [f"proc-{i}" for i in range(20)]
    for owner in owners:
        await repo.heartbeat_process(owner)
    alive_after = datetime.now(UTC) - timedelta(minutes=1)
    async with asyncio.timeout(20):
        claims = await asyncio.gather(*(repo.claim_message(100, 7, o, alive_after=alive_after) for o in owners))
        leases = await asyncio.gather(*(repo.acquire_render_lease("r-1", o, 30) for o in owners))
    assert claims.count(True) == 1
    assert [g for g in leases if g is not None] == [1]


# === contract: auth, turns, meta ===================================================================


async def test_auth_single_row_replace(repo: Repository) -> None:
    assert await repo.get_auth() is None
    first = AuthRecord(client_id="cid", token="tok", expires_at=T0, user_id="u1")
    await repo.save_auth(first)
    got = await repo.get_auth()
    assert got == first
    assert got is not None
    assert_utc(got.expires_at)
    cleared = AuthRecord(client_id="cid2")
    await repo.save_auth(cleared)
    assert await repo.get_auth() == cleared  # None fields really replace old values


async def test_open_turns_lifecycle(repo: Repository) -> None:
    await repo.create_project(project(100))
    await repo.create_project(project(200))
    assert await repo.open_turns() == []
    t1 = OpenTurn(100, 1, "hello", T0 + timedelta(seconds=2))
    t2 = OpenTurn(200, 5, "make it pop", T0)
    t3 = OpenTurn(100, 2, "再来一次", T0 + timedelta(seconds=1))
    for t in (t1, t2, t3):
        await repo.open_turn(t)
    assert await repo.open_turns() == [t2, t3, t1]  # oldest first

    t1b = replace(t1, preview="hello again", started_at=T0 + timedelta(seconds=9))
    await repo.open_turn(t1b)
    assert await repo.open_turns() == [t2, t3, t1b]

    await repo.close_turn(100, 2)
    await repo.close_turn(100, 2)  # idempotent
    await repo.close_turn(999, 1)  # unknown: no-op
    assert await repo.open_turns() == [t2, t1b]
    turns = await repo.open_turns()
    for t in turns:
        assert_utc(t.started_at)


async def test_open_turn_for_unknown_thread_raises(repo: Repository) -> None:
    with pytest.raises(NotFoundError):
        await repo.open_turn(OpenTurn(999, 1, "x", T0))
    assert await repo.open_turns() == []


async def test_guild_settings_contract(repo: Repository) -> None:
    assert await repo.all_guild_settings() == []
    await repo.add_project_channel(1, 10)
    await repo.add_project_channel(1, 10)  # twice: no-op
    await repo.add_project_channel(1, BIG_ID)
    await repo.set_guild_role(BIG_ID, 99)
    await repo.set_guild_role(1, None)
    assert await repo.all_guild_settings() == [
        GuildSettings(guild_id=1, project_channel_ids=frozenset({10, BIG_ID}), role_id=None),
        GuildSettings(guild_id=BIG_ID, project_channel_ids=frozenset(), role_id=99),
    ]
    await repo.set_guild_role(BIG_ID, 100)
    await repo.set_guild_role(1, 7)
    await repo.set_guild_role(1, None)  # cleared again: still listed, without a role
    settings = {g.guild_id: g for g in await repo.all_guild_settings()}
    assert settings[BIG_ID].role_id == 100
    assert settings[1] == GuildSettings(guild_id=1, project_channel_ids=frozenset({10, BIG_ID}), role_id=None)


async def test_meta_get_set_overwrite(repo: Repository) -> None:
    assert await repo.get_meta("commands_hash") is None
    await repo.set_meta("commands_hash", "abc")
    await repo.set_meta("other", "")
    assert await repo.get_meta("commands_hash") == "abc"
    await repo.set_meta("commands_hash", "déf ✓")
    assert await repo.get_meta("commands_hash") == "déf ✓"
    assert await repo.get_meta("other") == ""


# === contract: lifecycle and concurrency ==========================================================


async def test_close_is_idempotent_and_later_calls_fail(backend: Backend) -> None:
    r = await backend.open()
    await r.create_project(project(100))
    await asyncio.gather(r.close(), r.close())
    await r.close()
    with pytest.raises(StorageError):
        await r.get_project(100)
    with pytest.raises(StorageError):
        await r.set_meta("k", "v")


async def test_reopen_after_close_keeps_everything(backend: Backend) -> None:
    r = await backend.open()
    await r.create_project(project(100))
    await r.mark_message_handled(100, 77)
    await r.add_render(render("r-1", status=RenderStatus.PROCESSING))
    await r.update_render("r-1", progress=60)
    await r.save_auth(AuthRecord("cid", "tok", T0, "u"))
    await r.open_turn(OpenTurn(100, 77, "hi", T0))
    await r.set_meta("k", "v")
    before = (
        await r.get_project(100),
        await r.get_render("r-1"),
        await r.get_auth(),
        await r.open_turns(),
        await r.get_meta("k"),
    )
    await r.close()

    r2 = await backend.open()
    try:
        after = (
            await r2.get_project(100),
            await r2.get_render("r-1"),
            await r2.get_auth(),
            await r2.open_turns(),
            await r2.get_meta("k"),
        )
        assert after == before
        assert after[0] is not None and after[0].last_message_id == 77
        assert [j.render_id for j in await r2.unfinished_renders()] == ["r-1"]
    finally:
        await r2.close()


async def test_concurrent_mark_message_handled_keeps_the_max(repo: Repository) -> None:
    await repo.create_project(project(100))
    await repo.create_project(project(200))
    ids = list(range(1, 201))
    random.Random(7).shuffle(ids)
    async with asyncio.timeout(20):
        await asyncio.gather(
            *(repo.mark_message_handled(100, i) for i in ids),
            *(repo.mark_message_handled(200, i * 3) for i in ids),
        )
    p100, p200 = await repo.get_project(100), await repo.get_project(200)
    assert p100 is not None and p100.last_message_id == 200
    assert p200 is not None and p200.last_message_id == 600


async def test_concurrent_update_render_loses_no_field(repo: Repository) -> None:
    """Updates of different fields racing each other must all land (no read-modify-write)."""
    await repo.create_project(project(100))
    await repo.add_render(render("r-1"))
    progress_updates = [repo.update_render("r-1", progress=i % 100) for i in range(200)]
    others = [
        repo.update_render("r-1", url="https://u/final"),
        repo.update_render("r-1", status_message_id=555),
        repo.update_render("r-1", error="late warning"),
        repo.update_render("r-1", status=RenderStatus.PROCESSING),
    ]
    calls = progress_updates + others
    random.Random(3).shuffle(calls)
    async with asyncio.timeout(20):
        results = await asyncio.gather(*calls, return_exceptions=True)
    assert [r for r in results if isinstance(r, BaseException)] == []
    got = await repo.get_render("r-1")
    assert got is not None
    assert (got.url, got.status_message_id, got.error, got.status) == (
        "https://u/final",
        555,
        "late warning",
        RenderStatus.PROCESSING,
    )
    assert 0 <= got.progress < 100


async def test_concurrent_create_project_exactly_one_wins(repo: Repository) -> None:
    async with asyncio.timeout(20):
        results = await asyncio.gather(
            *(repo.create_project(project(100, name=f"n{i}")) for i in range(30)), return_exceptions=True
        )
    winners = [r for r in results if r is None]
    assert len(winners) == 1
    assert all(isinstance(r, AlreadyExistsError) for r in results if r is not None)
    assert await repo.count_projects() == 1


async def test_concurrent_mixed_workload(repo: Repository) -> None:
    async def one_thread(tid: int) -> None:
        await repo.create_project(project(tid))
        await repo.open_turn(OpenTurn(tid, 1, "p", T0))
        await repo.add_render(render(f"r-{tid}", thread_id=tid))
        await repo.mark_message_handled(tid, 1)
        await repo.update_render(f"r-{tid}", status=RenderStatus.COMPLETED, progress=100)
        await repo.close_turn(tid, 1)
        assert (await repo.get_render(f"r-{tid}")) is not None

    async with asyncio.timeout(20):
        await asyncio.gather(*(one_thread(tid) for tid in range(1, 51)))
    assert await repo.count_projects() == 50
    assert await repo.open_turns() == []
    assert len(await repo.unfinished_renders()) == 50  # completed, links not posted


async def test_cancelled_writers_leave_the_store_consistent(backend: Backend) -> None:
    r = await backend.open()
    await r.create_project(project(100))
    tasks = [asyncio.create_task(r.mark_message_handled(100, i)) for i in range(1, 101)]
    await asyncio.sleep(0)  # let some of them start
    for t in tasks[::2]:
        t.cancel()
    async with asyncio.timeout(20):
        await asyncio.gather(*tasks, return_exceptions=True)
    await r.mark_message_handled(100, 1000)
    await r.set_meta("after", "cancel")
    await r.close()
    r2 = await backend.open()
    try:
        got = await r2.get_project(100)
        assert got is not None and got.last_message_id == 1000
        assert await r2.get_meta("after") == "cancel"
    finally:
        await r2.close()


# === open_repository ===============================================================================


async def test_open_repository_returns_a_working_sqlite_repo(tmp_path: Path) -> None:
    r = await open_repository(tmp_path / "x" / "db.sqlite3")
    try:
        assert isinstance(r, SqliteRepository)
        await r.set_meta("a", "b")
        assert await r.get_meta("a") == "b"
    finally:
        await r.close()


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
async def test_open_repository_returns_a_working_postgres_repo(pg_dsn: str, scheme: str) -> None:
    url = scheme + pg_dsn[pg_dsn.index("://") :]
    r = await open_repository(url)
    try:
        assert isinstance(r, PostgresRepository)
        await r.set_meta("a", "b")
        assert await r.get_meta("a") == "b"
    finally:
        await r.close()


async def test_open_repository_unreachable_postgres_is_a_storage_error_without_the_password() -> None:
    """A postgresql:// URL is never taken for a SQLite file name, and a dead server is one clear error."""
    with pytest.raises(StorageError, match="cannot connect to PostgreSQL") as caught:
        async with asyncio.timeout(20):
            await open_repository("postgresql://cutaway:s3cret-pw@127.0.0.1:1/cutaway")
    assert "s3cret-pw" not in str(caught.value)
    assert "127.0.0.1:1/cutaway" in str(caught.value)


async def test_in_memory_database() -> None:
    async with await open_sqlite(storage.MEMORY) as r:
        assert r.path is None
        await r.create_project(project(1))
        assert await r.count_projects() == 1
    assert r.closed


# === SQLite specifics ==============================================================================


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """Prove modes are set explicitly, not inherited from a strict umask."""
    old = os.umask(0)
    try:
        yield None
    finally:
        os.umask(old)


async def test_file_and_created_folders_are_owner_only(tmp_path: Path, permissive_umask: object) -> None:
    tmp_path.chmod(0o755)
    db = tmp_path / "a" / "b" / "bot.sqlite3"
    async with await open_sqlite(db) as r:
        await r.create_project(project(1))
        assert _mode(db) == 0o600
        for suffix in ("-wal", "-shm"):
            sibling = db.with_name(db.name + suffix)
            assert sibling.exists(), suffix
            assert _mode(sibling) == 0o600, suffix
    assert _mode(tmp_path / "a") == 0o700
    assert _mode(tmp_path / "a" / "b") == 0o700
    assert _mode(tmp_path) == 0o755  # existed before: not ours to change


async def test_existing_folder_kept_and_loose_file_tightened(tmp_path: Path, permissive_umask: object) -> None:
    folder = tmp_path / "shared"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    db = folder / "bot.sqlite3"
    db.touch()
    db.chmod(0o644)
    async with await open_sqlite(db):
        pass
    assert _mode(folder) == 0o755
    assert _mode(db) == 0o600


async def test_connection_settings(tmp_path: Path) -> None:
    db = tmp_path / "bot.sqlite3"
    async with await open_sqlite(db) as r:
        d = await r.diagnostics()
    assert d["journal_mode"] == "wal"
    assert d["synchronous"] == 1  # NORMAL
    assert d["foreign_keys"] == 1
    assert int(d["busy_timeout"]) >= 1000
    assert d["user_version"] == len(MIGRATIONS)
    header = db.read_bytes()[:100]
    assert header[:16] == b"SQLite format 3\x00"
    assert header[18:20] == b"\x02\x02"  # WAL read/write versions: WAL is persistent in the file


async def test_migrations_are_idempotent(tmp_path: Path) -> None:
    db = tmp_path / "bot.sqlite3"
    async with await open_sqlite(db) as r:
        await r.create_project(project(1))
    async with await open_sqlite(db) as r:
        assert (await r.diagnostics())["user_version"] == len(MIGRATIONS)
        assert await r.count_projects() == 1


async def test_concurrent_first_open_migrates_once(tmp_path: Path) -> None:
    """Several processes starting together on a fresh file (one connection each here)."""
    db = tmp_path / "bot.sqlite3"
    async with asyncio.timeout(20):
        repos = await asyncio.gather(*(open_sqlite(db) for _ in range(4)))
    try:
        await repos[0].create_project(project(1))
        for r in repos:
            assert await r.count_projects() == 1
            assert (await r.diagnostics())["user_version"] == len(MIGRATIONS)
    finally:
        for r in repos:
            await r.close()


async def test_newer_schema_on_disk_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "bot.sqlite3"
    future = (*MIGRATIONS, ())  # a newer bot with one more (empty) migration
    async with await open_sqlite(db, migrations=future) as r:
        await r.create_project(project(1))
        assert (await r.diagnostics())["user_version"] == len(MIGRATIONS) + 1
    with pytest.raises(SchemaTooNewError, match="newer"):
        await open_sqlite(db)
    async with await open_sqlite(db, migrations=future) as r:  # untouched by the refusal
        assert await r.count_projects() == 1


async def test_failed_migration_is_rolled_back(tmp_path: Path) -> None:
    db = tmp_path / "bot.sqlite3"
    broken = ((*MIGRATIONS[0], "this is not valid"),)  # creates every table, then fails
    with pytest.raises(Exception, match="syntax error"):
        await open_sqlite(db, migrations=broken)
    # Had the tables survived, migration 1 would now fail with "table already exists".
    async with await open_sqlite(db) as r:
        assert (await r.diagnostics())["user_version"] == len(MIGRATIONS)
        await r.create_project(project(1))
        assert await r.count_projects() == 1


async def test_unfinished_renders_uses_the_partial_index(tmp_path: Path) -> None:
    async with await open_sqlite(tmp_path / "bot.sqlite3") as r:
        await r.create_project(project(1))
        for i in range(30):
            finished = i % 3 != 0
            await r.add_render(
                render(
                    f"r{i}",
                    thread_id=1,
                    status=RenderStatus.COMPLETED if finished else RenderStatus.PROCESSING,
                    link_posted=finished,
                )
            )
        plan = await r.explain_unfinished_renders()
        assert len(await r.unfinished_renders()) == 10
    text = " | ".join(plan)
    assert "renders_unfinished" in text, plan
    for step in plan:
        if "renders" in step and step.startswith(("SCAN", "SEARCH")):
            assert "USING" in step and "INDEX" in step, plan  # never a bare full-table scan
    assert "TEMP B-TREE" not in text, plan  # the index already gives the order


_CHILD = r"""
import asyncio, os, signal, sys
from datetime import UTC, datetime
from storage import OpenTurn, Project, RenderJob, RenderStatus, open_sqlite

async def main(path: str, mode: str) -> None:
    repo = await open_sqlite(path)
    now = datetime.now(UTC)
    for t in range(1, 21):
        await repo.create_project(Project(t, 1, 2, 3, f"s{t}", "en", f"p{t}", now))
        await repo.mark_message_handled(t, 1000 + t)
        await repo.add_render(RenderJob(f"r{t}", t, f"s{t}", 3, RenderStatus.PROCESSING, now, now))
        await repo.update_render(f"r{t}", progress=t)
    await repo.open_turn(OpenTurn(1, 1001, "pending turn", now))
    await repo.set_meta("written", "yes")
    sys.stdout.write("READY\n")
    sys.stdout.flush()
    if mode == "exit":
        os._exit(1)  # no close, no atexit, no finalizers
    await asyncio.sleep(60)  # wait for SIGKILL

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


@pytest.mark.e2e
@pytest.mark.parametrize("mode", ["exit", "sigkill"])
async def test_committed_rows_survive_a_crash(tmp_path: Path, mode: str) -> None:
    db = tmp_path / "crash" / "bot.sqlite3"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _CHILD,
        str(db),
        mode,
        cwd=REPO_ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(20):
            line = await proc.stdout.readline()
            if mode == "sigkill" and line == b"READY\n":
                proc.send_signal(signal.SIGKILL)
            _, err = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await asyncio.wait_for(proc.wait(), 10)
    assert line == b"READY\n", err.decode()
    assert proc.returncode == (1 if mode == "exit" else -signal.SIGKILL)
    assert db.with_name(db.name + "-wal").exists()  # died without a checkpoint

    async with await open_sqlite(db) as r:
        assert await r.count_projects() == 20
        p = await r.get_project(20)
        assert p is not None and p.last_message_id == 1020
        job = await r.get_render("r20")
        assert job is not None and job.progress == 20 and job.status is RenderStatus.PROCESSING
        assert len(await r.unfinished_renders()) == 20
        assert [t.preview for t in await r.open_turns()] == ["pending turn"]
        assert await r.get_meta("written") == "yes"


# === PostgreSQL specifics ==========================================================================

PG_VERSION = len(pg_migrations.MIGRATIONS)
_ADVISORY_IN_THIS_DB = (
    "locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)


def test_pg_dsn_missing_skips_locally_and_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PG_DSN_VAR, raising=False)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=PG_DSN_VAR):
        pg_admin_dsn()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=f"CI is set but {PG_DSN_VAR}"):
        pg_admin_dsn()
    monkeypatch.setenv(PG_DSN_VAR, "postgresql://u@127.0.0.1:5/db")
    assert pg_admin_dsn() == "postgresql://u@127.0.0.1:5/db"


@pytest.mark.parametrize(
    ("dsn", "shown"),
    [
        ("postgresql://bot:hunter2@127.0.0.1:5432/cutaway", "postgresql://bot:***@127.0.0.1:5432/cutaway"),
        (
            "postgres://bot:p%40ss@db.internal/cutaway?sslmode=require",
            "postgres://bot:***@db.internal/cutaway?sslmode=require",
        ),
        ("postgresql://bot@[::1]:6432/x", "postgresql://bot@[::1]:6432/x"),
        ("postgresql://bot:pw@[::1]:6432/x", "postgresql://bot:***@[::1]:6432/x"),
    ],
)
def test_pg_safe_dsn_hides_only_the_password(dsn: str, shown: str) -> None:
    assert safe_dsn(dsn) == shown


async def test_pg_schema_version_rows_and_diagnostics(pg_dsn: str) -> None:
    async with await open_postgres(pg_dsn) as r:
        d = await r.diagnostics()
        assert d["schema_version"] == PG_VERSION
        assert d["database"] == urlsplit(pg_dsn).path.lstrip("/")
        assert "password" not in r.dsn and ":***@" in r.dsn
    async with await open_postgres(pg_dsn) as r:  # reopening applies nothing twice
        assert (await r.diagnostics())["schema_version"] == PG_VERSION
    conn = await asyncpg.connect(pg_dsn)
    try:
        versions = [row["version"] for row in await conn.fetch("SELECT version FROM schema_version ORDER BY 1")]
    finally:
        await conn.close()
    assert versions == list(range(1, PG_VERSION + 1))


_PG_MIGRATOR = r"""
import asyncio, logging, sys
from storage.postgres import open_postgres

async def main(dsn: str) -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("LOG %(message)s"))
    logging.getLogger("storage").addHandler(handler)
    logging.getLogger("storage").setLevel(logging.DEBUG)  # each step (DEBUG), not only the summary (INFO)
    sys.stdout.write("READY\n")
    sys.stdout.flush()
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)  # the starting gun
    repo = await open_postgres(dsn, max_size=2)
    version = (await repo.diagnostics())["schema_version"]
    await repo.close()
    sys.stdout.write(f"VERSION {version}\n")

asyncio.run(main(sys.argv[1]))
"""


def _child_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO_ROOT)}


@pytest.mark.e2e
async def test_pg_five_processes_starting_together_migrate_exactly_once(pg_dsn: str) -> None:
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            _PG_MIGRATOR,
            pg_dsn,
            cwd=REPO_ROOT,
            env=_child_env(),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(5)
    ]
    try:
        async with asyncio.timeout(60):
            for proc in procs:  # every interpreter is up and asyncpg imported: the race is only the opening
                assert proc.stdout is not None
                ready = await proc.stdout.readline()
                assert ready == b"READY\n", (ready, await proc.stderr.read() if proc.stderr else b"")
            results = await asyncio.gather(*(proc.communicate(b"GO\n") for proc in procs))
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
                await asyncio.wait_for(proc.wait(), 10)
    outputs = [out.decode() for out, _ in results]
    for proc, (_, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err.decode()
    for out in outputs:
        assert f"VERSION {PG_VERSION}" in out.splitlines(), out
    applied = sorted(line for out in outputs for line in out.splitlines() if "migrated to schema version " in line)
    assert applied == [f"LOG PostgreSQL database migrated to schema version {v}" for v in range(1, PG_VERSION + 1)]
    conn = await asyncpg.connect(pg_dsn)
    try:
        versions = [row["version"] for row in await conn.fetch("SELECT version FROM schema_version ORDER BY 1")]
        assert versions == list(range(1, PG_VERSION + 1))
        assert await conn.fetchval("SELECT count(*) FROM pg_locks WHERE " + _ADVISORY_IN_THIS_DB) == 0
    finally:
        await conn.close()


async def test_pg_concurrent_first_open_in_one_process(pg_dsn: str) -> None:
    async with asyncio.timeout(30):
        repos = await asyncio.gather(*(open_postgres(pg_dsn, max_size=2) for _ in range(4)))
    try:
        await repos[0].create_project(project(1))
        for r in repos:
            assert await r.count_projects() == 1
            assert (await r.diagnostics())["schema_version"] == PG_VERSION
    finally:
        await asyncio.gather(*(r.close() for r in repos))


async def test_pg_migrator_waits_while_another_holds_the_migration_lock(pg_dsn: str) -> None:
    other = await asyncpg.connect(pg_dsn)
    opening: asyncio.Task[PostgresRepository] | None = None
    try:
        holder = other.transaction()
        await holder.start()
        await other.execute("SELECT pg_advisory_xact_lock($1)", pg_migrations.MIGRATION_LOCK_KEY)
        opening = asyncio.create_task(open_postgres(pg_dsn))
        async with asyncio.timeout(20):  # until the migrator is queued behind our lock
            waiting = f"SELECT count(*) > 0 FROM pg_locks WHERE NOT granted AND {_ADVISORY_IN_THIS_DB}"
            while not await other.fetchval(waiting):
                assert not opening.done(), "the migrator did not wait for the lock"
                await asyncio.sleep(0.01)
        assert not opening.done()
        await holder.commit()  # ends our transaction, and with it our lock
        async with asyncio.timeout(20):
            repo = await opening
        async with repo:
            assert (await repo.diagnostics())["schema_version"] == PG_VERSION
            assert await other.fetchval("SELECT count(*) FROM pg_locks WHERE " + _ADVISORY_IN_THIS_DB) == 0
    finally:
        if opening is not None and not opening.done():
            opening.cancel()
            await asyncio.gather(opening, return_exceptions=True)
        await other.close()


async def test_pg_migration_lock_is_held_for_each_step_and_released_with_its_transaction(pg_dsn: str) -> None:
    """On a plain connection (no pool reset to hide a leak): held during the step, gone after it."""
    witness = (
        *pg_migrations.MIGRATIONS,
        (
            "CREATE TABLE lock_witness AS SELECT count(*) AS held FROM pg_locks "
            f"WHERE pid = pg_backend_pid() AND granted AND objid = {pg_migrations.MIGRATION_LOCK_KEY & 0xFFFFFFFF} "
            f"AND {_ADVISORY_IN_THIS_DB}",
        ),
    )
    conn = await asyncpg.connect(pg_dsn)
    try:
        assert await storage.postgres.migrate(conn, witness) == PG_VERSION + 1
        assert await conn.fetchval("SELECT held FROM lock_witness") == 1
        # The session is still open, yet holds nothing: the lock was transaction scoped.
        held = "SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'advisory'"
        assert await conn.fetchval(held) == 0
        assert await storage.postgres.migrate(conn, witness) == 0
    finally:
        await conn.close()


async def test_pg_newer_schema_is_refused(pg_dsn: str) -> None:
    future = (*pg_migrations.MIGRATIONS, ())  # a newer bot with one more (empty) migration
    async with await open_postgres(pg_dsn, migrations=future) as r:
        await r.create_project(project(1))
        assert (await r.diagnostics())["schema_version"] == PG_VERSION + 1
    with pytest.raises(SchemaTooNewError, match="newer"):
        await open_postgres(pg_dsn)
    async with await open_postgres(pg_dsn, migrations=future) as r:  # untouched by the refusal
        assert await r.count_projects() == 1


async def test_pg_failed_migration_is_rolled_back(pg_dsn: str) -> None:
    broken = ((*pg_migrations.MIGRATIONS[0], "this is not valid"),)  # creates every table, then fails
    with pytest.raises(asyncpg.PostgresSyntaxError, match="syntax error"):
        await open_postgres(pg_dsn, migrations=broken)
    # Had the tables survived, migration 1 would now fail with "relation already exists".
    async with await open_postgres(pg_dsn) as r:
        assert (await r.diagnostics())["schema_version"] == PG_VERSION
        await r.create_project(project(1))
        assert await r.count_projects() == 1


async def test_pg_two_processes_share_one_database_without_lost_writes(pg_dsn: str) -> None:
    """Two pools stand for two bot processes: races between them resolve like races within one."""
    a = await open_postgres(pg_dsn, max_size=4)
    b = await open_postgres(pg_dsn, max_size=4)
    try:
        async with asyncio.timeout(30):
            results = await asyncio.gather(
                *((a if i % 2 else b).create_project(project(100, name=f"n{i}")) for i in range(20)),
                return_exceptions=True,
            )
            assert [r for r in results if r is None] == [None]
            assert all(isinstance(r, AlreadyExistsError) for r in results if r is not None)

            ids = list(range(1, 301))
            random.Random(11).shuffle(ids)
            await asyncio.gather(*((a if i % 2 else b).mark_message_handled(100, i) for i in ids))

            await a.add_render(render("r-1"))
            calls = [a.update_render("r-1", progress=i % 100) for i in range(100)] + [
                b.update_render("r-1", url="https://u/final"),
                b.update_render("r-1", status_message_id=555),
                b.update_render("r-1", error="late warning"),
                b.update_render("r-1", status=RenderStatus.COMPLETED),
            ]
            random.Random(5).shuffle(calls)
            await asyncio.gather(*calls)
        got = await b.get_project(100)
        assert got is not None and got.last_message_id == 300
        job = await a.get_render("r-1")
        assert job is not None
        assert (job.url, job.status_message_id, job.error, job.status) == (
            "https://u/final",
            555,
            "late warning",
            RenderStatus.COMPLETED,
        )
        assert [j.render_id for j in await b.unfinished_renders()] == ["r-1"]  # completed, link not posted
        await b.update_render("r-1", link_posted=True)
        assert await a.unfinished_renders() == []
    finally:
        await asyncio.gather(a.close(), b.close())


async def test_pg_start_up_queries_use_their_indexes_not_table_scans(pg_dsn: str) -> None:
    async with await open_postgres(pg_dsn) as r:
        await r.create_project(project(1, last_message_id=1))
        for i in range(5):
            await r.add_render(
                render(f"open-{i}", thread_id=1, status=RenderStatus.PROCESSING, created_at=T0 + timedelta(seconds=i))
            )
        conn = await asyncpg.connect(pg_dsn)
        try:  # a long history: 5000 old threads and 5000 finished, posted renders
            await conn.execute(
                "INSERT INTO projects (thread_id, owner_id, session_id, language, name, created_at, last_message_id) "
                "SELECT g, 3, 's', 'en', 'old', now(), g FROM generate_series(2, 5001) g"
            )
            await conn.execute(
                "INSERT INTO renders (render_id, thread_id, session_id, requested_by, status, link_posted, "
                "created_at, updated_at) SELECT 'old-' || g, 1, 's', 3, "
                "(ARRAY['completed', 'failed', 'cancelled'])[1 + g % 3], true, "
                "now() - g * interval '1 minute', now() FROM generate_series(1, 5000) g"
            )
        finally:
            await conn.close()
        await r.analyze()

        unfinished_plan = "\n".join(await r.explain_unfinished_renders())
        assert "renders_unfinished" in unfinished_plan, unfinished_plan
        assert "Seq Scan" not in unfinished_plan, unfinished_plan
        assert "Sort" not in unfinished_plan, unfinished_plan  # the index already gives the order
        assert [j.render_id for j in await r.unfinished_renders()] == [f"open-{i}" for i in range(5)]

        active_plan = "\n".join(await r.explain_active_projects(4990))
        assert "projects_last_message" in active_plan, active_plan
        assert "Seq Scan" not in active_plan, active_plan
        assert [p.thread_id for p in await r.active_projects(4990)] == list(range(5001, 4990, -1))
        assert [p.thread_id for p in await r.active_projects(4990, limit=3)] == [5001, 5000, 4999]
        assert len(await r.active_projects(0, limit=-1)) == 5001  # negative: no limit, as in SQLite


async def test_pg_database_time_zone_does_not_leak_into_datetimes(pg_dsn: str) -> None:
    name = urlsplit(pg_dsn).path.lstrip("/")
    conn = await asyncpg.connect(pg_dsn)
    try:
        await conn.execute(f"ALTER DATABASE \"{name}\" SET timezone = 'Asia/Shanghai'")
    finally:
        await conn.close()
    plus_eight = timezone(timedelta(hours=8))
    local = datetime(2024, 5, 1, 20, 0, 0, 1, tzinfo=plus_eight)
    async with await open_postgres(pg_dsn) as r:
        await r.create_project(project(100, created_at=local))
        await r.add_render(render("r-1", created_at=local, updated_at=local))
        await r.update_render("r-1", progress=1)  # updated_at from the server clock
        await r.save_auth(AuthRecord("cid", expires_at=local))
        got = await r.get_project(100)
        job = await r.get_render("r-1")
        auth = await r.get_auth()
    assert got is not None and job is not None and auth is not None
    assert got.created_at == local and got.created_at.tzinfo == UTC and got.created_at.hour == 12
    assert auth.expires_at == local and auth.expires_at is not None and auth.expires_at.tzinfo == UTC
    assert job.updated_at.tzinfo == UTC
    assert abs(job.updated_at - datetime.now(UTC)) < timedelta(minutes=5)


_PG_CRASHER = r"""
import asyncio, os, sys
from datetime import UTC, datetime
import asyncpg
from storage import OpenTurn, Project, RenderJob, RenderStatus
from storage.pg_migrations import MIGRATION_LOCK_KEY
from storage.postgres import open_postgres

async def main(dsn: str) -> None:
    repo = await open_postgres(dsn)
    now = datetime.now(UTC)
    for t in range(1, 21):
        await repo.create_project(Project(t, 1, 2, 3, f"s{t}", "en", f"p{t}", now))
        await repo.mark_message_handled(t, 1000 + t)
        await repo.add_render(RenderJob(f"r{t}", t, f"s{t}", 3, RenderStatus.PROCESSING, now, now))
        await repo.update_render(f"r{t}", progress=t)
    await repo.open_turn(OpenTurn(1, 1001, "pending turn", now))
    await repo.set_meta("written", "yes")
    # Then die in the middle of a migration step: lock taken, transaction open.
    conn = await asyncpg.connect(dsn)
    tr = conn.transaction()
    await tr.start()
    await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK_KEY)
    await conn.execute("CREATE TABLE half_done (x int)")
    sys.stdout.write("READY\n")
    sys.stdout.flush()
    await asyncio.sleep(60)  # wait for SIGKILL

asyncio.run(main(sys.argv[1]))
"""


@pytest.mark.e2e
async def test_pg_process_killed_mid_migration_loses_nothing_committed_and_blocks_no_one(pg_dsn: str) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _PG_CRASHER,
        pg_dsn,
        cwd=REPO_ROOT,
        env=_child_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(30):
            line = await proc.stdout.readline()
            if line == b"READY\n":
                proc.send_signal(signal.SIGKILL)
            _, err = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await asyncio.wait_for(proc.wait(), 10)
    assert line == b"READY\n", err.decode()
    assert proc.returncode == -signal.SIGKILL

    async with asyncio.timeout(20):  # the dead session's lock died with it
        r = await open_postgres(pg_dsn)
    async with r:
        assert await r.count_projects() == 20
        p = await r.get_project(20)
        assert p is not None and p.last_message_id == 1020
        job = await r.get_render("r20")
        assert job is not None and job.progress == 20 and job.status is RenderStatus.PROCESSING
        assert len(await r.unfinished_renders()) == 20
        assert [t.preview for t in await r.open_turns()] == ["pending turn"]
        assert await r.get_meta("written") == "yes"
    conn = await asyncpg.connect(pg_dsn)
    try:  # the killed transaction was rolled back
        assert await conn.fetchval("SELECT to_regclass('half_done')") is None
    finally:
        await conn.close()
