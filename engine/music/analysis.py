"""How a clip looks, for choosing the mood and for placing the music's downbeats on its cuts.

One ffmpeg pass decodes the clip once (without the deblocking filter) and scales it to 160 px
wide: one branch runs `scdet` on every frame (cut times to the frame), the other `signalstats` at
5 frames a second (brightness, saturation, and motion as the mean luma change between those
frames). The parse runs in a worker thread, and
the result is cached on disk by the file's sha256, so a clip is analysed once however often it is
asked about (docs/music.md, "Reading the video").
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import shutil
import tempfile
from pathlib import Path

from engine.config import EngineSettings
from engine.ffmpeg import FFmpegError, run_ffmpeg
from engine.media import MediaInfo
from engine.music import Cut, VideoFeatures
from engine.music.singleflight import SingleFlight

log = logging.getLogger(__name__)

VERSION = 1
"""Bumped when the measures change, so old cache entries are not reused."""
WIDTH = 160
STATS_FPS = 5
CUT_THRESHOLD = 8.0
"""scdet scores (0-100) at or above this are cuts; hard cuts at 160 px score 20-60."""
CUT_SCORE_FULL = 50.0
"""scdet score that counts as a cut of strength 1."""
MIN_CUT_GAP_S = 0.4
MOTION_FULL = 40.0
"""Mean luma change (0-255) between frames 0.2 s apart that counts as motion 1."""

_flight: SingleFlight[VideoFeatures] = SingleFlight()
_FRAME = re.compile(r"pts_time:(-?[\d.]+)")


def cache_path(settings: EngineSettings, sha256: str) -> Path:
    return settings.cache_dir / "analysis" / f"{sha256}.v{VERSION}.json"


async def analyse_video(media: MediaInfo, settings: EngineSettings) -> VideoFeatures:
    path = cache_path(settings, media.sha256)
    cached = await asyncio.to_thread(_load, path)
    if cached is not None:
        return cached
    return await _flight.run(media.sha256, lambda: _analyse(media, path))


async def _analyse(media: MediaInfo, cache: Path) -> VideoFeatures:
    duration = media.duration_s or 0.0
    tmp = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="cutaway-analysis-"))
    try:  # made and removed off the event loop, like every file operation here
        stats, scenes = tmp / "stats.txt", tmp / "scenes.txt"
        graph = (
            f"[0:v]scale={WIDTH}:-2:flags=fast_bilinear,split[a][b];"
            f"[a]fps={STATS_FPS},signalstats,metadata=mode=print:file={_escape(stats)}[s];"
            f"[b]scdet=threshold=100,metadata=mode=print:file={_escape(scenes)}[c]"
        )
        # the deblocking filter only polishes what a 160 px analysis cannot see: skipping it speeds the decode
        args: list[str | Path] = ["-skip_loop_filter", "all", "-i", media.path, "-an", "-sn", "-dn"]
        args += ["-filter_complex", graph]
        args += ["-map", "[s]", "-f", "null", "-", "-map", "[c]", "-f", "null", "-"]
        try:
            await run_ffmpeg(args)
        except FFmpegError as exc:
            log.warning(
                "video analysis failed session=%s media=%s: %s", media.session_id, media.media_id, exc.tail[-300:]
            )
            return VideoFeatures(duration_s=duration, brightness=0.5, saturation=0.3, motion=0.2)
        features = await asyncio.to_thread(_parse_files, stats, scenes, duration)
    finally:
        await asyncio.to_thread(shutil.rmtree, tmp, True)
    await asyncio.to_thread(_store, cache, features)
    log.info(
        "analysed video session=%s media=%s brightness=%.2f saturation=%.2f motion=%.2f cuts=%d",
        media.session_id, media.media_id, features.brightness, features.saturation, features.motion, len(features.cuts),
    )  # fmt: skip
    return features


def _escape(path: Path) -> str:
    """A path inside a filtergraph option: backslash, colon and quote are special there."""
    text = str(path).replace("\\", "/")
    return text.replace(":", "\\\\:").replace("'", "\\\\'").replace(",", "\\,").replace(";", "\\;")


def _parse_files(stats: Path, scenes: Path, duration: float) -> VideoFeatures:
    return parse(stats.read_text(errors="replace"), scenes.read_text(errors="replace"), duration)


def parse(stats_text: str, scenes_text: str, duration: float) -> VideoFeatures:
    """Features from the two metadata logs ffmpeg wrote (one record per frame)."""
    brightness: list[float] = []
    saturation: list[float] = []
    motion: list[float] = []
    for record in stats_text.split("frame:")[1:]:
        values = dict(_pairs(record))
        if "lavfi.signalstats.YAVG" in values:
            brightness.append(min(1.0, max(0.0, (values["lavfi.signalstats.YAVG"] - 16) / 219)))
            saturation.append(min(1.0, values.get("lavfi.signalstats.SATAVG", 0.0) / 128))
            if len(brightness) > 1:
                motion.append(min(1.0, values.get("lavfi.signalstats.YDIF", 0.0) / MOTION_FULL))
    scores: list[tuple[float, float]] = []
    last_time = 0.0
    for record in scenes_text.split("frame:")[1:]:
        match = _FRAME.search(record)
        values = dict(_pairs(record))
        if match is None or "lavfi.scd.score" not in values:
            continue
        last_time = float(match.group(1))
        scores.append((last_time, values["lavfi.scd.score"]))
    if duration <= 0:
        duration = last_time
    return VideoFeatures(
        duration_s=duration,
        brightness=_mean(brightness, 0.5),
        saturation=_mean(saturation, 0.3),
        motion=_mean(motion, 0.0),
        cuts=pick_cuts(scores),
    )


def pick_cuts(scores: list[tuple[float, float]]) -> tuple[Cut, ...]:
    """Frames whose scene score is a cut and the highest within `MIN_CUT_GAP_S` (a cut is one frame;
    a dissolve's neighbours must not count again), in time order."""
    candidates = sorted(((s, t) for t, s in scores if s >= CUT_THRESHOLD and t > 0), reverse=True)
    kept: list[tuple[float, float]] = []
    for score, time in candidates:
        if all(abs(time - t) >= MIN_CUT_GAP_S for _, t in kept):
            kept.append((score, time))
    return tuple(Cut(round(t, 4), round(min(1.0, s / CUT_SCORE_FULL), 3)) for s, t in sorted(kept, key=lambda k: k[1]))


def _pairs(record: str) -> list[tuple[str, float]]:
    out: list[tuple[str, float]] = []
    for line in record.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.startswith("lavfi."):
            with contextlib.suppress(ValueError):
                out.append((key.strip(), float(value)))
    return out


def _mean(values: list[float], default: float) -> float:
    return sum(values) / len(values) if values else default


def _load(path: Path) -> VideoFeatures | None:
    try:
        raw = json.loads(path.read_text())
        os.utime(path)  # used now: the retention sweep removes what has not been for a while
        return VideoFeatures(
            duration_s=float(raw["duration_s"]),
            brightness=float(raw["brightness"]),
            saturation=float(raw["saturation"]),
            motion=float(raw["motion"]),
            cuts=tuple(Cut(float(t), float(s)) for t, s in raw["cuts"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _store(path: Path, features: VideoFeatures) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "duration_s": features.duration_s,
        "brightness": features.brightness,
        "saturation": features.saturation,
        "motion": features.motion,
        "cuts": [[c.time_s, c.score] for c in features.cuts],
    }
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(path)
