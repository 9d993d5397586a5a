"""Threads and forum posts of the fake Discord.

:class:`ThreadWorld` adds the thread rules to :class:`~devkit.fakes.discord_world.DiscordWorld`:
threads started on a message share its id, forum posts get a starter message whose id is
the thread's, applied tags must exist on the forum, and every change is announced with
THREAD_CREATE (``newly_created: true``), THREAD_UPDATE or THREAD_DELETE.
"""

from __future__ import annotations

from devkit.fakes.discord_models import (
    JSON,
    ChannelType,
    DiscordAPIError,
    FakeChannel,
    FakeThread,
    FakeUser,
    StoredMessage,
    invalid_form,
)
from devkit.fakes.discord_rules import validate_message, validate_thread_name
from devkit.fakes.discord_world import DiscordWorld, UploadedFile


class ThreadWorld(DiscordWorld):
    """The world plus thread and forum operations."""

    def _new_thread(
        self,
        thread_id: int,
        parent: FakeChannel,
        name: str,
        owner: FakeUser,
        *,
        auto_archive_duration: int,
        applied_tags: list[int] | None = None,
    ) -> FakeThread:
        validate_thread_name(name)
        thread = FakeThread(
            id=thread_id,
            guild_id=parent.guild_id,
            parent_id=parent.id,
            owner_id=owner.id,
            name=name,
            created_at=self.clock(),
            auto_archive_duration=auto_archive_duration,
            applied_tags=list(applied_tags or []),
            member_ids={owner.id},
        )
        self.threads[thread.id] = thread
        return thread

    def _text_parent(self, channel_id: int) -> FakeChannel:
        target = self.channel_or_thread(channel_id)
        if not isinstance(target, FakeChannel) or target.type != ChannelType.TEXT:
            raise DiscordAPIError(400, 50024, "Cannot execute action on this channel type")
        return target

    def create_thread_from_message(
        self, channel_id: int, message_id: int, name: str, owner: FakeUser, *, auto_archive_duration: int = 1440
    ) -> FakeThread:
        """A thread started on a message; its id equals the message's (THREAD_CREATE)."""
        parent = self._text_parent(channel_id)
        self.require(channel_id, "create_thread")
        self.message(message_id, channel_id)
        if message_id in self.threads:
            raise DiscordAPIError(400, 160004, "A thread has already been created for this message")
        thread = self._new_thread(message_id, parent, name, owner, auto_archive_duration=auto_archive_duration)
        self.emit("THREAD_CREATE", thread.to_payload(newly_created=True), thread.guild_id)
        return thread

    def create_thread(
        self, channel_id: int, name: str, owner: FakeUser, *, auto_archive_duration: int = 1440
    ) -> FakeThread:
        """A thread in a text channel without a starter message (THREAD_CREATE)."""
        parent = self._text_parent(channel_id)
        self.require(channel_id, "create_thread")
        thread = self._new_thread(self.ids.next(), parent, name, owner, auto_archive_duration=auto_archive_duration)
        self.emit("THREAD_CREATE", thread.to_payload(newly_created=True), thread.guild_id)
        return thread

    def create_forum_thread(
        self,
        forum_id: int,
        name: str,
        owner: FakeUser,
        message: JSON,
        files: list[UploadedFile] | None = None,
        *,
        applied_tags: list[int] | None = None,
        auto_archive_duration: int = 1440,
        attachments: list[JSON] | None = None,
    ) -> tuple[FakeThread, StoredMessage]:
        """A forum post: THREAD_CREATE, then the starter MESSAGE_CREATE whose id is the thread's."""
        target = self.channel_or_thread(forum_id)
        if not isinstance(target, FakeChannel) or target.type != ChannelType.FORUM:
            raise DiscordAPIError(400, 50024, "Cannot execute action on this channel type")
        self.require(forum_id, "create_thread")
        tags = [int(t) for t in applied_tags or []]
        known = {t.id for t in target.available_tags}
        if any(t not in known for t in tags) or len(tags) > 5:
            raise invalid_form("applied_tags", "BASE_TYPE_CHOICES", "Value(s) not valid for applied_tags.")
        validate_thread_name(name)
        content = str(message.get("content") or "")
        embeds = list(message.get("embeds") or [])
        components = list(message.get("components") or [])
        flags = int(message.get("flags") or 0)
        validate_message(content, embeds, components, flags)
        resolved = attachments if attachments is not None else []
        resolved = resolved + self.resolve_attachments(message.get("attachments"), files or [], [])
        if not (content or embeds or resolved or components):
            raise DiscordAPIError(400, 50006, "Cannot send an empty message")
        thread = self._new_thread(
            self.ids.next(), target, name, owner, auto_archive_duration=auto_archive_duration, applied_tags=tags
        )
        self.emit("THREAD_CREATE", thread.to_payload(newly_created=True), thread.guild_id)
        starter = self.create_message(
            thread.id,
            owner,
            content=content,
            embeds=embeds,
            components=components,
            attachments=resolved,
            flags=flags,
            allowed_mentions=message.get("allowed_mentions"),
            message_id=thread.id,
        )
        target.last_message_id = thread.id
        return thread, starter

    def update_thread(self, thread_id: int, changes: JSON) -> FakeThread:
        """Apply a PATCH to a thread (name, archived, locked, applied_tags, ...) and announce it."""
        target = self.channel_or_thread(thread_id)
        if not isinstance(target, FakeThread):
            raise DiscordAPIError(400, 50024, "Cannot execute action on this channel type")
        if "name" in changes:
            validate_thread_name(str(changes["name"]))
            target.name = str(changes["name"])
        if "applied_tags" in changes:
            parent = self.channels.get(target.parent_id)
            known = {t.id for t in parent.available_tags} if parent else set()
            tags = [int(t) for t in changes["applied_tags"] or []]
            if any(t not in known for t in tags):
                raise invalid_form("applied_tags", "BASE_TYPE_CHOICES", "Value(s) not valid for applied_tags.")
            target.applied_tags = tags
        if "locked" in changes:
            target.locked = bool(changes["locked"])
        if "auto_archive_duration" in changes:
            target.auto_archive_duration = int(changes["auto_archive_duration"])
        if "rate_limit_per_user" in changes and changes["rate_limit_per_user"] is not None:
            target.rate_limit_per_user = int(changes["rate_limit_per_user"])
        if "archived" in changes:
            archived = bool(changes["archived"])
            if archived != target.archived:
                target.archive_timestamp = self.clock()
            target.archived = archived
        self.emit("THREAD_UPDATE", target.to_payload(), target.guild_id)
        return target

    def delete_thread(self, thread_id: int) -> FakeThread:
        """Delete a thread (THREAD_DELETE); later sends there answer 404 10003."""
        target = self.channel_or_thread(thread_id)
        if not isinstance(target, FakeThread):
            raise DiscordAPIError(400, 50024, "Cannot execute action on this channel type")
        target.deleted = True
        self.emit("THREAD_DELETE", target.delete_payload(), target.guild_id)
        return target
