"""A chat message → the typed edits it asks for (docs/engine.md, "Editor").

One message may hold several requests ("add lo-fi music and the title "Summer" at the top, then
make it vertical"), so the message is cut into clauses, each clause gets one subject (music, the
clips' sound, text, the canvas, the clips, undo, …) and the subject's grammar reads its details.
Fragments that have no subject of their own ("… and out", "… between 5 and 8 seconds") are glued
back to their neighbour, so a clause keeps its numbers. Quoted words are taken out before anything
else and only ever become a title's text.

Pure and deterministic: the same message always gives the same intents; the draft is not read here
(what an intent means for the current draft is engine/editor/drafting.py's job).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field, replace
from typing import Literal

from engine.draft import Aspect, ClipSound, Fit, Position, TextSize
from engine.editor import lexicon as lx
from engine.editor import music_choice
from engine.editor.numbers import NUMBER, find_bare_numbers, find_durations, find_percentages, ordinal, parse_number
from engine.editor.timespec import When, head_and_tail, parse_when

MAX_MESSAGE_CHARS = 4000
"""Longer messages are read up to here: nobody edits a video with an essay, and parsing stays cheap."""

_PLACEHOLDER_BASE = 0xE000
_MAX_QUOTES = 200


# ---------------------------------------------------------------------------- intents
@dataclass(frozen=True, slots=True)
class Selector:
    """Which clip(s) a request is about: `position` is 1-based (negative counts from the end),
    None with `kind="image"` means "the photo" (the only one, or all of them when `plural`)."""

    position: int | None = None
    kind: Literal["any", "video", "image"] = "any"
    plural: bool = False


@dataclass(frozen=True, slots=True)
class TextTarget:
    """Which title: by position among the titles, by its words, or (neither) the latest one."""

    position: int | None = None
    words: str | None = None


@dataclass(frozen=True, slots=True)
class AddMusic:
    """Background music by mood: `request` is the clause the mood is read from (quotes removed)."""

    request: str
    fresh: bool = False
    """A new piece even when the mood is the one already there ("another calm one")."""


@dataclass(frozen=True, slots=True)
class AnotherTrack:
    """ "another one": the same mood, a new seed."""


@dataclass(frozen=True, slots=True)
class RemoveMusic:
    pass


@dataclass(frozen=True, slots=True)
class UseMyAudio:
    """The user's latest audio upload becomes the music."""


@dataclass(frozen=True, slots=True)
class MusicVolume:
    """An absolute level (`percent`) or a step in percentage points (`step`)."""

    percent: float | None = None
    step: float | None = None
    target: Literal["music", "auto"] = "music"
    """"auto": no sound was named ("make it quieter") — the music if there is some, else the clips."""


@dataclass(frozen=True, slots=True)
class MusicFade:
    """ms; None leaves that fade as it is. `fade_out_at` is a time on the timeline ("fade out from 20s")."""

    fade_in: int | None = None
    fade_out: int | None = None
    fade_out_at: int | None = None


@dataclass(frozen=True, slots=True)
class MusicTiming:
    when: When


@dataclass(frozen=True, slots=True)
class Ducking:
    on: bool


@dataclass(frozen=True, slots=True)
class SetClipSound:
    mode: ClipSound


@dataclass(frozen=True, slots=True)
class SetCanvas:
    aspect: Aspect | None = None
    fit: Fit | Literal["fit"] | None = None
    """"fit": not cropped, with whatever bars the canvas already uses."""


@dataclass(frozen=True, slots=True)
class AddText:
    text: str
    style: Literal["title", "caption"] = "title"
    position: Position | None = None
    size: TextSize | None = None
    when: When = field(default_factory=When)


@dataclass(frozen=True, slots=True)
class EditText:
    target: TextTarget = field(default_factory=TextTarget)
    text: str | None = None
    position: Position | None = None
    size: TextSize | None = None
    size_step: int = 0
    when: When = field(default_factory=When)


@dataclass(frozen=True, slots=True)
class RemoveText:
    target: TextTarget | None = None
    """None: every title."""


@dataclass(frozen=True, slots=True)
class Trim:
    """Cut (or, with `keep`, keep only) the part `when` names, of a clip or of the whole timeline."""

    when: When
    scope: Selector | None = None
    keep: bool = False
    before: int | None = None
    """"everything before 5 s" (ms): cut what comes before."""
    after: int | None = None
    """"everything after 15 s" (ms): cut what comes after."""


@dataclass(frozen=True, slots=True)
class SetLength:
    length_ms: int
    scope: Selector | None = None


@dataclass(frozen=True, slots=True)
class RemoveClip:
    scope: Selector


@dataclass(frozen=True, slots=True)
class Undo:
    steps: int = 1


@dataclass(frozen=True, slots=True)
class Describe:
    pass


@dataclass(frozen=True, slots=True)
class Help:
    pass


@dataclass(frozen=True, slots=True)
class Greeting:
    pass


@dataclass(frozen=True, slots=True)
class Thanks:
    pass


@dataclass(frozen=True, slots=True)
class ExportHint:
    """ "… then export": the bot exports on the word alone; say so."""


