"""Specification of the processing pipeline (`gateway.pipeline`): messages in, events and
dead letters out, with no I/O."""

import json
import logging
import tomllib
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import ClassVar, Literal

import pytest

from adapters.base import Adapter, RawMessage, ShownValue
from adapters.registry import AdapterRegistry
from gateway.config import CommunitySpec, DeviceSpec, GatewayConfig, Settings, TopicBinding
from gateway.devices import DeviceRegistry
from gateway.errors import PayloadError
from gateway.messages import DeadLetter, InboundMessage
from gateway.pipeline import (
    CheckSender,
    Enrich,
    Parse,
    Pipeline,
    PlausibleTime,
    ProcessedBatch,
    Routed,
    RouteMessage,
)
from gateway.routing import TopicRouter
from gateway.runtime import build_pipeline as runtime_pipeline
from schemas.devices import DeviceRegistration
from schemas.events import AccessEvent, DeviceEvent, DeviceStatusEvent, DoorStateEvent
from schemas.privacy import Pseudonymizer
from simulators.community import Community, Device, generate_community
from simulators.hik_isapi import DoorEvent, HikDoorStream, Minor, hik_payload, hik_topic
from tests.gateway.time_formats import (
    ACCEPTED,
    DEVICE,
    FIXTURES,
    FORMATS,
    MAPPING_CONFIG,
    REFUSED,
    TimeFormat,
)

PSEUDONYMIZER_KEY = "pipeline-test-key-0123456789"
PSEUDONYMIZER = Pseudonymizer(PSEUDONYMIZER_KEY)
COMMUNITY: Community = generate_community(
    seed=11, buildings=2, units_per_building=1, floors=3, houses_per_floor=2
)
UNIT_DOOR: Device = COMMUNITY.devices[0]
GATE: Device = COMMUNITY.devices[-1]
UNREGISTERED = "43011200001329999999"
START = datetime(2026, 11, 26, 7, 58, 12, tzinfo=UTC)
RECEIVED = START + timedelta(seconds=1)
MAX_PAYLOAD_BYTES = 64 * 1024
Policy = Literal["accept", "quarantine"]


def device_spec(device: Device, community: str = COMMUNITY.code) -> DeviceSpec:
    return DeviceSpec.model_validate(
        {
            "device_id": device.device_id,
            "dialect": device.dialect,
            "kind": device.kind,
            "community": community,
            "building": device.building,
            "unit": device.unit,
            "door": device.door,
            "readers": device.readers,
        }
    )


CONFIG = GatewayConfig(
    communities=[CommunitySpec(code=COMMUNITY.code, name=COMMUNITY.name)],
    devices=[device_spec(device) for device in COMMUNITY.devices],
)


def hik_adapters() -> dict[str, Adapter]:
    return AdapterRegistry().build(PSEUDONYMIZER)


def build_pipeline(
    *,
    adapters: Mapping[str, Adapter] | None = None,
    policy: Policy = "accept",
    max_payload_bytes: int = MAX_PAYLOAD_BYTES,
    config: GatewayConfig = CONFIG,
) -> Pipeline:
    chosen = hik_adapters() if adapters is None else adapters
    registry = DeviceRegistry.from_config(config)
    return Pipeline(
        RouteMessage(TopicRouter(config, set(chosen)), max_payload_bytes),
        CheckSender(registry),
        Parse(chosen),
        [Enrich(registry, policy)],
    )


def inbound(topic: str, payload: bytes, *, retained: bool = False) -> InboundMessage:
    return InboundMessage(
        topic=topic,
        payload=payload,
        received_at=RECEIVED,
        received_monotonic=0,
        retained=retained,
    )


def door_event(
    minor: int = Minor.CARD_PASSED,
    *,
    device: Device = UNIT_DOOR,
    serial: int = 1000,
    reader: int = 1,
    attendance: str | None = "checkIn",
    card_no: str | None = "3188542196",
) -> DoorEvent:
    resident = next(COMMUNITY.residents())
    return DoorEvent(
        device=device,
        minor=minor,
        occurred_at=START,
        serial=serial,
        resident=resident if attendance is not None else None,
        reader=reader,
        attendance=attendance,
        card_no=card_no,
    )


def hik_message(event: DoorEvent, *, device_id: str | None = None) -> InboundMessage:
    topic = hik_topic(COMMUNITY.code, device_id or event.device.device_id)
    return inbound(topic, hik_payload(event))


def only_event(batch: ProcessedBatch) -> DeviceEvent:
    assert batch.dead_letters == []
    assert len(batch.events) == 1
    return batch.events[0]


def only_letter(batch: ProcessedBatch) -> DeadLetter:
    assert batch.events == []
    assert len(batch.dead_letters) == 1
    return batch.dead_letters[0]


def access_event(
    device_id: str = UNIT_DOOR.device_id,
    *,
    community: str = COMMUNITY.code,
    direction: Literal["in", "out", "unknown"] = "unknown",
    reader: int | None = 2,
) -> AccessEvent:
    return AccessEvent(
        event_id="evt-00000001",
        community=community,
        device_id=device_id,
        occurred_at=START,
        received_at=RECEIVED,
        dialect="hik-isapi",
        direction=direction,
        method="card",
        result="granted",
        reader=reader,
        vendor_code="5/0x1",
    )


