"""Projects: a thread is a project is a backend session. Handles each message of a thread.

One message, as data: IncomingMessage → per-thread queue → uploads (if any) → keyword route →
export / credits / status / upload hint, or a chat turn over the backend's event stream.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

from bot.metrics import ACTIVE_TURNS
from bot.nemo.client import NemoClient, UploadSource
from bot.nemo.errors import NemoError, SessionNotFound, StreamDropped, StreamTimeout
from bot.nemo.events import ErrorEvent, StateDeltaEvent, TextEvent, ToolCallEvent
from bot.nemo.models import SessionState
from storage.repository import OpenTurn, Project, Repository

from . import formats, timeline
from .actions import QUICK_ACTIONS, quick_actions, quick_instruction
from .feedback import error_text
from .gui_phrases import translate_gui
from .language import detect_language, ui_language
from .liveness import Liveness
from .ports import IncomingMessage, StatusMessage, SurfaceFactory, ThreadSurface
from .queues import ThreadQueues
from .ratelimit import TokenBucket, UserRateLimiter
from .routing import Intent, route
from .texts import format_duration, t
from .uploads import CdnStreamer, DownloadFailed, TooLargeWhileStreaming, check_declared

log = logging.getLogger(__name__)

R = TypeVar("R")
NOISE = re.compile(r"i (?:have )?encountered a temporary issue", re.IGNORECASE)
QUEUED_EMOJI = "🕒"
# Discord: 50 requests/s per bot, about 5 per 5 s per channel. Status edits are optional, so they get half
# the bot's budget and at most one per 1.25 s per thread; a skipped heartbeat just shows up a tick later.
STATUS_EDITS_PER_SECOND = 25.0
MIN_STATUS_EDIT_GAP = 1.25
TOOL_WORDS = {
    "music": "adding music",
    "bgm": "adding music",
    "suno": "adding music",
    "audio": "working on audio",
    "edit": "editing",
    "multitrack": "editing",
    "draft": "editing",
    "generate": "generating video",
    "seedance": "generating video",
    "understand": "watching your clips",
    "analy": "watching your clips",
    "caption": "adding captions",
    "subtitle": "adding captions",
    "title": "adding titles",
}
TOOL_WORDS_ZH = {
    "adding music": "添加音乐",
    "working on audio": "处理音频",
    "editing": "编辑",
    "generating video": "生成视频",
    "watching your clips": "分析素材",
    "adding captions": "添加字幕",
    "adding titles": "添加标题",
}


class ExportStarter(Protocol):
    async def start_export(self, project: Project, requester_id: int, lang: str, surface: ThreadSurface) -> object: ...


class NothingToExport(Exception):
    """The draft is empty: there is nothing to render yet."""


@dataclass(frozen=True, slots=True)
class ProjectStart:
    """Queued ahead of a new thread's first message, so creation and that message stay in order."""

    thread_id: int
    guild_id: int | None
    parent_id: int | None
    owner_id: int
    name: str
    seed_text: str = ""


@dataclass(frozen=True, slots=True)
class CatchUp:
    """Queued for a thread at start-up, before any live message: handle what arrived while offline."""

    thread_id: int


WorkItem = IncomingMessage | ProjectStart | CatchUp
CATCH_UP_LIMIT = 100  # per thread; older backlog is left alone rather than replayed wholesale


@dataclass(slots=True)
class ServiceSettings:
    heartbeat_seconds: float = 120.0
    sse_timeout_seconds: float = 900.0
    max_upload_bytes: int = 500 * 1024 * 1024
    # The seed's disconnect recovery: check the state after 30 s, then every 60 s, 5 checks in all.
    recovery_delays: tuple[float, ...] = (30.0, 60.0, 60.0, 60.0, 60.0)
    queue_limit: int = 25
    user_messages_per_minute: int = 20
    upload_url_hosts: tuple[str, ...] = ("cdn.discordapp.com", "media.discordapp.net")


@dataclass(slots=True)
class _Turn:
    started: float
    thread_id: int = 0
    requester_id: int = 0
    stage: str | None = None
    last_reply_id: int | None = None
    # Set to end the heartbeat: cancelling it could land inside a discord.py request, whose rate-limit
    # bookkeeping is not cancel-safe (that channel's edits would then stall).
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    last_edit: float = float("-inf")
    status: StatusMessage | None = None
    texts_posted: int = 0
    last_draft: dict[str, object] | None = None
    errors: list[ErrorEvent] = field(default_factory=list)