@dataclass(frozen=True, slots=True)
class Unsupported:
    topic: str


@dataclass(frozen=True, slots=True)
class Unclear:
    """A request on a known subject that misses what it needs ("add a title" without its words)."""

    reason: Literal["title_words", "trim_where"]


Intent = (
    AddMusic
    | AnotherTrack
    | RemoveMusic
    | UseMyAudio
    | MusicVolume
    | MusicFade
    | MusicTiming
    | Ducking
    | SetClipSound
    | SetCanvas
    | AddText
    | EditText
    | RemoveText
    | Trim
    | SetLength
    | RemoveClip
    | Undo
    | Describe
    | Help
    | Greeting
    | Thanks
    | ExportHint
    | Unsupported
    | Unclear
)

EDITS: tuple[type, ...] = (
    AddMusic,
    AnotherTrack,
    RemoveMusic,
    UseMyAudio,
    MusicVolume,
    MusicFade,
    MusicTiming,
    Ducking,
    SetClipSound,
    SetCanvas,
    AddText,
    EditText,
    RemoveText,
    Trim,
    SetLength,
    RemoveClip,
)
"""Intents that change the draft (and so need clips on the timeline)."""

MUSIC_EDITS: tuple[type, ...] = (AddMusic, AnotherTrack, RemoveMusic, UseMyAudio, MusicVolume, MusicFade, MusicTiming)


@dataclass(frozen=True, slots=True)
class Interpretation:
    intents: tuple[Intent, ...]
    silent: bool = False
    """The message began with `silent:`: apply it, answer with the tool events only."""


# ---------------------------------------------------------------------------- the mood hook
def _mood_named(text: str) -> bool:
    """Does the clause name a mood? The vocabulary (and its negation) is the music's, not ours."""
    return music_choice.named(text) is not None


# ---------------------------------------------------------------------------- message → clauses
_QUOTES = re.compile(
    r"“(?P<a>[^”]*)”|\"(?P<b>[^\"]*)\"|「(?P<c>[^」]*)」|『(?P<d>[^』]*)』|‘(?P<e>[^’]*)’|«(?P<f>[^»]*)»|＂(?P<g>[^＂]*)＂"
    r"|(?<![\w'])'(?P<h>[^'\n]+?)'(?![\w'])"
)
_UNCLOSED = re.compile(r"[“\"「『＂](?P<rest>[^“”\"「」『』＂]+)$")
_PUA = re.compile(r"[\ue000-\uf8ff]")
_PH = re.compile(r"[\ue000-\ue0ff]")


def _clean_words(text: str) -> str:
    """A title's words: control characters out, whitespace collapsed."""
    text = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in text)
    return " ".join(text.split())


def extract_quotes(text: str) -> tuple[str, list[str]]:
    """Replace quoted words with placeholders (one private-use character each); return both."""
    quotes: list[str] = []

    def keep(m: re.Match[str]) -> str:
        words = next((g for g in m.groups() if g is not None), "")
        if len(quotes) >= _MAX_QUOTES:
            return " "
        quotes.append(_clean_words(words))
        return f" {chr(_PLACEHOLDER_BASE + len(quotes) - 1)} "

    out = _QUOTES.sub(keep, text)
    tail = _UNCLOSED.search(out)
    if tail is not None and len(quotes) < _MAX_QUOTES and tail.group("rest").strip():
        # An opening quote never closed ("add the title "Summer"): the words run to the end.
        quotes.append(_clean_words(tail.group("rest")))
        out = out[: tail.start()] + f" {chr(_PLACEHOLDER_BASE + len(quotes) - 1)} "
    return out, quotes


def normalise(text: str) -> str:
    """NFKC (full-width digits, colons and letters become ASCII) and lower case; placeholders kept."""
    return unicodedata.normalize("NFKC", text).lower()


def split_silent(text: str) -> tuple[bool, str]:
    m = lx.SILENT_PREFIX.match(text)
    return (True, text[m.end() :]) if m else (False, text)


def _quotes_in(clause: str, quotes: list[str]) -> list[str]:
    out = []
    for ch in _PH.findall(clause):
        index = ord(ch) - _PLACEHOLDER_BASE
        if 0 <= index < len(quotes):
            out.append(quotes[index])
    return out


def _blank(text: str, spans: list[tuple[int, int]] | tuple[tuple[int, int], ...]) -> str:
    """`text` with the spans replaced by spaces (offsets kept)."""
    chars = list(text)
    for a, b in spans:
        for i in range(max(a, 0), min(b, len(chars))):
            chars[i] = " "
    return "".join(chars)


Subject = Literal[
    "undo",
    "my_audio",
    "another",
    "duck",
    "clip_sound",
    "text",
    "music",
    "canvas",
    "clips",
    "volume",
    "text_attr",
    "describe",
    "export",
    "chat",
    "unsupported",
    "mood",
]

