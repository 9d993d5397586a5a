"""The render's picture: format, canvas, fit, rotation, frame rate, joins and trims, titles, stream
copy, cancel and bad media. Real media generated with ffmpeg; every assertion reads the output file."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from engine.draft import CANVAS_720, CANVAS_1080
from engine.render import RenderFailed
from tests import mediagen as mg
from tests.render_support import (
    chord_bed,
    draft,
    ffmpeg_children,
    region_mean,
    render,
    title,
    visual,
)

pytestmark = pytest.mark.e2e

FRAME = 1 / 30


@pytest.fixture(scope="module")
def src(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("render-src")


@pytest.fixture(scope="module")
def landscape(src: Path) -> Path:
    return mg.clip(src / "landscape.mp4", 2.0, size=(640, 360))


@pytest.fixture(scope="module")
def portrait(src: Path) -> Path:
    return mg.clip(src / "portrait.mp4", 1.0, size=(360, 640), pattern="smptebars")


def assert_duration(path: Path, seconds: float) -> None:
    p = mg.probe(path)
    assert abs(p.duration_s - seconds) <= FRAME + 1e-3, (p.duration_s, seconds)
    assert p.video_frames is not None and abs(p.video_frames - round(seconds * 30)) <= 1, p.video_frames


async def test_output_streams_and_format(tmp_path: Path, landscape: Path) -> None:
    media = mg.media_info(landscape)
    result = await render(tmp_path, draft([visual(media, 0, 2000)]), [media], bed=chord_bed(tmp_path))
    p = mg.probe(result.path)
    assert (p.video_codec, p.video_profile, p.pix_fmt) == ("h264", "High", "yuv420p")
    assert (p.width, p.height, p.fps) == (1920, 1080, 30.0)
    assert (p.audio_codec, p.audio_rate, p.audio_channels) == ("aac", 48000, 2)
    assert mg.moov_before_mdat(result.path)
    assert_duration(result.path, 2.0)
    import av

    with av.open(str(result.path)) as c:
        cc = c.streams.video[0].codec_context
        # BT.709 (1) limited range (1): what players assume for HD, now said explicitly
        assert (cc.colorspace, cc.color_primaries, cc.color_trc, cc.color_range) == (1, 1, 1, 1)
    assert result.duration_s == pytest.approx(2.0, abs=FRAME)
    assert result.size == result.path.stat().st_size
    assert not result.stream_copied
    assert not list(result.path.parent.glob("*.partial")), "the temporary name is gone once complete"


@pytest.mark.parametrize("aspect", ["16:9", "9:16", "1:1", "4:5"])
async def test_canvas_per_aspect_1080p(tmp_path: Path, landscape: Path, aspect: str) -> None:
    media = mg.media_info(landscape)
    result = await render(tmp_path, draft([visual(media, 0, 700)], aspect=aspect), [media], preset="ultrafast")
    p = mg.probe(result.path)
    assert (p.width, p.height) == CANVAS_1080[aspect]
    assert_duration(result.path, 0.7)


@pytest.mark.parametrize("aspect", ["16:9", "9:16"])
async def test_canvas_720p(tmp_path: Path, landscape: Path, aspect: str) -> None:
    media = mg.media_info(landscape)
    result = await render(
        tmp_path, draft([visual(media, 0, 700)], aspect=aspect), [media], resolution="720p", preset="ultrafast"
    )
    p = mg.probe(result.path)
    assert (p.width, p.height) == CANVAS_720[aspect]


async def test_fit_pad_blur_crop_are_distinguishable(tmp_path: Path, portrait: Path) -> None:
    """A portrait clip on a 16:9 canvas: black bars (pad), a blurred darkened copy in the bars (blur),
    or no bars at all (crop)."""
    media = mg.media_info(portrait)
    frames = {}
    for fit in ("pad", "blur", "crop"):
        result = await render(
            tmp_path / fit, draft([visual(media, 0, 1000)], fit=fit), [media], resolution="720p", preset="ultrafast"
        )
        frames[fit] = mg.frame_at(result.path, 0.5).astype(np.float64)
    bars = (0.0, 0.2)  # the left fifth lies outside a 9:16 picture centred on a 16:9 canvas
    pad_bar = frames["pad"][:, : int(0.2 * 1280)]
    assert pad_bar.max() < 24, "pad: the bars are black"
    blur_bar = region_mean(frames["blur"], *bars)
    assert blur_bar > 25, "blur: the bars are filled, not black"
    assert frames["blur"][:, : int(0.2 * 1280)].std() > 5, "blur: the bars show an image, not a flat color"
    crop_bar = region_mean(frames["crop"], *bars)
    assert crop_bar > 25, "crop: no bars"
    # the blurred background is the crop's framing, darkened
    assert blur_bar < 0.85 * crop_bar, "blur: the background is darkened"
    centre = (0.4, 0.6, 0.3, 0.7)
    assert abs(region_mean(frames["pad"], *centre) - region_mean(frames["blur"], *centre)) < 8, "same picture"
    # crop fills the width, so the same picture is enlarged: its centre differs from pad's
    assert np.abs(frames["crop"] - frames["pad"]).mean() > 10


async def test_rotated_phone_clip_is_upright(tmp_path: Path) -> None:
    """Stored landscape with red on top, blue below, and a 90° display rotation: shown portrait,
    so on a 9:16 canvas it fills the frame (no bars) with red on the left."""
    stored = tmp_path / "stored.mp4"
    mg.ffmpeg(
        "-f", "lavfi", "-i", "color=c=red:size=640x180:rate=30:duration=1",
        "-f", "lavfi", "-i", "color=c=blue:size=640x180:rate=30:duration=1",
        "-filter_complex", "[0:v][1:v]vstack[v]", "-map", "[v]", "-c:v", "libx264", "-pix_fmt", "yuv420p", stored,
    )  # fmt: skip
    rotated = tmp_path / "rotated.mp4"
    mg.ffmpeg("-display_rotation", "90", "-i", stored, "-c", "copy", rotated)
    media = mg.media_info(rotated)
    assert (media.rotation, media.width, media.height) == (270, 360, 640)
    result = await render(tmp_path, draft([visual(media, 0, 1000)], aspect="9:16"), [media], preset="ultrafast")
    frame = mg.frame_at(result.path, 0.5).astype(np.float64)
    left, right = frame[:, : frame.shape[1] // 3], frame[:, -frame.shape[1] // 3 :]
    assert left[..., 0].mean() > 150 and left[..., 2].mean() < 80, "red on the left"
    assert right[..., 2].mean() > 150 and right[..., 0].mean() < 80, "blue on the right"
    assert frame[:40].mean() > 40 and frame[-40:].mean() > 40, "no black bars: the picture was turned upright"


async def test_photo_taken_upright_is_shown_upright(tmp_path: Path) -> None:
    """A JPEG stored landscape (red over blue) with EXIF orientation 6: shown portrait, red right."""
    stored = tmp_path / "stored.jpg"
    mg.ffmpeg(
        "-f", "lavfi", "-i", "color=c=red:size=400x100", "-f", "lavfi", "-i", "color=c=blue:size=400x100",
        "-filter_complex", "[0:v][1:v]vstack", "-frames:v", "1", "-q:v", "2", stored,
    )  # fmt: skip
    photo = mg.media_info(mg.with_exif_orientation(stored, tmp_path / "photo.jpg", 6))
    assert (photo.kind, photo.width, photo.height) == ("image", 200, 400)
    result = await render(tmp_path, draft([visual(photo, 0, 1000)], aspect="9:16"), [photo], preset="ultrafast")
    frame = mg.frame_at(result.path, 0.5).astype(np.float64)
    third = frame.shape[1] // 3
    assert frame[:, -third:, 0].mean() > 150 and frame[:, :third, 2].mean() > 150, "red right, blue left"
    assert frame[:40].mean() > 40, "portrait on a portrait canvas: no bars"


async def test_vfr_clip_becomes_constant_30fps(tmp_path: Path) -> None:
    clip = mg.vfr_clip(tmp_path / "vfr.mp4", 3.0, size=(320, 180))
    media = mg.media_info(clip)
    assert media.vfr
    result = await render(tmp_path, draft([visual(media, 0, 3000)]), [media], resolution="720p", preset="ultrafast")
    assert_duration(result.path, 3.0)
    import av

    with av.open(str(result.path)) as c:
        stream = c.streams.video[0]
        stamps = sorted(float(p.pts * (stream.time_base or 0)) for p in c.demux(stream) if p.pts is not None and p.size)
    steps = np.diff(stamps)
    assert np.allclose(steps, FRAME, atol=1e-3), "every frame 1/30 s after the last"


async def test_clips_and_still_joined_in_order_with_trims(tmp_path: Path) -> None:
    """red clip, then a green still, then a trimmed colour sequence whose kept part is blue: each
    shows where the timeline puts it; segment lengths that are not whole frames still add up."""
    red = mg.color_sequence_clip(tmp_path / "red.mp4", ["red"], 1.5)
    green = mg.image(tmp_path / "green.png", size=(400, 300), pattern="color=c=green")
    seq = mg.color_sequence_clip(tmp_path / "seq.mp4", ["yellow", "blue", "white"], 1.0)
    m_red, m_green, m_seq = mg.media_info(red), mg.media_info(green), mg.media_info(seq)
    assert m_green.kind == "image"
    segments = [
        visual(m_red, 0, 1010),
        visual(m_green, 1010, 1020),
        visual(m_seq, 2030, 800, src_in=1100),  # 1.1-1.9 s of the source: blue
    ]
    result = await render(tmp_path, draft(segments), [m_red, m_green, m_seq], resolution="720p", preset="ultrafast")
    assert_duration(result.path, 2.83)

    def rgb(t: float) -> np.ndarray:
        return np.asarray(mg.frame_at(result.path, t)[200:500, 400:900].reshape(-1, 3).mean(axis=0))

    r, g, b = rgb(0.5), rgb(1.5), rgb(2.5)
    assert r[0] > 180 and r[1] < 60 and r[2] < 60, r
    assert g[1] > 90 and g[0] < 60 and g[2] < 60, g
    assert b[2] > 180 and b[0] < 60 and b[1] < 60, b
    assert rgb(2.82)[2] > 180, "the trimmed segment ends before the source's white part"


def ink(frame: np.ndarray, y0: float, y1: float) -> np.ndarray:
    """Bright (white text) pixels in a horizontal band of the frame."""
    h = frame.shape[0]
    band = frame[int(y0 * h) : int(y1 * h)].astype(np.int32)
    return np.asarray(band.min(axis=2) > 200)


async def test_titles_draw_english_and_chinese_glyphs(tmp_path: Path) -> None:
    """On a dark clip: a title puts white ink where there was none, and two different Chinese
    strings of the same length draw different ink (missing glyphs would be identical boxes)."""
    dark = mg.color_sequence_clip(tmp_path / "dark.mp4", ["0x202020"], 1.0)
    media = mg.media_info(dark)
    outputs = {}
    for name, text in (("none", None), ("en", "Summer trip"), ("zh1", "夏天快乐"), ("zh2", "秋日再见")):
        texts = [title(0, 1000, text, position="bottom")] if text else []
        result = await render(
            tmp_path / name,
            draft([visual(media, 0, 1000)], texts=texts),
            [media],
            resolution="720p",
            preset="ultrafast",
        )
        outputs[name] = ink(mg.frame_at(result.path, 0.5), 0.6, 1.0)
    assert outputs["none"].sum() == 0
    for name in ("en", "zh1", "zh2"):
        assert outputs[name].sum() > 2000, f"{name}: a title draws visible ink"
    difference = np.logical_xor(outputs["zh1"], outputs["zh2"]).sum()
    assert difference > 0.3 * min(outputs["zh1"].sum(), outputs["zh2"].sum()), "CJK glyphs, not boxes"


async def test_compliant_clip_is_stream_copied_bit_for_bit(tmp_path: Path) -> None:
    source = mg.clip(tmp_path / "ready.mp4", 2.0, size=(1280, 720), extra=["-profile:v", "high", "-g", "15"])
    media = mg.media_info(source)
    bed = chord_bed(tmp_path)
    result = await render(tmp_path / "a", draft([visual(media, 0, 2000)]), [media], resolution="720p", bed=bed)
    assert result.stream_copied
    assert mg.video_packets(result.path) == mg.video_packets(source)
    p = mg.probe(result.path)
    assert (p.audio_codec, p.audio_rate, p.audio_channels) == ("aac", 48000, 2)
    assert mg.moov_before_mdat(result.path)
    assert_duration(result.path, 2.0)
    loud = mg.loudness(result.path)
    assert abs(loud.integrated_lufs + 14) <= 1 and loud.true_peak_dbtp <= -1.0

    # a start trimmed onto a keyframe (every 0.5 s) is still a copy; off a keyframe, or with a title, it is not
    kept = await render(
        tmp_path / "b", draft([visual(media, 0, 1500, src_in=500)]), [media], resolution="720p", bed=bed
    )
    assert kept.stream_copied
    assert mg.video_packets(kept.path) == mg.video_packets(source)[15:]
    assert_duration(kept.path, 1.5)
    off = await render(tmp_path / "c", draft([visual(media, 0, 1300, src_in=700)]), [media], resolution="720p")
    assert not off.stream_copied
    assert_duration(off.path, 1.3)
    titled = draft([visual(media, 0, 2000)], texts=[title(0, 1000, "Hi")])
    assert not (await render(tmp_path / "d", titled, [media], resolution="720p")).stream_copied
    other_canvas = await render(tmp_path / "e", draft([visual(media, 0, 2000)]), [media], resolution="1080p")
    assert not other_canvas.stream_copied


async def test_cancel_kills_ffmpeg_at_once(tmp_path: Path) -> None:
    clip = mg.clip(tmp_path / "long.mp4", 20.0, size=(640, 360), pattern="mandelbrot")
    media = mg.media_info(clip)
    started = asyncio.Event()

    def progress(value: float) -> None:
        if value > 0.02:
            started.set()

    task = asyncio.create_task(render(tmp_path, draft([visual(media, 0, 20000)]), [media], on_progress=progress))
    async with asyncio.timeout(60):
        await started.wait()
    assert ffmpeg_children(), "the video pass is running"
    task.cancel()
    async with asyncio.timeout(5):
        with pytest.raises(asyncio.CancelledError):
            await task
    assert ffmpeg_children() == [], "no ffmpeg left behind"
    assert not (tmp_path / "results" / "out.mp4").exists()
    assert not list((tmp_path / "results").glob(".*partial"))


async def test_missing_and_damaged_media_fail_with_a_reason(tmp_path: Path, landscape: Path) -> None:
    gone = mg.media_info(mg.clip(tmp_path / "gone.mp4", 1.0, size=(320, 180)))
    gone.path.unlink()
    with pytest.raises(RenderFailed) as missing:
        await render(tmp_path / "a", draft([visual(gone, 0, 1000, name="beach.mp4")]), [gone])
    assert "beach.mp4" in missing.value.reason and "/" not in missing.value.reason

    good = mg.media_info(landscape)
    with pytest.raises(RenderFailed) as unknown:
        await render(tmp_path / "b", draft([visual(good, 0, 1000)]), [])
    assert "landscape.mp4" in unknown.value.reason

    source = mg.clip(tmp_path / "whole.mp4", 4.0, size=(640, 360), pattern="mandelbrot")
    damaged = mg.media_info(mg.damaged_copy(source, tmp_path / "damaged.mp4"))
    segments = [visual(good, 0, 2000), visual(damaged, 2000, 4000, name="party.mov")]
    with pytest.raises(RenderFailed) as broken:
        await render(tmp_path / "c", draft(segments), [good, damaged], resolution="720p", preset="ultrafast")
    reason = broken.value.reason
    assert "party.mov" in reason and "damaged" in reason
    assert str(tmp_path) not in reason and "ffmpeg" not in reason.lower()
    assert not list((tmp_path / "c" / "results").glob("*"))


async def test_4k_hevc_clip_renders_to_1080p(tmp_path: Path) -> None:
    clip = mg.clip(
        tmp_path / "4k.mp4",
        1.0,
        size=(3840, 2160),
        vcodec="libx265",
        extra=["-preset", "ultrafast", "-x265-params", "log-level=error"],
    )
    media = mg.media_info(clip)
    assert (media.video_codec, media.width) == ("hevc", 3840)
    result = await render(tmp_path, draft([visual(media, 0, 1000)]), [media], preset="ultrafast")
    p = mg.probe(result.path)
    assert (p.video_codec, p.width, p.height) == ("h264", 1920, 1080)
    assert_duration(result.path, 1.0)


async def test_many_clips_are_encoded_in_groups_and_joined(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A timeline of many clips is encoded a few inputs at a time (bounded memory) and joined
    without re-encoding: frames stay in order at a constant 30 fps, and a title that spans the
    joins is drawn in every part. Progress only goes up, and ends at 1."""
    from engine.render import graph

    monkeypatch.setattr(graph, "MAX_INPUTS", 2)
    colors = ["red", "lime", "blue", "yellow", "magenta"]
    media = [mg.media_info(mg.color_sequence_clip(tmp_path / f"{c}.mp4", [c], 0.5), media_id=f"m_{c}") for c in colors]
    segments = [visual(m, i * 500, 500) for i, m in enumerate(media)]
    texts = [title(300, 2150, "Joined", position="bottom")]
    seen: list[float] = []
    result = await render(
        tmp_path, draft(segments, texts=texts), media, resolution="720p", preset="ultrafast", on_progress=seen.append
    )
    assert_duration(result.path, 2.5)
    import av

    with av.open(str(result.path)) as c:
        stream = c.streams.video[0]
        stamps = sorted(float(p.pts * (stream.time_base or 0)) for p in c.demux(stream) if p.pts is not None and p.size)
    assert np.allclose(np.diff(stamps), FRAME, atol=1e-3)
    expected = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (255, 0, 255)]
    for i, rgb in enumerate(expected):
        frame = mg.frame_at(result.path, i * 0.5 + 0.25)
        got = frame[50:250, 100:500].reshape(-1, 3).mean(axis=0)
        assert np.abs(got - np.array(rgb)).max() < 60, (colors[i], got)  # BT.601 source shown as BT.709
    for t in (0.6, 1.2, 2.05):  # parts 1, 2 and 3 all carry the title
        assert ink(mg.frame_at(result.path, t), 0.7, 1.0).sum() > 500, t
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) > 3
