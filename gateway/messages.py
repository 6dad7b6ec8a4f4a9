"""What travels between ingest, pipeline and store: inbound messages and dead letters."""

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from gateway.privacy import redact_text

DEAD_LETTER_EXCERPT_CHARS = 2048
TOPIC_CHARS = 512
DETAIL_CHARS = 1024
_DECODE_WINDOW_BYTES = DEAD_LETTER_EXCERPT_CHARS * 4
_PARTIAL_TOKEN_AT_END = re.compile(r"[0-9A-Za-z+\-]+\Z")


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
    """A rejected message, kept for inspection with personal data redacted and size bounded.

    Every text field is redacted and cleaned of NUL characters (PostgreSQL text refuses them)
    when the letter is built, whoever builds it.
    """

    received_at: datetime
    topic: str
    reason: str
    detail: str
    payload_excerpt: str
    payload_bytes: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "topic", _storable(self.topic)[:TOPIC_CHARS])
        object.__setattr__(self, "detail", _storable(self.detail)[:DETAIL_CHARS])
        excerpt = _storable(self.payload_excerpt)[:DEAD_LETTER_EXCERPT_CHARS]
        object.__setattr__(self, "payload_excerpt", excerpt)

    @classmethod
    def of(cls, message: InboundMessage, reason: str, detail: str) -> "DeadLetter":
        """Build from a message: the payload is decoded leniently and cut before redaction.

        A cut can split an ID or card number; the partial run at the cut is dropped, since a
        fragment no longer looks like what it is and would escape redaction.
        """
        window = message.payload[:_DECODE_WINDOW_BYTES]
        text = window.decode("utf-8", errors="replace")
        if len(window) < len(message.payload):
            text = _PARTIAL_TOKEN_AT_END.sub("", text)
        return cls(
            received_at=message.received_at,
            topic=message.topic,
            reason=reason,
            detail=detail,
            payload_excerpt=text,
            payload_bytes=len(message.payload),
        )


def _storable(text: str) -> str:
    return redact_text(text).replace("\x00", "\ufffd")
