"""Data model of the fake Discord: ids, errors, users, guilds, channels, messages, interactions.

Everything here is plain mutable state; the rules that change it live in
:mod:`devkit.fakes.discord_world`. Kept free of aiohttp so the playground can reuse it.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]

DISCORD_EPOCH_MS = 1_420_070_400_000
"""Discord's epoch (2015-01-01) in Unix milliseconds; snowflakes count from here."""

INTERACTION_TOKEN_TTL = 15 * 60.0
"""Interaction tokens (callbacks and follow-ups) are valid this long, as on Discord."""

OLD_MESSAGE_AGE = 3600.0
"""Edits to bot messages older than this hit error 30046 (see ``DiscordWorld.old_message_edit_allowance``)."""

NONCE_WINDOW = 300.0
"""``enforce_nonce`` deduplicates messages sent with the same nonce within this many seconds."""

DEFAULT_FILE_LIMIT = 10 * 1024 * 1024
"""Discord's default per-file upload limit (10 MiB); also sent as ``attachment_size_limit``."""


class Intent(enum.IntFlag):
    """Gateway intent bits the fake understands (it gates events on them like Discord)."""

    GUILDS = 1 << 0
    GUILD_MEMBERS = 1 << 1
    GUILD_PRESENCES = 1 << 8
    GUILD_MESSAGES = 1 << 9
    GUILD_MESSAGE_REACTIONS = 1 << 10
    GUILD_MESSAGE_TYPING = 1 << 11
    MESSAGE_CONTENT = 1 << 15


PRIVILEGED_INTENTS = Intent.GUILD_MEMBERS | Intent.GUILD_PRESENCES | Intent.MESSAGE_CONTENT


class Perm(enum.IntFlag):
    """The permission bits the fake's defaults use (values from Discord's docs)."""

    ADD_REACTIONS = 1 << 6
    VIEW_CHANNEL = 1 << 10
    SEND_MESSAGES = 1 << 11
    MANAGE_MESSAGES = 1 << 13
    EMBED_LINKS = 1 << 14
    ATTACH_FILES = 1 << 15
    READ_MESSAGE_HISTORY = 1 << 16
    USE_APPLICATION_COMMANDS = 1 << 31
    MANAGE_THREADS = 1 << 34
    CREATE_PUBLIC_THREADS = 1 << 35
    SEND_MESSAGES_IN_THREADS = 1 << 38


ALL_PERMISSIONS = (1 << 53) - 1
"""Every permission bit (what ``app_permissions`` carries for an all-powerful bot)."""

DEFAULT_EVERYONE_PERMISSIONS = int(
    Perm.ADD_REACTIONS
    | Perm.VIEW_CHANNEL
    | Perm.SEND_MESSAGES
    | Perm.EMBED_LINKS
    | Perm.ATTACH_FILES
    | Perm.READ_MESSAGE_HISTORY
    | Perm.USE_APPLICATION_COMMANDS
    | Perm.CREATE_PUBLIC_THREADS
    | Perm.SEND_MESSAGES_IN_THREADS
)


class ChannelType(enum.IntEnum):
    """The channel types the fake models."""

    TEXT = 0
    PUBLIC_THREAD = 11
    PRIVATE_THREAD = 12
    FORUM = 15


class MessageFlag(enum.IntFlag):
    """Message flag bits that change the fake's behaviour."""

    SUPPRESS_EMBEDS = 1 << 2
    EPHEMERAL = 1 << 6
    LOADING = 1 << 7
    SUPPRESS_NOTIFICATIONS = 1 << 12
    IS_COMPONENTS_V2 = 1 << 15


