"""Benchmark: composing and rendering a music bed, per mood, next to a bare numpy synth.

    python -m bench.music [--duration 60] [--moods upbeat,calm,...] [--repeat 1] [--soundfont]

Each run is a process of its own (this module with --child), so its peak memory (VmHWM, reset
after the imports) is the run's alone:

- composer: `engine.music.composer.compose` for the mood (numpy instruments, or with --soundfont
  an installed SF2 font too), exactly what the facade runs in its worker thread;
- bare: numpy writing the same amount of audio with the least work that is still music-shaped
  (four sine voices with a decaying envelope on every beat, summed, 16-bit WAV).

The bed's measures are taken from the WAV it wrote (docs/music.md, "What is measured"): length
error, the final chord's attack against the last downbeat, integrated loudness (ffmpeg ebur128),
clipped samples, crest factor, share of power above 2 kHz, tempo. Exits non-zero when a target is
missed: composing 60 s ≤ 3 s wall (goal 1.5 s), peak RSS ≤ 400 MB.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path
from typing import Any

import numpy as np

from bench._common import median, print_machine, proc_status, reset_peak_rss, table

TARGET_S_PER_60 = 3.0
GOAL_S_PER_60 = 1.5
TARGET_PEAK_MB = 400.0
RATE = 48_000


# --------------------------------------------------------------------------- the child


def _bare(duration: float, path: Path) -> dict[str, Any]:
    n = round(duration * RATE)
    t = np.arange(n, dtype=np.float32) / RATE
    beat = (t % 0.5).astype(np.float32)
    env = np.exp(-beat / 0.25).astype(np.float32)
    mix = np.zeros(n, dtype=np.float32)
    for f in (220.0, 277.2, 329.6, 440.0):
        mix += np.sin(np.float32(2 * np.pi * f) * t) * env * np.float32(0.2)
    pcm = (np.clip(np.stack([mix, mix], axis=1), -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm.tobytes())
    return {}


def _composer(duration: float, mood: str, seed: int, path: Path, soundfont: bool) -> dict[str, Any]:
    from engine.music import Cut
    from engine.music.composer import compose
    from engine.music.composer.soundfont import find_soundfont

    font = find_soundfont(None) if soundfont else None
    piece = compose(duration, mood, seed, (Cut(duration * 0.41, 1.0), Cut(duration * 0.7, 0.5)), path, soundfont=font)
    grid = piece.score.grid
    return {
        "bpm": grid.bpm,
        "final_downbeat": grid.final_downbeat,
        "cut_on_downbeat": min(abs(t - duration * 0.41) for t in grid.downbeats()),
        "engine": piece.stats.engine,
    }


def child(args: argparse.Namespace) -> None:
    import scipy.signal  # noqa: F401

    import engine.music.composer  # noqa: F401 - imports are not the run's cost

    out = Path(args.out)
    base = proc_status()["VmRSS"]
    reset_peak_rss()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    extra = (
        _bare(args.duration, out)
        if args.mood == "bare"
        else _composer(args.duration, args.mood, args.seed, out, args.soundfont)
    )
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    peak = max(proc_status()["VmHWM"], resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    print(json.dumps({"wall": wall, "cpu": cpu, "peak_kib": peak, "base_kib": base, **extra}))


# --------------------------------------------------------------------------- measures on the WAV


def _lufs(path: Path) -> float:
    from engine.ffmpeg import ffmpeg_exe

    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path), "-af", "ebur128", "-f", "null", "-"]
    log = subprocess.run(cmd, capture_output=True, check=True).stderr.decode(errors="replace")
    match = re.search(r"I:\s+(-?[\d.]+) LUFS", log[log.rfind("Summary:") :])
    return float(match.group(1)) if match else float("nan")


def measure(path: Path, duration: float, result: dict[str, Any]) -> dict[str, Any]:
    """The tests' own measures (tests/music_measures.py) and ffmpeg's ebur128, so the figures
    printed here are the ones the tests hold the beds to."""
    from tests.music_measures import crest_db, read, share_above, strongest_onset

    samples, peak = read(path)
    out = {
        "length_err_ms": 1000 * abs(len(samples) / RATE - duration),
        "lufs": _lufs(path),
        "clipped": int(peak >= 32767),
        "crest_db": crest_db(samples),
        "above_2k_pct": share_above(samples),
    }
    if "final_downbeat" in result:
        final = float(result["final_downbeat"])
        out["final_err_ms"] = 1000 * abs(strongest_onset(samples, final - 0.05, final + 0.05)[0] - final)
    return out


# --------------------------------------------------------------------------- the parent


def run_child(kind: str, duration: float, seed: int, out: Path, soundfont: bool) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "bench.music", "--child", "--mood", kind, "--duration", str(duration)]
    cmd += ["--seed", str(seed), "--out", str(out)] + (["--soundfont"] if soundfont else [])
    done = subprocess.run(cmd, capture_output=True, check=False, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"{kind}: {done.stderr.decode(errors='replace')[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.decode().strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.music", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--moods", default="upbeat,happy,calm,cinematic,lofi,tense")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--soundfont", action="store_true", help="also play through an installed SF2 soundfont")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--mood", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    print_machine()
    duration = args.duration
    rows: list[list[object]] = []
    figures: list[list[object]] = []
    failed: list[str] = []
    kinds = ["bare", *args.moods.split(",")]
    variants = [(k, False) for k in kinds] + ([(m, True) for m in args.moods.split(",")] if args.soundfont else [])
    with tempfile.TemporaryDirectory(prefix="cutaway-bench-music-") as tmp:
        bare_wall = float("nan")
        for kind, font in variants:
            runs = [run_child(kind, duration, args.seed, Path(tmp) / f"{kind}.wav", font) for _ in range(args.repeat)]
            wall = median([r["wall"] for r in runs])
            cpu = median([r["cpu"] for r in runs])
            peak_mb = max(r["peak_kib"] for r in runs) / 1024
            growth_mb = max(r["peak_kib"] - r["base_kib"] for r in runs) / 1024
            label = kind if kind == "bare" else f"{kind} ({runs[0].get('engine', 'numpy')})"
            if kind == "bare":
                bare_wall = wall
            rows.append(
                [label, wall, cpu, wall / bare_wall if bare_wall == bare_wall else float("nan"), peak_mb, growth_mb]
            )
            if kind != "bare":
                per60 = wall * 60 / duration
                if per60 > TARGET_S_PER_60:
                    failed.append(f"{label}: {per60:.2f} s per 60 s > {TARGET_S_PER_60} s")
                if peak_mb > TARGET_PEAK_MB:
                    failed.append(f"{label}: peak {peak_mb:.0f} MB > {TARGET_PEAK_MB:.0f} MB")
                m = measure(Path(tmp) / f"{kind}.wav", duration, runs[0])
                figures.append([
                    label, round(runs[0]["bpm"], 2), m["length_err_ms"], m["final_err_ms"],
                    1000 * runs[0]["cut_on_downbeat"], m["lufs"], m["clipped"], m["crest_db"], m["above_2k_pct"],
                ])  # fmt: skip
    print()
    title = f"Composing and rendering {duration:g} s of music (one process per run, median of {args.repeat})"
    print(table(["run", "wall s", "cpu s", "× bare", "peak RSS MB", "growth MB"], rows, title=title))
    print()
    print(table(["mood", "BPM", "length err ms", "final chord err ms", "cut err ms", "LUFS", "clipped", "crest dB",
                 "% > 2 kHz"], figures, title="The beds, measured from their WAV files"))  # fmt: skip
    print()
    print(f"targets: ≤ {TARGET_S_PER_60} s per 60 s (goal {GOAL_S_PER_60} s), peak ≤ {TARGET_PEAK_MB:.0f} MB")
    if failed:
        print("MISSED: " + "; ".join(failed))
        sys.exit(1)


if __name__ == "__main__":
    main()
