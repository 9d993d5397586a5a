"""The operator's library of licensed tracks (`ENGINE_MUSIC_DIR`), sorted by mood.

Two ways to say a track's mood, usable together (docs/music.md, "Adding a library"):
- a subfolder named after the mood: `calm/`, `upbeat/`, `lofi/` … (a few common names are
  understood too: `chill` → calm, `epic` → cinematic, `travel` → happy, `suspense` → tense);
- a `music.toml` in the library folder with `[[track]]` tables (`file`, `moods`, optional
  `title` and `licence`), which also lets one track serve several moods.
Reading the folder is cheap and done on every request, so tracks added while the engine runs are
found without a restart.
"""

from __future__ import annotations

import logging
import tomllib
from dataclasses import dataclass
from pathlib import Path

from engine.music import MOODS

log = logging.getLogger(__name__)

AUDIO_SUFFIXES = frozenset({".mp3", ".m4a", ".aac", ".wav", ".flac", ".ogg", ".opus", ".oga"})
SIDECAR = "music.toml"
ALIASES: dict[str, str] = {
    "chill": "calm", "relaxing": "calm", "ambient": "calm", "epic": "cinematic", "dramatic": "cinematic",
    "emotional": "cinematic", "lo-fi": "lofi", "lo_fi": "lofi", "travel": "happy", "cheerful": "happy",
    "energetic": "upbeat", "suspense": "tense", "dark": "tense",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Track:
    path: Path
    """Relative to the library folder (what the draft's `m.track` holds)."""
    moods: tuple[str, ...]
    title: str
    licence: str = ""


def mood_of(name: str) -> str | None:
    key = name.strip().lower().replace(" ", "-")
    key = ALIASES.get(key, key)
    return key if key in MOODS else None


def scan(music_dir: Path | None) -> tuple[Track, ...]:
    """Every track the library offers, sorted by path (a missing folder is an empty library)."""
    if music_dir is None or not music_dir.is_dir():
        return ()
    found: dict[Path, Track] = {}
    for file in sorted(music_dir.rglob("*")):
        if file.suffix.lower() not in AUDIO_SUFFIXES or not file.is_file():
            continue
        rel = file.relative_to(music_dir)
        moods = tuple(m for m in (mood_of(part) for part in rel.parts[:-1]) if m is not None)
        found[rel] = Track(rel, moods, file.stem.replace("_", " "))
    sidecar = music_dir / SIDECAR
    if sidecar.is_file():
        try:
            entries = tomllib.loads(sidecar.read_text(encoding="utf-8")).get("track", [])
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            log.warning("music library: %s is unreadable (%s); using the folders only", SIDECAR, exc)
            entries = []
        for entry in entries if isinstance(entries, list) else []:
            track = _from_sidecar(music_dir, entry, found)
            if track is not None:
                found[track.path] = track
    return tuple(t for _, t in sorted(found.items()) if t.moods)


def _from_sidecar(music_dir: Path, entry: object, found: dict[Path, Track]) -> Track | None:
    if not isinstance(entry, dict) or not isinstance(entry.get("file"), str):
        return None
    rel = Path(entry["file"])
    if rel.is_absolute() or ".." in rel.parts or not (music_dir / rel).is_file():
        log.warning("music library: %s names a file that is not in the library: %s", SIDECAR, rel)
        return None
    raw = entry.get("moods", entry.get("mood", []))
    names = [raw] if isinstance(raw, str) else [m for m in raw if isinstance(m, str)] if isinstance(raw, list) else []
    moods = tuple(dict.fromkeys(m for m in (mood_of(n) for n in names) if m is not None))
    known = found.get(rel)
    moods = tuple(dict.fromkeys((*moods, *(known.moods if known else ()))))
    title = entry.get("title") if isinstance(entry.get("title"), str) else (known.title if known else rel.stem)
    licence = entry.get("licence", entry.get("license", ""))
    return Track(rel, moods, str(title), licence if isinstance(licence, str) else "")


def pick(tracks: tuple[Track, ...], mood: str, seed: int, *, skip: Path | None = None) -> Track | None:
    """The seed's track for a mood ("another one" = the next seed = the next track); None when the
    library has nothing in that mood."""
    choices = [t for t in tracks if mood in t.moods and t.path != skip]
    return choices[seed % len(choices)] if choices else None


def track_seconds(path: Path) -> float | None:
    """A track's length from its container (PyAV, no decode); None when it cannot be read."""
    import av

    from engine.probe import open_media

    try:
        with open_media(path) as container:
            return container.duration / 1e6 if container.duration else None
    except (av.FFmpegError, OSError):
        return None


def resolve(music_dir: Path | None, relative: str) -> Path | None:
    """The file a draft's `m.track` names, only if it lies inside the library folder."""
    if music_dir is None or not relative:
        return None
    try:  # the name comes from a draft: it may hold a NUL byte or be longer than a path may be
        root = music_dir.resolve()
        candidate = (root / relative).resolve()
        if not candidate.is_relative_to(root) or not candidate.is_file():
            return None
    except (OSError, ValueError):
        return None
    return candidate
