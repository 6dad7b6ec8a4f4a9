"""The messages a scenario injects: door events, behaviour alarms, plate reads, visits.

Each scenario renders its own messages with the device simulators' payload functions, so they
are exactly what the devices would send; only their numbering is the scenario's own. Door
serial numbers, alarm sequences, barrier record numbers and capture sequences start at a base
far from the live streams' counters (which start below 100,000) and from the residency
history's (`simulators.residency`), so no scenario event shares an event id with another.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from schemas.events import EventKind
from simulators.barrier_gate import Ramp
from simulators.camera_alarm import Alarm, AlarmType, alarm_payload, alarm_topic
from simulators.community import (
    BARRIER_GATE_DIALECT,
    CAMERA_ALARM_DIALECT,
    GAT1400_DIALECT,
    HIK_DIALECT,
    VISITOR_CLOUD_DIALECT,
    Community,
    Device,
    Resident,
    Vehicle,
    visitor_service_id,
)
from simulators.gat1400 import Gat1400Camera, sighting_of
from simulators.hik_isapi import ATTENDANCE, DoorEvent, Minor, hik_payload, hik_topic
from simulators.traffic import SimMessage
from simulators.visitor_cloud import (
    Visit,
    gate_pass_payload,
    registration_payload,
    visitor_topic,
)
from simulators.yida_mix import DOOR_STATE_MINORS

SERIAL_BASE = 6_000_000
"""Scenario door serials start here, `SERIAL_SPAN` apart per scenario."""
SERIAL_SPAN = 10_000
RECORD_BASE = 900_000
"""Scenario barrier records (six digits per ramp and day) start here, 1,000 apart."""
ALARM_BASE = 700_000
"""Scenario alarm sequences (six digits in the alarm id) start here, 1,000 apart."""
CAPTURE_BASE = 60_000
"""Scenario capture sequences (five digits in the object id) start here, 1,000 apart."""

IN_READER = 1
OUT_READER = 2
"""The unit doors' and gates' readers: 1 faces the street (walking in), 2 the stairwell."""


@dataclass(frozen=True, slots=True)
class DoorUse:
    """A person at a door's reader: by card (their own, or `card` when given) or by face."""

    person: Resident
    reader: int = IN_READER
    by_face: bool = False
    card: str | None = None


