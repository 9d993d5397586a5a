"""The backend answers as if the user had NemoVideo's web editor; map its GUI wording to this bot.

The vendor's rules (docs/backend-contract.md, section 5): "click"/"点击" → do it through the API
(here: tell the user the word to type), "open"/"打开" → state, "drag/drop"/"拖拽" → describe the
edit, "preview in timeline" → text summary (`status`), "Export"/"导出" → the export workflow.
"""

from __future__ import annotations

import re
from collections.abc import Callable

_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    # Export buttons first, so the generic click rule does not swallow them.
    (
        re.compile(
            r"\b(?:click|tap|press|hit|use)\s+(?:on\s+)?(?:the\s+)?[\"“'*]*export[\"”'*]*(?:\s+button)?", re.IGNORECASE
        ),
        "type **export** (or use `/export`)",
    ),
    (re.compile(r"(?:点击|点|按)\s*[“\"「]?导出[”\"」]?(?:按钮)?"), "发送 **导出**（或使用 `/export`）"),
    (
        re.compile(r"\b(?:preview|check|view|see)\s+(?:it\s+)?(?:in|on)\s+the\s+timeline\b", re.IGNORECASE),
        "type **status** to see the timeline",
    ),
    (re.compile(r"在时间线(?:中|上|里)?预览"), "发送 **状态** 查看时间线"),
    (
        re.compile(r"\bopen\s+(?:the\s+)?(?:timeline|editor|project|draft)(?:\s+panel)?\b", re.IGNORECASE),
        "type **status** to see the timeline",
    ),
    (re.compile(r"打开(?:时间线|编辑器|项目|草稿)"), "发送 **状态** 查看时间线"),
    (
        re.compile(
            r"\bdrag(?:\s+(?:and|&)\s+drop)?\s+(?:your\s+|the\s+)?(?:files?|clips?|videos?|media)\b"
            r"(?:\s+(?:in)?to\s+the\s+(?:timeline|upload area|editor))?",
            re.IGNORECASE,
        ),
        "attach your files in this thread",
    ),
    (
        re.compile(r"\b(?:drag|drop)\s+(?:it|them|the\s+\w+)\s+(?:in)?to\s+the\s+timeline\b", re.IGNORECASE),
        "tell me where it should go",
    ),
    (re.compile(r"拖拽(?:文件|素材|视频)?(?:到(?:时间线|编辑器))?"), "直接告诉我你想怎么调整"),
    (
        re.compile(
            r"\b(?:click|tap|press)\s+(?:on\s+)?(?:the\s+)?[\"“'*]+([^\"”'*]{1,40})[\"”'*]+(?:\s+button)?",
            re.IGNORECASE,
        ),
        r"ask me to “\1”",
    ),
    (
        re.compile(r"\b(?:click|tap|press)\s+(?:on\s+)?(?:the\s+)?(\w+(?:\s\w+)?)\s+button\b", re.IGNORECASE),
        r"ask me to “\1”",
    ),
    (re.compile(r"点击\s*[“\"「]([^”\"」]{1,20})[”\"」](?:按钮)?"), r"告诉我“\1”"),
)


def _keep_case(replacement: str) -> Callable[[re.Match[str]], str]:
    """ "Click Export…" at the start of a sentence becomes "Type…", not "type…"."""

    def substitute(match: re.Match[str]) -> str:
        out = match.expand(replacement)
        return out[:1].upper() + out[1:] if match.group(0)[:1].isupper() and out[:1].islower() else out

    return substitute


def translate_gui(text: str) -> str:
    for pattern, replacement in _RULES:
        text = pattern.sub(_keep_case(replacement), text)
    return text
