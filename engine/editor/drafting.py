"""Pure edits of the draft: a draft and one intent in, a new draft and what changed out.

Nothing here does I/O or reads the clock, so every edit is deterministic and testable on its own;
engine/editor/turn.py strings them together for one message and commits the result once. A request
that cannot be done raises `Refusal` with a reply key and the numbers the reply needs ("that trim is
longer than the clip: 12.3 s"), never a half-edited draft. Rules the draft keeps (docs/engine.md):
video segments end to end in upload order, at most one music segment, music and text inside the
timeline; music that ran to the end of the timeline keeps running to its new end.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.draft import (
    IMAGE_SECONDS,
    Canvas,
    ClipSound,
    Draft,
    MusicMeta,
    MusicSegment,
    Position,
    TextMeta,
    TextSegment,
    TextSize,
    VisualMeta,
    VisualSegment,
)
from engine.editor import intents as it
from engine.editor.timespec import TimeOutOfRange, When, resolve
from engine.media import MediaInfo
from engine.music import MoodChoice
from engine.music.library import Track
from engine.music.library import pick as pick_track
from engine.music.mood import NAMES as MOOD_NAMES

log = logging.getLogger(__name__)

DEFAULT_VOLUME = 0.35
DEFAULT_FADE_OUT_MS = 1500
"""New music ends softly unless told otherwise; it starts at once (a fade-in is asked for)."""
TITLE_MS = 3000
"""A title stays 3 s unless told: long enough to read a few words, short enough not to cover the clip."""
MAX_TEXT_CHARS = 100
MAX_TEXTS = 20
MIN_PIECE_MS = 200
"""Nothing shorter than this is left on the timeline by a trim (a sliver would only flash)."""
MIN_MUSIC_MS = 500
MAX_STILL_MS = 10 * 60 * 1000
SIZES: tuple[TextSize, ...] = ("small", "medium", "large")


class Refusal(Exception):
    """A request that cannot be done as asked; `key` and `values` make the reply (engine/editor/replies.py)."""

    def __init__(self, key: str, **values: Any) -> None:
        super().__init__(key)
        self.key = key
        self.values = values


@dataclass(frozen=True, slots=True)
class Change:
    """One thing that changed, for the reply: a catalogue key and its values (ms, fractions, names)."""

    key: str
    values: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Edit:
    draft: Draft
    changes: tuple[Change, ...]


# ---------------------------------------------------------------------------- uploads
def append_media(draft: Draft, new: Sequence[MediaInfo]) -> Draft:
    """Clips and photos go after what is on the video track, in upload order; a photo is a 3 s still.
    Audio uploads stay off the video track (they become music only when asked: "use my song").
    An upload already on the timeline is not added twice, so a retried upload changes nothing."""
    placed = {seg.m.media for seg in draft.visuals}
    visuals = list(draft.visuals)
    for media in sorted(new, key=lambda m: m.uploaded_at):
        if media.kind == "audio" or media.media_id in placed:
            continue
        if media.kind == "image":
            length = int(IMAGE_SECONDS * 1000)
        else:
            length = round((media.duration_s or 0.0) * 1000)
            if length <= 0:
                log.warning("session=%s media=%s has no duration; not placed", media.session_id, media.media_id)
                continue
        meta = VisualMeta(name=media.filename, media=media.media_id, kind=media.kind)
        visuals.append(VisualSegment(st=0, d=length, m=meta))
        placed.add(media.media_id)
    return relay(draft, visuals)


def relay(draft: Draft, visuals: Iterable[VisualSegment]) -> Draft:
    """Lay `visuals` end to end; music that reached the old end follows the new end; fades fit."""
    old_end = draft.duration_ms
    music = draft.music
    out = draft.with_visuals(visuals)
    end = out.duration_ms
    if music is not None and old_end > 0 and music.end >= old_end and music.st < end:
        out = out.model_copy(update={"music": _fit_fades(music.model_copy(update={"d": end - music.st}))})
    elif out.music is not None:
        out = out.model_copy(update={"music": _fit_fades(out.music)})
    return out


def _fit_fades(music: MusicSegment) -> MusicSegment:
    fade_in, fade_out = music.m.fade_in, music.m.fade_out
    if fade_in + fade_out > music.d:
        scale = music.d / (fade_in + fade_out)
        fade_in, fade_out = int(fade_in * scale), int(fade_out * scale)
    if (fade_in, fade_out) == (music.m.fade_in, music.m.fade_out):
        return music
    return music.model_copy(update={"m": music.m.model_copy(update={"fade_in": fade_in, "fade_out": fade_out})})


# ---------------------------------------------------------------------------- music
def mood_name(mood: str, lang: str = "en") -> str:
    """ "lofi" → "Lo-fi" / "低保真" (the music's own names when it has them)."""
    en, zh = MOOD_NAMES.get(mood, (mood, mood))
    return zh if lang == "zh" else en[:1].upper() + en[1:]


def seed_for(draft: Draft, mood: str) -> int:
    """A stable seed from what is on the timeline and the mood: the same project asks for the same
    piece every time (until "another one"), different projects get different pieces."""
    key = "|".join([mood, *(seg.m.media for seg in draft.visuals)]).encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:4], "big") & 0x7FFF_FFFF


