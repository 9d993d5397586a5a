"""Benchmark 4, storage: the SQLite repository under concurrency against plain aiosqlite running the same SQL.

    python -m bench.storage [--projects 10000] [--ops 20000] [--tasks 100]

`--tasks` concurrent tasks run `--ops` operations in all, per workload: thread → project lookups
(`get_project`), render updates (`update_render`), `mark_message_handled`, the once-only claim of a
new message (`claim_message`), and a mix (80/10/10 of the first three).
The same workload runs on `storage.open_sqlite` (what the bot uses), on one plain aiosqlite
connection with the same pragmas executing the very statements the repository executed (captured
from it, so they stay in step with storage/sqlite.py), and on plain synchronous sqlite3 in one
thread (no event loop at all: the machine's limit for these statements).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosqlite

from bench._common import median, print_machine, table
from bench.coldstart import build_database
from bot import runtime
from storage import open_sqlite
from storage.sqlite import SqliteRepository

Op = tuple[str, int, int]  # (kind, thread or render index, value)
Statement = tuple[str, tuple[Any, ...]]

SENTINEL_THREAD = 987_654_321_987
SENTINEL_MESSAGE = 876_543_210_876
SENTINEL_RENDER = "render_sentinel_42"
SENTINEL_PROGRESS = 4242
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # claims from a live process only (the bot's live path)


KNOWN_SQL: dict[str, Statement] = {
    "get_project": (
        "SELECT thread_id, guild_id, parent_id, owner_id, session_id, language, name, created_at, "
        "last_message_id FROM projects WHERE thread_id = ?",
        (SENTINEL_THREAD,),
    ),
    "mark_message_handled": (
        "UPDATE projects SET last_message_id = ? WHERE thread_id = ? AND "
        "(last_message_id IS NULL OR last_message_id < ?)",
        (SENTINEL_MESSAGE, SENTINEL_THREAD, SENTINEL_MESSAGE),
    ),
    "update_render": (
        "UPDATE renders SET status = COALESCE(?, status), progress = COALESCE(?, progress), "
        "url = COALESCE(?, url), error = COALESCE(?, error), "
        "status_message_id = COALESCE(?, status_message_id), link_posted = COALESCE(?, link_posted), "
        "updated_at = ? WHERE render_id = ?",
        (None, SENTINEL_PROGRESS, None, None, None, None, "2026-01-01T00:00:00.000000+00:00", SENTINEL_RENDER),
    ),
    "claim_message": (
        "INSERT INTO message_claims (message_id, thread_id, claimed_by, claimed_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (message_id) DO UPDATE SET claimed_by = excluded.claimed_by, "
        "claimed_at = excluded.claimed_at "
        "WHERE message_claims.done = 0 AND message_claims.claimed_by <> excluded.claimed_by "
        "AND NOT EXISTS (SELECT 1 FROM processes p WHERE p.incarnation = message_claims.claimed_by "
        "AND p.last_seen >= ?) RETURNING message_id",
        (
            SENTINEL_MESSAGE,
            SENTINEL_THREAD,
            "bench",
            "2026-01-01T00:00:00.000000+00:00",
            "1970-01-01T00:00:00.000000+00:00",
        ),
    ),
}
"""storage/sqlite.py's statements when this was written: the fallback when capturing fails."""


