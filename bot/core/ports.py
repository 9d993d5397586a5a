"""What the core needs from a chat surface (Discord in production, fakes in tests).

The core never imports discord.py: `bot/discord_surface.py` implements these protocols.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class IncomingFile:
    """An attachment as the core sees it. The URL is used at once and never stored (it expires)."""

    filename: str
    url: str
    size: int
    content_type: str | None = None


@dataclass(frozen=True, slots=True)
class IncomingMessage:
    message_id: int
    thread_id: int
    author_id: int
    text: str
    files: tuple[IncomingFile, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class LinkButton:
    label: str
    url: str


class StatusMessage(Protocol):
    """The one status message of a turn or render, edited in place."""

    @property
    def message_id(self) -> int | None: ...

    async def update(self, text: str) -> None:
        """Edit in place; replace with a fresh message when editing is no longer possible."""
        ...

    async def finish(self, text: str | None = None) -> None:
        """Turn the status into its final text, or delete it when `text` is None."""
        ...


class ThreadSurface(Protocol):
    """One project thread."""

    thread_id: int

    async def post(self, text: str, *, reply_to: int | None = None) -> int | None:
        """Post text (split at the platform's limit, mentions disabled); return the first message id."""
        ...

    async def post_result(self, text: str, *, link: LinkButton | None = None, mention_user: int | None = None,
                          nonce: str | None = None) -> int | None:
        """Post a result that may mention exactly one user, with an optional link button."""
        ...

    async def open_status(self, text: str) -> StatusMessage: ...

    def resume_status(self, message_id: int) -> StatusMessage:
        """A handle on a status message posted before a restart."""
        ...

    def typing(self) -> AbstractAsyncContextManager[None]: ...

    async def react(self, message_id: int, emoji: str) -> None: ...

    async def messages_after(self, message_id: int, *, limit: int = 100) -> list[IncomingMessage]:
        """Users' messages posted after `message_id`, oldest first (restart catch-up)."""
        ...

    async def unreact(self, message_id: int, emoji: str) -> None: ...


class SurfaceFactory(Protocol):
    def for_thread(self, thread_id: int) -> ThreadSurface: ...