def _music_span(music: MusicSegment) -> dict[str, Any]:
    return {"start": music.st, "end": music.end, "volume": music.m.volume}


def _source(mood: str, seed: int, library: Sequence[Track], skip: str = "") -> dict[str, Any]:
    """Where the music comes from: the operator's library when it has a track in this mood (the
    seed picks which, as the music does at render time), else the composer."""
    track = pick_track(tuple(library), mood, seed, skip=Path(skip) if skip else None) if library else None
    if track is not None:
        return {"source": "library", "track": track.path.as_posix(), "name": track.title, "media": ""}
    return {"source": "composer", "track": "", "name": f"{mood_name(mood)} (composed)", "media": ""}


def _music_values(music: MusicSegment) -> dict[str, Any]:
    return {"mood": music.m.mood, "source": music.m.source, "title": music.m.name, **_music_span(music)}


def add_music(draft: Draft, choice: MoodChoice, *, fresh: bool = False, library: Sequence[Track] = ()) -> Edit:
    total = draft.duration_ms
    if total <= 0:
        raise Refusal("music_needs_clips")
    current = draft.music
    same_mood = current is not None and current.m.source != "upload" and current.m.mood == choice.mood
    if current is not None and same_mood and not fresh:
        return Edit(draft, (Change("music_same_mood", _music_values(current)),))
    if current is not None:
        seed = (current.m.seed + 1 if same_mood else seed_for(draft, choice.mood)) & 0x7FFF_FFFF
        skip = current.m.track if same_mood else ""
        meta = current.m.model_copy(
            update={"mood": choice.mood, "seed": seed, **_source(choice.mood, seed, library, skip)}
        )
        music = current.model_copy(update={"m": meta})
        key = "music_changed"
    else:
        seed = seed_for(draft, choice.mood)
        meta = MusicMeta(
            mood=choice.mood,
            seed=seed,
            volume=DEFAULT_VOLUME,
            fade_in=0,
            fade_out=DEFAULT_FADE_OUT_MS,
            duck=True,
            **_source(choice.mood, seed, library),
        )
        music = _fit_fades(MusicSegment(st=0, d=total, m=meta))
        key = "music_added"
    new = draft.model_copy(update={"music": music})
    values = {"reason": dict(choice.reason), "explicit": choice.explicit, **_music_values(music)}
    if current is not None:
        values["previous"] = current.m.mood if current.m.source == "composer" else current.m.name
    return Edit(new, (Change(key, values),))


def another_track(draft: Draft, library: Sequence[Track] = ()) -> Edit:
    """The same mood, the next seed: a new composed piece, or the library's next track in that mood
    (composed when the library has no other)."""
    music = draft.music
    if music is None:
        raise Refusal("no_music")
    if music.m.source == "upload":
        raise Refusal("another_on_upload", name=music.m.name)
    seed = (music.m.seed + 1) & 0x7FFF_FFFF
    source = _source(music.m.mood, seed, library, music.m.track) if music.m.source == "library" else {}
    new_music = music.model_copy(update={"m": music.m.model_copy(update={"seed": seed, **source})})
    return Edit(draft.model_copy(update={"music": new_music}), (Change("music_another", _music_values(new_music)),))


def remove_music(draft: Draft) -> Edit:
    if draft.music is None:
        raise Refusal("no_music_to_remove")
    return Edit(draft.model_copy(update={"music": None}), (Change("music_removed", {"name": draft.music.m.name}),))


