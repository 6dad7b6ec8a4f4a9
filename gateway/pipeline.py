"""The processing pipeline: messages in, events and dead letters out, no I/O.

Each step is a plain callable configured in `__init__` and applied in `__call__`; a step drops
a message by raising `PayloadError`, which turns the whole message into a dead letter (a
message is either stored or rejected, never half of each). Per message, as it runs: `RouteMessage`
(size, topic), `CheckSender.admit` (the sender's dialect), `Parse` (the adapter),
`CheckSender` (the devices the events name), then the event steps (`Enrich`), then in-batch
dedup. Around it: `gateway.ingest` takes a batch from the broker and hands it to
`gateway.commit.BatchCommitter`, which runs this pipeline over it, writes the result in one
transaction and only then acknowledges the batch's messages.
"""

import logging
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal, Protocol

from adapters.base import Adapter, RawMessage
from gateway.config import Settings
from gateway.dead_letters import DeadLetterFactory
from gateway.devices import DeviceRegistry
from gateway.errors import PayloadError
from gateway.messages import DeadLetter, InboundMessage
from gateway.privacy import shareable_topic
from gateway.routing import Route, TopicRouter
from schemas.devices import STATUS_DIALECT, DeviceRegistration
from schemas.events import AccessEvent, DeviceEvent, DeviceStatusEvent, amended

logger = logging.getLogger(__name__)


class EventStep(Protocol):
    def __call__(self, event: DeviceEvent) -> DeviceEvent: ...


@dataclass(frozen=True, slots=True)
class Routed:
    """A message the router placed: the dialect that parses it and the adapter's view of it.

    `message.device_id` is the sender: the device the topic names (or the binding's `sender`),
    None when neither names one.
    """

    dialect: str
    message: RawMessage


ROUTE_CACHE_SIZE = 65_536
"""Routed topics remembered (about 200 bytes each): a district's 20,000 devices fit; when full,
the cache starts over, so hostile topics cannot grow it."""


class RouteMessage:
    """Size check and topic routing: which dialect parses a message, from which sender.

    A topic's route depends on the topic and the configuration alone (the router is built once
    per gateway), and every device publishes on the same few topics, so each routed topic is
    remembered: the next message on it skips the match and the personal-number checks of its
    levels. A refused topic is not remembered: it is refused again, with the same reason.
    """

    def __init__(self, router: TopicRouter, max_payload_bytes: int) -> None:
        self._router = router
        self._max_payload_bytes = max_payload_bytes
        self._routes: dict[str, Route] = {}

    @property
    def max_payload_bytes(self) -> int:
        return self._max_payload_bytes

    def __call__(self, message: InboundMessage) -> Routed:
        if len(message.payload) > self._max_payload_bytes:
            raise PayloadError(
                "oversized",
                f"{len(message.payload)} bytes is over the {self._max_payload_bytes}-byte limit",
            )
        route = self._routes.get(message.topic)
        if route is None:
            route = self._router.route(message.topic)
            if len(self._routes) >= ROUTE_CACHE_SIZE:
                self._routes.clear()
            self._routes[message.topic] = route
        raw = RawMessage(
            topic=message.topic,
            payload=message.payload,
            received_at=message.received_at,
            community=route.community,
            device_id=route.device_id,
            retained=message.retained,
        )
        return Routed(route.dialect, raw)


class Parse:
    """The dialect's parser: the only step that reads payload bytes."""

    def __init__(self, adapters: Mapping[str, Adapter]) -> None:
        self._adapters = adapters

    @property
    def adapters(self) -> Mapping[str, Adapter]:
        return self._adapters

    def __call__(self, routed: Routed) -> list[DeviceEvent]:
        events = self._adapters[routed.dialect].parse(routed.message)
        if not events:
            raise PayloadError("no_events", "the message carried no event")
        return events


