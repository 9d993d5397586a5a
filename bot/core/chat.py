"""A chat turn: one message sent to the backend's event stream, and everything the user sees of it.

One turn, as data (docs/backend-contract.md, sections 4 and 5):
recorded as open → sent once → typed events → replies posted as they come, the tool in use shown on
the "⏳ Still working…" status → at the end: quick actions under the newest reply and, after a long
turn, one mention of the requester; a turn that closed without text says what changed in the
timeline; a dropped stream is never re-sent, the state is watched for a while instead.

Every turn ends by saying how it ended, whatever it showed before: answered, what changed, the
editor's error (also after a friendly opening line), a drop, a timeout, or a failure. A turn cut
by shutdown stays open, and the next start-up says so (docs/faults.md).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from bot.config import ChatSettings
from bot.metrics import ACTIVE_TURNS, CHAT_TURNS, count_error
from bot.nemo.errors import NemoError, StreamDropped, StreamTimeout
from bot.nemo.events import ErrorEvent, TextEvent, ToolCallEvent
from bot.nemo.models import SessionState
from storage.repository import OpenTurn, Project, Repository

from . import timeline
from .actions import quick_actions
from .feedback import error_text
from .gui_phrases import translate_gui
from .ports import Backend, IncomingMessage, ThreadSurface
from .progress import Progress
from .queues import ThreadQueues
from .ratelimit import TokenBucket
from .sessions import CACHE_LIMIT, Sessions
from .texts import format_duration, t

log = logging.getLogger(__name__)

# The backend's trailing noise after a normal answer (docs/backend-contract.md): hidden.
NOISE = re.compile(r"i (?:have )?encountered a temporary issue", re.IGNORECASE)
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


def tool_stage(name: str, lang: str) -> str:
    """What the status says while a tool runs: the backend's tool names, in the user's words."""
    lowered = name.lower()
    for needle, words in TOOL_WORDS.items():
        if needle in lowered:
            return TOOL_WORDS_ZH.get(words, words) if lang == "zh" else words
    return t("stage_thinking", lang)


class Chat:
    """What every turn shares: the backend, the settings, and which reply carries the quick actions."""

    def __init__(
        self,
        repo: Repository,
        backend: Backend,
        sessions: Sessions,
        queues: ThreadQueues,
        settings: ChatSettings,
        *,
        budget: TokenBucket,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.repo = repo
        self.backend = backend
        self.sessions = sessions
        self.queues = queues
        self.settings = settings
        self.budget = budget
        self.clock = clock
        self.sleep = sleep
        self._actions_on: dict[int, int] = {}  # thread → our reply that carries the quick actions

    async def run(self, project: Project, message: IncomingMessage, surface: ThreadSurface, lang: str) -> None:
        await ChatTurn(self, project, message, surface, lang).run()

    async def move_actions(self, surface: ThreadSurface, reply_id: int, lang: str) -> None:
        """Quick actions go under the thread's newest reply only."""
        thread_id = surface.thread_id
        previous = self._actions_on.pop(thread_id, None)
        if previous is not None:
            await surface.set_actions(previous, ())
        await surface.set_actions(reply_id, quick_actions(lang))
        self._actions_on[thread_id] = reply_id
        while len(self._actions_on) > CACHE_LIMIT:
            self._actions_on.pop(next(iter(self._actions_on)))


class Ending(StrEnum):
    """How a turn ended: the label of cutaway_chat_turns_total{outcome}."""

    ANSWERED = "answered"
    SILENT = "silent"  # closed without text: the user is told what changed
    ERROR = "error"  # the editor reported an error in the stream
    DROPPED = "dropped"
    TIMEOUT = "timeout"
    FAILED = "failed"  # a backend error around the stream (refused, unreachable, …)
    INTERNAL = "internal"  # a bug of ours
    CANCELLED = "cancelled"  # shutdown: reported at the next start-up

    @property
    def succeeded(self) -> bool:
        return self in (Ending.ANSWERED, Ending.SILENT)


@dataclass(slots=True)
class _Outcome:
    texts_posted: int = 0
    last_reply_id: int | None = None
    error_pending: bool = False
    """An error event came after the last text shown: the turn ended in that error."""


