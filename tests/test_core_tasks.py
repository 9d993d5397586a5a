"""The one background-task registry (bot.core.tasks): finished tasks leave it, failures are logged,
close() cancels everything, including what is spawned during shutdown."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.core.tasks import TaskRegistry
from bot.log_context import RECORD_FIELD, current_thread


async def test_a_finished_task_leaves_the_registry() -> None:
    tasks = TaskRegistry("test")
    release = asyncio.Event()
    task = tasks.spawn(release.wait(), key="render_1")
    assert len(tasks) == 1 and tasks.running("render_1")
    release.set()
    await task
    await asyncio.sleep(0)  # the done callback
    assert len(tasks) == 0 and not tasks.running("render_1")
    assert tasks._tasks == {}  # nothing kept: no slow leak over a long run


async def test_a_failure_is_logged_with_its_traceback_and_leaves_the_registry(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tasks = TaskRegistry("renders")

    async def boom() -> None:
        raise RuntimeError("poller broke")

    with caplog.at_level(logging.ERROR, logger="bot.core.tasks"):
        task = tasks.spawn(boom(), key="render_2", name="render-render_2")
        await asyncio.gather(task, return_exceptions=True)
        await asyncio.sleep(0)
    (record,) = caplog.records
    assert "renders: task render-render_2 failed" in record.getMessage()
    assert record.exc_info is not None and isinstance(record.exc_info[1], RuntimeError)
    assert len(tasks) == 0


async def test_one_live_task_per_key_and_a_key_is_free_again_once_done() -> None:
    tasks = TaskRegistry("test")
    release = asyncio.Event()
    first = tasks.spawn(release.wait(), key=5)
    extra = release.wait()
    with pytest.raises(ValueError, match="still running"):
        tasks.spawn(extra, key=5)
    release.set()
    await first
    blocker = asyncio.Event()
    second = tasks.spawn(blocker.wait(), key=5)
    tasks._finished(5, first)  # `first`'s done callback, however late it runs, must not drop `second`
    await asyncio.sleep(0)
    assert tasks.running(5) and len(tasks) == 1
    blocker.set()
    await second


async def test_close_cancels_running_tasks_and_anything_spawned_afterwards() -> None:
    tasks = TaskRegistry("test")
    cleaned: list[str] = []

    async def forever(name: str) -> None:
        try:
            await asyncio.Event().wait()
        finally:
            cleaned.append(name)

    tasks.spawn(forever("a"))
    tasks.spawn(forever("b"), key="b")
    await asyncio.sleep(0)
    await tasks.close()
    assert sorted(cleaned) == ["a", "b"] and len(tasks) == 0
    late = tasks.spawn(forever("late"))
    await asyncio.gather(late, return_exceptions=True)
    assert late.cancelled()


async def test_join_waits_for_tasks_spawned_meanwhile() -> None:
    tasks = TaskRegistry("test")
    done: list[int] = []

    async def chain(n: int) -> None:
        await asyncio.sleep(0)
        done.append(n)
        if n < 3:
            tasks.spawn(chain(n + 1))

    tasks.spawn(chain(1))
    await tasks.join(timeout=1)
    assert done == [1, 2, 3]


async def test_a_task_for_a_thread_logs_with_that_thread() -> None:
    tasks = TaskRegistry("test")

    async def which() -> int | None:
        return current_thread()

    assert await tasks.spawn(which(), thread_id=42) == 42
    assert await tasks.spawn(which()) is None
    assert RECORD_FIELD == "thread_id"