def use_upload(draft: Draft, audio: MediaInfo | None) -> Edit:
    total = draft.duration_ms
    if total <= 0:
        raise Refusal("music_needs_clips")
    if audio is None:
        raise Refusal("no_audio_upload")
    current = draft.music
    if current is not None and current.m.source == "upload" and current.m.media == audio.media_id:
        return Edit(draft, (Change("upload_same", {"name": audio.filename, **_music_span(current)}),))
    if current is not None:
        meta = current.m.model_copy(
            update={"name": audio.filename, "source": "upload", "media": audio.media_id, "track": ""}
        )
        music = current.model_copy(update={"m": meta})
    else:
        meta = MusicMeta(
            name=audio.filename,
            source="upload",
            mood="calm",
            media=audio.media_id,
            volume=DEFAULT_VOLUME,
            fade_out=DEFAULT_FADE_OUT_MS,
        )
        music = _fit_fades(MusicSegment(st=0, d=total, m=meta))
    values = {"name": audio.filename, "length": round((audio.duration_s or 0) * 1000), **_music_span(music)}
    return Edit(draft.model_copy(update={"music": music}), (Change("upload_used", values),))


def _need_music(draft: Draft) -> MusicSegment:
    if draft.music is None:
        raise Refusal("no_music")
    return draft.music


def _with_music_meta(draft: Draft, music: MusicSegment, **update: Any) -> Draft:
    return draft.model_copy(update={"music": music.model_copy(update={"m": music.m.model_copy(update=update)})})


def music_volume(draft: Draft, intent: it.MusicVolume, media: Sequence[MediaInfo] = ()) -> Edit:
    if draft.music is None and intent.target == "auto":
        return _volume_to_clip_sound(draft, intent, media)
    music = _need_music(draft)
    before = round(music.m.volume * 100)
    pct = intent.percent if intent.percent is not None else before + (intent.step or 0.0)
    pct = round(max(0.0, min(100.0, pct)))
    values = {"before": before, "after": pct}
    if pct == before:
        edge = "max" if pct >= 100 else "min" if pct <= 0 else "same"
        return Edit(draft, (Change("volume_same", {**values, "edge": edge}),))
    return Edit(_with_music_meta(draft, music, volume=pct / 100), (Change("volume", values),))


def _volume_to_clip_sound(draft: Draft, intent: it.MusicVolume, media: Sequence[MediaInfo]) -> Edit:
    """ "Make it quieter" with no music: the clips' own sound is what there is to turn down."""
    mode: ClipSound
    if intent.percent is not None:
        mode = "mute" if intent.percent < 15 else "lower" if intent.percent < 65 else "keep"
    elif (step := intent.step or 0) < 0:
        current = draft.meta.clip_sound  # muted stays muted; "much quieter" when already lowered mutes
        mode = "mute" if current == "mute" or (current == "lower" and step <= -20) else "lower"
    else:
        mode = "keep"
    return clip_sound(draft, mode, media)


def music_fade(draft: Draft, intent: it.MusicFade) -> Edit:
    music = _need_music(draft)
    fade_in = music.m.fade_in if intent.fade_in is None else intent.fade_in
    fade_out = music.m.fade_out if intent.fade_out is None else intent.fade_out
    if intent.fade_out_at is not None:
        at = intent.fade_out_at
        if not music.st < at < music.end:
            raise Refusal("fade_at_outside", at=at, start=music.st, end=music.end)
        fade_out = music.end - at
    fade_in, fade_out = max(0, fade_in), max(0, fade_out)
    if fade_in + fade_out > music.d:
        raise Refusal("fades_too_long", fade_in=fade_in, fade_out=fade_out, length=music.d)
    new = _with_music_meta(draft, music, fade_in=fade_in, fade_out=fade_out)
    values = {
        "fade_in": fade_in if intent.fade_in is not None else None,
        "fade_out": fade_out if intent.fade_out is not None or intent.fade_out_at is not None else None,
        "end": music.end,
    }
    return Edit(new, (Change("fades", values),))


