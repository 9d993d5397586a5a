"""Every message of a project thread enters here: rate limit, the thread's queue, claim, route.

One message, as data: IncomingMessage → per-user rate limit → the thread's queue (one at a time, in
order; 🕒 while it waits) → claimed in the database (one process, once) → its attachments uploaded
→ its text routed by keyword to export / credits / status / upload, or sent as a chat turn.
Also queued here: a new thread becoming a project, and after every fresh gateway session (start-up,
or a re-IDENTIFY) the catch-up on what was posted while the bot could not see it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

from bot.config import IntakeSettings
from bot.log_context import thread_extra
from bot.metrics import MESSAGES_HANDLED, count_error
from bot.nemo.errors import NemoError
from storage.repository import Project, Repository

from .actions import QUICK_ACTIONS, quick_instruction
from .chat import Chat
from .exports import ExportRequest, Exports
from .feedback import error_text
from .info import Info
from .language import detect_language, ui_language
from .links import links_in
from .liveness import Liveness
from .ports import IncomingMessage, SurfaceFactory, ThreadSurface
from .queues import ThreadQueues
from .ratelimit import UserRateLimiter
from .routing import Intent, route
from .sessions import ProjectStart, Sessions
from .tasks import TaskRegistry
from .texts import t
from .uploads import Uploads

log = logging.getLogger(__name__)

QUEUED_EMOJI = "🕒"
CATCH_UP_LIMIT = 100  # per thread; older backlog is left alone rather than replayed wholesale
CATCH_UP_AT_ONCE = 4  # threads reading their history at the same time
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


class Intake:
    def __init__(
        self,
        repo: Repository,
        sessions: Sessions,
        queues: ThreadQueues,
        surfaces: SurfaceFactory,
        liveness: Liveness,
        uploads: Uploads,
        chat: Chat,
        info: Info,
        exports: Exports,
        settings: IntakeSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._repo = repo
        self._sessions = sessions
        self._queues = queues
        self._surfaces = surfaces
        self._liveness = liveness
        self._uploads = uploads
        self._chat = chat
        self._info = info
        self._exports = exports
        self._sleep = sleep
        self._limiter = UserRateLimiter(settings.user_messages_per_minute, 60.0, clock=clock)
        self._background = TaskRegistry("intake")  # notices and reactions nobody waits for
        self._queued_ids: set[int] = set()
        self._catch_up_slots = asyncio.Semaphore(CATCH_UP_AT_ONCE)

    # ----------------------------------------------------------------- entering the queue
    def submit(self, message: IncomingMessage) -> bool:
        """Queue a message of a (possibly) project thread. Call without awaiting first: keeps order."""
        thread_id = message.thread_id
        if self._sessions.known_not_project(thread_id) and not self._queues.waiting(thread_id):
            return False
        wait = self._limiter.check(message.author_id)
        if wait > 0:
            if self._limiter.should_warn(message.author_id, wait):
                text = t("slow_down", self._lang_of(message), seconds=max(1, round(wait)))
                self._in_background(thread_id, self._surfaces.for_thread(thread_id).post(text))
            log.info("user=%s rate limited", message.author_id, extra=thread_extra(thread_id))
            return False
        ahead = self._queues.waiting(thread_id)
        accepted = self._queues.submit(thread_id, functools.partial(self._handle, message))
        surface = self._surfaces.for_thread(thread_id)
        if not accepted:
            self._in_background(thread_id, surface.post(t("queue_full", self._lang_of(message))))
        elif ahead:
            self._queued_ids.add(message.message_id)
            self._in_background(thread_id, surface.react(message.message_id, QUEUED_EMOJI))
        return accepted

    def submit_action(self, *, thread_id: int, user_id: int, key: str, press_id: int, lang: str) -> str | None:
        """A quick-action button: the same instruction a user could type, through the same queue.

        Returns the instruction (to echo in the thread), or None when it could not be queued."""
        if key not in QUICK_ACTIONS:
            return None
        text = quick_instruction(key, lang)
        accepted = self.submit(IncomingMessage(message_id=press_id, thread_id=thread_id, author_id=user_id, text=text))
        return text if accepted else None

    def start_project(self, start: ProjectStart, first_message: IncomingMessage | None = None) -> None:
        """Queue project creation (and the message that started it) without awaiting: keeps order."""
        self._sessions.forget(start.thread_id)
        self._queues.mark_opened(start.thread_id)  # a new thread: nothing to catch up on
        self._queues.submit(start.thread_id, functools.partial(self._start, start))
        if first_message is not None:
            self._queues.submit(start.thread_id, functools.partial(self._handle, first_message))

    def begin_session(self, *, missed_after: int) -> None:
        """A fresh gateway session, which replays nothing: messages newer than `missed_after` (a message id)
        may have gone undelivered. Every thread's first job of the session is preceded by its catch-up
        from there (or from its high-water mark, when newer), unless `schedule_catch_up` covered it.

        Call it before anything of the new session is submitted (bot/app.py: before its first await)."""
        self._queues.begin_session(lambda thread_id: functools.partial(self._catch_up, thread_id, floor=missed_after))

    def schedule_catch_up(self, thread_ids: list[int]) -> None:
        """Catch these threads up now (the recently active ones), not only when something new arrives for
        them; a thread that already got its catch-up in this session is not read twice. A message seen both
        live and in the history is handled once (the high-water mark, then the claim)."""
        for thread_id in thread_ids:
            self._queues.open(thread_id)

    def _in_background(self, thread_id: int, coro: Coroutine[Any, Any, Any]) -> None:
        self._background.spawn(coro, thread_id=thread_id)

    def _lang_of(self, message: IncomingMessage, project: Project | None = None) -> str:
        if message.text.strip():
            detected = detect_language(message.text)
            if detected != "en" or project is None:
                return ui_language(detected)
        return ui_language(project.language if project else "en")

    # ----------------------------------------------------------------- at the head of the queue
    async def _start(self, start: ProjectStart) -> None:
        project, created = await self._sessions.create(start)
        if created:
            await self._surfaces.for_thread(start.thread_id).post(t("welcome", ui_language(project.language)))

    async def _catch_up(self, thread_id: int, *, floor: int = 0) -> None:
        """Handle what the thread's history holds after its high-water mark (and after `floor`: older
        backlog of a long-quiet thread is left alone rather than replayed wholesale)."""
        project = await self._sessions.get(thread_id)
        if project is None or project.last_message_id is None:
            return
        async with self._catch_up_slots:
            missed = await self._surfaces.for_thread(thread_id).messages_after(
                max(project.last_message_id, floor), limit=CATCH_UP_LIMIT
            )
        if missed:
            log.info("catching up on %d message(s) posted while the bot could not see them", len(missed))
        for message in missed:
            await self._handle(message, catching_up=True)

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

    async def _handle(self, message: IncomingMessage, *, catching_up: bool = False) -> None:
        thread_id = message.thread_id
        if message.message_id in self._queued_ids:
            # Its turn has come, whether it is handled here or skipped below: the 🕒 goes, and so does the id
            # (a skipped message's id would otherwise stay in the set for good).
            self._queued_ids.discard(message.message_id)
            await self._surfaces.for_thread(thread_id).unreact(message.message_id, QUEUED_EMOJI)
        project = await self._sessions.get(thread_id)
        if project is None:
            return
        if project.last_message_id is not None and message.message_id <= project.last_message_id:
            log.debug("message %s already handled", message.message_id)
            return
        if not await self._claim(thread_id, message.message_id, catching_up=catching_up):
            log.info("message %s claimed elsewhere; skipped", message.message_id)
            return
        surface = self._surfaces.for_thread(thread_id)
        lang = self._lang_of(message, project)
        intent = route(message.text).intent if message.text.strip() else None
        MESSAGES_HANDLED.labels(intent or "files").inc()
        try:
            if message.files:
                await self._uploads.upload_files(project, message, surface, lang)
            if intent is not None:
                await self._route(intent, project, message, surface, lang)
        except NemoError as exc:
            log.warning(
                "backend error %s (code=%s http=%s): %s", type(exc).__name__, exc.code, exc.http_status, exc.detail
            )
            await surface.post(error_text(exc, lang))
        except Exception:
            log.exception("message %s failed", message.message_id)
            count_error("internal")
            await surface.post(t("err_internal", lang))
        finally:
            await self._sessions.mark_handled(thread_id, message.message_id)
            await self._repo.finish_message(message.message_id)

    async def _route(
        self, intent: Intent, project: Project, message: IncomingMessage, surface: ThreadSurface, lang: str
    ) -> None:
        if intent is Intent.EXPORT:
            # Already at its turn in the thread's queue: run it here rather than queue it again.
            request = ExportRequest(project.thread_id, message.author_id, lang, surface.post)
            await self._exports.run(request)
        elif intent is Intent.CREDITS:
            await surface.post(await self._info.credits_text(lang))
        elif intent is Intent.STATUS:
            await surface.post(await self._info.status_text(project, surface, lang))
        elif intent is Intent.UPLOAD:
            urls = links_in(message.text)
            if urls:
                await self._uploads.upload_links(project, message, surface, lang, urls)
            elif not message.files:
                await surface.post(t("upload_hint", lang))
        else:
            await self._chat.run(project, message, surface, lang)

    async def close(self) -> None:
        await self._background.close()
