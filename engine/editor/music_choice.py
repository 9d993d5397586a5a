"""When the editor asks the music for a mood, and what it shows it (docs/engine.md, "Editor").

The mood vocabulary, its negations and the weighing of text against picture belong to the music
(`engine.music.choose_mood`). The editor's part is the timeline: a mood named in the request needs
no look at the video; otherwise every video clip on the timeline is analysed (one decode each,
cached by content) and the analyses are combined into one `VideoFeatures` for the whole edit —
weighted by how long each clip is on screen, its cuts moved to timeline time, and the joins between
clips counted as cuts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from engine.config import EngineSettings
from engine.draft import Draft
from engine.media import MediaInfo
from engine.music import Cut, MoodChoice, VideoFeatures, analyse_video, choose_mood
from engine.music.library import Track, scan

log = logging.getLogger(__name__)

MAX_ANALYSED_CLIPS = 12
"""A long montage is judged by its first dozen clips: enough to read its look, bounded in time."""
FALLBACK = MoodChoice("calm", {"en": "A calm piece suits most clips.", "zh": "平静风格的音乐适合大多数视频。"}, False)


def named(request: str) -> MoodChoice | None:
    """The choice when the request names a mood (no video needed), else None."""
    try:
        choice = choose_mood(request, None)
    except Exception:
        log.exception("choose_mood failed on a request; falling back to the video")
        return None
    return choice if choice.explicit else None


def choose(request: str, features: VideoFeatures | None) -> MoodChoice:
    """The mood from the request and, when given, the video; never fails a turn."""
    try:
        return choose_mood(request, features)
    except Exception:
        log.exception("choose_mood failed; using the default mood")
        return FALLBACK


def clips_to_analyse(draft: Draft, media: Mapping[str, MediaInfo]) -> list[MediaInfo]:
    seen: dict[str, MediaInfo] = {}
    for seg in draft.visuals:
        info = media.get(seg.m.media)
        if info is not None and info.kind == "video" and info.media_id not in seen:
            seen[info.media_id] = info
    return list(seen.values())[:MAX_ANALYSED_CLIPS]


async def timeline_features(
    draft: Draft, media: Mapping[str, MediaInfo], settings: EngineSettings, *, session_id: str = "-"
) -> VideoFeatures | None:
    """One description of the whole timeline's look, or None when there is no video to look at."""
    analysed: dict[str, VideoFeatures] = {}
    for info in clips_to_analyse(draft, media):
        try:
            analysed[info.media_id] = await analyse_video(info, settings)
        except Exception:
            # A clip that cannot be analysed only loses its vote; the music still gets chosen.
            log.warning("session=%s media=%s video analysis failed", session_id, info.media_id, exc_info=True)
    return combine(draft, analysed)


def combine(draft: Draft, analysed: Mapping[str, VideoFeatures]) -> VideoFeatures | None:
    """Per-clip features → the timeline's: means weighted by on-screen time, cuts on the timeline."""
    weight = 0.0
    brightness = saturation = motion = 0.0
    cuts: list[Cut] = []
    for index, seg in enumerate(draft.visuals):
        if index > 0:
            cuts.append(Cut(seg.st / 1000, 1.0))  # a join is a hard cut
        f = analysed.get(seg.m.media)
        if f is None:
            continue
        w = seg.d / 1000
        weight += w
        brightness += f.brightness * w
        saturation += f.saturation * w
        motion += f.motion * w
        lo, hi = seg.m.src_in / 1000, (seg.m.src_in + seg.d) / 1000
        cuts.extend(Cut(seg.st / 1000 + c.time_s - lo, c.score) for c in f.cuts if lo < c.time_s < hi)
    if weight <= 0:
        return None
    return VideoFeatures(
        duration_s=draft.duration_ms / 1000,
        brightness=brightness / weight,
        saturation=saturation / weight,
        motion=motion / weight,
        cuts=tuple(sorted(cuts, key=lambda c: c.time_s)),
    )


async def library_tracks(settings: EngineSettings) -> tuple[Track, ...]:
    """The operator's tracks (`ENGINE_MUSIC_DIR`), read off the event loop; none when unset or unreadable."""
    if settings.music_dir is None:
        return ()
    try:
        return await asyncio.to_thread(scan, settings.music_dir)
    except OSError:
        log.warning("the music library at ENGINE_MUSIC_DIR could not be read; composing instead", exc_info=True)
        return ()
