"""Buttons that never expire: dynamic items matched by custom id, registered at every start-up.

Any member of the thread may press them; outside a project thread they explain themselves.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

import discord
from discord.ext import commands

from bot.core import actions
from bot.core.language import ui_language
from bot.core.texts import t

from ._common import interaction_lang, member_allowed, reply
from .export import run_export

if TYPE_CHECKING:
    from bot.app import CutawayBot

log = logging.getLogger(__name__)


def _bot(interaction: discord.Interaction) -> CutawayBot:
    return interaction.client  # type: ignore[return-value]


class QuickActionButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=actions.QUICK_ID.pattern):
    def __init__(self, key: str) -> None:
        super().__init__(discord.ui.Button(custom_id=actions.quick_action_id(key), label=key))
        self.key = key

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> QuickActionButton:
        return cls(match["key"])

    async def callback(self, interaction: discord.Interaction) -> None:
        bot = _bot(interaction)
        channel = interaction.channel
        project = await bot.sessions.get(channel.id) if isinstance(channel, discord.Thread) else None
        if project is None:
            await reply(interaction, t("button_outside", interaction_lang(interaction)), ephemeral=True)
            return
        lang = ui_language(project.language)  # the thread's language, as the issue asks
        text = bot.intake.submit_action(
            thread_id=project.thread_id, user_id=interaction.user.id, key=self.key, press_id=interaction.id, lang=lang
        )
        if text is None:
            await reply(interaction, t("queue_full", lang), ephemeral=True)
            return
        name = discord.utils.escape_markdown(interaction.user.display_name)
        await reply(interaction, t("qa_pressed", lang, user=name, text=text))


class ExportButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=re.escape(actions.EXPORT_ID)):
    def __init__(self) -> None:
        super().__init__(discord.ui.Button(custom_id=actions.EXPORT_ID, label="export"))

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> ExportButton:
        return cls()

    async def callback(self, interaction: discord.Interaction) -> None:
        await run_export(_bot(interaction), interaction)


class CancelRenderButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=actions.CANCEL_ID.pattern):
    def __init__(self, render_id: str) -> None:
        super().__init__(discord.ui.Button(custom_id=actions.cancel_id(render_id), label="cancel"))
        self.render_id = render_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> CancelRenderButton:
        return cls(match["render_id"])

    async def callback(self, interaction: discord.Interaction) -> None:
        bot = _bot(interaction)
        lang = interaction_lang(interaction)
        job = await bot.repo.get_render(self.render_id)
        channel = interaction.channel
        if job is None or not isinstance(channel, discord.Thread) or job.thread_id != channel.id:
            await reply(interaction, t("button_outside", lang), ephemeral=True)
            return
        if not member_allowed(bot, interaction.user, interaction.guild_id):
            await reply(interaction, t("not_allowed", lang), ephemeral=True)
            return
        # Acknowledged without a message of its own: the status message this button sits on says
        # "Export cancelled"; only a refusal or a late press gets a private answer.
        await interaction.response.defer()
        answer = await bot.renders.cancel(self.render_id, lang)
        if answer is not None:
            await reply(interaction, answer, ephemeral=True)


class ButtonsCog(commands.Cog):
    def __init__(self, bot: CutawayBot) -> None:
        self.bot = bot


async def setup(bot: CutawayBot) -> None:
    bot.add_dynamic_items(QuickActionButton, ExportButton, CancelRenderButton)
    await bot.add_cog(ButtonsCog(bot))
