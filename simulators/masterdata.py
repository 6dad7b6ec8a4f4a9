"""The property system's master data of a generated community, and what it leaves out.

A property management system registers houses, residents, vehicles and credentials; the
devices then report those same people and cars. `community_master_data` derives the four
datasets from the same `Community` the device simulators publish, so every card a door
controller reads, every employee number a face terminal reports, every cloud-user id of the
access cloud, every plate a barrier gate reads and every house a visitor names is in them,
in the import field names of the property interface (`PUT /v1/property/{community}/{dataset}`).

It also keeps what the property system does not know, for the scenarios to play and the tests
to check: one unregistered tenant who lives behind one unit door (a card the landlord had
enrolled, no registration), cars that are nobody's, and the ground truth (who lives where,
counts per population type, usage and grid). And one registration that no longer matches
life: the absentee owner of a vacant house, registered there with their credentials but
living elsewhere (the device traffic never plays them; `simulators.scenarios` has them come
back to the house).

Everything a property system would decide and the devices cannot tell (usage, area, relation,
population type, ethnicity, tags, since) is drawn from a generator of its own, seeded with the
community code and seed, so the device traffic of a seed is unchanged by it.
"""

import random
import tomllib
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Final, Literal

from schemas.housing import Community as MapCommunity
from simulators.access_cloud import user_id
from simulators.barrier_gate import printed_plate
from simulators.community import (
    Community,
    House,
    Resident,
    Vehicle,
    born_on,
    draw_id_number,
    draw_mobile,
    draw_name,
    draw_plate,
)

Dataset = Literal["houses", "residents", "vehicles", "credentials"]
DATASETS: Final[tuple[Dataset, ...]] = ("houses", "residents", "vehicles", "credentials")
"""In the order an import must take them: residents name houses, the rest name residents."""

FIELDS: Final[dict[Dataset, tuple[str, ...]]] = {
    "houses": (
        "house_code",
        "building",
        "unit",
        "floor",
        "room",
        "area_m2",
        "usage",
        "grid_code",
        "registered_occupants",
    ),
    "residents": (
        "id_type",
        "id_number",
        "name",
        "phone",
        "ethnicity",
        "nationality",
        "population_type",
        "house_code",
        "relation",
        "since",
        "tags",
    ),
    "vehicles": ("plate_no", "plate_color", "vehicle_type", "owner_id_number", "house_code"),
    "credentials": ("kind", "value", "owner_id_number", "since", "until"),
}
"""Each dataset's import field names, in column order (`nationality`, GB/T 2659 alpha-3, is
the importer's addition to the issue's list: a foreign resident needs one)."""

PILOT_GRID_MAP: Final = Path(__file__).resolve().parent.parent / "config" / "grids.toml"
"""The pilot grid map the gateway ships (`gateway.grids` reads the same file)."""

ELDERLY_BORN_BEFORE: Final = date(1961, 1, 1)
"""Residents born before this date count as elderly (a fixed date: the truth must not drift)."""
RENTED_SHARE = 0.3
FLOATING_OWNER_SHARE = 0.12
UNREGISTERED_SHARE = 0.03
FLOATING_TENANT_SHARE = 0.75
DISABLED_SHARE = 0.02
KEY_CARE_SHARE = 0.01
PRINTED_PLATE_SHARE = 0.2
"""Share of vehicle rows whose plate is written as the parking vendor prints it (`湘A·12345`):
the importer normalises it."""
UNREGISTERED_CARS = 12
ETHNICITIES: tuple[tuple[str, float], ...] = (
    ("01", 90.0),  # 汉族
    ("15", 3.5),  # 土家族
    ("06", 3.0),  # 苗族
    ("13", 1.5),  # 瑶族
    ("12", 1.0),  # 侗族
    ("03", 1.0),  # 回族
)
"""GB 3304 codes of Hunan's largest ethnic groups, weighted roughly as in Changsha."""
COMMERCIAL_FLOORS: Final = {"jiaxin": 2}
"""Communities whose lowest floors are shops (unit 1) and offices (unit 2), not flats."""
TENANT_CARD_HEAD = "8"
ABSENTEE_CARD_HEAD = "5"
_SINCE_FIRST = date(2012, 1, 1).toordinal()
_SINCE_LAST = date(2025, 6, 30).toordinal()
"""Households moved in between these dates: always in the past, so residencies are current."""
_TENANT_EMPLOYEE_NO = "900001"
_ABSENTEE_EMPLOYEE_NO = "900002"


