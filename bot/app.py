"""The discord.py bot: builds the services, loads the cogs, syncs commands only when they changed."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
from datetime import timedelta
from typing import Any

import aiohttp
import discord
import yarl
from discord.ext import commands

from bot import runtime
from bot.config import Settings
from bot.core.chat import Chat
from bot.core.exports import Exports
from bot.core.info import Info
from bot.core.intake import Intake
from bot.core.language import ui_language
from bot.core.liveness import Liveness, shard_identity
from bot.core.progress import status_budget
from bot.core.queues import ThreadQueues
from bot.core.renders import RenderService
from bot.core.sessions import Sessions
from bot.core.tasks import TaskRegistry
from bot.core.texts import t
from bot.core.uploads import CdnStreamer, Uploads
from bot.credentials import RepositoryCredentials
from bot.discord_surface import DiscordSurfaces
from bot.health import HealthServer, gateway_connected
from bot.http_tuning import amortise_bucket_sweep
from bot.localization import CatalogueTranslator, locale_lang
from bot.metrics import GATEWAY_LATENCY, QUEUED_MESSAGES, RENDERS_POLLING
from bot.nemo.auth import TokenProvider
from bot.nemo.client import NemoClient
from storage import open_repository
from storage.repository import GuildSettings, Repository

log = logging.getLogger(__name__)

EXTENSIONS = ("cogs.projects", "cogs.export", "cogs.info", "cogs.buttons", "cogs.history", "cogs.setup")
COMMANDS_HASH_KEY = "app_commands_hash"
CLAIM_RETENTION = timedelta(days=30)
CATCH_UP_WINDOW = timedelta(days=7)
CATCH_UP_THREADS = 500
CATCH_UP_SCHEDULE_TIMEOUT = 30.0  # reading the active threads from the database
USER_AGENT = "Cutaway (+https://github.com/cutaway-bot) aiohttp"


def make_intents() -> discord.Intents:
    intents = discord.Intents.none()
    intents.guilds = True
    intents.guild_messages = True
    intents.message_content = True  # privileged: switch it on in the Developer Portal
    return intents


class CutawayBot(commands.Bot):
    """Owns every long-lived resource and closes all of them in `close()`."""

    repo: Repository
    nemo: NemoClient
    sessions: Sessions
    queues: ThreadQueues
    intake: Intake
    renders: RenderService
    exports: Exports
    info: Info

    def __init__(self, settings: Settings, **options: Any) -> None:
        # The bot never reads discord.py's message cache; every status-edit echo would scan it.
        options.setdefault("max_messages", None)
        # on_ready waits this long for GUILD_CREATEs (2 s by default); nothing here needs the full cache.
        options.setdefault("guild_ready_timeout", 0.5)
        if settings.sharded:
            options.setdefault("shard_count", settings.shard_count)
            if settings.shard_ids:
                options.setdefault("shard_ids", settings.shard_ids)
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=make_intents(),
            help_command=None,
            allowed_mentions=discord.AllowedMentions.none(),
            **options,
        )
        self.settings = settings
        self._http_session: aiohttp.ClientSession | None = None
        self._background = TaskRegistry("bot")
        self._shutdown_task: asyncio.Task[None] | None = None
        self.surfaces = DiscordSurfaces(self)
        self.guild_settings: dict[int, GuildSettings] = {}
        self.health: HealthServer | None = None
        amortise_bucket_sweep(self.http)

    # ----------------------------------------------------------------- start-up
    async def login(self, token: str) -> None:
        base = self.settings.discord_api_base
        if base:
            discord.http.Route.BASE = base.rstrip("/")
        await super().login(token)
        if base:
            await self._use_gateway_of(base.rstrip("/"))

    async def _use_gateway_of(self, base: str) -> None:
        """A plain Bot never asks for /gateway; a Discord-compatible server needs us to."""
        session = self._session()
        async with session.get(f"{base}/gateway", timeout=aiohttp.ClientTimeout(total=30)) as resp:
            resp.raise_for_status()
            data = await resp.json(content_type=None)
        url = str(data["url"])
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(url)
        log.info("gateway taken from %s/gateway", base)

    def _session(self) -> aiohttp.ClientSession:
        if self._http_session is None or self._http_session.closed:
            # No pool cap: every chat turn holds its backend stream open for minutes, and a cap of 50 made
            # turns wait behind each other (bench/fanout: 71 of 1000 streams open at once).
            connector = aiohttp.TCPConnector(limit=0, limit_per_host=0)
            self._http_session = aiohttp.ClientSession(connector=connector, headers={"User-Agent": USER_AGENT})
        return self._http_session

    async def setup_hook(self) -> None:
        settings = self.settings
        self.repo = await open_repository(settings.database)
        self.liveness = Liveness(
            self.repo,
            interval=settings.liveness_seconds,
            identity=shard_identity(settings.shard_count, settings.shard_ids),
        )
        await self.liveness.start()
        await self.repo.prune_message_claims(discord.utils.utcnow() - CLAIM_RETENTION)
        static = settings.nemo_token.get_secret_value() if settings.nemo_token else None
        auth = TokenProvider(RepositoryCredentials(self.repo), static_token=static)
        self.nemo = NemoClient(self._session(), settings.backend, auth)
        self.sessions = Sessions(self.repo, self.nemo)
        self.queues = ThreadQueues(limit=settings.intake.queue_limit)
        budget = status_budget()
        self.renders = RenderService(
            self.repo,
            self.nemo,
            self.sessions,
            self.surfaces,
            settings.renders,
            liveness=self.liveness,
        )
        self.exports = Exports(self.sessions, self.queues, self.surfaces, self.renders)
        self.info = Info(self.nemo, self.sessions)
        # A redirect from the CDN is followed only to the hosts a user's `upload <url>` may name (bot.core.links).
        cdn = CdnStreamer(
            self._session(), max_bytes=settings.uploads.max_bytes, redirect_hosts=settings.uploads.url_hosts
        )
        self.intake = Intake(
            self.repo,
            self.sessions,
            self.queues,
            self.surfaces,
            self.liveness,
            Uploads(self.nemo, self.sessions, cdn, self.queues, settings.uploads, budget=budget),
            Chat(self.repo, self.nemo, self.sessions, self.queues, settings.chat, budget=budget),
            self.info,
            self.exports,
            settings.intake,
        )
        self.guild_settings = {g.guild_id: g for g in await self.repo.all_guild_settings()}
        await self.tree.set_translator(CatalogueTranslator())
        self.tree.error(self._on_app_command_error)
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        await self.sync_commands_if_changed()
        self._background.spawn(self._after_ready(), key="startup-recovery", name="startup-recovery")
        QUEUED_MESSAGES.set_function(lambda: self.queues.queued)
        RENDERS_POLLING.set_function(lambda: self.renders.active)
        GATEWAY_LATENCY.set_function(lambda: self.latency if math.isfinite(self.latency) else 0.0)
        if settings.health_port is not None:
            self.health = HealthServer(
                gateway_ok=self._gateway_ok,
                database_ok=self._database_ok,
                host=settings.health_host,
                port=settings.health_port,
            )
            await self.health.start()

    def owns_guild(self, guild_id: int | None) -> bool:
        """With SHARD_COUNT/SHARD_IDS, a thread's live work stays on the process whose shard owns its guild."""
        count = self.settings.shard_count
        if count is None or guild_id is None:
            return True
        ids = self.settings.shard_ids or range(count)
        return self._shard_of(guild_id) in ids

    def _gateway_ok(self) -> bool:
        return gateway_connected(self)

    async def _database_ok(self) -> bool:
        await self.repo.get_meta(COMMANDS_HASH_KEY)
        return True

    def is_project_channel(self, guild_id: int | None, channel_id: int | None) -> bool:
        """PROJECT_CHANNEL_IDS or a channel an admin marked with /setup."""
        if channel_id is None:
            return False
        if channel_id in self.settings.project_channel_ids:
            return True
        configured = self.guild_settings.get(guild_id or 0)
        return configured is not None and channel_id in configured.project_channel_ids

    def project_role(self, guild_id: int | None) -> int | None:
        configured = self.guild_settings.get(guild_id or 0)
        if configured is not None and configured.role_id is not None:
            return configured.role_id
        return self.settings.project_role_id

    async def add_project_channel(self, guild_id: int, channel_id: int, role_id: int | None) -> None:
        await self.repo.add_project_channel(guild_id, channel_id)
        if role_id is not None:
            await self.repo.set_guild_role(guild_id, role_id)
        self.guild_settings = {g.guild_id: g for g in await self.repo.all_guild_settings()}

    async def on_connect(self) -> None:
        """Every fresh gateway session (READY after IDENTIFY, not a RESUME): catch up (sharded: per shard)."""
        if not isinstance(self, commands.AutoShardedBot):
            await self._catch_up_after_ready(None)

    async def on_shard_connect(self, shard_id: int) -> None:
        await self._catch_up_after_ready(shard_id)

    async def _catch_up_after_ready(self, shard_id: int | None) -> None:
        """Discord replays nothing across a new session (a start, or a re-IDENTIFY after the session was
        invalidated): what was posted meanwhile is read from the threads' histories (bot.core.queues).

        The session begins before the first await, so before anything the new session delivers is queued:
        every thread's first job of the session is preceded by its catch-up, from the window's start at
        the earliest. The recently active threads (the last CATCH_UP_WINDOW, at most CATCH_UP_THREADS) are
        caught up at once as well, whether or not anything new arrives in them."""
        window_start = discord.utils.time_snowflake(discord.utils.utcnow() - CATCH_UP_WINDOW)
        self.intake.begin_session(missed_after=window_start)
        try:
            async with asyncio.timeout(CATCH_UP_SCHEDULE_TIMEOUT):
                await self._schedule_catch_up(shard_id, since=window_start)
        except Exception:
            log.exception("could not schedule catch-up after READY; threads catch up at their next message")

    async def _schedule_catch_up(self, shard_id: int | None, *, since: int) -> None:
        """Queue catch-up for the threads active since `since` (a message id) that this process (or this
        shard) owns."""
        projects = [
            p
            for p in await self.repo.active_projects(since, limit=CATCH_UP_THREADS)
            if self.owns_guild(p.guild_id) and (shard_id is None or self._shard_of(p.guild_id) == shard_id)
        ]
        self.intake.schedule_catch_up([p.thread_id for p in projects])
        if projects:
            where = "" if shard_id is None else f" on shard {shard_id}"
            log.info("catching up on %d recently active thread(s)%s", len(projects), where)

    def _shard_of(self, guild_id: int | None) -> int:
        count = self.settings.shard_count or 1
        return 0 if guild_id is None else (guild_id >> 22) % count

    async def commands_hash(self) -> str:
        """Hash what `tree.sync()` would send, translations included."""
        translator = self.tree.translator
        payload = []
        for cmd in self.tree.get_commands():
            payload.append(
                await cmd.get_translated_payload(self.tree, translator) if translator else cmd.to_dict(self.tree)
            )
        payload.sort(key=lambda c: str(c.get("name")))
        blob = json.dumps({"app": self.application_id, "commands": payload}, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()

    async def sync_commands_if_changed(self) -> None:
        """Discord allows 200 command creates per guild per day: restarts must not burn them."""
        digest = await self.commands_hash()
        if await self.repo.get_meta(COMMANDS_HASH_KEY) == digest:
            log.info("app commands unchanged; not syncing")
            return
        synced = await self.tree.sync()
        await self.repo.set_meta(COMMANDS_HASH_KEY, digest)
        log.info("synced %d app commands", len(synced))

    async def _after_ready(self) -> None:
        await self.wait_until_ready()
        try:
            self.renders.start_sweeper()
            await self._report_interrupted_turns()
        except Exception:
            log.exception("start-up recovery failed")

    async def wait_recovered(self, timeout: float) -> None:
        """Until start-up recovery (renders taken over, interrupted turns reported) is done."""
        await self._background.join(timeout)

    async def _report_interrupted_turns(self) -> None:
        for turn in await self.repo.open_turns():
            project = await self.sessions.get(turn.thread_id)
            if project is not None and not self.owns_guild(project.guild_id):
                continue  # the process whose shard owns that guild reports it
            lang = ui_language(project.language if project else None)
            preview = discord.utils.escape_mentions(discord.utils.escape_markdown(turn.preview))
            await self.surfaces.for_thread(turn.thread_id).post(t("restart_interrupted", lang, preview=preview))
            await self.repo.close_turn(turn.thread_id, turn.message_id)

    async def _on_app_command_error(
        self, interaction: discord.Interaction, error: discord.app_commands.AppCommandError
    ) -> None:
        """Never "This interaction failed" and never a stack trace: log it, answer kindly."""
        log.error("command %s failed", interaction.command.name if interaction.command else "?", exc_info=error)
        text = t("err_internal", locale_lang(interaction.locale))
        try:
            if interaction.response.is_done():
                await interaction.followup.send(text, ephemeral=True, allowed_mentions=discord.AllowedMentions.none())
            else:
                await interaction.response.send_message(text, ephemeral=True)
        except discord.HTTPException:
            log.debug("could not report the command error to the user")

    async def on_ready(self) -> None:
        # Everything loaded at start-up is long-lived: keep full GC passes from walking it (pauses of
        # 100-230 ms at a thousand busy threads in bench/fanout), and make them rare.
        runtime.settle_gc()
        log.info("ready as %s in %d guild(s)", self.user, len(self.guilds))

    # ----------------------------------------------------------------- shutdown
    async def close(self) -> None:
        """Idempotent: every caller (signal handler, `async with`, tests) waits for the same clean-up."""
        if self._shutdown_task is None:
            self._shutdown_task = asyncio.create_task(self._shutdown(), name="cutaway-shutdown")
        await asyncio.shield(self._shutdown_task)

    async def _shutdown(self) -> None:
        await self._background.close()
        if hasattr(self, "queues"):
            await self.queues.close()
        if hasattr(self, "intake"):
            await self.intake.close()
        if hasattr(self, "renders"):
            await self.renders.close()
        if hasattr(self, "liveness"):
            await self.liveness.stop()
        await super().close()
        if self.health is not None:
            await self.health.close()
        if self._http_session is not None:
            await self._http_session.close()
        if hasattr(self, "repo"):
            await self.repo.close()
        log.info("closed cleanly")


class ShardedCutawayBot(CutawayBot, commands.AutoShardedBot):
    """SHARD_COUNT/SHARD_IDS: discord.py's AutoShardedBot for just this process's shard range."""


def create_bot(settings: Settings, **options: Any) -> CutawayBot:
    if settings.sharded:
        return ShardedCutawayBot(settings, **options)
    return CutawayBot(settings, **options)
