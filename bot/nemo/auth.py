"""The installation's NemoVideo credentials.

Operators should set NEMO_TOKEN (a registered account). Without it the bot keeps exactly one
anonymous identity for the whole installation: a client id generated once and stored, and
its token re-acquired with the same client id when it expires or is refused. The backend
issues one anonymous token per client id per week and about ten per IP per week, so minting
one per user or per thread would lock the installation out.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from .errors import MissingClientId
from .models import AnonymousToken

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Credentials:
    """The installation's one anonymous identity, kept between runs."""

    client_id: str
    token: str | None = None
    expires_at: datetime | None = None
    user_id: str | None = None


class CredentialStore(Protocol):
    """Where the identity is kept (the bot's database: bot.credentials); the client knows no storage."""

    def lock(self) -> AbstractAsyncContextManager[None]:
        """Held while a token is fetched: across processes when they share a database."""
        ...

    async def load(self) -> Credentials | None: ...

    async def save(self, credentials: Credentials) -> None: ...


TOKEN_LIFETIME = timedelta(days=7)
# Renew a little early so a token never expires in the middle of a long stream.
RENEW_MARGIN = timedelta(minutes=10)

FetchToken = Callable[[str], Awaitable[AnonymousToken]]


class TokenProvider:
    """Hands out the bearer token; renews it at most once per refusal, under a lock."""

    def __init__(
        self,
        store: CredentialStore,
        *,
        static_token: str | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._static = static_token
        self._clock = clock
        self._lock = asyncio.Lock()
        self._record: Credentials | None = None
        self._fetch: FetchToken | None = None

    def bind_fetcher(self, fetch: FetchToken) -> None:
        """The client supplies the HTTP call that exchanges a client id for a token."""
        self._fetch = fetch

    @property
    def registered(self) -> bool:
        return self._static is not None

    async def bind_id(self) -> str | None:
        """The anonymous user id used in the registration link (`?bind=`)."""
        if self._static is not None:
            return None
        record = self._record or await self._store.load()
        return record.user_id if record else None

    async def token(self) -> str:
        if self._static is not None:
            return self._static
        record = self._record
        if record is not None and self._usable(record):
            assert record.token is not None
            return record.token
        async with self._lock, self._store.lock():
            # Re-read inside the lock: another process may have fetched the token meanwhile.
            record = await self._store.load()
            if record is not None and self._usable(record):
                self._record = record
                assert record.token is not None
                return record.token
            return await self._acquire(record)

    async def invalidate(self, token: str) -> None:
        """The backend refused `token` (1001/401): the next `token()` fetches a fresh one."""
        if self._static is not None:
            return
        async with self._lock:
            record = self._record or await self._store.load()
            if record is not None and record.token == token:
                self._record = Credentials(client_id=record.client_id, user_id=record.user_id)
                await self._store.save(self._record)
                log.info("nemo token refused; will renew with the same client id")

    def _usable(self, record: Credentials) -> bool:
        if not record.token:
            return False
        return record.expires_at is None or record.expires_at - RENEW_MARGIN > self._clock()

    async def _acquire(self, record: Credentials | None) -> str:
        if self._fetch is None:
            raise RuntimeError("TokenProvider has no fetcher bound")
        client_id = record.client_id if record is not None else str(uuid.uuid4())
        try:
            answer = await self._fetch(client_id)
        except MissingClientId:
            # The contract's recovery for 400: generate a new client id and retry once.
            client_id = str(uuid.uuid4())
            log.warning("backend rejected the stored client id; generated a new one")
            answer = await self._fetch(client_id)
        expires = answer.expires_at or (self._clock() + TOKEN_LIFETIME)
        if expires.tzinfo is None:
            expires = expires.replace(tzinfo=UTC)
        self._record = Credentials(
            client_id=client_id,
            token=answer.token,
            expires_at=expires,
            user_id=answer.user_id or (record.user_id if record else None),
        )
        await self._store.save(self._record)
        log.info("obtained anonymous nemo token (expires %s)", expires.isoformat())
        return answer.token
