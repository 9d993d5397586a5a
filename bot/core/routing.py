"""Keyword routing (the vendor's table, in English and Chinese): export / credits / status / upload skip the chat.

A keyword alone is not enough: "add music and make it vertical, then export" is an editing
request, so a message is routed to an action only when, after removing the keyword and filler
words, almost nothing is left. Everything else is chat.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass


class Intent(enum.StrEnum):
    EXPORT = "export"
    CREDITS = "credits"
    STATUS = "status"
    UPLOAD = "upload"
    CHAT = "chat"


@dataclass(frozen=True, slots=True)
class Route:
    intent: Intent
    text: str


_PATTERNS: tuple[tuple[Intent, re.Pattern[str]], ...] = (
    (Intent.EXPORT, re.compile(r"\bsend me the (?:final )?video\b|\bexport\b|\bdownload\b|导出|下载")),
    (Intent.CREDITS, re.compile(r"\bcredits?\b|\bbalance\b|积分|余额")),
    (Intent.STATUS, re.compile(r"\bshow (?:me )?(?:the )?tracks\b|\bstatus\b|状态|时间线|轨道")),
    (Intent.UPLOAD, re.compile(r"\bupload\b|上传")),
)

_FILLER_EN = frozenset(
    """
    please pls plz now the my a an it this that video clip can could would you i me we us want to
    like do does have has how many much what whats what's is are show check of for current left
    remaining get let's lets go ahead and ok okay thanks thank mp4 file final project timeline
    tracks track hey bot cutaway just quickly again tell see view give as in with our your still
    there here up done ready time be
    """.split()
)
_FILLER_ZH = (
    "请",
    "帮我",
    "帮",
    "我",
    "的",
    "吧",
    "一下",
    "视频",
    "现在",
    "查看",
    "看看",
    "看",
    "多少",
    "还有",
    "剩",
    "吗",
    "呢",
    "了",
    "给",
    "把",
    "个",
    "当前",
    "项目",
    "查询",
    "成品",
    "文件",
    "可以",
    "麻烦",
    "下",
    "还",
    "能",
    "是",
    "什么",
)
_WORD = re.compile(r"[\w']+", re.UNICODE)
_CJK = re.compile(r"[\u4e00-\u9fff]")
_MENTION = re.compile(r"<[@#][!&]?\d+>|https?://\S+")
MAX_LEFTOVER_WORDS = 2
MAX_LEFTOVER_CJK = 3


def _leftover(text: str, match: re.Match[str]) -> tuple[int, int]:
    rest = (text[: match.start()] + " " + text[match.end() :]).lower()
    for filler in _FILLER_ZH:
        rest = rest.replace(filler, " ")
    words = [w for w in _WORD.findall(rest) if not _CJK.search(w) and w not in _FILLER_EN]
    cjk = len(_CJK.findall(rest))
    return len(words), cjk


def route(text: str) -> Route:
    """Classify one message. Only short, command-like messages leave the chat path."""
    cleaned = _MENTION.sub(" ", text).strip()
    lowered = cleaned.lower()
    if not lowered:
        return Route(Intent.CHAT, text)
    for intent, pattern in _PATTERNS:
        match = pattern.search(lowered)
        if match is None:
            continue
        words, cjk = _leftover(lowered, match)
        if words <= MAX_LEFTOVER_WORDS and cjk <= MAX_LEFTOVER_CJK:
            return Route(intent, text)
    return Route(Intent.CHAT, text)
