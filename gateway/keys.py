"""API keys: creating them, and telling who presents one.

A key's secret is `scgw_<key_id>_<random>` (`key_id`: `key_` and 12 hex digits; the random
part: 32 bytes, URL-safe base64). It is shown once, when the key is created; the store keeps
only its SHA-256, so a stolen database opens nothing. The id inside the secret finds the row,
and the hashes are compared with `hmac.compare_digest` whether or not a row was found, so the
time an answer takes tells nothing about the secret.

`SCGW_ADMIN_API_KEY` stays the bootstrap admin key (`gateway.access.bootstrap_admin`): the
key that exists before any key is created, the one that creates the first ones.

A short in-process cache (`CACHE_S`) spares the database a read per request; this process's
revocations drop the key from it at once, another process's (`scgw keys revoke`) take effect
here within `CACHE_S`. The last-used time is written at most once a minute per key.
"""

import hashlib
import hmac
import logging
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

from gateway.access import BOOTSTRAP_KEY_ID, Caller, Role, bootstrap_admin, parse_communities
from gateway.config import GatewayConfig
from gateway.grids import GridMap
from gateway.privacy import holds_personal_number
from gateway.store.base import Page
from gateway.store.keys import KeyStore, StoredKey

logger = logging.getLogger(__name__)

SECRET_PREFIX: Final = "scgw_"
CACHE_S: Final = 5.0
"""How long a key read from the store is trusted before it is read again."""
CACHE_MAX: Final = 10_000
TOUCH_EVERY: Final = timedelta(minutes=1)
"""The last-used time is written at most this often per key."""
NAME_MAX_CHARS: Final = 100

_SECRET = re.compile(r"scgw_(key_[0-9a-f]{12})_([A-Za-z0-9_-]{43})")
_NO_HASH: Final = "0" * 64
"""Compared against when no row was found, so a miss costs what a mismatch costs."""


class Refusal(StrEnum):
    """Why a presented key was refused: what the log says, never the key itself."""

    MISSING = "missing"
    MALFORMED = "malformed"
    UNKNOWN = "unknown"
    BAD_SECRET = "bad secret"
    EXPIRED = "expired"
    REVOKED = "revoked"


@dataclass(frozen=True, slots=True)
class Verdict:
    """The answer to a presented key: its caller, or why it was refused and, when the secret
    named a real key, that key's id (a made-up id is not logged: it may be a mistyped secret)."""

    caller: Caller | None
    refusal: Refusal | None = None
    key_id: str | None = None


