"""Raw payloads of dead letters, kept only when an operator turns it on, and only sealed.

With `SCGW_DEAD_LETTER_RAW=encrypted` each dead letter also keeps its payload encrypted with
AES-256-GCM (`gateway.sealing`) under a key derived from `SCGW_DEAD_LETTER_KEY`, for
`SCGW_DEAD_LETTER_RAW_DAYS` days. Nobody holding the database alone can read it; the API
decrypts it for an admin only (`GET /v1/dead-letters/{id}/raw`), and `RawPayloadPurge` erases
expired ones.
"""

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Final, Protocol

from gateway.errors import StoreError
from gateway.sealing import Sealer, UnreadableSealError

logger = logging.getLogger(__name__)

PURGE_INTERVAL_S: Final = 600.0
_KEY_INFO: Final = b"scgw dead-letter raw payload v1"
_ASSOCIATED_DATA: Final = b"scgw-dead-letter-raw"


UnreadableRawPayloadError = UnreadableSealError
"""A sealed payload this vault cannot open: another key sealed it, or it was altered."""


class RawPayloadVault:
    """Seals and opens raw payloads; `retention` says how long a sealed payload is kept."""

    def __init__(self, key: str, retention: timedelta) -> None:
        self._sealer = Sealer(key, _KEY_INFO)
        self.retention = retention

    def seal(self, payload: bytes) -> bytes:
        return self._sealer.seal(payload, _ASSOCIATED_DATA)

    def open(self, sealed: bytes) -> bytes:
        """The payload, or `UnreadableRawPayloadError` (wrong key, unknown version, tampering)."""
        return self._sealer.open(sealed, _ASSOCIATED_DATA)


class RawPayloadStore(Protocol):
    async def purge_expired_raw_payloads(self, now: datetime) -> int: ...


class RawPayloadPurge:
    """Erases expired raw payloads at start and then every `interval_s` seconds.

    Reads never serve an expired payload whatever this does (the store checks the expiry);
    purging bounds how long one stays at rest after it.
    """

    def __init__(
        self,
        store: RawPayloadStore,
        *,
        interval_s: float = PURGE_INTERVAL_S,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._interval_s = interval_s
        self._clock = clock

    async def run(self) -> None:
        """Purge until cancelled; an unavailable store is waited out, never raised."""
        while True:
            try:
                await self.purge_once()
            except StoreError as exc:
                logger.warning("raw payload purge skipped, the store is unavailable: %s", exc)
            await asyncio.sleep(self._interval_s)

    async def purge_once(self) -> int:
        erased = await self._store.purge_expired_raw_payloads(self._clock())
        if erased:
            logger.info("erased %d expired raw dead-letter payloads", erased)
        return erased
