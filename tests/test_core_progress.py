"""The "⏳ Still working…" status on a fake clock: posted once, edited in place every interval, paced."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from bot.core.actions import ActionButton
from bot.core.progress import MIN_STATUS_EDIT_GAP, Progress, status_budget
from bot.core.ratelimit import TokenBucket
from devkit.fakes.clock import FakeClock
from devkit.fakes.memory import MemoryStatus, MemorySurface


def _progress(
    clock: FakeClock,
    surface: MemorySurface,
    interval: float = 120.0,
    *,
    budget: TokenBucket | None = None,
    stage: str | None = None,
    waiting: Callable[[], int] = lambda: 0,
) -> Progress:
    return Progress(
        surface,
        "en",
        interval=interval,
        budget=budget if budget is not None else status_budget(clock.now),
        clock=clock.now,
        sleep=clock.sleep,
        stage=stage,
        waiting=waiting,
    )


async def test_posted_once_at_the_first_interval_then_edited_not_reposted() -> None:
    clock, surface = FakeClock(), MemorySurface(1)
    async with _progress(clock, surface) as progress:
        await clock.advance(119.9)
        assert surface.statuses == []  # a quick operation shows no status at all
        await clock.advance(0.1)
        assert [s.texts for s in surface.statuses] == [["⏳ Still working… (2m 00s)"]]
        progress.stage = "adding music"
        await clock.advance(120)
        await clock.advance(120)
    assert len(surface.statuses) == 1 and surface.posts == []
    assert surface.statuses[0].texts == [
        "⏳ Still working… (2m 00s)",
        "⏳ Still working… adding music (4m 00s)",
        "⏳ Still working… adding music (6m 00s)",
    ]
    assert progress.status is surface.statuses[0] and not progress.status.deleted  # the caller finishes it


async def test_the_count_of_jobs_waiting_behind_is_shown() -> None:
    clock, surface = FakeClock(), MemorySurface(1)
    waiting = 2
    async with _progress(clock, surface, waiting=lambda: waiting, stage="uploading a.mp4"):
        await clock.advance(120)
        waiting = 0
        await clock.advance(120)
    assert surface.statuses[0].texts == [
        "⏳ Still working… uploading a.mp4 · 2 more waiting (2m 00s)",
        "⏳ Still working… uploading a.mp4 (4m 00s)",
    ]


async def test_stop_during_the_sleep_ends_at_once_and_edits_nothing() -> None:
    clock, surface = FakeClock(), MemorySurface(1)
    progress = _progress(clock, surface)
    async with progress:
        await clock.advance(120)
        assert clock.sleeping == 1
    assert clock.sleeping == 0  # the sleeping heartbeat was cancelled, not waited for
    await clock.advance(600)
    assert surface.statuses[0].texts == ["⏳ Still working… (2m 00s)"]


async def test_stop_never_cancels_a_status_update_in_flight() -> None:
    """Cancelling inside a discord.py request would break its rate-limit bookkeeping."""
    clock, surface = FakeClock(), MemorySurface(1)
    release = asyncio.Event()
    finished: list[str] = []
    original = surface.open_status

    async def slow_open(text: str, actions: Sequence[ActionButton] = ()) -> MemoryStatus:
        await release.wait()
        status = await original(text, actions)
        finished.append(text)
        return status

    surface.open_status = slow_open  # type: ignore[method-assign]
    progress = _progress(clock, surface)
    await progress.__aenter__()
    await clock.advance(120)
    stopping = asyncio.create_task(progress.stop())
    await asyncio.sleep(0)
    assert not stopping.done()  # waits for the update instead of cancelling it
    release.set()
    await stopping
    assert finished == ["⏳ Still working… (2m 00s)"] and progress.status is not None


async def test_edits_keep_the_per_thread_gap() -> None:
    """A heartbeat faster than Discord's per-channel pace skips ticks; the next allowed one shows the time."""
    clock, surface = FakeClock(), MemorySurface(1)
    async with _progress(clock, surface, interval=1.0):
        for _ in range(4):
            await clock.advance(1.0)
    texts = surface.statuses[0].texts
    assert texts == ["⏳ Still working… (1s)", "⏳ Still working… (3s)"]  # 2 s was within the gap
    assert MIN_STATUS_EDIT_GAP > 1.0


async def test_the_bot_wide_budget_skips_a_tick_when_spent() -> None:
    clock, surface = FakeClock(), MemorySurface(1)
    budget = TokenBucket(rate=1 / 240, burst=1, clock=clock.now)  # one edit now, the next after 4 minutes
    async with _progress(clock, surface, budget=budget):
        await clock.advance(120)  # takes the only token
        await clock.advance(120)  # none left: skipped
        await clock.advance(120)  # refilled by then
    assert surface.statuses[0].texts == ["⏳ Still working… (2m 00s)", "⏳ Still working… (6m 00s)"]


async def test_cancelled_with_the_operation_at_shutdown() -> None:
    clock, surface = FakeClock(), MemorySurface(1)

    async def operation() -> None:
        async with _progress(clock, surface):
            await asyncio.Event().wait()

    task = asyncio.create_task(operation())
    await asyncio.sleep(0)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert task.cancelled() and clock.sleeping == 0
