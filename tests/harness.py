"""The end-to-end tests' handle on the real Cutaway bot (the real discord.py client) and both fakes.

Starting the bot in-process is devkit.stack's (shared with the playground); `python -m bot` as a
process is BotProcess.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.app import CutawayBot
from bot.config import Settings
from devkit.fakes.discord import FakeDiscord, StoredMessage
from devkit.fakes.nemo import FakeNemo
from devkit.fakes.nemo_steps import Text, ToolResult
from devkit.stack import RunningBot, bot_settings, restored_discord_globals
from tests.core_kit import DRAFT

__all__ = [
    "DRAFT",
    "TOKEN",
    "BotProcess",
    "Cutaway",
    "assert_nothing_leaked",
    "assert_one_render_one_link",
    "bot_process_against_fakes",
    "export_in_progress",
    "finish_renders_at_next_poll",
    "new_project",
    "restored_discord_globals",
    "test_settings",
]

TOKEN = "test-discord-token-abcdef"
SECRETS = (TOKEN,)


def test_settings(discord_fake: FakeDiscord, nemo: FakeNemo, db: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "project_channel_ids": [discord_fake.text_channel_id, discord_fake.forum_channel_id],
        "heartbeat_seconds": 30.0,
        "render_poll_seconds": 0.05,
        "rate_limit_retry_seconds": 0.05,
        "sse_timeout_seconds": 20.0,
        "stream_recovery_seconds": 0.05,
        "render_timeout_seconds": 20.0,
        "liveness_seconds": 0.5,
        **overrides,
    }
    return bot_settings(
        discord_token=TOKEN,
        discord_api_base=discord_fake.api_base,
        database=db,
        nemo_api_base=nemo.base_url,
        **values,
    )


@dataclass
class Cutaway:
    """One running bot plus both fakes; `restart()` keeps the database."""

    discord: FakeDiscord
    nemo: FakeNemo
    db: Path
    overrides: dict[str, Any] = field(default_factory=dict)
    running: RunningBot | None = None

    @property
    def app(self) -> CutawayBot:
        assert self.running is not None
        return self.running.bot

    async def start(self, **overrides: Any) -> CutawayBot:
        self.overrides.update(overrides)
        settings = test_settings(self.discord, self.nemo, self.db, **self.overrides)
        self.running = await RunningBot.start(settings, ready_timeout=15)
        return self.running.bot

    async def stop(self) -> None:
        if self.running is not None:
            await self.running.stop()
        self.running = None

    async def restart(self, **overrides: Any) -> CutawayBot:
        await self.stop()
        return await self.start(**overrides)

    async def idle(self, timeout: float = 10.0) -> None:
        """Wait until every queued message and render of the bot has been handled."""
        await self.app.queues.join(timeout)

    async def new_project(self, name: str = "My project") -> int:
        """`/project` in the text channel; returns the new thread id once the welcome is posted."""
        return await new_project(self.discord, name, timeout=5.0)

    async def project_with_draft(self, draft: dict[str, Any], name: str = "My project") -> int:
        """A new project whose backend session already holds `draft` (via a scripted edit turn)."""
        thread_id = await self.new_project(name)
        self.nemo.script_turn([ToolResult("edit_multitrack", {}, draft=draft), Text("drafted")])
        await self.discord.send_message(thread_id, "draft it")
        await self.discord.wait_for_bot_message(thread_id, contains="drafted")
        await self.idle()
        return thread_id

    def texts(self, channel_id: int) -> list[str]:
        return [m.text for m in self.discord.bot_messages(channel_id)]

    def all_bot_messages(self) -> list[StoredMessage]:
        return [m for m in self.discord.all_messages() if m.author_id == self.discord.bot_user_id]


async def new_project(
    discord_fake: FakeDiscord, name: str, *, channel_id: int | None = None, timeout: float = 15.0
) -> int:
    """`/project` in a text channel (the default one unless given); the new thread's id once the bot
    welcomed it there."""
    before = set(discord_fake.threads)
    inter = await discord_fake.slash(channel_id or discord_fake.text_channel_id, "project", {"name": name})
    await inter.wait_followup(timeout=timeout)
    thread_id = await discord_fake.wait_for(
        lambda: next(iter(set(discord_fake.threads) - before), None), timeout, what="thread created"
    )
    await discord_fake.wait_for_bot_message(thread_id, contains="Cutaway video project", timeout=timeout)
    return int(thread_id)


async def export_in_progress(discord_fake: FakeDiscord, nemo: FakeNemo, thread_id: int, *, polls: int) -> None:
    """A draft, then a typed `export` whose render never finishes by itself; returns once the bot has polled
    it `polls` times. `finish_renders_at_next_poll` lets it end."""
    nemo.script_turn([ToolResult("edit_multitrack", {}, draft=DRAFT), Text("drafted")])
    await discord_fake.send_message(thread_id, "draft")
    await discord_fake.wait_for_bot_message(thread_id, contains="drafted", timeout=15)
    nemo.render_polls_to_complete = 10_000
    await discord_fake.send_message(thread_id, "export")
    await nemo.wait_for(
        lambda: sum(r.path.startswith("/api/render/proxy/lambda/") for r in nemo.requests) >= polls, timeout=15
    )


def finish_renders_at_next_poll(nemo: FakeNemo) -> None:
    for job in nemo.renders.values():
        job.polls_to_complete = 1


def assert_one_render_one_link(discord_fake: FakeDiscord, nemo: FakeNemo, thread_id: int) -> None:
    """Whatever happened to the processes: the render was started once and its link posted once."""
    assert len([m for m in discord_fake.bot_messages(thread_id) if "video is ready" in m.text]) == 1
    assert len([r for r in nemo.requests if r.path == "/api/render/proxy/lambda"]) == 1


def assert_nothing_leaked(cutaway: Cutaway, extra_secrets: tuple[str, ...] = ()) -> None:
    """No token, client id, stack trace or raw backend JSON in anything the bot posted."""
    secrets = [TOKEN, *extra_secrets, *(t for t in cutaway.nemo.tokens)]
    for record in cutaway.nemo.requests:
        client_id = record.header("X-Client-Id")
        if client_id:
            secrets.append(client_id)
    for message in cutaway.all_bot_messages():
        for text in [message.text, *(edit.content for edit in message.edits)]:
            for secret in secrets:
                assert secret not in text, f"secret leaked in {text!r}"
            for marker in ('{"code"', '"success":', "Traceback", 'File "', "nmv_usr_"):
                assert marker not in text, f"raw backend output leaked in {text!r}"


@contextlib.asynccontextmanager
async def bot_process_against_fakes(workdir: Path, **env: str) -> AsyncIterator[BotProcess]:
    """A `BotProcess` (not started) with a fresh fake Discord and fake backend; stopped afterwards, and
    every run's log printed (pytest shows it when the test fails)."""
    async with FakeDiscord(token=TOKEN) as discord_fake, FakeNemo() as nemo:
        process = BotProcess(discord_fake, nemo, workdir, **env)
        try:
            yield process
        finally:
            try:
                await process.stop()
            finally:
                process.print_logs()


