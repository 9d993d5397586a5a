"""`/export`: render the thread's project; the link arrives in the thread even after 15 minutes."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.feedback import error_text
from bot.core.projects import NothingToExport
from bot.core.texts import t
from bot.nemo.errors import NemoError

from ._common import cmd_text, interaction_lang, member_allowed, not_project_text, reply

if TYPE_CHECKING:
    from bot.app import CutawayBot

log = logging.getLogger(__name__)


class ExportCog(commands.Cog):
    def __init__(self, bot: CutawayBot) -> None:
        self.bot = bot

    @app_commands.command(name="export", description=cmd_text("cmd_export"))
    @app_commands.guild_only()
    async def export(self, interaction: discord.Interaction) -> None:
        lang = interaction_lang(interaction)
        channel = interaction.channel
        project = (await self.bot.projects.get_project(channel.id)
                   if isinstance(channel, discord.Thread) else None)
        if project is None:
            await reply(interaction, not_project_text(lang), ephemeral=True)
            return
        if not member_allowed(self.bot, interaction.user):
            await reply(interaction, t("not_allowed", lang), ephemeral=True)
            return
        await interaction.response.defer(thinking=True)
        surface = self.bot.surfaces.for_thread(project.thread_id)
        try:
            job = await self.bot.renders.start_export(project, interaction.user.id, lang, surface)
        except NothingToExport:
            await reply(interaction, t("export_nothing", lang))
            return
        except NemoError as exc:
            log.warning("thread=%s export failed to start: %s", project.thread_id, type(exc).__name__)
            await reply(interaction, error_text(exc, lang))
            return
        log.info("thread=%s export %s requested by %s", project.thread_id, job.render_id, interaction.user.id)
        await reply(interaction, t("export_started", lang))


async def setup(bot: CutawayBot) -> None:
    await bot.add_cog(ExportCog(bot))
