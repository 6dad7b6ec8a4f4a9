"""Door openings at the cloud access platform's doors (云门禁): the clubhouse, a car-park door.

Payload contract (what `adapters.access_cloud` parses; see `tests/adapters/fixtures/access_cloud`):
one JSON object per opening on `{community}/access-cloud/{device_id}`, keys in this order::

    {"recordId": "R20261126080012000301", "thingCode": "43011200001325000001",
     "thingName": "Clubhouse door", "spaceCode": "CLUBHOUSE-D1", "spaceName": "会所大门",
     "openMethod": 100201, "openResult": 1, "inOutType": 1, "openTime": 1795651212000,
     "userId": "U2026000301", "userName": "张三", "userType": 1, "cardNo": "3188542196",
     "phone": "13812345678", "snapUrl": "https://oss.example.com/snap/....jpg"}

`openTime` is epoch milliseconds; `recordId` is `R`, the local time to the second and a
six-digit platform-wide sequence. A resident's `cardNo` is the same card the Hikvision doors
read, so the gateway's card hash joins both. What a record carries depends on the method: a
card opening has `cardNo`; a face opening has a `snapUrl`; an ID-card opening has `idCardNo`; an
exit button has no user and no `inOutType` (the adapter makes it `out`). The platform always
adds the user's name and phone, which the adapter must ignore.

`CloudDoorStream` produces about `records_per_hour` records over the platform's doors: residents
by face, card, phone (Bluetooth or remote), QR code, ID card and exit button, now and then a
refusal.
"""

import json
import random
from dataclasses import dataclass
from datetime import datetime

from schemas.times import CHINA_STANDARD_TIME as CST
from simulators.community import ACCESS_CLOUD_DIALECT, Community, Device, Resident
from simulators.traffic import (
    MILLISECOND,
    PlannedStream,
    SimMessage,
    epoch_ms,
    weighted,
)


@dataclass(frozen=True, slots=True)
class Method:
    """An `openMethod` code, how often it is used, and what the record then carries."""

    code: int
    weight: float
    with_user: bool
    with_card: bool = False
    with_id_card: bool = False
    with_snapshot: bool = False
    directed: bool = True
    """Whether the record has an `inOutType` (the exit button's has none)."""


METHODS: tuple[Method, ...] = (
    Method(100201, 42.0, True, with_snapshot=True),  # face
    Method(100101, 22.0, True, with_card=True),  # IC card
    Method(100301, 9.0, True),  # Bluetooth from the app
    Method(100302, 4.0, True),  # remote open from the app
    Method(100701, 6.0, True),  # QR code
    Method(100501, 2.0, True, with_id_card=True),  # resident ID card
    Method(100402, 2.0, False),  # password on the keypad
    Method(100401, 11.0, False, directed=False),  # exit button
    Method(100601, 2.0, True),  # visitor intercom answered by a resident
)
DENIED_SHARE = 0.03
"""Share of credential openings refused (an expired card, a face not in the library)."""


def cloud_topic(community_code: str, device_id: str) -> str:
    """The topic the platform publishes a door's records on: `{community}/access-cloud/{id}`."""
    return f"{community_code}/{ACCESS_CLOUD_DIALECT}/{device_id}"


def user_id(resident: Resident) -> str:
    """The platform's own user id of a resident: `U2026` and the person's number."""
    return "U2026" + resident.person_ref.rsplit("p", 1)[-1].rjust(6, "0")


@dataclass(frozen=True, slots=True)
class Opening:
    """One record: the ground truth of one message."""

    device: Device
    space_code: str
    moment: datetime
    record_id: str
    method: Method
    granted: bool
    direction: int
    """`inOutType`: 1 in, 2 out."""
    resident: Resident | None


def opening_payload(opening: Opening) -> bytes:
    """The record as the platform's JSON (see the module docstring)."""
    device = opening.device
    document: dict[str, object] = {
        "recordId": opening.record_id,
        "thingCode": device.device_id,
        "thingName": device.door or device.device_id,
        "spaceCode": opening.space_code,
        "spaceName": device.location or opening.space_code,
        "openMethod": opening.method.code,
        "openResult": 1 if opening.granted else 0,
    }
    if opening.method.directed:
        document["inOutType"] = opening.direction
    document["openTime"] = epoch_ms(opening.moment)
    resident = opening.resident
    if resident is not None:
        document |= {"userId": user_id(resident), "userName": resident.name, "userType": 1}
        if opening.method.with_card:
            document["cardNo"] = resident.card_no
        if opening.method.with_id_card:
            document["idCardNo"] = resident.id_number
        document["phone"] = resident.phone
    if opening.method.with_snapshot:
        document["snapUrl"] = f"https://oss.example.com/snap/{opening.record_id}.jpg"
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


class CloudDoorStream(PlannedStream):
    """Openings at the access-cloud doors, about `records_per_hour` records an hour."""

    def __init__(
        self,
        community: Community,
        rng: random.Random,
        start: datetime,
        records_per_hour: float = 40.0,
    ) -> None:
        super().__init__(rng, start, records_per_hour)
        self._doors = community.devices_of(ACCESS_CLOUD_DIALECT)
        if not self._doors:
            raise ValueError("the community has no access-cloud doors")
        everyone = tuple(community.residents())
        if not everyone:
            raise ValueError("the community has no residents")
        self._pools: dict[str, tuple[Resident, ...]] = {}
        for door in self._doors:
            pool: tuple[Resident, ...] = ()
            if door.building is not None and door.unit is not None:
                pool = community.unit_residents(door.building, door.unit)
            self._pools[door.device_id] = pool or everyone
        self._topics = {d.device_id: cloud_topic(community.code, d.device_id) for d in self._doors}
        self._sequence = rng.randint(1_000, 90_000)

    def arrive(self, at: float) -> None:
        rng = self.rng
        door = rng.choice(self._doors)
        method = weighted(rng, tuple((m, m.weight) for m in METHODS))
        resident = rng.choice(self._pools[door.device_id]) if method.with_user else None
        granted = not method.with_user or rng.random() >= DENIED_SHARE
        direction = 2 if not method.directed else rng.choice((1, 1, 2))
        self.plan(
            at,
            lambda moment: self._message(door, moment, method, granted, direction, resident),
            MILLISECOND,
        )

    def _message(
        self,
        door: Device,
        moment: datetime,
        method: Method,
        granted: bool,
        direction: int,
        resident: Resident | None,
    ) -> SimMessage:
        self._sequence += 1
        local = moment.astimezone(CST)
        opening = Opening(
            device=door,
            space_code=_space_code(door),
            moment=moment,
            record_id=f"R{local:%Y%m%d%H%M%S}{self._sequence % 1_000_000:06d}",
            method=method,
            granted=granted,
            direction=direction,
            resident=resident,
        )
        return SimMessage(
            moment,
            self._topics[door.device_id],
            opening_payload(opening),
            ("access",),
            ACCESS_CLOUD_DIALECT,
        )


def _space_code(door: Device) -> str:
    """The platform's code of the door: `B04-U1-D2` for a unit's door, else from its name."""
    if door.building is not None and door.unit is not None:
        return f"{door.building}-{door.unit}-D2"
    name = (door.door or door.device_id).split()[0].upper()
    return f"{name}-D1"
