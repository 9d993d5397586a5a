"""Thread ↔ project ↔ backend session: the project cache, creation, and the one retry on a lost session.

A project is stored when its thread starts; its backend session is created with the first message
that needs one. When the backend has forgotten a session (1002, docs/backend-contract.md) the thread
gets a fresh one, once, and is told so: `with_session` is the only place that happens.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TypeVar

from bot.log_context import thread_extra
from bot.nemo.errors import SessionNotFound
from storage.repository import Project, Repository

from .language import detect_language
from .ports import Backend, ThreadSurface
from .texts import t

log = logging.getLogger(__name__)

R = TypeVar("R")
CACHE_LIMIT = 10_000


@dataclass(frozen=True, slots=True)
class ProjectStart:
    """A thread becomes a project (`/project`, an attachment in a project channel, a forum post)."""

    thread_id: int
    guild_id: int | None
    parent_id: int | None
    owner_id: int
    name: str
    seed_text: str = ""
    """The opening text (the command's name or the first message): it sets the project's language."""


class Sessions:
    def __init__(self, repo: Repository, backend: Backend) -> None:
        self._repo = repo
        self._backend = backend
        # None caches "not a project": every message of every thread the bot can see asks.
        self._cache: OrderedDict[int, Project | None] = OrderedDict()
        self._creating: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()

    def _remember(self, thread_id: int, project: Project | None) -> None:
        self._cache[thread_id] = project
        self._cache.move_to_end(thread_id)
        while len(self._cache) > CACHE_LIMIT:
            self._cache.popitem(last=False)

    def known_not_project(self, thread_id: int) -> bool:
        return thread_id in self._cache and self._cache[thread_id] is None

    def forget(self, thread_id: int) -> None:
        """The thread is about to become a project: drop a cached "not a project"."""
        self._cache.pop(thread_id, None)

    async def get(self, thread_id: int) -> Project | None:
        if thread_id in self._cache:
            return self._cache[thread_id]
        project = await self._repo.get_project(thread_id)
        self._remember(thread_id, project)
        return project

    async def create(self, start: ProjectStart) -> tuple[Project, bool]:
        """Store the mapping (the session comes later); returns the project and whether it is new."""
        existing = await self._repo.get_project(start.thread_id)  # not the cache: it may say "not a project"
        if existing is not None:
            self._remember(start.thread_id, existing)
            return existing, False
        # Every message of the thread (a forum starter shares the thread's id) is newer than this:
        # restart catch-up and duplicate detection start from here.
        project = Project(
            thread_id=start.thread_id,
            guild_id=start.guild_id,
            parent_id=start.parent_id,
            owner_id=start.owner_id,
            session_id="",
            language=detect_language(start.seed_text or start.name),
            name=start.name,
            created_at=datetime.now(UTC),
            last_message_id=start.thread_id - 1,
        )
        await self._repo.create_project(project)
        self._remember(start.thread_id, project)
        log.info(
            "project created guild=%s owner=%s", start.guild_id, start.owner_id, extra=thread_extra(start.thread_id)
        )
        return project, True

    async def mark_handled(self, thread_id: int, message_id: int) -> None:
        await self._repo.mark_message_handled(thread_id, message_id)
        cached = self._cache.get(thread_id)
        if cached is not None and (cached.last_message_id or 0) < message_id:
            self._cache[thread_id] = replace(cached, last_message_id=message_id)

    async def ensure(self, project: Project, text: str = "") -> Project:
        """The project with a backend session, created now if it has none (in the language of `text`)."""
        if project.session_id:
            return project
        lock = self._creating.setdefault(project.thread_id, asyncio.Lock())
        async with lock:
            current = await self.get(project.thread_id) or project
            if current.session_id:
                return current
            language = detect_language(text) if text.strip() else current.language
            info = await self._backend.create_session(language)
            await self._repo.set_project_session(project.thread_id, info.session_id)
            updated = replace(current, session_id=info.session_id, language=language)
            self._remember(project.thread_id, updated)
            log.info(
                "session created session=%s lang=%s", info.session_id, language, extra=thread_extra(project.thread_id)
            )
            return updated

    async def with_session(
        self,
        project: Project,
        surface: ThreadSurface,
        lang: str,
        op: Callable[[Project], Awaitable[R]],
        *,
        text: str = "",
    ) -> R:
        """Run `op` with a live session; on 1002 make a new session once, say so, and run it again.

        Safe for a chat message too: 1002 comes before the stream opens, so the message was not taken."""
        project = await self.ensure(project, text)
        try:
            return await op(project)
        except SessionNotFound:
            project = await self._renew(project, surface, lang)
            return await op(project)

    async def _renew(self, project: Project, surface: ThreadSurface, lang: str) -> Project:
        info = await self._backend.create_session(project.language)
        await self._repo.set_project_session(project.thread_id, info.session_id)
        updated = replace(project, session_id=info.session_id)
        self._remember(project.thread_id, updated)
        log.warning("session lost; new session=%s", info.session_id, extra=thread_extra(project.thread_id))
        await surface.post(t("err_session_lost", lang))
        return updated
