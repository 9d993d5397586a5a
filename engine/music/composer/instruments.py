"""The composer's instruments, synthesised in numpy: every sound in a composed piece is made here.

Each instrument turns (pitch, duration, velocity) into mono samples; `Voices` caches them per
piece, since a piece plays the same notes many times. The recipes aim at the spectral balance of
produced music (docs/music.md): bright attacks (FM tines, plucked strings, hats) over warm bodies,
so the bed is not the dull synth demo that pure sine stacks make.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np
from scipy import signal

from engine.music import SAMPLE_RATE
from engine.music.composer.theory import midi_to_hz

SR = SAMPLE_RATE
F32 = np.float32
Synth = Callable[[float, float, float, np.random.Generator], np.ndarray]


def _t(n: int) -> np.ndarray:
    return np.arange(n, dtype=np.float64) / SR


def _env(n: int, attack: float, release: float, hold: float) -> np.ndarray:
    """Linear attack, then 1 until `hold` seconds, then a cosine release over `release` seconds."""
    env = np.ones(n)
    a = min(n, max(1, int(attack * SR)))
    env[:a] = np.minimum(1.0, np.arange(a) / max(attack * SR, 1.0))
    h, r = int(hold * SR), max(1, int(release * SR))
    if h < n:
        seg = min(n, h + r) - h
        env[h : h + seg] *= 0.5 + 0.5 * np.cos(np.pi * np.arange(seg) / r)
        env[h + seg :] = 0.0
    return env


@lru_cache(maxsize=256)
def _design(
    order: int, cutoff: float | tuple[float, float], kind: Literal["lowpass", "highpass", "bandpass"]
) -> np.ndarray:
    """Filter designs are reused across notes (designing one costs as much as running it)."""
    return np.asarray(signal.butter(order, cutoff, kind, fs=SR, output="sos"))


def _lowpass(x: np.ndarray, cutoff: float, order: int = 2) -> np.ndarray:
    cutoff = round(min(cutoff, SR * 0.45), -1)
    return np.asarray(signal.sosfilt(_design(order, cutoff, "lowpass"), x))


def _highpass(x: np.ndarray, cutoff: float, order: int = 2) -> np.ndarray:
    return np.asarray(signal.sosfilt(_design(order, round(cutoff, -1), "highpass"), x))


def _bandpass(x: np.ndarray, low: float, high: float, order: int = 2) -> np.ndarray:
    return np.asarray(signal.sosfilt(_design(order, (round(low, -1), round(min(high, SR * 0.45), -1)), "bandpass"), x))


def _saw(freq: float, n: int, phase: float) -> np.ndarray:
    """A band-limited sawtooth (polyBLEP), so pads stay clean up high."""
    dt = freq / SR
    p = (phase + dt * np.arange(n)) % 1.0
    out = 2.0 * p - 1.0
    lo = p < dt
    x = p[lo] / dt
    out[lo] -= x + x - x * x - 1.0
    hi = p > 1.0 - dt
    x = (p[hi] - 1.0) / dt
    out[hi] -= x * x + x + x + 1.0
    return out


# --------------------------------------------------------------------------- pitched instruments


def _phase(freq: float, n: int, cycles: float = 0.0) -> np.ndarray:
    """2π·f·t (+ an offset in cycles) wrapped to one turn, as float32: the phase is exact (computed
    in float64) and the sines over it run at single-precision speed."""
    turns = (np.arange(n) * (freq / SR) + cycles) % 1.0
    return (turns * (2 * np.pi)).astype(F32)


def epiano(pitch: float, dur: float, vel: float, rng: np.random.Generator) -> np.ndarray:
    """An FM electric piano: a 1:1 modulator whose index falls after the strike, plus a 14:1 tine."""
    f = midi_to_hz(pitch)
    release = 0.25
    n = int((dur + release) * SR)
    t = _t(n).astype(F32)
    decay = 1.6 * (440.0 / f) ** 0.35
    index = F32(1.0 + 2.6 * vel) * np.exp(-t / F32(0.5)) + F32(0.4)
    mod = np.sin(_phase(f, n, rng.uniform(0, 1)))
    out = np.sin(_phase(f, n) + index * mod) * np.exp(-t / F32(decay))
    strike = min(n, int(0.5 * SR))  # the tine is gone (−60 dB) within half a second
    if f * 14 < 18_000:
        out[:strike] += F32(0.3 + 0.4 * vel) * np.sin(_phase(f * 14, strike)) * np.exp(-t[:strike] / F32(0.06))
    out += F32(0.12) * np.sin(_phase(f * 2, n)) * np.exp(-t / F32(decay * 0.5))
    return np.asarray(out * _env(n, 0.002, release, dur).astype(F32))


BELL_SECONDS = 2.6


def bell(pitch: float, dur: float, vel: float, rng: np.random.Generator) -> np.ndarray:
    """A glockenspiel/celesta: inharmonic FM (3.5:1) that rings and fades whatever the note's length
    (a struck bar is not held), so one rendering serves every note of that pitch."""
    f = midi_to_hz(pitch)
    n = int(BELL_SECONDS * SR)
    t = _t(n).astype(F32)
    index = F32(1.0 + 2.0 * vel) * np.exp(-t / F32(0.15))
    out = np.sin(_phase(f, n) + index * np.sin(_phase(3.5 * f, n)))
    out += F32(0.35) * np.sin(_phase(2.76 * f, n)) * np.exp(-t / F32(0.3))
    return np.asarray(out * np.exp(-t / F32(0.9)) * _env(n, 0.001, 0.3, BELL_SECONDS - 0.3).astype(F32))


def pluck(pitch: float, dur: float, vel: float, rng: np.random.Generator) -> np.ndarray:
    """A Karplus-Strong plucked string, computed a period at a time (vectorised), then tuned exactly
    by resampling the integer-period result."""
    f = midi_to_hz(pitch)
    ring = min(dur + 0.6, 3.0)
    n = int(ring * SR)
    period = max(2, round(SR / f))
    burst = rng.uniform(-1.0, 1.0, period)
    burst = _lowpass(burst, 2500 + 9000 * vel, 1) if period > 8 else burst
    loss = 0.5 * 0.9985 ** (440.0 / f) ** 0.2
    periods = n // period + 2
    y = np.empty(periods * period)
    y[:period] = burst
    y[period] = loss * (y[0] + y[period - 1])
    for k in range(1, periods):
        a = k * period
        prev = y[a - period : a]
        shifted = y[a - period - 1 : a - 1] if k > 1 else np.concatenate(([y[period - 1]], y[: period - 1]))
        y[a : a + period] = loss * (prev + shifted)
    true_period = SR / f
    idx = np.arange(n) * (period / true_period)
    out = np.interp(idx, np.arange(len(y)), y)
    damp = _env(n, 0.001, 0.12, dur + 0.05)
    return np.asarray(_highpass(out, 70) * damp * 1.4)


PAD_ATTACK = 0.45
STRINGS_ATTACK = 0.6
"""Held sounds swell in at a fixed rate, whatever the note's length."""


