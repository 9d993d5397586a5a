"""The render's sound: loudness after AAC, silence left alone, music in the gaps, ducking under
speech (and not under noise), clip sound kept/lowered/muted, fades, A/V sync after a trim, and the
user's own track. Real media; every figure is read from the output file."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import pytest

from engine.config import EngineSettings
from engine.draft import Draft, MusicMeta
from engine.media import MediaInfo
from engine.music import MusicResult
from engine.render import RenderFailed
from tests import mediagen as mg
from tests.render_support import Bed, chord_bed, draft, music, render, tone_bed, visual

pytestmark = pytest.mark.e2e

BURSTS = [(1.0, 2.5), (4.5, 6.0)]
SECONDS = 8.0
MUSIC_HZ = 6000.0


def assert_broadcast_loudness(path: Path) -> None:
    loud = mg.loudness(path)
    assert abs(loud.integrated_lufs - -14.0) <= 1.0, loud
    assert loud.true_peak_dbtp <= -1.0, loud


@pytest.fixture(scope="module")
def talking(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clip with two bursts of synthetic speech and silence around them."""
    folder = tmp_path_factory.mktemp("talking")
    return mg.clip(folder / "talking.mp4", SECONDS, size=(320, 180), audio=mg.speech_bursts(SECONDS, BURSTS))


async def test_speech_and_music_reach_broadcast_loudness(tmp_path: Path, talking: Path) -> None:
    media = mg.media_info(talking)
    d = draft([visual(media, 0, 8000)], music_segment=music(0, 8000, volume=0.35))
    result = await render(tmp_path, d, [media], bed=chord_bed(tmp_path), resolution="720p", preset="ultrafast")
    assert_broadcast_loudness(result.path)


async def test_music_only_reaches_broadcast_loudness(tmp_path: Path) -> None:
    silent_clip = mg.media_info(mg.clip(tmp_path / "mute.mp4", 4.0, size=(320, 180), audio=None))
    d = draft([visual(silent_clip, 0, 4000)], music_segment=music(0, 4000, volume=0.2))
    result = await render(tmp_path, d, [silent_clip], bed=chord_bed(tmp_path), resolution="720p", preset="ultrafast")
    assert_broadcast_loudness(result.path)


async def test_quiet_clip_is_lifted_to_broadcast_loudness(tmp_path: Path) -> None:
    quiet = mg.speech_like(5.0) * 10 ** (-24 / 20)
    media = mg.media_info(mg.clip(tmp_path / "quiet.mp4", 5.0, size=(320, 180), audio=quiet))
    source = mg.loudness(media.path)
    assert source.integrated_lufs < -35, source
    result = await render(tmp_path, draft([visual(media, 0, 5000)]), [media], resolution="720p", preset="ultrafast")
    assert_broadcast_loudness(result.path)


async def test_silent_timeline_stays_silent(tmp_path: Path) -> None:
    """Nothing to normalise: silence is not boosted into noise."""
    clip = mg.media_info(mg.clip(tmp_path / "hush.mp4", 3.0, size=(320, 180), audio="silent"))
    still = mg.media_info(mg.image(tmp_path / "still.png", size=(320, 240)))
    d = draft([visual(clip, 0, 3000), visual(still, 3000, 2000)])
    result = await render(tmp_path, d, [clip, still], resolution="720p", preset="ultrafast")
    p = mg.probe(result.path)
    assert (p.audio_codec, p.audio_channels) == ("aac", 2), "a silent track is still there"
    samples = mg.decode_audio(result.path)
    assert len(samples) == pytest.approx(5.0 * mg.RATE, abs=mg.RATE / 30)
    assert np.abs(samples).max() < 1e-3

    # a camera's faint hiss (about −66 LUFS) is not lifted to broadcast level either
    hiss = (np.random.default_rng(5).standard_normal(3 * mg.RATE) * 10 ** (-66 / 20)).astype(np.float32)
    hissing = mg.media_info(mg.clip(tmp_path / "hiss.mp4", 3.0, size=(320, 180), audio=hiss))
    quiet = await render(tmp_path / "hiss", draft([visual(hissing, 0, 3000)]), [hissing], resolution="720p")
    assert mg.rms_db(mg.decode_audio(quiet.path)) < -55


