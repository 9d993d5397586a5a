"""The playground's web page and its API: a small Discord client for the fake Discord.

The page (``static/``) reads the fake's state over one websocket (``/api/ws``: a snapshot,
then every change) and acts as a user through JSON calls that go to the same test-driving
API the end-to-end tests use (``send_message``, ``slash``, ``press_button``…), so the bot
sees exactly what it would see from Discord. Every id crosses as a string: snowflakes do not
fit in a JavaScript number.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import weakref
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from aiohttp import BodyPartReader, WSCloseCode, WSMsgType, web

from devkit.fakes.discord import FakeDiscord, FakeInteraction, FakeThread, FakeUser, StoredMessage
from devkit.fakes.discord_models import ChannelType, DiscordAPIError, MessageFlag

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).with_name("static")
MAX_UPLOAD_BYTES = 100 * 1024 * 1024
"""Largest file the page may attach (the fake CDN keeps files in memory)."""
NO_RESPONSE_SECONDS = 3.0
"""Discord shows "The application did not respond" when an interaction is not answered in 3 s."""
SEND_TIMEOUT = 5.0

JSON = dict[str, Any]
_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

BACKENDS: dict[str, JSON] = {
    "local": {
        "label": "local engine",
        "note": "",
        "detail": "Cutaway's own backend on this machine: it really edits and renders your clips",
    },
    "fake": {
        "label": "scripted fake",
        "note": "exports are a sample clip",
        "detail": "offline and scripted: replies are canned, and every export is the same short sample clip",
    },
    "real": {
        "label": "NemoVideo service",
        "note": "real renders, real credits",
        "detail": "the hosted NemoVideo API: edits and exports are real and spend the account's credits",
    },
}
"""What the page's badge says for each backend the runner can start."""


def backend_info(kind: str) -> JSON:
    known = BACKENDS.get(kind, {"label": kind, "note": "", "detail": ""})
    return {"kind": kind, **known}


class BadRequest(Exception):
    """A user action the fake refused; its text is shown on the page."""


def _sid(value: int | None) -> str | None:
    return None if value is None else str(value)


def _int(body: Mapping[str, Any], key: str) -> int:
    try:
        return int(body[key])
    except (KeyError, TypeError, ValueError):
        raise BadRequest(f"{key} is missing or not an id") from None


def _fingerprint(msg: StoredMessage) -> tuple[Any, ...]:
    """What a reader can see change on a message (signed URLs excluded: they change every second)."""
    return (
        msg.deleted,
        msg.flags,
        msg.content,
        json.dumps(msg.embeds, sort_keys=True, default=str),
        json.dumps(msg.components, sort_keys=True, default=str),
        tuple(str(a.get("id")) for a in msg.attachments),
        tuple(sorted(msg.reactions)),
        tuple(sorted((e, tuple(sorted(u))) for e, u in msg.user_reactions.items())),
        len(msg.edits),
        msg.edited_at,
        msg.pinned,
    )


