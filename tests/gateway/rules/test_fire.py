"""Behaviour-alarm rules (`gateway.rules.fire`, `gateway.rules.order`): fire on the alarm, when
the camera is sure enough."""

from datetime import UTC, datetime, timedelta

import pytest

from gateway.rules.base import InstantContext
from gateway.rules.catalog import default_catalog
from gateway.rules.fire import EBIKE_IN_ELEVATOR, LANE_OCCUPIED, ebike_in_elevator, lane_occupied
from gateway.rules.order import HIGH_ALTITUDE_THROW, high_altitude_throw
from tests.gateway.rules.rule_events import CAMERA, alarm, door_state, texts

SURE = {"min_confidence": 0.8}
CONTEXT = InstantContext()


@pytest.fixture
def at() -> datetime:
    return datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=3)


class TestLaneOccupied:
    def test_a_sure_alarm_fires(self, at: datetime) -> None:
        """An alarm at or above the confidence floor is a finding on the camera's zone, with its
        picture as evidence."""
        event = alarm(1, at, "fire_lane_occupied", 0.8)
        finding = lane_occupied(event, SURE, CONTEXT)
        assert finding is not None
        assert (finding.rule, finding.subject, finding.occurrence) == (
            LANE_OCCUPIED,
            f"{CAMERA}:B01 north fire lane",
            event.event_id,
        )
        assert finding.detected_at == at
        assert finding.image_urls == (event.image_url,)
        title, description, summary = texts(default_catalog()[LANE_OCCUPIED], finding)
        assert title.startswith("消防通道被占用")
        assert "置信度80%" in description and "confidence 80%" in summary

    def test_an_unsure_alarm_does_not(self, at: datetime) -> None:
        """Below the floor, nothing; the floor is the rule's threshold."""
        event = alarm(1, at, "fire_lane_occupied", 0.79)
        assert lane_occupied(event, SURE, CONTEXT) is None
        assert lane_occupied(event, {"min_confidence": 0.5}, CONTEXT) is not None

    def test_an_alarm_without_confidence_counts_as_sure(self, at: datetime) -> None:
        """A camera that sends no confidence is believed (its texts show a dash)."""
        finding = lane_occupied(alarm(1, at, "fire_lane_occupied", None), SURE, CONTEXT)
        assert finding is not None
        assert "置信度—" in texts(default_catalog()[LANE_OCCUPIED], finding)[1]

    def test_other_events_do_not(self, at: datetime) -> None:
        """Other alarm types and other kinds are not this rule's."""
        assert lane_occupied(alarm(1, at, "ebike_in_elevator"), SURE, CONTEXT) is None
        assert lane_occupied(door_state(1, at, "forced_open"), SURE, CONTEXT) is None


class TestEbikeInElevator:
    def test_a_sure_alarm_fires(self, at: datetime) -> None:
        """An e-bike in a lift fires per camera zone; an unsure one does not."""
        finding = ebike_in_elevator(alarm(1, at, "ebike_in_elevator", zone="Lift 2"), SURE, CONTEXT)
        assert finding is not None
        assert (finding.rule, finding.subject) == (EBIKE_IN_ELEVATOR, f"{CAMERA}:Lift 2")
        assert "电动自行车" in texts(default_catalog()[EBIKE_IN_ELEVATOR], finding)[0]
        assert ebike_in_elevator(alarm(2, at, "ebike_in_elevator", 0.5), SURE, CONTEXT) is None


class TestHighAltitudeThrow:
    def test_every_throw_fires(self, at: datetime) -> None:
        """A throw fires whatever its confidence; a camera without zones is its own subject."""
        finding = high_altitude_throw(
            alarm(1, at, "high_altitude_throw", 0.3, zone=None), {}, CONTEXT
        )
        assert finding is not None
        assert (finding.rule, finding.subject) == (HIGH_ALTITUDE_THROW, f"{CAMERA}:")
        assert CAMERA in texts(default_catalog()[HIGH_ALTITUDE_THROW], finding)[1]
        assert high_altitude_throw(alarm(2, at, "loitering"), {}, CONTEXT) is None
