"""Which files the backend accepts (docs/backend-contract.md, section 8), checked by name and by content.

The extension alone is easy to fake, so the first bytes of the file are checked too before
anything is sent to the backend.
"""

from __future__ import annotations

from pathlib import PurePosixPath

VIDEO = frozenset({"mp4", "mov", "avi", "webm", "mkv"})
IMAGE = frozenset({"jpg", "jpeg", "png", "gif", "webp"})
AUDIO = frozenset({"mp3", "wav", "m4a", "aac"})
SUPPORTED = VIDEO | IMAGE | AUDIO
SNIFF_BYTES = 64

_MIME = {
    "mp4": "video/mp4",
    "mov": "video/quicktime",
    "avi": "video/x-msvideo",
    "webm": "video/webm",
    "mkv": "video/x-matroska",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "gif": "image/gif",
    "webp": "image/webp",
    "mp3": "audio/mpeg",
    "wav": "audio/wav",
    "m4a": "audio/mp4",
    "aac": "audio/aac",
}


def extension(filename: str) -> str:
    return PurePosixPath(filename.lower()).suffix.lstrip(".")


def is_supported_name(filename: str) -> bool:
    return extension(filename) in SUPPORTED


def mime_for(filename: str) -> str:
    return _MIME.get(extension(filename), "application/octet-stream")


def content_type_allowed(content_type: str | None) -> bool:
    """Discord's declared type must not contradict a media file (absent is fine)."""
    if not content_type:
        return True
    major = content_type.split("/", 1)[0].strip().lower()
    return major in ("video", "image", "audio") or content_type.startswith("application/octet-stream")


def sniff(head: bytes) -> str | None:
    """The container family the first bytes belong to, or None when unknown."""
    if len(head) >= 12 and head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand.startswith((b"M4A", b"M4B")):
            return "m4a"
        if brand == b"qt  ":
            return "mov"
        return "mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "mkv"  # Matroska and WebM share the EBML header
    if head.startswith(b"RIFF") and len(head) >= 12:
        return {b"AVI ": "avi", b"WAVE": "wav", b"WEBP": "webp"}.get(head[8:12])
    if head.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if head.startswith(b"ID3"):
        return "mp3"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xF6 == 0xF0:
        return "aac"  # ADTS sync word, layer 0
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        return "mp3"  # MPEG audio frame sync
    if len(head) >= 8 and head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip"):
        return "mov"
    return None


_FAMILIES: dict[str, frozenset[str]] = {
    "mp4": frozenset({"mp4", "mov", "m4a"}),
    "mov": frozenset({"mp4", "mov", "m4a"}),
    "m4a": frozenset({"mp4", "mov", "m4a"}),
    "mkv": frozenset({"mkv", "webm"}),
    "webm": frozenset({"mkv", "webm"}),
    "jpg": frozenset({"jpg", "jpeg"}),
    "jpeg": frozenset({"jpg", "jpeg"}),
    "mp3": frozenset({"mp3", "aac"}),
    "aac": frozenset({"aac", "mp3"}),
}


def content_matches(filename: str, head: bytes) -> bool:
    """True when the file's first bytes fit its extension's container family."""
    ext = extension(filename)
    found = sniff(head)
    if found is None:
        return False
    return found in _FAMILIES.get(ext, frozenset({ext}))


def human_size(num_bytes: int) -> str:
    size = float(num_bytes)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit in ("B", "KB") else f"{size:.1f} {unit}".replace(".0 ", " ")
        size /= 1024
    return f"{size:.1f} GB"
