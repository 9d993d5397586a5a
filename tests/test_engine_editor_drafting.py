"""Pure draft edits (engine/editor/drafting.py): uploads in order, trims, music, canvas, titles,
refusals with reasons — and the bot's own timeline summary reading the drafts the editor writes."""

from __future__ import annotations

import pytest

from bot.core.timeline import describe_changes, has_content, summarise
from engine.draft import Draft
from engine.editor import drafting as dr
from engine.editor import intents as it
from engine.editor.drafting import Refusal
from engine.editor.timespec import When
from engine.music import MoodChoice
from tests.editor_support import BEACH, PIER, SONG, SUNSET, media_info

CALM = MoodChoice("calm", {"en": "The footage looks still, so the music is calm.", "zh": "画面平稳。"}, False)
LOFI = MoodChoice("lofi", {"en": "You asked for lo-fi music.", "zh": "按你的要求。"}, True)


def timeline() -> Draft:
    """pier.mp4 (20 s), sunset.jpg (3 s), beach.mov (12.5 s): 35.5 s in all."""
    return dr.append_media(Draft(), [PIER, SUNSET, BEACH])


def roundtrip(draft: Draft) -> Draft:
    again = Draft.from_json(draft.to_json())
    assert again == draft
    return again


# ---------------------------------------------------------------------------- uploads
def test_uploads_are_joined_in_upload_order_with_stills_as_three_seconds() -> None:
    draft = dr.append_media(Draft(), [BEACH, SONG, SUNSET, PIER])  # given out of order
    assert [(s.m.name, s.st, s.d, s.m.kind) for s in draft.visuals] == [
        ("pier.mp4", 0, 20000, "video"),
        ("sunset.jpg", 20000, 3000, "image"),
        ("beach.mov", 23000, 12500, "video"),
    ]
    assert draft.duration_ms == 35500
    assert all(s.m.media != SONG.media_id for s in draft.visuals)  # audio stays off the video track
    roundtrip(draft)


def test_placing_the_same_upload_twice_changes_nothing() -> None:
    once = dr.append_media(Draft(), [PIER])
    assert dr.append_media(once, [PIER]) == once


def test_a_video_without_a_duration_is_not_placed() -> None:
    broken = media_info("m_broken", "broken.mp4", "video", None, 9.0)
    assert dr.append_media(Draft(), [broken]).is_empty()


def test_music_that_ran_to_the_end_follows_a_new_upload() -> None:
    draft = dr.add_music(dr.append_media(Draft(), [PIER]), CALM).draft
    assert draft.music is not None and draft.music.end == 20000
    longer = dr.append_media(draft, [BEACH])
    assert longer.music is not None and longer.music.end == 32500


def test_music_that_stopped_early_stays_where_it_was() -> None:
    draft = dr.add_music(dr.append_media(Draft(), [PIER]), CALM).draft
    draft = dr.music_timing(draft, it.MusicTiming(When(end=10000))).draft
    longer = dr.append_media(draft, [BEACH])
    assert longer.music is not None and (longer.music.st, longer.music.end) == (0, 10000)


# ---------------------------------------------------------------------------- music
def test_new_music_spans_the_timeline_at_35_percent_with_a_soft_end() -> None:
    edit = dr.add_music(timeline(), CALM)
    music = edit.draft.music
    assert music is not None
    assert (music.st, music.d, music.m.source, music.m.mood, music.m.volume, music.m.duck) == (
        0,
        35500,
        "composer",
        "calm",
        0.35,
        True,
    )
    assert music.m.fade_out == dr.DEFAULT_FADE_OUT_MS and music.m.fade_in == 0
    assert music.m.name == "Calm (composed)"
    assert edit.changes[0].key == "music_added"
    assert edit.changes[0].values["reason"]["en"] == CALM.reason["en"]
    roundtrip(edit.draft)


def test_seeds_are_stable_and_another_one_gives_a_new_one() -> None:
    first = dr.add_music(timeline(), CALM).draft
    assert dr.add_music(timeline(), CALM).draft == first  # the same request, the same piece
    assert first.music is not None
    other = dr.another_track(first).draft
    assert other.music is not None
    assert other.music.m.seed != first.music.m.seed and other.music.m.mood == "calm"
    different_project = dr.add_music(dr.append_media(Draft(), [BEACH]), CALM).draft
    assert different_project.music is not None and different_project.music.m.seed != first.music.m.seed


