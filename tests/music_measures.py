"""Measures on music beds for the music tests (independent of the engine's own code where it
matters: length, spectrum, crest and onsets are computed here from the WAV file itself)."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
from scipy import signal

RATE = 48_000


def read(path: Path) -> tuple[np.ndarray, int]:
    """(float samples (n, channels), raw int16 peak) of a 16-bit WAV."""
    with wave.open(str(path), "rb") as w:
        assert w.getsampwidth() == 2, "beds are 16-bit PCM"
        assert w.getframerate() == RATE
        raw = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").reshape(-1, w.getnchannels())
    return raw.astype(np.float64) / 32768, int(np.abs(raw.astype(np.int32)).max())


def share_above(samples: np.ndarray, hz: float = 2000.0) -> float:
    """Share of the power above `hz`, both channels, from one FFT of the whole bed (percent)."""
    power = np.zeros(len(samples) // 2 + 1)
    for ch in range(samples.shape[1]):
        power += np.abs(np.fft.rfft(samples[:, ch])) ** 2
    freqs = np.fft.rfftfreq(len(samples), 1 / RATE)
    return float(100 * power[freqs >= hz].sum() / power.sum())


def crest_db(samples: np.ndarray) -> float:
    rms = np.sqrt(np.mean(samples**2))
    return float(20 * np.log10(np.abs(samples).max() / rms))


def energy_db(samples: np.ndarray, hop_s: float = 0.005, *, highpass_hz: float = 0.0) -> np.ndarray:
    """Level (dB) of the mono mixdown in `hop_s` frames (optionally above `highpass_hz` only)."""
    mono = samples.mean(axis=1) if samples.ndim == 2 else samples
    if highpass_hz:
        mono = signal.sosfilt(signal.butter(4, highpass_hz, "highpass", fs=RATE, output="sos"), mono)
    hop = int(hop_s * RATE)
    frames = len(mono) // hop
    e = np.square(mono[: frames * hop]).reshape(frames, hop).mean(axis=1)
    return np.asarray(10 * np.log10(e + 1e-12))


def onset_strength(samples: np.ndarray, hop_s: float = 0.005) -> np.ndarray:
    """How much louder each 5 ms frame is than the quietest of the 40 ms before it, above 1 kHz (dB):
    a plain attack detector that knows nothing of the composer's grid. Above 1 kHz because every
    attack has its edge there, while low notes' own waveform would shake 5 ms frames."""
    level = energy_db(samples, hop_s, highpass_hz=1000.0)
    look = int(0.04 / hop_s)
    rise = np.zeros_like(level)
    for i in range(look, len(level)):
        rise[i] = level[i] - level[i - look : i].min()
    return rise


def strongest_onset(samples: np.ndarray, start_s: float, end_s: float, hop_s: float = 0.005) -> tuple[float, float]:
    """(time, rise dB) of the strongest attack between start_s and end_s."""
    rise = onset_strength(samples, hop_s)
    a, b = int(start_s / hop_s), min(len(rise), int(end_s / hop_s))
    i = a + int(np.argmax(rise[a:b]))
    return i * hop_s, float(rise[i])
