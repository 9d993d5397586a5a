"""Cheap language detection from a user's text: enough to pick the session language.

Script detection is reliable for Chinese, Japanese, Korean, Cyrillic, Arabic and others;
Latin-script languages are told apart by a few very common words, else English.
"""

from __future__ import annotations

import re

_HAN = re.compile(r"[\u4e00-\u9fff\u3400-\u4dbf]")
_KANA = re.compile(r"[\u3040-\u30ff]")
_HANGUL = re.compile(r"[\uac00-\ud7af]")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_ARABIC = re.compile(r"[\u0600-\u06ff]")
_WORD = re.compile(r"[a-zà-ÿ]+")

_LATIN_HINTS: dict[str, frozenset[str]] = {
    "es": frozenset(
        {
            "el",
            "la",
            "los",
            "las",
            "que",
            "con",
            "para",
            "una",
            "música",
            "musica",
            "video",
            "añade",
            "añadir",
            "por",
            "favor",
            "del",
        }
    ),
    "fr": frozenset(
        {"le", "les", "des", "une", "avec", "pour", "musique", "ajoute", "ajouter", "vidéo", "et", "du", "est"}
    ),
    "de": frozenset(
        {"der", "die", "das", "und", "mit", "ein", "eine", "musik", "füge", "hinzu", "bitte", "für", "ist"}
    ),
    "pt": frozenset({"o", "os", "uma", "com", "para", "música", "adicione", "vídeo", "não", "meu", "minha"}),
}


def detect_language(text: str) -> str:
    """Return a backend language code: `zh-CN`, `ja`, `ko`, `ru`, `ar`, `es`, `fr`, `de`, `pt` or `en`."""
    if _KANA.search(text):
        return "ja"
    if _HAN.search(text):
        return "zh-CN"
    if _HANGUL.search(text):
        return "ko"
    if _CYRILLIC.search(text):
        return "ru"
    if _ARABIC.search(text):
        return "ar"
    words = _WORD.findall(text.lower())
    if words:
        scores = {lang: sum(word in hints for word in words) for lang, hints in _LATIN_HINTS.items()}
        best = max(scores, key=lambda lang: scores[lang])
        if scores[best] >= 2 and scores[best] >= len(words) * 0.2:
            return best
    return "en"


def ui_language(code: str | None) -> str:
    """The catalogue language for a backend/Discord language code (`zh` or `en`)."""
    if code and code.lower().startswith("zh"):
        return "zh"
    return "en"
