"""Screening as events are built (`schemas.screening`): bad text dropped and listed, never kept."""

from datetime import UTC, datetime
from typing import Any

import pytest

from schemas.events import (
    AccessEvent,
    BehaviourAlarm,
    DeviceStatusEvent,
    VehiclePass,
    VisitorEvent,
    device_event_adapter,
)
from schemas.screening import (
    IP_ADDRESS,
    NAME,
    REFERENCE,
    DroppedField,
    Marker,
    Plate,
    judge_ip,
    kept,
)

NOW = datetime.now(UTC)
HEADER: dict[str, Any] = {
    "event_id": "0123456789abcdef",
    "community": "yida",
    "device_id": "43011200001320000001",
    "occurred_at": NOW,
    "received_at": NOW,
    "dialect": "test",
}
PHONE_NAME = "3栋 138 1234 5678"


def vehicle(**fields: Any) -> VehiclePass:
    return VehiclePass(**HEADER, **fields)


class TestNames:
    """A name breaking the rules becomes None and is listed with its reason; others are kept."""

    def test_bad_names_are_dropped_and_listed(self) -> None:
        event = AccessEvent(
            **HEADER,
            direction="in",
            method="card",
            result="granted",
            vendor_code="5/0x1",
            door=PHONE_NAME,
            building="<b>B03</b>",
        )
        assert (event.door, event.building) == (None, None)
        assert event.dropped_fields == (
            DroppedField(field="building", reason="markup"),
            DroppedField(field="door", reason="pii_in_identifier"),
        )
        assert "138 1234 5678" not in event.model_dump_json()

    def test_kept_names_are_trimmed_and_blank_names_are_none(self) -> None:
        event = BehaviourAlarm(**HEADER, alarm_type="intrusion", zone="  B03 north ", gate=" ")
        assert (event.zone, event.gate, event.dropped_fields) == ("B03 north", None, ())

    def test_each_kind_screens_its_names(self) -> None:
        status = DeviceStatusEvent(**HEADER, status="online", firmware="V1\x00", ip="a<b")
        assert {d.field: d.reason for d in status.dropped_fields} == {
            "firmware": "not_printable",
            "ip": "not_an_ip",
        }
        visit = VisitorEvent(**HEADER, action="cancelled", visit_id="V1", host_house="x" * 65)
        assert visit.dropped_fields == (DroppedField(field="host_house", reason="too_long"),)


class TestReferences:
    """Every event's picture URL is judged by `schemas.image_urls`: kept trimmed of login and
    query, or dropped and listed with its reason."""

    def test_url_with_a_phone_is_dropped(self) -> None:
        event = vehicle(image_url="http://10.1.2.3/snap/13812345678.jpg")
        assert (event.image_url, event.dropped_fields) == (
            None,
            (DroppedField(field="image_url", reason="pii_in_identifier"),),
        )

    def test_each_kind_judges_its_picture_the_same_way(self) -> None:
        url = "javascript:alert(1)"
        alarm = BehaviourAlarm(**HEADER, alarm_type="intrusion", image_url=url)
        assert (alarm.image_url, alarm.dropped_fields) == (
            None,
            (DroppedField(field="image_url", reason="not_a_url"),),
        )
        login = "http://admin:secret@10.1.2.3/a.jpg?id=1"
        assert vehicle(image_url=login).image_url == "http://10.1.2.3/a.jpg"

    def test_ordinary_url_is_kept(self) -> None:
        url = "http://10.1.2.3/pic/20261126/081530-000123.jpg"
        assert vehicle(image_url=url).image_url == url


class TestPlates:
    """Plates are judged: no plate text is dropped with `has_plate` false; the rest is marked."""

    @pytest.mark.parametrize(
        ("plate", "standard"), [("湘A12345", True), ("AB1234", False), (None, None)]
    )
    def test_standard_is_derived(self, plate: str | None, standard: bool | None) -> None:
        assert vehicle(plate_no=plate, plate_standard=not standard).plate_standard is standard

    def test_text_that_is_no_plate_is_dropped(self) -> None:
        event = vehicle(plate_no="13812345678", has_plate=True)
        assert (event.plate_no, event.has_plate, event.plate_standard) == (None, False, None)
        assert event.dropped_fields == (DroppedField(field="plate_no", reason="not_a_plate"),)

    def test_a_visitors_plate_is_judged_too(self) -> None:
        event = VisitorEvent(**HEADER, action="registered", visit_id="V1", plate_no="<x>")
        assert (event.plate_no, event.plate_standard) == (None, None)
        assert event.dropped_fields == (DroppedField(field="plate_no", reason="not_a_plate"),)


class TestAddresses:
    """A device's address is kept canonical, or dropped and listed as no address or as PII."""

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("10.1.2.3", ("10.1.2.3", None)),
            ("FD00::0001%eth0", ("fd00::1", None)),
            ("  ", (None, None)),
            ("139.1234.5678", (None, "pii_in_identifier")),
            ("tel:13912345678", (None, "pii_in_identifier")),
            ("10.1.2.300", (None, "not_an_ip")),
            ("欧阳锋", (None, "not_an_ip")),
        ],
    )
    def test_judge_ip(self, text: str, expected: tuple[str | None, str | None]) -> None:
        assert judge_ip(text) == expected

    def test_status_event_lists_the_dropped_address(self) -> None:
        event = DeviceStatusEvent(**HEADER, status="heartbeat", ip="tel:13912345678")
        assert (event.ip, event.dropped_fields) == (
            None,
            (DroppedField(field="ip", reason="pii_in_identifier"),),
        )

    def test_stored_event_round_trips(self) -> None:
        event = DeviceStatusEvent(**HEADER, status="online", ip="139.1234.5678", firmware="V1")
        assert device_event_adapter.validate_json(event.model_dump_json()) == event


class TestStoredEvents:
    """A stored event validates back unchanged: screening twice changes nothing."""

    def test_round_trip(self) -> None:
        event = vehicle(plate_no="13812345678", lane=PHONE_NAME, vehicle_color=" blue ")
        restored = device_event_adapter.validate_json(event.model_dump_json())
        assert restored == event
        assert len(restored.dropped_fields) == 2

    def test_the_screen_results_cannot_be_forged(self) -> None:
        event = vehicle(plate_no="湘A12345", plate_standard=False)
        assert event.plate_standard is True


class TestKept:
    """`kept` gives what the event keeps of a text: the material for event ids."""

    @pytest.mark.parametrize(
        ("marker", "text", "expected"),
        [
            (NAME, " B03 ", "B03"),
            (NAME, PHONE_NAME, None),
            (REFERENCE, "http://x/13812345678.jpg", None),
            (Plate(), "湘A12345", "湘A12345"),
            (Plate(), "13812345678", None),
            (NAME, None, None),
            (IP_ADDRESS, "FD00::1", "fd00::1"),
            (IP_ADDRESS, "139.1234.5678", None),
        ],
    )
    def test_kept(self, marker: Marker, text: str | None, expected: str | None) -> None:
        assert kept(marker, text) == expected
