"""The render's parts on their own: title layout, filtergraph escaping, the loudness meter, the
voice detector and ducking envelope, the limiter model, frame arithmetic, stream-copy rules and
error wording. Mostly pure functions; the escaping is also proven through a real render."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from engine.config import EngineSettings
from engine.ffmpeg import FFmpegError
from engine.media import MediaInfo
from engine.render import RenderFailed, RenderSpec, ducking, master, titles
from engine.render.errors import explain, failed_input
from engine.render.escape import ff_value
from engine.render.loudness import LoudnessMeter, integrated
from engine.render.plan import build_plan, ms_to_frame
from engine.render.streamcopy import _check_packets, _refusal
from tests import mediagen as mg
from tests.render_support import draft, render, title, visual

RATE = 48_000


# ---------------------------------------------------------------------------- titles


def test_wrap_breaks_between_words_and_between_cjk_characters() -> None:
    assert titles.wrap("one two three four", 6) == ["one two", "three four"]
    assert titles.wrap("one two three four", 5) == ["one two", "three", "four"]
    assert titles.wrap("夏天快乐旅行", 3) == ["夏天快", "乐旅行"]
    assert titles.wrap("Trip 夏天", 3.5) == ["Trip", "夏天"]
    assert titles.wrap("line one\nline two", 50) == ["line one", "line two"]


def test_layout_keeps_long_titles_inside_the_frame() -> None:
    short = titles.layout("Summer", "large", 1920, 1080)
    assert short.lines == ["Summer"] and short.fontsize == round(1080 * 0.09)
    long = titles.layout("A very long title that would never fit on one line of a vertical video", "large", 1080, 1920)
    assert len(long.lines) <= titles.MAX_LINES
    assert max(titles.text_em(line) for line in long.lines) * long.fontsize <= titles.MAX_WIDTH * 1080
    assert long.fontsize <= short.fontsize
    assert titles.layout("小", "small", 1280, 720).fontsize == round(720 * 0.045)


# ---------------------------------------------------------------------------- escaping


def test_ff_value_escapes_both_levels() -> None:
    assert ff_value("a:b") == r"a\\:b"
    assert ff_value("x,y") == r"x\,y"
    assert ff_value("it's") == r"it\\\'s"
    assert ff_value("[a];b") == r"\[a\]\;b"
    assert ff_value("plain/path.txt") == "plain/path.txt"


@pytest.mark.e2e
async def test_titles_render_from_a_work_folder_with_awkward_characters(tmp_path: Path) -> None:
    """The text file and font paths go through the filtergraph escaped: quotes, colons, commas and
    brackets in the folder name do not break the render (and the title's own text never enters it)."""
    odd = tmp_path / "we'ird: dir, [x]; ok"
    odd.mkdir()
    clip = mg.media_info(mg.color_sequence_clip(odd / "dark.mp4", ["0x202020"], 1.0))
    texts = [title(0, 1000, "it's: [a], b; 100% %{pts}", position="top")]
    result = await render(
        odd, draft([visual(clip, 0, 1000)], texts=texts), [clip], resolution="720p", preset="ultrafast"
    )
    frame = mg.frame_at(result.path, 0.5)
    assert (frame[: 720 // 3].min(axis=2) > 200).sum() > 1000


# ---------------------------------------------------------------------------- loudness


def test_meter_reads_a_full_scale_1khz_tone_as_minus_3_lufs() -> None:
    """BS.1770's reference: a 997 Hz sine at full scale in one channel is −3.01 LUFS."""
    t = np.arange(4 * RATE) / RATE
    left = np.sin(2 * np.pi * 997 * t)
    meter = LoudnessMeter()
    meter.add(np.stack([left, np.zeros_like(left)], axis=1))
    assert meter.integrated() == pytest.approx(-3.01, abs=0.05)


def test_gates_ignore_silence_and_report_none_for_nothing() -> None:
    assert integrated(np.zeros(50)) is None
    tone = np.full(40, 0.01)
    with_silence = np.concatenate([tone, np.zeros(200)])
    assert integrated(with_silence) == pytest.approx(integrated(tone), abs=0.3)


def test_limiter_model_finds_the_gain_that_lands_on_minus_14() -> None:
    from engine.render.loudness import sub_block_powers
    from engine.render.mix import PEAK_WINDOW

    voice = mg.speech_bursts(10.0, [(0.5, 4.0), (5.0, 9.5)]).astype(np.float64)
    mix = np.stack([voice, voice * 0.8], axis=1)  # peaks at −6 dBFS, about −21 LUFS: −14 needs limiting
    powers = sub_block_powers(mix)
    peaks = np.abs(mix).max(axis=1).reshape(-1, PEAK_WINDOW).max(axis=1)
    plain = integrated(powers)
    assert plain is not None
    unlimited = master.predicted_loudness(powers, peaks, 3.0, 0.0)
    assert unlimited == pytest.approx(plain + 3.0, abs=0.01), "no limiting below the ceiling"
    limited = master.predicted_loudness(powers, peaks, 12.0, -2.0)
    assert limited is not None and limited < plain + 12.0 - 0.5, "the limiter takes loudness back"
    gain = master.first_gain(plain, powers, peaks, -2.0)
    assert gain > master.TARGET_LUFS - plain, "more gain than the plain difference"
    assert master.predicted_loudness(powers, peaks, gain, -2.0) == pytest.approx(master.TARGET_LUFS, abs=0.05)
    assert master.first_gain(None, powers, peaks, -2.0) == 0.0
    assert master.first_gain(-65.0, powers, peaks, -2.0) == 0.0, "silence is not lifted"


# ---------------------------------------------------------------------------- ducking


def test_voice_is_periodic_and_noise_is_not() -> None:
    speech = mg.speech_like(2.0)
    noise = (np.random.default_rng(1).standard_normal(2 * RATE) * 0.2).astype(np.float32)
    _, voiced = ducking.frame_features(speech[: len(speech) // ducking.FRAME * ducking.FRAME])
    _, noisy = ducking.frame_features(noise[: len(noise) // ducking.FRAME * ducking.FRAME])
    assert np.mean(voiced >= ducking.VOICING) > 0.6
    assert np.mean(noisy >= ducking.VOICING) < 0.05


def test_a_lone_voiced_frame_is_not_speech() -> None:
    level = np.full(100, -20.0)
    voicing = np.zeros(100)
    voicing[50] = 0.9
    assert not ducking.speech_frames(level, voicing).any()
    voicing[50:60] = 0.9
    assert ducking.speech_frames(level, voicing)[50:60].all()


def test_envelope_is_down_before_speech_and_back_within_a_second() -> None:
    frames = int(5.0 / ducking.FRAME_S)
    speech = np.zeros(frames, dtype=bool)
    on, off = round(1.0 / ducking.FRAME_S), round(2.5 / ducking.FRAME_S)
    speech[on:off] = True
    env = ducking.envelope_db(speech)
    assert env[: on - round(0.2 / ducking.FRAME_S)].max() == 0.0
    assert env[on] <= -ducking.DEPTH_DB + 0.5, "already down when the first word starts"
    assert env[on:off].max() <= -ducking.DEPTH_DB + 0.5
    back = off + round(1.0 / ducking.FRAME_S)
    assert env[back:].min() > -0.1, "fully back within 1 s of the last word"
    gains = ducking.sample_gains(env, 0, 5 * RATE)
    assert gains.shape == (5 * RATE,) and gains.min() == pytest.approx(10 ** (-ducking.DEPTH_DB / 20), rel=0.05)


# ---------------------------------------------------------------------------- plan, copy rules, errors


def _media(tmp: Path, **changes: object) -> MediaInfo:
    path = tmp / "clip.mp4"
    path.write_bytes(b"x")
    base = MediaInfo(
        media_id="m_clip", session_id="s", filename="clip.mp4", kind="video", path=path, size=1, sha256="0",
        container="mov,mp4,m4a,3gp,3g2,mj2", duration_s=10.0, width=1920, height=1080, fps=30.0,
        has_audio=True, video_codec="h264", video_profile="High", pix_fmt="yuv420p",
    )  # fmt: skip
    return replace(base, **changes)  # type: ignore[arg-type]


def _spec(tmp: Path, media: MediaInfo, segments: list[dict[str, object]], **kw: object) -> RenderSpec:
    return RenderSpec(
        draft=draft(segments, **kw),  # type: ignore[arg-type]
        media={media.media_id: media},
        out_path=tmp / "out.mp4",
        work_dir=tmp / "work",
        settings=EngineSettings(data_dir=tmp),
    )


def test_segments_are_cut_on_frames_that_add_up(tmp_path: Path) -> None:
    media = _media(tmp_path)
    segments = [visual(media, 0, 1010), visual(media, 1010, 1020), visual(media, 2030, 977)]
    plan = build_plan(_spec(tmp_path, media, segments))
    assert [v.frames for v in plan.visuals] == [30, 31, 29]
    assert plan.frames == ms_to_frame(3007) == 90
    assert plan.samples == 90 * 1600
    assert abs(plan.duration_s - 3.007) <= 0.5 / 30


def test_stream_copy_rules(tmp_path: Path) -> None:
    ok = _media(tmp_path)
    whole = [visual(ok, 0, 10000)]
    assert _refusal(build_plan(_spec(tmp_path, ok, whole))) is None
    cases: dict[str, dict[str, object]] = {
        "rotated": {"rotation": 90},
        "hevc": {"video_codec": "hevc"},
        "baseline": {"video_profile": "Constrained Baseline"},
        "10-bit": {"pix_fmt": "yuv420p10le"},
        "25 fps": {"fps": 25.0},
        "vfr": {"vfr": True},
        "size": {"width": 1280, "height": 720},
        "mkv": {"container": "matroska,webm"},
    }
    for name, change in cases.items():
        media = _media(tmp_path, **change)
        assert _refusal(build_plan(_spec(tmp_path, media, whole))) is not None, name
    titled = _spec(tmp_path, ok, whole, texts=[title(0, 1000, "Hi")])
    assert _refusal(build_plan(titled)) == "a title"
    two = [visual(ok, 0, 5000), visual(ok, 5000, 5000)]
    assert _refusal(build_plan(_spec(tmp_path, ok, two))) == "several segments"


def test_copy_check_reads_a_clip_whose_tags_are_not_utf8(tmp_path: Path) -> None:
    """Its packets decide, not its tags: a Latin-1 title does not fail the render."""
    clip = tmp_path / "camera.mp4"
    mg.ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30:duration=1",
        "-c:v", "libx264", "-pix_fmt", "yuv420p", "-metadata", "title=" + os.fsdecode(b"caf\xe9"), clip,
    )  # fmt: skip
    assert _check_packets(clip, 0.0, 1.0) == (None, 0.0)


def test_plan_refuses_what_cannot_be_rendered(tmp_path: Path) -> None:
    audio = _media(tmp_path, kind="audio")
    segment = visual(_media(tmp_path), 0, 1000, name="song.mp3")
    with pytest.raises(RenderFailed, match="sound file"):
        build_plan(_spec(tmp_path, audio, [segment]))
    media = _media(tmp_path)
    with pytest.raises(RenderFailed, match="starts after the end"):
        build_plan(_spec(tmp_path, media, [visual(media, 0, 1000, src_in=12000)]))


def test_errors_name_the_clip_never_the_path() -> None:
    names, paths = ["a.mp4", "b.mov"], ["/data/media/m_a.mp4", "/data/media/m_b.mov"]
    assert failed_input("[vist#1:0/h264 @ 0x1] Decoding error", paths) == 1
    assert failed_input("[in#0/mov,mp4 @ 0x2] corrupt input packet", paths) == 0
    assert failed_input("/data/media/m_b.mov: Invalid data found", paths) == 1
    assert failed_input("Conversion failed!", paths) is None
    reason = explain(FFmpegError(183, "[vist#1:0/h264] Invalid data\n/data/media/m_b.mov"), names, paths).reason
    assert "b.mov" in reason and "/data" not in reason
    assert "disk space" in explain(FFmpegError(1, "No space left on device"), names, paths).reason
    assert "ffmpeg" not in explain(FFmpegError(1, "Conversion failed!"), names, paths).reason.lower()
