"""The video pass: one ffmpeg command that decodes every clip and still, normalises each to the
canvas at a constant 30 fps, joins them in order, draws the titles and encodes once with x264.

Per segment: `fps=30` first (a VFR or 60 fps source is made CFR before anything is scaled, so
the scaler works on output frames only), then the fit (`pad`, `blur`, `crop`; nothing but a
scale when the source already has the canvas's shape), then exactly the segment's frame count
(`tpad` holds the last frame if the source runs short, `trim` cuts). ffmpeg turns rotated phone
clips upright by itself (autorotate) before the graph sees them. Stills are fitted once and
repeated. `-xerror` makes a clip that stops decoding mid-way fail the render instead of
freezing silently (docs/engine.md, "Render").
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.render.plan import FPS, RenderPlan, VisualItem
from engine.render.titles import drawtext_filter

CRF = 21
MAX_INPUTS = 8
GOP = 2 * FPS
BLUR_SCALE = 8
"""The blurred background is blurred at 1/8 of the canvas and scaled up: the same look for a
fraction of the cost of blurring at full size."""
LABEL_BT709 = "setparams=range=tv:colorspace=bt709:color_primaries=bt709:color_trc=bt709"
"""Every segment leaves labelled BT.709 limited range, as HD video is: a label, not a conversion
(stills are converted to BT.709 when scaled; video keeps its pixels). Segments that disagree would
make ffmpeg convert a whole clip's colours to match (measured +17 % CPU on a 1080p clip), and so
would asking the encoder for colour tags the frames do not carry. SD sources in BT.601 shift
slightly; HDR sources are not tone-mapped (docs/engine.md, "Render")."""
SAME_SHAPE = 0.01
"""Sources within 1 % of the canvas's aspect ratio are scaled to it, whatever the fit."""


