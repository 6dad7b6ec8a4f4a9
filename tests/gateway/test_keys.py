"""`gateway.keys.KeyRing` on both stores: secrets of the documented form, stored as SHA-256
only, checked in constant time, usable until expiry or revocation, scoped to communities the
grid map knows, with a short cache that this process's revocations clear at once."""

import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from typing import get_args

import pytest

from gateway.access import BOOTSTRAP_KEY_ID, Caller, Role, bootstrap_admin
from gateway.keys import CACHE_S, KeyRefusedError, KeyRing, Refusal, secret_hash
from gateway.store import Store
from schemas.keys import KeyRole

BOOTSTRAP = "bootstrap-secret-0123456789abcdef"
KNOWN = frozenset({"yida", "jiaxin"})


class Monotonic:
    """The cache's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
def monotonic() -> Monotonic:
    return Monotonic()


@pytest.fixture
def ring(store: Store, monotonic: Monotonic) -> KeyRing:
    return KeyRing(store, BOOTSTRAP, KNOWN.__contains__, monotonic=monotonic)


class TestCreate:
    """A new key: its secret once, its hash at rest."""

    async def test_the_secret_has_the_documented_form(self, ring: KeyRing, now: datetime) -> None:
        key, secret = await ring.create("亿达物业", Role.PROPERTY, ["yida"], False, None, now)
        prefix, key_part, hex_part, random = secret.split("_", 3)
        assert (prefix, f"{key_part}_{hex_part}") == ("scgw", key.key_id)
        assert len(hex_part) == 12 and int(hex_part, 16) >= 0
        assert len(random) == 43

    async def test_only_the_hash_of_the_secret_is_stored(
        self, ring: KeyRing, store: Store, now: datetime
    ) -> None:
        key, secret = await ring.create("网格中心", "gov", None, True, None, now)
        stored = await store.get_key(key.key_id)
        assert stored is not None
        assert stored.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
        assert secret not in repr(stored)
        assert (stored.name, stored.role, stored.communities, stored.pii) == (
            "网格中心",
            "gov",
            None,
            True,
        )

    async def test_the_scope_is_kept_sorted_without_repeats(
        self, ring: KeyRing, now: datetime
    ) -> None:
        key, _ = await ring.create("x", "property", ["yida", "jiaxin", "yida"], False, None, now)
        assert key.communities == ("jiaxin", "yida")

    @pytest.mark.parametrize(
        ("name", "role", "communities", "field", "index"),
        [
            ("x", "root", None, "role", None),
            ("x", "property", ["yida", "atlantis"], "communities", 1),
            ("x", "property", [], "communities", None),
            (" ", "gov", None, "name", None),
            ("x" * 101, "gov", None, "name", None),
        ],
    )
    async def test_a_key_that_cannot_be_is_refused(
        self,
        ring: KeyRing,
        store: Store,
        now: datetime,
        name: str,
        role: str,
        communities: list[str] | None,
        field: str,
        index: int | None,
    ) -> None:
        with pytest.raises(KeyRefusedError) as refused:
            await ring.create(name, role, communities, False, None, now)
        assert (refused.value.field, refused.value.index) == (field, index)
        assert "atlantis" not in str(refused.value)
        assert (await store.list_keys(10, None)).data == []

    async def test_an_expiry_not_in_the_future_is_refused(
        self, ring: KeyRing, now: datetime
    ) -> None:
        with pytest.raises(KeyRefusedError) as refused:
            await ring.create("x", "gov", None, False, now, now)
        assert refused.value.field == "expires_at"


class TestAuthenticate:
    """A secret names its caller until the key expires or is revoked."""

    async def test_a_key_authenticates_as_its_caller(self, ring: KeyRing, now: datetime) -> None:
        key, secret = await ring.create("亿达物业", "property", ["yida"], True, None, now)
        assert await ring.authenticate(secret, now) == Caller(
            key.key_id, "亿达物业", Role.PROPERTY, frozenset({"yida"}), True
        )

    async def test_the_bootstrap_key_is_the_admin(self, ring: KeyRing, now: datetime) -> None:
        assert await ring.authenticate(BOOTSTRAP, now) == bootstrap_admin()

    @pytest.mark.parametrize(
        ("presented", "refusal"),
        [
            (None, Refusal.MISSING),
            ("", Refusal.MISSING),
            ("nope", Refusal.MALFORMED),
            ("scgw_key_00000000000g_" + "a" * 43, Refusal.MALFORMED),
            ("scgw_key_000000000000_" + "a" * 42, Refusal.MALFORMED),
            ("scgw_key_000000000000_" + "a" * 43, Refusal.UNKNOWN),
        ],
    )
    async def test_what_is_no_key_is_refused_with_its_reason(
        self, ring: KeyRing, now: datetime, presented: str | None, refusal: Refusal
    ) -> None:
        verdict = await ring.verify(presented, now)
        assert (verdict.caller, verdict.refusal, verdict.key_id) == (None, refusal, None)

    async def test_a_wrong_secret_names_the_real_key(self, ring: KeyRing, now: datetime) -> None:
        key, secret = await ring.create("x", "gov", None, False, None, now)
        wrong = secret[:-1] + ("a" if secret[-1] != "a" else "b")
        verdict = await ring.verify(wrong, now)
        assert (verdict.caller, verdict.refusal, verdict.key_id) == (
            None,
            Refusal.BAD_SECRET,
            key.key_id,
        )

    async def test_hashes_are_compared_even_for_an_unknown_key(
        self, ring: KeyRing, now: datetime, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A miss does the work of a mismatch, so timing does not tell them apart."""
        compared: list[tuple[object, object]] = []
        real = hmac.compare_digest

        def spy(a: str | bytes, b: str | bytes) -> bool:
            compared.append((a, b))
            return real(a, b)  # type: ignore[arg-type]

        monkeypatch.setattr(hmac, "compare_digest", spy)
        unknown = "scgw_key_000000000000_" + "a" * 43
        await ring.verify(unknown, now)
        assert (secret_hash(unknown), "0" * 64) in compared

    async def test_a_key_stops_at_its_expiry(self, ring: KeyRing, now: datetime) -> None:
        key, secret = await ring.create("x", "gov", None, False, now + timedelta(hours=1), now)
        assert await ring.authenticate(secret, now + timedelta(minutes=59)) is not None
        verdict = await ring.verify(secret, now + timedelta(hours=1))
        assert (verdict.refusal, verdict.key_id) == (Refusal.EXPIRED, key.key_id)

    async def test_a_revoked_key_stops_at_once_in_this_process(
        self, ring: KeyRing, now: datetime
    ) -> None:
        key, secret = await ring.create("x", "gov", None, False, None, now)
        assert await ring.authenticate(secret, now) is not None  # cached
        await ring.revoke(key.key_id, now)
        verdict = await ring.verify(secret, now)
        assert verdict.refusal is Refusal.REVOKED

    async def test_another_process_revocation_counts_once_the_cache_is_stale(
        self, ring: KeyRing, store: Store, monotonic: Monotonic, now: datetime
    ) -> None:
        key, secret = await ring.create("x", "gov", None, False, None, now)
        assert await ring.authenticate(secret, now) is not None
        await store.revoke_key(key.key_id, now)  # as `scgw keys revoke` would
        monotonic.now += CACHE_S - 0.1
        assert await ring.authenticate(secret, now) is not None
        monotonic.now += 0.1
        assert await ring.authenticate(secret, now) is None

    async def test_a_key_created_by_another_process_works_at_once(
        self, ring: KeyRing, store: Store, monotonic: Monotonic, now: datetime
    ) -> None:
        unknown = "scgw_key_000000000000_" + "a" * 43
        assert await ring.authenticate(unknown, now) is None
        other = KeyRing(store, BOOTSTRAP, KNOWN.__contains__, monotonic=monotonic)
        _, secret = await other.create("x", "gov", None, False, None, now)
        assert await ring.authenticate(secret, now) is not None

    async def test_the_last_use_is_written_at_most_once_a_minute(
        self, ring: KeyRing, store: Store, now: datetime
    ) -> None:
        key, secret = await ring.create("x", "gov", None, False, None, now)

        async def last_used() -> datetime | None:
            stored = await store.get_key(key.key_id)
            assert stored is not None
            return stored.last_used_at

        await ring.authenticate(secret, now)
        assert await last_used() == now
        await ring.authenticate(secret, now + timedelta(seconds=59))
        assert await last_used() == now
        await ring.authenticate(secret, now + timedelta(seconds=60))
        assert await last_used() == now + timedelta(seconds=60)