def music_timing(draft: Draft, intent: it.MusicTiming) -> Edit:
    music = _need_music(draft)
    total = draft.duration_ms
    w = intent.when
    start, end = music.st, music.end
    if w.anchor == "all":
        start, end = 0, total
    elif w.start is not None and w.end is not None:
        start, end = sorted((w.start, w.end))
    elif w.anchor == "start":
        start = 0 if w.start is None else w.start
        end = start + w.length if w.length is not None else end
    elif w.anchor == "end":
        end = total if w.end is None else w.end
        start = end - w.length if w.length is not None else start
    elif w.start is not None:
        start = w.start
        end = start + w.length if w.length is not None else (end if end > start else total)
    elif w.end is not None:
        end = w.end
        start = end - w.length if w.length is not None else (start if start < end else 0)
    elif w.length is not None:
        end = start + w.length
    start = max(0, start)
    if start >= total:
        raise Refusal("music_start_beyond", at=start, total=total)
    clamped = end > total
    end = min(end, total)
    if end - start < MIN_MUSIC_MS:
        raise Refusal("music_too_short", start=start, end=end)
    new_music = _fit_fades(music.model_copy(update={"st": start, "d": end - start}))
    values = {"start": start, "end": end, "total": total, "clamped": clamped}
    return Edit(draft.model_copy(update={"music": new_music}), (Change("music_span", values),))


def ducking(draft: Draft, on: bool) -> Edit:
    music = _need_music(draft)
    if music.m.duck == on:
        return Edit(draft, (Change("duck_same", {"on": on}),))
    return Edit(_with_music_meta(draft, music, duck=on), (Change("duck", {"on": on}),))


def clip_sound(draft: Draft, mode: ClipSound, media: Sequence[MediaInfo] = ()) -> Edit:
    by_id = {m.media_id: m for m in media}
    silent = bool(by_id) and not any(
        by_id[s.m.media].has_audio for s in draft.visuals if s.m.media in by_id and s.m.kind == "video"
    )
    values = {"mode": mode, "silent_clips": silent, "duck": draft.music.m.duck if draft.music else None}
    if draft.meta.clip_sound == mode:
        return Edit(draft, (Change("clip_sound_same", values),))
    new = draft.model_copy(update={"meta": draft.meta.model_copy(update={"clip_sound": mode})})
    return Edit(new, (Change("clip_sound", values),))


# ---------------------------------------------------------------------------- canvas
def canvas(draft: Draft, intent: it.SetCanvas) -> Edit:
    current = draft.canvas
    aspect = intent.aspect or current.aspect
    fit = current.fit
    if intent.fit == "fit":
        fit = "pad" if current.fit == "crop" else current.fit
    elif intent.fit is not None:
        fit = intent.fit
    elif intent.aspect is not None and current == Canvas() and aspect != "16:9":
        # First reshape of an untouched project: a blurred fill looks like the social apps; black
        # bars around a landscape clip in a vertical frame rarely do. Named fits always win.
        fit = "blur"
    new_canvas = Canvas(aspect=aspect, fit=fit)
    width, height = new_canvas.size()
    values = {"aspect": aspect, "fit": fit, "width": width, "height": height, "fit_named": intent.fit is not None}
    if new_canvas == current:
        return Edit(draft, (Change("canvas_same", values),))
    new = draft.model_copy(update={"meta": draft.meta.model_copy(update={"canvas": new_canvas})})
    return Edit(new, (Change("canvas", values),))


# ---------------------------------------------------------------------------- text
def _check_words(text: str) -> str:
    words = text.strip()
    if not words:
        raise Refusal("title_empty")
    if len(words) > MAX_TEXT_CHARS:
        raise Refusal("title_too_long", chars=len(words), limit=MAX_TEXT_CHARS)
    return words


def _text_values(seg: TextSegment) -> dict[str, Any]:
    return {"text": seg.m.text, "position": seg.m.position, "size": seg.m.size, "start": seg.st, "end": seg.end}


def add_text(draft: Draft, intent: it.AddText) -> Edit:
    total = draft.duration_ms
    if total <= 0:
        raise Refusal("needs_clips")
    words = _check_words(intent.text)
    if len(draft.texts) >= MAX_TEXTS:
        raise Refusal("too_many_titles", limit=MAX_TEXTS)
    position: Position = intent.position or ("bottom" if intent.style == "caption" else "center")
    size: TextSize = intent.size or ("medium" if intent.style == "caption" else "large")
    try:
        start, end = resolve(intent.when, total, TITLE_MS)
    except TimeOutOfRange as exc:
        raise Refusal("text_start_beyond", at=exc.asked_ms, total=total) from None
    if end - start < MIN_PIECE_MS:
        raise Refusal("text_too_short", start=start, end=end)
    seg = TextSegment(st=start, d=end - start, m=TextMeta(name=words, text=words, position=position, size=size))
    if seg in draft.texts:
        return Edit(draft, (Change("text_same", _text_values(seg)),))
    new = draft.model_copy(update={"texts": (*draft.texts, seg)})
    return Edit(new, (Change("text_added", {**_text_values(seg), "style": intent.style}),))


