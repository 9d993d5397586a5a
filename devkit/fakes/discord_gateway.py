"""The fake Discord gateway: websocket sessions speaking gateway v10 as JSON text frames.

Each IDENTIFY opens a :class:`GatewaySession` (session id, shard, intents, sequence and a
backlog of sent events). A session outlives its websocket until the client closes with
1000/1001 or the session is invalidated, so a RESUME replays what was missed. Events are
routed per shard with ``(guild_id >> 22) % shard_count`` (guild-less ones to shard 0) and
filtered by intents, including the MESSAGE_CONTENT blanking Discord applies.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from devkit.fakes.discord_models import JSON, PRIVILEGED_INTENTS, Intent, shard_for

if TYPE_CHECKING:
    from devkit.fakes.discord_interactions import InteractionWorld

log = logging.getLogger(__name__)

BACKLOG_LIMIT = 5000
"""Events kept per session for RESUME; resuming from further back invalidates the session."""

DEFAULT_INTENTS = 0b11111111111111111 & ~int(PRIVILEGED_INTENTS)

HEARTBEAT_ACK_DELAY = 0.1
"""Seconds before a HEARTBEAT_ACK goes out: a round trip like Discord's. Answered at once, the ACK can
reach discord.py (before 2.8) before its keep-alive thread records the send time, which it then measures
from the previous heartbeat: "Can't keep up, websocket is 41.3s behind" at every beat."""

_EVENT_INTENTS: dict[str, Intent] = {
    "GUILD_CREATE": Intent.GUILDS,
    "GUILD_UPDATE": Intent.GUILDS,
    "GUILD_DELETE": Intent.GUILDS,
    "CHANNEL_CREATE": Intent.GUILDS,
    "CHANNEL_UPDATE": Intent.GUILDS,
    "CHANNEL_DELETE": Intent.GUILDS,
    "THREAD_CREATE": Intent.GUILDS,
    "THREAD_UPDATE": Intent.GUILDS,
    "THREAD_DELETE": Intent.GUILDS,
    "GUILD_MEMBER_ADD": Intent.GUILD_MEMBERS,
    "GUILD_MEMBER_UPDATE": Intent.GUILD_MEMBERS,
    "GUILD_MEMBER_REMOVE": Intent.GUILD_MEMBERS,
    "MESSAGE_CREATE": Intent.GUILD_MESSAGES,
    "MESSAGE_UPDATE": Intent.GUILD_MESSAGES,
    "MESSAGE_DELETE": Intent.GUILD_MESSAGES,
    "MESSAGE_REACTION_ADD": Intent.GUILD_MESSAGE_REACTIONS,
    "MESSAGE_REACTION_REMOVE": Intent.GUILD_MESSAGE_REACTIONS,
    "TYPING_START": Intent.GUILD_MESSAGE_TYPING,
}


class GatewayConnection:
    """One websocket; frames go out through a queue so their order is the dispatch order."""

    def __init__(self, ws: web.WebSocketResponse, path: str) -> None:
        self.ws = ws
        self.path = path
        self.session: GatewaySession | None = None
        self.closed = asyncio.Event()
        self._queue: asyncio.Queue[str | None] = asyncio.Queue()
        self._writer = asyncio.create_task(self._write(), name="fake-discord-gateway-writer")
        self._later: set[asyncio.TimerHandle] = set()

    def send(self, frame: str) -> None:
        self._queue.put_nowait(frame)

    def send_op(self, op: int, data: Any) -> None:
        self.send(json.dumps({"op": op, "d": data, "s": None, "t": None}))

    def send_op_later(self, delay: float, op: int, data: Any) -> None:
        """`send_op` after `delay` seconds, unless the connection stops first."""
        if delay <= 0:
            self.send_op(op, data)
            return
        handles: list[asyncio.TimerHandle] = []

        def fire() -> None:
            self._later.difference_update(handles)
            if not self.closed.is_set():
                self.send_op(op, data)

        handles.append(asyncio.get_running_loop().call_later(delay, fire))
        self._later.update(handles)

    async def _write(self) -> None:
        while (frame := await self._queue.get()) is not None:
            if self.ws.closed:
                return
            try:
                await self.ws.send_str(frame)
            except (ConnectionError, RuntimeError):
                return

    async def flush_and_close(self, code: int) -> None:
        """Send what is queued, then close with ``code``."""
        self._queue.put_nowait(None)
        await asyncio.wait({self._writer}, timeout=2.0)
        if not self.ws.closed:
            await self.ws.close(code=code)

    async def stop(self) -> None:
        for handle in self._later:
            handle.cancel()
        self._later.clear()
        self._queue.put_nowait(None)
        self._writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._writer


@dataclass
class GatewaySession:
    """A gateway session (survives reconnects until closed cleanly or invalidated)."""

    id: str
    shard_id: int
    shard_count: int
    intents: int
    seq: int = 0
    resumes: int = 0
    backlog: deque[tuple[int, str]] = field(default_factory=lambda: deque(maxlen=BACKLOG_LIMIT))
    conn: GatewayConnection | None = None

    def routes(self, guild_id: int | None) -> bool:
        """Whether an event for ``guild_id`` belongs to this session's shard."""
        if guild_id is None:
            return self.shard_id == 0
        return shard_for(guild_id, self.shard_count) == self.shard_id

    def wants(self, event: str) -> bool:
        needed = _EVENT_INTENTS.get(event)
        return needed is None or bool(self.intents & needed)