async def capture(repo: SqliteRepository) -> dict[str, Statement]:
    """Run each operation once with sentinel values and record the SQL and parameters it executed."""
    seen: list[Statement] = []
    original_execute = aiosqlite.Connection.execute
    original_fetchall = aiosqlite.Connection.execute_fetchall

    def execute(conn: aiosqlite.Connection, sql: str, parameters: Any = None) -> Any:
        seen.append((sql, tuple(parameters or ())))
        return original_execute(conn, sql, parameters)

    async def execute_fetchall(conn: aiosqlite.Connection, sql: str, parameters: Any = None) -> Any:
        seen.append((sql, tuple(parameters or ())))
        return await original_fetchall(conn, sql, parameters)

    setattr(aiosqlite.Connection, "execute", execute)  # noqa: B010 - capture only, restored below
    setattr(aiosqlite.Connection, "execute_fetchall", execute_fetchall)  # noqa: B010
    out: dict[str, Statement] = {}
    try:
        calls: dict[str, Callable[[], Awaitable[Any]]] = {
            "get_project": lambda: repo.get_project(SENTINEL_THREAD),
            "mark_message_handled": lambda: repo.mark_message_handled(SENTINEL_THREAD, SENTINEL_MESSAGE),
            "update_render": lambda: repo.update_render(SENTINEL_RENDER, progress=SENTINEL_PROGRESS),
            "claim_message": lambda: repo.claim_message(SENTINEL_THREAD, SENTINEL_MESSAGE, "bench", alive_after=EPOCH),
        }
        for name, call in calls.items():
            seen.clear()
            with contextlib.suppress(LookupError):  # an unknown render raises after its UPDATE ran
                await call()
            statements = [s for s in seen if not s[0].lstrip().upper().startswith("PRAGMA")]
            if len(statements) == 1:
                out[name] = statements[0]
            else:  # the repository bypassed execute()/execute_fetchall(): replay what it ran when written
                print(
                    f"note: could not capture the SQL of {name} ({len(statements)} statements seen); "
                    "the baselines replay the statement storage/sqlite.py used when this benchmark was written"
                )
                out[name] = KNOWN_SQL[name]
    finally:
        setattr(aiosqlite.Connection, "execute", original_execute)  # noqa: B010
        setattr(aiosqlite.Connection, "execute_fetchall", original_fetchall)  # noqa: B010
    return out


def bind(statement: Statement, thread_id: int, message_id: int, render_id: str, progress: int) -> Statement:
    """The captured statement with its sentinel parameters replaced by this operation's values."""
    swap: dict[Any, Any] = {
        SENTINEL_THREAD: thread_id,
        SENTINEL_MESSAGE: message_id,
        SENTINEL_RENDER: render_id,
        SENTINEL_PROGRESS: progress,
    }
    sql, params = statement
    return sql, tuple(swap.get(p, p) if isinstance(p, int | str) else p for p in params)


def workload(kind: str, ops: int, projects: int, renders: int, seed: int = 7) -> list[Op]:
    rng = random.Random(seed)
    out: list[Op] = []
    for i in range(ops):
        k = kind
        if kind == "mix":
            r = rng.random()
            k = "get_project" if r < 0.8 else "update_render" if r < 0.9 else "mark_message_handled"
        index = rng.randrange(projects if k != "update_render" else renders)
        out.append((k, index, i + 1))
    return out


async def run_tasks(ops: list[Op], tasks: int, one: Callable[[Op], Awaitable[None]]) -> float:
    """`tasks` workers share the operations; returns operations per second."""
    queue = iter(ops)

    async def worker() -> None:
        for op in queue:
            await one(op)

    started = time.perf_counter()
    async with asyncio.timeout(600):
        await asyncio.gather(*(worker() for _ in range(tasks)))
    return len(ops) / (time.perf_counter() - started)


