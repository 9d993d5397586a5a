"""A chat turn (bot.core.chat) on a fake clock: heartbeat, end of turn, silent report, recovery."""

from __future__ import annotations

from bot.nemo.errors import SessionNotFound
from bot.nemo.events import ErrorEvent, TextEvent, ToolCallEvent
from devkit.fakes.memory import Drop, Gate, SetDraft, TimeOut
from tests.core_kit import ALICE, Core, eventually

VIDEO = {"t": [{"tt": 0, "sg": [{"d": 10000, "m": {"name": "beach.mp4"}}]}], "d": 10000}
WITH_MUSIC = {
    "t": [
        {"tt": 0, "sg": [{"d": 10000, "m": {"name": "beach.mp4"}}]},
        {"tt": 1, "sg": [{"d": 10000, "m": {"name": "Lo-fi", "volume": 0.35}}]},
    ],
    "d": 10000,
}
QUICK_ACTIONS = ["Match the mood", "Music quieter", "Vertical 9:16", "Square 1:1", "Export"]
DROPPED = "⚠️ The connection to the editor dropped while it was working. I didn't re-send your message"


async def test_a_long_turn_edits_one_status_which_gives_way_to_one_mention(core: Core) -> None:
    await core.project(100)
    surface = core.surface(100)
    gate = Gate()
    core.backend.script(ToolCallEvent("generate_music", {}), gate, TextEvent("All done: music added."))
    core.send(100, "add music")
    await eventually(gate.reached.is_set, what="the turn streaming")
    await core.clock.advance(119)
    assert surface.statuses == []
    await core.clock.advance(1)
    await core.clock.advance(120)
    status = surface.statuses[0]
    assert status.texts == ["⏳ Still working… adding music (2m 00s)", "⏳ Still working… adding music (4m 00s)"]
    gate.open()
    await core.idle()
    assert len(surface.statuses) == 1 and status.deleted
    reply = surface.find("All done: music added.")
    assert reply is not None and surface.actions[reply.message_id]
    assert [button.label for button in surface.actions[reply.message_id]] == QUICK_ACTIONS
    done = surface.posts[-1]
    assert done.text == f"✅ Done in 4m 00s, <@{ALICE}>." and done.mention_user == ALICE
    assert [kind for kind, _ in surface.log[-3:]] == ["post", "status-delete", "post"]  # reply, status gone, mention
    assert not await core.repo.open_turns()  # the turn is closed


async def test_a_quick_turn_shows_no_status_and_quick_actions_move_to_the_newest_reply(core: Core) -> None:
    await core.project(100)
    surface = core.surface(100)
    core.backend.script(TextEvent("First answer."))
    core.backend.script(TextEvent("Second answer."))
    core.send(100, "add a title")
    await core.idle()
    first = surface.find("First answer.")
    assert first is not None and len(surface.actions[first.message_id]) == 5
    core.send(100, "make it square")
    await core.idle()
    second = surface.find("Second answer.")
    assert second is not None and len(surface.actions[second.message_id]) == 5
    assert surface.actions[first.message_id] == ()
    assert surface.statuses == [] and all(post.mention_user is None for post in surface.posts)


async def test_a_turn_that_closes_without_text_says_what_changed(core: Core) -> None:
    project = await core.project(100)
    core.backend.sessions[project.session_id].draft = VIDEO
    core.backend.script(ToolCallEvent("edit_multitrack", {}), SetDraft(WITH_MUSIC))
    core.send(100, "put lo-fi music under it")
    await core.idle()
    assert core.surface(100).texts[-1] == "✅ Done. What changed in the timeline:\n• added BGM: Lo-fi (0-10s, 35%)"


async def test_a_turn_that_closes_without_text_or_change_says_so(core: Core) -> None:
    await core.project(100)
    core.backend.script(ToolCallEvent("edit_multitrack", {}))
    core.send(100, "do the thing")
    await core.idle()
    assert core.surface(100).texts[-1].startswith("I finished, but the timeline didn't change.")