def pad(
    pitch: float,
    dur: float,
    vel: float,
    rng: np.random.Generator,
    *,
    cutoff: float = 2600.0,
    attack: float | None = None,
) -> np.ndarray:
    """Three detuned band-limited saws through a low-pass: a warm pad that swells in and out."""
    f = midi_to_hz(pitch)
    release = 1.2
    n = int((dur + release) * SR)
    out = np.zeros(n)
    for cents in (-9.0, 0.0, 8.0):
        out += _saw(f * 2 ** (cents / 1200), n, rng.uniform(0, 1))
    out = _lowpass(out, cutoff * (0.7 + 0.5 * vel), 2) / 3
    rise = PAD_ATTACK if attack is None else attack
    return np.asarray(out * _env(n, rise, release, dur))


def swell(pitch: float, dur: float, vel: float, rng: np.random.Generator) -> np.ndarray:
    """A pad that grows from nothing into the first downbeat (fills the pickup before bar one)."""
    x = pad(pitch, dur, vel, rng, cutoff=1800.0)[: int(dur * SR) + int(0.05 * SR)]
    ramp = np.minimum(1.0, _t(len(x)) / max(dur, 1e-3)) ** 2
    return np.asarray(x * ramp * _env(len(x), 0.001, 0.05, dur))


