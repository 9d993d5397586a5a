"""The fake Discord's world: state plus the rules Discord applies when it changes.

:class:`DiscordWorld` holds users, guilds, channels, threads, messages, reactions and
attachments, and implements each operation once (validation, side effects, gateway
events) so the REST layer and the test helpers share the same behaviour. Threads and
forums are added by :mod:`devkit.fakes.discord_threads`, commands and interactions by
:mod:`devkit.fakes.discord_interactions`. It knows nothing about HTTP; events go out
through :meth:`DiscordWorld.emit`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple, TypeVar

from devkit.fakes.discord_cdn import Cdn, CdnFile
from devkit.fakes.discord_models import (
    DEFAULT_FILE_LIMIT,
    JSON,
    NONCE_WINDOW,
    OLD_MESSAGE_AGE,
    ChannelType,
    DiscordAPIError,
    FakeChannel,
    FakeGuild,
    FakeMember,
    FakeThread,
    FakeUser,
    MessageEdit,
    MessageFlag,
    Snowflakes,
    StoredMessage,
    archived_thread,
    invalid_form,
    iso,
    missing_permissions,
    unknown_channel,
    unknown_message,
)
from devkit.fakes.discord_rules import emoji_payload, parse_mentions, validate_message

T = TypeVar("T")

Action = Literal["send", "create_thread", "edit", "delete", "react", "typing", "manage_thread", "read"]
"""Channel actions :meth:`DiscordWorld.set_forbidden` can deny (each answers 403 50013)."""

EmitSink = Callable[[str, JSON, "int | None"], None]


class RequestRecord(NamedTuple):
    """One REST request the bot made: method, path below the API base, and JSON body (or None)."""

    method: str
    path: str
    json: Any


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a multipart request (``files[n]``)."""

    index: int
    filename: str
    data: bytes
    content_type: str | None


class ChangeSignal:
    """Wakes waiters whenever the world changes, so tests wait without polling."""

    def __init__(self) -> None:
        self._waiters: list[asyncio.Future[None]] = []

    def notify(self) -> None:
        waiters, self._waiters = self._waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)

    async def wait_for(self, predicate: Callable[[], T | None], *, timeout: float, what: str, poll: float | None) -> T:
        """Return the predicate's first truthy value, re-checked after every change.

        Raises AssertionError mentioning ``what`` after ``timeout`` seconds. ``poll``
        adds a periodic re-check for conditions on state the fake does not own.
        """
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                while True:
                    value = predicate()
                    if value:
                        return value
                    fut: asyncio.Future[None] = loop.create_future()
                    self._waiters.append(fut)
                    try:
                        await asyncio.wait_for(asyncio.shield(fut), timeout=poll)
                    except TimeoutError:
                        # notify() may have taken (and resolved) it between the timeout and now.
                        if fut in self._waiters:
                            self._waiters.remove(fut)
                        fut.cancel()
        except TimeoutError:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}") from None