def _find_text(draft: Draft, target: it.TextTarget) -> int:
    if not draft.texts:
        raise Refusal("no_title")
    if target.words is not None:
        wanted = target.words.casefold().strip()
        for i, seg in enumerate(draft.texts):
            if seg.m.text.casefold() == wanted:
                return i
        for i, seg in enumerate(draft.texts):
            if wanted and wanted in seg.m.text.casefold():
                return i
        raise Refusal("title_not_found", words=target.words)
    if target.position is not None:
        n = target.position
        index = n - 1 if n > 0 else len(draft.texts) + n
        if not 0 <= index < len(draft.texts):
            raise Refusal("no_such_title", position=n, count=len(draft.texts))
        return index
    return len(draft.texts) - 1


def edit_text(draft: Draft, intent: it.EditText) -> Edit:
    index = _find_text(draft, intent.target)
    seg = draft.texts[index]
    meta = seg.m
    update: dict[str, Any] = {}
    if intent.text is not None:
        words = _check_words(intent.text)
        update.update(text=words, name=words)
    if intent.position is not None:
        update["position"] = intent.position
    size = intent.size
    if intent.size_step:
        at = SIZES.index(meta.size) + intent.size_step
        size = SIZES[max(0, min(len(SIZES) - 1, at))]
    if size is not None:
        update["size"] = size
    st, d = seg.st, seg.d
    if not intent.when.is_empty():
        try:
            start, end = resolve(intent.when, draft.duration_ms, seg.d, default_start_ms=seg.st)
        except TimeOutOfRange as exc:
            raise Refusal("text_start_beyond", at=exc.asked_ms, total=draft.duration_ms) from None
        if end - start < MIN_PIECE_MS:
            raise Refusal("text_too_short", start=start, end=end)
        st, d = start, end - start
    new_seg = seg.model_copy(update={"st": st, "d": d, "m": meta.model_copy(update=update)})
    before = _text_values(seg)
    if new_seg == seg:
        edge = "size" if intent.size_step else "same"
        return Edit(draft, (Change("text_unchanged", {**before, "edge": edge}),))
    texts = list(draft.texts)
    texts[index] = new_seg
    values = {**_text_values(new_seg), "before": before}
    return Edit(draft.model_copy(update={"texts": tuple(texts)}), (Change("text_edited", values),))


def remove_text(draft: Draft, intent: it.RemoveText) -> Edit:
    if not draft.texts:
        raise Refusal("no_title")
    if intent.target is None:
        removed = [seg.m.text for seg in draft.texts]
        return Edit(draft.model_copy(update={"texts": ()}), (Change("texts_removed", {"texts": removed}),))
    index = _find_text(draft, intent.target)
    gone = draft.texts[index]
    texts = draft.texts[:index] + draft.texts[index + 1 :]
    values = {**_text_values(gone), "left": len(texts)}
    return Edit(draft.model_copy(update={"texts": texts}), (Change("text_removed", values),))


# ---------------------------------------------------------------------------- clips
def _pick(draft: Draft, sel: it.Selector, *, many: bool = False) -> list[int]:
    """Indexes of the video-track segments a selector names (refuses what does not exist)."""
    pool = [i for i, seg in enumerate(draft.visuals) if sel.kind == "any" or seg.m.kind == sel.kind]
    if not pool:
        raise Refusal("no_photo" if sel.kind == "image" else "needs_clips")
    if sel.position is None:
        if len(pool) == 1 or many or sel.plural:
            return pool
        raise Refusal("which_photo", count=len(pool))
    n = sel.position
    index = n - 1 if n > 0 else len(pool) + n
    if not 0 <= index < len(pool):
        raise Refusal("no_such_clip", position=n, count=len(pool), kind=sel.kind)
    return [pool[index]]


