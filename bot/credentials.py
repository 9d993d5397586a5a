"""The backend client's identity kept in the bot's database (storage's auth row).

bot.nemo knows no storage: it asks for a CredentialStore, and this adapts the Repository to it.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager

from bot.nemo.auth import Credentials
from storage.repository import AuthRecord, Repository


class RepositoryCredentials:
    def __init__(self, repo: Repository) -> None:
        self._repo = repo

    def lock(self) -> AbstractAsyncContextManager[None]:
        return self._repo.auth_lock()

    async def load(self) -> Credentials | None:
        record = await self._repo.get_auth()
        if record is None:
            return None
        return Credentials(
            client_id=record.client_id, token=record.token, expires_at=record.expires_at, user_id=record.user_id
        )

    async def save(self, credentials: Credentials) -> None:
        await self._repo.save_auth(
            AuthRecord(
                client_id=credentials.client_id,
                token=credentials.token,
                expires_at=credentials.expires_at,
                user_id=credentials.user_id,
            )
        )