class DiscordAPIError(Exception):
    """A Discord-shaped error: HTTP status plus JSON error code and message.

    World operations raise it; the REST layer turns it into the JSON body
    discord.py parses into ``discord.HTTPException`` and friends.
    """

    def __init__(self, status: int, code: int, message: str, errors: JSON | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors

    def to_payload(self) -> JSON:
        """The JSON error body Discord sends."""
        body: JSON = {"message": self.message, "code": self.code}
        if self.errors is not None:
            body["errors"] = self.errors
        return body


def unknown_channel() -> DiscordAPIError:
    return DiscordAPIError(404, 10003, "Unknown Channel")


def unknown_message() -> DiscordAPIError:
    return DiscordAPIError(404, 10008, "Unknown Message")


def missing_permissions() -> DiscordAPIError:
    return DiscordAPIError(403, 50013, "Missing Permissions")


def archived_thread() -> DiscordAPIError:
    return DiscordAPIError(403, 50083, "Operation cannot be performed on an archived thread.")


def invalid_form(field_path: str, code: str, message: str) -> DiscordAPIError:
    """A 50035 error with Discord's nested ``errors`` object for one field (``a.b.0.c``)."""
    errors: JSON = {"_errors": [{"code": code, "message": message}]}
    for part in reversed(field_path.split(".")):
        errors = {part: errors}
    return DiscordAPIError(400, 50035, "Invalid Form Body", errors)


class Snowflakes:
    """Generates strictly increasing snowflakes from a (replaceable) clock.

    discord.py derives creation times (and interaction expiry) from ids, so ids
    must encode "now" as the fake's clock sees it.
    """

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._last = 0

    def next(self) -> int:
        """A fresh id for the current clock time."""
        ms = max(int(self._clock() * 1000) - DISCORD_EPOCH_MS, 0)
        candidate = (ms << 22) | (1 << 17)
        if candidate <= self._last:
            candidate = self._last + 1
        self._last = candidate
        return candidate

    def next_for_shard(self, shard_id: int, shard_count: int) -> int:
        """A fresh id whose ``(id >> 22) % shard_count == shard_id`` (guild ids for sharding tests)."""
        ms = max(int(self._clock() * 1000) - DISCORD_EPOCH_MS, (self._last >> 22) + 1)
        while ms % shard_count != shard_id:
            ms += 1
        self._last = (ms << 22) | (1 << 17)
        return self._last


def snowflake_time(snowflake: int) -> float:
    """Unix time (seconds) encoded in a snowflake."""
    return ((snowflake >> 22) + DISCORD_EPOCH_MS) / 1000.0


def shard_for(guild_id: int, shard_count: int) -> int:
    """Discord's shard formula."""
    return (guild_id >> 22) % shard_count


def iso(ts: float) -> str:
    """ISO 8601 timestamp as Discord formats it (discord.py parses it with ``fromisoformat``)."""
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat()


@dataclass
class FakeUser:
    """A Discord user (human or bot)."""

    id: int
    name: str
    bot: bool = False
    global_name: str | None = None

    @property
    def mention(self) -> str:
        return f"<@{self.id}>"

    def to_payload(self) -> JSON:
        return {
            "id": str(self.id),
            "username": self.name,
            "discriminator": "0",
            "global_name": self.global_name,
            "avatar": None,
            "bot": self.bot,
            "public_flags": 0,
        }


@dataclass
class FakeRole:
    """A guild role; the @everyone role has the guild's id."""

    id: int
    name: str
    permissions: int = 0
    position: int = 0
    managed: bool = False

    def to_payload(self) -> JSON:
        return {
            "id": str(self.id),
            "name": self.name,
            "permissions": str(self.permissions),
            "position": self.position,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "managed": self.managed,
            "mentionable": False,
            "flags": 0,
        }


@dataclass
class FakeMember:
    """A user's membership in a guild.

    ``permissions`` overrides the role-derived guild permissions when set (it is
    what interactions carry as ``member.permissions``).
    """

    user: FakeUser
    roles: list[int] = field(default_factory=list)
    joined_at: float = 0.0
    nick: str | None = None
    permissions: int | None = None

    def to_payload(self, *, with_user: bool = True, permissions: int | None = None) -> JSON:
        body: JSON = {
            "roles": [str(r) for r in self.roles],
            "joined_at": iso(self.joined_at),
            "nick": self.nick,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "avatar": None,
        }
        if with_user:
            body["user"] = self.user.to_payload()
        if permissions is not None:
            body["permissions"] = str(permissions)
        return body


@dataclass
class FakeGuild:
    """A guild with its roles and members (channels are kept by the world)."""

    id: int
    name: str
    owner_id: int
    roles: dict[int, FakeRole] = field(default_factory=dict)
    members: dict[int, FakeMember] = field(default_factory=dict)
    locale: str = "en-US"

    def permissions_of(self, user_id: int) -> int:
        """Guild-level permissions: explicit member override, else @everyone | roles."""
        member = self.members.get(user_id)
        if member is None:
            return 0
        if member.permissions is not None:
            return member.permissions
        if user_id == self.owner_id:
            return ALL_PERMISSIONS
        perms = self.roles[self.id].permissions if self.id in self.roles else 0
        for role_id in member.roles:
            role = self.roles.get(role_id)
            if role is not None:
                perms |= role.permissions
        if perms & (1 << 3):  # ADMINISTRATOR
            return ALL_PERMISSIONS
        return perms


@dataclass
class ForumTag:
    """A forum channel's available tag."""

    id: int
    name: str
    moderated: bool = False
    emoji_name: str | None = None

    def to_payload(self) -> JSON:
        return {
            "id": str(self.id),
            "name": self.name,
            "moderated": self.moderated,
            "emoji_id": None,
            "emoji_name": self.emoji_name,
        }


@dataclass
class FakeChannel:
    """A guild text (0) or forum (15) channel."""

    id: int
    guild_id: int
    name: str
    type: ChannelType = ChannelType.TEXT
    position: int = 0
    topic: str | None = None
    available_tags: list[ForumTag] = field(default_factory=list)
    last_message_id: int | None = None
    deleted: bool = False

    def tag_named(self, name: str) -> ForumTag:
        """The forum tag called ``name`` (KeyError if absent)."""
        for tag in self.available_tags:
            if tag.name == name:
                return tag
        raise KeyError(name)

    def to_payload(self) -> JSON:
        body: JSON = {
            "id": str(self.id),
            "type": int(self.type),
            "guild_id": str(self.guild_id),
            "name": self.name,
            "position": self.position,
            "permission_overwrites": [],
            "parent_id": None,
            "nsfw": False,
            "topic": self.topic,
            "rate_limit_per_user": 0,
            "last_message_id": str(self.last_message_id) if self.last_message_id else None,
            "default_auto_archive_duration": 1440,
            "flags": 0,
        }
        if self.type == ChannelType.FORUM:
            body.update(
                available_tags=[t.to_payload() for t in self.available_tags],
                default_reaction_emoji=None,
                default_sort_order=None,
                default_forum_layout=0,
                default_thread_rate_limit_per_user=0,
            )
        return body


@dataclass
class FakeThread:
    """A public thread (type 11) under a text or forum channel."""

    id: int
    guild_id: int
    parent_id: int
    owner_id: int
    name: str
    created_at: float
    type: ChannelType = ChannelType.PUBLIC_THREAD
    archived: bool = False
    locked: bool = False
    auto_archive_duration: int = 1440
    archive_timestamp: float = 0.0
    applied_tags: list[int] = field(default_factory=list)
    message_count: int = 0
    total_message_sent: int = 0
    member_ids: set[int] = field(default_factory=set)
    last_message_id: int | None = None
    rate_limit_per_user: int = 0
    deleted: bool = False

    def to_payload(self, *, newly_created: bool = False) -> JSON:
        body: JSON = {
            "id": str(self.id),
            "type": int(self.type),
            "guild_id": str(self.guild_id),
            "parent_id": str(self.parent_id),
            "owner_id": str(self.owner_id),
            "name": self.name,
            "last_message_id": str(self.last_message_id) if self.last_message_id else None,
            "message_count": self.message_count,
            "member_count": max(len(self.member_ids), 1),
            "total_message_sent": self.total_message_sent,
            "rate_limit_per_user": self.rate_limit_per_user,
            "flags": 0,
            "applied_tags": [str(t) for t in self.applied_tags],
            "thread_metadata": {
                "archived": self.archived,
                "locked": self.locked,
                "auto_archive_duration": self.auto_archive_duration,
                "archive_timestamp": iso(self.archive_timestamp or self.created_at),
                "invitable": True,
                "create_timestamp": iso(self.created_at),
            },
        }
        if newly_created:
            body["newly_created"] = True
        return body

    def delete_payload(self) -> JSON:
        return {
            "id": str(self.id),
            "guild_id": str(self.guild_id),
            "parent_id": str(self.parent_id),
            "type": int(self.type),
        }


@dataclass(frozen=True)
class MessageEdit:
    """One earlier version of a message, kept when it is edited."""

    at: float
    content: str
    embeds: list[JSON]
    components: list[JSON]


@dataclass
class StoredMessage:
    """A message as the fake keeps it (the source of truth for assertions)."""

    id: int
    channel_id: int
    guild_id: int | None
    author: FakeUser
    content: str = ""
    embeds: list[JSON] = field(default_factory=list)
    components: list[JSON] = field(default_factory=list)
    attachments: list[JSON] = field(default_factory=list)
    flags: int = 0
    type: int = 0
    nonce: str | None = None
    tts: bool = False
    allowed_mentions: JSON | None = None
    mentions: list[int] = field(default_factory=list)
    mention_roles: list[int] = field(default_factory=list)
    mention_everyone: bool = False
    message_reference: JSON | None = None
    webhook_id: int | None = None
    application_id: int | None = None
    interaction_metadata: JSON | None = None
    ephemeral_for: int | None = None
    edits: list[MessageEdit] = field(default_factory=list)
    edited_at: float | None = None
    deleted: bool = False
    pinned: bool = False
    reactions: set[str] = field(default_factory=set)
    user_reactions: dict[str, set[int]] = field(default_factory=dict)

    @property
    def author_id(self) -> int:
        return self.author.id

    @property
    def created_at(self) -> float:
        return snowflake_time(self.id)

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & MessageFlag.EPHEMERAL)

    @property
    def loading(self) -> bool:
        """True while this is a deferred interaction's "thinking…" placeholder."""
        return bool(self.flags & MessageFlag.LOADING)

    @property
    def text(self) -> str:
        """Everything a reader sees as text: content, embed parts and v2 text displays."""
        parts = [self.content] if self.content else []
        for embed in self.embeds:
            parts.extend(_embed_texts(embed))
        parts.extend(_component_texts(self.components))
        return "\n".join(parts)

    @property
    def buttons(self) -> list[tuple[str, str]]:
        """``(label, custom_id or url)`` of every button, in display order."""
        found: list[tuple[str, str]] = []
        for comp in _walk_components(self.components):
            if comp.get("type") == 2:
                target = comp.get("custom_id") or comp.get("url") or comp.get("sku_id") or ""
                found.append((str(comp.get("label") or ""), str(target)))
        return found

    def find_component(self, custom_id: str) -> JSON | None:
        """The component with ``custom_id`` (any depth), or None."""
        for comp in _walk_components(self.components):
            if comp.get("custom_id") == custom_id:
                return comp
        return None


