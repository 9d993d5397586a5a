"""Discord's payload rules, as pure functions: message limits, components, mentions, emoji.

Enforcing the real limits (2000 characters, 10 embeds, 6000 embed characters, 5 rows of
at most 5 buttons, unique custom ids …) makes bot bugs such as unsplit long replies fail
in tests the way they would fail on Discord (400 50035).
"""

from __future__ import annotations

import re

from devkit.fakes.discord_models import JSON, MessageFlag, invalid_form

CONTENT_LIMIT = 2000
EMBED_TOTAL_LIMIT = 6000
EMBED_DESCRIPTION_LIMIT = 4096

_USER_MENTION = re.compile(r"<@!?(\d+)>")
_ROLE_MENTION = re.compile(r"<@&(\d+)>")
_EVERYONE = re.compile(r"@(everyone|here)\b")
_CUSTOM_EMOJI = re.compile(r"<?a?:?(\w+):(\d+)>?")


def validate_message(content: str, embeds: list[JSON], components: list[JSON], flags: int) -> None:
    """Raise 400 50035 (with Discord's nested ``errors``) when a message breaks a limit."""
    if len(content) > CONTENT_LIMIT:
        raise invalid_form("content", "BASE_TYPE_MAX_LENGTH", f"Must be {CONTENT_LIMIT} or fewer in length.")
    _validate_embeds(embeds)
    if flags & MessageFlag.IS_COMPONENTS_V2:
        if content or embeds:
            raise invalid_form("content", "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2", "Not allowed.")
        return
    _validate_components(components)


def _validate_embeds(embeds: list[JSON]) -> None:
    if len(embeds) > 10:
        raise invalid_form("embeds", "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
    total = 0
    for i, embed in enumerate(embeds):
        total += sum(len(str(embed.get(k) or "")) for k in ("title", "description"))
        total += len(str((embed.get("footer") or {}).get("text") or ""))
        total += len(str((embed.get("author") or {}).get("name") or ""))
        if len(str(embed.get("description") or "")) > EMBED_DESCRIPTION_LIMIT:
            raise invalid_form(
                f"embeds.{i}.description", "BASE_TYPE_MAX_LENGTH", f"Must be {EMBED_DESCRIPTION_LIMIT} or fewer."
            )
        fields = embed.get("fields") or []
        if len(fields) > 25:
            raise invalid_form(f"embeds.{i}.fields", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
        for fld in fields:
            total += len(str(fld.get("name") or "")) + len(str(fld.get("value") or ""))
    if total > EMBED_TOTAL_LIMIT:
        raise invalid_form("embeds", "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000")


def _validate_components(components: list[JSON]) -> None:
    if len(components) > 5:
        raise invalid_form("components", "BASE_TYPE_MAX_LENGTH", "Must be 5 or fewer in length.")
    seen: set[str] = set()
    for r, row in enumerate(components):
        if row.get("type") != 1:
            raise invalid_form(f"components.{r}.type", "UNION_TYPE_CHOICES", "Top-level must be action rows.")
        children = row.get("components") or []
        if not 1 <= len(children) <= 5:
            raise invalid_form(f"components.{r}.components", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5.")
        for c, comp in enumerate(children):
            where = f"components.{r}.components.{c}"
            if comp.get("type") == 2:
                if len(str(comp.get("label") or "")) > 80:
                    raise invalid_form(f"{where}.label", "BASE_TYPE_MAX_LENGTH", "Must be 80 or fewer in length.")
                if comp.get("style") == 5:
                    if not comp.get("url"):
                        raise invalid_form(f"{where}.url", "BASE_TYPE_REQUIRED", "This field is required")
                    continue
                if comp.get("style") == 6:
                    continue
            custom_id = comp.get("custom_id")
            if custom_id is None:
                raise invalid_form(f"{where}.custom_id", "BASE_TYPE_REQUIRED", "This field is required")
            if not 1 <= len(custom_id) <= 100:
                raise invalid_form(f"{where}.custom_id", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100.")
            if custom_id in seen:
                raise invalid_form(
                    f"{where}.custom_id", "COMPONENT_CUSTOM_ID_DUPLICATED", "Component custom id duplicated"
                )
            seen.add(custom_id)


def validate_thread_name(name: str) -> None:
    """Thread names are 1 to 100 characters."""
    if not 1 <= len(name) <= 100:
        raise invalid_form("name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")


def parse_mentions(
    content: str, allowed: JSON | None, replied_author_id: int | None
) -> tuple[list[int], list[int], bool]:
    """Users, roles and @everyone a message actually pings, after ``allowed_mentions``.

    Without ``allowed_mentions`` every mention in the content pings, and so does the
    replied-to author; with it only what ``parse``/``users``/``roles``/``replied_user`` permit.
    """
    users = [int(u) for u in _USER_MENTION.findall(content)]
    roles = [int(r) for r in _ROLE_MENTION.findall(content)]
    everyone = bool(_EVERYONE.search(content))
    replied = replied_author_id is not None
    if allowed is not None:
        parse = allowed.get("parse") or []
        if "users" not in parse:
            permitted_users = {int(u) for u in allowed.get("users") or []}
            users = [u for u in users if u in permitted_users]
        if "roles" not in parse:
            permitted_roles = {int(r) for r in allowed.get("roles") or []}
            roles = [r for r in roles if r in permitted_roles]
        everyone = everyone and "everyone" in parse
        replied = replied and bool(allowed.get("replied_user", False))
    if replied and replied_author_id is not None and replied_author_id not in users:
        users.append(replied_author_id)
    return list(dict.fromkeys(users)), list(dict.fromkeys(roles)), everyone


def emoji_payload(emoji: str) -> JSON:
    """``name:id`` (custom) or a unicode emoji, as a partial emoji object."""
    match = _CUSTOM_EMOJI.fullmatch(emoji)
    if match:
        return {"id": match.group(2), "name": match.group(1)}
    return {"id": None, "name": emoji}
