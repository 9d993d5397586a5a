"""Child process: the fake Discord and/or the fake NemoVideo, driven by JSON-lines commands.

`python -m bench._fakes` is started by the benchmarks (never by hand). Keeping the fakes out
of the bot's process means the bot's CPU time and memory are its own.
"""

from __future__ import annotations

import asyncio
import secrets
import sys
import time
from contextlib import AsyncExitStack
from typing import Any

from bench._common import APPLICATION_ID, BOT_USER_ID, JSON, NEMO_TOKEN, TOKEN, TimedList, serve_commands
from devkit.fakes.discord import FakeDiscord, FakeThread, FakeUser
from devkit.fakes.discord_ratelimits import RateLimits
from devkit.fakes.nemo import FakeNemo, Heartbeat, Pause, Session, Step, Text, ToolCall


class Fakes:
    """Command handlers; state lives here between commands."""

    def __init__(self) -> None:
        self.stack = AsyncExitStack()
        self.discord: FakeDiscord | None = None
        self.nemo: FakeNemo | None = None
        self.threads: list[FakeThread] = []
        self.users: list[FakeUser] = []
        self.sessions: list[str] = []

    def handlers(self) -> dict[str, Any]:
        return {name[4:]: getattr(self, name) for name in dir(self) if name.startswith("cmd_")}

    # ----------------------------------------------------------------- common

    async def cmd_start(self, args: JSON) -> JSON:
        out: JSON = {}
        if args.get("discord"):
            # Discord's per-channel limits as headers and 429s: discord.py paces the bot as on Discord.
            limits = RateLimits() if args.get("rate_limits") else None
            self.discord = FakeDiscord(
                token=TOKEN, bot_user_id=BOT_USER_ID, application_id=APPLICATION_ID, rate_limits=limits
            )
            self.discord.requests = TimedList()
            await self.stack.enter_async_context(self.discord)
            out.update(
                api_base=self.discord.api_base,
                guild_id=self.discord.guild_id,
                text_channel_id=self.discord.text_channel_id,
            )
        if args.get("nemo"):
            self.nemo = FakeNemo(registered_tokens={NEMO_TOKEN: 10**9})
            await self.stack.enter_async_context(self.nemo)
            out.update(nemo_base=self.nemo.base_url)
        return out

    async def cmd_cpu(self, args: JSON) -> JSON:
        return {"cpu": time.process_time()}

    # ----------------------------------------------------------------- upload

    async def cmd_add_attachment(self, args: JSON) -> JSON:
        assert self.discord is not None
        return self.discord.add_attachment(args["name"], size=int(args["size"]), content_type=args["content_type"])

    async def cmd_last_upload(self, args: JSON) -> JSON:
        assert self.nemo is not None
        if not self.nemo.uploads:
            return {"size": 0, "sha256": ""}
        record = self.nemo.uploads[-1]
        return {
            "size": record.size,
            "sha256": record.sha256,
            "filename": record.filename,
            "uploads": len(self.nemo.uploads),
        }

    # ----------------------------------------------------------------- fan-out

    async def cmd_setup_threads(self, args: JSON) -> JSON:
        """N users, N threads (one each), N backend sessions owned by the registered account."""
        assert self.discord is not None and self.nemo is not None
        fake, nemo = self.discord, self.nemo
        account = nemo.tokens[NEMO_TOKEN].account
        out = []
        for i in range(int(args["n"])):
            user = fake.add_user(f"user{i}")
            thread = await fake.create_user_thread(fake.text_channel_id, f"project {i}", author=user)
            session = Session(
                session_id=str(10**18 + secrets.randbelow(8 * 10**18)),
                task_id=f"task_{secrets.token_hex(8)}",
                user_id=account.user_id,
            )
            nemo.sessions[session.session_id] = session
            self.users.append(user)
            self.threads.append(thread)
            self.sessions.append(session.session_id)
            out.append({"thread_id": thread.id, "session_id": session.session_id, "owner_id": user.id})
        return {"threads": out, "guild_id": fake.guild_id, "parent_id": fake.text_channel_id}

    async def cmd_wait_bot(self, args: JSON) -> JSON:
        assert self.discord is not None
        await self.discord.wait_until_ready(timeout=float(args.get("timeout", 30)))
        return {"ok": True}

    async def cmd_send(self, args: JSON) -> JSON:
        """Script every session's turn, then post one message in every thread (spread over `ramp`)."""
        assert self.discord is not None and self.nemo is not None
        steps = turn_script(float(args["duration"]), float(args["keepalive"]), float(args["text_every"]))
        for session_id in self.sessions:
            self.nemo.script_turn(steps, session_id=session_id)
        ramp = float(args.get("ramp", 0.0))
        started = time.monotonic()
        sent: dict[str, float] = {}
        if not args.get("post", True):  # the bare baseline starts the turns itself
            return {"sent_at": started, "sent": sent, "send_seconds": 0.0}
        for i, (user, thread) in enumerate(zip(self.users, self.threads, strict=True)):
            delay = started + ramp * i / len(self.threads) - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)  # spread the messages evenly over the ramp
            sent[str(thread.id)] = time.monotonic()
            await self.discord.send_message(thread.id, "make the music match the mood", author=user)
        return {
            "sent_at": started,
            "sent": sent,
            "send_seconds": time.monotonic() - started,
            "events_per_turn": sum(1 for s in steps if not isinstance(s, Pause)),
            "texts_per_turn": sum(1 for s in steps if isinstance(s, Text)),
        }

    async def cmd_report(self, args: JSON) -> JSON:
        """The bot's Discord calls since `send`, per thread, with their times."""
        assert self.discord is not None and self.nemo is not None
        requests = self.discord.requests
        times = requests.times if isinstance(requests, TimedList) else [0.0] * len(requests)
        since = float(args["since"])
        per_thread: dict[int, dict[str, list[float]]] = {}
        all_times: list[float] = []
        for record, at in zip(requests, times, strict=True):
            if at < since:
                continue
            all_times.append(at)
            channel = _channel_of(record.path)
            kind = _kind(record.method, record.path, record.json)
            per_thread.setdefault(channel, {}).setdefault(kind, []).append(at)
        turns = [t for t in self.nemo.turns if t.session_id in set(self.sessions)]
        ours = {t.id for t in self.threads}
        return {
            "per_thread": {str(k): v for k, v in per_thread.items() if k in ours},
            "all_times": all_times,
            "turns": len(turns),
            "turn_status": sorted({t.status for t in turns}),
            "events_sent": sum(t.events_sent for t in turns),
            "rate_limited": self.discord.rest.rate_limits.limited if self.discord.rest.rate_limits else None,
            "cpu": time.process_time(),
        }


