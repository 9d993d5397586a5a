from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.timeline import describe_changes, has_content, summarise

SEED_DRAFT: dict[str, Any] = {
    "t": [
        {"tt": 0, "sg": [{"d": 10000, "m": {"name": "city timelapse"}}]},
        {"tt": 1, "sg": [{"d": 10000, "m": {"name": "Lo-fi", "volume": 0.35}}]},
        {"tt": 7, "sg": [{"d": 3000, "m": {"text": "Urban Dreams"}}]},
    ],
    "d": 10000,
}


def test_summary_matches_the_seed_example() -> None:
    expected = (
        "Timeline (3 tracks): 1. Video: city timelapse (0-10s) 2. BGM: Lo-fi (0-10s, 35%) "
        '3. Title: "Urban Dreams" (0-3s)'
    )
    assert summarise(SEED_DRAFT) == expected


def test_summary_in_chinese() -> None:
    text = summarise(SEED_DRAFT, "zh")
    assert text.startswith("时间线（3 条轨道）")
    assert "背景音乐: Lo-fi (0-10s, 35%)" in text


def test_summary_of_empty_and_odd_drafts() -> None:
    assert "empty" in summarise(None)
    assert "empty" in summarise({})
    assert "empty" in summarise({"t": "nope"})
    one = summarise({"t": [{"tt": 0, "sg": [{"d": 2500, "src": "https://cdn.x/v/clip%201.mp4?sig=1"}]}]})
    assert one == "Timeline (1 track): 1. Video: clip%201.mp4 (0-2.5s)"


def test_segments_are_laid_end_to_end_and_counted() -> None:
    draft = {"t": [{"tt": 0, "sg": [{"d": 4000, "m": {"name": "a"}}, {"d": 6000, "m": {"name": "b"}}]}]}
    assert summarise(draft) == "Timeline (1 track): 1. Video: a (0-10s, +1 more)"


def test_volume_as_percentage_number() -> None:
    draft = {"t": [{"tt": 1, "sg": [{"d": 1000, "m": {"name": "x", "volume": 60}}]}]}
    assert "60%" in summarise(draft)


def test_has_content() -> None:
    assert has_content(SEED_DRAFT)
    assert not has_content({"t": [{"tt": 0, "sg": []}]})
    assert not has_content(None)


def test_describe_changes_added_track() -> None:
    before = {"t": SEED_DRAFT["t"][:1], "d": 10000}
    changes = describe_changes(before, SEED_DRAFT)
    assert changes == ["• added BGM: Lo-fi (0-10s, 35%)", '• added Title: "Urban Dreams" (0-3s)']


def test_describe_changes_volume_and_canvas() -> None:
    after: dict[str, Any] = {"t": [dict(track) for track in SEED_DRAFT["t"]], "d": 10000}
    after["t"][1] = {"tt": 1, "sg": [{"d": 10000, "m": {"name": "Lo-fi", "volume": 0.2}}]}
    changes = describe_changes(
        SEED_DRAFT, after, canvas_before={"aspect_ratio": "16:9"}, canvas_after={"aspect_ratio": "9:16"}
    )
    assert "• changed BGM: Lo-fi (0-10s, 35%) → BGM: Lo-fi (0-10s, 20%)" in changes
    assert "• format 16:9 → 9:16" in changes


def test_a_canvas_change_is_told_in_the_words_status_uses() -> None:
    """A canvas known by its size only: the ratio reduced from it and the size, as `status` shows them."""
    changes = describe_changes(
        SEED_DRAFT,
        SEED_DRAFT,
        canvas_before={"width": 1920, "height": 1080},
        canvas_after={"width": 1080, "height": 1920},
    )
    assert changes == ["• format 16:9 (1920×1080) → 9:16 (1080×1920)"]
    resized = describe_changes(
        SEED_DRAFT, SEED_DRAFT, canvas_before={"w": 1920, "h": 1080}, canvas_after={"w": 1280, "h": 720}
    )
    assert resized == ["• format 16:9 (1920×1080) → 16:9 (1280×720)"]


def test_no_change_means_empty_list() -> None:
    assert describe_changes(SEED_DRAFT, SEED_DRAFT) == []
    assert describe_changes(None, None) == []


def test_unknown_change_is_still_reported() -> None:
    after = {**SEED_DRAFT, "fx": {"grain": 1}}
    assert describe_changes(SEED_DRAFT, after) != []


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["t", "tt", "sg", "d", "m", "name", "volume", "text", "st", "src"]), children, max_size=5
        )
    ),
    max_leaves=30,
)


def test_non_finite_numbers_are_ignored() -> None:
    draft = {"t": [{"tt": 1, "sg": [{"d": float("inf"), "m": {"volume": float("nan"), "name": "x"}}]}], "d": 1e400}
    assert summarise(draft) == "Timeline (1 track): 1. BGM: x (0-0s)"


@settings(max_examples=300, deadline=None)
@given(json_values, json_values)
def test_summariser_never_raises(a: Any, b: Any) -> None:
    da = a if isinstance(a, dict) else {"t": a}
    db = b if isinstance(b, dict) else {"t": b}
    assert isinstance(summarise(da), str)
    assert isinstance(describe_changes(da, db), list)
