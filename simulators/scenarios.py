"""One scenario per rule, each carrying the tickets it must produce (its ground truth).

A scenario is a short story told in device messages (an elderly resident who stops going out,
a car left in the car park, a door propped open, ...), placed in the last days before `end`
(the present, by default) in one pilot community, to be injected into that community's clean
traffic (`simulators.scenario_traffic`). It carries:

- `messages`: what its devices publish, all before `end`;
- `expected`: the tickets it must produce, one per rule firing: rule, community, where (house,
  unit, device), and when in event time the ticket may be detected (`earliest`..`latest`: the
  trigger's own time for an instantaneous rule, the deadline or the window's closing event up
  to `end` for a watermark rule; None for `device.offline`, which runs on the gateway's clock);
- what it needs around it: plates for the watch-list (`watchlist`), residents the background
  must leave out because the story is theirs (`quiet_persons`), devices that fall silent
  (`dead_devices`: the background drops their heartbeats from then on).

Master data: the scenarios use the pilot master data as `simulators.masterdata` generates it:
its `elderly_living_alone` tags (residents born before 1961 who live alone), its tenants, its
vacant houses and the absentee owner registered at one of them (added for the vacant-house
story), its registered vehicles. The people and cars a story needs that the property never
registered (an unregistered lodger, a watch-listed car) are drawn here from a generator seeded
with the scenario's name, so they are never registered.

Everything is deterministic: the same `end` and seed give the same messages.
"""

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Final

from schemas.times import CHINA_STANDARD_TIME as CST
from simulators.camera_alarm import EBIKE, FIRE_LANE, THROW, AlarmType
from simulators.community import (
    CAMERA_ALARM_DIALECT,
    Community,
    Device,
    Resident,
    Vehicle,
    draw_id_number,
    draw_name,
    draw_plate,
    pilot_community,
)
from simulators.hik_isapi import Minor
from simulators.masterdata import MasterData, Occupant, community_master_data, draw_person
from simulators.scenario_messages import IN_READER, OUT_READER, DoorUse, Emitter
from simulators.traffic import SimMessage
from simulators.visitor_cloud import Visit, Visitor

ELDERLY_TAG: Final = "elderly_living_alone"
HOLD_OPEN_S: Final = 300
"""How long the propped door stays open before its controller raises the held-open alarm:
the rule's five minutes, so the alarm and the rule's deadline coincide."""
LOW_CONFIDENCE: Final = 70
"""A fire-lane alarm below the rules' 0.8 confidence: it must raise nothing."""


@dataclass(frozen=True, slots=True)
class ExpectedTicket:
    """A ticket a scenario must produce: exactly one open ticket matching this.

    `earliest`/`latest` bound the ticket's `detected_at` (event time); both None for a rule on
    the gateway's clock. The location fields are what the ticket must say where it says it.
    """

    rule: str
    community: str
    about: str
    """What the ticket is about, in words (for the report)."""
    earliest: datetime | None
    latest: datetime | None
    house_code: str | None = None
    building: str | None = None
    unit: str | None = None
    device_id: str | None = None

    def matches(self, ticket: Mapping[str, Any]) -> bool:
        """Whether an API ticket (`TicketPublic` as JSON) is this one: same rule and community,
        and no location field that contradicts ours (a ticket may leave one out)."""
        if ticket.get("rule") != self.rule or ticket.get("community") != self.community:
            return False
        location = ticket.get("location") or {}
        for key in ("house_code", "building", "unit", "device_id"):
            ours, theirs = getattr(self, key), location.get(key)
            if ours is not None and theirs is not None and ours != theirs:
                return False
        return True

    def on_time(self, detected_at: datetime) -> bool:
        """Whether the ticket was detected within the event-time bounds (always, on the
        gateway's clock)."""
        if self.earliest is not None and detected_at < self.earliest:
            return False
        return self.latest is None or detected_at <= self.latest


