"""What an uploaded file really is, read from its content with PyAV (never from its name).

`probe(path)` opens the file the way ffmpeg will (so what it accepts, the render can read),
checks that the container is one of the 13 supported formats and that its picture or sound
really decodes (one frame), and measures what the editor and the render need: duration, the
displayed size (after rotation), rotation, frame rate, variable frame rate (from packet
timestamps, no decoding), sound or not, codecs. It runs in a worker thread: PyAV blocks.

Decisions (docs/engine-api.md, "Uploads"):
- an animated GIF (or animated WebP/PNG) is a *video* clip that plays once at its own timing;
  a single-frame one is an image;
- cover art in an audio file (an attached picture) does not make it a video;
- 4K and HEVC are accepted (ffmpeg decodes them; the render scales to the canvas); pictures
  larger than 8K video (7680×4320) or 120 megapixel stills are refused with that reason.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import statistics
from dataclasses import dataclass
from pathlib import Path

import av
import av.error

from engine.media import Content

log = logging.getLogger(__name__)

FORMATS_TEXT = "mp4, mov, avi, webm, mkv, jpg, png, gif, webp, mp3, wav, m4a or aac"
"""The formats users may upload (the vendor's list), as named in refusals; what a file is, is read
from its content, never from its name."""

_MOV = "mov,mp4,m4a,3gp,3g2,mj2"
_MKV = "matroska,webm"
_STILL_CONTAINERS = frozenset({"jpeg_pipe", "png_pipe", "apng", "webp_pipe", "gif"})
_AV_CONTAINERS = frozenset({_MOV, "avi", _MKV, "mp3", "wav", "aac"})
_WEBM_CODECS = frozenset({"vp8", "vp9", "av1", "opus", "vorbis"})

MAX_VIDEO_PIXELS = 7680 * 4320
MAX_IMAGE_PIXELS = 120_000_000
VFR_PACKETS = 1500
"""Packets looked at to tell a variable frame rate (about a minute at 25 fps)."""
DECODE_PACKETS = 400
"""Packets fed to a decoder before "it does not decode" is concluded."""


class ProbeRefused(Exception):
    """The file is not something the engine takes; `reason` is safe to show a user."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True, kw_only=True)
class Probe(Content):
    """The probe's findings: what `MediaInfo` keeps (sizes are the displayed ones), and the
    extension the content deserves ("mp4", "jpg", …) for the stored file and its type."""

    extension: str


CONTENT_TYPES: dict[str, str] = {
    "mp4": "video/mp4",
    "mov": "video/quicktime",
    "m4a": "audio/mp4",
    "avi": "video/x-msvideo",
    "webm": "video/webm",
    "mkv": "video/x-matroska",
    "jpg": "image/jpeg",
    "png": "image/png",
    "gif": "image/gif",
    "webp": "image/webp",
    "mp3": "audio/mpeg",
    "wav": "audio/wav",
    "aac": "audio/aac",
}


def open_media(path: Path) -> av.container.InputContainer:
    """Open an upload for reading. Its tags are the uploader's bytes: tags that are not UTF-8 (an
    old camera's Latin-1 title) are skipped instead of failing the open with a UnicodeDecodeError."""
    return av.open(str(path), metadata_errors="ignore")


async def probe(path: Path) -> Probe:
    """Probe `path` in a worker thread; raises `ProbeRefused` for anything not supported."""
    return await asyncio.to_thread(probe_file, path)


def probe_file(path: Path) -> Probe:
    """The blocking probe (see the module docstring)."""
    if path.stat().st_size == 0:
        raise ProbeRefused("the file is empty")
    try:
        return _probe(path)
    except ProbeRefused:
        raise
    except av.error.FFmpegError as exc:
        raise _unsupported() from exc
    except Exception as exc:  # a hostile or odd file is refused, never answered with a 500
        log.warning("probe of upload %s failed unexpectedly; refused as unsupported", path.stem, exc_info=True)
        raise _unsupported() from exc


def _unsupported() -> ProbeRefused:
    return ProbeRefused(f"this is not a supported video, picture or sound file, or it is damaged; send {FORMATS_TEXT}")


def _probe(path: Path) -> Probe:
    with open_media(path) as container:
        fmt = container.format.name
        if fmt not in _STILL_CONTAINERS and fmt not in _AV_CONTAINERS:
            raise _unsupported()
        videos = [s for s in container.streams.video if not _is_cover_art(s)]
        audios = list(container.streams.audio)
        video = videos[0] if videos else None
        audio = audios[0] if audios else None
        if video is None and audio is None:
            raise ProbeRefused("the file has neither picture nor sound")
        duration = _duration(container, video or audio)
        codecs = {s.codec_context.name for s in (video, audio) if s is not None}

    if fmt in _STILL_CONTAINERS:
        return _still(path, fmt)
    if video is not None:
        return _video(path, fmt, duration, has_audio=audio is not None, codecs=codecs)
    return _audio(path, fmt, duration)


def _still(path: Path, fmt: str) -> Probe:
    with open_media(path) as container:
        stream = container.streams.video[0]
        width, height = stream.codec_context.width, stream.codec_context.height
        _check_size(width, height, still=True)
        frames = 0
        for packet in container.demux(stream):
            if packet.size:
                frames += 1
            if frames > 1:
                break
        duration = _duration(container, stream)
    extension = {"jpeg_pipe": "jpg", "png_pipe": "png", "apng": "png", "webp_pipe": "webp", "gif": "gif"}[fmt]
    if frames > 1:
        # Animated: a short clip that plays once at its own timing.
        return _video(path, fmt, duration, has_audio=False, codecs=set(), extension=extension)
    frame, rotation = _first_frame(path, "video")
    width, height = _displayed(frame.width, frame.height, rotation)
    return Probe(
        kind="image",
        container=fmt,
        extension=extension,
        duration_s=None,
        width=width,
        height=height,
        rotation=rotation,
        video_codec=stream.codec_context.name,
        pix_fmt=stream.codec_context.pix_fmt,
    )


def _video(
    path: Path,
    fmt: str,
    duration: float | None,
    *,
    has_audio: bool,
    codecs: set[str],
    extension: str | None = None,
) -> Probe:
    if duration is None or duration <= 0:
        raise ProbeRefused("the clip's length cannot be read")
    with open_media(path) as container:
        stream = next(s for s in container.streams.video if not _is_cover_art(s))
        cc = stream.codec_context
        _check_size(cc.width, cc.height, still=False)
        rate = stream.average_rate or stream.guessed_rate
        fps = float(rate) if rate else None
        vfr = _variable_rate(container, stream)
        video_codec, profile, pix_fmt = cc.name, cc.profile, cc.pix_fmt
        audio_info = None
        if has_audio:
            a = container.streams.audio[0].codec_context
            audio_info = (a.name, a.sample_rate, a.channels)
    frame, rotation = _first_frame(path, "video")
    if has_audio:
        _first_frame(path, "audio")
    width, height = _displayed(frame.width, frame.height, rotation)
    return Probe(
        kind="video",
        container=fmt,
        extension=extension or _av_extension(fmt, codecs, audio_only=False),
        duration_s=duration,
        width=width,
        height=height,
        rotation=rotation,
        fps=round(fps, 3) if fps else None,
        vfr=vfr,
        has_audio=has_audio,
        video_codec=video_codec,
        video_profile=profile,
        pix_fmt=pix_fmt,
        audio_codec=audio_info[0] if audio_info else None,
        audio_rate=audio_info[1] if audio_info else None,
        audio_channels=audio_info[2] if audio_info else None,
    )


def _audio(path: Path, fmt: str, duration: float | None) -> Probe:
    if duration is None or duration <= 0:
        raise ProbeRefused("the audio's length cannot be read")
    with open_media(path) as container:
        cc = container.streams.audio[0].codec_context
        codec, rate, channels = cc.name, cc.sample_rate, cc.channels
    _first_frame(path, "audio")
    return Probe(
        kind="audio",
        container=fmt,
        extension=_av_extension(fmt, {codec}, audio_only=True),
        duration_s=duration,
        has_audio=True,
        audio_codec=codec,
        audio_rate=rate,
        audio_channels=channels,
    )


# ---------------------------------------------------------------------- measures


def _is_cover_art(stream: av.video.stream.VideoStream) -> bool:
    return bool(stream.disposition & av.stream.Disposition.attached_pic)


def _duration(container: av.container.InputContainer, stream: av.stream.Stream | None) -> float | None:
    if container.duration:
        return container.duration / 1_000_000
    if stream is not None and stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    return None


def _check_size(width: int, height: int, *, still: bool) -> None:
    if width <= 0 or height <= 0:
        raise ProbeRefused("the picture's size cannot be read")
    if still and width * height > MAX_IMAGE_PIXELS:
        raise ProbeRefused("the image is larger than 120 megapixels; send a smaller copy")
    if not still and width * height > MAX_VIDEO_PIXELS:
        raise ProbeRefused("the video is larger than 8K (7680×4320); send a smaller copy")


def _first_frame(path: Path, kind: str) -> tuple[av.VideoFrame, int]:
    """Decode the first frame of the first video (or audio) stream: proof that it decodes.
    Returns the frame and, for video, its clockwise rotation."""
    with open_media(path) as container:
        stream: av.video.stream.VideoStream | av.audio.stream.AudioStream
        if kind == "video":
            stream = next(s for s in container.streams.video if not _is_cover_art(s))
            stream.thread_type = "AUTO"
        else:
            stream = container.streams.audio[0]
        for count, packet in enumerate(container.demux(stream)):
            for frame in packet.decode():
                if isinstance(frame, av.VideoFrame):
                    return frame, _clockwise(frame.rotation)
                return frame, 0  # type: ignore[return-value]  # audio: only decodability matters
            if count >= DECODE_PACKETS:
                break
    what = "picture" if kind == "video" else "sound"
    raise ProbeRefused(f"the file's {what} does not decode")


def _clockwise(counterclockwise: float) -> int:
    """PyAV reports the display matrix's turn counter-clockwise in [-180, 180]; MediaInfo keeps
    the clockwise turn a player applies, one of 0, 90, 180, 270."""
    return (-round(counterclockwise / 90) * 90) % 360


def _displayed(width: int, height: int, rotation: int) -> tuple[int, int]:
    return (height, width) if rotation in (90, 270) else (width, height)


def _variable_rate(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> bool:
    """True when frame durations vary beyond timestamp rounding, read from the first packets'
    timestamps (no decoding). A steady clip with one dropped frame is not flagged; a phone clip
    that drifts between rates is."""
    stamps: list[int] = []
    for packet in container.demux(stream):
        if packet.pts is not None and packet.size:
            stamps.append(packet.pts)
        if len(stamps) >= VFR_PACKETS:
            break
    stamps.sort()
    steps = [b - a for a, b in itertools.pairwise(stamps) if b > a]
    if len(steps) < 4:
        return False
    typical = statistics.median(steps)
    tolerance = max(1.5, 0.05 * typical)  # one tick of rounding (e.g. 33/34 ms in Matroska) is not VFR
    odd = sum(1 for s in steps if abs(s - typical) > tolerance)
    return odd / len(steps) > 0.02


def _av_extension(fmt: str, codecs: set[str], *, audio_only: bool) -> str:
    if fmt == _MOV:
        return "m4a" if audio_only else "mp4"
    if fmt == _MKV:
        return "webm" if codecs and codecs <= _WEBM_CODECS else "mkv"
    return {"avi": "avi", "mp3": "mp3", "wav": "wav", "aac": "aac"}[fmt]
