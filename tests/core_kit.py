"""The production core services (bot.core), wired as bot/app.py wires them, over in-memory ports and a
fake clock: a chat turn's two-minute heartbeat or a five-minute recovery runs in milliseconds."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from bot.config import ChatSettings, IntakeSettings, RenderSettings, UploadSettings
from bot.core.chat import Chat
from bot.core.exports import ExportRequest, Exports
from bot.core.info import Info
from bot.core.intake import Intake
from bot.core.liveness import Liveness
from bot.core.ports import IncomingFile, IncomingMessage
from bot.core.progress import status_budget
from bot.core.queues import ThreadQueues
from bot.core.renders import RenderService
from bot.core.sessions import ProjectStart, Sessions
from bot.core.uploads import Uploads
from devkit.fakes.clock import FakeClock, eventually
from devkit.fakes.memory import MemoryAttachments, MemoryBackend, MemoryRender, MemorySurface, MemorySurfaces
from storage import MEMORY, Project, Repository, open_sqlite

__all__ = ["DRAFT", "Core", "Replies", "eventually", "open_core"]

# The production defaults (bot.config.Settings), spelled out: these tests pin the schedules.
CHAT = ChatSettings(heartbeat_seconds=120.0, sse_timeout_seconds=900.0, recovery_delays=(30.0, 60.0, 60.0, 60.0, 60.0))
UPLOADS = UploadSettings(max_bytes=500 * 1024 * 1024, url_hosts=("cdn.discordapp.com",), heartbeat_seconds=120.0)
RENDERS = RenderSettings(poll_seconds=30.0, timeout_seconds=1800.0, lease_seconds=60.0)
INTAKE = IntakeSettings(queue_limit=25, user_messages_per_minute=20)
ALICE, BOB = 7, 8
DRAFT: dict[str, Any] = {"t": [{"tt": 0, "sg": [{"d": 5000, "m": {"name": "a.mp4"}}]}], "d": 5000}
"""A draft with one 5 s clip: something to export."""


class Replies(list[str]):
    """An ExportRequest's reply port: what the requester was told."""

    async def __call__(self, text: str) -> None:
        self.append(text)


@dataclass
class Core:
    repo: Repository
    clock: FakeClock
    backend: MemoryBackend
    surfaces: MemorySurfaces
    attachments: MemoryAttachments
    sessions: Sessions
    queues: ThreadQueues
    renders: RenderService
    exports: Exports
    intake: Intake
    _ids: int = 1_000_000

    def surface(self, thread_id: int) -> MemorySurface:
        return self.surfaces.for_thread(thread_id)

    def message(
        self, thread_id: int, text: str = "", *, author: int = ALICE, files: tuple[IncomingFile, ...] = ()
    ) -> IncomingMessage:
        """A new user message, newer than every earlier one (ids are snowflakes: they grow)."""
        self._ids += 1
        return IncomingMessage(message_id=self._ids, thread_id=thread_id, author_id=author, text=text, files=files)

    def send(self, thread_id: int, text: str = "", **kwargs: Any) -> IncomingMessage:
        message = self.message(thread_id, text, **kwargs)
        assert self.intake.submit(message)
        return message

    async def project(self, thread_id: int, name: str = "Trip", *, with_session: bool = True) -> Project:
        """A stored project (welcome posted); with a backend session unless told otherwise."""
        self.intake.start_project(ProjectStart(thread_id, 1, 2, ALICE, name))
        await self.idle()
        project = await self.sessions.get(thread_id)
        assert project is not None
        if with_session:
            project = await self.sessions.ensure(project)
        return project

    async def running_export(self, thread_id: int = 100, reply: Replies | None = None) -> MemoryRender:
        """A project with a one-clip draft and an export of it whose render never finishes by itself;
        returns once its poller sleeps after the first poll."""
        project = await self.project(thread_id)
        self.backend.sessions[project.session_id].draft = DRAFT
        self.backend.polls_to_complete = 10_000
        assert self.exports.request(ExportRequest(thread_id, ALICE, "en", reply if reply is not None else Replies()))
        await self.idle()
        await eventually(lambda: self.clock.sleeping == 1, what="the poller asleep after its first poll")
        (render,) = self.backend.renders.values()
        return render

    async def idle(self) -> None:
        """Every queued job done (jobs wait on the SQLite driver's thread, so this waits in real time)."""
        await self.queues.join(timeout=5)

    async def close(self) -> None:
        await self.queues.close()
        await self.intake.close()
        await self.renders.close()
        await self.repo.close()


async def open_core(
    *,
    chat: ChatSettings = CHAT,
    uploads: UploadSettings = UPLOADS,
    renders: RenderSettings = RENDERS,
    intake: IntakeSettings = INTAKE,
    **intake_overrides: Any,
) -> Core:
    clock = FakeClock()
    repo = await open_sqlite(MEMORY)
    backend = MemoryBackend(sleep=clock.sleep)
    surfaces = MemorySurfaces()
    attachments = MemoryAttachments()
    sessions = Sessions(repo, backend)
    queues = ThreadQueues(limit=replace(intake, **intake_overrides).queue_limit)
    budget = status_budget(clock.now)
    seams: dict[str, Any] = {"clock": clock.now, "sleep": clock.sleep}
    liveness = Liveness(repo, interval=5.0, incarnation="shards=all|test-process")
    await repo.heartbeat_process(liveness.incarnation)  # alive, as Liveness.start leaves it (without its timer)
    render_service = RenderService(repo, backend, sessions, surfaces, renders, liveness=liveness, **seams)
    exports = Exports(sessions, queues, surfaces, render_service)
    intake_service = Intake(
        repo,
        sessions,
        queues,
        surfaces,
        liveness,
        Uploads(backend, sessions, attachments, queues, uploads, budget=budget, **seams),
        Chat(repo, backend, sessions, queues, chat, budget=budget, **seams),
        Info(backend, sessions),
        exports,
        replace(intake, **intake_overrides),
        **seams,
    )
    return Core(repo, clock, backend, surfaces, attachments, sessions, queues, render_service, exports, intake_service)
