"""`/history`: the thread's exports from storage, newest first, paginated with buttons."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.core import actions
from bot.core.history import PAGE_SIZE, history_text
from bot.core.texts import t
from bot.discord_surface import NO_MENTIONS, make_view

from ._common import cmd_text, interaction_lang, project_here, reply

if TYPE_CHECKING:
    from bot.app import CutawayBot


async def history_page(bot: CutawayBot, thread_id: int, page: int, lang: str) -> tuple[str, discord.ui.View | None]:
    jobs = await bot.repo.renders_for_thread(thread_id, limit=PAGE_SIZE + 1, offset=page * PAGE_SIZE)
    buttons: list[actions.ActionButton] = []
    if page > 0:
        buttons.append(actions.ActionButton(t("history_newer", lang), actions.history_id(thread_id, page - 1)))
    if len(jobs) > PAGE_SIZE:
        buttons.append(actions.ActionButton(t("history_older", lang), actions.history_id(thread_id, page + 1)))
    return history_text(jobs[:PAGE_SIZE], page, lang), make_view(buttons)


class HistoryButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=actions.HISTORY_ID.pattern):
    def __init__(self, thread_id: int, page: int) -> None:
        super().__init__(discord.ui.Button(custom_id=actions.history_id(thread_id, page), label="page"))
        self.thread_id = thread_id
        self.page = page

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> HistoryButton:
        return cls(int(match["thread_id"]), int(match["page"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        bot: CutawayBot = interaction.client  # type: ignore[assignment]
        lang = interaction_lang(interaction)
        channel = interaction.channel
        if not isinstance(channel, discord.Thread) or channel.id != self.thread_id:
            await reply(interaction, t("button_outside", lang), ephemeral=True)
            return
        text, view = await history_page(bot, self.thread_id, self.page, lang)
        if view is None:
            await interaction.response.edit_message(content=text, view=None, allowed_mentions=NO_MENTIONS)
        else:
            await interaction.response.edit_message(content=text, view=view, allowed_mentions=NO_MENTIONS)


class HistoryCog(commands.Cog):
    def __init__(self, bot: CutawayBot) -> None:
        self.bot = bot

    @app_commands.command(name="history", description=cmd_text("cmd_history"))
    @app_commands.guild_only()
    async def history(self, interaction: discord.Interaction) -> None:
        lang = interaction_lang(interaction)
        project = await project_here(self.bot, interaction)
        if project is None:
            return
        text, view = await history_page(self.bot, project.thread_id, 0, lang)
        if view is None:
            await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)
        else:
            await interaction.response.send_message(text, view=view, ephemeral=True, allowed_mentions=NO_MENTIONS)


async def setup(bot: CutawayBot) -> None:
    bot.add_dynamic_items(HistoryButton)
    await bot.add_cog(HistoryCog(bot))
