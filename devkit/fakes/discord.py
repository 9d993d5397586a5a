"""A fake Discord (REST + gateway + CDN) that the real discord.py client can talk to.

Point discord.py at it with ``discord.http.Route.BASE = fake.api_base`` and
``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)``, then
drive it from tests::

    async with FakeDiscord(token="test-token") as fake:
        alice = fake.users["alice"]
        att = fake.add_attachment("clip.mp4", size=5_000_000, content_type="video/mp4")
        thread, starter = await fake.create_forum_post(fake.forum_channel_id, "My clip", "cut it", alice,
                                                       attachments=[att])
        reply = await fake.wait_for_bot_message(thread.id, contains="uploaded")

The state and rules live in :mod:`devkit.fakes.discord_world` and
:mod:`devkit.fakes.discord_interactions`, the protocol layers in ``discord_rest``,
``discord_gateway`` and ``discord_cdn``. Run ``python -m devkit.fakes.discord --port 8766`` to
use it by hand. Everything binds 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import signal
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, Self

from aiohttp import web

from devkit.fakes.discord_cdn import generated_sha256
from devkit.fakes.discord_gateway import HEARTBEAT_ACK_DELAY, Gateway, GatewaySession
from devkit.fakes.discord_interactions import InteractionWorld
from devkit.fakes.discord_models import (
    DEFAULT_EVERYONE_PERMISSIONS,
    DEFAULT_FILE_LIMIT,
    JSON,
    ChannelType,
    FakeChannel,
    FakeGuild,
    FakeInteraction,
    FakeMember,
    FakeRole,
    FakeThread,
    FakeUser,
    ForumTag,
    Perm,
    StoredMessage,
)
from devkit.fakes.discord_ratelimits import RateLimits
from devkit.fakes.discord_rest import API_PREFIX, Fault, RestApi
from devkit.fakes.discord_world import RequestRecord

__all__ = [
    "FakeChannel",
    "FakeDiscord",
    "FakeGuild",
    "FakeInteraction",
    "FakeMember",
    "FakeRole",
    "FakeThread",
    "FakeUser",
    "Fault",
    "RateLimits",
    "RequestRecord",
    "StoredMessage",
]

BOT_ROLE_PERMISSIONS = DEFAULT_EVERYONE_PERMISSIONS | int(Perm.MANAGE_MESSAGES | Perm.MANAGE_THREADS)


class FakeDiscord(InteractionWorld):
    """Fake Discord server plus the test-driving API (see the module docstring).

    Defaults: guild "Cutaway Test" with text channel "general" and forum "clips" (tags
    "rendering" and "done"), human members "alice" and "bob", and the bot member.
    """

    def __init__(
        self,
        token: str = "test-token",  # noqa: S107 - a fake server's well-known test token
        *,
        bot_name: str = "Cutaway",
        bot_user_id: int | None = None,
        application_id: int | None = None,
        port: int = 0,
        heartbeat_interval_ms: int = 41250,
        heartbeat_ack_delay: float = HEARTBEAT_ACK_DELAY,
        privileged_intents_allowed: bool = True,
        recommended_shards: int = 1,
        clock: Callable[[], float] | None = None,
        upload_limit: int = DEFAULT_FILE_LIMIT,
        old_message_edit_allowance: int = 0,
        default_world: bool = True,
        rate_limits: RateLimits | None = None,
    ) -> None:
        super().__init__(
            token=token,
            bot_name=bot_name,
            bot_user_id=bot_user_id,
            application_id=application_id,
            clock=clock,
            upload_limit=upload_limit,
            old_message_edit_allowance=old_message_edit_allowance,
        )
        self._port = port
        self.recommended_shards = recommended_shards
        """What ``GET /gateway/bot`` answers as ``shards``."""
        self.gateway = Gateway(
            self,
            url=lambda: self.gateway_url,
            heartbeat_interval_ms=heartbeat_interval_ms,
            heartbeat_ack_delay=heartbeat_ack_delay,
            privileged_intents_allowed=privileged_intents_allowed,
        )
        self.rest = RestApi(self, gateway_url=lambda: self.gateway_url, shards=lambda: self.recommended_shards)
        self.rest.rate_limits = rate_limits
        self._emit_sink = self.gateway.emit
        self._runner: web.AppRunner | None = None
        self.guild_id = 0
        self.text_channel_id = 0
        self.forum_channel_id = 0
        if default_world:
            self._build_default_world()

    def _build_default_world(self) -> None:
        guild = self.add_guild("Cutaway Test", owner=self.app_owner)
        self.guild_id = guild.id
        self.text_channel_id = self.add_text_channel("general").id
        self.forum_channel_id = self.add_forum_channel("clips", tags=("rendering", "done")).id
        self.add_user("alice")
        self.add_user("bob")

    # ----------------------------------------------------------------- lifecycle

    @property
    def port(self) -> int:
        return self._port

    @property
    def api_base(self) -> str:
        """REST base for ``discord.http.Route.BASE`` (``http://127.0.0.1:PORT/api/v10``)."""
        return self.http_base + API_PREFIX

    @property
    def gateway_url(self) -> str:
        """Websocket URL for ``DiscordWebSocket.DEFAULT_GATEWAY`` (also served by ``GET /gateway``)."""
        return f"ws://127.0.0.1:{self._port}/gateway"

    @property
    def bot_user_id(self) -> int:
        return self.bot_user.id

    async def start(self) -> None:
        """Start serving on 127.0.0.1 (an ephemeral port unless one was given)."""
        if self._runner is not None:
            raise RuntimeError("already started")
        app = web.Application(middlewares=[self.rest.middleware], client_max_size=self.upload_limit * 11)
        self.rest.add_routes(app)
        for prefix in ("", "/media"):
            app.router.add_get(prefix + "/attachments/{channel_id}/{attachment_id:\\d+}/{filename}", self.cdn.handle)
        app.router.add_get("/gateway", self.gateway.handle)
        app.router.add_get("/gateway/resume", self.gateway.handle)
        app.router.add_route("*", "/{tail:.*}", self.rest.not_found)
        runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", self._port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._port = runner.addresses[0][1]
        self.http_base = f"http://127.0.0.1:{self._port}"

    async def close(self) -> None:
        """Close every websocket and stop the server."""
        if self._runner is None:
            return
        await self.gateway.close()
        await self._runner.cleanup()
        self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # ----------------------------------------------------------------- world building

    def _announce(self, event: str, data: JSON, guild_id: int | None) -> None:
        if self._runner is not None:
            self.emit(event, data, guild_id)

    def add_guild(self, name: str, *, owner: FakeUser | None = None, shard: tuple[int, int] | None = None) -> FakeGuild:
        """A guild with @everyone, a bot role and the bot as member; ``shard=(id, count)``
        picks an id that Discord's formula routes to that shard (GUILD_CREATE once started)."""
        guild_id = self.ids.next_for_shard(*shard) if shard else self.ids.next()
        owner = owner or self.app_owner
        guild = FakeGuild(id=guild_id, name=name, owner_id=owner.id)
        guild.roles[guild_id] = FakeRole(id=guild_id, name="@everyone", permissions=DEFAULT_EVERYONE_PERMISSIONS)
        bot_role = FakeRole(id=self.ids.next(), name=self.bot_user.name, permissions=BOT_ROLE_PERMISSIONS, position=1)
        bot_role.managed = True
        guild.roles[bot_role.id] = bot_role
        now = self.clock()
        guild.members[self.bot_user.id] = FakeMember(self.bot_user, roles=[bot_role.id], joined_at=now)
        guild.members[owner.id] = FakeMember(owner, joined_at=now)
        self.guilds[guild_id] = guild
        self._announce("GUILD_CREATE", self.guild_payload(guild, full=True), guild_id)
        return guild

    def add_text_channel(self, name: str, *, guild_id: int | None = None) -> FakeChannel:
        """A text channel (CHANNEL_CREATE once started)."""
        return self._add_channel(name, ChannelType.TEXT, guild_id, ())

    def add_forum_channel(self, name: str, *, tags: Iterable[str] = (), guild_id: int | None = None) -> FakeChannel:
        """A forum channel with the given tag names (CHANNEL_CREATE once started)."""
        return self._add_channel(name, ChannelType.FORUM, guild_id, tags)

    def _add_channel(self, name: str, kind: ChannelType, guild_id: int | None, tags: Iterable[str]) -> FakeChannel:
        gid = guild_id or self.guild_id
        self.guild(gid)
        position = sum(1 for c in self.channels.values() if c.guild_id == gid)
        channel = FakeChannel(id=self.ids.next(), guild_id=gid, name=name, type=kind, position=position)
        channel.available_tags = [ForumTag(id=self.ids.next(), name=t) for t in tags]
        self.channels[channel.id] = channel
        self._announce("CHANNEL_CREATE", channel.to_payload(), gid)
        return channel

    def add_role(self, name: str, permissions: int = 0, *, guild_id: int | None = None) -> FakeRole:
        guild = self.guild(guild_id or self.guild_id)
        role = FakeRole(id=self.ids.next(), name=name, permissions=permissions, position=len(guild.roles))
        guild.roles[role.id] = role
        return role

    def add_user(
        self,
        name: str,
        *,
        bot: bool = False,
        user_id: int | None = None,
        guild_id: int | None = None,
        roles: Sequence[FakeRole] = (),
        permissions: int | None = None,
    ) -> FakeUser:
        """A user who is a member of ``guild_id`` (default guild); GUILD_MEMBER_ADD once started.

        ``permissions`` overrides the role-derived permissions sent in interactions."""
        user = super().add_user(name, bot=bot, user_id=user_id)
        gid = guild_id or self.guild_id
        if gid:
            self.add_member(user, guild_id=gid, roles=roles, permissions=permissions)
        return user

    def add_member(
        self,
        user: FakeUser,
        *,
        guild_id: int | None = None,
        roles: Sequence[FakeRole] = (),
        permissions: int | None = None,
    ) -> FakeMember:
        gid = guild_id or self.guild_id
        guild = self.guild(gid)
        member = FakeMember(user, roles=[r.id for r in roles], joined_at=self.clock(), permissions=permissions)
        guild.members[user.id] = member
        self._announce("GUILD_MEMBER_ADD", {**member.to_payload(), "guild_id": str(gid)}, gid)
        return member

    # ----------------------------------------------------------------- CDN

    def add_attachment(
        self,
        filename: str,
        data: bytes | None = None,
        *,
        size: int | None = None,
        content_type: str | None = None,
        channel_id: int | None = None,
        description: str | None = None,
    ) -> JSON:
        """An attachment served by the fake CDN: real ``data``, or ``size`` generated bytes
        streamed in chunks. Returns the attachment object (id, filename, size, url, ...)."""
        file = self.cdn.add(self.ids.next(), filename, data=data, size=size, content_type=content_type)
        return self.cdn.attachment_payload(file, channel_id=channel_id or self.text_channel_id, description=description)

    async def expected_sha256(self, attachment: Mapping[str, Any]) -> str:
        """Hex SHA-256 of what downloading the attachment yields (computed off the event loop)."""
        return await self.cdn.sha256(int(attachment["id"]))

    @staticmethod
    def generated_sha256(seed: int, size: int) -> str:
        """Blocking hash of generated content (the seed of an attachment is its id)."""
        return generated_sha256(seed, size)

    def expire_attachment(self, attachment: Mapping[str, Any]) -> None:
        """Make every URL issued so far for this attachment answer 403 (re-fetched messages get fresh ones)."""
        self.cdn.expire(int(attachment["id"]))

    def attachment_data(self, attachment: Mapping[str, Any]) -> bytes | None:
        """The bytes of an attachment that holds real data (e.g. a file the bot uploaded)."""
        return self.cdn.files[int(attachment["id"])].data

    # ----------------------------------------------------------------- users acting

    def _user(self, user: FakeUser | None) -> FakeUser:
        return user or self.users["alice"]

    async def send_message(
        self,
        channel_id: int,
        content: str = "",
        author: FakeUser | None = None,
        *,
        attachments: Sequence[Mapping[str, Any]] = (),
        embeds: Sequence[JSON] = (),
        reply_to: StoredMessage | None = None,
        nonce: str | None = None,
    ) -> StoredMessage:
        """A user (default alice) posts a message (MESSAGE_CREATE); returns the stored message."""
        reference = None
        if reply_to is not None:
            reference = {"message_id": str(reply_to.id), "channel_id": str(reply_to.channel_id)}
        return self.create_message(
            channel_id,
            self._user(author),
            content=content,
            embeds=list(embeds),
            attachments=self.attachment_entries(attachments),
            message_reference=reference,
            nonce=nonce,
        )

    async def edit_user_message(self, message: StoredMessage, content: str) -> StoredMessage:
        """A user edits their message (MESSAGE_UPDATE)."""
        return self.edit_message(message, {"content": content}, check_age=False)

    async def delete_user_message(self, message: StoredMessage) -> None:
        """A user (or a moderator) deletes a message (MESSAGE_DELETE)."""
        self.delete_message(message)

    async def react(self, message: StoredMessage, emoji: str, user: FakeUser | None = None) -> None:
        """A user adds a reaction (MESSAGE_REACTION_ADD)."""
        self.add_reaction(message, emoji, self._user(user))

    async def create_forum_post(
        self,
        forum_id: int,
        name: str,
        content: str = "",
        author: FakeUser | None = None,
        *,
        attachments: Sequence[Mapping[str, Any]] = (),
        tags: Sequence[str] = (),
    ) -> tuple[FakeThread, StoredMessage]:
        """A user opens a forum post: THREAD_CREATE (newly_created) then the starter's
        MESSAGE_CREATE (id == thread id). ``tags`` are tag names."""
        forum = self.channels[forum_id]
        tag_ids = [forum.tag_named(t).id for t in tags]
        return self.create_forum_thread(
            forum_id,
            name,
            self._user(author),
            {"content": content},
            applied_tags=tag_ids,
            attachments=self.attachment_entries(attachments),
        )

    async def create_user_thread(
        self, channel_id: int, name: str, author: FakeUser | None = None, *, message: StoredMessage | None = None
    ) -> FakeThread:
        """A user starts a thread in a text channel, on ``message`` if given (THREAD_CREATE)."""
        if message is not None:
            return self.create_thread_from_message(channel_id, message.id, name, self._user(author))
        return self.create_thread(channel_id, name, self._user(author))

    async def archive_thread(self, thread_id: int, *, locked: bool = False) -> FakeThread:
        """Archive (and optionally lock) a thread (THREAD_UPDATE)."""
        return self.update_thread(thread_id, {"archived": True, "locked": locked})

    async def unarchive_thread(self, thread_id: int) -> FakeThread:
        return self.update_thread(thread_id, {"archived": False, "locked": False})

    async def remove_thread(self, thread_id: int) -> FakeThread:
        """Delete a thread (THREAD_DELETE); the bot's later sends there get 404 10003."""
        return self.delete_thread(thread_id)

    # ----------------------------------------------------------------- interactions

    async def slash(
        self,
        channel_id: int,
        name: str,
        options: Mapping[str, Any] | None = None,
        *,
        user: FakeUser | None = None,
        locale: str = "en-US",
    ) -> FakeInteraction:
        """A user runs ``/name`` (``"group sub"`` for subcommands) with options typed from the
        synced definition; dispatches INTERACTION_CREATE type 2."""
        target = self.channel_or_thread(channel_id)
        data = self.command_data(name, options, target.guild_id)
        return self.new_interaction(kind=2, channel_id=channel_id, user=self._user(user), data=data, locale=locale)

    async def press_button(
        self, message: StoredMessage | int, custom_id: str, *, user: FakeUser | None = None, locale: str = "en-US"
    ) -> FakeInteraction:
        """A user presses a button on a message (INTERACTION_CREATE type 3)."""
        return await self.use_component(message, custom_id, user=user, locale=locale)

    async def use_component(
        self,
        message: StoredMessage | int,
        custom_id: str,
        values: Sequence[str] | None = None,
        *,
        user: FakeUser | None = None,
        locale: str = "en-US",
    ) -> FakeInteraction:
        """A user uses a button or (with ``values``) a select menu on a message."""
        msg = self.message(message if isinstance(message, int) else message.id)
        who = self._user(user)
        if msg.ephemeral and msg.ephemeral_for != who.id:
            raise ValueError(f"{who.name} cannot see ephemeral message {msg.id}")
        data = self.component_data(msg, custom_id, list(values) if values is not None else None)
        return self.new_interaction(kind=3, channel_id=msg.channel_id, user=who, data=data, message=msg, locale=locale)

    async def submit_modal(
        self, interaction: FakeInteraction, values: Mapping[str, str | list[str]], *, locale: str = "en-US"
    ) -> FakeInteraction:
        """The user submits the modal the bot opened on ``interaction`` (type 5)."""
        data = self.modal_submit_data(interaction, values)
        message = self.message(interaction.message_id) if interaction.message_id else None
        return self.new_interaction(
            kind=5, channel_id=interaction.channel_id, user=interaction.user, data=data, message=message, locale=locale
        )

    # ----------------------------------------------------------------- faults and gateway control

    def fail_next(
        self,
        method: str,
        path_regex: str,
        status: int = 403,
        code: int = 50013,
        message: str = "Missing Permissions",
        times: int = 1,
        *,
        retry_after: float | None = None,
    ) -> Fault:
        """Fail the next ``times`` requests whose method (``"*"`` for any) and path below the
        API base (``re.search``) match. A 429 carries ``retry_after`` and the Via header
        discord.py requires to retry."""
        fault = Fault(method.upper(), re.compile(path_regex), status, code, message, times, retry_after)
        self.rest.faults.append(fault)
        return fault

    async def force_reconnect(
        self, *, during: Callable[[], Awaitable[None]] | None = None, timeout: float = 10.0
    ) -> None:
        """Send op 7 RECONNECT; wait for the RESUME. Events dispatched by ``during`` (run while
        no socket is attached) reach the client through the RESUME replay."""
        await self.gateway.force_reconnect(during=during, timeout=timeout)

    async def invalidate_session(
        self,
        *,
        resumable: bool = False,
        during: Callable[[], Awaitable[None]] | None = None,
        timeout: float = 10.0,
    ) -> None:
        """Send op 9 INVALID_SESSION; wait for the RESUME or the fresh IDENTIFY. Events dispatched by
        ``during`` (run after the session is gone, before a new IDENTIFY is answered) reach no session.

        discord.py's ``Client.before_identify_hook`` sleeps 5 s before re-identifying;
        override it in tests (or allow for it in ``timeout``)."""
        await self.gateway.invalidate_session(resumable=resumable, during=during, timeout=timeout)

    @property
    def identifies(self) -> list[JSON]:
        """IDENTIFY payloads received (token removed): ``intents``, ``shard``, ``properties``…"""
        return self.gateway.identifies

    @property
    def sessions(self) -> list[GatewaySession]:
        """Live gateway sessions (connected or resumable)."""
        return list(self.gateway.sessions.values())

    async def wait_until_ready(self, count: int = 1, timeout: float = 10.0) -> None:
        """Wait until ``count`` sessions are connected and have been sent READY."""
        await self.wait_for(
            lambda: sum(1 for s in self.gateway.sessions.values() if s.conn is not None) >= count,
            timeout,
            f"{count} identified gateway session(s)",
        )

    # ----------------------------------------------------------------- waiting

    async def wait_for_bot_message(
        self, channel_id: int, contains: str = "", timeout: float = 5.0, *, after: int | None = None
    ) -> StoredMessage:
        """The oldest live bot message in the channel whose ``.text`` contains ``contains``
        (edits count), optionally only messages with id > ``after``."""

        def find() -> StoredMessage | None:
            for msg in self.bot_messages(channel_id):
                if (after is None or msg.id > after) and contains in msg.text and not msg.loading:
                    return msg
            return None

        return await self.wait_for(find, timeout, f"a bot message containing {contains!r} in {channel_id}")

    async def wait_for_request(
        self, method: str, path_regex: str, timeout: float = 5.0, *, start: int = 0
    ) -> RequestRecord:
        """Wait for a REST request (looking from index ``start`` of ``requests``) and return it."""
        pattern = re.compile(path_regex)

        def find() -> RequestRecord | None:
            for record in self.requests[start:]:
                if record.method == method.upper() and pattern.search(record.path):
                    return record
            return None

        return await self.wait_for(find, timeout, f"a {method} request matching {path_regex!r}")


async def _serve(port: int, token: str) -> None:
    async with FakeDiscord(token=token, port=port) as fake:
        print(f"api base:    {fake.api_base}")
        print(f"gateway:     {fake.gateway_url}")
        print(f"token:       {fake.token}")
        print(f"guild:       {fake.guild_id}")
        print(f"#general:    {fake.text_channel_id}")
        print(f"#clips:      {fake.forum_channel_id}")
        print("Ctrl-C to stop", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of ``python -m devkit.fakes.discord``."""
    parser = argparse.ArgumentParser(description="Run the fake Discord on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--token", default="test-token")
    args = parser.parse_args(argv)
    asyncio.run(_serve(args.port, args.token))


if __name__ == "__main__":
    main()