class ChatTurn:
    def __init__(
        self, chat: Chat, project: Project, message: IncomingMessage, surface: ThreadSurface, lang: str
    ) -> None:
        self.chat = chat
        self.project = project
        self.message = message
        self.surface = surface
        self.lang = lang
        self.outcome = _Outcome()
        self.progress = Progress(
            surface,
            lang,
            interval=chat.settings.heartbeat_seconds,
            budget=chat.budget,
            clock=chat.clock,
            sleep=chat.sleep,
            waiting=lambda: chat.queues.waiting(project.thread_id) - 1,
        )

    async def run(self) -> None:
        chat, message = self.chat, self.message
        self.project = await chat.sessions.ensure(self.project, message.text)
        thread_id = self.project.thread_id
        # Recorded before the message leaves: after a crash it is reported, never re-sent (double charge).
        await chat.repo.open_turn(
            OpenTurn(
                thread_id=thread_id,
                message_id=message.message_id,
                preview=message.text[:80],
                started_at=datetime.now(UTC),
            )
        )
        await chat.sessions.mark_handled(thread_id, message.message_id)
        ACTIVE_TURNS.inc()
        try:
            async with self.progress:
                ending = await self._converse()
        except asyncio.CancelledError:
            # Shutdown mid-turn: the turn stays open, so the next start-up tells the thread (never re-sends).
            CHAT_TURNS.labels(Ending.CANCELLED).inc()
            raise
        except NemoError as exc:
            log.warning("chat turn failed: %s (code=%s http=%s)", type(exc).__name__, exc.code, exc.http_status)
            ending = Ending.FAILED
            await self.surface.post(error_text(exc, self.lang))
        except Exception:
            log.exception("chat turn failed")
            ending = Ending.INTERNAL
            count_error("internal")
            await self.surface.post(t("err_internal", self.lang))
        finally:
            ACTIVE_TURNS.dec()
        CHAT_TURNS.labels(ending).inc()
        try:
            await self._end(ending)
        finally:
            await chat.repo.close_turn(thread_id, message.message_id)

    async def _converse(self) -> Ending:
        before = await self._state()
        async with self.surface.typing():
            try:
                await self.chat.sessions.with_session(
                    self.project, self.surface, self.lang, self._stream, text=self.message.text
                )
            except StreamDropped as exc:
                log.warning("stream dropped: %s", exc.detail)
                count_error(exc)
                await self._recover(before)
                return Ending.DROPPED
            except StreamTimeout as exc:
                log.warning("stream timed out")
                await self.surface.post(
                    error_text(exc, self.lang, stream_timeout_seconds=self.chat.settings.sse_timeout_seconds)
                )
                return Ending.TIMEOUT
        outcome = self.outcome
        if outcome.error_pending:
            # The editor's last word was an error: say so even after a friendly opening line, which
            # otherwise reads as if the work were still coming.
            count_error("stream_error")
            await self.surface.post(t("err_stream_partial" if outcome.texts_posted else "err_stream", self.lang))
            return Ending.ERROR
        if outcome.texts_posted:
            return Ending.ANSWERED
        await self._report_silent(before)
        return Ending.SILENT

    async def _stream(self, project: Project) -> None:
        self.project = project
        async for event in self.chat.backend.chat(project.session_id, self.message.text):
            await self._on_event(event)

    async def _on_event(self, event: object) -> None:
        outcome = self.outcome
        if isinstance(event, TextEvent):
            text = event.text.strip()
            if not text or (outcome.texts_posted and NOISE.search(text) and len(text) < 200):
                return
            reply_id = await self.surface.post(translate_gui(text))
            outcome.last_reply_id = reply_id or outcome.last_reply_id
            outcome.texts_posted += 1
            outcome.error_pending = False  # the editor carried on after the error and answered
        elif isinstance(event, ToolCallEvent):
            self.progress.stage = tool_stage(event.name, self.lang)
        elif isinstance(event, ErrorEvent):
            outcome.error_pending = True
            log.warning("stream error: %s", event.message[:200])

    async def _end(self, ending: Ending) -> None:
        """Quick actions go under the newest reply; a long turn's status gives way to one mention,
        which says "done" only when it was."""
        if self.outcome.last_reply_id is not None:
            await self.chat.move_actions(self.surface, self.outcome.last_reply_id, self.lang)
        status = self.progress.status
        if status is not None:
            elapsed = format_duration(self.progress.elapsed(), self.lang)
            await status.finish(None)
            # Only long turns showed a status; the requester may have looked away: ping them, only them.
            requester = self.message.author_id
            key = "turn_done_mention" if ending.succeeded else "turn_failed_mention"
            await self.surface.post_result(
                t(key, self.lang, elapsed=elapsed, mention=f"<@{requester}>"), mention_user=requester
            )

    async def _state(self) -> SessionState | None:
        try:
            return await self.chat.backend.state(self.project.session_id)
        except NemoError as exc:
            log.info("state read failed (%s); continuing without a baseline", type(exc).__name__)
            return None

    def _changes(self, before: SessionState | None, after: SessionState) -> list[str]:
        return timeline.describe_changes(
            before.draft if before else None,
            after.draft,
            self.lang,
            canvas_before=before.canvas_config if before else None,
            canvas_after=after.canvas_config,
        )

    async def _report_silent(self, before: SessionState | None) -> None:
        """About 30% of edits close the stream without text: say what changed in the timeline."""
        after = await self._state()
        changes = self._changes(before, after) if after is not None else []
        if changes:
            await self.surface.post(t("silent_changed", self.lang, changes="\n".join(changes)))
        else:
            await self.surface.post(t("silent_unchanged", self.lang))

    async def _recover(self, before: SessionState | None) -> None:
        """Never re-send: look at the state after each of the recovery delays, then report."""
        lang = self.lang
        for delay in self.chat.settings.recovery_delays:
            await self.chat.sleep(delay)
            after = await self._state()
            if after is None or before is None:
                continue
            changes = self._changes(before, after)
            if changes:
                await self.surface.post(
                    t("err_stream_dropped", lang) + "\n" + t("recovered_changed", lang, changes="\n".join(changes))
                )
                return
        await self.surface.post(t("err_stream_dropped", lang) + "\n" + t("recovered_unchanged", lang))
