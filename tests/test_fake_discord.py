"""The fake Discord against the real discord.py 2.7.1 client (and a few raw protocol checks).

Every bot test runs an unmodified ``discord.ext.commands.Bot`` whose REST base and
gateway URL point at the fake, so these tests prove the fake is faithful enough for the
end-to-end suite built on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import discord
import pytest
import yarl
from discord import app_commands
from discord.ext import commands

from devkit.fakes.discord import FakeDiscord, StoredMessage
from devkit.fakes.discord_cdn import CHUNK_SIZE
from devkit.fakes.discord_ratelimits import RateLimits, default_rules

pytestmark = pytest.mark.e2e  # starts the bot, a fake server or a subprocess

TOKEN = "test-token"
BotFactory = Callable[..., Awaitable[commands.Bot]]


def default_intents() -> discord.Intents:
    intents = discord.Intents.none()
    intents.guilds = True
    intents.guild_messages = True
    intents.message_content = True
    return intents


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(token=TOKEN) as server:
        yield server


@pytest.fixture
async def discord_at_fake(fake: FakeDiscord) -> AsyncIterator[None]:
    """Point discord.py at the fake the way the bot does (``GET /gateway``), then restore."""
    old_base = discord.http.Route.BASE
    old_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    async with aiohttp.ClientSession() as session, session.get(f"{fake.api_base}/gateway") as resp:
        url = (await resp.json())["url"]
    discord.http.Route.BASE = fake.api_base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(url)
    try:
        yield
    finally:
        discord.http.Route.BASE = old_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gateway


@pytest.fixture
async def start_bot(discord_at_fake: None) -> AsyncIterator[BotFactory]:
    """Start bots (built by the test) until on_ready; close them all afterwards."""
    running: list[tuple[commands.Bot, asyncio.Task[None]]] = []

    async def start(bot: commands.Bot, token: str = TOKEN) -> commands.Bot:
        ready = asyncio.Event()

        async def on_ready() -> None:
            ready.set()

        bot.add_listener(on_ready, "on_ready")
        task = asyncio.create_task(bot.start(token))
        running.append((bot, task))
        waiter = asyncio.create_task(ready.wait())
        done, _ = await asyncio.wait({task, waiter}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            waiter.cancel()
            task.result()  # raise the start-up error
        assert waiter in done, "bot did not become ready"
        return bot

    yield start
    for bot, task in running:
        await bot.close()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(5):
                await task


def make_bot(intents: discord.Intents | None = None, **options: Any) -> commands.Bot:
    return commands.Bot(
        command_prefix="!", intents=intents or default_intents(), guild_ready_timeout=0.1, help_command=None, **options
    )


async def stream_sha256(url: str) -> tuple[str, int, int]:
    """Download with our own session, chunk by chunk: (sha256, bytes read, Content-Length)."""
    digest = hashlib.sha256()
    total = 0
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        resp.raise_for_status()
        async for chunk in resp.content.iter_chunked(CHUNK_SIZE):
            digest.update(chunk)
            total += len(chunk)
        return digest.hexdigest(), total, int(resp.headers["Content-Length"])


# --------------------------------------------------------------------------- login and gateway


async def test_bot_logs_in_and_caches_the_guild(fake: FakeDiscord, start_bot: BotFactory) -> None:
    bot = await start_bot(make_bot())

    assert bot.user is not None and bot.user.id == fake.bot_user_id
    assert bot.application_id == fake.application_id
    guild = bot.get_guild(fake.guild_id)
    assert guild is not None and guild.name == "Cutaway Test"
    assert isinstance(guild.get_channel(fake.text_channel_id), discord.TextChannel)
    forum = guild.get_channel(fake.forum_channel_id)
    assert isinstance(forum, discord.ForumChannel)
    assert sorted(t.name for t in forum.available_tags) == ["done", "rendering"]
    assert guild.me is not None and guild.me.id == fake.bot_user_id
    assert fake.identifies[0]["intents"] == default_intents().value
    assert fake.unhandled == []


async def test_rest_json_is_exactly_application_json_and_bad_token_is_rejected(
    fake: FakeDiscord, start_bot: BotFactory
) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{fake.api_base}/users/@me", headers={"Authorization": f"Bot {TOKEN}"}) as resp:
            assert resp.headers["Content-Type"] == "application/json"
            assert (await resp.json())["id"] == str(fake.bot_user_id)
        async with session.get(f"{fake.api_base}/nope/route") as resp:
            assert resp.status == 404
            assert await resp.json() == {"message": "404: Not Found", "code": 0}
    assert fake.unhandled == [("GET", "/api/v10/nope/route")]

    with pytest.raises(discord.LoginFailure):
        await start_bot(make_bot(), token="wrong-token")


async def test_privileged_intent_refused_with_4014(discord_at_fake: None, start_bot: BotFactory) -> None:
    # A separate fake that refuses privileged intents; point discord.py at it for this test.
    async with FakeDiscord(token=TOKEN, privileged_intents_allowed=False) as strict:
        discord.http.Route.BASE = strict.api_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(strict.gateway_url)
        with pytest.raises(discord.PrivilegedIntentsRequired):
            await start_bot(make_bot())


async def test_force_reconnect_resumes_and_replays_missed_events(fake: FakeDiscord, start_bot: BotFactory) -> None:
    bot = await start_bot(make_bot())
    resumed = asyncio.Event()

    async def on_resumed() -> None:
        resumed.set()

    bot.add_listener(on_resumed, "on_resumed")
    waiter = asyncio.create_task(bot.wait_for("message", check=lambda m: m.content == "sent while away", timeout=5))

    async def while_disconnected() -> None:
        assert all(s.conn is None for s in fake.sessions)
        await fake.send_message(fake.text_channel_id, "sent while away")

    await fake.force_reconnect(during=while_disconnected)
    message = await waiter
    assert message.author.id == fake.users["alice"].id
    async with asyncio.timeout(5):
        await resumed.wait()
    assert fake.gateway.resume_count == 1
    assert len(fake.identifies) == 1, "a RESUME, not a new IDENTIFY"

    async def identify_at_once(shard_id: int | None, *, initial: bool = False) -> None:
        """discord.py sleeps 5 s before every re-IDENTIFY; not needed against the fake."""

    bot.before_identify_hook = identify_at_once  # type: ignore[method-assign]
    await fake.invalidate_session()
    assert len(fake.identifies) == 2
    again = asyncio.create_task(bot.wait_for("message", check=lambda m: m.content == "after", timeout=5))
    await fake.wait_until_ready()
    await fake.send_message(fake.text_channel_id, "after")
    assert (await again).content == "after"


async def test_events_are_routed_by_shard_and_filtered_by_intents(fake: FakeDiscord) -> None:
    """Raw gateway clients: IDENTIFY with ``shard``, events follow (guild_id >> 22) % count."""
    other = fake.add_guild("Second", shard=(1, 2))
    first = fake.add_guild("First", shard=(0, 2))
    chan0 = fake.add_text_channel("zero", guild_id=first.id)
    chan1 = fake.add_text_channel("one", guild_id=other.id)
    received: dict[int, list[dict[str, Any]]] = {0: [], 1: []}

    async with aiohttp.ClientSession() as session:
        sockets = []
        for shard in (0, 1):
            ws = await session.ws_connect(fake.gateway_url + "?v=10&encoding=json&compress=zlib-stream")
            hello = await ws.receive_json(timeout=5)
            assert hello["op"] == 10
            intents = int(discord.Intents(guilds=True, guild_messages=True).value)  # no message content
            await ws.send_json({"op": 2, "d": {"token": TOKEN, "intents": intents, "shard": [shard, 2]}})
            sockets.append(ws)

        async def collect(shard: int, ws: aiohttp.ClientWebSocketResponse, until: str) -> None:
            async with asyncio.timeout(5):
                while True:
                    frame = await ws.receive_json()
                    received[shard].append(frame)
                    if frame.get("t") == "MESSAGE_CREATE" and frame["d"]["channel_id"] == until:
                        return

        await fake.wait_until_ready(count=2)
        await fake.send_message(chan0.id, "to shard zero")
        await fake.send_message(chan1.id, f"to shard one {fake.bot_user.mention}")
        await asyncio.gather(collect(0, sockets[0], str(chan0.id)), collect(1, sockets[1], str(chan1.id)))
        for ws in sockets:
            await ws.close()

    def guild_ids(shard: int) -> set[str]:
        return {f["d"]["id"] for f in received[shard] if f.get("t") == "GUILD_CREATE"}

    for shard in (0, 1):
        assert guild_ids(shard) == {str(g) for g in fake.guilds if (g >> 22) % 2 == shard}
    assert str(first.id) in guild_ids(0) and str(other.id) in guild_ids(1)
    messages = {s: [f["d"] for f in received[s] if f.get("t") == "MESSAGE_CREATE"] for s in (0, 1)}
    assert [m["channel_id"] for m in messages[0]] == [str(chan0.id)]
    assert [m["channel_id"] for m in messages[1]] == [str(chan1.id)]
    assert messages[0][0]["content"] == "", "no MESSAGE_CONTENT intent: content blanked"
    assert messages[1][0]["content"].startswith("to shard one"), "mentioning the bot keeps content"
    seqs = [f["s"] for f in received[0] if f.get("op") == 0]
    assert seqs == list(range(1, len(seqs) + 1))


# --------------------------------------------------------------------------- messages and attachments


async def test_user_attachment_in_thread_is_streamable(fake: FakeDiscord, start_bot: BotFactory) -> None:
    bot = await start_bot(make_bot())
    alice = fake.users["alice"]
    size = 3 * CHUNK_SIZE + 12345
    video = fake.add_attachment("clip.mp4", size=size, content_type="video/mp4")
    notes = fake.add_attachment("notes.txt", b"cut the intro")

    thread = await fake.create_user_thread(fake.text_channel_id, "My project", alice)
    waiter = asyncio.create_task(bot.wait_for("message", check=lambda m: m.channel.id == thread.id, timeout=5))
    await fake.send_message(thread.id, "here is my clip", alice, attachments=[video, notes])
    message = await waiter

    assert isinstance(message.channel, discord.Thread) and message.channel.parent_id == fake.text_channel_id
    assert [a.filename for a in message.attachments] == ["clip.mp4", "notes.txt"]
    big = message.attachments[0]
    assert big.size == size and big.content_type == "video/mp4"
    digest, read, length = await stream_sha256(big.url)
    assert (read, length) == (size, size)
    assert digest == await fake.expected_sha256(video)
    assert await message.attachments[1].read() == b"cut the intro"

    fake.expire_attachment(video)
    async with aiohttp.ClientSession() as session, session.get(big.url) as resp:
        assert resp.status == 403
    fresh = await message.channel.fetch_message(message.id)
    assert (await stream_sha256(fresh.attachments[0].url))[0] == digest


async def test_cdn_urls_expire_with_the_clock_and_need_a_valid_signature(fake: FakeDiscord) -> None:
    att = fake.add_attachment("a.bin", size=10)
    async with aiohttp.ClientSession() as session:
        async with session.head(att["url"]) as resp:
            assert resp.status == 200 and resp.headers["Content-Length"] == "10"
        forged = att["url"].replace("hm=", "hm=0")
        async with session.get(forged) as resp:
            assert resp.status == 403
        fake.advance_clock(25 * 3600)
        async with session.get(att["url"]) as resp:
            assert resp.status == 403


async def test_send_edit_history_nonce_and_reactions(fake: FakeDiscord, start_bot: BotFactory) -> None:
    bot = await start_bot(make_bot())
    channel = bot.get_channel(fake.text_channel_id)
    assert isinstance(channel, discord.TextChannel)

    status = await channel.send("⏳ Still working…", nonce=1234)
    same = await channel.send("⏳ Still working…", nonce=1234)
    assert same.id == status.id, "enforce_nonce returns the first message"
    edited_seen = asyncio.create_task(bot.wait_for("message_edit", timeout=5))
    await status.edit(content="✅ Done", embed=discord.Embed(title="Export", description="ready"))
    before, after = await edited_seen
    assert (before.content, after.content) == ("⏳ Still working…", "✅ Done")
    await status.add_reaction("✅")
    async with channel.typing():
        pass

    msg = await fake.wait_for_bot_message(fake.text_channel_id, contains="Done")
    assert fake.bot_messages(fake.text_channel_id) == [msg]
    assert msg.content == "✅ Done" and "Export" in msg.text and "ready" in msg.text
    assert [e.content for e in msg.edits] == ["⏳ Still working…"]
    assert msg.nonce == "1234" and msg.reactions == {"✅"}
    assert fake.typing_calls == [fake.text_channel_id]
    assert any(r.method == "PATCH" and r.json["content"] == "✅ Done" for r in fake.requests)

    # history(after=...) sees later messages oldest-first, and a too-long message is a 400 like on Discord.
    later = await fake.send_message(fake.text_channel_id, "later")
    history = [m.id async for m in channel.history(after=discord.Object(id=status.id))]
    assert history == [later.id]
    with pytest.raises(discord.HTTPException) as too_long:
        await channel.send("x" * 2001)
    assert too_long.value.code == 50035


async def test_old_messages_edit_limit_and_archived_or_deleted_threads(
    fake: FakeDiscord, start_bot: BotFactory
) -> None:
    bot = await start_bot(make_bot())
    channel = bot.get_channel(fake.text_channel_id)
    assert isinstance(channel, discord.TextChannel)
    old = await channel.send("status")
    fake.advance_clock(3601)
    with pytest.raises(discord.HTTPException) as edit_error:
        await old.edit(content="status 2")
    assert edit_error.value.code == 30046

    thread = await fake.create_user_thread(fake.text_channel_id, "locked one", fake.users["bob"])
    await fake.archive_thread(thread.id, locked=True)
    with pytest.raises(discord.Forbidden) as locked:
        await bot.get_partial_messageable(thread.id).send("hi")
    assert locked.value.code == 50083

    open_thread = await fake.create_user_thread(fake.text_channel_id, "archived only", fake.users["bob"])
    await fake.archive_thread(open_thread.id)
    await bot.get_partial_messageable(open_thread.id).send("wakes it up")
    assert fake.threads[open_thread.id].archived is False

    await fake.remove_thread(open_thread.id)
    with pytest.raises(discord.NotFound) as gone:
        await bot.get_partial_messageable(open_thread.id).send("hello?")
    assert gone.value.code == 10003


async def test_fail_next_surfaces_as_forbidden_then_recovers(fake: FakeDiscord, start_bot: BotFactory) -> None:
    bot = await start_bot(make_bot())
    channel = bot.get_channel(fake.text_channel_id)
    assert isinstance(channel, discord.TextChannel)
    fault = fake.fail_next("POST", r"^/channels/\d+/messages$")

    with pytest.raises(discord.Forbidden) as error:
        await channel.send("first")
    assert error.value.code == 50013 and error.value.status == 403
    await channel.send("second")
    assert fault.hits == 1
    assert [m.content for m in fake.bot_messages(fake.text_channel_id)] == ["second"]

    fake.fail_next("POST", r"/messages$", status=429, code=0, message="You are being rate limited.", retry_after=0.01)
    await channel.send("after a 429")
    assert fake.bot_messages(fake.text_channel_id)[-1].content == "after a 429"

    fake.set_forbidden(fake.text_channel_id, "create_thread")
    with pytest.raises(discord.Forbidden):
        await channel.create_thread(name="nope", type=discord.ChannelType.public_thread)


# --------------------------------------------------------------------------- threads and forums


async def test_threads_from_messages_and_forum_posts(fake: FakeDiscord, start_bot: BotFactory) -> None:
    bot = await start_bot(make_bot())
    channel = bot.get_channel(fake.text_channel_id)
    forum = bot.get_channel(fake.forum_channel_id)
    assert isinstance(channel, discord.TextChannel) and isinstance(forum, discord.ForumChannel)

    created = asyncio.create_task(bot.wait_for("thread_create", timeout=5))
    opener = await channel.send("New project")
    thread = await opener.create_thread(name="Project: clip")
    assert thread.id == opener.id and (await created).id == thread.id
    stored = fake.threads[thread.id]
    assert (stored.parent_id, stored.name, stored.owner_id) == (fake.text_channel_id, "Project: clip", fake.bot_user_id)
    await thread.send("inside")
    await thread.edit(name="Project: renamed", archived=True)
    assert fake.threads[thread.id].archived and fake.threads[thread.id].name == "Project: renamed"

    rendering = next(t for t in forum.available_tags if t.name == "rendering")
    post = await forum.create_thread(name="Render", content="starting", applied_tags=[rendering])
    assert post.message.id == post.thread.id
    assert fake.threads[post.thread.id].applied_tags == [rendering.id]
    assert fake.messages_in(post.thread.id)[0].content == "starting"

    # A user's forum post: THREAD_CREATE (newly created) then the starter message, id == thread id.
    user_thread = asyncio.create_task(bot.wait_for("thread_create", check=lambda t: t.name == "Mine", timeout=5))
    starter_seen = asyncio.create_task(bot.wait_for("message", check=lambda m: m.content == "please edit", timeout=5))
    clip = fake.add_attachment("c.mp4", size=100, content_type="video/mp4")
    new_thread, starter = await fake.create_forum_post(
        fake.forum_channel_id, "Mine", "please edit", fake.users["bob"], attachments=[clip], tags=["rendering"]
    )
    assert (await user_thread).parent_id == fake.forum_channel_id
    message = await starter_seen
    assert message.id == new_thread.id == starter.id and message.channel.id == new_thread.id
    assert message.attachments[0].filename == "c.mp4"
    assert fake.unhandled == []


# --------------------------------------------------------------------------- interactions


class CancelView(discord.ui.View):
    """A persistent view, as the bot registers with ``add_view`` at start-up."""

    def __init__(self) -> None:
        super().__init__(timeout=None)
        self.pressed_by: list[int] = []

    @discord.ui.button(label="Cancel", style=discord.ButtonStyle.danger, custom_id="cutaway:cancel")
    async def cancel(self, interaction: discord.Interaction, button: discord.ui.Button[CancelView]) -> None:
        self.pressed_by.append(interaction.user.id)
        await interaction.response.edit_message(content="Cancelled", view=None)


def bot_with_commands(view: CancelView) -> commands.Bot:
    bot = make_bot()

    @app_commands.command(name="export", description="Render the project")
    @app_commands.describe(quality="render quality")
    async def export(interaction: discord.Interaction, quality: str, seconds: int = 10) -> None:
        await interaction.response.defer(thinking=True)
        await interaction.followup.send(f"export {quality} {seconds}s started")

    @app_commands.command(name="status", description="Project status")
    async def status(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("No project here", ephemeral=True)

    bot.tree.add_command(export)
    bot.tree.add_command(status)

    async def setup_hook() -> None:
        bot.add_view(view)
        await bot.tree.sync()

    bot.setup_hook = setup_hook  # type: ignore[method-assign]
    return bot


async def test_slash_command_defer_followup_and_ephemeral(fake: FakeDiscord, start_bot: BotFactory) -> None:
    bot = await start_bot(bot_with_commands(CancelView()))
    assert fake.command_puts == 1
    assert sorted(c["name"] for c in fake.commands) == ["export", "status"]
    ids = {c["name"]: c["id"] for c in fake.commands}
    synced = await bot.tree.sync()
    assert fake.command_puts == 2 and {c.name: str(c.id) for c in synced} == ids, "re-sync keeps command ids"

    inter = await fake.slash(fake.text_channel_id, "export", {"quality": "high", "seconds": 30})
    assert (await inter.wait_response()).type == 5
    followup = await inter.wait_followup()
    assert followup.content == "export high 30s started"
    assert inter.original is followup, "the first follow-up fills the deferred placeholder"
    assert followup in fake.bot_messages(fake.text_channel_id) and not followup.ephemeral

    hint = await fake.slash(fake.text_channel_id, "status", user=fake.users["bob"])
    response = await hint.wait_response()
    assert response.type == 4 and hint.original is not None
    assert hint.original.ephemeral and hint.original.ephemeral_for == fake.users["bob"].id
    assert hint.original not in fake.messages_in(fake.text_channel_id, visible_to=fake.users["alice"])

    with pytest.raises(ValueError, match="no option"):
        await fake.slash(fake.text_channel_id, "export", {"quality": "high", "bogus": 1})
    with pytest.raises(ValueError, match="requires"):
        await fake.slash(fake.text_channel_id, "export", {})


async def test_interaction_token_expires_after_15_minutes(fake: FakeDiscord, start_bot: BotFactory) -> None:
    bot = make_bot()
    late_error: asyncio.Future[discord.HTTPException] = asyncio.get_running_loop().create_future()

    @app_commands.command(name="slow", description="Answers too late")
    async def slow(interaction: discord.Interaction) -> None:
        await interaction.response.defer()
        fake.advance_clock(15 * 60 + 1)
        try:
            await interaction.followup.send("too late")
        except discord.HTTPException as error:
            late_error.set_result(error)

    bot.tree.add_command(slow, guild=discord.Object(id=fake.guild_id))

    async def setup_hook() -> None:
        await bot.tree.sync(guild=discord.Object(id=fake.guild_id))

    bot.setup_hook = setup_hook  # type: ignore[method-assign]
    await start_bot(bot)
    assert [c["name"] for c in fake.guild_commands[fake.guild_id]] == ["slow"]
    await fake.slash(fake.text_channel_id, "slow")
    async with asyncio.timeout(5):
        error = await late_error
    assert (error.status, error.code) == (401, 50027)


async def test_button_press_on_persistent_view(fake: FakeDiscord, start_bot: BotFactory) -> None:
    # The status message was posted by an earlier run of the bot; only the persistent view knows it.
    button = {"type": 2, "style": 4, "label": "Cancel", "custom_id": "cutaway:cancel"}
    stored: StoredMessage = fake.create_message(
        fake.text_channel_id, fake.bot_user, content="Rendering… 40%", components=[{"type": 1, "components": [button]}]
    )
    assert stored.buttons == [("Cancel", "cutaway:cancel")]
    view = CancelView()
    await start_bot(bot_with_commands(view))

    inter = await fake.press_button(stored, "cutaway:cancel", user=fake.users["bob"])
    assert (await inter.wait_response()).type == 7
    assert stored.content == "Cancelled" and stored.buttons == []
    assert [e.content for e in stored.edits] == ["Rendering… 40%"]
    assert view.pressed_by == [fake.users["bob"].id], "routed to the persistent view by custom_id"
    with pytest.raises(ValueError, match="no component"):
        await fake.press_button(stored, "cutaway:cancel")


async def test_bot_uploads_files_via_multipart(fake: FakeDiscord, start_bot: BotFactory) -> None:
    bot = await start_bot(make_bot())
    channel = bot.get_channel(fake.text_channel_id)
    assert isinstance(channel, discord.TextChannel)
    payload = json.dumps({"timeline": [1, 2, 3]}).encode()
    sent = await channel.send("timeline attached", file=discord.File(io.BytesIO(payload), filename="timeline.json"))
    assert sent.attachments[0].filename == "timeline.json"
    stored = fake.bot_messages(fake.text_channel_id)[-1]
    assert fake.attachment_data(stored.attachments[0]) == payload
    assert stored.attachments[0]["content_type"] == "application/json", "type derived from the file name"
    assert await sent.attachments[0].read() == payload


class RenameModal(discord.ui.Modal, title="Rename project"):
    new_name: discord.ui.TextInput[RenameModal] = discord.ui.TextInput(label="New name", custom_id="rename:name")

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"Renamed to {self.new_name.value}")


class QualityView(discord.ui.View):
    def __init__(self) -> None:
        super().__init__(timeout=None)

    @discord.ui.select(
        custom_id="cutaway:quality",
        options=[discord.SelectOption(label="High", value="high"), discord.SelectOption(label="Low", value="low")],
    )
    async def quality(self, interaction: discord.Interaction, select: discord.ui.Select[QualityView]) -> None:
        await interaction.response.defer()  # type 6: acknowledge, edit later
        await interaction.edit_original_response(content=f"Quality: {select.values[0]}", view=None)


async def test_modal_select_and_deferred_update(fake: FakeDiscord, start_bot: BotFactory) -> None:
    bot = make_bot()

    @app_commands.command(name="rename", description="Rename the project")
    async def rename(interaction: discord.Interaction) -> None:
        await interaction.response.send_modal(RenameModal())

    bot.tree.add_command(rename)

    async def setup_hook() -> None:
        bot.add_view(QualityView())
        await bot.tree.sync()

    bot.setup_hook = setup_hook  # type: ignore[method-assign]
    await start_bot(bot)

    opened = await fake.slash(fake.text_channel_id, "rename")
    assert (await opened.wait_response()).type == 9
    submitted = await fake.submit_modal(opened, {"rename:name": "Holiday cut"})
    assert (await submitted.wait_response()).type == 4
    assert submitted.original is not None and submitted.original.content == "Renamed to Holiday cut"
    with pytest.raises(ValueError, match="no input"):
        await fake.submit_modal(opened, {"other": "x"})

    select = {
        "type": 3,
        "custom_id": "cutaway:quality",
        "options": [{"label": "High", "value": "high"}, {"label": "Low", "value": "low"}],
    }
    picker = fake.create_message(
        fake.text_channel_id, fake.bot_user, content="Pick a quality", components=[{"type": 1, "components": [select]}]
    )
    with pytest.raises(ValueError, match="no option"):
        await fake.use_component(picker, "cutaway:quality", ["medium"])
    chosen = await fake.use_component(picker, "cutaway:quality", ["low"])
    assert (await chosen.wait_response()).type == 6
    await fake.wait_for(lambda: picker.content == "Quality: low", what="the deferred edit")
    assert picker.components == [] and chosen.original is picker


# --------------------------------------------------------------------------- rate limits (opt-in)


async def test_rate_limits_send_discords_headers_and_429(fake: FakeDiscord) -> None:
    now = [100.0]
    limits = fake.rest.rate_limits = RateLimits(rules=default_rules(window=5.0), clock=lambda: now[0])
    url = f"{fake.api_base}/channels/{fake.text_channel_id}/messages"
    headers = {"Authorization": f"Bot {TOKEN}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        remaining = []
        for i in range(5):
            async with session.post(url, json={"content": f"m{i}"}) as resp:
                assert resp.status == 200
                assert resp.headers["X-RateLimit-Limit"] == "5"
                assert resp.headers["X-RateLimit-Bucket"] == "messages-create"
                assert float(resp.headers["X-RateLimit-Reset-After"]) == pytest.approx(5.0)
                remaining.append(resp.headers["X-RateLimit-Remaining"])
        assert remaining == ["4", "3", "2", "1", "0"]
        now[0] += 2.0
        async with session.post(url, json={"content": "too many"}) as resp:
            assert resp.status == 429
            assert resp.headers["Via"] and resp.headers["X-RateLimit-Scope"] == "user"
            body = await resp.json()
            assert body["retry_after"] == pytest.approx(3.0) and body["global"] is False
        async with session.post(f"{fake.api_base}/channels/{fake.text_channel_id}/typing") as resp:
            assert resp.status == 204 and resp.headers["X-RateLimit-Remaining"] == "4"  # a bucket of its own
        now[0] += 3.0
        async with session.post(url, json={"content": "next window"}) as resp:
            assert resp.status == 200 and resp.headers["X-RateLimit-Remaining"] == "4"
    assert limits.limited == 1
    assert [m.content for m in fake.bot_messages(fake.text_channel_id)] == ["m0", "m1", "m2", "m3", "m4", "next window"]


async def test_discord_py_paces_itself_by_the_headers(fake: FakeDiscord, start_bot: BotFactory) -> None:
    window = 0.5
    limits = fake.rest.rate_limits = RateLimits(rules=default_rules(window=window))
    bot = await start_bot(make_bot())
    channel = bot.get_channel(fake.text_channel_id)
    assert isinstance(channel, discord.TextChannel)
    loop = asyncio.get_running_loop()
    started = loop.time()
    sent = await asyncio.gather(*(channel.send(f"burst {i}") for i in range(12)))
    elapsed = loop.time() - started
    assert len({m.id for m in sent}) == 12
    assert len(fake.bot_messages(fake.text_channel_id)) == 12
    assert limits.limited == 0  # discord.py read the headers and waited instead of being refused
    assert elapsed >= 2 * window * 0.9  # 12 messages at 5 per window: two waits for a fresh window