class PlaygroundServer:
    """Serves the page on 127.0.0.1 and bridges it to one running :class:`FakeDiscord`."""

    def __init__(
        self, discord: FakeDiscord, *, port: int = 0, backend: str = "fake", max_upload_bytes: int = MAX_UPLOAD_BYTES
    ) -> None:
        self.discord = discord
        self.backend = backend
        self.max_upload_bytes = max_upload_bytes
        self._port = port
        self._runner: web.AppRunner | None = None
        self._sockets: weakref.WeakSet[web.WebSocketResponse] = weakref.WeakSet()
        self._dirty = asyncio.Event()
        self._pump: asyncio.Task[None] | None = None
        self._remove_listener: Callable[[], None] | None = None
        self._seen: dict[int, tuple[Any, ...]] = {}
        self._world_json = ""
        self._typing_seen = 0
        self._modals_sent: set[int] = set()
        self._watched: dict[int, float] = {}
        """Interactions the page started and the loop time they were made (for "did not respond")."""
        self._timers: set[asyncio.TimerHandle] = set()
        self.url = ""

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> str:
        """Bind 127.0.0.1 (an ephemeral port unless one was given); returns the page's URL."""
        if self._runner is not None:
            raise RuntimeError("already started")
        app = web.Application(middlewares=[self._errors], client_max_size=self.max_upload_bytes + 1024 * 1024)
        app.router.add_get("/", self._index)
        app.router.add_static("/static/", STATIC_DIR, show_index=False, follow_symlinks=False)
        app.router.add_get("/api/state", self._state)
        app.router.add_get("/api/ws", self._websocket)
        app.router.add_post("/api/attachments", self._attachments)
        app.router.add_post("/api/messages", self._message)
        app.router.add_post("/api/forum-posts", self._forum_post)
        app.router.add_post("/api/slash", self._slash)
        app.router.add_post("/api/components", self._component)
        app.router.add_post("/api/modals", self._modal)
        app.router.add_post("/api/reactions", self._reaction)
        runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        try:
            await web.TCPSite(runner, "127.0.0.1", self._port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._port = runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{self._port}/"
        self._note_seen()
        self._remove_listener = self.discord.add_change_listener(self._dirty.set)
        self._pump = asyncio.create_task(self._push_changes(), name="playground-push")
        return self.url

    async def close(self) -> None:
        """Stop pushing, close every page's websocket, stop serving."""
        if self._remove_listener is not None:
            self._remove_listener()
            self._remove_listener = None
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        if self._pump is not None:
            self._pump.cancel()
            await asyncio.gather(self._pump, return_exceptions=True)
            self._pump = None
        for ws in list(self._sockets):
            with contextlib.suppress(Exception):
                async with asyncio.timeout(SEND_TIMEOUT):
                    await ws.close(code=WSCloseCode.GOING_AWAY, message=b"playground stopped")
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def port(self) -> int:
        return self._port

    # ----------------------------------------------------------------- views

    def _user_view(self, user: FakeUser) -> JSON:
        return {"id": str(user.id), "name": user.global_name or user.name, "bot": user.bot}

    def world(self) -> JSON:
        """Everything but the messages: guild, people, channels, threads and the synced commands."""
        fake = self.discord
        guild = fake.guilds[fake.guild_id]
        channels = []
        for channel in sorted(fake.channels.values(), key=lambda c: c.position):
            if channel.deleted or channel.guild_id != guild.id:
                continue
            kind = "forum" if channel.type == ChannelType.FORUM else "text"
            channels.append(
                {
                    "id": str(channel.id),
                    "name": channel.name,
                    "type": kind,
                    "tags": [t.name for t in channel.available_tags],
                }
            )
        threads = [
            self._thread_view(t)
            for t in sorted(fake.threads.values(), key=lambda t: t.id)
            if not t.deleted and t.guild_id == guild.id
        ]
        commands: dict[str, JSON] = {}
        for command in [*fake.commands, *fake.guild_commands.get(guild.id, [])]:
            if command.get("type", 1) == 1:
                commands[command["name"]] = command  # guild commands win, as in Discord
        return {
            "guild": {"id": str(guild.id), "name": guild.name},
            "bot": self._user_view(fake.bot_user),
            "users": [self._user_view(u) for u in fake.users.values() if u.id in guild.members and not u.bot],
            "channels": channels,
            "threads": threads,
            "commands": sorted(commands.values(), key=lambda c: str(c["name"])),
            "backend": self.backend,
            "backend_info": backend_info(self.backend),
            "default_channel_id": str(fake.text_channel_id),
        }

    def _thread_view(self, thread: FakeThread) -> JSON:
        """No message count: it would make every message a world change (the page counts itself)."""
        parent = self.discord.channels.get(thread.parent_id)
        tags = {t.id: t.name for t in parent.available_tags} if parent else {}
        return {
            "id": str(thread.id),
            "name": thread.name,
            "parent_id": str(thread.parent_id),
            "owner_id": str(thread.owner_id),
            "archived": thread.archived,
            "locked": thread.locked,
            "tags": [tags[t] for t in thread.applied_tags if t in tags],
        }

    def message_view(self, msg: StoredMessage) -> JSON:
        """A message as the page draws it (attachment URLs freshly signed by the fake CDN)."""
        fake = self.discord
        attachments = []
        for att in msg.attachments:
            file = fake.cdn.files.get(int(att["id"]))
            url = fake.cdn.url_for(file, channel_id=msg.channel_id) if file else att.get("url")
            attachments.append(
                {
                    "id": str(att["id"]),
                    "filename": att.get("filename"),
                    "size": att.get("size"),
                    "content_type": att.get("content_type"),
                    "url": url,
                }
            )
        reactions = []
        for emoji in dict.fromkeys([*msg.reactions, *msg.user_reactions]):
            users = [str(u) for u in sorted(msg.user_reactions.get(emoji, set()))]
            me = emoji in msg.reactions
            if users or me:
                reactions.append({"emoji": emoji, "count": len(users) + int(me), "users": users, "bot": me})
        interaction = None
        if msg.interaction_metadata is not None:
            meta = msg.interaction_metadata
            inter = fake.interactions.get(int(meta.get("id", 0)))
            user = meta.get("user") or {}
            interaction = {
                "id": str(meta.get("id")),
                "type": meta.get("type"),
                "user": user.get("global_name") or user.get("username"),
                "command": inter.data.get("name") if inter is not None and inter.type == 2 else None,
            }
        thread = fake.threads.get(msg.id)
        reference = msg.message_reference or {}
        return {
            "id": str(msg.id),
            "channel_id": str(msg.channel_id),
            "author": self._user_view(msg.author),
            "content": msg.content,
            "embeds": msg.embeds,
            "components": msg.components,
            "attachments": attachments,
            "reactions": reactions,
            "created_at": int(msg.created_at * 1000),
            "edited_at": int(msg.edited_at * 1000) if msg.edited_at is not None else None,
            "edits": len(msg.edits),
            "ephemeral_for": _sid(msg.ephemeral_for),
            "suppress_embeds": bool(msg.flags & MessageFlag.SUPPRESS_EMBEDS),
            "loading": msg.loading,
            "type": msg.type,
            "webhook": msg.webhook_id is not None,
            "interaction": interaction,
            "reference_id": _sid(int(reference["message_id"])) if reference.get("message_id") else None,
            "thread": (
                {"id": str(thread.id), "name": thread.name}
                if thread is not None and thread.parent_id == msg.channel_id and not thread.deleted
                else None
            ),
        }

    def snapshot(self) -> JSON:
        """The world plus every live message: what a page gets when it connects."""
        messages = [self.message_view(m) for m in self.discord.all_messages() if not m.deleted]
        return {"type": "hello", "world": self.world(), "messages": messages}

    # ----------------------------------------------------------------- change pump

    def _note_seen(self) -> None:
        self._seen = {m.id: _fingerprint(m) for m in self.discord.all_messages()}
        self._world_json = json.dumps(self.world(), sort_keys=True, default=str)
        self._typing_seen = len(self.discord.typing_calls)

    def changes(self) -> list[JSON]:
        """Everything that changed since the last call, as the events the page applies."""
        fake = self.discord
        events: list[JSON] = []
        world = self.world()
        world_json = json.dumps(world, sort_keys=True, default=str)
        if world_json != self._world_json:
            self._world_json = world_json
            events.append({"type": "world", "world": world})
        for msg in fake.all_messages():
            fingerprint = _fingerprint(msg)
            if self._seen.get(msg.id) == fingerprint:
                continue
            known = msg.id in self._seen
            self._seen[msg.id] = fingerprint
            if msg.deleted:
                if known:
                    events.append({"type": "delete", "id": str(msg.id), "channel_id": str(msg.channel_id)})
            else:
                events.append({"type": "message", "message": self.message_view(msg)})
        typing = fake.typing_calls[self._typing_seen :]
        self._typing_seen = len(fake.typing_calls)
        for channel_id in dict.fromkeys(typing):
            events.append({"type": "typing", "channel_id": str(channel_id), "user": self._user_view(fake.bot_user)})
        events.extend(self._interaction_events())
        return events

    def _interaction_events(self) -> list[JSON]:
        events: list[JSON] = []
        now = asyncio.get_running_loop().time()
        for inter_id, started in list(self._watched.items()):
            inter = self.discord.interactions[inter_id]
            modal = next((r.data for r in inter.responses if r.type == 9), None)
            if modal is not None and inter_id not in self._modals_sent:
                self._modals_sent.add(inter_id)
                events.append(
                    {"type": "modal", "interaction_id": str(inter_id), "user_id": str(inter.user.id), "modal": modal}
                )
            if inter.responses:
                del self._watched[inter_id]
            elif now - started >= NO_RESPONSE_SECONDS:
                del self._watched[inter_id]
                events.append(
                    {
                        "type": "no_response",
                        "interaction_id": str(inter_id),
                        "channel_id": str(inter.channel_id),
                        "user_id": str(inter.user.id),
                    }
                )
        return events

    async def _push_changes(self) -> None:
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            try:
                events = self.changes()
            except Exception:
                log.exception("playground: could not compute changes")
                continue
            if events:
                await self._broadcast({"type": "batch", "events": events})

    async def _broadcast(self, payload: JSON) -> None:
        text = json.dumps(payload, default=str)
        for ws in list(self._sockets):
            try:
                async with asyncio.timeout(SEND_TIMEOUT):
                    await ws.send_str(text)
            except (ConnectionError, TimeoutError, RuntimeError):
                self._sockets.discard(ws)

    def _watch(self, inter: FakeInteraction) -> None:
        """Re-check this interaction once Discord would have given up on it."""
        loop = asyncio.get_running_loop()
        self._watched[inter.id] = loop.time()
        handles: list[asyncio.TimerHandle] = []

        def fire() -> None:
            self._timers.difference_update(handles)
            self._dirty.set()

        handles.append(loop.call_later(NO_RESPONSE_SECONDS + 0.05, fire))
        self._timers.update(handles)

    # ----------------------------------------------------------------- HTTP plumbing

    @web.middleware
    async def _errors(self, request: web.Request, handler: _Handler) -> web.StreamResponse:
        """The fake's refusals become 400s with a readable message for the page."""
        try:
            return await handler(request)
        except (BadRequest, ValueError, LookupError) as exc:
            message = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
            return web.json_response({"error": message or type(exc).__name__}, status=400)
        except DiscordAPIError as exc:
            return web.json_response({"error": f"Discord refused: {exc.message} ({exc.code})"}, status=400)

    async def _index(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-store"})

    async def _state(self, request: web.Request) -> web.Response:
        return web.json_response(self.snapshot())

    async def _body(self, request: web.Request) -> JSON:
        try:
            body = await request.json()
        except ValueError:
            raise BadRequest("expected a JSON body") from None
        if not isinstance(body, dict):
            raise BadRequest("expected a JSON object")
        return body

    def _user(self, body: Mapping[str, Any]) -> FakeUser:
        raw = body.get("user")
        if raw is None:
            return self.discord.users["alice"]
        try:
            return self.discord.user(int(raw))
        except (TypeError, ValueError, DiscordAPIError):
            raise BadRequest(f"unknown user {raw!r}") from None

    def _attachments_of(self, body: Mapping[str, Any]) -> list[JSON]:
        ids = body.get("attachments") or []
        if not isinstance(ids, list):
            raise BadRequest("attachments must be a list of ids")
        result = []
        for raw in ids:
            try:
                file = self.discord.cdn.files[int(raw)]
            except (KeyError, TypeError, ValueError):
                raise BadRequest(f"unknown attachment {raw!r}") from None
            result.append(
                {"id": str(file.id), "filename": file.filename, "size": file.size, "content_type": file.content_type}
            )
        return result

    # ----------------------------------------------------------------- websocket

    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=20.0)
        await ws.prepare(request)
        self._sockets.add(ws)
        try:
            await ws.send_str(json.dumps(self.snapshot(), default=str))
            async for msg in ws:  # the page only listens; anything it sends is ignored
                if msg.type == WSMsgType.ERROR:
                    break
        finally:
            self._sockets.discard(ws)
        return ws

    # ----------------------------------------------------------------- user actions

    async def _attachments(self, request: web.Request) -> web.Response:
        """Files dropped on the page go to the fake CDN, ready to be attached to a message."""
        if not request.content_type.startswith("multipart/"):
            raise BadRequest("expected multipart/form-data")
        reader = await request.multipart()
        created: list[JSON] = []
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader) or not part.filename:
                continue
            data = bytearray()
            while chunk := await part.read_chunk(256 * 1024):
                data.extend(chunk)
                if len(data) > self.max_upload_bytes:
                    raise BadRequest(f"{part.filename} is over the playground's {self.max_upload_bytes // 2**20} MB")
            content_type = part.headers.get("Content-Type")
            if content_type in (None, "application/octet-stream"):
                content_type = None
            name = Path(part.filename.replace("\\", "/")).name or "file"
            att = self.discord.add_attachment(name, bytes(data), content_type=content_type)
            created.append(
                {
                    "id": str(att["id"]),
                    "filename": att["filename"],
                    "size": att["size"],
                    "content_type": att.get("content_type"),
                    "url": att["url"],
                }
            )
        if not created:
            raise BadRequest("no file in the upload")
        return web.json_response({"attachments": created})

    async def _message(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        channel_id = _int(body, "channel_id")
        content = str(body.get("content") or "")
        attachments = self._attachments_of(body)
        if not content.strip() and not attachments:
            raise BadRequest("write something or attach a file")
        msg = await self.discord.send_message(channel_id, content, self._user(body), attachments=attachments)
        return web.json_response({"message": self.message_view(msg)})

    async def _forum_post(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        forum_id = _int(body, "forum_id")
        title = str(body.get("title") or "").strip()
        if not title:
            raise BadRequest("a forum post needs a title")
        tags = body.get("tags") or []
        thread, starter = await self.discord.create_forum_post(
            forum_id,
            title[:100],
            str(body.get("content") or ""),
            self._user(body),
            attachments=self._attachments_of(body),
            tags=[str(t) for t in tags],
        )
        return web.json_response({"thread_id": str(thread.id), "message": self.message_view(starter)})

    async def _slash(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        name = str(body.get("command") or "").strip().lstrip("/")
        if not name:
            raise BadRequest("which command?")
        options = body.get("options") or {}
        if not isinstance(options, dict):
            raise BadRequest("options must be an object")
        inter = await self.discord.slash(
            _int(body, "channel_id"), name, options, user=self._user(body), locale=str(body.get("locale") or "en-US")
        )
        self._watch(inter)
        return web.json_response({"interaction_id": str(inter.id)})

    async def _component(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        values = body.get("values")
        if values is not None and not isinstance(values, list):
            raise BadRequest("values must be a list")
        inter = await self.discord.use_component(
            _int(body, "message_id"),
            str(body.get("custom_id") or ""),
            [str(v) for v in values] if values is not None else None,
            user=self._user(body),
            locale=str(body.get("locale") or "en-US"),
        )
        self._watch(inter)
        return web.json_response({"interaction_id": str(inter.id)})

    async def _modal(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        inter = self.discord.interactions.get(_int(body, "interaction_id"))
        if inter is None:
            raise BadRequest("unknown interaction")
        values = body.get("values") or {}
        if not isinstance(values, dict):
            raise BadRequest("values must be an object")
        submitted = await self.discord.submit_modal(
            inter, {str(k): v for k, v in values.items()}, locale=str(body.get("locale") or "en-US")
        )
        self._watch(submitted)
        return web.json_response({"interaction_id": str(submitted.id)})

    async def _reaction(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        msg = self.discord.message(_int(body, "message_id"))
        emoji = str(body.get("emoji") or "")
        if not emoji:
            raise BadRequest("which emoji?")
        user = self._user(body)
        if user.id in msg.user_reactions.get(emoji, set()):
            self.discord.remove_reaction(msg, emoji, user)
        else:
            await self.discord.react(msg, emoji, user)
        return web.json_response({"ok": True})
