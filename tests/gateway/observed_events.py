"""Events of one Yida Town subject for the resolution tests: door openings, a stranger's
capture, plate passes and visits, keyed by the pipeline's Resolve step, at local times
relative to a given now."""

from datetime import UTC, datetime, timedelta

from gateway.store.observations import local_day
from gateway.subjects import Resolve
from schemas.codes import Direction, PlateColor, VisitorAction
from schemas.events import AccessEvent, DeviceEvent, FaceCapture, VehiclePass, VisitorEvent
from schemas.times import CHINA_STANDARD_TIME

YIDA = "yida"
DOOR = "43011200001320000001"
GATE = "43011200001320000013"
CAMERA = "43011200001310000021"
CARD = "h1:" + "a" * 32
OTHER_CARD = "h1:" + "b" * 32
ID_HASH = "h1:" + "c" * 32
PLATE = "湘A8K2C6"
resolve = Resolve()


def local(now: datetime, days_ago: int, hour: int, minute: int = 0) -> datetime:
    """`hour:minute` local time, `days_ago` local days before `now`'s, in UTC."""
    day = local_day(now) - timedelta(days=days_ago)
    at = datetime(day.year, day.month, day.day, hour, minute, tzinfo=CHINA_STANDARD_TIME)
    return at.astimezone(UTC)


def access(
    number: int,
    at: datetime,
    *,
    credential: str | None = CARD,
    community: str = YIDA,
    building: str | None = "B01",
    unit: str | None = "U1",
    gate: str | None = None,
) -> DeviceEvent:
    """A card opening of unit door B01-U1 (or of `gate`), keyed."""
    return resolve(
        AccessEvent(
            event_id=f"acc-{number:06d}",
            community=community,
            device_id=GATE if gate else DOOR,
            occurred_at=at,
            received_at=at + timedelta(seconds=1),
            dialect="hik-isapi",
            building=building,
            unit=unit,
            gate=gate,
            direction="in",
            method="card",
            result="granted",
            credential=credential,
            vendor_code="5/0x1",
        )
    )


def face(
    number: int, at: datetime, *, ref: str | None = None, track: str | None = None
) -> DeviceEvent:
    """A capture at B01-U1: matched to `ref`, or a stranger with `track`, keyed."""
    return resolve(
        FaceCapture(
            event_id=f"face-{number:06d}",
            community=YIDA,
            device_id=CAMERA,
            occurred_at=at,
            received_at=at + timedelta(seconds=1),
            dialect="hik-isapi",
            building="B01",
            unit="U1",
            matched_person_ref=ref,
            stranger=ref is None,
            track_id=track,
        )
    )


def vehicle(
    number: int,
    at: datetime,
    colour: PlateColor = "blue",
    plate: str | None = PLATE,
    direction: Direction = "unknown",
) -> VehiclePass:
    """A pass at the north car-park ramp."""
    return VehiclePass(
        event_id=f"veh-{number:06d}",
        community=YIDA,
        device_id=GATE,
        occurred_at=at,
        received_at=at + timedelta(seconds=1),
        dialect="hik-isapi",
        gate="North car park ramp",
        plate_no=plate,
        has_plate=plate is not None,
        plate_color=colour,
        direction=direction,
    )


def visit(
    number: int,
    at: datetime,
    *,
    action: VisitorAction = "registered",
    community: str = YIDA,
) -> DeviceEvent:
    """A four-hour visit to yida-B01-U1-1702 by the ID hash `ID_HASH`, keyed."""
    return resolve(
        VisitorEvent(
            event_id=f"vis-{number:06d}",
            community=community,
            device_id=f"visitor-cloud-{community}",
            occurred_at=at,
            received_at=at + timedelta(seconds=1),
            dialect="visitor-cloud",
            action=action,
            visit_id=f"V{number}",
            visitor_ref=ID_HASH,
            id_type="resident_id_card",
            id_masked="430112********123X",
            name_masked="张*",
            phone_masked="138****5678",
            host_house="yida-B01-U1-1702",
            valid_from=at,
            valid_until=at + timedelta(hours=4),
        )
    )
