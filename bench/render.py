"""Benchmark: the engine's render against a bare ffmpeg command doing the same graph.

    python -m bench.render [--durations 30,60] [--repeat 1] [--no-http] [--media DIR]

For each duration a 1080p30 H.264 clip with speech-like sound is generated once (kept in
--media), with a music bed of the same length. Then, in the same run:

- engine, encode path: `render()` in a process of its own (bench/_render_child.py) on a draft of
  the whole clip with the bed as music and a title (so the video must be encoded);
- bare: one ffmpeg command with the same graph (scale, title, the clip's sound and the bed mixed,
  one gain, the limiter, x264 with the same settings, AAC, +faststart) and none of the engine's
  work around it (no analysis, no ducking, no measured loudness, no stream-copy check);
- engine, stream-copy path: the same clip without the title (it is already compliant);
- upload → link through the HTTP API (`python -m engine`, the bot's own client): upload the
  clip, render the draft the engine made of it with a title and composed music, poll, download.

It prints wall and CPU times, engine/bare ratios and peak memory (the engine process; the
largest ffmpeg child), and exits non-zero when a target is missed: engine/bare ≥ 0.95 (bare
wall ÷ engine wall), stream copy ≤ 5 s for 30 s, upload → link ≤ 30 s for 30 s, peak RSS of
the engine process and of any ffmpeg child ≤ 1 GiB.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import resource
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench._common import median, print_machine, table
from engine.ffmpeg import ffmpeg_exe
from engine.render.fonts import title_font

TARGET_RATIO = 0.95
TARGET_COPY_S_PER_30 = 5.0
TARGET_LINK_S_PER_30 = 30.0
TARGET_PEAK_MIB = 1024.0
TITLE = "Summer trip"
RATE = 48_000


# --------------------------------------------------------------------------- media


def _run(cmd: list[str]) -> None:
    import subprocess

    done = subprocess.run(cmd, capture_output=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(done.stderr.decode(errors="replace")[-2000:])


def _speech(seconds: float) -> np.ndarray:
    """Speech-like bursts (a formant-shaped buzz at a syllable rate), 2 s on, 1 s off."""
    rng = np.random.default_rng(7)
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    f0 = 130 * (1 + 0.04 * np.sin(2 * np.pi * 5 * t))
    phase = 2 * np.pi * np.cumsum(f0) / RATE
    sig = sum(
        (np.exp(-((130 * k - 700) ** 2) / 4.5e4) + np.exp(-((130 * k - 1200) ** 2) / 4.5e4) + 0.05)
        / np.sqrt(k)
        * np.sin(k * phase)
        for k in range(1, 30)
    )
    sig *= np.clip(0.55 + 0.45 * np.sin(2 * np.pi * 4.3 * t), 0, None) ** 1.5
    sig *= (t % 3.0) < 2.0
    sig += 0.01 * rng.standard_normal(n)
    return np.asarray(0.4 * sig / np.abs(sig).max(), dtype=np.float32)


def _bed(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    out = np.zeros(len(t))
    for i, f in enumerate((220.0, 277.18, 329.63, 440.0)):
        out += 0.07 * np.sin(2 * np.pi * f * t + i) * (0.7 + 0.3 * np.sin(2 * np.pi * 0.5 * t + i))
    return np.asarray(np.stack([out, out * 0.9], axis=1), dtype=np.float32)


def _wav(path: Path, samples: np.ndarray) -> Path:
    import wave

    data = samples if samples.ndim == 2 else samples[:, None]
    with wave.open(str(path), "wb") as w:
        w.setnchannels(data.shape[1])
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes((np.clip(data, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def make_media(folder: Path, seconds: int) -> tuple[Path, Path]:
    """A 1080p30 H.264 High clip (a test pattern with sensor-like noise, speech-like sound) and a bed."""
    folder.mkdir(parents=True, exist_ok=True)
    clip, bed = folder / f"clip_{seconds}s.mp4", folder / f"bed_{seconds}s.wav"
    if not clip.exists():
        speech = _wav(folder / f"speech_{seconds}s.wav", _speech(seconds))
        partial = folder / f".clip_{seconds}s.mp4"
        _run([
            ffmpeg_exe(), "-hide_banner", "-y", "-f", "lavfi", "-t", str(seconds),
            "-i", "testsrc2=size=1920x1080:rate=30", "-i", str(speech),
            "-vf", "noise=alls=2:allf=t", "-c:v", "libx264", "-preset", "veryfast", "-crf", "20",
            "-profile:v", "high", "-pix_fmt", "yuv420p", "-g", "60", "-c:a", "aac", "-b:a", "128k",
            "-shortest", "-movflags", "+faststart", str(partial),
        ])  # fmt: skip
        partial.rename(clip)
        speech.unlink()
    if not bed.exists():
        _wav(bed, _bed(seconds))
    return clip, bed


# --------------------------------------------------------------------------- the three ways


def _fresh(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)


async def engine_render(clip: Path, bed: Path, work: Path, *, title: str | None) -> dict[str, Any]:
    await asyncio.to_thread(_fresh, work)
    args = ["-m", "bench._render_child", "--clip", str(clip), "--bed", str(bed), "--work", str(work)]
    if title:
        args += ["--title", title]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    async with asyncio.timeout(600):
        out, err = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"engine render failed:\n{err.decode(errors='replace')[-3000:]}")
    figures: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    await asyncio.to_thread(shutil.rmtree, work, True)
    return figures


def bare_command(clip: Path, bed: Path, out: Path, seconds: float) -> list[str]:
    """What an expert would type for the same result: the same graph in one ffmpeg command."""
    font = title_font().file
    fontsize = round(1080 * 0.09)
    text = (
        f"drawtext=fontfile={font}:text='{TITLE}':fontsize={fontsize}:fontcolor=white:"
        f"borderw=6:bordercolor=black@0.85:shadowx=4:shadowy=4:shadowcolor=black@0.45:"
        f"x=(w-text_w)/2:y=(h-text_h)/2:enable='between(t,0,3)'"
    )
    graph = (
        f"[0:v]fps=30,scale=1920:1080,setsar=1,format=yuv420p,{text}[v];"
        f"[0:a]aresample={RATE},aformat=sample_fmts=flt:channel_layouts=stereo[c];"
        f"[1:a]aresample={RATE},aformat=sample_fmts=flt:channel_layouts=stereo,volume=0.35,"
        f"afade=t=in:d=1,afade=t=out:st={seconds - 2}:d=2[m];"
        f"[c][m]amix=inputs=2:normalize=0,volume=8dB,aresample=192000,"
        f"alimiter=limit=0.79:attack=5:release=80:level=0:latency=1,aresample={RATE}[a]"
    )
    return [
        ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-i", str(clip), "-i", str(bed),
        "-filter_complex", graph, "-map", "[v]", "-map", "[a]",
        "-c:v", "libx264", "-preset", "veryfast", "-crf", "21", "-profile:v", "high", "-pix_fmt", "yuv420p",
        "-r", "30", "-g", "60", "-c:a", "aac", "-b:a", "192k", "-movflags", "+faststart", str(out),
    ]  # fmt: skip


def _bare_sync(cmd: list[str]) -> dict[str, Any]:
    import subprocess

    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read() if proc.stderr else b""
    if proc.returncode != 0:
        raise RuntimeError(f"bare ffmpeg failed: {err.decode(errors='replace')[-2000:]}")
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "peak_kib": usage.ru_maxrss}


async def bare_render(clip: Path, bed: Path, work: Path, seconds: float) -> dict[str, Any]:
    await asyncio.to_thread(_fresh, work)
    out = work / "bare.mp4"
    figures = await asyncio.to_thread(_bare_sync, bare_command(clip, bed, out, seconds))
    out.unlink(missing_ok=True)
    return figures


def _rss_kib(pid: int) -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = (entry / "stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
    return found


async def http_upload_to_link(clip: Path, work: Path) -> dict[str, Any]:
    """`python -m engine`, then upload → render → poll → download through the bot's own client."""
    import aiohttp

    from bot.config import BackendSettings
    from bot.credentials import RepositoryCredentials
    from bot.nemo.auth import TokenProvider
    from bot.nemo.client import NemoClient, UploadSource
    from storage import open_sqlite

    await asyncio.to_thread(_fresh, work)
    size_of_clip = (await asyncio.to_thread(clip.stat)).st_size
    log_file = (work / "engine.log").open("wb")
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "engine", "--port", "0", "--data", str(work / "engine"),
            stdout=asyncio.subprocess.PIPE, stderr=log_file,
        )  # fmt: skip
    finally:
        log_file.close()  # the engine has its own copy of the descriptor
    assert proc.stdout is not None
    peaks = {"engine": 0, "ffmpeg": 0}
    stop = asyncio.Event()

    async def sample() -> None:
        while not stop.is_set():
            peaks["engine"] = max(peaks["engine"], _rss_kib(proc.pid))
            for child in _children(proc.pid):
                peaks["ffmpeg"] = max(peaks["ffmpeg"], _rss_kib(child))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.1)

    sampler = asyncio.create_task(sample())
    repo = await open_sqlite(work / "bot.sqlite3")
    try:
        async with asyncio.timeout(30):
            line = (await proc.stdout.readline()).decode()
        found = re.search(r"http://\S+", line)
        if found is None:
            raise RuntimeError(f"the engine did not start: {line!r}")
        base = found.group(0)

        async def chunks() -> Any:
            with clip.open("rb") as fh:
                while chunk := await asyncio.to_thread(fh.read, 1024 * 1024):
                    yield chunk

        async with aiohttp.ClientSession() as http:
            backend = BackendSettings(api_base=base, rate_limit_retry_seconds=30.0, sse_timeout_seconds=900.0)
            client = NemoClient(http, backend, TokenProvider(RepositoryCredentials(repo)))
            session = await client.create_session("en")
            started = time.monotonic()
            await client.upload_files(session.session_id, [UploadSource(clip.name, chunks, "video/mp4", size_of_clip)])
            uploaded = time.monotonic()
            state = await client.state(session.session_id)
            if not state.draft:
                raise RuntimeError("the engine made no draft of the upload")
            draft = dict(state.draft)
            end = int(draft.get("d") or 0)
            tracks = [t for t in draft.get("t", []) if t.get("tt") == 0]
            tracks.append({"tt": 1, "sg": [{"st": 0, "d": end, "m": {"name": "Calm (composed)", "mood": "calm"}}]})
            tracks.append({"tt": 7, "sg": [{"st": 0, "d": 3000, "m": {"name": TITLE, "text": TITLE}}]})
            draft["t"] = tracks
            render_started = time.monotonic()
            job = await client.start_render(session.session_id, draft)
            async with asyncio.timeout(600):
                while not (status := await client.render_status(job.render_id)).finished:  # noqa: ASYNC110
                    await asyncio.sleep(0.25)  # the API is polled, as the bot polls it
            if status.status != "completed" or not status.url:
                raise RuntimeError(f"render {status.status}: {status.error}")
            linked = time.monotonic()
            size = 0
            async with http.get(status.url) as resp:
                async for piece in resp.content.iter_chunked(1024 * 1024):
                    size += len(piece)
            downloaded = time.monotonic()
        return {
            "upload": uploaded - started,
            "render": linked - render_started,
            "link": linked - started,
            "download": downloaded - linked,
            "size": size,
            "engine_peak_kib": peaks["engine"],
            "ffmpeg_peak_kib": peaks["ffmpeg"],
        }
    finally:
        stop.set()
        await sampler
        await repo.close()
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(20):
                    await proc.wait()
            except TimeoutError:
                proc.kill()
                await proc.wait()


