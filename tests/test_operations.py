"""Operations: /healthz, Prometheus /metrics, JSON log lines with secrets masked."""

from __future__ import annotations

import json
import logging

import aiohttp
import pytest

from bot.logging_setup import SECRET_FILTER, JsonFormatter, SecretFilter
from tests.harness import Cutaway

pytestmark = pytest.mark.e2e  # starts the bot, a fake server or a subprocess


async def test_healthz_and_metrics(cutaway: Cutaway) -> None:
    await cutaway.restart(health_port=0)
    health = cutaway.app.health
    assert health is not None and health.port
    thread_id = await cutaway.new_project()
    cutaway.nemo.fail("credits", code=2001)
    await cutaway.discord.send_message(thread_id, "add music")
    await cutaway.discord.wait_for_bot_message(thread_id, contains="Lo-fi")
    await cutaway.discord.send_message(thread_id, "credits")
    await cutaway.discord.wait_for_bot_message(thread_id, contains="out of free credits")
    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{health.port}/healthz") as resp:
            assert resp.status == 200
            assert await resp.json() == {"gateway": True, "database": True}
        async with session.get(f"http://127.0.0.1:{health.port}/metrics") as resp:
            text = await resp.text()
    assert "cutaway_active_turns 0.0" in text
    assert 'cutaway_backend_request_seconds_count{endpoint="/run_sse"}' not in text  # streams are not timed
    # Metrics are per process (other tests ran before): check the series exist and count something.
    assert 'cutaway_backend_request_seconds_count{endpoint="/api/tasks/me/with-session/nemo_agent"}' in text
    errors_2001 = next(
        line for line in text.splitlines() if line.startswith('cutaway_backend_errors_total{code="2001"}')
    )
    assert float(errors_2001.split()[-1]) >= 1
    assert "cutaway_discord_request_seconds_count" in text
    assert "cutaway_queued_messages 0.0" in text


async def test_healthz_is_503_when_the_database_is_gone(cutaway: Cutaway) -> None:
    await cutaway.restart(health_port=0)
    health = cutaway.app.health
    assert health is not None
    await cutaway.app.repo.close()
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{health.port}/healthz") as resp:
        assert resp.status == 503
        assert (await resp.json())["database"] is False


def test_json_log_lines_mask_secrets() -> None:
    secret_filter = SecretFilter(["super-secret-token"])
    record = logging.LogRecord("bot", logging.INFO, __file__, 1, "token is %s", ("super-secret-token",), None)
    assert secret_filter.filter(record)
    line = JsonFormatter().format(record)
    entry = json.loads(line)
    assert entry["message"] == "token is ***" and entry["level"] == "INFO" and entry["logger"] == "bot"
    assert SECRET_FILTER is not None