@dataclass(frozen=True, slots=True)
class Occupant:
    """A registered resident: the generated person and how the property system registered
    them."""

    resident: Resident
    house_code: str
    building: str
    unit: str
    relation: str
    population_type: str
    ethnicity: str | None
    tags: tuple[str, ...]
    since: date


@dataclass(frozen=True, slots=True)
class HouseFacts:
    """A house as the property system registered it."""

    house: House
    building: str
    unit: str
    usage: str
    area_m2: Decimal
    grid_code: str | None
    """The grid the pilot map places the building in (None when the map does not)."""


@dataclass(frozen=True, slots=True)
class Tenant:
    """Someone living behind one unit door whom the property never registered: the landlord
    had their card enrolled at the door, nothing else."""

    person: Resident
    building: str
    unit: str


@dataclass(frozen=True, slots=True)
class PlaceCounts:
    """The 一标三实 figures of a community or a grid, as an import of the data must give them."""

    houses_by_usage: dict[str, int] = field(default_factory=dict)
    persons_by_population_type: dict[str, int] = field(default_factory=dict)
    vehicles_registered: int = 0
    registered_occupancy: int = 0
    """Current registered residencies (each generated resident has one)."""


@dataclass(frozen=True, slots=True)
class MasterData:
    """One community's master data and its ground truth."""

    community: Community
    houses: tuple[HouseFacts, ...]
    occupants: tuple[Occupant, ...]
    vehicles: tuple[Vehicle, ...]
    tenant: Tenant
    absentee: Occupant
    """The owner of the community's last vacant house, registered there (the last of
    `occupants`) but living elsewhere: no device of the community sees them."""
    unregistered_cars: tuple[Vehicle, ...]
    printed_plates: frozenset[str]
    """Registered plates whose row prints the plate with the vendor's separator."""
    yields_grid_codes: bool
    """Whether the house rows carry `grid_code` (else the importer fills it from the map)."""

    # -- rows ---------------------------------------------------------------------------------

    def rows(self, dataset: Dataset) -> list[dict[str, object]]:
        """The dataset's rows, field names as the import takes them; absent values None,
        tags a list (exports write them `;`-separated where a cell holds one string)."""
        if dataset == "houses":
            return [self._house_row(h) for h in self.houses]
        if dataset == "residents":
            return [self._resident_row(o) for o in self.occupants]
        if dataset == "vehicles":
            people = self._people()
            return [self._vehicle_row(v, people[v.owner]) for v in self.vehicles]
        return list(self._credential_rows())

    def numbered(self, dataset: Dataset) -> list[tuple[int, Mapping[str, object]]]:
        """(line, row) pairs as the importer takes them: line = index + 1, as in a JSON array."""
        return [(index + 1, row) for index, row in enumerate(self.rows(dataset))]

    def _house_row(self, facts: HouseFacts) -> dict[str, object]:
        house = facts.house
        return {
            "house_code": house.code,
            "building": facts.building,
            "unit": facts.unit,
            "floor": str(house.floor),
            "room": house.code.rsplit("-", 1)[-1],
            "area_m2": str(facts.area_m2),
            "usage": facts.usage,
            "grid_code": facts.grid_code if self.yields_grid_codes else None,
            "registered_occupants": len(house.residents),
        }

    @staticmethod
    def _resident_row(occupant: Occupant) -> dict[str, object]:
        person = occupant.resident
        return {
            "id_type": person.id_type,
            "id_number": person.id_number,
            "name": person.name,
            "phone": person.phone,
            "ethnicity": occupant.ethnicity,
            "nationality": person.nationality,
            "population_type": occupant.population_type,
            "house_code": occupant.house_code,
            "relation": occupant.relation,
            "since": occupant.since.isoformat(),
            "tags": list(occupant.tags),
        }

    def _vehicle_row(self, car: Vehicle, owner: Resident) -> dict[str, object]:
        plate = printed_plate(car.plate) if car.plate in self.printed_plates else car.plate
        return {
            "plate_no": plate,
            "plate_color": plate_color(car),
            "vehicle_type": car.vehicle_class,
            "owner_id_number": owner.id_number,
            "house_code": car.house,
        }

    def _credential_rows(self) -> Iterator[dict[str, object]]:
        for occupant in self.occupants:
            person = occupant.resident
            for kind, value in credentials_of(person):
                yield {
                    "kind": kind,
                    "value": value,
                    "owner_id_number": person.id_number,
                    "since": None,
                    "until": None,
                }

    # -- ground truth -------------------------------------------------------------------------

    def person(self, person_ref: str) -> Resident:
        """The registered resident with this property id (KeyError when there is none)."""
        return self._people()[person_ref]

    def _people(self) -> dict[str, Resident]:
        return {o.resident.person_ref: o.resident for o in self.occupants}

    def home_of(self, person_ref: str) -> str:
        """The house code a registered resident lives in."""
        for occupant in self.occupants:
            if occupant.resident.person_ref == person_ref:
                return occupant.house_code
        raise KeyError(person_ref)

    @property
    def registered_plates(self) -> frozenset[str]:
        return frozenset(car.plate for car in self.vehicles)

    @property
    def unregistered_plates(self) -> frozenset[str]:
        return frozenset(car.plate for car in self.unregistered_cars)

    def counts(self, grid_code: str | None = None) -> PlaceCounts:
        """The figures of the community, or of one grid (houses by their grid, persons and
        vehicles by their house's)."""
        grid_of = {facts.house.code: facts.grid_code for facts in self.houses}
        houses = [f for f in self.houses if grid_code is None or f.grid_code == grid_code]
        occupants = [
            o for o in self.occupants if grid_code is None or grid_of[o.house_code] == grid_code
        ]
        cars = [c for c in self.vehicles if grid_code is None or grid_of[c.house] == grid_code]
        return PlaceCounts(
            houses_by_usage=dict(Counter(f.usage for f in houses)),
            persons_by_population_type=dict(Counter(o.population_type for o in occupants)),
            vehicles_registered=len(cars),
            registered_occupancy=len(occupants),
        )

    def grid_codes(self) -> tuple[str, ...]:
        """The grids the community's houses lie in, in map order."""
        return tuple(dict.fromkeys(f.grid_code for f in self.houses if f.grid_code))


