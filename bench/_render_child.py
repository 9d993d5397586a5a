"""One engine render in a process of its own, for bench/render.py: prints one JSON line.

    python -m bench._render_child --clip C --bed B --work DIR [--title TEXT]

The clip is probed as an upload would be (engine.probe), the draft is the clip whole with the bed
as its music (injected, so the figure is the render's, not the composer's) and, with --title, a
title (which rules out the stream copy). The process's own peak RSS (VmHWM, reset before the
render) and the largest ffmpeg child's (RUSAGE_CHILDREN) are reported apart.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bench._common import proc_status, reset_peak_rss
from engine.config import EngineSettings
from engine.draft import Draft
from engine.media import MediaInfo
from engine.music import MusicResult
from engine.probe import probe_file
from engine.render import RenderSpec
from engine.render.pipeline import render_draft


def media_info(path: Path) -> MediaInfo:
    """The clip as the upload path stores it (engine.probe, MediaInfo.of); no hash is needed here."""
    return MediaInfo.of(
        probe_file(path),
        media_id="m_clip",
        session_id="s_bench",
        filename=path.name,
        path=path,
        size=path.stat().st_size,
        sha256="0" * 64,
    )


def bench_draft(media: MediaInfo, title: str | None) -> Draft:
    ms = int((media.duration_s or 0) * 1000) // 100 * 100
    tracks: list[dict[str, Any]] = [
        {"tt": 0, "sg": [{"st": 0, "d": ms, "m": {"name": media.filename, "media": media.media_id}}]},
        {
            "tt": 1,
            "sg": [{"st": 0, "d": ms, "m": {"name": "bed", "volume": 0.35, "fade_in": 1000, "fade_out": 2000}}],
        },
    ]
    if title:
        tracks.append({"tt": 7, "sg": [{"st": 0, "d": 3000, "m": {"name": title, "text": title}}]})
    return Draft.from_json({"d": ms, "m": {"canvas": {"aspect": "16:9", "fit": "pad"}}, "t": tracks})


async def run(clip: Path, bed: Path, work: Path, title: str | None, preset: str) -> dict[str, Any]:
    media = media_info(clip)
    the_draft = bench_draft(media, title)

    async def provider(d: Draft, m: Mapping[str, MediaInfo], s: EngineSettings) -> MusicResult | None:
        return MusicResult(path=bed, duration_s=(d.music.d / 1000) if d.music else 0.0)

    spec = RenderSpec(
        draft=the_draft,
        media={media.media_id: media},
        out_path=work / "out.mp4",
        work_dir=work / "job",
        settings=EngineSettings(data_dir=work / "data", x264_preset=preset),
    )
    rss_before = proc_status()["VmRSS"]
    reset_peak_rss()
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.monotonic()
    result = await render_draft(spec, lambda _: None, music=provider)
    wall = time.monotonic() - started
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "wall": wall,
        "seconds": dict(result.seconds),
        "stream_copied": result.stream_copied,
        "duration": result.duration_s,
        "size": result.size,
        "cpu_engine": (own.ru_utime - cpu_before.ru_utime) + (own.ru_stime - cpu_before.ru_stime),
        "cpu_ffmpeg": children.ru_utime + children.ru_stime,
        "rss_before_kib": rss_before,
        "rss_peak_kib": proc_status()["VmHWM"],
        "ffmpeg_peak_kib": children.ru_maxrss,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clip", type=Path, required=True)
    parser.add_argument("--bed", type=Path, required=True)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--title", default=None)
    parser.add_argument("--preset", default="veryfast")
    args = parser.parse_args()
    figures = asyncio.run(run(args.clip, args.bed, args.work, args.title, args.preset))
    print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()