def test_changing_the_mood_keeps_the_mix_settings() -> None:
    draft = dr.add_music(timeline(), CALM).draft
    draft = dr.music_volume(draft, it.MusicVolume(percent=20)).draft
    draft = dr.music_fade(draft, it.MusicFade(fade_in=1000)).draft
    edit = dr.add_music(draft, LOFI)
    music = edit.draft.music
    assert music is not None
    assert (music.m.mood, music.m.volume, music.m.fade_in, music.m.name) == ("lofi", 0.2, 1000, "Lo-fi (composed)")
    assert edit.changes[0].key == "music_changed" and edit.changes[0].values["previous"] == "calm"


def test_the_same_mood_again_is_not_a_new_piece_unless_asked() -> None:
    draft = dr.add_music(timeline(), CALM).draft
    same = dr.add_music(draft, CALM)
    assert same.draft == draft and same.changes[0].key == "music_same_mood"
    fresh = dr.add_music(draft, CALM, fresh=True).draft
    assert fresh.music is not None and draft.music is not None and fresh.music.m.seed != draft.music.m.seed


@pytest.mark.parametrize(
    ("start", "intent", "after"),
    [
        (35, it.MusicVolume(percent=30), 30),
        (35, it.MusicVolume(step=-10), 25),
        (35, it.MusicVolume(step=10), 45),
        (95, it.MusicVolume(step=10), 100),
        (5, it.MusicVolume(step=-10), 0),
        (35, it.MusicVolume(percent=250), 100),
    ],
)
def test_volume_is_clamped_to_0_100(start: int, intent: it.MusicVolume, after: int) -> None:
    draft = dr.add_music(timeline(), CALM).draft
    draft = dr.music_volume(draft, it.MusicVolume(percent=start)).draft
    edit = dr.music_volume(draft, intent)
    assert edit.draft.music is not None
    assert round(edit.draft.music.m.volume * 100) == after


def test_quieter_without_music_lowers_the_clips_own_sound() -> None:
    edit = dr.music_volume(timeline(), it.MusicVolume(step=-10, target="auto"))
    assert edit.draft.meta.clip_sound == "lower"
    with pytest.raises(Refusal) as caught:
        dr.music_volume(timeline(), it.MusicVolume(step=-10, target="music"))
    assert caught.value.key == "no_music"


@pytest.mark.parametrize(
    ("when", "span"),
    [
        (When(start=5000), (5000, 35500)),
        (When(length=20000, anchor="start"), (0, 20000)),
        (When(end=18000), (0, 18000)),
        (When(start=5000, end=15000), (5000, 15000)),
        (When(length=10000, anchor="end"), (25500, 35500)),
        (When(anchor="all"), (0, 35500)),
        (When(start=30000, end=90000), (30000, 35500)),
    ],
)
def test_when_the_music_plays(when: When, span: tuple[int, int]) -> None:
    draft = dr.add_music(timeline(), CALM).draft
    edit = dr.music_timing(draft, it.MusicTiming(when))
    assert edit.draft.music is not None
    assert (edit.draft.music.st, edit.draft.music.end) == span
    roundtrip(edit.draft)


def test_music_cannot_start_after_the_video() -> None:
    draft = dr.add_music(timeline(), CALM).draft
    with pytest.raises(Refusal) as caught:
        dr.music_timing(draft, it.MusicTiming(When(start=40000)))
    assert caught.value.key == "music_start_beyond" and caught.value.values == {"at": 40000, "total": 35500}


def test_fades_are_set_and_refused_when_longer_than_the_music() -> None:
    draft = dr.add_music(timeline(), CALM).draft
    draft = dr.music_fade(draft, it.MusicFade(fade_in=2000, fade_out=3000)).draft
    assert draft.music is not None and (draft.music.m.fade_in, draft.music.m.fade_out) == (2000, 3000)
    from_20 = dr.music_fade(draft, it.MusicFade(fade_out_at=20000)).draft
    assert from_20.music is not None and from_20.music.m.fade_out == 15500
    with pytest.raises(Refusal) as caught:
        dr.music_fade(draft, it.MusicFade(fade_in=30000, fade_out=30000))
    assert caught.value.key == "fades_too_long"