def _ringing(x: np.ndarray, dur: float) -> np.ndarray:
    """A held sound made to die away over `dur` like a struck chord (the final chord's ring-out)."""
    return x * np.exp(-_t(len(x)) / max(0.3, dur * 0.45))


def strings(
    pitch: float, dur: float, vel: float, rng: np.random.Generator, *, attack: float | None = None
) -> np.ndarray:
    """A string section: two detuned saws with a delayed vibrato, through a low-pass."""
    f = midi_to_hz(pitch)
    release = 1.0
    n = int((dur + release) * SR)
    t = _t(n)
    rate = 5.2
    wobble = (1 - np.cos(2 * np.pi * rate * t)) / (2 * np.pi * rate) * np.minimum(1.0, t / 0.8)
    out = np.zeros(n, dtype=F32)
    for cents in (-6.0, 5.0):
        freq = f * 2 ** (cents / 1200)
        turns = (freq * (t + 0.004 * wobble) + rng.uniform(0, 1)) % 1.0
        out += (2 * turns - 1).astype(F32)
    filtered = _lowpass(out, 3800 * (0.6 + 0.6 * vel), 2) / 2
    rise = STRINGS_ATTACK if attack is None else attack
    return np.asarray(filtered * _env(n, rise, release, dur))


def bass(pitch: float, dur: float, vel: float, rng: np.random.Generator) -> np.ndarray:
    """A round bass: sine and a little second harmonic, softly saturated, with a short pluck on top."""
    f = midi_to_hz(pitch)
    release = 0.08
    n = int((dur + release) * SR)
    t = _t(n).astype(F32)
    x = np.sin(_phase(f, n)) + F32(0.35) * np.sin(_phase(2 * f, n))
    pluck_n = min(n, int(0.6 * SR))  # the third harmonic's pluck is gone within 0.6 s
    x[:pluck_n] += F32(0.12) * np.sin(_phase(3 * f, pluck_n)) * np.exp(-t[:pluck_n] / F32(0.08))
    x = np.tanh(F32(1.4) * x) * np.exp(-t / F32(2.5))
    return np.asarray(x * _env(n, 0.004, release, dur).astype(F32))


def pulse(pitch: float, dur: float, vel: float, rng: np.random.Generator) -> np.ndarray:
    """A short, filtered saw for tense ostinatos (staccato low strings)."""
    f = midi_to_hz(pitch)
    n = int((dur + 0.05) * SR)
    t = _t(n)
    x = _saw(f, n, 0.0) + 0.5 * _saw(f * 1.005, n, 0.3)
    x = _lowpass(x, 1200 + 3500 * vel, 2)
    return np.asarray(x * np.exp(-t / max(0.06, dur * 0.6)) * _env(n, 0.003, 0.05, dur))


# --------------------------------------------------------------------------- drums and textures


def _noise(n: int, rng: np.random.Generator) -> np.ndarray:
    return rng.standard_normal(n)


def kick(rng: np.random.Generator) -> np.ndarray:
    n = int(0.45 * SR)
    t = _t(n)
    freq = 48 + 110 * np.exp(-t / 0.045)
    body = np.sin(2 * np.pi * np.cumsum(freq) / SR) * np.exp(-t / 0.22)
    click = _highpass(_noise(n, rng), 2000) * np.exp(-t / 0.004) * 0.5
    return np.tanh(1.6 * (body + click))


def snare(rng: np.random.Generator) -> np.ndarray:
    n = int(0.35 * SR)
    t = _t(n)
    tone = np.sin(2 * np.pi * 185 * t) * np.exp(-t / 0.06) * 0.7
    noise = _bandpass(_noise(n, rng), 900, 11000) * np.exp(-t / 0.11)
    return tone + noise * 0.9


def clap(rng: np.random.Generator) -> np.ndarray:
    n = int(0.35 * SR)
    t = _t(n)
    env = np.exp(-t / 0.12)
    for offset in (0.0, 0.011, 0.022):
        env += 1.5 * np.where(t >= offset, np.exp(-(t - offset) / 0.006), 0.0)
    return _bandpass(_noise(n, rng), 900, 7000) * env * 0.7


