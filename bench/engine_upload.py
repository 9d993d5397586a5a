"""Benchmark: the engine receiving an upload, next to a bare aiohttp server that only copies it.

    python -m bench.engine_upload [--size 200] [--repeat 1]

Both servers run as their own processes: the engine as `python -m engine` (a fresh data folder),
the baseline as `python -m bench.engine_upload --bare-server` (an aiohttp handler that streams the
multipart part into a new file, hashes it and syncs it to disk before answering, nothing else).
One client in this process sends the same body to each: a WAV file of SIZE MiB generated on the
fly (real media, so the engine's probe accepts it), as a multipart `files` part, the way the bot's
client sends uploads. Figures: wall time from the first byte sent to the answer, MiB/s, and the
server's peak RSS growth while receiving (VmHWM reset through /proc/<pid>/clear_refs before the
upload, sampled as a cross-check).

Like with like: the baseline keeps every upload in a file of its own, as the engine does, and
syncs it, as the engine must before it says the file is stored. Writing over one file again and
again would let the kernel reuse the page-cache pages the truncation just freed, which can be far
cheaper than the fresh pages a new file needs (200 MiB on the 2-core VM of bench/README.md: 0.06 s
against 0.5 s of system time). What is left between the two is the engine's own work: the writes
and the hashing in a worker thread instead of on the event loop, the probe, the token and session
checks and the database commit.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import itertools
import json
import os
import struct
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import payload as aiohttp_payload
from aiohttp import web

from bench._common import MIB, median, print_machine, table

CHUNK = 1024 * 1024
TARGET_RATIO = 0.7
"""The engine should receive at 70 % of the bare copy's speed or better (it also probes and records the upload)."""
TARGET_GROWTH_MIB = 32.0


def wav_header(data_bytes: int, rate: int = 48_000, channels: int = 2) -> bytes:
    block = channels * 2
    return (
        b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVE"
        + b"fmt " + struct.pack("<IHHIIHH", 16, 1, channels, rate, rate * block, block, 16)
        + b"data" + struct.pack("<I", data_bytes)
    )  # fmt: skip


async def wav_body(size: int) -> AsyncIterator[bytes]:
    """A valid WAV of exactly `size` bytes, generated chunk by chunk (never held whole)."""
    header = wav_header(size - 44)
    block = bytes((i * 37) & 0xFF for i in range(CHUNK))
    sent = 0
    first = header + block[: CHUNK - len(header)]
    yield first
    sent += len(first)
    while sent < size:
        piece = block[: min(CHUNK, size - sent)]
        sent += len(piece)
        yield piece


# ---------------------------------------------------------------------------- the bare server


async def bare_server(folder: Path) -> None:
    numbers = itertools.count(1)

    async def upload(request: web.Request) -> web.Response:
        reader = await request.multipart()
        part = await reader.next()
        assert isinstance(part, aiohttp.BodyPartReader)
        digest, size = hashlib.sha256(), 0
        with (folder / f"upload-{next(numbers)}.bin").open("xb") as out:
            while chunk := await part.read_chunk(256 * 1024):
                out.write(chunk)
                digest.update(chunk)
                size += len(chunk)
            out.flush()
            os.fsync(out.fileno())
        return web.json_response({"size": size, "sha256": digest.hexdigest()})

    app = web.Application()
    app.router.add_post("/upload", upload)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    print(f"bare server: http://{host}:{port}", flush=True)
    await asyncio.Event().wait()


# ---------------------------------------------------------------------------- measuring


def _status(pid: int) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0])
    return out


def _reset_peak(pid: int) -> bool:
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


