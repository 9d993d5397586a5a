"""Turning an ffmpeg failure into a reason a user can act on (never a path or a log line).

ffmpeg names a failing input by its index (`[in#2/…]`, `[vist#2:0/…]`, `Error while decoding
stream #2:0`) or by its path; each pass knows which clip each input index is.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from engine.ffmpeg import FFmpegError
from engine.render import RenderFailed

_INPUT_INDEX = re.compile(r"(?:\b(?:in|ist|vist|aist|dec)#|stream #|Input #)(\d+)")


def failed_input(tail: str, paths: Sequence[str]) -> int | None:
    """Which input (index into `paths`) ffmpeg blamed, if it said."""
    for i, path in enumerate(paths):
        if path and path in tail:
            return i
    for match in _INPUT_INDEX.finditer(tail):
        index = int(match.group(1))
        if 0 <= index < len(paths):
            return index
    return None


def explain(exc: FFmpegError, names: Sequence[str], paths: Sequence[str]) -> RenderFailed:
    """A `RenderFailed` for a failed pass whose inputs are `names` (what the user called them)."""
    tail = exc.tail
    if "No space left on device" in tail:
        return RenderFailed("the engine ran out of disk space while rendering; try again later")
    index = failed_input(tail, paths)
    if index is not None:
        return RenderFailed(
            f"“{names[index]}” could not be read to the end (the file looks damaged or incomplete); "
            "upload it again or remove it from the timeline"
        )
    return RenderFailed("the render failed while processing the media; try again, or remove the clip you added last")
