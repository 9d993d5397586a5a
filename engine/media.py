"""What the engine knows about one upload once it is stored and probed.

Filled by the upload path (engine/ingest.py, engine/probe.py); read by the editor, the render
and the music analysis. Sizes are the *displayed* ones: a phone clip stored 1920×1080 with a
90° rotation is 1080×1920 here.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal, Self

AUDIO_RATE = 48_000
"""Every sound the engine decodes, composes, fits and mixes is 48 kHz stereo float; the MP4 carries it as AAC."""

MediaKind = Literal["video", "image", "audio"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Content:
    """What a file's content is, as engine/probe.py reads it (never from the file's name)."""

    kind: MediaKind
    container: str
    """The container as probed from the content (e.g. "mov,mp4,m4a,3gp,3g2,mj2", "png_pipe")."""
    duration_s: float | None
    """None for still images."""
    width: int | None = None
    height: int | None = None
    rotation: int = 0
    """Degrees clockwise the player must turn the stored frames (0, 90, 180, 270)."""
    fps: float | None = None
    vfr: bool = False
    has_audio: bool = False
    video_codec: str | None = None
    video_profile: str | None = None
    pix_fmt: str | None = None
    audio_codec: str | None = None
    audio_rate: int | None = None
    audio_channels: int | None = None


_CONTENT_FIELDS = tuple(f.name for f in fields(Content))


@dataclass(frozen=True, slots=True, kw_only=True)
class MediaInfo(Content):
    """A stored upload: its content, and which upload of which session it is."""

    media_id: str
    session_id: str
    filename: str
    """The cleaned name the user gave the file (what replies and the summary show)."""
    path: Path
    """The stored file, inside the engine's data folder."""
    size: int
    sha256: str
    uploaded_at: float = 0.0
    """Epoch seconds; clips are joined in this order."""

    @classmethod
    def of(
        cls,
        content: Content,
        *,
        media_id: str,
        session_id: str,
        filename: str,
        path: Path,
        size: int,
        sha256: str,
        uploaded_at: float = 0.0,
    ) -> Self:
        """The upload whose content the probe found to be `content`."""
        found: dict[str, Any] = {name: getattr(content, name) for name in _CONTENT_FIELDS}
        return cls(
            **found,
            media_id=media_id,
            session_id=session_id,
            filename=filename,
            path=path,
            size=size,
            sha256=sha256,
            uploaded_at=uploaded_at,
        )

    def video_info(self, cdn_url: str) -> dict[str, Any]:
        """The item in `state.video_infos` and in the upload answer's `files` (docs/engine-api.md, "The wire")."""
        return {
            "media_id": self.media_id,
            "filename": self.filename,
            "file_type": self.kind,
            "cdn_url": cdn_url,
            "duration": round(self.duration_s, 3) if self.duration_s is not None else None,
            "width": self.width,
            "height": self.height,
            "fps": round(self.fps, 3) if self.fps else None,
            "rotation": self.rotation,
            "vfr": self.vfr,
            "has_audio": self.has_audio,
            "video_codec": self.video_codec,
            "audio_codec": self.audio_codec,
            "size": self.size,
            "hash": self.sha256[:16],
        }
