"""The music bed for a draft: from its music segment to a cached WAV of exactly the segment's length.

This is where the three sources meet (docs/music.md): the composer gets the mood, the seed and
the timeline's strongest cuts; the library and the user's upload get their track fitted. The
result is cached by everything that decides its samples, so the editor can compose ahead during
a chat turn and the render finds the same file ready; two identical requests at once compose once.
CPU work runs in a worker thread and ffmpeg in a child process, never on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from engine.config import EngineSettings
from engine.draft import Draft, MusicSegment
from engine.ffmpeg import FFmpegError, run_ffmpeg
from engine.media import MediaInfo
from engine.music import MOODS, SAMPLE_RATE, Cut, MusicRequest, MusicResult, analyse_video, fit, library
from engine.music.composer.soundfont import find_soundfont
from engine.music.singleflight import SingleFlight

log = logging.getLogger(__name__)

VERSION = 2
"""Part of every cache key: bump it when the composer or the fitting changes its output."""
MAX_SYNCED_CUTS = 3
EDGE_S = 0.25
"""Cuts closer than this to the music's start or end are not worth a downbeat."""

_flight: SingleFlight[MusicResult] = SingleFlight()


async def music_for_draft(draft: Draft, media: Mapping[str, MediaInfo], settings: EngineSettings) -> MusicResult | None:
    segment = draft.music
    if segment is None:
        return None
    session = next((m.session_id for m in media.values()), "-")
    request, titles = await request_for_draft(draft, media, settings, session=session)
    try:
        return await render_music(request, settings, titles=titles, session=session)
    except MusicUnavailable:
        if request.source == "composer":
            raise
        log.warning("music track unusable session=%s source=%s: composing instead", session, request.source)
        cuts = await timeline_cuts(draft, segment, media, settings)
        fallback = MusicRequest("composer", request.duration_s, request.mood, request.seed, cuts)
        return await render_music(fallback, settings, session=session)


async def request_for_draft(
    draft: Draft, media: Mapping[str, MediaInfo], settings: EngineSettings, *, session: str = "-"
) -> tuple[MusicRequest, tuple[str, ...]]:
    """The MusicRequest the draft's music segment asks for (and the track titles for the description).

    A library track or upload that is gone falls back to the composer in the segment's mood, so a
    render never fails for want of its music (logged as a warning)."""
    segment = draft.music
    assert segment is not None
    meta = segment.m
    duration = segment.d / 1000
    mood = meta.mood if meta.mood in MOODS else "calm"
    seed = meta.seed % 2**64  # a draft may hold any integer; the generators take non-negative ones
    if meta.source == "upload":
        info = media.get(meta.media)
        usable = info is not None and (info.kind == "audio" or info.has_audio)
        if info is not None and usable and await asyncio.to_thread(info.path.is_file):
            return MusicRequest("upload", duration, mood, seed, (), info.path), (info.filename,)
        log.warning("music upload missing session=%s media=%s: composing instead", session, meta.media)
    elif meta.source == "library":
        found = await _library_request(meta.track, mood, seed, duration, settings)
        if found is not None:
            return found
        log.warning(
            "music library track missing session=%s track=%r mood=%s: composing instead", session, meta.track, mood
        )
    cuts = await timeline_cuts(draft, segment, media, settings)
    return MusicRequest("composer", duration, mood, seed, cuts), ()


async def _library_request(
    relative: str, mood: str, seed: int, duration: float, settings: EngineSettings
) -> tuple[MusicRequest, tuple[str, ...]] | None:
    if settings.music_dir is None:
        return None
    return await asyncio.to_thread(_library_lookup, settings.music_dir, relative, mood, seed, duration)


def _library_lookup(
    root: Path, relative: str, mood: str, seed: int, duration: float
) -> tuple[MusicRequest, tuple[str, ...]] | None:
    """The named track (or the seed's track in the mood), and a companion to crossfade into when it
    is shorter than the segment and the library has another track in that mood (file system work:
    run in a worker thread)."""
    tracks = library.scan(root)
    chosen: library.Track | None
    if relative:
        path = library.resolve(root, relative)
        if path is None:
            return None
        chosen = next((t for t in tracks if (root / t.path).resolve() == path), None)
        chosen = chosen or library.Track(Path(relative), (mood,), Path(relative).stem)
    else:
        chosen = library.pick(tracks, mood, seed)
        if chosen is None:
            return None
    seconds = library.track_seconds(root / chosen.path)
    other = None
    if seconds is not None and seconds < duration + 2.0:
        mood_of_track = mood if mood in chosen.moods else (chosen.moods[0] if chosen.moods else mood)
        other = library.pick(tracks, mood_of_track, seed + 1, skip=chosen.path)
    titles = (chosen.title,) if other is None else (chosen.title, other.title)
    request = MusicRequest(
        "library", duration, mood, seed, (), root / chosen.path, root / other.path if other is not None else None
    )
    return request, titles


