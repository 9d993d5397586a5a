"""The fake backend's unscripted chat turn: a small keyword "agent" that really edits the draft.

People try the bot offline against the fake, so the default reply must look like the real
agent: it answers in the session's language, calls `edit_multitrack`, carries the new draft in
`stateDelta` (the short-key draft, docs/backend-contract.md, section 6) and uses GUI wording ("Click
Export …") that the bot has to translate. Never silent: silent edits are scripted explicitly.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

from devkit.fakes.nemo_steps import Step, Text, ToolCall, ToolResult

TOOL = "edit_multitrack"
VIDEO, AUDIO, TITLE = 0, 1, 7
DEFAULT_DURATION_MS = 10_000
TITLE_MS = 3_000
DEFAULT_VOLUME = 0.35
VOLUME_STEP = 0.15

_MUSIC = ("music", "bgm", "soundtrack", "song", "音乐", "配乐", "背景乐")
_QUIETER = ("quieter", "softer", "turn down", "lower the", "less loud", "小声", "小一点", "调低", "降低", "轻一点")
_LOUDER = ("louder", "turn up", "raise the", "大声", "大一点", "调高", "提高", "响一点")
_TITLE = ("title", "text", "caption", "heading", "标题", "字幕", "文字")
_STYLES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("lo-fi", "lofi", "lo fi", "低保真"), "Lo-fi"),
    (("upbeat", "happy", "energetic", "欢快", "活泼", "动感"), "Upbeat Pop"),
    (("calm", "chill", "relax", "piano", "舒缓", "轻柔", "钢琴"), "Calm Piano"),
    (("epic", "cinematic", "dramatic", "史诗", "大气"), "Epic Cinematic"),
    (("jazz", "爵士"), "Smooth Jazz"),
    (("travel", "旅行"), "Sunny Travel"),
)
_CANVASES: tuple[tuple[tuple[str, ...], dict[str, Any]], ...] = (
    (
        ("9:16", "vertical", "portrait", "tiktok", "reels", "竖屏", "竖版"),
        {"width": 1080, "height": 1920, "aspect_ratio": "9:16"},
    ),
    (("1:1", "square", "正方形", "方形"), {"width": 1080, "height": 1080, "aspect_ratio": "1:1"}),
    (("4:5",), {"width": 1080, "height": 1350, "aspect_ratio": "4:5"}),
    (
        ("16:9", "horizontal", "landscape", "widescreen", "横屏", "横版"),
        {"width": 1920, "height": 1080, "aspect_ratio": "16:9"},
    ),
)
_QUOTED = re.compile(r""""([^"]+)"|“([^”]+)”|「([^」]+)」|《([^》]+)》|(?<!\w)'([^']+)'(?!\w)""")
_AFTER_COLON = re.compile(r"(?:title|标题)\s*[:：]\s*(.+)$", re.IGNORECASE)
_PERCENT = re.compile(r"(\d{1,3})\s*%")


@dataclass(slots=True)
class _Plan:
    zh: bool
    draft: dict[str, Any] | None
    steps: list[Step]
    done: list[str]

    def edit(self, args: dict[str, Any], summary: str, *, canvas: dict[str, Any] | None = None) -> None:
        """One tool round trip; the result carries a snapshot of the draft at this point."""
        self.steps.append(ToolCall(TOOL, args))
        tracks = len(self.draft["t"]) if self.draft else 0
        self.steps.append(
            ToolResult(
                TOOL,
                {"status": "success", "track_count": tracks},
                draft=copy.deepcopy(self.draft) if canvas is None else None,
                state_delta={"canvas_config": canvas} if canvas is not None else None,
            )
        )
        self.done.append(summary)


def _has(text: str, words: tuple[str, ...]) -> bool:
    """Chinese words match anywhere; Latin words only whole (plural allowed): "text" ≠ "context"."""
    return any(
        re.search(rf"(?<![a-z]){re.escape(w)}(?:s|es)?(?![a-z])", text) if w.isascii() else w in text for w in words
    )


def _span(ms: int, zh: bool) -> str:
    secs = f"{ms / 1000:g}"
    return f"0-{secs}秒" if zh else f"0-{secs}s"


def _track(draft: dict[str, Any], tt: int) -> dict[str, Any] | None:
    for track in draft.get("t", []):
        if isinstance(track, dict) and track.get("tt") == tt:
            return track
    return None


