"""Hostile or odd input and Discord-side faults: friendly answers, no pings, no leaks, no crash."""

from __future__ import annotations

import logging

import pytest

from devkit.fakes.nemo_steps import Pause, Text
from tests.harness import TOKEN, Cutaway, assert_nothing_leaked

pytestmark = pytest.mark.e2e  # starts the bot, a fake server or a subprocess


async def test_ten_attachments_in_one_message_are_all_uploaded(cutaway: Cutaway) -> None:
    fake = cutaway.discord
    thread_id = await cutaway.new_project()
    names = [
        f"shot{i:02d}.{ext}"
        for i, ext in enumerate(["mp4", "mov", "webm", "mkv", "avi", "jpg", "png", "gif", "mp3", "wav"])
    ]
    atts = [fake.add_attachment(name, size=2048 + i) for i, name in enumerate(names)]
    await fake.send_message(thread_id, "", attachments=atts)
    await fake.wait_for_bot_message(thread_id, contains="Uploaded 10 files", timeout=10)
    assert sorted(u.filename for u in cutaway.nemo.uploads) == sorted(names)
    for att, record in zip(atts, sorted(cutaway.nemo.uploads, key=lambda u: names.index(u.filename)), strict=True):
        assert record.sha256 == await fake.expected_sha256(att)


async def test_backend_text_never_pings_and_long_text_is_split(cutaway: Cutaway) -> None:
    fake = cutaway.discord
    thread_id = await cutaway.new_project()
    role_ping = f"<@&{fake.guild_id}>"
    long = "Here is the plan. " * 300  # ~5400 characters
    cutaway.nemo.script_turn([Text(f"@everyone @here {role_ping} <@{fake.users['bob'].id}> done!"), Text(long)])
    await fake.send_message(thread_id, "go")
    await fake.wait_for(
        lambda: sum("Here is the plan" in t for t in cutaway.texts(thread_id)) >= 3,
        what="the long reply in three parts",
    )
    for message in fake.bot_messages(thread_id):
        assert len(message.content) <= 2000
        assert message.allowed_mentions is not None and message.allowed_mentions.get("parse") == []
        assert not message.allowed_mentions.get("users") and not message.allowed_mentions.get("roles")
    assert "".join(t for t in cutaway.texts(thread_id) if "Here is the plan" in t).count("Here is the plan") == 300


async def test_markdown_and_mentions_in_file_names_are_shown_literally(cutaway: Cutaway) -> None:
    fake = cutaway.discord
    thread_id = await cutaway.new_project()
    att = fake.add_attachment("**bold**_@everyone_[x](evil).mp4", size=100)
    await fake.send_message(thread_id, "", attachments=[att])
    message = await fake.wait_for_bot_message(thread_id, contains="Uploaded")
    assert r"\*\*bold\*\*\_\@everyone\_\[x\]\(evil\).mp4" in message.content


async def test_unicode_and_right_to_left_text(cutaway: Cutaway) -> None:
    fake = cutaway.discord
    thread_id = await cutaway.new_project()
    text = "أضف موسيقى هادئة \u202e‮ 🎵 ✨ ﷽"
    cutaway.nemo.script_turn([Text("تمت إضافة الموسيقى 🎶")])
    await fake.send_message(thread_id, text)
    await fake.wait_for_bot_message(thread_id, contains="تمت إضافة")
    assert cutaway.nemo.chat_messages[-1][1] == text
    session = next(iter(cutaway.nemo.sessions.values()))
    assert session.language == "ar"


async def test_flood_from_one_user_gets_one_friendly_notice(cutaway: Cutaway) -> None:
    await cutaway.restart(user_messages_per_minute=3)
    fake = cutaway.discord
    thread_id = await cutaway.new_project()
    for i in range(6):
        await fake.send_message(thread_id, f"status {i}" if i else "status")
    await fake.wait_for_bot_message(thread_id, contains="faster than I can take them")
    await cutaway.idle()
    texts = cutaway.texts(thread_id)
    assert sum("faster than I can take them" in t for t in texts) == 1
    assert sum(t.startswith("📋") or "timeline is empty" in t for t in texts) == 3
    # Another member is not limited by alice's flood.
    await fake.send_message(thread_id, "credits", author=fake.users["bob"])
    await fake.wait_for_bot_message(thread_id, contains="available")


async def test_url_upload_only_passes_discord_cdn_links(cutaway: Cutaway) -> None:
    fake = cutaway.discord
    thread_id = await cutaway.new_project()
    good = "https://cdn.discordapp.com/attachments/1/2/beach.mp4?ex=1&is=2&hm=3"
    await fake.send_message(
        thread_id, f"upload {good} http://169.254.169.254/latest/meta-data.mp4 https://evil.example/x.mp4"
    )
    await fake.wait_for_bot_message(thread_id, contains="Uploaded **beach.mp4**")
    assert cutaway.nemo.url_uploads and [u for _, u in cutaway.nemo.url_uploads] == [good]
    refusals = [t for t in cutaway.texts(thread_id) if "only take links" in t]
    assert len(refusals) == 2 and "169.254.169.254" in refusals[0]


async def test_upload_hosts_can_be_widened_by_the_operator(cutaway: Cutaway) -> None:
    await cutaway.restart(upload_url_hosts=["media.example.org"])
    thread_id = await cutaway.new_project()
    await cutaway.discord.send_message(thread_id, "upload https://media.example.org/clips/a.mov")
    await cutaway.discord.wait_for_bot_message(thread_id, contains="Uploaded **a.mov**")


