"""The playground: the real Cutaway bot in-process against the fake Discord, plus a backend: the local
engine (default: it really edits and renders your clips), the scripted fake, or the real NemoVideo API.

The bot starts exactly as in the end-to-end tests (devkit.stack), and the engine exactly as
`NEMO_API_BASE=local` starts it (bot.local_engine). The Discord token is generated: no credentials.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.app import CutawayBot
from bot.config import DEFAULT_NEMO_API_BASE, Settings
from bot.local_engine import LocalEngine
from devkit.fakes.discord import FakeDiscord
from devkit.fakes.nemo import FakeNemo
from devkit.fakes.nemo_sample import render_sample
from devkit.playground.server import PlaygroundServer
from devkit.stack import RunningBot, bot_settings, restored_discord_globals

log = logging.getLogger(__name__)

Backend = Literal["local", "fake", "real"]


class RealBackendEnv(BaseSettings):
    """Only what the real backend needs from the environment or `.env`; nothing else leaks in."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False)

    nemo_api_base: str = DEFAULT_NEMO_API_BASE
    nemo_token: SecretStr | None = None


@dataclass(frozen=True)
class PlaygroundConfig:
    """How the playground runs; the defaults make every stage visible to a person watching."""

    backend: Backend = "local"
    port: int = 0
    data: Path | None = None
    """SQLite file to keep between runs (the local engine keeps its sessions and exports in a folder beside
    it, `<name>-engine/`); None: temporary ones, deleted on close."""
    heartbeat_seconds: float = 1.5
    render_poll_seconds: float = 1.0
    turn_delay: float = 0.8
    """Fake backend: seconds between the events of a reply, so "⏳ Still working…" shows and updates."""
    render_polls: int = 4
    """Fake backend: polls until an export completes."""
    anonymous_credits: int = 1000


def sample_clip() -> bytes:
    """The short real MP4 the fake backend serves as every export's result (generated, cached)."""
    return render_sample()


def build_settings(
    config: PlaygroundConfig,
    *,
    discord_token: str,
    discord_api_base: str,
    project_channel_ids: list[int],
    database: Path,
    nemo_api_base: str | None,
    nemo_token: str | None,
) -> Settings:
    """The bot's settings for the playground; explicit values only (a `.env` must not redirect it)."""
    values: dict[str, Any] = {
        "project_channel_ids": project_channel_ids,
        "heartbeat_seconds": config.heartbeat_seconds,
        "render_poll_seconds": config.render_poll_seconds,
    }
    if config.backend == "fake":
        values.update(rate_limit_retry_seconds=1.0, stream_recovery_seconds=1.0)
    return bot_settings(
        discord_token=discord_token,
        discord_api_base=discord_api_base,
        database=database,
        nemo_api_base=nemo_api_base or DEFAULT_NEMO_API_BASE,
        nemo_token=nemo_token,
        **values,
    )


class Playground:
    """Fake Discord + backend + the real bot + the web page; ``async with`` starts and stops all."""

    def __init__(self, config: PlaygroundConfig | None = None) -> None:
        self.config = config or PlaygroundConfig()
        self.discord_token = "playground." + secrets.token_urlsafe(24)
        self.discord = FakeDiscord(token=self.discord_token)
        self.nemo: FakeNemo | None = None
        self.engine: LocalEngine | None = None
        self.bot: CutawayBot | None = None
        self.bot_task: asyncio.Task[None] | None = None
        self.server = PlaygroundServer(self.discord, port=self.config.port, backend=self.config.backend)
        self.database: Path | None = None
        self._stack = contextlib.AsyncExitStack()

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def secrets(self) -> list[str]:
        """Values the logs must never show."""
        found = [self.discord_token]
        if self.bot is not None and self.bot.settings.nemo_token is not None:
            found.append(self.bot.settings.nemo_token.get_secret_value())
        return found

    async def start(self) -> str:
        """Start everything (undoing what started if a later step fails); returns the page's URL."""
        try:
            await self._start()
        except BaseException:
            await self._stack.aclose()
            raise
        return self.url

    async def _start(self) -> None:
        stack = self._stack
        stack.enter_context(restored_discord_globals())
        await self.discord.start()
        stack.push_async_callback(self.discord.close)

        if self.config.data is not None:
            self.database = self.config.data
            engine_data = self.config.data.with_name(self.config.data.stem + "-engine")
        else:
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="cutaway-playground-")))
            self.database = folder / "playground.sqlite3"
            engine_data = folder / "engine"

        nemo_base: str | None
        nemo_token: str | None = None
        if self.config.backend == "local":
            env = {**os.environ, "ENGINE_HOST": "127.0.0.1", "ENGINE_PORT": "0", "ENGINE_DATA_DIR": str(engine_data)}
            self.engine = await stack.enter_async_context(LocalEngine(env))
            nemo_base = self.engine.base_url
        elif self.config.backend == "fake":
            self.nemo = FakeNemo(
                anonymous_credits=self.config.anonymous_credits,
                default_turn_delay=self.config.turn_delay,
                render_polls_to_complete=self.config.render_polls,
            )
            self.nemo.result_video = await asyncio.to_thread(sample_clip)
            self.nemo.reply_in_message_language = True
            nemo_base = await self.nemo.start()
            stack.push_async_callback(self.nemo.close)
        else:
            env_real = RealBackendEnv()
            nemo_base = env_real.nemo_api_base
            nemo_token = env_real.nemo_token.get_secret_value() if env_real.nemo_token else None

        settings = build_settings(
            self.config,
            discord_token=self.discord_token,
            discord_api_base=self.discord.api_base,
            project_channel_ids=[self.discord.text_channel_id, self.discord.forum_channel_id],
            database=self.database,
            nemo_api_base=nemo_base,
            nemo_token=nemo_token,
        )
        running = await RunningBot.start(settings)
        self.bot, self.bot_task = running.bot, running.task
        stack.push_async_callback(running.stop)

        await self.server.start()
        stack.push_async_callback(self.server.close)

    async def close(self) -> None:
        """Stop the page, the bot, the backend and the fake Discord; delete a temporary database."""
        await self._stack.aclose()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()