def test_fades_shrink_with_the_music() -> None:
    draft = dr.add_music(timeline(), CALM).draft
    draft = dr.music_fade(draft, it.MusicFade(fade_in=5000, fade_out=5000)).draft
    short = dr.music_timing(draft, it.MusicTiming(When(length=4000, anchor="start"))).draft
    assert short.music is not None
    assert short.music.m.fade_in + short.music.m.fade_out <= short.music.d


def test_ducking_and_clip_sound() -> None:
    draft = dr.add_music(timeline(), CALM).draft
    off = dr.ducking(draft, False)
    assert off.draft.music is not None and off.draft.music.m.duck is False
    assert dr.ducking(off.draft, False).changes[0].key == "duck_same"
    muted = dr.clip_sound(draft, "mute", [PIER, SUNSET, BEACH])
    assert muted.draft.meta.clip_sound == "mute"
    quiet_clip = media_info("m_quiet", "quiet.mp4", "video", 4.0, 1.0, has_audio=False)
    silent = dr.clip_sound(dr.append_media(Draft(), [quiet_clip]), "lower", [quiet_clip])
    assert silent.changes[0].values["silent_clips"] is True


def test_the_users_own_song_and_its_absence() -> None:
    edit = dr.use_upload(timeline(), SONG)
    music = edit.draft.music
    assert music is not None
    assert (music.m.source, music.m.media, music.m.name, music.d) == ("upload", SONG.media_id, "my_song.mp3", 35500)
    with pytest.raises(Refusal) as caught:
        dr.use_upload(timeline(), None)
    assert caught.value.key == "no_audio_upload"
    with pytest.raises(Refusal) as another:
        dr.another_track(edit.draft)
    assert another.value.key == "another_on_upload"


def test_music_on_an_empty_timeline_is_refused() -> None:
    with pytest.raises(Refusal) as caught:
        dr.apply(Draft(), it.AddMusic("add music"), mood=CALM)
    assert caught.value.key == "music_needs_clips"
    with pytest.raises(Refusal) as other:
        dr.apply(Draft(), it.SetCanvas(aspect="9:16"))
    assert other.value.key == "needs_clips"


# ---------------------------------------------------------------------------- canvas
def test_first_reshape_blurs_then_named_fits_win() -> None:
    vertical = dr.canvas(timeline(), it.SetCanvas(aspect="9:16")).draft
    assert (vertical.canvas.aspect, vertical.canvas.fit) == ("9:16", "blur")
    padded = dr.canvas(vertical, it.SetCanvas(fit="pad")).draft
    square = dr.canvas(padded, it.SetCanvas(aspect="1:1")).draft
    assert (square.canvas.aspect, square.canvas.fit) == ("1:1", "pad")
    cropped = dr.canvas(square, it.SetCanvas(fit="crop")).draft
    assert dr.canvas(cropped, it.SetCanvas(fit="fit")).draft.canvas.fit == "pad"
    assert square.canvas.config() == {"width": 1080, "height": 1080, "aspect_ratio": "1:1", "fit": "pad"}
    assert dr.canvas(square, it.SetCanvas(aspect="1:1")).changes[0].key == "canvas_same"


# ---------------------------------------------------------------------------- text
def test_title_defaults_and_caption_defaults() -> None:
    draft = dr.add_text(timeline(), it.AddText("Summer")).draft
    draft = dr.add_text(draft, it.AddText("see you there", style="caption")).draft
    title, caption = draft.texts
    assert (title.st, title.d, title.m.position, title.m.size, title.m.text) == (0, 3000, "center", "large", "Summer")
    assert (caption.m.position, caption.m.size) == ("bottom", "medium")
    roundtrip(draft)


@pytest.mark.parametrize(
    ("when", "span"),
    [
        (When(anchor="end"), (32500, 35500)),
        (When(start=5000, end=8000), (5000, 8000)),
        (When(length=5000, anchor="start"), (0, 5000)),
        (When(anchor="all"), (0, 35500)),
        (When(start=34000), (34000, 35500)),
    ],
)
def test_title_timing(when: When, span: tuple[int, int]) -> None:
    draft = dr.add_text(timeline(), it.AddText("夏天", position="bottom", when=when)).draft
    assert (draft.texts[0].st, draft.texts[0].end) == span
    assert draft.texts[0].m.text == "夏天"


