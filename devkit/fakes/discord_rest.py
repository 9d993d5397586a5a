"""The fake Discord's REST API (``/api/v10/...``) on aiohttp.

Handlers translate HTTP into :class:`~devkit.fakes.discord_interactions.InteractionWorld`
operations. A middleware logs every request, injects scheduled faults, checks the bot
token, parses JSON and multipart (``payload_json`` + ``files[n]``) bodies, and renders
:class:`~devkit.fakes.discord_models.DiscordAPIError` the way Discord does. JSON responses
use a bare ``application/json`` Content-Type: discord.py only parses exactly that.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from aiohttp import BodyPartReader, web

from devkit.fakes.discord_models import JSON, ChannelType, DiscordAPIError, FakeChannel, FakeThread
from devkit.fakes.discord_ratelimits import RateLimits
from devkit.fakes.discord_world import RequestRecord, UploadedFile

if TYPE_CHECKING:
    from devkit.fakes.discord_interactions import InteractionWorld

API_PREFIX = "/api/v10"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

JSON_BODY = web.RequestKey("fake_discord_json", object)
"""The parsed JSON body (or ``payload_json`` of a multipart body)."""
FILES = web.RequestKey("fake_discord_files", list[UploadedFile])
"""The ``files[n]`` parts of a multipart body."""

_UNAUTHENTICATED = re.compile(r"^/(webhooks|interactions)/|^/gateway$")


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON response whose Content-Type is exactly ``application/json``."""
    return web.Response(
        body=json.dumps(data).encode(),
        status=status,
        headers={"Content-Type": "application/json", **(headers or {})},
    )


def error_response(error: DiscordAPIError, headers: dict[str, str] | None = None) -> web.Response:
    return json_response(error.to_payload(), status=error.status, headers=headers)


@dataclass
class Fault:
    """A scheduled failure (see ``FakeDiscord.fail_next``); ``hits`` counts the requests it failed."""

    method: str
    pattern: re.Pattern[str]
    status: int
    code: int
    message: str
    remaining: int
    retry_after: float | None = None
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        return self.remaining > 0 and self.method in ("*", method) and bool(self.pattern.search(path))

    def response(self) -> web.Response:
        error = DiscordAPIError(self.status, self.code, self.message)
        if self.status != 429:
            return error_response(error)
        retry_after = self.retry_after if self.retry_after is not None else 0.01
        body = {**error.to_payload(), "retry_after": retry_after, "global": False}
        return json_response(body, status=429, headers={"Via": "1.1 google", "Retry-After": f"{retry_after:g}"})


def _int(value: str | None) -> int | None:
    return int(value) if value not in (None, "") else None


