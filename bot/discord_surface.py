"""The chat surface on Discord: posting, the one edited status message, link buttons, reactions.

Implements bot.core.ports for a thread. Everything here swallows Discord failures after logging
them: a missing permission or a deleted thread must never crash a turn or a render.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import discord

from bot.core.actions import ActionButton
from bot.core.ports import ForumStage, IncomingFile, IncomingMessage
from bot.log_context import thread_extra
from bot.message_split import split_message
from bot.metrics import DISCORD_LATENCY

log = logging.getLogger(__name__)

# Discord refuses edits to messages older than an hour (30046) past a quota: replace them a bit earlier.
STATUS_MAX_AGE = timedelta(minutes=55)
EDIT_TOO_OLD = 30046
# Discord shows "is typing…" for 10 s after each call: renewing at 8 s keeps it on with room for latency.
TYPING_RENEW_SECONDS = 8.0
NO_MENTIONS = discord.AllowedMentions.none()


_STYLES = {
    "primary": discord.ButtonStyle.primary,
    "secondary": discord.ButtonStyle.secondary,
    "success": discord.ButtonStyle.success,
    "danger": discord.ButtonStyle.danger,
    "link": discord.ButtonStyle.link,
}


def make_view(actions: Sequence[ActionButton]) -> discord.ui.View | None:
    """Buttons for a message. The view is stopped before sending: discord.py would otherwise keep every
    sent view in memory; presses are routed by custom id to the dynamic items registered at start-up."""
    if not actions:
        return None
    view = discord.ui.View(timeout=None)
    for action in actions:
        if action.url is not None:
            view.add_item(discord.ui.Button(style=discord.ButtonStyle.link, label=action.label, url=action.url))
        else:
            view.add_item(
                discord.ui.Button(
                    style=_STYLES[action.style],
                    label=action.label,
                    custom_id=action.custom_id,
                    disabled=action.disabled,
                )
            )
    view.stop()
    return view


def to_incoming(message: discord.Message, thread_id: int) -> IncomingMessage:
    """The core's view of a Discord message (attachment URLs are used at once, never stored)."""
    files = tuple(
        IncomingFile(filename=a.filename, url=a.url, size=a.size, content_type=a.content_type)
        for a in message.attachments
    )
    return IncomingMessage(
        message_id=message.id, thread_id=thread_id, author_id=message.author.id, text=message.content, files=files
    )


class DiscordStatus:
    """One status message: edited in place, replaced by a fresh one when too old to edit."""

    def __init__(
        self,
        surface: DiscordThreadSurface,
        message: discord.PartialMessage | discord.Message | None,
        created_at: datetime | None = None,
    ) -> None:
        self._surface = surface
        self._message = message
        self._created = created_at or (message.created_at if message is not None else datetime.now(UTC))
        self._last_text: str | None = None
        self._actions: Sequence[ActionButton] = ()

    @property
    def message_id(self) -> int | None:
        return self._message.id if self._message is not None else None

    async def _replace(self, text: str) -> None:
        old = self._message
        new = await self._surface.send_raw(text, view=make_view(self._actions))
        if new is not None:
            self._message, self._created = new, datetime.now(UTC)
            self._last_text = text
        if old is not None:
            try:
                await old.delete()
            except discord.HTTPException:
                log.debug("could not delete old status message %s", old.id)

    async def update(self, text: str, actions: Sequence[ActionButton] | None = None) -> None:
        actions_changed = actions is not None and tuple(actions) != tuple(self._actions)
        if actions is not None:
            self._actions = tuple(actions)
        if text == self._last_text and not actions_changed:
            return  # coalesced: an identical edit would only spend rate limit
        if self._message is None or datetime.now(UTC) - self._created > STATUS_MAX_AGE:
            await self._replace(text)
            return
        try:
            view = make_view(self._actions)
            started = time.perf_counter()
            if view is None:
                await self._message.edit(content=text, allowed_mentions=NO_MENTIONS, view=None)
            else:
                await self._message.edit(content=text, allowed_mentions=NO_MENTIONS, view=view)
            DISCORD_LATENCY.labels("edit").observe(time.perf_counter() - started)
            self._last_text = text
        except discord.NotFound:
            await self._replace(text)
        except discord.HTTPException as exc:
            if exc.code == EDIT_TOO_OLD:
                await self._replace(text)
            else:
                log.warning(
                    "status edit failed: %s %s", exc.status, exc.code, extra=thread_extra(self._surface.thread_id)
                )

    async def finish(self, text: str | None = None) -> None:
        self._actions = ()
        if text is None:
            if self._message is not None:
                try:
                    await self._message.delete()
                except discord.HTTPException:
                    log.debug("status delete failed", extra=thread_extra(self._surface.thread_id))
            self._message = None
            return
        await self.update(text, ())