class CheckSender:
    """A device speaks only for itself, in its own dialect: the topic's device is the sender.

    Before parsing (`admit`): a registered sender's message is parsed only by the dialect it
    is registered with (`dialect_mismatch`); the status dialect is every device's, and an
    unregistered sender has no dialect to keep to. After parsing (`__call__`): every event's
    device is the sender itself or a device registered with the sender as its `parent`, in
    the message's community (`device_mismatch`); an unregistered sender speaks only for itself.
    A topic that names no sender (a binding without `device_id_level` or `sender`, a mapping
    template without `{device_id}`) vouches for nobody in particular: its events are kept
    only for devices registered in its community. The registry is read at each message, so
    a device registered through the API counts from its next message on.
    """

    def __init__(self, registry: DeviceRegistry) -> None:
        self._registry = registry

    def admit(self, routed: Routed) -> None:
        """Refuse a registered sender's message on another dialect's topic, before parsing."""
        sender = self._sender(routed.message)
        if sender is None or routed.dialect in (sender.dialect, STATUS_DIALECT):
            return
        raise PayloadError(
            "dialect_mismatch",
            f"the sender is registered for dialect {sender.dialect!r}, not {routed.dialect!r}",
        )

    def __call__(self, routed: Routed, events: list[DeviceEvent]) -> list[DeviceEvent]:
        """`events`, when the sender may speak for every device they name."""
        message = routed.message
        sender = self._sender(message)
        for event in events:
            if event.device_id == message.device_id:
                continue
            named = self._registry.get(event.device_id)
            if named is not None and named.community != message.community:
                named = None  # registered elsewhere: not this community's device
            if message.device_id is None:
                if named is None:
                    raise PayloadError(
                        "device_mismatch",
                        "the topic names no sender, and the payload names a device not "
                        "registered in this community",
                    )
            elif sender is None or named is None or named.parent != sender.device_id:
                raise PayloadError(
                    "device_mismatch",
                    "the payload names a device that is neither the sender nor registered "
                    "with the sender as its parent",
                )
        return events

    def _sender(self, message: RawMessage) -> DeviceRegistration | None:
        if message.device_id is None:
            return None
        device = self._registry.get(message.device_id)
        if device is None or device.community != message.community:
            return None  # registered elsewhere: unregistered here
        return device


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
            return amended(event, {"unregistered_device": True})
        update: dict[str, object] = {
            "building": device.building,
            "unit": device.unit,
            "gate": device.gate,
        }
        if isinstance(event, AccessEvent) and event.direction == "unknown" and event.reader:
            update["direction"] = device.readers.get(event.reader, "unknown")
        return amended(event, update)


class PlausibleTime:
    """One window of plausible event times for every dialect, relative to each message's arrival.

    An event may lie at most `max_ahead` ahead of the moment its message arrived (device
    clocks run a little fast; a delivery is never early) and at most `max_age` behind it (a
    device uploading what it buffered while offline, a drained backlog). Anything outside —
    year 1 or 9999, a clock reset to 1970, a time zone applied twice — would sort to the top
    or bottom of every "newest first" list, so the message becomes the dead letter
    `implausible_time`, whose detail says which way and by how much, never the value itself.
    Adapters only convert (`adapters.times`, `adapters.mapping.timeformats`); this is the one
    place that judges. The clock is the message's `received_at`, so the step is pure.
    """

    def __init__(self, max_ahead: timedelta, max_age: timedelta) -> None:
        self._max_ahead = max_ahead
        self._max_age = max_age

    @classmethod
    def from_settings(cls, settings: Settings) -> "PlausibleTime":
        """The window `SCGW_EVENT_MAX_AHEAD_S` and `SCGW_EVENT_MAX_AGE_DAYS` describe."""
        return cls(
            timedelta(seconds=settings.event_max_ahead_s),
            timedelta(days=settings.event_max_age_days),
        )

    def __call__(self, event: DeviceEvent) -> DeviceEvent:
        offset = event.occurred_at - event.received_at
        if offset > self._max_ahead:
            raise PayloadError(
                "implausible_time",
                f"occurred_at is {_span(offset)} ahead of the message's arrival"
                f" (at most {_span(self._max_ahead)} allowed)",
            )
        if -offset > self._max_age:
            raise PayloadError(
                "implausible_time",
                f"occurred_at is {_span(-offset)} behind the message's arrival"
                f" (at most {_span(self._max_age)} allowed)",
            )
        return event


