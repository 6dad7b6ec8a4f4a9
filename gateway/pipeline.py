"""The processing pipeline: messages in, events and dead letters out, no I/O.

Each step is a plain callable configured in `__init__` and applied in `__call__`; a step drops
a message by raising `PayloadError`, which turns the whole message into a dead letter (a
message is either stored or rejected, never half of each). The call order, as it runs:
`gateway.ingest` takes a batch from the broker and hands it to `gateway.commit.BatchCommitter`,
which runs this pipeline over it, writes the result in one transaction and only then
acknowledges the batch's messages.
"""

import logging
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from adapters.base import Adapter, RawMessage
from gateway.devices import DeviceRegistry
from gateway.errors import PayloadError
from gateway.messages import DeadLetter, InboundMessage
from gateway.routing import TopicRouter
from schemas.events import AccessEvent, DeviceEvent

logger = logging.getLogger(__name__)


class EventStep(Protocol):
    def __call__(self, event: DeviceEvent) -> DeviceEvent: ...


class Parse:
    """Size check, routing and the dialect's parser: the only step that reads payload bytes."""

    def __init__(
        self, router: TopicRouter, adapters: Mapping[str, Adapter], max_payload_bytes: int
    ) -> None:
        self._router = router
        self._adapters = adapters
        self._max_payload_bytes = max_payload_bytes

    def __call__(self, message: InboundMessage) -> list[DeviceEvent]:
        if len(message.payload) > self._max_payload_bytes:
            raise PayloadError(
                "oversized",
                f"{len(message.payload)} bytes is over the {self._max_payload_bytes}-byte limit",
            )
        route = self._router.route(message.topic)
        raw = RawMessage(
            topic=message.topic,
            payload=message.payload,
            received_at=message.received_at,
            community=route.community,
            device_id=route.device_id,
        )
        events = self._adapters[route.dialect].parse(raw)
        if not events:
            raise PayloadError("no_events", "the message carried no event")
        return events


class Enrich:
    """Places each event in its building, unit or gate from the device registry.

    Also resolves `unknown` access directions from the reader's configured direction, and
    applies the unknown-device policy: `accept` flags the event, `quarantine` rejects it.
    The registry is read at each event, so a device registered through the API counts from
    its next message on.
    """

    def __init__(
        self, registry: DeviceRegistry, unknown_device_policy: Literal["accept", "quarantine"]
    ) -> None:
        self._registry = registry
        self._quarantine = unknown_device_policy == "quarantine"

    def __call__(self, event: DeviceEvent) -> DeviceEvent:
        device = self._registry.get(event.device_id)
        if device is not None and device.community != event.community:
            device = None  # registered elsewhere: its buildings are not this community's
        if device is None:
            if self._quarantine:
                raise PayloadError("unknown_device", "device is not registered")
            return event.model_copy(update={"unregistered_device": True})
        update: dict[str, object] = {
            "building": device.building,
            "unit": device.unit,
            "gate": device.gate,
        }
        if isinstance(event, AccessEvent) and event.direction == "unknown" and event.reader:
            update["direction"] = device.readers.get(event.reader, "unknown")
        return event.model_copy(update=update)


@dataclass(slots=True)
class ProcessedBatch:
    """What one batch of messages became."""

    events: list[DeviceEvent] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    duplicates: int = 0


class Pipeline:
    """Runs parse then each event step over a batch; never raises on bad input."""

    def __init__(self, parse: Parse, steps: Sequence[EventStep]) -> None:
        self._parse = parse
        self._steps = tuple(steps)

    def __call__(self, messages: Sequence[InboundMessage]) -> ProcessedBatch:
        batch = ProcessedBatch()
        seen: dict[str, DeviceEvent] = {}
        for message in messages:
            try:
                events = self._process(message)
            except PayloadError as exc:
                batch.dead_letters.append(DeadLetter.of(message, exc.reason, exc.detail))
                continue
            except Exception as exc:  # an adapter bug must cost one message, not the service
                # The exception's message may quote payload values: log where, never what.
                logger.error(
                    "adapter raised %s on topic %s\n%s",
                    type(exc).__name__,
                    message.topic,
                    "".join(traceback.format_tb(exc.__traceback__)),
                )
                detail = f"adapter raised {type(exc).__name__}"
                batch.dead_letters.append(DeadLetter.of(message, "internal_error", detail))
                continue
            for event in events:
                if event.event_id in seen:
                    batch.duplicates += 1
                else:
                    seen[event.event_id] = event
        batch.events = list(seen.values())
        return batch

    def _process(self, message: InboundMessage) -> list[DeviceEvent]:
        events = self._parse(message)
        for step in self._steps:
            events = [step(event) for event in events]
        return events
