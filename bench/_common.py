"""Shared helpers of the benchmarks: process memory/CPU, percentiles, tables, child processes.

Benchmarks run the bot and the fakes in separate processes so that each side's CPU time and
memory can be read on its own. Children speak a tiny JSON-lines protocol on stdin/stdout
(`ChildProcess` in the parent, `serve_commands` in the child); their logs go to a file.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import sys
import tempfile
import time
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterable, Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
JSON = dict[str, Any]
Handler = Callable[[JSON], Awaitable[JSON]]

MIB = 1024 * 1024
TOKEN = "bench-discord-token-abcdef"
NEMO_TOKEN = "bench-nemo-token-registered"
BOT_USER_ID = 1_200_000_000_000_000_001
APPLICATION_ID = 1_200_000_000_000_000_001


# --------------------------------------------------------------------------- process figures


def proc_status() -> dict[str, int]:
    """VmRSS/VmHWM/VmSize of this process in KiB, from /proc (Linux only)."""
    wanted = {"VmRSS", "VmHWM", "VmSize"}
    out: dict[str, int] = {}
    with Path("/proc/self/status").open() as fh:
        for line in fh:
            key, _, value = line.partition(":")
            if key in wanted:
                out[key] = int(value.split()[0])
    return out


def reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (`echo 5 > /proc/self/clear_refs`), so a later VmHWM is the
    peak of what follows only. False when the kernel refuses (then VmHWM is the lifetime peak)."""
    try:
        with Path("/proc/self/clear_refs").open("w") as fh:
            fh.write("5")
    except OSError:
        return False
    return True


class PeakSampler:
    """Samples VmRSS every `interval` seconds: a cross-check of VmHWM that works everywhere."""

    def __init__(self, interval: float = 0.01) -> None:
        self.interval = interval
        self.peak_kib = 0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            self.peak_kib = max(self.peak_kib, proc_status()["VmRSS"])
            await asyncio.sleep(self.interval)

    def start(self) -> None:
        self.peak_kib = proc_status()["VmRSS"]
        self._task = asyncio.create_task(self._run(), name="rss-sampler")

    async def stop(self) -> int:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        self.peak_kib = max(self.peak_kib, proc_status()["VmRSS"])
        return self.peak_kib


class LoopLag:
    """How late the event loop wakes a sleeper: what every other callback waited, too."""

    def __init__(self, interval: float = 0.02) -> None:
        self.interval = interval
        self.samples: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            start = loop.time()
            await asyncio.sleep(self.interval)
            self.samples.append(max(0.0, loop.time() - start - self.interval))

    def start(self) -> None:
        self.samples = []
        self._task = asyncio.create_task(self._run(), name="loop-lag")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None


def machine() -> JSON:
    """What the README's results table needs to be reproducible."""
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": model or platform.processor(),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
    }


def print_machine() -> None:
    info = machine()
    print(
        f"machine: nproc={info['nproc']} cpu={info['cpu']!r} python={info['python']} "
        f"{info['platform']} ({info['date']})"
    )


# --------------------------------------------------------------------------- statistics and tables


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100); nan for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def summarise(values: Sequence[float]) -> dict[str, float]:
    """Count, p50, p99, max and mean of a sample (NaN/0 when empty)."""
    return {
        "n": len(values),
        "p50": percentile(values, 50),
        "p99": percentile(values, 99),
        "max": max(values) if values else float("nan"),
        "mean": sum(values) / len(values) if values else 0.0,
    }


def median(values: Sequence[float]) -> float:
    return percentile(values, 50)


def table(headers: Sequence[str], rows: Iterable[Sequence[object]], title: str | None = None) -> str:
    """A plain aligned text table (numbers right-aligned)."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        for i, value in enumerate(row):
            widths[i] = max(widths[i], len(value))
    numeric = [all(_is_number(row[i]) for row in cells) if cells else False for i in range(len(headers))]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.rjust(w) if numeric[i] else v.ljust(w) for i, (v, w) in enumerate(zip(values, widths, strict=True))
        )

    out = []
    if title:
        out.append(title)
    out.append(line(list(headers)))
    out.append("  ".join("-" * w for w in widths))
    out.extend(line(row) for row in cells)
    return "\n".join(out)


def _cell(value: object) -> str:
    if isinstance(value, float):
        if value != value:  # nan
            return "-"
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    return str(value)


def _is_number(text: str) -> bool:
    return text.replace(",", "").replace(".", "", 1).replace("-", "", 1).isdigit() or text == "-"


# --------------------------------------------------------------------------- timed records


class TimedList(list[T]):
    """A list that remembers when each item was appended (`time.monotonic()`, system-wide on Linux).

    Swapped in for a fake's request log, so rates per window can be computed afterwards."""

    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []

    def append(self, item: T) -> None:
        self.times.append(time.monotonic())
        super().append(item)


def max_in_window(times: Sequence[float], window: float) -> int:
    """The most events in any half-open window [t, t + window)."""
    best = 0
    start = 0
    ordered = sorted(times)
    for end, t in enumerate(ordered):
        while ordered[start] <= t - window:
            start += 1
        best = max(best, end - start + 1)
    return best


