"""Escaping a value for an ffmpeg filtergraph (ffmpeg-filters(1), "Notes on filtergraph escaping").

Two levels: the filter's option parser treats `\\`, `'` and `:` specially, then the filtergraph
parser treats `\\`, `'`, `[`, `]`, `,` and `;`. Paths, expressions and patterns pass through both.
"""

from __future__ import annotations

_LEVEL1 = "\\':"
_LEVEL2 = "\\'[],;"


def _escape(text: str, specials: str) -> str:
    return "".join("\\" + ch if ch in specials else ch for ch in text)


def ff_value(value: str) -> str:
    """`value` as one filter option value inside a filtergraph string."""
    return _escape(_escape(value, _LEVEL1), _LEVEL2)
