"""The render, start to finish: plan → (video pass ‖ soundtrack) → mux → rename.

One x264 encode is the whole cost of a render (docs/engine.md, "Render"); everything else is
arranged around it. The soundtrack (music, extraction, numpy mix, mastering: audio-only work, a
few percent of the encode) runs beside the video pass rather than before it, and the two meet in
a stream-copy mux that also moves the index to the front (`+faststart`). When the clip needs no
visual change the video is not encoded at all but copied (engine/render/streamcopy.py).

Progress is ffmpeg's own `-progress` of the video pass, mapped to 0–96 %; the mux takes the
rest. On the copy path the soundtrack's steps report instead. Cancelling the awaiting task kills
every ffmpeg at once (engine/ffmpeg.py) and stops the mix at its next block; the output appears
under its real name only when complete.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import av

from engine.ffmpeg import FFmpegError, run_ffmpeg
from engine.music import music_for_draft
from engine.render import RenderFailed, RenderResult, RenderSpec
from engine.render.errors import explain
from engine.render.graph import concat_list, groups, video_pass_args
from engine.render.plan import FPS, RenderPlan, build_plan
from engine.render.soundtrack import MusicProvider, Soundtrack, prepare_soundtrack
from engine.render.streamcopy import CopySource, copy_source

log = logging.getLogger(__name__)

VIDEO_SHARE = 0.96


class Progress:
    """A 0..1 reporter that never goes backwards (the passes report through `span`)."""

    def __init__(self, sink: Callable[[float], None]) -> None:
        self._sink = sink
        self._value = 0.0

    def __call__(self, value: float) -> None:
        value = min(1.0, max(0.0, value))
        if value > self._value:
            self._value = value
            self._sink(value)


def span(progress: Callable[[float], None], low: float, high: float) -> Callable[[float], None]:
    """`progress` seen from one pass: its 0..1 is low..high of the whole."""
    return lambda fraction: progress(low + (high - low) * fraction)


async def _encode_video(plan: RenderPlan, progress: Callable[[float], None]) -> tuple[list[str], float]:
    """The video pass (one ffmpeg, or one per group of a timeline of many clips); returns the mux's
    video input arguments and the wall time."""
    started = time.monotonic()
    work = plan.work_dir
    parts: list[Path] = []
    done_frames = 0
    for group in groups(plan):
        part = work / f"video-{group.index}.mp4"
        low, high = done_frames / plan.frames, (done_frames + group.frames) / plan.frames
        try:
            args = await asyncio.to_thread(video_pass_args, plan, group, part)  # writes the titles' text files
            await run_ffmpeg(args, duration_s=group.frames / FPS, on_progress=span(progress, low, high))
        except FFmpegError as exc:
            log.warning("render session=%s: the video pass failed: %s\n%s", plan.session, exc, exc.tail)
            raise explain(exc, [v.name for v in group.items], [str(v.path) for v in group.items]) from None
        parts.append(part)
        done_frames += group.frames
    if len(parts) == 1:
        return ["-i", str(parts[0])], time.monotonic() - started
    listing = await asyncio.to_thread(concat_list, parts, work / "video.ffconcat")
    return ["-f", "concat", "-safe", "0", "-i", str(listing)], time.monotonic() - started


async def _mux(plan: RenderPlan, video_input: Sequence[str], audio: Path, out: Path, *, copied: bool) -> float:
    """Picture and sound into the final MP4, index first (+faststart), no metadata of the uploads.
    `copied`: the picture comes straight from the upload (a failure may then be the upload's)."""
    started = time.monotonic()
    try:
        await run_ffmpeg([
            "-y", *video_input, "-i", str(audio),
            "-map", "0:v:0", "-map", "1:a:0", "-c", "copy", "-map_metadata", "-1", "-map_chapters", "-1",
            "-movflags", "+faststart", "-f", "mp4", str(out),
        ])  # fmt: skip
    except FFmpegError as exc:
        log.warning("render session=%s: the mux failed: %s\n%s", plan.session, exc, exc.tail)
        if copied:
            raise explain(exc, [plan.visuals[0].name], [str(plan.visuals[0].path)]) from None
        raise explain(exc, [], []) from None
    return time.monotonic() - started


def _first_failure(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The exception to raise for a failed pass pair: a reason for the user first."""
    flat: list[BaseException] = []

    def walk(exc: BaseException) -> None:
        if isinstance(exc, BaseExceptionGroup):
            for inner in exc.exceptions:
                walk(inner)
        else:
            flat.append(exc)

    walk(group)
    for exc in flat:
        if isinstance(exc, RenderFailed):
            return exc
    return flat[0] if flat else group


def _prepare(spec: RenderSpec) -> RenderPlan:
    """The plan (it checks the files) and the folders, off the event loop."""
    plan = build_plan(spec)
    spec.work_dir.mkdir(parents=True, exist_ok=True)
    spec.out_path.parent.mkdir(parents=True, exist_ok=True)
    return plan


def _finish(partial: Path, out: Path) -> tuple[float, int]:
    """The result's duration (probed) and size, once it has its real name."""
    with av.open(str(partial)) as container:
        duration = (container.duration or 0) / 1e6
    partial.replace(out)
    return duration, out.stat().st_size


async def render_draft(
    spec: RenderSpec, on_progress: Callable[[float], None], *, music: MusicProvider | None = None
) -> RenderResult:
    """Render `spec.draft` to `spec.out_path` (docs/engine.md, "Render"). `music` replaces the
    music facade (tests inject a bed). Raises `RenderFailed` with a reason safe to show."""
    started = time.monotonic()
    plan = await asyncio.to_thread(_prepare, spec)
    provider = music or music_for_draft
    progress = Progress(on_progress)
    partial = spec.out_path.with_name(f".{spec.out_path.name}.partial")
    audio = spec.work_dir / "soundtrack.m4a"
    seconds: dict[str, float] = {}
    log.info(
        "render session=%s start: %d segment(s), %.2fs, %dx%d %s, %d title(s), music=%s",
        plan.session,
        len(plan.visuals),
        plan.duration_s,
        plan.width,
        plan.height,
        plan.fit,
        len(plan.texts),
        plan.music is not None,
    )
    try:
        source: CopySource | None = await copy_source(plan)
        soundtrack: Soundtrack
        if source is not None:
            progress(0.05)
            soundtrack = await prepare_soundtrack(plan, provider, audio, on_step=span(progress, 0.05, 0.85))
            seconds["mux"] = await _mux(plan, source.input_args(), audio, partial, copied=True)
        else:
            try:
                async with asyncio.TaskGroup() as tasks:
                    video_task = tasks.create_task(_encode_video(plan, span(progress, 0.0, VIDEO_SHARE)))
                    sound_task = tasks.create_task(prepare_soundtrack(plan, provider, audio))
            except BaseExceptionGroup as failed:
                raise _first_failure(failed) from None
            video_input, seconds["video"] = video_task.result()
            soundtrack = sound_task.result()
            seconds["mux"] = await _mux(plan, video_input, audio, partial, copied=False)
        seconds.update({f"sound.{k}": v for k, v in soundtrack.seconds.items()})
        duration, size = await asyncio.to_thread(_finish, partial, spec.out_path)
    except BaseException:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)  # a stat-sized call, also when cancelled: no await here
        raise
    progress(1.0)
    seconds["total"] = time.monotonic() - started
    if abs(duration - plan.duration_s) > 1 / FPS + 1e-3:
        log.warning("render session=%s: output is %.3fs, the timeline %.3fs", plan.session, duration, plan.duration_s)
    log.info(
        "render session=%s done: %.2fs, %d bytes, stream_copied=%s, %s",
        plan.session,
        duration,
        size,
        source is not None,
        " ".join(f"{k}={v:.2f}s" for k, v in seconds.items()),
    )
    return RenderResult(
        path=spec.out_path,
        duration_s=duration,
        size=size,
        stream_copied=source is not None,
        seconds=seconds,
    )
