"""Helpers for the editor's tests: an in-memory `EditorSession`, MediaInfo without files, and a
compact text form of intents so request tables read like the requests themselves. MediaInfo of a
real generated file comes from tests/mediagen.py (`media_info`)."""

from __future__ import annotations

import hashlib
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any

from engine.config import EngineSettings
from engine.draft import Draft
from engine.editor import Call, EditorEvent, Result, Say, place_uploads, run_turn
from engine.editor import intents as it
from engine.editor.timespec import When
from engine.media import MediaInfo, MediaKind


# ---------------------------------------------------------------------------- sessions
class MemorySession:
    """An `EditorSession` kept in memory, with the store's undo semantics (every commit pushes)."""

    def __init__(
        self,
        media: Sequence[MediaInfo] = (),
        *,
        language: str = "en",
        settings: EngineSettings | None = None,
        session_id: str = "sess1",
        fail_commit: bool = False,
    ) -> None:
        self._media = list(media)
        self._language = language
        self._settings = settings or EngineSettings(data_dir=Path("/nonexistent/cutaway-test"))
        self._session_id = session_id
        self._draft = place_uploads(Draft(), self._media)
        self.history: list[Draft] = []
        self.background_keys: list[str] = []
        self.commits = 0
        self.fail_commit = fail_commit

    @property
    def session_id(self) -> str:
        return self._session_id

    @property
    def language(self) -> str:
        return self._language

    @property
    def draft(self) -> Draft:
        return self._draft

    @property
    def media(self) -> Sequence[MediaInfo]:
        return self._media

    @property
    def settings(self) -> EngineSettings:
        return self._settings

    def upload(self, *media: MediaInfo) -> None:
        """What the upload path does: store the media and place it (not an undo step)."""
        self._media.extend(media)
        self._draft = place_uploads(self._draft, media)

    async def commit(self, draft: Draft) -> None:
        if self.fail_commit:
            raise OSError("disk full")
        self.history.append(self._draft)
        self._draft = draft
        self.commits += 1

    async def undo(self) -> Draft | None:
        if not self.history:
            return None
        self._draft = self.history.pop()
        return self._draft

    def background(self, work: Coroutine[Any, Any, Any], *, key: str) -> None:
        # The composer is exercised by its own tests; here only that it was asked for counts.
        self.background_keys.append(key)
        work.close()


async def turn(session: MemorySession, text: str) -> list[EditorEvent]:
    return [event async for event in run_turn(session, text)]


def says(events: Sequence[EditorEvent]) -> list[str]:
    return [e.text for e in events if isinstance(e, Say)]


def said(events: Sequence[EditorEvent]) -> str:
    return "\n".join(says(events))


def kinds(events: Sequence[EditorEvent]) -> list[str]:
    return [type(e).__name__ for e in events]


def calls(events: Sequence[EditorEvent]) -> list[Call]:
    return [e for e in events if isinstance(e, Call)]


def results(events: Sequence[EditorEvent]) -> list[Result]:
    return [e for e in events if isinstance(e, Result)]


# ---------------------------------------------------------------------------- media
def media_info(
    media_id: str,
    filename: str,
    kind: MediaKind,
    duration_s: float | None,
    uploaded_at: float,
    *,
    width: int = 1920,
    height: int = 1080,
    has_audio: bool = True,
    session_id: str = "sess1",
) -> MediaInfo:
    """MediaInfo with the values a probe of such a file gives (for tests that never read the file)."""
    return MediaInfo(
        media_id=media_id,
        session_id=session_id,
        filename=filename,
        kind=kind,
        path=Path(f"/nonexistent/{media_id}"),
        size=1_000_000,
        sha256=hashlib.sha256(media_id.encode()).hexdigest(),
        container="mov,mp4,m4a,3gp,3g2,mj2" if kind != "image" else "png_pipe",
        duration_s=duration_s,
        width=width if kind != "audio" else None,
        height=height if kind != "audio" else None,
        fps=30.0 if kind == "video" else None,
        has_audio=has_audio if kind != "image" else False,
        video_codec="h264" if kind == "video" else None,
        audio_codec="aac" if kind != "image" else None,
        uploaded_at=uploaded_at,
    )


PIER = media_info("m_pier", "pier.mp4", "video", 20.0, 1.0)
SUNSET = media_info("m_sunset", "sunset.jpg", "image", None, 2.0)
BEACH = media_info("m_beach", "beach.mov", "video", 12.5, 3.0)
SONG = media_info("m_song", "my_song.mp3", "audio", 30.0, 4.0)


# ---------------------------------------------------------------------------- intents as text
def _when(w: When) -> str:
    return ",".join(f"{k}={getattr(w, k)}" for k in ("start", "end", "length", "anchor") if getattr(w, k) is not None)


def _sel(s: it.Selector | None) -> str:
    if s is None:
        return "timeline"
    return f"{s.kind}#{s.position}" + ("+" if s.plural else "")


def shape(i: it.Intent) -> str:
    """One intent as a short line, e.g. "volume -10", "canvas 9:16 blur", "text 'Summer' title top - -"."""
    if isinstance(i, it.AddMusic):
        return "music" + ("!" if i.fresh else "")
    if isinstance(i, it.AnotherTrack):
        return "another"
    if isinstance(i, it.RemoveMusic):
        return "music off"
    if isinstance(i, it.UseMyAudio):
        return "my audio"
    if isinstance(i, it.MusicVolume):
        value = f"volume {i.percent:g}" if i.percent is not None else f"volume {i.step or 0:+g}"
        return value + (" auto" if i.target == "auto" else "")
    if isinstance(i, it.MusicFade):
        at = f" at={i.fade_out_at}" if i.fade_out_at is not None else ""
        return f"fade in={i.fade_in} out={i.fade_out}{at}"
    if isinstance(i, it.MusicTiming):
        return f"music when {_when(i.when)}"
    if isinstance(i, it.Ducking):
        return f"duck {'on' if i.on else 'off'}"
    if isinstance(i, it.SetClipSound):
        return f"clip {i.mode}"
    if isinstance(i, it.SetCanvas):
        return f"canvas {i.aspect or '-'} {i.fit or '-'}"
    if isinstance(i, it.AddText):
        return f"text {i.text!r} {i.style} {i.position or '-'} {i.size or '-'} {_when(i.when) or '-'}"
    if isinstance(i, it.EditText):
        target = f"{i.target.position}/{i.target.words}"
        return (
            f"edit text {target} {i.text!r} {i.position or '-'} {i.size or '-'}{i.size_step:+d} {_when(i.when) or '-'}"
        )
    if isinstance(i, it.RemoveText):
        return "remove text " + ("all" if i.target is None else f"{i.target.position}/{i.target.words}")
    if isinstance(i, it.Trim):
        extra = (f" before={i.before}" if i.before is not None else "") + (
            f" after={i.after}" if i.after is not None else ""
        )
        return f"trim {_sel(i.scope)} {_when(i.when) or '-'}{' keep' if i.keep else ''}{extra}"
    if isinstance(i, it.SetLength):
        return f"length {_sel(i.scope)} {i.length_ms}"
    if isinstance(i, it.RemoveClip):
        return f"remove clip {_sel(i.scope)}"
    if isinstance(i, it.Undo):
        return f"undo {i.steps}"
    if isinstance(i, it.Unsupported):
        return f"cannot {i.topic}"
    if isinstance(i, it.Unclear):
        return f"unclear {i.reason}"
    return type(i).__name__.lower()


def shapes(text: str) -> list[str]:
    return [shape(i) for i in it.interpret(text).intents]
