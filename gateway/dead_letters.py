"""Building dead letters: the payload's shape, the dialect's allow-listed values, and the raw
payload sealed when the operator keeps raw payloads.

Each adapter declares the payload fields its dead letters may show (`dead_letter_fields`, see
`adapters.base.Adapter`); a message no adapter was chosen for (an unknown topic or dialect, an
oversized payload) shows no value at all.
"""

from collections.abc import Mapping

from adapters.base import Adapter
from gateway.messages import DeadLetter, InboundMessage
from gateway.payload_shape import NOTHING, AllowList, payload_shape
from gateway.raw_payloads import RawPayloadVault

DEFAULT_MAX_PAYLOAD_BYTES = 256 * 1024


class DeadLetterFactory:
    """Turns a rejected message into a `DeadLetter`; pure apart from the sealing nonce."""

    def __init__(
        self,
        allow_lists: Mapping[str, AllowList],
        *,
        max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
        vault: RawPayloadVault | None = None,
    ) -> None:
        self._allow_lists = dict(allow_lists)
        self._max_payload_bytes = max_payload_bytes
        self._vault = vault

    @classmethod
    def for_adapters(
        cls,
        adapters: Mapping[str, Adapter],
        *,
        max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
        vault: RawPayloadVault | None = None,
    ) -> "DeadLetterFactory":
        """A factory showing each dialect's declared fields; `vault` keeps raw payloads."""
        allow_lists = {
            name: AllowList.of(adapter.dead_letter_fields) for name, adapter in adapters.items()
        }
        return cls(allow_lists, max_payload_bytes=max_payload_bytes, vault=vault)

    def __call__(
        self,
        message: InboundMessage,
        reason: str,
        detail: str,
        dialect: str | None,
        community: str | None = None,
    ) -> DeadLetter:
        """The letter for `message`, rejected for `reason`; `dialect` is the adapter's and
        `community` the one routing placed the topic in, if any."""
        allowed = NOTHING if dialect is None else self._allow_lists.get(dialect, NOTHING)
        payload = message.payload
        sealed = expires = None
        if self._vault is not None and len(payload) <= self._max_payload_bytes:
            sealed = self._vault.seal(payload)
            expires = message.received_at + self._vault.retention
        return DeadLetter(
            received_at=message.received_at,
            topic=message.topic,
            reason=reason,
            detail=detail,
            payload_excerpt=payload_shape(payload, allowed, max_bytes=self._max_payload_bytes),
            payload_bytes=len(payload),
            raw_payload=sealed,
            raw_expires_at=expires,
            community=community,
        )
