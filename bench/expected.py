"""Which events the gateway will store for a message: its event ids, for a sample of messages.

Why it exists: the latency of a message is the commit time of its events minus its send
time, and with every dialect in the mix a message becomes one event, several (a GA/T 1400
list of faces) or none. The gateway's own pipeline (`gateway.runtime.build_pipeline`, with the
configuration and hash key of the gateway under test) answers exactly, without a second copy
of routing or parsing. It costs what the gateway's parse costs (up to ~1 ms for a GA/T 1400
message here), so the benchmark pairs an evenly spaced sample, not every message.
"""

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from bench.common import Message
from gateway.config import Settings, load_config
from gateway.messages import InboundMessage
from gateway.runtime import build_pipeline
from testkit.harness import HASH_KEY


def sample_indices(count: int, size: int) -> list[int]:
    """Up to `size` indices spread evenly over range(count)."""
    if count <= size:
        return list(range(count))
    step = count / size
    return sorted({int(i * step) for i in range(size)})


def event_ids(
    messages: Sequence[Message], indices: Sequence[int], config: Path
) -> dict[int, tuple[str, ...]]:
    """Message index -> the ids of the events the gateway makes of it (none: left out)."""
    settings = Settings.model_validate({"config": str(config)})
    pipeline = build_pipeline(settings, load_config(config), HASH_KEY)
    now = datetime.now(UTC)
    found: dict[int, tuple[str, ...]] = {}
    for index in indices:
        topic, payload = messages[index]
        batch = pipeline([InboundMessage(topic, payload, now, time.monotonic())])
        if batch.events:
            found[index] = tuple(event.event_id for event in batch.events)
    return found
