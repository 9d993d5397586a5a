"""The render plan: the draft resolved against its media, in frames and samples.

Everything downstream (the video graph, the audio mix, the stream-copy check) works from this
one object, so the timeline is cut the same way for picture and sound: each segment's boundary
is its timeline position rounded to a frame of the 30 fps output, and its sound is exactly
1600 samples (48 kHz) per frame. The output is then `frames / 30` seconds long, within half a
frame of the draft's `d` (docs/engine.md, "Render").
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from engine.draft import CLIP_SOUND_VOLUME, MusicSegment, TextSegment, VisualSegment
from engine.media import AUDIO_RATE, MediaInfo
from engine.render import RenderFailed, RenderSpec

log = logging.getLogger(__name__)

FPS = 30
RATE = AUDIO_RATE
SAMPLES_PER_FRAME = RATE // FPS


def ms_to_frame(ms: int) -> int:
    """The output frame a timeline position falls on (half a frame rounds up)."""
    return (ms * FPS + 500) // 1000


@dataclass(frozen=True, slots=True)
class VisualItem:
    """One clip or still on the timeline, with the file it comes from."""

    segment: VisualSegment
    media: MediaInfo
    first_frame: int
    frames: int

    @property
    def name(self) -> str:
        return self.segment.m.name or self.media.filename

    @property
    def path(self) -> Path:
        return self.media.path

    @property
    def is_still(self) -> bool:
        return self.media.kind == "image"

    @property
    def src_in_s(self) -> float:
        return self.segment.m.src_in / 1000 if not self.is_still else 0.0

    @property
    def seconds(self) -> float:
        return self.frames / FPS

    @property
    def first_sample(self) -> int:
        return self.first_frame * SAMPLES_PER_FRAME

    @property
    def samples(self) -> int:
        return self.frames * SAMPLES_PER_FRAME

    @property
    def has_sound(self) -> bool:
        return not self.is_still and self.media.has_audio


@dataclass(frozen=True, slots=True)
class MusicItem:
    segment: MusicSegment
    first_sample: int
    samples: int


@dataclass(frozen=True, slots=True)
class TextItem:
    segment: TextSegment
    start_s: float
    end_s: float


@dataclass(frozen=True, slots=True)
class RenderPlan:
    spec: RenderSpec
    width: int
    height: int
    visuals: tuple[VisualItem, ...]
    music: MusicItem | None
    texts: tuple[TextItem, ...]
    clip_volume: float
    """The clips' own sound: 1 (keep), 0.3 (lower) or 0 (mute)."""

    @property
    def frames(self) -> int:
        return sum(v.frames for v in self.visuals)

    @property
    def samples(self) -> int:
        return self.frames * SAMPLES_PER_FRAME

    @property
    def duration_s(self) -> float:
        return self.frames / FPS

    @property
    def fit(self) -> str:
        return self.spec.draft.canvas.fit

    @property
    def session(self) -> str:
        """For log lines (`session=<id>`): the session the media belongs to."""
        return self.visuals[0].media.session_id if self.visuals else "-"

    @property
    def work_dir(self) -> Path:
        return self.spec.work_dir


def build_plan(spec: RenderSpec) -> RenderPlan:
    """Resolve the draft against the session's media; raises `RenderFailed` with a reason a user can act on."""
    draft = spec.draft
    if draft.is_empty():
        raise RenderFailed("the timeline is empty: add a clip or a picture first")
    width, height = draft.canvas.size(spec.resolution)
    visuals: list[VisualItem] = []
    for seg in draft.visuals:
        media = spec.media.get(seg.m.media)
        name = seg.m.name or "a clip"
        if media is None or not media.path.is_file():
            raise RenderFailed(f"“{name}” is no longer available; upload it again or remove it from the timeline")
        if media.kind == "audio":
            raise RenderFailed(f"“{name}” is a sound file, so it cannot be shown on the video track")
        first, last = ms_to_frame(seg.st), ms_to_frame(seg.end)
        if last <= first:
            log.info("render session=%s: segment %r is shorter than a frame and is left out", media.session_id, name)
            continue
        if media.kind == "video" and media.duration_s is not None:
            available = media.duration_s - seg.m.src_in / 1000
            if available <= 0:
                raise RenderFailed(f"“{name}” starts after the end of its clip; trim it again")
            if available + 1 / FPS < (last - first) / FPS:
                log.info(
                    "render session=%s: %r is %.2fs short of its segment; its last frame is held",
                    media.session_id,
                    name,
                    (last - first) / FPS - available,
                )
        visuals.append(VisualItem(seg, media, first, last - first))
    if not visuals:
        raise RenderFailed("the timeline is too short to render")
    total_frames = sum(v.frames for v in visuals)
    total_samples = total_frames * SAMPLES_PER_FRAME

    music = None
    if draft.music is not None:
        start = min(round(draft.music.st * RATE / 1000), total_samples)
        end = min(round(draft.music.end * RATE / 1000), total_samples)
        if end > start:
            music = MusicItem(draft.music, start, end - start)
    duration = total_frames / FPS
    texts = tuple(
        TextItem(seg, seg.st / 1000, min(seg.end / 1000, duration))
        for seg in draft.texts
        if seg.m.text.strip() and seg.st / 1000 < duration
    )
    return RenderPlan(
        spec=spec,
        width=width,
        height=height,
        visuals=tuple(visuals),
        music=music,
        texts=texts,
        clip_volume=CLIP_SOUND_VOLUME[draft.meta.clip_sound],
    )