def _label(draft: Draft, index: int) -> dict[str, Any]:
    seg = draft.visuals[index]
    return {"index": index + 1, "name": seg.m.name, "kind": seg.m.kind}


def _cut(draft: Draft, a: int, b: int) -> list[VisualSegment]:
    """The video track with [a, b) of the timeline taken out (a still just gets shorter)."""
    out: list[VisualSegment] = []
    for seg in draft.visuals:
        s, e = seg.st, seg.end
        if e <= a or s >= b:
            out.append(seg)
            continue
        if seg.m.kind == "image":
            left = seg.d - (min(e, b) - max(s, a))
            if left >= MIN_PIECE_MS:
                out.append(seg.model_copy(update={"d": left}))
            continue
        if a - s >= MIN_PIECE_MS:
            out.append(seg.model_copy(update={"d": a - s}))
        if e - b >= MIN_PIECE_MS:
            meta = seg.m.model_copy(update={"src_in": seg.m.src_in + (b - s)})
            out.append(seg.model_copy(update={"d": e - b, "m": meta}))
    return out


def trim(draft: Draft, intent: it.Trim) -> Edit:
    total = draft.duration_ms
    if total <= 0:
        raise Refusal("needs_clips")
    scope: dict[str, Any] | None = None
    base, length = 0, total
    if intent.scope is not None:
        picked = _pick(draft, intent.scope)
        if len(picked) != 1:
            raise Refusal("which_photo", count=len(picked))
        seg = draft.visuals[picked[0]]
        base, length = seg.st, seg.d
        scope = _label(draft, picked[0])
    w = intent.when
    cuts: list[tuple[int, int]]
    kept: tuple[int, int] | None = None
    kind: str
    if intent.before is not None:
        if intent.before >= length:
            raise Refusal("trim_all", asked=intent.before, total=length, scope=scope)
        cuts, kind = [(0, intent.before)], "head"
    elif intent.after is not None:
        if intent.after >= length:
            raise Refusal("trim_nothing", at=intent.after, total=length, scope=scope)
        cuts, kind = [(intent.after, length)], "tail"
    elif w.anchor in ("start", "end") and w.length is not None:
        if w.length >= length and not intent.keep:
            raise Refusal("trim_all", asked=w.length, total=length, scope=scope)
        span = (0, min(w.length, length)) if w.anchor == "start" else (max(0, length - w.length), length)
        if intent.keep:
            cuts, kind, kept = [(0, span[0]), (span[1], length)], "keep", span
        else:
            cuts, kind = [span], "head" if w.anchor == "start" else "tail"
    elif w.start is not None and w.end is not None:
        a, b = sorted((w.start, w.end))
        if a >= length:
            raise Refusal("trim_outside", at=a, total=length, scope=scope)
        b = min(b, length)
        if intent.keep:
            cuts, kind, kept = [(0, a), (b, length)], "keep", (a, b)
        else:
            cuts, kind = [(a, b)], "middle" if a > 0 and b < length else ("head" if a == 0 else "tail")
    else:
        raise Refusal("trim_where")
    cuts = [(a, b) for a, b in cuts if b - a > 0]
    removed = sum(b - a for a, b in cuts)
    if removed <= 0:
        return Edit(draft, (Change("trim_nothing_to_do", {"total": total, "scope": scope}),))
    if length - removed < MIN_PIECE_MS:
        raise Refusal("trim_all", asked=removed, total=length, scope=scope)
    working = draft
    for a, b in sorted(cuts, reverse=True):  # from the end, so earlier positions stay valid
        working = relay(working, _cut(working, base + a, base + b))
    if working.is_empty():
        raise Refusal("trim_all", asked=removed, total=length, scope=scope)
    values = {
        "kind": kind,
        "removed": removed,
        "cut": cuts[0] if kind != "keep" else None,
        "kept": kept,
        "before": total,
        "after": working.duration_ms,
        "scope": scope,
    }
    return Edit(working, (Change("trimmed", values),))


