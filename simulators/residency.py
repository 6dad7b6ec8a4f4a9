"""Two weeks of life behind some unit doors, ending now: the traffic residency inference needs.

Inferring that someone lives behind a unit door takes days of evidence (at least 5 distinct
days in 14, at least 2 of them at night, 19:00-08:00 local), so no test or demo can wait for
it. `ResidencyScenario` writes those two weeks at once, with event times relative to `end`
(now, by default): every day of the window up to yesterday, the registered residents of
the chosen units leave in the morning and come home in the evening through their unit door
(by card, or by face: the terminal reports their employee number), some pass the gates' face
cameras and drive their cars through the car-park barrier; the unregistered tenant does the
same at their unit door on most days, by the card the landlord had enrolled, coming home after
dark; a visiting stranger tries an unknown card at that door on two days (too few to count);
unregistered cars come and go; and visitors are registered with the visitor cloud, some of
whose visits are over and some of which are valid now.

Every message knows who it is about (`Sighting`), so tests can tell which events must resolve
to which resident and which must stay anonymous. Everything is drawn from a generator seeded
with the community code and seed: the same arguments give the same messages.
"""

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from schemas.times import CHINA_STANDARD_TIME as CST
from simulators.barrier_gate import Ramp
from simulators.community import (
    BARRIER_GATE_DIALECT,
    GAT1400_DIALECT,
    HIK_DIALECT,
    VISITOR_CLOUD_DIALECT,
    Community,
    Device,
    Resident,
    Vehicle,
    born_on,
    draw_id_number,
    draw_mobile,
    draw_name,
    resident_is_male,
    visitor_service_id,
)
from simulators.gat1400 import FaceSighting, Gat1400Camera
from simulators.hik_isapi import ATTENDANCE, DoorEvent, Minor, hik_payload, hik_topic
from simulators.masterdata import MasterData
from simulators.traffic import SimMessage
from simulators.visitor_cloud import Visit, Visitor, registration_payload, visitor_topic

DAYS = 14
"""The inference window: evidence older than this does not count."""
RESIDENT_ACTIVE_SHARE = 0.85
"""Share of days a registered resident goes out and comes back."""
TENANT_DAYS = 9
"""Days (of the window) the unregistered tenant uses their unit door."""
TENANT_LATE_SHARE = 0.8
"""Share of the tenant's days on which they come home after 19:00."""
STRANGER_DAYS = 2
GATE_FACE_SHARE = 0.4
"""Share of a resident's outings the gate's face camera captures and matches."""
CAR_DAY_SHARE = 0.7
"""Share of days a resident's car leaves in the morning and comes back in the evening."""
UNREGISTERED_VISITS = 2
"""Visits per unregistered car over the window (in, and out again some hours later)."""
CURRENT_VISITS = 2
PAST_VISITS = 3
_SERIAL_BASE = 5_000_000
_RECORD_BASE = 800_000
"""Door serial numbers and barrier record numbers of the scenario start here: far from the
live streams' counters, so no event of the scenario shares an id with a live one."""


@dataclass(frozen=True, slots=True)
class Sighting:
    """One message and whom it is about: `person_ref` of a registered resident or of the
    tenant, `plate` of a car, `visitor` id number of a visitor; `credential` is the
    (kind, value) a door reported (None for faces matched by ID number and for cars)."""

    message: SimMessage
    person_ref: str | None = None
    credential: tuple[str, str] | None = None
    plate: str | None = None
    visitor: str | None = None


@dataclass(frozen=True, slots=True)
class ScenarioVisit:
    """A visit and whether it is valid at the scenario's end."""

    visit: Visit
    current: bool


