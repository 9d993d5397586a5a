"""Benchmark 3, cold start: `python -m bot` from spawn to ready, with an empty and a 100,000-project database.

    python -m bench.coldstart [--projects 100000] [--repeat 3]

The real `python -m bot` runs in a subprocess against the fake Discord and the fake NemoVideo
(both in this process; only wall time is measured). Milestones, all from process spawn:
first REST request (interpreter + imports + config), gateway IDENTIFY (login + `setup_hook`:
database, cogs, command hash, catch-up query), the first slash command answered (a `/credits`
sent the moment READY went out: the deferral, then the answer), `on_ready` (its log line), and
the first resumed render poll. Then one traced in-process start lists every SQL statement the
bot runs up to ready with SQLite's query plan, to show that none scans a whole table.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import re
import signal
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import discord

from bench._common import APPLICATION_ID, BOT_USER_ID, JSON, NEMO_TOKEN, TOKEN, TimedList, median, print_machine, table
from devkit.fakes.discord import FakeDiscord
from devkit.fakes.nemo import FakeNemo
from devkit.fakes.nemo import RenderJob as FakeRenderJob
from storage import Project, RenderJob, RenderStatus, open_sqlite

TARGET_SECONDS = 2.0
REPO_ROOT = Path(__file__).resolve().parents[1]
UNFINISHED_RENDERS = 20


# --------------------------------------------------------------------------- databases


def snowflake_days_ago(days: float) -> int:
    return discord.utils.time_snowflake(datetime.now(UTC) - timedelta(days=days))


async def build_database(path: Path, projects: int, active_days: float, finished_renders: int) -> JSON:
    """Migrate with the real storage, store one project and render as templates, then bulk-copy them
    with sqlite3 (same columns, whatever the schema grows). Projects' last activity is spread evenly
    over `active_days`; renders: `finished_renders` done ones plus UNFINISHED_RENDERS to resume."""
    repo = await open_sqlite(path)
    now = datetime.now(UTC)
    try:
        if projects:
            await repo.create_project(
                Project(
                    thread_id=snowflake_days_ago(active_days + 1),
                    guild_id=1,
                    parent_id=2,
                    owner_id=3,
                    session_id="1000000000000000000",
                    language="en",
                    name="template",
                    created_at=now,
                    last_message_id=snowflake_days_ago(active_days + 1),
                )
            )
            template = await repo.active_projects(0, limit=1)
            await repo.add_render(
                RenderJob(
                    render_id="render_template",
                    thread_id=template[0].thread_id,
                    session_id="1000000000000000000",
                    requested_by=3,
                    status=RenderStatus.COMPLETED,
                    created_at=now,
                    updated_at=now,
                    progress=100,
                    url="https://example.invalid/r.mp4",
                    link_posted=True,
                )
            )
    finally:
        await repo.close()
    if projects:
        await asyncio.to_thread(_bulk_copy, path, projects, active_days, finished_renders)
    size = await asyncio.to_thread(lambda: path.stat().st_size)
    return {"bytes": size}


def _rows_like(conn: sqlite3.Connection, table_name: str) -> tuple[list[str], tuple[Any, ...]]:
    cursor = conn.execute(f"SELECT * FROM {table_name} LIMIT 1")
    return [d[0] for d in cursor.description], cursor.fetchone()


def _bulk_copy(path: Path, projects: int, active_days: float, finished_renders: int) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        cols, template = _rows_like(conn, "projects")
        render_cols, render_template = _rows_like(conn, "renders")
        conn.execute("DELETE FROM renders")
        conn.execute("DELETE FROM projects")
        newest = snowflake_days_ago(0)
        oldest = snowflake_days_ago(active_days)
        step = max(1, (newest - oldest) // max(projects, 1))

        def projects_rows() -> Iterator[tuple[Any, ...]]:
            for i in range(projects):
                row = dict(zip(cols, template, strict=True))
                row["thread_id"] = oldest + i * step
                row["last_message_id"] = oldest + i * step + 1
                row["session_id"] = str(10**18 + i)
                yield tuple(row[c] for c in cols)

        placeholders = ", ".join("?" for _ in cols)
        conn.execute("BEGIN")
        conn.executemany(f"INSERT INTO projects ({', '.join(cols)}) VALUES ({placeholders})", projects_rows())
        conn.execute("COMMIT")
        conn.execute("BEGIN")
        now = datetime.now(UTC).isoformat(timespec="microseconds")

        def render_rows() -> Iterator[tuple[Any, ...]]:
            for i in range(finished_renders + UNFINISHED_RENDERS):
                unfinished = i >= finished_renders
                row = dict(zip(render_cols, render_template, strict=True))
                row.update(
                    render_id=f"render_bench_{i}",
                    thread_id=oldest + (i % projects) * step,
                    session_id=str(10**18 + i % projects),
                    requested_by=3,
                    status="processing" if unfinished else "completed",
                    progress=50 if unfinished else 100,
                    url=None if unfinished else "https://example.invalid/r.mp4",
                    language="en",
                    link_posted=0 if unfinished else 1,
                    created_at=now,
                    updated_at=now,
                )
                yield tuple(row[c] for c in render_cols)

        conn.executemany(
            f"INSERT INTO renders ({', '.join(render_cols)}) VALUES ({', '.join('?' for _ in render_cols)})",
            render_rows(),
        )
        conn.execute("COMMIT")
        conn.execute("ANALYZE")
    finally:
        conn.close()


# --------------------------------------------------------------------------- one start


@dataclass
class Start:
    spawn: float = 0.0
    first_rest: float | None = None
    identify: float | None = None
    deferred: float | None = None
    answered: float | None = None
    on_ready: float | None = None
    resumed: float | None = None
    stopped: float | None = None
    exit_code: int | None = None
    catch_up: int = 0
    log_tail: list[str] = field(default_factory=list)

    def rel(self, value: float | None) -> float:
        return float("nan") if value is None else value - self.spawn


def bot_env(fake: FakeDiscord, nemo: FakeNemo, db: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "NEMO_", "DATABASE_"))}
    env.update(
        DISCORD_TOKEN=TOKEN,
        DISCORD_API_BASE=fake.api_base,
        NEMO_API_BASE=nemo.base_url,
        NEMO_TOKEN=NEMO_TOKEN,
        DATABASE_PATH=str(db),
        LOG_LEVEL="INFO",
        PROJECT_CHANNEL_IDS="",
        PYTHONPATH=str(REPO_ROOT),
        RENDER_POLL_SECONDS="30",
    )
    return env


async def _first(seq: TimedList[Any], predicate: Any, timeout: float) -> float | None:
    """When the first matching item was appended (polled: the fakes do not signal every list)."""
    async with asyncio.timeout(timeout):
        while True:
            for item, at in zip(seq, seq.times, strict=False):
                if predicate(item):
                    return at
            await asyncio.sleep(0.002)


async def one_start(
    db: Path,
    commands: list[JSON] | None,
    workdir: Path,
    *,
    resumes: bool,
) -> tuple[Start, list[JSON]]:
    fake = FakeDiscord(token=TOKEN, bot_user_id=BOT_USER_ID, application_id=APPLICATION_ID)
    nemo = FakeNemo(registered_tokens={NEMO_TOKEN: 10**6})
    fake.requests = TimedList()
    fake.gateway.identifies = TimedList()
    nemo.requests = TimedList()
    if commands is not None:
        fake.commands = commands
    result = Start()
    async with fake, nemo:
        for i in range(UNFINISHED_RENDERS):
            nemo.renders[f"render_bench_{i}"] = FakeRenderJob(
                id=f"render_bench_{i}",
                session_id=None,
                draft={},
                output={},
                mode="ok",
                polls_to_complete=1,
                created_at_ms=int(time.time() * 1000),
            )
        result.spawn = time.monotonic()
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            cwd=workdir,
            env=bot_env(fake, nemo, db),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        assert proc.stderr is not None
        lines: list[str] = []
        ready_seen = asyncio.Event()

        async def read_log() -> None:
            assert proc.stderr is not None
            async for raw in proc.stderr:
                line = raw.decode(errors="replace").rstrip()
                lines.append(line)
                if "ready as" in line and result.on_ready is None:
                    result.on_ready = time.monotonic()
                    ready_seen.set()
                if "catching up on" in line:
                    with contextlib.suppress(ValueError, IndexError):
                        result.catch_up = int(line.split("catching up on", 1)[1].split()[0])

        reader = asyncio.create_task(read_log())
        try:
            result.first_rest = await _first(fake.requests, lambda r: True, 30)
            result.identify = await _first(fake.gateway.identifies, lambda r: True, 30)
            await fake.wait_for(
                lambda: any(s.conn is not None for s in fake.gateway.sessions.values()), 30, "READY sent", poll=0.002
            )
            if fake.commands:
                interaction = await fake.slash(fake.text_channel_id, "credits")
                await interaction.wait_followup(timeout=30)
                result.deferred = await _first(fake.requests, lambda r: r.path.startswith("/interactions/"), 5)
                result.answered = await _first(
                    fake.requests, lambda r: r.method == "POST" and r.path.startswith("/webhooks/"), 5
                )
            async with asyncio.timeout(30):
                await ready_seen.wait()
            if resumes:
                with contextlib.suppress(TimeoutError):
                    result.resumed = await _first(nemo.requests, lambda r: "/render/proxy/lambda/" in r.path, 10)
            commands_now = list(fake.commands)
        finally:
            if proc.returncode is None:
                stop = time.monotonic()
                proc.send_signal(signal.SIGTERM)
                try:
                    async with asyncio.timeout(20):
                        await proc.wait()
                except TimeoutError:
                    proc.kill()
                    await proc.wait()
                result.stopped = time.monotonic() - stop
            result.exit_code = proc.returncode
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5):
                    await reader
            result.log_tail = lines[-15:]
    return result, commands_now


# --------------------------------------------------------------------------- traced start (query plans)


async def traced_queries(db: Path) -> list[tuple[str, str]]:
    """Start the bot in-process once with a SQLite trace on, up to ready and start-up recovery;
    return (statement, plan) for every distinct statement it ran."""
    from bot.app import CutawayBot
    from bot.config import Settings

    statements: list[str] = []
    original_connect = sqlite3.connect

    def connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        conn: sqlite3.Connection = original_connect(*args, **kwargs)
        conn.set_trace_callback(statements.append)
        return conn

    old_base, old_gateway = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    logging.disable(logging.WARNING)  # the catch-up of threads the fake does not know warns; not news here
    sqlite3.connect = connect  # type: ignore[assignment]
    try:
        async with (
            FakeDiscord(token=TOKEN, bot_user_id=BOT_USER_ID, application_id=APPLICATION_ID) as fake,
            FakeNemo(registered_tokens={NEMO_TOKEN: 10**6}) as nemo,
        ):
            settings = Settings(
                _env_file=None,
                discord_token=TOKEN,
                discord_api_base=fake.api_base,
                nemo_api_base=nemo.base_url,
                nemo_token=NEMO_TOKEN,
                database_path=db,
                log_level="WARNING",
            )
            bot = CutawayBot(settings, guild_ready_timeout=0.1)
            task = asyncio.create_task(bot.start(TOKEN))
            await asyncio.sleep(0)  # let start() initialise the client before waiting on it
            try:
                async with asyncio.timeout(30):
                    waiter = asyncio.create_task(bot.wait_until_ready())
                    await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
                    if task.done():
                        waiter.cancel()
                        task.result()
                    await waiter
                    await bot.wait_recovered(30)
            finally:
                await bot.close()
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(10):
                        await task
    finally:
        sqlite3.connect = original_connect
        logging.disable(logging.NOTSET)
        discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_base, old_gateway
    return await asyncio.to_thread(_plans, db, statements)


_LITERAL = re.compile(r"'(?:[^']|'')*'|\b\d+(?:\.\d+)?\b")


def _plans(db: Path, statements: list[str]) -> list[tuple[str, str]]:
    """(statement shape × times run, plan) for each distinct statement shape (literals → ?)."""
    conn = sqlite3.connect(db)
    shapes: dict[str, tuple[str, int]] = {}
    try:
        for sql in statements:
            head = sql.strip().split(None, 1)[0].upper() if sql.strip() else ""
            if head not in ("SELECT", "UPDATE", "DELETE", "INSERT", "WITH"):
                continue
            shape = _LITERAL.sub("?", " ".join(sql.split()))
            first, count = shapes.get(shape, (sql, 0))
            shapes[shape] = (first, count + 1)
        out: list[tuple[str, str]] = []
        for shape, (sql, count) in shapes.items():
            try:
                plan = " | ".join(str(r[3]) for r in conn.execute(f"EXPLAIN QUERY PLAN {sql}"))
            except sqlite3.Error as exc:
                plan = f"(not explainable: {exc})"
            out.append((f"{count}× {shape}", plan))
    finally:
        conn.close()
    return out


def full_scans(plans: list[tuple[str, str]], big_tables: tuple[str, ...] = ("projects", "renders")) -> list[str]:
    """Statements whose plan reads a big table without an index (`SCAN projects`, not `... USING INDEX`)."""
    bad = []
    for sql, plan in plans:
        for step in plan.split(" | "):
            words = step.split()
            if len(words) >= 2 and words[0] == "SCAN" and words[1] in big_tables and "INDEX" not in step.upper():
                bad.append(f"{sql[:110]}  →  {plan}")
    return bad


# --------------------------------------------------------------------------- main


async def bench(args: argparse.Namespace) -> int:
    print_machine()
    ok = True
    with tempfile.TemporaryDirectory(prefix="cutaway-coldstart-") as tmp:
        workdir = Path(tmp)
        variants = [("empty", 0), (f"{args.projects:,} projects", args.projects)]
        rows: list[list[object]] = []
        summary: list[list[object]] = []
        medians_ready: dict[str, float] = {}
        plans_by_variant: dict[str, list[tuple[str, str]]] = {}
        for label, count in variants:
            db = workdir / f"{count}.sqlite3"
            built = time.monotonic()
            info = await build_database(db, count, args.active_days, count // 2)
            print(
                f"{label}: database built in {time.monotonic() - built:.1f} s ({info['bytes'] / 2**20:.1f} MiB)",
                flush=True,
            )
            # the first start syncs the commands (stored hash) and warms the page cache; not counted
            warm, commands = await one_start(db, None, workdir, resumes=count > 0)
            if warm.exit_code not in (0, None) or warm.on_ready is None:
                print("\n".join(warm.log_tail))
                raise RuntimeError(f"bot did not start cleanly ({label})")
            runs = [(await one_start(db, commands, workdir, resumes=count > 0))[0] for _ in range(args.repeat)]
            for r in runs:
                if r.exit_code != 0:
                    print(f"!! exit code {r.exit_code}; log tail:\n" + "\n".join(r.log_tail))

            def med(attr: str, runs: list[Start] = runs) -> float:
                return median([r.rel(getattr(r, attr)) for r in runs])

            rows.append(
                [
                    label,
                    med("first_rest"),
                    med("identify"),
                    med("deferred"),
                    med("answered"),
                    med("on_ready"),
                    med("resumed"),
                    median([r.stopped or float("nan") for r in runs]),
                    runs[0].catch_up,
                    info["bytes"] / 2**20,
                ]
            )
            medians_ready[label] = med("answered")
            plans_by_variant[label] = await traced_queries(db)
        base = medians_ready[variants[0][0]]
        for label, _ in variants:
            ready = medians_ready[label]
            good = ready <= TARGET_SECONDS
            ok = ok and good
            summary.append([label, ready, "met" if good else "MISSED", ready - base])
        print()
        print(
            table(
                [
                    "database",
                    "first REST s",
                    "IDENTIFY s",
                    "/credits deferred s",
                    "/credits answered s",
                    "on_ready s",
                    "1st render resumed s",
                    "shutdown s",
                    "catch-up threads",
                    "DB MiB",
                ],
                rows,
                title=f"Cold start of `python -m bot`, seconds from spawn (median of {args.repeat})",
            )
        )
        print()
        print(
            table(
                ["database", "ready (first command answered) s", f"target ≤{TARGET_SECONDS:g} s", "growth vs empty s"],
                summary,
                title="Targets",
            )
        )
        gap = [float(r[5]) - float(r[2]) for r in rows]  # type: ignore[arg-type]
        print(
            f"\non_ready comes {min(gap):.2f}-{max(gap):.2f} s after IDENTIFY: discord.py waits "
            "guild_ready_timeout (2 s by default) after the last GUILD_CREATE before on_ready."
        )
        big = plans_by_variant[variants[-1][0]]
        scans = full_scans(big)
        print(
            f"\nStart-up SQL on the {variants[-1][0]} database: {len(big)} distinct statements, "
            f"{len(scans)} full scans of projects/renders."
        )
        for sql, plan in big:
            print(f"  {plan[:72]:72s}  {sql[:110]}")
        if scans:
            ok = False
            print("FULL SCANS:\n  " + "\n  ".join(scans))
    return 0 if ok else 1


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.coldstart", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--projects", type=int, default=100_000, help="projects in the big database (default 100000)")
    parser.add_argument(
        "--active-days",
        type=float,
        default=365.0,
        help="projects' last activity is spread over this many days (default 365; the bot "
        "catches up on threads active in the last 7, at most 500)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="measured starts per database (default 3)")
    args = parser.parse_args()
    started = time.monotonic()
    code = asyncio.run(bench(args))
    print(f"\n(total {time.monotonic() - started:.0f} s)")
    sys.exit(code)


if __name__ == "__main__":
    main()
