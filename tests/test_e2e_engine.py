"""The product's main job, end to end: `python -m bot` with `NEMO_API_BASE=local` (the engine in its
own process, started by the bot) against the fake Discord. A user attaches a clip, asks for music that
matches the mood and a title, exports, and the link serves *that* clip with music and the title, at
1080p, measured on the downloaded file."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import numpy as np
import pytest

from devkit.fakes.discord import FakeDiscord
from tests import mediagen
from tests.harness import TOKEN, BotProcess, restored_discord_globals

pytestmark = pytest.mark.e2e

SECONDS = 6.0
SPEECH = [(1.0, 2.5), (4.0, 5.0)]
FRAME = 1 / 30


def _scaled(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize (to compare a region of a test pattern with its 1080p render)."""
    height, width = size
    rows = (np.arange(height) * frame.shape[0] / height).astype(int)
    cols = (np.arange(width) * frame.shape[1] / width).astype(int)
    return np.asarray(frame[rows][:, cols])


def _thumb(frame: np.ndarray) -> np.ndarray:
    """The picture's luma as 160×90 block means, zero-mean and unit-norm: its structure, without the
    scaler's and encoder's fine detail or a colour-matrix shift."""
    luma = frame.astype(np.float64) @ np.array([0.2126, 0.7152, 0.0722])
    h, w = luma.shape[0] // 90, luma.shape[1] // 160
    small = luma[: 90 * h, : 160 * w].reshape(90, h, 160, w).mean(axis=(1, 3))
    small -= small.mean()
    return np.asarray(small / np.linalg.norm(small))


def _likeness(a: np.ndarray, b: np.ndarray) -> float:
    """Correlation of two frames' structure: 1 for the same picture."""
    return float(np.sum(_thumb(a) * _thumb(b)))


def _region_likeness(a: np.ndarray, b: np.ndarray, rows: slice, cols: slice) -> float:
    """Correlation of the luma of one region of two same-sized frames."""
    weights = np.array([0.2126, 0.7152, 0.0722])
    x = (a[rows, cols].astype(np.float64) @ weights).ravel()
    y = (b[rows, cols].astype(np.float64) @ weights).ravel()
    x, y = x - x.mean(), y - y.mean()
    return float(np.dot(x, y) / (np.linalg.norm(x) * np.linalg.norm(y) + 1e-9))


async def test_a_clip_with_mood_music_and_a_title_comes_back_as_that_clip_at_1080p(tmp_path: Path) -> None:
    source = mediagen.clip(
        tmp_path / "beach.mp4", SECONDS, size=(1280, 720), audio=mediagen.speech_bursts(SECONDS, SPEECH)
    )
    with restored_discord_globals():
        async with FakeDiscord(token=TOKEN) as fake:
            bot = BotProcess(fake, None, tmp_path, ENGINE_PORT="0", ENGINE_DATA_DIR=str(tmp_path / "engine"))
            await bot.start()
            try:
                inter = await fake.slash(fake.text_channel_id, "project", {"name": "Beach"})
                await inter.wait_followup(timeout=30)
                thread = await fake.wait_for(lambda: next(iter(fake.threads), None), what="the project thread")
                await fake.wait_for_bot_message(thread, contains="Cutaway video project", timeout=30)

                attachment = fake.add_attachment(
                    "beach.mp4", source.read_bytes(), content_type="video/mp4", channel_id=thread
                )
                await fake.send_message(thread, "", attachments=[attachment])
                await fake.wait_for_bot_message(thread, contains="Uploaded **beach.mp4**", timeout=60)

                await fake.send_message(thread, 'add background music that matches the mood and the title "Beach day"')
                done = await fake.wait_for_bot_message(thread, contains="Done!", timeout=120)
                assert "composed for this clip" in done.text and "Beach day" in done.text, done.text

                credits = await fake.slash(thread, "credits")
                answer = await credits.wait_followup(timeout=30)
                assert "cost no credits" in answer.text, answer.text

                await fake.slash(thread, "export")
                try:
                    ready = await fake.wait_for_bot_message(thread, contains="Your video is ready", timeout=120)
                except AssertionError:  # the fake's wait timed out: say what the thread and the logs show
                    await bot.stop()
                    thread_texts = [m.text for m in fake.bot_messages(thread)]
                    raise AssertionError(f"no link; the thread: {thread_texts}; the log: {bot.logs[-1]}") from None
                # The link is served by the engine the bot runs (gone with it): fetch it now.
                url = next(word for word in ready.text.split() if word.startswith("http://"))
                result = tmp_path / "result.mp4"
                async with aiohttp.ClientSession() as http:
                    async with http.get(url) as response:
                        assert response.status == 200 and response.content_type == "video/mp4"
                        result.write_bytes(await response.read())
                    async with http.get(url, headers={"Range": "bytes=0-99"}) as response:  # browsers seek
                        assert response.status == 206 and len(await response.read()) == 100
            finally:
                await bot.stop()
            texts = [m.text for m in fake.bot_messages(thread)]
    assert bot.logs and "Traceback" not in bot.logs[-1], bot.logs[-1][-3000:]
    for text in texts:
        for leak in ("nmv_usr_", "Traceback", '{"code"', '"success"', str(tmp_path)):
            assert leak not in text, text

    out = mediagen.probe(result)
    assert (out.video_codec, out.video_profile, out.pix_fmt) == ("h264", "High", "yuv420p")
    assert (out.width, out.height, out.fps) == (1920, 1080, 30.0)
    assert (out.audio_codec, out.audio_rate, out.audio_channels) == ("aac", 48_000, 2)
    assert abs(out.duration_s - SECONDS) <= FRAME + 0.03, out.duration_s
    level = mediagen.loudness(result)
    assert abs(level.integrated_lufs + 14) <= 1 and level.true_peak_dbtp <= -1.0, level

    # That clip: after the title (0-3 s) the picture is the source's own frame, scaled to 1080p.
    shown = mediagen.frame_at(result, 4.0)
    same = _likeness(shown, mediagen.frame_at(source, 4.0))
    others = [_likeness(shown, mediagen.frame_at(source, t)) for t in (1.0, 5.0)]  # the pattern moves
    assert same >= 0.97 and same >= max(others) + 0.01, (same, others)
    # The title: while it is shown the centre of the frame is no longer the source's, the corners are.
    titled, plain = mediagen.frame_at(result, 1.0), _scaled(mediagen.frame_at(source, 1.0), (1080, 1920))
    centre = _region_likeness(titled, plain, slice(440, 640), slice(560, 1360))
    corner = _region_likeness(titled, plain, slice(0, 200), slice(0, 400))
    assert corner > 0.9 and centre < corner - 0.2, (centre, corner)

    # With music: between the "speech" bursts the source is silent, the export is not.
    audio = mediagen.decode_audio(result)
    original = mediagen.decode_audio(source)
    assert mediagen.window_db(original, 2.7, 3.8) < -80
    assert mediagen.window_db(audio, 2.7, 3.8) > -35
