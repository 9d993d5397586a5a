"""Buttons as data: stable custom ids (so they keep working after a restart) and what they do.

A quick action sends exactly the instruction a user could type, in the thread's language, through
the same queue as a typed message. Ids are parsed back here, so cogs stay thin.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from .texts import t

Style = Literal["primary", "secondary", "success", "danger", "link"]

PREFIX = "cutaway"
EXPORT_ID = f"{PREFIX}:export"
QUICK_ACTIONS = ("mood", "quieter", "vertical", "square")
QUICK_ID = re.compile(rf"^{PREFIX}:qa:(?P<key>{'|'.join(QUICK_ACTIONS)})$")
CANCEL_ID = re.compile(rf"^{PREFIX}:cancel:(?P<render_id>[A-Za-z0-9_\-]{{1,80}})$")
HISTORY_ID = re.compile(rf"^{PREFIX}:history:(?P<thread_id>\d{{1,20}}):(?P<page>\d{{1,4}})$")


@dataclass(frozen=True, slots=True)
class ActionButton:
    label: str
    custom_id: str | None = None
    style: Style = "secondary"
    url: str | None = None
    disabled: bool = False


def quick_action_id(key: str) -> str:
    return f"{PREFIX}:qa:{key}"


def cancel_id(render_id: str) -> str:
    return f"{PREFIX}:cancel:{render_id}"


def history_id(thread_id: int, page: int) -> str:
    return f"{PREFIX}:history:{thread_id}:{page}"


def quick_instruction(key: str, lang: str) -> str:
    """The text a user would have typed for this quick action."""
    return t(f"qa_{key}_text", lang)


def quick_actions(lang: str) -> tuple[ActionButton, ...]:
    """The buttons offered under a chat reply."""
    buttons = [ActionButton(t(f"qa_{key}", lang), quick_action_id(key)) for key in QUICK_ACTIONS]
    buttons.append(ActionButton(t("qa_export", lang), EXPORT_ID, style="primary"))
    return tuple(buttons)


def export_result_actions(url: str, lang: str) -> tuple[ActionButton, ...]:
    return (
        ActionButton(t("export_link_label", lang), url=url, style="link"),
        ActionButton(t("export_again", lang), EXPORT_ID, style="secondary"),
    )


def render_status_actions(render_id: str, lang: str) -> tuple[ActionButton, ...]:
    return (ActionButton(t("cancel_render", lang), cancel_id(render_id), style="danger"),)
