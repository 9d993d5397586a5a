"""`python -m engine`: run the local backend in the foreground (docs/engine-api.md, "Start").

Options override the `ENGINE_*` variables (and a `.env` file). Once it accepts requests it prints
one line with its base URL and flushes, so a parent process (the bot, with NEMO_API_BASE=local)
can read where it listens. SIGTERM or SIGINT (or, with --exit-with-stdin, the end of standard
input: the parent closed the pipe or died) stop it cleanly (streams closed, ffmpeg stopped,
renders left to resume, database closed) with exit status 0. A bad option or setting, an
unusable data folder or a taken port: one clear line on stderr and a non-zero status.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from engine.config import EngineSettings
from engine.server import Engine
from engine.store import StoreError

log = logging.getLogger("engine")

EXIT_CONFIG = 2
EXIT_START = 1


class _Exit(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m engine",
        description="Cutaway's engine: a NemoVideo-compatible local backend that edits and renders with ffmpeg.",
        epilog="Every option has an ENGINE_* environment variable (ENGINE_HOST, ENGINE_PORT, ENGINE_DATA_DIR, …); "
        "the option wins.",
    )
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1; ENGINE_HOST)")
    parser.add_argument("--port", type=int, help="port to listen on, 0 for a free one (default 8765; ENGINE_PORT)")
    parser.add_argument("--data", type=Path, help="folder for sessions, media and renders (default data/engine)")
    parser.add_argument("--log-level", help="DEBUG, INFO, WARNING or ERROR (default INFO; ENGINE_LOG_LEVEL)")
    parser.add_argument(
        "--exit-with-stdin",
        action="store_true",
        help="also stop cleanly when standard input closes (for a parent process that spawns the engine)",
    )
    return parser


def load_settings(args: argparse.Namespace) -> EngineSettings:
    """Environment (and .env) first, options on top; raises `_Exit` with one readable line."""
    overrides: dict[str, Any] = {}
    if args.host is not None:
        overrides["host"] = args.host
    if args.port is not None:
        overrides["port"] = args.port
    if args.data is not None:
        overrides["data_dir"] = args.data
    if args.log_level is not None:
        overrides["log_level"] = args.log_level
    try:
        settings = EngineSettings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]) if first["loc"] else "settings"
        raise _Exit(EXIT_CONFIG, f"bad engine setting {name} (ENGINE_{name.upper()}): {first['msg']}") from None
    if logging.getLevelNamesMapping().get(settings.log_level.upper()) is None:
        raise _Exit(
            EXIT_CONFIG, f"bad engine setting log_level (ENGINE_LOG_LEVEL): unknown level {settings.log_level!r}"
        )
    return settings


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


async def _stdin_closed() -> None:
    """Return when standard input reaches its end (the parent closed the pipe or died)."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    try:
        transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    except (ValueError, OSError):
        # A regular file or a terminal: read it in a daemon thread (one that never holds up the exit).
        done: asyncio.Future[None] = loop.create_future()

        def finish() -> None:
            if not done.done():
                done.set_result(None)

        def read() -> None:
            _read_to_end(sys.stdin.buffer)
            loop.call_soon_threadsafe(finish)

        threading.Thread(target=read, name="stdin-watch", daemon=True).start()
        await done
        return
    try:
        while await reader.read(65536):
            pass
    finally:
        transport.close()


def _read_to_end(stream: Any) -> None:
    while stream.read(65536):
        pass


async def serve(settings: EngineSettings, *, exit_with_stdin: bool = False) -> None:
    """Run until SIGTERM or SIGINT (or, with `exit_with_stdin`, until stdin closes)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    engine = Engine(settings)
    try:
        await engine.start()
    except StoreError as exc:
        raise _Exit(EXIT_START, f"cannot use the data folder {settings.data_dir}: {exc}") from None
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise _Exit(EXIT_START, f"cannot listen on {settings.host}:{settings.port}: the port is in use") from None
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise _Exit(EXIT_START, f"cannot start: permission denied ({exc.filename or exc.strerror})") from None
        raise _Exit(EXIT_START, f"cannot start: {exc.strerror or exc}") from None
    watcher: asyncio.Task[None] | None = None
    if exit_with_stdin:
        watcher = asyncio.create_task(_stdin_closed(), name="stdin-watch")
        watcher.add_done_callback(lambda _: stop.set())
    try:
        print(f"Cutaway engine: {engine.base_url} (data in {settings.data_dir})", flush=True)
        await stop.wait()
        log.info("stopping")
    finally:
        if watcher is not None:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)
        await engine.close()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    log.info("stopped")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings(args)
        _setup_logging(settings.log_level)
        asyncio.run(serve(settings, exit_with_stdin=args.exit_with_stdin))
    except _Exit as exc:
        print(f"engine: {exc.message}", file=sys.stderr, flush=True)
        return exc.status
    return 0


if __name__ == "__main__":
    sys.exit(main())
