"""What every rule family needs to turn an event into a finding: its place, its local time,
numbers as people read them.

Facts fill Chinese and English templates alike, so they hold only what reads the same in both
(times, numbers, device and visit ids, the devices' own labels), never personal data.
"""

from collections.abc import Mapping
from datetime import datetime

from gateway.rules.base import FactValue, Finding
from schemas.events import BehaviourAlarm, DeviceEvent
from schemas.times import CHINA_STANDARD_TIME

NOT_GIVEN = "—"
"""A fact the event did not carry (reads the same in Chinese and English)."""


def local_time(at: datetime) -> str:
    """An instant as the platform's operators read it: China Standard Time to the minute (as
    given, with its offset, at the calendar's end where local time has no date)."""
    try:
        return at.astimezone(CHINA_STANDARD_TIME).strftime("%Y-%m-%d %H:%M")
    except OverflowError:
        return at.isoformat(timespec="minutes")


def number(value: float) -> int | float:
    """A threshold as written in a text: `5`, not `5.0`."""
    return int(value) if float(value).is_integer() else value


def percent(value: float | None) -> str:
    """A confidence in [0, 1] as a percentage, or `NOT_GIVEN`."""
    return NOT_GIVEN if value is None else f"{round(value * 100)}%"


def event_finding(
    rule: str,
    event: DeviceEvent,
    subject: str,
    facts: Mapping[str, FactValue],
    image_url: str | None = None,
) -> Finding:
    """The finding of an instant rule: one event is the evidence, its id the occurrence (a
    repeat of the same event is no new firing), its time the detection time, its device and
    place the location."""
    return Finding(
        rule=rule,
        community=event.community,
        subject=subject,
        occurrence=event.event_id,
        detected_at=event.occurred_at,
        event_ids=(event.event_id,),
        image_urls=() if image_url is None else (image_url,),
        first_at=event.occurred_at,
        last_at=event.occurred_at,
        building=event.building,
        unit=event.unit,
        gate=event.gate,
        device_id=event.device_id,
        facts={"at": local_time(event.occurred_at), **facts},
    )


def alarm_finding(rule: str, alarm: BehaviourAlarm) -> Finding:
    """The finding of a behaviour-alarm rule: the subject is what the camera watches (its zone),
    so repeated alarms of a blocked lane add evidence to one ticket; its picture is evidence."""
    zone = alarm.zone or ""
    return event_finding(
        rule,
        alarm,
        f"{alarm.device_id}:{zone}",
        {"zone": zone or alarm.device_id, "confidence": percent(alarm.confidence)},
        image_url=alarm.image_url,
    )
