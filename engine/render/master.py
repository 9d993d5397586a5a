"""Mastering: the mix to −14 LUFS integrated with true peaks at or under −1 dBTP, *after* AAC.

Not `loudnorm`: on speech over music it falls back to its dynamic mode and pumps (docs/engine.md, "The mix").
Instead a deterministic chain, measured on the real output: one gain, a look-ahead limiter run at
4× the sample rate so it catches the peaks between samples, AAC at 192 kb/s, then ffmpeg's
ebur128 on the encoded file. AAC overshoots a limiter by 0.5–0.8 dB, so the ceiling starts at
−2 dBFS.

Speech has a high peak-to-loudness ratio, so reaching −14 LUFS usually means limiting, and the
limiter takes loudness back. The first gain is therefore predicted, not just −14 minus the
mix's loudness: the mix's 10 ms peaks and 100 ms K-weighted powers (engine/render/mix.py) are
run through a model of the limiter (gain reduction per window, held for its release) and the
gain that lands on −14 is found by bisection. When the measured result is still off (more than
0.5 LU from −14, or a true peak over −1 dBTP) the gain is corrected along the measured slope
(secant) and the ceiling by the measured overshoot, and the audio (seconds of work) is encoded
again, four times at most.

Silence is not noise to be boosted: a mix quieter than −60 LUFS (nothing but a camera's noise
floor, or digital silence that no gate lets through) keeps its level. Anything louder, however
quiet, is brought to −14.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from engine.ffmpeg import run_ffmpeg
from engine.media import AUDIO_RATE
from engine.render.loudness import Measured, integrated, measure_file

log = logging.getLogger(__name__)

TARGET_LUFS = -14.0
LUFS_TOLERANCE = 0.5
TRUE_PEAK_MAX = -1.0
FIRST_CEILING_DB = -2.0
PEAK_MARGIN_DB = 0.3
SILENCE_LUFS = -60.0
MAX_LIFT_DB = TARGET_LUFS - SILENCE_LUFS
MAX_ENCODES = 4
RELEASE_WINDOWS = 8
"""The limiter's release (80 ms) in 10 ms peak windows: how long a reduction is held in the model."""
AAC_BITRATE = "192k"


@dataclass(frozen=True, slots=True)
class Mastered:
    path: Path
    measured: Measured
    gain_db: float
    ceiling_db: float
    encodes: int


def predicted_loudness(powers: np.ndarray, peaks: np.ndarray, gain_db: float, ceiling_db: float) -> float | None:
    """The loudness of the mix after `gain_db` and a limiter at `ceiling_db`, by the model above."""
    gain = 10 ** (gain_db / 20)
    ceiling = 10 ** (ceiling_db / 20)
    reduction = np.minimum(1.0, ceiling / np.maximum(peaks * gain, 1e-12))
    padded = np.concatenate([np.ones(RELEASE_WINDOWS - 1), reduction])
    held = sliding_window_view(padded, RELEASE_WINDOWS).min(axis=1)
    per_block = (held**2).reshape(-1, 10).mean(axis=1)[: len(powers)]
    if len(per_block) < len(powers):
        per_block = np.concatenate([per_block, np.ones(len(powers) - len(per_block))])
    return integrated(powers * gain**2 * per_block)


def first_gain(mix_lufs: float | None, powers: np.ndarray, peaks: np.ndarray, ceiling_db: float) -> float:
    """The gain that should land the limited mix on −14 LUFS (0 for silence)."""
    if mix_lufs is None or mix_lufs < SILENCE_LUFS:
        return 0.0
    plain = min(MAX_LIFT_DB, TARGET_LUFS - mix_lufs)
    if not len(powers) or len(peaks) < 10 * len(powers) - 10:
        return plain
    low, high = plain, MAX_LIFT_DB
    top = predicted_loudness(powers, peaks, high, ceiling_db)
    if top is None or top < TARGET_LUFS:
        return high
    for _ in range(24):
        middle = (low + high) / 2
        loud = predicted_loudness(powers, peaks, middle, ceiling_db)
        if loud is not None and loud < TARGET_LUFS:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def _good(m: Measured, silent: bool) -> bool:
    if m.true_peak_dbtp > TRUE_PEAK_MAX:
        return False
    return silent or m.integrated_lufs is None or abs(m.integrated_lufs - TARGET_LUFS) <= LUFS_TOLERANCE


async def encode(mix: Path, out: Path, gain_db: float, ceiling_db: float) -> None:
    """Raw float32 stereo 48 kHz → gain → 4× oversampled limiter → AAC in an MP4 (M4A) file."""
    limit = 10 ** (ceiling_db / 20)
    chain = (
        f"volume={gain_db:.3f}dB,aresample={4 * AUDIO_RATE},"
        f"alimiter=limit={limit:.5f}:attack=5:release=80:level=0:latency=1,aresample={AUDIO_RATE}"
    )
    await run_ffmpeg([
        "-y", "-f", "f32le", "-ar", str(AUDIO_RATE), "-ac", "2", "-i", mix,
        "-af", chain, "-c:a", "aac", "-b:a", AAC_BITRATE, "-f", "mp4", out,
    ])  # fmt: skip


async def master(
    mix: Path,
    mix_lufs: float | None,
    out: Path,
    work_dir: Path,
    *,
    powers: np.ndarray | None = None,
    peaks: np.ndarray | None = None,
    session: str = "-",
) -> Mastered:
    ceiling = FIRST_CEILING_DB
    silent = mix_lufs is None or mix_lufs < SILENCE_LUFS
    empty = np.zeros(0)
    gain = first_gain(mix_lufs, empty if powers is None else powers, empty if peaks is None else peaks, ceiling)
    measured = Measured(None, float("-inf"))
    previous: tuple[float, float] | None = None
    for attempt in range(1, MAX_ENCODES + 1):
        await encode(mix, out, gain, ceiling)
        measured = await measure_file(out, work_dir)
        log.info(
            "render session=%s master try=%d gain=%.2fdB ceiling=%.2fdBFS -> %s LUFS, %.2f dBTP",
            session,
            attempt,
            gain,
            ceiling,
            "silent" if measured.integrated_lufs is None else f"{measured.integrated_lufs:.2f}",
            measured.true_peak_dbtp,
        )
        if _good(measured, silent):
            return Mastered(out, measured, gain, ceiling, attempt)
        if attempt == MAX_ENCODES:
            break
        lufs = measured.integrated_lufs
        if measured.true_peak_dbtp > TRUE_PEAK_MAX:
            ceiling -= measured.true_peak_dbtp - TRUE_PEAK_MAX + PEAK_MARGIN_DB
        if not silent and lufs is not None and abs(lufs - TARGET_LUFS) > LUFS_TOLERANCE:
            slope = 1.0
            if previous is not None and abs(gain - previous[0]) > 0.05:
                slope = min(1.0, max(0.2, (lufs - previous[1]) / (gain - previous[0])))
            previous = (gain, lufs)
            gain = min(MAX_LIFT_DB, gain + (TARGET_LUFS - lufs) / slope)
    log.warning(
        "render session=%s: mastering ended off target (%s LUFS, %.2f dBTP)",
        session,
        measured.integrated_lufs,
        measured.true_peak_dbtp,
    )
    return Mastered(out, measured, gain, ceiling, MAX_ENCODES)