_BACK_TO = re.compile(r"(?:go\s+back|revert|change\s+(?:it\s+)?back|switch\s+back|back)\s+to\b|改回|变回|恢复成|换回")
_POSITIONS: tuple[tuple[re.Pattern[str], Position], ...] = (
    (lx.POS_TOP_LEFT, "top-left"),
    (lx.POS_TOP_RIGHT, "top-right"),
    (lx.POS_BOTTOM_LEFT, "bottom-left"),
    (lx.POS_BOTTOM_RIGHT, "bottom-right"),
    (lx.POS_TOP, "top"),
    (lx.POS_BOTTOM, "bottom"),
    (lx.POS_CENTER, "center"),
)
"""Corners before sides: "top left" is not "top"."""


def _unsupported_topic(clause: str) -> str | None:
    for topic, pattern in lx.UNSUPPORTED:
        if pattern.search(clause):
            return topic
    return None


def _has_aspect(clause: str) -> bool:
    return bool(lx.ASPECT_ANY.search(clause))


def _has_fit(clause: str) -> bool:
    return any(p.search(clause) for p in (lx.FIT_BLUR, lx.FIT_CROP, lx.FIT_PAD, lx.FIT_FIT))


def _has_selector(clause: str) -> bool:
    return bool(lx.CLIP_SELECTOR_EN.search(clause) or lx.CLIP_SELECTOR_ZH.search(clause))


def _timeline_length(clause: str) -> bool:
    """ "shorten it to 15 s", "make the video 15 seconds": a length for the whole timeline."""
    return bool(lx.LENGTH_STRONG.search(clause) or (lx.LENGTH_WEAK.search(clause) and lx.WHOLE_VIDEO.search(clause)))


def _is_clips(clause: str) -> bool:
    durations = find_durations(clause)
    if lx.THE_IMAGE.search(clause) and lx.REMOVE_VERB.search(clause):
        return True
    if _has_selector(clause) and (lx.REMOVE_VERB.search(clause) or durations or lx.LENGTH_VERB.search(clause)):
        return True
    if lx.IMAGE_NOUN.search(clause) and durations:
        return True
    if durations and (lx.TRIM_VERB.search(clause) or lx.KEEP_VERB.search(clause) or _timeline_length(clause)):
        return True
    return bool(_START_END_VIDEO.search(clause) or (_BEFORE_AFTER.search(clause) and lx.TRIM_VERB.search(clause)))


def subject_of(clause: str, *, has_quote: bool) -> Subject | None:
    """The one thing a clause is about, or None for a fragment that only adds details."""
    if lx.UNDO.search(clause):
        if _BACK_TO.search(clause) and (_has_aspect(clause) or _has_fit(clause)):
            return "canvas"
        if not (lx.MUSIC_NOUN.search(clause) or lx.TEXT_NOUN.search(clause) or has_quote):
            return "undo"
    if _unsupported_topic(clause) in ("generate", "denoise"):
        return "unsupported"  # not to be mistaken for an edit that is possible ("mute" is not "denoise")
    if lx.MY_AUDIO.search(clause):
        return "my_audio"
    if lx.ANOTHER.search(clause) and not lx.TEXT_NOUN.search(clause) and not has_quote:
        return "another"
    if lx.DUCK.search(clause) or lx.STEADY.search(clause):
        return "duck"
    clip_sound = lx.CLIP_SOUND.search(clause)
    if clip_sound is not None and not lx.MUSIC_NOUN.search(clause[: clip_sound.start()]):
        return "clip_sound"
    if has_quote or (lx.TEXT_NOUN.search(clause) and _unsupported_topic(clause) != "subtitles"):
        return "text"
    if (
        lx.MUSIC_NOUN.search(clause)
        or lx.FADE_IN.search(clause)
        or lx.FADE_OUT.search(clause)
        or (lx.FADE_ANY.search(clause) and _unsupported_topic(clause) != "transitions")
        or lx.MUSIC_OFF.search(clause)
    ):
        return "music"
    if _has_aspect(clause) or (_has_fit(clause) and not find_durations(clause)):
        return "canvas"
    if _is_clips(clause):
        return "clips"
    if (
        lx.VOLUME_WORD.search(clause)
        or lx.LOUDER.search(clause)
        or lx.QUIETER.search(clause)
        or lx.TOO_LOUD.search(clause)
        or lx.TOO_QUIET.search(clause)
        or (find_percentages(clause) and not _unsupported_topic(clause))
    ):
        return "volume"
    if lx.GENERIC_SOUND.search(clause) and lx.MUTE.search(clause):
        return "clip_sound"
    if any(p.search(clause) for p, _ in _POSITIONS) or any(p.search(clause) for p in (lx.SIZE_LARGER, lx.SIZE_SMALLER)):
        return "text_attr"
    if lx.DESCRIBE.search(clause):
        return "describe"
    if lx.EXPORT.search(clause):
        return "export"
    if lx.GREETING.search(clause) or lx.HELP.search(clause) or lx.THANKS.search(clause):
        return "chat"
    if _unsupported_topic(clause):
        return "unsupported"
    if _mood_named(_PH.sub(" ", clause)):
        return "mood"
    return None