def hat(rng: np.random.Generator, *, open_: bool = False) -> np.ndarray:
    n = int((0.45 if open_ else 0.09) * SR)
    t = _t(n)
    metal = sum(np.sign(np.sin(2 * np.pi * f * t)) for f in (2960, 4370, 5800, 7120)) * 0.15
    x = _highpass(_noise(n, rng) + metal, 6500, 2)
    return x * np.exp(-t / (0.16 if open_ else 0.025))


def shaker(rng: np.random.Generator) -> np.ndarray:
    n = int(0.12 * SR)
    t = _t(n)
    env = np.minimum(1, t / 0.012) * np.exp(-t / 0.035)
    return np.asarray(_bandpass(_noise(n, rng), 3500, 12000) * env)


def rim(rng: np.random.Generator) -> np.ndarray:
    n = int(0.12 * SR)
    t = _t(n)
    x = np.sin(2 * np.pi * 1700 * t) + 0.6 * np.sin(2 * np.pi * 830 * t) + 0.3 * _highpass(_noise(n, rng), 3000)
    return x * np.exp(-t / 0.018)


def crash(rng: np.random.Generator) -> np.ndarray:
    n = int(2.6 * SR)
    t = _t(n)
    x = _highpass(_noise(n, rng), 3500, 2)
    x += _bandpass(_noise(n, rng), 400, 3000) * 0.3
    return x * np.exp(-t / 0.7) * np.minimum(1, t / 0.002)


def boom(rng: np.random.Generator) -> np.ndarray:
    """A cinematic low hit: a falling sine, a thump and a dark noise tail."""
    n = int(2.2 * SR)
    t = _t(n)
    freq = 38 + 70 * np.exp(-t / 0.08)
    x = np.sin(2 * np.pi * np.cumsum(freq) / SR) * np.exp(-t / 0.7)
    x += _lowpass(_noise(n, rng), 500) * np.exp(-t / 0.25) * 0.8
    x += _highpass(_noise(n, rng), 2500) * np.exp(-t / 0.05) * 0.25
    return np.tanh(1.3 * x)


def tom(rng: np.random.Generator) -> np.ndarray:
    n = int(0.6 * SR)
    t = _t(n)
    freq = 85 + 60 * np.exp(-t / 0.05)
    x = np.sin(2 * np.pi * np.cumsum(freq) / SR) * np.exp(-t / 0.25)
    x += _bandpass(_noise(n, rng), 200, 4000) * np.exp(-t / 0.03) * 0.35
    return x


def tick(rng: np.random.Generator) -> np.ndarray:
    n = int(0.05 * SR)
    t = _t(n)
    return _highpass(_noise(n, rng), 5000) * np.exp(-t / 0.008) + np.sin(2 * np.pi * 3200 * t) * np.exp(-t / 0.01) * 0.4


DRUMS: dict[str, Callable[[np.random.Generator], np.ndarray]] = {
    "kick": kick,
    "snare": snare,
    "clap": clap,
    "hat": hat,
    "openhat": lambda rng: hat(rng, open_=True),
    "shaker": shaker,
    "rim": rim,
    "crash": crash,
    "boom": boom,
    "tom": tom,
    "tick": tick,
}

PITCHED: dict[str, Synth] = {
    "epiano": epiano,
    "bell": bell,
    "pluck": pluck,
    "pad": pad,
    "warmpad": lambda p, d, v, r: pad(p, d, v, r, cutoff=1400.0),
    "strings": strings,
    # the final chord: the same sounds struck, so the chord lands on its downbeat instead of swelling after it
    "pad_struck": lambda p, d, v, r: _ringing(pad(p, d, v, r, attack=0.02), d),
    "warmpad_struck": lambda p, d, v, r: _ringing(pad(p, d, v, r, cutoff=1400.0, attack=0.02), d),
    "strings_struck": lambda p, d, v, r: _ringing(strings(p, d, v, r, attack=0.03), d),
    "swell": swell,
    "bass": bass,
    "pulse": pulse,
}


