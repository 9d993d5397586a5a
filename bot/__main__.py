"""`python -m bot`: run the bot in the foreground until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

import discord
from pydantic import ValidationError

from bot import runtime
from bot.config import Settings
from bot.logging_setup import setup_logging

log = logging.getLogger("bot")

EXIT_CONFIG = 2
EXIT_DISCORD = 3


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
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["playground"]:  # the real bot against a fake Discord, no DISCORD_TOKEN needed
        from devkit.playground import main as playground_main

        return playground_main(args[1:])
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