def split_clauses(text: str, quotes: list[str]) -> list[str]:
    """Cut at separators ("," "then" "and" "然后" …); a fragment with no subject joins its neighbour."""
    pieces = lx.CLAUSE_SPLIT.split(text)
    seps = [m.group(0) for m in lx.CLAUSE_SPLIT.finditer(text)]
    clauses: list[str] = []
    pending = ""  # subject-less text before the first real clause
    last_has_subject = False
    for i, piece in enumerate(pieces):
        if not piece.strip():
            continue
        sep = seps[i - 1] if i > 0 and i - 1 < len(seps) else " "
        has_subject = subject_of(piece, has_quote=bool(_quotes_in(piece, quotes))) is not None
        if has_subject:
            if pending:
                piece = pending + " " + piece
                pending = ""
            clauses.append(piece)
            last_has_subject = True
        elif clauses and last_has_subject:
            clauses[-1] = clauses[-1] + sep + piece
        else:
            pending = (pending + " " + piece).strip()
    if pending:
        if clauses:
            clauses[-1] = clauses[-1] + " " + pending
        else:
            clauses.append(pending)
    return clauses


# ---------------------------------------------------------------------------- per-subject grammar
def _steps(clause: str) -> int:
    m = lx.UNDO_COUNT.search(clause)
    if m is None:
        return 1
    word = m.group(0)
    for piece in re.findall(rf"{NUMBER}|twice", word):
        if piece == "twice":
            return 2
        value = parse_number(piece)
        if value is not None and value >= 1:
            return min(int(value), 20)
    return 1


def _negated_before(clause: str, start: int) -> bool:
    head = clause[max(0, start - 24) : start]
    return bool(re.search(lx.NEGATION + r"[\w\s']{0,14}$", head))


def _volume(clause: str) -> tuple[MusicVolume | None, list[tuple[int, int]]]:
    percents = find_percentages(clause)
    if percents:
        p = percents[0]
        return MusicVolume(percent=max(0.0, min(100.0, p.value))), [(p.start, p.end)]
    vol = lx.VOLUME_WORD.search(clause)
    durations = find_durations(clause)
    for n in find_bare_numbers(clause):
        if any(d.start <= n.start < d.end for d in durations) or clause[n.start : n.end] == "half":
            continue
        before = clause[: n.start]
        if (vol or re.search(r"(?:\bat|\bto|到|为)\s*$", before)) and re.search(
            r"(?:\bat|\bto|=|:|\bvolume|\blevel|到|为|成|是|音量)\s*$", before
        ):
            value = n.value * 100 if 0 < n.value <= 1 and "." in clause[n.start : n.end] else n.value
            if 0 <= value <= 100:
                return MusicVolume(percent=value), [(n.start, n.end)]
    if lx.HALF.search(clause) and (vol or lx.MUSIC_NOUN.search(clause)):
        return MusicVolume(percent=50.0), []
    size = 10.0
    if lx.A_BIT.search(clause):
        size = 5.0
    if lx.A_LOT.search(clause):
        size = 20.0
    too_quiet, too_loud = lx.TOO_QUIET.search(clause), lx.TOO_LOUD.search(clause)
    if too_quiet is not None:
        return MusicVolume(step=size), [too_quiet.span()]
    if too_loud is not None:
        return MusicVolume(step=-size), [too_loud.span()]
    up, down = lx.LOUDER.search(clause), lx.QUIETER.search(clause)
    if up or down:
        going_up = bool(up) and (not down or (up is not None and down is not None and up.start() < down.start()))
        hit = up if going_up else down
        assert hit is not None
        negation = lx.NOT_SO.search(clause[: hit.start()])
        if negation is not None or _negated_before(clause, hit.start()):
            going_up = not going_up
        spans = [hit.span()] + ([negation.span()] if negation is not None else [])
        return MusicVolume(step=size if going_up else -size), spans
    if lx.FULL.search(clause) and vol:
        return MusicVolume(percent=100.0), []
    return None, []


_FADE_DEFAULT_MS = 2000
_NEAR_AFTER = 32
_NEAR_BEFORE = 24
_FADE_WHEN = re.compile(r"\b(?:at|by|towards?)\s+the\s+(?:very\s+)?(?:end|start|beginning)\b|结尾|开头|最后|开始时")
_FADE_FROM = re.compile(r"(?:\bfrom|\bat|\bstarting\s+at|\bafter|从|在)\s*$")


