"""Music for a clip: the one small interface the editor and the render use (docs/music.md).

Three sources stand behind it: the built-in composer (always there), the operator's library of
licensed tracks, and the user's own uploaded track. The editor chooses the mood (`choose_mood`)
and records the choice in the draft's music segment; the render asks `music_for_draft` for a WAV
of exactly the music segment's length and mixes it (volume, fades, ducking) itself.

Everything heavy (composing, analysing a video, fitting a track) runs off the event loop and is
cached on disk by its inputs, so asking twice costs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from engine.media import AUDIO_RATE

if TYPE_CHECKING:
    from collections.abc import Mapping

    from engine.config import EngineSettings
    from engine.draft import Draft
    from engine.media import MediaInfo

MOODS: tuple[str, ...] = ("upbeat", "calm", "cinematic", "lofi", "happy", "tense")
"""Every mood the composer writes (and a library may be sorted by)."""

SAMPLE_RATE = AUDIO_RATE


@dataclass(frozen=True, slots=True)
class Cut:
    """A scene cut on the timeline: when (seconds) and how strong (0..1, scdet's score scaled)."""

    time_s: float
    score: float


@dataclass(frozen=True, slots=True)
class VideoFeatures:
    """What a clip looks like, for choosing a mood and for placing the music's downbeats."""

    duration_s: float
    brightness: float
    """Mean luma, 0..1."""
    saturation: float
    """Mean saturation, 0..1."""
    motion: float
    """Mean frame-to-frame change, 0..1."""
    cuts: tuple[Cut, ...] = ()
    """Scene cuts inside this clip, in the clip's own time."""

    @property
    def cut_rate(self) -> float:
        """Cuts per minute."""
        return 60.0 * len(self.cuts) / self.duration_s if self.duration_s > 0 else 0.0


@dataclass(frozen=True, slots=True)
class MoodChoice:
    mood: str
    reason: dict[str, str]
    """One short sentence per UI language ("en", "zh") saying why, for the editor's reply."""
    explicit: bool
    """True when the user named the mood; False when it was read from the request or the video."""


@dataclass(frozen=True, slots=True)
class MusicRequest:
    """Everything that decides the music's samples; equal requests give identical WAVs (the cache key)."""

    source: Literal["composer", "library", "upload"]
    duration_s: float
    mood: str = "calm"
    seed: int = 0
    cuts: tuple[Cut, ...] = ()
    """Timeline cuts, strongest first; the composer lands the strongest 1-3 on downbeats."""
    track: Path | None = None
    """The library track or the user's upload, for those sources."""
    companion: Path | None = None
    """A second library track in the same mood, crossfaded in at a bar line when `track` is shorter
    than the segment (library only; without it a short track is looped)."""


@dataclass(frozen=True, slots=True)
class MusicResult:
    path: Path
    """48 kHz stereo WAV of exactly `duration_s`, its loudness −16…−12 LUFS (the bed before the mix)."""
    duration_s: float
    description: dict[str, str] = field(default_factory=dict)
    """e.g. {"en": "a calm piece for piano and pads at 72 BPM", "zh": "…"} for replies."""
    tempo_bpm: float | None = None
    downbeats_s: tuple[float, ...] = ()


async def music_for_draft(draft: Draft, media: Mapping[str, MediaInfo], settings: EngineSettings) -> MusicResult | None:
    """The music bed for the draft's music segment (None when it has none): exactly the segment's
    length, its strongest timeline cuts on downbeats, from the source the segment names. Cached."""
    from engine.music.facade import music_for_draft as impl

    return await impl(draft, media, settings)


def choose_mood(text: str, features: VideoFeatures | None) -> MoodChoice:
    """The mood for a request: named in the text (EN/ZH, with negation), else read from the text's
    words, else from the video; `reason` says which, in one short sentence."""
    from engine.music.mood import choose_mood as impl

    return impl(text, features)


async def analyse_video(media: MediaInfo, settings: EngineSettings) -> VideoFeatures:
    """Brightness, saturation, motion and scene cuts of one clip (one decode, cached by content)."""
    from engine.music.analysis import analyse_video as impl

    return await impl(media, settings)
