"""When the video can be copied instead of encoded (a ~10× faster render, and no generation loss).

The rule: one clip, and nothing visual changes. The clip's picture is already what the output
must be (H.264 High or Main, yuv420p, square pixels, exactly the canvas size, 30 fps constant,
no rotation to apply, in an MP4/MOV file) and the draft draws no title on it. A trimmed start
is fine when it falls on a keyframe (a copy can only start there); the segment must run to the
clip's end (within a frame), since a copy cannot end between a B-frame and the picture it
refers to. The fit does not matter: the clip already has the canvas's shape. The sound is mixed
and mastered as always.

MediaInfo (the upload's probe) answers most of it; the keyframe and the stream's end are read
from the packets (no decoding) in a worker thread.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path

from engine.probe import open_media
from engine.render.plan import FPS, RenderPlan

log = logging.getLogger(__name__)

PROFILES = frozenset({"High", "Main"})
MOV_FAMILY = "mov,mp4,m4a,3gp,3g2,mj2"
HALF_FRAME = 0.5 / FPS


@dataclass(frozen=True, slots=True)
class CopySource:
    path: Path
    start_s: float
    """The keyframe the copy starts at (seconds from the stream's start); 0 for the whole clip."""

    def input_args(self) -> list[str]:
        """`-ss` lands on the last keyframe at or before the position: aim 1 ms past this one."""
        seek = ["-ss", f"{self.start_s + 0.001:.3f}"] if self.start_s > 0 else []
        return [*seek, "-i", str(self.path)]


def _refusal(plan: RenderPlan) -> str | None:
    """Why the plan's video must be encoded (None when MediaInfo allows a copy)."""
    if len(plan.visuals) != 1:
        return "several segments"
    if plan.texts:
        return "a title"
    item = plan.visuals[0]
    m = item.media
    if item.is_still:
        return "a still"
    if m.container != MOV_FAMILY:
        return f"container {m.container}"
    if m.video_codec != "h264" or m.video_profile not in PROFILES or m.pix_fmt != "yuv420p":
        return f"{m.video_codec} {m.video_profile} {m.pix_fmt}"
    if (m.width, m.height) != (plan.width, plan.height) or m.rotation:
        return f"{m.width}x{m.height} rotated {m.rotation}"
    if m.vfr or m.fps is None or abs(m.fps - FPS) > 0.01:
        return f"{m.fps} fps{' VFR' if m.vfr else ''}"
    return None


def _check_packets(path: Path, start_s: float, seconds: float) -> tuple[str | None, float]:
    """Read the video packets: square pixels, a keyframe at `start_s`, and the stream ending where
    the segment does. Returns (why not, the keyframe's time)."""
    with open_media(path) as container:
        stream = container.streams.video[0]
        sar = stream.sample_aspect_ratio
        if sar is not None and sar != 0 and sar != 1:
            return f"pixel aspect {sar}", 0.0
        tb = float(stream.time_base or 0)
        if not tb:
            return "no time base", 0.0
        origin = (stream.start_time or 0) * tb
        keyframe: float | None = None
        end: float | None = None
        for packet in container.demux(stream):
            if packet.pts is None or not packet.size:
                continue
            t = packet.pts * tb - origin
            if packet.is_keyframe and abs(t - start_s) < HALF_FRAME:
                keyframe = t
            tail = t + (packet.duration or 0) * tb
            end = tail if end is None else max(end, tail)
    if end is None:
        return "no video packets", 0.0
    if keyframe is None:
        return "the trimmed start is not on a keyframe", 0.0
    if abs((end - keyframe) - seconds) > 1 / FPS + 1e-3:
        return f"the segment ends {end - keyframe - seconds:+.3f}s from the clip's end", 0.0
    return None, keyframe


async def copy_source(plan: RenderPlan) -> CopySource | None:
    """The clip to copy the video from, or None when it must be encoded (the reason is logged)."""
    reason = _refusal(plan)
    if reason is None:
        item = plan.visuals[0]
        try:
            reason, keyframe = await asyncio.to_thread(_check_packets, item.path, item.src_in_s, item.seconds)
        except Exception as exc:  # the copy is only a shortcut: whatever stops the check, encode
            reason = f"packets unreadable ({exc.__class__.__name__})"
    if reason is not None:
        log.info("render session=%s: video encoded (%s)", plan.session, reason)
        return None
    log.info("render session=%s: video stream-copied", plan.session)
    return CopySource(plan.visuals[0].path, keyframe)