def _fade(clause: str) -> tuple[MusicFade | None, list[tuple[int, int]]]:
    fin = lx.FADE_IN.search(clause)
    fout = lx.FADE_OUT.search(clause)
    fany = lx.FADE_ANY.search(clause)
    if lx.NO_FADE.search(clause):
        if fin is not None and fout is None:
            return MusicFade(fade_in=0), []
        if fout is not None and fin is None:
            return MusicFade(fade_out=0), []
        return MusicFade(fade_in=0, fade_out=0), []
    if fin is None and fout is None and fany is None:
        return None, []
    if fin is None and fout is None:
        fin = fout = fany
    used: list[tuple[int, int]] = []
    durations = find_durations(clause)

    def near(m: re.Match[str] | None) -> tuple[int | None, int | None]:
        """(length, start-at) of the duration that belongs to this fade phrase."""
        if m is None:
            return None, None
        for d in durations:
            if (d.start, d.end) in used:
                continue
            after = m.end() <= d.start <= m.end() + _NEAR_AFTER
            before = m.start() - _NEAR_BEFORE <= d.end <= m.start()
            if after or before:
                used.append((d.start, d.end))
                if after and _FADE_FROM.search(clause[: d.start]):
                    return None, int(d.value)
                return int(d.value), None
        return None, None

    same = fin is not None and fin is fout
    in_ms, _ = near(fin)
    out_ms, out_at = (in_ms, None) if same else near(fout)
    if fin is not None and fout is not None and not same and in_ms is None and out_ms is not None:
        in_ms = out_ms if fin.end() <= fout.start() and fout.start() - fin.end() < 12 else None
    if fin is not None and fout is not None and not same and out_ms is None and out_at is None and in_ms is not None:
        out_ms = (
            in_ms
            if fout.end() <= len(clause) and re.match(r"\s*(?:and|&|和)?\s*$", clause[fin.end() : fout.start()])
            else None
        )
    # The rest of the clause's time words are the fade's too ("fade out at the end").
    used.extend(hit.span() for hit in _FADE_WHEN.finditer(clause))
    used.extend(hit.span() for hit in (fin, fout) if hit is not None)
    fade = MusicFade(
        fade_in=(in_ms if in_ms is not None else _FADE_DEFAULT_MS) if fin is not None else None,
        fade_out=None if fout is None or out_at is not None else (out_ms if out_ms is not None else _FADE_DEFAULT_MS),
        fade_out_at=out_at,
    )
    return fade, used


def _music(clause: str) -> list[Intent]:
    text = _PH.sub(" ", clause)
    if lx.UNDO.search(text) and not _BACK_TO.search(text):
        return [RemoveMusic()]
    if lx.MUSIC_OFF.search(text) and not lx.NO_FADE.search(text):
        return [RemoveMusic()]
    if lx.MUSIC_MUTE.search(text):
        return [MusicVolume(percent=0.0)]
    if lx.MUSIC_UNMUTE.search(text):
        return [MusicVolume(percent=35.0)]
    out: list[Intent] = []
    fade, used = _fade(text)
    rest = _blank(text, used)
    volume, vused = _volume(rest)
    rest = _blank(rest, vused)
    parsed = parse_when(rest)
    when = parsed.when
    rest = _blank(rest, parsed.used)
    duck = None
    duck_word, steady = lx.DUCK.search(text), lx.STEADY.search(text)
    if steady is not None:
        duck = Ducking(on=False)
    elif duck_word is not None:
        duck = Ducking(on=not _negated_before(text, duck_word.start()))
    attributes = [a for a in (volume, fade, MusicTiming(when) if not when.is_empty() else None, duck) if a is not None]
    request = " ".join(rest.split())
    asks = (bool(lx.MUSIC_ADD_VERB.search(rest)) and (not attributes or _music_is_object(rest))) or _mood_named(request)
    if asks or not attributes:
        if not attributes and not lx.MUSIC_NOUN.search(text) and not asks:
            return []
        out.append(AddMusic(request=request))
    out.extend(attributes)
    return out


_TARGET_BEFORE = re.compile(
    r"(?:\b(?:to|on|onto|for|of|in|into|under|from|over)\s+(?:the\s+|my\s+|this\s+|that\s+|our\s+)?(?:background\s+)?"
    r"|(?:给|把|将|让|对)(?:背景)?)$"
)


def _music_is_object(clause: str) -> bool:
    """ "add music at 30%" asks for music; "add a fade to the music" only changes it."""
    return any(not _TARGET_BEFORE.search(clause[: m.start()]) for m in lx.MUSIC_NOUN.finditer(clause))


def _another(clause: str) -> list[Intent]:
    text = _PH.sub(" ", clause)
    if _mood_named(text):
        return [AddMusic(request=" ".join(text.split()), fresh=True)]
    return [AnotherTrack()]


def _my_audio(clause: str) -> list[Intent]:
    text = _PH.sub(" ", clause)
    if lx.MUSIC_OFF.search(text) or (lx.REMOVE_VERB.search(text) and not re.search(r"\buse\b|用", text)):
        return [RemoveMusic()]
    out: list[Intent] = [UseMyAudio()]
    volume, used = _volume(text)
    fade, fused = _fade(_blank(text, used))
    when = parse_when(_blank(_blank(text, used), fused)).when
    out.extend(a for a in (volume, fade, MusicTiming(when) if not when.is_empty() else None) if a is not None)
    return out


def _duck(clause: str) -> list[Intent]:
    text = _PH.sub(" ", clause)
    if lx.STEADY.search(text):
        return [Ducking(on=False)]
    m = lx.DUCK.search(text)
    off = m is not None and (
        _negated_before(text, m.start())
        or bool(
            re.search(
                r"\b(?:no|without|turn\s+off|switch\s+off|disable|remove|kill)\s+(?:the\s+)?(?:auto\s*)?duck", text
            )
        )
        or bool(re.search(r"duck\w*\s+off\b", text))
        or bool(re.search(r"(?:取消|关闭|关掉|去掉|不要)(?:闪避|避让)", text))
    )
    return [Ducking(on=not off)]