def riser(seconds: float, rng: np.random.Generator) -> np.ndarray:
    """Noise that swells and brightens into a downbeat (before a strong cut)."""
    n = max(1, int(seconds * SR))
    t = _t(n) / max(seconds, 1e-3)
    x = _noise(n, rng)
    low = _bandpass(x, 800, 3000)
    high = _highpass(x, 3000)
    return (low * (1 - t) + high * t) * t**2.5 * 0.5


def vinyl(
    n: int, rng: np.random.Generator, *, pops_until: int | None = None, block: int = 1 << 17
) -> Iterator[np.ndarray]:
    """A record's crackle and hiss (the lo-fi texture), `block` samples at a time (filter states
    carried, so a long piece never holds more than a block of it); the crackle stops at
    `pops_until` (the final chord) so nothing new is heard while it rings out."""
    hiss_sos, pops_sos = _design(2, (1500.0, 9000.0), "bandpass"), _design(2, (1000.0, 8000.0), "bandpass")
    hiss_zi = np.zeros((hiss_sos.shape[0], 2))
    pops_zi = np.zeros((pops_sos.shape[0], 2))
    end = n if pops_until is None else min(n, pops_until)
    for a in range(0, n, block):
        m = min(block, n - a)
        hiss, hiss_zi = signal.sosfilt(hiss_sos, rng.standard_normal(m), zi=hiss_zi)
        pops = np.zeros(m)
        room = max(0, min(m, end - a))
        if room:
            where = rng.integers(0, room, rng.poisson(6.0 * room / SR))
            pops[where] = rng.uniform(-1, 1, len(where))
        crackle, pops_zi = signal.sosfilt(pops_sos, pops, zi=pops_zi)
        yield (hiss * 0.05 + crackle * 2.0).astype(F32)


RINGING = frozenset({"bell"})
"""Instruments whose notes ring the same whatever their length: one rendering per pitch and velocity."""
SUSTAINED: dict[str, tuple[float, float]] = {
    "epiano": (0.0, 0.25),
    "bass": (0.0, 0.08),
    "pluck": (0.05, 0.12),
}
"""Instruments whose sound up to the note-off does not depend on the note's length: (delay before
the release, release seconds). Their notes are cut from one long rendering per pitch and velocity."""


@dataclass
class Voices:
    """Per-piece cache of rendered notes and drum hits (a note played many times is made once)."""

    rng: np.random.Generator

    def __post_init__(self) -> None:
        self._notes: dict[tuple[str, int, int, int], np.ndarray] = {}
        self._long: dict[tuple[str, int, int], np.ndarray] = {}
        self._drums: dict[tuple[str, int], np.ndarray] = {}

    def note(self, instrument: str, pitch: int, dur: float, vel: float) -> np.ndarray:
        key = (instrument, pitch, 0 if instrument in RINGING else round(dur * 40), min(3, int(vel * 4)))
        cached = self._notes.get(key)
        if cached is None:
            length, velocity = key[2] / 40, (key[3] + 0.5) / 4
            if instrument in SUSTAINED:
                cached = self._cut(instrument, pitch, length, key[3], velocity)
            else:
                cached = PITCHED[instrument](float(pitch), length, velocity, self.rng).astype(F32)
            self._notes[key] = cached
        return cached

    def _cut(self, instrument: str, pitch: int, dur: float, vel_key: int, velocity: float) -> np.ndarray:
        delay, release = SUSTAINED[instrument]
        hold = int((dur + delay) * SR)
        n = hold + int(release * SR)
        long = self._long.get((instrument, pitch, vel_key))
        if long is None or len(long) < n + 1:
            held = max(4.0, dur + 1.0)
            long = PITCHED[instrument](float(pitch), held, velocity, self.rng).astype(F32)
            self._long[(instrument, pitch, vel_key)] = long
        out = long[:n].copy()
        tail = len(out) - min(hold, len(out))
        if tail:
            out[hold:] *= (0.5 + 0.5 * np.cos(np.pi * np.arange(tail) / max(1, int(release * SR)))).astype(F32)
        return out

    def drum(self, kind: str, variant: int) -> np.ndarray:
        key = (kind, variant % 3)
        cached = self._drums.get(key)
        if cached is None:
            cached = DRUMS[kind](self.rng).astype(F32)
            self._drums[key] = cached
        return cached