async def test_music_ducks_under_speech_and_recovers(tmp_path: Path, talking: Path) -> None:
    """The bed is a 6 kHz tone, above every harmonic of the synthetic voice, so its level in the
    output is read by its band alone: ≥ 8 dB lower under speech than between, back within 1 s."""
    media = mg.media_info(talking)
    d = draft([visual(media, 0, 8000)], music_segment=music(0, 8000, volume=0.5, duck=True))
    result = await render(tmp_path, d, [media], bed=tone_bed(tmp_path, MUSIC_HZ), resolution="720p", preset="ultrafast")
    out = mg.decode_audio(result.path)
    under = [mg.band_db(out, start + 0.3, end - 0.1, MUSIC_HZ) for start, end in BURSTS]
    between = mg.band_db(out, 3.6, 4.3, MUSIC_HZ)
    after = mg.band_db(out, 6.5, 7.5, MUSIC_HZ)
    for level in under:
        assert between - level >= 8.0, (under, between)
    # recovered within 1 s of the end of each burst
    for _, end in BURSTS:
        assert mg.band_db(out, end + 1.0, end + 1.4, MUSIC_HZ) >= between - 1.5
    assert abs(after - between) < 1.5
    # the music is there in the gaps (the tone's band holds most of the output's energy there)
    assert mg.band_db(out, 3.6, 4.3, MUSIC_HZ) > mg.band_db(out, 3.6, 4.3, 1000.0, width=900) + 20
    # and without ducking it stays level through the speech
    plain = draft([visual(media, 0, 8000)], music_segment=music(0, 8000, volume=0.5, duck=False))
    flat = mg.decode_audio(
        (
            await render(
                tmp_path / "flat",
                plain,
                [media],
                bed=tone_bed(tmp_path, MUSIC_HZ),
                resolution="720p",
                preset="ultrafast",
            )
        ).path
    )
    assert abs(mg.band_db(flat, 1.3, 2.4, MUSIC_HZ) - mg.band_db(flat, 3.6, 4.3, MUSIC_HZ)) < 1.5


