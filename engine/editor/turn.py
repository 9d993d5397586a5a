"""One chat turn: read the message, edit the draft, commit once, answer like the agent.

The answer has the agent's shape (docs/backend-contract.md, section 4: text, then `functionCall` and
`functionResponse` with the new draft in the state delta, then text): a short acknowledgement, the
tool call, the result after
`session.commit`, and a closing text that says exactly what changed ("Done! Added a Calm track
(composed for this clip, 0-23.7s, 35% volume)…"). A message is one undo step however many edits it
holds. `silent:` in front of a message applies it and answers with the tool events only, so the
bot's path for turns without text can be exercised on purpose (docs/engine.md, "Editor").
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

from engine.draft import Draft
from engine.editor import Call, EditorEvent, EditorSession, Result, Say, music_choice
from engine.editor import intents as it
from engine.editor.drafting import Change, Refusal, apply
from engine.editor.replies import (
    Lang,
    ack,
    change_text,
    describe_draft,
    glue,
    help_text,
    lang_of,
    refusal_text,
    t,
    unsupported_text,
)
from engine.music import VideoFeatures

log = logging.getLogger(__name__)

TOOL_EDIT = "edit_multitrack"
TOOL_MUSIC = "generate_music"
TOOL_TITLE = "add_title"
TOOL_ANALYSE = "analyze_video"
"""Tool names as the bot reads them for its "Still working (…)" stage: "music" → adding music,
"edit"/"multitrack" → editing, "title" → adding titles, "analy" → watching your clips."""

_COMPOSING = frozenset({"music_added", "music_changed", "music_another"})
_NEW_MUSIC = frozenset({"music_added", "music_changed", "music_another", "upload_used"})
_TEXTS = frozenset({"text_added", "text_edited", "text_removed", "texts_removed"})
_NO_OPS = frozenset(
    {
        "music_same_mood",
        "upload_same",
        "volume_same",
        "duck_same",
        "clip_sound_same",
        "canvas_same",
        "text_same",
        "text_unchanged",
        "trim_nothing_to_do",
        "length_same",
    }
)
"""Changes that say "it already is so": no "Done!" in front of those alone."""


async def answer(session: EditorSession, text: str) -> AsyncIterator[EditorEvent]:
    """Answer one message; never raises for anything a user can type (a fault of ours becomes an
    apology that says whether the edit was kept)."""
    # Only the first MAX_MESSAGE_CHARS are read (intents.interpret caps there too); reading the
    # language of a 4 MB body would hold the event loop for half a second.
    text = (text or "")[: it.MAX_MESSAGE_CHARS]
    lang = lang_of(text, session.language)
    state = _TurnState()
    try:
        async for event in _answer(session, text, lang, state):
            yield event
    except Exception:
        log.exception("session=%s editor turn failed (committed=%s)", session.session_id, state.committed)
        if not state.silent:
            yield Say(t("oops_kept" if state.committed else "oops", lang))


class _TurnState:
    __slots__ = ("committed", "silent")

    def __init__(self) -> None:
        self.committed = False
        self.silent = False


def _chat_reply(intents: tuple[it.Intent, ...], draft: Draft, lang: Lang, *, with_list: bool = True) -> str:
    """The answer to what is not an edit; `with_list` adds what the editor can do after an
    out-of-scope request (left out when the same message also had edits that were made)."""
    parts: list[str] = []
    shown_can = False
    for intent in intents:
        if isinstance(intent, it.Help):
            if not any(isinstance(i, it.Greeting) for i in intents):  # the greeting brings the list
                parts.append(help_text(lang))
            shown_can = True
        elif isinstance(intent, it.Greeting):
            parts.append(t("greeting", lang) + "\n\n" + help_text(lang))
            shown_can = True
        elif isinstance(intent, it.Thanks):
            parts.append(t("thanks", lang))
        elif isinstance(intent, it.Describe):
            parts.append(
                t("describe", lang, summary=describe_draft(draft, lang))
                if not draft.is_empty()
                else t("describe_empty", lang)
            )
        elif isinstance(intent, it.ExportHint):
            parts.append(t("export_hint", lang))
        elif isinstance(intent, it.Unsupported):
            parts.append(unsupported_text(intent.topic, lang))
        elif isinstance(intent, it.Unclear):
            parts.append(t(intent.reason, lang))
    if with_list and any(isinstance(i, it.Unsupported) for i in intents) and not shown_can:
        parts.append(t("can_short", lang))
    return "\n\n".join(p for p in parts if p)


def _args(changes: list[Change]) -> dict[str, Any]:
    return {"actions": [{"action": c.key, **c.values} for c in changes]}


def _tool(changes: list[Change]) -> str:
    keys = {c.key for c in changes}
    if keys & _COMPOSING:
        return TOOL_MUSIC
    if keys and keys <= _TEXTS:
        return TOOL_TITLE
    return TOOL_EDIT


async def _answer(session: EditorSession, text: str, lang: Lang, state: _TurnState) -> AsyncIterator[EditorEvent]:
    reading = await asyncio.to_thread(it.interpret, text)  # regexes over up to 4000 characters: CPU, not the loop's
    silent = state.silent = reading.silent
    intents = reading.intents
    sid = session.session_id
    start_draft = session.draft
    log.info("session=%s editor intents=%s", sid, [type(i).__name__ for i in intents])

    if not intents:
        if not silent:
            yield Say(glue([t("unknown", lang), t("can_short", lang)], lang))
        return
    edits = [i for i in intents if isinstance(i, it.EDITS)]
    undo = any(isinstance(i, it.Undo) for i in intents)
    if not edits and not undo:
        if not silent:
            yield Say(_chat_reply(intents, start_draft, lang))
        return
    if start_draft.is_empty() and not undo:
        if not silent:
            music_only = all(isinstance(i, it.MUSIC_EDITS) for i in edits)
            yield Say(t("music_needs_clips" if music_only else "needs_clips", lang))
        return

    if edits and not silent:
        yield Say(ack(edits, lang))

    media = list(session.media)
    wants_music = any(isinstance(i, it.AddMusic | it.AnotherTrack) for i in intents)
    library = await music_choice.library_tracks(session.settings) if wants_music else ()
    media_by_id = {m.media_id: m for m in media}
    working = start_draft
    base = start_draft  # the committed draft the pending edits build on
    changes: list[Change] = []
    problems: list[str] = []
    notes: list[str] = []
    for intent in intents:
        if isinstance(intent, it.Undo):
            if working != base:
                # "…no wait, undo": drop what this message was about to do, nothing more.
                working, changes = base, []
                notes.append(t("undo_pending", lang))
                continue
            restored: Draft | None = None
            done = 0
            for _ in range(intent.steps):
                previous = await session.undo()
                if previous is None:
                    break
                restored, done = previous, done + 1
            if restored is None:
                notes.append(t("undo_nothing", lang))
                continue
            state.committed = True
            yield Call(TOOL_EDIT, {"actions": [{"action": "undo", "steps": done}]})
            yield Result(TOOL_EDIT, {"status": "success", "undone": done}, draft=restored)
            working = base = restored
            summary = describe_draft(restored, lang)
            if done < intent.steps:
                notes.append(t("undone_some", lang, done=done, asked=intent.steps, summary=summary))
            else:
                notes.append(t("undone", lang, summary=summary))
            continue
        if not isinstance(intent, it.EDITS):
            note = _chat_reply((intent,), working, lang, with_list=False)
            if note and note not in notes:
                notes.append(note)
            continue
        choice = None
        if isinstance(intent, it.AnotherTrack) and working.music is None:
            intent = it.AddMusic(request="")
        if isinstance(intent, it.AddMusic) and not working.is_empty():
            choice = music_choice.named(intent.request)
            if choice is None:
                clips = music_choice.clips_to_analyse(working, media_by_id)
                features = None
                if clips:
                    yield Call(TOOL_ANALYSE, {"clips": len(clips)})
                    features = await music_choice.timeline_features(
                        working, media_by_id, session.settings, session_id=sid
                    )
                    yield Result(TOOL_ANALYSE, _features_summary(features))
                choice = music_choice.choose(intent.request, features)
        try:
            edit = apply(working, intent, media=media, mood=choice, library=library)
        except Refusal as refusal:
            log.info("session=%s editor refused %s: %s", sid, type(intent).__name__, refusal.key)
            text_ = refusal_text(refusal, lang)
            if text_ not in problems:
                problems.append(text_)
            continue
        working = edit.draft
        for change in edit.changes:
            _add_change(changes, change)

    if working != base:
        tool = _tool(changes)
        yield Call(tool, _args(changes))
        await session.commit(working)
        state.committed = True
        log.info("session=%s editor committed %s (%d ms)", sid, [c.key for c in changes], working.duration_ms)
        yield Result(tool, {"status": "success", "duration_ms": working.duration_ms}, draft=working)
    if working.music is not None and working.music != start_draft.music:
        _compose_ahead(session, working)
    if silent:
        return
    yield Say(_closing(changes, problems, notes, working, changed=working != start_draft, lang=lang))


def _add_change(changes: list[Change], change: Change) -> None:
    """Two steps on the same thing in one message read as one ("smaller and at the bottom": one
    title update; "fade in and out": one fade sentence; "quieter, quieter": 35% → 15%)."""
    added = next((i for i, c in enumerate(changes) if c.key in _NEW_MUSIC), None)
    if added is not None and change.key in ("volume", "music_span"):
        # "add music at 40% from 5s": one sentence about the new music, with its final values.
        values = dict(changes[added].values)
        if change.key == "volume":
            values["volume"] = change.values["after"] / 100
        else:
            values.update(start=change.values["start"], end=change.values["end"])
        changes[added] = Change(changes[added].key, values)
        return
    last = changes[-1] if changes else None
    if last is not None and last.key == change.key:
        if change.key == "text_edited" and last.values.get("text") == change.values["before"].get("text"):
            changes[-1] = Change(change.key, {**change.values, "before": last.values["before"]})
            return
        if change.key == "volume":
            changes[-1] = Change(change.key, {**change.values, "before": last.values["before"]})
            return
        if change.key == "fades":
            merged = dict(last.values)
            merged.update({k: v for k, v in change.values.items() if v is not None})
            changes[-1] = Change(change.key, merged)
            return
    changes.append(change)


def _closing(
    changes: list[Change], problems: list[str], notes: list[str], draft: Draft, *, changed: bool, lang: Lang
) -> str:
    """ "Done! <what changed>", then what could not be done, then notes (undo, out-of-scope parts),
    then the export hint — one paragraph when there is only the news, as the agent writes it."""
    gap = "" if lang == "zh" else " "
    parts: list[str] = []
    said = [x for x in (change_text(c, lang) for c in changes) if x]
    if said:
        news = any(c.key not in _NO_OPS for c in changes)
        parts.append(gap.join([t("done", lang), *said]) if news else gap.join(said))
    if problems:
        parts.append(gap.join([t("partly", lang), *problems]) if said else gap.join(problems))
    parts.extend(notes)
    body = "\n\n".join(p for p in parts if p) or t("unknown", lang)
    if changed and not draft.is_empty():
        body += (gap if len(parts) == 1 else "\n\n") + t("export", lang)
    return body


def _features_summary(features: VideoFeatures | None) -> dict[str, Any]:
    if features is None:
        return {"status": "success", "analysed": False}
    return {
        "status": "success",
        "analysed": True,
        "brightness": round(features.brightness, 3),
        "saturation": round(features.saturation, 3),
        "motion": round(features.motion, 3),
        "cuts_per_minute": round(features.cut_rate, 1),
    }


def _compose_ahead(session: EditorSession, draft: Draft) -> None:
    """Start composing now, so the export finds the music ready (one job per session; the music is
    cached by its inputs, so a job made stale by a newer edit costs time, not correctness)."""
    from engine.music import music_for_draft

    media_by_id = {m.media_id: m for m in session.media}
    work = music_for_draft(draft, media_by_id, session.settings)
    try:
        session.background(work, key=f"music-{session.session_id}")
    except Exception:
        work.close()
        log.warning("session=%s could not schedule the music ahead of export", session.session_id, exc_info=True)