def tool_stage(name: str, lang: str) -> str:
    lowered = name.lower()
    for needle, words in TOOL_WORDS.items():
        if needle in lowered:
            return TOOL_WORDS_ZH.get(words, words) if lang == "zh" else words
    return t("stage_thinking", lang)


class ProjectService:
    """The core of the bot: no discord.py here, only ports."""

    def __init__(
        self,
        repo: Repository,
        nemo: NemoClient,
        cdn: CdnStreamer,
        surfaces: SurfaceFactory,
        settings: ServiceSettings,
        *,
        liveness: Liveness | None = None,
        exports: ExportStarter | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._repo = repo
        self._nemo = nemo
        self._cdn = cdn
        self._surfaces = surfaces
        self._settings = settings
        self._exports = exports
        self._liveness = liveness or Liveness(repo)
        self._clock = clock
        self._sleep = sleep
        self._queues: ThreadQueues[WorkItem] = ThreadQueues(self._dispatch, limit=settings.queue_limit)
        self._cache: OrderedDict[int, Project | None] = OrderedDict()
        self._cache_limit = 10_000
        self._session_locks: dict[int, asyncio.Lock] = {}
        self._queued_ids: set[int] = set()
        self._action_messages: dict[int, int] = {}
        self._background: set[asyncio.Task[Any]] = set()
        self._catch_up_slots = asyncio.Semaphore(4)
        self._limiter = UserRateLimiter(settings.user_messages_per_minute, 60.0, clock=clock)
        self._edit_budget = TokenBucket(STATUS_EDITS_PER_SECOND, STATUS_EDITS_PER_SECOND * 2, clock=clock)

    def set_exports(self, exports: ExportStarter) -> None:
        self._exports = exports

    @property
    def queues(self) -> ThreadQueues[WorkItem]:
        return self._queues

    # ----------------------------------------------------------------- projects
    def _remember(self, thread_id: int, project: Project | None) -> None:
        self._cache[thread_id] = project
        self._cache.move_to_end(thread_id)
        while len(self._cache) > self._cache_limit:
            self._cache.popitem(last=False)

    def known_not_project(self, thread_id: int) -> bool:
        return thread_id in self._cache and self._cache[thread_id] is None

    async def get_project(self, thread_id: int) -> Project | None:
        if thread_id in self._cache:
            return self._cache[thread_id]
        project = await self._repo.get_project(thread_id)
        self._remember(thread_id, project)
        return project

    async def create_project(
        self,
        *,
        thread_id: int,
        guild_id: int | None,
        parent_id: int | None,
        owner_id: int,
        name: str,
        seed_text: str = "",
    ) -> Project:
        """Store the mapping now; the backend session is created with the first message that needs it."""
        existing = await self._repo.get_project(thread_id)  # not via the cache: never cache "not a project" here
        if existing is not None:
            self._remember(thread_id, existing)
            return existing
        # Every message of the thread (a forum starter shares the thread's id) is newer than this:
        # restart catch-up and duplicate detection start from here.
        project = Project(
            thread_id=thread_id,
            guild_id=guild_id,
            parent_id=parent_id,
            owner_id=owner_id,
            session_id="",
            language=detect_language(seed_text or name),
            name=name,
            created_at=datetime.now(UTC),
            last_message_id=thread_id - 1,
        )
        await self._repo.create_project(project)
        self._remember(thread_id, project)
        log.info("project created thread=%s guild=%s owner=%s", thread_id, guild_id, owner_id)
        return project

    async def _ensure_session(self, project: Project, text: str) -> Project:
        if project.session_id:
            return project
        lock = self._session_locks.setdefault(project.thread_id, asyncio.Lock())
        async with lock:
            current = await self.get_project(project.thread_id) or project
            if current.session_id:
                return current
            language = detect_language(text) if text.strip() else current.language
            info = await self._nemo.create_session(language)
            await self._repo.set_project_session(project.thread_id, info.session_id)
            updated = replace(current, session_id=info.session_id, language=language)
            self._remember(project.thread_id, updated)
            log.info("session created thread=%s session=%s lang=%s", project.thread_id, info.session_id, language)
            return updated

    async def _renew_session(self, project: Project, surface: ThreadSurface, lang: str) -> Project:
        info = await self._nemo.create_session(project.language)
        await self._repo.set_project_session(project.thread_id, info.session_id)
        updated = replace(project, session_id=info.session_id)
        self._remember(project.thread_id, updated)
        log.warning("session lost thread=%s; new session=%s", project.thread_id, info.session_id)
        await surface.post(t("err_session_lost", lang))
        return updated

    async def with_session(
        self, project: Project, surface: ThreadSurface, lang: str, text: str, op: Callable[[Project], Awaitable[R]]
    ) -> R:
        """Run `op` with a live session; on 1002 make a new session once and run it again."""
        project = await self._ensure_session(project, text)
        try:
            return await op(project)
        except SessionNotFound:
            project = await self._renew_session(project, surface, lang)
            return await op(project)

    # ----------------------------------------------------------------- messages
    def submit(self, message: IncomingMessage) -> bool:
        """Queue a message of a (possibly) project thread. Call without awaiting first: keeps order."""
        if self.known_not_project(message.thread_id) and not self._queues.waiting(message.thread_id):
            return False
        wait = self._limiter.check(message.author_id)
        if wait > 0:
            if self._limiter.should_warn(message.author_id, wait):
                surface = self._surfaces.for_thread(message.thread_id)
                text = t("slow_down", self._lang_of(message), seconds=max(1, round(wait)))
                self._in_background(surface.post(text))
            log.info("thread=%s user=%s rate limited", message.thread_id, message.author_id)
            return False
        ahead = self._queues.waiting(message.thread_id)
        accepted = self._queues.submit(message.thread_id, message)
        surface = self._surfaces.for_thread(message.thread_id)
        if not accepted:
            self._in_background(surface.post(t("queue_full", self._lang_of(message))))
        elif ahead:
            self._queued_ids.add(message.message_id)
            self._in_background(self._mark_queued(surface, message.message_id))
        return accepted

    def _in_background(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Fire-and-forget, but referenced until done (the loop keeps only weak references to tasks)."""
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def start_project(self, start: ProjectStart, first_message: IncomingMessage | None = None) -> None:
        """Queue project creation (and the message that started it) without awaiting: keeps order."""
        self._cache.pop(start.thread_id, None)
        self._queues.submit(start.thread_id, start)
        if first_message is not None:
            self._queues.submit(start.thread_id, first_message)

    def schedule_catch_up(self, thread_ids: list[int]) -> None:
        """Queue catch-up for these threads; call before the gateway delivers live messages."""
        for thread_id in thread_ids:
            self._queues.submit(thread_id, CatchUp(thread_id))

    async def _dispatch(self, thread_id: int, item: WorkItem) -> None:
        if isinstance(item, ProjectStart):
            await self._start(item)
        elif isinstance(item, CatchUp):
            await self._catch_up(item.thread_id)
        else:
            await self._handle(thread_id, item)

    async def _catch_up(self, thread_id: int) -> None:
        project = await self.get_project(thread_id)
        if project is None or project.last_message_id is None:
            return
        async with self._catch_up_slots:
            missed = await self._surfaces.for_thread(thread_id).messages_after(
                project.last_message_id, limit=CATCH_UP_LIMIT
            )
        if missed:
            log.info("thread=%s catching up on %d message(s) sent while offline", thread_id, len(missed))
        for message in missed:
            await self._handle(thread_id, message, catching_up=True)

    async def _mark(self, thread_id: int, message_id: int) -> None:
        await self._repo.mark_message_handled(thread_id, message_id)
        cached = self._cache.get(thread_id)
        if cached is not None and (cached.last_message_id or 0) < message_id:
            self._cache[thread_id] = replace(cached, last_message_id=message_id)

    async def _start(self, start: ProjectStart) -> None:
        existed = await self._repo.get_project(start.thread_id)
        project = await self.create_project(
            thread_id=start.thread_id,
            guild_id=start.guild_id,
            parent_id=start.parent_id,
            owner_id=start.owner_id,
            name=start.name,
            seed_text=start.seed_text,
        )
        if existed is None:
            lang = ui_language(project.language)
            await self._surfaces.for_thread(start.thread_id).post(t("welcome", lang))

    def submit_action(self, *, thread_id: int, user_id: int, key: str, press_id: int, lang: str) -> str | None:
        """A quick-action button: the same instruction a user could type, through the same queue.

        Returns the instruction (to echo in the thread), or None when it could not be queued."""
        if key not in QUICK_ACTIONS:
            return None
        text = quick_instruction(key, lang)
        accepted = self.submit(IncomingMessage(message_id=press_id, thread_id=thread_id, author_id=user_id, text=text))
        return text if accepted else None

    async def _mark_queued(self, surface: ThreadSurface, message_id: int) -> None:
        await surface.react(message_id, QUEUED_EMOJI)

    def _lang_of(self, message: IncomingMessage, project: Project | None = None) -> str:
        if message.text.strip():
            detected = detect_language(message.text)
            if detected != "en" or project is None:
                return ui_language(detected)
        return ui_language(project.language if project else "en")

    async def _claim(self, thread_id: int, message_id: int, *, catching_up: bool) -> bool:
        """Claimed in the database before acting: one process, once. At start-up a message left
        unfinished by the previous (dead) incarnation is taken over once it is presumed dead."""
        liveness = self._liveness
        if not catching_up:
            # A live event is never taken from another process that saw it too (a hand-over), however
            # slow its liveness row: only a claimant that is gone entirely (no row) gives way.
            return await self._repo.claim_message(thread_id, message_id, liveness.incarnation, alive_after=_EPOCH)
        if await self._repo.claim_message(
            thread_id, message_id, liveness.incarnation, alive_after=liveness.alive_after()
        ):
            return True
        await self._sleep(liveness.window.total_seconds())
        return await self._repo.claim_message(
            thread_id, message_id, liveness.incarnation, alive_after=liveness.alive_after()
        )

    async def _handle(self, thread_id: int, message: IncomingMessage, *, catching_up: bool = False) -> None:
        project = await self.get_project(thread_id)
        if project is None:
            return
        if project.last_message_id is not None and message.message_id <= project.last_message_id:
            log.debug("thread=%s message %s already handled", thread_id, message.message_id)
            return
        if not await self._claim(thread_id, message.message_id, catching_up=catching_up):
            log.info("thread=%s message %s claimed elsewhere; skipped", thread_id, message.message_id)
            return
        surface = self._surfaces.for_thread(thread_id)
        lang = self._lang_of(message, project)
        if message.message_id in self._queued_ids:
            self._queued_ids.discard(message.message_id)
            await surface.unreact(message.message_id, QUEUED_EMOJI)
        try:
            if message.files:
                await self._upload(project, message, surface, lang)
            text = message.text.strip()
            if text:
                await self._route(project, message, surface, lang)
        except NemoError as exc:
            log.warning(
                "thread=%s backend error %s (code=%s http=%s): %s",
                thread_id,
                type(exc).__name__,
                exc.code,
                exc.http_status,
                exc.detail,
            )
            await surface.post(error_text(exc, lang, stream_timeout_seconds=self._settings.sse_timeout_seconds))
        except Exception:
            log.exception("thread=%s message=%s failed", thread_id, message.message_id)
            await surface.post(t("err_internal", lang))
        finally:
            await self._mark(thread_id, message.message_id)
            await self._repo.finish_message(message.message_id)

    async def _route(self, project: Project, message: IncomingMessage, surface: ThreadSurface, lang: str) -> None:
        decision = route(message.text)
        if decision.intent is Intent.EXPORT:
            if self._exports is None:
                raise RuntimeError("no export service configured")
            project = await self._ensure_session(project, message.text)
            try:
                await self._exports.start_export(project, message.author_id, lang, surface)
            except NothingToExport:
                await surface.post(t("export_nothing", lang))
        elif decision.intent is Intent.CREDITS:
            await surface.post(await self.credits_text(lang))
        elif decision.intent is Intent.STATUS:
            await surface.post(await self.status_text(project, surface, lang))
        elif decision.intent is Intent.UPLOAD:
            urls = URL.findall(message.text)
            if urls:
                await self._upload_urls(project, message, surface, lang, urls)
            elif not message.files:
                await surface.post(t("upload_hint", lang))
        else:
            await self._chat(project, message, surface, lang)

    async def credits_text(self, lang: str) -> str:
        credits = await self._nemo.credits()
        return t(
            "credits",
            lang,
            available=_num(credits.available),
            frozen=_num(credits.frozen),
            total=_num(credits.total_or_sum),
        )

    async def status_text(self, project: Project, surface: ThreadSurface, lang: str) -> str:
        if not project.session_id:
            return t("timeline_empty", lang)

        async def read(p: Project) -> SessionState:
            return await self._nemo.state(p.session_id)

        state = await self.with_session(project, surface, lang, "", read)
        return t("status", lang, summary=timeline.summarise(state.draft, lang))

    # ----------------------------------------------------------------- uploads
    async def _upload(self, project: Project, message: IncomingMessage, surface: ThreadSurface, lang: str) -> None:
        sources: list[UploadSource] = []
        for file in message.files:
            rejection = check_declared(file, self._settings.max_upload_bytes, lang)
            if rejection is None:
                try:
                    head = await self._cdn.head_bytes(file.url)
                except DownloadFailed:
                    await surface.post(
                        t("upload_skipped", lang, name=_name(file.filename), reason=t("reason_download", lang))
                    )
                    continue
                if not head:
                    rejection_reason = t("reason_empty", lang)
                elif not formats.content_matches(file.filename, head):
                    rejection_reason = t("reason_content", lang, ext=formats.extension(file.filename).upper())
                else:
                    sources.append(self._cdn.source(file))
                    continue
                await surface.post(t("upload_skipped", lang, name=_name(file.filename), reason=rejection_reason))
                continue
            await surface.post(t("upload_skipped", lang, name=_name(rejection.filename), reason=rejection.reason))
        if not sources:
            return

        async def send(p: Project) -> None:
            await self._nemo.upload_files(p.session_id, sources)

        names_text = ", ".join(_name(s.filename) for s in sources)
        progress = _Turn(
            started=self._clock(), thread_id=project.thread_id, stage=t("stage_uploading", lang, names=names_text[:200])
        )
        heartbeat = asyncio.create_task(self._heartbeat(progress, surface, lang), name=f"upload-{project.thread_id}")
        try:
            async with surface.typing():
                await self.with_session(project, surface, lang, message.text, send)
        except (DownloadFailed, TooLargeWhileStreaming) as exc:
            log.warning("thread=%s upload aborted: %s", project.thread_id, type(exc).__name__)
            reason = (
                t("reason_download", lang)
                if isinstance(exc, DownloadFailed)
                else t("reason_size", lang, limit=formats.human_size(self._settings.max_upload_bytes))
            )
            await surface.post(t("upload_skipped", lang, name=names_text, reason=reason))
            return
        finally:
            progress.stop.set()
            await asyncio.gather(heartbeat, return_exceptions=True)
            if progress.status is not None:  # a long upload showed "⏳ … uploading": the result replaces it
                await progress.status.finish(None)
        log.info("thread=%s uploaded %d file(s)", project.thread_id, len(sources))
        if len(sources) == 1:
            await surface.post(t("uploaded_one", lang, name=_name(sources[0].filename)))
        else:
            await surface.post(
                t("uploaded_many", lang, count=len(sources), names=", ".join(_name(s.filename) for s in sources))
            )

    async def _upload_urls(
        self, project: Project, message: IncomingMessage, surface: ThreadSurface, lang: str, urls: list[str]
    ) -> None:
        """The URL form of upload; only allowed hosts (Discord's CDN by default) are passed on (no SSRF)."""
        allowed = [
            u
            for u in urls
            if _host_allowed(u, self._settings.upload_url_hosts) and formats.is_supported_name(urlsplit(u).path)
        ]
        for url in urls:
            if url not in allowed:
                await surface.post(t("upload_url_refused", lang, url=_name(urlsplit(url).netloc or url)))
        if not allowed:
            return

        async def send(p: Project) -> None:
            await self._nemo.upload_urls(p.session_id, allowed)

        await self.with_session(project, surface, lang, message.text, send)
        names = [_name(PurePosixPath(urlsplit(u).path).name or u) for u in allowed]
        key = "uploaded_one" if len(names) == 1 else "uploaded_many"
        await surface.post(t(key, lang, name=names[0], count=len(names), names=", ".join(names)))

    # ----------------------------------------------------------------- chat
    async def _chat(self, project: Project, message: IncomingMessage, surface: ThreadSurface, lang: str) -> None:
        project = await self._ensure_session(project, message.text)
        # Recorded before the message leaves: after a crash it is reported, never re-sent (double charge).
        await self._repo.open_turn(
            OpenTurn(
                thread_id=project.thread_id,
                message_id=message.message_id,
                preview=message.text[:80],
                started_at=datetime.now(UTC),
            )
        )
        await self._mark(project.thread_id, message.message_id)
        turn = _Turn(started=self._clock(), thread_id=project.thread_id, requester_id=message.author_id)
        heartbeat = asyncio.create_task(self._heartbeat(turn, surface, lang), name=f"heartbeat-{project.thread_id}")
        cancelled = False
        ACTIVE_TURNS.inc()
        try:
            await self._turn(project, message, surface, lang, turn)
        except asyncio.CancelledError:
            # Shutdown mid-turn: leave the turn open so the next start-up tells the thread (never re-sends).
            cancelled = True
            raise
        finally:
            ACTIVE_TURNS.dec()
            turn.stop.set()
            if cancelled:
                heartbeat.cancel()
            else:
                await asyncio.gather(heartbeat, return_exceptions=True)
                await self._end_turn(turn, surface, lang)
                await self._repo.close_turn(project.thread_id, message.message_id)

    async def _end_turn(self, turn: _Turn, surface: ThreadSurface, lang: str) -> None:
        """Quick actions go under the newest reply; a long turn's status gives way to one mention."""
        if turn.last_reply_id is not None:
            previous = self._action_messages.pop(turn.thread_id, None)
            if previous is not None:
                await surface.set_actions(previous, ())
            await surface.set_actions(turn.last_reply_id, quick_actions(lang))
            self._action_messages[turn.thread_id] = turn.last_reply_id
            while len(self._action_messages) > self._cache_limit:
                self._action_messages.pop(next(iter(self._action_messages)))
        if turn.status is not None:
            elapsed = format_duration(self._clock() - turn.started, lang)
            await turn.status.finish(None)
            # Only long turns showed a status; the requester may have looked away: ping them, only them.
            await surface.post_result(
                t("turn_done_mention", lang, elapsed=elapsed, mention=f"<@{turn.requester_id}>"),
                mention_user=turn.requester_id,
            )

    async def _turn(
        self, project: Project, message: IncomingMessage, surface: ThreadSurface, lang: str, turn: _Turn
    ) -> None:
        before = await self._safe_state(project.session_id)
        async with surface.typing():
            try:
                project = await self._stream_turn(project, message, surface, lang, turn)
            except StreamDropped as exc:
                log.warning("thread=%s stream dropped: %s", project.thread_id, exc.detail)
                await self._recover(project, surface, lang, before, turn)
                return
            except StreamTimeout as exc:
                log.warning("thread=%s stream timed out", project.thread_id)
                await surface.post(error_text(exc, lang, stream_timeout_seconds=self._settings.sse_timeout_seconds))
                return
        if turn.errors and not turn.texts_posted:
            log.warning("thread=%s stream error: %s", project.thread_id, turn.errors[-1].message[:200])
            await surface.post(t("err_stream", lang))
        elif not turn.texts_posted:
            await self._report_silent(project, surface, lang, before)

    async def _stream_turn(
        self, project: Project, message: IncomingMessage, surface: ThreadSurface, lang: str, turn: _Turn
    ) -> Project:
        for attempt in (0, 1):
            try:
                async for event in self._nemo.chat(project.session_id, message.text):
                    await self._on_event(event, surface, lang, turn)
                return project
            except SessionNotFound:
                # 1002 comes before the stream opens: the message was not taken, so sending it to the
                # fresh session is not a duplicate.
                if attempt:
                    raise
                project = await self._renew_session(project, surface, lang)
        return project

    async def _on_event(self, event: object, surface: ThreadSurface, lang: str, turn: _Turn) -> None:
        if isinstance(event, TextEvent):
            text = event.text.strip()
            if not text or (turn.texts_posted and NOISE.search(text) and len(text) < 200):
                return
            reply_id = await surface.post(translate_gui(text))
            turn.last_reply_id = reply_id or turn.last_reply_id
            turn.texts_posted += 1
        elif isinstance(event, ToolCallEvent):
            turn.stage = tool_stage(event.name, lang)
        elif isinstance(event, StateDeltaEvent):
            draft = event.delta.get("draft")
            if isinstance(draft, dict):
                turn.last_draft = draft
        elif isinstance(event, ErrorEvent):
            turn.errors.append(event)

    async def _heartbeat(self, turn: _Turn, surface: ThreadSurface, lang: str) -> None:
        """The bot's own clock drives "Still working": the backend may send no bytes at all."""
        interval = self._settings.heartbeat_seconds
        while True:
            try:
                await asyncio.wait_for(turn.stop.wait(), interval)
                return
            except TimeoutError:
                pass
            elapsed = format_duration(self._clock() - turn.started, lang)
            stage = turn.stage
            waiting = self._queues.waiting(turn.thread_id) - 1 if turn.thread_id else 0
            if waiting > 0:
                extra = t("stage_waiting", lang, count=waiting)
                stage = f"{stage} · {extra}" if stage else extra
            text = (
                t("still_working_stage", lang, stage=stage, elapsed=elapsed)
                if stage
                else t("still_working", lang, elapsed=elapsed)
            )
            now = self._clock()
            if now - turn.last_edit < MIN_STATUS_EDIT_GAP or not self._edit_budget.try_take():
                continue  # within Discord's limits: this tick is skipped, the next one shows the time
            turn.last_edit = now
            try:
                if turn.status is None:
                    turn.status = await surface.open_status(text)
                else:
                    await turn.status.update(text)
            except Exception:
                log.exception("status update failed")

    async def _safe_state(self, session_id: str) -> SessionState | None:
        try:
            return await self._nemo.state(session_id)
        except NemoError as exc:
            log.info("state read failed (%s); continuing without a baseline", type(exc).__name__)
            return None

    async def _report_silent(
        self, project: Project, surface: ThreadSurface, lang: str, before: SessionState | None
    ) -> None:
        """~30% of edits close the stream without text: say what changed in the timeline."""
        after = await self._safe_state(project.session_id)
        if after is None:
            await surface.post(t("silent_unchanged", lang))
            return
        changes = timeline.describe_changes(
            before.draft if before else None,
            after.draft,
            lang,
            canvas_before=before.canvas_config if before else None,
            canvas_after=after.canvas_config,
        )
        if changes:
            await surface.post(t("silent_changed", lang, changes="\n".join(changes)))
        else:
            await surface.post(t("silent_unchanged", lang))

    async def _recover(
        self, project: Project, surface: ThreadSurface, lang: str, before: SessionState | None, turn: _Turn
    ) -> None:
        """The seed's recovery: never re-send; watch the state for a while, then report."""
        for delay in self._settings.recovery_delays:
            await self._sleep(delay)
            after = await self._safe_state(project.session_id)
            if after is None or before is None:
                continue
            changes = timeline.describe_changes(
                before.draft, after.draft, lang, canvas_before=before.canvas_config, canvas_after=after.canvas_config
            )
            if changes:
                await surface.post(
                    t("err_stream_dropped", lang) + "\n" + t("recovered_changed", lang, changes="\n".join(changes))
                )
                return
        await surface.post(t("err_stream_dropped", lang) + "\n" + t("recovered_unchanged", lang))

    async def close(self) -> None:
        await self._queues.close()
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)


_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
URL = re.compile(r"https?://[^\s<>\"']+")


def _host_allowed(url: str, hosts: tuple[str, ...]) -> bool:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    return parts.scheme == "https" and parts.username is None and parts.port in (None, 443) and host in hosts


def _num(value: float) -> str:
    return f"{int(value):,}" if float(value).is_integer() else f"{value:,.2f}"


_MARKDOWN = re.compile(r"([\\*_`~|>\[\]()#<@])")


def _name(filename: str) -> str:
    """A filename shown literally in Discord markdown (escaped, never interpreted)."""
    return _MARKDOWN.sub(r"\\\1", filename[:80]) or "file"
