"""What travels between ingest, pipeline and store: inbound messages and dead letters."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from gateway.privacy import shareable_topic, without_personal_numbers

DEAD_LETTER_EXCERPT_CHARS = 2048
TOPIC_CHARS = 512
DETAIL_CHARS = 1024


@dataclass(slots=True)
class InboundMessage:
    """One MQTT message awaiting processing; `ack` is called only once its batch is committed.

    `retained` is the RETAIN flag as delivered: set only when the broker replays a message it
    kept for the topic because our subscription is new (every gateway start subscribes anew),
    never on a message forwarded live (MQTT 3.1.1 3.3.1.3, MQTT 5 without Retain As Published).
    """

    topic: str
    payload: bytes
    received_at: datetime
    received_monotonic: float
    ack: Callable[[], object] = field(default=lambda: None)
    retained: bool = False


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A rejected message as it is stored: never the payload itself.

    `payload_excerpt` is the payload's shape (`gateway.payload_shape`, built by
    `gateway.dead_letters.DeadLetterFactory`). Whoever builds a letter, the topic keeps only
    its plain levels (`gateway.privacy.shareable_topic`), the detail loses any personal-looking
    number, and every text is bounded and free of NUL characters (PostgreSQL text refuses
    them). `raw_payload` is the payload sealed by `gateway.raw_payloads.RawPayloadVault`, only
    when the operator keeps raw payloads, with the time it must be erased.
    """

    received_at: datetime
    topic: str
    reason: str
    detail: str
    payload_excerpt: str
    payload_bytes: int
    raw_payload: bytes | None = None
    raw_expires_at: datetime | None = None
    community: str | None = None
    """The community routing placed the topic in; None when it placed it in none. It decides
    which scoped keys see the letter (`gateway.access.Caller.sees`)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "topic", _storable(shareable_topic(self.topic))[:TOPIC_CHARS])
        detail = _storable(without_personal_numbers(self.detail))[:DETAIL_CHARS]
        object.__setattr__(self, "detail", detail)
        excerpt = _storable(self.payload_excerpt)[:DEAD_LETTER_EXCERPT_CHARS]
        object.__setattr__(self, "payload_excerpt", excerpt)
        if (self.raw_payload is None) != (self.raw_expires_at is None):
            raise ValueError("a raw payload is kept with its expiry, or neither is")


def _storable(text: str) -> str:
    return text.replace("\x00", "\ufffd")
