"""Choosing the mood (engine/music/mood.py): named moods EN/ZH and their synonyms, words that only
suggest one, negation steering away, the video deciding when the text does not, and a reason in
both languages every time."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.music import MOODS, Cut, VideoFeatures, choose_mood

BRIGHT_LIVELY = VideoFeatures(
    30.0, brightness=0.72, saturation=0.55, motion=0.5, cuts=tuple(Cut(t, 0.8) for t in range(2, 30, 2))
)
DARK_STILL = VideoFeatures(30.0, brightness=0.18, saturation=0.08, motion=0.04)
BRIGHT_CALM = VideoFeatures(30.0, brightness=0.7, saturation=0.5, motion=0.05)
DARK_MOVING = VideoFeatures(30.0, brightness=0.15, saturation=0.2, motion=0.6)


@pytest.mark.parametrize(
    ("text", "mood"),
    [
        ("add some upbeat music", "upbeat"),
        ("something energetic please", "upbeat"),
        ("make it calm", "calm"),
        ("chill relaxing music", "calm"),
        ("epic music", "cinematic"),
        ("dramatic and emotional", "cinematic"),
        ("a sad melancholic tune", "cinematic"),
        ("lofi beats", "lofi"),
        ("lo-fi", "lofi"),
        ("lo fi hip hop", "lofi"),
        ("happy cheerful song", "happy"),
        ("travel music", "happy"),
        ("suspense", "tense"),
        ("something tense and dark", "tense"),
        ("加点轻松的音乐", "calm"),
        ("欢快一点", "happy"),
        ("要史诗感", "cinematic"),
        ("紧张的配乐", "tense"),
        ("低保真风格", "lofi"),
        ("动感的背景音乐", "upbeat"),
    ],
)
def test_a_named_mood_wins_over_the_video(text: str, mood: str) -> None:
    for features in (None, BRIGHT_LIVELY, DARK_STILL):
        choice = choose_mood(text, features)
        assert choice.mood == mood, (text, features)
        assert choice.explicit


@pytest.mark.parametrize(
    ("text", "mood"),
    [("music for my gym workout", "upbeat"), ("for my study session", "lofi"), ("our wedding", "cinematic"),
     ("旅行视频配乐", "happy"), ("健身视频", "upbeat"), ("halloween night", "tense")],
)  # fmt: skip
def test_words_that_suggest_a_mood(text: str, mood: str) -> None:
    choice = choose_mood(text, None)
    assert choice.mood == mood
    assert not choice.explicit
    assert "suggests" in choice.reason["en"] or "适合" in choice.reason["zh"]


@pytest.mark.parametrize(
    ("text", "avoided"),
    [
        ("not too sad", {"cinematic"}),
        ("nothing dramatic", {"cinematic"}),
        ("don't make it scary", {"tense"}),
        ("music without drums, not energetic", {"upbeat"}),
        ("不要太悲伤", {"cinematic"}),
        ("别太吵", {"upbeat"}),
        ("不要紧张的", {"tense"}),
    ],
)
def test_negation_steers_away(text: str, avoided: set[str]) -> None:
    for features in (None, DARK_STILL, DARK_MOVING, BRIGHT_LIVELY):
        choice = choose_mood(text, features)
        assert choice.mood not in avoided, (text, features, choice)
        assert not choice.explicit
    reason = choose_mood(text, DARK_STILL).reason
    assert reason["en"].startswith("Nothing ") and reason["zh"].startswith("按你的意思避开")


def test_the_negated_word_does_not_count_for_its_mood() -> None:
    assert choose_mood("sad", None).mood == "cinematic"
    assert choose_mood("not sad at all", DARK_STILL).mood != "cinematic"
    assert choose_mood("calm, not sad", None).mood == "calm"
    epic = choose_mood("epic but not sad", None)
    assert epic.mood == "cinematic" and "nothing sad" in epic.reason["en"]


@pytest.mark.parametrize("text", ["add background music that matches the mood", "fits the video", "配合氛围", ""])
def test_the_video_decides_when_the_text_does_not(text: str) -> None:
    lively = choose_mood(text, BRIGHT_LIVELY)
    assert lively.mood in {"upbeat", "happy"}
    assert choose_mood(text, DARK_STILL).mood in {"calm", "cinematic", "lofi"}
    assert choose_mood(text, BRIGHT_CALM).mood in {"calm", "happy"}
    assert choose_mood(text, DARK_MOVING).mood == "tense"
    assert "footage" in lively.reason["en"] and "画面" in lively.reason["zh"]
    assert not lively.explicit


def test_many_cuts_lean_upbeat() -> None:
    quick = VideoFeatures(20.0, 0.5, 0.35, 0.3, tuple(Cut(t / 2, 0.9) for t in range(1, 40)))
    assert choose_mood("matches the mood", quick).mood == "upbeat"
    assert "quickly cut" in choose_mood("", quick).reason["en"]


def test_without_text_or_video_the_default_is_calm() -> None:
    choice = choose_mood("add music", None)
    assert choice.mood == "calm" and not choice.explicit
    assert choice.reason["en"] and choice.reason["zh"]


@given(st.text(max_size=80))
def test_any_text_gets_a_known_mood_and_a_short_reason(text: str) -> None:
    for features in (None, BRIGHT_LIVELY):
        choice = choose_mood(text, features)
        assert choice.mood in MOODS
        assert set(choice.reason) == {"en", "zh"}
        assert 0 < len(choice.reason["en"]) <= 160 and choice.reason["en"].endswith(".")
        assert 0 < len(choice.reason["zh"]) <= 120 and choice.reason["zh"].endswith("。")


def test_choosing_is_fast() -> None:
    start = time.perf_counter()
    for _ in range(200):
        choose_mood("something chill, not too sad, for our beach trip 不要太吵", BRIGHT_LIVELY)
    assert (time.perf_counter() - start) / 200 < 0.005
