"""Choosing the mood of the music from what the user wrote (EN/ZH) and, failing that, the video.

Pure and fast (no I/O): the editor calls it inside a chat turn. Words name moods directly
("calm", "史诗") or suggest one by context ("beach trip" → happy, "study" → lo-fi); a negation
just before a word ("not too sad", "nothing dramatic", "不要太悲伤", "别太吵") turns it into a
mood to steer away from. When the text decides nothing, the clip's look decides
(docs/music.md, "Choosing the mood"). Every choice comes with one short sentence in en and zh.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from engine.music import MOODS, MoodChoice, VideoFeatures

NAMES: dict[str, tuple[str, str]] = {
    "upbeat": ("upbeat", "动感"),
    "happy": ("happy", "欢快"),
    "calm": ("calm", "平静"),
    "cinematic": ("cinematic", "电影感"),
    "lofi": ("lo-fi", "低保真"),
    "tense": ("tense", "紧张"),
}
"""How every reply names a mood (en, zh): the reason for a choice here, the composer's description
of its piece, the editor's names for the music segment."""

# Words that name a mood (explicit) and words that only suggest one (context). Each maps to
# weights over moods, so "sad" can lean cinematic and, negated, push away from the dark moods.
_NAMED_EN: dict[str, dict[str, float]] = {
    "upbeat": {"upbeat": 1}, "energetic": {"upbeat": 1}, "energy": {"upbeat": 0.8},
    "lively": {"upbeat": 0.7, "happy": 0.5}, "fast": {"upbeat": 0.8}, "dance": {"upbeat": 1},
    "danceable": {"upbeat": 1}, "hype": {"upbeat": 1}, "pumping": {"upbeat": 1}, "exciting": {"upbeat": 0.9},
    "party": {"upbeat": 0.9}, "groovy": {"upbeat": 0.8}, "loud": {"upbeat": 0.8, "happy": 0.4, "tense": 0.4},
    "punchy": {"upbeat": 0.9}, "driving": {"upbeat": 0.8}, "happy": {"happy": 1}, "cheerful": {"happy": 1},
    "joyful": {"happy": 1}, "fun": {"happy": 0.9}, "playful": {"happy": 1}, "bright": {"happy": 0.8},
    "sunny": {"happy": 0.9}, "uplifting": {"happy": 0.8, "cinematic": 0.3}, "positive": {"happy": 0.8},
    "feel-good": {"happy": 1}, "travel": {"happy": 0.9}, "summer": {"happy": 0.8}, "calm": {"calm": 1},
    "chill": {"calm": 0.7, "lofi": 0.5}, "chilled": {"calm": 0.7, "lofi": 0.5}, "relaxing": {"calm": 1},
    "relaxed": {"calm": 1}, "relax": {"calm": 1}, "peaceful": {"calm": 1}, "soft": {"calm": 0.9},
    "gentle": {"calm": 1}, "quiet": {"calm": 0.9}, "soothing": {"calm": 1}, "ambient": {"calm": 0.9},
    "mellow": {"calm": 0.7, "lofi": 0.4}, "serene": {"calm": 1}, "tranquil": {"calm": 1}, "slow": {"calm": 0.8},
    "dreamy": {"calm": 0.8}, "warm": {"calm": 0.6}, "cinematic": {"cinematic": 1}, "epic": {"cinematic": 1},
    "dramatic": {"cinematic": 0.9, "tense": 0.2}, "emotional": {"cinematic": 0.9}, "sad": {"cinematic": 0.9},
    "melancholic": {"cinematic": 0.9}, "melancholy": {"cinematic": 0.9}, "nostalgic": {"cinematic": 0.5, "lofi": 0.5},
    "orchestral": {"cinematic": 1}, "heroic": {"cinematic": 1}, "grand": {"cinematic": 0.9},
    "inspiring": {"cinematic": 0.8, "happy": 0.3}, "inspirational": {"cinematic": 0.8, "happy": 0.3},
    "moving": {"cinematic": 0.7}, "trailer": {"cinematic": 1}, "lofi": {"lofi": 1}, "lo-fi": {"lofi": 1},
    "jazzy": {"lofi": 0.9}, "dusty": {"lofi": 0.8}, "vintage": {"lofi": 0.7}, "retro": {"lofi": 0.6, "upbeat": 0.2},
    "hip-hop": {"lofi": 0.7, "upbeat": 0.3}, "tense": {"tense": 1}, "suspense": {"tense": 1},
    "suspenseful": {"tense": 1}, "thriller": {"tense": 1}, "dark": {"tense": 0.8, "cinematic": 0.3},
    "scary": {"tense": 1}, "creepy": {"tense": 1}, "horror": {"tense": 1}, "mysterious": {"tense": 0.8},
    "ominous": {"tense": 1}, "spooky": {"tense": 1}, "intense": {"tense": 0.6, "upbeat": 0.4},
}  # fmt: skip
_CONTEXT_EN: dict[str, dict[str, float]] = {
    "beach": {"happy": 1}, "trip": {"happy": 0.8}, "holiday": {"happy": 1}, "vacation": {"happy": 1},
    "vlog": {"happy": 0.6, "upbeat": 0.4}, "wedding": {"cinematic": 0.8, "calm": 0.3}, "birthday": {"happy": 1},
    "family": {"happy": 0.6, "calm": 0.4}, "kids": {"happy": 1}, "baby": {"calm": 0.6, "happy": 0.5},
    "workout": {"upbeat": 1}, "gym": {"upbeat": 1}, "sport": {"upbeat": 1}, "sports": {"upbeat": 1},
    "skate": {"upbeat": 0.9}, "car": {"upbeat": 0.6}, "drone": {"cinematic": 0.8}, "mountain": {"cinematic": 0.7},
    "mountains": {"cinematic": 0.7}, "landscape": {"cinematic": 0.6, "calm": 0.4},
    "sunset": {"calm": 0.7, "cinematic": 0.3}, "nature": {"calm": 0.8}, "ocean": {"calm": 0.6},
    "rain": {"lofi": 0.7, "calm": 0.4}, "study": {"lofi": 1}, "coffee": {"lofi": 0.9}, "cafe": {"lofi": 0.9},
    "night": {"lofi": 0.6, "tense": 0.2}, "city": {"lofi": 0.4, "upbeat": 0.4},
    "cooking": {"happy": 0.7, "lofi": 0.4}, "recipe": {"happy": 0.7, "lofi": 0.4}, "product": {"upbeat": 0.7},
    "tutorial": {"lofi": 0.5, "calm": 0.5}, "memories": {"cinematic": 0.6, "calm": 0.4},
    "memorial": {"cinematic": 0.8}, "game": {"upbeat": 0.6, "tense": 0.3}, "gaming": {"upbeat": 0.6, "tense": 0.3},
    "chase": {"tense": 0.9}, "mystery": {"tense": 0.9}, "halloween": {"tense": 1}, "meditation": {"calm": 1},
    "yoga": {"calm": 1},
}  # fmt: skip
_NAMED_ZH: dict[str, dict[str, float]] = {
    "动感": {"upbeat": 1}, "活力": {"upbeat": 1}, "激情": {"upbeat": 0.9}, "热血": {"upbeat": 0.9},
    "燃": {"upbeat": 0.8}, "节奏感": {"upbeat": 0.9}, "快节奏": {"upbeat": 1}, "嗨": {"upbeat": 0.9},
    "劲爆": {"upbeat": 1}, "吵": {"upbeat": 0.8, "happy": 0.4, "tense": 0.4}, "热闹": {"upbeat": 0.7, "happy": 0.4},
    "欢快": {"happy": 1}, "快乐": {"happy": 1}, "开心": {"happy": 1}, "愉快": {"happy": 1}, "轻快": {"happy": 1},
    "活泼": {"happy": 0.9, "upbeat": 0.3}, "阳光": {"happy": 0.9}, "可爱": {"happy": 0.9}, "俏皮": {"happy": 0.9},
    "幸福": {"happy": 0.8}, "明快": {"happy": 0.9}, "温馨": {"calm": 0.6, "happy": 0.4},
    "轻松": {"calm": 0.7, "happy": 0.4}, "平静": {"calm": 1}, "安静": {"calm": 1}, "舒缓": {"calm": 1},
    "放松": {"calm": 1}, "治愈": {"calm": 1}, "温柔": {"calm": 1}, "宁静": {"calm": 1}, "柔和": {"calm": 0.9},
    "慢": {"calm": 0.7}, "悠闲": {"calm": 0.7, "lofi": 0.4}, "史诗": {"cinematic": 1}, "电影感": {"cinematic": 1},
    "电影": {"cinematic": 0.8}, "大气": {"cinematic": 1}, "震撼": {"cinematic": 1}, "壮观": {"cinematic": 1},
    "悲伤": {"cinematic": 0.9}, "伤感": {"cinematic": 0.9}, "难过": {"cinematic": 0.9}, "感人": {"cinematic": 0.9},
    "煽情": {"cinematic": 0.9}, "抒情": {"cinematic": 0.6, "calm": 0.4}, "怀旧": {"lofi": 0.6, "cinematic": 0.4},
    "低保真": {"lofi": 1}, "爵士": {"lofi": 0.9}, "复古": {"lofi": 0.8}, "慵懒": {"lofi": 1},
    "chill": {"calm": 0.6, "lofi": 0.5}, "紧张": {"tense": 1}, "悬疑": {"tense": 1}, "惊悚": {"tense": 1},
    "恐怖": {"tense": 1}, "神秘": {"tense": 0.8}, "刺激": {"tense": 0.6, "upbeat": 0.4}, "黑暗": {"tense": 0.8},
    "压抑": {"tense": 0.8},
}  # fmt: skip
_CONTEXT_ZH: dict[str, dict[str, float]] = {
    "旅行": {"happy": 1}, "旅游": {"happy": 1}, "海边": {"happy": 0.9}, "度假": {"happy": 1}, "生日": {"happy": 1},
    "婚礼": {"cinematic": 0.8, "calm": 0.3}, "健身": {"upbeat": 1}, "运动": {"upbeat": 1}, "跑步": {"upbeat": 0.9},
    "学习": {"lofi": 1}, "咖啡": {"lofi": 0.9}, "下雨": {"lofi": 0.7, "calm": 0.4}, "夜晚": {"lofi": 0.6},
    "风景": {"cinematic": 0.6, "calm": 0.4}, "日落": {"calm": 0.7, "cinematic": 0.3}, "自然": {"calm": 0.8},
    "航拍": {"cinematic": 0.9}, "美食": {"happy": 0.7, "lofi": 0.4}, "做饭": {"happy": 0.7, "lofi": 0.4},
    "宝宝": {"calm": 0.6, "happy": 0.5}, "游戏": {"upbeat": 0.6, "tense": 0.3},
    "回忆": {"cinematic": 0.6, "calm": 0.4},
}  # fmt: skip

