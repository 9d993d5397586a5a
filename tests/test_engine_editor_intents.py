"""The editor's grammar: chat messages (EN/ZH) → typed intents, without a draft or a server."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.editor import intents as it
from tests.editor_support import shapes

# (message, the intents it must give, in order). Every feature of the editor, in both languages.
TABLE: list[tuple[str, list[str]]] = [
    # -- music by mood
    ("add background music that matches the mood", ["music"]),
    ("add some music", ["music"]),
    ("add upbeat music", ["music"]),
    ("I want something calm and relaxing for this", ["music"]),
    ("add music that's not too sad", ["music"]),
    ("put a lo-fi beat under it", ["music"]),
    ("不要太悲伤的音乐", ["music"]),
    ("加一段符合氛围的背景音乐", ["music"]),
    ("来一首欢快的音乐", ["music"]),
    ("another one", ["another"]),
    ("换一首", ["another"]),
    ("different music please", ["another"]),
    ("another calm one", ["music!"]),
    # -- music off, the user's own song
    ("remove the music", ["music off"]),
    ("no music", ["music off"]),
    ("去掉音乐", ["music off"]),
    ("不要背景音乐", ["music off"]),
    ("use my song", ["my audio"]),
    ("use the audio I uploaded", ["my audio"]),
    ("用我的歌", ["my audio"]),
    ("用我上传的音乐", ["my audio"]),
    # -- volume
    ("set the music to 30%", ["volume 30"]),
    ("music volume 40", ["volume 40"]),
    ("make the music quieter", ["volume -10"]),
    ("music softer", ["volume -10"]),
    ("make the music a bit louder", ["volume +5"]),
    ("the music is too loud", ["volume -10"]),
    ("I can't hear the music", ["volume +10"]),
    ("小声一点", ["volume -10 auto"]),
    ("音乐大声一点", ["volume +10"]),
    ("音乐音量30%", ["volume 30"]),
    ("音乐百分之三十", ["volume 30"]),
    ("音乐太吵了", ["volume -10"]),
    ("mute the music", ["volume 0"]),
    ("set the volume to half", ["volume 50 auto"]),
    # -- fades
    ("fade the music in over 2 seconds", ["fade in=2000 out=None"]),
    ("fade out at the end", ["fade in=None out=2000"]),
    ("fade in and out", ["fade in=2000 out=2000"]),
    ("no fade in", ["fade in=0 out=None"]),
    ("淡出", ["fade in=None out=2000"]),
    ("淡入2秒", ["fade in=2000 out=None"]),
    ("fade out from 20s", ["fade in=None out=None at=20000"]),
    # -- when the music plays
    ("start the music at 5s", ["music when start=5000"]),
    ("music only for the first 20 seconds", ["music when length=20000,anchor=start"]),
    ("stop the music at 0:18", ["music when end=18000"]),
    ("music from 5s to 15s", ["music when start=5000,end=15000"]),
    ("音乐从5秒开始", ["music when start=5000"]),
    ("音乐在18秒结束", ["music when end=18000"]),
    # -- the clips' own sound and ducking
    ("mute the original audio", ["clip mute"]),
    ("lower the clip's sound", ["clip lower"]),
    ("keep the voices", ["clip keep"]),
    ("静音原声", ["clip mute"]),
    ("降低原声", ["clip lower"]),
    ("保留原声", ["clip keep"]),
    ("don't duck", ["duck off"]),
    ("keep the music steady", ["duck off"]),
    ("duck the music under speech", ["duck on"]),
    ("不要闪避", ["duck off"]),
    # -- canvas and fit
    ("make it vertical", ["canvas 9:16 -"]),
    ("for TikTok", ["canvas 9:16 -"]),
    ("竖屏", ["canvas 9:16 -"]),
    ("square", ["canvas 1:1 -"]),
    ("方形", ["canvas 1:1 -"]),
    ("4:5", ["canvas 4:5 -"]),
    ("Instagram portrait", ["canvas 4:5 -"]),
    ("16:9", ["canvas 16:9 -"]),
    ("landscape please", ["canvas 16:9 -"]),
    ("横屏", ["canvas 16:9 -"]),
    ("make it vertical with a blurred background", ["canvas 9:16 blur"]),
    ("black bars", ["canvas - pad"]),
    ("fill the frame", ["canvas - crop"]),
    ("no black bars", ["canvas - crop"]),
    ("竖屏，模糊背景", ["canvas 9:16 blur"]),
    ("横屏铺满", ["canvas 16:9 crop"]),
    # -- titles and text
    ('add the title "Summer"', ["text 'Summer' title - - -"]),
    (
        'add the title "Summer" at the bottom for the first 3 seconds',
        ["text 'Summer' title bottom - length=3000,anchor=start"],
    ),
    ("put “夏天” at the top left from 5s to 8s", ["text '夏天' title top-left - start=5000,end=8000"]),
    ('add "The End" at the end', ["text 'The End' title - - anchor=end"]),
    ('add a caption "hello world"', ["text 'hello world' caption - - -"]),
    ("add a title saying Summer Trip", ["text 'Summer Trip' title - - -"]),
    ("添加标题“夏天”", ["text '夏天' title - - -"]),
    ("标题「旅行日记」放在底部，显示5秒", ["text '旅行日记' title bottom - length=5000"]),
    ("remove the title", ["remove text None/None"]),
    ("remove all text", ["remove text all"]),
    ("删除标题", ["remove text None/None"]),
    ('change the title to "Winter"', ["edit text None/None 'Winter' - -+0 -"]),
    ("把标题改成“冬天”", ["edit text None/None '冬天' - -+0 -"]),
    ('replace the title "A" with "B"', ["edit text None/A 'B' - -+0 -"]),
    ("move the title to the bottom", ["edit text None/None None bottom -+0 -"]),
    ("make the title bigger", ["edit text None/None None - -+1 -"]),
    ("标题放到底部", ["edit text None/None None bottom -+0 -"]),
    ("show the title from 5s to 8s", ["edit text None/None None - -+0 start=5000,end=8000"]),
    ("add a title", ["unclear title_words"]),
    ("make the title red", ["cannot text_style"]),
    ('add a bold title "Hi" at the top', ["text 'Hi' title top large -"]),
    ('add the title "Black Friday" in italics', ["text 'Black Friday' title - - -", "cannot text_style"]),
    # -- trims, lengths, clips
    ("trim the first 2 seconds", ["trim timeline length=2000,anchor=start"]),
    ("cut the last 3 s", ["trim timeline length=3000,anchor=end"]),
    ("keep only 5 to 15 s", ["trim timeline start=5000,end=15000 keep"]),
    ("trim the first 2 seconds of the second clip", ["trim any#2 length=2000,anchor=start"]),
    ("cut everything after 15s", ["trim timeline - after=15000"]),
    ("cut from 5s to 8s", ["trim timeline start=5000,end=8000"]),
    ("make the photo 5 seconds", ["length image#None 5000"]),
    ("show the photo for 5 seconds", ["length image#None 5000"]),
    ("make the second photo 4 seconds", ["length image#2 4000"]),
    ("make it 15 seconds long", ["length timeline 15000"]),
    ("shorten the video to 10s", ["length timeline 10000"]),
    ("trim 2 seconds", ["unclear trim_where"]),
    ("剪掉前2秒", ["trim timeline length=2000,anchor=start"]),
    ("删掉最后3秒", ["trim timeline length=3000,anchor=end"]),
    ("只保留5到15秒", ["trim timeline start=5000,end=15000 keep"]),
    ("去掉开头两秒", ["trim timeline length=2000,anchor=start"]),
    ("把图片改成5秒", ["length image#None 5000"]),
    ("照片显示5秒", ["length image#None 5000"]),
    ("缩短到15秒", ["length timeline 15000"]),
    ("remove the second clip", ["remove clip any#2"]),
    ("delete the last clip", ["remove clip any#-1"]),
    ("remove the second-to-last clip", ["remove clip any#-2"]),
    ("remove the 3rd photo", ["remove clip image#3"]),
    ("move the 2nd title to the top", ["edit text 2/None None top -+0 -"]),
    ("remove the photo", ["remove clip image#None"]),
    ("删除第二个片段", ["remove clip any#2"]),
    # -- undo
    ("undo", ["undo 1"]),
    ("undo twice", ["undo 2"]),
    ("go back", ["undo 1"]),
    ("撤销", ["undo 1"]),
    ("撤销两次", ["undo 2"]),
    ("go back to 16:9", ["canvas 16:9 -"]),
    # -- out of scope, and conversation
    ("make it look cinematic with color grading", ["cannot grade"]),
    ("generate a video of a cat", ["cannot generate"]),
    ("add subtitles from speech", ["cannot subtitles"]),
    ("add a crossfade between the clips", ["cannot transitions"]),
    ("make it slow motion", ["cannot speed"]),
    ("帮我生成一个猫的视频", ["cannot generate"]),
    ("加字幕", ["cannot subtitles"]),
    ("调色", ["cannot grade"]),
    ("remove the background noise", ["cannot denoise"]),
    ("帮我降噪", ["cannot denoise"]),
    ("add some background sound", ["music"]),
    ("what can you do?", ["help"]),
    ("help", ["help"]),
    ("hi", ["greeting"]),
    ("你好", ["greeting"]),
    ("你能做什么", ["help"]),
    ("thanks", ["thanks"]),
    ("what's on the timeline?", ["describe"]),
    ("add music and export", ["music", "exporthint"]),
    # -- phrasings that once went wrong
    ("make it a square video for instagram", ["canvas 1:1 -"]),
    ("make it vertical for instagram reels", ["canvas 9:16 -"]),
    ("add a fade to the music", ["fade in=2000 out=2000"]),
    ("给音乐加淡入", ["fade in=2000 out=None"]),
    ("keep the original sound but add music", ["clip keep", "music"]),
    ("the voices are too quiet", ["clip keep"]),
    ("cancel that", ["undo 1"]),
    ("删掉最后一张图片", ["remove clip image#-1"]),
    ("你好，你能帮我做什么？", ["greeting", "help"]),
    ("现在时间线上有什么", ["describe"]),
    ("音乐只要前20秒", ["music when length=20000,anchor=start"]),
    ("crop it to 9:16", ["canvas 9:16 crop"]),
    ('put the text "Day 1" in the top right corner', ["text 'Day 1' caption top-right - -"]),
    ("start the video at 4 seconds", ["trim timeline - before=4000"]),
    ("end the video at 20 seconds", ["trim timeline - after=20000"]),
]


@pytest.mark.parametrize(("message", "expected"), TABLE, ids=[m for m, _ in TABLE])
def test_request_table(message: str, expected: list[str]) -> None:
    assert shapes(message) == expected


def test_the_table_covers_every_feature_in_both_languages() -> None:
    assert len(TABLE) >= 60
    chinese = [m for m, _ in TABLE if any("\u4e00" <= ch <= "\u9fff" for ch in m)]
    assert len(chinese) >= 30
    every_kind = {row[0].split(" ")[0] for _, rows in TABLE for row in [rows]}
    assert {
        "music",
        "volume",
        "fade",
        "clip",
        "duck",
        "canvas",
        "text",
        "trim",
        "length",
        "undo",
        "cannot",
    } <= every_kind


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            'add lo-fi music and the title "Summer" at the top, then make it vertical',
            ["music", "text 'Summer' title top - -", "canvas 9:16 -"],
        ),
        ("add calm music at 30% with a 2 second fade in", ["music", "volume 30", "fade in=2000 out=None"]),
        (
            "add lo-fi music at 25% and mute the original audio, then make it square with black bars",
            ["music", "volume 25", "clip mute", "canvas 1:1 pad"],
        ),
        ("add music, then make it quieter, and fade it out", ["music", "volume -10", "fade in=None out=2000"]),
        # Sentences: a full stop ends one request ("2.5 s" and "Mr. Smith" stay whole).
        ("Make it vertical. Add calm music.", ["canvas 9:16 -", "music"]),
        ('Add calm music. Put the title "Summer" at the top.', ["music", "text 'Summer' title top - -"]),
        ("trim the first 2.5 seconds. add music", ["trim timeline length=2500,anchor=start", "music"]),
        ("add a title saying Mr. Smith", ["text 'Mr. Smith' title - - -"]),
        ("加欢快的音乐，音量30%，然后竖屏", ["music", "volume 30", "canvas 9:16 -"]),
        (
            "添加标题“夏天”，然后剪掉前2秒，再加背景音乐",
            ["text '夏天' title - - -", "trim timeline length=2000,anchor=start", "music"],
        ),
        (
            "trim the first 2 seconds and the last 3 seconds",
            ["trim timeline length=2000,anchor=start", "trim timeline length=3000,anchor=end"],
        ),
        (
            'add the titles "A" at the top and "B" at the bottom',
            ["text 'A' title top - -", "text 'B' title bottom - -"],
        ),
        (
            'add the title "X" and make it 5 seconds',
            ["text 'X' title - - -", "edit text None/None None - -+0 length=5000"],
        ),
        ("add music and make it 20 seconds", ["music", "music when length=20000"]),
        ("make it vertical, no wait, undo", ["canvas 9:16 -", "undo 1"]),
        ("hi! add some music please", ["music"]),
    ],
)
def test_one_message_holds_several_requests(message: str, expected: list[str]) -> None:
    assert shapes(message) == expected


@pytest.mark.parametrize(
    ("message", "words"),
    [
        (
            'add the title "undo and remove the music, then make it vertical"',
            "undo and remove the music, then make it vertical",
        ),
        ("add the title “No music” at the bottom", "No music"),
        ("put 'trim the first 2 seconds' at the top", "trim the first 2 seconds"),
        ("添加标题「撤销」", "撤销"),
        ("添加标题『去掉音乐，竖屏』", "去掉音乐，竖屏"),
        ('add the title "Summer', "Summer"),
        ('add the title "  spaced\tout\nwords  "', "spaced out words"),
    ],
)
def test_quoted_words_are_only_ever_a_title(message: str, words: str) -> None:
    intents = it.interpret(message).intents
    assert [type(i) for i in intents] == [it.AddText]
    assert isinstance(intents[0], it.AddText)
    assert intents[0].text == words


def test_apostrophes_are_not_quotes() -> None:
    assert shapes("don't duck, and lower the clip's sound") == ["duck off", "clip lower"]


def test_silent_prefix_is_recognised_and_removed() -> None:
    reading = it.interpret("silent: make it square")
    assert reading.silent
    assert shapes("make it square") == ["canvas 1:1 -"]
    assert [type(i) for i in reading.intents] == [it.SetCanvas]
    assert it.interpret("静默：竖屏").silent
    assert not it.interpret("make it silent").silent


def test_interpreting_is_deterministic() -> None:
    message = 'add upbeat music at 40%, the title "Go" at the top, then make it square and trim the last 2 s'
    assert it.interpret(message) == it.interpret(message)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.text(max_size=200))
def test_any_text_is_read_without_raising(text: str) -> None:
    reading = it.interpret(text)
    assert isinstance(reading.intents, tuple)


_WORDS = st.sampled_from(
    [
        "add", "music", "title", '"', "“", "”", "「", "」", "'", "trim", "first", "last", "2", "3s", "0:18", "秒",
        "前", "最后", "9:16", "%", "30", "undo", "撤销", "fade", "in", "out", "and", "then", ",", "，", "the", "clip",
        "second", "photo", "remove", "mute", "original", "audio", "vertical", "blur", "from", "to", "到", "百分之",
        "三十", "静默：", "silent:", "another", "one", "标题", "音乐", "竖屏", "不要", "太", "悲伤", "keep", "only",
    ]
)  # fmt: skip


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(_WORDS, max_size=25))
def test_command_word_salad_is_read_without_raising(words: list[str]) -> None:
    it.interpret(" ".join(words))


def test_a_very_long_message_is_read_quickly_and_capped() -> None:
    message = "add music and make it vertical " * 2000
    reading = it.interpret(message)
    assert reading.intents  # still understood, from its first part
    music = reading.intents[0]
    assert isinstance(music, it.AddMusic) and len(music.request) < it.MAX_MESSAGE_CHARS  # and only that part


@pytest.mark.parametrize(
    "message",
    ['"a" ' * 1000, " " * 4000, "1" * 4000, "三" * 4000, "trim " + "5" * 3995, "第" * 4000, "from " + "5 to " * 799],
    ids=["many-quotes", "spaces", "digits", "numerals", "trim-digits", "ordinals", "ranges"],
)
async def test_pathological_messages_are_read_in_bounded_time(message: str) -> None:
    """Messages a regex can backtrack on for ever (one pattern took minutes on a few hundred quoted
    words; runs of spaces, digits or numerals took seconds). Each takes well under a second now: the
    bound is two orders of magnitude above that, so a loaded machine passes and a relapse does not."""
    reading = await asyncio.wait_for(asyncio.to_thread(it.interpret, message), 60)
    assert isinstance(reading.intents, tuple)
