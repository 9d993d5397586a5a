"""Fitting a finished track to the clip: its beats and bar lines from the audio, then a trim or a
loop/crossfade that ends on a bar line exactly at the clip's end, with a fade-out over that bar.

The beat analysis is the classic one: a spectral-flux onset envelope, the tempo from its
autocorrelation, the beat phase from a comb over the envelope (refined against the onsets
themselves), and the bar's first beat from where the low end hits hardest. The plan then works on
a "virtual track" (the track, or several passes/tracks joined at bar lines) and takes the
`duration` that ends on the first bar line at or after `duration`; what is left over (less than a
bar) is skipped at the start (docs/music.md, "Library and uploads").
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import signal

from engine.music import master

SR = master.SR
ANALYSIS_SR = 12_000
HOP = 120
"""10 ms frames at the analysis rate."""
NFFT = 512
ONSET_DELAY_S = 0.0295
"""How far an attack lies after the envelope frame that reports it (about 0.7 of a window; measured
on generated drum tracks, tests/test_music_fit.py)."""


@dataclass(frozen=True, slots=True)
class Beats:
    tempo_bpm: float
    beats: tuple[float, ...]
    downbeats: tuple[float, ...]
    """Bar lines (every fourth beat, starting at the strongest phase)."""
    duration_s: float

    @property
    def bar_s(self) -> float:
        return 240.0 / self.tempo_bpm


def finite(block: np.ndarray) -> np.ndarray:
    """A float32 copy of a stretch of a decoded track with NaN and infinities silenced (a float WAV
    can carry them, and ffmpeg passes them through; one would poison every sum after it)."""
    return np.nan_to_num(np.asarray(block, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)


def analysis_signal(samples: np.ndarray) -> np.ndarray:
    """The 12 kHz mono mixdown the beats are found in, made a block at a time (with a margin for the
    resampling filter), so a long track is never copied whole at 48 kHz."""
    q = SR // ANALYSIS_SR
    n = len(samples)
    out = np.empty(-(-n // q), dtype=np.float32)
    margin = 64 * q  # the anti-alias filter reaches 10·q input samples either side
    for a in range(0, n, master.BLOCK):
        lo, hi = max(0, a - margin), min(n, a + master.BLOCK + margin)
        block = finite(samples[lo:hi])
        mono = block.mean(axis=1) if block.ndim == 2 else block
        low = signal.resample_poly(mono, 1, q)
        start, stop, first = a // q, min(len(out), (a + master.BLOCK) // q), (a - lo) // q
        out[start:stop] = low[first : first + stop - start]
    return out


def onset_envelopes(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Spectral flux (all bands, and below 200 Hz) every 10 ms, from a 12 kHz mono mixdown."""
    x = analysis_signal(samples)
    frames = max(0, (len(x) - NFFT) // HOP + 1)
    window = np.hanning(NFFT).astype(np.float32)
    low_bins = int(200 / (ANALYSIS_SR / NFFT)) + 1
    full = np.zeros(frames, dtype=np.float32)
    low = np.zeros(frames, dtype=np.float32)
    previous: np.ndarray | None = None
    chunk = 2048
    for a in range(0, frames, chunk):
        b = min(frames, a + chunk)
        idx = np.arange(a, b)[:, None] * HOP + np.arange(NFFT)[None, :]
        mag = np.log1p(100 * np.abs(np.fft.rfft(x[idx] * window, axis=1))).astype(np.float32)
        prev = mag[:1] if previous is None else previous
        diff = np.maximum(0, np.diff(np.vstack([prev, mag]), axis=0))
        full[a:b] = diff.sum(axis=1)
        low[a:b] = diff[:, :low_bins].sum(axis=1)
        previous = mag[-1:]
    return full, low


def analyse_beats(samples: np.ndarray) -> Beats:
    """Tempo, beats and bar lines of a finished track (constant tempo assumed: produced music)."""
    duration = len(samples) / SR
    env, low = onset_envelopes(samples)
    fps = ANALYSIS_SR / HOP
    if len(env) < 4 * fps:
        return Beats(120.0, (), (0.0,), duration)
    e = env - signal.medfilt(env, 31) if len(env) > 31 else env
    e = np.maximum(e, 0)
    ac = np.fft.irfft(np.abs(np.fft.rfft(e - e.mean(), 2 * len(e))) ** 2)[: len(e)]
    lags = np.arange(len(ac))
    bpm_of = np.where(lags > 0, 60 * fps / np.maximum(lags, 1), 0)
    valid = (bpm_of >= 55) & (bpm_of <= 200)
    prior = np.exp(-0.5 * (np.log2(np.maximum(bpm_of, 1) / 115) / 0.9) ** 2)
    score = np.where(valid, ac * prior, -np.inf)
    lag = int(np.argmax(score))
    if not ac[lag] > 0:  # nothing repeats (silence, a single hit, a drone): there is no beat to follow
        return Beats(120.0, (), (0.0,), duration)
    period = float(lag)
    if 1 <= lag < len(ac) - 1:  # the peak between frames: a parabola through it and its neighbours
        a, b, c = ac[lag - 1], ac[lag], ac[lag + 1]
        curve = a - 2 * b + c
        if curve < 0:
            period += float(np.clip(0.5 * (a - c) / curve, -0.5, 0.5))
    # phase: the comb of beats that collects the most onset energy, the low end (kick, bass) weighing
    # more than the rest, so offbeat hats do not pull the beat half a beat off
    lo = np.maximum(low - signal.medfilt(low, 31), 0) if len(low) > 31 else low
    combined = e / max(float(e.mean()), 1e-9) + 1.5 * lo / max(float(lo.mean()), 1e-9)
    grid = np.arange(0, len(e) - 1, period)
    phases = np.arange(0, period, 0.25)
    sums = [np.interp(grid[:-1] + p, np.arange(len(e)), combined).sum() for p in phases]
    phase = float(phases[int(np.argmax(sums))])
    # refine tempo and phase against the onsets near each predicted beat (sub-frame precision)
    found: list[tuple[int, float]] = []
    radius = max(1, int(period / 8))
    floor = 0.3 * float(np.median(combined[combined > 0])) if np.any(combined > 0) else np.inf
    for k, t in enumerate(np.arange(phase, len(e) - 1, period)):
        lo_i, hi_i = max(0, int(t) - radius), min(len(e), int(t) + radius + 1)
        if hi_i - lo_i < 3:
            continue
        i = lo_i + int(np.argmax(combined[lo_i:hi_i]))
        if combined[i] <= floor:
            continue
        offset = 0.0
        if 0 < i < len(e) - 1:
            left, mid, right = combined[i - 1], combined[i], combined[i + 1]
            curve = left - 2 * mid + right
            offset = float(0.5 * (left - right) / curve) if curve else 0.0
        found.append((k, i + offset))
    if len(found) >= 8:
        ks, ts = np.array(found).T
        slope, intercept = np.polyfit(ks, ts, 1)
        if 0.9 * period < slope < 1.1 * period:  # a refinement, never a different tempo
            period, phase = float(slope), float(intercept)
    frames = np.arange(phase, len(e), period)
    beats = frames / fps + ONSET_DELAY_S
    keep = (beats >= 0) & (beats < duration)
    frames, beats = frames[keep], beats[keep]
    low_at = np.interp(frames, np.arange(len(low)), low)
    full_at = np.interp(frames, np.arange(len(env)), env)
    strength = [float(low_at[k::4].mean() + 0.5 * full_at[k::4].mean()) if len(low_at[k::4]) else 0.0 for k in range(4)]
    first = int(np.argmax(strength))
    bpm = 60 * fps / period
    return Beats(float(bpm), tuple(float(b) for b in beats), tuple(float(b) for b in beats[first::4]), duration)


@dataclass(frozen=True, slots=True)
class Piece:
    """A stretch of one source placed on the virtual track: source [start, end) at `at`."""

    source: int
    start: float
    end: float
    at: float
    fade: float
    """Crossfade length at both joins (0 at the very start)."""


@dataclass(frozen=True, slots=True)
class Plan:
    pieces: tuple[Piece, ...]
    skip: float
    """Seconds of the virtual track skipped at the start (less than a bar)."""
    end_bar: float
    """The bar line (virtual time) the output ends on."""
    end_source: tuple[int, float]
    """That bar line as (source index, time in the source)."""
    bar_lines: tuple[float, ...]
    """Bar lines on the output's time axis."""
    tempo_bpm: float


def plan_fit(duration: float, sources: list[Beats]) -> Plan:
    """Join passes of the sources at bar lines until the virtual track outlasts `duration` by a bar,
    then end on the first bar line at or after `duration` and skip the difference at the start.

    A source without two bar lines to join at (too short to analyse, or no beat in it) is looped
    whole, crossfaded, and then the output simply ends at `duration` (there is no bar to end on)."""
    pieces: list[Piece] = []
    bar_lines: list[tuple[float, int, float]] = []  # (virtual time, source, source time)
    cursor = 0.0
    k = 0
    while True:
        index = k % len(sources)
        beats = sources[index]
        bars = [b for b in beats.downbeats if b >= 0]
        fade = min(beats.bar_s / 2, 1.0) if len(sources) == 1 else min(beats.bar_s, 2.0)
        fade = min(fade, beats.duration_s / 4)
        start = 0.0 if k == 0 else next((b for b in bars if b >= fade / 2), bars[0] if bars else 0.0)
        usable = [b for b in bars if b <= beats.duration_s - fade / 2 and b > start]
        if len(usable) < 2 and k > 0:  # no bar lines to join at: the whole pass, joined by the crossfade
            start = fade / 2
        need = duration + beats.bar_s * 1.05
        if cursor + (beats.duration_s - start) >= need:
            end = beats.duration_s  # the last pass may run to the track's own end
        else:
            end = usable[-1] if len(usable) >= 2 else beats.duration_s - fade / 2
        if end - start <= 1e-3:  # nothing left to play (an empty source)
            break
        pieces.append(Piece(index, start, end, cursor, 0.0 if k == 0 else fade))
        bar_lines.extend(
            (cursor + b - start, index, b) for b in bars if (start <= b if k == 0 else start < b) and b <= end
        )
        cursor += end - start
        k += 1
        if cursor >= need:
            break
    after = next(((t, s, st) for t, s, st in bar_lines if t >= duration - 1e-6), None)
    if after is not None and after[0] - duration <= sources[after[1]].bar_s + 1e-6:
        end_bar, src, src_t = after
        skip = end_bar - duration
    else:  # no bar line within a bar of the end (a source without a beat there): the material runs to the end
        last = next((p for p in reversed(pieces) if p.at <= duration), None)
        end_bar, skip = duration, 0.0
        src, src_t = (last.source, last.start + duration - last.at) if last is not None else (0, 0.0)
    on_output = tuple(t - skip for t, _, _ in bar_lines if skip - 1e-6 <= t <= end_bar + 1e-6)
    tempo = sources[pieces[-1].source].tempo_bpm if pieces else sources[0].tempo_bpm
    return Plan(tuple(pieces), skip, end_bar, (src, src_t), on_output, tempo)


def render_plan(plan: Plan, sources: list[np.ndarray], duration: float, path: Path, *, seed: int = 0) -> None:
    """Mix the plan's pieces (equal-power crossfades centred on the joins) into exactly `duration`
    seconds, fade out over the last bar, normalise and write the WAV."""
    n = round(duration * SR)
    with master.mix_buffer((n, 2), path.parent) as out:
        _mix(plan, sources, out)
        bar = 240.0 / plan.tempo_bpm
        fade_out = min(float(np.clip(bar, 1.0, 3.0)), duration / 3)
        master.finish(out, path, fade_in_s=0.02 if plan.skip > 0.01 else 0.004, fade_out_s=fade_out, seed=seed)


def _mix(plan: Plan, sources: list[np.ndarray], out: np.ndarray) -> None:
    n = len(out)
    for i, piece in enumerate(plan.pieces):
        src = sources[piece.source]
        nxt_fade = plan.pieces[i + 1].fade if i + 1 < len(plan.pieces) else 0.0
        lead, trail = piece.fade / 2, nxt_fade / 2
        a_src = max(0.0, piece.start - lead)
        b_src = min(len(src) / SR, piece.end + trail)
        a_out = piece.at - (piece.start - a_src) - plan.skip
        i0 = round(a_src * SR)
        i1 = round(b_src * SR)
        o0 = round(a_out * SR)
        lo, hi = max(0, o0), min(n, o0 + (i1 - i0))
        if hi <= lo:
            continue
        # the stretch this piece covers on the output, with its crossfade gains: computed only over
        # the fades (a few seconds), so a long piece is never copied or held in float64
        t_in = (piece.start - lead, piece.fade) if piece.fade > 0 else None
        t_out = (piece.end - trail, nxt_fade) if nxt_fade > 0 else None
        for a in range(lo, hi, master.BLOCK):
            b = min(hi, a + master.BLOCK)
            chunk = finite(src[i0 + a - o0 : i0 + b - o0])
            t = (np.arange(a, b) - o0 + i0) / SR
            gain: np.ndarray | None = None
            if t_in is not None and t[0] < t_in[0] + t_in[1]:
                gain = np.sin(0.5 * np.pi * np.clip((t - t_in[0]) / t_in[1], 0, 1))
            if t_out is not None and t[-1] > t_out[0]:
                fade = np.cos(0.5 * np.pi * np.clip((t - t_out[0]) / t_out[1], 0, 1))
                gain = fade if gain is None else gain * fade
            out[a:b] += chunk if gain is None else chunk * gain.astype(np.float32)[:, None]