def _channel_of(path: str) -> int:
    parts = path.split("/")
    return int(parts[2]) if len(parts) > 2 and parts[1] == "channels" and parts[2].isdigit() else 0


def _kind(method: str, path: str, body: object) -> str:
    """Classify a bot request the way `bench._fanout_bot` does on the bot's side."""
    content = str(body.get("content") or "") if isinstance(body, dict) else ""
    if method == "POST" and path.endswith("/messages"):
        return "status_done" if content.startswith("✅") else "status_open" if content.startswith("⏳") else "post"
    if method == "PATCH" and "/messages/" in path:
        return "status_done" if content.startswith("✅") else "status_edit" if content.startswith("⏳") else "edit"
    if path.endswith("/typing"):
        return "typing"
    return f"{method} other"


def turn_script(duration: float, keepalive: float, text_every: float) -> list[Step]:
    """One busy turn: a tool call, a keep-alive every `keepalive` s, a reply every `text_every` s."""
    steps: list[Step] = [ToolCall("generate_music", {"mood": "calm"}), Text("On it: listening to your clips.")]
    elapsed = 0.0
    next_text = text_every
    while elapsed + keepalive <= duration + 1e-9:
        steps.append(Pause(keepalive))
        elapsed += keepalive
        if elapsed + 1e-9 >= next_text:
            steps.append(Text(f"Progress: {elapsed:.1f}s in, still mixing the music."))
            next_text += text_every
        else:
            steps.append(Heartbeat("json"))
    steps.append(Text("All done: music added under the whole timeline."))
    return steps


async def main() -> None:
    fakes = Fakes()
    async with fakes.stack:
        await serve_commands(fakes.handlers())


if __name__ == "__main__":
    asyncio.run(main())
    sys.exit(0)
