"""The title font: Noto Sans CJK (Bold) from the `noto-cjk-sans-jp-bold` wheel.

drawtext draws with one font file and no per-glyph fallback, so that file must cover Latin and
CJK alike or a Chinese title comes out as boxes. Noto Sans CJK covers Latin, Chinese (simplified
and traditional), Japanese and Korean in one face, and is licensed under the SIL Open Font
License 1.1, which allows bundling it with software; the wheel installs with `pip install -e .`,
so no font file lives in this repository (docs/engine.md, "Render"). Its Han glyphs follow the
Japanese regional conventions: a handful of characters look slightly different from the
mainland-Chinese forms, which readers accept in titles.

When the package is missing (an operator stripped it), titles fall back to fontconfig's default
sans face and a warning says that CJK text may not draw.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cache
from pathlib import Path

log = logging.getLogger(__name__)

FALLBACK_PATTERN = "Noto Sans CJK SC:style=Bold"
"""The fontconfig pattern used when the wheel is missing (Debian's fonts-noto-cjk matches it)."""


@dataclass(frozen=True, slots=True)
class TitleFont:
    file: Path | None
    """The font file, or None to let fontconfig choose by `pattern`."""
    pattern: str = ""


@cache
def title_font() -> TitleFont:
    try:
        import noto_cjk_sans_jp_bold  # type: ignore[import-untyped]

        path = Path(str(noto_cjk_sans_jp_bold.FONT_PATH))
        if path.is_file():
            return TitleFont(file=path)
    except ImportError:
        pass
    log.warning(
        "the title font package noto-cjk-sans-jp-bold is not installed; titles use fontconfig's %r, "
        "and Chinese, Japanese or Korean text may draw as boxes",
        FALLBACK_PATTERN,
    )
    return TitleFont(file=None, pattern=FALLBACK_PATTERN)
