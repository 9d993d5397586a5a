"""Running the ffmpeg binary from the imageio-ffmpeg wheel (the engine's only media tool).

One place that knows how to start ffmpeg, read its `-progress` output, keep the tail of its
log for error messages, and stop it at once when the caller is cancelled (a render's cancel
button, an engine shutdown). Everything CPU-heavy runs in that child process, never on the
event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections import deque
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import IO, Any

log = logging.getLogger(__name__)

STDERR_TAIL_LINES = 40


class FFmpegError(RuntimeError):
    """ffmpeg exited non-zero; `tail` is the end of its log (for logs, never for users)."""

    def __init__(self, returncode: int, tail: str) -> None:
        super().__init__(f"ffmpeg exited with {returncode}")
        self.returncode = returncode
        self.tail = tail


@cache
def ffmpeg_exe() -> str:
    """`ENGINE_FFMPEG` when set (an operator's own build), else the binary in the imageio-ffmpeg wheel."""
    configured = os.environ.get("ENGINE_FFMPEG")
    if configured:
        return configured
    import imageio_ffmpeg  # type: ignore[import-untyped]

    return str(imageio_ffmpeg.get_ffmpeg_exe())


async def run_ffmpeg(
    args: Sequence[str | Path],
    *,
    duration_s: float | None = None,
    on_progress: Callable[[float], None] | None = None,
    stdout_to: Path | None = None,
) -> None:
    """Run `ffmpeg -hide_banner -nostdin <args>` and wait for it.

    With `on_progress` and `duration_s`, ffmpeg's own `-progress` reports are turned into a
    fraction 0..1 as they come. Cancelling the awaiting task kills ffmpeg at once (SIGKILL) and
    reaps it. `stdout_to` receives what ffmpeg writes to stdout (raw PCM, say) straight from the
    child, never through this process's memory.
    """
    progress = on_progress is not None and duration_s is not None and duration_s > 0
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error"]
    if progress:
        cmd += ["-progress", "pipe:2", "-stats_period", "0.25"]
    cmd += [str(a) for a in args]
    stdout: int | IO[Any] = asyncio.subprocess.DEVNULL
    sink = None
    if stdout_to is not None:
        sink = await asyncio.to_thread(stdout_to.open, "wb")
        stdout = sink
    try:
        proc = await asyncio.create_subprocess_exec(
            *cmd, stdin=asyncio.subprocess.DEVNULL, stdout=stdout, stderr=asyncio.subprocess.PIPE
        )
    finally:
        if sink is not None:
            sink.close()
    tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
    assert proc.stderr is not None

    async def read_stderr() -> None:
        assert proc.stderr is not None
        async for raw in proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip()
            if progress and line.startswith("out_time_us="):
                value = line.partition("=")[2]
                if value.isdigit() and on_progress is not None and duration_s:
                    on_progress(min(1.0, int(value) / 1e6 / duration_s))
            elif not (progress and "=" in line and " " not in line):
                tail.append(line)

    try:
        await read_stderr()
        returncode = await proc.wait()
    except BaseException:
        await kill(proc)
        raise
    if returncode != 0:
        raise FFmpegError(returncode, "\n".join(tail))
    if progress and on_progress is not None:
        on_progress(1.0)


async def kill(proc: asyncio.subprocess.Process) -> None:
    """Stop a child at once and reap it (no zombie, no orphan left encoding)."""
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
    with contextlib.suppress(Exception):
        await asyncio.shield(proc.wait())
