"""Events the rule tests feed the rules: door states, behaviour alarms, visits and heartbeats
at Yida Town, at times the tests choose relative to now."""

from datetime import UTC, datetime, timedelta

from gateway.rules.base import Finding, Rule
from schemas.codes import BehaviourAlarmType, DoorState, VisitorAction
from schemas.events import BehaviourAlarm, DeviceStatusEvent, DoorStateEvent, VisitorEvent

YIDA = "yida"
UNIT_DOOR = "43011200001320000001"
GATE_DOOR = "43011200001320000013"
CAMERA = "43011200001310200001"
VISITOR_SERVICE = "vc-yida-01"
ADDRESS = "亿达小镇 B01栋 U1单元"
CALENDAR_ENDS = (datetime(1, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, 23, 59, tzinfo=UTC))
"""Extreme but valid instants: a rule's date arithmetic on them must answer, not overflow."""


def door_state(
    number: int, at: datetime, state: DoorState, *, door: str | None = "1", device: str = UNIT_DOOR
) -> DoorStateEvent:
    return DoorStateEvent(
        event_id=f"door-{number:06d}",
        community=YIDA,
        device_id=device,
        occurred_at=at,
        received_at=at + timedelta(seconds=1),
        dialect="hik-isapi",
        building="B01",
        unit="U1",
        state=state,
        door=door,
        vendor_code="5-27",
    )


def alarm(
    number: int,
    at: datetime,
    alarm_type: BehaviourAlarmType,
    confidence: float | None = 0.9,
    *,
    zone: str | None = "B01 north fire lane",
) -> BehaviourAlarm:
    return BehaviourAlarm(
        event_id=f"alarm-{number:06d}",
        community=YIDA,
        device_id=CAMERA,
        occurred_at=at,
        received_at=at + timedelta(seconds=1),
        dialect="camera-alarm",
        building="B01",
        alarm_type=alarm_type,
        confidence=confidence,
        zone=zone,
        image_url=f"http://10.1.2.3/picture/{number:06d}.jpg",
    )


def visit(
    number: int,
    at: datetime,
    action: VisitorAction,
    visit_id: str = "V20261126080000-0001",
    *,
    valid_until: datetime | None = None,
) -> VisitorEvent:
    registered = action == "registered"
    return VisitorEvent(
        event_id=f"visit-{number:06d}",
        community=YIDA,
        device_id=VISITOR_SERVICE if registered else GATE_DOOR,
        occurred_at=at,
        received_at=at + timedelta(seconds=1),
        dialect="visitor-cloud",
        gate=None if registered else "North gate",
        action=action,
        visit_id=visit_id,
        host_house="yida-B01-U1-0301",
        valid_from=at if registered else None,
        valid_until=valid_until if registered else None,
    )


def heartbeat(
    number: int, at: datetime, *, received_at: datetime | None = None
) -> DeviceStatusEvent:
    return DeviceStatusEvent(
        event_id=f"beat-{number:06d}",
        community=YIDA,
        device_id=UNIT_DOOR,
        occurred_at=at,
        received_at=received_at or at + timedelta(seconds=1),
        dialect="heartbeat",
        status="heartbeat",
    )


def texts(rule: Rule, finding: Finding) -> tuple[str, str, str]:
    """The rule's title, description and English summary filled from the finding."""
    values = {**finding.facts, "address": ADDRESS}
    return (
        rule.title.format_map(values),
        rule.description.format_map(values),
        rule.summary_en.format_map(values),
    )
