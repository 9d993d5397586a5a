"""Real media for the engine's tests, generated with ffmpeg (never committed), and measurements on
the files the engine produces.

Every generator writes one small file and returns its path; every measure reads a real file.
"Speech" is a synthetic voice: a harmonic buzz at a speaking pitch, shaped by two vowel formants
and pulsed at a syllable rate, in bursts at known times, so ducking can be measured exactly.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from engine.ffmpeg import ffmpeg_exe
from engine.media import MediaInfo

RATE = 48_000


def ffmpeg(*args: str | Path, timeout: float = 120) -> str:
    """Run ffmpeg synchronously (tests only); returns its stderr."""
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", *map(str, args)]
    done = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"ffmpeg failed: {done.stderr.decode(errors='replace')[-2000:]}")
    return done.stderr.decode(errors="replace")


# ---------------------------------------------------------------------------- audio signals
def speech_like(seconds: float, *, rate: int = RATE, f0: float = 140.0, seed: int = 1) -> np.ndarray:
    """A voice-like signal: harmonics of `f0` (with vibrato) through two formants, 4-5 syllables/s."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    t = np.arange(n) / rate
    pitch = f0 * (1 + 0.04 * np.sin(2 * np.pi * 5.5 * t))
    phase = 2 * np.pi * np.cumsum(pitch) / rate
    formants = (700.0, 1200.0)
    sig = np.zeros(n)
    for k in range(1, 30):
        freq = f0 * k
        weight = sum(np.exp(-((freq - f) ** 2) / (2 * 150.0**2)) for f in formants) + 0.05
        sig += weight / k**0.5 * np.sin(k * phase)
    syllables = 0.55 + 0.45 * np.sin(2 * np.pi * 4.3 * t + rng.uniform(0, np.pi))
    sig *= np.clip(syllables, 0, None) ** 1.5
    sig += 0.02 * rng.standard_normal(n)
    return np.asarray(sig / np.max(np.abs(sig)) * 0.5, dtype=np.float32)


def speech_bursts(seconds: float, bursts: Sequence[tuple[float, float]], *, rate: int = RATE) -> np.ndarray:
    """Silence with speech-like bursts at (start, end) seconds."""
    out = np.zeros(int(seconds * rate), dtype=np.float32)
    for i, (start, end) in enumerate(bursts):
        a, b = int(start * rate), int(end * rate)
        out[a:b] = speech_like((b - a) / rate, rate=rate, seed=i + 1)[: b - a]
    return out


