"""Chinese localisations of slash-command descriptions, read from the text catalogue."""

from __future__ import annotations

import discord
from discord import app_commands

from bot.core.texts import CATALOGUE

ZH_LOCALES = frozenset({discord.Locale.chinese, discord.Locale.taiwan_chinese})


def locale_lang(locale: discord.Locale | None) -> str:
    return "zh" if locale in ZH_LOCALES else "en"


def cmd_text(key: str) -> app_commands.locale_str:
    """A command description that the translator localises from the catalogue."""
    return app_commands.locale_str(CATALOGUE["en"][key], key=key)


class CatalogueTranslator(app_commands.Translator):
    async def translate(
        self, string: app_commands.locale_str, locale: discord.Locale, context: app_commands.TranslationContextTypes
    ) -> str | None:
        key = string.extras.get("key")
        if key is None or locale not in ZH_LOCALES:
            return None
        return CATALOGUE["zh"].get(key)