def test_titles_are_checked() -> None:
    with pytest.raises(Refusal) as late:
        dr.add_text(timeline(), it.AddText("Late", when=When(start=40000)))
    assert late.value.key == "text_start_beyond"
    with pytest.raises(Refusal) as long:
        dr.add_text(timeline(), it.AddText("x" * 101))
    assert long.value.key == "title_too_long" and long.value.values["chars"] == 101
    with pytest.raises(Refusal) as none:
        dr.edit_text(timeline(), it.EditText(text="New"))
    assert none.value.key == "no_title"


def test_editing_and_removing_titles() -> None:
    draft = dr.add_text(timeline(), it.AddText("A", position="top")).draft
    draft = dr.add_text(draft, it.AddText("B", position="bottom")).draft
    renamed = dr.edit_text(draft, it.EditText(it.TextTarget(words="a"), text="Alpha")).draft
    assert [t.m.text for t in renamed.texts] == ["Alpha", "B"]
    moved = dr.edit_text(renamed, it.EditText(position="center", size_step=-1)).draft  # the latest title
    assert (moved.texts[1].m.position, moved.texts[1].m.size) == ("center", "medium")
    one_left = dr.remove_text(moved, it.RemoveText(it.TextTarget(position=1))).draft
    assert [t.m.text for t in one_left.texts] == ["B"]
    assert dr.remove_text(moved, it.RemoveText(None)).draft.texts == ()
    with pytest.raises(Refusal) as missing:
        dr.remove_text(moved, it.RemoveText(it.TextTarget(words="Gamma")))
    assert missing.value.key == "title_not_found"


# ---------------------------------------------------------------------------- clips and trims
def test_trim_the_first_seconds_moves_the_source_in_point() -> None:
    edit = dr.trim(timeline(), it.Trim(When(length=2000, anchor="start")))
    first = edit.draft.visuals[0]
    assert (first.m.src_in, first.d, edit.draft.duration_ms) == (2000, 18000, 33500)
    assert edit.changes[0].values["kind"] == "head"
    roundtrip(edit.draft)


def test_cut_the_last_seconds_across_a_clip_boundary() -> None:
    edit = dr.trim(timeline(), it.Trim(When(length=14000, anchor="end")))
    assert [(s.m.name, s.d) for s in edit.draft.visuals] == [("pier.mp4", 20000), ("sunset.jpg", 1500)]


def test_cutting_the_middle_splits_a_clip_in_two() -> None:
    edit = dr.trim(timeline(), it.Trim(When(start=5000, end=8000)))
    pieces = [(s.m.name, s.st, s.d, s.m.src_in) for s in edit.draft.visuals]
    assert pieces[:2] == [("pier.mp4", 0, 5000, 0), ("pier.mp4", 5000, 12000, 8000)]
    assert edit.draft.duration_ms == 32500 and edit.changes[0].values["kind"] == "middle"
    roundtrip(edit.draft)


def test_keep_only_a_range() -> None:
    edit = dr.trim(timeline(), it.Trim(When(start=5000, end=15000), keep=True))
    assert [(s.m.name, s.d, s.m.src_in) for s in edit.draft.visuals] == [("pier.mp4", 10000, 5000)]
    assert edit.changes[0].values["kept"] == (5000, 15000)


def test_trimming_one_clip_leaves_the_others() -> None:
    edit = dr.trim(timeline(), it.Trim(When(length=2000, anchor="start"), scope=it.Selector(position=3)))
    beach = edit.draft.visuals[2]
    assert (beach.m.name, beach.m.src_in, beach.d) == ("beach.mov", 2000, 10500)
    assert edit.draft.visuals[0].d == 20000