class BotProcess:
    """`python -m bot` against the fakes, restartable, with a shared database. Without a fake backend
    (`nemo=None`) it runs its own local engine (`NEMO_API_BASE=local`, data under `workdir`)."""

    def __init__(self, discord_fake: FakeDiscord, nemo: FakeNemo | None, workdir: Path, **env: str) -> None:
        self.discord = discord_fake
        self.nemo = nemo
        self.workdir = workdir
        self.extra_env = env
        self.proc: asyncio.subprocess.Process | None = None
        self.logs: list[str] = []

    @property
    def fake_nemo(self) -> FakeNemo:
        """The fake backend, for a test that runs the bot against one (not against its own engine)."""
        assert self.nemo is not None, "this bot process runs its own local engine, not the fake backend"
        return self.nemo

    async def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "NEMO_", "DATABASE_"))}
        env.update(
            DISCORD_TOKEN=TOKEN,
            DISCORD_API_BASE=self.discord.api_base,
            NEMO_API_BASE=self.nemo.base_url if self.nemo is not None else "local",
            DATABASE_PATH=str(self.workdir / "bot.sqlite3"),
            RENDER_POLL_SECONDS="0.05",
            HEARTBEAT_SECONDS="30",
            RENDER_LEASE_SECONDS="1",
            LIVENESS_SECONDS="0.5",
            PYTHONUNBUFFERED="1",
        )
        env.update(self.extra_env)
        identified = len(self.discord.identifies)
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            cwd=self.workdir,
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        await self.discord.wait_for(
            lambda: len(self.discord.identifies) > identified, timeout=30, what="the bot process to IDENTIFY"
        )

    def print_logs(self) -> None:
        for index, log in enumerate(self.logs):
            print(f"--- bot process run {index} ---\n{log[-4000:]}")

    async def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        await self._collect()

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            await self._collect()

    async def _collect(self) -> None:
        assert self.proc is not None
        try:
            async with asyncio.timeout(30):
                _, err = await self.proc.communicate()
        except TimeoutError:
            self.proc.kill()
            _, err = await self.proc.communicate()
            err += b"\n[did not exit within 30 s of the signal; killed]"
        self.logs.append(err.decode())
        # The fake notices the dead websocket: wait until it has dropped the session.
        self.proc = None