class DiscordThreadSurface:
    def __init__(
        self, client: discord.Client, thread_id: int, *, typing_renew_seconds: float = TYPING_RENEW_SECONDS
    ) -> None:
        self._client = client
        self.thread_id = thread_id
        self._typing_renew = typing_renew_seconds

    def _channel(self) -> discord.abc.Messageable:
        channel = self._client.get_channel(self.thread_id)
        if isinstance(channel, discord.abc.Messageable):
            return channel
        return self._client.get_partial_messageable(self.thread_id, type=discord.ChannelType.public_thread)

    def _partial(self, message_id: int) -> discord.PartialMessage:
        channel = self._channel()
        if isinstance(channel, discord.Thread | discord.TextChannel | discord.PartialMessageable):
            return channel.get_partial_message(message_id)
        return self._client.get_partial_messageable(self.thread_id).get_partial_message(message_id)

    async def send_raw(self, text: str, **kwargs: object) -> discord.Message | None:
        if kwargs.get("view", False) is None:
            kwargs.pop("view")
        started = time.perf_counter()
        try:
            message: discord.Message = await self._channel().send(  # type: ignore[call-overload]
                text, allowed_mentions=kwargs.pop("allowed_mentions", NO_MENTIONS), **kwargs
            )
            DISCORD_LATENCY.labels("send").observe(time.perf_counter() - started)
            return message
        except discord.Forbidden as exc:
            log.warning("no permission to post (code %s)", exc.code, extra=thread_extra(self.thread_id))
        except discord.NotFound:
            log.warning("the thread is gone; message dropped", extra=thread_extra(self.thread_id))
        except discord.HTTPException as exc:
            log.warning("posting failed: %s %s", exc.status, exc.code, extra=thread_extra(self.thread_id))
        return None

    async def post(self, text: str, *, actions: Sequence[ActionButton] = ()) -> int | None:
        last: int | None = None
        chunks = split_message(text)
        for index, chunk in enumerate(chunks):
            view = make_view(actions) if index == len(chunks) - 1 else None
            message = await self.send_raw(chunk, view=view)
            if message is not None:
                last = message.id
        return last

    async def set_actions(self, message_id: int, actions: Sequence[ActionButton]) -> None:
        view = make_view(actions)
        try:
            if view is None:
                await self._partial(message_id).edit(view=None)
            else:
                await self._partial(message_id).edit(view=view)
        except discord.HTTPException as exc:
            log.debug("could not set buttons: %s", exc.code, extra=thread_extra(self.thread_id))

    async def set_forum_stage(self, stage: ForumStage) -> None:
        thread = self._client.get_channel(self.thread_id)
        if not isinstance(thread, discord.Thread) or not isinstance(thread.parent, discord.ForumChannel):
            return
        tags = {tag.name.lower(): tag for tag in thread.parent.available_tags}
        wanted = tags.get(stage)
        if wanted is None:
            return
        stage_tags = {tag.id for name, tag in tags.items() if name in ("rendering", "done")}
        kept = [tag for tag in thread.applied_tags if tag.id not in stage_tags][:4]  # Discord allows 5 tags
        applied = [*kept, wanted]
        try:
            await thread.edit(applied_tags=applied)
        except discord.HTTPException as exc:
            log.info("could not tag the forum post: %s %s", exc.status, exc.code, extra=thread_extra(self.thread_id))

    async def post_result(
        self,
        text: str,
        *,
        actions: Sequence[ActionButton] = (),
        mention_user: int | None = None,
        nonce: str | None = None,
    ) -> int | None:
        view = make_view(actions)
        mentions = (
            discord.AllowedMentions(
                everyone=False, roles=False, replied_user=False, users=[discord.Object(mention_user)]
            )
            if mention_user is not None
            else NO_MENTIONS
        )
        kwargs: dict[str, object] = {"allowed_mentions": mentions}
        if view is not None:
            kwargs["view"] = view
        if nonce is not None:
            kwargs["nonce"] = nonce
        message = await self.send_raw(split_message(text)[0] if text else "\u200b", **kwargs)
        return message.id if message is not None else None

    async def open_status(self, text: str, actions: Sequence[ActionButton] = ()) -> DiscordStatus:
        status = DiscordStatus(self, None)
        await status.update(text, actions)
        return status

    def resume_status(self, message_id: int) -> DiscordStatus:
        partial = self._partial(message_id)
        return DiscordStatus(self, partial, discord.utils.snowflake_time(message_id))

    @asynccontextmanager
    async def typing(self) -> AsyncIterator[None]:
        """ "Cutaway is typing…" for the whole turn, renewed every `typing_renew_seconds`.

        The turn does not wait for Discord's answer: the indicator is cosmetic, and its round trip
        (hundreds of ms under load) delayed every backend request. Discord shows it for 10 s;
        discord.py's `typing()` renews it every 5 s, which at a thousand busy threads was a quarter
        of the bot's Discord calls.
        """
        typing = asyncio.create_task(self._keep_typing(self._channel()), name=f"typing-{self.thread_id}")
        try:
            yield
        finally:
            typing.cancel()
            await asyncio.gather(typing, return_exceptions=True)

    async def _keep_typing(self, channel: discord.abc.Messageable) -> None:
        while True:
            try:
                await channel.typing()
            except discord.HTTPException:
                return
            await asyncio.sleep(self._typing_renew)

    async def react(self, message_id: int, emoji: str) -> None:
        try:
            await self._partial(message_id).add_reaction(emoji)
        except discord.HTTPException:
            log.debug("could not react", extra=thread_extra(self.thread_id))

    async def messages_after(self, message_id: int, *, limit: int = 100) -> list[IncomingMessage]:
        channel = self._channel()
        if not isinstance(channel, discord.Thread | discord.PartialMessageable):
            return []
        found: list[IncomingMessage] = []
        try:
            async for message in channel.history(after=discord.Object(message_id), limit=limit, oldest_first=True):
                if message.author.bot or message.webhook_id is not None:
                    continue
                if message.type not in (discord.MessageType.default, discord.MessageType.reply):
                    continue
                found.append(to_incoming(message, self.thread_id))
        except discord.HTTPException as exc:
            log.warning("catch-up failed: %s %s", exc.status, exc.code, extra=thread_extra(self.thread_id))
        return found

    def jump_url(self, message_id: int) -> str | None:
        thread = self._client.get_channel(self.thread_id)
        if not isinstance(thread, discord.Thread):
            return None  # not cached (yet): without its guild there is no link
        return thread.get_partial_message(message_id).jump_url

    async def unreact(self, message_id: int, emoji: str) -> None:
        user = self._client.user
        if user is None:
            return
        try:
            await self._partial(message_id).remove_reaction(emoji, user)
        except discord.HTTPException:
            log.debug("could not remove the reaction", extra=thread_extra(self.thread_id))


class DiscordSurfaces:
    def __init__(self, client: discord.Client, *, typing_renew_seconds: float = TYPING_RENEW_SECONDS) -> None:
        self._client = client
        self.typing_renew_seconds = typing_renew_seconds

    def for_thread(self, thread_id: int) -> DiscordThreadSurface:
        return DiscordThreadSurface(self._client, thread_id, typing_renew_seconds=self.typing_renew_seconds)
