"""The car park's traffic: barrier-gate plate reads, and the ramp cameras' GA/T 1400 captures.

Payload contract of a barrier gate (what `adapters.barrier_gate` parses; see
`tests/adapters/fixtures/barrier_gate`): one compact JSON object per plate read, keys in this
order::

    {"recordId": "YD-N1-20261126-000123", "gateId": "YD-GATE-N1", "ts": 1795652130123,
     "plate": "湘A·12345", "plateColor": 1, "dir": "in", "lane": 1, "conf": 0.97,
     "pic": "http://10.43.x.y/pic/20261126/000123.jpg"}

`ts` is epoch milliseconds; the plate is printed with the parking vendor's `·` separator;
`plateColor` is JT/T 415 (1 blue, 5 green); lane 1 is the way in, lane 2 the way out. A plate
the gate could not read is `"未识别"` with no `plateColor` and `conf` 0.0. The gate numbers its
records per ramp and day, so `recordId` is unique and the event id follows it.

`VehicleStream` is the traffic: cars come and go through the ramps (the first ramp is the
busier); residents' cars alternate in and out, other cars (visitors, taxis, deliveries, drawn
from a pool, so their plates repeat too) come in and most leave again within two hours. Where a
ramp has a GA/T 1400 capture camera, it photographs most cars a moment after the barrier, as
one more vehicle event for the same plate.
"""

import json
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from schemas.times import CHINA_STANDARD_TIME as CST
from simulators.community import (
    BARRIER_GATE_DIALECT,
    GAT1400_DIALECT,
    Community,
    Device,
    Vehicle,
    draw_plate,
    short_code,
)
from simulators.gat1400 import Gat1400Camera, VehicleSighting, sighting_of
from simulators.hik_isapi import device_network
from simulators.traffic import (
    MILLISECOND,
    PlannedStream,
    SimMessage,
    epoch_ms,
    weighted,
)

PLATE_COLORS = {False: 1, True: 5}
"""JT/T 415 plate colour by new energy: blue 1, green 5."""
RESIDENT_CAR_SHARE = 0.75
"""Share of passes by residents' cars; the rest are visitors, taxis and deliveries."""
OUTSIDER_RETURN_SHARE = 0.9
"""Share of outside cars that leave again (the rest stay overnight, or longer)."""
UNREAD_SHARE = 0.02
"""Share of reads where the gate could not read the plate (dirt, glare, a trailer)."""
CAMERA_CAPTURE_SHARE = 0.95
"""Share of passes the ramp's capture camera photographs."""
OUTSIDER_POOL = 160
_OUTSIDE_PREFIXES: tuple[tuple[str, float], ...] = (
    ("湘A", 62.0),
    ("湘B", 5.0),
    ("湘C", 5.0),
    ("湘E", 3.0),
    ("湘F", 3.0),
    ("湘K", 3.0),
    ("粤B", 4.0),
    ("鄂A", 4.0),
    ("赣A", 3.0),
    ("京A", 2.0),
    ("沪A", 2.0),
    ("桂A", 2.0),
    ("渝A", 2.0),
)


def barrier_topic(community_code: str, device_id: str) -> str:
    """The topic a barrier gate publishes on: `{community}/barrier-gate/{device_id}`."""
    return f"{community_code}/{BARRIER_GATE_DIALECT}/{device_id}"


def printed_plate(plate: str) -> str:
    """The plate as the parking vendor prints it: `湘A·12345`."""
    return f"{plate[:2]}·{plate[2:]}"


@dataclass(frozen=True, slots=True)
class PlateRead:
    """One read at a barrier gate: the ground truth of one message."""

    moment: datetime
    record_id: str
    vehicle: Vehicle | None
    """The car whose plate was read; None when the plate could not be read."""
    direction: str
    lane: int
    confidence: float
    picture: str