def _embed_texts(embed: JSON) -> Iterator[str]:
    for key in ("title", "description"):
        if embed.get(key):
            yield str(embed[key])
    author = embed.get("author") or {}
    if author.get("name"):
        yield str(author["name"])
    for fld in embed.get("fields") or []:
        yield f"{fld.get('name', '')}: {fld.get('value', '')}"
    footer = embed.get("footer") or {}
    if footer.get("text"):
        yield str(footer["text"])


def _walk_components(components: list[JSON]) -> Iterator[JSON]:
    for comp in components:
        yield comp
        yield from _walk_components(comp.get("components") or [])
        accessory = comp.get("accessory")
        if isinstance(accessory, dict):
            yield accessory
        component = comp.get("component")
        if isinstance(component, dict):
            yield component


def _component_texts(components: list[JSON]) -> Iterator[str]:
    for comp in _walk_components(components):
        if comp.get("type") == 10 and comp.get("content"):
            yield str(comp["content"])


@dataclass(frozen=True)
class CallbackRecord:
    """One interaction callback the bot sent (``type`` 4, 5, 6, 7, 8 or 9)."""

    type: int
    data: JSON
    at: float


@dataclass
class FakeInteraction:
    """An interaction the fake sent, and everything the bot answered to it."""

    id: int
    token: str
    type: int
    application_id: int
    guild_id: int
    channel_id: int
    user: FakeUser
    data: JSON
    created_at: float
    message_id: int | None = None
    payload: JSON = field(default_factory=dict)
    responses: list[CallbackRecord] = field(default_factory=list)
    original: StoredMessage | None = None
    followups: list[StoredMessage] = field(default_factory=list)
    _waiter: Callable[..., Any] | None = field(default=None, repr=False)

    @property
    def acknowledged(self) -> bool:
        return bool(self.responses)

    @property
    def deferred(self) -> bool:
        return any(r.type in (5, 6) for r in self.responses)

    def expired(self, now: float) -> bool:
        return now >= self.created_at + INTERACTION_TOKEN_TTL

    async def wait_response(self, timeout: float = 5.0) -> CallbackRecord:
        """Wait for the bot's first callback to this interaction."""
        if self._waiter is None:
            raise RuntimeError("interaction is not attached to a FakeDiscord")
        await self._waiter(lambda: bool(self.responses), timeout=timeout, what=f"a response to interaction {self.id}")
        return self.responses[0]

    async def wait_followup(self, count: int = 1, timeout: float = 5.0) -> StoredMessage:
        """Wait until the bot sent ``count`` follow-ups; returns the ``count``-th."""
        if self._waiter is None:
            raise RuntimeError("interaction is not attached to a FakeDiscord")
        await self._waiter(
            lambda: len(self.followups) >= count, timeout=timeout, what=f"{count} follow-up(s) to {self.id}"
        )
        return self.followups[count - 1]
