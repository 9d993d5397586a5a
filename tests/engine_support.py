"""Helpers for the engine server's tests: an engine on 127.0.0.1 with the bot's real client in
front of it, small real-ffmpeg stand-ins for the render and the editor, and the process checks
("is an ffmpeg child still running?") the cancel and shutdown tests need.

The stand-ins exist so the server's own behaviour (queue order, cancel, restart, streaming) is
tested on its own; where the real editor or render is installed the end-to-end tests use them.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import ipaddress
import os
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bot.config import BackendSettings
from bot.credentials import RepositoryCredentials
from bot.nemo.auth import TokenProvider
from bot.nemo.client import NemoClient, UploadSource
from engine import editor
from engine.config import EngineSettings
from engine.draft import IMAGE_SECONDS, Draft, VisualMeta, VisualSegment
from engine.editor import Call, EditorEvent, EditorSession, Result, Say
from engine.fetch import AddressPolicy
from engine.ffmpeg import run_ffmpeg
from engine.media import MediaInfo
from engine.render import RenderResult, RenderSpec
from engine.server import Engine
from storage.repository import Repository

LOOPBACK_ONLY = AddressPolicy(also_allow=(ipaddress.ip_network("127.0.0.0/8"),))


def has_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


REAL_EDITOR = has_module("engine.editor.turn") and has_module("engine.editor.drafting")
REAL_RENDER = has_module("engine.render.pipeline")


def settings(data: Path, **overrides: Any) -> EngineSettings:
    """Explicit settings (no .env or ENGINE_* from the machine leaks in), port 0."""
    values: dict[str, Any] = {"host": "127.0.0.1", "port": 0, "data_dir": data, "log_level": "DEBUG"}
    values.update(overrides)
    return EngineSettings(_env_file=None, **values)


# ---------------------------------------------------------------------- stand-ins


def place_stand_in(draft: Draft, new: Sequence[MediaInfo]) -> Draft:
    """Clips and images appended to the video track (what `editor.place_uploads` promises)."""
    added = [
        VisualSegment(
            d=int((m.duration_s or IMAGE_SECONDS) * 1000) if m.kind == "video" else int(IMAGE_SECONDS * 1000),
            m=VisualMeta(name=m.filename, media=m.media_id, kind="video" if m.kind == "video" else "image"),
        )
        for m in new
    ]
    return draft.with_visuals([*draft.visuals, *added])


def place_fn() -> Callable[[Draft, Sequence[MediaInfo]], Draft]:
    return editor.place_uploads if REAL_EDITOR else place_stand_in


async def stand_in_turn(session: EditorSession, text: str) -> AsyncIterator[EditorEvent]:
    """Answers like the editor: says something, calls a tool, commits a change, closes."""
    if text == "undo":
        restored = await session.undo()
        yield Result("undo", {"status": "success" if restored is not None else "nothing to undo"}, draft=restored)
        return
    yield Say(f"Working on: {text}")
    yield Call("edit_draft", {"request": text})
    if "mute" in text:
        draft = session.draft.model_copy(update={"meta": session.draft.meta.model_copy(update={"clip_sound": "mute"})})
        await session.commit(draft)
        yield Result("edit_draft", {"status": "success"}, draft=draft)
    else:
        yield Result("edit_draft", {"status": "success"})
    yield Say("Done.")


async def failing_turn(session: EditorSession, text: str) -> AsyncIterator[EditorEvent]:
    yield Say("Let me try that.")
    raise RuntimeError("the editor broke (in /secret/path)")


@dataclass
class HangingTurn:
    """A turn that waits forever after its first event; records that it was cancelled."""

    started: asyncio.Event = field(default_factory=asyncio.Event)
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(self, session: EditorSession, text: str) -> AsyncIterator[EditorEvent]:
        yield Say("Thinking…")
        self.started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled.set()
            raise
        yield Say("never")


@dataclass
class StandInRender:
    """A real ffmpeg render of a test pattern as long as the draft, tiny and fast (or, with
    `realtime`, as slow as the video is long, for cancel tests). Records concurrency and order."""

    realtime: bool = False
    size: str = "160x90"
    started: list[str] = field(default_factory=list)
    running: int = 0
    peak: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(self, spec: RenderSpec, on_progress: Callable[[float], None]) -> RenderResult:
        seconds = max(spec.draft.duration_ms / 1000, 0.5)
        self.started.append(spec.out_path.stem)
        self.running += 1
        self.peak = max(self.peak, self.running)
        self._notify()
        tmp = spec.work_dir / "out.mp4"
        try:
            args: list[str | Path] = ["-re"] if self.realtime else []
            args += [
                "-f", "lavfi", "-i", f"testsrc2=size={self.size}:rate=10:duration={seconds}",
                "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-movflags", "+faststart",
                "-y", tmp,
            ]  # fmt: skip
            await run_ffmpeg(args, duration_s=seconds, on_progress=on_progress)
            tmp.replace(spec.out_path)
        finally:
            self.running -= 1
            self._notify()
        return RenderResult(
            path=spec.out_path, duration_s=seconds, size=spec.out_path.stat().st_size, stream_copied=False
        )

    def _notify(self) -> None:
        self.changed.set()
        self.changed = asyncio.Event()

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 30.0) -> None:
        async with asyncio.timeout(timeout):
            while not predicate():
                await self.changed.wait()


# ---------------------------------------------------------------------- engine + client


def make_engine(data: Path, **kw: Any) -> Engine:
    overrides = {k: kw.pop(k) for k in list(kw) if k in EngineSettings.model_fields}
    kw.setdefault("place_fn", place_fn())
    kw.setdefault("turn_fn", editor.run_turn if REAL_EDITOR else stand_in_turn)
    kw.setdefault("render_fn", StandInRender())
    return Engine(settings(data, **overrides), **kw)


def client_for(engine: Engine, http: aiohttp.ClientSession, repo: Repository, **kw: Any) -> NemoClient:
    """The bot's own client, pointed at the engine."""

    async def no_sleep(_: float) -> None:
        await asyncio.sleep(0)

    settings = BackendSettings(
        api_base=engine.base_url,
        rate_limit_retry_seconds=kw.pop("rate_limit_retry_seconds", 30.0),
        sse_timeout_seconds=30.0,
    )
    auth = TokenProvider(RepositoryCredentials(repo), static_token=kw.pop("static_token", None))
    return NemoClient(http, settings, auth, sleep=no_sleep, **kw)