def credentials_of(person: Resident) -> tuple[tuple[str, str], ...]:
    """(kind, value) of what the devices know a person by: the card the door controllers and
    the access cloud read, the employee number the face terminals report, the access cloud's
    user id. Their ID number needs no row: it is always theirs."""
    return (
        ("card", person.card_no),
        ("employee_no", person.employee_no),
        ("cloud_user", user_id(person)),
    )


def plate_color(car: Vehicle) -> str:
    """The canonical plate colour of a small car: green for new energy, else blue."""
    return "green" if car.new_energy else "blue"


@cache
def pilot_grids() -> dict[str, MapCommunity]:
    """The pilot grid map's communities by code (read once)."""
    with PILOT_GRID_MAP.open("rb") as handle:
        document = tomllib.load(handle)
    communities = (MapCommunity.model_validate(c) for c in document.get("communities", ()))
    return {community.code: community for community in communities}


def building_grids(community_code: str) -> dict[str, str]:
    """Building -> grid code, as the pilot map places the community's buildings."""
    mapped = pilot_grids().get(community_code)
    if mapped is None:
        return {}
    return {building: grid.code for grid in mapped.grids for building in grid.buildings}


def community_master_data(
    community: Community, seed: int = 7, *, grids: Mapping[str, str] | None = None
) -> MasterData:
    """The community's master data; the same community and seed give the same rows.

    `grids` (building -> grid code) places the buildings of a community the pilot map does
    not know (the district's, `simulators.district`); its house rows then carry the codes.
    """
    rng = random.Random(f"{community.code}:{seed}:masterdata")
    given = grids is not None
    if grids is None:
        grids = building_grids(community.code)
    commercial_floors = COMMERCIAL_FLOORS.get(community.code, 0)
    houses: list[HouseFacts] = []
    occupants: list[Occupant] = []
    for building in community.buildings:
        for unit in building.units:
            for house in unit.houses:
                usage = _usage(rng, house, unit.code, commercial_floors)
                houses.append(
                    HouseFacts(
                        house=house,
                        building=building.code,
                        unit=unit.code,
                        usage=usage,
                        area_m2=_area(rng, usage),
                        grid_code=grids.get(building.code),
                    )
                )
                occupants.extend(_household(rng, house, building.code, unit.code, usage))
    vehicles = tuple(community.vehicles())
    printed = frozenset(car.plate for car in vehicles if rng.random() < PRINTED_PLATE_SHARE)
    tenant = _tenant(rng, community)
    unregistered_cars = _unregistered_cars(rng, {car.plate for car in vehicles})
    absentee = _absentee(rng, community, houses, tenant.person.card_no)
    return MasterData(
        community=community,
        houses=tuple(houses),
        occupants=(*occupants, absentee),
        vehicles=vehicles,
        tenant=tenant,
        absentee=absentee,
        unregistered_cars=unregistered_cars,
        printed_plates=printed,
        yields_grid_codes=given or community.code == "yida",
    )


