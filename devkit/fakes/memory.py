"""The core's ports in memory: a chat surface, an editing backend and attachment bytes, no sockets.

For fast tests of the services (bot.core) with a FakeClock: everything the core shows, sends and
renders is recorded here. What these fakes accept mirrors the real ones (bot/discord_surface.py,
bot/nemo/client.py); the end-to-end tests run the real ones against the wire-level fakes.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from bot.core import formats
from bot.core.actions import ActionButton
from bot.core.ports import ForumStage, IncomingFile, IncomingMessage
from bot.core.uploads import DownloadFailed
from bot.nemo.client import RenderStarted, UploadSource
from bot.nemo.errors import NemoError, StreamDropped, StreamTimeout
from bot.nemo.events import ChatEvent, EndEvent, TextEvent
from bot.nemo.models import Credits, RenderProgress, SessionInfo, SessionState, UploadResult

_ids = itertools.count(10_000)


# ----------------------------------------------------------------------------- the chat surface


@dataclass
class Post:
    message_id: int
    text: str
    actions: tuple[ActionButton, ...] = ()
    mention_user: int | None = None
    nonce: str | None = None


class MemoryStatus:
    """A status message: `texts[0]` as posted, then every edit; `deleted` once it gave way."""

    def __init__(self, surface: MemorySurface, text: str, actions: Sequence[ActionButton]) -> None:
        self._surface = surface
        self._id = next(_ids)
        self.texts = [text]
        self.actions = tuple(actions)
        self.deleted = False

    @property
    def message_id(self) -> int | None:
        return self._id

    @property
    def text(self) -> str:
        return self.texts[-1]

    @property
    def edits(self) -> int:
        return len(self.texts) - 1

    async def update(self, text: str, actions: Sequence[ActionButton] | None = None) -> None:
        if actions is not None:
            self.actions = tuple(actions)
        if text != self.texts[-1]:
            self.texts.append(text)
        self._surface.log.append(("status-edit", text))

    async def finish(self, text: str | None = None) -> None:
        self.actions = ()
        if text is None:
            self.deleted = True
            self._surface.log.append(("status-delete", self.texts[-1]))
        else:
            await self.update(text, ())


class MemorySurface:
    """One thread. `log` is every visible change in order: ("post"|"status"|"status-edit"|…, text)."""

    def __init__(self, thread_id: int) -> None:
        self.thread_id = thread_id
        self.posts: list[Post] = []
        self.statuses: list[MemoryStatus] = []
        self.actions: dict[int, tuple[ActionButton, ...]] = {}
        self.reactions: set[tuple[int, str]] = set()
        self.forum_stage: ForumStage | None = None
        self.history: list[IncomingMessage] = []
        """What `messages_after` finds (restart catch-up)."""
        self.typing_active = 0
        self.log: list[tuple[str, str]] = []

    @property
    def texts(self) -> list[str]:
        return [post.text for post in self.posts]

    def find(self, needle: str) -> Post | None:
        return next((post for post in self.posts if needle in post.text), None)

    async def post(self, text: str, *, actions: Sequence[ActionButton] = ()) -> int | None:
        return await self.post_result(text, actions=actions)

    async def post_result(
        self,
        text: str,
        *,
        actions: Sequence[ActionButton] = (),
        mention_user: int | None = None,
        nonce: str | None = None,
    ) -> int | None:
        post = Post(next(_ids), text, tuple(actions), mention_user, nonce)
        self.posts.append(post)
        if actions:
            self.actions[post.message_id] = tuple(actions)
        self.log.append(("post", text))
        return post.message_id

    async def set_actions(self, message_id: int, actions: Sequence[ActionButton]) -> None:
        self.actions[message_id] = tuple(actions)

    async def set_forum_stage(self, stage: ForumStage) -> None:
        self.forum_stage = stage

    async def open_status(self, text: str, actions: Sequence[ActionButton] = ()) -> MemoryStatus:
        status = MemoryStatus(self, text, actions)
        self.statuses.append(status)
        self.log.append(("status", text))
        return status

    def resume_status(self, message_id: int) -> MemoryStatus:
        known = next((s for s in self.statuses if s.message_id == message_id), None)
        return known or MemoryStatus(self, "", ())

    @asynccontextmanager
    async def typing(self) -> AsyncIterator[None]:
        self.typing_active += 1
        try:
            yield
        finally:
            self.typing_active -= 1

    async def react(self, message_id: int, emoji: str) -> None:
        self.reactions.add((message_id, emoji))

    async def unreact(self, message_id: int, emoji: str) -> None:
        self.reactions.discard((message_id, emoji))

    async def messages_after(self, message_id: int, *, limit: int = 100) -> list[IncomingMessage]:
        return [m for m in self.history if m.message_id > message_id][:limit]

    def jump_url(self, message_id: int) -> str | None:
        return f"https://discord.test/channels/1/{self.thread_id}/{message_id}"


class MemorySurfaces:
    def __init__(self) -> None:
        self.threads: dict[int, MemorySurface] = {}

    def for_thread(self, thread_id: int) -> MemorySurface:
        if thread_id not in self.threads:
            self.threads[thread_id] = MemorySurface(thread_id)
        return self.threads[thread_id]


# ----------------------------------------------------------------------------- the backend


@dataclass
class Gate:
    """A chat step that holds the stream until the test opens it (`gate.open()`)."""

    reached: asyncio.Event = field(default_factory=asyncio.Event)
    opened: asyncio.Event = field(default_factory=asyncio.Event)

    def open(self) -> None:
        self.opened.set()


@dataclass(frozen=True)
class Wait:
    """A chat step: the backend is silent for this many (fake) seconds."""

    seconds: float


@dataclass(frozen=True)
class SetDraft:
    """A chat step: the turn changes the session's draft (what a tool call does)."""

    draft: dict[str, Any]