@pytest.mark.parametrize(
    ("intent", "key"),
    [
        (it.Trim(When(length=40000, anchor="start")), "trim_all"),
        (it.Trim(When(length=13000, anchor="end"), scope=it.Selector(position=3)), "trim_all"),
        (it.Trim(When(start=40000, end=50000)), "trim_outside"),
        (it.Trim(When(), after=40000), "trim_nothing"),
        (it.Trim(When(length=2000)), "trim_where"),
        (it.Trim(When(length=1000, anchor="start"), scope=it.Selector(position=7)), "no_such_clip"),
    ],
)
def test_impossible_trims_are_refused_with_the_reason(intent: it.Trim, key: str) -> None:
    with pytest.raises(Refusal) as caught:
        dr.trim(timeline(), intent)
    assert caught.value.key == key


def test_photo_length_and_clip_length() -> None:
    edit = dr.set_length(timeline(), it.SetLength(5000, scope=it.Selector(kind="image")))
    assert edit.draft.visuals[1].d == 5000 and edit.draft.duration_ms == 37500
    media = {m.media_id: m for m in (PIER, SUNSET, BEACH)}
    trimmed = dr.trim(timeline(), it.Trim(When(length=5000, anchor="start"), scope=it.Selector(position=1))).draft
    regrown = dr.set_length(trimmed, it.SetLength(15000, scope=it.Selector(position=1)), media).draft
    assert regrown.visuals[0].d == 15000  # the footage is there (20 s source, starting at 5 s)
    with pytest.raises(Refusal) as caught:
        dr.set_length(trimmed, it.SetLength(16000, scope=it.Selector(position=1)), media)
    assert caught.value.key == "clip_too_short" and caught.value.values["available"] == 15000


def test_the_whole_video_can_be_shortened_not_stretched() -> None:
    assert dr.set_length(timeline(), it.SetLength(15000)).draft.duration_ms == 15000
    with pytest.raises(Refusal) as caught:
        dr.set_length(timeline(), it.SetLength(60000))
    assert caught.value.key == "length_longer"


def test_removing_clips() -> None:
    edit = dr.remove_clip(timeline(), it.RemoveClip(it.Selector(position=2)))
    assert [s.m.name for s in edit.draft.visuals] == ["pier.mp4", "beach.mov"]
    assert [s.st for s in edit.draft.visuals] == [0, 20000]
    only = dr.append_media(Draft(), [PIER])
    with pytest.raises(Refusal) as caught:
        dr.remove_clip(only, it.RemoveClip(it.Selector(position=1)))
    assert caught.value.key == "remove_only_clip"


def test_texts_and_music_stay_inside_a_shorter_timeline() -> None:
    draft = dr.add_music(timeline(), CALM).draft
    draft = dr.add_text(draft, it.AddText("End", when=When(anchor="end"))).draft
    short = dr.set_length(draft, it.SetLength(10000)).draft
    assert short.music is not None and short.music.end == 10000
    assert short.texts == ()  # the closing title was past the new end
    roundtrip(short)


# ---------------------------------------------------------------------------- the bot reads it
def test_the_bots_summary_reads_the_editors_draft() -> None:
    draft = dr.add_music(timeline(), CALM).draft
    draft = dr.music_volume(draft, it.MusicVolume(percent=30)).draft
    draft = dr.add_text(draft, it.AddText("Summer")).draft
    line = summarise(draft.to_json())
    assert line.startswith("Timeline (3 tracks): ")
    assert "1. Video: pier.mp4 (0-35.5s, +2 more)" in line
    assert "2. BGM: Calm (composed) (0-35.5s, 30%)" in line
    assert '3. Title: "Summer" (0-3s)' in line
    assert has_content(draft.to_json())
    assert "时间线" in summarise(draft.to_json(), "zh")


def test_the_bots_change_report_sees_each_edit() -> None:
    before = dr.add_music(timeline(), CALM).draft
    after = dr.music_volume(before, it.MusicVolume(percent=20)).draft
    changes = describe_changes(before.to_json(), after.to_json())
    assert len(changes) == 1 and "35%" in changes[0] and "20%" in changes[0]
    vertical = dr.canvas(after, it.SetCanvas(aspect="9:16")).draft
    canvas_changes = describe_changes(
        after.to_json(), vertical.to_json(), canvas_before=after.canvas.config(), canvas_after=vertical.canvas.config()
    )
    assert any("9:16" in c for c in canvas_changes)
