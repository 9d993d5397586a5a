"""`/export` (and the Export buttons): the link arrives in the thread even after 15 minutes."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.feedback import error_text
from bot.core.projects import NothingToExport
from bot.core.texts import t
from bot.nemo.errors import NemoError

from ._common import cmd_text, interaction_lang, member_allowed, project_here, reply

if TYPE_CHECKING:
    from bot.app import CutawayBot

log = logging.getLogger(__name__)

Quality = Literal["high", "medium", "low"]
Resolution = Literal["1080p", "720p", "480p", "4k"]


async def run_export(
    bot: CutawayBot, interaction: discord.Interaction, *, quality: str = "high", resolution: str = "1080p"
) -> None:
    """Shared by `/export`, the quick-action Export button and "Export again"."""
    lang = interaction_lang(interaction)
    project = await project_here(bot, interaction)
    if project is None:
        return
    if not member_allowed(bot, interaction.user, interaction.guild_id):
        await reply(interaction, t("not_allowed", lang), ephemeral=True)
        return
    await interaction.response.defer(thinking=True)
    surface = bot.surfaces.for_thread(project.thread_id)
    output = {"format": "mp4", "quality": quality, "resolution": resolution}
    try:
        job = await bot.renders.start_export(project, interaction.user.id, lang, surface, output=output)
    except NothingToExport:
        await reply(interaction, t("export_nothing", lang))
        return
    except NemoError as exc:
        log.warning("thread=%s export failed to start: %s", project.thread_id, type(exc).__name__)
        await reply(interaction, error_text(exc, lang))
        return
    log.info(
        "thread=%s export %s requested by %s (%s, %s)",
        project.thread_id,
        job.render_id,
        interaction.user.id,
        quality,
        resolution,
    )
    await reply(interaction, t("export_started", lang))


class ExportCog(commands.Cog):
    def __init__(self, bot: CutawayBot) -> None:
        self.bot = bot

    @app_commands.command(name="export", description=cmd_text("cmd_export"))
    @app_commands.describe(quality=cmd_text("cmd_export_quality"), resolution=cmd_text("cmd_export_resolution"))
    @app_commands.guild_only()
    async def export(
        self, interaction: discord.Interaction, quality: Quality = "high", resolution: Resolution = "1080p"
    ) -> None:
        await run_export(self.bot, interaction, quality=quality, resolution=resolution)


async def setup(bot: CutawayBot) -> None:
    await bot.add_cog(ExportCog(bot))