def _usage(rng: random.Random, house: House, unit: str, commercial_floors: int) -> str:
    if house.floor <= commercial_floors:
        return "commercial" if unit.endswith("1") else "office"
    if not house.residents:
        return "vacant"
    return "rented" if rng.random() < RENTED_SHARE else "self_occupied"


def _area(rng: random.Random, usage: str) -> Decimal:
    low, high = (40.0, 220.0) if usage in ("commercial", "office") else (58.0, 144.0)
    return Decimal(f"{rng.uniform(low, high):.2f}")


def _household(
    rng: random.Random, house: House, building: str, unit: str, usage: str
) -> Iterator[Occupant]:
    """The house's residents as registered: relations, population types, ethnicity, tags."""
    since = date.fromordinal(rng.randint(_SINCE_FIRST, _SINCE_LAST))
    owner = house.residents[0] if house.residents else None
    alone = len(house.residents) == 1
    for index, person in enumerate(house.residents):
        relation = _relation(index, person, owner, usage)
        yield Occupant(
            resident=person,
            house_code=house.code,
            building=building,
            unit=unit,
            relation=relation,
            population_type=_population_type(rng, person, relation),
            ethnicity=None if person.nationality else _weighted(rng, ETHNICITIES),
            tags=_tags(rng, person, alone and relation != "employee"),
            since=since,
        )


def _relation(index: int, person: Resident, owner: Resident | None, usage: str) -> str:
    if usage in ("commercial", "office"):
        return "employee"
    if usage == "rented":
        return "tenant"
    if index == 0 or owner is None:
        return "owner"
    years = (born_on(owner) - born_on(person)).days / 365.25
    if years <= -18:
        return "child"
    if years >= 18:
        return "parent"
    return "spouse" if index == 1 else "other_relative"