def tone(seconds: float, freq: float = 440.0, *, level: float = 0.3, rate: int = RATE) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (level * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def write_wav(path: Path, samples: np.ndarray, *, rate: int = RATE) -> Path:
    """Mono or (n, 2) float samples in −1..1 as 16-bit PCM."""
    data = np.asarray(samples, dtype=np.float32)
    channels = 1 if data.ndim == 1 else data.shape[1]
    pcm = (np.clip(data, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return path


# ---------------------------------------------------------------------------- files
def clip(
    path: Path,
    seconds: float = 3.0,
    *,
    size: tuple[int, int] = (640, 360),
    fps: int = 30,
    audio: str | np.ndarray | None = "tone",
    vcodec: str = "libx264",
    rotate: int | None = None,
    pattern: str = "testsrc2",
    extra: Sequence[str] = (),
) -> Path:
    """A test-pattern clip. `audio`: "tone", "silent" (a silent track), None (no audio stream), or samples.

    `rotate` writes display-matrix rotation metadata (a phone held upright); `pattern` is any lavfi
    video source (testsrc2, smptebars, mandelbrot, color=c=red, …)."""
    w, h = size
    source = f"{pattern}{':' if '=' in pattern else '='}size={w}x{h}:rate={fps}"
    args: list[str | Path] = ["-f", "lavfi", "-t", str(seconds), "-i", source]
    if isinstance(audio, np.ndarray):
        wav = write_wav(path.with_suffix(".src.wav"), audio)
        args += ["-i", wav]
    elif audio == "tone":
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}"]
    elif audio == "silent":
        args += ["-f", "lavfi", "-i", f"anullsrc=r=48000:cl=stereo:d={seconds}"]
    args += ["-c:v", vcodec, "-pix_fmt", "yuv420p"]
    if audio is not None:
        args += ["-c:a", "aac", "-shortest"]
    if rotate is None:
        ffmpeg(*args, *extra, path)
        return path
    # The display matrix is written by a stream copy with -display_rotation on its input.
    plain = path.with_suffix(".norot" + path.suffix)
    ffmpeg(*args, *extra, plain)
    ffmpeg("-display_rotation", str(rotate), "-i", plain, "-c", "copy", path)
    plain.unlink()
    return path


def vfr_clip(path: Path, seconds: float = 3.0, *, size: tuple[int, int] = (640, 360)) -> Path:
    """A variable-frame-rate clip: frames at 30 fps for the first half, 10 fps after (timestamps kept)."""
    ffmpeg(
        "-f", "lavfi", "-i", f"testsrc2=size={size[0]}x{size[1]}:rate=30:duration={seconds}",
        "-f", "lavfi", "-i", f"sine=frequency=330:sample_rate=48000:duration={seconds}",
        "-vf", f"select='lt(t,{seconds / 2})+not(mod(n,3))'", "-fps_mode", "vfr",
        "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", path,
    )  # fmt: skip
    return path


def image(path: Path, *, size: tuple[int, int] = (800, 600), pattern: str = "testsrc2") -> Path:
    """A still (jpg/png/webp/gif by the suffix)."""
    source = f"{pattern}{':' if '=' in pattern else '='}size={size[0]}x{size[1]}:rate=1"
    ffmpeg("-f", "lavfi", "-i", source, "-frames:v", "1", path)
    return path


def audio_file(path: Path, samples: np.ndarray | None = None, *, seconds: float = 5.0) -> Path:
    """An audio file (mp3/m4a/aac/wav by the suffix) of `samples`, or of a little tune."""
    if samples is None:
        t = np.arange(int(seconds * RATE)) / RATE
        notes = 220.0 * 2 ** (np.floor(t * 2) % 5 / 12 * 3)
        samples = (0.3 * np.sin(2 * np.pi * np.cumsum(notes) / RATE)).astype(np.float32)
    wav = write_wav(path.with_suffix(".src.wav") if path.suffix != ".wav" else path, samples)
    if path.suffix != ".wav":
        ffmpeg("-i", wav, path)
        wav.unlink()
    return path


# ---------------------------------------------------------------------------- measures
@dataclass(frozen=True)
class Probe:
    format: str
    duration_s: float
    video_codec: str | None
    video_profile: str | None
    pix_fmt: str | None
    width: int | None
    height: int | None
    fps: float | None
    video_frames: int | None
    audio_codec: str | None
    audio_rate: int | None
    audio_channels: int | None


def probe(path: Path) -> Probe:
    with av.open(str(path)) as c:
        v = c.streams.video[0] if c.streams.video else None
        a = c.streams.audio[0] if c.streams.audio else None
        frames = None
        if v is not None:
            frames = sum(1 for p in c.demux(v) if p.size)
        return Probe(
            format=c.format.name,
            duration_s=(c.duration or 0) / 1e6,
            video_codec=v.codec_context.name if v else None,
            video_profile=v.codec_context.profile if v else None,
            pix_fmt=v.codec_context.pix_fmt if v else None,
            width=v.codec_context.width if v else None,
            height=v.codec_context.height if v else None,
            fps=float(v.average_rate) if v and v.average_rate else None,
            video_frames=frames,
            audio_codec=a.codec_context.name if a else None,
            audio_rate=a.codec_context.sample_rate if a else None,
            audio_channels=a.codec_context.channels if a else None,
        )


def decode_audio(path: Path, *, rate: int = RATE, mono: bool = True) -> np.ndarray:
    """The file's audio as float32 samples (mono mixdown by default)."""
    raw = subprocess.run(
        [ffmpeg_exe(), "-nostdin", "-v", "error", "-i", str(path), "-f", "f32le", "-ac", "1" if mono else "2",
         "-ar", str(rate), "pipe:1"],
        capture_output=True, check=True, timeout=120,
    ).stdout  # fmt: skip
    data = np.frombuffer(raw, dtype="<f4")
    return data if mono else data.reshape(-1, 2)


def rms_db(samples: np.ndarray) -> float:
    value = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))) if len(samples) else 0.0
    return 20 * float(np.log10(max(value, 1e-10)))