_NEGATIONS_EN = {
    "not", "no", "nothing", "without", "don't", "dont", "never", "avoid", "less", "isn't", "shouldn't",
    "nor", "non", "neither", "anything", "un",
}  # fmt: skip
_SOFTENERS_EN = {
    "too",
    "so",
    "very",
    "overly",
    "that",
    "really",
    "super",
    "a",
    "bit",
    "of",
    "any",
    "it",
    "be",
    "make",
    "sound",
}
_NEGATIONS_ZH = ("不要", "不想", "别", "不用", "不", "没有", "无需", "避免", "少点", "少一点", "勿")
_WORD = re.compile(r"[a-z]+(?:[-'][a-z]+)*")


@dataclass(frozen=True, slots=True)
class _Hit:
    """A mood word found in the text, with what it weighs for each mood."""

    word: str
    weights: dict[str, float]


@dataclass(frozen=True, slots=True)
class Reading:
    """The words of a request that bear on the mood: naming one, suggesting one, or negated."""

    named: tuple[_Hit, ...]
    context: tuple[_Hit, ...]
    avoid: tuple[_Hit, ...]


def read_text(text: str) -> Reading:
    named: list[_Hit] = []
    context: list[_Hit] = []
    avoid: list[_Hit] = []
    lowered = text.lower().replace("lo fi", "lo-fi").replace("feel good", "feel-good").replace("hip hop", "hip-hop")
    words = _WORD.findall(lowered)
    for i, word in enumerate(words):
        table = _NAMED_EN.get(word) or _CONTEXT_EN.get(word)
        if table is None:
            continue
        if _negated_en(words, i):
            avoid.append(_Hit(word, table))
        else:
            (named if word in _NAMED_EN else context).append(_Hit(word, table))
    for tables, target in ((_NAMED_ZH, named), (_CONTEXT_ZH, context)):
        for phrase, weights in tables.items():
            if phrase.isascii():
                continue  # English words are read by the pass above
            for match in re.finditer(re.escape(phrase), lowered):
                before = lowered[max(0, match.start() - 4) : match.start()]
                if any(neg in before for neg in _NEGATIONS_ZH):
                    avoid.append(_Hit(phrase, weights))
                else:
                    target.append(_Hit(phrase, weights))
    return Reading(tuple(named), tuple(context), tuple(avoid))


