"""GA/T 1400 (视图库) capture cameras: face lists from the gates, vehicle objects from the ramps.

Payload contract (what `adapters.gat1400` parses; see `tests/adapters/fixtures/gat1400`): one
JSON object per message, UTF-8, compact, holding a `FaceListObject.FaceObject[]` and/or a
`MotorVehicleListObject.MotorVehicleObject[]`. Every object becomes one event. Object ids are
48 digits: the camera's 20-digit code, `02`, the 14-digit capture time, a 5-digit sequence,
the object type (`06` face, `02` motor vehicle) and the sequence again. Times are
`YYYYMMDDhhmmss`, China Standard Time. Codes are strings, as the standard types them.

Faces: a face the camera matched against the property's face library carries the resident's
`IDType` (111; 414 or 554 for foreign residents), `IDNumber`, `Name` and `Similaritydegree`
(0-100); strangers carry none of them.
Gender and age range are the camera's estimate. Each face has two sub-images, the scene (type
14) and the face crop (type 11, with a tiny inline base64 `Data`, as cameras send it and the
adapter must drop). Vehicles: `PlateNo` without separator, `PlateClass` 02 (small car) or 52
(small new-energy car), `PlateColor` 5 blue or 9 green, `未识别` and no colour when the plate
was not read; sub-images of the plate (02) and the vehicle (01).

`GateFaceStream` is the gates' face traffic: people pass in groups of one to four, and the
camera facing their way uploads the group as one message, so a message carries one to four
events. Vehicle objects are planned by `simulators.barrier_gate.VehicleStream`, which knows
which car passed; it renders them with `vehicle_message`.
"""

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from schemas.events import EventKind
from schemas.times import CHINA_STANDARD_TIME as CST
from simulators.community import (
    GAT1400_DIALECT,
    Community,
    Device,
    Resident,
    Vehicle,
    born_on,
    resident_is_male,
)
from simulators.hik_isapi import device_network
from simulators.traffic import PlannedStream, SimMessage, compact_local, weighted

FACE_OBJECT = "06"
VEHICLE_OBJECT = "02"
THUMBNAIL = (
    "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAgGBgcGBQgHBwcJCQgKDBQNDAsLDBkSEw8UHRofHh0aHBwgJC4nICIsIx"
    "wcKDcpLDAxNDQ0Hyc5PTgyPC4zNDL/wAARCAABAAEDASIAAhEBAxEB/8QAFQABAQAAAAAAAAAAAAAAAAAAAAr/xAAU"
    "EAEAAAAAAAAAAAAAAAAAAAAA/8QAFAEBAAAAAAAAAAAAAAAAAAAAAP/EABQRAQAAAAAAAAAAAAAAAAAAAAD/2gAMAw"
    "EAAhEDEQA/AL+AD//Z"
)
"""A 1x1 JPEG in base64: the shape of an inline face crop, without the bulk."""

GROUP_SIZES: tuple[tuple[int, float], ...] = ((1, 60.0), (2, 25.0), (3, 10.0), (4, 5.0))
"""People walking through a gate together, uploaded by the camera as one message."""
MEAN_GROUP = sum(size * weight for size, weight in GROUP_SIZES) / sum(w for _, w in GROUP_SIZES)
RESIDENT_SHARE = 0.85
"""Share of faces at the gates that are residents (the rest: visitors, couriers, passers-by)."""
MATCH_SHARE = 0.9
"""Share of residents' faces the camera matches against the face library."""
SUSPICION: tuple[tuple[int, float], ...] = ((0, 96.0), (2, 3.0), (1, 1.0))
"""`IsSuspiciousPerson` of strangers: 0 no, 2 not sure, 1 yes."""


def gat1400_topic(community_code: str, device_id: str) -> str:
    """The topic a camera publishes on: `{community}/gat1400/{device_id}`."""
    return f"{community_code}/{GAT1400_DIALECT}/{device_id}"


def object_id(device_id: str, moment: datetime, sequence: int, object_type: str) -> str:
    """A 48-digit GA/T 1400 object id (see the module docstring)."""
    seq = f"{sequence % 100_000:05d}"
    return f"{device_id}02{compact_local(moment)}{seq}{object_type}{seq}"


@dataclass(frozen=True, slots=True)
class FaceSighting:
    """One face as the camera saw it: the simulator's ground truth for one `FaceObject`."""

    moment: datetime
    matched: Resident | None
    similarity: float | None
    gender_code: str
    age_lower: int
    age_upper: int
    suspicious: int


