"""Read the backend's draft (short keys: t tracks, tt type, sg segments, d ms, m metadata).

Only the top-level keys are documented; everything inside segments is guessed, so every
lookup here is defensive and several spellings are tried.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .texts import t

TRACK_KIND = {0: "tl_video", 1: "tl_audio", 7: "tl_text"}
_LABEL_KEYS = ("name", "title", "label", "text", "content", "filename", "file_name", "src", "url", "source")
_MAX_ITEMS = 8
_MAX_LABEL = 40


@dataclass(frozen=True, slots=True)
class TrackSummary:
    kind: str  # catalogue key: tl_video / tl_audio / tl_text / tl_other
    label: str | None
    start_ms: int
    end_ms: int
    volume_pct: int | None
    segments: int

    def render(self, lang: str) -> str:
        name = t(self.kind, lang)
        label = f": {self.label}" if self.label else ""
        if self.kind == "tl_text" and self.label:
            label = f': "{self.label}"'
        span = f"{_fmt_s(self.start_ms)}-{_fmt_s(self.end_ms)}s"
        if self.volume_pct is not None:
            span += f", {self.volume_pct}%"
        more = f", {t('tl_more', lang, count=self.segments - 1)}" if self.segments > 1 else ""
        return f"{name}{label} ({span}{more})"


def _fmt_s(ms: int) -> str:
    seconds = ms / 1000
    return f"{seconds:.0f}" if abs(seconds - round(seconds)) < 0.05 else f"{seconds:.1f}"


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _number(*values: Any) -> float | None:
    for value in values:
        if isinstance(value, bool):
            continue
        if isinstance(value, int | float) and math.isfinite(value):
            return float(value)
        if isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                continue
            if math.isfinite(number):
                return number
    return None


def _label(*sources: dict[str, Any]) -> str | None:
    for source in sources:
        for key in _LABEL_KEYS:
            value = source.get(key)
            if isinstance(value, str) and value.strip():
                text = value.strip()
                if key in ("src", "url", "source") or "/" in text:
                    text = text.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0]
                text = " ".join(text.split())
                return text if len(text) <= _MAX_LABEL else text[: _MAX_LABEL - 1] + "…"
    return None


def _volume(*sources: dict[str, Any]) -> int | None:
    for source in sources:
        value = _number(source.get("volume"), source.get("vol"), source.get("v"))
        if value is not None:
            pct = value * 100 if value <= 1.0 else value
            return round(pct)
    return None


def summarise_tracks(draft: dict[str, Any] | None) -> list[TrackSummary]:
    tracks = _as_list(_as_dict(draft).get("t"))
    result: list[TrackSummary] = []
    for raw_track in tracks:
        track = _as_dict(raw_track)
        if not track:
            continue
        type_number = _number(track.get("tt"))
        kind = TRACK_KIND.get(int(type_number), "tl_other") if type_number is not None else "tl_other"
        track_meta = _as_dict(track.get("m"))
        segments = [_as_dict(s) for s in _as_list(track.get("sg")) if isinstance(s, dict)]
        cursor = 0.0
        start = end = None
        for seg in segments:
            meta = _as_dict(seg.get("m"))
            seg_start = _number(seg.get("st"), seg.get("s"), seg.get("start"), meta.get("start"), seg.get("o"))
            seg_start = cursor if seg_start is None else seg_start
            duration = _number(seg.get("d"), meta.get("d"), meta.get("duration_ms")) or 0.0
            seg_end = seg_start + max(duration, 0.0)
            start = seg_start if start is None else min(start, seg_start)
            end = seg_end if end is None else max(end, seg_end)
            cursor = seg_end
        if start is None:
            start = 0.0
            end = _number(track.get("d")) or 0.0
        first = segments[0] if segments else {}
        first_meta = _as_dict(first.get("m"))
        result.append(
            TrackSummary(
                kind=kind,
                label=_label(first_meta, first, track_meta, track),
                start_ms=int(start),
                end_ms=int(end or 0),
                volume_pct=_volume(first_meta, first, track_meta) if kind == "tl_audio" else None,
                segments=len(segments),
            )
        )
    return result


def summarise(draft: dict[str, Any] | None, lang: str = "en") -> str:
    """One line in the vendor's style (docs/backend-contract.md, section 6): `Timeline (3 tracks): 1. Video: …`."""
    tracks = summarise_tracks(draft)
    if not tracks:
        return t("timeline_empty", lang)
    items = " ".join(f"{i}. {track.render(lang)}" for i, track in enumerate(tracks[:_MAX_ITEMS], 1))
    if len(tracks) > _MAX_ITEMS:
        items += f" {t('tl_more', lang, count=len(tracks) - _MAX_ITEMS)}"
    if len(tracks) == 1:
        return t("tl_header_one", lang, items=items)
    return t("tl_header", lang, count=len(tracks), items=items)


