"""Small helpers shared by the cogs: language of an interaction, role checks, the translator."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord

from bot.core.texts import t
from bot.localization import cmd_text, locale_lang

if TYPE_CHECKING:
    from bot.app import CutawayBot
    from storage.repository import Project


def interaction_lang(interaction: discord.Interaction) -> str:
    return locale_lang(interaction.locale)


def member_allowed(bot: CutawayBot, user: discord.abc.User, guild_id: int | None = None) -> bool:
    """PROJECT_ROLE_ID or the /setup role (optional) limits who may start projects and export."""
    if guild_id is None and isinstance(user, discord.Member):
        guild_id = user.guild.id
    role_id = bot.project_role(guild_id)
    if role_id is None:
        return True
    if isinstance(user, discord.Member):
        return user.guild_permissions.manage_guild or any(role.id == role_id for role in user.roles)
    return False


async def reply(interaction: discord.Interaction, text: str, *, ephemeral: bool = False) -> None:
    """Answer an interaction whether or not it was deferred, never pinging anyone."""
    mentions = discord.AllowedMentions.none()
    try:
        if interaction.response.is_done():
            await interaction.followup.send(text, ephemeral=ephemeral, allowed_mentions=mentions)
        else:
            await interaction.response.send_message(text, ephemeral=ephemeral, allowed_mentions=mentions)
    except discord.HTTPException:
        bot_channel = interaction.channel
        if isinstance(bot_channel, discord.abc.Messageable) and not ephemeral:
            try:
                await bot_channel.send(text, allowed_mentions=mentions)
            except discord.HTTPException:
                return


async def project_here(bot: CutawayBot, interaction: discord.Interaction) -> Project | None:
    """The project of the thread the interaction came from; otherwise a short hint is sent."""
    channel = interaction.channel
    project = await bot.sessions.get(channel.id) if isinstance(channel, discord.Thread) else None
    if project is None:
        await reply(interaction, t("not_project", interaction_lang(interaction)), ephemeral=True)
    return project


__all__ = ["cmd_text", "interaction_lang", "member_allowed", "project_here", "reply"]