class EmptyAdapter:
    """A dialect whose messages carry no events at all."""

    dialect: ClassVar[str] = "empty"
    dead_letter_fields: ClassVar[Mapping[str, ShownValue]] = MappingProxyType({})

    def __init__(self, pseudonymizer: Pseudonymizer) -> None:
        self.pseudonymizer = pseudonymizer

    def parse(self, message: RawMessage) -> list[DeviceEvent]:
        return []


class ExplodingAdapter:
    """A buggy dialect: raises an unexpected exception that quotes the payload."""

    dialect: ClassVar[str] = "exploding"
    dead_letter_fields: ClassVar[Mapping[str, ShownValue]] = MappingProxyType({})

    def __init__(self, pseudonymizer: Pseudonymizer) -> None:
        self.pseudonymizer = pseudonymizer

    def parse(self, message: RawMessage) -> list[DeviceEvent]:
        raise RuntimeError(f"cannot handle {message.payload.decode()}")


class TestRouteMessage:
    """RouteMessage checks the size and resolves the topic to a dialect, community and sender."""

    def route(self, **overrides: int) -> RouteMessage:
        limit = overrides.get("max_payload_bytes", MAX_PAYLOAD_BYTES)
        return RouteMessage(TopicRouter(CONFIG, set(hik_adapters())), limit)

    def test_valid_message_is_routed_to_its_dialect_community_and_sender(self) -> None:
        message = hik_message(door_event())
        routed = self.route()(message)
        assert routed.dialect == "hik-isapi"
        assert routed.message.community == COMMUNITY.code
        assert routed.message.device_id == UNIT_DOOR.device_id
        assert (routed.message.payload, routed.message.received_at) == (message.payload, RECEIVED)

    @pytest.mark.parametrize("retained", [True, False])
    def test_the_retain_flag_travels_with_the_message(self, retained: bool) -> None:
        message = hik_message(door_event())
        message.retained = retained
        assert self.route()(message).message.retained is retained

    def test_payload_over_the_limit_is_refused_as_oversized(self) -> None:
        message = hik_message(door_event())
        with pytest.raises(PayloadError) as info:
            self.route(max_payload_bytes=len(message.payload) - 1)(message)
        assert info.value.reason == "oversized"

    def test_payload_exactly_at_the_limit_is_accepted(self) -> None:
        message = hik_message(door_event())
        assert self.route(max_payload_bytes=len(message.payload))(message).dialect == "hik-isapi"

    def test_oversized_payload_is_refused_before_routing(self) -> None:
        message = inbound("not/a/known/topic/shape", b"x" * 300)
        with pytest.raises(PayloadError) as info:
            self.route(max_payload_bytes=256)(message)
        assert info.value.reason == "oversized"

    def test_routing_errors_propagate_with_their_reason(self) -> None:
        with pytest.raises(PayloadError) as info:
            self.route()(inbound(f"{COMMUNITY.code}/zkteco/{UNIT_DOOR.device_id}", b"{}"))
        assert info.value.reason == "unknown_dialect"


class TestParse:
    """Parse hands the routed payload to the dialect's parser."""

    def parse(
        self, message: InboundMessage, adapters: Mapping[str, Adapter] | None = None
    ) -> list[DeviceEvent]:
        chosen = hik_adapters() if adapters is None else adapters
        config = CONFIG if adapters is None else GatewayConfig()
        routed = RouteMessage(TopicRouter(config, set(chosen)), MAX_PAYLOAD_BYTES)(message)
        return Parse(chosen)(routed)

    def test_valid_message_becomes_the_adapters_events(self) -> None:
        events = self.parse(hik_message(door_event()))
        assert len(events) == 1
        event = events[0]
        assert isinstance(event, AccessEvent)
        assert event.community == COMMUNITY.code
        assert event.device_id == UNIT_DOOR.device_id
        assert event.received_at == RECEIVED

    def test_adapter_refusal_propagates_with_its_reason(self) -> None:
        with pytest.raises(PayloadError) as info:
            self.parse(inbound(hik_topic(COMMUNITY.code, UNIT_DOOR.device_id), b"{not json"))
        assert info.value.reason == "malformed_json"

    def test_message_without_events_is_refused_as_no_events(self) -> None:
        adapters: dict[str, Adapter] = {"empty": EmptyAdapter(PSEUDONYMIZER)}
        with pytest.raises(PayloadError) as info:
            self.parse(inbound("yida/empty/dev-1", b"{}"), adapters)
        assert info.value.reason == "no_events"


