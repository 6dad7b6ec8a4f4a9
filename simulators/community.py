"""A deterministic fake community: buildings, houses, residents, their cars, and its devices.

Tests, the demo and the benchmarks all need the same believable community without any real
personal data, so everything here is generated from seeded `random.Random`s: the same seed
always gives the same people, cards, cars and device codes. Names, ID numbers, phone numbers and
plates look real (so masking, hashing and validation code is exercised on realistic shapes) but
are drawn from small syllable lists and random digits.

Devices, in this order (the layout decides them, never the seed):

- one hik-isapi door controller per unit door, then one per community gate (GB/T 28181 type
  132, serials 1, 2, ...: `43011200001320000001` is B01-U1's unit door);
- at each gate, two GA/T 1400 face capture cameras, one facing in and one facing out (type 131,
  serials 21...); at each car-park ramp, a GA/T 1400 vehicle capture camera (serials 31...)
  and a barrier gate (`YD-GATE-N1`, dialect barrier-gate);
- behaviour-analysis cameras (camera-alarm): one per unit's lift lobby, one per fire lane;
- the cloud access platform's doors (access-cloud) and the cloud visitor service
  (visitor-cloud, `vc-yida-01`, a `platform`), cloud services last.

The visitor service reports visitors passing the gates under the gates' door controllers, so
those controllers name it as their `parent`: the one other device that may speak for them.

Residents' cars are drawn from a generator of their own, so adding them changed none of the
people an earlier version generated for the same seed; so are the few foreign residents, whose
papers (a passport, or a foreign permanent residence card) replace the drawn ID number.

Two pilot communities are generated (`PILOT_LAYOUTS`): Yida Town (`yida`) and Jiaxin Times
Square (`jiaxin`). Their device codes differ in the grassroots-unit digits (`STATIONS`) and
their house codes carry the community (`yida-B01-U1-0302`), so both can share one gateway.
"""

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date

from schemas.identity import gb11643_check_digit

ADMIN_DIVISION = "430112"
"""Wangcheng district, Changsha: the prefix of every ID number and device code generated here."""

DEFAULT_STATION = "0000"
STATIONS = {"yida": DEFAULT_STATION, "jiaxin": "0001"}
"""Each community's 4-digit grassroots-unit digits in its GB/T 28181 device codes, so two
communities on one gateway never share a device code."""

DEVICE_CODE_PREFIX = ADMIN_DIVISION + DEFAULT_STATION + "132"
"""GB/T 28181 code head: admin division + 4-digit grassroots unit + type 132 (access controller).

A 7-digit serial completes the 20-digit device code.
"""

CAMERA_CODE_PREFIX = ADMIN_DIVISION + DEFAULT_STATION + "131"
"""GB/T 28181 code head of the community's cameras: type 131 (camera)."""

HIK_DIALECT = "hik-isapi"
GAT1400_DIALECT = "gat1400"
BARRIER_GATE_DIALECT = "barrier-gate"
CAMERA_ALARM_DIALECT = "camera-alarm"
VISITOR_CLOUD_DIALECT = "visitor-cloud"
ACCESS_CLOUD_DIALECT = "access-cloud"
HEARTBEAT_DIALECT = "heartbeat"

DOOR_CONTROLLER = "door_controller"
CAMERA = "camera"
CAPTURE_CAMERA = "capture_camera"
BARRIER_GATE = "barrier_gate"
VISITOR_KIOSK = "visitor_kiosk"
PLATFORM = "platform"
"""Device kinds, as `schemas.devices.DeviceKind` names them."""

FACE_CAMERA_SERIAL = 21
VEHICLE_CAMERA_SERIAL = 31
LIFT_CAMERA_SERIAL = 100_001
FIRE_LANE_CAMERA_SERIAL = 200_001
CLOUD_DOOR_SERIAL = 5_000_001
"""First serials of each family, far enough apart that no layout makes two families meet."""


