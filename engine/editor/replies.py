"""Everything the editor says, English and Chinese, in one catalogue (docs/engine.md, "Editor").

Replies follow the hosted agent's style: a short acknowledgement, then "Done! Added a
lo-fi track (0-10s, 35% volume)… Type **export** when you're ready." Times are seconds the way the
bot's own timeline summary prints them ("23.7"), volumes whole percentages. Nothing here shows an
id, a path or JSON: only names the user gave (file names, title words) and numbers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any, Literal

from engine.draft import Draft
from engine.editor import intents as it
from engine.editor.drafting import Change, Refusal, mood_name
from engine.editor.intents import extract_quotes
from engine.editor.numbers import format_seconds
from engine.music import MOODS

Lang = Literal["en", "zh"]
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_LATIN = re.compile(r"[A-Za-z]")


def lang_of(text: str, session_language: str = "en") -> Lang:
    """Han characters → Chinese; Latin letters → English; neither ("9:16") → the session's language.
    Quoted words do not count: `add the title "夏天"` is an English request."""
    for candidate in (extract_quotes(text)[0], text):
        if _HAN.search(candidate):
            return "zh"
        if _LATIN.search(candidate):
            return "en"
    return "zh" if session_language.lower().startswith("zh") else "en"


def glue(parts: Sequence[str], lang: Lang) -> str:
    """Sentences one after another: a space between English ones, nothing between Chinese ones."""
    return ("" if lang == "zh" else " ").join(p for p in parts if p)


# ---------------------------------------------------------------------------- the catalogue
T: dict[str, tuple[str, str]] = {
    # -- framing
    "ack": ("On it — {items}…", "好的，正在{items}……"),
    "done": ("Done!", "搞定！"),
    "export": ("Type **export** when you're ready.", "准备好了就发送 **导出**。"),
    "partly": ("Some of that didn't work:", "有几项没能完成："),
    # -- acknowledgement items
    "ack_add_music": ("adding background music", "添加背景音乐"),
    "ack_another": ("picking a different piece", "换一首音乐"),
    "ack_remove_music": ("removing the music", "去掉音乐"),
    "ack_my_audio": ("setting your own track as the music", "把你上传的音频设为背景音乐"),
    "ack_volume": ("adjusting the music volume", "调整音乐音量"),
    "ack_fade": ("setting the music's fades", "设置音乐淡入淡出"),
    "ack_music_timing": ("setting when the music plays", "设置音乐起止时间"),
    "ack_duck": ("setting the ducking", "设置音乐闪避"),
    "ack_clip_sound": ("setting the clips' own sound", "调整原声"),
    "ack_canvas": ("reframing the video", "调整画面比例"),
    "ack_add_text": ("adding the title “{text}”", "添加标题“{text}”"),
    "ack_edit_text": ("updating the title", "修改标题"),
    "ack_remove_text": ("removing text", "删除文字"),
    "ack_trim": ("trimming", "剪辑时长"),
    "ack_length": ("changing the length", "调整时长"),
    "ack_remove_clip": ("removing a clip", "删除片段"),
    "and": (" and ", "、"),
    # -- changes
    "music_added": (
        "Added {a_Mood} track (composed for this clip, {start}-{end}s, {volume}% volume).",
        "已添加{Mood}风格的背景音乐（为这段视频创作，{start}-{end}秒，音量{volume}%）。",
    ),
    "music_changed": (
        "Switched the music to {Mood} (was {previous}; {start}-{end}s, {volume}% volume).",
        "音乐已换成{Mood}风格（原来是{previous}；{start}-{end}秒，音量{volume}%）。",
    ),
    "library_added": (
        "Added “{title}” from the music library ({Mood}, {start}-{end}s, {volume}% volume).",
        "已从曲库添加“{title}”（{Mood}风格，{start}-{end}秒，音量{volume}%）。",
    ),
    "library_changed": (
        "Switched the music to “{title}” from the music library "
        "({Mood}; was {previous}; {start}-{end}s, {volume}% volume).",
        "音乐已换成曲库中的“{title}”（{Mood}风格；原来是{previous}；{start}-{end}秒，音量{volume}%）。",
    ),
    "library_another": (
        "Here's another {Mood} track from the music library: “{title}” ({start}-{end}s, {volume}% volume) — "
        "say “another one” again for the next.",
        "换了曲库中另一首{Mood}风格的音乐：“{title}”（{start}-{end}秒，音量{volume}%）——还想换就再说“换一首”。",
    ),
    "music_hint": (
        "Say “another one” for a different piece, or name a mood ({moods}).",
        "想换一首就说“换一首”，也可以指定风格（{moods}）。",
    ),
    "music_same_mood": (
        "The music is already {Mood} — say “another one” for a different {Mood} piece.",
        "现在已经是{Mood}风格的音乐了——想换一首就说“换一首”。",
    ),
    "music_another": (
        "Here's a different {Mood} piece ({start}-{end}s, {volume}% volume) — say “another one” again for yet another.",
        "换了一首{Mood}风格的音乐（{start}-{end}秒，音量{volume}%）——还想换就再说“换一首”。",
    ),
    "music_removed": ("Removed the music ({name}).", "已去掉背景音乐（{name}）。"),
    "upload_used": (
        "Your track “{name}” is now the music ({start}-{end}s, {volume}% volume).",
        "你的音频“{name}”已设为背景音乐（{start}-{end}秒，音量{volume}%）。",
    ),
    "upload_short": (
        "It's {length}s long, shorter than the {span}s it covers.",
        "它只有{length}秒，比要覆盖的{span}秒短。",
    ),
    "upload_same": ("Your track “{name}” is already the music.", "你的音频“{name}”已经是背景音乐了。"),
    "volume": ("Music volume: {before}% → {after}%.", "音乐音量：{before}% → {after}%。"),
    "volume_muted": (
        "Music volume: {before}% → 0% (silent; say “remove the music” to take it out).",
        "音乐音量：{before}% → 0%（静音；想彻底去掉就说“去掉音乐”）。",
    ),
    "volume_same_max": ("The music is already at full volume (100%).", "音乐已经是最大音量（100%）了。"),
    "volume_same_min": ("The music is already silent (0%).", "音乐已经是静音（0%）了。"),
    "volume_same_same": ("The music is already at {after}%.", "音乐音量已经是{after}%了。"),
    "fade_in": ("The music now fades in over {fade_in}s.", "音乐现在在开头{fade_in}秒内淡入。"),
    "fades_both": (
        "The music now fades in over {fade_in}s and out over its last {fade_out}s.",
        "音乐现在开头{fade_in}秒淡入、最后{fade_out}秒淡出。",
    ),
    "fade_in_off": ("The music now starts without a fade-in.", "音乐开头不再淡入。"),
    "fade_out": ("The music now fades out over its last {fade_out}s.", "音乐现在在最后{fade_out}秒淡出。"),
    "fade_out_off": ("The music now ends without a fade-out.", "音乐结尾不再淡出。"),
    "music_span": ("The music now plays {start}-{end}s.", "音乐现在在{start}-{end}秒播放。"),
    "music_span_clamped": (
        "The music now plays {start}-{end}s (the video ends at {total}s).",
        "音乐现在在{start}-{end}秒播放（视频在{total}秒结束）。",
    ),
    "duck_on": (
        "The music now ducks under speech (it dips whenever someone talks).",
        "音乐现在会在有人说话时自动压低。",
    ),
    "duck_off": ("The music now stays at a steady level (no ducking).", "音乐现在保持恒定音量（不再闪避）。"),
    "duck_same_on": ("The music already ducks under speech.", "音乐已经会在说话时自动压低了。"),
    "duck_same_off": ("The music already stays at a steady level.", "音乐已经是恒定音量了。"),
    "clip_sound_keep": ("The clips' own sound now plays at full level.", "原声现在保持原音量。"),
    "clip_sound_lower": ("The clips' own sound is now lowered (30%).", "原声已调低（30%）。"),
    "clip_sound_mute": ("The clips' own sound is now muted.", "原声已静音。"),
    "clip_sound_same_keep": ("The clips' own sound already plays at full level.", "原声已经是原音量了。"),
    "clip_sound_same_lower": ("The clips' own sound is already lowered (30%).", "原声已经调低（30%）了。"),
    "clip_sound_same_mute": ("The clips' own sound is already muted.", "原声已经静音了。"),
    "clip_sound_duck": ("The music still ducks under speech.", "音乐仍会在有人说话时自动压低。"),
    "clip_sound_silent": (
        "(Your clips have no sound of their own, so you won't hear a difference.)",
        "（你的视频本身没有声音，所以听不出区别。）",
    ),
    "canvas": (
        "The frame is now {aspect} ({width}×{height}), {fit}.",
        "画面比例已改为{aspect}（{width}×{height}），{fit}。",
    ),
    "canvas_same": ("It's already {aspect} ({width}×{height}), {fit}.", "已经是{aspect}（{width}×{height}），{fit}。"),
    "fit_pad": ("with black bars where a clip's shape differs", "形状不同的素材加黑边"),
    "fit_blur": ("with a blurred copy filling the edges where a clip's shape differs", "形状不同的素材用模糊背景填充"),
    "fit_crop": ("filled edge to edge (clips are cropped to fit)", "铺满画面（素材会被裁切）"),
    "fit_hint": (
        "Say “black bars” or “fill the frame” if you prefer.",
        "如果想要黑边或铺满，就说“黑边”或“铺满”。",
    ),
    "text_added": (
        "Added the {style} “{text}” ({position}, {size}, {start}-{end}s).",
        "已添加{style}“{text}”（{position}，{size}，{start}-{end}秒）。",
    ),
    "style_title": ("title", "标题"),
    "style_caption": ("caption", "文字"),
    "text_same": ("The title “{text}” is already there.", "标题“{text}”已经有了。"),
    "text_renamed": (
        "Changed the title “{old}” to “{text}” ({position}, {size}, {start}-{end}s).",
        "已把标题“{old}”改为“{text}”（{position}，{size}，{start}-{end}秒）。",
    ),
    "text_edited": (
        "Updated the title “{text}”: {position}, {size}, {start}-{end}s.",
        "已修改标题“{text}”：{position}，{size}，{start}-{end}秒。",
    ),
    "text_unchanged_size": ("The title “{text}” is already {size}.", "标题“{text}”已经是{size}了。"),
    "text_unchanged_same": ("The title “{text}” already looks like that.", "标题“{text}”已经是这样了。"),
    "text_removed": ("Removed the title “{text}”.", "已删除标题“{text}”。"),
    "texts_removed": ("Removed all text ({count}).", "已删除全部文字（{count}条）。"),
    "trimmed_head": (
        "Trimmed the first {removed}s{of} — the video is now {after}s.",
        "已剪掉{of}前{removed}秒——视频现在{after}秒。",
    ),
    "trimmed_tail": (
        "Cut the last {removed}s{of} — the video is now {after}s.",
        "已剪掉{of}最后{removed}秒——视频现在{after}秒。",
    ),
    "trimmed_middle": ("Cut {a}-{b}s{of} — the video is now {after}s.", "已剪掉{of}{a}-{b}秒——视频现在{after}秒。"),
    "trimmed_keep": ("Kept {a}-{b}s{of} — the video is now {after}s.", "已保留{of}{a}-{b}秒——视频现在{after}秒。"),
    "of_clip": (" of clip {index} ({name})", "第{index}个片段（{name}）的"),
    "trim_nothing_to_do": ("There was nothing to trim there.", "那里没有可剪的内容。"),
    "length_same": ("It's already {length}s long.", "已经是{length}秒了。"),
    "clip_length": (
        "Clip {index} ({name}) now lasts {after}s (was {before}s).",
        "第{index}个片段（{name}）现在{after}秒（原来{before}秒）。",
    ),
    "total_now": ("The video is now {total}s.", "视频现在{total}秒。"),
    "clip_removed": (
        "Removed clip {index} ({name}) — {left} left, {total}s in all.",
        "已删除第{index}个片段（{name}）——还剩{left}个，共{total}秒。",
    ),
    # -- refusals
    "needs_clips": (
        "There's nothing on the timeline yet — drop a video clip or a photo into this thread first, "
        "then tell me what to do with it.",
        "时间线上还没有素材——先在这个帖子里发一个视频或图片，再告诉我要怎么剪。",
    ),
    "music_needs_clips": (
        "There's nothing to put music under yet — drop a video clip (or a photo) into this thread first, "
        "then ask for music again.",
        "还没有可以配乐的素材——先在这个帖子里发一个视频（或图片），再让我加音乐。",
    ),
    "no_music": (
        "There's no music yet — say “add music” first (or name a mood: {moods}).",
        "还没有背景音乐——先说“加背景音乐”（也可以指定风格：{moods}）。",
    ),
    "no_music_to_remove": ("There's no music to remove.", "现在没有背景音乐可以去掉。"),
    "another_on_upload": (
        "The music is your own track “{name}” — name a mood (e.g. “calm music”) and I'll compose one instead.",
        "现在的背景音乐是你上传的“{name}”——说一个风格（比如“平静的音乐”），我就为你创作一首。",
    ),
    "no_audio_upload": (
        "I don't have an audio file from you yet — attach an mp3, wav, m4a or aac file in this thread, "
        "then say “use my song”.",
        "还没有收到你的音频——在这个帖子里发一个 mp3、wav、m4a 或 aac 文件，然后说“用我的歌”。",
    ),
    "fade_at_outside": (
        "The music plays {start}-{end}s, so it can't start fading out at {at}s.",
        "音乐在{start}-{end}秒播放，无法从{at}秒开始淡出。",
    ),
    "fades_too_long": (
        "Those fades ({fade_in}s in + {fade_out}s out) are longer than the music ({length}s).",
        "淡入淡出（{fade_in}秒 + {fade_out}秒）比音乐本身（{length}秒）还长。",
    ),
    "music_start_beyond": (
        "The video is only {total}s long, so the music can't start at {at}s.",
        "视频只有{total}秒，音乐无法从{at}秒开始。",
    ),
    "music_too_short": (
        "That would leave less than half a second of music ({start}-{end}s).",
        "这样音乐只剩不到半秒（{start}-{end}秒）。",
    ),
    "title_words": (
        "What should the title say? Put the words in quotes, e.g. add the title “Summer”.",
        "标题要写什么？请把文字放在引号里，例如：添加标题“夏天”。",
    ),
    "title_empty": (
        "That title is empty — put the words in quotes, e.g. add the title “Summer”.",
        "标题是空的——请把文字放在引号里，例如：添加标题“夏天”。",
    ),
    "title_too_long": (
        "That title has {chars} characters; a title can have up to {limit} — try a shorter one.",
        "这个标题有{chars}个字符，最多{limit}个——请写短一点。",
    ),
    "too_many_titles": (
        "There are already {limit} titles — remove one first.",
        "已经有{limit}个标题了——请先删除一个。",
    ),
    "text_start_beyond": (
        "The video is only {total}s long, so the text can't start at {at}s.",
        "视频只有{total}秒，文字无法从{at}秒开始。",
    ),
    "text_too_short": (
        "That would show the text for less than a moment ({start}-{end}s).",
        "这样文字只会一闪而过（{start}-{end}秒）。",
    ),
    "no_title": (
        "There's no title yet — add one with e.g. add the title “Summer”.",
        "还没有标题——可以说：添加标题“夏天”。",
    ),
    "title_not_found": ("I can't find a title saying “{words}”.", "找不到写着“{words}”的标题。"),
    "no_such_title": ("There {are} only {count} {titles}.", "只有{count}个标题。"),
    "no_photo": ("There's no photo on the timeline.", "时间线上没有图片。"),
    "which_photo": (
        "There are {count} photos — say which one, e.g. “make the second photo 5 seconds”.",
        "有{count}张图片——请说明是哪一张，例如“把第二张图片改成5秒”。",
    ),
    "no_such_clip": ("There {are} only {count} {things} on the timeline.", "时间线上只有{count}个{things}。"),
    "things_clip": ("clips", "片段"),
    "things_image": ("photos", "图片"),
    "the_video": ("the video", "视频"),
    "clip_n": ("clip {index} ({name})", "第{index}个片段（{name}）"),
    "trim_all": (
        "That would cut everything: {scope} is only {total}s long.",
        "这样会全部剪掉：{scope}只有{total}秒。",
    ),
    "trim_all_clip": (
        "To drop the whole clip, say “remove clip {index}”.",
        "想删除整个片段，就说“删除第{index}个片段”。",
    ),
    "trim_nothing": (
        "{Scope} is only {total}s long, so there's nothing after {at}s to cut.",
        "{scope}只有{total}秒，{at}秒之后没有内容可剪。",
    ),
    "trim_outside": (
        "{Scope} is only {total}s long, so {at}s is past its end.",
        "{scope}只有{total}秒，{at}秒已经超出结尾了。",
    ),
    "trim_where": (
        "Which part should I cut? Say e.g. “trim the first 2 seconds”, “cut the last 3 s” or “keep only 5 to 15 s”.",
        "要剪哪一部分？例如“剪掉前2秒”“剪掉最后3秒”或“只保留5到15秒”。",
    ),
    "length_too_short": ("{asked}s is too short for anything to show.", "{asked}秒太短了，什么都看不到。"),
    "length_longer": (
        "The video is {total}s long; I can shorten it but not stretch it "
        "(a photo can be made longer: “make the photo 5 seconds”).",
        "视频只有{total}秒；我可以把它剪短，但不能拉长（图片可以延长，例如“把图片改成5秒”）。",
    ),
    "clip_too_short": (
        "{Scope} has only {available}s of footage, so it can't last {asked}s.",
        "{scope}只有{available}秒的画面，无法持续{asked}秒。",
    ),
    "remove_only_clip": (
        "“{name}” is the only clip — removing it would leave nothing. "
        "Upload another clip first, or say “undo” to go back.",
        "“{name}”是唯一的片段——删掉就什么都没有了。可以先上传别的素材，或说“撤销”回到上一步。",
    ),
    "not_an_edit": ("That isn't something I can change.", "这个我改不了。"),
    # -- conversation
    "greeting": ("Hi! I edit the clips you drop in this thread.", "你好！我可以剪辑你发在这个帖子里的素材。"),
    "thanks": (
        "You're welcome! Tell me what else to change, or type **export** when you're ready.",
        "不客气！还想改什么就告诉我，准备好了就发送 **导出**。",
    ),
    "export_hint": (
        "To render the video, send **export** on its own once you're happy with the edit.",
        "满意之后，单独发送 **导出** 就会生成视频。",
    ),
    "describe": ("Here's the timeline: {summary}.", "当前时间线：{summary}。"),
    "describe_empty": (
        "The timeline is empty — drop a video clip or a photo into this thread to start.",
        "时间线是空的——在这个帖子里发一个视频或图片就可以开始了。",
    ),
    "unknown": ("I didn't find an edit I can make in that.", "我没看懂要做什么修改。"),
    "undone": ("Undone — {summary}.", "已撤销——{summary}。"),
    "undone_some": (
        "Undid {done} of the {asked} steps you asked for (that's as far back as it goes) — {summary}.",
        "撤销了{done}步（最多只能退到这里）——{summary}。",
    ),
    "undo_nothing": ("There's nothing to undo yet.", "没有可以撤销的操作。"),
    "undo_pending": ("Left that out, as asked.", "好的，那一步不做了。"),
    "oops": (
        "Sorry — something went wrong on my side and nothing was changed. Please try again.",
        "抱歉——我这边出了点问题，什么都没有改动。请再试一次。",
    ),
    "oops_kept": (
        "Sorry — something went wrong on my side after the edit was saved. Type **status** to see the timeline.",
        "抱歉——修改已保存，但之后出了点问题。发送 **状态** 可以查看时间线。",
    ),
    # -- what the editor cannot do
    "cannot_generate": (
        "I can't generate new footage — I edit the clips and photos you upload.",
        "我不能生成新的画面——我只剪辑你上传的视频和图片。",
    ),
    "cannot_grade": (
        "I can't do colour grading, filters or looks — the picture stays as it was filmed.",
        "我不能调色、加滤镜或改变画面风格——画面会保持原样。",
    ),
    "cannot_subtitles": (
        "I can't make subtitles from speech — but I can add your own words: add the caption “…” at the bottom.",
        "我不能根据语音生成字幕——但可以加你自己写的文字，例如：在底部添加文字“……”。",
    ),
    "cannot_transitions": (
        "I can't add transitions between clips — they're joined with straight cuts.",
        "我不能在片段之间加转场——片段之间是直接切换的。",
    ),
    "cannot_speed": (
        "I can't change the playback speed (slow motion, speed-ups).",
        "我不能改变播放速度（慢动作、加速）。",
    ),
    "cannot_text_style": (
        "Titles come in one clean style here — I can't change their colour, font or animation, only their words, "
        "position (top, center, bottom, corners), size (small, medium, large) and timing.",
        "这里的标题只有一种简洁样式——不能改颜色、字体或动画，只能改文字、位置（顶部、居中、底部、四角）、大小（小、中、大）和时间。",
    ),
    "cannot_denoise": (
        "I can't clean up noise in the clips' sound — but I can lower or mute it (“lower the clip's sound”).",
        "我不能给原声降噪——但可以调低或静音原声（“降低原声”）。",
    ),
    "cannot_reverse": ("I can't play clips backwards.", "我不能倒放视频。"),
    "cannot_stabilize": ("I can't stabilise shaky footage.", "我不能给画面防抖。"),
    "cannot_voiceover": (
        "I can't record or generate a voice-over — but you can attach your own audio and say “use my song”.",
        "我不能录制或生成配音——但你可以上传自己的音频，然后说“用我的歌”。",
    ),
    "cannot_effects": ("I can't add effects, stickers or animations.", "我不能添加特效、贴纸或动画。"),
    "cannot_background": ("I can't remove or replace the background of a shot.", "我不能抠像或替换画面背景。"),
    "cannot_quality": (
        "Resolution and frame rate aren't adjustable here — exports are 1080p MP4.",
        "分辨率和帧率不能调整——导出的是 1080p MP4。",
    ),
    "cannot_rotate": ("I can't rotate or flip clips.", "我不能旋转或翻转视频。"),
    "cannot_translate": (
        "I can't translate — but a title can be in any language: add the title “…”.",
        "我不能翻译——但标题可以用任何语言，例如：添加标题“……”。",
    ),
    "cannot_logo": (
        "I can't overlay images, logos or watermarks — only text.",
        "我不能叠加图片、Logo 或水印——只能加文字。",
    ),
    "cannot_reorder": (
        "I can't reorder clips — they play in the order you uploaded them. "
        "You can remove one (“remove the second clip”) and upload it again to put it at the end.",
        "我不能调整片段顺序——片段按上传顺序播放。可以先删除（“删除第二个片段”），再重新上传放到最后。",
    ),
    "cannot_other": ("I can't do that here.", "这个我做不到。"),
    "can_short": (
        "Here's what I can do: background music (by mood, or your own song), music volume and fades, "
        "the clips' own sound, the frame (9:16, 1:1, 4:5, 16:9), titles, trims, removing a clip, and undo.",
        "我能做的有：背景音乐（按风格，或用你自己的歌）、音乐音量和淡入淡出、原声、画面比例（9:16、1:1、4:5、16:9）、"
        "标题文字、剪辑时长、删除片段，以及撤销。",
    ),
    "help": (
        "Here's what I can do with your clips:\n"
        "• **Music**: “add music that matches the mood”, or name a mood ({moods}); “another one”; "
        "“use my song” (attach an mp3, wav, m4a or aac)\n"
        "• **Mix**: “music at 30%”, “quieter” / “louder”, “fade in over 2 seconds”, “fade out at the end”, "
        "“start the music at 5s”, “stop the music at 0:18”, “remove the music”\n"
        "• **Clip sound**: “mute the original audio”, “lower the clip's sound”, “keep the voices” "
        "(music ducks under speech; “don't duck” turns that off)\n"
        "• **Frame**: “make it vertical” (9:16), “square”, “4:5”, “16:9”, with “blurred background”, "
        "“black bars” or “fill the frame”\n"
        "• **Text**: add the title “Summer” at the top for the first 3 seconds; “move the title to the bottom”; "
        "“remove the title”\n"
        "• **Cuts**: “trim the first 2 seconds”, “cut the last 3 s”, “keep only 5 to 15 s”, "
        "“make the photo 5 seconds”, “remove the second clip”\n"
        "• “undo” takes back the last change. Clips are joined in upload order. Type **export** when you're ready.",
        "我可以这样帮你剪辑：\n"
        "• **音乐**：“加一段符合氛围的背景音乐”，或指定风格（{moods}）；“换一首”；"
        "“用我的歌”（先发一个 mp3、wav、m4a 或 aac 文件）\n"
        "• **混音**：“音乐音量30%”、“小声一点”/“大声一点”、“淡入2秒”、“结尾淡出”、“音乐从5秒开始”、"
        "“音乐在18秒结束”、“去掉音乐”\n"
        "• **原声**：“静音原声”、“降低原声”、“保留原声”（有人说话时音乐会自动压低；说“不要闪避”可关闭）\n"
        "• **画面**：“竖屏”（9:16）、“方形”、“4:5”、“横屏”（16:9），可选“模糊背景”、“黑边”或“铺满”\n"
        "• **文字**：在顶部添加标题“夏天”，显示前3秒；“标题放到底部”；“删除标题”\n"
        "• **剪辑**：“剪掉前2秒”、“剪掉最后3秒”、“只保留5到15秒”、“把图片改成5秒”、“删除第二个片段”\n"
        "• 说“撤销”可以退回上一步。素材按上传顺序拼接。准备好了就发送 **导出**。",
    ),
    # -- words
    "pos_top": ("top", "顶部"),
    "pos_center": ("center", "居中"),
    "pos_bottom": ("bottom", "底部"),
    "pos_top-left": ("top left", "左上角"),
    "pos_top-right": ("top right", "右上角"),
    "pos_bottom-left": ("bottom left", "左下角"),
    "pos_bottom-right": ("bottom right", "右下角"),
    "size_small": ("small", "小字"),
    "size_medium": ("medium", "中号字"),
    "size_large": ("large", "大字"),
    "sum_video": ("{length}s of video ({count} {clips}: {names})", "视频{length}秒（{count}个素材：{names}）"),
    "sum_music": ("music: {name}, {start}-{end}s at {volume}%", "音乐：{name}，{start}-{end}秒，音量{volume}%"),
    "sum_no_music": ("no music", "无背景音乐"),
    "sum_text": ("“{text}” ({start}-{end}s)", "“{text}”（{start}-{end}秒）"),
    "sum_texts": ("text: {items}", "文字：{items}"),
    "sum_canvas": ("frame {aspect}", "画面{aspect}"),
    "sum_sound": ("clip sound {mode}", "原声{mode}"),
    "sound_keep": ("kept", "保留"),
    "sound_lower": ("lowered", "调低"),
    "sound_mute": ("muted", "静音"),
    "sum_empty": ("the timeline is empty", "时间线是空的"),
    "sep": ("; ", "；"),
}


def t(key: str, lang: Lang, **values: Any) -> str:
    en, zh = T[key]
    template = zh if lang == "zh" else en
    return template.format(**values) if values else template


def with_article(word: str) -> str:
    """ "an Upbeat", "a Calm" (English only: Chinese templates do not use it)."""
    return f"{'an' if word[:1].lower() in 'aeiou' else 'a'} {word}"


def s(ms: int | float) -> str:
    return format_seconds(int(ms))


def moods_list(lang: Lang) -> str:
    names = [mood_name(m, lang) if lang == "zh" else mood_name(m, lang).lower() for m in MOODS]
    return "、".join(names) if lang == "zh" else ", ".join(names)


def _join(items: Sequence[str], lang: Lang) -> str:
    if lang == "zh":
        return "、".join(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


# ---------------------------------------------------------------------------- the acknowledgement
_ACK_KEYS: dict[type, str] = {
    it.AddMusic: "ack_add_music",
    it.AnotherTrack: "ack_another",
    it.RemoveMusic: "ack_remove_music",
    it.UseMyAudio: "ack_my_audio",
    it.MusicVolume: "ack_volume",
    it.MusicFade: "ack_fade",
    it.MusicTiming: "ack_music_timing",
    it.Ducking: "ack_duck",
    it.SetClipSound: "ack_clip_sound",
    it.SetCanvas: "ack_canvas",
    it.AddText: "ack_add_text",
    it.EditText: "ack_edit_text",
    it.RemoveText: "ack_remove_text",
    it.Trim: "ack_trim",
    it.SetLength: "ack_length",
    it.RemoveClip: "ack_remove_clip",
}
"""The acknowledgement item of each edit (the intents are final classes: no subclass to look up)."""


def ack(intents: Iterable[it.Intent], lang: Lang) -> str:
    intents = list(intents)
    items: list[str] = []
    new_music = any(isinstance(i, it.AddMusic | it.UseMyAudio | it.AnotherTrack) for i in intents)
    for intent in intents:
        if new_music and isinstance(intent, it.MusicVolume | it.MusicFade | it.MusicTiming):
            continue  # part of "adding background music"
        key = _ACK_KEYS.get(type(intent))
        if key is None:
            continue
        item = t(key, lang, text=_short(intent.text)) if isinstance(intent, it.AddText) else t(key, lang)
        if item not in items:
            items.append(item)
    return t("ack", lang, items=_join(items, lang))


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---------------------------------------------------------------------------- what changed
def _scope(values: dict[str, Any] | None, lang: Lang) -> str:
    if not values:
        return t("the_video", lang)
    return t("clip_n", lang, index=values["index"], name=values["name"])


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def change_text(change: Change, lang: Lang) -> str:
    """One sentence (or two) for one change."""
    v = change.values
    key = change.key
    if key in ("music_added", "music_changed"):
        previous = v.get("previous", "")
        if previous in MOODS:
            previous = mood_name(previous, lang)
        line = t(
            key.replace("music_", "library_") if v.get("source") == "library" else key,
            lang,
            Mood=mood_name(v["mood"], lang),
            a_Mood=with_article(mood_name(v["mood"], lang)),
            start=s(v["start"]),
            end=s(v["end"]),
            volume=round(v["volume"] * 100),
            previous=previous,
            title=v.get("title", ""),
        )
        reason = str(v.get("reason", {}).get(lang, "")).strip()
        hint = t("music_hint", lang, moods=moods_list(lang))
        return glue([line, reason, hint], lang)
    if key == "music_same_mood":
        return t(key, lang, Mood=mood_name(v["mood"], lang))
    if key == "music_another":
        return t(
            "library_another" if v.get("source") == "library" else key,
            lang,
            Mood=mood_name(v["mood"], lang),
            start=s(v["start"]),
            end=s(v["end"]),
            volume=round(v["volume"] * 100),
            title=v.get("title", ""),
        )
    if key == "music_removed":
        return t(key, lang, name=v["name"])
    if key == "upload_used":
        line = t(key, lang, name=v["name"], start=s(v["start"]), end=s(v["end"]), volume=round(v["volume"] * 100))
        span = v["end"] - v["start"]
        if 0 < v.get("length", 0) < span - 500:
            line = glue([line, t("upload_short", lang, length=s(v["length"]), span=s(span))], lang)
        return line
    if key == "upload_same":
        return t(key, lang, name=v["name"])
    if key == "volume":
        if v["after"] == 0:
            return t("volume_muted", lang, before=v["before"])
        return t(key, lang, before=v["before"], after=v["after"])
    if key == "volume_same":
        return t(f"volume_same_{v['edge']}", lang, after=v["after"])
    if key == "fades":
        fin, fout = v.get("fade_in"), v.get("fade_out")
        if fin and fout:
            return t("fades_both", lang, fade_in=s(fin), fade_out=s(fout))
        parts = []
        if v.get("fade_in") is not None:
            parts.append(t("fade_in", lang, fade_in=s(v["fade_in"])) if v["fade_in"] else t("fade_in_off", lang))
        if v.get("fade_out") is not None:
            parts.append(t("fade_out", lang, fade_out=s(v["fade_out"])) if v["fade_out"] else t("fade_out_off", lang))
        return glue(parts, lang)
    if key == "music_span":
        name = "music_span_clamped" if v.get("clamped") else "music_span"
        return t(name, lang, start=s(v["start"]), end=s(v["end"]), total=s(v["total"]))
    if key == "duck":
        return t("duck_on" if v["on"] else "duck_off", lang)
    if key == "duck_same":
        return t("duck_same_on" if v["on"] else "duck_same_off", lang)
    if key in ("clip_sound", "clip_sound_same"):
        line = t(f"{key}_{v['mode']}", lang)
        if key == "clip_sound" and v.get("duck") and v["mode"] != "mute":
            line = glue([line, t("clip_sound_duck", lang)], lang)
        if v.get("silent_clips"):
            line = glue([line, t("clip_sound_silent", lang)], lang)
        return line
    if key in ("canvas", "canvas_same"):
        line = t(key, lang, aspect=v["aspect"], width=v["width"], height=v["height"], fit=t(f"fit_{v['fit']}", lang))
        if key == "canvas" and not v.get("fit_named") and v["fit"] == "blur":
            line = glue([line, t("fit_hint", lang)], lang)
        return line
    if key in ("text_added", "text_same", "text_edited", "text_unchanged", "text_removed"):
        words = {
            "text": _short(v["text"], 60),
            "position": t(f"pos_{v['position']}", lang),
            "size": t(f"size_{v['size']}", lang),
            "start": s(v["start"]),
            "end": s(v["end"]),
        }
        if key == "text_added":
            return t(key, lang, style=t(f"style_{v.get('style', 'title')}", lang), **words)
        if key == "text_edited":
            old = v["before"]["text"]
            if old != v["text"]:
                return t("text_renamed", lang, old=_short(old, 60), **words)
            return t(key, lang, **words)
        if key == "text_unchanged":
            return t(f"text_unchanged_{v['edge']}", lang, **words)
        return t(key, lang, **words)
    if key == "texts_removed":
        return t(key, lang, count=len(v["texts"]))
    if key == "trimmed":
        of = t("of_clip", lang, index=v["scope"]["index"], name=v["scope"]["name"]) if v.get("scope") else ""
        a, b = v["kept"] if v["kind"] == "keep" else (v["cut"] or (0, 0))
        return t(f"trimmed_{v['kind']}", lang, removed=s(v["removed"]), after=s(v["after"]), a=s(a), b=s(b), of=of)
    if key == "trim_nothing_to_do":
        return t(key, lang)
    if key == "length_same":
        return t(key, lang, length=s(v["length"]))
    if key == "clip_length":
        lines = [
            t(key, lang, index=c["index"], name=c["name"], after=s(c["after"]), before=s(c["before"]))
            for c in v["clips"]
        ]
        lines.append(t("total_now", lang, total=s(v["total"])))
        return glue(lines, lang)
    if key == "clip_removed":
        first = v["clips"][0]
        return t(key, lang, index=first["index"], name=first["name"], left=v["left"], total=s(v["total"]))
    return ""


_MS_VALUES = ("at", "total", "start", "end", "asked", "available", "length", "fade_in", "fade_out")
"""Refusal values that are times in ms (shown as seconds)."""


def refusal_text(refusal: Refusal, lang: Lang) -> str:
    v = dict(refusal.values)
    key = refusal.key
    if key not in T:
        return t("not_an_edit", lang)
    for name in _MS_VALUES:
        if isinstance(v.get(name), int | float) and not isinstance(v.get(name), bool):
            v[name] = s(v[name])
    scope = v.pop("scope", None)
    scope_text = _scope(scope, lang)
    if key in ("no_music",):
        return t(key, lang, moods=moods_list(lang))
    if key == "no_such_title":
        count = int(v.get("count", 0))
        return t(key, lang, count=count, are="is" if count == 1 else "are", titles="title" if count == 1 else "titles")
    if key == "no_such_clip":
        count = int(v.get("count", 0))
        things = t("things_image" if v.get("kind") == "image" else "things_clip", lang)
        if count == 1 and lang == "en":
            things = things.removesuffix("s")
        return t(key, lang, count=count, are="is" if count == 1 else "are", things=things)
    if key == "trim_all":
        line = t(key, lang, scope=scope_text, total=v["total"])
        if scope:
            line = glue([line, t("trim_all_clip", lang, index=scope["index"])], lang)
        return line
    if key in ("trim_nothing", "trim_outside", "clip_too_short"):
        return t(key, lang, Scope=_cap(scope_text), scope=scope_text, **{k: x for k, x in v.items() if k != "scope"})
    try:
        return t(key, lang, **v)
    except (KeyError, IndexError, ValueError):
        return t("not_an_edit", lang)


def unsupported_text(topic: str, lang: Lang) -> str:
    key = f"cannot_{topic}"
    return t(key if key in T else "cannot_other", lang)


# ---------------------------------------------------------------------------- the timeline in words
def describe_draft(draft: Draft, lang: Lang) -> str:
    if draft.is_empty():
        return t("sum_empty", lang)
    names = list(dict.fromkeys(seg.m.name for seg in draft.visuals))
    shown = ("、" if lang == "zh" else ", ").join(_short(n, 30) for n in names[:4]) + ("…" if len(names) > 4 else "")
    count = len(draft.visuals)
    parts = [
        t(
            "sum_video",
            lang,
            length=s(draft.duration_ms),
            count=count,
            clips="clip" if count == 1 else "clips",
            names=shown,
        )
    ]
    music = draft.music
    if music is not None:
        parts.append(
            t(
                "sum_music",
                lang,
                name=music.m.name,
                start=s(music.st),
                end=s(music.end),
                volume=round(music.m.volume * 100),
            )
        )
    else:
        parts.append(t("sum_no_music", lang))
    if draft.texts:
        items = ("、" if lang == "zh" else ", ").join(
            t("sum_text", lang, text=_short(x.m.text, 30), start=s(x.st), end=s(x.end)) for x in draft.texts
        )
        parts.append(t("sum_texts", lang, items=items))
    parts.append(t("sum_canvas", lang, aspect=draft.canvas.aspect))
    parts.append(t("sum_sound", lang, mode=t(f"sound_{draft.meta.clip_sound}", lang)))
    return t("sep", lang).join(parts)


def help_text(lang: Lang) -> str:
    return t("help", lang, moods=moods_list(lang))