class TestEnrich:
    """Enrich places events in their building and unit and applies the unknown-device policy."""

    def enrich(self, policy: Policy = "accept") -> Enrich:
        return Enrich(DeviceRegistry.from_config(CONFIG), policy)

    def test_building_and_unit_come_from_the_registry(self) -> None:
        event = self.enrich()(access_event())
        assert (event.building, event.unit) == (UNIT_DOOR.building, UNIT_DOOR.unit)
        assert not event.unregistered_device

    def test_gates_have_no_building_or_unit(self) -> None:
        event = self.enrich()(access_event(GATE.device_id))
        assert (event.building, event.unit) == (None, None)
        assert not event.unregistered_device

    def test_door_state_events_are_placed_too(self) -> None:
        door = DoorStateEvent(
            event_id="evt-00000002",
            community=COMMUNITY.code,
            device_id=UNIT_DOOR.device_id,
            occurred_at=START,
            received_at=RECEIVED,
            dialect="hik-isapi",
            state="forced_open",
            vendor_code="5/0x1b",
        )
        event = self.enrich()(door)
        assert (event.building, event.unit) == (UNIT_DOOR.building, UNIT_DOOR.unit)

    @pytest.mark.parametrize(("reader", "direction"), [(1, "in"), (2, "out")])
    def test_unknown_direction_comes_from_the_readers_configured_direction(
        self, reader: int, direction: str
    ) -> None:
        event = self.enrich()(access_event(reader=reader))
        assert isinstance(event, AccessEvent)
        assert event.direction == direction

    def test_reader_the_registry_does_not_know_stays_unknown(self) -> None:
        event = self.enrich()(access_event(reader=7))
        assert isinstance(event, AccessEvent)
        assert event.direction == "unknown"

    def test_event_without_a_reader_stays_unknown(self) -> None:
        event = self.enrich()(access_event(reader=None))
        assert isinstance(event, AccessEvent)
        assert event.direction == "unknown"

    def test_explicit_direction_is_kept_even_when_the_reader_says_otherwise(self) -> None:
        event = self.enrich()(access_event(direction="in", reader=2))
        assert isinstance(event, AccessEvent)
        assert event.direction == "in"

    def test_unknown_device_is_flagged_under_accept(self) -> None:
        event = self.enrich("accept")(access_event(UNREGISTERED))
        assert event.unregistered_device
        assert (event.building, event.unit) == (None, None)

    def test_unknown_device_is_rejected_under_quarantine(self) -> None:
        with pytest.raises(PayloadError) as info:
            self.enrich("quarantine")(access_event(UNREGISTERED))
        assert info.value.reason == "unknown_device"

    def test_input_event_is_not_modified(self) -> None:
        original = access_event()
        self.enrich()(original)
        assert original.building is None
        assert original.direction == "unknown"

    def test_device_registered_in_another_community_is_not_placed_in_its_buildings(
        self,
    ) -> None:
        # The registry says this controller stands in yida's B01-U1. An event arriving under
        # another community must not be stored as "jiaxin, building B01, unit U1".
        event = self.enrich("accept")(access_event(community="jiaxin"))
        assert (event.building, event.unit) == (None, None)
        assert event.unregistered_device


class TestPipelineHappyPath:
    """A batch of valid messages becomes enriched events in arrival order."""

    def test_simulated_stream_is_parsed_and_placed(self) -> None:
        stream = HikDoorStream(COMMUNITY, seed=3, start=START, events_per_hour=3600)
        messages = [inbound(topic, payload) for topic, payload in stream.take(50)]
        batch = build_pipeline()(messages)
        assert batch.dead_letters == []
        assert batch.duplicates == 0
        assert len(batch.events) == 50
        for event in batch.events:
            device = COMMUNITY.device(event.device_id)
            assert (event.building, event.unit) == (device.building, device.unit)
            assert not event.unregistered_device

    def test_events_keep_arrival_order(self) -> None:
        events = [
            door_event(Minor.DOOR_OPENED, serial=7, reader=0, attendance=None, card_no=None),
            door_event(Minor.CARD_PASSED, serial=3),
            door_event(Minor.EXIT_BUTTON, serial=5, reader=0, attendance=None, card_no=None),
        ]
        batch = build_pipeline()([hik_message(event) for event in events])
        assert all(isinstance(e, AccessEvent | DoorStateEvent) for e in batch.events)
        codes = [e.vendor_code for e in batch.events if isinstance(e, AccessEvent | DoorStateEvent)]
        assert codes == ["5/0x19", "5/0x1", "5/0x17"]

    def test_the_same_messages_give_the_same_event_ids(self) -> None:
        messages = [hik_message(door_event(serial=serial)) for serial in (5, 3, 9)]
        first = build_pipeline()(messages)
        second = build_pipeline()(messages)
        assert [e.event_id for e in first.events] == [e.event_id for e in second.events]
        assert len({e.event_id for e in first.events}) == 3

    def test_unknown_direction_is_resolved_end_to_end(self) -> None:
        unknown_card = door_event(Minor.CARD_UNKNOWN, reader=2, attendance=None)
        event = only_event(build_pipeline()([hik_message(unknown_card)]))
        assert isinstance(event, AccessEvent)
        assert event.direction == "out"

    def test_card_numbers_are_hashed_never_raw(self) -> None:
        event = only_event(build_pipeline()([hik_message(door_event(card_no="3188542196"))]))
        assert isinstance(event, AccessEvent)
        assert event.credential == PSEUDONYMIZER.hash("card", "3188542196")
        assert "3188542196" not in event.model_dump_json()


