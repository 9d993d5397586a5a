"""A session as the editor sees it (`engine.editor.EditorSession`), backed by the store.

The draft and the uploads are read once when a turn starts (the turn holds the session's lock,
so nothing else changes them meanwhile); `commit` and `undo` write through to the store at once,
so an edit the user was told about survives a restart. `background` runs work after the turn
(composing the music ahead of the export): one task per key, replaced by a newer one with the
same key, all cancelled when the engine stops.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine, Sequence
from typing import Any

from engine.config import EngineSettings
from engine.draft import Draft
from engine.media import MediaInfo
from engine.store import SessionRow, Store

log = logging.getLogger(__name__)


class BackgroundTasks:
    """Tracked tasks by key; nothing runs untracked or outlives the engine."""

    def __init__(self) -> None:
        self._tasks: dict[str, asyncio.Task[Any]] = {}

    def start(self, key: str, work: Coroutine[Any, Any, Any], *, session_id: str) -> None:
        previous = self._tasks.pop(key, None)
        if previous is not None and not previous.done():
            previous.cancel()
        task = asyncio.create_task(work, name=f"background {key}")
        self._tasks[key] = task

        def done(t: asyncio.Task[Any]) -> None:
            if self._tasks.get(key) is t:
                del self._tasks[key]
            if not t.cancelled() and t.exception() is not None:
                log.error("session=%s background work %r failed", session_id, key, exc_info=t.exception())

        task.add_done_callback(done)

    def __len__(self) -> int:
        return len(self._tasks)

    async def close(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()


class StoreSession:
    """One turn's view of a session (implements `engine.editor.EditorSession`)."""

    def __init__(
        self,
        row: SessionRow,
        draft: Draft,
        media: Sequence[MediaInfo],
        store: Store,
        settings: EngineSettings,
        tasks: BackgroundTasks,
    ) -> None:
        self._row = row
        self._draft = draft
        self._media = tuple(media)
        self._store = store
        self._settings = settings
        self._tasks = tasks

    @classmethod
    async def load(
        cls, row: SessionRow, store: Store, settings: EngineSettings, tasks: BackgroundTasks
    ) -> StoreSession:
        draft = Draft.from_json(await store.draft(row.session_id))
        return cls(row, draft, await store.media(row.session_id), store, settings, tasks)

    @property
    def session_id(self) -> str:
        return self._row.session_id

    @property
    def language(self) -> str:
        return self._row.language

    @property
    def draft(self) -> Draft:
        return self._draft

    @property
    def media(self) -> Sequence[MediaInfo]:
        return self._media

    @property
    def settings(self) -> EngineSettings:
        return self._settings

    async def commit(self, draft: Draft) -> None:
        await self._store.commit_draft(self.session_id, draft.to_json(), time.time())
        self._draft = draft

    async def undo(self) -> Draft | None:
        raw = await self._store.undo_draft(self.session_id)
        if raw is None:
            return None
        self._draft = Draft.from_json(raw)
        return self._draft

    def background(self, work: Coroutine[Any, Any, Any], *, key: str) -> None:
        self._tasks.start(f"{self.session_id}:{key}", work, session_id=self.session_id)
