"""`python -m bot`: run the bot in the foreground until SIGINT/SIGTERM (`--help` says what it needs)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import socket
import sys

import aiohttp
import discord
from pydantic import ValidationError

from bot import runtime
from bot.config import DEFAULT_DISCORD_API_BASE, Settings
from bot.local_engine import EngineStartFailed, LocalEngine, is_local
from bot.logging_setup import setup_logging

log = logging.getLogger("bot")

EXIT_CONFIG = 2
"""Configuration missing or invalid (also: unknown command-line arguments)."""
EXIT_DISCORD = 3
"""Discord refused the token or the Message Content intent."""
EXIT_UNREACHABLE = 4
"""Discord could not be reached at start-up (network, DNS, DISCORD_API_BASE): worth retrying later."""
EXIT_ENGINE = 5
"""NEMO_API_BASE=local, and the local engine did not start (its own lines on stderr say why)."""

HELP = """\
Cutaway: a Discord bot that turns a thread into a video project. Runs in the foreground until
Ctrl-C or SIGTERM, then closes cleanly.

commands:
  python -m bot                 run the bot (needs DISCORD_TOKEN)
  python -m bot playground      the real bot against a fake Discord in a web page: no token, no
                                Discord application (python -m bot playground --help)
"""

EPILOG = """\
configuration (environment variables, or a .env file in the working folder; the environment wins):
  DISCORD_TOKEN          the bot token (required)
  NEMO_API_BASE          the editing backend (default https://mega-api-prod.nemovideo.ai); "local" runs
                         Cutaway's own engine beside the bot (ENGINE_* variables, see docs/engine-api.md)
  NEMO_TOKEN             a NemoVideo account token (default: one anonymous token, kept in the database)
  DATABASE_PATH          the SQLite file (default data/bot.sqlite3); DATABASE_URL for PostgreSQL
  PROJECT_CHANNEL_IDS    channel ids where a posted clip (or forum post) starts a project
  HEALTH_PORT            serve GET /healthz and GET /metrics on this port
  LOG_LEVEL, LOG_FORMAT  INFO (default) or DEBUG…; text (default) or json
  Every variable is described in .env.example.

exit status:
  0  stopped cleanly
  2  configuration missing or invalid
  3  Discord refused the token or the Message Content intent
  4  Discord could not be reached
  5  NEMO_API_BASE=local and the local engine did not start
"""


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        usage="%(prog)s [-h] | %(prog)s playground [-h] [options]",
        description=HELP,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser.parse_args(argv)


def unreachable_reason(exc: BaseException) -> str:
    """Why Discord could not be reached, in a few words (the traceback goes to the DEBUG log)."""
    if isinstance(exc, aiohttp.ClientConnectorError):
        error = exc.os_error
        if isinstance(error, socket.gaierror):
            return f"cannot resolve {exc.host} ({error.strerror or error})"
        if error.errno:
            return os.strerror(error.errno)
        return str(error) or type(error).__name__
    if isinstance(exc, aiohttp.ClientResponseError):
        return f"HTTP {exc.status} {exc.message}".rstrip()
    if isinstance(exc, discord.HTTPException):
        return f"HTTP {exc.status}"
    if isinstance(exc, TimeoutError):
        return "no answer (timed out)"
    return str(exc) or type(exc).__name__


def load_settings() -> Settings | None:
    try:
        return Settings()
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = str(error["loc"][0]).upper() if error["loc"] else "?"
            problems.append(f"{name} is not set" if error["type"] == "missing" else f"{name}: {error['msg']}")
        print(f"cutaway: configuration error: {'; '.join(problems)} (see .env.example)", file=sys.stderr)
        return None


async def run(settings: Settings) -> int:
    """The bot until it is stopped; with `NEMO_API_BASE=local`, the engine beside it (bot.local_engine)."""
    if not is_local(settings.nemo_api_base):
        return await run_bot(settings)
    if settings.nemo_token is not None:
        log.warning("NEMO_TOKEN is not used with NEMO_API_BASE=local: the local engine issues its own token")
    engine = LocalEngine()
    if not engine.env.get("ENGINE_PUBLIC_URL"):  # the engine reads `.env` too: so does this check
        log.warning(
            "NEMO_API_BASE=local without ENGINE_PUBLIC_URL: export links point at this machine's own address "
            "and open only here; set ENGINE_PUBLIC_URL (and ENGINE_HOST) to where users' browsers reach the engine"
        )
    try:
        async with engine:
            return await run_bot(settings.model_copy(update={"nemo_api_base": engine.base_url, "nemo_token": None}))
    except EngineStartFailed as exc:
        print(f"cutaway: {exc} (NEMO_API_BASE=local; its messages are above)", file=sys.stderr)
        return EXIT_ENGINE


async def run_bot(settings: Settings) -> int:
    from bot.app import create_bot

    bot = create_bot(settings)
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    closing: list[asyncio.Task[None]] = []

    def request_stop() -> None:
        if not stopping.is_set():
            stopping.set()
            log.info("shutdown requested")
            closing.append(loop.create_task(bot.close()))

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, request_stop)
    try:
        async with bot:
            await bot.start(settings.discord_token.get_secret_value())
        await bot.close()  # discord.py's __aexit__ does not wait for our own clean-up; this does
    except discord.LoginFailure:
        print("cutaway: Discord refused DISCORD_TOKEN (check the bot token in the Developer Portal)", file=sys.stderr)
        return EXIT_DISCORD
    except discord.PrivilegedIntentsRequired:
        print(
            "cutaway: Discord refused the Message Content intent: enable it under Bot → Privileged Gateway "
            "Intents in the Developer Portal",
            file=sys.stderr,
        )
        return EXIT_DISCORD
    except (OSError, aiohttp.ClientError, TimeoutError, discord.DiscordServerError) as exc:
        log.debug("Discord unreachable", exc_info=True)
        base = settings.discord_api_base or DEFAULT_DISCORD_API_BASE
        print(
            f"cutaway: cannot reach Discord at {base}: {unreachable_reason(exc)} "
            "(check the network, or DISCORD_API_BASE)",
            file=sys.stderr,
        )
        return EXIT_UNREACHABLE
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["playground"]:  # the real bot against a fake Discord, no DISCORD_TOKEN needed
        from devkit.playground import main as playground_main

        return playground_main(args[1:])
    parse_args(args)  # --help, or a usage error for anything else
    settings = load_settings()
    if settings is None:
        return EXIT_CONFIG
    secrets = [settings.discord_token.get_secret_value()]
    if settings.nemo_token is not None:
        secrets.append(settings.nemo_token.get_secret_value())
    setup_logging(settings.log_level, secrets, json_lines=settings.log_format == "json")
    return runtime.run(run(settings))


if __name__ == "__main__":
    sys.exit(main())
