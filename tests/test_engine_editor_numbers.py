"""Numbers and time phrases as typed in chat, English and Chinese (engine/editor/numbers.py, timespec.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.editor.numbers import (
    MAX_MS,
    find_durations,
    find_percentages,
    format_seconds,
    ordinal,
    parse_number,
)
from engine.editor.timespec import TimeOutOfRange, When, head_and_tail, parse_when, resolve


@pytest.mark.parametrize(
    ("token", "value"),
    [
        ("3", 3.0),
        ("2.5", 2.5),
        ("three", 3.0),
        ("twenty-five", 25.0),
        ("half", 0.5),
        ("三", 3.0),
        ("两", 2.0),
        ("十五", 15.0),
        ("二十", 20.0),
        ("一百零五", 105.0),
        ("两千三百", 2300.0),
        ("三万", 30000.0),
        ("三点五", 3.5),
        ("零点五", 0.5),
        ("二〇二四", 2024.0),
    ],
)
def test_numbers(token: str, value: float) -> None:
    assert parse_number(token) == value


@pytest.mark.parametrize("token", ["", "abc", "nan", "inf", "1e400", "点", "十点", "twenty-zero"])
def test_not_numbers(token: str) -> None:
    assert parse_number(token) is None


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("3s", [3000]),
        ("3 seconds", [3000]),
        ("2.5 sec", [2500]),
        ("1:05", [65000]),
        ("stop at 0:18", [18000]),
        ("1:02:03", [3723000]),
        ("1m30s", [90000]),
        ("1 min 30 s", [90000]),
        ("two seconds", [2000]),
        ("half a second", [500]),
        ("three and a half seconds", [3500]),
        ("500ms", [500]),
        ("三秒", [3000]),
        ("3秒钟", [3000]),
        ("剪掉前3秒", [3000]),
        ("一分半", [90000]),
        ("半分钟", [30000]),
        ("1分05秒", [65000]),
        ("一秒半", [1500]),
        ("from 5s to 8s", [5000, 8000]),
        ("百分之三十", []),
        ("十分安静", []),
        ("a second clip", []),
        ("add the title", []),
    ],
)
def test_durations(text: str, ms: list[int]) -> None:
    assert [int(f.value) for f in find_durations(text)] == ms


def test_absurd_durations_are_capped() -> None:
    assert [f.value for f in find_durations("999999999 hours")] == [MAX_MS]


@pytest.mark.parametrize(
    ("text", "percent"),
    [
        ("30%", [30.0]),
        ("30 %", [30.0]),
        ("30 percent", [30.0]),
        ("百分之三十", [30.0]),
        ("音量三成", [30.0]),
        ("no numbers", []),
    ],
)
def test_percentages(text: str, percent: list[float]) -> None:
    assert [f.value for f in find_percentages(text)] == percent


@pytest.mark.parametrize(
    ("word", "position"),
    [
        ("second", 2),
        ("3rd", 3),
        ("last", -1),
        ("final", -1),
        ("second to last", -2),
        ("second-to-last", -2),
        ("penultimate", -2),
        ("0th", None),
        ("clip", None),
    ],
)
def test_ordinals(word: str, position: int | None) -> None:
    assert ordinal(word) == position


@pytest.mark.parametrize(("ms", "text"), [(12000, "12"), (2500, "2.5"), (23700, "23.7"), (23_960, "24"), (0, "0")])
def test_seconds_print_like_the_bot_summary(ms: int, text: str) -> None:
    assert format_seconds(ms) == text


@pytest.mark.parametrize(
    ("phrase", "when"),
    [
        ("for the first 3 seconds", When(length=3000, anchor="start")),
        ("from 5s to 8s", When(start=5000, end=8000)),
        ("between 5 and 8 seconds", When(start=5000, end=8000)),
        ("5-15s", When(start=5000, end=15000)),
        ("from 0:05 to 0:15", When(start=5000, end=15000)),
        ("from 5 to 15", When(start=5000, end=15000)),
        ("at the end", When(anchor="end")),
        ("on the outro", When(anchor="end")),
        ("for the whole video", When(anchor="all")),
        ("stop the music at 0:18", When(end=18000)),
        ("start the music at 5s", When(start=5000)),
        ("for 4 seconds", When(length=4000)),
        ("2 seconds from the end", When(length=2000, anchor="end")),
        ("前3秒", When(length=3000, anchor="start")),
        ("最后3秒", When(length=3000, anchor="end")),
        ("第5秒到第15秒", When(start=5000, end=15000)),
        ("5到15秒", When(start=5000, end=15000)),
        ("从5秒开始", When(start=5000)),
        ("音乐在18秒结束", When(end=18000)),
        ("结尾", When(anchor="end")),
        ("全程", When(anchor="all")),
        ("music at 30", When()),
        ("2 to 3", When()),
    ],
)
def test_time_phrases(phrase: str, when: When) -> None:
    assert parse_when(phrase).when == when


def test_first_and_last_in_one_phrase() -> None:
    assert head_and_tail("trim the first 2 seconds and the last 3") == (2000, None)
    assert head_and_tail("trim the first 2 seconds and the last 3 seconds") == (2000, 3000)
    assert head_and_tail("剪掉前2秒和最后3秒") == (2000, 3000)


@pytest.mark.parametrize(
    ("when", "total", "default", "span"),
    [
        (When(), 20000, 3000, (0, 3000)),
        (When(anchor="end"), 20000, 3000, (17000, 20000)),
        (When(anchor="all"), 20000, 3000, (0, 20000)),
        (When(start=5000), 20000, 3000, (5000, 8000)),
        (When(end=8000), 20000, 3000, (0, 8000)),
        (When(start=8000, end=5000), 20000, 3000, (5000, 8000)),
        (When(length=5000, anchor="end"), 20000, 3000, (15000, 20000)),
        (When(start=18000, end=30000), 20000, 3000, (18000, 20000)),
        (When(), 2000, 3000, (0, 2000)),
    ],
)
def test_resolving_a_phrase_against_a_length(when: When, total: int, default: int, span: tuple[int, int]) -> None:
    assert resolve(when, total, default) == span


def test_a_start_past_the_end_is_refused_with_both_numbers() -> None:
    with pytest.raises(TimeOutOfRange) as caught:
        resolve(When(start=30000), 20000, 3000)
    assert (caught.value.asked_ms, caught.value.total_ms) == (30000, 20000)


@given(st.text(max_size=120))
def test_finders_never_raise(text: str) -> None:
    find_durations(text)
    find_percentages(text)
    ordinal(text)
    parse_when(text.lower())