async def bench(args: argparse.Namespace) -> int:
    print_machine()
    with tempfile.TemporaryDirectory(prefix="cutaway-storage-") as tmp:
        db = Path(tmp) / "bench.sqlite3"
        info = await build_database(db, args.projects, 30.0, args.projects)
        print(
            f"database: {args.projects:,} projects, {args.projects:,} renders ({info['bytes'] / 2**20:.1f} MiB); "
            f"{args.tasks} concurrent tasks, {args.ops:,} operations per workload",
            flush=True,
        )
        threads, render_ids = await asyncio.to_thread(_ids, db)
        repo = await open_sqlite(db)
        plain = await aiosqlite.connect(db, isolation_level=None)
        try:
            statements = await capture(repo)
            await _configure_like_repo(plain)
            base_message = max(threads) + 10**9
            run = [0]  # every run claims messages no run claimed before: each claim inserts a row

            def values(op: Op) -> tuple[int, int, str, int]:
                kind, index, n = op
                if kind == "update_render":
                    return threads[0], 0, render_ids[index], n % 100
                if kind == "claim_message":
                    return threads[index], base_message + run[0] * 10**7 + n, SENTINEL_RENDER, 0
                return threads[index], base_message + n, SENTINEL_RENDER, 0

            async def via_repo(op: Op) -> None:
                kind = op[0]
                thread_id, message_id, render_id, progress = values(op)
                if kind == "get_project":
                    await repo.get_project(thread_id)
                elif kind == "mark_message_handled":
                    await repo.mark_message_handled(thread_id, message_id)
                elif kind == "claim_message":
                    await repo.claim_message(thread_id, message_id, "bench", alive_after=EPOCH)
                else:
                    await repo.update_render(render_id, progress=progress)

            async def via_plain(op: Op) -> None:
                sql, params = bind(statements[op[0]], *values(op))
                if op[0] in ("get_project", "claim_message"):
                    await plain.execute_fetchall(sql, params)
                else:
                    cursor = await plain.execute(sql, params)
                    await cursor.close()

            rows = []
            for kind in ("get_project", "update_render", "mark_message_handled", "claim_message", "mix"):
                ops = workload(kind, args.ops, len(threads), len(render_ids))
                results: dict[str, list[float]] = {"repo": [], "plain": [], "sync": []}
                for _ in range(args.repeat):
                    run[0] += 1
                    results["repo"].append(await run_tasks(ops, args.tasks, via_repo))
                    run[0] += 1
                    results["plain"].append(await run_tasks(ops, args.tasks, via_plain))
                    run[0] += 1
                    results["sync"].append(
                        await asyncio.to_thread(_sync_run, db, [bind(statements[o[0]], *values(o)) for o in ops])
                    )
                best = {k: median(v) for k, v in results.items()}
                rows.append(
                    [
                        kind,
                        best["repo"],
                        best["plain"],
                        best["repo"] / best["plain"],
                        best["sync"],
                        best["repo"] / best["sync"],
                    ]
                )
        finally:
            await plain.close()
            await repo.close()
    print()
    print(
        table(
            ["workload", "repository ops/s", "plain aiosqlite ops/s", "repo/plain", "sqlite3 sync ops/s", "repo/sync"],
            rows,
            title=f"Storage under {args.tasks} concurrent tasks (median of {args.repeat}); the same SQL on all three",
        )
    )
    print("\nSQL the repository ran (and the baselines replay):")
    for name, (sql, _) in statements.items():
        print(f"  {name}: {' '.join(sql.split())}")
    return 0


async def _configure_like_repo(conn: aiosqlite.Connection) -> None:
    for pragma in (
        "PRAGMA busy_timeout = 5000",
        "PRAGMA foreign_keys = ON",
        "PRAGMA journal_mode = WAL",
        "PRAGMA synchronous = NORMAL",
    ):
        await conn.execute_fetchall(pragma)


def _ids(db: Path) -> tuple[list[int], list[str]]:
    conn = sqlite3.connect(db)
    try:
        threads = [r[0] for r in conn.execute("SELECT thread_id FROM projects ORDER BY thread_id")]
        renders = [r[0] for r in conn.execute("SELECT render_id FROM renders ORDER BY render_id")]
    finally:
        conn.close()
    return threads, renders


def _sync_run(db: Path, statements: Sequence[Statement]) -> float:
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        for pragma in ("PRAGMA busy_timeout = 5000", "PRAGMA foreign_keys = ON", "PRAGMA synchronous = NORMAL"):
            conn.execute(pragma)
        started = time.perf_counter()
        for sql, params in statements:
            conn.execute(sql, params).fetchall()
        return len(statements) / (time.perf_counter() - started)
    finally:
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.storage", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--projects", type=int, default=10_000, help="projects (and renders) stored (default 10000)")
    parser.add_argument("--ops", type=int, default=20_000, help="operations per workload (default 20000)")
    parser.add_argument("--tasks", type=int, default=100, help="concurrent tasks (default 100)")
    parser.add_argument("--repeat", type=int, default=5, help="runs per workload and variant (default 5; median)")
    args = parser.parse_args()
    started = time.monotonic()
    code = runtime.run(bench(args))  # the loop `python -m bot` runs on
    print(f"\n(total {time.monotonic() - started:.0f} s)")
    sys.exit(code)


if __name__ == "__main__":
    main()
