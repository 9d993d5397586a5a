"""The engine's draft: the timeline that the editor writes, the render reads and the bot summarises.

It keeps the backend's short keys (`t` tracks, `tt` 0 video / 1 audio / 7 text, `sg` segments,
`d` milliseconds, `m` metadata) so the bot's `/status` summary reads it like any NemoVideo draft;
what lies inside `m` is the engine's own and is documented in docs/engine.md. The bot sends the
draft back verbatim with a render request, so parsing is strict about meaning (a bad draft is
refused as a whole) but ignores keys it does not know.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

SCHEMA = 1
VIDEO, AUDIO, TEXT = 0, 1, 7

Aspect = Literal["16:9", "9:16", "1:1", "4:5"]
Fit = Literal["pad", "blur", "crop"]
ClipSound = Literal["keep", "lower", "mute"]
MusicSource = Literal["composer", "library", "upload"]
Position = Literal["top", "center", "bottom", "top-left", "top-right", "bottom-left", "bottom-right"]
TextSize = Literal["small", "medium", "large"]

CANVAS_1080: dict[str, tuple[int, int]] = {
    "16:9": (1920, 1080),
    "9:16": (1080, 1920),
    "1:1": (1080, 1080),
    "4:5": (1080, 1350),
}
CANVAS_720: dict[str, tuple[int, int]] = {
    "16:9": (1280, 720),
    "9:16": (720, 1280),
    "1:1": (720, 720),
    "4:5": (720, 900),
}
CLIP_SOUND_VOLUME: dict[str, float] = {"keep": 1.0, "lower": 0.3, "mute": 0.0}
IMAGE_SECONDS = 3.0
"""How long a still image stays on screen unless the user says otherwise."""


class InvalidDraft(ValueError):
    """The draft cannot be rendered; the message is safe to show to a user."""


class _Meta(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Canvas(_Meta):
    """The output frame: aspect ratio and how sources that do not match it are fitted."""

    aspect: Aspect = "16:9"
    fit: Fit = "pad"

    def size(self, resolution: Literal["1080p", "720p"] = "1080p") -> tuple[int, int]:
        return (CANVAS_720 if resolution == "720p" else CANVAS_1080)[self.aspect]

    def config(self) -> dict[str, Any]:
        """The session's `canvas_config` (keys the bot reads: width, height, aspect_ratio)."""
        width, height = self.size()
        return {"width": width, "height": height, "aspect_ratio": self.aspect, "fit": self.fit}


class VisualMeta(_Meta):
    """A clip or a still image on the video track, in upload order."""

    name: str
    media: str
    """The media id of the upload (`video_infos[].media_id`)."""
    url: str = ""
    """The upload's `cdn_url` on the engine (informative; `media` is what the render resolves)."""
    kind: Literal["video", "image"] = "video"
    src_in: int = Field(default=0, ge=0)
    """Where in the source the segment starts, ms (trimming the start moves it)."""


class MusicMeta(_Meta):
    """The background music: where it comes from, and how it sits in the mix."""

    name: str
    """What the summary shows, e.g. "Lo-fi (composed)" or "my_song.mp3"."""
    source: MusicSource = "composer"
    mood: str = "calm"
    seed: int = 0
    media: str = ""
    """Only for `source="upload"`: the media id of the user's audio."""
    track: str = ""
    """Only for `source="library"`: the track's path relative to the operator's library folder."""
    volume: float = Field(default=0.35, ge=0.0, le=1.0)
    """The music's level relative to the clips' own sound (the summary shows it as a percentage)."""
    fade_in: int = Field(default=0, ge=0)
    fade_out: int = Field(default=0, ge=0)
    duck: bool = True
    """Lower the music under the clips' speech."""


class TextMeta(_Meta):
    name: str
    text: str
    position: Position = "center"
    size: TextSize = "large"


