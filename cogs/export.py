"""`/export` (and the Export buttons): queued behind the thread's edits; the link arrives in the thread."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.exports import ExportOptions, ExportRequest
from bot.core.texts import t

from ._common import cmd_text, interaction_lang, member_allowed, project_here, reply

if TYPE_CHECKING:
    from bot.app import CutawayBot

Quality = Literal["high", "medium", "low"]
Resolution = Literal["1080p", "720p", "480p", "4k"]


async def run_export(
    bot: CutawayBot, interaction: discord.Interaction, *, quality: str | None = None, resolution: str | None = None
) -> None:
    """Shared by `/export`, the quick-action Export button and "Export again".

    Deferred at once (Discord wants an answer within 3 s); the request then waits its turn behind the
    thread's pending edits (bot.core.exports) and the follow-up says how it started."""
    lang = interaction_lang(interaction)
    project = await project_here(bot, interaction)
    if project is None:
        return
    if not member_allowed(bot, interaction.user, interaction.guild_id):
        await reply(interaction, t("not_allowed", lang), ephemeral=True)
        return
    await interaction.response.defer(thinking=True)

    async def answer(text: str) -> None:
        await reply(interaction, text)

    options = ExportOptions.chosen(quality=quality, resolution=resolution)
    request = ExportRequest(project.thread_id, interaction.user.id, lang, answer, options)
    if not bot.exports.request(request):
        await reply(interaction, t("queue_full", lang))


class ExportCog(commands.Cog):
    def __init__(self, bot: CutawayBot) -> None:
        self.bot = bot

    @app_commands.command(name="export", description=cmd_text("cmd_export"))
    @app_commands.describe(quality=cmd_text("cmd_export_quality"), resolution=cmd_text("cmd_export_resolution"))
    @app_commands.guild_only()
    async def export(
        self, interaction: discord.Interaction, quality: Quality | None = None, resolution: Resolution | None = None
    ) -> None:
        await run_export(self.bot, interaction, quality=quality, resolution=resolution)


async def setup(bot: CutawayBot) -> None:
    await bot.add_cog(ExportCog(bot))