class TestPipelineRejections:
    """Bad messages become dead letters with a reason; the rest of the batch is unaffected."""

    def test_routing_error_becomes_a_dead_letter(self) -> None:
        letter = only_letter(build_pipeline()([inbound("yida/zkteco/dev-1", b"{}")]))
        assert letter.reason == "unknown_dialect"
        assert letter.topic == "yida/zkteco/dev-1"
        assert letter.received_at == RECEIVED

    def test_unknown_community_becomes_a_dead_letter(self) -> None:
        message = hik_message(door_event())
        message.topic = hik_topic("elsewhere", UNIT_DOOR.device_id)
        assert only_letter(build_pipeline()([message])).reason == "unknown_community"

    def test_oversized_message_becomes_a_dead_letter_with_its_size(self) -> None:
        message = hik_message(door_event())
        letter = only_letter(build_pipeline(max_payload_bytes=256)([message]))
        assert letter.reason == "oversized"
        assert letter.payload_bytes == len(message.payload)

    @pytest.mark.parametrize(
        ("payload", "reason"),
        [
            (b"{not json", "malformed_json"),
            (b"[]", "malformed_json"),
            (b'{"eventType": "heartBeat"}', "unsupported_event"),
            (b'{"eventType": "AccessControllerEvent"}', "schema"),
        ],
    )
    def test_adapter_refusal_becomes_a_dead_letter_with_its_reason(
        self, payload: bytes, reason: str
    ) -> None:
        message = inbound(hik_topic(COMMUNITY.code, UNIT_DOOR.device_id), payload)
        letter = only_letter(build_pipeline()([message]))
        assert letter.reason == reason
        assert letter.payload_bytes == len(payload)

    def test_unknown_code_becomes_a_dead_letter(self) -> None:
        message = hik_message(door_event(minor=0x7F))
        assert only_letter(build_pipeline()([message])).reason == "unknown_code"

    def test_message_without_events_becomes_a_no_events_dead_letter(self) -> None:
        adapters: dict[str, Adapter] = {"empty": EmptyAdapter(PSEUDONYMIZER)}
        pipeline = build_pipeline(adapters=adapters, config=GatewayConfig())
        assert only_letter(pipeline([inbound("yida/empty/dev-1", b"{}")])).reason == "no_events"

    def test_unknown_device_is_flagged_under_accept(self) -> None:
        message = hik_message(door_event(), device_id=UNREGISTERED)
        event = only_event(build_pipeline(policy="accept")([message]))
        assert event.unregistered_device
        assert event.device_id == UNREGISTERED

    def test_unknown_device_becomes_a_dead_letter_under_quarantine(self) -> None:
        message = hik_message(door_event(), device_id=UNREGISTERED)
        letter = only_letter(build_pipeline(policy="quarantine")([message]))
        assert letter.reason == "unknown_device"

    def test_valid_messages_around_bad_ones_are_kept(self) -> None:
        good = [hik_message(door_event(serial=serial)) for serial in (1, 2, 3)]
        bad_json = inbound(hik_topic(COMMUNITY.code, UNIT_DOOR.device_id), b"{oops")
        bad_topic = inbound("nowhere", b"{}")
        batch = build_pipeline()([good[0], bad_json, good[1], bad_topic, good[2]])
        assert len(batch.events) == 3
        assert [letter.reason for letter in batch.dead_letters] == [
            "malformed_json",
            "unknown_topic",
        ]

    def test_dead_letter_keeps_the_shape_and_the_dialects_fields_only(self) -> None:
        document = json.loads(hik_payload(door_event(minor=0x7F, card_no="3188542196")))
        document["AccessControllerEvent"]["name"] = "张三"
        document["remark"] = "resident 430112199001011234 phone 13812345678"
        payload = json.dumps(document, ensure_ascii=False).encode()
        message = inbound(hik_topic(COMMUNITY.code, UNIT_DOOR.device_id), payload)
        letter = only_letter(build_pipeline()([message]))
        for secret in ("3188542196", "张三", "430112199001011234", "13812345678"):
            assert secret not in letter.payload_excerpt
            assert secret not in letter.detail
        shape = json.loads(letter.payload_excerpt)
        assert shape["eventType"] == "AccessControllerEvent"
        assert shape["remark"] == "<str 45>"
        assert shape["AccessControllerEvent"]["subEventType"] == 0x7F
        assert shape["AccessControllerEvent"]["name"] == "<str 2>"

    def test_unrouted_message_shows_no_value_at_all(self) -> None:
        payload = b'{"eventType": "AccessControllerEvent", "dateTime": "x"}'
        letter = only_letter(build_pipeline()([inbound("nowhere", payload)]))
        assert letter.reason == "unknown_topic"
        shape = json.loads(letter.payload_excerpt)
        assert shape == {"eventType": "<str 21>", "dateTime": "<str 1>"}

    def test_large_payload_keeps_a_bounded_shape_and_no_value(self) -> None:
        head = b'{"eventType":"AccessControllerEvent","picture":"'
        payload = head + b"A" * 60_000 + b'","note":"430112199001011234"}'
        message = inbound(hik_topic(COMMUNITY.code, UNIT_DOOR.device_id), payload)
        letter = only_letter(build_pipeline()([message]))
        assert json.loads(letter.payload_excerpt) == {
            "eventType": "AccessControllerEvent",
            "picture": "<str 60000>",
            "note": "<str 18>",
        }
        assert letter.payload_bytes == len(payload)


class TestPipelineDuplicates:
    """The same event twice in one batch is stored once and counted as a duplicate."""

    def test_redelivered_message_in_the_same_batch_is_dropped_and_counted(self) -> None:
        message = hik_message(door_event())
        again = hik_message(door_event())
        batch = build_pipeline()([message, again])
        assert len(batch.events) == 1
        assert batch.duplicates == 1
        assert batch.dead_letters == []

    def test_each_extra_copy_is_counted(self) -> None:
        batch = build_pipeline()([hik_message(door_event()) for _ in range(4)])
        assert len(batch.events) == 1
        assert batch.duplicates == 3

    def test_distinct_events_are_not_duplicates(self) -> None:
        batch = build_pipeline()([hik_message(door_event(serial=n)) for n in range(5)])
        assert len(batch.events) == 5
        assert batch.duplicates == 0


