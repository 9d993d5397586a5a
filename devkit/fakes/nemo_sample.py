"""The short real MP4 the fake backend can serve as an export's result (the playground does).

Generated with the engine's ffmpeg on first use and cached in the temp folder, instead of being
committed: a 2 s 480×270 H.264/AAC test pattern, `moov` first so a browser starts playing at once.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from functools import cache
from pathlib import Path

from engine.ffmpeg import ffmpeg_exe

SAMPLE_VERSION = 1
"""Bump when the recipe changes, so a cached file from an older recipe is not reused."""

_RECIPE = (
    "-f", "lavfi", "-i", "testsrc2=size=480x270:rate=25:duration=2",
    "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=2",
    "-c:v", "libx264", "-preset", "veryfast", "-crf", "32", "-pix_fmt", "yuv420p", "-profile:v", "high",
    "-c:a", "aac", "-b:a", "64k", "-shortest", "-movflags", "+faststart", "-f", "mp4",
)  # fmt: skip


def sample_path(cache_dir: Path | None = None) -> Path:
    """The cached sample's path (made first if missing). Blocks for about a second the first time:
    call it from a worker thread in async code."""
    folder = cache_dir or Path(tempfile.gettempdir()) / "cutaway-devkit"
    path = folder / f"render_sample-v{SAMPLE_VERSION}.mp4"
    if path.is_file() and path.stat().st_size > 0:
        return path
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".render_sample-", suffix=".mp4", dir=folder)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *_RECIPE, str(tmp)]
        done = subprocess.run(cmd, capture_output=True, timeout=120, check=False)  # noqa: S603 (fixed arguments)
        if done.returncode != 0:
            raise RuntimeError(f"ffmpeg could not make the sample clip: {done.stderr.decode(errors='replace')[-500:]}")
        tmp.replace(path)  # atomic: another process never sees half a file
    finally:
        tmp.unlink(missing_ok=True)
    return path


@cache
def render_sample() -> bytes:
    """The sample clip's bytes (about 30 KB), made once per process."""
    return sample_path().read_bytes()