def _population_type(rng: random.Random, person: Resident, relation: str) -> str:
    if person.nationality is not None:
        return "foreign"
    draw = rng.random()
    if draw < UNREGISTERED_SHARE:
        return "unregistered"
    floating = FLOATING_TENANT_SHARE if relation in ("tenant", "employee") else FLOATING_OWNER_SHARE
    return "floating" if draw < UNREGISTERED_SHARE + floating else "registered"


def _tags(rng: random.Random, person: Resident, lives_alone: bool) -> tuple[str, ...]:
    tags: list[str] = []
    if lives_alone and born_on(person) < ELDERLY_BORN_BEFORE:
        tags.append("elderly_living_alone")
    if rng.random() < DISABLED_SHARE:
        tags.append("disabled")
    if rng.random() < KEY_CARE_SHARE:
        tags.append("key_care")
    return tuple(tags)


def _weighted(rng: random.Random, table: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([v for v, _ in table], [w for _, w in table])[0]


def draw_person(
    rng: random.Random,
    person_ref: str,
    employee_no: str,
    card_head: str,
    taken_cards: set[str],
    born: tuple[str, date, date],
) -> Resident:
    """A made-up person outside the community's households: a 10-digit card beginning with
    `card_head` that no one in `taken_cards` holds, a name, an ID number of the division and
    birth range `born` (division, earliest, latest), a phone."""
    while True:
        card = card_head + "".join(rng.choices("0123456789", k=9))
        if card not in taken_cards:
            break
    return Resident(
        person_ref=person_ref,
        name=draw_name(rng),
        card_no=card,
        employee_no=employee_no,
        id_number=draw_id_number(rng, *born),
        phone=draw_mobile(rng),
    )


def _tenant(rng: random.Random, community: Community) -> Tenant:
    """The unregistered tenant: a made-up person behind a unit door with occupied houses."""
    units = [
        (building.code, unit.code)
        for building in community.buildings
        for unit in building.units
        if any(house.residents for house in unit.houses)
    ]
    building, unit = rng.choice(units)
    person = draw_person(
        rng,
        f"{community.code}-t00001",
        _TENANT_EMPLOYEE_NO,
        TENANT_CARD_HEAD,
        {r.card_no for r in community.residents()},
        ("430121", date(1985, 1, 1), date(2002, 12, 31)),
    )
    return Tenant(person, building, unit)


def _absentee(
    rng: random.Random, community: Community, houses: list[HouseFacts], tenant_card: str
) -> Occupant:
    """The owner of the last vacant house: registered there, living elsewhere. Drawn last, so
    every other row is what it was before they were added."""
    facts = [f for f in houses if f.usage == "vacant"][-1]
    person = draw_person(
        rng,
        f"{community.code}-a00001",
        _ABSENTEE_EMPLOYEE_NO,
        ABSENTEE_CARD_HEAD,
        {r.card_no for r in community.residents()} | {tenant_card},
        ("430102", date(1965, 1, 1), date(1990, 12, 31)),
    )
    return Occupant(
        resident=person,
        house_code=facts.house.code,
        building=facts.building,
        unit=facts.unit,
        relation="owner",
        population_type="registered",
        ethnicity="01",
        tags=(),
        since=date.fromordinal(rng.randint(_SINCE_FIRST, _SINCE_LAST)),
    )


def _unregistered_cars(rng: random.Random, registered: set[str]) -> tuple[Vehicle, ...]:
    """Cars nobody registered (visitors', deliveries'), with plates no resident's car has."""
    cars: dict[str, Vehicle] = {}
    while len(cars) < UNREGISTERED_CARS:
        new_energy = rng.random() < 0.2
        city = rng.choice("ABCDEF")
        plate = draw_plate(rng, f"湘{city}", new_energy)
        if plate not in registered and plate not in cars:
            cars[plate] = Vehicle(plate, new_energy, "K33", 2, owner="", house="")
    return tuple(cars.values())
