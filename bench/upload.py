"""Benchmark 1, upload streaming: the bot's real upload path against a bare aiohttp stream copy.

    python -m bench.upload [--sizes 50,500] [--repeat 3]

The fake Discord CDN (generated content) and the fake NemoVideo (hashes every upload while
streaming) each run in their own process; every measured upload runs in a fresh process of
its own (`bench._upload_client`), so its peak RSS growth is the upload's alone. Sizes are MiB.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

from bench._common import MIB, ChildError, ChildProcess, median, print_machine, table
from devkit.fakes.discord_cdn import generated_sha256, magic_for

TARGET_RATIO = 0.8
TARGET_GROWTH_MIB = 32.0


async def run_client(mode: str, url: str, nemo: str, name: str, size: int) -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench._upload_client",
        "--mode",
        mode,
        "--url",
        url,
        "--nemo",
        nemo,
        "--name",
        name,
        "--size",
        str(size),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(240):
        out, err = await proc.communicate()
    if proc.returncode != 0:
        raise ChildError(f"upload client ({mode}) failed:\n{err.decode(errors='replace')[-3000:]}")
    result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return result


async def bench(sizes: list[int], repeat: int, one_fakes_process: bool) -> int:
    print_machine()
    children = (
        [ChildProcess("bench._fakes", name="fakes")]
        if one_fakes_process
        else [ChildProcess("bench._fakes", name="cdn"), ChildProcess("bench._fakes", name="nemo")]
    )
    for child in children:
        await child.start()
    cdn, backend = children[0], children[-1]
    try:
        if one_fakes_process:
            info = await cdn.call("start", discord=True, nemo=True)
        else:
            info = await cdn.call("start", discord=True) | await backend.call("start", nemo=True)
        nemo = info["nemo_base"]
        rows: list[list[object]] = []
        summary: list[list[object]] = []
        ok = True
        for size_mib in sizes:
            size = size_mib * MIB
            name = f"bench_{size_mib}mb.mp4"
            att = await cdn.call("add_attachment", name=name, size=size, content_type="video/mp4")
            expected = await asyncio.to_thread(generated_sha256, int(att["id"]), size, magic_for(name))
            results: dict[str, list[dict[str, Any]]] = {"bare": [], "bot": []}
            for r in range(repeat):
                for mode in ("bare", "bot") if r % 2 == 0 else ("bot", "bare"):
                    cpu_before = [(await c.call("cpu"))["cpu"] for c in children]
                    figures = await run_client(mode, att["url"], nemo, name, size)
                    cpu_after = [(await c.call("cpu"))["cpu"] for c in children]
                    upload = await backend.call("last_upload")
                    figures["intact"] = upload["size"] == size and upload["sha256"] == expected
                    figures["fake_cpu"] = [a - b for a, b in zip(cpu_after, cpu_before, strict=True)]
                    results[mode].append(figures)
                    if not figures["intact"]:
                        print(f"!! {mode} upload of {size_mib} MiB arrived damaged: {upload} posts={figures['posts']}")
            medians: dict[str, float] = {}
            for mode in ("bare", "bot"):
                runs = results[mode]
                mibps = [size / MIB / f["seconds"] for f in runs]
                medians[mode] = median(mibps)
                growth = max(f["growth_kib"] for f in runs) / 1024
                rows.append(
                    [
                        f"{size_mib} MiB",
                        mode,
                        medians[mode],
                        min(mibps),
                        median([f["seconds"] for f in runs]),
                        median([f["cpu"] for f in runs]),
                        median([f["cpu"] for f in runs]) / (size / 1024**3),
                        growth,
                        median([f["base_kib"] for f in runs]) / 1024,
                        median([f["fake_cpu"][0] for f in runs]),
                        median([f["fake_cpu"][-1] for f in runs]) if not one_fakes_process else float("nan"),
                        "yes" if all(f["intact"] for f in runs) else "NO",
                    ]
                )
            ratio = medians["bot"] / medians["bare"]
            bot_growth = max(f["growth_kib"] for f in results["bot"]) / 1024
            ratio_ok = ratio >= TARGET_RATIO
            growth_ok = bot_growth <= TARGET_GROWTH_MIB
            intact = all(f["intact"] for runs in results.values() for f in runs)
            ok = ok and ratio_ok and growth_ok and intact
            summary.append(
                [
                    f"{size_mib} MiB",
                    ratio,
                    "met" if ratio_ok else "MISSED",
                    bot_growth,
                    "met" if growth_ok else "MISSED",
                    "yes" if intact else "NO",
                ]
            )
        print()
        fake_cols = ["fakes CPU s", "-"] if one_fakes_process else ["CDN CPU s", "backend CPU s"]
        print(
            table(
                [
                    "file",
                    "path",
                    "MiB/s",
                    "min MiB/s",
                    "wall s",
                    "client CPU s",
                    "CPU s/GiB",
                    "peak RSS +MiB",
                    "base RSS MiB",
                    *fake_cols,
                    "sha256 ok",
                ],
                rows,
                title=f"Upload streaming: medians of {repeat} run(s) each; one fresh client process per run",
            )
        )
        print()
        print(
            table(
                [
                    "file",
                    "bot/bare throughput",
                    f"target ≥{TARGET_RATIO}",
                    "bot peak RSS +MiB",
                    f"target ≤{TARGET_GROWTH_MIB:g}",
                    "intact",
                ],
                summary,
                title="Targets",
            )
        )
        print(
            "\nThe backend fake hashes (sha256) and parses multipart while streaming; the CDN fake generates the"
            "\nbytes. Their CPU is the same work on both paths and is listed separately from the client's."
        )
        return 0 if ok else 1
    finally:
        for child in children:
            await child.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.upload", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="50,500", help="comma-separated sizes in MiB (default 50,500)")
    parser.add_argument("--repeat", type=int, default=5, help="runs per size and path (default 5)")
    parser.add_argument(
        "--one-fakes-process", action="store_true", help="run the CDN and backend fakes in one process instead of two"
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    started = time.monotonic()
    code = asyncio.run(bench(sizes, args.repeat, args.one_fakes_process))
    print(f"\n(total {time.monotonic() - started:.0f} s)")
    sys.exit(code)


if __name__ == "__main__":
    main()