async def start_server(*args: str) -> tuple[asyncio.subprocess.Process, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, *args, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.stdout is not None
    async with asyncio.timeout(60):
        line = (await proc.stdout.readline()).decode()
    url = line[line.index("http://") :].split()[0]
    return proc, url


async def send(http: aiohttp.ClientSession, url: str, size: int, headers: dict[str, str]) -> tuple[float, Any]:
    writer = aiohttp.MultipartWriter("form-data")
    part = aiohttp_payload.AsyncIterablePayload(wav_body(size), content_type="audio/wav")
    part.set_content_disposition("form-data", name="files", filename="long.wav")
    writer.append_payload(part)
    started = time.perf_counter()
    async with http.post(url, data=writer, headers=headers) as resp:
        body = await resp.json()
    return time.perf_counter() - started, body


async def measure(
    pid: int, http: aiohttp.ClientSession, url: str, size: int, headers: dict[str, str]
) -> dict[str, Any]:
    before = _status(pid)["VmRSS"]
    exact = _reset_peak(pid)
    peak = before

    async def sample() -> None:
        nonlocal peak
        while True:
            peak = max(peak, _status(pid)["VmRSS"])
            await asyncio.sleep(0.01)

    sampler = asyncio.create_task(sample())
    try:
        seconds, body = await send(http, url, size, headers)
    finally:
        sampler.cancel()
    hwm = _status(pid)["VmHWM"] if exact else peak
    return {
        "seconds": seconds,
        "mib_s": size / MIB / seconds,
        "growth_mib": (max(hwm, peak) - before) / 1024,
        "body": body,
    }


async def bench(size_mib: int, repeat: int) -> int:
    print_machine()
    size = size_mib * MIB
    with tempfile.TemporaryDirectory(prefix="cutaway-bench-engine-") as folder:
        root = Path(folder)
        bare_proc, bare_url = await start_server("-m", "bench.engine_upload", "--bare-server", "--folder", folder)
        engine_proc, engine_url = await start_server(
            "-m", "engine", "--port", "0", "--data", str(root / "engine"), "--log-level", "WARNING"
        )
        results: dict[str, list[dict[str, Any]]] = {"bare": [], "engine": []}
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=600)) as http:
                async with http.post(f"{engine_url}/api/auth/anonymous-token", headers={"X-Client-Id": "bench"}) as r:
                    token = (await r.json())["data"]["token"]
                auth = {"Authorization": f"Bearer {token}"}
                for n in range(repeat):
                    for mode in ("bare", "engine") if n % 2 == 0 else ("engine", "bare"):
                        if mode == "bare":
                            figures = await measure(bare_proc.pid, http, f"{bare_url}/upload", size, {})
                            assert figures["body"]["size"] == size, figures["body"]
                        else:
                            async with http.post(
                                f"{engine_url}/api/tasks/me/with-session/nemo_agent", json={}, headers=auth
                            ) as r:
                                sid = (await r.json())["data"]["session_id"]
                            url = f"{engine_url}/api/upload-video/nemo_agent/me/{sid}"
                            figures = await measure(engine_proc.pid, http, url, size, auth)
                            files = figures["body"]["data"]["files"]
                            assert files[0]["size"] == size and files[0]["file_type"] == "audio", figures["body"]
                        results[mode].append(figures)
        finally:
            for proc in (bare_proc, engine_proc):
                proc.terminate()
                await proc.wait()
    bare = median([r["mib_s"] for r in results["bare"]])
    engine = median([r["mib_s"] for r in results["engine"]])
    growth = max(r["growth_mib"] for r in results["engine"])
    rows = [
        [mode, f"{median([r['seconds'] for r in rs]):.2f}", f"{median([r['mib_s'] for r in rs]):.0f}",
         f"{max(r['growth_mib'] for r in rs):.1f}"]
        for mode, rs in results.items()
    ]  # fmt: skip
    print(table(["server", "seconds", "MiB/s", "peak RSS growth MiB"], rows, title=f"upload of {size_mib} MiB"))
    ratio = engine / bare
    ok = ratio >= TARGET_RATIO and growth <= TARGET_GROWTH_MIB
    print(
        json.dumps(
            {"size_mib": size_mib, "bare_mib_s": round(bare), "engine_mib_s": round(engine),
             "ratio": round(ratio, 2), "engine_rss_growth_mib": round(growth, 1), "ok": ok}
        )
    )  # fmt: skip
    return 0 if ok else 1


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.engine_upload", description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=200, help="MiB per upload (default 200)")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--bare-server", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--folder", default=str(Path.cwd()), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_server:
        asyncio.run(bare_server(Path(args.folder)))
        return
    sys.exit(asyncio.run(bench(args.size, args.repeat)))


if __name__ == "__main__":
    main()
