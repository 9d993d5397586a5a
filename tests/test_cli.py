"""`python -m bot` as operators run it: help, configuration errors, Discord unreachable, start-up, clean
SIGTERM shutdown."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp
import pytest
from aiohttp.client_reqrep import ConnectionKey

from bot.__main__ import unreachable_reason
from devkit.fakes.discord import FakeDiscord
from devkit.fakes.nemo import FakeNemo
from tests.harness import TOKEN

pytestmark = pytest.mark.e2e  # starts the bot, a fake server or a subprocess


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "NEMO_", "DATABASE_"))}
    env.update(extra)
    env["PYTHONUNBUFFERED"] = "1"
    return env


async def _run_bot(tmp_path: Path, *args: str, **env: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        cwd=tmp_path,
        env=_env(**env),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(60):
        out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_missing_token_is_one_clear_line_and_nonzero_exit(tmp_path: Path) -> None:
    code, out, err = await _run_bot(tmp_path)
    assert code == 2  # EXIT_CONFIG, as `python -m bot --help` lists it
    lines = err.strip().splitlines()
    assert len(lines) == 1, lines
    assert "DISCORD_TOKEN is not set" in lines[0]
    assert out == ""


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
        env=_env(HEARTBEAT_SECONDS="2.5"),
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
        code, _, err = await _run_bot(
            tmp_path,
            DISCORD_TOKEN=TOKEN,
            DISCORD_API_BASE=discord_fake.api_base,
            NEMO_API_BASE=nemo.base_url,
            DATABASE_PATH=str(tmp_path / "bot.sqlite3"),
        )
    assert code == 3
    assert "Message Content intent" in err.strip().splitlines()[-1]


@pytest.mark.parametrize("flag", ["--help", "-h"])
async def test_help_needs_no_token_and_says_what_the_bot_needs(tmp_path: Path, flag: str) -> None:
    code, out, err = await _run_bot(tmp_path, flag)
    assert code == 0 and err == ""
    assert out.startswith("usage: python -m bot")
    for needed in ("DISCORD_TOKEN", "NEMO_API_BASE", "DATABASE_PATH", "playground", ".env.example", "4  Discord"):
        assert needed in out, needed
    assert not (tmp_path / "data").exists()  # help starts nothing


async def test_unknown_arguments_are_a_usage_error(tmp_path: Path) -> None:
    code, out, err = await _run_bot(tmp_path, "--frobnicate")
    assert code == 2 and out == ""
    assert "unrecognized arguments: --frobnicate" in err and "Traceback" not in err


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_unreachable_discord_is_one_clear_line_after_a_clean_close(tmp_path: Path) -> None:
    base = f"http://127.0.0.1:{_closed_port()}/api/v10"
    code, _, err = await _run_bot(
        tmp_path, DISCORD_TOKEN=TOKEN, DISCORD_API_BASE=base, DATABASE_PATH=str(tmp_path / "bot.sqlite3")
    )
    assert code == 4, err
    lines = err.strip().splitlines()
    assert lines[-1] == (
        f"cutaway: cannot reach Discord at {base}: Connection refused (check the network, or DISCORD_API_BASE)"
    )
    assert "closed cleanly" in lines[-2]
    assert "Traceback" not in err
    assert "voice will NOT be supported" not in err  # the bot has no voice: no PyNaCl/davey warnings
    assert TOKEN not in err


def test_unreachable_reasons_are_short_and_plain() -> None:
    dns = aiohttp.ClientConnectorDNSError(
        ConnectionKey("discord.invalid", 443, True, True, None, None, None, None),
        socket.gaierror(socket.EAI_NONAME, "Name or service not known"),
    )
    assert unreachable_reason(dns) == "cannot resolve discord.invalid (Name or service not known)"
    assert unreachable_reason(TimeoutError()) == "no answer (timed out)"