def _negated_en(words: list[str], i: int) -> bool:
    j = i - 1
    while j >= 0 and i - j <= 4:
        if words[j] in _NEGATIONS_EN:
            return True
        if words[j] not in _SOFTENERS_EN:
            return False
        j -= 1
    return False


def _total(hits: tuple[_Hit, ...]) -> dict[str, float]:
    out: dict[str, float] = {}
    for hit in hits:
        for mood, w in hit.weights.items():
            out[mood] = out.get(mood, 0.0) + w
    return out


def _strongest_word(hits: tuple[_Hit, ...], mood: str) -> str | None:
    best = max(hits, key=lambda h: h.weights.get(mood, 0.0), default=None)
    return best.word if best is not None and best.weights.get(mood, 0.0) > 0 else None


def video_scores(f: VideoFeatures) -> dict[str, float]:
    """How well each mood fits the clip's look: bright + saturated + lively leans happy/upbeat,
    dark + still leans calm/cinematic, many cuts lean upbeat, dark + moving leans tense."""
    b, s, m = f.brightness, f.saturation, f.motion
    cuts = min(1.0, f.cut_rate / 30.0)
    return {
        "upbeat": 0.9 * m + 1.2 * cuts + 0.4 * s + 0.5 * b - 0.45,
        "happy": 0.9 * b + 0.9 * s + 0.3 * m + 0.2 * cuts - 0.55,
        "calm": 0.7 * (1 - m) + 0.4 * (1 - cuts) + 0.3 * b - 0.45 - 0.15 * s,
        "cinematic": 0.6 * (1 - b) + 0.5 * (1 - s) + 0.3 * (1 - m) - 0.6 + 0.2 * cuts,
        "lofi": 0.5 * (1 - s) + 0.4 * (1 - m) + 0.2 * (1 - abs(b - 0.45) * 2) - 0.55,
        "tense": 1.0 * (1 - b) + 1.0 * m + 0.2 * cuts - 0.9,
    }