async def timeline_cuts(
    draft: Draft, segment: MusicSegment, media: Mapping[str, MediaInfo], settings: EngineSettings
) -> tuple[Cut, ...]:
    """The music segment's strongest cuts, on its own time axis, strongest first: the joins between
    clips (strength 1) and the scene cuts inside each clip, mapped through its trim (`src_in`)."""
    cuts: list[Cut] = []
    for i, visual in enumerate(draft.visuals):
        if i > 0:
            cuts.append(Cut(visual.st / 1000, 1.0))
        info = media.get(visual.m.media)
        if info is None or visual.m.kind != "video" or info.kind != "video":
            continue
        features = await analyse_video(info, settings)
        for cut in features.cuts:
            inside = cut.time_s * 1000 - visual.m.src_in
            if 0 < inside < visual.d:
                cuts.append(Cut((visual.st + inside) / 1000, cut.score))
    start, end = segment.st / 1000, segment.end / 1000
    kept = [
        Cut(round(c.time_s - start, 3), round(c.score, 3)) for c in cuts if start + EDGE_S < c.time_s < end - EDGE_S
    ]
    kept.sort(key=lambda c: (-c.score, c.time_s))
    return tuple(kept[:MAX_SYNCED_CUTS])


def cache_key(request: MusicRequest, titles: tuple[str, ...] = (), soundfont: Path | None = None) -> str:
    fields: dict[str, object] = {
        "v": VERSION,
        "source": request.source,
        "duration_ms": round(request.duration_s * 1000),
    }
    if request.source == "composer":
        font = find_soundfont(soundfont)
        fields |= {
            "mood": request.mood,
            "seed": request.seed,
            "cuts": [[round(c.time_s * 1000), round(c.score, 3)] for c in request.cuts],
            "soundfont": _identity(font) if font else None,
        }
    else:
        fields |= {
            "track": _identity(request.track) if request.track else None,
            "companion": _identity(request.companion) if request.companion else None,
            "titles": list(titles),
        }
    blob = json.dumps(fields, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:32]


def _identity(path: Path) -> list[object]:
    try:
        st = path.stat()
    except OSError:
        return [str(path), None, None]
    return [str(path), st.st_size, st.st_mtime_ns]


async def render_music(
    request: MusicRequest, settings: EngineSettings, *, titles: tuple[str, ...] = (), session: str = "-"
) -> MusicResult:
    """The bed for a request: from the cache, or made now (once, however many ask at the same time)."""
    key = await asyncio.to_thread(cache_key, request, titles, settings.soundfont)
    folder = settings.cache_dir / "music"
    cached = await asyncio.to_thread(_load, folder, key)
    if cached is not None:
        return cached
    return await _flight.run(key, lambda: _produce(request, settings, folder, key, titles, session))


async def _produce(
    request: MusicRequest, settings: EngineSettings, folder: Path, key: str, titles: tuple[str, ...], session: str
) -> MusicResult:
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    tmp = folder / f"{key}.{uuid.uuid4().hex[:8]}.tmp.wav"
    try:
        if request.source == "composer":
            meta = await asyncio.to_thread(_compose, request, tmp, settings)
        else:
            meta = await _fit(request, tmp, titles)
        wav = folder / f"{key}.wav"
        await asyncio.to_thread(tmp.replace, wav)
        await asyncio.to_thread(_store_meta, folder / f"{key}.json", meta)
    finally:
        await asyncio.to_thread(tmp.unlink, missing_ok=True)
    log.info(
        "music ready session=%s source=%s mood=%s seed=%d duration=%.3f key=%s",
        session, request.source, request.mood, request.seed, request.duration_s, key,
    )  # fmt: skip
    return _result(wav, meta)


def _compose(request: MusicRequest, path: Path, settings: EngineSettings) -> dict[str, object]:
    from engine.music.composer import compose

    font = find_soundfont(settings.soundfont)
    piece = compose(request.duration_s, request.mood, request.seed, request.cuts, path, soundfont=font)
    return {
        "duration_s": request.duration_s,
        "description": piece.description(),
        "tempo_bpm": round(piece.score.grid.bpm, 3),
        "downbeats_s": [round(t, 4) for t in piece.score.grid.downbeats()],
    }


