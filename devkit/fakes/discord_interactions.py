"""Application commands and interactions of the fake Discord.

:class:`InteractionWorld` adds to :class:`~devkit.fakes.discord_threads.ThreadWorld` what
slash commands and components need: bulk-overwritten command definitions, building
INTERACTION_CREATE payloads whose options are typed from the synced definitions, and
the callback / follow-up / ``@original`` rules (deferral placeholder, ephemeral
messages, 15-minute tokens).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from devkit.fakes.discord_models import (
    ALL_PERMISSIONS,
    JSON,
    CallbackRecord,
    DiscordAPIError,
    FakeChannel,
    FakeInteraction,
    FakeRole,
    FakeThread,
    FakeUser,
    MessageFlag,
    StoredMessage,
    invalid_form,
    unknown_message,
)
from devkit.fakes.discord_threads import ThreadWorld
from devkit.fakes.discord_world import UploadedFile

_SCALAR_TYPES = {3: str, 4: int, 5: bool, 10: float}


class InteractionWorld(ThreadWorld):
    """The world plus application commands and interactions."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.interactions: dict[int, FakeInteraction] = {}
        self._interactions_by_token: dict[str, FakeInteraction] = {}
        self.commands: list[JSON] = []
        """Global command definitions as last synced (each with its ``id``)."""
        self.guild_commands: dict[int, list[JSON]] = {}
        """Per-guild command definitions as last synced."""
        self.command_puts = 0
        """How many bulk-overwrite PUTs (global or guild) the bot made."""

    # ----------------------------------------------------------------- commands

    def bulk_overwrite_commands(self, guild_id: int | None, definitions: list[JSON]) -> list[JSON]:
        """Replace the global (or one guild's) commands; same-name commands keep their ids."""
        self.command_puts += 1
        old = self.commands if guild_id is None else self.guild_commands.get(guild_id, [])
        old_ids = {(c["name"], c.get("type", 1)): c["id"] for c in old}
        stored = []
        for definition in definitions:
            key = (definition["name"], definition.get("type", 1))
            command = dict(definition)
            command.setdefault("type", 1)
            command.setdefault("description", "")
            command.setdefault("options", [])
            command["id"] = old_ids.get(key) or str(self.ids.next())
            command["application_id"] = str(self.application_id)
            command["version"] = str(self.ids.next())
            command.setdefault("default_member_permissions", None)
            if guild_id is not None:
                command["guild_id"] = str(guild_id)
            stored.append(command)
        if guild_id is None:
            self.commands = stored
        else:
            self.guild_commands[guild_id] = stored
        self.changed()
        return stored

    def find_command(self, name: str, guild_id: int | None, command_type: int = 1) -> JSON:
        """The synced command a user in ``guild_id`` would invoke (guild commands win)."""
        candidates = [*(self.guild_commands.get(guild_id, []) if guild_id else []), *self.commands]
        for command in candidates:
            if command["name"] == name and command.get("type", 1) == command_type:
                return command
        synced = sorted({c["name"] for c in candidates})
        raise LookupError(f"command {name!r} is not synced (synced: {synced})")

    # ----------------------------------------------------------------- interactions

    def interaction_by_token(self, token: str) -> FakeInteraction:
        inter = self._interactions_by_token.get(token)
        if inter is None:
            raise DiscordAPIError(404, 10015, "Unknown Webhook")
        return inter

    def new_interaction(
        self,
        *,
        kind: int,
        channel_id: int,
        user: FakeUser,
        data: JSON,
        message: StoredMessage | None = None,
        locale: str = "en-US",
    ) -> FakeInteraction:
        """Create an interaction and dispatch INTERACTION_CREATE for it."""
        target = self.channel_or_thread(channel_id)
        guild = self.guild(target.guild_id)
        member = guild.members.get(user.id)
        if member is None:
            raise ValueError(f"{user.name} is not a member of {guild.name}")
        inter = FakeInteraction(
            id=self.ids.next(),
            token="aW50ZXJhY3Rpb24" + secrets.token_urlsafe(48),
            type=kind,
            application_id=self.application_id,
            guild_id=guild.id,
            channel_id=channel_id,
            user=user,
            data=data,
            created_at=self.clock(),
            message_id=message.id if message else None,
            _waiter=self.wait_for,
        )
        channel_body = target.to_payload()
        channel_body["permissions"] = str(guild.permissions_of(user.id))
        payload: JSON = {
            "id": str(inter.id),
            "application_id": str(self.application_id),
            "type": kind,
            "token": inter.token,
            "version": 1,
            "guild_id": str(guild.id),
            "guild": {"id": str(guild.id), "locale": guild.locale, "features": []},
            "channel_id": str(channel_id),
            "channel": channel_body,
            "member": member.to_payload(permissions=guild.permissions_of(user.id)),
            "data": data,
            "locale": locale,
            "guild_locale": guild.locale,
            "app_permissions": str(ALL_PERMISSIONS),
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(guild.id)},
            "context": 0,
            "attachment_size_limit": self.attachment_size_limit,
        }
        if message is not None:
            payload["message"] = self.message_payload(message)
        inter.payload = payload
        self.interactions[inter.id] = inter
        self._interactions_by_token[inter.token] = inter
        self.emit("INTERACTION_CREATE", payload, guild.id)
        return inter

    def _interaction_metadata(self, inter: FakeInteraction) -> JSON:
        body: JSON = {
            "id": str(inter.id),
            "type": inter.type,
            "user": inter.user.to_payload(),
            "authorizing_integration_owners": {"0": str(inter.guild_id)},
        }
        if inter.original is not None:
            body["original_response_message_id"] = str(inter.original.id)
        if inter.message_id is not None:
            body["interacted_message_id"] = str(inter.message_id)
        return body

    def _interaction_message(
        self, inter: FakeInteraction, data: JSON, files: list[UploadedFile], flags: int
    ) -> StoredMessage:
        return self.create_message(
            inter.channel_id,
            self.bot_user,
            content=str(data.get("content") or ""),
            embeds=list(data.get("embeds") or []),
            components=list(data.get("components") or []),
            attachments=self.resolve_attachments(data.get("attachments"), files, []),
            flags=flags,
            tts=bool(data.get("tts", False)),
            allowed_mentions=data.get("allowed_mentions"),
            msg_type=20 if inter.type == 2 else 0,
            webhook_id=self.application_id,
            interaction_metadata=self._interaction_metadata(inter),
            ephemeral_for=inter.user.id if flags & MessageFlag.EPHEMERAL else None,
            unarchive=True,
        )

    def interaction_callback(self, interaction_id: int, token: str, body: JSON, files: list[UploadedFile]) -> JSON:
        """Handle ``POST /interactions/{id}/{token}/callback``; returns the 200 JSON body."""
        inter = self.interactions.get(interaction_id)
        if inter is None or inter.token != token or inter.expired(self.clock()):
            raise DiscordAPIError(404, 10062, "Unknown interaction")
        if inter.responses:
            raise DiscordAPIError(400, 40060, "Interaction has already been acknowledged.")
        kind = int(body.get("type", 0))
        data: JSON = body.get("data") or {}
        if kind not in (4, 5, 6, 7, 8, 9) or (kind in (6, 7) and inter.type not in (3, 5)):
            raise invalid_form("type", "BASE_TYPE_CHOICES", f"Value {kind} is not a valid callback type here.")
        flags = int(data.get("flags") or 0)
        message: StoredMessage | None = None
        if kind == 4:
            message = self._interaction_message(inter, data, files, flags)
        elif kind == 5:
            loading = int(MessageFlag.LOADING) | (flags & MessageFlag.EPHEMERAL)
            message = self.create_message(
                inter.channel_id,
                self.bot_user,
                flags=loading,
                msg_type=20 if inter.type == 2 else 0,
                webhook_id=self.application_id,
                interaction_metadata=self._interaction_metadata(inter),
                ephemeral_for=inter.user.id if flags & MessageFlag.EPHEMERAL else None,
            )
        elif kind in (6, 7) and inter.message_id is not None:
            message = self.message(inter.message_id)
            if kind == 7:
                self.edit_message(message, data, files, check_age=False)
        inter.responses.append(CallbackRecord(type=kind, data=data, at=self.clock()))
        if message is not None:
            inter.original = message
        self.changed()
        info: JSON = {"id": str(inter.id), "type": inter.type}
        result: JSON = {"interaction": info}
        if kind in (4, 5, 7) and message is not None:
            info["response_message_id"] = str(message.id)
            info["response_message_loading"] = kind == 5
            info["response_message_ephemeral"] = message.ephemeral
            result["resource"] = {"type": kind, "message": self.message_payload(message)}
        else:
            result["resource"] = {"type": kind}
        return result

    def _webhook_interaction(self, application_id: int, token: str) -> FakeInteraction:
        if application_id != self.application_id:
            raise DiscordAPIError(404, 10015, "Unknown Webhook")
        inter = self.interaction_by_token(token)
        if inter.expired(self.clock()):
            raise DiscordAPIError(401, 50027, "Invalid Webhook Token")
        if not inter.responses:
            raise DiscordAPIError(404, 10015, "Unknown Webhook")
        return inter

    def webhook_execute(self, application_id: int, token: str, body: JSON, files: list[UploadedFile]) -> StoredMessage:
        """A follow-up message; the first one after a deferral fills the "thinking" placeholder."""
        inter = self._webhook_interaction(application_id, token)
        original = inter.original
        if original is not None and original.loading and not original.deleted and not inter.followups:
            message = self.edit_message(original, body, files, check_age=False)
        else:
            message = self._interaction_message(inter, body, files, int(body.get("flags") or 0))
        inter.followups.append(message)
        self.changed()
        return message

    def webhook_message(
        self, application_id: int, token: str, message_id: str
    ) -> tuple[FakeInteraction, StoredMessage]:
        """The original response (``@original``) or a follow-up of an interaction."""
        inter = self._webhook_interaction(application_id, token)
        if message_id == "@original":
            if inter.original is None or inter.original.deleted:
                raise unknown_message()
            return inter, inter.original
        msg = self.message(int(message_id))
        if msg is not inter.original and msg not in inter.followups:
            raise unknown_message()
        return inter, msg

    # ----------------------------------------------------------------- interaction data builders

    def command_data(self, name: str, options: Mapping[str, Any] | None, guild_id: int) -> JSON:
        """``data`` of a slash command: ``name`` may be ``"group sub"``; options are typed
        from the synced definition (ValueError on unknown, missing or invalid options)."""
        root, *path = name.split()
        command = self.find_command(root, guild_id)
        defs: list[JSON] = command.get("options") or []
        chain: list[JSON] = []
        for part in path:
            sub = next((o for o in defs if o["name"] == part and o.get("type") in (1, 2)), None)
            if sub is None:
                raise ValueError(f"/{root} has no subcommand {part!r}")
            chain.append(sub)
            defs = sub.get("options") or []
        if any(o.get("type") in (1, 2) for o in defs):
            raise ValueError(f"/{name} is a group; name a subcommand")
        resolved: JSON = {}
        built = self._typed_options(name, defs, dict(options or {}), resolved, guild_id)
        for sub in reversed(chain):
            built = [{"type": sub["type"], "name": sub["name"], "options": built}]
        data: JSON = {"id": command["id"], "name": root, "type": 1, "options": built}
        if resolved:
            data["resolved"] = resolved
        if command.get("guild_id"):
            data["guild_id"] = command["guild_id"]
        return data

    def _typed_options(
        self, name: str, defs: list[JSON], given: dict[str, Any], resolved: JSON, guild_id: int
    ) -> list[JSON]:
        by_name = {o["name"]: o for o in defs}
        unknown = sorted(set(given) - set(by_name))
        if unknown:
            raise ValueError(f"/{name} has no option(s) {unknown}; defined: {sorted(by_name)}")
        missing = [o["name"] for o in defs if o.get("required") and o["name"] not in given]
        if missing:
            raise ValueError(f"/{name} requires option(s) {missing}")
        result = []
        for definition in defs:
            if definition["name"] in given:
                value = self._option_value(definition, given[definition["name"]], resolved, guild_id)
                result.append({"name": definition["name"], "type": definition["type"], "value": value})
        return result

    def _option_value(self, definition: JSON, value: Any, resolved: JSON, guild_id: int) -> Any:
        kind = int(definition["type"])
        guild = self.guild(guild_id)
        if kind in _SCALAR_TYPES:
            if kind == 4 and (isinstance(value, bool) or not isinstance(value, int)):
                raise ValueError(f"option {definition['name']!r} needs an int, got {value!r}")
            converted = _SCALAR_TYPES[kind](value)
            choices = [c["value"] for c in definition.get("choices") or []]
            if choices and converted not in choices:
                raise ValueError(f"option {definition['name']!r} must be one of {choices}, got {converted!r}")
            return converted
        if kind == 6 or (kind == 9 and isinstance(value, FakeUser)):
            user = value if isinstance(value, FakeUser) else self.user(int(value))
            resolved.setdefault("users", {})[str(user.id)] = user.to_payload()
            member = guild.members.get(user.id)
            if member is not None:
                perms = guild.permissions_of(user.id)
                resolved.setdefault("members", {})[str(user.id)] = member.to_payload(with_user=False, permissions=perms)
            return str(user.id)
        if kind in (8, 9):
            role = value if isinstance(value, FakeRole) else guild.roles[int(value)]
            resolved.setdefault("roles", {})[str(role.id)] = role.to_payload()
            return str(role.id)
        if kind == 7:
            channel_id = value.id if isinstance(value, FakeChannel | FakeThread) else int(value)
            body = self.channel_payload(channel_id)
            body["permissions"] = str(ALL_PERMISSIONS)
            resolved.setdefault("channels", {})[str(channel_id)] = body
            return str(channel_id)
        if kind == 11:
            file = self.cdn.files[int(value["id"] if isinstance(value, Mapping) else value)]
            payload = self.cdn.attachment_payload(file, channel_id=guild_id)
            resolved.setdefault("attachments", {})[str(file.id)] = payload
            return str(file.id)
        raise ValueError(f"option type {kind} is not supported by the fake")

    def component_data(self, msg: StoredMessage, custom_id: str, values: list[str] | None = None) -> JSON:
        """``data`` of a component interaction on ``msg`` (ValueError if the component is
        missing or disabled, or a select value is not an option)."""
        comp = msg.find_component(custom_id)
        if comp is None:
            raise ValueError(f"message {msg.id} has no component {custom_id!r}; buttons: {msg.buttons}")
        if comp.get("disabled"):
            raise ValueError(f"component {custom_id!r} is disabled")
        data: JSON = {"custom_id": custom_id, "component_type": comp["type"]}
        if comp["type"] in (3, 5, 6, 7, 8):
            chosen = [str(v) for v in values or []]
            if comp["type"] == 3:
                allowed = [o["value"] for o in comp.get("options") or []]
                bad = [v for v in chosen if v not in allowed]
                if bad:
                    raise ValueError(f"select {custom_id!r} has no option(s) {bad}; options: {allowed}")
            data["values"] = chosen
        return data

    def modal_submit_data(self, inter: FakeInteraction, values: Mapping[str, str | list[str]]) -> JSON:
        """``data`` of submitting the modal the bot opened on ``inter`` (callback type 9),
        shaped like that modal (action rows or labels)."""
        modal = next((r.data for r in inter.responses if r.type == 9), None)
        if modal is None:
            raise ValueError(f"the bot did not open a modal on interaction {inter.id}")
        known: set[str] = set()

        def answer(comp: JSON) -> JSON:
            custom_id = str(comp.get("custom_id"))
            known.add(custom_id)
            value = values.get(custom_id, "" if comp.get("type") == 4 else [])
            key = "value" if comp.get("type") == 4 else "values"
            return {"type": comp.get("type"), "custom_id": custom_id, key: value}

        components: list[JSON] = []
        for comp in modal.get("components") or []:
            if comp.get("type") == 1:
                components.append({"type": 1, "components": [answer(c) for c in comp.get("components") or []]})
            elif comp.get("type") == 18 and isinstance(comp.get("component"), dict):
                components.append({"type": 18, "id": comp.get("id"), "component": answer(comp["component"])})
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"modal {modal.get('custom_id')!r} has no input(s) {unknown}; inputs: {sorted(known)}")
        return {"custom_id": modal.get("custom_id"), "components": components}
