"""The mix, in numpy, block by block (4 s at a time, so a long clip never sits in memory whole).

Inputs are two raw float32 stereo 48 kHz files the extraction pass wrote: the clips' sound laid
end to end over the whole timeline, and the music bed for its segment. Two passes over them:

1. Analysis: the loudness of each track (BS.1770, engine/render/loudness.py) and, when the music
   ducks, the voice detection on the clips' sound (engine/render/ducking.py).
2. Mixing: clips × `clip_sound` (1, 0.3, 0) + music × `volume` × fades × ducking, where `volume`
   is relative to the clips' sound: the bed is first brought to the clips' own loudness, so 0.35
   puts the music 9 dB under the clips whether the phone recorded loudly or quietly. (Clips that
   are near-silent, under −50 LUFS, are no reference: the bed then keeps its own level.) The clips
   keep theirs, so the mix is as loud as the material and the mastering step can tell a quiet
   recording (lifted to −14) from silence (left alone). Joins between clips get 5 ms fades so a
   cut never clicks. The mix's loudness and peaks are measured on the way out for mastering.

Runs in a worker thread; `cancel` is checked between blocks.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from engine.media import AUDIO_RATE
from engine.render import ducking
from engine.render.loudness import SUB_BLOCK, LoudnessMeter

RATE = AUDIO_RATE
BLOCK = 100 * ducking.FRAME
"""4 s: a whole number of voice frames (40 ms) and loudness sub-blocks (100 ms)."""
MEANINGFUL_LUFS = -50.0
"""Clips' sound quieter than this is room noise, not a level to set the music by."""
MATCH_LIMITS_DB = (-30.0, 24.0)
"""How far the bed is moved to the clips' loudness at most."""
JOIN_FADE = RATE * 5 // 1000
EDGE_FADE = RATE * 10 // 1000
"""The shortest fade at the music's ends, even when the segment asks for none (no click)."""
_ALIGN = math.lcm(SUB_BLOCK, ducking.FRAME)


class MixCancelled(Exception):
    pass


@dataclass(frozen=True, slots=True)
class MusicTrack:
    path: Path
    first_sample: int
    samples: int
    volume: float
    fade_in: int
    """Samples."""
    fade_out: int
    duck: bool


@dataclass(frozen=True, slots=True)
class MixJob:
    total_samples: int
    clips: Path | None
    """The clips' sound over the whole timeline, or None when it is silent or muted."""
    clip_volume: float
    joins: Sequence[int]
    """Sample positions where one clip meets the next."""
    music: MusicTrack | None
    out: Path


PEAK_WINDOW = RATE // 100
"""10 ms: the resolution of the peak envelope the mastering step predicts its limiter from."""


@dataclass(frozen=True, slots=True)
class MixResult:
    integrated_lufs: float | None
    clips_lufs: float | None
    music_lufs: float | None
    speech_s: float
    """How much of the timeline the music was ducked under (seconds)."""
    powers: np.ndarray
    """The mix's K-weighted power per 100 ms sub-block (engine/render/loudness.py)."""
    peaks: np.ndarray
    """The mix's sample peak per 10 ms window (both channels)."""


def _read(fh: BinaryIO | None, frames: int) -> np.ndarray:
    if fh is None or frames <= 0:
        return np.zeros((max(frames, 0), 2), dtype=np.float32)
    data = np.fromfile(fh, dtype="<f4", count=frames * 2)
    if len(data) < frames * 2:  # the extraction is exact; this only guards against a short file
        data = np.concatenate([data, np.zeros(frames * 2 - len(data), dtype=np.float32)])
    return data.reshape(frames, 2)


def _padded(block: np.ndarray) -> np.ndarray:
    short = -len(block) % _ALIGN
    return np.concatenate([block, np.zeros((short, 2), dtype=block.dtype)]) if short else block


def music_match_db(clips_lufs: float | None, music_lufs: float | None) -> float:
    """The gain that brings the bed to the clips' loudness (0 when either has no meaningful level)."""
    if clips_lufs is None or music_lufs is None or clips_lufs < MEANINGFUL_LUFS:
        return 0.0
    low, high = MATCH_LIMITS_DB
    return min(high, max(low, clips_lufs - music_lufs))


def _fade(positions: np.ndarray, length: int, fade_in: int, fade_out: int) -> np.ndarray:
    """Raised-cosine fades at both ends of a segment `length` samples long, at `positions` inside it."""
    gain = np.ones(len(positions))
    fade_in, fade_out = max(fade_in, EDGE_FADE), max(fade_out, EDGE_FADE)
    head = positions < fade_in
    gain[head] = 0.5 - 0.5 * np.cos(np.pi * positions[head] / fade_in)
    tail = positions >= length - fade_out
    gain[tail] *= 0.5 - 0.5 * np.cos(np.pi * np.clip(length - positions[tail], 0, None) / fade_out)
    return gain


