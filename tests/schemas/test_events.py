"""The canonical event contracts: one union, UTC instants, nothing unexpected accepted."""

import typing
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from schemas.events import (
    AccessEvent,
    DeviceEvent,
    EventKind,
    VehiclePass,
    device_event_adapter,
)

COMMON = {
    "event_id": "0123456789abcdef",
    "community": "yida",
    "device_id": "43011200001320000001",
    "received_at": datetime(2026, 11, 26, 0, 0, 1, tzinfo=UTC),
    "dialect": "test",
}


def union_kinds() -> set[str]:
    members = typing.get_args(typing.get_args(DeviceEvent)[0])
    return {member.model_fields["kind"].default for member in members}


class TestEventKinds:
    """`EventKind` names exactly the kinds of the `DeviceEvent` union."""

    def test_kind_literal_matches_the_union(self) -> None:
        assert set(typing.get_args(EventKind)) == union_kinds()

    def test_stored_json_validates_back_into_its_own_model(self) -> None:
        event = VehiclePass(**COMMON, occurred_at=COMMON["received_at"], plate_no="湘A12345")
        restored = device_event_adapter.validate_json(event.model_dump_json())
        assert restored == event and isinstance(restored, VehiclePass)


class TestInstants:
    """Times are aware, held in UTC and written with an explicit offset."""

    def test_offset_times_are_converted_to_utc(self) -> None:
        local = datetime(2026, 11, 26, 7, 58, 12, tzinfo=timezone(timedelta(hours=8)))
        event = AccessEvent(
            **COMMON,
            occurred_at=local,
            direction="in",
            method="card",
            result="granted",
            vendor_code="x",
        )
        assert event.occurred_at == datetime(2026, 11, 25, 23, 58, 12, tzinfo=UTC)
        assert '"occurred_at":"2026-11-25T23:58:12+00:00"' in event.model_dump_json()

    def test_naive_times_are_refused(self) -> None:
        with pytest.raises(ValidationError):
            AccessEvent(
                **COMMON,
                occurred_at=datetime(2026, 11, 26),
                direction="in",
                method="card",
                result="granted",
                vendor_code="x",
            )

    def test_times_that_overflow_in_utc_are_a_validation_error(self) -> None:
        early = datetime(1, 1, 1, 0, 0, tzinfo=timezone(timedelta(hours=8)))
        with pytest.raises(ValidationError):
            VehiclePass(**COMMON, occurred_at=early)


class TestStrictness:
    """Unknown fields are refused, so a typo in an adapter fails its tests, not production."""

    def test_unknown_field_is_refused(self) -> None:
        with pytest.raises(ValidationError):
            VehiclePass(**COMMON, occurred_at=COMMON["received_at"], plate="湘A12345")  # type: ignore[call-arg]

    @pytest.mark.parametrize("reader", [-1, 65_536, 430112199001011234])
    def test_a_reader_number_is_a_small_code(self, reader: int) -> None:
        """A card reader's number is small; an 18-digit number there is refused, not stored."""
        with pytest.raises(ValidationError):
            AccessEvent(
                **COMMON,
                occurred_at=COMMON["received_at"],
                direction="in",
                method="card",
                result="granted",
                reader=reader,
                vendor_code="5/0x1",
            )

    def test_events_are_immutable(self) -> None:
        event = VehiclePass(**COMMON, occurred_at=COMMON["received_at"])
        with pytest.raises(ValidationError):
            event.plate_no = "湘A00000"  # type: ignore[misc]


class TestAmendedIsModelCopy:
    def test_the_same_event_fields_set_and_json(self) -> None:
        from datetime import UTC, datetime

        from schemas.events import AccessEvent, amended

        now = datetime.now(UTC)
        event = AccessEvent(
            event_id="0123456789abcdef",
            community="yida",
            device_id="d1",
            occurred_at=now,
            received_at=now,
            dialect="hik-isapi",
            direction="unknown",
            method="card",
            result="granted",
            vendor_code="5/0x1",
        )
        update = {"building": "B1", "direction": "in"}
        copied = amended(event, update)
        expected = event.model_copy(update=update)
        assert copied == expected
        assert copied.model_dump_json() == expected.model_dump_json()
        assert copied.model_fields_set == expected.model_fields_set
        assert event.building is None