_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗彭谭邓曾"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国志红玲文辉湘岳"
# fmt: off
_MOBILE_PREFIXES = (
    "130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "155",
    "156", "157", "158", "159", "166", "173", "177", "180", "181", "182", "183", "185", "186",
    "187", "188", "189", "191", "199",
)
# fmt: on
GATES = ("North gate", "South gate")
"""The community's pedestrian gates, each with a door controller and two face cameras."""
RAMPS = (("N1", "North car park ramp"), ("S1", "South car park ramp"))
"""The underground car park's entrances: (barrier gate tag, name)."""
_SHORT_CODES = {"yida": "YD", "jiaxin": "JX"}
"""Communities' two-letter codes, as their parking vendor names barrier gates (`YD-GATE-N1`)."""
_CAR_SHARE = 0.55
_SECOND_CAR_SHARE = 0.15
_NEW_ENERGY_SHARE = 0.25
_OTHER_CITY_SHARE = 0.08
_PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
"""Letters used on plates: I and O are not, as they read like 1 and 0."""
_DRIVING_AGE_BORN_BEFORE = date(2006, 1, 1)
_EMPTY_HOUSE_SHARE = 0.12
_RESIDENTS_PER_HOUSE = (1, 2, 3, 4)
_RESIDENTS_WEIGHTS = (20, 35, 28, 17)
_BIRTH_FIRST = date(1940, 1, 1).toordinal()
_BIRTH_LAST = date(2018, 12, 31).toordinal()
FOREIGN_SHARE = 0.02
"""Share of residents who are foreign nationals (境外人员), with a passport or a 554 card."""
NATIONALITIES: tuple[tuple[str, str], ...] = (
    ("KOR", "410"),
    ("JPN", "392"),
    ("USA", "840"),
    ("GBR", "826"),
    ("DEU", "276"),
    ("RUS", "643"),
    ("SGP", "702"),
    ("MYS", "458"),
    ("VNM", "704"),
    ("AUS", "036"),
)
"""Foreign residents' nationalities: GB/T 2659 alpha-3 and numeric codes."""
PASSPORT = "414"
FOREIGN_PERMANENT_RESIDENCE = "554"
RESIDENT_ID_CARD = "111"
"""GA/T 517 certificate type codes the generated people hold."""


@dataclass(frozen=True, slots=True)
class Resident:
    """One registered person; `person_ref` is the property system's id for them."""

    person_ref: str
    name: str
    card_no: str
    """10-digit decimal card number, as Hikvision controllers report it."""
    employee_no: str
    """The controller's person id (ISAPI `employeeNoString`)."""
    id_number: str
    """The number of the person's papers: an 18-digit resident ID number (GB 11643) with a
    valid check digit; for foreign residents a passport or foreign permanent residence card."""
    phone: str
    id_type: str = RESIDENT_ID_CARD
    """GA/T 517 code of the papers: 111 resident ID card, 414 passport, 554 permanent residence."""
    nationality: str | None = None
    """GB/T 2659 alpha-3 code of a foreign resident; None for Chinese citizens."""
    born: date | None = None
    """Birth date, kept only when the papers do not carry it (passports)."""
    male: bool | None = None
    """Sex, kept only when the papers do not carry it (passports)."""


@dataclass(frozen=True, slots=True)
class Vehicle:
    """A resident's car, as its owner registered it with the property.

    `plate` is the canonical form (`湘A12345`, `湘AD12345`): upper case, no separator; devices
    print it their own way (`湘A·12345`). New-energy cars have 8-character green plates.
    """

    plate: str
    new_energy: bool
    vehicle_class: str
    """GA 24.4 vehicle class: K33 saloon car, K31 small passenger car (SUV, MPV)."""
    body_color: int
    """GA/T 1400 colour code of the body: 1 black, 2 white, 3 grey, 4 red, 5 blue, ..."""
    owner: str
    """The owner's `person_ref`."""
    house: str


@dataclass(frozen=True, slots=True)
class House:
    """One dwelling, coded community-building-unit-floor+number (`yida-B01-U1-0302`): the
    community's standard address code, unique across the gateway."""

    code: str
    floor: int
    residents: tuple[Resident, ...]
    vehicles: tuple[Vehicle, ...] = ()


