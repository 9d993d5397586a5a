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
from datetime import UTC, datetime, timedelta

from storage.repository import AuthRecord, Repository

from .errors import MissingClientId
from .models import AnonymousToken

log = logging.getLogger(__name__)

TOKEN_LIFETIME = timedelta(days=7)
# Renew a little early so a token never expires in the middle of a long stream.
RENEW_MARGIN = timedelta(minutes=10)

FetchToken = Callable[[str], Awaitable[AnonymousToken]]


class TokenProvider:
    """Hands out the bearer token; renews it at most once per refusal, under a lock."""

    def __init__(
        self,
        repo: Repository,
        *,
        static_token: str | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._repo = repo
        self._static = static_token
        self._clock = clock
        self._lock = asyncio.Lock()
        self._record: AuthRecord | None = None
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
        record = self._record or await self._repo.get_auth()
        return record.user_id if record else None

    async def token(self) -> str:
        if self._static is not None:
            return self._static
        record = self._record
        if record is not None and self._usable(record):
            assert record.token is not None
            return record.token
        async with self._lock, self._repo.auth_lock():
            # Re-read inside the lock: another process may have fetched the token meanwhile.
            record = await self._repo.get_auth()
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
            record = self._record or await self._repo.get_auth()
            if record is not None and record.token == token:
                self._record = AuthRecord(client_id=record.client_id, user_id=record.user_id)
                await self._repo.save_auth(self._record)
                log.info("nemo token refused; will renew with the same client id")

    def _usable(self, record: AuthRecord) -> bool:
        if not record.token:
            return False
        return record.expires_at is None or record.expires_at - RENEW_MARGIN > self._clock()

    async def _acquire(self, record: AuthRecord | None) -> str:
        if self._fetch is None:
            raise RuntimeError("TokenProvider has no fetcher bound")
        client_id = record.client_id if record is not None else str(uuid.uuid4())
        try:
            answer = await self._fetch(client_id)
        except MissingClientId:
            # The seed's recovery for 400: generate a new client id and retry once.
            client_id = str(uuid.uuid4())
            log.warning("backend rejected the stored client id; generated a new one")
            answer = await self._fetch(client_id)
        expires = answer.expires_at or (self._clock() + TOKEN_LIFETIME)
        if expires.tzinfo is None:
            expires = expires.replace(tzinfo=UTC)
        self._record = AuthRecord(
            client_id=client_id,
            token=answer.token,
            expires_at=expires,
            user_id=answer.user_id or (record.user_id if record else None),
        )
        await self._repo.save_auth(self._record)
        log.info("obtained anonymous nemo token (expires %s)", expires.isoformat())
        return answer.token