class KeyRefusedError(ValueError):
    """A key that cannot be created as asked: `field` (and `index`, for one community of the
    list) names what is wrong, the message states the rule and never the value."""

    def __init__(self, field: str, message: str, index: int | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.index = index


def secret_hash(secret: str) -> str:
    """What the store keeps of a secret: SHA-256, hex. A secret has 256 random bits, so a fast
    hash is enough (there is nothing to brute-force that is easier than the secret itself)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_key_id() -> str:
    return f"key_{secrets.token_hex(6)}"


def known_communities(grids: GridMap, config: GatewayConfig) -> Callable[[str], bool]:
    """Whether a code names a community a key may be scoped to: one of the grid map's, or one
    the configuration declares."""
    declared = {community.code for community in config.communities}
    return lambda code: code in declared or grids.community(code) is not None


def caller_of(key: StoredKey) -> Caller:
    return Caller(key.key_id, key.name, Role(key.role), parse_communities(key.communities), key.pii)


class KeyRing:
    """Creates, checks, lists and revokes API keys, on a `KeyStore`.

    `bootstrap_secret` is `SCGW_ADMIN_API_KEY` (None: no bootstrap key, as in `scgw keys`);
    `known_community` tells whether a key may be scoped to a community code."""

    def __init__(
        self,
        store: KeyStore,
        bootstrap_secret: str | None,
        known_community: Callable[[str], bool],
        *,
        monotonic: Callable[[], float] = time.monotonic,
        cache_s: float = CACHE_S,
    ) -> None:
        self._store = store
        self._bootstrap = None if bootstrap_secret is None else bootstrap_secret.encode()
        self._known_community = known_community
        self._monotonic = monotonic
        self._cache_s = cache_s
        self._cache: OrderedDict[str, tuple[float, StoredKey]] = OrderedDict()
        self._touched: dict[str, datetime] = {}

    async def create(
        self,
        name: str,
        role: Role | str,
        communities: Iterable[str] | None,
        pii: bool,
        expires_at: datetime | None,
        now: datetime,
    ) -> tuple[StoredKey, str]:
        """A new key and its secret (shown once: the store keeps only its hash).

        Refused (`KeyRefusedError`): an empty or overlong name, or one holding a phone or ID
        number (the name is stored and becomes the audit's actor), a role that does not exist, a
        community not in the grid map, an empty community list (a key that sees nothing),
        an expiry not in the future."""
        name = name.strip()
        if not name or len(name) > NAME_MAX_CHARS or not name.isprintable():
            raise KeyRefusedError("name", f"must be 1 to {NAME_MAX_CHARS} printable characters")
        if holds_personal_number(name):
            raise KeyRefusedError(
                "name", "must not hold phone or ID numbers: name the holder, an organisation"
            )
        try:
            role = Role(role)
        except ValueError:
            roles = ", ".join(member.value for member in Role)
            raise KeyRefusedError("role", f"is not a role; the roles are {roles}") from None
        scope = None
        if communities is not None:
            asked = list(communities)
            if not asked:
                raise KeyRefusedError(
                    "communities", "is empty: give at least one community, or null for all"
                )
            for index, code in enumerate(asked):
                if not self._known_community(code):
                    raise KeyRefusedError(
                        "communities", "is not a community of the grid map", index
                    )
            scope = tuple(sorted(set(asked)))
        if expires_at is not None and expires_at <= now:
            raise KeyRefusedError("expires_at", "is not in the future: the key would never work")
        key_id = new_key_id()
        secret = f"{SECRET_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
        key = StoredKey(
            key_id=key_id,
            name=name,
            role=role.value,
            communities=scope,
            pii=pii,
            secret_hash=secret_hash(secret),
            created_at=now,
            expires_at=expires_at,
        )
        await self._store.create_key(key)
        logger.info("created API key %s (role %s)", key_id, role.value)
        return key, secret

    async def authenticate(self, presented: str | None, now: datetime) -> Caller | None:
        """The caller presenting this secret, or None."""
        return (await self.verify(presented, now)).caller

    async def verify(self, presented: str | None, now: datetime) -> Verdict:
        """The caller presenting this secret, or why it is refused."""
        if not presented:
            return Verdict(None, Refusal.MISSING)
        if self._bootstrap is not None and hmac.compare_digest(presented.encode(), self._bootstrap):
            return Verdict(bootstrap_admin())
        match = _SECRET.fullmatch(presented)
        if match is None:
            hmac.compare_digest(secret_hash(presented), _NO_HASH)  # the same work as a miss
            return Verdict(None, Refusal.MALFORMED)
        key_id = match.group(1)
        key = await self._key(key_id)
        stored = key.secret_hash if key is not None else _NO_HASH
        matches = hmac.compare_digest(secret_hash(presented), stored)
        if key is None:
            return Verdict(None, Refusal.UNKNOWN)
        if not matches:
            return Verdict(None, Refusal.BAD_SECRET, key_id)
        if (refusal := _unusable(key, now)) is not None:
            return Verdict(None, refusal, key_id)
        await self._touch(key, now)
        return Verdict(caller_of(key))

    async def caller_by_id(self, key_id: str, now: datetime) -> Caller | None:
        """The caller of a key that is usable at `now` (for tokens issued to a key, e.g. the
        stream's): None when it is unknown, revoked or expired."""
        if key_id == BOOTSTRAP_KEY_ID:
            return bootstrap_admin()
        key = await self._key(key_id)
        if key is None or _unusable(key, now) is not None:
            return None
        return caller_of(key)

    async def revoke(self, key_id: str, now: datetime) -> StoredKey | None:
        """Revoke a key (at once in this process); None when there is no such key."""
        key = await self._store.revoke_key(key_id, now)
        self._cache.pop(key_id, None)
        if key is not None:
            logger.info("revoked API key %s", key_id)
        return key

    async def list(self, limit: int, cursor: str | None) -> Page[StoredKey]:
        """Every key, newest first, revoked and expired ones included."""
        return await self._store.list_keys(limit, cursor)

    async def _key(self, key_id: str) -> StoredKey | None:
        """The key, from the cache while fresh; misses are not cached (a key just created by
        another process works at once)."""
        at = self._monotonic()
        cached = self._cache.get(key_id)
        if cached is not None and at - cached[0] < self._cache_s:
            return cached[1]
        key = await self._store.get_key(key_id)
        if key is None:
            self._cache.pop(key_id, None)
            return None
        self._cache[key_id] = (at, key)
        self._cache.move_to_end(key_id)
        while len(self._cache) > CACHE_MAX:
            self._cache.popitem(last=False)
        return key

    async def _touch(self, key: StoredKey, now: datetime) -> None:
        last = max(
            (at for at in (key.last_used_at, self._touched.get(key.key_id)) if at is not None),
            default=None,
        )
        if last is not None and now - last < TOUCH_EVERY:
            return
        self._touched[key.key_id] = now
        await self._store.touch_key(key.key_id, now)


def _unusable(key: StoredKey, now: datetime) -> Refusal | None:
    if key.revoked_at is not None:
        return Refusal.REVOKED
    if key.expires_at is not None and key.expires_at <= now:
        return Refusal.EXPIRED
    return None
