import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core import formats
from bot.core.gui_phrases import translate_gui
from bot.core.language import detect_language, ui_language
from bot.core.texts import CATALOGUE, format_duration, t
from bot.message_split import split_message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Done! Click Export to save your video.", "type **export**"),
        ("点击导出即可保存视频", "发送 **导出**"),
        ("You can preview in the timeline.", "type **status**"),
        ("Open the timeline to check.", "type **status**"),
        ("Drag and drop your files into the timeline.", "attach your files in this thread"),
        ("Click 'Add music' to continue", "ask me to “Add music”"),
        ("Press the Apply button", "ask me to “Apply”"),
        ("拖拽素材到时间线", "直接告诉我"),
    ],
)
def test_gui_translation(text: str, expected: str) -> None:
    assert expected.lower() in translate_gui(text).lower()


def test_gui_translation_keeps_sentence_case() -> None:
    assert translate_gui("Done! Click Export to save.") == "Done! Type **export** (or use `/export`) to save."
    assert translate_gui("then click export") == "then type **export** (or use `/export`)"


def test_gui_translation_leaves_plain_text_alone() -> None:
    text = "I added a lo-fi track at 35% volume."
    assert translate_gui(text) == text


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("add background music", "en"),
        ("添加背景音乐", "zh-CN"),
        ("音楽を追加してください", "ja"),
        ("배경 음악 추가", "ko"),
        ("добавь музыку", "ru"),
        ("añade música de fondo para el video por favor", "es"),
        ("ajoute de la musique avec le rythme pour la vidéo", "fr"),
        ("", "en"),
    ],
)
def test_detect_language(text: str, lang: str) -> None:
    assert detect_language(text) == lang


def test_ui_language() -> None:
    assert ui_language("zh-CN") == "zh"
    assert ui_language("en") == "en"
    assert ui_language(None) == "en"
    assert ui_language("ja") == "en"


def test_catalogue_has_every_key_in_every_language() -> None:
    english = set(CATALOGUE["en"])
    for lang, table in CATALOGUE.items():
        assert set(table) == english, f"{lang} differs: {set(table) ^ english}"


def test_catalogue_placeholders_match_across_languages() -> None:
    formatter = string.Formatter()
    for key, template in CATALOGUE["en"].items():
        fields = {f for _, f, _, _ in formatter.parse(template) if f}
        for lang, table in CATALOGUE.items():
            other = {f for _, f, _, _ in formatter.parse(table[key]) if f}
            assert other == fields, f"{lang}:{key} placeholders {other} != {fields}"


def test_t_formats_and_falls_back() -> None:
    assert "42" in t("credits", "en", available=42, frozen=0, total=42)
    assert "42" in t("credits", "xx", available=42, frozen=0, total=42)
    assert format_duration(75, "en") == "1m 15s"
    assert format_duration(9, "zh") == "9秒"


@pytest.mark.parametrize(
    ("name", "head", "ok"),
    [
        ("clip.mp4", b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 8, True),
        ("clip.mov", b"\x00\x00\x00\x14ftypqt  " + b"\x00" * 8, True),
        ("clip.webm", b"\x1a\x45\xdf\xa3" + b"\x00" * 12, True),
        ("clip.avi", b"RIFF\x00\x00\x00\x00AVI LIST", True),
        ("a.wav", b"RIFF\x00\x00\x00\x00WAVEfmt ", True),
        ("a.webp", b"RIFF\x00\x00\x00\x00WEBPVP8 ", True),
        ("a.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 8, True),
        ("a.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 8, True),
        ("a.gif", b"GIF89a" + b"\x00" * 8, True),
        ("a.mp3", b"ID3\x04" + b"\x00" * 8, True),
        ("a.m4a", b"\x00\x00\x00\x20ftypM4A " + b"\x00" * 8, True),
        ("evil.mp4", b"MZ\x90\x00" + b"\x00" * 12, False),
        ("evil.png", b"#!/bin/sh\nrm -rf /", False),
        ("a.mp4", b"", False),
    ],
)
def test_content_sniffing(name: str, head: bytes, ok: bool) -> None:
    assert formats.content_matches(name, head) is ok


def test_supported_names() -> None:
    for ext in ("mp4", "MOV", "avi", "webm", "mkv", "jpg", "jpeg", "png", "gif", "webp", "mp3", "wav", "m4a", "aac"):
        assert formats.is_supported_name(f"file.{ext}")
    for name in ("a.exe", "a.txt", "noext", "a.mp4.exe"):
        assert not formats.is_supported_name(name)


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=0, max_size=7000))
def test_split_message_respects_limit_and_keeps_content(text: str) -> None:
    chunks = split_message(text)
    assert all(0 < len(chunk) <= 2000 for chunk in chunks)
    assert "".join("".join(c.split()) for c in chunks) == "".join(text.split())


def test_split_prefers_line_breaks() -> None:
    text = ("a" * 1500 + "\n") + ("b" * 1500)
    assert split_message(text) == ["a" * 1500, "b" * 1500]
