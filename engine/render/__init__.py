"""The render: a draft and its media in, a compliant MP4 out (docs/engine.md, "Render").

`render(spec, on_progress)` is the one entry point the job queue calls. It plans the ffmpeg graph
from the draft (canvas, fit, trims, joins, stills, titles), gets the music (engine.music) and
builds the mix (clip sound, ducking, loudness to −14 LUFS / −1 dBTP), then runs ffmpeg for the
video, reporting ffmpeg's own progress. Cancelling the awaiting task stops ffmpeg at once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from engine.config import EngineSettings
from engine.draft import Draft
from engine.media import MediaInfo

Resolution = Literal["1080p", "720p"]


class RenderFailed(Exception):
    """The render cannot be made; `reason` is safe to show a user (no paths, no ffmpeg log)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class RenderSpec:
    draft: Draft
    media: Mapping[str, MediaInfo]
    """Every upload of the session, by media id (the draft refers to them)."""
    out_path: Path
    """Where the MP4 goes (written to a temporary name first, renamed when complete)."""
    work_dir: Path
    """Scratch space for this job only; the caller removes it."""
    settings: EngineSettings
    resolution: Resolution = "1080p"


@dataclass(frozen=True, slots=True)
class RenderResult:
    path: Path
    duration_s: float
    size: int
    stream_copied: bool
    """True when the video was copied, not re-encoded (a compliant clip with nothing visual changed)."""
    seconds: Mapping[str, float] = field(default_factory=dict)
    """Wall time of each pass ("video", "mux", "sound.mix", …, "total"), for logs and benchmarks."""


async def render(spec: RenderSpec, on_progress: Callable[[float], None]) -> RenderResult:
    """Render `spec.draft`; `on_progress(fraction)` as ffmpeg reports. Raises `RenderFailed`."""
    from engine.render.pipeline import render_draft

    return await render_draft(spec, on_progress)
