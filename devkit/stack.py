"""Start the real bot in-process against the fake Discord: the one start-up the tests and the playground share.

The bot is the production CutawayBot, configured only through Settings (as `python -m bot` is):
discord.py's REST and gateway point at the fake through DISCORD_API_BASE, so the real client speaks
the real protocols on 127.0.0.1. Users: tests/harness.py (end-to-end tests) and devkit.playground.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import discord

from bot.app import CutawayBot, create_bot
from bot.config import Settings

READY_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


@contextlib.contextmanager
def restored_discord_globals() -> Iterator[None]:
    """discord.py keeps its REST base and gateway URL in class attributes: put them back afterwards."""
    old_base = discord.http.Route.BASE
    old_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    try:
        yield
    finally:
        discord.http.Route.BASE = old_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gateway


def bot_settings(
    *,
    discord_token: str,
    discord_api_base: str,
    database: Path,
    nemo_api_base: str,
    nemo_token: str | None = None,
    **overrides: Any,
) -> Settings:
    """Explicit values only: a developer's `.env` must not redirect a test or the playground.

    `overrides` are Settings fields (e.g. project_channel_ids, heartbeat_seconds)."""
    values: dict[str, Any] = {
        "discord_token": discord_token,
        "discord_api_base": discord_api_base,
        "nemo_api_base": nemo_api_base,
        "nemo_token": nemo_token,
        "database_path": database,
        **overrides,
    }
    return Settings(_env_file=None, **values)


class RunningBot:
    """A started bot: ready on the gateway, start-up recovery done."""

    def __init__(self, bot: CutawayBot, task: asyncio.Task[None]) -> None:
        self.bot = bot
        self.task = task

    @classmethod
    async def start(cls, settings: Settings, *, ready_timeout: float = READY_TIMEOUT) -> RunningBot:
        """Raise what stopped the bot, or TimeoutError; either way nothing is left running."""
        # on_ready waits this long for GUILD_CREATEs; the fake sends them at once.
        bot = create_bot(settings, guild_ready_timeout=0.1)
        task = asyncio.create_task(bot.start(settings.discord_token.get_secret_value()), name="cutaway-bot")
        running = cls(bot, task)
        ready = asyncio.create_task(bot.wait_until_ready())
        try:
            done, _ = await asyncio.wait({task, ready}, timeout=ready_timeout, return_when=asyncio.FIRST_COMPLETED)
            if task in done:
                task.result()
                raise RuntimeError("the bot stopped during start-up")
            if ready not in done:
                raise TimeoutError(f"the bot was not ready after {ready_timeout:g}s")
            await bot.wait_recovered(ready_timeout)
        except BaseException:
            await running.stop()
            raise
        finally:
            if not ready.done():
                ready.cancel()
                await asyncio.gather(ready, return_exceptions=True)
        return running

    async def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Close the bot (it closes everything it owns) and wait for its task."""
        await self.bot.close()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(timeout):
                await self.task
