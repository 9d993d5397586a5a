"""The music interface end to end (engine/music/__init__.py): a draft's music segment becomes a
cached WAV of its exact length from the right source, the timeline's cuts come from the clips'
joins and their scene cuts, and the video analysis reads real generated clips."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pytest
from scipy.io import wavfile

from engine.config import EngineSettings
from engine.draft import Draft
from engine.media import MediaInfo
from engine.music import analyse_video, music_for_draft
from engine.music.analysis import cache_path
from engine.music.composer.styles import STYLES
from engine.music.facade import request_for_draft, timeline_cuts
from tests.mediagen import audio_file, ffmpeg, loudness, write_wav
from tests.music_measures import read
from tests.test_music_fit import beat_track, source_time_of, true_bar_lines

pytestmark = pytest.mark.e2e  # composes and renders real audio: seconds per test, not the fast tier

FRAME = 1 / 30


def info(path: Path, kind: str, media_id: str, duration: float | None, *, has_audio: bool = False) -> MediaInfo:
    return MediaInfo(
        media_id=media_id,
        session_id="s_music",
        filename=path.name,
        kind=kind,  # type: ignore[arg-type]
        path=path,
        size=path.stat().st_size,
        sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        container="mov,mp4" if kind == "video" else "mp3",
        duration_s=duration,
        has_audio=has_audio,
    )


def scenes(path: Path, parts: list[tuple[str, float]], size: str = "320x180") -> Path:
    """A clip made of lavfi sources back to back: a hard cut at every join (at known times)."""
    args: list[str] = []
    for source, seconds in parts:
        joiner = ":" if "=" in source else "="
        spec = f"{source}{joiner}size={size}:rate=30" + (f":duration={seconds}" if source != "mandelbrot" else "")
        args += ["-f", "lavfi", "-t", str(seconds), "-i", spec]
    inputs = "".join(f"[{i}:v]" for i in range(len(parts)))
    ffmpeg(*args, "-filter_complex", f"{inputs}concat=n={len(parts)}:v=1:a=0,format=yuv420p[v]", "-map", "[v]",
           "-c:v", "libx264", "-preset", "ultrafast", path)  # fmt: skip
    return path


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, MediaInfo]:
    folder = tmp_path_factory.mktemp("clips")
    a = scenes(folder / "a.mp4", [("testsrc2", 4.0), ("smptebars", 3.0), ("mandelbrot", 3.3)])
    b = scenes(folder / "b.mp4", [("testsrc2", 4.0), ("smptebars", 2.0)])
    return {"m_a": info(a, "video", "m_a", 10.3), "m_b": info(b, "video", "m_b", 6.0)}


@pytest.fixture
def settings(tmp_path: Path) -> EngineSettings:
    return EngineSettings(data_dir=tmp_path / "engine", soundfont=Path("off"))


def draft_with(music: Mapping[str, object], *, st: int = 0, d: int = 13_000) -> Draft:
    return Draft.from_json(
        {
            "t": [
                {
                    "tt": 0,
                    "sg": [
                        {"st": 0, "d": 8000, "m": {"name": "a.mp4", "media": "m_a", "src_in": 1000}},
                        {"st": 8000, "d": 5000, "m": {"name": "b.mp4", "media": "m_b"}},
                    ],
                },
                {"tt": 1, "sg": [{"st": st, "d": d, "m": {"name": "Music", **music}}]},
            ]
        }
    )


# ---------------------------------------------------------------------------- the video analysis


async def test_scene_cuts_are_found_to_the_frame(clips: dict[str, MediaInfo], settings: EngineSettings) -> None:
    features = await analyse_video(clips["m_a"], settings)
    assert [round(c.time_s / FRAME) for c in features.cuts] == [120, 210]  # 4.0 s and 7.0 s
    assert all(0.2 <= c.score <= 1.0 for c in features.cuts)
    assert features.duration_s == pytest.approx(10.3)
    assert features.cut_rate == pytest.approx(60 * 2 / 10.3)


async def test_brightness_saturation_and_motion_are_measured(tmp_path: Path, settings: EngineSettings) -> None:
    def make(name: str, source: str) -> MediaInfo:
        return info(scenes(tmp_path / name, [(source, 2.0)]), "video", name, 2.0)

    white, black = make("white.mp4", "color=c=white"), make("black.mp4", "color=c=black")
    red, grey = make("red.mp4", "color=c=red"), make("grey.mp4", "color=c=gray")
    moving = make("moving.mp4", "testsrc2")
    f = {name: await analyse_video(m, settings) for name, m in
         {"white": white, "black": black, "red": red, "grey": grey, "moving": moving}.items()}  # fmt: skip
    assert f["white"].brightness > 0.9 and f["black"].brightness < 0.1
    assert f["red"].saturation > 0.5 > 0.05 > f["grey"].saturation
    assert f["moving"].motion > 0.02 and f["white"].motion == 0.0
    assert not f["white"].cuts


async def test_an_analysis_is_cached_by_content(
    clips: dict[str, MediaInfo], tmp_path: Path, settings: EngineSettings
) -> None:
    copy = tmp_path / "copy.mp4"
    copy.write_bytes(clips["m_b"].path.read_bytes())
    media = info(copy, "video", "m_copy", 6.0)
    first = await analyse_video(media, settings)
    assert cache_path(settings, media.sha256).is_file()
    copy.unlink()  # no decode can happen now: the answer must come from the cache
    assert await analyse_video(media, settings) == first


async def test_an_unreadable_video_gets_neutral_features(tmp_path: Path, settings: EngineSettings) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(2000))
    features = await analyse_video(info(broken, "video", "m_broken", 3.0), settings)
    assert features.cuts == () and 0 <= features.brightness <= 1
    assert not cache_path(settings, hashlib.sha256(broken.read_bytes()).hexdigest()).exists()  # retried next time


# ---------------------------------------------------------------------------- composed music for a draft


async def test_timeline_cuts_are_joins_and_scene_cuts_through_the_trim(
    clips: dict[str, MediaInfo], settings: EngineSettings
) -> None:
    draft = draft_with({"source": "composer", "mood": "upbeat"})
    assert draft.music is not None
    cuts = await timeline_cuts(draft, draft.music, clips, settings)
    # the join at 8 s first; then a's cuts at 4 s and 7 s of the source (src_in 1 s) → 3 s and 6 s,
    # and b's cut at 4 s → 12 s; the three strongest are kept
    assert cuts[0].time_s == 8.0 and cuts[0].score == 1.0
    times = sorted(round(c.time_s / FRAME) for c in cuts)
    assert len(cuts) == 3 and set(times) <= {90, 180, 240, 360}
    later = draft_with({"source": "composer"}, st=2000, d=9000)
    assert later.music is not None
    shifted = await timeline_cuts(later, later.music, clips, settings)
    assert shifted[0].time_s == 6.0  # the join, on the music's own clock
    assert all(0.25 < c.time_s < 9.0 - 0.25 for c in shifted)


async def test_music_for_a_draft_lands_the_join_on_a_downbeat(
    clips: dict[str, MediaInfo], settings: EngineSettings
) -> None:
    result = await music_for_draft(draft_with({"source": "composer", "mood": "upbeat", "seed": 5}), clips, settings)
    assert result is not None
    samples, peak = read(result.path)
    assert len(samples) == 13 * 48_000 and result.duration_s == 13.0
    assert min(abs(t - 8.0) for t in result.downbeats_s) <= 0.06
    assert result.tempo_bpm is not None and STYLES["upbeat"].tempo[0] <= result.tempo_bpm <= STYLES["upbeat"].tempo[1]
    assert -16 <= loudness(result.path).integrated_lufs <= -12 and peak < 32767
    assert "upbeat" in result.description["en"] and f"{round(result.tempo_bpm)} BPM" in result.description["en"]
    assert "BPM" in result.description["zh"]


async def test_the_same_request_is_made_once_and_then_cached(
    clips: dict[str, MediaInfo], settings: EngineSettings, caplog: pytest.LogCaptureFixture
) -> None:
    draft = draft_with({"source": "composer", "mood": "calm", "seed": 2})
    with caplog.at_level(logging.INFO, logger="engine.music.facade"):
        first, second = await asyncio.gather(
            music_for_draft(draft, clips, settings), music_for_draft(draft, clips, settings)
        )
    assert first == second and first is not None
    assert sum("music ready" in r.getMessage() for r in caplog.records) == 1  # composed once
    made = first.path.stat().st_ino  # a new piece would be written to a new file and renamed over it
    again = await music_for_draft(draft, clips, settings)
    assert again == first and first.path.stat().st_ino == made
    other = await music_for_draft(draft_with({"source": "composer", "mood": "calm", "seed": 3}), clips, settings)
    assert other is not None and other.path != first.path  # "another one"
    assert not list(first.path.parent.glob("*.tmp*"))


async def test_composing_does_not_block_the_event_loop(settings: EngineSettings) -> None:
    draft = Draft.from_json({"t": [
        {"tt": 0, "sg": [{"st": 0, "d": 60_000, "m": {"name": "still.jpg", "media": "m_img", "kind": "image"}}]},
        {"tt": 1, "sg": [{"st": 0, "d": 60_000, "m": {"name": "Music", "source": "composer", "mood": "happy"}}]},
    ]})  # fmt: skip
    lags: list[float] = []

    async def tick() -> None:
        loop = asyncio.get_running_loop()
        while True:
            start = loop.time()
            await asyncio.sleep(0.01)
            lags.append(loop.time() - start - 0.01)

    ticker = asyncio.create_task(tick())
    started = time.perf_counter()
    try:
        result = await music_for_draft(draft, {}, settings)
    finally:
        ticker.cancel()
    assert result is not None and result.duration_s == 60.0
    assert len(lags) > 10 and max(lags) < min(0.5, (time.perf_counter() - started) / 2)


async def test_a_draft_without_music_has_none(clips: dict[str, MediaInfo], settings: EngineSettings) -> None:
    draft = Draft.from_json({"t": [{"tt": 0, "sg": [{"st": 0, "d": 3000, "m": {"name": "a", "media": "m_a"}}]}]})
    assert await music_for_draft(draft, clips, settings) is None


# ---------------------------------------------------------------------------- library and uploads


async def test_a_library_track_is_fitted_to_the_segment(tmp_path: Path, clips: dict[str, MediaInfo]) -> None:
    root = tmp_path / "library"
    (root / "calm").mkdir(parents=True)
    write_wav(root / "calm" / "morning_walk.wav", beat_track(30.0, 100.0, 0.3))
    settings = EngineSettings(data_dir=tmp_path / "engine", music_dir=root)
    by_name = await music_for_draft(
        draft_with({"source": "library", "track": "calm/morning_walk.wav"}), clips, settings
    )
    by_mood = await music_for_draft(draft_with({"source": "library", "mood": "calm"}), clips, settings)
    assert by_name is not None and by_mood is not None and by_name.path == by_mood.path
    samples, _ = read(by_name.path)
    assert len(samples) == 13 * 48_000
    assert "morning walk" in by_name.description["en"] and "音乐库" in by_name.description["zh"]
    assert by_name.tempo_bpm == pytest.approx(100.0, rel=0.01)
    assert by_name.downbeats_s[-1] == pytest.approx(13.0, abs=1e-3)  # it ends on a bar line
    assert -16 <= loudness(by_name.path).integrated_lufs <= -12


async def test_a_missing_library_track_falls_back_to_the_composer(tmp_path: Path, clips: dict[str, MediaInfo]) -> None:
    settings = EngineSettings(data_dir=tmp_path / "engine", music_dir=tmp_path / "empty", soundfont=Path("off"))
    for music in ({"source": "library", "track": "calm/gone.mp3", "mood": "calm"},
                  {"source": "library", "track": "../../etc/passwd", "mood": "calm"},
                  {"source": "library", "mood": "tense"}):  # fmt: skip
        result = await music_for_draft(draft_with(music), clips, settings)
        assert result is not None and "piece" in result.description["en"]
        assert len(read(result.path)[0]) == 13 * 48_000


async def test_the_users_track_is_fitted_the_same_way(
    tmp_path: Path, clips: dict[str, MediaInfo], settings: EngineSettings
) -> None:
    song = audio_file(tmp_path / "my song.mp3", beat_track(9.0, 120.0, 0.0))
    media = {**clips, "m_song": info(song, "audio", "m_song", 9.0, has_audio=True)}
    result = await music_for_draft(draft_with({"source": "upload", "media": "m_song"}, d=13_000), media, settings)
    assert result is not None
    samples, _ = read(result.path)
    assert len(samples) == 13 * 48_000  # 9 s looped at bar lines to 13 s
    assert "your track “my song.mp3”" in result.description["en"]
    assert result.tempo_bpm == pytest.approx(120.0, rel=0.01)
    bars = true_bar_lines(9.0, 120.0, 0.0)
    request, _ = await request_for_draft(draft_with({"source": "upload", "media": "m_song"}), media, settings)
    assert request.source == "upload" and request.track == song
    assert np.allclose(np.diff(result.downbeats_s[-3:]), bars[1] - bars[0], atol=0.03)


async def test_an_unreadable_upload_falls_back_to_the_composer(
    tmp_path: Path, clips: dict[str, MediaInfo], settings: EngineSettings
) -> None:
    junk = tmp_path / "junk.mp3"
    junk.write_bytes(b"ID3" + bytes(range(256)) * 20)
    media = {**clips, "m_junk": info(junk, "audio", "m_junk", 5.0, has_audio=True)}
    result = await music_for_draft(draft_with({"source": "upload", "media": "m_junk", "mood": "lofi"}), media, settings)
    assert result is not None and "lo-fi piece" in result.description["en"]
    gone = await music_for_draft(
        draft_with({"source": "upload", "media": "m_nothing", "mood": "lofi"}), media, settings
    )
    assert gone is not None and gone.path == result.path


async def test_a_short_library_track_is_crossfaded_into_another_of_its_mood(
    tmp_path: Path, clips: dict[str, MediaInfo]
) -> None:
    root = tmp_path / "library"
    (root / "calm").mkdir(parents=True)
    short, long = beat_track(8.0, 100.0, 0.0, seed=1), beat_track(30.0, 120.0, 0.25, seed=2)
    write_wav(root / "calm" / "a_short.wav", short)
    write_wav(root / "calm" / "b_long.wav", long)
    settings = EngineSettings(data_dir=tmp_path / "engine", music_dir=root)
    draft = draft_with({"source": "library", "mood": "calm", "seed": 0}, d=20_000)
    request, titles = await request_for_draft(draft, clips, settings)
    assert request.track == root / "calm" / "a_short.wav" and request.companion == root / "calm" / "b_long.wav"
    assert titles == ("a short", "b long")
    result = await music_for_draft(draft, clips, settings)
    assert result is not None
    samples, _ = read(result.path)
    assert len(samples) == 20 * 48_000
    assert "crossfaded" in result.description["en"] and "“a short” and “b long”" in result.description["en"]
    # it starts with the short track (less than a bar of it skipped) and ends on a bar line of the long one
    assert 0.0 <= source_time_of(samples, short, 0.5) - 0.5 < 2.4
    seen = source_time_of(samples, long, 20.0 - 2.6) + 2.6
    assert min(abs(true_bar_lines(30.0, 120.0, 0.25) - seen)) <= 0.05
    assert result.tempo_bpm == pytest.approx(120.0, rel=0.01)


async def test_silent_tiny_and_broken_uploads_still_give_a_bed_of_the_length(
    tmp_path: Path, clips: dict[str, MediaInfo], settings: EngineSettings
) -> None:
    """A silent song is fitted (and stays silent), one too short to play falls back to the composer,
    and a float WAV carrying NaN and infinities is fitted with them silenced."""
    silent = write_wav(tmp_path / "silent.wav", np.zeros((3 * 48_000, 2), dtype=np.float32))
    tiny = write_wav(tmp_path / "tiny.wav", beat_track(0.3, 120.0))
    broken = tmp_path / "broken.wav"
    poisoned = beat_track(6.0, 110.0)
    poisoned[48_000:48_010], poisoned[96_000] = np.nan, np.inf
    wavfile.write(broken, 44_100, poisoned)
    media = dict(clips)
    for name, path in (("silent", silent), ("tiny", tiny), ("broken", broken)):
        media[f"m_{name}"] = info(path, "audio", f"m_{name}", None, has_audio=True)
    results = {}
    for name in ("silent", "tiny", "broken"):
        draft = draft_with({"source": "upload", "media": f"m_{name}", "mood": "happy"}, d=9_000)
        result = await music_for_draft(draft, media, settings)
        assert result is not None
        samples, peak = read(result.path)
        assert len(samples) == 9 * 48_000 and np.isfinite(samples).all() and peak < 32767
        results[name] = (result, samples)
    assert np.abs(results["silent"][1]).max() < 1e-3
    assert "happy piece" in results["tiny"][0].description["en"]
    assert "your track" in results["broken"][0].description["en"]
    assert -16 <= loudness(results["broken"][0].path).integrated_lufs <= -12


async def test_what_a_draft_may_hold_never_breaks_the_music(
    tmp_path: Path, clips: dict[str, MediaInfo], settings: EngineSettings
) -> None:
    """The draft comes from the client: a negative seed, or a library track named with a NUL byte
    or longer than a path may be, gets music (composed) rather than an error."""
    library_settings = settings.model_copy(update={"music_dir": tmp_path / "library"})
    (tmp_path / "library" / "calm").mkdir(parents=True)
    for music, where in (
        ({"source": "composer", "mood": "tense", "seed": -7}, settings),
        ({"source": "library", "track": "calm/a\x00b.mp3"}, library_settings),
        ({"source": "library", "track": "x" * 5000}, library_settings),
    ):
        result = await music_for_draft(draft_with(music, d=4_000), clips, where)
        assert result is not None and len(read(result.path)[0]) == 4 * 48_000
        assert "piece" in result.description["en"]