class _Segment(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    st: int = Field(default=0, ge=0)
    """Start on the timeline, ms."""
    d: int = Field(gt=0)
    """Duration, ms."""

    @property
    def end(self) -> int:
        return self.st + self.d


class VisualSegment(_Segment):
    m: VisualMeta


class MusicSegment(_Segment):
    m: MusicMeta


class TextSegment(_Segment):
    m: TextMeta


class DraftMeta(_Meta):
    engine: int = SCHEMA
    canvas: Canvas = Canvas()
    clip_sound: ClipSound = "keep"


class Draft(BaseModel):
    """A whole timeline. Immutable: every edit makes a new draft (undo keeps the old ones)."""

    model_config = ConfigDict(frozen=True)

    meta: DraftMeta = DraftMeta()
    visuals: tuple[VisualSegment, ...] = ()
    music: MusicSegment | None = None
    texts: tuple[TextSegment, ...] = ()

    @field_validator("visuals")
    @classmethod
    def _laid_end_to_end(cls, visuals: tuple[VisualSegment, ...]) -> tuple[VisualSegment, ...]:
        cursor = 0
        for seg in visuals:
            if seg.st != cursor:
                raise ValueError("video segments must follow each other without gaps")
            cursor = seg.end
        return visuals

    @property
    def duration_ms(self) -> int:
        return self.visuals[-1].end if self.visuals else 0

    @property
    def canvas(self) -> Canvas:
        return self.meta.canvas

    def is_empty(self) -> bool:
        return not self.visuals

    # ------------------------------------------------------------------ wire form
    def to_json(self) -> dict[str, Any]:
        """The short-key form stored in the session state and sent to the bot."""
        tracks: list[dict[str, Any]] = [
            {"tt": VIDEO, "sg": [seg.model_dump(mode="json") for seg in self.visuals]},
        ]
        if self.music is not None:
            tracks.append({"tt": AUDIO, "sg": [self.music.model_dump(mode="json")]})
        if self.texts:
            tracks.append({"tt": TEXT, "sg": [seg.model_dump(mode="json") for seg in self.texts]})
        return {"d": self.duration_ms, "m": self.meta.model_dump(mode="json"), "t": tracks}

    @classmethod
    def from_json(cls, raw: object) -> Self:
        """Parse a draft that came back from a client; raises `InvalidDraft` with a reason."""
        if raw is None or raw == {}:
            return cls()
        if not isinstance(raw, dict):
            raise InvalidDraft("the draft is not an object")
        tracks = raw.get("t", [])
        if not isinstance(tracks, list):
            raise InvalidDraft("the draft's tracks are not a list")
        by_type: dict[int, list[Any]] = {}
        for track in tracks:
            if not isinstance(track, dict) or not isinstance(track.get("sg", []), list):
                raise InvalidDraft("a track of the draft is malformed")
            tt = track.get("tt")
            if tt not in (VIDEO, AUDIO, TEXT):
                raise InvalidDraft(f"the draft has a track type the engine does not know ({tt!r})")
            by_type.setdefault(tt, []).extend(track.get("sg", []))
        music = by_type.get(AUDIO, [])
        if len(music) > 1:
            raise InvalidDraft("the draft has more than one music segment")
        try:
            return cls(
                meta=DraftMeta.model_validate(raw.get("m") or {}),
                visuals=tuple(VisualSegment.model_validate(s) for s in by_type.get(VIDEO, [])),
                music=MusicSegment.model_validate(music[0]) if music else None,
                texts=tuple(TextSegment.model_validate(s) for s in by_type.get(TEXT, [])),
            )
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise InvalidDraft(f"the draft is invalid at {where or 'top level'}: {first['msg']}") from None

    # ------------------------------------------------------------------ helpers for editors
    def with_visuals(self, visuals: Iterable[VisualSegment]) -> Self:
        """Lay `visuals` end to end (their `st` recomputed) and keep music and texts inside the timeline."""
        cursor = 0
        laid: list[VisualSegment] = []
        for seg in visuals:
            laid.append(seg.model_copy(update={"st": cursor}))
            cursor += seg.d
        return self.model_copy(update={"visuals": tuple(laid)}).clamped()

    def clamped(self) -> Self:
        """Music and texts cut to the timeline (dropped when they fall wholly outside it)."""
        end = self.duration_ms
        music = self.music
        if music is not None:
            music = _clamp(music, end)
        texts = tuple(c for c in (_clamp(seg, end) for seg in self.texts) if c is not None)
        return self.model_copy(update={"music": music, "texts": texts})


S = TypeVar("S", bound=_Segment)


def _clamp(seg: S, end: int) -> S | None:
    if end <= 0 or seg.st >= end:
        return None
    return seg.model_copy(update={"d": min(seg.d, end - seg.st)}) if seg.end > end else seg
