"""`python -m bot playground`: the real bot against a fake Discord you drive from a web page.

No credentials: the Discord side is the project's fake (a generated token); the backend is
Cutaway's local engine (default: your clips really edited, with composed music, and rendered),
the scripted offline fake of NemoVideo (`--backend fake`, every export a sample clip), or the
real service (`--backend real`, with `NEMO_TOKEN` or an anonymous token). Everything listens on
127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import threading
import webbrowser
from collections.abc import Sequence
from pathlib import Path

from bot import runtime
from bot.logging_setup import SECRET_FILTER, setup_logging
from devkit.playground.runner import Playground, PlaygroundConfig
from devkit.playground.server import PlaygroundServer, backend_info

__all__ = ["Playground", "PlaygroundConfig", "PlaygroundServer", "main"]

log = logging.getLogger("devkit.playground")

EXIT_FAILED = 1


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bot playground",
        description="Run the real Cutaway bot against a local fake Discord and open a page that drives it.",
    )
    parser.add_argument(
        "--backend",
        choices=["local", "fake", "real"],
        default="local",
        help="local: Cutaway's own engine on this machine, which really edits and renders your clips "
        "(default); fake: the scripted offline NemoVideo fake (every export is a sample clip); real: the "
        "NemoVideo API (NEMO_TOKEN, or an anonymous token)",
    )
    parser.add_argument("--port", type=int, default=0, help="port of the page on 127.0.0.1 (default: any free one)")
    parser.add_argument("--no-browser", action="store_true", help="only print the URL; do not open a browser")
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        metavar="FILE",
        help="SQLite file to keep between runs (default: a temporary one). With --backend real "
        "and no NEMO_TOKEN this keeps the anonymous token too",
    )
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"], type=str.upper)
    return parser.parse_args(argv)


def _gui_available() -> bool:
    """Python's webbrowser falls back to text browsers (lynx, w3m) that would take over the terminal."""
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def open_browser(url: str) -> None:
    """Best effort, never blocks or fails the playground."""
    if not _gui_available():
        return

    def run() -> None:
        try:
            webbrowser.open(url, new=2)
        except Exception as exc:
            log.info("could not open a browser (%s); open %s yourself", exc, url)

    threading.Thread(target=run, name="open-browser", daemon=True).start()


async def serve(config: PlaygroundConfig, *, browser: bool, log_level: str) -> int:
    """Run until SIGINT/SIGTERM (exit 0) or until the bot stops by itself (exit 1)."""
    playground = Playground(config)
    setup_logging(log_level, playground.secrets)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with playground:
            for secret in playground.secrets:  # the backend token is known once started
                SECRET_FILTER.add(secret)
            info = backend_info(config.backend)
            backend = f"backend: {info['label']}" + (f" ({info['note']})" if info["note"] else "")
            print(
                f"Cutaway playground: {playground.url}\n  the real bot, a fake Discord, {backend}. Ctrl-C to stop.",
                flush=True,
            )
            if browser:
                open_browser(playground.url)
            assert playground.bot_task is not None
            stopper = asyncio.create_task(stop.wait())
            done, _ = await asyncio.wait({stopper, playground.bot_task}, return_when=asyncio.FIRST_COMPLETED)
            stopper.cancel()
            await asyncio.gather(stopper, return_exceptions=True)
            if playground.bot_task in done:
                print("cutaway playground: the bot stopped unexpectedly (see the log above)", file=sys.stderr)
                return EXIT_FAILED
    except Exception as exc:
        log.debug("playground failed", exc_info=True)
        print(f"cutaway playground: could not start: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m bot playground` (and `python -m devkit.playground`)."""
    args = parse_args(argv)
    config = PlaygroundConfig(backend=args.backend, port=args.port, data=args.data)
    return runtime.run(serve(config, browser=not args.no_browser, log_level=args.log_level))
