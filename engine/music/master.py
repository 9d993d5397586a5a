"""The last stage every bed goes through, composed or fitted: loudness, a peak limiter, the WAV.

The render mixes the bed under the clips' sound, so every source hands it the same thing: 48 kHz
stereo at −14 LUFS integrated (EBU R128 / ITU-R BS.1770 gating, measured here in numpy), sample
peaks at or below −1 dBFS, 16-bit PCM with TPDF dither. Work is done in blocks on float32 buffers
so a long bed never needs more than a few blocks of extra memory (docs/music.md, "Speed").
"""

from __future__ import annotations

import contextlib
import tempfile
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from scipy import ndimage, signal

from engine.music import SAMPLE_RATE

SR = SAMPLE_RATE
TARGET_LUFS = -14.0
CEILING_DBFS = -1.0
BLOCK = 1 << 17
IN_MEMORY_S = 240.0
"""Longer beds are mixed in a temporary file (np.memmap) so memory stays flat (docs/music.md, "Memory")."""

_K_SHELF = ([1.53512485958697, -2.69169618940638, 1.19839281085285], [1.0, -1.69065929318241, 0.73248077421585])
_K_HIGHPASS = ([1.0, -2.0, 1.0], [1.0, -1.99004745483398, 0.99007225036621])
_K_SOS = np.vstack([np.hstack(_K_SHELF), np.hstack(_K_HIGHPASS)])


@contextlib.contextmanager
def mix_buffer(shape: tuple[int, ...], scratch: Path | None) -> Iterator[np.ndarray]:
    """A zeroed float32 buffer to mix a bed into: in memory, or for a long bed in a temporary file in
    `scratch` whose pages the kernel can write back (an hour of stereo is 1.4 GB)."""
    if shape[0] <= IN_MEMORY_S * SR:
        yield np.zeros(shape, dtype=np.float32)
        return
    with tempfile.NamedTemporaryFile(dir=scratch, suffix=".f32") as fh:
        yield np.memmap(fh, dtype=np.float32, mode="w+", shape=shape)


class LoudnessMeter:
    """Integrated loudness (BS.1770-4: K-weighting, 400 ms blocks every 100 ms, −70 LUFS absolute and
    −10 LU relative gates), fed block by block."""

    def __init__(self, channels: int = 2) -> None:
        self._zi = np.zeros((channels, _K_SOS.shape[0], 2))
        self._hop = SR // 10
        self._pending = np.zeros((0, channels))
        self._hops: list[float] = []

    def feed(self, block: np.ndarray) -> None:
        weighted = np.empty(block.shape, dtype=np.float64)
        for ch in range(block.shape[1]):
            weighted[:, ch], self._zi[ch] = signal.sosfilt(_K_SOS, block[:, ch], zi=self._zi[ch])
        data = np.concatenate([self._pending, weighted]) if len(self._pending) else weighted
        whole = len(data) // self._hop * self._hop
        if whole:
            squares = np.square(data[:whole]).reshape(-1, self._hop, data.shape[1]).sum(axis=(1, 2))
            self._hops.extend(squares.tolist())
        self._pending = data[whole:]

    def integrated(self) -> float:
        hops = np.asarray(self._hops)
        if len(hops) < 4:
            return float("-inf")
        blocks = (hops[:-3] + hops[1:-2] + hops[2:-1] + hops[3:]) / (4 * self._hop)
        with np.errstate(divide="ignore"):
            lufs = -0.691 + 10 * np.log10(blocks)
        kept = blocks[lufs > -70]
        if not len(kept):
            return float("-inf")
        relative = -0.691 + 10 * np.log10(kept.mean()) - 10
        with np.errstate(divide="ignore"):
            gated = kept[-0.691 + 10 * np.log10(kept) > relative]
        return float(-0.691 + 10 * np.log10(gated.mean()))


def integrated_lufs(samples: np.ndarray) -> float:
    meter = LoudnessMeter(samples.shape[1])
    for a in range(0, len(samples), BLOCK):
        meter.feed(samples[a : a + BLOCK])
    return meter.integrated()


def band_share(samples: np.ndarray, split_hz: float = 2000.0) -> float:
    """Share of the power above `split_hz` (0..1), both channels together."""
    freqs, psd = power_spectrum(samples)
    total = float(psd.sum())
    return float(psd[freqs >= split_hz].sum() / total) if total > 0 else 0.0