class Emitter:
    """Renders one scenario's messages for one community, numbered from the scenario's `slot`."""

    def __init__(self, community: Community, slot: int) -> None:
        self.community = community
        self._slot = slot
        self._serials: dict[str, int] = {}
        self._alarms: dict[str, int] = {}
        self._ramps: dict[str, Ramp] = {}
        self._visit_messages = 0

    # -- doors --------------------------------------------------------------------------------

    def unit_door(self, building: str, unit: str) -> Device:
        """The hik-isapi controller of a unit door (KeyError when there is none)."""
        for device in self.community.devices_of(HIK_DIALECT):
            if device.building == building and device.unit == unit and device.readers:
                return device
        raise KeyError(f"{building}-{unit}")

    def gate_door(self, index: int = 0) -> Device:
        """The controller of the community's `index`th pedestrian gate."""
        gates = [d for d in self.community.devices_of(HIK_DIALECT) if d.gate is not None]
        return gates[index]

    def _serial(self, device: Device) -> int:
        base = SERIAL_BASE + self._slot * SERIAL_SPAN
        self._serials[device.device_id] = self._serials.get(device.device_id, base) + 1
        return self._serials[device.device_id]

    def door_event(
        self,
        device: Device,
        at: datetime,
        minor: Minor,
        *,
        person: Resident | None = None,
        reader: int = 0,
        card: str | None = None,
    ) -> SimMessage:
        """One controller event, numbered after the scenario's earlier ones at this door."""
        serial = self._serial(device)
        direction = device.readers.get(reader)
        event = DoorEvent(
            device=device,
            minor=minor,
            occurred_at=at,
            serial=serial,
            resident=person,
            reader=reader,
            attendance=ATTENDANCE[direction] if person is not None and direction else None,
            card_no=card,
            verify_no=serial if reader else None,
        )
        kind: EventKind = "door_state" if minor in DOOR_STATE_MINORS else "access"
        topic = hik_topic(self.community.code, device.device_id)
        return SimMessage(at, topic, hik_payload(event), (kind,), HIK_DIALECT)

    def passage(self, device: Device, at: datetime, use: DoorUse) -> SimMessage:
        """A person let through a door by their card (or `use.card`) or face."""
        minor = Minor.FACE_PASSED if use.by_face else Minor.CARD_PASSED
        card = None if use.by_face else (use.card or use.person.card_no)
        return self.door_event(device, at, minor, person=use.person, reader=use.reader, card=card)

    # -- cameras ------------------------------------------------------------------------------

    def alarm(
        self, camera: Device, at: datetime, alarm_type: AlarmType, confidence: int
    ) -> SimMessage:
        """A behaviour alarm from `camera` (confidence in percent, as the camera sends it)."""
        base = ALARM_BASE + self._slot * 1_000
        self._alarms[camera.device_id] = self._alarms.get(camera.device_id, base) + 1
        alarm = Alarm(camera, at, self._alarms[camera.device_id], alarm_type, confidence)
        topic = alarm_topic(self.community.code, camera.device_id)
        return SimMessage(
            at, topic, alarm_payload(alarm), ("behaviour_alarm",), CAMERA_ALARM_DIALECT
        )

    # -- the car park -------------------------------------------------------------------------

    def _ramp(self, index: int) -> Ramp:
        barriers = self.community.devices_of(BARRIER_GATE_DIALECT)
        barrier = barriers[index]
        ramp = self._ramps.get(barrier.device_id)
        if ramp is None:
            camera = next(
                (
                    Gat1400Camera(self.community.code, d, CAPTURE_BASE + self._slot * 1_000)
                    for d in self.community.devices_of(GAT1400_DIALECT)
                    if d.gate == barrier.gate and d.facing is None
                ),
                None,
            )
            ramp = Ramp(self.community.code, barrier, camera, RECORD_BASE + self._slot * 1_000)
            self._ramps[barrier.device_id] = ramp
        return ramp

    def car_pass(
        self, car: Vehicle, at: datetime, direction: str, ramp: int = 0
    ) -> list[SimMessage]:
        """A car through a ramp: the barrier's plate read and, 2 s later, the ramp camera's
        capture of the same plate (two vehicle events)."""
        chosen = self._ramp(ramp)
        messages = [chosen.read_message(at, car, direction, 0.97)]
        if chosen.camera is not None:
            lane = 1 if direction == "in" else 2
            shot = sighting_of(car, at + timedelta(seconds=2), lane, 96)
            messages.append(chosen.camera.vehicle_message(shot))
        return messages

    def barrier(self, ramp: int = 0) -> Device:
        """The barrier gate of the `ramp`th car-park entrance."""
        return self._ramp(ramp).barrier

    # -- visitors -----------------------------------------------------------------------------

    def _msg_id(self) -> str:
        self._visit_messages += 1
        return f"S{self.community.code}{self._slot:02d}m{self._visit_messages:05d}"

    def registration(self, visit: Visit) -> SimMessage:
        """The visitor service's registration of `visit` (one event per visitor)."""
        payload = registration_payload(visit, self._msg_id())
        kind: EventKind = "visitor"
        kinds = (kind,) * len(visit.visitors)
        return SimMessage(visit.registered, self._topic(), payload, kinds, VISITOR_CLOUD_DIALECT)

    def gate_pass(self, visit: Visit, msg_type: str, at: datetime, gate: int = 0) -> SimMessage:
        """The first visitor of `visit` checking in or out at the `gate`th gate."""
        gate_id = self.gate_door(gate).device_id
        payload = gate_pass_payload(msg_type, visit, 0, gate_id, at, self._msg_id())
        return SimMessage(at, self._topic(), payload, ("visitor",), VISITOR_CLOUD_DIALECT)

    def _topic(self) -> str:
        return visitor_topic(self.community.code, visitor_service_id(self.community.code))