def window_db(samples: np.ndarray, start: float, end: float, *, rate: int = RATE) -> float:
    return rms_db(samples[int(start * rate) : int(end * rate)])


@dataclass(frozen=True)
class Loudness:
    integrated_lufs: float
    true_peak_dbtp: float


def loudness(path: Path) -> Loudness:
    """EBU R128 integrated loudness and true peak, as ffmpeg's ebur128 measures them."""
    log = ffmpeg("-i", path, "-map", "0:a:0", "-af", "ebur128=peak=true", "-f", "null", "-")
    summary = log[log.rfind("Summary:") :]
    integrated = float(re.search(r"I:\s+(-?[\d.]+|-inf) LUFS", summary).group(1))  # type: ignore[union-attr]
    peak = float(re.search(r"Peak:\s+(-?[\d.]+|-inf) dBFS", summary).group(1))  # type: ignore[union-attr]
    return Loudness(integrated, peak)


def frame_at(path: Path, seconds: float) -> np.ndarray:
    """The RGB frame shown at `seconds` (height × width × 3, uint8)."""
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        c.seek(int(max(0.0, seconds - 1.0) * 1e6), any_frame=False, backward=True)
        last = None
        for frame in c.decode(stream):
            if frame.time is not None and frame.time > seconds + 1e-3:
                break
            last = frame
        assert last is not None, f"no frame at {seconds}s in {path}"
        return last.to_ndarray(format="rgb24")


def as_json(path: Path) -> str:
    return json.dumps(probe(path).__dict__)


def media_info(path: Path, *, media_id: str | None = None, session_id: str = "s_test") -> MediaInfo:
    """A MediaInfo for a generated file, as the upload path would store it (probed with PyAV here,
    independently of engine/probe.py, so render tests do not depend on the upload code)."""
    with av.open(str(path)) as c:
        fmt = c.format.name
        v = c.streams.video[0] if c.streams.video else None
        a = c.streams.audio[0] if c.streams.audio else None
        still = fmt in ("image2", "png_pipe", "jpeg_pipe", "webp_pipe", "gif") and v is not None and not a
        duration = (c.duration or 0) / 1e6 or None
        rotation, width, height, fps, vfr = 0, None, None, None, False
        if v is not None:
            stamps = sorted(p.pts for p in c.demux(v) if p.pts is not None and p.size)
            steps = np.diff(stamps) if len(stamps) > 2 else np.zeros(0)
            vfr = bool(len(steps) > 4 and np.mean(np.abs(steps - np.median(steps)) > 1.5) > 0.02)
            rate = v.average_rate or v.guessed_rate
            fps = round(float(rate), 3) if rate else None
    if v is not None:
        with av.open(str(path)) as c:
            frame = next(c.decode(video=0))
            rotation = (-round(frame.rotation / 90) * 90) % 360
            width, height = (frame.height, frame.width) if rotation in (90, 270) else (frame.width, frame.height)
    with path.open("rb") as fh:
        sha256 = hashlib.file_digest(fh, "sha256").hexdigest()  # what the engine caches analyses by
    with av.open(str(path)) as c:
        vcc = c.streams.video[0].codec_context if c.streams.video else None
        acc = c.streams.audio[0].codec_context if c.streams.audio else None
        return MediaInfo(
            media_id=media_id or f"m_{path.stem}",
            session_id=session_id,
            filename=path.name,
            kind="image" if still else ("video" if v is not None else "audio"),
            path=path,
            size=path.stat().st_size,
            sha256=sha256,
            container=fmt,
            duration_s=None if still else duration,
            width=width,
            height=height,
            rotation=rotation,
            fps=None if still else fps,
            vfr=vfr,
            has_audio=acc is not None,
            video_codec=vcc.name if vcc else None,
            video_profile=vcc.profile if vcc else None,
            pix_fmt=vcc.pix_fmt if vcc else None,
            audio_codec=acc.name if acc else None,
            audio_rate=acc.sample_rate if acc else None,
            audio_channels=acc.channels if acc else None,
        )