def _span(delta: timedelta) -> str:
    """A duration to read at a glance: whole seconds up to two hours (`660 s`), then hours
    (`5.5 h`), then days (`181.0 days`)."""
    seconds = delta.total_seconds()
    if seconds >= 2 * 86_400:
        return f"{seconds / 86_400:.1f} days"
    if seconds >= 2 * 3_600:
        return f"{seconds / 3_600:.1f} h"
    return f"{seconds:.0f} s"


@dataclass(slots=True)
class ProcessedBatch:
    """What one batch of messages became.

    `replayed` holds the status events of retained messages (see `Pipeline`): not events to
    store, only what the broker kept of each device's state.
    """

    events: list[DeviceEvent] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    duplicates: int = 0
    replayed: list[DeviceStatusEvent] = field(default_factory=list)


class Pipeline:
    """Runs route, the sender check, parse, then each event step; never raises on bad input.

    A rejected message becomes a dead letter built by `letters` (by default: each dialect's
    declared fields, no raw payloads kept), with the dialect routing chose, if any.

    A retained message's status events go to `replayed`, not `events`. The broker replays a
    device's retained status (typically its last will, `offline`) at every gateway start,
    because every start subscribes anew: it is the state the broker kept, not a new event,
    and a will timed by its arrival would otherwise be stored again as a fresh `offline` at
    each start. The store only seeds a device whose status is still unknown from it
    (`gateway.device_status.replayed_status`). Retained messages of other kinds stay events:
    they carry their own times and ids, so a replay is stored once and, being old, does not
    make its device look online (`gateway.device_status.device_activity`).
    """

    def __init__(
        self,
        route: RouteMessage,
        check_sender: CheckSender,
        parse: Parse,
        steps: Sequence[EventStep],
        letters: DeadLetterFactory | None = None,
    ) -> None:
        self._route = route
        self._check_sender = check_sender
        self._parse = parse
        self._steps = tuple(steps)
        self._letters = letters or DeadLetterFactory.for_adapters(
            parse.adapters, max_payload_bytes=route.max_payload_bytes
        )

    def __call__(self, messages: Sequence[InboundMessage]) -> ProcessedBatch:
        batch = ProcessedBatch()
        seen: dict[str, DeviceEvent] = {}
        for message in messages:
            routed: Routed | None = None
            try:
                routed = self._route(message)
                events = self._process(routed)
            except PayloadError as exc:
                batch.dead_letters.append(self._letter(message, routed, exc.reason, exc.detail))
                continue
            except Exception as exc:  # an adapter bug must cost one message, not the service
                # The exception's message may quote payload values: log where, never what.
                logger.error(
                    "adapter raised %s on topic %s\n%s",
                    type(exc).__name__,
                    shareable_topic(message.topic),
                    "".join(traceback.format_tb(exc.__traceback__)),
                )
                detail = f"adapter raised {type(exc).__name__}"
                batch.dead_letters.append(self._letter(message, routed, "internal_error", detail))
                continue
            if routed.message.retained:
                batch.replayed.extend(e for e in events if isinstance(e, DeviceStatusEvent))
                events = [e for e in events if not isinstance(e, DeviceStatusEvent)]
            for event in events:
                if event.event_id in seen:
                    batch.duplicates += 1
                else:
                    seen[event.event_id] = event
        batch.events = list(seen.values())
        return batch

    def _letter(
        self, message: InboundMessage, routed: Routed | None, reason: str, detail: str
    ) -> DeadLetter:
        """What a dead letter may show depends on the dialect routing chose (none: nothing);
        whom it is shown to, on the community it chose."""
        if routed is None:
            return self._letters(message, reason, detail, None)
        return self._letters(message, reason, detail, routed.dialect, routed.message.community)

    def _process(self, routed: Routed) -> list[DeviceEvent]:
        self._check_sender.admit(routed)
        events = self._check_sender(routed, self._parse(routed))
        for step in self._steps:
            events = [step(event) for event in events]
        return events