def file_source(path: Path, name: str | None = None, content_type: str = "application/octet-stream") -> UploadSource:
    async def chunks() -> AsyncIterator[bytes]:
        with path.open("rb") as f:
            while chunk := f.read(256 * 1024):
                yield chunk

    return UploadSource(name or path.name, chunks, content_type, path.stat().st_size)


def stream_source(name: str, size: int, chunk: int = 1024 * 1024) -> UploadSource:
    """`size` bytes generated on the fly (never held whole)."""

    async def chunks() -> AsyncIterator[bytes]:
        block = bytes(range(256)) * (chunk // 256)
        sent = 0
        while sent < size:
            piece = block[: min(chunk, size - sent)]
            sent += len(piece)
            yield piece

    return UploadSource(name, chunks, "video/mp4", size)


async def wait_until(predicate: Callable[[], Any], timeout: float = 30.0, step: float = 0.05) -> None:
    """Poll a cheap condition with a bound (for state only visible from outside, e.g. processes)."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(step)


# ---------------------------------------------------------------------- processes


def ffmpeg_children(parent: int | None = None) -> list[int]:
    """Pids of ffmpeg processes whose parent is `parent` (this process by default), from /proc."""
    parent = os.getpid() if parent is None else parent
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            stat = (entry / "stat").read_text()
            comm = stat[stat.index("(") + 1 : stat.rindex(")")]
            ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
            if ppid == parent and "ffmpeg" in comm:
                found.append(int(entry.name))
    return found
