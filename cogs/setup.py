"""`/setup` (Manage Server only): mark a text or forum channel as a project channel, optionally a role."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.texts import t

from ._common import cmd_text, interaction_lang, reply

if TYPE_CHECKING:
    from bot.app import CutawayBot

log = logging.getLogger(__name__)


class SetupCog(commands.Cog):
    def __init__(self, bot: CutawayBot) -> None:
        self.bot = bot

    @app_commands.command(name="setup", description=cmd_text("cmd_setup"))
    @app_commands.describe(channel=cmd_text("cmd_setup_channel"), role=cmd_text("cmd_setup_role"))
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.checks.has_permissions(manage_guild=True)
    async def setup_channel(
        self,
        interaction: discord.Interaction,
        channel: discord.TextChannel | discord.ForumChannel | None = None,
        role: discord.Role | None = None,
    ) -> None:
        lang = interaction_lang(interaction)
        target = channel or interaction.channel
        if interaction.guild_id is None or not isinstance(target, discord.TextChannel | discord.ForumChannel):
            await reply(interaction, t("setup_bad_channel", lang), ephemeral=True)
            return
        await self.bot.add_project_channel(interaction.guild_id, target.id, role.id if role else None)
        log.info(
            "guild=%s channel %s marked as project channel by %s (role %s)",
            interaction.guild_id,
            target.id,
            interaction.user.id,
            role.id if role else None,
        )
        role_text = t("setup_role", lang, role=role.mention) if role else ""
        await reply(interaction, t("setup_done", lang, channel=target.mention, role=role_text), ephemeral=True)

    @setup_channel.error
    async def _denied(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        if isinstance(error, app_commands.MissingPermissions):
            await reply(interaction, t("setup_denied", interaction_lang(interaction)), ephemeral=True)
            return
        raise error


async def setup(bot: CutawayBot) -> None:
    await bot.add_cog(SetupCog(bot))