def barrier_payload(gate_id: str, read: PlateRead) -> bytes:
    """The read as the gate's compact JSON (see the module docstring)."""
    document: dict[str, object] = {"recordId": read.record_id, "gateId": gate_id}
    document["ts"] = epoch_ms(read.moment)
    if read.vehicle is None:
        document["plate"] = "未识别"
    else:
        document["plate"] = printed_plate(read.vehicle.plate)
        document["plateColor"] = PLATE_COLORS[read.vehicle.new_energy]
    document |= {
        "dir": read.direction,
        "lane": read.lane,
        "conf": read.confidence,
        "pic": read.picture,
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


class Ramp:
    """A car-park entrance: its barrier gate, its capture camera if any, its record counter."""

    def __init__(
        self, community_code: str, barrier: Device, camera: Gat1400Camera | None, record: int
    ) -> None:
        self.barrier = barrier
        self.camera = camera
        self.topic = barrier_topic(community_code, barrier.device_id)
        self.tag = barrier.device_id.rsplit("-", 1)[-1]
        self.prefix = f"{short_code(community_code)}-{self.tag}"
        self.ip, _ = device_network(barrier.device_id)
        self.record = record

    def read_message(
        self, moment: datetime, vehicle: Vehicle | None, direction: str, confidence: float
    ) -> SimMessage:
        self.record += 1
        day = moment.astimezone(CST).strftime("%Y%m%d")
        read = PlateRead(
            moment=moment,
            record_id=f"{self.prefix}-{day}-{self.record:06d}",
            vehicle=vehicle,
            direction=direction,
            lane=1 if direction == "in" else 2,
            confidence=confidence,
            picture=f"http://{self.ip}/pic/{day}/{self.record:06d}.jpg",
        )
        payload = barrier_payload(self.barrier.device_id, read)
        return SimMessage(moment, self.topic, payload, ("vehicle_pass",), BARRIER_GATE_DIALECT)


CLEAN_OUTSIDER_HOURS = range(8, 17)
"""Local hours in which outside cars arrive in a clean stream: by day only, so no outside car
enters on many nights, whatever a rule counts as night."""


class VehicleStream(PlannedStream):
    """Cars through the car-park ramps, about `passes_per_hour` of them (see the module).

    `clean` leaves out what the rules turn into tickets: every outside car leaves again (none is
    left in the car park) and every plate is read (an unread exit looks like a car that never
    left), and outside cars come by day only (`CLEAN_OUTSIDER_HOURS`), so the regulars among
    them never enter on many nights.
    """

    def __init__(
        self,
        community: Community,
        rng: random.Random,
        start: datetime,
        passes_per_hour: float = 120.0,
        *,
        clean: bool = False,
    ) -> None:
        # An outside car's visit is two passes: arrivals are fewer than passes.
        per_arrival = 1.0 + (1.0 - RESIDENT_CAR_SHARE) * OUTSIDER_RETURN_SHARE
        super().__init__(rng, start, passes_per_hour / per_arrival)
        self.clean = clean
        cameras = {
            device.gate: device
            for device in community.devices_of(GAT1400_DIALECT)
            if device.gate is not None and device.facing is None
        }
        self._ramps: list[Ramp] = []
        for barrier in community.devices_of(BARRIER_GATE_DIALECT):
            camera_device = cameras.get(barrier.gate) if barrier.gate is not None else None
            camera = None
            if camera_device is not None:
                camera = Gat1400Camera(community.code, camera_device, rng.randint(1, 50_000))
            self._ramps.append(Ramp(community.code, barrier, camera, rng.randint(1, 500)))
        if not self._ramps:
            raise ValueError("the community has no barrier gates")
        self._ramp_weights = tuple(1.5 if i == 0 else 1.0 for i in range(len(self._ramps)))
        self._cars = tuple(community.vehicles())
        # At the start about half the residents' cars are in the car park.
        self._parked = {car.plate: rng.random() < 0.5 for car in self._cars}
        pool: dict[str, Vehicle] = {}
        while len(pool) < OUTSIDER_POOL:
            car = self._outsider(rng)
            if car.plate not in self._parked:
                pool.setdefault(car.plate, car)
        self._outsiders = tuple(pool.values())
        self._outsider_weights = tuple(1.0 / (rank + 1) for rank in range(OUTSIDER_POOL))
        self._away_from: dict[str, float] = {car.plate: 0.0 for car in self._outsiders}
        """Outside cars are away from this time on (inf: parked and staying)."""

    @staticmethod
    def _outsider(rng: random.Random) -> Vehicle:
        new_energy = rng.random() < 0.2
        return Vehicle(
            plate=draw_plate(rng, weighted(rng, _OUTSIDE_PREFIXES), new_energy),
            new_energy=new_energy,
            vehicle_class=rng.choices(("K33", "K31", "K32"), (60, 30, 10))[0],
            body_color=rng.choices((2, 1, 3, 5, 4), (35, 25, 20, 12, 8))[0],
            owner="",
            house="",
        )

    def arrive(self, at: float) -> None:
        rng = self.rng
        ramp = rng.choices(self._ramps, self._ramp_weights)[0]
        if self._cars and rng.random() < RESIDENT_CAR_SHARE:
            car = rng.choice(self._cars)
            direction = "out" if self._parked[car.plate] else "in"
            self._parked[car.plate] = not self._parked[car.plate]
            self._pass(at, ramp, car, direction)
            return
        if self.clean and self.moment(at).astimezone(CST).hour not in CLEAN_OUTSIDER_HOURS:
            return
        car = self._free_outsider(at)
        self._pass(at, ramp, car, "in")
        if rng.random() < OUTSIDER_RETURN_SHARE or self.clean:
            leave = at + rng.uniform(600.0, 7200.0)
            self._away_from[car.plate] = leave + 1.0
            exit_ramp = rng.choices(self._ramps, self._ramp_weights)[0]
            self._pass(leave, exit_ramp, car, "out")
        else:
            self._away_from[car.plate] = math.inf

    def _free_outsider(self, at: float) -> Vehicle:
        """An outside car not in the car park now: usually a regular, else one never seen."""
        rng = self.rng
        for _ in range(20):
            car = rng.choices(self._outsiders, self._outsider_weights)[0]
            if self._away_from[car.plate] <= at:
                return car
        while True:  # every regular drawn is parked (only at rates far above a real hour's)
            car = self._outsider(rng)
            if car.plate not in self._away_from and car.plate not in self._parked:
                return car

    def _pass(self, at: float, ramp: Ramp, car: Vehicle, direction: str) -> None:
        """Plan the gate's read and, most of the time, the ramp camera's capture."""
        rng = self.rng
        read = rng.random() >= UNREAD_SHARE or self.clean
        confidence = round(rng.uniform(0.86, 0.99), 2) if read else 0.0
        seen = car if read else None
        self.plan(
            at, lambda moment: ramp.read_message(moment, seen, direction, confidence), MILLISECOND
        )
        camera = ramp.camera
        if camera is not None and rng.random() < CAMERA_CAPTURE_SHARE:
            shot_at = at + rng.uniform(0.8, 2.5)
            sighting = sighting_of(
                car,
                self.moment(shot_at),
                1 if direction == "in" else 2,
                rng.randint(85, 99),
                read=rng.random() >= UNREAD_SHARE or self.clean,
            )
            self.plan(shot_at, _vehicle_render(camera, sighting))


def _vehicle_render(
    camera: Gat1400Camera, sighting: VehicleSighting
) -> Callable[[datetime], SimMessage]:
    return lambda _moment: camera.vehicle_message(sighting)