@dataclass(frozen=True, slots=True)
class Unit:
    """One stairwell (单元) of a building, with its own unit door."""

    code: str
    houses: tuple[House, ...]


@dataclass(frozen=True, slots=True)
class Building:
    """One residential building (楼栋)."""

    code: str
    units: tuple[Unit, ...]


@dataclass(frozen=True, slots=True)
class Device:
    """One device as the gateway's device registry knows it.

    `building`/`unit` are None for community gates and cloud services; `gate` names the gate
    or car-park ramp a gate device guards. `door` is the door a controller opens (None for
    cameras and services). `readers` maps reader numbers to the direction a person passing it
    walks ("in" or "out"); treat it as read-only. `facing` is which way the people or vehicles
    a capture camera sees are going ("in" or "out"), None when it sees both or is no camera.
    `parent` is the device that may speak for this one (the visitor service, for the gates'
    controllers), as the registry's `parent`.
    """

    device_id: str
    dialect: str
    kind: str
    building: str | None
    unit: str | None
    door: str | None
    readers: dict[int, str] = field(default_factory=dict)
    gate: str | None = None
    location: str | None = None
    facing: str | None = None
    parent: str | None = None


@dataclass(frozen=True, slots=True)
class Community:
    """A whole generated community: its layout, its people and its devices."""

    code: str
    name: str
    buildings: tuple[Building, ...]
    devices: tuple[Device, ...]

    def houses(self) -> Iterator[House]:
        """Every house, building by building, unit by unit, floor by floor."""
        for building in self.buildings:
            for unit in building.units:
                yield from unit.houses

    def residents(self) -> Iterator[Resident]:
        """Every resident, in house order."""
        for house in self.houses():
            yield from house.residents

    def vehicles(self) -> Iterator[Vehicle]:
        """Every resident's car, in house order."""
        for house in self.houses():
            yield from house.vehicles

    def devices_of(self, dialect: str) -> tuple[Device, ...]:
        """The devices speaking `dialect`, in registry order."""
        return tuple(device for device in self.devices if device.dialect == dialect)

    def unit_residents(self, building: str, unit: str) -> tuple[Resident, ...]:
        """Residents living behind one unit door (empty for unknown codes)."""
        for b in self.buildings:
            if b.code == building:
                for u in b.units:
                    if u.code == unit:
                        return tuple(r for h in u.houses for r in h.residents)
        return ()

    def unit_houses(self, building: str, unit: str) -> tuple[House, ...]:
        """The houses behind one unit door (empty for unknown codes)."""
        for b in self.buildings:
            if b.code == building:
                for u in b.units:
                    if u.code == unit:
                        return u.houses
        return ()

    def device(self, device_id: str) -> Device:
        """The device with this code; KeyError if the community has none."""
        for device in self.devices:
            if device.device_id == device_id:
                return device
        raise KeyError(device_id)


def _gb28181_code(station: str, device_type: str, serial: int) -> str:
    if not 0 <= serial <= 9_999_999:
        raise ValueError("serial must fit in 7 digits")
    if len(station) != 4 or not station.isdigit():
        raise ValueError("station must be 4 digits")
    return f"{ADMIN_DIVISION}{station}{device_type}{serial:07d}"


def device_code(serial: int, station: str = DEFAULT_STATION) -> str:
    """The 20-digit GB/T 28181 code of the access controller with this 7-digit serial."""
    return _gb28181_code(station, "132", serial)


def camera_code(serial: int, station: str = DEFAULT_STATION) -> str:
    """The 20-digit GB/T 28181 code of the camera with this 7-digit serial."""
    return _gb28181_code(station, "131", serial)


def station_of(community_code: str) -> str:
    """The community's grassroots-unit digits in device codes (`0000` when not a pilot one)."""
    return STATIONS.get(community_code, DEFAULT_STATION)


