"""Untrusted text made safe to show: a file name from a user, made safe once where it enters the core
(bot.core.ports.IncomingFile), and any other outside text shown literally (`literal`).

Discord passes attachment names through as users wrote them: `../../etc/passwd.mp4` would reach the
backend as the multipart file name, and a right-to-left override (U+202E) flips the rest of any line
that shows it ("Uploaded 2 files: …"). After this, one name is used everywhere: checks, the upload,
every text and log line.
"""

from __future__ import annotations

import re
import unicodedata

MAX_NAME_CHARS = 120
MAX_EXTENSION_CHARS = 10
FALLBACK_STEM = "file"

# Invisible characters that reorder or hide text: every format character (Cf: bidi embeddings,
# overrides and isolates, marks, zero-width joiners, BOM), controls (Cc), surrogates (Cs), private use
# (Co) and line/paragraph separators (Zl, Zp). Other spaces become a plain space.
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Zl", "Zp"})
_SPACES = re.compile(r"\s+")
_MARKDOWN = re.compile(r"([\\*_`~|>\[\]()#<@])")


def visible(text: str) -> str:
    """Without the characters that reorder or hide text; runs of spaces become one."""
    spaced = (" " if ch.isspace() else ch for ch in text)  # tabs and newlines part words, as spaces do
    kept = (ch for ch in spaced if unicodedata.category(ch) not in _DROPPED_CATEGORIES)
    return _SPACES.sub(" ", "".join(kept)).strip()


def clean_filename(name: str) -> str:
    """The last path part, without invisible characters, at most MAX_NAME_CHARS, its extension kept.

    Never empty: a name with nothing left is "file" (with its extension, if it had one). Cleaning a
    clean name changes nothing: trimming can reveal something new to trim ("0..0." loses its last dot,
    then ".0" reads as an extension), so it is repeated until nothing changes (each pass only shortens)."""
    cleaned = _clean_once(name)
    while (again := _clean_once(cleaned)) != cleaned:
        cleaned = again
    return cleaned


def _clean_once(name: str) -> str:
    name = unicodedata.normalize("NFC", name)
    # Path parts: both separators, whatever the platform (Windows clients send backslashes).
    base = visible(re.split(r"[/\\]", name)[-1])
    stem, dot, extension = base.rpartition(".")
    if not dot:
        stem, extension = base, ""
    extension = visible(extension)
    if len(extension) > MAX_EXTENSION_CHARS or not extension.isalnum():
        stem, extension = base, ""  # not an extension: a dot inside the name
    stem = stem.strip(" .")  # no hidden dot-files, no "..", no trailing dots
    suffix = f".{extension}" if extension else ""
    stem = stem[: MAX_NAME_CHARS - len(suffix)].rstrip(" .") or FALLBACK_STEM
    return stem + suffix


def literal(text: str, limit: int) -> str:
    """Outside text (a file name, a backend's reason) shown in Discord markdown as it is: invisible
    characters gone, markdown escaped (never a mention, link or format), at most `limit` characters."""
    shown = visible(text)
    if len(shown) > limit:
        shown = shown[: limit - 1].rstrip() + "…"
    return _MARKDOWN.sub(r"\\\1", shown)