def _clip_sound(clause: str) -> list[Intent]:
    text = _PH.sub(" ", clause)
    mute, keep = lx.MUTE.search(text), lx.KEEP.search(text)
    if lx.TOO_QUIET.search(text):
        return [SetClipSound("keep")]  # "the voices are too quiet": back to full level
    if lx.TOO_LOUD.search(text):
        return [SetClipSound("lower")]
    quieter = lx.QUIETER.search(text)
    if mute and not (keep and keep.start() < mute.start() and not _negated_before(text, keep.start())):
        if re.search(r"\bun-?mute\b|取消静音", text):
            return [SetClipSound("keep")]
        return [SetClipSound("keep" if _negated_before(text, mute.start()) else "mute")]
    if quieter:
        return [SetClipSound("lower")]
    if keep:
        return [SetClipSound("mute" if _negated_before(text, keep.start()) else "keep")]
    return [SetClipSound("keep")]  # "louder", or the clips' sound named alone: back to full level


def _position(clause: str) -> Position | None:
    for pattern, position in _POSITIONS:
        if pattern.search(clause):
            return position
    return None


def _size(clause: str) -> tuple[TextSize | None, int]:
    if lx.SIZE_LARGER.search(clause):
        return None, 1
    if lx.SIZE_SMALLER.search(clause):
        return None, -1
    if lx.SIZE_LARGE.search(clause):
        return "large", 0
    if lx.SIZE_SMALL.search(clause):
        return "small", 0
    if lx.SIZE_MEDIUM.search(clause):
        return "medium", 0
    return None, 0


_TEXT_ORDINAL = re.compile(
    r"\b(?P<ord>first|second|third|fourth|fifth|last|\d(?:st|nd|rd|th))\s+(?:title|caption|text|heading|line)\b"
    r"|第\s*(?P<zh>[一二两三四五\d])\s*(?:个|条|行)?\s*(?:标题|文字|字幕)|(?P<last>最后)(?:一)?(?:个|条)?(?:标题|文字|字幕)"
)


def _text_target(clause: str, words: str | None = None) -> TextTarget:
    m = _TEXT_ORDINAL.search(clause)
    if m is not None:
        if m.group("ord"):
            return TextTarget(position=ordinal(m.group("ord")), words=words)
        if m.group("zh"):
            value = parse_number(m.group("zh"))
            return TextTarget(position=int(value) if value else None, words=words)
        return TextTarget(position=-1, words=words)
    return TextTarget(words=words)


def _text(clause: str, quotes: list[str]) -> list[Intent]:
    said = _quotes_in(clause, quotes)
    text = _PH.sub(" \ue0ff ", clause)  # one marker where quotes were, so "saying X" stops at them
    bare = _PH.sub(" ", clause)
    position = _position(bare)
    size, step = _size(bare)
    when = parse_when(bare).when
    style: Literal["title", "caption"] = (
        "caption" if lx.CAPTION_NOUN.search(bare) and not re.search(r"\btitle\b|标题", bare) else "title"
    )
    remove = lx.TEXT_REMOVE.search(bare) or (lx.UNDO.search(bare) if not _BACK_TO.search(bare) else None)
    edit = lx.TEXT_EDIT.search(bare)
    if remove is not None and not (edit and said and edit.start() < remove.start()):
        if lx.TEXT_ALL.search(bare) and not said:
            return [RemoveText(None)]
        return [RemoveText(_text_target(bare, said[0] if said else None))]
    if edit and said:
        if len(said) >= 2:
            return [
                EditText(
                    TextTarget(words=said[0]), text=said[1], position=position, size=size, size_step=step, when=when
                )
            ]
        return [EditText(_text_target(bare), text=said[0], position=position, size=size, size_step=step, when=when)]
    if not said:
        m = lx.TEXT_SAYING.search(text)
        if m is not None:
            words = next(g for g in (m.group("words"), m.group("words2"), m.group("words3")) if g)
            words = _clean_words(words.split("\ue0ff")[0])
            if words:
                said = [words]
    styled: list[Intent] = [Unsupported("text_style")] if lx.TEXT_STYLE.search(bare) else []
    if said:
        return [*(AddText(text=w, style=style, position=position, size=size, when=when) for w in said if w), *styled]
    if position is not None or size is not None or step or not when.is_empty():
        return [EditText(_text_target(bare), position=position, size=size, size_step=step, when=when), *styled]
    return styled or [Unclear("title_words")]