def has_content(draft: dict[str, Any] | None) -> bool:
    """Ready for export: `draft.t` exists and some track has a non-empty `sg` (docs/backend-contract.md, 6)."""
    return any(_as_list(_as_dict(track).get("sg")) for track in _as_list(_as_dict(draft).get("t")))


def describe_canvas(canvas: dict[str, Any] | None) -> str | None:
    """The canvas in words, e.g. "9:16 (1080×1920)": its aspect ratio (stated, or reduced from the size
    when that gives a plain one) and its size when known; None when the state has no canvas. The same
    words in `status` and in what a turn changed."""
    data = _as_dict(canvas)
    ratio = data.get("aspect_ratio") or data.get("aspectRatio") or data.get("ratio")
    ratio = ratio.strip() if isinstance(ratio, str) and ratio.strip() else None
    width, height = _number(data.get("width"), data.get("w")), _number(data.get("height"), data.get("h"))
    size = f"{int(width)}×{int(height)}" if width and height and width > 0 and height > 0 else None
    if ratio is None and width and height and size is not None:
        divisor = math.gcd(int(width), int(height)) or 1
        across, down = int(width) // divisor, int(height) // divisor
        if across <= 32 and down <= 32:  # 9:16, 4:5, 21:9; not 683:384
            ratio = f"{across}:{down}"
    if ratio and size:
        return f"{ratio} ({size})"
    return ratio or size


def describe_changes(
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    lang: str = "en",
    *,
    canvas_before: dict[str, Any] | None = None,
    canvas_after: dict[str, Any] | None = None,
) -> list[str]:
    """What changed between two drafts, in words; an empty list means nothing did."""
    old, new = summarise_tracks(before), summarise_tracks(after)
    changes: list[str] = []
    for index in range(max(len(old), len(new))):
        a = old[index] if index < len(old) else None
        b = new[index] if index < len(new) else None
        if a is None and b is not None:
            changes.append(t("diff_added", lang, item=b.render(lang)))
        elif b is None and a is not None:
            changes.append(t("diff_removed", lang, item=a.render(lang)))
        elif a is not None and b is not None and a != b:
            changes.append(t("diff_changed", lang, before=a.render(lang), after=b.render(lang)))
    old_len = _number(_as_dict(before).get("d"))
    new_len = _number(_as_dict(after).get("d"))
    if old_len is not None and new_len is not None and old_len != new_len and not changes:
        changes.append(t("diff_duration", lang, before=f"{_fmt_s(int(old_len))}s", after=f"{_fmt_s(int(new_len))}s"))
    ratio_a, ratio_b = describe_canvas(canvas_before), describe_canvas(canvas_after)
    if ratio_a != ratio_b and ratio_b is not None:
        changes.append(t("diff_canvas", lang, before=ratio_a or "?", after=ratio_b))
    if not changes and before != after and (before or after):
        # Something changed that we cannot name (keys we do not know): say so rather than "nothing".
        changes.append(t("diff_changed", lang, before=summarise(before, lang), after=summarise(after, lang)))
    if len(changes) > _MAX_ITEMS:
        extra = len(changes) - _MAX_ITEMS
        changes = [*changes[:_MAX_ITEMS], t("diff_many", lang, count=extra)]
    return changes
