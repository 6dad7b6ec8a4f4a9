"""The `StreamStore` protocol: what the live stream (`gateway.stream`) needs from the store.

Stream tokens are for clients that can only use `EventSource` (no headers): a token is
issued to a key, lives a minute, and is redeemed once, by whichever process the client
reaches, so the store holds them (only their hash) and redeeming deletes the row.

The tickets changed since a position let every process's stream see tickets raised or moved
by any process (the rule engine's leader, an API transition elsewhere, the forwarder).
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from schemas.tickets import TicketPublic


@dataclass(frozen=True, slots=True)
class TicketPosition:
    """A place in the (updated_at, ticket_id) order of tickets."""

    updated_at: datetime
    ticket_id: str = ""


class StreamStore(Protocol):
    async def put_stream_token(self, token_hash: str, key_id: str, expires_at: datetime) -> None:
        """Keep a token's hash, for the key it was issued to, until `expires_at`."""

    async def redeem_stream_token(self, token_hash: str, now: datetime) -> str | None:
        """The key id of an unexpired token, deleting it (a token is used once, whichever
        process redeems it); None for an unknown, used or expired token. Expired tokens are
        deleted on the way."""

    async def tickets_changed_since(
        self, after: TicketPosition, limit: int, now: datetime
    ) -> list[TicketPublic]:
        """Up to `limit` tickets whose (updated_at, ticket_id) is after `after`, in that
        order, without history (`overdue` judged at `now`)."""