def _describe_video(f: VideoFeatures) -> tuple[str, str]:
    """The clip's look in a few words (en, zh): its light, its colour, its pace."""
    light = ("bright", "明亮") if f.brightness >= 0.55 else ("dark", "偏暗") if f.brightness <= 0.3 else None
    colour = (
        ("colourful", "色彩丰富") if f.saturation >= 0.4 else ("muted", "色调素淡") if f.saturation <= 0.15 else None
    )
    pace = (
        ("quickly cut", "剪辑节奏快") if f.cut_rate >= 15
        else ("lively", "动感强") if f.motion >= 0.35
        else ("still", "画面平稳") if f.motion <= 0.1
        else None
    )  # fmt: skip
    words = [w for w in (light, colour, pace) if w is not None]
    if not words:
        return "balanced", "均衡"
    en = [e for e, _ in words]
    return (en[0] if len(en) == 1 else ", ".join(en[:-1]) + " and " + en[-1]), "、".join(z for _, z in words)


def choose_mood(text: str, features: VideoFeatures | None) -> MoodChoice:
    reading = read_text(text or "")
    named, context, avoid = _total(reading.named), _total(reading.context), _total(reading.avoid)
    scores = {m: 6.0 * named.get(m, 0.0) + 2.0 * context.get(m, 0.0) - 3.0 * avoid.get(m, 0.0) for m in MOODS}
    if features is not None:
        for m, w in video_scores(features).items():
            scores[m] += 0.8 * w
    else:
        scores["calm"] += 0.05  # the neutral default when nothing else speaks
    mood = max(MOODS, key=lambda m: (scores[m], -MOODS.index(m)))
    word = _strongest_word(reading.named, mood)
    source, why = ("named", word) if word else ("context", _strongest_word(reading.context, mood))
    if why is None:
        source = "video" if features is not None else "default"
    avoided = [h.word for h in reading.avoid]
    return MoodChoice(mood, _reason(mood, source, why, avoided, features), source == "named")


def _reason(
    mood: str, source: str, word: str | None, avoided: list[str], features: VideoFeatures | None
) -> dict[str, str]:
    en_name, zh_name = NAMES[mood]
    not_en = " and ".join(dict.fromkeys(avoided))
    not_zh = "、".join(dict.fromkeys(avoided))
    if source == "named" and word is not None:
        said = word.replace("-", "") in {mood, en_name.replace("-", "")} or word == zh_name
        en = f"You asked for {en_name} music" if said else f"You asked for “{word}”, so the music is {en_name}"
        zh = f"按你的要求，配了{zh_name}风格的音乐" if said else f"你想要“{word}”的感觉，所以配了{zh_name}风格的音乐"
        if avoided:
            en += f", and nothing {not_en}"
            zh += f"，避开{not_zh}"
        return {"en": en + ".", "zh": zh + "。"}
    if source == "context" and word is not None:
        en = f"“{word}” suggests {en_name} music"
        zh = f"“{word}”适合{zh_name}风格的音乐"
    elif source == "video" and features is not None:
        look_en, look_zh = _describe_video(features)
        en = f"The footage looks {look_en}, so the music is {en_name}"
        zh = f"画面{look_zh}，所以配了{zh_name}风格的音乐"
    else:
        en = f"A {en_name} piece suits most clips"
        zh = f"{zh_name}风格的音乐适合大多数视频"
    if avoided:
        en = f"Nothing {not_en}, as asked: " + en[0].lower() + en[1:]
        zh = f"按你的意思避开{not_zh}，" + zh
    return {"en": en + ".", "zh": zh + "。"}
