"""A deterministic fake community: buildings, houses, residents and door controllers.

Tests, the demo and the benchmarks all need the same believable community without any real
personal data, so everything here is generated from one seeded `random.Random`: the same seed
always gives the same people, cards and device codes. Names, ID numbers and phone numbers look
real (so masking, hashing and validation code is exercised on realistic shapes) but are drawn
from small syllable lists and random digits.
"""

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

from schemas.identity import gb11643_check_digit

ADMIN_DIVISION = "430112"
"""Wangcheng district, Changsha: the prefix of every ID number and device code generated here."""

DEVICE_CODE_PREFIX = ADMIN_DIVISION + "0000" + "132"
"""GB/T 28181 code head: admin division + 4-digit grassroots unit + type 132 (access controller).

A 7-digit serial completes the 20-digit device code.
"""

HIK_DIALECT = "hik-isapi"
DOOR_CONTROLLER = "door_controller"


_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗彭谭邓曾"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国志红玲文辉湘岳"
# fmt: off
_MOBILE_PREFIXES = (
    "130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "155",
    "156", "157", "158", "159", "166", "173", "177", "180", "181", "182", "183", "185", "186",
    "187", "188", "189", "191", "199",
)
# fmt: on
_GATES = ("North gate", "South gate")
_EMPTY_HOUSE_SHARE = 0.12
_RESIDENTS_PER_HOUSE = (1, 2, 3, 4)
_RESIDENTS_WEIGHTS = (20, 35, 28, 17)
_BIRTH_FIRST = date(1940, 1, 1).toordinal()
_BIRTH_LAST = date(2018, 12, 31).toordinal()


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
    """18-digit resident ID number (GB 11643) with a valid check digit."""
    phone: str


@dataclass(frozen=True, slots=True)
class House:
    """One dwelling, coded building-unit-floor+number (`B01-U1-0302`)."""

    code: str
    floor: int
    residents: tuple[Resident, ...]


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
    """One controller as the gateway's device registry knows it.

    `building`/`unit` are None for community gates. `readers` maps reader numbers to the
    direction a person passing it walks ("in" or "out"); treat it as read-only.
    """

    device_id: str
    dialect: str
    kind: str
    building: str | None
    unit: str | None
    door: str
    readers: dict[int, str]


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

    def unit_residents(self, building: str, unit: str) -> tuple[Resident, ...]:
        """Residents living behind one unit door (empty for unknown codes)."""
        for b in self.buildings:
            if b.code == building:
                for u in b.units:
                    if u.code == unit:
                        return tuple(r for h in u.houses for r in h.residents)
        return ()

    def device(self, device_id: str) -> Device:
        """The device with this code; KeyError if the community has none."""
        for device in self.devices:
            if device.device_id == device_id:
                return device
        raise KeyError(device_id)


def device_code(serial: int) -> str:
    """The 20-digit GB/T 28181 code of the access controller with this 7-digit serial."""
    if not 0 <= serial <= 9_999_999:
        raise ValueError("serial must fit in 7 digits")
    return f"{DEVICE_CODE_PREFIX}{serial:07d}"


class _PeopleFactory:
    """Draws residents with unique cards, ID numbers and phones from one shared generator."""

    def __init__(self, rng: random.Random, community_code: str) -> None:
        self._rng = rng
        self._code = community_code
        self._count = 0
        self._used: set[str] = set()

    def _unique(self, draw: str) -> bool:
        if draw in self._used:
            return False
        self._used.add(draw)
        return True

    def _name(self) -> str:
        rng = self._rng
        given_length = 1 if rng.random() < 0.3 else 2
        return rng.choice(_SURNAMES) + "".join(rng.choices(_GIVEN, k=given_length))

    def _id_number(self) -> str:
        rng = self._rng
        while True:
            born = date.fromordinal(rng.randint(_BIRTH_FIRST, _BIRTH_LAST))
            first17 = f"{ADMIN_DIVISION}{born:%Y%m%d}{rng.randint(0, 999):03d}"
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
        return Resident(
            person_ref=f"{self._code}-p{self._count:05d}",
            name=self._name(),
            card_no=self._digits(str(self._rng.randint(1, 9)), 10),
            employee_no=f"{100000 + self._count}",
            id_number=self._id_number(),
            phone=self._digits(self._rng.choice(_MOBILE_PREFIXES), 11),
        )


def generate_community(
    seed: int = 7,
    buildings: int = 6,
    units_per_building: int = 2,
    floors: int = 11,
    houses_per_floor: int = 2,
    *,
    code: str = "yida",
    name: str = "亿达小镇",
) -> Community:
    """Generate the pilot community (亿达小镇 by default); the same arguments give the same data.

    Every unit door gets one hik-isapi controller (reader 1 faces the street: "in", reader 2
    the stairwell: "out"), and the community has two gates with controllers of their own.
    About one house in eight is empty; the rest hold one to four residents.
    """
    if min(buildings, units_per_building, floors, houses_per_floor) < 1:
        raise ValueError("every layout dimension must be at least 1")
    if buildings > 99 or houses_per_floor > 99 or floors > 99:
        raise ValueError("codes have room for at most 99 buildings, floors and houses per floor")
    rng = random.Random(seed)
    people = _PeopleFactory(rng, code)
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
                    if rng.random() >= _EMPTY_HOUSE_SHARE:
                        count = rng.choices(_RESIDENTS_PER_HOUSE, _RESIDENTS_WEIGHTS)[0]
                        occupants = tuple(people.resident() for _ in range(count))
                    house_code = f"{building_code}-{unit_code}-{floor:02d}{number:02d}"
                    houses.append(House(house_code, floor, occupants))
            units.append(Unit(unit_code, tuple(houses)))
            serial += 1
            devices.append(
                Device(
                    device_id=device_code(serial),
                    dialect=HIK_DIALECT,
                    kind=DOOR_CONTROLLER,
                    building=building_code,
                    unit=unit_code,
                    door=f"{building_code}-{unit_code} unit door",
                    readers={1: "in", 2: "out"},
                )
            )
        built.append(Building(building_code, tuple(units)))
    for gate in _GATES:
        serial += 1
        devices.append(
            Device(
                device_id=device_code(serial),
                dialect=HIK_DIALECT,
                kind=DOOR_CONTROLLER,
                building=None,
                unit=None,
                door=gate,
                readers={1: "in", 2: "out"},
            )
        )
    return Community(code=code, name=name, buildings=tuple(built), devices=tuple(devices))