class Gateway:
    """Serves ``/gateway`` websockets for a :class:`InteractionWorld` and routes its events."""

    def __init__(
        self,
        world: InteractionWorld,
        *,
        url: Callable[[], str],
        heartbeat_interval_ms: int,
        privileged_intents_allowed: bool,
        heartbeat_ack_delay: float = HEARTBEAT_ACK_DELAY,
    ) -> None:
        self.world = world
        self._url = url
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.heartbeat_ack_delay = heartbeat_ack_delay
        self.privileged_intents_allowed = privileged_intents_allowed
        self.sessions: dict[str, GatewaySession] = {}
        self.connections: set[GatewayConnection] = set()
        self.identifies: list[JSON] = []
        """Every IDENTIFY payload received (token removed), in order."""
        self.resume_count = 0
        self.heartbeats = 0
        self._resume_gate = asyncio.Event()
        self._resume_gate.set()
        self._identify_gate = asyncio.Event()
        self._identify_gate.set()

    # ----------------------------------------------------------------- routing

    def emit(self, event: str, data: JSON, guild_id: int | None) -> None:
        """Send an event to every session of the right shard that subscribed to it."""
        for session in list(self.sessions.values()):
            if session.routes(guild_id) and session.wants(event):
                self._dispatch(session, event, self._filter(session, event, data))

    def _filter(self, session: GatewaySession, event: str, data: JSON) -> JSON:
        """Blank content, embeds, attachments and components without MESSAGE_CONTENT (like Discord)."""
        if event not in ("MESSAGE_CREATE", "MESSAGE_UPDATE") or session.intents & Intent.MESSAGE_CONTENT:
            return data
        bot_id = str(self.world.bot_user.id)
        author_id = str((data.get("author") or {}).get("id"))
        mentioned = any(str(m.get("id")) == bot_id for m in data.get("mentions") or [])
        if author_id == bot_id or mentioned:
            return data
        return {**data, "content": "", "embeds": [], "attachments": [], "components": []}

    def _dispatch(self, session: GatewaySession, event: str, data: JSON) -> None:
        session.seq += 1
        frame = json.dumps({"op": 0, "t": event, "s": session.seq, "d": data})
        session.backlog.append((session.seq, frame))
        if session.conn is not None:
            session.conn.send(frame)

    # ----------------------------------------------------------------- websocket

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        """The websocket endpoint (``/gateway`` and the resume URL)."""
        ws = web.WebSocketResponse(autoping=True, max_msg_size=16 * 1024 * 1024)
        await ws.prepare(request)
        conn = GatewayConnection(ws, request.path)
        self.connections.add(conn)
        conn.send_op(10, {"heartbeat_interval": self.heartbeat_interval_ms})
        try:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    await self._on_payload(conn, json.loads(msg.data))
                elif msg.type is WSMsgType.BINARY:
                    await conn.flush_and_close(4002)
        finally:
            session = conn.session
            if session is not None and session.conn is conn:
                session.conn = None
                if ws.close_code in (1000, 1001):
                    self.sessions.pop(session.id, None)
            await conn.stop()
            self.connections.discard(conn)
            conn.closed.set()
            self.world.changed()
        return ws

    async def _on_payload(self, conn: GatewayConnection, payload: JSON) -> None:
        op = payload.get("op")
        data = payload.get("d")
        if op == 1:
            self.heartbeats += 1
            conn.send_op_later(self.heartbeat_ack_delay, 11, None)
        elif op == 2:
            await self._identify(conn, data or {})
        elif op == 6:
            await self._resume(conn, data or {})
        elif op == 8:
            self._request_members(conn, data or {})
        elif op in (3, 4):
            pass  # presence / voice state: accepted and ignored
        else:
            await conn.flush_and_close(4001)
        self.world.changed()

    async def _identify(self, conn: GatewayConnection, data: JSON) -> None:
        await self._identify_gate.wait()
        if conn.session is not None:
            await conn.flush_and_close(4005)
            return
        if data.get("token") != self.world.token:
            await conn.flush_and_close(4004)
            return
        intents = int(data.get("intents", DEFAULT_INTENTS))
        self.identifies.append({k: v for k, v in data.items() if k != "token"})
        if intents & PRIVILEGED_INTENTS and not self.privileged_intents_allowed:
            await conn.flush_and_close(4014)
            return
        shard_id, shard_count = data.get("shard") or (0, 1)
        if shard_count < 1 or not 0 <= shard_id < shard_count:
            await conn.flush_and_close(4010)
            return
        session = GatewaySession(id=secrets.token_hex(16), shard_id=shard_id, shard_count=shard_count, intents=intents)
        self.sessions[session.id] = session
        session.conn = conn
        conn.session = session
        guilds = [g for g in self.world.guilds.values() if session.routes(g.id)]
        ready: JSON = {
            "v": 10,
            "user": self.world.bot_user.to_payload(),
            "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": self._url() + "/resume",
            "application": {"id": str(self.world.application_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
        }
        if data.get("shard"):
            ready["shard"] = [shard_id, shard_count]
        self._dispatch(session, "READY", ready)
        if session.wants("GUILD_CREATE"):
            for guild in guilds:
                body = self.world.guild_payload(guild, full=True)
                if not session.intents & Intent.GUILD_MEMBERS:
                    # Without GUILD_MEMBERS Discord only sends the bot's own member.
                    bot_id = str(self.world.bot_user.id)
                    body["members"] = [m for m in body["members"] if m["user"]["id"] == bot_id]
                self._dispatch(session, "GUILD_CREATE", body)

    async def _resume(self, conn: GatewayConnection, data: JSON) -> None:
        await self._resume_gate.wait()
        session = self.sessions.get(str(data.get("session_id")))
        seq = int(data.get("seq") or 0)
        if (
            session is None
            or data.get("token") != self.world.token
            or (session.backlog and seq < session.backlog[0][0] - 1)
            or seq > session.seq
        ):
            conn.send_op(9, False)
            return
        old = session.conn
        if old is not None and old is not conn:
            old.session = None
            asyncio.get_running_loop().create_task(old.flush_and_close(4000))
        session.conn = conn
        conn.session = session
        for frame_seq, frame in session.backlog:
            if frame_seq > seq:
                conn.send(frame)
        self._dispatch(session, "RESUMED", {})
        session.resumes += 1
        self.resume_count += 1

    def _request_members(self, conn: GatewayConnection, data: JSON) -> None:
        if conn.session is None:
            return
        guild = self.world.guilds.get(int(data.get("guild_id") or 0))
        if guild is None:
            return
        query = str(data.get("query") or "").lower()
        wanted = {int(u) for u in data.get("user_ids") or []}
        members = [
            m.to_payload()
            for m in guild.members.values()
            if (not wanted or m.user.id in wanted) and m.user.name.lower().startswith(query)
        ]
        limit = int(data.get("limit") or 0)
        if limit:
            members = members[:limit]
        chunk: JSON = {"guild_id": str(guild.id), "members": members, "chunk_index": 0, "chunk_count": 1}
        if data.get("nonce"):
            chunk["nonce"] = data["nonce"]
        self._dispatch(conn.session, "GUILD_MEMBERS_CHUNK", chunk)

    # ----------------------------------------------------------------- test controls

    def _connected(self) -> list[GatewaySession]:
        connected = [s for s in self.sessions.values() if s.conn is not None]
        if not connected:
            raise RuntimeError("no gateway session is connected")
        return connected

    async def force_reconnect(
        self, *, during: Callable[[], Awaitable[None]] | None = None, timeout: float = 10.0
    ) -> None:
        """Send op 7 RECONNECT to every connected session and wait until each has RESUMEd.

        ``during`` runs after the old sockets closed and before any RESUME is answered,
        so whatever it dispatches must reach the client through the RESUME replay.
        """
        sessions = self._connected()
        before = {s.id: s.resumes for s in sessions}
        conns = [s.conn for s in sessions if s.conn is not None]
        self._resume_gate.clear()
        try:
            for conn in conns:
                conn.send_op(7, None)
            async with asyncio.timeout(timeout):
                for conn in conns:
                    await conn.closed.wait()
            if during is not None:
                await during()
        finally:
            self._resume_gate.set()
        await self.world.wait_for(
            lambda: all(s.resumes > before[s.id] for s in sessions), timeout, "the client to RESUME"
        )

    async def invalidate_session(
        self,
        *,
        resumable: bool = False,
        during: Callable[[], Awaitable[None]] | None = None,
        timeout: float = 10.0,
    ) -> None:
        """Send op 9 INVALID_SESSION; wait for the RESUME (``resumable``) or a new IDENTIFY.

        ``during`` runs once the sessions are gone and before any new IDENTIFY is answered: what it
        dispatches reaches no session (Discord replays nothing to a new one), so only reading the
        channel's history finds it."""
        sessions = self._connected()
        before_resumes = {s.id: s.resumes for s in sessions}
        before_identifies = len(self.identifies)
        if during is not None:
            self._identify_gate.clear()
        try:
            for session in sessions:
                if session.conn is not None:
                    session.conn.send_op(9, resumable)
                if not resumable:
                    self.sessions.pop(session.id, None)
            if during is not None:
                await during()
        finally:
            self._identify_gate.set()
        if resumable:
            await self.world.wait_for(
                lambda: all(s.resumes > before_resumes[s.id] for s in sessions), timeout, "the client to RESUME"
            )
        else:
            await self.world.wait_for(
                lambda: len(self.identifies) >= before_identifies + len(sessions), timeout, "a new IDENTIFY"
            )

    async def close(self) -> None:
        """Close every websocket (1001 going away)."""
        self._resume_gate.set()
        self._identify_gate.set()
        for conn in list(self.connections):
            await conn.flush_and_close(1001)
