"""Ducking: the music steps 12 dB down while the clips' sound has someone speaking.

Why not ffmpeg's sidechaincompress: it follows level, not voice, so its depth depends on how loud
the speaker is and a gust of wind ducks the music too (measured: 12 dB under speech
but 3 dB under noise bursts, and nothing under quiet speech below its threshold). Here the
decision and the depth are separate, and the whole clip track is known before mixing:

1. Voice detection per 40 ms frame of the clips' sound (mono): a frame is *voiced* when it is
   loud enough (within 35 dB of the track's loud frames, above −60 dBFS) and periodic at a
   speaking pitch: the normalised autocorrelation of its 200–3500 Hz band peaks above 0.65 at a
   lag of 2.5–14 ms (70–400 Hz). Noise is not periodic, so it does not duck the music.
2. Speech is where voiced frames are dense (4 of any 10, i.e. 0.4 s): a lone periodic click or
   a car horn's single frame is not speech.
3. The envelope: 12 dB down from 0.12 s before speech (the mix is offline, so it can look ahead
   and be down when the first word starts) until 0.3 s after it; it falls at 100 dB/s and rises
   at 24 dB/s, so the music is fully back 0.8 s after the last word.

Measured on tests/mediagen.py's synthetic speech: the full 12 dB under speech, recovered within
1 s, nothing under white-noise bursts (tests/test_engine_render_audio.py).
"""

from __future__ import annotations

from functools import cache

import numpy as np

from engine.media import AUDIO_RATE

RATE = AUDIO_RATE
FRAME = 1_920
"""40 ms: long enough to hold two periods of a low voice."""
FRAME_S = FRAME / RATE
DEPTH_DB = 12.0
LOOKAHEAD_S = 0.12
HOLD_S = 0.3
FALL_DB_PER_S = 100.0
RISE_DB_PER_S = 24.0
VOICING = 0.65
DENSITY = (4, 10)
"""At least 4 voiced frames in any 10 (0.4 s)."""
LEVEL_RANGE_DB = 35.0
LEVEL_FLOOR_DB = -60.0
PITCH_HZ = (70.0, 400.0)
BAND_HZ = (200.0, 3500.0)


@cache
def _analysis() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    window = np.hanning(FRAME)
    freqs = np.fft.rfftfreq(2 * FRAME, 1 / RATE)
    band = ((freqs >= BAND_HZ[0]) & (freqs <= BAND_HZ[1])).astype(np.float64)
    window_ac = np.fft.irfft(np.abs(np.fft.rfft(window, n=2 * FRAME)) ** 2)[:FRAME]
    return window, band, window_ac / window_ac[0]


def frame_features(mono: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Level (dBFS RMS) and voicing (0..1) of each 40 ms frame; `mono` is a multiple of FRAME long."""
    frames = mono.reshape(-1, FRAME).astype(np.float64)
    window, band, window_ac = _analysis()
    with np.errstate(divide="ignore"):
        level = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-20)
    spectrum = np.fft.rfft(frames * window, n=2 * FRAME, axis=1)
    ac = np.fft.irfft(np.abs(spectrum) ** 2 * band, axis=1)[:, :FRAME] / (window_ac + 1e-12)
    lo, hi = int(RATE / PITCH_HZ[1]), int(RATE / PITCH_HZ[0])
    voicing = ac[:, lo:hi].max(axis=1) / (ac[:, 0] + 1e-20)
    return level, voicing


def speech_frames(level: np.ndarray, voicing: np.ndarray) -> np.ndarray:
    """Which frames belong to speech (bool per frame), before lookahead and hold."""
    if not len(level):
        return np.zeros(0, dtype=bool)
    loud = level >= max(LEVEL_FLOOR_DB, float(np.percentile(level, 95)) - LEVEL_RANGE_DB)
    voiced = loud & (voicing >= VOICING)
    need, span = DENSITY
    # A window of `span` frames ending at e is dense when it holds `need` voiced frames; a voiced
    # frame is speech when any dense window covers it.
    dense = np.convolve(voiced.astype(np.int32), np.ones(span, dtype=np.int32), mode="full") >= need
    covered = _any_within(dense, 0, span - 1)[: len(voiced)]
    return np.asarray(voiced & covered, dtype=bool)


def envelope_db(speech: np.ndarray, depth_db: float = DEPTH_DB) -> np.ndarray:
    """The music's gain in dB per frame (0 or down to −depth_db), with lookahead, hold and slew."""
    n = len(speech)
    target = np.zeros(n)
    if not speech.any():
        return target
    before, after = round(LOOKAHEAD_S / FRAME_S), round(HOLD_S / FRAME_S)
    active = _any_within(speech, after, before)
    target[active] = -depth_db
    fall, rise = FALL_DB_PER_S * FRAME_S, RISE_DB_PER_S * FRAME_S
    out = np.empty(n)
    current = 0.0
    for i in range(n):
        goal = target[i]
        current = max(goal, current - fall) if goal < current else min(goal, current + rise)
        out[i] = current
    return out


def _any_within(flags: np.ndarray, behind: int, ahead: int) -> np.ndarray:
    """out[i] = any(flags[i - behind : i + ahead + 1]) (a dilation), for each i of `flags`."""
    sums = np.concatenate([[0], np.cumsum(flags.astype(np.int64))])
    idx = np.arange(len(flags))
    lo = np.clip(idx - behind, 0, len(flags))
    hi = np.clip(idx + ahead + 1, 0, len(flags))
    return np.asarray(sums[hi] - sums[lo] > 0)


def sample_gains(frame_db: np.ndarray, start: int, count: int) -> np.ndarray:
    """Linear gains for samples [start, start + count) of the track, interpolated between frame centres."""
    if not len(frame_db):
        return np.ones(count)
    centres = (np.arange(len(frame_db)) + 0.5) * FRAME
    positions = np.arange(start, start + count)
    return np.asarray(10 ** (np.interp(positions, centres, frame_db) / 20))
