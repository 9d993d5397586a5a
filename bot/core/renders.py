"""Exports: row stored first, then the render POST, then polling until a link is posted.

A render id is persisted before the backend hears of it, so a restart at any point resumes
polling (the seed warns that an abandoned client orphans the job) and the link is still posted.
The link goes to the thread with a normal message, never an interaction follow-up: renders
can outlive the 15-minute interaction token.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from bot.metrics import RENDERS_FINISHED
from bot.nemo.client import NemoClient, new_render_id
from bot.nemo.errors import BackendUnavailable, NemoError, RateLimited, RenderFailed, RenderTimedOut
from bot.nemo.models import SessionState
from storage.repository import Project, RenderJob, RenderStatus, Repository

from . import timeline
from .actions import export_result_actions, render_status_actions
from .feedback import error_text
from .ports import StatusMessage, SurfaceFactory, ThreadSurface
from .projects import NothingToExport
from .texts import format_duration, t

log = logging.getLogger(__name__)

SessionRunner = Callable[..., Awaitable[Any]]
DEFAULT_OUTPUT = {"format": "mp4", "quality": "high", "resolution": "1080p"}


@dataclass(slots=True)
class RenderSettings:
    poll_seconds: float = 30.0
    timeout_seconds: float = 1800.0
    # A render is polled by the process holding its lease; a crashed holder's lease runs out after this.
    lease_seconds: float = 60.0


class LeaseLost(Exception):
    """Another process took the render over (our lease expired): stop quietly, it will finish the job."""


class RenderService:
    def __init__(
        self,
        repo: Repository,
        nemo: NemoClient,
        surfaces: SurfaceFactory,
        settings: RenderSettings,
        *,
        owner: str = "local",
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._repo = repo
        self._nemo = nemo
        self._surfaces = surfaces
        self._settings = settings
        self._clock = clock
        self._sleep = sleep
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._leases: dict[str, int] = {}
        self._owner = owner
        self._sweeper: asyncio.Task[None] | None = None
        self._with_session: SessionRunner | None = None

    def bind_session_runner(self, runner: SessionRunner) -> None:
        """ProjectService.with_session: recreates a lost (1002) session once."""
        self._with_session = runner

    @property
    def active(self) -> int:
        return len(self._tasks)

    async def start_export(
        self,
        project: Project,
        requester_id: int,
        lang: str,
        surface: ThreadSurface,
        output: dict[str, Any] | None = None,
    ) -> RenderJob:
        """Read the draft, store the job, start it, and poll in the background.

        Raises NothingToExport when the draft is empty, NemoError when the backend refuses.
        """

        async def read(p: Project) -> tuple[Project, SessionState]:
            return p, await self._nemo.state(p.session_id)

        if self._with_session is not None:
            project, state = await self._with_session(project, surface, lang, "", read)
        else:
            project, state = await read(project)
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
        await self._repo.add_render(job)
        generation = await self._repo.acquire_render_lease(job.render_id, self._owner, self._settings.lease_seconds)
        if generation is not None:
            self._leases[job.render_id] = generation
        try:
            started = await self._nemo.start_render(
                project.session_id, state.draft, render_id=job.render_id, output={**DEFAULT_OUTPUT, **(output or {})}
            )
        except NemoError as exc:
            # The caller tells the user (an interaction follow-up or a thread reply): drop the status.
            await self._repo.update_render(job.render_id, status=RenderStatus.FAILED, error=type(exc).__name__)
            await status.finish(None)
            log.warning("thread=%s render start failed: %s", project.thread_id, type(exc).__name__)
            raise
        if started.render_id != job.render_id:
            # The backend refused our id as a duplicate and the client picked a fresh one.
            await self._repo.update_render(job.render_id, status=RenderStatus.FAILED, error="duplicate id")
            job = replace(job, render_id=started.render_id)
            await self._repo.add_render(job)
            generation = await self._repo.acquire_render_lease(job.render_id, self._owner, self._settings.lease_seconds)
            if generation is not None:
                self._leases[job.render_id] = generation
            await status.update(t("export_starting", lang), render_status_actions(job.render_id, lang))
        await surface.set_forum_stage("rendering")
        await self._repo.update_render(job.render_id, status=RenderStatus.PENDING, progress=started.progress)
        log.info("thread=%s render %s started", project.thread_id, job.render_id)
        self._spawn(job, status)
        return job

    def _spawn(self, job: RenderJob, status: StatusMessage) -> None:
        if job.render_id in self._tasks:
            return
        task = asyncio.create_task(self._poll(job, status), name=f"render-{job.render_id}")
        self._tasks[job.render_id] = task
        task.add_done_callback(self._forget)

    def _forget(self, task: asyncio.Task[None]) -> None:
        for render_id, known in list(self._tasks.items()):
            if known is task:
                del self._tasks[render_id]

    async def resume_all(self) -> int:
        """Start-up (and the sweeper): take every render nobody holds, including links never posted."""
        taken = 0
        for job in await self._repo.claimable_renders(limit=100):
            if job.render_id in self._tasks:
                continue
            generation = await self._repo.acquire_render_lease(job.render_id, self._owner, self._settings.lease_seconds)
            if generation is None:
                continue  # another process was quicker
            self._leases[job.render_id] = generation
            taken += 1
            surface = self._surfaces.for_thread(job.thread_id)
            if job.status is RenderStatus.COMPLETED and job.url:
                self._tasks[job.render_id] = asyncio.create_task(self._finish_link(job, surface))
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
        """Pick up renders whose holder died (its lease ran out), every half lease."""
        if self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweep(), name="render-sweeper")

    async def _sweep(self) -> None:
        while True:
            try:
                await self.resume_all()
            except Exception:
                log.exception("render sweep failed")
            await self._sleep(self._settings.lease_seconds / 2)

    async def _finish_link(self, job: RenderJob, surface: ThreadSurface) -> None:
        try:
            await self._post_link(job, surface, None)
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
                    progress = await self._nemo.render_status(job.render_id)
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
                    RENDERS_FINISHED.labels("completed").inc()
                    done = replace(job, status=RenderStatus.COMPLETED, url=progress.url)
                    await status.finish(None)
                    await self._post_link(done, surface, None)
                    return
                if progress.finished:
                    raise RenderFailed(progress.error or progress.status)
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
            RENDERS_FINISHED.labels("failed").inc()
            await status.finish(error_text(exc, lang))
        except Exception:
            log.exception("render %s poller crashed", job.render_id)
            await self._repo.update_render(job.render_id, status=RenderStatus.FAILED, error="internal error")
            await status.finish(t("err_render_failed", lang))
        finally:
            if not asyncio.current_task().cancelling():  # type: ignore[union-attr]
                await self._release(job.render_id)

    async def _post_link(self, job: RenderJob, surface: ThreadSurface, _status: StatusMessage | None) -> None:
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
            log.warning("thread=%s render %s: the link could not be posted", job.thread_id, job.render_id)
        else:
            log.info("thread=%s render %s link posted", job.thread_id, job.render_id)
        await self._repo.update_render(
            job.render_id, link_posted=True, lease_generation=self._leases.get(job.render_id)
        )
        await surface.set_forum_stage("done")

    async def cancel(self, render_id: str, lang: str) -> str:
        """Cancel a running render (the Cancel button). Returns what to tell the presser."""
        job = await self._repo.get_render(render_id)
        if job is None or job.status.finished:
            return t("export_cancel_late", lang)
        try:
            await self._nemo.cancel_render(render_id)
        except NemoError as exc:
            log.warning("render %s cancel failed: %s", render_id, type(exc).__name__)
            return error_text(exc, lang)
        task = self._tasks.pop(render_id, None)
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await self._repo.update_render(render_id, status=RenderStatus.CANCELLED)
        RENDERS_FINISHED.labels("cancelled").inc()
        surface = self._surfaces.for_thread(job.thread_id)
        if job.status_message_id is not None:
            await surface.resume_status(job.status_message_id).finish(t("export_cancelled", job.language))
        log.info("thread=%s render %s cancelled", job.thread_id, render_id)
        return t("export_cancelled", lang)

    async def join(self, timeout: float | None = None) -> None:
        async with asyncio.timeout(timeout):
            while self._tasks:
                await asyncio.gather(*list(self._tasks.values()), return_exceptions=True)

    async def close(self) -> None:
        """Stop taking work, stop polling, and hand our leases back so another process continues at once."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        for render_id in list(self._leases):
            try:
                await self._release(render_id)
            except Exception:
                log.warning("could not release the lease of %s", render_id)


def render_nonce(render_id: str) -> str:
    """Discord nonces are at most 25 characters; a stable one per render makes the link post idempotent."""
    return "r" + hashlib.sha256(render_id.encode()).hexdigest()[:24]