def _canvas(clause: str) -> list[Intent]:
    aspect: Aspect | None = None
    for value, pattern in lx.ASPECTS:
        if pattern.search(clause):
            aspect = value  # type: ignore[assignment]
            break
    fit: Fit | Literal["fit"] | None = None
    if lx.FIT_CROP.search(clause) and not re.search(r"\b(?:don'?t|no|without)\s+crop|不要裁剪|不裁剪", clause):
        fit = "crop"
    elif lx.FIT_BLUR.search(clause):
        fit = "blur"
    elif lx.FIT_PAD.search(clause):
        fit = "pad"
    elif lx.FIT_FIT.search(clause):
        fit = "fit"
    if aspect is None and fit is None:
        return []
    return [SetCanvas(aspect=aspect, fit=fit)]


_START_END_VIDEO = re.compile(
    r"\b(?P<verb>start|begin|end|stop|finish)\s+(?:the\s+(?:whole\s+)?(?:video|edit|clip|movie)|it)\s+(?:at|from|after|on)\b"
    r"|(?:视频|整个视频)(?:从|在)"
)
_BEFORE_AFTER = re.compile(
    rf"\b(?P<word>before|after|past|beyond)\s+(?P<t>(?:\d{{1,2}}:\d{{2}}|{NUMBER}\s*\S*))"
    rf"|(?P<tz>\S+?)\s*(?P<wz>之前|以前|前面|之后|以后|后面)(?:的)?(?:部分|内容|都|全部)?"
)


def _selector(clause: str) -> Selector | None:
    m = lx.CLIP_SELECTOR_EN.search(clause)
    if m is not None:
        noun = m.group("noun") or m.group("noun2") or ""
        kind: Literal["any", "video", "image"] = "image" if lx.IMAGE_NOUN.search(noun) else "any"
        if m.group("num"):
            return Selector(position=int(m.group("num")), kind=kind)
        return Selector(position=ordinal(m.group("ord")), kind=kind)
    z = lx.CLIP_SELECTOR_ZH.search(clause)
    if z is not None:
        kind = "image" if re.search(r"图|照|相片|张", z.group("noun")) else "any"
        if z.group("last"):
            return Selector(position=-1, kind=kind)
        if z.group("penult"):
            return Selector(position=-2, kind=kind)
        value = parse_number(z.group("ord"))
        return Selector(position=int(value) if value else None, kind=kind)
    if lx.THE_IMAGE.search(clause):
        plural = bool(
            re.search(
                r"\b(?:photos|images|pictures|pics|stills|all\s+(?:the\s+)?(?:photos|images))\b|所有|每张|都", clause
            )
        )
        return Selector(position=None, kind="image", plural=plural)
    return None


def _clips(clause: str) -> list[Intent]:
    text = _PH.sub(" ", clause)
    scope = _selector(text)
    durations = find_durations(text)
    if scope is not None and lx.REMOVE_VERB.search(text) and not durations:
        return [RemoveClip(scope)]
    ba = _BEFORE_AFTER.search(text)
    if ba is not None and (lx.TRIM_VERB.search(text) or lx.KEEP_VERB.search(text)):
        token = ba.group("t") or ba.group("tz") or ""
        found = find_durations(token)
        value: int | None = int(found[0].value) if found else None
        if value is None:
            number = parse_number(re.sub(r"[^\d.]", "", token) or "x")
            value = int(number * 1000) if number is not None else None
        if value is not None:
            word = ba.group("word") or ba.group("wz") or ""
            is_before = word in ("before", "之前", "以前", "前面")
            keeping = bool(lx.KEEP_VERB.search(text)) and not lx.TRIM_VERB.search(text)
            if is_before != keeping:
                return [Trim(When(), scope=scope, before=value)]
            return [Trim(When(), scope=scope, after=value)]
    se = _START_END_VIDEO.search(text)
    parsed = parse_when(text)
    when = parsed.when
    if se is not None and durations:
        verb = se.group("verb") or ""
        value = int(durations[0].value)
        if verb in ("end", "stop", "finish") or re.search(r"结束|停", text):
            return [Trim(When(), scope=scope, after=value)]
        return [Trim(When(), scope=scope, before=value)]
    keep = bool(lx.KEEP_VERB.search(text)) or bool(
        re.search(r"\b(?:trim|cut)\s+(?:it\s+)?(?:down\s+)?to\b|剪成|截取", text)
    )
    head, tail = head_and_tail(text)
    if head is not None and tail is not None and not keep:
        # "trim the first 2 seconds and the last 3": two cuts (the second measured after the first).
        return [
            Trim(When(anchor="start", length=head), scope=scope),
            Trim(When(anchor="end", length=tail), scope=scope),
        ]
    anchored = when.anchor in ("start", "end") and when.length is not None
    if anchored or (when.start is not None and when.end is not None):
        return [Trim(when, scope=scope, keep=keep)]
    if durations and (
        (scope is None and _timeline_length(text))
        or (scope is not None and (lx.LENGTH_VERB.search(text) or scope.kind == "image"))
    ):
        length = int(durations[-1].value) if when.length is None else when.length
        return [SetLength(length, scope=scope)]
    if durations and lx.TRIM_VERB.search(text):
        return [Unclear("trim_where")]
    if scope is not None and lx.REMOVE_VERB.search(text):
        return [RemoveClip(scope)]
    return []


_PRONOUN = re.compile(r"\b(?:it|them|that|this\s+one)\b|它")


