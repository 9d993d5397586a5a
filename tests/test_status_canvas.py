"""`status` (typed, in English or Chinese, and /status) shows the canvas whenever the session's state
has one (issue 16): after "make it vertical 9:16" it said nothing about the canvas."""

from __future__ import annotations

import pytest

from bot.core.timeline import describe_canvas
from tests.core_kit import Core
from tests.harness import Cutaway

VIDEO = {"t": [{"tt": 0, "sg": [{"d": 10000, "m": {"name": "beach.mp4"}}]}], "d": 10000}


@pytest.mark.parametrize(
    ("canvas", "words"),
    [
        ({"width": 1080, "height": 1920, "aspect_ratio": "9:16"}, "9:16 (1080×1920)"),
        ({"aspectRatio": "1:1"}, "1:1"),
        ({"width": 1080, "height": 1350}, "4:5 (1080×1350)"),
        ({"width": 1366, "height": 768}, "1366×768"),  # no plain ratio: the size alone
        ({"width": "1920", "height": "1080"}, "16:9 (1920×1080)"),
        ({}, None),
        (None, None),
        ({"width": 0, "height": 1080}, None),
        ({"aspect_ratio": 916}, None),
    ],
)
def test_the_canvas_in_words(canvas: dict[str, object] | None, words: str | None) -> None:
    assert describe_canvas(canvas) == words


async def test_status_shows_the_canvas_in_the_threads_language(core: Core) -> None:
    project = await core.project(100)
    session = core.backend.sessions[project.session_id]
    session.draft = VIDEO
    session.canvas = {"width": 1080, "height": 1920, "aspect_ratio": "9:16"}
    core.send(100, "status")
    core.send(100, "状态")
    await core.idle()
    assert core.surface(100).texts[-2:] == [
        "📋 Timeline (1 track): 1. Video: beach.mp4 (0-10s)\nCanvas: 9:16 (1080×1920)",
        "📋 时间线（1 条轨道）：1. 视频: beach.mp4 (0-10s)\n画布：9:16 (1080×1920)",
    ]


async def test_status_without_a_canvas_is_the_timeline_alone(core: Core) -> None:
    project = await core.project(100)
    core.backend.sessions[project.session_id].draft = VIDEO
    core.send(100, "status")
    await core.idle()
    assert core.surface(100).texts[-1] == "📋 Timeline (1 track): 1. Video: beach.mp4 (0-10s)"


@pytest.mark.e2e
async def test_status_after_make_it_vertical_shows_the_new_canvas(cutaway: Cutaway) -> None:
    fake = cutaway.discord
    thread_id = await cutaway.new_project()
    await fake.send_message(thread_id, "make it vertical 9:16")
    await fake.wait_for_bot_message(thread_id, contains="Changed the canvas to 9:16")
    inter = await fake.slash(thread_id, "status")
    followup = await inter.wait_followup()
    assert followup.text.endswith("\nCanvas: 9:16 (1080×1920)")
    await fake.send_message(thread_id, "status")
    typed = await fake.wait_for_bot_message(thread_id, contains="📋")
    assert typed.text.endswith("\nCanvas: 9:16 (1080×1920)")
