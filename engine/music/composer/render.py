"""Playing a score: every note into a stereo bus and a reverb send, then the bus is mastered.

Notes come from the per-piece cache (`Voices`); the reverb is a synthetic impulse response made
here from seeded noise, convolved block by block; the mastering EQ aims at the mood's brightness
before the shared master stage (engine/music/master.py) sets the loudness and writes the WAV.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import fft as sfft
from scipy import signal

from engine.music import master
from engine.music.composer import instruments
from engine.music.composer.arrangement import Score
from engine.music.composer.styles import Style

log = logging.getLogger(__name__)

SR = master.SR
VINYL_SPREAD = 157
"""Samples the record's right channel lags its left (about 3 ms: wide, not an echo)."""


@dataclass(frozen=True, slots=True)
class RenderStats:
    shelf_db: float
    gain_db: float
    notes: int
    engine: str = "numpy"
    """`numpy` (the built-in instruments) or `soundfont`."""


def impulse_response(seconds: float, rng: np.random.Generator) -> np.ndarray:
    """A stereo room: a few early reflections, then decorrelated noise decaying by 60 dB in
    `seconds`, its highs dying faster (air absorption)."""
    n = min(int(seconds * 1.1 * SR), master.BLOCK)
    t = np.arange(n) / SR
    ir = np.zeros((n, 2))
    pre = int(0.015 * SR)
    for ch in range(2):
        noise = rng.standard_normal(n)
        low = signal.sosfilt(signal.butter(2, 3500, fs=SR, output="sos"), noise) * np.exp(-6.91 * t / seconds)
        high = signal.sosfilt(signal.butter(2, 3500, "highpass", fs=SR, output="sos"), noise)
        ir[:, ch] = low + 0.6 * high * np.exp(-6.91 * t / (seconds * 0.45))
        ir[: pre + int(0.004 * SR), ch] *= np.clip((t[: pre + int(0.004 * SR)] - pre / SR) / 0.004, 0, 1)
        for delay, gain in ((0.011, 0.5), (0.019, 0.35), (0.027, 0.3)):
            ir[int((delay + 0.003 * ch) * SR), ch] += gain * 20 / np.sqrt(SR)
        ir[:, ch] /= np.sqrt(np.sum(ir[:, ch] ** 2))
    return ir


def _add_reverb(bus: np.ndarray, send: np.ndarray, ir: np.ndarray) -> None:
    """Overlap-add FFT convolution of the mono send with the stereo room, straight into the bus
    (single-precision FFTs: the room is noise, float32 is far below its own grain)."""
    n = len(bus)
    size = 1 << int(np.ceil(np.log2(master.BLOCK + len(ir))))
    spectra = [sfft.rfft(ir[:, ch].astype(np.float32), size) for ch in range(2)]
    for a in range(0, n, master.BLOCK):
        block = send[a : a + master.BLOCK]
        if not np.any(block):
            continue
        spec = sfft.rfft(block, size)
        m = min(len(block) + len(ir) - 1, n - a)
        for ch in range(2):
            bus[a : a + m, ch] += sfft.irfft(spec * spectra[ch], size)[:m]


def play(
    score: Score, style: Style, path: Path, *, seed: int, scratch: Path | None = None, soundfont: Path | None = None
) -> RenderStats:
    """Play the score into `path`: through `soundfont` when given (falling back to the numpy
    instruments if it fails), else with the numpy instruments."""
    if soundfont is not None:
        from engine.music.composer.soundfont import SoundfontUnavailable, render_score

        try:
            played = render_score(score, {p.instrument: p.gain for p in style.parts}, soundfont)
        except (SoundfontUnavailable, OSError) as exc:
            log.warning("soundfont render failed (%s); using the built-in instruments", exc)
        else:
            return _master(played, score, style, path, seed, len(score.notes), "soundfont")
    grid = score.grid
    n = round(grid.duration * SR)
    rng = np.random.default_rng([seed, 104729, sum(map(ord, style.mood))])
    voices = instruments.Voices(rng)
    with master.mix_buffer((n, 2), scratch) as bus, master.mix_buffer((n,), scratch) as send:
        for note in score.notes:
            if note.instrument in instruments.DRUMS:
                wave = voices.drum(note.instrument, int(rng.integers(3)))
            elif note.instrument == "riser":
                wave = instruments.riser(note.dur, rng).astype(np.float32)
            else:
                wave = voices.note(note.instrument, note.pitch, note.dur, note.vel)
            start = round(note.time * SR)
            if start >= n:
                continue
            m = min(len(wave), n - start)
            level = note.gain * (
                note.vel if note.instrument in instruments.DRUMS or note.instrument == "riser" else 0.5 + 0.5 * note.vel
            )
            theta = (note.pan + 1) * np.pi / 4
            piece = wave[:m] * np.float32(level)
            bus[start : start + m, 0] += piece * np.float32(np.cos(theta))
            bus[start : start + m, 1] += piece * np.float32(np.sin(theta))
            if note.send:
                send[start : start + m] += piece * np.float32(note.send)
        if style.vinyl:  # one record, its right channel a few ms behind the left (wide, and made once)
            a = 0
            for crackle in instruments.vinyl(n, rng, pops_until=round(grid.final_downbeat * SR)):
                crackle *= np.float32(style.vinyl)
                bus[a : a + len(crackle), 0] += crackle
                late = bus[a + VINYL_SPREAD : a + VINYL_SPREAD + len(crackle), 1]
                late += crackle[: len(late)]
                a += len(crackle)
        _add_reverb(bus, send, impulse_response(style.reverb_s, rng))
        return _master(bus, score, style, path, seed, len(score.notes), "numpy")


def _master(bus: np.ndarray, score: Score, style: Style, path: Path, seed: int, notes: int, engine: str) -> RenderStats:
    """Low cut, the brightness EQ aimed at the middle of the mood's range, then the shared master
    stage with a fade over the last third of the final chord's ring (it reaches zero on the last
    sample, so the chord rings out at the clip's last frame instead of stopping)."""
    master.filter_in_place(bus, signal.butter(2, 35, "highpass", fs=SR, output="sos"))
    target = sum(style.brightness) / 2 / 100
    shelf = master.shelf_for_share(bus, target)
    master.filter_in_place(bus, master.shelf_sos(shelf))
    fade_out = float(np.clip(0.35 * score.grid.tail, 0.12, 0.9))
    gain = master.finish(bus, path, fade_in_s=0.004, fade_out_s=fade_out, seed=seed)
    return RenderStats(shelf, gain, notes, engine)