def _means_previous(clause: str) -> bool:
    """A pronoun and no clip named: the clause is about what the previous clause was about."""
    return bool(_PRONOUN.search(clause)) and not (
        lx.VIDEO_NOUN.search(clause) or lx.IMAGE_NOUN.search(clause) or _has_selector(clause)
    )


def _clause_intents(clause: str, quotes: list[str], context: Subject | None) -> tuple[list[Intent], Subject | None]:
    has_quote = bool(_quotes_in(clause, quotes))
    subject = subject_of(clause, has_quote=has_quote)
    bare = _PH.sub(" ", clause)
    out: list[Intent] = []
    if subject == "undo":
        out = [Undo(_steps(bare))]
    elif subject == "my_audio":
        out = _my_audio(clause)
    elif subject == "another":
        out = _another(clause)
    elif subject == "duck":
        out = _duck(clause)
    elif subject == "clip_sound":
        out = _clip_sound(clause)
    elif subject == "text":
        out = _text(clause, quotes)
    elif subject in ("music", "mood"):
        out = _music(clause)
        subject = "music"
    elif subject == "canvas":
        out = _canvas(bare)
    elif subject == "clips" and context in ("text", "music") and _means_previous(bare):
        # "add the title "X" and make it 5 seconds": "it" is the title, not the video.
        when = parse_when(bare).when
        durations = find_durations(bare)
        if when.is_empty() and durations:
            when = When(length=int(durations[-1].value))
        out = [EditText(when=when)] if context == "text" else [MusicTiming(when)]
        subject = context
    elif subject == "clips":
        out = _clips(clause)
    elif subject == "volume":
        volume, _ = _volume(bare)
        if volume is not None:
            if context == "clip_sound":
                out = _clip_sound(clause)
            else:
                target: Literal["music", "auto"] = "music" if context in ("music", "my_audio", "another") else "auto"
                out = [MusicVolume(percent=volume.percent, step=volume.step, target=target)]
    elif subject == "text_attr":
        out = _text(clause, quotes)
        if out and isinstance(out[0], Unclear):
            out = []
    elif subject == "describe":
        out = [Describe()]
    elif subject == "export":
        out = [ExportHint()]
    elif subject == "chat":
        if lx.HELP.search(bare):
            out = [Help()]
        elif lx.THANKS.search(bare):
            out = [Thanks()]
        else:
            out = [Greeting()]
    elif subject == "unsupported":
        topic = _unsupported_topic(bare)
        out = [Unsupported(topic or "other")]
    if subject not in (None, "unsupported", "chat", "export", "describe", "undo"):
        topic = _unsupported_topic(bare)
        if (
            (
                topic is not None
                and topic not in ("quality", "effects")
                and not (subject == "text" and topic == "subtitles")
            )
            and not (subject == "canvas" and topic == "background")
            and not (subject == "music" and topic in ("speed", "grade"))
        ):
            out.append(Unsupported(topic))
    return out, subject if out else context


def interpret(message: str) -> Interpretation:
    """Read one chat message. Never raises; an empty tuple means nothing was understood."""
    silent, body = split_silent(message[:MAX_MESSAGE_CHARS])
    body = _PUA.sub(" ", body)
    body, quotes = extract_quotes(body)
    text = normalise(body)
    intents: list[Intent] = []
    context: Subject | None = None
    for clause in split_clauses(text, quotes):
        found, context = _clause_intents(clause, quotes, context)
        intents.extend(found)
    cased = unicodedata.normalize("NFKC", body)
    intents = [_restore_case(i, quotes, cased) for i in intents]
    return Interpretation(tuple(_tidy(intents)), silent=silent)


def _restore_case(intent: Intent, quotes: list[str], original: str) -> Intent:
    """Unquoted title words were read from the lower-cased text; give them back their capitals."""
    if isinstance(intent, AddText) and intent.text not in quotes:
        m = re.search(re.escape(intent.text), original, re.IGNORECASE)
        if m is not None:
            return replace(intent, text=m.group(0))
    return intent


def _tidy(intents: list[Intent]) -> list[Intent]:
    """Join what was said twice ("add music, something upbeat"), drop chit-chat next to real requests."""
    out: list[Intent] = []
    for intent in intents:
        previous = out[-1] if out else None
        if isinstance(intent, AddMusic) and isinstance(previous, AddMusic):
            out[-1] = AddMusic(request=f"{previous.request} {intent.request}", fresh=previous.fresh or intent.fresh)
            continue
        if intent in out and isinstance(
            intent, Unsupported | ExportHint | Describe | Help | Greeting | Thanks | Unclear
        ):
            continue
        if isinstance(intent, SetCanvas) and isinstance(previous, SetCanvas):
            # "竖屏，模糊背景": one reframing, not two.
            out[-1] = SetCanvas(aspect=intent.aspect or previous.aspect, fit=intent.fit or previous.fit)
            continue
        out.append(intent)
    if any(isinstance(i, (*EDITS, Undo, Describe)) for i in out):
        out = [i for i in out if not isinstance(i, Greeting | Thanks | Help)]
    return out