@dataclass(frozen=True, slots=True)
class VehicleSighting:
    """One vehicle as a capture camera saw it; `plate` None when the plate was not read."""

    moment: datetime
    plate: str | None
    new_energy: bool
    vehicle_class: str
    body_color: int
    lane: int
    reliability: int


def _images(
    device_id: str, moment: datetime, sequence: int, kinds: Sequence[tuple[str, str, bool]]
) -> dict[str, object]:
    ip, _ = device_network(device_id)
    shot = compact_local(moment)
    images = []
    for image_type, name, inline in kinds:
        image: dict[str, object] = {
            "ImageID": f"{device_id}02{shot}{image_type}",
            "EventSort": 10,
            "DeviceID": device_id,
            "StoragePath": f"http://{ip}:8080/viid/{shot[:8]}/{name}-{sequence:05d}.jpg",
            "Type": image_type,
            "FileFormat": "Jpeg",
            "ShotTime": shot,
        }
        if inline:
            image["Data"] = THUMBNAIL
        images.append(image)
    return {"SubImageInfoObject": images}


def face_object(device_id: str, sequence: int, face: FaceSighting) -> dict[str, object]:
    """One `FaceObject`, fields in the order cameras send them."""
    shot = compact_local(face.moment)
    seq = f"{sequence % 100_000:05d}"
    document: dict[str, object] = {
        "FaceID": object_id(device_id, face.moment, sequence, FACE_OBJECT),
        "InfoKind": 1,
        "SourceID": f"{device_id}02{shot}{seq}",
        "DeviceID": device_id,
        "LeftTopX": 812,
        "LeftTopY": 240,
        "RightBtmX": 1012,
        "RightBtmY": 480,
        "LocationMarkTime": shot,
        "FaceAppearTime": shot,
        "FaceDisAppearTime": shot,
        "GenderCode": face.gender_code,
        "AgeUpLimit": face.age_upper,
        "AgeLowerLimit": face.age_lower,
        "IsSuspiciousPerson": face.suspicious,
        "IsDriver": 2,
        "IsForeigner": 2,
        "SubImageList": _images(
            device_id, face.moment, sequence, (("14", "scene", False), ("11", "face", True))
        ),
    }
    if face.matched is not None and face.similarity is not None:
        document["IDType"] = face.matched.id_type
        document["IDNumber"] = face.matched.id_number
        document["Name"] = face.matched.name
        document["Similaritydegree"] = f"{face.similarity:g}"
    return document


def vehicle_object(device_id: str, sequence: int, vehicle: VehicleSighting) -> dict[str, object]:
    """One `MotorVehicleObject`, fields in the order cameras send them."""
    shot = compact_local(vehicle.moment)
    seq = f"{sequence % 100_000:05d}"
    document: dict[str, object] = {
        "MotorVehicleID": object_id(device_id, vehicle.moment, sequence, VEHICLE_OBJECT),
        "InfoKind": 1,
        "SourceID": f"{device_id}02{shot}{seq}",
        "DeviceID": device_id,
        "LeftTopX": 420,
        "LeftTopY": 310,
        "RightBtmX": 1500,
        "RightBtmY": 1010,
        "MarkTime": shot,
        "AppearTime": shot,
        "DisappearTime": shot,
        "PassTime": shot,
        "LaneNo": vehicle.lane,
    }
    if vehicle.plate is None:
        document |= {"HasPlate": "1", "PlateNo": "未识别", "PlateColor": "", "PlateClass": ""}
    else:
        document |= {
            "HasPlate": "1",
            "PlateClass": "52" if vehicle.new_energy else "02",
            "PlateColor": "9" if vehicle.new_energy else "5",
            "PlateNo": vehicle.plate,
            "PlateReliability": str(vehicle.reliability),
        }
    document |= {
        "Speed": 8,
        "VehicleClass": vehicle.vehicle_class,
        "VehicleBrand": "0",
        "VehicleColor": str(vehicle.body_color),
        "SubImageList": _images(
            device_id, vehicle.moment, sequence, (("02", "plate", False), ("01", "vehicle", False))
        ),
    }
    return document


def gat1400_payload(
    faces: Sequence[dict[str, object]] = (), vehicles: Sequence[dict[str, object]] = ()
) -> bytes:
    """A message holding the given object lists (a list is left out when it has no objects)."""
    document: dict[str, object] = {}
    if faces:
        document["FaceListObject"] = {"FaceObject": list(faces)}
    if vehicles:
        document["MotorVehicleListObject"] = {"MotorVehicleObject": list(vehicles)}
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