# --------------------------------------------------------------------------- child processes


class ChildError(RuntimeError):
    """A child process answered a command with an error, or died."""


class ChildProcess:
    """A `python -m <module>` child driven by JSON-lines commands; its stderr goes to a log file."""

    def __init__(
        self,
        module: str,
        *args: str,
        env: dict[str, str] | None = None,
        name: str | None = None,
        log_dir: Path | None = None,
    ) -> None:
        self.module = module
        self.args = args
        self.env = env
        self.name = name or module.rsplit(".", 1)[-1]
        self.log_path = (log_dir or Path(tempfile.gettempdir())) / f"cutaway-bench-{self.name}-{os.getpid()}.log"
        self.proc: asyncio.subprocess.Process | None = None
        self.spawned_at = 0.0

    async def start(self) -> None:
        log = self.log_path.open("wb")
        try:
            self.spawned_at = time.monotonic()
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                self.module,
                *self.args,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
                env={**os.environ, **(self.env or {})},
                limit=64 * MIB,
            )
        finally:
            log.close()

    async def call(self, command: str, *, wait: float = 120.0, **args: Any) -> JSON:
        """Send one command and wait (bounded) for its one-line JSON answer."""
        proc = self.proc
        if proc is None or proc.stdin is None or proc.stdout is None:
            raise ChildError(f"{self.name} is not running")
        proc.stdin.write(json.dumps({"cmd": command, **args}).encode() + b"\n")
        await proc.stdin.drain()
        try:
            async with asyncio.timeout(wait):
                line = await proc.stdout.readline()
        except TimeoutError:
            raise ChildError(f"{self.name}: no answer to {command!r} within {wait:g}s; log: {self.log_path}") from None
        if not line:
            raise ChildError(f"{self.name} exited during {command!r}; log: {self.log_path}\n{self.tail()}")
        answer: JSON = json.loads(line)
        if "error" in answer:
            raise ChildError(f"{self.name}: {command!r} failed: {answer['error']}; log: {self.log_path}")
        return answer

    def tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    async def close(self, timeout: float = 20.0) -> int | None:
        """Ask it to quit, then wait (bounded); kill it if it does not."""
        proc = self.proc
        if proc is None:
            return None
        if proc.returncode is None and proc.stdin is not None:
            with contextlib.suppress(ConnectionError, RuntimeError):
                proc.stdin.write(b'{"cmd": "quit"}\n')
                await proc.stdin.drain()
                proc.stdin.close()
        try:
            async with asyncio.timeout(timeout):
                await proc.wait()
        except TimeoutError:
            proc.kill()
            await proc.wait()
        self.proc = None
        if proc.returncode == 0:  # keep the log only when something went wrong
            self.log_path.unlink(missing_ok=True)
        return proc.returncode


async def serve_commands(handlers: dict[str, Handler]) -> None:
    """The child side: answer JSON-lines commands from stdin until "quit" or EOF.

    Each answer is one JSON line on stdout; an exception becomes `{"error": "..."}`.
    """
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=64 * MIB)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    transport, protocol = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin, sys.stdout)
    writer = asyncio.StreamWriter(transport, protocol, None, loop)
    try:
        while line := await reader.readline():
            request = json.loads(line)
            command = request.pop("cmd")
            if command == "quit":
                writer.write(b'{"ok": true}\n')
                break
            try:
                answer = await handlers[command](request)
            except Exception as exc:  # reported to the parent, which raises it there
                import traceback

                traceback.print_exc()
                answer = {"error": f"{type(exc).__name__}: {exc}"}
            writer.write(json.dumps(answer).encode() + b"\n")
            await writer.drain()
    finally:
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        transport.close()


async def stamped_pieces(
    chunks: AsyncIterable[bytes],
    queue: deque[tuple[float, int]],
    box: list[float],
) -> AsyncGenerator[bytes, None]:
    """Split what `readany()` joined back into the pieces the socket delivered; `box[0]` is the time
    the current piece was read (`queue` is filled by a `StreamReader.feed_data` probe)."""
    async for chunk in chunks:
        recorded = sum(n for _, n in queue)
        offset = len(chunk) - recorded  # bytes buffered before the stream was handed over
        if offset > 0:
            yield chunk[:offset]
        pos = max(offset, 0)
        while queue:
            at, n = queue.popleft()
            box[0] = at
            yield chunk[pos : pos + n]
            pos += n


def install_arrival_probe(arrivals: dict[int, deque[tuple[float, int]]]) -> None:
    """Stamp every piece a watched `StreamReader` (keyed by `id()`) is fed: (time read, bytes)."""
    import aiohttp

    original = aiohttp.StreamReader.feed_data

    def feed_data(reader: aiohttp.StreamReader, data: bytes, size: int = 0) -> bool:
        queue = arrivals.get(id(reader))
        if queue is not None and data:
            queue.append((time.monotonic(), len(data)))
        return original(reader, data, size)

    setattr(aiohttp.StreamReader, "feed_data", feed_data)  # noqa: B010 - a bench-only probe
