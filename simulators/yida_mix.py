"""The whole community's traffic: every dialect's stream merged in event-time order.

`YidaTraffic` is what the demo publishes and what the end-to-end tests store: door events at
the unit doors and gates (hik-isapi) and the cloud doors (access-cloud), faces at the gates
and vehicles at the car-park ramps (GA/T 1400), plate reads at the barrier gates, visitor
registrations and gate passes, occasional behaviour alarms, and every device's heartbeat.
Each stream has its own seeded generator, derived from one seed, so changing one stream's
rate leaves the others' messages as they were; the door stream is `HikDoorStream` with the
seed itself, the same door events `scgw simulate --mix doors` publishes.

Ground truth: every message knows the canonical events its adapter makes of it
(`SimMessage.kinds`), so `expected_counts()` is exact, including the messages that carry
several events (a GA/T 1400 list of faces, a registration of several visitors).
"""

import heapq
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from itertools import takewhile

from schemas.events import EventKind
from simulators.access_cloud import CloudDoorStream
from simulators.barrier_gate import VehicleStream
from simulators.camera_alarm import AlarmStream
from simulators.community import HIK_DIALECT, Community
from simulators.gat1400 import GateFaceStream
from simulators.heartbeat import STATUS_LAYOUT, HeartbeatStream, Layout
from simulators.hik_isapi import HikDoorStream, Minor, hik_payload
from simulators.traffic import EVENT_KINDS, DailyRhythm, PlannedStream, SimMessage, Thinning
from simulators.visitor_cloud import WARM_UP as VISITS_WARM_UP
from simulators.visitor_cloud import VisitorStream

DOOR_STATE_MINORS = frozenset(
    {Minor.DOOR_OPENED, Minor.DOOR_CLOSED, Minor.DOOR_FORCED_OPEN, Minor.DOOR_HELD_OPEN}
)
"""Hikvision minor codes the adapter makes `door_state` events of; the rest are `access`."""

ONE_HOUR = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class HourlyRates:
    """How busy the community is, per hour of event time. Heartbeats are periodic instead
    (see `simulators.heartbeat.INTERVAL_S`) and do not scale."""

    door_events: float = 600.0
    """hik-isapi messages at the unit doors and gates (each one event)."""
    cloud_door_events: float = 40.0
    """access-cloud records at the clubhouse and car-park doors (each one event)."""
    faces: float = 200.0
    """Faces captured at the gates (events; messages carry one to four of them)."""
    vehicle_passes: float = 120.0
    """Cars through the car-park barrier gates (one read each, plus most cars' capture)."""
    visits: float = 6.0
    """Visits registered; with their check-ins, check-outs and cancellations, about 20
    visitor messages an hour once visits are under way."""
    alarms: float = 2.0
    """Behaviour alarms over all cameras."""

    def __post_init__(self) -> None:
        for field in fields(self):
            if getattr(self, field.name) < 0:
                raise ValueError(f"{field.name} must not be negative")

    def scaled(self, factor: float) -> "HourlyRates":
        """Every rate times `factor` (the demo runs the community faster than life)."""
        if factor <= 0:
            raise ValueError("factor must be positive")
        return replace(self, **{f.name: getattr(self, f.name) * factor for f in fields(self)})


def door_records(stream: HikDoorStream) -> Iterator[SimMessage]:
    """The door stream as records: each message one `access` or `door_state` event."""
    while True:
        event = stream.next_event()
        kind: EventKind = "door_state" if event.minor in DOOR_STATE_MINORS else "access"
        yield SimMessage(
            event.occurred_at, stream.topic(event), hik_payload(event), (kind,), HIK_DIALECT
        )


