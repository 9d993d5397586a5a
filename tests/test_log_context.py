"""A thread's log lines carry its id in one style: `thread=<id>` in text, a `thread_id` field in JSON."""

from __future__ import annotations

import json
import logging

from bot.log_context import ThreadFilter, thread_context, thread_extra
from bot.logging_setup import FORMAT, JsonFormatter, TextFormatter


def _record(message: str, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("bot.core.chat", logging.WARNING, __file__, 1, message, (), None)
    for key, value in extra.items():
        setattr(record, key, value)
    assert ThreadFilter().filter(record)
    return record


def test_text_lines_of_a_thread_read_thread_equals_id() -> None:
    with thread_context(42):
        record = _record("stream dropped: reset")
    line = TextFormatter(FORMAT).format(record)
    assert line.endswith("WARNING bot.core.chat: thread=42 stream dropped: reset")
    assert TextFormatter(FORMAT).format(_record("ready")).endswith("bot.core.chat: ready")  # not a thread's line


def test_json_lines_carry_the_thread_as_a_field() -> None:
    with thread_context(42):
        entry = json.loads(JsonFormatter().format(_record("stream dropped")))
    assert entry["thread_id"] == 42 and entry["message"] == "stream dropped"
    assert "thread_id" not in json.loads(JsonFormatter().format(_record("ready")))


def test_an_explicit_thread_wins_over_the_context() -> None:
    with thread_context(1):
        record = _record("render cancelled", **thread_extra(7))
    assert "thread=7 render cancelled" in TextFormatter(FORMAT).format(record)


def test_the_context_ends_with_its_block() -> None:
    with thread_context(5):
        pass
    assert _record("after").__dict__["thread_id"] is None
