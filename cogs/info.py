"""`/credits` and `/status`: read-only answers from the backend."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.feedback import error_text
from bot.log_context import thread_extra
from bot.nemo.errors import NemoError

from ._common import cmd_text, interaction_lang, project_here, reply

if TYPE_CHECKING:
    from bot.app import CutawayBot

log = logging.getLogger(__name__)


class InfoCog(commands.Cog):
    def __init__(self, bot: CutawayBot) -> None:
        self.bot = bot

    @app_commands.command(name="credits", description=cmd_text("cmd_credits"))
    async def credits(self, interaction: discord.Interaction) -> None:
        lang = interaction_lang(interaction)
        await interaction.response.defer(thinking=True, ephemeral=True)
        try:
            text = await self.bot.info.credits_text(lang)
        except NemoError as exc:
            log.warning("credits failed: %s", type(exc).__name__)
            text = error_text(exc, lang)
        await reply(interaction, text, ephemeral=True)

    @app_commands.command(name="status", description=cmd_text("cmd_status"))
    async def status(self, interaction: discord.Interaction) -> None:
        lang = interaction_lang(interaction)
        project = await project_here(self.bot, interaction)
        if project is None:
            return
        await interaction.response.defer(thinking=True)
        surface = self.bot.surfaces.for_thread(project.thread_id)
        try:
            text = await self.bot.info.status_text(project, surface, lang)
        except NemoError as exc:
            log.warning("status failed: %s", type(exc).__name__, extra=thread_extra(project.thread_id))
            text = error_text(exc, lang)
        await reply(interaction, text)


async def setup(bot: CutawayBot) -> None:
    await bot.add_cog(InfoCog(bot))
