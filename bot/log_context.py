"""Which project thread a log line belongs to, in one style everywhere.

Work for a thread sets the thread once where it starts (the thread's queue worker, a render's poller;
tasks started from there inherit it), and every log line written meanwhile carries it: `thread=<id>`
in text mode, a `thread_id` field in JSON mode (bot.logging_setup). A line about a thread written
outside such work passes it explicitly: `log.info("…", extra=thread_extra(thread_id))`.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Iterator
from contextlib import contextmanager

_THREAD: contextvars.ContextVar[int | None] = contextvars.ContextVar("cutaway_thread", default=None)

# `LogRecord.thread` is the OS thread: ours is `thread_id`.
RECORD_FIELD = "thread_id"


def set_thread(thread_id: int | None) -> None:
    """For the rest of the current task (and the tasks it starts): log lines belong to this thread."""
    _THREAD.set(thread_id)


@contextmanager
def thread_context(thread_id: int) -> Iterator[None]:
    token = _THREAD.set(thread_id)
    try:
        yield
    finally:
        _THREAD.reset(token)


def context_for(thread_id: int) -> contextvars.Context:
    """A context to start a task in (`asyncio.create_task(…, context=…)`) whose lines carry this thread."""
    context = contextvars.copy_context()
    context.run(_THREAD.set, thread_id)
    return context


def current_thread() -> int | None:
    return _THREAD.get()


def thread_extra(thread_id: int) -> dict[str, object]:
    return {RECORD_FIELD: thread_id}


class ThreadFilter(logging.Filter):
    """Stamps every record with `thread_id` (from `extra`, else the context; None outside a thread)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, RECORD_FIELD, None) is None:
            setattr(record, RECORD_FIELD, _THREAD.get())
        return True


def thread_prefix(record: logging.LogRecord) -> str:
    thread_id = getattr(record, RECORD_FIELD, None)
    return f"thread={thread_id} " if thread_id is not None else ""