class Gat1400Camera:
    """One camera's upload state: its topic and its object sequence."""

    def __init__(self, community_code: str, device: Device, sequence: int) -> None:
        self.device = device
        self.topic = gat1400_topic(community_code, device.device_id)
        self.sequence = sequence

    def faces_message(self, faces: Sequence[FaceSighting]) -> SimMessage:
        """One message with these faces, the last one's time as the message's."""
        objects = []
        for face in faces:
            self.sequence += 1
            objects.append(face_object(self.device.device_id, self.sequence, face))
        payload = gat1400_payload(faces=objects)
        kind: EventKind = "face_capture"
        kinds = (kind,) * len(objects)
        return SimMessage(faces[-1].moment, self.topic, payload, kinds, GAT1400_DIALECT)

    def vehicle_message(self, vehicle: VehicleSighting) -> SimMessage:
        """One message with one vehicle."""
        self.sequence += 1
        document = vehicle_object(self.device.device_id, self.sequence, vehicle)
        payload = gat1400_payload(vehicles=[document])
        return SimMessage(vehicle.moment, self.topic, payload, ("vehicle_pass",), GAT1400_DIALECT)


def _age(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


class GateFaceStream(PlannedStream):
    """Faces at the community gates, about `faces_per_hour` of them, as GA/T 1400 messages.

    A group of one to four people walks through a gate, in or out; the camera facing their way
    captures each face a second or two apart and uploads the group as one message. Most faces
    are residents the camera matches (ID number and similarity in the payload); the rest are
    strangers, a few of them marked suspicious.
    """

    def __init__(
        self,
        community: Community,
        rng: random.Random,
        start: datetime,
        faces_per_hour: float = 200.0,
    ) -> None:
        super().__init__(rng, start, faces_per_hour / MEAN_GROUP)
        self.community = community
        self._residents = tuple(community.residents())
        if not self._residents:
            raise ValueError("the community has no residents")
        cameras: dict[tuple[str, str], Gat1400Camera] = {}
        for device in community.devices_of(GAT1400_DIALECT):
            if device.gate is not None and device.facing is not None:
                sequence = rng.randint(1, 50_000)
                cameras[device.gate, device.facing] = Gat1400Camera(
                    community.code, device, sequence
                )
        self._gates = tuple(dict.fromkeys(gate for gate, _ in cameras))
        if not self._gates:
            raise ValueError("the community has no gate face cameras")
        self._cameras = cameras
        # The first gate is the main one: it sees half again as many people as the others.
        self._gate_weights = tuple(1.5 if i == 0 else 1.0 for i in range(len(self._gates)))

    def arrive(self, at: float) -> None:
        rng = self.rng
        gate = rng.choices(self._gates, self._gate_weights)[0]
        facing = rng.choice(("in", "out"))
        camera = self._cameras.get((gate, facing)) or next(
            c for (g, _), c in self._cameras.items() if g == gate
        )
        size = weighted(rng, GROUP_SIZES)
        faces: list[FaceSighting] = []
        when = at
        for index in range(size):
            if index:
                when += rng.uniform(0.4, 2.5)
            faces.append(self._sighting(self.moment(when)))
        self.plan(when, lambda _moment: camera.faces_message(faces))

    def _sighting(self, moment: datetime) -> FaceSighting:
        rng = self.rng
        today = moment.astimezone(CST).date()
        if rng.random() < RESIDENT_SHARE:
            resident = rng.choice(self._residents)
            age = _age(born_on(resident), today)
            gender = "1" if resident_is_male(resident) else "2"
            matched = rng.random() < MATCH_SHARE
            suspicious = 0
        else:
            resident = None
            age = rng.randint(18, 70)
            gender = weighted(rng, (("1", 48.0), ("2", 48.0), ("0", 4.0)))
            matched = False
            suspicious = weighted(rng, SUSPICION)
        spread = rng.randint(3, 6)
        return FaceSighting(
            moment=moment,
            matched=resident if matched else None,
            similarity=round(rng.uniform(80.0, 99.5), 1) if matched else None,
            gender_code=gender,
            age_lower=max(0, age - spread),
            age_upper=min(150, age + spread),
            suspicious=suspicious,
        )


def sighting_of(
    vehicle: Vehicle, moment: datetime, lane: int, reliability: int, *, read: bool = True
) -> VehicleSighting:
    """A capture camera's view of a car; `read` False when the plate could not be read."""
    return VehicleSighting(
        moment,
        vehicle.plate if read else None,
        vehicle.new_energy,
        vehicle.vehicle_class,
        vehicle.body_color,
        lane,
        reliability,
    )
