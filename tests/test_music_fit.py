"""Fitting a finished track to the clip (engine/music/fit.py) and the operator's library
(engine/music/library.py): beats and bar lines found in the audio itself, the end on a bar line
at exactly the clip's length, loops at bar lines for short tracks, and the library's two ways of
naming moods. Tracks are generated here with a known tempo and known bar lines."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import signal

from engine.music import fit, library
from tests.mediagen import audio_file, ffmpeg, loudness, write_wav
from tests.music_measures import read

pytestmark = pytest.mark.e2e  # composes and renders real audio: seconds per test, not the fast tier

RATE = 48_000
CHORDS = ((220.0, 277.2, 329.6), (174.6, 220.0, 261.6), (196.0, 246.9, 293.7), (164.8, 207.7, 246.9))


def beat_track(seconds: float, bpm: float, first: float = 0.0, *, seed: int = 0) -> np.ndarray:
    """A "finished track" with a known grid: a kick on every beat (accented on the bar's first),
    a hat between beats, and a chord that changes on every bar line (first bar line at `first`)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    x = np.zeros(n)
    beat = 60 / bpm
    k = 0
    t = first
    while t < seconds:
        i = round(t * RATE)
        m = min(n - i, int(0.3 * RATE))
        tt = np.arange(m) / RATE
        x[i : i + m] += (
            (1.0 if k % 4 == 0 else 0.55) * np.sin(2 * np.pi * (50 + 80 * np.exp(-tt / 0.03)) * tt) * np.exp(-tt / 0.12)
        )
        h = round((t + beat / 2) * RATE)
        if h < n:
            hm = min(n - h, int(0.05 * RATE))
            x[h : h + hm] += 0.15 * rng.standard_normal(hm) * np.exp(-np.arange(hm) / RATE / 0.01)
        if k % 4 == 0:
            mm = min(n - i, int(4 * beat * RATE))
            tt = np.arange(mm) / RATE
            for f in CHORDS[(k // 4) % 4]:
                x[i : i + mm] += 0.07 * np.sin(2 * np.pi * f * tt) * np.exp(-tt / 1.5)
        t += beat
        k += 1
    x = signal.sosfilt(signal.butter(2, 30, "highpass", fs=RATE, output="sos"), x)
    return (np.stack([x, x * 0.9], axis=1) * 0.45).astype(np.float32)


def true_bar_lines(seconds: float, bpm: float, first: float) -> np.ndarray:
    return np.arange(first, seconds + 1e-9, 240 / bpm)


def source_time_of(output: np.ndarray, source: np.ndarray, out_at: float, span: float = 1.5) -> float:
    """Where in `source` the output's audio at `out_at` came from (cross-correlation of a stretch)."""
    a = output[int(out_at * RATE) : int((out_at + span) * RATE)].mean(axis=1)
    b = source.mean(axis=1).astype(np.float64)
    corr = signal.correlate(b, a, mode="valid", method="fft")
    energy = np.sqrt(signal.correlate(b**2, np.ones(len(a)), mode="valid", method="fft").clip(1e-12))
    return float(np.argmax(corr / energy)) / RATE


@pytest.mark.parametrize(("bpm", "first"), [(120.0, 0.0), (97.0, 0.37), (140.0, 0.1), (76.0, 1.2), (128.5, 0.05)])
def test_tempo_beats_and_bar_lines_come_from_the_audio(bpm: float, first: float) -> None:
    samples = beat_track(30.0, bpm, first)
    beats = fit.analyse_beats(samples)
    assert beats.tempo_bpm == pytest.approx(bpm, rel=0.01)
    bars = true_bar_lines(30.0, bpm, first)
    found = [b for b in beats.downbeats if b >= first - 0.05]
    assert len(found) >= len(bars) - 2  # the grid may start a bar late or stop a bar early
    assert max(min(abs(bars - b)) for b in found) <= 0.05


@pytest.mark.parametrize(("bpm", "first", "length", "duration"), [
    (120.0, 0.0, 40.0, 23.7),  # a long track: trimmed
    (97.0, 0.37, 40.0, 20.0),
    (128.5, 0.05, 12.0, 31.3),  # a short track: looped at bar lines
    (76.0, 1.2, 18.0, 60.0),
])  # fmt: skip
def test_a_fitted_track_ends_on_a_bar_line_exactly_at_the_clips_end(
    tmp_path: Path, bpm: float, first: float, length: float, duration: float
) -> None:
    source = beat_track(length, bpm, first)
    beats = fit.analyse_beats(source)
    plan = fit.plan_fit(duration, [beats])
    out = tmp_path / "fitted.wav"
    fit.render_plan(plan, [source], duration, out)
    samples, peak = read(out)
    assert len(samples) == round(duration * RATE)  # exact
    bars = true_bar_lines(length, bpm, first)
    # the plan's end is a bar line of the source...
    _, end_in_source = plan.end_source
    assert min(abs(bars - end_in_source)) <= 0.05
    # ...and the audio agrees: the output's last stretch is the source just before that bar line
    seen = source_time_of(samples, source, duration - 2.6) + 2.6
    assert min(abs(bars - seen)) <= 0.05, (seen, end_in_source)
    assert -16.0 <= loudness(out).integrated_lufs <= -12.0
    assert peak < 32767
    assert np.abs(samples[-48:]).max() < 10 ** (-50 / 20)  # the fade-out ends on the clip's last sample
    if length < duration:
        assert len(plan.pieces) >= 2  # looped, each join on a bar line of both passes
        for piece in plan.pieces[1:]:
            assert min(abs(bars - piece.start)) <= 0.05
    # bar lines reported on the output's time axis are one bar apart and end on the clip's end
    lines = np.array(plan.bar_lines)
    assert lines[-1] == pytest.approx(duration, abs=1e-6)
    assert np.allclose(np.diff(lines[-4:]), 240 / bpm, atol=0.03)


def test_a_track_longer_than_the_clip_keeps_its_beginning(tmp_path: Path) -> None:
    source = beat_track(40.0, 120.0, 0.0)
    plan = fit.plan_fit(22.0, [fit.analyse_beats(source)])
    assert plan.skip < 2.0 + 1e-6  # less than one bar of the start is given up
    assert len(plan.pieces) == 1


def test_a_silent_or_tiny_track_still_gives_the_exact_length(tmp_path: Path) -> None:
    silent = np.zeros((RATE * 3, 2), dtype=np.float32)
    plan = fit.plan_fit(10.0, [fit.analyse_beats(silent)])
    out = tmp_path / "silent.wav"
    fit.render_plan(plan, [silent], 10.0, out)
    samples, _ = read(out)
    assert len(samples) == 10 * RATE
    assert np.abs(samples).max() < 1e-3  # silence is not lifted to the target loudness


# ---------------------------------------------------------------------------- the library


def make_library(root: Path) -> Path:
    tone = beat_track(6.0, 110.0)
    (root / "calm").mkdir(parents=True)
    (root / "Upbeat").mkdir()
    (root / "misc").mkdir()
    write_wav(root / "calm" / "slow_morning.wav", tone)
    write_wav(root / "calm" / "another_one.wav", tone)
    audio_file(root / "Upbeat" / "drive.mp3", tone)
    write_wav(root / "misc" / "sunny.wav", tone)
    write_wav(root / "misc" / "unsorted.wav", tone)
    (root / "calm" / "notes.txt").write_text("not music")
    (root / "music.toml").write_text(
        "[[track]]\n"
        'file = "misc/sunny.wav"\nmoods = ["happy", "travel"]\ntitle = "Sunny Day"\nlicence = "CC BY 4.0, A. Person"\n'
        "[[track]]\n"
        'file = "calm/slow_morning.wav"\nmood = "lofi"\n'
        "[[track]]\n"
        'file = "../outside.wav"\nmoods = ["calm"]\n'
        "[[track]]\n"
        'file = "missing.wav"\nmoods = ["calm"]\n',
        encoding="utf-8",
    )
    return root


def test_the_library_reads_moods_from_folders_and_the_sidecar(tmp_path: Path) -> None:
    root = make_library(tmp_path / "library")
    tracks = {str(t.path): t for t in library.scan(root)}
    assert set(tracks) == {"calm/another_one.wav", "calm/slow_morning.wav", "Upbeat/drive.mp3", "misc/sunny.wav"}
    assert tracks["misc/sunny.wav"].moods == ("happy",)
    assert tracks["misc/sunny.wav"].title == "Sunny Day" and tracks["misc/sunny.wav"].licence.startswith("CC BY")
    assert set(tracks["calm/slow_morning.wav"].moods) == {"calm", "lofi"}
    assert tracks["Upbeat/drive.mp3"].moods == ("upbeat",)
    assert tracks["calm/another_one.wav"].title == "another one"


def test_a_track_tagged_in_latin1_still_has_a_length(tmp_path: Path) -> None:
    """An operator's m4a tagged by an old program (Latin-1 bytes, not UTF-8) is read, not an error."""
    source = audio_file(tmp_path / "tune.wav", seconds=3.0)
    tagged = tmp_path / "calm" / "cafe.m4a"
    tagged.parent.mkdir()
    ffmpeg("-i", source, "-metadata", "title=" + os.fsdecode(b"caf\xe9"), tagged)
    seconds = library.track_seconds(tagged)
    assert seconds is not None and abs(seconds - 3.0) < 0.1


def test_picking_a_track_is_by_seed_and_another_seed_is_another_track(tmp_path: Path) -> None:
    tracks = library.scan(make_library(tmp_path / "library"))
    first = library.pick(tracks, "calm", 0)
    second = library.pick(tracks, "calm", 1)
    assert first is not None and second is not None and first.path != second.path
    assert library.pick(tracks, "calm", 2) == first
    assert library.pick(tracks, "tense", 0) is None


def test_a_track_outside_the_library_is_never_resolved(tmp_path: Path) -> None:
    root = make_library(tmp_path / "library")
    write_wav(tmp_path / "secret.wav", np.zeros(100, dtype=np.float32))
    assert library.resolve(root, "calm/another_one.wav") == (root / "calm/another_one.wav").resolve()
    assert library.resolve(root, "../secret.wav") is None
    assert library.resolve(root, str(tmp_path / "secret.wav")) is None
    assert library.resolve(root, "calm/nothing.wav") is None
    assert library.resolve(None, "calm/another_one.wav") is None


def test_a_missing_or_broken_library_is_empty_not_an_error(tmp_path: Path) -> None:
    assert library.scan(None) == ()
    assert library.scan(tmp_path / "nowhere") == ()
    root = tmp_path / "lib"
    (root / "calm").mkdir(parents=True)
    write_wav(root / "calm" / "a.wav", np.zeros(100, dtype=np.float32))
    (root / "music.toml").write_text("this is [not toml", encoding="utf-8")
    assert [str(t.path) for t in library.scan(root)] == ["calm/a.wav"]


# ---------------------------------------------------------------------------- any track, any length


def odd_track(kind: str, seconds: float, bpm: float = 120.0, *, seed: int = 0) -> np.ndarray:
    """Tracks a user or an operator may hand in: silence, one hit, noise, a drone without a beat, a
    DC offset, a beat, or a float file carrying NaN and infinities (ffmpeg passes them through)."""
    rng = np.random.default_rng(seed)
    n = max(1, int(seconds * RATE))
    if kind == "beats":
        return beat_track(seconds, bpm, 0.1, seed=seed)[:n]
    x = np.zeros((n, 2), dtype=np.float32)
    if kind == "click":
        x[n // 2] = 0.9
    elif kind == "noise":
        x[:] = rng.standard_normal((n, 2)) * 0.2
    elif kind == "drone":
        x[:] = (0.3 * np.sin(2 * np.pi * 110.0 * np.arange(n) / RATE))[:, None]
    elif kind == "dc":
        x[:] = 0.5
    elif kind == "nan":
        x[:] = beat_track(seconds, bpm, 0.0, seed=seed)[:n]
        x[n // 3 : n // 3 + 10] = np.nan
        x[n // 2], x[2 * n // 3] = np.inf, -np.inf
    return x


KINDS = ["silence", "click", "noise", "drone", "dc", "beats", "nan"]


@settings(max_examples=40, deadline=None)
@given(kind=st.sampled_from(KINDS), seconds=st.floats(0.5, 12.0), bpm=st.floats(60.0, 180.0))
def test_any_short_or_odd_track_is_analysed(kind: str, seconds: float, bpm: float) -> None:
    beats = fit.analyse_beats(odd_track(kind, seconds, bpm))
    assert np.isfinite(beats.tempo_bpm) and 45.0 <= beats.tempo_bpm <= 225.0
    assert beats.downbeats and all(0.0 <= b < max(seconds, 1e-3) for b in beats.downbeats)
    assert list(beats.downbeats) == sorted(beats.downbeats)


@st.composite
def sources_for_plan(draw: st.DrawFn) -> list[fit.Beats]:
    out = []
    for _ in range(draw(st.integers(1, 2))):
        seconds = draw(st.one_of(st.floats(0.5, 8.0), st.floats(8.0, 400.0)))
        if draw(st.booleans()):  # a beat was found
            bpm, phase = draw(st.floats(55.0, 200.0)), draw(st.floats(0.0, 1.0))
            beats = np.arange(phase * 60 / bpm, seconds, 60 / bpm)
            out.append(fit.Beats(bpm, tuple(beats), tuple(beats[draw(st.integers(0, 3)) :: 4]), seconds))
        else:  # too short to analyse, or no beat in it
            out.append(fit.Beats(120.0, (), (0.0,), seconds))
    return out


@settings(max_examples=150, deadline=None)
@given(sources=sources_for_plan(), duration=st.one_of(st.floats(0.001, 30.0), st.floats(30.0, 3 * 3600.0)))
def test_any_plan_covers_the_clip_to_its_end(sources: list[fit.Beats], duration: float) -> None:
    """From half a second to hours, with tracks from half a second on, with or without a beat: the
    passes join end to end, cover the clip, and the output ends at its end (on a bar line when there
    is one within a bar of it, skipping less than a bar at the start)."""
    plan = fit.plan_fit(duration, sources)
    assert plan.pieces
    for a, b in zip(plan.pieces, plan.pieces[1:], strict=False):
        assert b.at == pytest.approx(a.at + a.end - a.start)
    for piece in plan.pieces:
        assert 0.0 <= piece.start < piece.end <= sources[piece.source].duration_s + 1e-9
    last = plan.pieces[-1]
    assert last.at + last.end - last.start >= duration + plan.skip - 1e-6
    assert plan.end_bar - plan.skip == pytest.approx(duration)
    assert 0.0 <= plan.skip <= max(s.bar_s for s in sources) + 1e-6
    assert all(-1e-6 <= t <= duration + 1e-6 for t in plan.bar_lines)


@pytest.mark.parametrize(
    ("kind", "seconds", "duration"),
    [("silence", 3.0, 20.0), ("beats", 0.6, 10.0), ("beats", 3.0, 20.0), ("click", 6.0, 8.0),
     ("drone", 6.0, 30.0), ("nan", 9.0, 12.0), ("noise", 5.0, 0.5)],
)  # fmt: skip
def test_any_track_is_fitted_to_exactly_the_length(tmp_path: Path, kind: str, seconds: float, duration: float) -> None:
    """A track too short or too plain to have bar lines is looped whole (crossfaded), not played
    once and followed by silence; NaN and infinities in a float file are silenced, not spread."""
    source = odd_track(kind, seconds)
    plan = fit.plan_fit(duration, [fit.analyse_beats(source)])
    out = tmp_path / "fitted.wav"
    fit.render_plan(plan, [source], duration, out)
    samples, peak = read(out)
    assert len(samples) == round(duration * RATE) and np.isfinite(samples).all() and peak < 32767
    if kind != "silence" and seconds < duration - 3.0:  # sounding until the fade-out, not once then silent
        tail = samples[int((duration - 3.5) * RATE) : int((duration - 2.5) * RATE)]
        assert np.sqrt(np.mean(tail**2)) > 10 ** (-40 / 20)