class YidaTraffic:
    """The community's full mix from `start` for `duration` (None: forever), reproducibly.

    Iterating (`records()`, `messages()`) always starts over from `start`: the same arguments
    give the same messages every time. By default the community is in full swing at `start`;
    `power_on` has every device come online then instead (see `HeartbeatStream`).
    `status_layout` picks the heartbeats' topics (`simulators.heartbeat`). `clean` leaves out
    every anomaly the rules turn into tickets (forced and held-open doors, outside cars left in
    the car park or coming night after night, behaviour alarms): a clean week raises none.
    `rhythm` gives every stream but the heartbeats the day's shape (`DailyRhythm`): `rates`
    are then the day's mean, peaks above it and nights far below. `visits_warm_up` is how
    long visits run before `start` (their check-ins and check-outs due after it are kept): a
    district at many times life's density shortens it, as six hours of its visits cost more
    to draw than a short run publishes.
    """

    def __init__(
        self,
        community: Community,
        seed: int,
        start: datetime,
        duration: timedelta | None = ONE_HOUR,
        rates: HourlyRates | None = None,
        *,
        heartbeats: bool = True,
        status_layout: Layout = STATUS_LAYOUT,
        power_on: bool = False,
        clean: bool = False,
        rhythm: DailyRhythm | None = None,
        visits_warm_up: timedelta = VISITS_WARM_UP,
    ) -> None:
        if start.tzinfo is None or start.utcoffset() is None:
            raise ValueError("start must be timezone-aware")
        if duration is not None and duration <= timedelta(0):
            raise ValueError("duration must be positive")
        self.community = community
        self.seed = seed
        self.start = start.replace(microsecond=0)
        self.duration = duration
        self.rates = rates or HourlyRates()
        self.heartbeats = heartbeats
        self.status_layout = status_layout
        self.power_on = power_on
        self.clean = clean
        self.rhythm = rhythm
        self.visits_warm_up = visits_warm_up

    @property
    def end(self) -> datetime | None:
        """The first moment after the traffic (exclusive), or None when it never ends."""
        return None if self.duration is None else self.start + self.duration

    def _rng(self, stream: str) -> random.Random:
        return random.Random(f"{self.community.code}:{self.seed}:{stream}")

    def _thinning(self, stream: str) -> Thinning | None:
        if self.rhythm is None:
            return None
        return self.rhythm.thinning(self.start, self._rng(f"{stream}:rhythm"))

    def streams(self) -> list[Iterator[SimMessage]]:
        """Each dialect's stream, fresh, endless, in event-time order; empty ones left out."""
        community, start, rates = self.community, self.start, self.rates
        if self.rhythm is not None:
            rates = rates.scaled(self.rhythm.peak)
        streams: list[Iterator[SimMessage]] = []
        if rates.door_events > 0:
            doors = HikDoorStream(community, self.seed, start, rates.door_events, clean=self.clean)
            doors.thinning = self._thinning("doors")
            streams.append(door_records(doors))
        planned: list[PlannedStream] = []
        if rates.cloud_door_events > 0:
            cloud_rng = self._rng("access-cloud")
            planned.append(CloudDoorStream(community, cloud_rng, start, rates.cloud_door_events))
        if rates.faces > 0:
            planned.append(GateFaceStream(community, self._rng("faces"), start, rates.faces))
        if rates.vehicle_passes > 0:
            planned.append(
                VehicleStream(
                    community, self._rng("vehicles"), start, rates.vehicle_passes, clean=self.clean
                )
            )
        if rates.visits > 0:
            visits = VisitorStream(
                community, self._rng("visits"), start, rates.visits, warm_up=self.visits_warm_up
            )
            planned.append(visits)
        if rates.alarms > 0 and not self.clean:
            planned.append(AlarmStream(community, self._rng("alarms"), start, rates.alarms))
        for index, stream in enumerate(planned):
            stream.thinning = self._thinning(f"planned-{index}")
            streams.append(iter(stream))
        if self.heartbeats:
            beats = HeartbeatStream(
                community,
                self._rng("heartbeats"),
                start,
                layout=self.status_layout,
                power_on=self.power_on,
            )
            streams.append(iter(beats))
        return streams

    def records(self) -> Iterator[SimMessage]:
        """Every message with its ground truth, in event-time order (ties: stream order)."""
        merged = heapq.merge(*self.streams(), key=lambda record: record.at)
        end = self.end
        if end is None:
            return merged
        return takewhile(lambda record: record.at < end, merged)

    def messages(self) -> Iterator[tuple[str, bytes]]:
        """Every message as a (topic, payload) pair, ready to publish."""
        return ((record.topic, record.payload) for record in self.records())

    def __iter__(self) -> Iterator[tuple[str, bytes]]:
        return self.messages()

    def expected_counts(self) -> dict[EventKind, int]:
        """The events the gateway must store for this traffic, by kind (every kind listed)."""
        if self.duration is None:
            raise ValueError("endless traffic has no final counts; give a duration")
        counts: Counter[EventKind] = Counter()
        for record in self.records():
            counts.update(record.kinds)
        return {kind: counts[kind] for kind in EVENT_KINDS}
