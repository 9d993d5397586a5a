"""The process-level speed-ups measured in bench/fanout: they must stay installed and stay correct."""

from __future__ import annotations

import asyncio
import gc
import platform
import subprocess
import sys
from collections.abc import Iterator

import discord
import pytest

from bot import runtime
from bot.http_tuning import SWEEP_FLOOR, AmortisedBucketSweep, amortise_bucket_sweep


@pytest.fixture
def inactive_checks(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Counts discord.py's per-bucket idle checks: the cost of every sweep."""
    calls = [0]
    original = discord.http.Ratelimit.is_inactive

    def counting(self: discord.http.Ratelimit) -> bool:
        calls[0] += 1
        return original(self)

    monkeypatch.setattr(discord.http.Ratelimit, "is_inactive", counting)
    yield calls


async def test_new_buckets_cost_amortised_constant_time(inactive_checks: list[int]) -> None:
    http = discord.http.HTTPClient(asyncio.get_running_loop())
    try:
        assert amortise_bucket_sweep(http) is not None, "discord.py changed: the sweep is quadratic again"
        n = 20_000
        for i in range(n):
            http.get_ratelimit(f"POST /channels/{{channel_id}}/messages:{i}")
        assert len(http._buckets) == n  # none idle: nothing dropped
        # discord.py alone scans the whole table for every bucket past 256: ~2 * 10**8 checks here.
        assert inactive_checks[0] < 4 * n
    finally:
        await http.close()


async def test_idle_buckets_are_still_dropped() -> None:
    http = discord.http.HTTPClient(asyncio.get_running_loop())
    now = [1000.0]
    try:
        sweep = AmortisedBucketSweep(http, http._try_clear_expired_ratelimits, min_interval=30.0, clock=lambda: now[0])
        http._try_clear_expired_ratelimits = sweep  # type: ignore[method-assign]
        for i in range(1000):
            http.get_ratelimit(f"old:{i}")
        swept_while_filling = sweep.sweeps
        assert swept_while_filling >= 1  # the table doubled past the floor
        for bucket in http._buckets.values():
            bucket._last_request -= 301  # idle for longer than discord.py's 300 s
        now[0] += 31
        http.get_ratelimit("new:0")
        assert sweep.sweeps == swept_while_filling + 1
        assert list(http._buckets) == ["new:0"]
        for i in range(1, SWEEP_FLOOR * 2):
            http.get_ratelimit(f"new:{i}")
        assert len(http._buckets) == SWEEP_FLOOR * 2  # live buckets are never dropped
    finally:
        await http.close()


async def test_installing_twice_keeps_one_sweep() -> None:
    http = discord.http.HTTPClient(asyncio.get_running_loop())
    try:
        first = amortise_bucket_sweep(http)
        assert first is not None and amortise_bucket_sweep(http) is first
    finally:
        await http.close()


def test_changed_discord_client_is_left_alone(caplog: pytest.LogCaptureFixture) -> None:
    class Elsewhere:
        pass

    assert amortise_bucket_sweep(Elsewhere()) is None
    assert "left as it is" in caplog.text


@pytest.mark.skipif(sys.platform == "win32", reason="uvloop has no Windows build")
def test_processes_run_on_uvloop() -> None:
    async def loop_module() -> str:
        return type(asyncio.get_running_loop()).__module__

    assert runtime.run(loop_module()).startswith("uvloop")


def test_settled_gc_freezes_start_up_and_collects_rarely() -> None:
    before = gc.get_threshold()
    try:
        runtime.settle_gc()
        assert gc.get_threshold() == runtime.GC_THRESHOLDS
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"
_FAULTS_SCRIPT = """
import os, resource, sys
from bot import runtime
applied = runtime.tune_malloc() if sys.argv[1] == "tuned" else None
src = os.urandom(250 * 1024)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(500):
    chunk = bytes(bytearray(src))  # what uvloop does per socket read: a fresh ~250 KiB object, soon freed
    del chunk
print(applied, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.mark.e2e
@pytest.mark.skipif(not GLIBC, reason="mallopt thresholds are a glibc feature")
def test_large_reads_reuse_heap_memory_instead_of_faulting_in_fresh_pages() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _FAULTS_SCRIPT, "tuned"], capture_output=True, text=True, timeout=60, check=True
    )
    applied, faults = result.stdout.split()
    assert applied == "True"
    # Untuned glibc maps and unmaps every one of them: ~60 page faults each (~30,000 here).
    assert int(faults) < 500