def _join_gains(start: int, count: int, joins: Sequence[int]) -> np.ndarray | None:
    near = [j for j in joins if start - JOIN_FADE <= j < start + count + JOIN_FADE]
    if not near:
        return None
    positions = np.arange(start, start + count)
    gain = np.ones(count)
    for j in near:
        distance = np.abs(positions - j + 0.5)
        gain = np.minimum(gain, np.clip(distance / JOIN_FADE, 0, 1))
    return gain


def _check(cancel: threading.Event) -> None:
    if cancel.is_set():
        raise MixCancelled


def _analyse(job: MixJob, cancel: threading.Event) -> tuple[float | None, float | None, np.ndarray]:
    """Pass 1: the tracks' loudness and the ducking envelope (dB per voice frame)."""
    clips_meter, music_meter = LoudnessMeter(), LoudnessMeter()
    level_parts: list[np.ndarray] = []
    voicing_parts: list[np.ndarray] = []
    want_voice = job.music is not None and job.music.duck and job.clip_volume > 0
    if job.clips is not None:
        with job.clips.open("rb") as fh:
            for start in range(0, job.total_samples, BLOCK):
                _check(cancel)
                block = _padded(_read(fh, min(BLOCK, job.total_samples - start)))
                clips_meter.add(block)
                if want_voice:
                    level, voicing = ducking.frame_features(block.mean(axis=1))
                    level_parts.append(level)
                    voicing_parts.append(voicing)
    if job.music is not None:
        with job.music.path.open("rb") as fh:
            for start in range(0, job.music.samples, BLOCK):
                _check(cancel)
                music_meter.add(_padded(_read(fh, min(BLOCK, job.music.samples - start))))
    envelope = np.zeros(0)
    if level_parts:
        speech = ducking.speech_frames(np.concatenate(level_parts), np.concatenate(voicing_parts))
        envelope = ducking.envelope_db(speech)
    return clips_meter.integrated(), music_meter.integrated(), envelope


def mix(job: MixJob, cancel: threading.Event) -> MixResult:
    """Write the mix to `job.out` (raw float32 stereo, exactly `total_samples` long)."""
    clips_lufs, music_lufs, envelope = _analyse(job, cancel)
    clip_gain = job.clip_volume
    music = job.music
    music_gain = music.volume * 10 ** (music_match_db(clips_lufs, music_lufs) / 20) if music is not None else 0.0
    meter = LoudnessMeter()
    peaks: list[np.ndarray] = []
    clips_fh = job.clips.open("rb") if job.clips is not None and clip_gain > 0 else None
    music_fh = music.path.open("rb") if music is not None and music_gain > 0 else None
    try:
        with job.out.open("wb") as out:
            for start in range(0, job.total_samples, BLOCK):
                _check(cancel)
                count = min(BLOCK, job.total_samples - start)
                block = _read(clips_fh, count).astype(np.float64) * clip_gain
                if clips_fh is not None:
                    joins = _join_gains(start, count, job.joins)
                    if joins is not None:
                        block *= joins[:, None]
                if music is not None and music_fh is not None:
                    lo = max(start, music.first_sample)
                    hi = min(start + count, music.first_sample + music.samples)
                    if hi > lo:
                        positions = np.arange(lo, hi) - music.first_sample
                        gain = music_gain * _fade(positions, music.samples, music.fade_in, music.fade_out)
                        if len(envelope):
                            gain = gain * ducking.sample_gains(envelope, lo, hi - lo)
                        block[lo - start : hi - start] += _read(music_fh, hi - lo) * gain[:, None]
                padded = _padded(block)
                meter.add(padded)
                peaks.append(np.abs(padded).max(axis=1).reshape(-1, PEAK_WINDOW).max(axis=1))
                block.astype("<f4").tofile(out)
    finally:
        for fh in (clips_fh, music_fh):
            if fh is not None:
                fh.close()
    ducked = float(np.count_nonzero(envelope < -1.0)) * ducking.FRAME_S if len(envelope) else 0.0
    return MixResult(
        integrated_lufs=meter.integrated(),
        clips_lufs=clips_lufs,
        music_lufs=music_lufs,
        speech_s=ducked,
        powers=meter.powers,
        peaks=np.concatenate(peaks) if peaks else np.zeros(0),
    )
