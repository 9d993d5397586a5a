"""A render's life: its row is stored first, then the render POST, then polling until the link is posted.

Requests arrive through bot.core.exports, at their turn in the thread's queue. The render id is
persisted before the backend hears of it, so a restart at any point resumes polling (an abandoned
client orphans the job: docs/backend-contract.md, section 7) and the link is still posted. The link
goes to the thread with a normal message, never an interaction follow-up: renders can outlive the
15-minute interaction token.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.config import RenderSettings
from bot.log_context import thread_extra
from bot.metrics import RENDERS, count_error
from bot.nemo.client import new_render_id
from bot.nemo.errors import BackendUnavailable, NemoError, RateLimited, RenderFailed, RenderTimedOut
from bot.nemo.models import SessionState
from storage.repository import Project, RenderJob, RenderStatus, Repository

from . import timeline
from .actions import export_result_actions, render_status_actions
from .feedback import error_text
from .liveness import Liveness
from .ports import Backend, StatusMessage, SurfaceFactory, ThreadSurface
from .sessions import Sessions
from .tasks import TaskRegistry
from .texts import format_duration, t

log = logging.getLogger(__name__)


class NothingToExport(Exception):
    """The draft is empty: there is nothing to render yet."""


class LeaseLost(Exception):
    """Another process took the render over (our lease expired): stop quietly, it will finish the job."""


class ExportRunning(Exception):
    """The thread already has an export running: one at a time per thread, across processes."""

    def __init__(self, job: RenderJob) -> None:
        super().__init__(job.render_id)
        self.job = job


class RenderService:
    def __init__(
        self,
        repo: Repository,
        backend: Backend,
        sessions: Sessions,
        surfaces: SurfaceFactory,
        settings: RenderSettings,
        *,
        liveness: Liveness | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """With `liveness`, leases are held under this process's incarnation, and a lease whose holder is
        known to be gone (its liveness row went stale, or this process is its restart) is taken over at
        once rather than when it runs out."""
        self._repo = repo
        self._backend = backend
        self._sessions = sessions
        self._surfaces = surfaces
        self._settings = settings
        self._clock = clock
        self._sleep = sleep
        self._tasks = TaskRegistry("renders")  # one per render: its poller, or the post of its link
        self._sweeper = TaskRegistry("render-sweeper")
        self._leases: dict[str, int] = {}
        self._liveness = liveness
        self._owner = liveness.incarnation if liveness is not None else "local"

    @property
    def active(self) -> int:
        return len(self._tasks)

    async def start(
        self, project: Project, requester_id: int, lang: str, surface: ThreadSurface, output: Mapping[str, str]
    ) -> RenderJob:
        """Read the draft, store the job, start it, and poll in the background.

        Raises ExportRunning when the thread has an export running already (two quick presses, two
        processes), NothingToExport when the draft is empty, NemoError when the backend refuses.
        """
        # A render older than the timeout is given up on at its next poll: it never blocks a new one.
        started_after = datetime.now(UTC) - timedelta(seconds=self._settings.timeout_seconds)
        running = await self._repo.running_render(project.thread_id, started_after=started_after)
        if running is not None:
            raise ExportRunning(running)

        async def read(p: Project) -> tuple[Project, SessionState]:
            return p, await self._backend.state(p.session_id)

        project, state = await self._sessions.with_session(project, surface, lang, read)
        if state.draft is None or not timeline.has_content(state.draft):
            raise NothingToExport(project.thread_id)
        now = datetime.now(UTC)
        render_id = new_render_id()
        status = await surface.open_status(t("export_starting", lang), render_status_actions(render_id, lang))
        job = RenderJob(
            render_id=render_id,
            thread_id=project.thread_id,
            session_id=project.session_id,
            requested_by=requester_id,
            status=RenderStatus.STARTING,
            created_at=now,
            updated_at=now,
            status_message_id=status.message_id,
            language=lang,
        )
        try:
            running = await self._repo.add_render_unless_running(job, started_after=started_after)
        except Exception:
            await status.finish(None)  # not stored: its Cancel button would answer "too late" for good
            raise
        if running is not None:  # another process (or press) got there between the check and now
            await status.finish(None)
            raise ExportRunning(running)
        await self._lease(job.render_id)
        try:
            started = await self._backend.start_render(
                project.session_id, state.draft, render_id=job.render_id, output=output
            )
        except NemoError as exc:
            # The caller tells the requester (bot.core.exports): drop the status.
            await self._repo.update_render(job.render_id, status=RenderStatus.FAILED, error=type(exc).__name__)
            await status.finish(None)
            raise
        if started.render_id != job.render_id:
            # The backend refused our id as a duplicate and the client picked a fresh one.
            await self._repo.update_render(job.render_id, status=RenderStatus.FAILED, error="duplicate id")
            await self._release(job.render_id)  # nothing polls the refused id: its lease would stay in _leases
            job = replace(job, render_id=started.render_id)
            await self._repo.add_render(job)
            await self._lease(job.render_id)
            await status.update(t("export_starting", lang), render_status_actions(job.render_id, lang))
        await surface.set_forum_stage("rendering")
        await self._repo.update_render(job.render_id, status=RenderStatus.PENDING, progress=started.progress)
        log.info("render %s started", job.render_id, extra=thread_extra(job.thread_id))
        self._spawn(job, status)
        return job

    def _gone(self) -> dict[str, Any]:
        """Which holders count as gone: stale liveness rows, and the incarnations this process replaces."""
        if self._liveness is None:
            return {}
        return {"alive_after": self._liveness.alive_after(), "gone": self._liveness.predecessors}

    async def _lease(self, render_id: str) -> bool:
        generation = await self._repo.acquire_render_lease(
            render_id, self._owner, self._settings.lease_seconds, **self._gone()
        )
        if generation is None:
            return False
        self._leases[render_id] = generation
        return True

    # ----------------------------------------------------------------- a render's life
    def _spawn(self, job: RenderJob, status: StatusMessage) -> None:
        if not self._tasks.running(job.render_id):
            self._tasks.spawn(
                self._poll(job, status), key=job.render_id, name=f"render-{job.render_id}", thread_id=job.thread_id
            )

    async def resume_all(self) -> int:
        """Start-up (and the sweeper): take every render nobody holds, including links never posted."""
        taken = 0
        for job in await self._repo.claimable_renders(limit=100, **self._gone()):
            if self._tasks.running(job.render_id) or not await self._lease(job.render_id):
                continue  # ours already, or another process was quicker
            taken += 1
            surface = self._surfaces.for_thread(job.thread_id)
            if job.status is RenderStatus.COMPLETED and job.url:
                self._tasks.spawn(
                    self._finish_link(job, surface),
                    key=job.render_id,
                    name=f"render-link-{job.render_id}",
                    thread_id=job.thread_id,
                )
                continue
            status = (
                surface.resume_status(job.status_message_id)
                if job.status_message_id
                else await surface.open_status(t("export_resumed", job.language))
            )
            self._spawn(job, status)
        if taken:
            log.info("took over %d render(s)", taken)
        return taken

    def start_sweeper(self) -> None:
        """Pick up renders whose holder died: at once, then every half lease (or every liveness interval,
        when that is shorter, so a holder whose liveness row went stale is replaced soon after)."""
        if not self._sweeper.running("sweep"):
            self._sweeper.spawn(self._sweep(), key="sweep", name="render-sweeper")

    async def _sweep(self) -> None:
        interval = self._settings.lease_seconds / 2
        if self._liveness is not None:
            interval = min(interval, self._liveness.interval)
        while True:
            try:
                await self.resume_all()
            except Exception:
                log.exception("render sweep failed")
            await self._sleep(interval)

    async def _finish_link(self, job: RenderJob, surface: ThreadSurface) -> None:
        try:
            await self._post_link(job, surface)
        finally:
            await self._release(job.render_id)

    async def _release(self, render_id: str) -> None:
        generation = self._leases.pop(render_id, None)
        if generation is not None:
            await self._repo.release_render_lease(render_id, self._owner, generation)

    async def _renew(self, render_id: str) -> int:
        generation = self._leases.get(render_id)
        if generation is None or not await self._repo.renew_render_lease(
            render_id, self._owner, generation, self._settings.lease_seconds
        ):
            self._leases.pop(render_id, None)
            raise LeaseLost(render_id)
        return generation

    async def _poll(self, job: RenderJob, status: StatusMessage) -> None:
        lang = job.language
        surface = self._surfaces.for_thread(job.thread_id)
        started = self._clock()
        age = (datetime.now(UTC) - job.created_at).total_seconds()
        deadline = started + max(0.0, self._settings.timeout_seconds - age)
        last_progress = -1
        try:
            while True:
                generation = await self._renew(job.render_id)
                if self._clock() > deadline:
                    raise RenderTimedOut(f"render {job.render_id} exceeded {self._settings.timeout_seconds}s")
                try:
                    progress = await self._backend.render_status(job.render_id)
                except (BackendUnavailable, RateLimited) as exc:
                    log.info("render %s poll failed (%s); will retry", job.render_id, type(exc).__name__)
                    await self._sleep(self._settings.poll_seconds)
                    continue
                if progress.status == "completed":
                    if not progress.url:
                        raise RenderFailed("completed without a URL")
                    if not await self._repo.update_render(
                        job.render_id,
                        status=RenderStatus.COMPLETED,
                        progress=100,
                        url=progress.url,
                        lease_generation=generation,
                    ):
                        raise LeaseLost(job.render_id)
                    RENDERS.labels("completed").inc()
                    done = replace(job, status=RenderStatus.COMPLETED, url=progress.url)
                    await status.finish(None)
                    await self._post_link(done, surface)
                    return
                if progress.status in ("cancelled", "canceled"):
                    await self._cancelled_elsewhere(job, status, generation)
                    return
                if progress.finished:
                    raise RenderFailed(progress.error or progress.status, user_message=progress.user_message)
                state = RenderStatus.PROCESSING if progress.status == "processing" else RenderStatus.PENDING
                if progress.progress != last_progress:
                    last_progress = progress.progress
                    await self._repo.update_render(
                        job.render_id, status=state, progress=progress.progress, lease_generation=generation
                    )
                elapsed = (datetime.now(UTC) - job.created_at).total_seconds()
                await status.update(
                    t("export_progress", lang, progress=progress.progress, elapsed=format_duration(elapsed, lang)),
                    render_status_actions(job.render_id, lang),
                )
                await self._sleep(self._settings.poll_seconds)
        except asyncio.CancelledError:
            raise
        except LeaseLost:
            log.warning("render %s: lease lost to another process; it takes over", job.render_id)
            return
        except NemoError as exc:
            log.warning("render %s failed: %s %s", job.render_id, type(exc).__name__, exc.detail[:200])
            if not await self._repo.update_render(
                job.render_id,
                status=RenderStatus.FAILED,
                error=exc.detail[:300],
                lease_generation=self._leases.get(job.render_id, -1),
            ):
                return
            RENDERS.labels("timed_out" if isinstance(exc, RenderTimedOut) else "failed").inc()
            await status.finish(error_text(exc, lang))
        except Exception:
            log.exception("render %s poller crashed", job.render_id)
            RENDERS.labels("failed").inc()
            count_error("internal")
            await self._repo.update_render(job.render_id, status=RenderStatus.FAILED, error="internal error")
            await status.finish(t("err_render_failed", lang))
        finally:
            if not asyncio.current_task().cancelling():  # type: ignore[union-attr]
                await self._release(job.render_id)

    async def _post_link(self, job: RenderJob, surface: ThreadSurface) -> None:
        assert job.url is not None
        lang = job.language
        text = t("export_done", lang, mention=f"<@{job.requested_by}>", url=job.url)
        # The nonce (Discord's enforce_nonce) makes a second post after a crash return the first message.
        posted = await surface.post_result(
            text,
            actions=export_result_actions(job.url, lang),
            mention_user=job.requested_by,
            nonce=render_nonce(job.render_id),
        )
        if posted is None:
            # Thread gone or no permission (discord.py already retried transient errors): the link stays
            # in /history; marking it posted keeps the sweeper from retrying it forever.
            log.warning("render %s: the link could not be posted", job.render_id)
        else:
            log.info("render %s link posted", job.render_id)
        await self._repo.update_render(
            job.render_id, link_posted=True, lease_generation=self._leases.get(job.render_id)
        )
        await surface.set_forum_stage("done")

    async def _cancelled_elsewhere(self, job: RenderJob, status: StatusMessage, generation: int) -> None:
        """The backend says cancelled: by the Cancel button on another process (which told the thread
        already), or by the backend itself (then the thread hears it here, once)."""
        current = await self._repo.get_render(job.render_id)
        if current is not None and current.status is RenderStatus.CANCELLED:
            log.info("render %s was cancelled", job.render_id)
            return
        if await self._repo.update_render(job.render_id, status=RenderStatus.CANCELLED, lease_generation=generation):
            RENDERS.labels("cancelled").inc()
            await status.finish(t("export_cancelled", job.language))

    async def cancel(self, render_id: str, lang: str) -> str | None:
        """Cancel a running render (the Cancel button on its status message).

        The status message then says "Export cancelled" for everyone in the thread, so the presser is told
        nothing more (None): saying it twice read as two cancels. Otherwise returns what to tell them."""
        job = await self._repo.get_render(render_id)
        if job is None or job.status.finished:
            return t("export_cancel_late", lang)
        try:
            await self._backend.cancel_render(render_id)
        except NemoError as exc:
            log.warning("render %s cancel failed: %s", render_id, type(exc).__name__, extra=thread_extra(job.thread_id))
            return error_text(exc, lang)
        await self._tasks.cancel(render_id)  # a cancelled poller keeps its lease (shutdown hands it back)
        await self._repo.update_render(render_id, status=RenderStatus.CANCELLED)
        await self._release(render_id)
        RENDERS.labels("cancelled").inc()
        log.info("render %s cancelled", render_id, extra=thread_extra(job.thread_id))
        if job.status_message_id is None:
            return t("export_cancelled", lang)
        surface = self._surfaces.for_thread(job.thread_id)
        await surface.resume_status(job.status_message_id).finish(t("export_cancelled", job.language))
        return None

    async def join(self, timeout: float | None = None) -> None:
        await self._tasks.join(timeout)

    async def close(self) -> None:
        """Stop taking work, stop polling, and hand our leases back so another process continues at once."""
        await self._sweeper.close()
        await self._tasks.close()
        for render_id in list(self._leases):
            try:
                await self._release(render_id)
            except Exception:
                log.warning("could not release the lease of %s", render_id)


def render_nonce(render_id: str) -> str:
    """Discord nonces are at most 25 characters; a stable one per render makes the link post idempotent."""
    return "r" + hashlib.sha256(render_id.encode()).hexdigest()[:24]
