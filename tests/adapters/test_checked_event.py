"""`adapters.base.checked_event`: the event the model would build, without validating again."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from adapters.base import RawMessage, checked_event, event_header
from schemas.events import AccessEvent, DoorStateEvent

NOW = datetime.now(UTC)
FIELDS: dict[str, object] = {
    "direction": "in",
    "method": "card",
    "result": "granted",
    "door": "1",
    "reader": 1,
    "credential": None,
    "vendor_code": "5/0x1",
}


def header(community: str = "yida", received_at: datetime = NOW) -> dict[str, object]:
    message = RawMessage("yida/hik-isapi/d1", b"{}", received_at, community, "d1")
    return dict(
        event_header(
            message,
            dialect="hik-isapi",
            device_id="d1",
            event_id="0123456789abcdef",
            occurred_at=NOW - timedelta(minutes=1),
        )
    )


class TestTheSameEventAsTheModelBuilds:
    def test_fields_defaults_and_fields_set_are_the_models(self) -> None:
        built = checked_event(AccessEvent, header(), **FIELDS)  # type: ignore[arg-type]
        validated = AccessEvent(**header(), **FIELDS)
        assert built == validated
        assert built.model_dump_json() == validated.model_dump_json()
        assert built.model_fields_set == validated.model_fields_set

    def test_a_door_state_event_too(self) -> None:
        fields = {"state": "forced_open", "door": "2", "vendor_code": "5/0x1b"}
        built = checked_event(DoorStateEvent, header(), **fields)  # type: ignore[arg-type]
        assert built == DoorStateEvent(**header(), **fields)


class TestWhatIsNotTheAdaptersIsStillChecked:
    def test_names_are_screened(self) -> None:
        fields = {**FIELDS, "door": "Door 139 1234 5678"}
        built = checked_event(AccessEvent, header(), **fields)  # type: ignore[arg-type]
        assert built.door is None
        assert [drop.reason for drop in built.dropped_fields] == ["pii_in_identifier"]

    def test_a_community_holding_a_mobile_number_is_refused(self) -> None:
        with pytest.raises(ValidationError):
            checked_event(AccessEvent, header(community="13912345678"), **FIELDS)  # type: ignore[arg-type]

    def test_a_vendor_code_holding_a_mobile_number_is_refused(self) -> None:
        fields = {**FIELDS, "vendor_code": "1391234567/8"}
        with pytest.raises(ValidationError):
            checked_event(AccessEvent, header(), **fields)  # type: ignore[arg-type]

    def test_an_overlong_community_is_refused(self) -> None:
        with pytest.raises(ValidationError):
            checked_event(AccessEvent, header(community="c" * 65), **FIELDS)  # type: ignore[arg-type]

    def test_a_time_not_in_utc_is_validated_into_utc(self) -> None:
        local = NOW.astimezone(timezone(timedelta(hours=8)))
        built = checked_event(AccessEvent, header(received_at=local), **FIELDS)  # type: ignore[arg-type]
        assert built.received_at.tzinfo is UTC
        assert built.received_at == NOW
