"""When something happens on the timeline, as people say it: "for the first 3 seconds", "from 5s to
8s", "at the end", "stop at 0:18", "前3秒", "第5秒到第15秒", "从5秒开始", "结尾".

`parse_when` reads one clause into a `When` (the pieces it found, none of them resolved yet); the
caller resolves it against what it applies to (the timeline, a clip, the music) with `resolve`,
because "the last 3 seconds" means different times for a title and for a trim of the second clip.
Durations the phrase used are reported back so a clause's other numbers (a fade's length) stay
distinguishable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Literal

from engine.editor.numbers import CN_NUMBER, EN_NUMBER, NOT_AFTER, UNIT, Found, find_durations, parse_number

Anchor = Literal["start", "end", "all"]


@dataclass(frozen=True, slots=True)
class When:
    """The pieces of a time phrase; every time is ms from the start of what it applies to."""

    start: int | None = None
    end: int | None = None
    length: int | None = None
    anchor: Anchor | None = None
    """"first N" is anchor start + length N; "last N" anchor end + length N; "at the end" anchor end alone."""

    def is_empty(self) -> bool:
        return self.start is None and self.end is None and self.length is None and self.anchor is None


@dataclass(frozen=True, slots=True)
class ParsedWhen:
    when: When
    used: tuple[tuple[int, int], ...]
    """Character spans of the clause the phrase took (its numbers belong to it)."""


# A time token: a clock time, or a number with an optional unit ("5", "5s", "五秒", "0:18").
_NUM = rf"(?:\d+(?:\.\d+)?|{CN_NUMBER}|\b{EN_NUMBER}\b)"
_TOKEN = rf"(?:\d{{1,2}}:\d{{2}}(?:\.\d+)?|{_NUM}\s*(?:{UNIT})?)"
_RANGE_EN = re.compile(
    rf"(?:\bfrom\s+|\bbetween\s+)?(?:the\s+)?{NOT_AFTER}({_TOKEN})\s*(?:(?:up\s+)?to|until|till|through|thru|and|-|–|—|~)\s*(?:the\s+)?({_TOKEN})"
)
_RANGE_ZH = re.compile(rf"(?:从|由|在)?\s*(?:第\s*)?({_TOKEN})\s*(?:到|至|~|-|—|－)\s*(?:第\s*)?({_TOKEN})")
"""`\\s*(?:第\\s*)?`, not `\\s*第?\\s*`: two adjacent `\\s*` can split a run of spaces every way, which made
a message of a few hundred quoted words take minutes here."""
_FIRST = re.compile(
    rf"\b(?:first|opening|initial|beginning|starting)\s+({_TOKEN})|(?:前|开头的?|开始的?|头|最初的?|片头)\s*({_TOKEN})"
    rf"|{NOT_AFTER}({_TOKEN})\s+(?:from|off|of|at)\s+the\s+(?:start|beginning|front|top)\b"
)
_LAST = re.compile(
    rf"\b(?:last|final|ending|closing)\s+({_TOKEN})|(?<!之)(?:后|最后的?|结尾的?|末尾的?|片尾|最后)\s*({_TOKEN})"
    rf"|{NOT_AFTER}({_TOKEN})\s+(?:from|off|of|at)\s+the\s+(?:end|back|tail)\b"
)
_FOR = re.compile(
    rf"\b(?:for|lasting|last\s+for|during|over)\s+(?:about\s+|around\s+|roughly\s+)?({_TOKEN})|(?:持续|显示|停留|保持|出现)\s*({_TOKEN})"
)
_END_WORDS = re.compile(
    r"\b(?:stop|stops|stopping|end|ends|ending|finish|finishes|until|till|up\s+to|through|cut\s+off|by)\b"
    r"(?:\s+(?:it|the\s+\w+|playing|at|on|around|after))*\s*$"
)
_END_WORDS_AFTER = re.compile(r"^\s*(?:结束|停止|停|为止|截止|前结束|之前|以前)")
_START_WORDS = re.compile(
    r"\b(?:start|starts|starting|begin|begins|beginning|from|after|kick\s+in|kicks\s+in|come\s+in|comes\s+in|at|in\s+at)\b"
    r"(?:\s+(?:it|the\s+\w+|playing|at|on|around|after))*\s*$"
)
_START_WORDS_AFTER = re.compile(r"^\s*(?:开始|起|之后|以后|后开始|进入|出现)")
_START_WORDS_BEFORE_ZH = re.compile(r"(?:从|自|在)\s*第?\s*$")
_ANCHOR_END = re.compile(
    r"\b(?:at|in|towards?|near|for|during)\s+the\s+(?:very\s+)?(?:end|ending|finish|outro|close)\b|\bat\s+the\s+end\b"
    r"|\bending\b|\bout+ro\b|\bas\s+an?\s+outro\b|结尾|末尾|片尾|最后(?![一\d])|结束时|结束的时候"
)
_ANCHOR_START = re.compile(
    r"\b(?:at|in|from)\s+the\s+(?:very\s+)?(?:start|beginning|opening|intro)\b|\bas\s+an?\s+intro\b|开头|片头|一开始|开始时|开始的时候"
)
_ANCHOR_ALL = re.compile(
    r"\b(?:the\s+)?(?:whole|entire|full)\s+(?:video|clip|thing|time|timeline|length|way)\b|\bthroughout\b|\ball\s+the\s+way\b"
    r"|\ball\s+along\b|全程|整个视频|整段|一直|从头到尾|全部时间"
)


def _split(token: str) -> tuple[float | None, int | None]:
    """A time token → (its value in ms when it names a unit, else the bare number; the unit's ms or None)."""
    token = token.strip()
    found = find_durations(token)
    if found and found[0].start == 0:
        return found[0].value, 1
    m = re.match(_NUM, token)
    if m is None:
        return None, None
    return parse_number(m.group(0)), None


def _token_ms(token: str, unit_ms: int = 1000) -> int | None:
    value, unit = _split(token)
    if value is None:
        return None
    return round(value * (unit or unit_ms))


def _unit_of(token: str) -> int | None:
    """The unit a token names ("15 s" → 1000, "2 min" → 60000), None for a bare number or a clock."""
    value, unit = _split(token)
    if value is None or unit is None:
        return None
    bare = re.match(_NUM, token.strip())
    number = parse_number(bare.group(0)) if bare else None
    if not number:
        return None
    return round(value / number)


def _has_unit(token: str) -> bool:
    return _split(token)[1] is not None


def _free(used: list[tuple[int, int]], start: int, end: int) -> bool:
    return not any(start < b and a < end for a, b in used)


def _ends(clause: str, used: list[tuple[int, int]]) -> list[tuple[Anchor, int, tuple[int, int]]]:
    """Every "first N" / "last N" phrase with a unit ("the first 2" alone is an ordinal, not a time)."""
    out: list[tuple[Anchor, int, tuple[int, int]]] = []
    table: tuple[tuple[re.Pattern[str], Anchor], ...] = ((_FIRST, "start"), (_LAST, "end"))
    for pattern, anchor in table:
        for m in pattern.finditer(clause):
            if not _free(used, m.start(), m.end()):
                continue
            token = next(g for g in m.groups() if g)
            length = _token_ms(token, 1000) if _has_unit(token) else None
            if length is not None:
                out.append((anchor, length, m.span()))
                break
    return out


def head_and_tail(clause: str) -> tuple[int | None, int | None]:
    """("trim the first 2 seconds and the last 3") → (2000, 3000); None where the clause says nothing."""
    found = {anchor: length for anchor, length, _ in _ends(clause, [])}
    return found.get("start"), found.get("end")


def parse_when(clause: str) -> ParsedWhen:
    """The time phrase(s) in one normalised clause. Bare numbers count as seconds only inside a
    range or after a time word ("from 5 to 15"), never alone ("music at 30" is a volume)."""
    when = When()
    used: list[tuple[int, int]] = []

    for pattern in (_RANGE_EN, _RANGE_ZH):
        for m in pattern.finditer(clause):
            if not _free(used, m.start(), m.end()):
                continue
            a, b = m.group(1), m.group(2)
            if not (_has_unit(a) or _has_unit(b)) and not re.search(r"\bfrom\b|\bbetween\b|从|第", m.group(0)):
                continue  # "2 to 3" alone is not a time; "from 2 to 3" is
            # "5 to 15 s", "5到15秒": the first number takes the second's unit.
            start = _token_ms(a, _unit_of(b) or 1000)
            end = _token_ms(b)
            if start is None or end is None:
                continue
            when = replace(when, start=start, end=end)
            used.append((m.start(), m.end()))
            break
        if when.start is not None:
            break

    for anchor, span_length, span in _ends(clause, used):
        if when.anchor is None:
            when = replace(when, anchor=anchor, length=span_length)
            used.append(span)

    for m in _FOR.finditer(clause):
        if not _free(used, m.start(), m.end()) or when.length is not None:
            continue
        token = next(g for g in m.groups() if g)
        if not _has_unit(token):
            continue
        length = _token_ms(token, 1000)
        if length is not None:
            when = replace(when, length=length)
            used.append((m.start(), m.end()))

    # Single times: a start or an end, told by the words around them.
    for found in find_durations(clause):
        if not _free(used, found.start, found.end):
            continue
        before, after = clause[: found.start], clause[found.end :]
        if _END_WORDS.search(before) or _END_WORDS_AFTER.search(after):
            if when.end is None:
                when = replace(when, end=int(found.value))
                used.append((found.start, found.end))
        elif when.start is None and (
            _START_WORDS.search(before) or _START_WORDS_AFTER.search(after) or _START_WORDS_BEFORE_ZH.search(before)
        ):
            when = replace(when, start=int(found.value))
            used.append((found.start, found.end))

    if when.anchor is None and when.start is None and when.end is None:
        anchors: tuple[tuple[re.Pattern[str], Anchor], ...] = (
            (_ANCHOR_ALL, "all"),
            (_ANCHOR_END, "end"),
            (_ANCHOR_START, "start"),
        )
        for pattern, word in anchors:
            hit = pattern.search(clause)
            if hit is not None and _free(used, hit.start(), hit.end()):
                when = replace(when, anchor=word)
                used.append((hit.start(), hit.end()))
                break
    return ParsedWhen(when, tuple(used))


class TimeOutOfRange(ValueError):
    """The phrase asks for a time outside what it applies to (the message names both, in ms)."""

    def __init__(self, asked_ms: int, total_ms: int) -> None:
        super().__init__(f"{asked_ms} ms is outside 0-{total_ms} ms")
        self.asked_ms = asked_ms
        self.total_ms = total_ms


def resolve(when: When, total_ms: int, default_length_ms: int, *, default_start_ms: int = 0) -> tuple[int, int]:
    """(start, end) in ms inside [0, total_ms] for a thing that lasts `default_length_ms` unless told.
    Raises `TimeOutOfRange` when the start lies at or beyond the end of what it applies to."""
    if when.anchor == "all":
        return 0, total_ms
    length = when.length
    if when.start is not None and when.end is not None:
        start, end = when.start, when.end
        if end < start:
            start, end = end, start
    elif when.anchor == "end":
        length = length if length is not None else default_length_ms
        end = total_ms if when.end is None else when.end
        start = max(0, end - length)
    elif when.anchor == "start":
        start = 0 if when.start is None else when.start
        end = start + (length if length is not None else default_length_ms)
    elif when.start is not None:
        start = when.start
        end = start + length if length is not None else (start + default_length_ms if default_length_ms else total_ms)
    elif when.end is not None:
        end = when.end
        start = max(0, end - length) if length is not None else default_start_ms
    else:
        start = default_start_ms
        end = start + (length if length is not None else default_length_ms)
    if start >= total_ms:
        raise TimeOutOfRange(start, total_ms)
    return max(0, start), min(end, total_ms)


__all__ = ["Anchor", "Found", "ParsedWhen", "TimeOutOfRange", "When", "head_and_tail", "parse_when", "resolve"]