class TestPipelineRetainedMessages:
    """A retained message's status is a replay of kept state, set apart from the events."""

    def status_topic(self) -> str:
        return f"{COMMUNITY.code}/status/{UNIT_DOOR.device_id}"

    def test_a_retained_will_is_replayed_state_not_an_event(self) -> None:
        batch = build_pipeline()([inbound(self.status_topic(), b"offline", retained=True)])
        assert (batch.events, batch.dead_letters) == ([], [])
        (replayed,) = batch.replayed
        assert (replayed.device_id, replayed.status) == (UNIT_DOOR.device_id, "offline")

    def test_a_live_will_is_an_event(self) -> None:
        batch = build_pipeline()([inbound(self.status_topic(), b"offline")])
        assert batch.replayed == []
        event = only_event(batch)
        assert isinstance(event, DeviceStatusEvent) and event.status == "offline"

    def test_a_retained_door_event_stays_an_event(self) -> None:
        message = hik_message(door_event())
        message.retained = True
        batch = build_pipeline()([message])
        assert batch.replayed == []
        assert only_event(batch).kind == "access"


class TestPipelineAdapterBugs:
    """An adapter raising an unexpected exception costs one message, never the batch."""

    def adapters(self) -> dict[str, Adapter]:
        return {**hik_adapters(), "exploding": ExplodingAdapter(PSEUDONYMIZER)}

    def test_unexpected_exception_becomes_an_internal_error_dead_letter(self) -> None:
        pipeline = build_pipeline(adapters=self.adapters(), config=GatewayConfig())
        letter = only_letter(pipeline([inbound("yida/exploding/dev-1", b"{}")]))
        assert letter.reason == "internal_error"
        assert "RuntimeError" in letter.detail

    def test_the_rest_of_the_batch_is_processed(self) -> None:
        pipeline = build_pipeline(adapters=self.adapters(), config=GatewayConfig())
        messages = [
            hik_message(door_event(serial=1)),
            inbound("yida/exploding/dev-1", b"{}"),
            hik_message(door_event(serial=2)),
        ]
        batch = pipeline(messages)
        assert len(batch.events) == 2
        assert [letter.reason for letter in batch.dead_letters] == ["internal_error"]

    def test_the_exception_message_never_reaches_the_log_or_the_detail(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        pipeline = build_pipeline(adapters=self.adapters(), config=GatewayConfig())
        secret = b'{"cardNo": "3188542196"}'
        with caplog.at_level(logging.ERROR, logger="gateway.pipeline"):
            letter = only_letter(pipeline([inbound("yida/exploding/dev-1", secret)]))
        assert "RuntimeError" in caplog.text
        assert "yida/exploding/dev-1" in caplog.text
        assert "3188542196" not in caplog.text
        assert "3188542196" not in letter.detail


NOW = datetime.now(UTC)
ACCOUNT = "ac-yida-01"
"""An access-cloud account: one connection relaying its doors' records."""
CLOUD_DOOR = "43011200001325000002"
"""A door of the account, registered with the account as its parent, in B04-U1."""
ORPHAN_DOOR = "43011200001325000003"
"""An access-cloud door registered without a parent: only it speaks for itself."""
FOREIGN_CHILD = "43011200001325000009"
"""A door registered under the same account, but in another community."""
BARRIER = "YD-GATE-N1"
STRANGER = "43011200001328888888"
IDENTITY_CONFIG = GatewayConfig.model_validate(
    {
        "communities": [{"code": "yida"}, {"code": "jiaxin"}],
        "devices": [
            {
                "device_id": UNIT_DOOR.device_id,
                "dialect": "hik-isapi",
                "community": "yida",
                "building": UNIT_DOOR.building,
                "unit": UNIT_DOOR.unit,
            },
            {
                "device_id": BARRIER,
                "dialect": "barrier-gate",
                "kind": "barrier_gate",
                "community": "yida",
                "gate": "North car park ramp",
            },
            {
                "device_id": ACCOUNT,
                "dialect": "access-cloud",
                "kind": "platform",
                "community": "yida",
            },
            {
                "device_id": CLOUD_DOOR,
                "dialect": "access-cloud",
                "community": "yida",
                "building": "B04",
                "unit": "U1",
                "parent": ACCOUNT,
            },
            {"device_id": ORPHAN_DOOR, "dialect": "access-cloud", "community": "yida"},
        ],
    }
)
IDENTITY_DEVICES = [
    *IDENTITY_CONFIG.devices,
    # The file refuses a parent in another community; a parent moved later leaves this behind.
    DeviceRegistration(
        device_id=FOREIGN_CHILD, dialect="access-cloud", community="jiaxin", parent=ACCOUNT
    ),
]


def routed(dialect: str, sender: str | None, community: str = "yida") -> Routed:
    """A message as routing resolved it; `sender` is the topic's device."""
    raw = RawMessage(f"{community}/{dialect}/{sender}", b"{}", NOW, community, sender)
    return Routed(dialect, raw)


def event_of(device_id: str, *, community: str = "yida", number: int = 1) -> AccessEvent:
    return AccessEvent(
        event_id=f"evt-{number:08d}",
        community=community,
        device_id=device_id,
        occurred_at=NOW - timedelta(seconds=2),
        received_at=NOW,
        dialect="access-cloud",
        direction="in",
        method="card",
        result="granted",
        vendor_code="100101",
    )


def mismatch(check: CheckSender, message: Routed, *events: DeviceEvent) -> PayloadError:
    with pytest.raises(PayloadError) as info:
        check(message, list(events))
    return info.value


class TestCheckSender:
    """A message's sender is its topic's device: it speaks in its registered dialect, for
    itself and for the devices registered with it as their parent, nobody else."""

    def check(self, registry: DeviceRegistry | None = None) -> CheckSender:
        return CheckSender(registry or DeviceRegistry(IDENTITY_DEVICES))

    def test_a_registered_sender_is_admitted_on_its_own_dialect(self) -> None:
        self.check().admit(routed("barrier-gate", BARRIER))

    def test_a_registered_sender_on_another_dialects_topic_is_a_dialect_mismatch(self) -> None:
        with pytest.raises(PayloadError) as info:
            self.check().admit(routed("hik-isapi", BARRIER))
        assert info.value.reason == "dialect_mismatch"
        assert "'barrier-gate'" in info.value.detail

    @pytest.mark.parametrize("sender", [BARRIER, UNIT_DOOR.device_id, ACCOUNT])
    def test_every_device_speaks_the_status_dialect(self, sender: str) -> None:
        self.check().admit(routed("heartbeat", sender))

    def test_an_unregistered_sender_has_no_dialect_to_keep_to(self) -> None:
        self.check().admit(routed("camera-alarm", STRANGER))

    def test_a_sender_registered_in_another_community_counts_as_unregistered(self) -> None:
        self.check().admit(routed("hik-isapi", BARRIER, community="jiaxin"))

    def test_a_topic_without_a_sender_is_admitted(self) -> None:
        self.check().admit(routed("access-cloud", None))

    def test_the_senders_own_events_are_kept(self) -> None:
        events: list[DeviceEvent] = [event_of(BARRIER, number=1), event_of(BARRIER, number=2)]
        assert self.check()(routed("barrier-gate", BARRIER), events) == events

    def test_an_unregistered_sender_may_speak_for_itself(self) -> None:
        events: list[DeviceEvent] = [event_of(STRANGER)]
        assert self.check()(routed("hik-isapi", STRANGER), events) == events

    def test_a_parent_speaks_for_its_registered_child(self) -> None:
        events: list[DeviceEvent] = [event_of(CLOUD_DOOR), event_of(ACCOUNT, number=2)]
        assert self.check()(routed("access-cloud", ACCOUNT), events) == events

    @pytest.mark.parametrize(
        ("sender", "named"),
        [
            (BARRIER, UNIT_DOOR.device_id),  # a barrier gate naming a door controller
            (ACCOUNT, ORPHAN_DOOR),  # a registered device with no parent
            (ACCOUNT, STRANGER),  # an unregistered device
            (ACCOUNT, FOREIGN_CHILD),  # a child, but registered in another community
            (CLOUD_DOOR, ACCOUNT),  # a child naming its parent
            (ORPHAN_DOOR, CLOUD_DOOR),  # a sibling naming another's child
        ],
    )
    def test_any_other_device_named_is_a_device_mismatch(self, sender: str, named: str) -> None:
        error = mismatch(self.check(), routed("access-cloud", sender), event_of(named))
        assert error.reason == "device_mismatch"
        assert named not in error.detail

    def test_an_unregistered_sender_speaks_for_nobody_else_whatever_the_registry_says(
        self,
    ) -> None:
        registry = DeviceRegistry(
            [
                device.model_copy(update={"parent": STRANGER})
                for device in IDENTITY_DEVICES
                if device.device_id == ORPHAN_DOOR
            ]
        )
        error = mismatch(
            self.check(registry), routed("access-cloud", STRANGER), event_of(ORPHAN_DOOR)
        )
        assert error.reason == "device_mismatch"

    def test_one_foreign_event_refuses_the_whole_message(self) -> None:
        events: list[DeviceEvent] = [
            event_of(CLOUD_DOOR, number=1),
            event_of(ORPHAN_DOOR, number=2),
        ]
        assert mismatch(self.check(), routed("access-cloud", ACCOUNT), *events).reason == (
            "device_mismatch"
        )

    def test_a_child_registered_while_running_counts_from_then_on(self) -> None:
        registry = DeviceRegistry(IDENTITY_DEVICES)
        check = self.check(registry)
        message = routed("access-cloud", ACCOUNT)
        assert mismatch(check, message, event_of(ORPHAN_DOOR)).reason == "device_mismatch"
        orphan = registry.get(ORPHAN_DOOR)
        assert orphan is not None
        registry.put(orphan.model_copy(update={"parent": ACCOUNT}))
        assert check(message, [event_of(ORPHAN_DOOR)]) == [event_of(ORPHAN_DOOR)]

    def test_without_a_sender_events_of_the_communitys_registered_devices_are_kept(
        self,
    ) -> None:
        events: list[DeviceEvent] = [event_of(ORPHAN_DOOR), event_of(CLOUD_DOOR, number=2)]
        assert self.check()(routed("access-cloud", None), events) == events

    @pytest.mark.parametrize("named", [STRANGER, FOREIGN_CHILD])
    def test_without_a_sender_other_devices_are_a_device_mismatch(self, named: str) -> None:
        error = mismatch(self.check(), routed("access-cloud", None), event_of(named))
        assert error.reason == "device_mismatch"
        assert "names no sender" in error.detail


def plate_read(gate_id: str, number: int = 1) -> bytes:
    """A barrier gate's plate read, as `adapters.barrier_gate` parses it."""
    moment = NOW - timedelta(minutes=5, seconds=-number)
    document = {
        "recordId": f"YD-N1-{number:06d}",
        "gateId": gate_id,
        "ts": int(moment.timestamp() * 1000),
        "plate": "湘A·12345",
        "dir": "in",
    }
    return json.dumps(document, ensure_ascii=False).encode()


def cloud_record(thing_code: str, number: int = 1) -> bytes:
    """An access-cloud exit-button record, as `adapters.access_cloud` parses it."""
    moment = NOW - timedelta(minutes=5, seconds=-number)
    document = {
        "recordId": f"R{number:08d}",
        "thingCode": thing_code,
        "openMethod": 100401,
        "openResult": 1,
        "openTime": int(moment.timestamp() * 1000),
    }
    return json.dumps(document).encode()


class TestPipelineSenderIdentity:
    """Through the whole pipeline: a sender's foreign claims are dead letters, its parent's
    relayed events are stored under the child, placed where the child stands."""

    def pipeline(self, config: GatewayConfig = IDENTITY_CONFIG) -> Pipeline:
        return build_pipeline(config=config)

    def test_a_barrier_gate_naming_a_door_controller_is_a_device_mismatch(self) -> None:
        message = inbound(f"yida/barrier-gate/{BARRIER}", plate_read(UNIT_DOOR.device_id))
        letter = only_letter(self.pipeline()([message]))
        assert letter.reason == "device_mismatch"
        assert letter.topic == f"yida/barrier-gate/{BARRIER}"

    def test_the_dialect_is_checked_before_the_payload_is_parsed(self) -> None:
        # A plate read is no ISAPI notification: parsed, it would be a schema error.
        message = inbound(f"yida/hik-isapi/{BARRIER}", plate_read(BARRIER))
        assert only_letter(self.pipeline()([message])).reason == "dialect_mismatch"

    def test_a_parents_relayed_event_is_stored_under_the_child_where_it_stands(self) -> None:
        message = inbound(f"yida/access-cloud/{ACCOUNT}", cloud_record(CLOUD_DOOR))
        event = only_event(self.pipeline()([message]))
        assert (event.device_id, event.building, event.unit) == (CLOUD_DOOR, "B04", "U1")
        assert not event.unregistered_device

    def test_a_status_message_of_any_device_is_kept(self) -> None:
        message = inbound(f"yida/status/{BARRIER}", b'{"status": "online"}')
        event = only_event(self.pipeline()([message]))
        assert (event.kind, event.device_id) == ("device_status", BARRIER)

    def test_valid_messages_around_the_mismatches_are_kept(self) -> None:
        messages = [
            inbound(f"yida/barrier-gate/{BARRIER}", plate_read(BARRIER, 1)),
            inbound(f"yida/barrier-gate/{BARRIER}", plate_read(UNIT_DOOR.device_id, 2)),
            inbound(f"yida/access-cloud/{ACCOUNT}", cloud_record(CLOUD_DOOR, 3)),
            inbound(f"yida/hik-isapi/{BARRIER}", plate_read(BARRIER, 4)),
            inbound(f"yida/access-cloud/{ACCOUNT}", cloud_record(ORPHAN_DOOR, 5)),
        ]
        batch = self.pipeline()(messages)
        assert [event.device_id for event in batch.events] == [BARRIER, CLOUD_DOOR]
        assert [letter.reason for letter in batch.dead_letters] == [
            "device_mismatch",
            "dialect_mismatch",
            "device_mismatch",
        ]

    def test_a_binding_naming_its_sender_lets_it_relay_for_its_children(self) -> None:
        binding = {"filter": "cloud/records", "dialect": "access-cloud", "community": "yida"}
        config = IDENTITY_CONFIG.model_copy(
            update={"topics": [TopicBinding.model_validate({**binding, "sender": ACCOUNT})]}
        )
        batch = self.pipeline(config)(
            [
                inbound("cloud/records", cloud_record(CLOUD_DOOR, 1)),
                inbound("cloud/records", cloud_record(ORPHAN_DOOR, 2)),
            ]
        )
        assert [event.device_id for event in batch.events] == [CLOUD_DOOR]
        assert [letter.reason for letter in batch.dead_letters] == ["device_mismatch"]

    def test_a_binding_naming_no_sender_keeps_only_the_communitys_registered_devices(
        self,
    ) -> None:
        binding = TopicBinding(filter="cloud/records", dialect="access-cloud", community="yida")
        config = IDENTITY_CONFIG.model_copy(update={"topics": [binding]})
        batch = self.pipeline(config)(
            [
                inbound("cloud/records", cloud_record(ORPHAN_DOOR, 1)),
                inbound("cloud/records", cloud_record(STRANGER, 2)),
                inbound("cloud/records", cloud_record(FOREIGN_CHILD, 3)),
            ]
        )
        assert [event.device_id for event in batch.events] == [ORPHAN_DOOR]
        assert [letter.reason for letter in batch.dead_letters] == ["device_mismatch"] * 2


def status_at(occurred_at: datetime, received_at: datetime = RECEIVED) -> DeviceStatusEvent:
    return DeviceStatusEvent(
        event_id="status-000001",
        community=COMMUNITY.code,
        device_id=UNIT_DOOR.device_id,
        occurred_at=occurred_at,
        received_at=received_at,
        dialect="heartbeat",
        status="heartbeat",
    )


class TestPlausibleTime:
    """An event more than the window ahead of or behind its arrival is `implausible_time`."""

    window = PlausibleTime(timedelta(minutes=10), timedelta(days=180))

    @pytest.mark.parametrize(
        "offset",
        [timedelta(0), timedelta(minutes=10), -timedelta(days=180), -timedelta(seconds=1)],
    )
    def test_inside_the_window_the_event_passes_unchanged(self, offset: timedelta) -> None:
        event = status_at(RECEIVED + offset)
        assert self.window(event) is event

    @pytest.mark.parametrize(
        ("offset", "detail"),
        [
            (
                timedelta(minutes=10, microseconds=1),
                "occurred_at is 600 s ahead of the message's arrival (at most 600 s allowed)",
            ),
            (
                timedelta(minutes=11),
                "occurred_at is 660 s ahead of the message's arrival (at most 600 s allowed)",
            ),
            (
                -timedelta(days=181),
                "occurred_at is 181.0 days behind the message's arrival"
                " (at most 180.0 days allowed)",
            ),
            (
                -timedelta(days=180, seconds=1),
                "occurred_at is 180.0 days behind the message's arrival"
                " (at most 180.0 days allowed)",
            ),
        ],
    )
    def test_outside_it_the_detail_says_which_way_and_how_far(
        self, offset: timedelta, detail: str
    ) -> None:
        with pytest.raises(PayloadError) as refused:
            self.window(status_at(RECEIVED + offset))
        assert (refused.value.reason, refused.value.detail) == ("implausible_time", detail)

    def test_the_window_is_read_from_the_settings(self) -> None:
        window = PlausibleTime.from_settings(Settings(event_max_ahead_s=60, event_max_age_days=1.5))
        window(status_at(RECEIVED + timedelta(seconds=60)))
        window(status_at(RECEIVED - timedelta(hours=36)))
        for offset in (timedelta(seconds=61), -timedelta(hours=36, seconds=1)):
            with pytest.raises(PayloadError, match="implausible_time"):
                window(status_at(RECEIVED + offset))

    def test_a_whole_message_is_refused_for_one_implausible_event(self) -> None:
        document = json.loads((FIXTURES / "gat1400" / "faces_multi.json").read_bytes())
        faces = document["FaceListObject"]["FaceObject"]
        for face in faces:
            face["DeviceID"] = DEVICE  # the sender's own cameras
        faces[-1]["FaceAppearTime"] = "99991231235959"
        pipeline = runtime_pipeline(Settings(), GatewayConfig(), PSEUDONYMIZER_KEY)
        topic = f"yida/gat1400/{DEVICE}"
        arrived = datetime(2026, 11, 26, 0, 5, tzinfo=UTC)  # just after the fixture's faces
        batch = pipeline([InboundMessage(topic, json.dumps(document).encode(), arrived, 0)])
        assert len(faces) > 1 and batch.events == []
        assert [letter.reason for letter in batch.dead_letters] == ["implausible_time"]


@pytest.fixture(scope="module")
def pipeline() -> Pipeline:
    """The gateway's own pipeline, with the mapping dialects of `time_formats`."""
    config = GatewayConfig.model_validate(tomllib.loads(MAPPING_CONFIG))
    return runtime_pipeline(Settings(), config, PSEUDONYMIZER_KEY)


class TestEveryTimeFormat:
    """Every time format of every dialect goes through the same window, whatever its shape."""

    arrived = datetime(2026, 11, 26, 8, 0, 0, tzinfo=UTC)

    def outcome(self, pipeline: Pipeline, message: tuple[str, bytes]) -> str:
        topic, payload = message
        batch = pipeline([InboundMessage(topic, payload, self.arrived, 0)])
        if batch.events:
            return "stored"
        [letter] = batch.dead_letters
        assert "9999" not in letter.detail and "0001" not in letter.detail
        return letter.reason

    @pytest.mark.parametrize("form", FORMATS, ids=lambda form: form.name)
    def test_outside_the_window_is_implausible_time(
        self, pipeline: Pipeline, form: TimeFormat
    ) -> None:
        outcomes = {
            case: self.outcome(pipeline, form.at(self.arrived + offset))
            for case, offset in REFUSED.items()
        }
        assert outcomes == dict.fromkeys(REFUSED, "implausible_time")

    @pytest.mark.parametrize("form", FORMATS, ids=lambda form: form.name)
    def test_inside_the_window_is_stored(self, pipeline: Pipeline, form: TimeFormat) -> None:
        outcomes = {
            case: self.outcome(pipeline, form.at(self.arrived + offset))
            for case, offset in ACCEPTED.items()
        }
        assert outcomes == dict.fromkeys(ACCEPTED, "stored")

    @pytest.mark.parametrize("form", FORMATS, ids=lambda form: form.name)
    def test_the_window_s_edges_are_inside(self, pipeline: Pipeline, form: TimeFormat) -> None:
        edges = [timedelta(minutes=10), -timedelta(days=180)]
        outcomes = [self.outcome(pipeline, form.at(self.arrived + edge)) for edge in edges]
        assert outcomes == ["stored", "stored"]
        past_edges = [timedelta(minutes=10, seconds=1), -timedelta(days=180, seconds=1)]
        outcomes = [self.outcome(pipeline, form.at(self.arrived + edge)) for edge in past_edges]
        assert outcomes == ["implausible_time", "implausible_time"]

    @pytest.mark.parametrize("form", FORMATS, ids=lambda form: form.name)
    def test_the_calendar_s_ends_never_crash(self, pipeline: Pipeline, form: TimeFormat) -> None:
        outcomes, expected = {}, {}
        for case, (value, reason) in form.extremes.items():
            outcomes[case] = self.outcome(pipeline, form.message(value))
            expected[case] = reason
        assert outcomes == expected