def house_code(community_code: str, building: str, unit: str, floor: int, number: int) -> str:
    """The standard address code of a flat: `yida-B01-U1-0302` (community, building, unit,
    floor and number on the floor), unique across the gateway."""
    return f"{community_code}-{building}-{unit}-{floor:02d}{number:02d}"


def short_code(community_code: str) -> str:
    """The community's short code in vendor ids (`YD` for yida); upper-cased code otherwise."""
    return _SHORT_CODES.get(community_code, community_code.upper()[:8])


def barrier_gate_id(community_code: str, tag: str) -> str:
    """The parking vendor's id of a barrier gate: `YD-GATE-N1`."""
    return f"{short_code(community_code)}-GATE-{tag}"


def visitor_service_id(community_code: str) -> str:
    """The cloud visitor service's id for the community: `vc-yida-01`."""
    return f"vc-{community_code}-01"


def draw_name(rng: random.Random) -> str:
    """A made-up Chinese name of two or three characters."""
    given_length = 1 if rng.random() < 0.3 else 2
    return rng.choice(_SURNAMES) + "".join(rng.choices(_GIVEN, k=given_length))


def draw_mobile(rng: random.Random) -> str:
    """A made-up 11-digit mainland mobile number (not checked for uniqueness)."""
    return rng.choice(_MOBILE_PREFIXES) + "".join(rng.choices("0123456789", k=8))


def draw_id_number(rng: random.Random, division: str, born_from: date, born_until: date) -> str:
    """A made-up 18-digit resident ID number with a valid GB 11643 check digit."""
    born = date.fromordinal(rng.randint(born_from.toordinal(), born_until.toordinal()))
    first17 = f"{division}{born:%Y%m%d}{rng.randint(0, 999):03d}"
    return first17 + gb11643_check_digit(first17)


def draw_plate(rng: random.Random, prefix: str, new_energy: bool) -> str:
    """A made-up plate after its province and city (`湘A`), canonical form (no separator).

    New-energy plates are D (battery) or F (hybrid) and five digits (`湘AD12345`); others are
    five characters, sometimes with one letter among the digits (`湘A3K527`).
    """
    if new_energy:
        return prefix + rng.choice("DF") + "".join(rng.choices("0123456789", k=5))
    chars = rng.choices("0123456789", k=5)
    if rng.random() < 0.3:
        chars[rng.randrange(5)] = rng.choice(_PLATE_LETTERS)
    return prefix + "".join(chars)


def birth_date(id_number: str) -> date:
    """The birth date written in an 18-digit resident ID number (or 554 card number)."""
    return date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))


def is_male(id_number: str) -> bool:
    """GB 11643: the 17th digit is odd for men, even for women."""
    return int(id_number[16]) % 2 == 1


def born_on(resident: Resident) -> date:
    """A resident's birth date, from their papers or, for a passport, as recorded."""
    return resident.born if resident.born is not None else birth_date(resident.id_number)


def resident_is_male(resident: Resident) -> bool:
    """A resident's sex, from their papers or, for a passport, as recorded."""
    return resident.male if resident.male is not None else is_male(resident.id_number)


def foreign_papers(rng: random.Random, id_number: str) -> tuple[str, str, str]:
    """(GA/T 517 type, number, nationality) of a foreign resident born and sexed as the drawn
    `id_number` says: a passport (a letter and eight digits) or, for one in three, a 2023
    foreign permanent residence card (`9`, province 43, the nationality's numeric code, the
    birth date, a sequence whose last digit gives the sex, the GB 11643 check character)."""
    nationality, numeric = rng.choice(NATIONALITIES)
    if rng.random() < 1 / 3:
        first17 = f"943{numeric}{id_number[6:14]}{id_number[14:17]}"
        return FOREIGN_PERMANENT_RESIDENCE, first17 + gb11643_check_digit(first17), nationality
    number = rng.choice(_PLATE_LETTERS) + "".join(rng.choices("0123456789", k=8))
    return PASSPORT, number, nationality


