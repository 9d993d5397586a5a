"""What the core needs from outside: a chat surface, the editing backend, and attachment bytes.

The core never imports discord.py: `bot/discord_surface.py` implements the surface, `bot.nemo.client`
the backend (the hosted service or the local engine: docs/backend-contract.md) and `bot.core.uploads`
the attachment reader. Tests implement all three in memory (devkit/fakes/memory.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from bot.nemo.client import RenderStarted, UploadSource
from bot.nemo.events import ChatEvent
from bot.nemo.models import Credits, RenderProgress, SessionInfo, SessionState, UploadResult

from .actions import ActionButton
from .filenames import clean_filename

ForumStage = Literal["rendering", "done"]


@dataclass(frozen=True, slots=True)
class IncomingFile:
    """An attachment as the core sees it. The URL is used at once and never stored (it expires).

    `filename` is cleaned here, once, as the file enters the core (bot.core.filenames): every check,
    the upload, and every text and log line after this use the clean name."""

    filename: str
    url: str
    size: int
    content_type: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "filename", clean_filename(self.filename))


@dataclass(frozen=True, slots=True)
class IncomingMessage:
    message_id: int
    thread_id: int
    author_id: int
    text: str
    files: tuple[IncomingFile, ...] = field(default_factory=tuple)


class StatusMessage(Protocol):
    """The one status message of a turn or render, edited in place."""

    @property
    def message_id(self) -> int | None: ...

    async def update(self, text: str, actions: Sequence[ActionButton] | None = None) -> None:
        """Edit in place (`actions` None keeps the buttons); replace it when editing is no longer possible."""
        ...

    async def finish(self, text: str | None = None) -> None:
        """Turn the status into its final text, or delete it when `text` is None."""
        ...


class ThreadSurface(Protocol):
    """One project thread."""

    thread_id: int

    async def post(self, text: str, *, actions: Sequence[ActionButton] = ()) -> int | None:
        """Post text (split at the platform's limit, mentions disabled); return the last message id.

        Buttons go on the last part."""
        ...

    async def post_result(
        self,
        text: str,
        *,
        actions: Sequence[ActionButton] = (),
        mention_user: int | None = None,
        nonce: str | None = None,
    ) -> int | None:
        """Post a result that may mention exactly one user (the requester), with buttons."""
        ...

    async def set_actions(self, message_id: int, actions: Sequence[ActionButton]) -> None:
        """Replace the buttons of an earlier message of ours."""
        ...

    async def set_forum_stage(self, stage: ForumStage) -> None:
        """Forum posts: show the forum's "rendering"/"done" tag when the forum has such tags."""
        ...

    async def open_status(self, text: str, actions: Sequence[ActionButton] = ()) -> StatusMessage: ...

    def resume_status(self, message_id: int) -> StatusMessage:
        """A handle on a status message posted before a restart."""
        ...

    def typing(self) -> AbstractAsyncContextManager[None]: ...

    async def react(self, message_id: int, emoji: str) -> None: ...

    async def messages_after(self, message_id: int, *, limit: int = 100) -> list[IncomingMessage]:
        """Users' messages posted after `message_id`, oldest first (restart catch-up)."""
        ...

    async def unreact(self, message_id: int, emoji: str) -> None: ...

    def jump_url(self, message_id: int) -> str | None:
        """A link that opens this thread at one of its messages (None when the platform cannot say)."""
        ...


class SurfaceFactory(Protocol):
    def for_thread(self, thread_id: int) -> ThreadSurface: ...


class Backend(Protocol):
    """The editing backend, as the core uses it (bot.nemo.client.NemoClient)."""

    async def create_session(self, language: str) -> SessionInfo: ...

    async def state(self, session_id: str) -> SessionState: ...

    def chat(self, session_id: str, text: str) -> AsyncIterator[ChatEvent]:
        """Send one message and yield its events; never re-sends it (docs/backend-contract.md)."""
        ...

    async def upload_files(self, session_id: str, files: Sequence[UploadSource]) -> UploadResult: ...

    async def upload_urls(self, session_id: str, urls: Sequence[str]) -> UploadResult: ...

    async def credits(self) -> Credits: ...

    async def start_render(
        self, session_id: str, draft: dict[str, Any], *, render_id: str, output: Mapping[str, str]
    ) -> RenderStarted: ...

    async def render_status(self, render_id: str) -> RenderProgress: ...

    async def cancel_render(self, render_id: str) -> None: ...


class Attachments(Protocol):
    """Reads an attachment's bytes where the chat platform keeps them (Discord's CDN)."""

    async def head_bytes(self, url: str) -> bytes:
        """The first bytes (formats.SNIFF_BYTES) to check the content; raises DownloadFailed."""
        ...

    def source(self, file: IncomingFile) -> UploadSource:
        """The whole file as a stream for the upload (never read into memory whole)."""
        ...
