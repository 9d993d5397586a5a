"""Numbers as people type them in a chat: durations, percentages and ordinals, English and Chinese.

"3s", "3 seconds", "1:05", "1m30s", "two seconds", "half a second", "三秒", "3秒钟", "一分半",
"百分之三十", "三成", "30%", "the second clip", "第二个". Every finder works on text that was
lower-cased and NFKC-normalised (full-width digits and colons already ASCII) and returns what it
found with its position, so callers can tell which phrase a number belongs to. Nothing here raises
on any input; absurd values (a million hours) are capped rather than trusted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_MS = 24 * 3600 * 1000
"""No duration a user types is longer than a day; bigger numbers are typos or jokes."""

# ---------------------------------------------------------------------------- numerals
_CN_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "俩": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
CN_NUM = "[零〇一二两俩三四五六七八九十百千万]"
CN_NUMBER = rf"(?<![一二两俩三四五六七八九十百千万]){CN_NUM}+(?:点[零〇一二三四五六七八九]+)?"
"""A Chinese numeral with an optional decimal part ("三点五"), read from the start of its run of
numerals (after 零 it may start anew: "一分零五秒"); see NUMBER."""

_EN_ONES = {
    "zero": 0,
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
}
_EN_TENS = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
_EN_WORD = "|".join(sorted([*_EN_ONES, *_EN_TENS], key=len, reverse=True))
_EN_UNITS = "|".join(k for k, v in _EN_ONES.items() if 0 < v < 10 and k not in ("a", "an"))
EN_NUMBER = rf"(?:(?:{'|'.join(_EN_TENS)})(?:[- ](?:{_EN_UNITS}))?|{_EN_WORD}|half)"
"""An English number word: "three", "twenty-five", "a" (as in "a second"), "half"."""

NUMBER = rf"(?:(?<!\d)\d+(?:\.\d+)?|\.\d+|{CN_NUMBER}|\b{EN_NUMBER}\b)"
"""A number is only tried from the start of a run of digits or numerals: the leftmost match starts there
anyway, and trying every position inside a long run made a message of digits take seconds."""
NOT_AFTER = r"(?<![A-Za-z0-9.])"
"""Chinese characters count as word characters for `\\b`, so lookbehinds name ASCII explicitly."""


def _cn_integer(text: str) -> int | None:
    """A Chinese integer below 100 million: "十五", "二十", "一百零五", "两千三百", "三万"."""
    if not text:
        return None
    if all(ch in _CN_DIGITS for ch in text) and len(text) > 1:
        # Read digit by digit, as in "二〇二四" or "一五".
        return int("".join(str(_CN_DIGITS[ch]) for ch in text))
    total = 0
    section = 0
    digit: int | None = None
    for ch in text:
        if ch in _CN_DIGITS:
            digit = _CN_DIGITS[ch]
        elif ch in _CN_UNITS:
            section += (1 if digit is None else digit) * _CN_UNITS[ch]
            digit = None
        elif ch == "万":
            section += digit or 0
            total += (section or 1) * 10_000
            section, digit = 0, None
        else:
            return None
    return total + section + (digit or 0)


def parse_number(token: str) -> float | None:
    """One number token (Arabic, Chinese or an English word) → its value; None when it is not one."""
    token = token.strip().lower()
    if not token:
        return None
    try:
        value = float(token)
    except ValueError:
        pass
    else:
        return value if value == value and abs(value) < 1e12 else None  # NaN and absurd sizes are not numbers
    if token in ("half", "半"):
        return 0.5
    if "点" in token:
        whole, _, frac = token.partition("点")
        head = _cn_integer(whole) if whole else 0
        if head is None or not frac or any(ch not in _CN_DIGITS for ch in frac):
            return None
        return float(f"{head}.{''.join(str(_CN_DIGITS[ch]) for ch in frac)}")
    cn = _cn_integer(token)
    if cn is not None:
        return float(cn)
    words = re.split(r"[- ]+", token)
    if len(words) == 1 and words[0] in _EN_ONES:
        return float(_EN_ONES[words[0]])
    if len(words) == 1 and words[0] in _EN_TENS:
        return float(_EN_TENS[words[0]])
    if len(words) == 2 and words[0] in _EN_TENS and words[1] in _EN_ONES and 0 < _EN_ONES[words[1]] < 10:
        return float(_EN_TENS[words[0]] + _EN_ONES[words[1]])
    return None


# ---------------------------------------------------------------------------- durations
@dataclass(frozen=True, slots=True)
class Found:
    """A value found in the text, with where it was (character offsets)."""

    value: float
    start: int
    end: int


_UNIT_MS = {
    "ms": 1,
    "millisecond": 1,
    "milliseconds": 1,
    "毫秒": 1,
    "s": 1000,
    "sec": 1000,
    "secs": 1000,
    "second": 1000,
    "seconds": 1000,
    "秒": 1000,
    "秒钟": 1000,
    "m": 60_000,
    "min": 60_000,
    "mins": 60_000,
    "minute": 60_000,
    "minutes": 60_000,
    "分": 60_000,
    "分钟": 60_000,
    "h": 3_600_000,
    "hr": 3_600_000,
    "hrs": 3_600_000,
    "hour": 3_600_000,
    "hours": 3_600_000,
    "小时": 3_600_000,
}
EN_UNIT = r"(?:milliseconds?|ms|seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h)\b"
ZH_UNIT = r"(?:毫秒|秒钟|秒|分钟|分(?![\u4e00-\u9fff])|小时)"
"""A bare 分 only at the end of a phrase: "百分之三十" and "十分安静" are not minutes."""
UNIT = rf"(?:{EN_UNIT}|{ZH_UNIT})"

_CLOCK = re.compile(r"(?<![\d.:])(?:(\d{1,2}):)?(\d{1,3}):(\d{2}(?:\.\d+)?)(?![\d:])")
_COMPOUND_EN = re.compile(
    r"(?<![A-Za-z0-9.])(\d+(?:\.\d+)?)\s*(?:m|mins?|minutes?)\s*(?:and\s+)?(\d+(?:\.\d+)?)\s*(?:s|secs?|seconds?)\b"
)
_COMPOUND_ZH = re.compile(rf"({NUMBER})\s*分(?:钟)?\s*(?:零)?\s*({NUMBER})\s*秒(?:钟)?")
_HALF_ZH = re.compile(rf"({NUMBER})\s*(分钟?|秒钟?|小时)半|半\s*(分钟|秒钟?|小时)")
_A_HALF_EN = re.compile(
    r"\b(?:(\w+)\s+and\s+a\s+half|half\s+an?)\s+(seconds?|minutes?|hours?)\b|\bhalf\s+a\s+(second|minute)\b"
)
_NOUN_AFTER = re.compile(r"\s+(?:clip|video|photo|image|picture|shot|title|text|caption|track|song|one|layer|line)s?\b")
_SIMPLE = re.compile(rf"{NOT_AFTER}({NUMBER})\s*({UNIT})", re.IGNORECASE)


def _unit_ms(unit: str) -> int:
    return _UNIT_MS.get(unit.strip().lower(), _UNIT_MS.get(unit.strip().lower().rstrip("s"), 1000))


def _capped(ms: float) -> int:
    return round(min(max(ms, 0.0), MAX_MS))


def find_durations(text: str) -> list[Found]:
    """Every duration in `text`, in order, as milliseconds (`Found.value`)."""
    found: list[Found] = []
    taken: list[tuple[int, int]] = []

    def add(value_ms: float, start: int, end: int) -> None:
        if any(start < b and a < end for a, b in taken):
            return
        taken.append((start, end))
        found.append(Found(float(_capped(value_ms)), start, end))

    for m in _CLOCK.finditer(text):
        hours = int(m.group(1)) if m.group(1) else 0
        add((hours * 3600 + int(m.group(2)) * 60 + float(m.group(3))) * 1000, m.start(), m.end())
    for m in _COMPOUND_EN.finditer(text):
        add((float(m.group(1)) * 60 + float(m.group(2))) * 1000, m.start(), m.end())
    for m in _COMPOUND_ZH.finditer(text):
        minutes, seconds = parse_number(m.group(1)), parse_number(m.group(2))
        if minutes is not None and seconds is not None:
            add((minutes * 60 + seconds) * 1000, m.start(), m.end())
    for m in _HALF_ZH.finditer(text):
        if m.group(1):
            whole = parse_number(m.group(1))
            if whole is not None:
                add((whole + 0.5) * _unit_ms(m.group(2)), m.start(), m.end())
        else:
            add(0.5 * _unit_ms(m.group(3)), m.start(), m.end())
    for m in _A_HALF_EN.finditer(text):
        if m.group(3):
            add(0.5 * _unit_ms(m.group(3)), m.start(), m.end())
        elif m.group(1):
            whole = parse_number(m.group(1))
            if whole is not None:
                add((whole + 0.5) * _unit_ms(m.group(2)), m.start(), m.end())
        else:
            add(0.5 * _unit_ms(m.group(2)), m.start(), m.end())
    for m in _SIMPLE.finditer(text):
        value = parse_number(m.group(1))
        if value is None:
            continue
        unit = m.group(2).lower()
        if unit == "m" and text[m.end() : m.end() + 1].isalpha():
            continue
        if m.group(1) in ("a", "an") and _NOUN_AFTER.match(text, m.end()):
            continue  # "a second clip", "a second title": an ordinal, not one second
        add(value * _unit_ms(unit), m.start(), m.end())
    found.sort(key=lambda f: f.start)
    return found


def find_bare_numbers(text: str) -> list[Found]:
    """Numbers with no unit (Arabic digits, Chinese numerals, English number words), in order."""
    out: list[Found] = []
    for m in re.finditer(NUMBER, text):
        value = parse_number(m.group(0))
        if value is not None and m.group(0) not in ("a", "an"):
            out.append(Found(value, m.start(), m.end()))
    return out


# ---------------------------------------------------------------------------- percentages
_PERCENT = re.compile(
    rf"({NUMBER})\s*(?:%|percent\b|per\s+cent\b|pct\b)|百分之\s*({NUMBER})|(?<![A-Za-z0-9点])({CN_NUM}|\d)\s*成(?![为功不])"
)


def find_percentages(text: str) -> list[Found]:
    """Every percentage, as a number of percent ("30%", "百分之三十", "三成" → 30)."""
    out: list[Found] = []
    for m in _PERCENT.finditer(text):
        if m.group(1) is not None:
            value = parse_number(m.group(1))
        elif m.group(2) is not None:
            value = parse_number(m.group(2))
        else:
            tenths = parse_number(m.group(3))
            value = tenths * 10 if tenths is not None else None
        if value is not None:
            out.append(Found(value, m.start(), m.end()))
    return out


# ---------------------------------------------------------------------------- ordinals
_EN_ORDINALS = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
    "tenth": 10,
}


def ordinal(word: str) -> int | None:
    """One English ordinal ("third", "2nd", "second-to-last") as a 1-based position, counted from the
    end when negative ("last" -1, "second to last" -2); None when it is not one."""
    word = re.sub(r"[- ]+", " ", word.strip().lower())
    if word in ("last", "final"):
        return -1
    if word in ("second to last", "penultimate"):
        return -2
    if word in _EN_ORDINALS:
        return _EN_ORDINALS[word]
    numbered = re.fullmatch(r"(\d{1,3})(?:st|nd|rd|th)", word)
    return (int(numbered.group(1)) or None) if numbered else None


def format_seconds(ms: int) -> str:
    """12000 → "12", 2500 → "2.5", 23700 → "23.7" (what replies and the bot's summary show)."""
    seconds = ms / 1000
    if abs(seconds - round(seconds)) < 0.05:
        return f"{round(seconds):d}"
    return f"{seconds:.1f}"
