"""Untrusted file names are cleaned once, where they enter the core, and the clean name is used
everywhere after: the multipart file name, every text, every log line (issue 15, item 5)."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core import formats
from bot.core.filenames import MAX_NAME_CHARS, clean_filename
from bot.core.ports import IncomingFile
from tests.core_kit import Core
from tests.harness import Cutaway

MP4 = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8
RLO = "\u202e"
BIDI_AND_CONTROLS = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c\x00\n\r\t")


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("../../etc/passwd.mp4", "passwd.mp4"),
        ("..\\..\\Windows\\clip.MOV", "clip.MOV"),
        (f"holiday{RLO}4pm.exe", "holiday4pm.exe"),
        (f"evil{RLO}gpj.mp4", "evilgpj.mp4"),
        ("my\tclip\n.mp4", "my clip.mp4"),
        ("..", "file"),
        (".mp4", "file.mp4"),
        ("\u200b\u200b.png", "file.png"),
        ("trip.2024.final.mp4", "trip.2024.final.mp4"),
        ("旅行 视频.mp4", "旅行 视频.mp4"),
        ("a" * 300 + ".mp4", "a" * (MAX_NAME_CHARS - 4) + ".mp4"),
        ("0..0.", "0.0"),  # found by hypothesis: a trimmed trailing dot revealed an extension
    ],
)
def test_clean_filename(raw: str, clean: str) -> None:
    assert clean_filename(raw) == clean


@given(st.text(max_size=400), st.sampled_from(["mp4", "mov", "png", "wav", ""]))
def test_a_clean_name_is_short_visible_one_part_and_keeps_its_extension(stem: str, extension: str) -> None:
    raw = f"{stem}.{extension}" if extension else stem
    name = clean_filename(raw)
    assert name and len(name) <= MAX_NAME_CHARS
    assert "/" not in name and "\\" not in name and not name.startswith(".")
    assert not any(unicodedata.category(ch) in {"Cc", "Cf", "Cs", "Co", "Zl", "Zp"} for ch in name)
    assert clean_filename(name) == name  # once is enough
    if extension:
        assert formats.extension(name) == extension  # the format check sees what the user sent


def test_an_incoming_file_carries_the_clean_name() -> None:
    file = IncomingFile(f"../{RLO}x.mp4", "https://cdn.discordapp.com/a/1/x.mp4", 10)
    assert file.filename == "x.mp4"


async def test_the_backend_and_the_thread_only_ever_see_the_clean_names(core: Core) -> None:
    project = await core.project(100)
    raw_names = ["../../etc/passwd.mp4", f"evil{RLO}gpj.mp4"]
    files = []
    for index, raw in enumerate(raw_names):
        url = f"https://cdn.discordapp.com/attachments/1/{index}/file.mp4"
        core.attachments.files[url] = MP4
        files.append(IncomingFile(raw, url, len(MP4), "video/mp4"))
    core.send(100, files=tuple(files))
    await core.idle()
    uploaded = core.backend.sessions[project.session_id].uploads
    assert [name for name, _ in uploaded] == ["passwd.mp4", "evilgpj.mp4"]
    assert core.surface(100).texts[-1] == "📥 Uploaded 2 files: passwd.mp4, evilgpj.mp4."


@pytest.mark.e2e
async def test_path_and_bidi_characters_never_reach_the_backend_or_the_thread(
    cutaway: Cutaway, caplog: pytest.LogCaptureFixture
) -> None:
    fake = cutaway.discord
    thread_id = await cutaway.new_project()
    sent = []
    for raw in ("../../etc/passwd.mp4", f"evil{RLO}gpj.mp4"):
        att = fake.add_attachment("plain.mp4", size=4096, content_type="video/mp4")
        # What a Discord-compatible server may pass through: the name as the user's client sent it.
        sent.append({**att, "id": str(fake.ids.next()), "filename": raw})
    await fake.send_message(thread_id, "", attachments=sent)
    done = await fake.wait_for_bot_message(thread_id, contains="Uploaded 2 files")
    assert done.text == "📥 Uploaded 2 files: passwd.mp4, evilgpj.mp4."
    assert [u.sent_filename for u in cutaway.nemo.uploads] == ["passwd.mp4", "evilgpj.mp4"]
    for message in cutaway.all_bot_messages():
        assert not BIDI_AND_CONTROLS & set(message.text.replace("\n", "")), message.text
    assert not any(RLO in record.getMessage() or "../" in record.getMessage() for record in caplog.records)
