"""Titles: the draft's text segments laid out for the canvas and drawn by ffmpeg's drawtext.

drawtext neither wraps nor shrinks text, so the layout happens here: the size word becomes a
pixel size relative to the canvas's short side, long text is wrapped (between words, or between
any two CJK characters) to fit 88 % of the width in at most three lines, shrinking when it must.
Widths are estimated per character (CJK full width 1 em, Latin about 0.62 em in the bold face),
with room to spare. The text goes to drawtext through a UTF-8 file, never through the filter
string, so no user text can break the graph or be expanded as a `%{…}` sequence.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from pathlib import Path

from engine.render.escape import ff_value
from engine.render.fonts import title_font
from engine.render.plan import TextItem

SIZE_FRACTION = {"small": 0.045, "medium": 0.065, "large": 0.09}
"""Font size as a fraction of the canvas's short side."""
MAX_WIDTH = 0.88
MAX_LINES = 3
MIN_FRACTION = 0.03
MARGIN_Y = 0.07
MARGIN_X = 0.05
FADE_S = 0.3


def char_em(ch: str) -> float:
    if unicodedata.east_asian_width(ch) in ("W", "F"):
        return 1.0
    if ch.isspace():
        return 0.28
    if ch.isupper() or ch in "mwMW@%&":
        return 0.72
    if unicodedata.category(ch).startswith("P"):
        return 0.4
    return 0.62


def text_em(text: str) -> float:
    return sum(char_em(c) for c in text)


def _tokens(paragraph: str) -> list[str]:
    """Break opportunities: words with their trailing space, and every CJK character on its own."""
    tokens: list[str] = []
    word = ""
    for ch in paragraph:
        if unicodedata.east_asian_width(ch) in ("W", "F"):
            if word:
                tokens.append(word)
                word = ""
            tokens.append(ch)
        else:
            word += ch
            if ch == " ":
                tokens.append(word)
                word = ""
    if word:
        tokens.append(word)
    return tokens


def wrap(text: str, max_em: float) -> list[str]:
    """Greedy wrap of `text` into lines no wider than `max_em` (a single long word stays whole)."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        line = ""
        for token in _tokens(paragraph.strip()):
            if line and text_em((line + token).rstrip()) > max_em:
                lines.append(line.rstrip())
                line = token.lstrip()
            else:
                line += token
        lines.append(line.rstrip())
    return [ln for ln in lines if ln] or [""]


@dataclass(frozen=True, slots=True)
class TitleLayout:
    lines: list[str]
    fontsize: int


def layout(text: str, size: str, width: int, height: int) -> TitleLayout:
    short = min(width, height)
    fraction = SIZE_FRACTION.get(size, SIZE_FRACTION["large"])
    while True:
        fontsize = max(8, round(short * fraction))
        lines = wrap(text, MAX_WIDTH * width / fontsize)
        widest = max(text_em(line) for line in lines) * fontsize
        if (len(lines) <= MAX_LINES and widest <= MAX_WIDTH * width) or fraction <= MIN_FRACTION:
            return TitleLayout(lines, fontsize)
        fraction = max(MIN_FRACTION, fraction * 0.9)


def _position(position: str, margin_x: int, margin_y: int) -> tuple[str, str, str]:
    """drawtext's x, y and text_align for a draft position."""
    vertical, _, horizontal = position.partition("-")
    if position == "center":
        return "(w-text_w)/2", "(h-text_h)/2", "C"
    if not horizontal:
        horizontal = "center"
    x = {"left": str(margin_x), "right": f"w-text_w-{margin_x}", "center": "(w-text_w)/2"}[horizontal]
    y = str(margin_y) if vertical == "top" else f"h-text_h-{margin_y}"
    align = {"left": "L", "right": "R", "center": "C"}[horizontal]
    return x, y, align


def drawtext_filter(
    item: TextItem, name: str, width: int, height: int, work_dir: Path, *, offset_s: float = 0.0
) -> str:
    """One `drawtext=…` filter for a text segment (its text written to a file in `work_dir`);
    `offset_s` is where the encoded part starts on the timeline (its `t` is 0 there)."""
    meta = item.segment.m
    lay = layout(meta.text, meta.size, width, height)
    text_file = work_dir / f"title-{name}.txt"
    text_file.write_text("\n".join(lay.lines), encoding="utf-8")
    x, y, align = _position(meta.position, round(MARGIN_X * width), round(MARGIN_Y * height))
    start, end = item.start_s - offset_s, item.end_s - offset_s
    fade = min(FADE_S, (end - start) / 4)
    a, b = f"({start:.3f})", f"({end:.3f})"  # negative in a later part of a grouped encode
    alpha = f"if(lt(t,{a}+{fade:.3f}),(t-{a})/{fade:.3f},if(gt(t,{b}-{fade:.3f}),({b}-t)/{fade:.3f},1))"
    font = title_font()
    options = {
        "fontfile" if font.file is not None else "font": str(font.file) if font.file is not None else font.pattern,
        "textfile": str(text_file),
        "expansion": "none",
        "fontsize": str(lay.fontsize),
        "fontcolor": "white",
        "borderw": str(max(2, round(lay.fontsize * 0.06))),
        "bordercolor": "black@0.85",
        "shadowx": str(max(1, round(lay.fontsize * 0.04))),
        "shadowy": str(max(1, round(lay.fontsize * 0.04))),
        "shadowcolor": "black@0.45",
        "line_spacing": str(round(lay.fontsize * 0.2)),
        "text_align": align,
        "x": x,
        "y": y,
        "alpha": f"max(0,min(1,{alpha}))",
        "enable": f"between(t,{a},{b})",
    }
    return "drawtext=" + ":".join(f"{key}={ff_value(value)}" for key, value in options.items())