async def test_an_error_in_the_stream_is_reported_whatever_was_said_before(core: Core) -> None:
    """Issue 15, item 1: an error after a friendly opening line used to end the turn in silence."""
    await core.project(100)
    core.backend.script(ErrorEvent("RuntimeError: boom"))
    core.backend.script(TextEvent("Added a title."), ErrorEvent("late failure"))
    core.backend.script(ErrorEvent("a retried tool failed"), TextEvent("Done anyway: title added."))
    core.send(100, "one")
    core.send(100, "two")
    core.send(100, "three")
    await core.idle()
    assert core.surface(100).texts[1:] == [
        "⚠️ The editor hit a problem while working on that. Please try again.",
        "Added a title.",
        "⚠️ The editor hit a problem before it finished that, so it may be only partly done. "
        "Check `status`, then ask again for what's missing.",
        "Done anyway: title added.",  # the editor carried on after the error and answered: not an error
    ]


async def test_trailing_temporary_issue_noise_is_hidden(core: Core) -> None:
    await core.project(100)
    core.backend.script(TextEvent("Added a title."), TextEvent("I encountered a temporary issue, please retry."))
    core.send(100, "add a title")
    await core.idle()
    assert core.surface(100).texts[1:] == ["Added a title."]


async def test_a_dropped_stream_is_watched_30s_then_every_60s_and_never_resent(core: Core) -> None:
    project = await core.project(100)
    surface = core.surface(100)
    core.backend.script(ToolCallEvent("edit_multitrack", {}), Drop())
    core.send(100, "add music")
    await eventually(lambda: 30.0 in core.clock.slept, what="the first recovery wait")
    await core.clock.advance(269)  # checks at 30, 90, 150, 210: nothing changed yet
    assert not any(DROPPED in text for text in surface.texts)
    await core.clock.advance(1)  # the fifth check, at 270 s
    await core.idle()
    dropped = [text for text in surface.texts if DROPPED in text]
    assert dropped == [
        f"{DROPPED} (that could charge twice).\n"
        "The timeline hasn't changed, so the request probably didn't finish — send it again."
    ]
    assert [s for s in core.clock.slept if s != 120.0] == [30.0, 60.0, 60.0, 60.0, 60.0]
    assert core.backend.chat_messages == [(project.session_id, "add music")]


async def test_a_dropped_stream_reports_the_change_at_the_first_check_that_sees_it(core: Core) -> None:
    project = await core.project(100)
    surface = core.surface(100)
    core.backend.script(ToolCallEvent("edit_multitrack", {}), Drop())
    core.send(100, "add music")
    await eventually(lambda: 30.0 in core.clock.slept, what="the first recovery wait")
    await core.clock.advance(30)  # first check: unchanged
    core.backend.sessions[project.session_id].draft = VIDEO  # the backend finished after all
    await core.clock.advance(59)
    assert not any(DROPPED in text for text in surface.texts)
    await core.clock.advance(1)  # second check, at 90 s
    await core.idle()
    assert surface.texts[-1] == (
        f"{DROPPED} (that could charge twice).\nThe timeline did change meanwhile:\n• added Video: beach.mp4 (0-10s)"
    )
    assert len(core.backend.chat_messages) == 1


async def test_a_stream_past_the_timeout_says_how_long_it_waited(core: Core) -> None:
    await core.project(100)
    core.backend.script(ToolCallEvent("generate_video", {}), TimeOut())
    core.send(100, "make a video")
    await core.idle()
    assert core.surface(100).texts[-1] == (
        "⚠️ That took longer than 15 minutes, so I stopped waiting. Check `status` before asking again."
    )


async def test_a_lost_session_is_replaced_once_and_the_message_sent_once(core: Core) -> None:
    project = await core.project(100)
    core.backend.fail["chat"] = SessionNotFound("Session not found", code=1002)
    core.send(100, "add music")
    await core.idle()
    renewed = await core.sessions.get(100)
    assert renewed is not None and renewed.session_id != project.session_id
    assert core.backend.chat_messages == [(renewed.session_id, "add music")]
    assert core.surface(100).texts[1:] == ["The editing session had expired, so I started a fresh one.", "Done."]


async def test_the_first_message_creates_the_session_in_its_language(core: Core) -> None:
    await core.project(100, with_session=False)
    core.send(100, "添加背景音乐")
    await core.idle()
    project = await core.sessions.get(100)
    assert project is not None and project.session_id
    assert core.backend.sessions[project.session_id].language == "zh-CN"