def _add_track(draft: dict[str, Any], tt: int) -> dict[str, Any]:
    track: dict[str, Any] = {"tt": tt, "sg": []}
    tracks: list[dict[str, Any]] = draft.setdefault("t", [])
    index = next((i for i, t in enumerate(tracks) if t.get("tt", 0) > tt), len(tracks))
    tracks.insert(index, track)
    return track


def _relayout(draft: dict[str, Any]) -> None:
    """Keep `d` and the BGM/title spans consistent with the video track."""
    video = _track(draft, VIDEO)
    total = sum(int(s.get("d", 0)) for s in video["sg"]) if video and video["sg"] else DEFAULT_DURATION_MS
    draft["d"] = total
    music = _track(draft, AUDIO)
    if music:
        for seg in music["sg"]:
            seg["d"] = total
    title = _track(draft, TITLE)
    if title:
        for seg in title["sg"]:
            seg["d"] = min(TITLE_MS, total)


def _volume(draft: dict[str, Any] | None) -> float | None:
    music = _track(draft, AUDIO) if draft else None
    if not music or not music["sg"]:
        return None
    value = music["sg"][0].get("m", {}).get("volume", DEFAULT_VOLUME)
    return float(value) if isinstance(value, int | float) else DEFAULT_VOLUME


def _title_text(text: str, zh: bool) -> str:
    match = _QUOTED.search(text)
    if match:
        return next(g for g in match.groups() if g).strip()
    after = _AFTER_COLON.search(text)
    if after:
        return after.group(1).strip()
    return "我的视频" if zh else "My Video"


def _clips(plan: _Plan, video_infos: list[dict[str, Any]]) -> None:
    placed = set()
    if plan.draft and (video := _track(plan.draft, VIDEO)):
        placed = {s.get("m", {}).get("url") for s in video["sg"]}
    new = [v for v in video_infos if v.get("file_type") in ("video", "image") and v.get("cdn_url") not in placed]
    if not new:
        return
    plan.draft = plan.draft or {"t": [], "d": DEFAULT_DURATION_MS}
    video = _track(plan.draft, VIDEO) or _add_track(plan.draft, VIDEO)
    for info in new:
        fallback = 3.0 if info.get("file_type") == "image" else 10.0
        seconds = info.get("duration") or fallback
        video["sg"].append(
            {
                "d": int(float(seconds) * 1000),
                "m": {"name": info.get("filename", "clip.mp4"), "url": info.get("cdn_url")},
            }
        )
    _relayout(plan.draft)
    n, span = len(new), _span(plan.draft["d"], plan.zh)
    summary = (
        f"已将 {n} 个片段加入视频轨道（{span}）"
        if plan.zh
        else f"Added {n} clip{'s' if n > 1 else ''} to the video track ({span})"
    )
    plan.edit({"action": "add_clips", "clips": [v.get("filename") for v in new]}, summary)


def _canvas(plan: _Plan, lowered: str, current: dict[str, Any]) -> None:
    for words, canvas in _CANVASES:
        if _has(lowered, words):
            if canvas["aspect_ratio"] == current.get("aspect_ratio"):
                return
            ar, w, h = canvas["aspect_ratio"], canvas["width"], canvas["height"]
            summary = f"画布已改为 {ar}（{w}×{h}）" if plan.zh else f"Changed the canvas to {ar} ({w}×{h})"
            plan.edit({"action": "set_canvas", "aspect_ratio": ar}, summary, canvas=dict(canvas))
            return


def _music(plan: _Plan, lowered: str) -> None:
    style = next((name for words, name in _STYLES if _has(lowered, words)), None)
    percent = _PERCENT.search(lowered)
    existing = plan.draft and _track(plan.draft, AUDIO)
    if existing and existing["sg"] and style is None:
        return  # "music louder" etc.: handled as a volume change
    style = style or "Lo-fi"
    volume = min(int(percent.group(1)), 100) / 100 if percent else _volume(plan.draft) or DEFAULT_VOLUME
    plan.draft = plan.draft or {"t": [], "d": DEFAULT_DURATION_MS}
    music = _track(plan.draft, AUDIO) or _add_track(plan.draft, AUDIO)
    music["sg"] = [{"d": plan.draft["d"], "m": {"name": style, "volume": volume}}]
    _relayout(plan.draft)
    span, pct = _span(plan.draft["d"], plan.zh), round(volume * 100)
    if existing:
        summary = (
            f"已将背景音乐换成「{style}」（{span}，音量 {pct}%）"
            if plan.zh
            else f"Switched the background music to {style} ({span}, {pct}% volume)"
        )
    else:
        summary = (
            f"已添加「{style}」背景音乐（{span}，音量 {pct}%）"
            if plan.zh
            else f"Added a {style} track ({span}, {pct}% volume)"
        )
    plan.edit({"action": "add_bgm", "style": style, "volume": volume}, summary)