async def test_threads_never_share_a_session(cutaway: Cutaway) -> None:
    fake = cutaway.discord
    a = await cutaway.new_project("A")
    b = await cutaway.new_project("B")
    await fake.send_message(a, "add a title")
    await fake.send_message(b, "add music")
    await fake.wait_for_bot_message(a, contains="Added the title")
    await fake.wait_for_bot_message(b, contains="Lo-fi")
    project_a = await cutaway.app.repo.get_project(a)
    project_b = await cutaway.app.repo.get_project(b)
    assert project_a and project_b and project_a.session_id != project_b.session_id
    assert dict((text, sid) for sid, text in cutaway.nemo.chat_messages) == {
        "add a title": project_a.session_id,
        "add music": project_b.session_id,
    }


async def test_project_role_limits_who_starts_and_exports(cutaway: Cutaway) -> None:
    fake = cutaway.discord
    role = fake.add_role("Editors")
    editor = fake.add_user("carol", roles=[role])
    await cutaway.restart(project_role_id=role.id)
    inter = await fake.slash(fake.text_channel_id, "project", {"name": "nope"}, user=fake.users["bob"])
    await inter.wait_response()
    assert inter.original is not None and "project role" in inter.original.text
    inter = await fake.slash(fake.text_channel_id, "project", {"name": "yes"}, user=editor)
    followup = await inter.wait_followup()
    assert "project is ready" in followup.text
    thread = next(t for t in fake.threads.values() if t.name == "yes")
    await fake.wait_for_bot_message(thread.id, contains="Cutaway video project")
    inter = await fake.slash(thread.id, "export", user=fake.users["bob"])
    await inter.wait_response()
    assert inter.original is not None and "project role" in inter.original.text


async def test_no_permission_to_create_threads_is_explained(cutaway: Cutaway) -> None:
    fake = cutaway.discord
    fake.set_forbidden(fake.text_channel_id, "create_thread")
    inter = await fake.slash(fake.text_channel_id, "project", {"name": "x"})
    followup = await inter.wait_followup()
    assert "Create Public Threads" in followup.text
    await fake.send_message(fake.text_channel_id, "", attachments=[fake.add_attachment("a.mp4", size=10)])
    await fake.wait_for_bot_message(fake.text_channel_id, contains="Create Public Threads")


async def test_no_permission_to_post_is_logged_and_the_bot_carries_on(
    cutaway: Cutaway, caplog: pytest.LogCaptureFixture
) -> None:
    fake = cutaway.discord
    thread_id = await cutaway.new_project()
    fake.set_forbidden(thread_id, "send")
    with caplog.at_level(logging.WARNING):
        await fake.send_message(thread_id, "add music")
        await cutaway.nemo.wait_for(lambda: len(cutaway.nemo.chat_messages) == 1)
        await cutaway.idle()
    assert "no permission to post" in caplog.text
    fake.set_forbidden(thread_id, "send", forbidden=False)
    await fake.send_message(thread_id, "add a title")
    await fake.wait_for_bot_message(thread_id, contains="Added the title")


async def test_thread_deleted_during_a_turn(cutaway: Cutaway) -> None:
    fake = cutaway.discord
    thread_id = await cutaway.new_project()
    other = await cutaway.new_project("still fine")
    cutaway.nemo.script_turn([Pause(0.5), Text("late answer")])
    await fake.send_message(thread_id, "slow")
    await cutaway.nemo.wait_for(lambda: any(t.status == "running" for t in cutaway.nemo.turns))
    await fake.remove_thread(thread_id)
    await cutaway.idle()
    await fake.send_message(other, "add music")
    await fake.wait_for_bot_message(other, contains="Lo-fi")


async def test_archived_thread_is_reopened_by_the_reply(cutaway: Cutaway) -> None:
    fake = cutaway.discord
    thread_id = await cutaway.new_project()
    cutaway.nemo.script_turn([Pause(0.4), Text("answer after archive")])
    await fake.send_message(thread_id, "slow")
    await cutaway.nemo.wait_for(lambda: any(t.status == "running" for t in cutaway.nemo.turns))
    await fake.archive_thread(thread_id)
    await fake.wait_for_bot_message(thread_id, contains="answer after archive")


async def test_gateway_reconnect_mid_stream(cutaway: Cutaway) -> None:
    fake = cutaway.discord
    thread_id = await cutaway.new_project()
    cutaway.nemo.script_turn([Pause(0.5), Text("answer across a reconnect")])
    await fake.send_message(thread_id, "slow")
    await cutaway.nemo.wait_for(lambda: any(t.status == "running" for t in cutaway.nemo.turns))

    async def during() -> None:
        await fake.send_message(thread_id, "add a title")

    await fake.force_reconnect(during=during)
    await fake.wait_for_bot_message(thread_id, contains="answer across a reconnect")
    await fake.wait_for_bot_message(thread_id, contains="Added the title")


async def test_tokens_never_reach_messages_or_logs(cutaway: Cutaway, caplog: pytest.LogCaptureFixture) -> None:
    fake = cutaway.discord
    with caplog.at_level(logging.DEBUG):
        thread_id = await cutaway.new_project()
        await fake.send_message(thread_id, "add music")
        await fake.wait_for_bot_message(thread_id, contains="Lo-fi")
        cutaway.nemo.expire_all_tokens()
        await fake.send_message(thread_id, "credits")
        await fake.wait_for_bot_message(thread_id, contains="available")
        await cutaway.idle()
    secrets = [TOKEN, *cutaway.nemo.tokens]
    assert len(secrets) == 3
    for secret in secrets:
        assert secret not in caplog.text
    assert_nothing_leaked(cutaway)


async def test_database_file_is_owner_only(cutaway: Cutaway) -> None:
    assert cutaway.db.exists()
    assert cutaway.db.stat().st_mode & 0o777 == 0o600