def color_sequence_clip(
    path: Path,
    colors: Sequence[str],
    seconds_each: float = 1.0,
    *,
    size: tuple[int, int] = (320, 180),
    fps: int = 30,
    audio: str | None = "tone",
    extra: Sequence[str] = (),
) -> Path:
    """A clip showing each color in turn for `seconds_each` (to check order and trims by color)."""
    w, h = size
    args: list[str | Path] = []
    for color in colors:
        args += ["-f", "lavfi", "-i", f"color=c={color}:size={w}x{h}:rate={fps}:duration={seconds_each}"]
    n = len(colors)
    graph = "".join(f"[{i}:v]" for i in range(n)) + f"concat=n={n}:v=1:a=0[v]"
    total = seconds_each * n
    if audio == "tone":
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={total}"]
    args += ["-filter_complex", graph, "-map", "[v]"]
    if audio == "tone":
        args += ["-map", f"{n}:a", "-c:a", "aac"]
    args += ["-c:v", "libx264", "-pix_fmt", "yuv420p", *extra, path]
    ffmpeg(*args)
    return path


def damaged_copy(source: Path, path: Path, *, start: float = 0.5, length: int = 20_000, seed: int = 1) -> Path:
    """`source` with `length` random bytes written over it from `start` (a fraction of its size):
    its header is intact, so it opens, but its pictures stop decoding part-way through."""
    data = bytearray(source.read_bytes())
    rng = np.random.default_rng(seed)
    at = int(len(data) * start)
    data[at : at + length] = rng.integers(0, 256, size=min(length, len(data) - at), dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))
    return path


def band_db(
    samples: np.ndarray, start: float, end: float, freq: float, *, width: float = 150.0, rate: int = RATE
) -> float:
    """Level (dB, relative) of what lies within ±`width` Hz of `freq` in [start, end) seconds: a tone's
    level read under other sound that has no energy near it."""
    seg = samples[int(start * rate) : int(end * rate)].astype(np.float64)
    window = np.hanning(len(seg))
    spectrum = np.abs(np.fft.rfft(seg * window)) ** 2
    freqs = np.fft.rfftfreq(len(seg), 1 / rate)
    band = (freqs >= freq - width) & (freqs <= freq + width)
    power = float(np.sum(spectrum[band])) / float(np.sum(window**2)) / len(seg)
    return float(10 * np.log10(max(power, 1e-20)))


def video_packets(path: Path) -> list[bytes]:
    """The video stream's packets (payload bytes), in decode order: equal lists mean an identical bitstream."""
    with av.open(str(path)) as c:
        return [bytes(p) for p in c.demux(c.streams.video[0]) if p.size]


def moov_before_mdat(path: Path) -> bool:
    """True when the MP4 index comes first (`+faststart`): a browser can play it while it downloads."""
    with path.open("rb") as fh:
        offset = 0
        while True:
            header = fh.read(8)
            if len(header) < 8:
                return False
            size, kind = int.from_bytes(header[:4], "big"), header[4:]
            if kind == b"moov":
                return True
            if kind == b"mdat":
                return False
            if size == 1:
                size = int.from_bytes(fh.read(8), "big")
            offset += size
            fh.seek(offset)


def with_exif_orientation(jpeg: Path, path: Path, orientation: int) -> Path:
    """A copy of `jpeg` with an EXIF Orientation tag (6: the camera was turned 90° clockwise, as a
    phone held upright writes it)."""
    import struct

    data = jpeg.read_bytes()
    assert data[:2] == b"\xff\xd8", "not a JPEG"
    ifd = struct.pack(">H", 1) + struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0) + struct.pack(">I", 0)
    exif = b"Exif\x00\x00" + b"MM\x00\x2a" + struct.pack(">I", 8) + ifd
    path.write_bytes(data[:2] + b"\xff\xe1" + struct.pack(">H", len(exif) + 2) + exif + data[2:])
    return path