async def _fit(request: MusicRequest, path: Path, titles: tuple[str, ...]) -> dict[str, object]:
    assert request.track is not None
    tracks = [request.track] + ([request.companion] if request.companion is not None else [])
    tmp = Path(await asyncio.to_thread(tempfile.mkdtemp, dir=path.parent, prefix="fit-"))
    try:  # made and removed off the event loop: the decoded tracks there can be gigabytes
        raws = []
        for i, track in enumerate(tracks):
            raw = tmp / f"track{i}.f32"
            await _decode(track, raw, request.duration_s + 90.0)  # a longer track is trimmed anyway
            raws.append(raw)
        plan = await asyncio.to_thread(_fit_sync, raws, request.duration_s, path, request.seed)
    finally:
        await asyncio.to_thread(shutil.rmtree, tmp, True)
    bpm = round(plan.tempo_bpm)
    names_en = " and ".join(f"“{t}”" for t in titles) or "the track"
    names_zh = "和".join(f"《{t}》" for t in titles) or "曲目"
    joined = len({p.source for p in plan.pieces}) > 1
    if request.source == "upload":
        description = {
            "en": f"your track {names_en}, fitted to the clip ({bpm} BPM)",
            "zh": f"你上传的{names_zh}，已按视频长度剪辑（{bpm} BPM）",
        }
    else:
        how_en, how_zh = ("crossfaded to fit the clip", "交叉淡入淡出以配合视频长度") if joined else (
            "fitted to the clip", "已按视频长度剪辑")  # fmt: skip
        description = {
            "en": f"{names_en} from the music library, {how_en} ({bpm} BPM)",
            "zh": f"音乐库中的{names_zh}，{how_zh}（{bpm} BPM）",
        }
    return {
        "duration_s": request.duration_s,
        "description": description,
        "tempo_bpm": round(plan.tempo_bpm, 3),
        "downbeats_s": [round(t, 4) for t in plan.bar_lines],
    }


async def _decode(track: Path, raw: Path, limit_s: float) -> None:
    """The track as raw 48 kHz stereo float32 in a file (streamed by ffmpeg, never held whole in a pipe)."""
    args: list[str | Path] = ["-i", track, "-vn", "-sn", "-dn", "-t", f"{limit_s:.3f}", "-ac", "2"]
    args += ["-ar", str(SAMPLE_RATE), "-f", "f32le", "-"]
    try:
        await run_ffmpeg(args, stdout_to=raw)
    except FFmpegError as exc:
        log.warning("music track undecodable %s: %s", track.name, exc.tail[-300:])
        raise MusicUnavailable("the music track could not be read") from exc


def _fit_sync(raws: list[Path], duration: float, path: Path, seed: int) -> fit.Plan:
    sources = []
    for raw in raws:
        frames = raw.stat().st_size // 8
        # mapped, not read: the decoded track stays in the page cache, where the kernel can drop it
        samples = np.memmap(raw, dtype="<f4", mode="r", shape=(frames, 2)) if frames else np.zeros((0, 2), np.float32)
        if len(samples) < SAMPLE_RATE // 2:
            raise MusicUnavailable("the music track is empty")
        sources.append(samples)
    plan = fit.plan_fit(duration, [fit.analyse_beats(s) for s in sources])
    fit.render_plan(plan, sources, duration, path, seed=seed)
    return plan


class MusicUnavailable(RuntimeError):
    """A track could not be used (unreadable or empty); the message is safe to show."""


def _load(folder: Path, key: str) -> MusicResult | None:
    wav, meta = folder / f"{key}.wav", folder / f"{key}.json"
    try:
        result = _result(wav, json.loads(meta.read_text()))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):  # missing or damaged: made again
        return None
    if not wav.is_file():
        return None
    _mark_used(wav, meta)
    return result


def _result(wav: Path, meta: Mapping[str, Any]) -> MusicResult:
    return MusicResult(
        path=wav,
        duration_s=float(meta["duration_s"]),
        description=dict(meta.get("description") or {}),
        tempo_bpm=meta.get("tempo_bpm"),
        downbeats_s=tuple(float(t) for t in meta.get("downbeats_s") or ()),
    )


def _mark_used(*paths: Path) -> None:
    """A cache entry's age is the time since it was last used: the retention sweep removes old ones."""
    for path in paths:
        with contextlib.suppress(OSError):
            os.utime(path)


def _store_meta(path: Path, meta: dict[str, object]) -> None:
    tmp = path.with_suffix(f".{uuid.uuid4().hex[:8]}.tmp")
    tmp.write_text(json.dumps(meta, ensure_ascii=False))
    tmp.replace(path)
