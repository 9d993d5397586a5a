"""Shared fixtures: the fake NemoVideo backend, a client wired to it, storage in a temp dir."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import aiohttp
import pytest
from hypothesis import settings

from bot.config import BackendSettings
from bot.credentials import RepositoryCredentials
from bot.nemo.auth import TokenProvider
from bot.nemo.client import NemoClient
from devkit.fakes.nemo import FakeNemo
from storage import open_sqlite
from storage.sqlite import SqliteRepository

if TYPE_CHECKING:  # for the annotations only: the fixtures below import these when they run
    from tests.core_kit import Core
    from tests.harness import Cutaway

# CI must not fail on a new random example it happens to draw: derandomised there, random locally.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "default")

FOLDED_SKIPS = {
    "PostgreSQL tests need": "tests/test_storage.py",  # its gate, without CUTAWAY_TEST_PG_DSN
    "browser test needs": "tests/test_playground.py",  # without Chromium or playwright
}
"""Skips that share one cause (something this machine lacks), by how their reason starts."""


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    """Tests skipped for a missing PostgreSQL server or browser are reported at one place, so `-ra`
    prints one "SKIPPED [60] …" line for each cause instead of one per test above the summary."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    longrepr = report.longrepr
    if not (report.skipped and isinstance(longrepr, tuple)):
        return
    reason = str(longrepr[2])
    for start, where in FOLDED_SKIPS.items():
        if reason.removeprefix("Skipped: ").startswith(start):
            report.longrepr = (where, None, reason)  # type: ignore[assignment]


class RecordingSleep:
    """Replaces asyncio.sleep in backoff paths: records the delay, waits a tick only."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        await asyncio.sleep(0)


@pytest.fixture
async def fake_nemo() -> AsyncIterator[FakeNemo]:
    async with FakeNemo() as fake:
        yield fake


@pytest.fixture
async def repo(tmp_path: Path) -> AsyncIterator[SqliteRepository]:
    repository = await open_sqlite(tmp_path / "bot.sqlite3")
    try:
        yield repository
    finally:
        await repository.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def sleeper() -> RecordingSleep:
    return RecordingSleep()


class MakeClient(Protocol):
    """The `make_client` fixture: a `NemoClient` against the fake backend, with the shared storage."""

    def __call__(self, *, static_token: str | None = None, sse_timeout: float = 30.0) -> NemoClient: ...


@pytest.fixture
def make_client(
    fake_nemo: FakeNemo, repo: SqliteRepository, http: aiohttp.ClientSession, sleeper: RecordingSleep
) -> MakeClient:
    def build(*, static_token: str | None = None, sse_timeout: float = 30.0) -> NemoClient:
        auth = TokenProvider(RepositoryCredentials(repo), static_token=static_token)
        settings = BackendSettings(
            api_base=fake_nemo.base_url, rate_limit_retry_seconds=30.0, sse_timeout_seconds=sse_timeout
        )
        return NemoClient(http, settings, auth, sleep=sleeper)

    return build


@pytest.fixture
async def cutaway(tmp_path: Path, fake_nemo: FakeNemo) -> AsyncIterator[Cutaway]:
    """The real bot against the fake Discord and the fake backend; closed after the test."""
    from devkit.fakes.discord import FakeDiscord
    from tests.harness import TOKEN, Cutaway, restored_discord_globals

    with restored_discord_globals():
        async with FakeDiscord(token=TOKEN) as discord_fake:
            harness = Cutaway(discord=discord_fake, nemo=fake_nemo, db=tmp_path / "bot.sqlite3")
            await harness.start()
            try:
                yield harness
            finally:
                await harness.stop()


@pytest.fixture
async def core() -> AsyncIterator[Core]:
    """The core services over in-memory ports and a fake clock (tests/core_kit.py): no sockets, no waits."""
    from tests.core_kit import open_core

    kit = await open_core()
    try:
        yield kit
    finally:
        await kit.close()


# Fixtures that start a fake server (and with it, often, the bot): a test using one is end-to-end.
SERVER_FIXTURES = frozenset({"cutaway", "fake_nemo", "make_client"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep the fast tier (-m 'not e2e') honest: a test that starts a server must say so."""
    unmarked = [
        item.nodeid
        for item in items
        if SERVER_FIXTURES & set(getattr(item, "fixturenames", ())) and item.get_closest_marker("e2e") is None
    ]
    if unmarked:
        raise pytest.UsageError(f"these tests start a fake server and need @pytest.mark.e2e: {unmarked}")
