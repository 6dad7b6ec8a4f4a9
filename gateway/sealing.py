"""Authenticated encryption of small secrets at rest (AES-256-GCM, key derived by HKDF-SHA256).

One construction for everything the gateway keeps but must not let the database alone reveal:
raw dead-letter payloads (`gateway.raw_payloads`) and residents' names and phones
(`gateway.pii`). Each use derives its own key from its secret with its own `info` label and
binds its own associated data, so a value sealed for one purpose never opens as another.
A sealed value is `version (1 byte) | nonce (12 bytes) | ciphertext + tag`.
"""

import os
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_VERSION: Final = b"\x01"
_NONCE_BYTES: Final = 12


class UnreadableSealError(Exception):
    """A sealed value this sealer cannot open: another key sealed it, or it was altered."""


class Sealer:
    """Seals and opens values under a key derived from `secret` for the purpose `info`."""

    def __init__(self, secret: str, info: bytes) -> None:
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(
            secret.encode()
        )
        self._aead = AESGCM(derived)

    def seal(self, value: bytes, associated_data: bytes) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return _VERSION + nonce + self._aead.encrypt(nonce, value, associated_data)

    def open(self, sealed: bytes, associated_data: bytes) -> bytes:
        """The value, or `UnreadableSealError` (wrong key or purpose, old version, tampering)."""
        if not sealed.startswith(_VERSION) or len(sealed) < 1 + _NONCE_BYTES:
            raise UnreadableSealError("not a sealed value of this version")
        nonce, ciphertext = sealed[1 : 1 + _NONCE_BYTES], sealed[1 + _NONCE_BYTES :]
        try:
            return self._aead.decrypt(nonce, ciphertext, associated_data)
        except InvalidTag:
            raise UnreadableSealError("the key does not open it") from None