# --------------------------------------------------------------------------- the run


async def bench(durations: list[int], repeat: int, media: Path, http: bool) -> int:
    print_machine()
    ok = True
    rows: list[list[object]] = []
    memory: list[list[object]] = []
    steps: list[list[object]] = []
    links: list[list[object]] = []
    with tempfile.TemporaryDirectory(prefix="cutaway-bench-render-") as tmp:
        work = Path(tmp)
        for seconds in durations:
            clip, bed = await asyncio.to_thread(make_media, media, seconds)
            engine_runs: list[dict[str, Any]] = []
            bare_runs: list[dict[str, Any]] = []
            for r in range(repeat):
                order = ("engine", "bare") if r % 2 == 0 else ("bare", "engine")
                for which in order:
                    if which == "engine":
                        engine_runs.append(await engine_render(clip, bed, work / "engine", title=TITLE))
                    else:
                        bare_runs.append(await bare_render(clip, bed, work / "bare", seconds))
            copies = [await engine_render(clip, bed, work / "copy", title=None) for _ in range(repeat)]
            e_wall = median([e["wall"] for e in engine_runs])
            b_wall = median([b["wall"] for b in bare_runs])
            c_wall = median([c["wall"] for c in copies])
            ratio = b_wall / e_wall
            e_cpu = median([e["cpu_engine"] + e["cpu_ffmpeg"] for e in engine_runs])
            b_cpu = median([b["cpu"] for b in bare_runs])
            copy_target = TARGET_COPY_S_PER_30 * seconds / 30
            rows.append([
                f"{seconds} s", e_wall, b_wall, ratio, e_cpu, b_cpu, b_cpu / e_cpu, c_wall,
                all(c["stream_copied"] for c in copies),
            ])  # fmt: skip
            ok &= ratio >= TARGET_RATIO and c_wall <= copy_target and all(c["stream_copied"] for c in copies)
            first = engine_runs[0]
            step_names = ("video", "sound.music", "sound.extract", "sound.mix", "sound.master", "mux")
            steps.append([f"{seconds} s encode", *(first["seconds"].get(k, float("nan")) for k in step_names)])
            steps.append([f"{seconds} s copy", *(copies[0]["seconds"].get(k, float("nan")) for k in step_names)])
            engine_peak = max(e["rss_peak_kib"] for e in engine_runs + copies) / 1024
            engine_growth = max(e["rss_peak_kib"] - e["rss_before_kib"] for e in engine_runs + copies) / 1024
            ffmpeg_peak = max(e["ffmpeg_peak_kib"] for e in engine_runs + copies) / 1024
            bare_peak = max(b["peak_kib"] for b in bare_runs) / 1024
            memory.append([f"{seconds} s", engine_peak, engine_growth, ffmpeg_peak, bare_peak])
            ok &= engine_peak <= TARGET_PEAK_MIB and ffmpeg_peak <= TARGET_PEAK_MIB
            if http:
                try:
                    link = await http_upload_to_link(clip, work / "http")
                except Exception as exc:  # reported, and the run fails
                    print(f"upload → link ({seconds} s): {type(exc).__name__}: {exc}", file=sys.stderr)
                    ok = False
                else:
                    target = TARGET_LINK_S_PER_30 * seconds / 30
                    links.append([
                        f"{seconds} s", link["upload"], link["render"], link["link"], target, link["download"],
                        link["engine_peak_kib"] / 1024, link["ffmpeg_peak_kib"] / 1024,
                    ])  # fmt: skip
                    ok &= link["link"] <= target
    print()
    print(
        table(
            [
                "clip",
                "engine s",
                "bare s",
                "bare/engine",
                "engine CPU s",
                "bare CPU s",
                "CPU bare/engine",
                "copy s",
                "copied",
            ],
            rows,
            title=f"Render, 1080p30 encode path (target bare/engine >= {TARGET_RATIO}) and stream copy "
            f"(target <= {TARGET_COPY_S_PER_30:g} s per 30 s)",
        )
    )
    print()
    print(
        table(
            ["run", "video", "music", "extract", "mix", "master", "mux"],
            steps,
            title="Where the engine's time goes (wall s; the sound steps run beside the video pass)",
        )
    )
    print()
    print(
        table(
            ["clip", "engine peak MiB", "engine growth MiB", "largest ffmpeg MiB", "bare ffmpeg MiB"],
            memory,
            title=f"Peak RSS (target <= {TARGET_PEAK_MIB:g} MiB each)",
        )
    )
    if links:
        print()
        print(
            table(
                [
                    "clip",
                    "upload s",
                    "render s",
                    "upload->link s",
                    "target s",
                    "download s",
                    "engine MiB",
                    "ffmpeg MiB",
                ],
                links,
                title="Through the HTTP API: python -m engine, the bot's client (title + composed music)",
            )
        )
    print()
    print("all targets met" if ok else "TARGET MISSED")
    return 0 if ok else 1


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.render", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--durations", default="30,60", help="clip lengths in seconds (default 30,60)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each path (median reported)")
    parser.add_argument("--no-http", action="store_true", help="skip upload -> link through python -m engine")
    parser.add_argument(
        "--media",
        type=Path,
        default=Path(tempfile.gettempdir()) / "cutaway-bench-render-media",
        help="where the generated clips are kept between runs",
    )
    args = parser.parse_args()
    durations = [int(d) for d in args.durations.split(",") if d.strip()]
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    code = asyncio.run(bench(durations, max(1, args.repeat), args.media, not args.no_http))
    sys.exit(code)


if __name__ == "__main__":
    main()
