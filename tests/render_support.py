"""Helpers of the render tests: drafts in the wire form, an injected music bed, one call to render."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from engine.config import EngineSettings
from engine.draft import Draft
from engine.media import MediaInfo
from engine.music import MusicResult
from engine.render import RenderResult, RenderSpec
from engine.render.pipeline import render_draft
from engine.render.soundtrack import MusicProvider
from tests import mediagen as mg


def visual(media: MediaInfo, st: int, d: int, *, src_in: int = 0, name: str | None = None) -> dict[str, Any]:
    return {
        "st": st,
        "d": d,
        "m": {"name": name or media.filename, "media": media.media_id, "kind": media.kind, "src_in": src_in},
    }


def music(st: int, d: int, **meta: Any) -> dict[str, Any]:
    return {"st": st, "d": d, "m": {"name": "Test bed", "source": "composer", **meta}}


def title(st: int, d: int, text: str, *, position: str = "center", size: str = "large") -> dict[str, Any]:
    return {"st": st, "d": d, "m": {"name": text, "text": text, "position": position, "size": size}}


def draft(
    visuals: Sequence[dict[str, Any]],
    *,
    aspect: str = "16:9",
    fit: str = "pad",
    clip_sound: str = "keep",
    music_segment: dict[str, Any] | None = None,
    texts: Sequence[dict[str, Any]] = (),
) -> Draft:
    tracks: list[dict[str, Any]] = [{"tt": 0, "sg": list(visuals)}]
    if music_segment is not None:
        tracks.append({"tt": 1, "sg": [music_segment]})
    if texts:
        tracks.append({"tt": 7, "sg": list(texts)})
    end = max(v["st"] + v["d"] for v in visuals)
    return Draft.from_json(
        {"d": end, "m": {"canvas": {"aspect": aspect, "fit": fit}, "clip_sound": clip_sound}, "t": tracks}
    )


class Bed:
    """An injected music provider: `samples(seconds)` gives the bed (mono or (n, 2)); calls are recorded."""

    def __init__(self, directory: Path, samples: Callable[[float], np.ndarray]) -> None:
        self.directory = directory
        self.samples = samples
        self.calls = 0

    async def __call__(
        self, draft: Draft, media: Mapping[str, MediaInfo], settings: EngineSettings
    ) -> MusicResult | None:
        if draft.music is None:
            return None
        self.calls += 1
        seconds = draft.music.d / 1000
        path = self.directory / f"bed-{self.calls}.wav"
        mg.write_wav(path, self.samples(seconds))
        return MusicResult(path=path, duration_s=seconds)


def tone_bed(directory: Path, freq: float = 6000.0, level: float = 0.25) -> Bed:
    """A steady tone far above the synthetic voice's harmonics (≤ 4.2 kHz), so its level can be read
    under speech by its frequency band alone."""
    return Bed(directory, lambda s: mg.tone(s, freq, level=level))


def chord_bed(directory: Path) -> Bed:
    """Something music-like: a slowly pulsing major chord with overtones."""

    def make(seconds: float) -> np.ndarray:
        t = np.arange(int(seconds * mg.RATE)) / mg.RATE
        out = np.zeros(len(t))
        for f in (220.0, 277.18, 329.63, 440.0):
            for k in (1, 2, 3):
                out += 0.06 / k * np.sin(2 * np.pi * f * k * t)
        out *= 0.7 + 0.3 * np.sin(2 * np.pi * 0.5 * t)
        return np.stack([out, out * 0.9], axis=1).astype(np.float32)

    return Bed(directory, make)


def settings(tmp: Path, preset: str = "veryfast") -> EngineSettings:
    return EngineSettings(data_dir=tmp / "data", x264_preset=preset)


async def render(
    tmp: Path,
    the_draft: Draft,
    media: Sequence[MediaInfo],
    *,
    bed: MusicProvider | None = None,
    resolution: str = "1080p",
    preset: str = "veryfast",
    on_progress: Callable[[float], None] | None = None,
    name: str = "out.mp4",
) -> RenderResult:
    spec = RenderSpec(
        draft=the_draft,
        media={m.media_id: m for m in media},
        out_path=tmp / "results" / name,
        work_dir=tmp / "work" / name,
        settings=settings(tmp, preset),
        resolution=resolution,  # type: ignore[arg-type]
    )
    return await render_draft(spec, on_progress or (lambda _: None), music=bed)


def ffmpeg_children() -> list[int]:
    """Pids of ffmpeg processes whose parent is this test process."""
    me = os.getpid()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == me and b"ffmpeg" in cmdline.split(b"\0", 1)[0]:
            found.append(int(entry.name))
    return found


def region_mean(frame: np.ndarray, x0: float, x1: float, y0: float = 0.0, y1: float = 1.0) -> float:
    """Mean of an RGB frame over a region given in fractions of its width and height."""
    h, w = frame.shape[:2]
    return float(frame[int(y0 * h) : int(y1 * h), int(x0 * w) : int(x1 * w)].mean())