def power_spectrum(samples: np.ndarray, nperseg: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """Welch power spectrum summed over channels, computed a few blocks at a time (a whole long bed
    at once would need the spectrogram of every segment in memory)."""
    n = len(samples)
    size = min(nperseg, n)
    freqs = np.fft.rfftfreq(size, 1 / SR)
    total = np.zeros(len(freqs))
    step = max(size, (8 * BLOCK) // size * size)
    for a in range(0, n, step):
        chunk = samples[a : a + step]
        if len(chunk) < size:
            break
        for ch in range(samples.shape[1]):
            _, psd = signal.welch(chunk[:, ch], fs=SR, nperseg=size, noverlap=0)
            total += psd * (len(chunk) // size)
    return freqs, total


def shelf_sos(gain_db: float, corner_hz: float = 2000.0) -> np.ndarray:
    """A high shelf (RBJ cookbook, slope 0.7): the mastering EQ's one knob for brightness."""
    a = 10 ** (gain_db / 40)
    w0 = 2 * np.pi * corner_hz / SR
    alpha = np.sin(w0) / 2 * np.sqrt((a + 1 / a) * (1 / 0.7 - 1) + 2)
    cos = np.cos(w0)
    sq = 2 * np.sqrt(a) * alpha
    b = [a * ((a + 1) + (a - 1) * cos + sq), -2 * a * ((a - 1) + (a + 1) * cos), a * ((a + 1) + (a - 1) * cos - sq)]
    den = [(a + 1) - (a - 1) * cos + sq, 2 * ((a - 1) - (a + 1) * cos), (a + 1) - (a - 1) * cos - sq]
    return np.hstack([np.asarray(b) / den[0], np.asarray(den) / den[0]])[None, :]


def shelf_for_share(samples: np.ndarray, target: float, *, limits: tuple[float, float] = (-9.0, 12.0)) -> float:
    """The shelf gain (dB) that brings the share of power above 2 kHz to `target` (0..1).

    Predicted exactly from the spectrum and the filter's response, so one pass suffices."""
    freqs, psd = power_spectrum(samples)
    if psd.sum() <= 0:
        return 0.0
    high = freqs >= 2000.0

    def share(gain_db: float) -> float:
        _, h = signal.sosfreqz(shelf_sos(gain_db), worN=freqs, fs=SR)
        p = psd * np.abs(h) ** 2
        return float(p[high].sum() / p.sum())

    lo, hi = limits
    if share(hi) <= target:
        return hi
    if share(lo) >= target:
        return lo
    for _ in range(30):
        mid = (lo + hi) / 2
        if share(mid) < target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def filter_in_place(samples: np.ndarray, sos: np.ndarray) -> None:
    """Run `sos` over a (n, channels) float32 buffer block by block (state carried)."""
    zi = np.zeros((samples.shape[1], sos.shape[0], 2))
    for a in range(0, len(samples), BLOCK):
        block = samples[a : a + BLOCK]
        for ch in range(samples.shape[1]):
            out, zi[ch] = signal.sosfilt(sos, block[:, ch], zi=zi[ch])
            block[:, ch] = out


def finish(
    samples: np.ndarray,
    path: Path,
    *,
    fade_in_s: float = 0.0,
    fade_out_s: float = 0.0,
    seed: int = 0,
    target_lufs: float = TARGET_LUFS,
) -> float:
    """Normalise to `target_lufs`, limit to the ceiling, fade the ends, write 16-bit WAV (atomically
    is the caller's business). Returns the gain applied (dB)."""
    lufs = integrated_lufs(samples)
    gain_db = 0.0 if not np.isfinite(lufs) else float(np.clip(target_lufs - lufs, -40, 40))
    gain = 10 ** (gain_db / 20)
    ceiling = 10 ** (CEILING_DBFS / 20)
    n = len(samples)
    hold, smooth = int(0.02 * SR) | 1, int(0.005 * SR) | 1
    margin = hold + smooth
    rng = np.random.default_rng([seed, 4099])
    fade_in = int(fade_in_s * SR)
    fade_out = int(fade_out_s * SR)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(samples.shape[1])
        out.setsampwidth(2)
        out.setframerate(SR)
        for a in range(0, n, BLOCK):
            b = min(n, a + BLOCK)
            lo, hi = max(0, a - margin), min(n, b + margin)
            chunk = samples[lo:hi] * np.float32(gain)
            peak = np.abs(chunk).max(axis=1)
            block = chunk[a - lo : a - lo + (b - a)].astype(np.float64)
            if peak.max() > ceiling:  # most blocks never reach the ceiling: no gain computer needed
                need = np.minimum(1.0, ceiling / np.maximum(peak.astype(np.float64), 1e-12))
                g = ndimage.uniform_filter1d(
                    ndimage.minimum_filter1d(need, hold, mode="nearest"), smooth, mode="nearest"
                )
                g = np.minimum(g, need)  # the boxcar never lifts a sample above its own limit
                block *= g[a - lo : a - lo + (b - a), None]
            idx = np.arange(a, b)
            if fade_in:
                block *= np.clip(idx / fade_in, 0, 1)[:, None] ** 2
            if fade_out:
                rest = np.clip((n - 1 - idx) / fade_out, 0, 1)
                block *= (0.5 - 0.5 * np.cos(np.pi * rest))[:, None]
            dither = (rng.random(block.shape, dtype=np.float32) - rng.random(block.shape, dtype=np.float32)) / 32768
            pcm = np.clip(np.round((block + dither) * 32767), -32767, 32767).astype("<i2")
            out.writeframes(pcm.tobytes())
    return gain_db


def read_wav(path: Path) -> np.ndarray:
    """A 16-bit PCM WAV as float32 (n, channels) (for the bed's own files and tests)."""
    with wave.open(str(path), "rb") as src:
        raw = src.readframes(src.getnframes())
        channels = src.getnchannels()
    return (np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768).reshape(-1, channels)