def set_length(draft: Draft, intent: it.SetLength, media: Mapping[str, MediaInfo] | None = None) -> Edit:
    total = draft.duration_ms
    if total <= 0:
        raise Refusal("needs_clips")
    want = intent.length_ms
    if want < MIN_PIECE_MS:
        raise Refusal("length_too_short", asked=want)
    if intent.scope is None:
        if want >= total:
            if want == total:
                return Edit(draft, (Change("length_same", {"length": total}),))
            raise Refusal("length_longer", asked=want, total=total)
        return trim(draft, it.Trim(When(), after=want))
    picked = _pick(draft, intent.scope, many=True)
    visuals = list(draft.visuals)
    changed: list[dict[str, Any]] = []
    for index in picked:
        seg = visuals[index]
        if seg.m.kind == "image":
            new_d = min(want, MAX_STILL_MS)
        else:
            source = media.get(seg.m.media) if media else None
            available = round((source.duration_s or 0) * 1000) - seg.m.src_in if source else seg.d
            available = max(available, seg.d)
            if want > available:
                raise Refusal("clip_too_short", asked=want, available=available, scope=_label(draft, index))
            new_d = want
        if new_d != seg.d:
            visuals[index] = seg.model_copy(update={"d": new_d})
            changed.append({**_label(draft, index), "before": seg.d, "after": new_d})
    if not changed:
        return Edit(draft, (Change("length_same", {"length": want}),))
    new = relay(draft, visuals)
    return Edit(new, (Change("clip_length", {"clips": changed, "total": new.duration_ms}),))


def remove_clip(draft: Draft, intent: it.RemoveClip) -> Edit:
    if draft.is_empty():
        raise Refusal("needs_clips")
    picked = _pick(draft, intent.scope)
    if len(picked) >= len(draft.visuals):
        raise Refusal("remove_only_clip", name=draft.visuals[picked[0]].m.name)
    labels = [_label(draft, i) for i in picked]
    visuals = [seg for i, seg in enumerate(draft.visuals) if i not in picked]
    new = relay(draft, visuals)
    return Edit(new, (Change("clip_removed", {"clips": labels, "total": new.duration_ms, "left": len(visuals)}),))


# ---------------------------------------------------------------------------- one intent
def apply(
    draft: Draft,
    intent: it.Intent,
    *,
    media: Sequence[MediaInfo] = (),
    mood: MoodChoice | None = None,
    library: Sequence[Track] = (),
) -> Edit:
    """One editing intent on `draft`. `mood` is the choice for an `AddMusic` (made by the caller,
    which may have had to look at the video); `media` is every upload of the session; `library`
    the operator's tracks (read by the caller: reading a folder is I/O)."""
    if draft.is_empty() and isinstance(intent, it.EDITS):
        raise Refusal("music_needs_clips" if isinstance(intent, it.MUSIC_EDITS) else "needs_clips")
    if isinstance(intent, it.AddMusic):
        if mood is None:
            raise Refusal("no_music")
        return add_music(draft, mood, fresh=intent.fresh, library=library)
    if isinstance(intent, it.AnotherTrack):
        return another_track(draft, library)
    if isinstance(intent, it.RemoveMusic):
        return remove_music(draft)
    if isinstance(intent, it.UseMyAudio):
        audio = [m for m in media if m.kind == "audio"]
        return use_upload(draft, max(audio, key=lambda m: m.uploaded_at) if audio else None)
    if isinstance(intent, it.MusicVolume):
        return music_volume(draft, intent, media)
    if isinstance(intent, it.MusicFade):
        return music_fade(draft, intent)
    if isinstance(intent, it.MusicTiming):
        return music_timing(draft, intent)
    if isinstance(intent, it.Ducking):
        return ducking(draft, intent.on)
    if isinstance(intent, it.SetClipSound):
        return clip_sound(draft, intent.mode, media)
    if isinstance(intent, it.SetCanvas):
        return canvas(draft, intent)
    if isinstance(intent, it.AddText):
        return add_text(draft, intent)
    if isinstance(intent, it.EditText):
        return edit_text(draft, intent)
    if isinstance(intent, it.RemoveText):
        return remove_text(draft, intent)
    if isinstance(intent, it.Trim):
        return trim(draft, intent)
    if isinstance(intent, it.SetLength):
        return set_length(draft, intent, {m.media_id: m for m in media})
    if isinstance(intent, it.RemoveClip):
        return remove_clip(draft, intent)
    raise Refusal("not_an_edit")


__all__ = [
    "DEFAULT_VOLUME",
    "Change",
    "Edit",
    "Refusal",
    "append_media",
    "apply",
    "mood_name",
    "relay",
    "seed_for",
]
