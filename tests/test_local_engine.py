"""NEMO_API_BASE=local: the engine as the bot's supervised child (bot/local_engine.py)."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import aiohttp
import pytest

from bot.local_engine import EngineStartFailed, LocalEngine

pytestmark = pytest.mark.e2e


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENGINE_")}
    env.update(ENGINE_HOST="127.0.0.1", ENGINE_PORT="0", ENGINE_DATA_DIR=str(tmp_path / "engine"), **extra)
    return env


async def _answers(base_url: str) -> bool:
    async with aiohttp.ClientSession() as http, http.get(f"{base_url}/api/credits/balance/simple") as response:
        return response.status in (200, 401)  # no token: 1001, but the engine is there


async def test_the_engine_starts_is_restarted_on_the_same_url_and_stops_with_the_bot(tmp_path: Path) -> None:
    async with LocalEngine(_env(tmp_path)) as engine:
        url = engine.base_url
        assert url.startswith("http://127.0.0.1:") and await _answers(url)
        proc = engine._proc
        assert proc is not None
        proc.send_signal(signal.SIGKILL)  # the engine dies: it is started again, on the same port
        async with asyncio.timeout(60):
            while engine.restarts == 0:
                await asyncio.sleep(0.1)
        assert engine.base_url == url and await _answers(url)
        child = engine._proc
    assert child is not None and child.returncode == 0  # stopped cleanly (stdin closed, then SIGTERM)
    with pytest.raises(aiohttp.ClientConnectionError):
        await _answers(url)


async def test_dot_env_names_the_port_unless_the_environment_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("ENGINE_PORT=1\nENGINE_HOST=127.0.0.1\n")
    for name in [k for k in os.environ if k.startswith("ENGINE_")]:
        monkeypatch.delenv(name)
    assert LocalEngine()._port == 1
    monkeypatch.setenv("ENGINE_PORT", "2")
    assert LocalEngine()._port == 2


async def test_the_public_url_check_reads_dot_env_as_the_engine_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`python -m bot` warns when ENGINE_PUBLIC_URL is unset: one set in `.env` counts (the engine reads it)."""
    monkeypatch.chdir(tmp_path)
    for name in [k for k in os.environ if k.startswith("ENGINE_")]:
        monkeypatch.delenv(name)
    assert "ENGINE_PUBLIC_URL" not in LocalEngine().env
    (tmp_path / ".env").write_text("ENGINE_PUBLIC_URL=https://clips.example.org\n")
    assert LocalEngine().env["ENGINE_PUBLIC_URL"] == "https://clips.example.org"
    monkeypatch.setenv("ENGINE_PUBLIC_URL", "https://other.example.org")
    assert LocalEngine().env["ENGINE_PUBLIC_URL"] == "https://other.example.org"


async def test_an_engine_that_cannot_start_is_one_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "engine"
    blocker.write_text("a file where the data folder should be")
    with pytest.raises(EngineStartFailed, match="exited with code"):
        async with LocalEngine(_env(tmp_path)):
            pass