class RestApi:
    """Route table and middleware of the REST API."""

    def __init__(self, world: InteractionWorld, *, gateway_url: Callable[[], str], shards: Callable[[], int]) -> None:
        self.world = world
        self._gateway_url = gateway_url
        self._shards = shards
        self.faults: list[Fault] = []
        self.rate_limits: RateLimits | None = None
        """Discord's rate-limit headers and 429s (`FakeDiscord(rate_limits=...)`); None: no headers."""

    # ----------------------------------------------------------------- plumbing

    def add_routes(self, app: web.Application) -> None:
        """Register every API route (unknown routes are left to the catch-all)."""
        cid = "{channel_id:\\d+}"
        mid = "{message_id:\\d+}"
        hook = "/webhooks/{app_id:\\d+}/{token}"
        table: list[tuple[str, str, Handler]] = [
            ("GET", "/users/@me", self.get_me),
            ("GET", "/users/{user_id:\\d+}", self.get_user),
            ("GET", "/oauth2/applications/@me", self.get_application),
            ("GET", "/applications/@me", self.get_application),
            ("GET", "/gateway", self.get_gateway),
            ("GET", "/gateway/bot", self.get_gateway_bot),
            ("GET", "/applications/{app_id:\\d+}/commands", self.get_commands),
            ("PUT", "/applications/{app_id:\\d+}/commands", self.put_commands),
            ("GET", "/applications/{app_id:\\d+}/guilds/{guild_id:\\d+}/commands", self.get_commands),
            ("PUT", "/applications/{app_id:\\d+}/guilds/{guild_id:\\d+}/commands", self.put_commands),
            ("GET", f"/channels/{cid}", self.get_channel),
            ("PATCH", f"/channels/{cid}", self.patch_channel),
            ("DELETE", f"/channels/{cid}", self.delete_channel),
            ("GET", f"/channels/{cid}/messages", self.get_messages),
            ("POST", f"/channels/{cid}/messages", self.post_message),
            ("GET", f"/channels/{cid}/messages/{mid}", self.get_message),
            ("PATCH", f"/channels/{cid}/messages/{mid}", self.patch_message),
            ("DELETE", f"/channels/{cid}/messages/{mid}", self.delete_message),
            ("POST", f"/channels/{cid}/typing", self.post_typing),
            ("PUT", f"/channels/{cid}/messages/{mid}/reactions/{{emoji}}/@me", self.put_reaction),
            ("DELETE", f"/channels/{cid}/messages/{mid}/reactions/{{emoji}}/@me", self.delete_reaction),
            ("POST", f"/channels/{cid}/messages/{mid}/threads", self.post_message_thread),
            ("POST", f"/channels/{cid}/threads", self.post_thread),
            ("PUT", f"/channels/{cid}/thread-members/@me", self.join_thread),
            ("DELETE", f"/channels/{cid}/thread-members/@me", self.leave_thread),
            ("GET", "/guilds/{guild_id:\\d+}", self.get_guild),
            ("GET", "/guilds/{guild_id:\\d+}/channels", self.get_guild_channels),
            ("GET", "/guilds/{guild_id:\\d+}/roles", self.get_guild_roles),
            ("GET", "/guilds/{guild_id:\\d+}/threads/active", self.get_active_threads),
            ("GET", "/guilds/{guild_id:\\d+}/members/{user_id:\\d+}", self.get_member),
            ("POST", "/interactions/{interaction_id:\\d+}/{token}/callback", self.post_callback),
            ("POST", hook, self.post_webhook),
            ("GET", hook + "/messages/{message_id}", self.get_webhook_message),
            ("PATCH", hook + "/messages/{message_id}", self.patch_webhook_message),
            ("DELETE", hook + "/messages/{message_id}", self.delete_webhook_message),
        ]
        for method, path, handler in table:
            app.router.add_route(method, API_PREFIX + path, handler)

    async def not_found(self, request: web.Request) -> web.StreamResponse:
        """Catch-all: 404 JSON, remembered in ``unhandled``."""
        self.world.unhandled.append((request.method, request.path))
        return json_response({"message": "404: Not Found", "code": 0}, status=404)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Log, inject faults, authenticate, parse the body and map errors for API routes."""
        if not request.path.startswith(API_PREFIX + "/"):
            return await handler(request)
        path = request.path[len(API_PREFIX) :]
        try:
            body, files = await self._parse_body(request)
        except DiscordAPIError as error:
            self.world.requests.append(RequestRecord(request.method, path, None))
            return error_response(error)
        request[JSON_BODY], request[FILES] = body, files
        self.world.requests.append(RequestRecord(request.method, path, body))
        if "tail" in request.match_info:  # the catch-all: unknown route, whatever the auth
            return await handler(request)
        try:
            for fault in self.faults:
                if fault.matches(request.method, path):
                    fault.remaining -= 1
                    fault.hits += 1
                    return fault.response()
            if not _UNAUTHENTICATED.search(path) and request.headers.get("Authorization") != f"Bot {self.world.token}":
                return json_response({"message": "401: Unauthorized", "code": 0}, status=401)
            if self.rate_limits is None:
                return await handler(request)
            headers, retry_after = self.rate_limits.take(request.method, path)
            if retry_after is not None:
                body = {
                    "message": "You are being rate limited.",
                    "retry_after": retry_after,
                    "global": False,
                    "code": 0,
                }
                return json_response(
                    body,
                    status=429,
                    headers={**headers, "Via": "1.1 google", "Retry-After": str(max(1, math.ceil(retry_after)))},
                )
            response = await handler(request)
            response.headers.update(headers)
            return response
        except DiscordAPIError as error:
            return error_response(error)
        finally:
            self.world.changed()

    async def _parse_body(self, request: web.Request) -> tuple[Any, list[UploadedFile]]:
        if not request.can_read_body:
            return None, []
        if request.content_type == "multipart/form-data":
            payload: Any = None
            files: list[UploadedFile] = []
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                if not isinstance(part, BodyPartReader):
                    continue
                if part.name == "payload_json":
                    payload = json.loads(await part.text())
                    continue
                match = re.fullmatch(r"files\[(\d+)\]", part.name or "")
                if match is None:
                    continue
                data = bytearray()
                while chunk := await part.read_chunk(64 * 1024):
                    data.extend(chunk)
                    if len(data) > self.world.upload_limit:
                        raise DiscordAPIError(413, 40005, "Request entity too large")
                content_type = part.headers.get("Content-Type")
                files.append(UploadedFile(int(match.group(1)), part.filename or "file", bytes(data), content_type))
            return payload, files
        raw = await request.read()
        if not raw:
            return None, []
        try:
            return json.loads(raw), []
        except ValueError:
            raise DiscordAPIError(400, 50109, "The request body contains invalid JSON.") from None

    @staticmethod
    def _body(request: web.Request) -> JSON:
        body = request.get(JSON_BODY)
        return body if isinstance(body, dict) else {}

    @staticmethod
    def _files(request: web.Request) -> list[UploadedFile]:
        return request.get(FILES) or []

    @staticmethod
    def _id(request: web.Request, name: str) -> int:
        return int(request.match_info[name])

    # ----------------------------------------------------------------- users, app, gateway

    async def get_me(self, request: web.Request) -> web.StreamResponse:
        user = self.world.bot_user.to_payload()
        user.update(verified=True, mfa_enabled=False, flags=0, locale="en-US", email=None)
        return json_response(user)

    async def get_user(self, request: web.Request) -> web.StreamResponse:
        return json_response(self.world.user(self._id(request, "user_id")).to_payload())

    async def get_application(self, request: web.Request) -> web.StreamResponse:
        world = self.world
        return json_response(
            {
                "id": str(world.application_id),
                "name": world.bot_user.name,
                "description": "",
                "icon": None,
                "bot_public": True,
                "bot_require_code_grant": False,
                "owner": world.app_owner.to_payload(),
                "team": None,
                "verify_key": "0" * 64,
                "flags": 0,
                "summary": "",
                "bot": world.bot_user.to_payload(),
                "interactions_endpoint_url": None,
                "redirect_uris": [],
                "tags": [],
            }
        )

    async def get_gateway(self, request: web.Request) -> web.StreamResponse:
        return json_response({"url": self._gateway_url()})

    async def get_gateway_bot(self, request: web.Request) -> web.StreamResponse:
        limit = {"total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1}
        return json_response({"url": self._gateway_url(), "shards": self._shards(), "session_start_limit": limit})

    # ----------------------------------------------------------------- commands

    def _check_app(self, request: web.Request) -> None:
        if self._id(request, "app_id") != self.world.application_id:
            raise DiscordAPIError(403, 50001, "Missing Access")

    async def get_commands(self, request: web.Request) -> web.StreamResponse:
        self._check_app(request)
        guild_id = _int(request.match_info.get("guild_id"))
        if guild_id is None:
            return json_response(self.world.commands)
        return json_response(self.world.guild_commands.get(guild_id, []))

    async def put_commands(self, request: web.Request) -> web.StreamResponse:
        self._check_app(request)
        guild_id = _int(request.match_info.get("guild_id"))
        if guild_id is not None:
            self.world.guild(guild_id)
        body = request.get(JSON_BODY)
        if not isinstance(body, list):
            raise DiscordAPIError(400, 50035, "Invalid Form Body")
        return json_response(self.world.bulk_overwrite_commands(guild_id, body))

    # ----------------------------------------------------------------- channels

    async def get_channel(self, request: web.Request) -> web.StreamResponse:
        channel_id = self._id(request, "channel_id")
        self.world.require(channel_id, "read")
        return json_response(self.world.channel_payload(channel_id))

    async def patch_channel(self, request: web.Request) -> web.StreamResponse:
        channel_id = self._id(request, "channel_id")
        target = self.world.channel_or_thread(channel_id)
        self.world.require(channel_id, "manage_thread" if isinstance(target, FakeThread) else "edit")
        body = self._body(request)
        if isinstance(target, FakeThread):
            return json_response(self.world.update_thread(channel_id, body).to_payload())
        if "name" in body:
            target.name = str(body["name"])
        if "topic" in body:
            target.topic = body["topic"]
        self.world.emit("CHANNEL_UPDATE", target.to_payload(), target.guild_id)
        return json_response(target.to_payload())

    async def delete_channel(self, request: web.Request) -> web.StreamResponse:
        channel_id = self._id(request, "channel_id")
        target = self.world.channel_or_thread(channel_id)
        self.world.require(channel_id, "manage_thread" if isinstance(target, FakeThread) else "edit")
        if isinstance(target, FakeThread):
            return json_response(self.world.delete_thread(channel_id).to_payload())
        target.deleted = True
        self.world.emit("CHANNEL_DELETE", target.to_payload(), target.guild_id)
        return json_response(target.to_payload())

    async def post_typing(self, request: web.Request) -> web.StreamResponse:
        channel_id = self._id(request, "channel_id")
        self.world.channel_or_thread(channel_id)
        self.world.require(channel_id, "typing")
        self.world.typing_calls.append(channel_id)
        return web.Response(status=204)

    async def join_thread(self, request: web.Request) -> web.StreamResponse:
        target = self.world.channel_or_thread(self._id(request, "channel_id"))
        if not isinstance(target, FakeThread):
            raise DiscordAPIError(400, 50024, "Cannot execute action on this channel type")
        target.member_ids.add(self.world.bot_user.id)
        return web.Response(status=204)

    async def leave_thread(self, request: web.Request) -> web.StreamResponse:
        target = self.world.channel_or_thread(self._id(request, "channel_id"))
        if isinstance(target, FakeThread):
            target.member_ids.discard(self.world.bot_user.id)
        return web.Response(status=204)

    # ----------------------------------------------------------------- messages

    async def get_messages(self, request: web.Request) -> web.StreamResponse:
        channel_id = self._id(request, "channel_id")
        self.world.require(channel_id, "read")
        query = request.query
        messages = self.world.history(
            channel_id,
            limit=int(query.get("limit", 50)),
            before=_int(query.get("before")),
            after=_int(query.get("after")),
            around=_int(query.get("around")),
        )
        return json_response([self.world.message_payload(m) for m in messages])

    async def get_message(self, request: web.Request) -> web.StreamResponse:
        channel_id = self._id(request, "channel_id")
        self.world.channel_or_thread(channel_id)
        self.world.require(channel_id, "read")
        msg = self.world.message(self._id(request, "message_id"), channel_id)
        if msg.ephemeral:
            raise DiscordAPIError(404, 10008, "Unknown Message")
        return json_response(self.world.message_payload(msg))

    async def post_message(self, request: web.Request) -> web.StreamResponse:
        channel_id = self._id(request, "channel_id")
        world = self.world
        world.channel_or_thread(channel_id)
        world.require(channel_id, "send")
        body = self._body(request)
        reference = body.get("message_reference")
        if (
            reference
            and reference.get("message_id")
            and reference.get("fail_if_not_exists", True)
            and world.lookup_message(int(reference["message_id"])) is None
        ):
            raise DiscordAPIError(400, 50035, "Invalid Form Body", {"message_reference": {"_errors": []}})
        flags = int(body.get("flags") or 0)
        if flags & 64:
            raise DiscordAPIError(400, 50035, "Invalid Form Body", {"flags": {"_errors": []}})
        msg = world.create_message(
            channel_id,
            world.bot_user,
            content=str(body.get("content") or ""),
            embeds=body.get("embeds"),
            components=body.get("components"),
            attachments=world.resolve_attachments(body.get("attachments"), self._files(request), []),
            flags=flags,
            nonce=str(body["nonce"]) if body.get("nonce") is not None else None,
            enforce_nonce=bool(body.get("enforce_nonce", False)),
            tts=bool(body.get("tts", False)),
            allowed_mentions=body.get("allowed_mentions"),
            message_reference=reference,
        )
        return json_response(world.message_payload(msg))

    async def patch_message(self, request: web.Request) -> web.StreamResponse:
        channel_id = self._id(request, "channel_id")
        self.world.channel_or_thread(channel_id)
        msg = self.world.message(self._id(request, "message_id"), channel_id)
        if msg.author.id != self.world.bot_user.id:
            raise DiscordAPIError(403, 50005, "Cannot edit a message authored by another user")
        self.world.require(channel_id, "edit")
        edited = self.world.edit_message(msg, self._body(request), self._files(request))
        return json_response(self.world.message_payload(edited))

    async def delete_message(self, request: web.Request) -> web.StreamResponse:
        channel_id = self._id(request, "channel_id")
        self.world.channel_or_thread(channel_id)
        msg = self.world.message(self._id(request, "message_id"), channel_id)
        self.world.require(channel_id, "delete")
        self.world.delete_message(msg)
        return web.Response(status=204)

    def _reaction_target(self, request: web.Request) -> tuple[Any, str]:
        channel_id = self._id(request, "channel_id")
        self.world.channel_or_thread(channel_id)
        msg = self.world.message(self._id(request, "message_id"), channel_id)
        emoji = unquote(request.match_info["emoji"])
        return msg, emoji

    async def put_reaction(self, request: web.Request) -> web.StreamResponse:
        msg, emoji = self._reaction_target(request)
        self.world.require(msg.channel_id, "react")
        self.world.add_reaction(msg, emoji, self.world.bot_user)
        return web.Response(status=204)

    async def delete_reaction(self, request: web.Request) -> web.StreamResponse:
        msg, emoji = self._reaction_target(request)
        self.world.remove_reaction(msg, emoji, self.world.bot_user)
        return web.Response(status=204)

    # ----------------------------------------------------------------- threads

    async def post_message_thread(self, request: web.Request) -> web.StreamResponse:
        body = self._body(request)
        thread = self.world.create_thread_from_message(
            self._id(request, "channel_id"),
            self._id(request, "message_id"),
            str(body.get("name") or ""),
            self.world.bot_user,
            auto_archive_duration=int(body.get("auto_archive_duration") or 1440),
        )
        return json_response(thread.to_payload(), status=201)

    async def post_thread(self, request: web.Request) -> web.StreamResponse:
        channel_id = self._id(request, "channel_id")
        target = self.world.channel_or_thread(channel_id)
        body = self._body(request)
        name = str(body.get("name") or "")
        archive = int(body.get("auto_archive_duration") or 1440)
        if isinstance(target, FakeChannel) and target.type == ChannelType.FORUM:
            thread, starter = self.world.create_forum_thread(
                channel_id,
                name,
                self.world.bot_user,
                body.get("message") or {},
                self._files(request),
                applied_tags=body.get("applied_tags"),
                auto_archive_duration=archive,
            )
            return json_response({**thread.to_payload(), "message": self.world.message_payload(starter)}, status=201)
        thread = self.world.create_thread(channel_id, name, self.world.bot_user, auto_archive_duration=archive)
        if body.get("type") == int(ChannelType.PRIVATE_THREAD):
            thread.type = ChannelType.PRIVATE_THREAD
        return json_response(thread.to_payload(), status=201)

    # ----------------------------------------------------------------- guilds

    async def get_guild(self, request: web.Request) -> web.StreamResponse:
        guild = self.world.guild(self._id(request, "guild_id"))
        body = self.world.guild_payload(guild, full=False)
        body.update(approximate_member_count=len(guild.members), approximate_presence_count=0)
        return json_response(body)

    async def get_guild_channels(self, request: web.Request) -> web.StreamResponse:
        guild_id = self.world.guild(self._id(request, "guild_id")).id
        channels = [c for c in self.world.channels.values() if c.guild_id == guild_id and not c.deleted]
        return json_response([c.to_payload() for c in channels])

    async def get_guild_roles(self, request: web.Request) -> web.StreamResponse:
        guild = self.world.guild(self._id(request, "guild_id"))
        return json_response([r.to_payload() for r in guild.roles.values()])

    async def get_active_threads(self, request: web.Request) -> web.StreamResponse:
        guild_id = self.world.guild(self._id(request, "guild_id")).id
        threads = [
            t for t in self.world.threads.values() if t.guild_id == guild_id and not t.deleted and not t.archived
        ]
        return json_response({"threads": [t.to_payload() for t in threads], "members": []})

    async def get_member(self, request: web.Request) -> web.StreamResponse:
        member = self.world.member(self._id(request, "guild_id"), self._id(request, "user_id"))
        return json_response(member.to_payload())

    # ----------------------------------------------------------------- interactions and webhooks

    async def post_callback(self, request: web.Request) -> web.StreamResponse:
        result = self.world.interaction_callback(
            self._id(request, "interaction_id"),
            request.match_info["token"],
            self._body(request),
            self._files(request),
        )
        if request.query.get("with_response") in ("1", "true", "True"):
            return json_response(result)
        return web.Response(status=204)

    async def post_webhook(self, request: web.Request) -> web.StreamResponse:
        msg = self.world.webhook_execute(
            self._id(request, "app_id"), request.match_info["token"], self._body(request), self._files(request)
        )
        if request.query.get("wait") in ("1", "true", "True"):
            return json_response(self.world.message_payload(msg))
        return web.Response(status=204)

    async def get_webhook_message(self, request: web.Request) -> web.StreamResponse:
        _, msg = self.world.webhook_message(
            self._id(request, "app_id"), request.match_info["token"], request.match_info["message_id"]
        )
        return json_response(self.world.message_payload(msg))

    async def patch_webhook_message(self, request: web.Request) -> web.StreamResponse:
        _, msg = self.world.webhook_message(
            self._id(request, "app_id"), request.match_info["token"], request.match_info["message_id"]
        )
        edited = self.world.edit_message(msg, self._body(request), self._files(request), check_age=False)
        return json_response(self.world.message_payload(edited))

    async def delete_webhook_message(self, request: web.Request) -> web.StreamResponse:
        _, msg = self.world.webhook_message(
            self._id(request, "app_id"), request.match_info["token"], request.match_info["message_id"]
        )
        self.world.delete_message(msg)
        return web.Response(status=204)