def _volume_change(plan: _Plan, lowered: str, music_asked: bool) -> bool:
    """Returns False when a volume change was asked for but there is no music to change."""
    quieter, louder = _has(lowered, _QUIETER), _has(lowered, _LOUDER)
    percent = _PERCENT.search(lowered) if music_asked else None
    if not (quieter or louder or percent):
        return True
    current = _volume(plan.draft)
    if current is None or plan.draft is None:
        return False
    if percent:
        target = min(int(percent.group(1)), 100) / 100
    else:
        target = current - VOLUME_STEP if quieter else current + VOLUME_STEP
    target = round(min(max(target, 0.05), 1.0), 2)
    if target == current:
        return True
    music = _track(plan.draft, AUDIO)
    assert music is not None
    for seg in music["sg"]:
        seg.setdefault("m", {})["volume"] = target
    pct = round(target * 100)
    summary = f"背景音乐音量已调整为 {pct}%" if plan.zh else f"Set the music volume to {pct}%"
    plan.edit({"action": "set_volume", "track": "bgm", "volume": target}, summary)
    return True


def _title(plan: _Plan, text: str) -> None:
    title = _title_text(text, plan.zh)
    plan.draft = plan.draft or {"t": [], "d": DEFAULT_DURATION_MS}
    track = _track(plan.draft, TITLE)
    existed = bool(track and track["sg"])
    track = track or _add_track(plan.draft, TITLE)
    track["sg"] = [{"d": min(TITLE_MS, plan.draft["d"]), "m": {"text": title}}]
    span = _span(track["sg"][0]["d"], plan.zh)
    if existed:
        summary = f"标题已改为「{title}」" if plan.zh else f'Changed the title to "{title}"'
    else:
        summary = f"已添加标题「{title}」（{span}）" if plan.zh else f'Added the title "{title}" ({span})'
    plan.edit({"action": "add_title", "text": title}, summary)


def _help(zh: bool, draft: dict[str, Any] | None) -> str:
    tracks = len(draft.get("t", [])) if draft else 0
    if zh:
        head = f"当前时间线有 {tracks} 条轨道。" if tracks else ""
        return head + (
            "我可以为视频添加背景音乐、标题和文字，调整音乐音量，"
            "或修改画面比例（9:16、1:1、16:9）。上传素材或告诉我你想怎么改，例如「添加轻松的背景音乐」或「添加标题“夏日旅行”」。"
        )
    head = f"Your timeline has {tracks} track{'s' if tracks != 1 else ''}. " if tracks else ""
    return head + (
        "I can add background music, titles and text, adjust the music volume or change the "
        "aspect ratio (9:16, 1:1, 16:9). Upload a clip or tell me what you'd like, for example "
        '"add lo-fi music" or "add the title \'Summer Trip\'".'
    )


def plan_default_turn(
    text: str, *, language: str, draft: dict[str, Any] | None, video_infos: list[dict[str, Any]], canvas: dict[str, Any]
) -> list[Step]:
    """The steps of one believable agent reply to `text`; the inputs are not modified."""
    zh = language.lower().startswith("zh")
    lowered = text.lower()
    plan = _Plan(zh=zh, draft=copy.deepcopy(draft), steps=[], done=[])
    _clips(plan, video_infos)
    _canvas(plan, lowered, canvas)
    music_asked = _has(lowered, _MUSIC)
    if music_asked:
        _music(plan, lowered)
    volume_ok = _volume_change(plan, lowered, music_asked)
    if _has(lowered, _TITLE):
        _title(plan, text)
    if plan.done:
        if zh:
            reply = "完成！" + "；".join(plan.done) + "。点击「导出」即可保存视频。"
        else:
            reply = "Done! " + ". ".join(plan.done) + ". Click Export to save your video."
    elif not volume_ok:
        reply = (
            "还没有背景音乐。说「添加音乐」我会先加一条音乐轨道。"
            if zh
            else "There's no background music yet. Say \"add music\" and I'll add a track first."
        )
    else:
        reply = _help(zh, plan.draft)
    plan.steps.append(Text(reply))
    return plan.steps
