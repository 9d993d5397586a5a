"""Project threads: `/project`, attachments in project channels, forum posts, and every thread message."""

from __future__ import annotations

import contextlib
import logging
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.core import formats
from bot.core.filenames import clean_filename
from bot.core.sessions import ProjectStart
from bot.core.texts import t
from bot.discord_surface import to_incoming

from ._common import cmd_text, interaction_lang, member_allowed, reply

if TYPE_CHECKING:
    from bot.app import CutawayBot

log = logging.getLogger(__name__)

THREAD_NAME_LIMIT = 100
AUTO_ARCHIVE_MINUTES: Literal[10080] = 10080  # a week: projects are worked on over days


def thread_name_for(message: discord.Message) -> str:
    """A good thread name: the message text, else the first file name, else the author's."""
    text = " ".join(message.clean_content.split())
    if text:
        return text[:THREAD_NAME_LIMIT]
    for attachment in message.attachments:
        stem = PurePosixPath(clean_filename(attachment.filename)).stem.replace("_", " ").replace("-", " ").strip()
        if stem:
            return stem[:THREAD_NAME_LIMIT]
    return t("project_default_name", "en", user=message.author.display_name)[:THREAD_NAME_LIMIT]


def project_start(thread: discord.Thread, owner_id: int, seed_text: str) -> ProjectStart:
    """The thread as a new project: its ids and name, who started it, and the text that sets its language."""
    return ProjectStart(
        thread_id=thread.id,
        guild_id=thread.guild.id,
        parent_id=thread.parent_id,
        owner_id=owner_id,
        name=thread.name,
        seed_text=seed_text,
    )


class ProjectsCog(commands.Cog):
    def __init__(self, bot: CutawayBot) -> None:
        self.bot = bot

    @app_commands.command(name="project", description=cmd_text("cmd_project"))
    @app_commands.describe(name=cmd_text("cmd_project_name"))
    @app_commands.guild_only()
    async def project(
        self,
        interaction: discord.Interaction,
        name: app_commands.Range[str, 1, 100] | None = None,
    ) -> None:
        lang = interaction_lang(interaction)
        channel = interaction.channel
        if isinstance(channel, discord.Thread):
            exists = await self.bot.sessions.get(channel.id) is not None
            await reply(interaction, t("project_exists" if exists else "project_where", lang), ephemeral=True)
            return
        if not isinstance(channel, discord.TextChannel):
            await reply(interaction, t("project_where", lang), ephemeral=True)
            return
        if not member_allowed(self.bot, interaction.user):
            await reply(interaction, t("not_allowed", lang), ephemeral=True)
            return
        await interaction.response.defer(thinking=True)
        thread_name = name or t("project_default_name", lang, user=interaction.user.display_name)
        try:
            thread = await channel.create_thread(
                name=thread_name[:THREAD_NAME_LIMIT],
                type=discord.ChannelType.public_thread,
                auto_archive_duration=AUTO_ARCHIVE_MINUTES,
            )
        except discord.Forbidden:
            await reply(interaction, t("no_permission_thread", lang))
            return
        self.bot.intake.start_project(project_start(thread, interaction.user.id, name or ""))
        await reply(interaction, t("project_created", lang, mention=thread.mention))

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        if message.author.bot or message.webhook_id is not None or message.guild is None:
            return
        if message.type not in (discord.MessageType.default, discord.MessageType.reply):
            return
        channel = message.channel
        if isinstance(channel, discord.Thread):
            self._thread_message(message, channel)
        elif isinstance(channel, discord.TextChannel) and self.bot.is_project_channel(channel.guild.id, channel.id):
            await self._start_from_attachment(message, channel)

    def _thread_message(self, message: discord.Message, thread: discord.Thread) -> None:
        """Synchronous on purpose: queueing before any await keeps Discord's order."""
        incoming = to_incoming(message, thread.id)
        is_forum_post = (
            message.id == thread.id
            and self.bot.is_project_channel(thread.guild.id, thread.parent_id)
            and isinstance(thread.parent, discord.ForumChannel)
        )
        if is_forum_post and member_allowed(self.bot, message.author):
            self.bot.intake.start_project(project_start(thread, message.author.id, message.content), incoming)
            return
        self.bot.intake.submit(incoming)

    async def _start_from_attachment(self, message: discord.Message, channel: discord.TextChannel) -> None:
        if not any(formats.is_supported_name(a.filename) for a in message.attachments):
            return
        if not member_allowed(self.bot, message.author):
            return
        try:
            thread = await message.create_thread(
                name=thread_name_for(message), auto_archive_duration=AUTO_ARCHIVE_MINUTES
            )
        except discord.Forbidden:
            log.warning("no permission to create threads in channel %s", channel.id)
            with contextlib.suppress(discord.HTTPException):
                await channel.send(t("no_permission_thread", "en"), allowed_mentions=discord.AllowedMentions.none())
            return
        except discord.HTTPException as exc:
            log.warning("thread creation failed in %s: %s %s", channel.id, exc.status, exc.code)
            return
        self.bot.intake.start_project(
            project_start(thread, message.author.id, message.content), to_incoming(message, thread.id)
        )


async def setup(bot: CutawayBot) -> None:
    await bot.add_cog(ProjectsCog(bot))