async def test_noise_bursts_do_not_duck_the_music(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    noise = np.zeros(int(SECONDS * mg.RATE), dtype=np.float32)
    for start, end in BURSTS:
        a, b = int(start * mg.RATE), int(end * mg.RATE)
        burst = rng.standard_normal(b - a)
        burst = np.convolve(burst, np.ones(8) / 8, mode="same")  # a little darker than white
        noise[a:b] = (0.3 * burst / np.abs(burst).max()).astype(np.float32)
    media = mg.media_info(mg.clip(tmp_path / "wind.mp4", SECONDS, size=(320, 180), audio=noise))
    d = draft([visual(media, 0, 8000)], music_segment=music(0, 8000, volume=0.5, duck=True))
    result = await render(tmp_path, d, [media], bed=tone_bed(tmp_path, MUSIC_HZ), resolution="720p", preset="ultrafast")
    out = mg.decode_audio(result.path)
    # the noise has energy at 6 kHz too: compare the tone's band against a render without the noise
    between = mg.band_db(out, 3.6, 4.3, MUSIC_HZ, width=20)
    under = mg.band_db(out, 1.3, 2.4, MUSIC_HZ, width=20)
    assert between - under < 3.0, (under, between)


async def test_clip_sound_keep_lower_mute(tmp_path: Path) -> None:
    """The clip's 440 Hz tone against the 6 kHz bed: lowering takes the clip 10.5 dB down relative
    to the music; muting removes it."""
    clip = mg.media_info(mg.clip(tmp_path / "tone.mp4", 3.0, size=(320, 180), audio="tone"))
    ratios = {}
    for sound in ("keep", "lower", "mute"):
        d = draft([visual(clip, 0, 3000)], clip_sound=sound, music_segment=music(0, 3000, volume=0.5, duck=False))
        result = await render(
            tmp_path / sound, d, [clip], bed=tone_bed(tmp_path, MUSIC_HZ), resolution="720p", preset="ultrafast"
        )
        out = mg.decode_audio(result.path)
        ratios[sound] = mg.band_db(out, 0.5, 2.5, 440.0, width=30) - mg.band_db(out, 0.5, 2.5, MUSIC_HZ, width=30)
    assert ratios["keep"] - ratios["lower"] == pytest.approx(20 * np.log10(1 / 0.3), abs=1.0)
    assert ratios["keep"] - ratios["mute"] > 50


async def test_music_volume_is_relative_to_the_clips_and_fades(tmp_path: Path) -> None:
    """A loud clip and a quiet clip with the same volume give the same music-to-clip ratio; the
    fade-in starts from silence and the fade-out ends in it."""
    loud = mg.tone(4.0, 440.0, level=0.5)
    ratios = []
    for name, samples in (("loud", loud), ("quiet", loud * 0.05)):
        clip = mg.media_info(mg.clip(tmp_path / f"{name}.mp4", 4.0, size=(320, 180), audio=samples))
        d = draft(
            [visual(clip, 0, 4000)],
            music_segment=music(0, 4000, volume=0.35, duck=False, fade_in=1000, fade_out=1000),
        )
        result = await render(
            tmp_path / name, d, [clip], bed=tone_bed(tmp_path, MUSIC_HZ), resolution="720p", preset="ultrafast"
        )
        out = mg.decode_audio(result.path)
        ratios.append(mg.band_db(out, 1.5, 2.5, MUSIC_HZ, width=30) - mg.band_db(out, 1.5, 2.5, 440.0, width=30))
        steady = mg.band_db(out, 1.5, 2.5, MUSIC_HZ, width=30)
        assert mg.band_db(out, 0.0, 0.15, MUSIC_HZ, width=30) < steady - 15, "fade-in from silence"
        assert mg.band_db(out, 3.85, 4.0, MUSIC_HZ, width=30) < steady - 15, "fade-out to silence"
        assert mg.band_db(out, 0.45, 0.55, MUSIC_HZ, width=30) == pytest.approx(steady - 6, abs=2.5), "halfway in"
    assert ratios[0] == pytest.approx(ratios[1], abs=1.0)
    # the tone bed and the clip tone are measured in the same way, so −9 dB (0.35) shows up directly,
    # up to the K-weighting difference between 440 Hz and 6 kHz (+4 dB shelf)
    assert ratios[0] == pytest.approx(20 * np.log10(0.35) - 4.0, abs=1.5)


async def test_trimmed_clip_keeps_sound_and_picture_in_sync(tmp_path: Path) -> None:
    """A flash and a click at 2.0 s in the source, trimmed from 1.5 s: both at 0.5 s in the output."""
    source = tmp_path / "sync.mp4"
    click = np.zeros(int(3.0 * mg.RATE), dtype=np.float32)
    at = int(2.0 * mg.RATE)
    click[at : at + 480] = mg.tone(0.01, 1000.0, level=0.8)
    wav = mg.write_wav(tmp_path / "click.wav", click)
    mg.ffmpeg(
        "-f", "lavfi", "-i", "color=c=black:size=320x180:rate=30:duration=3",
        "-i", wav, "-vf", "drawbox=c=white:t=fill:enable='between(t,2,2.1)'",
        "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", source,
    )  # fmt: skip
    media = mg.media_info(source)
    result = await render(
        tmp_path, draft([visual(media, 0, 1500, src_in=1500)]), [media], resolution="720p", preset="ultrafast"
    )
    out = mg.decode_audio(result.path)
    sound_at = float(np.argmax(np.abs(out))) / mg.RATE
    flash_at = next(t / 30 for t in range(45) if mg.frame_at(result.path, t / 30 + 0.001).mean() > 128)
    assert sound_at == pytest.approx(0.5, abs=0.02)
    assert flash_at == pytest.approx(0.5, abs=1 / 30 + 1e-3)


async def test_users_own_track_is_the_music(tmp_path: Path) -> None:
    """`source="upload"`: the bed the music facade (engine.music, not injected here) fits from the
    user's audio is what plays: the output correlates with their file."""
    song = mg.audio_file(tmp_path / "my_song.mp3", seconds=6.0)
    track = mg.media_info(song, media_id="m_song")
    clip = mg.media_info(mg.clip(tmp_path / "clip.mp4", 4.0, size=(320, 180), audio=None))
    d = draft(
        [visual(clip, 0, 4000)],
        music_segment={
            "st": 0,
            "d": 4000,
            "m": {"name": "my_song.mp3", "source": "upload", "media": "m_song", "volume": 0.5, "duck": False},
        },
    )
    result = await render(tmp_path, d, [clip, track], resolution="720p", preset="ultrafast")
    out = mg.decode_audio(result.path)[mg.RATE // 2 : int(3.5 * mg.RATE)]
    theirs = mg.decode_audio(song)
    # the fitting may skip part of a bar at the start: find the best lag, then correlate there
    n = len(theirs) + len(out)
    xcorr = np.fft.irfft(np.fft.rfft(theirs, n) * np.conj(np.fft.rfft(out, n)), n)[: len(theirs) - len(out)]
    lag = int(np.argmax(xcorr))
    segment = theirs[lag : lag + len(out)]
    correlation = float(np.dot(out, segment) / (np.linalg.norm(out) * np.linalg.norm(segment) + 1e-12))
    assert correlation > 0.8, (correlation, lag / mg.RATE)


async def test_music_plays_only_within_its_segment(tmp_path: Path) -> None:
    clip = mg.media_info(mg.clip(tmp_path / "quiet.mp4", 5.0, size=(320, 180), audio=None))
    d = draft([visual(clip, 0, 5000)], music_segment=music(1000, 2500, volume=0.5, duck=False))
    result = await render(tmp_path, d, [clip], bed=tone_bed(tmp_path, MUSIC_HZ), resolution="720p", preset="ultrafast")
    out = mg.decode_audio(result.path)
    inside = mg.band_db(out, 1.5, 3.0, MUSIC_HZ, width=30)
    assert mg.band_db(out, 0.1, 0.9, MUSIC_HZ, width=30) < inside - 40, "nothing before the segment"
    assert mg.band_db(out, 3.6, 4.9, MUSIC_HZ, width=30) < inside - 40, "nothing after it"
    assert_broadcast_loudness(result.path)


async def test_mono_44k_sound_comes_out_stereo_48k(tmp_path: Path) -> None:
    source = tmp_path / "mono.mp4"
    mg.ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25:duration=2",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100:duration=2",
        "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-ac", "1", "-ar", "44100", source,
    )  # fmt: skip
    media = mg.media_info(source)
    assert (media.audio_channels, media.audio_rate) == (1, 44100)
    result = await render(tmp_path, draft([visual(media, 0, 2000)]), [media], resolution="720p", preset="ultrafast")
    p = mg.probe(result.path)
    assert (p.audio_rate, p.audio_channels, p.fps) == (48000, 2, 30.0)
    stereo = mg.decode_audio(result.path, mono=False)
    left, right = stereo[4800:-4800, 0], stereo[4800:-4800, 1]
    assert np.allclose(left, right, atol=1e-3), "the one channel on both sides"
    assert mg.band_db(left, 0.2, 1.8, 440.0, width=30) > mg.band_db(left, 0.2, 1.8, 1000.0, width=200) + 30
    assert_broadcast_loudness(result.path)


class Tripping:
    """A music provider that cannot make some pieces (as the composer once could not, for about one
    seed in seventy of a mood); it records every piece it was asked for."""

    def __init__(self, bed: Bed, fails: Callable[[MusicMeta], bool]) -> None:
        self.bed, self.fails = bed, fails
        self.asked: list[tuple[str, str, int]] = []

    async def __call__(
        self, the_draft: Draft, media: Mapping[str, MediaInfo], settings: EngineSettings
    ) -> MusicResult | None:
        assert the_draft.music is not None
        m = the_draft.music.m
        self.asked.append((m.source, m.mood, m.seed))
        if self.fails(m):
            raise RuntimeError("the composer tripped")
        return await self.bed(the_draft, media, settings)


async def test_a_piece_that_cannot_be_made_gives_way_to_the_next_in_its_mood(tmp_path: Path) -> None:
    """The export is not lost for one piece of music: the next piece in the same mood (what "another
    one" gives), composed, plays instead — for a composed piece and for a library track alike."""
    clip = mg.media_info(mg.clip(tmp_path / "quiet.mp4", 2.0, size=(320, 180), audio=None))
    cases = {
        "composer": {"source": "composer", "mood": "calm", "seed": 7},
        "library": {"source": "library", "mood": "tense", "seed": 7, "track": "tense/broken.mp3"},
    }
    for name, meta in cases.items():
        provider = Tripping(tone_bed(tmp_path, MUSIC_HZ), lambda m: m.seed == 7)
        d = draft([visual(clip, 0, 2000)], music_segment=music(0, 2000, volume=0.5, duck=False, **meta))
        result = await render(tmp_path / name, d, [clip], bed=provider, resolution="720p", preset="ultrafast")
        assert provider.asked == [(meta["source"], meta["mood"], 7), ("composer", meta["mood"], 8)], name
        out = mg.decode_audio(result.path)
        assert mg.band_db(out, 0.5, 1.5, MUSIC_HZ, width=30) > mg.band_db(out, 0.5, 1.5, 1000.0, width=900) + 20
        assert_broadcast_loudness(result.path)


async def test_music_that_cannot_be_made_at_all_fails_the_export_with_its_name(tmp_path: Path) -> None:
    clip = mg.media_info(mg.clip(tmp_path / "quiet.mp4", 1.0, size=(320, 180), audio=None))
    provider = Tripping(tone_bed(tmp_path, MUSIC_HZ), lambda m: True)
    d = draft([visual(clip, 0, 1000)], music_segment=music(0, 1000, mood="calm", seed=41, name="Calm (composed)"))
    with pytest.raises(RenderFailed) as failed:
        await render(tmp_path, d, [clip], bed=provider, resolution="720p", preset="ultrafast")
    assert provider.asked == [("composer", "calm", 41), ("composer", "calm", 42), ("composer", "calm", 43)]
    reason = failed.value.reason
    assert "“Calm (composed)”" in reason and "remove the music" in reason
    assert str(tmp_path) not in reason and "composer tripped" not in reason
    assert not list((tmp_path / "results").glob("*"))