def _even(n: float) -> int:
    return max(2, int(n) // 2 * 2)


def fit_chain(item: VisualItem, index: int, width: int, height: int, fit: str) -> str:
    """Filters from `[in{index}]` to `[fit{index}]`: the source fitted to width × height."""
    src, out = f"[in{index}]", f"[fit{index}]"
    color = ":out_color_matrix=bt709:out_range=tv" if item.is_still else ":out_range=tv"
    square = "scale=w='trunc(iw*sar/2)*2':h=ih,setsar=1,"
    media = item.media
    if media.width and media.height and abs(media.width / media.height - width / height) < SAME_SHAPE * width / height:
        fit = "stretch"
    if fit == "stretch":  # the exact size is forced, so the source's pixel shape does not matter
        return f"{src}scale={width}:{height}{color},setsar=1,format=yuv420p{out}"
    if fit == "crop":
        return (
            f"{src}{square}scale={width}:{height}:force_original_aspect_ratio=increase:force_divisible_by=2{color},"
            f"crop={width}:{height},setsar=1,format=yuv420p{out}"
        )
    if fit == "blur":
        bw, bh = _even(width / BLUR_SCALE), _even(height / BLUR_SCALE)
        return (
            f"{src}{square}split=2[fg{index}][bg{index}];"
            f"[bg{index}]scale={bw}:{bh}:force_original_aspect_ratio=increase{color},crop={bw}:{bh},"
            f"boxblur=luma_radius=6:luma_power=2:chroma_radius=6:chroma_power=2,"
            f"lutyuv=y=16+(val-16)*0.6:u=128+(val-128)*0.8:v=128+(val-128)*0.8,"
            f"scale={width}:{height}:flags=bilinear,setsar=1[bgs{index}];"
            f"[fg{index}]scale={width}:{height}:force_original_aspect_ratio=decrease:force_divisible_by=2{color},"
            f"setsar=1[fgs{index}];"
            f"[bgs{index}][fgs{index}]overlay=x=(W-w)/2:y=(H-h)/2,format=yuv420p{out}"
        )
    return (  # pad
        f"{src}{square}scale={width}:{height}:force_original_aspect_ratio=decrease:force_divisible_by=2{color},"
        f"pad={width}:{height}:-1:-1:color=black,setsar=1,format=yuv420p{out}"
    )


def input_args(item: VisualItem) -> list[str]:
    """The `-i` of one segment (video: seeked and bounded, so only the used part is decoded)."""
    args = ["-an", "-sn", "-dn"]
    if not item.is_still:
        if item.src_in_s > 0:
            args += ["-ss", f"{item.src_in_s:.3f}"]
        args += ["-t", f"{item.seconds + 0.5:.3f}"]
    return [*args, "-i", str(item.path)]


def segment_chain(item: VisualItem, index: int, plan: RenderPlan) -> str:
    """`[{index}:v]` → `[v{index}]`: exactly `item.frames` frames of the canvas at 30 fps."""
    fitted = fit_chain(item, index, plan.width, plan.height, plan.fit)
    if item.is_still:
        return (
            f"[{index}:v]trim=end_frame=1[in{index}];{fitted};"
            f"[fit{index}]{LABEL_BT709},loop=loop={item.frames - 1}:size=1:start=0,settb=1/{FPS},setpts=N[v{index}]"
        )
    media = item.media
    # a container's length can exceed its picture's (sound running on): hold the last frame unless
    # the segment ends well inside the clip
    short = media.duration_s is None or media.duration_s - item.src_in_s < item.seconds + 0.5
    hold = f"tpad=stop_mode=clone:stop_duration={item.seconds:.3f}," if short else ""
    return (
        f"[{index}:v]fps={FPS}:start_time=0[in{index}];{fitted};"
        f"[fit{index}]{LABEL_BT709},{hold}trim=end_frame={item.frames},setpts=PTS-STARTPTS[v{index}]"
    )


@dataclass(frozen=True, slots=True)
class Group:
    """Consecutive segments encoded by one ffmpeg (all of them, unless the timeline has many)."""

    index: int
    items: tuple[VisualItem, ...]

    @property
    def start_s(self) -> float:
        return self.items[0].first_frame / FPS

    @property
    def frames(self) -> int:
        return sum(item.frames for item in self.items)


def groups(plan: RenderPlan) -> list[Group]:
    """The timeline cut into groups of at most MAX_INPUTS segments.

    ffmpeg opens every input of a command at once and each keeps a few decoded frames queued
    (measured: ~25 MiB per 1080p input, so 30 clips in one command peaked at 974 MiB). A timeline
    of many clips is therefore encoded a group at a time, with the same encoder settings, and the
    parts are joined by the concat demuxer without re-encoding: still one encode of every frame."""
    visuals = plan.visuals
    return [Group(n, visuals[start : start + MAX_INPUTS]) for n, start in enumerate(range(0, len(visuals), MAX_INPUTS))]


def filtergraph(plan: RenderPlan, group: Group) -> str:
    parts = [segment_chain(item, i, plan) for i, item in enumerate(group.items)]
    n = len(group.items)
    joined = "".join(f"[v{i}]" for i in range(n))
    chain = f"{joined}concat=n={n}:v=1:a=0" if n > 1 else f"{joined}null"
    end_s = group.start_s + group.frames / FPS
    for i, text in enumerate(plan.texts):
        if text.end_s > group.start_s and text.start_s < end_s:
            name = f"{group.index}-{i}"
            chain += "," + drawtext_filter(text, name, plan.width, plan.height, plan.work_dir, offset_s=group.start_s)
    parts.append(chain + "[vout]")
    return ";".join(parts)


def encode_args(preset: str) -> list[str]:
    """x264 High, yuv420p, 30 fps CFR (the colour tags come with the frames: LABEL_BT709)."""
    return [
        "-c:v", "libx264", "-preset", preset, "-crf", str(CRF), "-profile:v", "high", "-pix_fmt", "yuv420p",
        "-r", str(FPS), "-fps_mode", "cfr", "-g", str(GOP),
    ]  # fmt: skip


def video_pass_args(plan: RenderPlan, group: Group, out: Path) -> list[str]:
    """One group's video pass (video only; the sound is mixed beside it and muxed after)."""
    args: list[str] = ["-y", "-xerror"]
    for item in group.items:
        args += input_args(item)
    args += ["-filter_complex", filtergraph(plan, group), "-map", "[vout]"]
    args += encode_args(plan.spec.settings.x264_preset)
    args += ["-an", "-map_metadata", "-1", "-map_chapters", "-1", "-f", "mp4", str(out)]
    return args


def concat_list(parts: list[Path], path: Path) -> Path:
    """A concat-demuxer list of the groups' parts (paths quoted as the demuxer wants)."""
    lines = ["ffconcat version 1.0"]
    for part in parts:
        quoted = str(part).replace("'", "'\\''")
        lines.append(f"file '{quoted}'")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
