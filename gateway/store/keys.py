"""The `KeyStore` protocol: API keys at rest, as `gateway.keys.KeyRing` creates and checks them.

A stored key never holds its secret: `secret_hash` is the SHA-256 (hex) of the secret, which is
shown once when the key is created. Keys are never deleted, only revoked, so the audit log's
actors and `scgw keys list` keep naming them.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from gateway.store.cursors import cursor_instant, decode_tagged, encode_tagged

if TYPE_CHECKING:  # base.py's `Store` inherits this protocol, so Page cannot be imported here
    from gateway.store.base import Page


@dataclass(frozen=True, slots=True)
class StoredKey:
    """An API key as stored: who it is for, what it may do, and its life so far."""

    key_id: str
    name: str
    role: str
    communities: tuple[str, ...] | None
    """The community scope, sorted; None: every community."""
    pii: bool
    secret_hash: str
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class KeyCursor:
    """Position after the last key of a page: newest first, by (created_at, key_id)."""

    created_at: datetime
    key_id: str

    def encode(self) -> str:
        return encode_tagged("key", self.created_at.astimezone(UTC).isoformat(), self.key_id)

    @classmethod
    def decode(cls, token: str) -> "KeyCursor":
        created, key_id = decode_tagged(token, "key", 2)
        return cls(cursor_instant(created), key_id)


class KeyStore(Protocol):
    async def create_key(self, key: StoredKey) -> None:
        """Store a new key (its id is new: ids are random)."""

    async def get_key(self, key_id: str) -> StoredKey | None:
        """The key of this id, revoked or expired alike; None when there is none."""

    async def list_keys(self, limit: int, cursor: str | None) -> "Page[StoredKey]":
        """Every key, revoked and expired ones included, newest first."""

    async def revoke_key(self, key_id: str, now: datetime) -> StoredKey | None:
        """Revoke the key at `now` (a key revoked already keeps its first revocation time);
        the key as it now stands, None when there is none."""

    async def touch_key(self, key_id: str, now: datetime) -> None:
        """Record that the key was used at `now` (never moves back)."""