class ResidencyScenario:
    """The last `days` days of the chosen units' door traffic, ending before `end`.

    `units` are (building, unit) pairs; by default the tenant's unit and, for contrast, the
    first other unit of the community. Sightings come out in event-time order, all before `end`.
    """

    def __init__(
        self,
        data: MasterData,
        end: datetime,
        *,
        seed: int = 7,
        days: int = DAYS,
        units: tuple[tuple[str, str], ...] | None = None,
    ) -> None:
        if end.tzinfo is None or end.utcoffset() is None:
            raise ValueError("end must be timezone-aware")
        if days < 2:
            raise ValueError("days must be at least 2")
        self.data = data
        self.community: Community = data.community
        self.end = end.replace(microsecond=0)
        self.days = days
        self.seed = seed
        tenant = data.tenant
        home = (tenant.building, tenant.unit)
        other = next(
            (b.code, u.code)
            for b in self.community.buildings
            for u in b.units
            if (b.code, u.code) != home
        )
        self.units = tuple(dict.fromkeys(units or (home, other)))

    # -- ground truth -------------------------------------------------------------------------

    def residents(self) -> tuple[Resident, ...]:
        """The registered residents whose traffic the scenario plays."""
        return tuple(o.resident for o in self.data.occupants if (o.building, o.unit) in self.units)

    def cars(self) -> tuple[Vehicle, ...]:
        """The registered cars of those residents."""
        refs = {r.person_ref for r in self.residents()}
        return tuple(car for car in self.data.vehicles if car.owner in refs)

    def dates(self) -> tuple[date, ...]:
        """The local days played: the `days - 1` days before `end`'s day, so that every one
        of them lies inside the `days`-day window that ends at `end`, whatever its hour."""
        today = self.end.astimezone(CST).date()
        return tuple(today - timedelta(days=n) for n in range(self.days - 1, 0, -1))

    def visits(self) -> tuple[ScenarioVisit, ...]:
        """The visits registered (the same every call)."""
        return tuple(self._visits(random.Random(self._seed("visits"))))

    # -- the messages -------------------------------------------------------------------------

    def sightings(self) -> list[Sighting]:
        """Every message with whom it is about, in event-time order."""
        found: list[Sighting] = []
        found.extend(self._doors())
        found.extend(self._gate_faces())
        found.extend(self._car_passes())
        found.extend(self._visit_messages())
        found.sort(key=lambda s: s.message.at)
        return [s for s in found if s.message.at < self.end]

    def records(self) -> Iterator[SimMessage]:
        """The messages alone, in event-time order."""
        return (sighting.message for sighting in self.sightings())

    def _seed(self, part: str) -> str:
        return f"{self.community.code}:{self.seed}:residency:{part}"

    def _door(self, building: str, unit: str) -> Device:
        for device in self.community.devices_of(HIK_DIALECT):
            if device.building == building and device.unit == unit and device.readers:
                return device
        raise KeyError(f"{building}-{unit}")

    def _local(self, day: date, earliest: time, latest: time, rng: random.Random) -> datetime:
        low = datetime.combine(day, earliest, CST)
        high = datetime.combine(day, latest, CST)
        seconds = rng.uniform(0, (high - low).total_seconds())
        return (low + timedelta(seconds=int(seconds))).astimezone(UTC)

    def _doors(self) -> Iterator[Sighting]:
        rng = random.Random(self._seed("doors"))
        serials: dict[str, int] = {}

        def event(
            device: Device, at: datetime, person: Resident | None, minor: Minor, card: str | None
        ) -> Sighting:
            serials[device.device_id] = serials.get(device.device_id, _SERIAL_BASE) + 1
            reader = 1 if at.astimezone(CST).hour >= 12 else 2  # home in the afternoon/evening
            direction = device.readers[reader]
            door_event = DoorEvent(
                device=device,
                minor=minor,
                occurred_at=at,
                serial=serials[device.device_id],
                resident=person,
                reader=reader,
                attendance=ATTENDANCE[direction] if person is not None else None,
                card_no=card,
                verify_no=serials[device.device_id],
            )
            message = SimMessage(
                at,
                hik_topic(self.community.code, device.device_id),
                hik_payload(door_event),
                ("access",),
                HIK_DIALECT,
            )
            if person is None:
                return Sighting(message, credential=("card", card) if card else None)
            if minor == Minor.CARD_PASSED:
                credential = ("card", card or person.card_no)
            else:
                credential = ("employee_no", person.employee_no)
            return Sighting(message, person.person_ref, credential)

        for occupant in self.data.occupants:
            if (occupant.building, occupant.unit) not in self.units:
                continue
            person = occupant.resident
            door = self._door(occupant.building, occupant.unit)
            for day in self.dates():
                if rng.random() >= RESIDENT_ACTIVE_SHARE:
                    continue
                for window in ((time(7, 0), time(9, 30)), (time(17, 0), time(22, 30))):
                    at = self._local(day, *window, rng)
                    minor = Minor.CARD_PASSED if rng.random() < 0.5 else Minor.FACE_PASSED
                    yield event(door, at, person, minor, None)

        tenant = self.data.tenant
        door = self._door(tenant.building, tenant.unit)
        for day in sorted(rng.sample(self.dates(), min(TENANT_DAYS, len(self.dates())))):
            yield event(
                door,
                self._local(day, time(7, 30), time(8, 0), rng),
                tenant.person,
                Minor.CARD_PASSED,
                tenant.person.card_no,
            )
            late = rng.random() < TENANT_LATE_SHARE
            evening = (time(19, 30), time(23, 0)) if late else (time(17, 30), time(18, 30))
            yield event(
                door,
                self._local(day, *evening, rng),
                tenant.person,
                Minor.CARD_PASSED,
                tenant.person.card_no,
            )

        stranger_card = "7" + "".join(rng.choices("0123456789", k=9))
        for day in rng.sample(self.dates(), min(STRANGER_DAYS, len(self.dates()))):
            at = self._local(day, time(14, 0), time(16, 0), rng)
            yield event(door, at, None, Minor.CARD_UNKNOWN, stranger_card)

    def _gate_faces(self) -> Iterator[Sighting]:
        rng = random.Random(self._seed("faces"))
        cameras = [
            Gat1400Camera(self.community.code, device, rng.randint(60_000, 90_000))
            for device in self.community.devices_of(GAT1400_DIALECT)
            if device.facing == "out"
        ]
        if not cameras:
            return
        for person in self.residents():
            for day in self.dates():
                if rng.random() >= GATE_FACE_SHARE:
                    continue
                at = self._local(day, time(7, 40), time(9, 50), rng)
                age = day.year - born_on(person).year
                face = FaceSighting(
                    moment=at,
                    matched=person,
                    similarity=round(rng.uniform(85.0, 99.0), 1),
                    gender_code="1" if resident_is_male(person) else "2",
                    age_lower=max(0, age - 4),
                    age_upper=min(150, age + 4),
                    suspicious=0,
                )
                yield Sighting(rng.choice(cameras).faces_message([face]), person.person_ref)

    def _car_passes(self) -> Iterator[Sighting]:
        rng = random.Random(self._seed("cars"))
        ramps = [
            Ramp(self.community.code, barrier, None, _RECORD_BASE)
            for barrier in self.community.devices_of(BARRIER_GATE_DIALECT)
        ]
        if not ramps:
            return

        def read(car: Vehicle, at: datetime, direction: str) -> Sighting:
            ramp = rng.choice(ramps)
            confidence = round(rng.uniform(0.9, 0.99), 2)
            message = ramp.read_message(at, car, direction, confidence)
            return Sighting(message, car.owner or None, plate=car.plate)

        for car in self.cars():
            for day in self.dates():
                if rng.random() >= CAR_DAY_SHARE:
                    continue
                yield read(car, self._local(day, time(7, 0), time(9, 0), rng), "out")
                yield read(car, self._local(day, time(17, 30), time(21, 0), rng), "in")
        for car in self.data.unregistered_cars:
            for day in rng.sample(self.dates(), min(UNREGISTERED_VISITS, len(self.dates()))):
                arrived = self._local(day, time(9, 0), time(16, 0), rng)
                yield read(car, arrived, "in")
                yield read(car, arrived + timedelta(minutes=rng.randint(20, 240)), "out")

    def _visits(self, rng: random.Random) -> Iterator[ScenarioVisit]:
        hosts = [h.code for h in self.community.houses() if h.residents]
        for index in range(PAST_VISITS + CURRENT_VISITS):
            current = index >= PAST_VISITS
            if current:
                valid_from = self.end - timedelta(hours=1)
                registered = self.end - timedelta(hours=2)
            else:
                registered = self.end - timedelta(days=rng.randint(2, 10), hours=3)
                valid_from = registered + timedelta(hours=1)
            visitor = Visitor(
                id_type="111",
                id_number=draw_id_number(rng, "430104", date(1960, 1, 1), date(2004, 12, 31)),
                name=draw_name(rng),
                phone=draw_mobile(rng),
                plate=None,
            )
            visit = Visit(
                visit_id=f"V{self.community.code.upper()}{self.seed:04d}{index:04d}",
                house=rng.choice(hosts),
                registered=registered,
                valid_from=valid_from,
                valid_until=valid_from + timedelta(hours=4),
                visitors=(visitor,),
                purposes=(rng.choice((2, 4, 7)),),
            )
            yield ScenarioVisit(visit, current)

    def _visit_messages(self) -> Iterator[Sighting]:
        service = visitor_service_id(self.community.code)
        topic = visitor_topic(self.community.code, service)
        for index, item in enumerate(self.visits()):
            visit = item.visit
            message = SimMessage(
                visit.registered,
                topic,
                registration_payload(visit, f"M{self.community.code}{self.seed}r{index:05d}"),
                ("visitor",),
                VISITOR_CLOUD_DIALECT,
            )
            yield Sighting(message, visitor=visit.visitors[0].id_number)
