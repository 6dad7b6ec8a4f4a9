"""Residents' names and phones at rest: sealed for the audited unmasked read, hashed to compare.

Government reads show names and phones masked. An unmasked read (admin, with a reason, audited)
needs the real values, so imports keep them sealed (`gateway.sealing`) under a key derived from
the ID hash key with its own label: no new secret to manage, and the database alone reveals
nothing. A keyed hash of each value lets a re-import tell "unchanged" from "changed" without
opening any seal (a fresh nonce makes every seal of the same value differ).
"""

from typing import Final, Literal

from gateway.sealing import Sealer
from schemas.privacy import Pseudonymizer

ContactField = Literal["name", "phone"]
_KEY_INFO: Final = b"scgw resident contact v1"


class ContactVault:
    """Seals, opens and fingerprints a resident's name or phone."""

    def __init__(self, id_hash_key: str) -> None:
        self._sealer = Sealer(id_hash_key, _KEY_INFO)
        self._pseudonymizer = Pseudonymizer(id_hash_key)

    def seal(self, field: ContactField, value: str) -> bytes:
        return self._sealer.seal(value.encode(), field.encode())

    def open(self, field: ContactField, sealed: bytes) -> str:
        """The value; `gateway.sealing.UnreadableSealError` if another key or field sealed it."""
        return self._sealer.open(sealed, field.encode()).decode()

    def fingerprint(self, field: ContactField, value: str) -> str:
        """A keyed hash of the value: equal values, equal fingerprints; nothing reverses it."""
        return self._pseudonymizer.hash(f"contact-{field}", value)
