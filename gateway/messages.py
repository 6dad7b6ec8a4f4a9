"""What travels between ingest, pipeline and store: inbound messages and dead letters."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from gateway.privacy import redact_text

DEAD_LETTER_EXCERPT_CHARS = 2048


@dataclass(slots=True)
class InboundMessage:
    """One MQTT message awaiting processing; `ack` is called only once its batch is committed."""

    topic: str
    payload: bytes
    received_at: datetime
    received_monotonic: float
    ack: Callable[[], object] = field(default=lambda: None)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A rejected message, kept for inspection with personal data redacted and size bounded."""

    received_at: datetime
    topic: str
    reason: str
    detail: str
    payload_excerpt: str
    payload_bytes: int

    @classmethod
    def of(cls, message: InboundMessage, reason: str, detail: str) -> "DeadLetter":
        """Build from a message: the payload is decoded leniently, truncated, then redacted."""
        text = message.payload[: DEAD_LETTER_EXCERPT_CHARS * 4].decode("utf-8", errors="replace")
        return cls(
            received_at=message.received_at,
            topic=_storable(message.topic)[:512],
            reason=reason,
            detail=_storable(detail)[:1024],
            payload_excerpt=_storable(text)[:DEAD_LETTER_EXCERPT_CHARS],
            payload_bytes=len(message.payload),
        )


def _storable(text: str) -> str:
    """Redacted, and without NUL characters, which PostgreSQL text columns refuse."""
    return redact_text(text).replace("\x00", "\ufffd")