@dataclass(frozen=True)
class Drop:
    """A chat step: the connection breaks off (StreamDropped)."""


@dataclass(frozen=True)
class TimeOut:
    """A chat step: the stream outlives SSE_TIMEOUT_SECONDS (StreamTimeout)."""


Step = ChatEvent | Gate | Wait | SetDraft | Drop | TimeOut


@dataclass
class MemorySession:
    session_id: str
    language: str
    draft: dict[str, Any] | None = None
    canvas: dict[str, Any] | None = None
    uploads: list[tuple[str, bytes]] = field(default_factory=list)
    links: list[str] = field(default_factory=list)


@dataclass
class MemoryRender:
    render_id: str
    session_id: str
    draft: dict[str, Any]
    output: dict[str, str]
    polls: int = 0
    status: str = "pending"
    error: str | None = None
    user_message: str | None = None


class MemoryBackend:
    """Sessions, scripted chat turns and renders. `fail[call]` raises once at the start of that call."""

    def __init__(self, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self._sleep = sleep
        self.sessions: dict[str, MemorySession] = {}
        self.chat_messages: list[tuple[str, str]] = []
        self.renders: dict[str, MemoryRender] = {}
        self.fail: dict[str, NemoError] = {}
        self.polls_to_complete = 1
        self._scripts: deque[list[Step]] = deque()
        self._session_ids = itertools.count(1)

    def script(self, *steps: Step) -> None:
        """The next chat turn (in order); an unscripted turn answers with one text."""
        self._scripts.append(list(steps))

    def _failure(self, call: str) -> None:
        error = self.fail.pop(call, None)
        if error is not None:
            raise error

    async def create_session(self, language: str) -> SessionInfo:
        self._failure("create_session")
        session_id = f"s{next(self._session_ids)}"
        self.sessions[session_id] = MemorySession(session_id, language)
        return SessionInfo(session_id=session_id)

    async def state(self, session_id: str) -> SessionState:
        self._failure("state")
        session = self.sessions[session_id]
        return SessionState(session_id=session_id, draft=session.draft, canvas_config=session.canvas)

    def chat(self, session_id: str, text: str) -> AsyncIterator[ChatEvent]:
        self._failure("chat")  # before the stream opens, as 1002 does
        self.chat_messages.append((session_id, text))
        steps = self._scripts.popleft() if self._scripts else None
        return self._play(self.sessions[session_id], steps)

    async def _play(self, session: MemorySession, steps: list[Step] | None) -> AsyncIterator[ChatEvent]:
        for step in steps if steps is not None else [TextEvent("Done.")]:
            if isinstance(step, Gate):
                step.reached.set()
                await step.opened.wait()
            elif isinstance(step, Wait):
                await self._sleep(step.seconds)
            elif isinstance(step, SetDraft):
                session.draft = step.draft
            elif isinstance(step, Drop):
                raise StreamDropped("connection lost")
            elif isinstance(step, TimeOut):
                raise StreamTimeout("stream ran too long")
            else:
                yield step
        yield EndEvent()

    async def upload_files(self, session_id: str, files: Sequence[UploadSource]) -> UploadResult:
        self._failure("upload")
        session = self.sessions[session_id]
        for source in files:
            data = b"".join([chunk async for chunk in source.open()])
            session.uploads.append((source.filename, data))
        return UploadResult()

    async def upload_urls(self, session_id: str, urls: Sequence[str]) -> UploadResult:
        self._failure("upload")
        self.sessions[session_id].links.extend(urls)
        return UploadResult()

    async def credits(self) -> Credits:
        self._failure("credits")
        return Credits(available=100, frozen=0)

    async def start_render(
        self, session_id: str, draft: dict[str, Any], *, render_id: str, output: Mapping[str, str]
    ) -> RenderStarted:
        self._failure("start_render")
        self.renders[render_id] = MemoryRender(render_id, session_id, draft, dict(output))
        return RenderStarted(render_id=render_id, status="pending", progress=0)

    async def render_status(self, render_id: str) -> RenderProgress:
        self._failure("render_status")
        render = self.renders[render_id]
        if render.status == "pending":
            render.polls += 1
            if render.polls >= self.polls_to_complete:
                render.status = "completed"
        url = f"https://renders.example/{render_id}.mp4" if render.status == "completed" else None
        progress = 100 if render.status == "completed" else min(99, render.polls * 10)
        return RenderProgress(
            render_id=render_id,
            status=render.status,
            progress=progress,
            url=url,
            error=render.error,
            user_message=render.user_message,
        )

    async def cancel_render(self, render_id: str) -> None:
        self._failure("cancel_render")
        self.renders[render_id].status = "cancelled"


# ----------------------------------------------------------------------------- attachments


class MemoryAttachments:
    """Attachment bytes by URL; a URL it does not know fails to download."""

    def __init__(self, files: Mapping[str, bytes] | None = None, *, chunk: int = 64 * 1024) -> None:
        self.files = dict(files or {})
        self._chunk = chunk

    async def head_bytes(self, url: str) -> bytes:
        if url not in self.files:
            raise DownloadFailed("not found")
        return self.files[url][: formats.SNIFF_BYTES]

    def source(self, file: IncomingFile) -> UploadSource:
        async def stream() -> AsyncIterator[bytes]:
            for piece in _pieces(self.files.get(file.url, b""), self._chunk):
                yield piece

        return UploadSource(filename=file.filename, open=stream, size=file.size)


def _pieces(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]
