"""Specification of residents' contacts at rest (`gateway.pii.ContactVault`): sealed per
field under a key derived from the ID hash key, and fingerprinted by a keyed hash."""

import re

import pytest

from gateway.pii import ContactField, ContactVault
from gateway.sealing import Sealer, UnreadableSealError
from schemas.privacy import Pseudonymizer, hash_id_number

KEY = "pii-test-id-hash-key-0123456789"
OTHER_KEY = "pii-test-another-key-0123456789"
NAME = "欧阳小锋"
PHONE = "13812345678"
CONTACTS: list[tuple[ContactField, str]] = [("name", NAME), ("phone", PHONE)]


@pytest.fixture
def vault() -> ContactVault:
    return ContactVault(KEY)


class TestSealedContacts:
    """A sealed name or phone opens only with the same key and as the same field."""

    @pytest.mark.parametrize(("field", "value"), CONTACTS)
    def test_a_sealed_contact_opens_to_itself(
        self, vault: ContactVault, field: ContactField, value: str
    ) -> None:
        assert ContactVault(KEY).open(field, vault.seal(field, value)) == value

    @pytest.mark.parametrize(("field", "value"), CONTACTS)
    def test_the_sealed_bytes_hold_nothing_of_the_value(
        self, vault: ContactVault, field: ContactField, value: str
    ) -> None:
        sealed = vault.seal(field, value)
        assert value.encode() not in sealed
        assert vault.seal(field, value) != sealed  # a fresh nonce every time

    def test_another_key_does_not_open_it(self, vault: ContactVault) -> None:
        with pytest.raises(UnreadableSealError):
            ContactVault(OTHER_KEY).open("phone", vault.seal("phone", PHONE))

    def test_a_sealed_name_does_not_open_as_a_phone(self, vault: ContactVault) -> None:
        with pytest.raises(UnreadableSealError):
            vault.open("phone", vault.seal("name", NAME))

    def test_the_id_hash_key_alone_opens_nothing(self, vault: ContactVault) -> None:
        """Another purpose's sealer of the same secret (dead-letter payloads) cannot open it."""
        raw_payloads = Sealer(KEY, b"scgw dead-letter raw payload v1")
        with pytest.raises(UnreadableSealError):
            raw_payloads.open(vault.seal("name", NAME), b"name")

    def test_an_altered_seal_is_detected(self, vault: ContactVault) -> None:
        sealed = bytearray(vault.seal("name", NAME))
        sealed[-1] ^= 0x80
        with pytest.raises(UnreadableSealError):
            vault.open("name", bytes(sealed))


class TestFingerprints:
    """A contact's fingerprint is stable under one key, and tells nothing without it."""

    @pytest.mark.parametrize(("field", "value"), CONTACTS)
    def test_the_same_value_gives_the_same_fingerprint(
        self, field: ContactField, value: str
    ) -> None:
        assert ContactVault(KEY).fingerprint(field, value) == ContactVault(KEY).fingerprint(
            field, value
        )

    def test_it_is_keyed(self, vault: ContactVault) -> None:
        assert vault.fingerprint("phone", PHONE) != ContactVault(OTHER_KEY).fingerprint(
            "phone", PHONE
        )

    def test_another_value_gives_another_fingerprint(self, vault: ContactVault) -> None:
        assert vault.fingerprint("phone", PHONE) != vault.fingerprint("phone", "13812345679")

    def test_fields_never_join(self, vault: ContactVault) -> None:
        assert vault.fingerprint("name", PHONE) != vault.fingerprint("phone", PHONE)

    def test_it_is_not_the_id_hash_of_the_same_text(self, vault: ContactVault) -> None:
        number = "430112199001011234"
        assert vault.fingerprint("phone", number) != hash_id_number(Pseudonymizer(KEY), number)

    @pytest.mark.parametrize(("field", "value"), CONTACTS)
    def test_the_form_is_a_prefixed_hash_without_the_value(
        self, vault: ContactVault, field: ContactField, value: str
    ) -> None:
        fingerprint = vault.fingerprint(field, value)
        assert re.fullmatch(r"h1:[0-9a-f]{32}", fingerprint)
        assert value not in fingerprint
