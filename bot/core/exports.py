"""Exports: every export request enters at one door, waits its turn, and is answered in one place.

A request (typed "export"/"导出", /export, the Export button, "Export again") runs in the thread's
queue (bot.core.queues), so it renders the draft as of every edit sent before it: /export and the
buttons enter through `request`, a typed "export" is already in the queue and runs `run` directly.
One export runs per thread at a time (two quick presses, or two processes): the second requester is
told where the running one is. Here are the export defaults (ExportOptions) and what the requester is
told (error → text); the render itself is bot.core.renders.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bot.log_context import thread_extra
from bot.metrics import RENDERS, count_error
from bot.nemo.errors import NemoError

from .feedback import error_text
from .ports import SurfaceFactory
from .queues import ThreadQueues
from .renders import ExportRunning, NothingToExport, RenderService
from .sessions import Sessions
from .texts import t

log = logging.getLogger(__name__)

Reply = Callable[[str], Awaitable[object]]


@dataclass(frozen=True, slots=True)
class ExportOptions:
    """What an export request may choose. The export defaults live here, once."""

    quality: str = "high"
    resolution: str = "1080p"

    @classmethod
    def chosen(cls, *, quality: str | None = None, resolution: str | None = None) -> ExportOptions:
        """The defaults, with what the requester picked."""
        defaults = cls()
        return cls(quality=quality or defaults.quality, resolution=resolution or defaults.resolution)

    def output(self) -> dict[str, str]:
        """The render body's `output` (docs/backend-contract.md, section 7)."""
        return {"format": "mp4", "quality": self.quality, "resolution": self.resolution}


@dataclass(frozen=True, slots=True)
class ExportRequest:
    thread_id: int
    requester_id: int
    lang: str
    reply: Reply
    """How the requester hears back: a post in the thread, or an interaction's follow-up."""
    options: ExportOptions = field(default_factory=ExportOptions)


class Exports:
    def __init__(
        self, sessions: Sessions, queues: ThreadQueues, surfaces: SurfaceFactory, renders: RenderService
    ) -> None:
        self._sessions = sessions
        self._queues = queues
        self._surfaces = surfaces
        self._renders = renders

    def request(self, request: ExportRequest) -> bool:
        """/export and the Export buttons: queued behind the thread's pending work (the edits sent before
        the press render with it). False when the thread's queue is full."""
        return self._queues.submit(request.thread_id, functools.partial(self.run, request))

    async def run(self, request: ExportRequest) -> None:
        """Run one export request at its turn in the thread's queue (a typed "export" is already there)."""
        lang = request.lang
        project = await self._sessions.get(request.thread_id)
        if project is None:
            await request.reply(t("not_project", lang))
            return
        surface = self._surfaces.for_thread(request.thread_id)
        try:
            job = await self._renders.start(project, request.requester_id, lang, surface, request.options.output())
        except ExportRunning as exc:
            RENDERS.labels("already_running").inc()
            log.info("export refused: %s is running", exc.job.render_id, extra=thread_extra(request.thread_id))
            status_id = exc.job.status_message_id
            link = surface.jump_url(status_id) if status_id is not None else None
            if link:
                await request.reply(t("export_already_running_at", lang, link=link))
            else:
                await request.reply(t("export_already_running", lang))
            return
        except NothingToExport:
            await request.reply(t("export_nothing", lang))
            return
        except NemoError as exc:
            RENDERS.labels("refused").inc()
            log.warning(
                "export failed to start: %s (code=%s http=%s)",
                type(exc).__name__,
                exc.code,
                exc.http_status,
                extra=thread_extra(request.thread_id),
            )
            await request.reply(error_text(exc, lang))
            return
        except Exception:
            log.exception("export failed to start", extra=thread_extra(request.thread_id))
            count_error("internal")
            await request.reply(t("err_internal", lang))
            return
        options = request.options
        log.info(
            "export %s requested by %s (%s, %s)",
            job.render_id,
            request.requester_id,
            options.quality,
            options.resolution,
            extra=thread_extra(request.thread_id),
        )
        # Every way in says it the same way (/export, the buttons, a typed "export"): the status message
        # shows progress, this line says where the link will come.
        await request.reply(t("export_started", lang))