class DiscordWorld:
    """State and rules of the fake Discord (see the module docstring)."""

    def __init__(
        self,
        *,
        token: str,
        bot_name: str = "Cutaway",
        bot_user_id: int | None = None,
        application_id: int | None = None,
        clock: Callable[[], float] | None = None,
        upload_limit: int = DEFAULT_FILE_LIMIT,
        old_message_edit_allowance: int = 0,
    ) -> None:
        self.clock: Callable[[], float] = clock or time.time
        """Returns "now" (Unix seconds); replace it (or use ``advance_clock``) to move time."""
        self.ids = Snowflakes(lambda: self.clock())
        self.token = token
        self.bot_user = FakeUser(id=bot_user_id or self.ids.next(), name=bot_name, bot=True)
        self.application_id = application_id or self.bot_user.id
        self.app_owner = FakeUser(id=self.ids.next(), name="cutaway-owner")
        self.upload_limit = upload_limit
        self.old_message_edit_allowance = old_message_edit_allowance
        """How many edits a bot message older than one hour still accepts before 30046."""

        self.users: dict[str, FakeUser] = {}
        self.users_by_id: dict[int, FakeUser] = {self.bot_user.id: self.bot_user, self.app_owner.id: self.app_owner}
        self.guilds: dict[int, FakeGuild] = {}
        self.channels: dict[int, FakeChannel] = {}
        self.threads: dict[int, FakeThread] = {}
        self._messages: dict[int, list[StoredMessage]] = {}
        self._message_index: dict[int, StoredMessage] = {}
        self.typing_calls: list[int] = []
        """Channel ids the bot sent typing indicators to, in order."""
        self.requests: list[RequestRecord] = []
        """Every REST request the bot made, in order."""
        self.unhandled: list[tuple[str, str]] = []
        """``(method, path)`` of requests no route handled (each answered 404)."""
        self.dispatched: list[tuple[str, JSON]] = []
        """Every gateway event emitted ``(name, data)``, before per-session filtering."""
        self.forbidden: set[tuple[int, str]] = set()
        """``(channel_id, action)`` pairs answered with 403 50013 (see :meth:`set_forbidden`)."""
        self.cdn = Cdn(lambda: self.clock(), lambda: self.http_base)
        self.http_base = "http://127.0.0.1:0"
        self.attachment_size_limit = upload_limit
        """What interactions carry as ``attachment_size_limit`` (discord.py requires the key)."""
        self._emit_sink: EmitSink | None = None
        self._signal = ChangeSignal()
        self._listeners: list[Callable[[], None]] = []

    # ----------------------------------------------------------------- basics

    def advance_clock(self, seconds: float) -> None:
        """Move the fake's clock forward (token expiry, CDN expiry, message age)."""
        current = self.clock
        self.clock = lambda: current() + seconds

    def changed(self) -> None:
        """Wake everything waiting in :meth:`wait_for` and call the change listeners."""
        self._signal.notify()
        for listener in list(self._listeners):
            listener()

    def add_change_listener(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener()`` after every state change (the playground pushes updates this way).

        It runs synchronously inside the fake, so it must only note the change (e.g. set an
        event). Returns a function that removes it."""
        self._listeners.append(listener)

        def remove() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return remove

    async def wait_for(
        self,
        predicate: Callable[[], T | None],
        timeout: float = 5.0,
        what: str = "condition",
        *,
        poll: float | None = 0.05,
    ) -> T:
        """Wait until ``predicate()`` is truthy and return its value.

        The predicate is re-checked at once on every fake state change (request, event,
        gateway message), and every ``poll`` seconds for conditions on state the fake does
        not own (e.g. the bot's); ``poll=None`` makes the wait purely change-driven.
        Raises AssertionError naming ``what`` after ``timeout`` seconds.
        """
        return await self._signal.wait_for(predicate, timeout=timeout, what=what, poll=poll)

    def emit(self, event: str, data: JSON, guild_id: int | None) -> None:
        """Announce a gateway event (routed to sessions by ``guild_id``'s shard) and wake waiters."""
        self.dispatched.append((event, data))
        if self._emit_sink is not None:
            self._emit_sink(event, data, guild_id)
        self.changed()

    def set_forbidden(self, channel_id: int, action: Action = "send", forbidden: bool = True) -> None:
        """Make ``action`` in one channel/thread answer 403 50013 (``forbidden=False`` undoes it)."""
        if forbidden:
            self.forbidden.add((channel_id, action))
        else:
            self.forbidden.discard((channel_id, action))

    def require(self, channel_id: int, action: Action) -> None:
        """Raise 403 50013 if ``action`` was forbidden in this channel."""
        if (channel_id, action) in self.forbidden:
            raise missing_permissions()

    # ----------------------------------------------------------------- lookups

    def add_user(self, name: str, *, bot: bool = False, user_id: int | None = None) -> FakeUser:
        """Create a user (not yet a member of any guild)."""
        user = FakeUser(id=user_id or self.ids.next(), name=name, bot=bot)
        self.users[name] = user
        self.users_by_id[user.id] = user
        return user

    def guild(self, guild_id: int) -> FakeGuild:
        try:
            return self.guilds[guild_id]
        except KeyError:
            raise DiscordAPIError(404, 10004, "Unknown Guild") from None

    def user(self, user_id: int) -> FakeUser:
        try:
            return self.users_by_id[user_id]
        except KeyError:
            raise DiscordAPIError(404, 10013, "Unknown User") from None

    def member(self, guild_id: int, user_id: int) -> FakeMember:
        try:
            return self.guild(guild_id).members[user_id]
        except KeyError:
            raise DiscordAPIError(404, 10007, "Unknown Member") from None

    def channel_or_thread(self, channel_id: int) -> FakeChannel | FakeThread:
        """The live channel or thread with this id (404 10003 if unknown or deleted)."""
        found: FakeChannel | FakeThread | None = self.channels.get(channel_id) or self.threads.get(channel_id)
        if found is None or found.deleted:
            raise unknown_channel()
        return found

    def message(self, message_id: int, channel_id: int | None = None) -> StoredMessage:
        """A live message (404 10008 if unknown, deleted, or in another channel)."""
        msg = self._message_index.get(message_id)
        if msg is None or msg.deleted or (channel_id is not None and msg.channel_id != channel_id):
            raise unknown_message()
        return msg

    def lookup_message(self, message_id: int) -> StoredMessage | None:
        """A live message by id, or None."""
        msg = self._message_index.get(message_id)
        return None if msg is None or msg.deleted else msg

    def messages_in(self, channel_id: int, *, visible_to: FakeUser | None = None) -> list[StoredMessage]:
        """Live messages of a channel or thread, oldest first (ephemeral ones included unless
        ``visible_to`` is given, then only those shown to that user)."""
        result = []
        for msg in self._messages.get(channel_id, []):
            if msg.deleted:
                continue
            if visible_to is not None and msg.ephemeral and msg.ephemeral_for != visible_to.id:
                continue
            result.append(msg)
        return result

    def bot_messages(self, channel_id: int) -> list[StoredMessage]:
        """Live messages the bot authored in a channel or thread, oldest first."""
        return [m for m in self.messages_in(channel_id) if m.author.id == self.bot_user.id]

    def all_messages(self) -> list[StoredMessage]:
        """Every message ever stored (deleted ones too), in creation order."""
        return sorted(self._message_index.values(), key=lambda m: m.id)

    # ----------------------------------------------------------------- payloads

    def attachment_payloads(self, attachments: list[JSON], channel_id: int) -> list[JSON]:
        """Attachment objects with freshly signed URLs (as re-fetching on Discord gives)."""
        result = []
        for att in attachments:
            file = self.cdn.files.get(int(att["id"]))
            if file is None:
                result.append(dict(att))
            else:
                result.append(
                    self.cdn.attachment_payload(file, channel_id=channel_id, description=att.get("description"))
                )
        return result

    def message_payload(self, msg: StoredMessage) -> JSON:
        """The full message object discord.py parses."""
        body: JSON = {
            "id": str(msg.id),
            "channel_id": str(msg.channel_id),
            "author": msg.author.to_payload(),
            "content": msg.content,
            "timestamp": iso(msg.created_at),
            "edited_timestamp": iso(msg.edited_at) if msg.edited_at is not None else None,
            "tts": msg.tts,
            "mention_everyone": msg.mention_everyone,
            "mentions": [self.users_by_id[u].to_payload() for u in msg.mentions if u in self.users_by_id],
            "mention_roles": [str(r) for r in msg.mention_roles],
            "attachments": self.attachment_payloads(msg.attachments, msg.channel_id),
            "embeds": msg.embeds,
            "components": msg.components,
            "pinned": msg.pinned,
            "type": msg.type,
            "flags": msg.flags,
        }
        if msg.guild_id is not None:
            body["guild_id"] = str(msg.guild_id)
            member = self.guilds[msg.guild_id].members.get(msg.author.id) if msg.guild_id in self.guilds else None
            if member is not None and msg.webhook_id is None:
                body["member"] = member.to_payload(with_user=False)
        if msg.nonce is not None:
            body["nonce"] = msg.nonce
        if msg.webhook_id is not None:
            body["webhook_id"] = str(msg.webhook_id)
        if msg.application_id is not None:
            body["application_id"] = str(msg.application_id)
        if msg.interaction_metadata is not None:
            body["interaction_metadata"] = msg.interaction_metadata
        if msg.message_reference is not None:
            body["message_reference"] = msg.message_reference
        reactions = self._reaction_payloads(msg)
        if reactions:
            body["reactions"] = reactions
        thread = self.threads.get(msg.id)
        if thread is not None and thread.parent_id == msg.channel_id and not thread.deleted:
            body["thread"] = thread.to_payload()
        return body

    def _reaction_payloads(self, msg: StoredMessage) -> list[JSON]:
        emojis = list(dict.fromkeys([*msg.reactions, *msg.user_reactions]))
        result = []
        for emoji in emojis:
            users = set(msg.user_reactions.get(emoji, set()))
            me = emoji in msg.reactions
            count = len(users) + (1 if me else 0)
            if count:
                result.append(
                    {
                        "emoji": emoji_payload(emoji),
                        "count": count,
                        "count_details": {"burst": 0, "normal": count},
                        "me": me,
                        "me_burst": False,
                        "burst_colors": [],
                    }
                )
        return result

    def guild_payload(self, guild: FakeGuild, *, full: bool) -> JSON:
        """A guild object; ``full`` adds the GUILD_CREATE extras (channels, threads, members)."""
        body: JSON = {
            "id": str(guild.id),
            "name": guild.name,
            "icon": None,
            "owner_id": str(guild.owner_id),
            "roles": [r.to_payload() for r in guild.roles.values()],
            "emojis": [],
            "stickers": [],
            "features": [],
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "preferred_locale": guild.locale,
            "system_channel_flags": 0,
        }
        if full:
            channels = [c for c in self.channels.values() if c.guild_id == guild.id and not c.deleted]
            threads = [t for t in self.threads.values() if t.guild_id == guild.id and not t.deleted and not t.archived]
            body.update(
                unavailable=False,
                large=False,
                member_count=len(guild.members),
                joined_at=iso(guild.members[self.bot_user.id].joined_at) if self.bot_user.id in guild.members else None,
                channels=[c.to_payload() for c in channels],
                threads=[t.to_payload() for t in threads],
                members=[m.to_payload() for m in guild.members.values()],
                voice_states=[],
                presences=[],
                stage_instances=[],
                guild_scheduled_events=[],
            )
        return body

    def channel_payload(self, channel_id: int) -> JSON:
        target = self.channel_or_thread(channel_id)
        return target.to_payload()

    # ----------------------------------------------------------------- validation

    def _check_not_empty(self, msg: StoredMessage) -> None:
        if not (msg.content or msg.embeds or msg.attachments or msg.components or msg.loading):
            raise DiscordAPIError(400, 50006, "Cannot send an empty message")

    def _writable_thread(self, thread: FakeThread, *, unarchive: bool) -> None:
        if thread.archived and (thread.locked or not unarchive):
            raise archived_thread()
        if thread.archived:
            thread.archived = False
            self.emit("THREAD_UPDATE", thread.to_payload(), thread.guild_id)

    # ----------------------------------------------------------------- messages

    def register_file(self, filename: str, data: bytes, content_type: str | None = None) -> CdnFile:
        """Put uploaded bytes on the CDN (413 40005 when over ``upload_limit``).

        discord.py labels every part ``application/octet-stream``; like Discord, the fake
        then derives the type from the file name."""
        if len(data) > self.upload_limit:
            raise DiscordAPIError(413, 40005, "Request entity too large")
        if content_type == "application/octet-stream":
            content_type = None
        return self.cdn.add(self.ids.next(), filename, data=data, size=None, content_type=content_type)

    def resolve_attachments(
        self, requested: list[JSON] | None, files: list[UploadedFile], existing: list[JSON]
    ) -> list[JSON]:
        """Merge an ``attachments`` array (kept ids and file indices) with uploaded files."""
        uploads = {f.index: f for f in files}
        existing_ids = {int(a["id"]) for a in existing}
        result: list[JSON] = []
        used: set[int] = set()
        if requested is None:
            result = [dict(a) for a in existing]
        else:
            for entry in requested:
                att_id = int(entry["id"])
                if att_id in uploads:
                    used.add(att_id)
                    result.append(self._upload_entry(uploads[att_id], entry.get("description")))
                elif att_id in existing_ids:
                    result.append(next(dict(a) for a in existing if int(a["id"]) == att_id))
                elif att_id in self.cdn.files:
                    result.append(self._file_entry(self.cdn.files[att_id], entry.get("description")))
                else:
                    raise invalid_form("attachments", "ATTACHMENT_NOT_FOUND", f"Unknown attachment {att_id}")
        for index, upload in sorted(uploads.items()):
            if index not in used:
                result.append(self._upload_entry(upload, None))
        if len(result) > 10:
            raise invalid_form("attachments", "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
        return result

    def _upload_entry(self, upload: UploadedFile, description: str | None) -> JSON:
        file = self.register_file(upload.filename, upload.data, upload.content_type)
        return self._file_entry(file, description)

    def _file_entry(self, file: CdnFile, description: str | None) -> JSON:
        entry: JSON = {"id": str(file.id), "filename": file.filename, "size": file.size}
        entry["content_type"] = file.content_type
        if description is not None:
            entry["description"] = description
        return entry

    def attachment_entries(self, attachments: Iterable[Mapping[str, Any]]) -> list[JSON]:
        """Normalise attachment dicts (from ``add_attachment``) for storing on a message."""
        result = []
        for att in attachments:
            file = self.cdn.files.get(int(att["id"]))
            result.append(self._file_entry(file, att.get("description")) if file else dict(att))
        return result

    def create_message(
        self,
        channel_id: int,
        author: FakeUser,
        *,
        content: str = "",
        embeds: list[JSON] | None = None,
        components: list[JSON] | None = None,
        attachments: list[JSON] | None = None,
        flags: int = 0,
        nonce: str | None = None,
        enforce_nonce: bool = False,
        tts: bool = False,
        allowed_mentions: JSON | None = None,
        message_reference: JSON | None = None,
        msg_type: int | None = None,
        webhook_id: int | None = None,
        interaction_metadata: JSON | None = None,
        ephemeral_for: int | None = None,
        message_id: int | None = None,
        unarchive: bool = True,
    ) -> StoredMessage:
        """Store a message and announce it (MESSAGE_CREATE, unless it is ephemeral)."""
        target = self.channel_or_thread(channel_id)
        if isinstance(target, FakeChannel) and target.type == ChannelType.FORUM:
            raise DiscordAPIError(400, 50008, "Cannot send messages in a non-text channel")
        if isinstance(target, FakeThread):
            self._writable_thread(target, unarchive=unarchive)
        embeds = list(embeds or [])
        components = list(components or [])
        validate_message(content, embeds, components, flags)
        if nonce is not None and enforce_nonce:
            now = self.clock()
            for old in reversed(self._messages.get(channel_id, [])):
                if old.nonce == nonce and old.author.id == author.id and now - old.created_at <= NONCE_WINDOW:
                    return old
        reference: StoredMessage | None = None
        if message_reference is not None and message_reference.get("message_id"):
            reference = self._message_index.get(int(message_reference["message_id"]))
        users, roles, everyone = parse_mentions(content, allowed_mentions, reference.author.id if reference else None)
        msg = StoredMessage(
            id=message_id or self.ids.next(),
            channel_id=channel_id,
            guild_id=target.guild_id,
            author=author,
            content=content,
            embeds=embeds,
            components=components,
            attachments=list(attachments or []),
            flags=flags,
            type=msg_type if msg_type is not None else (19 if reference is not None else 0),
            nonce=nonce,
            tts=tts,
            allowed_mentions=allowed_mentions,
            mentions=users,
            mention_roles=roles,
            mention_everyone=everyone,
            message_reference=message_reference,
            webhook_id=webhook_id,
            application_id=self.application_id if webhook_id is not None else None,
            interaction_metadata=interaction_metadata,
            ephemeral_for=ephemeral_for,
        )
        self._check_not_empty(msg)
        self._messages.setdefault(channel_id, []).append(msg)
        self._message_index[msg.id] = msg
        if not msg.ephemeral:
            target.last_message_id = msg.id
            if isinstance(target, FakeThread) and msg.id != target.id:
                target.message_count += 1
                target.total_message_sent += 1
            self.emit("MESSAGE_CREATE", self.message_payload(msg), msg.guild_id)
        else:
            self.changed()
        return msg

    def edit_message(
        self,
        msg: StoredMessage,
        changes: JSON,
        files: list[UploadedFile] | None = None,
        *,
        check_age: bool = True,
    ) -> StoredMessage:
        """Apply a PATCH body to a message, keeping its previous version in ``msg.edits``."""
        if msg.deleted:
            raise unknown_message()
        thread = self.threads.get(msg.channel_id)
        if thread is not None:
            if thread.deleted:
                raise unknown_channel()
            if thread.archived:
                raise archived_thread()
        now = self.clock()
        if check_age and msg.author.id == self.bot_user.id and now - msg.created_at > OLD_MESSAGE_AGE:
            late_edits = sum(1 for e in msg.edits if e.at - msg.created_at > OLD_MESSAGE_AGE)
            if late_edits >= self.old_message_edit_allowance:
                raise DiscordAPIError(
                    400, 30046, "Maximum number of edits to messages older than 1 hour reached. Try again later"
                )
        content = msg.content if "content" not in changes else str(changes["content"] or "")
        embeds = msg.embeds if "embeds" not in changes else list(changes["embeds"] or [])
        components = msg.components if "components" not in changes else list(changes["components"] or [])
        flags = msg.flags
        if changes.get("flags") is not None:
            keep = MessageFlag.EPHEMERAL | MessageFlag.LOADING
            flags = (msg.flags & keep) | (int(changes["flags"]) & ~keep)
        validate_message(content, embeds, components, flags)
        attachments = self.resolve_attachments(changes.get("attachments"), files or [], msg.attachments)
        if not msg.loading:
            msg.edits.append(MessageEdit(at=now, content=msg.content, embeds=msg.embeds, components=msg.components))
            msg.edited_at = now
        msg.content, msg.embeds, msg.components, msg.attachments = content, embeds, components, attachments
        msg.flags = flags & ~MessageFlag.LOADING
        if "allowed_mentions" in changes:
            msg.allowed_mentions = changes["allowed_mentions"]
        users, roles, everyone = parse_mentions(msg.content, msg.allowed_mentions, None)
        msg.mentions, msg.mention_roles, msg.mention_everyone = users, roles, everyone
        self._check_not_empty(msg)
        if msg.ephemeral:
            self.changed()
        else:
            self.emit("MESSAGE_UPDATE", self.message_payload(msg), msg.guild_id)
        return msg

    def delete_message(self, msg: StoredMessage) -> None:
        """Mark a message deleted and announce MESSAGE_DELETE."""
        if msg.deleted:
            raise unknown_message()
        msg.deleted = True
        thread = self.threads.get(msg.channel_id)
        if thread is not None and msg.id != thread.id and not msg.ephemeral:
            thread.message_count = max(thread.message_count - 1, 0)
        if msg.ephemeral:
            self.changed()
            return
        body: JSON = {"id": str(msg.id), "channel_id": str(msg.channel_id)}
        if msg.guild_id is not None:
            body["guild_id"] = str(msg.guild_id)
        self.emit("MESSAGE_DELETE", body, msg.guild_id)

    def history(
        self,
        channel_id: int,
        *,
        limit: int = 50,
        before: int | None = None,
        after: int | None = None,
        around: int | None = None,
    ) -> list[StoredMessage]:
        """``GET /channels/{id}/messages`` semantics: newest first, at most ``limit`` (1..100)."""
        self.channel_or_thread(channel_id)
        limit = max(1, min(limit, 100))
        visible = [m for m in self.messages_in(channel_id) if not m.ephemeral]
        if around is not None:
            older = [m for m in visible if m.id < around][-(limit // 2) :] if limit // 2 else []
            rest = [m for m in visible if m.id >= around][: limit - len(older)]
            chosen = older + rest
        elif after is not None:
            chosen = [m for m in visible if m.id > after][:limit]
        elif before is not None:
            chosen = [m for m in visible if m.id < before][-limit:]
        else:
            chosen = visible[-limit:]
        return list(reversed(chosen))

    # ----------------------------------------------------------------- reactions

    def add_reaction(self, msg: StoredMessage, emoji: str, user: FakeUser) -> None:
        """Add ``user``'s reaction (the bot's go to ``msg.reactions``) and announce it."""
        thread = self.threads.get(msg.channel_id)
        if thread is not None and thread.archived:
            raise archived_thread()
        if user.id == self.bot_user.id:
            if emoji in msg.reactions:
                return
            msg.reactions.add(emoji)
        else:
            users = msg.user_reactions.setdefault(emoji, set())
            if user.id in users:
                return
            users.add(user.id)
        self.emit("MESSAGE_REACTION_ADD", self._reaction_event(msg, emoji, user, add=True), msg.guild_id)

    def remove_reaction(self, msg: StoredMessage, emoji: str, user: FakeUser) -> None:
        """Remove ``user``'s reaction and announce it (no-op when absent, like Discord)."""
        if user.id == self.bot_user.id:
            if emoji not in msg.reactions:
                return
            msg.reactions.discard(emoji)
        else:
            users = msg.user_reactions.get(emoji, set())
            if user.id not in users:
                return
            users.discard(user.id)
        self.emit("MESSAGE_REACTION_REMOVE", self._reaction_event(msg, emoji, user, add=False), msg.guild_id)

    def _reaction_event(self, msg: StoredMessage, emoji: str, user: FakeUser, *, add: bool) -> JSON:
        body: JSON = {
            "user_id": str(user.id),
            "channel_id": str(msg.channel_id),
            "message_id": str(msg.id),
            "emoji": emoji_payload(emoji),
            "burst": False,
            "type": 0,
        }
        if msg.guild_id is not None:
            body["guild_id"] = str(msg.guild_id)
            member = self.guilds[msg.guild_id].members.get(user.id)
            if add and member is not None:
                body["member"] = member.to_payload()
        if add:
            body["message_author_id"] = str(msg.author.id)
        return body
