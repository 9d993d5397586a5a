"""The editor: what answers `/run_sse` (docs/engine.md, "Editor").

A deterministic request interpreter, English and Chinese, that turns one chat message into edits
of the draft and replies like the agent does: some text, a tool call and its result carrying the
new draft, and a closing sentence. The HTTP layer (engine/app.py) turns these events into ADK
events on the wire; the editor itself knows nothing of HTTP or storage.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from engine.config import EngineSettings
from engine.draft import Draft
from engine.media import MediaInfo


@dataclass(frozen=True, slots=True)
class Say:
    """Text for the user (an ADK text part)."""

    text: str


@dataclass(frozen=True, slots=True)
class Call:
    """A tool call (an ADK `functionCall`); the bot shows its name as the stage of the work."""

    name: str
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Result:
    """The tool's result (an ADK `functionResponse`); `draft`, when set, is the committed new draft
    and travels in `actions.stateDelta` with the canvas."""

    name: str
    response: dict[str, Any] = field(default_factory=dict)
    draft: Draft | None = None


EditorEvent = Say | Call | Result


class EditorSession(Protocol):
    """What the editor may read and change of one session (implemented over the engine's store)."""

    @property
    def session_id(self) -> str: ...

    @property
    def language(self) -> str:
        """The language the session was created with ("en", "zh-CN", …)."""
        ...

    @property
    def draft(self) -> Draft: ...

    @property
    def media(self) -> Sequence[MediaInfo]:
        """Every upload of the session, in upload order."""
        ...

    @property
    def settings(self) -> EngineSettings: ...

    async def commit(self, draft: Draft) -> None:
        """Store `draft` as the current one; the previous one goes on the undo stack."""
        ...

    async def undo(self) -> Draft | None:
        """Restore the draft before the last commit; None when there is nothing to undo."""
        ...

    def background(self, work: Coroutine[Any, Any, Any], *, key: str) -> None:
        """Run `work` after the turn (e.g. compose the music ahead of the export); one per key."""
        ...


async def run_turn(session: EditorSession, text: str) -> AsyncIterator[EditorEvent]:
    """Answer one chat message. Never raises for anything a user can type."""
    from engine.editor.turn import answer

    async for event in answer(session, text):
        yield event


def place_uploads(draft: Draft, new: Sequence[MediaInfo]) -> Draft:
    """Put freshly uploaded clips and images on the video track, after what is there (upload order).
    Called by the upload path, so `/status` and `/export` see a clip as soon as it is uploaded."""
    from engine.editor.drafting import append_media

    return append_media(draft, new)


__all__ = ["Call", "EditorEvent", "EditorSession", "Result", "Say", "place_uploads", "run_turn"]