@dataclass(frozen=True, slots=True)
class WatchlistPlate:
    """A plate the scenario needs on the government's watch-list before its events arrive
    (the body of `PUT /v1/watchlist/vehicles` is a list of these)."""

    plate_no: str
    reason: str

    def body(self) -> dict[str, str]:
        return {"plate_no": self.plate_no, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class Scenario:
    """One rule's story in one community, with its messages and its ground truth."""

    name: str
    rule: str
    community: str
    summary: str
    messages: tuple[SimMessage, ...]
    expected: tuple[ExpectedTicket, ...]
    watchlist: tuple[WatchlistPlate, ...] = ()
    quiet_persons: frozenset[str] = frozenset()
    dead_devices: Mapping[str, datetime] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Story:
    """What a builder gets: the community's master data, the end, an emitter, a generator."""

    data: MasterData
    end: datetime
    emit: Emitter
    rng: random.Random

    @property
    def community(self) -> Community:
        return self.data.community

    def local(self, days_ago: int, hour: int, minute: int = 0) -> datetime:
        """`hour:minute` China Standard Time, `days_ago` local days before `end`'s day."""
        day: date = self.end.astimezone(CST).date() - timedelta(days=days_ago)
        return datetime.combine(day, time(hour, minute), CST)

    def stranger(self, card_head: str, employee_no: str) -> Resident:
        """A made-up person the property never registered, whose card a door controller had
        enrolled (the controller reports their card, name and its own person number)."""
        return draw_person(
            self.rng,
            f"{self.community.code}-s{employee_no}",
            employee_no,
            card_head,
            {r.card_no for r in self.community.residents()},
            ("430124", date(1980, 1, 1), date(2003, 12, 31)),
        )

    def unknown_car(self) -> Vehicle:
        """A car no one registered and the live traffic never drives (a plate of its own)."""
        taken = {car.plate for car in self.community.vehicles()} | self.data.unregistered_plates
        while True:
            plate = draw_plate(self.rng, "湘A", False)
            if plate not in taken:
                return Vehicle(plate, False, "K33", 1, owner="", house="")

    def camera(self, building: str, *, lift: bool) -> Device:
        """The lift-lobby camera of `building`'s first unit, or its fire-lane camera."""
        for device in self.community.devices_of(CAMERA_ALARM_DIALECT):
            if device.building == building and (device.unit is not None) == lift:
                return device
        raise KeyError(building)


Build = Callable[[Story], tuple[Scenario, ...] | Scenario]


# -- care, population, housing ----------------------------------------------------------------


def elderly_stops_going_out(story: Story) -> Scenario:
    """An elderly resident living alone goes out and comes back every day, then, three days
    before the end, comes home and is not seen again: 48 h later the rule must fire."""
    occupant = next(o for o in story.data.occupants if ELDERLY_TAG in o.tags)
    door = story.emit.unit_door(occupant.building, occupant.unit)
    person = occupant.resident
    messages: list[SimMessage] = []
    last = story.end - timedelta(days=3)
    for days in range(7, 2, -1):
        back = story.end - timedelta(days=days)
        out = DoorUse(person, OUT_READER, by_face=days % 2 == 0)
        messages.append(story.emit.passage(door, back - timedelta(hours=5), out))
        messages.append(story.emit.passage(door, back, DoorUse(person, IN_READER)))
    return Scenario(
        "elderly-stops-going-out",
        "care.no_activity",
        story.community.code,
        f"the elderly resident living alone in {occupant.house_code} is last seen coming home "
        "3 days ago",
        tuple(messages),
        (
            ExpectedTicket(
                "care.no_activity",
                story.community.code,
                f"{occupant.house_code}: no access or face event for 48 h",
                last + timedelta(hours=48),
                story.end,
                house_code=occupant.house_code,
            ),
        ),
        quiet_persons=frozenset({person.person_ref}),
    )


def unregistered_person(story: Story) -> Scenario:
    """A lodger the property never registered lets themselves in through a unit door with a
    card the landlord had enrolled, on four evenings of the last week (three are enough)."""
    building, unit = "B02", "U1"
    door = story.emit.unit_door(building, unit)
    lodger = story.stranger("6", "900101")
    times = [story.local(days, 19, 10 + 7 * days) for days in (6, 4, 2, 1)]
    messages = [story.emit.passage(door, at, DoorUse(lodger, IN_READER)) for at in times]
    return Scenario(
        "unregistered-person",
        "population.unregistered_frequent",
        story.community.code,
        f"an unregistered card opens the {building}-{unit} unit door on 4 days of the last 7",
        tuple(messages),
        (
            ExpectedTicket(
                "population.unregistered_frequent",
                story.community.code,
                f"an unresolved card at {building}-{unit} on 4 days",
                times[2],
                story.end,
            ),
        ),
    )


def group_rental(story: Story) -> Scenario:
    """A rented flat turns into a group rental: its tenant's card is passed round and opens
    the unit door 13 times a day, three days running (the rule: more than 10 on 3 days)."""
    occupant = next(
        o
        for o in story.data.occupants
        if o.building == "B03" and o.relation == "tenant" and o.unit == "U1"
    )
    door = story.emit.unit_door(occupant.building, occupant.unit)
    shared = occupant.resident
    messages: list[SimMessage] = []
    opens: list[datetime] = []
    for days in (4, 3, 2):  # closed days, whatever the hour of the end
        for n in range(13):
            at = story.local(days, 7 + n, 5 + 3 * n)
            opens.append(at)
            reader = IN_READER if n % 2 else OUT_READER
            messages.append(story.emit.passage(door, at, DoorUse(shared, reader)))
    return Scenario(
        "group-rental",
        "housing.suspected_group_rental",
        story.community.code,
        f"one card of {occupant.house_code} opens its unit door 13 times a day, 3 days running",
        tuple(messages),
        (
            ExpectedTicket(
                "housing.suspected_group_rental",
                story.community.code,
                f"{occupant.house_code}: one card, 13 openings a day on 3 days",
                opens[2 * 13 + 10],
                story.end,
                building=occupant.building,
                unit=occupant.unit,
            ),
        ),
    )


def vacant_house_activity(story: Story) -> Scenario:
    """A house registered vacant is in use again: its absentee owner (registered there, living
    elsewhere) lets themselves in and out through its unit door on three days running."""
    absentee = story.data.absentee
    door = story.emit.unit_door(absentee.building, absentee.unit)
    person = absentee.resident
    messages: list[SimMessage] = []
    for days in (4, 3, 2):
        messages.append(story.emit.passage(door, story.local(days, 9, 20), DoorUse(person)))
        out = DoorUse(person, OUT_READER, by_face=True)
        messages.append(story.emit.passage(door, story.local(days, 16, 45), out))
    return Scenario(
        "vacant-house-activity",
        "housing.vacant_activity",
        story.community.code,
        f"{absentee.house_code}, registered vacant, is used on 3 days running",
        tuple(messages),
        (
            ExpectedTicket(
                "housing.vacant_activity",
                story.community.code,
                f"{absentee.house_code}: vacant, 6 door events in 3 days",
                messages[2].at,
                story.end,
                house_code=absentee.house_code,
            ),
        ),
    )


def _id_number(rng: random.Random) -> str:
    return draw_id_number(rng, "430103", date(1970, 1, 1), date(2000, 12, 31))


# -- vehicles ---------------------------------------------------------------------------------


def watchlisted_plate(story: Story) -> Scenario:
    """A watch-listed car drives into the car park two hours before the end and out again half
    an hour later: four vehicle events (gate and camera, in and out), one ticket."""
    car = story.unknown_car()
    entered = story.end - timedelta(hours=2)
    messages = story.emit.car_pass(car, entered, "in", ramp=0)
    messages += story.emit.car_pass(car, entered + timedelta(minutes=30), "out", ramp=1)
    barrier = story.emit.barrier(0)
    return Scenario(
        "watchlisted-plate",
        "vehicle.watchlist",
        story.community.code,
        f"watch-listed {car.plate} passes the {barrier.gate}",
        tuple(messages),
        (
            ExpectedTicket(
                "vehicle.watchlist",
                story.community.code,
                f"{car.plate} at {barrier.gate}",
                entered,
                entered,
            ),
        ),
        watchlist=(WatchlistPlate(car.plate, "scenario: a plate the police look for"),),
    )


def car_left_in_car_park(story: Story) -> Scenario:
    """An unregistered car drives in four days before the end and never leaves (72 h)."""
    car = story.unknown_car()
    entered = story.end - timedelta(days=4)
    return Scenario(
        "car-left-in-car-park",
        "vehicle.long_stay",
        story.community.code,
        f"unregistered {car.plate} entered 4 days ago and has not left",
        tuple(story.emit.car_pass(car, entered, "in", ramp=1)),
        (
            ExpectedTicket(
                "vehicle.long_stay",
                story.community.code,
                f"{car.plate} in the car park for 72 h",
                entered + timedelta(hours=72),
                story.end,
            ),
        ),
    )


def nightly_outside_car(story: Story) -> Scenario:
    """A non-resident's car comes in at 22:40 on five nights of the last week and leaves at
    dawn (the rule: 4 nights in 7)."""
    car = story.unknown_car()
    messages: list[SimMessage] = []
    entries: list[datetime] = []
    for days in (6, 5, 3, 2, 1):
        entered = story.local(days, 22, 40)
        entries.append(entered)
        messages += story.emit.car_pass(car, entered, "in", ramp=0)
        left = story.local(days - 1, 6, 20)
        if left < story.end:
            messages += story.emit.car_pass(car, left, "out", ramp=0)
    return Scenario(
        "outside-car-nightly",
        "vehicle.unregistered_frequent",
        story.community.code,
        f"unregistered {car.plate} enters on 5 nights of the last 7",
        tuple(messages),
        (
            ExpectedTicket(
                "vehicle.unregistered_frequent",
                story.community.code,
                f"{car.plate}: 5 nights in 7",
                entries[3],
                story.end,
            ),
        ),
    )


# -- doors ------------------------------------------------------------------------------------


def forced_door(story: Story) -> Scenario:
    """A unit door is forced open five hours before the end, and shut 40 s later."""
    door = story.emit.unit_door("B02", "U2")
    forced = story.end - timedelta(hours=5)
    messages = (
        story.emit.door_event(door, forced, Minor.DOOR_FORCED_OPEN),
        story.emit.door_event(door, forced + timedelta(seconds=40), Minor.DOOR_CLOSED),
    )
    return Scenario(
        "forced-door",
        "safety.door_forced",
        story.community.code,
        f"the {door.door} is forced open",
        messages,
        (
            ExpectedTicket(
                "safety.door_forced",
                story.community.code,
                f"{door.door} forced",
                forced,
                forced,
                device_id=door.device_id,
            ),
        ),
    )


def door_propped_open(story: Story) -> Scenario:
    """A resident props a unit door open: it stays open 25 minutes; the controller raises its
    held-open alarm after five."""
    occupant = _first_occupant(story, "B03", "U2")
    door = story.emit.unit_door("B03", "U2")
    passed = story.end - timedelta(hours=7)
    opened = passed + timedelta(seconds=2)
    held = opened + timedelta(seconds=HOLD_OPEN_S)
    messages = (
        story.emit.passage(door, passed, DoorUse(occupant.resident, IN_READER)),
        story.emit.door_event(door, opened, Minor.DOOR_OPENED),
        story.emit.door_event(door, held, Minor.DOOR_HELD_OPEN),
        story.emit.door_event(door, opened + timedelta(minutes=25), Minor.DOOR_CLOSED),
    )
    return Scenario(
        "door-propped-open",
        "safety.door_held_open",
        story.community.code,
        f"the {door.door} stands open for 25 minutes",
        messages,
        (
            ExpectedTicket(
                "safety.door_held_open",
                story.community.code,
                f"{door.door} held open",
                held,
                story.end,
                device_id=door.device_id,
            ),
        ),
    )


def _first_occupant(story: Story, building: str, unit: str) -> Occupant:
    return next(o for o in story.data.occupants if (o.building, o.unit) == (building, unit))


# -- behaviour alarms -------------------------------------------------------------------------


def blocked_fire_lane(story: Story) -> Scenario:
    """A car blocks a fire lane: the lane camera alarms twice a quarter of an hour apart (one
    ticket, two occurrences); another lane camera's doubtful alarm (70 %) raises nothing."""
    camera = story.camera("B03", lift=False)
    doubtful = story.camera("B01", lift=False)
    first = story.end - timedelta(hours=3)
    messages = (
        story.emit.alarm(doubtful, first - timedelta(minutes=30), FIRE_LANE, LOW_CONFIDENCE),
        story.emit.alarm(camera, first, FIRE_LANE, 92),
        story.emit.alarm(camera, first + timedelta(minutes=15), FIRE_LANE, 90),
    )
    return Scenario(
        "blocked-fire-lane",
        "fire.lane_occupied",
        story.community.code,
        f"{camera.location} blocked (and a doubtful alarm at {doubtful.location})",
        messages,
        (_instant("fire.lane_occupied", story, camera, first, "fire lane blocked"),),
    )


def ebike_in_elevator(story: Story) -> Scenario:
    """An e-bike is wheeled into a lift (95 % sure)."""
    camera = story.camera("B01", lift=True)
    return _one_alarm(story, "ebike-in-elevator", camera, EBIKE, 95, "an e-bike in the lift")


def high_altitude_throw(story: Story) -> Scenario:
    """Something is thrown from a height over a fire lane (88 % sure)."""
    camera = story.camera("B05", lift=False)
    return _one_alarm(story, "high-altitude-throw", camera, THROW, 88, "something thrown")


def _one_alarm(
    story: Story, name: str, camera: Device, alarm_type: AlarmType, confidence: int, what: str
) -> Scenario:
    """A story of one alarm of the camera's, `ALARM_HOURS[name]` hours before the end."""
    rule = RULE_OF[name]
    at = story.end - timedelta(hours=ALARM_HOURS[name])
    return Scenario(
        name,
        rule,
        story.community.code,
        f"{what}, seen from {camera.location}",
        (story.emit.alarm(camera, at, alarm_type, confidence),),
        (_instant(rule, story, camera, at, what),),
    )


ALARM_HOURS: Final = {"ebike-in-elevator": 6, "high-altitude-throw": 8}


def _instant(rule: str, story: Story, device: Device, at: datetime, what: str) -> ExpectedTicket:
    return ExpectedTicket(
        rule,
        story.community.code,
        f"{what} at {device.location}",
        at,
        at,
        device_id=device.device_id,
    )


# -- visitors and devices ---------------------------------------------------------------------


def visitor_stays(story: Story) -> Scenario:
    """A visitor checks in at the gate and never checks out; the visit ended 5.5 h before the
    end, so 2 h after that the rule must fire."""
    occupant = _first_occupant(story, "B02", "U2")
    registered = story.end - timedelta(hours=10)
    visit = Visit(
        visit_id=f"VS{story.community.code.upper()}STAY",
        house=occupant.house_code,
        registered=registered,
        valid_from=registered + timedelta(minutes=30),
        valid_until=registered + timedelta(hours=4, minutes=30),
        visitors=(Visitor("111", _id_number(story.rng), draw_name(story.rng), None, None),),
        purposes=(4,),
    )
    messages = (
        story.emit.registration(visit),
        story.emit.gate_pass(visit, "checkin", registered + timedelta(minutes=45)),
    )
    return Scenario(
        "visitor-stays",
        "visitor.overstay",
        story.community.code,
        f"a visitor of {occupant.house_code} checked in and never out",
        messages,
        (
            ExpectedTicket(
                "visitor.overstay",
                story.community.code,
                f"visitor of {occupant.house_code} 2 h past the visit's end",
                visit.valid_until + timedelta(hours=2),
                story.end,
            ),
        ),
    )


def camera_dies(story: Story) -> Scenario:
    """A lift-lobby camera stops sending anything a day before the end."""
    camera = story.camera("B04", lift=True)
    return Scenario(
        "camera-dies",
        "device.offline",
        story.community.code,
        f"the camera at {camera.location} is silent from a day ago",
        (),
        (
            ExpectedTicket(
                "device.offline",
                story.community.code,
                f"{camera.device_id} offline",
                None,
                None,
                device_id=camera.device_id,
            ),
        ),
        dead_devices={camera.device_id: story.end - timedelta(days=1)},
    )


@dataclass(frozen=True, slots=True)
class ScenarioSpec:
    """A scenario's name, its rule, the community it is told in, and its builder."""

    name: str
    rule: str
    community: str
    build: Callable[[Story], Scenario]


SCENARIOS: Final[tuple[ScenarioSpec, ...]] = (
    ScenarioSpec("elderly-stops-going-out", "care.no_activity", "yida", elderly_stops_going_out),
    ScenarioSpec(
        "unregistered-person", "population.unregistered_frequent", "jiaxin", unregistered_person
    ),
    ScenarioSpec("group-rental", "housing.suspected_group_rental", "yida", group_rental),
    ScenarioSpec(
        "vacant-house-activity", "housing.vacant_activity", "jiaxin", vacant_house_activity
    ),
    ScenarioSpec("watchlisted-plate", "vehicle.watchlist", "yida", watchlisted_plate),
    ScenarioSpec("car-left-in-car-park", "vehicle.long_stay", "yida", car_left_in_car_park),
    ScenarioSpec(
        "outside-car-nightly", "vehicle.unregistered_frequent", "jiaxin", nightly_outside_car
    ),
    ScenarioSpec("forced-door", "safety.door_forced", "yida", forced_door),
    ScenarioSpec("door-propped-open", "safety.door_held_open", "jiaxin", door_propped_open),
    ScenarioSpec("blocked-fire-lane", "fire.lane_occupied", "yida", blocked_fire_lane),
    ScenarioSpec("ebike-in-elevator", "fire.ebike_in_elevator", "jiaxin", ebike_in_elevator),
    ScenarioSpec("high-altitude-throw", "order.high_altitude_throw", "yida", high_altitude_throw),
    ScenarioSpec("visitor-stays", "visitor.overstay", "jiaxin", visitor_stays),
    ScenarioSpec("camera-dies", "device.offline", "yida", camera_dies),
)
"""Every scenario, one per rule of the catalogue, in the issue's order."""

SCENARIO_NAMES: Final = tuple(spec.name for spec in SCENARIOS)
RULE_OF: Final = {spec.name: spec.rule for spec in SCENARIOS}


def build_scenarios(
    names: tuple[str, ...] | None, end: datetime, seed: int = 7
) -> tuple[Scenario, ...]:
    """The named scenarios (None: all), told before `end`; KeyError names an unknown one.

    Each builds on its community's pilot master data for `seed`; scenario `i` of `SCENARIOS`
    numbers its messages from slot `i`, so scenarios never share an event id.
    """
    if end.tzinfo is None or end.utcoffset() is None:
        raise ValueError("end must be timezone-aware")
    wanted = SCENARIO_NAMES if names is None else names
    for name in wanted:
        if name not in SCENARIO_NAMES:
            raise KeyError(name)
    end = end.replace(microsecond=0)
    data: dict[str, MasterData] = {}
    built: list[Scenario] = []
    for slot, spec in enumerate(SCENARIOS):
        if spec.name not in wanted:
            continue
        if spec.community not in data:
            data[spec.community] = community_master_data(
                pilot_community(spec.community, seed), seed
            )
        master = data[spec.community]
        story = Story(
            master, end, Emitter(master.community, slot), random.Random(f"{spec.name}:{seed}")
        )
        built.append(spec.build(story))
    return tuple(built)
