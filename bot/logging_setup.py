"""Logging: one line per event, with a filter that masks every configured secret."""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Iterable

from bot.log_context import RECORD_FIELD, ThreadFilter, thread_prefix

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(thread_prefix)s%(message)s"
MASK = "***"


class SecretFilter(logging.Filter):
    """Replaces secrets wherever they appear in a record, even in exception text."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = tuple(s for s in secrets if s and len(s) >= 6)

    def add(self, secret: str) -> None:
        if secret and len(secret) >= 6 and secret not in self._secrets:
            self._secrets = (*self._secrets, secret)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        masked = message
        exc_text = record.exc_text
        for secret in self._secrets:
            masked = masked.replace(secret, MASK)
            if exc_text:
                exc_text = exc_text.replace(secret, MASK)
        record.msg, record.args, record.exc_text = masked, None, exc_text
        return True


SECRET_FILTER = SecretFilter(())


class VoiceWarningFilter(logging.Filter):
    """The bot has no voice, so discord.py's start-up warnings that PyNaCl and davey (voice libraries)
    are missing say nothing useful, and newcomers take them for a broken install."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "voice will NOT be supported" not in record.getMessage()


VOICE_WARNING_FILTER = VoiceWarningFilter()


class JsonFormatter(logging.Formatter):
    """One JSON object per line (LOG_FORMAT=json), for log shippers."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc"] = record.exc_text
        thread_id = getattr(record, RECORD_FIELD, None)
        if thread_id is not None:
            entry[RECORD_FIELD] = thread_id
        return json.dumps(entry, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """FORMAT: a thread's lines read `… name: thread=<id> message` (bot.log_context)."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.thread_prefix = thread_prefix(record)
        return super().formatMessage(record)


def setup_logging(level: str, secrets: Iterable[str], *, json_lines: bool = False) -> None:
    for secret in secrets:
        SECRET_FILTER.add(secret)
    handler = logging.StreamHandler(sys.stderr)
    formatter: logging.Formatter = JsonFormatter() if json_lines else TextFormatter(FORMAT)
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    handler.addFilter(SECRET_FILTER)
    handler.addFilter(ThreadFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("discord.client").addFilter(VOICE_WARNING_FILTER)  # a no-op when already there
    if root.level < logging.INFO:
        # discord.py's DEBUG output is a firehose of gateway payloads.
        logging.getLogger("discord").setLevel(logging.INFO)
