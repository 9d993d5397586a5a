"""`python -m bot` as operators run it: configuration errors, start-up, clean SIGTERM shutdown."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from devkit.fakes.discord import FakeDiscord
from devkit.fakes.nemo import FakeNemo
from tests.harness import TOKEN

pytestmark = pytest.mark.e2e  # starts the bot, a fake server or a subprocess


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "NEMO_", "DATABASE_"))}
    env.update(extra)
    env["PYTHONUNBUFFERED"] = "1"
    return env


async def test_missing_token_is_one_clear_line_and_nonzero_exit(tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        cwd=tmp_path,
        env=_env(tmp_path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(30):
        out, err = await proc.communicate()
    assert proc.returncode != 0
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1, lines
    assert "DISCORD_TOKEN is not set" in lines[0]
    assert out == b""


async def test_env_file_is_read_and_environment_wins(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("DISCORD_TOKEN=from-file\nHEARTBEAT_SECONDS=0.5\n")
    code = (
        "from bot.config import Settings; s = Settings(); "
        "print(s.discord_token.get_secret_value(), s.heartbeat_seconds)"
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        code,
        cwd=tmp_path,
        env=_env(tmp_path, HEARTBEAT_SECONDS="2.5"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(30):
        out, _ = await proc.communicate()
    assert out.decode().split() == ["from-file", "2.5"]


async def test_bot_process_runs_against_fakes_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    async with FakeDiscord(token=TOKEN) as discord_fake, FakeNemo() as nemo:
        db = tmp_path / "data" / "bot.sqlite3"
        env = _env(
            tmp_path,
            DISCORD_TOKEN=TOKEN,
            DISCORD_API_BASE=discord_fake.api_base,
            NEMO_API_BASE=nemo.base_url,
            DATABASE_PATH=str(db),
            PROJECT_CHANNEL_IDS=f"{discord_fake.text_channel_id}",
            HEARTBEAT_SECONDS="0.5",
        )
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            cwd=tmp_path,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            await discord_fake.wait_for(lambda: discord_fake.identifies, timeout=30, what="IDENTIFY")
            thread_inter = await discord_fake.slash(discord_fake.text_channel_id, "project", {"name": "CLI"})
            await thread_inter.wait_followup(timeout=15)
            thread = next(t for t in discord_fake.threads.values() if t.name == "CLI")
            await discord_fake.send_message(thread.id, "add background music")
            await discord_fake.wait_for_bot_message(thread.id, contains="Lo-fi", timeout=15)
            assert db.exists() and (db.stat().st_mode & 0o777) == 0o600
        finally:
            proc.send_signal(signal.SIGTERM)
            async with asyncio.timeout(30):
                _, err = await proc.communicate()
            print(err.decode()[-5000:])  # shown by pytest when the test fails
        log = err.decode()
        assert proc.returncode == 0, log[-2000:]
        assert "closed cleanly" in log
        assert TOKEN not in log
        for token in nemo.tokens:
            assert token not in log


async def test_refused_message_content_intent_is_one_clear_line(tmp_path: Path) -> None:
    async with FakeDiscord(token=TOKEN, privileged_intents_allowed=False) as discord_fake, FakeNemo() as nemo:
        env = _env(
            tmp_path,
            DISCORD_TOKEN=TOKEN,
            DISCORD_API_BASE=discord_fake.api_base,
            NEMO_API_BASE=nemo.base_url,
            DATABASE_PATH=str(tmp_path / "bot.sqlite3"),
        )
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            cwd=tmp_path,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        async with asyncio.timeout(30):
            _, err = await proc.communicate()
    assert proc.returncode == 3
    assert "Message Content intent" in err.decode().strip().splitlines()[-1]