class _PeopleFactory:
    """Draws residents with unique cards, ID numbers and phones from one shared generator.

    `sequences` (residue, modulus) keeps the ID numbers' 3-digit sequence codes to one residue
    class, so communities given different residues never draw the same ID number; `taken` are
    numbers drawn elsewhere (the pilot communities') that must not be drawn again.
    """

    def __init__(
        self,
        rng: random.Random,
        community_code: str,
        foreign: random.Random,
        *,
        sequences: tuple[int, int] | None = None,
        taken: frozenset[str] = frozenset(),
    ) -> None:
        self._rng = rng
        self._foreign = foreign
        self._code = community_code
        self._count = 0
        self._used: set[str] = set(taken)
        self._sequences = sequences

    def _unique(self, draw: str) -> bool:
        if draw in self._used:
            return False
        self._used.add(draw)
        return True

    def _name(self) -> str:
        return draw_name(self._rng)

    def _id_number(self) -> str:
        rng = self._rng
        while True:
            born = date.fromordinal(rng.randint(_BIRTH_FIRST, _BIRTH_LAST))
            if self._sequences is None:
                sequence = rng.randint(0, 999)
            else:
                residue, modulus = self._sequences
                sequence = residue + modulus * rng.randrange((999 - residue) // modulus + 1)
            first17 = f"{ADMIN_DIVISION}{born:%Y%m%d}{sequence:03d}"
            number = first17 + gb11643_check_digit(first17)
            if self._unique(number):
                return number

    def _digits(self, head: str, length: int) -> str:
        rng = self._rng
        while True:
            draw = head + "".join(rng.choices("0123456789", k=length - len(head)))
            if self._unique(draw):
                return draw

    def resident(self) -> Resident:
        self._count += 1
        resident = Resident(
            person_ref=f"{self._code}-p{self._count:05d}",
            name=self._name(),
            card_no=self._digits(str(self._rng.randint(1, 9)), 10),
            employee_no=f"{100000 + self._count}",
            id_number=self._id_number(),
            phone=self._digits(self._rng.choice(_MOBILE_PREFIXES), 11),
        )
        if self._foreign.random() >= FOREIGN_SHARE:
            return resident
        id_type, number, nationality = foreign_papers(self._foreign, resident.id_number)
        if not self._unique(number):
            return resident
        keep = id_type == PASSPORT  # a passport carries neither birth date nor sex
        return replace(
            resident,
            id_type=id_type,
            id_number=number,
            nationality=nationality,
            born=birth_date(resident.id_number) if keep else None,
            male=is_male(resident.id_number) if keep else None,
        )


class _CarFactory:
    """Draws residents' cars with unique plates from a generator of its own."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._plates: set[str] = set()

    def _plate(self, new_energy: bool) -> str:
        rng = self._rng
        while True:
            city = "A" if rng.random() >= _OTHER_CITY_SHARE else rng.choice("BCEFG")
            plate = draw_plate(rng, f"湘{city}", new_energy)
            if plate not in self._plates:
                self._plates.add(plate)
                return plate

    def cars(self, house: str, residents: tuple[Resident, ...]) -> tuple[Vehicle, ...]:
        """None, one or (rarely) two cars for a household, owned by its adults."""
        rng = self._rng
        drivers = [r for r in residents if born_on(r) < _DRIVING_AGE_BORN_BEFORE]
        if not drivers or rng.random() >= _CAR_SHARE:
            return ()
        count = 2 if rng.random() < _SECOND_CAR_SHARE else 1
        cars = []
        for _ in range(count):
            new_energy = rng.random() < _NEW_ENERGY_SHARE
            cars.append(
                Vehicle(
                    plate=self._plate(new_energy),
                    new_energy=new_energy,
                    vehicle_class=rng.choices(("K33", "K31"), (65, 35))[0],
                    body_color=rng.choices((2, 1, 3, 5, 4, 9), (35, 25, 20, 10, 6, 4))[0],
                    owner=rng.choice(drivers).person_ref,
                    house=house,
                )
            )
        return tuple(cars)


def _equipment(code: str, station: str, buildings: list[Building]) -> list[Device]:
    """Every device but the hik-isapi door controllers; the layout alone decides them."""
    devices: list[Device] = []
    serial = FACE_CAMERA_SERIAL
    for gate in GATES:
        for facing in ("in", "out"):
            devices.append(
                Device(
                    device_id=camera_code(serial, station),
                    dialect=GAT1400_DIALECT,
                    kind=CAPTURE_CAMERA,
                    building=None,
                    unit=None,
                    door=None,
                    gate=gate,
                    location=f"{gate}, pedestrian lanes, faces people walking {facing}",
                    facing=facing,
                )
            )
            serial += 1
    for index, (tag, ramp) in enumerate(RAMPS):
        devices.append(
            Device(
                device_id=camera_code(VEHICLE_CAMERA_SERIAL + index, station),
                dialect=GAT1400_DIALECT,
                kind=CAPTURE_CAMERA,
                building=None,
                unit=None,
                door=None,
                gate=ramp,
                location=f"{ramp}, above the barrier gate ({tag})",
            )
        )
        devices.append(
            Device(
                device_id=barrier_gate_id(code, tag),
                dialect=BARRIER_GATE_DIALECT,
                kind=BARRIER_GATE,
                building=None,
                unit=None,
                door=None,
                gate=ramp,
                location=f"{ramp}: lane 1 in, lane 2 out",
            )
        )
    serial = LIFT_CAMERA_SERIAL
    for building in buildings:
        for unit in building.units:
            devices.append(
                Device(
                    device_id=camera_code(serial, station),
                    dialect=CAMERA_ALARM_DIALECT,
                    kind=CAMERA,
                    building=building.code,
                    unit=unit.code,
                    door=None,
                    location=f"{building.code}-{unit.code} lift lobby, ground floor",
                )
            )
            serial += 1
    serial = FIRE_LANE_CAMERA_SERIAL
    for first in buildings[::2]:
        devices.append(
            Device(
                device_id=camera_code(serial, station),
                dialect=CAMERA_ALARM_DIALECT,
                kind=CAMERA,
                building=first.code,
                unit=None,
                door=None,
                location=f"{first.code} north fire lane",
            )
        )
        serial += 1
    middle = buildings[len(buildings) // 2]
    devices.append(
        Device(
            device_id=device_code(CLOUD_DOOR_SERIAL, station),
            dialect=ACCESS_CLOUD_DIALECT,
            kind=DOOR_CONTROLLER,
            building=None,
            unit=None,
            door="Clubhouse door",
            location="Clubhouse (会所), main entrance",
        )
    )
    devices.append(
        Device(
            device_id=device_code(CLOUD_DOOR_SERIAL + 1, station),
            dialect=ACCESS_CLOUD_DIALECT,
            kind=DOOR_CONTROLLER,
            building=middle.code,
            unit=middle.units[0].code,
            door=f"{middle.code}-{middle.units[0].code} car park door",
            location=f"Underground car park, lift lobby of {middle.code}-{middle.units[0].code}",
        )
    )
    devices.append(
        Device(
            device_id=visitor_service_id(code),
            dialect=VISITOR_CLOUD_DIALECT,
            kind=PLATFORM,
            building=None,
            unit=None,
            door=None,
            location="Cloud visitor service (WeChat mini-program and gate QR codes)",
        )
    )
    return devices


def generate_community(
    seed: int = 7,
    buildings: int = 6,
    units_per_building: int = 2,
    floors: int = 11,
    houses_per_floor: int = 2,
    *,
    code: str = "yida",
    name: str = "亿达小镇",
    station: str | None = None,
    empty_share: float = _EMPTY_HOUSE_SHARE,
    residents_weights: tuple[float, ...] = _RESIDENTS_WEIGHTS,
    id_sequences: tuple[int, int] | None = None,
    taken_ids: frozenset[str] = frozenset(),
) -> Community:
    """Generate the pilot community (亿达小镇 by default); the same arguments give the same data.

    Every unit door gets one hik-isapi controller (reader 1 faces the street: "in", reader 2
    the stairwell: "out"), and the community has two gates with controllers of their own; the
    cameras, barrier gates and cloud services follow (see the module docstring). About one
    house in eight is empty; the rest hold one to four residents. About half the occupied
    households own a car (a few own two), a quarter of them new-energy.

    The district generator (`simulators.district`) names the community's `station` digits,
    its share of empty houses and household sizes (weights of 1 to 4 residents), and keeps its
    ID numbers apart from other communities' (`id_sequences`, `taken_ids`: see
    `_PeopleFactory`); the defaults are the pilot communities' own.
    """
    if min(buildings, units_per_building, floors, houses_per_floor) < 1:
        raise ValueError("every layout dimension must be at least 1")
    if buildings > 99 or houses_per_floor > 99 or floors > 99:
        raise ValueError("codes have room for at most 99 buildings, floors and houses per floor")
    # Yida keeps the plain seed, so its people are those earlier versions generated; any
    # other community mixes its code in, so two communities never share people.
    rng = random.Random(seed if code == "yida" else f"{code}:{seed}")
    people = _PeopleFactory(
        rng,
        code,
        random.Random(f"{code}:{seed}:foreign"),
        sequences=id_sequences,
        taken=taken_ids,
    )
    station = station_of(code) if station is None else station
    cars = _CarFactory(random.Random(f"{code}:{seed}:vehicles"))
    built: list[Building] = []
    devices: list[Device] = []
    serial = 0
    for b in range(1, buildings + 1):
        building_code = f"B{b:02d}"
        units: list[Unit] = []
        for u in range(1, units_per_building + 1):
            unit_code = f"U{u}"
            houses: list[House] = []
            for floor in range(1, floors + 1):
                for number in range(1, houses_per_floor + 1):
                    occupants: tuple[Resident, ...] = ()
                    if rng.random() >= empty_share:
                        count = rng.choices(_RESIDENTS_PER_HOUSE, residents_weights)[0]
                        occupants = tuple(people.resident() for _ in range(count))
                    code_of_house = house_code(code, building_code, unit_code, floor, number)
                    vehicles = cars.cars(code_of_house, occupants)
                    houses.append(House(code_of_house, floor, occupants, vehicles))
            units.append(Unit(unit_code, tuple(houses)))
            serial += 1
            devices.append(
                Device(
                    device_id=device_code(serial, station),
                    dialect=HIK_DIALECT,
                    kind=DOOR_CONTROLLER,
                    building=building_code,
                    unit=unit_code,
                    door=f"{building_code}-{unit_code} unit door",
                    readers={1: "in", 2: "out"},
                )
            )
        built.append(Building(building_code, tuple(units)))
    for gate in GATES:
        serial += 1
        devices.append(
            Device(
                device_id=device_code(serial, station),
                dialect=HIK_DIALECT,
                kind=DOOR_CONTROLLER,
                building=None,
                unit=None,
                door=gate,
                readers={1: "in", 2: "out"},
                gate=gate,
                parent=visitor_service_id(code),
            )
        )
    devices.extend(_equipment(code, station, built))
    return Community(code=code, name=name, buildings=tuple(built), devices=tuple(devices))


def generate_jiaxin(seed: int = 7) -> Community:
    """Jiaxin Times Square (嘉新时代广场): four taller buildings, two units each."""
    return generate_community(
        seed, buildings=4, units_per_building=2, floors=16, code="jiaxin", name="嘉新时代广场"
    )


def generate_yida(seed: int = 7) -> Community:
    """Yida Town (亿达小镇): six buildings of two units and eleven floors."""
    return generate_community(seed)


PILOT_LAYOUTS: dict[str, Callable[[int], Community]] = {
    "yida": generate_yida,
    "jiaxin": generate_jiaxin,
}
"""The pilot communities by code; each builds its layout from a seed."""


def pilot_community(code: str, seed: int = 7) -> Community:
    """The pilot community of this code (KeyError when there is none)."""
    return PILOT_LAYOUTS[code](seed)