class TestCallerById:
    """Tokens issued to a key (the stream's) resolve to its caller while it is usable."""

    async def test_a_usable_key_gives_its_caller(self, ring: KeyRing, now: datetime) -> None:
        key, _ = await ring.create("x", "device_ops", None, False, None, now)
        caller = await ring.caller_by_id(key.key_id, now)
        assert caller is not None and caller.role is Role.DEVICE_OPS

    async def test_the_bootstrap_id_gives_the_admin(self, ring: KeyRing, now: datetime) -> None:
        assert await ring.caller_by_id(BOOTSTRAP_KEY_ID, now) == bootstrap_admin()

    async def test_unknown_expired_or_revoked_keys_give_none(
        self, ring: KeyRing, now: datetime
    ) -> None:
        expiring, _ = await ring.create("x", "gov", None, False, now + timedelta(hours=1), now)
        revoked, _ = await ring.create("y", "gov", None, False, None, now)
        await ring.revoke(revoked.key_id, now)
        later = now + timedelta(hours=1)
        assert await ring.caller_by_id(expiring.key_id, later) is None
        assert await ring.caller_by_id(revoked.key_id, now) is None
        assert await ring.caller_by_id("key_000000000000", now) is None


class TestStore:
    """The `KeyStore` on both backends: pages newest first, revocation kept, no deletion."""

    async def test_keys_page_newest_first(self, ring: KeyRing, now: datetime) -> None:
        made = [
            (await ring.create(f"k{i}", "gov", None, False, None, now + timedelta(seconds=i)))[0]
            for i in range(5)
        ]
        seen: list[str] = []
        cursor = None
        while True:
            page = await ring.list(2, cursor)
            seen.extend(key.key_id for key in page.data)
            if (cursor := page.next_cursor) is None:
                break
        assert seen == [key.key_id for key in reversed(made)]

    async def test_revoking_an_unknown_key_gives_none(self, ring: KeyRing, now: datetime) -> None:
        assert await ring.revoke("key_000000000000", now) is None

    async def test_a_revocation_keeps_its_first_time(self, ring: KeyRing, now: datetime) -> None:
        key, _ = await ring.create("x", "gov", None, False, None, now)
        await ring.revoke(key.key_id, now)
        again = await ring.revoke(key.key_id, now + timedelta(days=1))
        assert again is not None and again.revoked_at == now


class TestRoles:
    def test_the_api_offers_exactly_the_roles_of_the_access_contract(self) -> None:
        """`schemas.keys.KeyRole` (schemas cannot import the gateway) spells `Role`."""
        assert set(get_args(KeyRole)) == {role.value for role in Role}
