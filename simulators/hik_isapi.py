"""Hikvision ISAPI access-controller events, as the community's door controllers publish them.

Payload contract (what `adapters.hik_isapi` parses): a JSON object, UTF-8, compact, keys in
this order::

    {"ipAddress", "portNo", "protocol", "macAddress", "channelID", "dateTime", "activePostCount",
     "eventType": "AccessControllerEvent", "eventState", "eventDescription",
     "AccessControllerEvent": {"deviceName", "majorEventType": 5, "subEventType",
        "cardNo"?, "cardType"?, "name"?, "employeeNoString"?, "cardReaderNo"?, "doorNo",
        "verifyNo"?, "serialNo", "currentVerifyMode", "attendanceStatus"?, "mask",
        "picturesNumber"?}}

`dateTime` is China Standard Time with an explicit `+08:00`, whole seconds. Keys marked `?`
appear only when they apply, as on real controllers: `cardNo`/`cardType` when a card was
presented; `name`/`employeeNoString` when the device identified a person; `cardReaderNo` and
`verifyNo` for events at a reader (not door-sensor, exit-button or remote events);
`attendanceStatus` ("checkIn"/"checkOut") when an identified person used a reader;
`picturesNumber` for face events. `currentVerifyMode` is the reader's configured mode
("cardOrFace"), or "invalid" for events without a reader: the open method is told by
`subEventType` alone. `serialNo` strictly increases per device, so (device, serialNo) is unique.
"""

import bisect
import heapq
import json
import random
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import IntEnum
from functools import lru_cache
from itertools import islice
from typing import Literal

from schemas.times import CHINA_STANDARD_TIME as CST
from simulators.community import HIK_DIALECT, Community, Device, Resident
from simulators.traffic import Thinning

"""China Standard Time: Hikvision controllers report local time with a +08:00 offset."""

MAJOR_EVENT = 5
"""Hikvision major type 5, "event"; every minor code below is published under it."""


class Minor(IntEnum):
    """Hikvision access-control minor codes (`subEventType`) the simulators produce."""

    CARD_PASSED = 0x01
    CARD_NO_PERMISSION = 0x06
    CARD_UNKNOWN = 0x09
    EXIT_BUTTON = 0x17
    DOOR_OPENED = 0x19
    DOOR_CLOSED = 0x1A
    DOOR_FORCED_OPEN = 0x1B
    DOOR_HELD_OPEN = 0x1C
    FINGERPRINT_MATCHED = 0x26
    FINGERPRINT_FAILED = 0x27
    FACE_PASSED = 0x4B
    FACE_FAILED = 0x4C
    QR_PASSED = 0x9C
    PASSWORD_PASSED = 0xB5
    REMOTE_OPEN = 0x400


CARD_MINORS = frozenset({Minor.CARD_PASSED, Minor.CARD_NO_PERMISSION, Minor.CARD_UNKNOWN})
"""Events where a card was presented: the payload carries `cardNo`."""

FACE_MINORS = frozenset({Minor.FACE_PASSED, Minor.FACE_FAILED})
"""Events with a captured face picture: the payload carries `picturesNumber`."""

ATTENDANCE = {"in": "checkIn", "out": "checkOut"}
"""ISAPI `attendanceStatus` for a reader facing each direction."""


@dataclass(frozen=True, slots=True)
class DoorEvent:
    """One controller event: the simulator's ground truth, rendered by `hik_payload`.

    `reader` is the card reader number, 0 for events without one (door sensor, exit button,
    remote open). `card_no` overrides the presented card (an unknown card has no resident);
    left None, card events use the resident's card. `verify_no` is the controller's
    verification counter, present on reader events.
    """

    device: Device
    minor: int
    occurred_at: datetime
    serial: int
    resident: Resident | None
    reader: int
    attendance: str | None
    card_no: str | None = None
    verify_no: int | None = None

    @property
    def presented_card(self) -> str | None:
        """The card number in the payload, if a card was presented."""
        if self.card_no is not None:
            return self.card_no
        if self.resident is not None and self.minor in CARD_MINORS:
            return self.resident.card_no
        return None


def hik_topic(community_code: str, device_id: str) -> str:
    """The MQTT topic a controller publishes on: `{community}/hik-isapi/{device_id}`."""
    return f"{community_code}/{HIK_DIALECT}/{device_id}"


def device_network(device_id: str) -> tuple[str, str]:
    """A stable fake (IP address, MAC address) for a controller, derived from its code.

    44:19:b6 is a Hikvision OUI, so the MAC looks like the vendor's.
    """
    tail = device_id[-7:]
    n = int(tail) if tail.isdigit() else zlib.crc32(device_id.encode()) & 0xFFFFFF
    ip = f"10.43.{(n // 250) % 256}.{n % 250 + 2}"
    mac = f"44:19:b6:{(n >> 16) & 0xFF:02x}:{(n >> 8) & 0xFF:02x}:{n & 0xFF:02x}"
    return ip, mac


def _json(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _local_time(moment: datetime) -> str:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("occurred_at must be timezone-aware")
    return moment.astimezone(CST).isoformat(timespec="seconds")


def hik_document(event: DoorEvent) -> dict[str, object]:
    """The payload as a dict: the readable reference `hik_payload` must agree with."""
    ip, mac = device_network(event.device.device_id)
    reader_event = event.reader > 0
    inner: dict[str, object] = {
        "deviceName": event.device.door or event.device.device_id,
        "majorEventType": MAJOR_EVENT,
        "subEventType": int(event.minor),
    }
    card = event.presented_card
    if card is not None:
        inner["cardNo"] = card
        inner["cardType"] = 1
    if event.resident is not None:
        inner["name"] = event.resident.name
        inner["employeeNoString"] = event.resident.employee_no
    if reader_event:
        inner["cardReaderNo"] = event.reader
    inner["doorNo"] = 1
    if event.verify_no is not None:
        inner["verifyNo"] = event.verify_no
    inner["serialNo"] = event.serial
    inner["currentVerifyMode"] = "cardOrFace" if reader_event else "invalid"
    if event.attendance is not None:
        inner["attendanceStatus"] = event.attendance
    face = event.minor in FACE_MINORS
    inner["mask"] = "no" if face else "unknown"
    if face:
        inner["picturesNumber"] = 1
    return {
        "ipAddress": ip,
        "portNo": 80,
        "protocol": "HTTP",
        "macAddress": mac,
        "channelID": 1,
        "dateTime": _local_time(event.occurred_at),
        "activePostCount": 1,
        "eventType": "AccessControllerEvent",
        "eventState": "active",
        "eventDescription": "Access Controller Event",
        "AccessControllerEvent": inner,
    }


@lru_cache(maxsize=4096)
def _device_fragments(device_id: str, door: str) -> tuple[str, str]:
    """JSON before and after `dateTime` up to `subEventType`'s value, per device."""
    ip, mac = device_network(device_id)
    head = (
        f'{{"ipAddress":{_json(ip)},"portNo":80,"protocol":"HTTP","macAddress":{_json(mac)},'
        '"channelID":1,"dateTime":"'
    )
    middle = (
        '","activePostCount":1,"eventType":"AccessControllerEvent","eventState":"active",'
        '"eventDescription":"Access Controller Event","AccessControllerEvent":'
        f'{{"deviceName":{_json(door)},"majorEventType":{MAJOR_EVENT},"subEventType":'
    )
    return head, middle


@lru_cache(maxsize=1024)
def _time_fragment(moment: datetime) -> str:
    """Cached: at benchmark rates many consecutive events share one second."""
    return _local_time(moment)


@lru_cache(maxsize=64)
def _attendance_fragment(status: str) -> str:
    return f',"attendanceStatus":{_json(status)}'


@lru_cache(maxsize=65536)
def _person_fragment(name: str, employee_no: str) -> str:
    return f',"name":{_json(name)},"employeeNoString":{_json(employee_no)}'


@lru_cache(maxsize=65536)
def _card_fragment(card_no: str) -> str:
    return f',"cardNo":{_json(card_no)},"cardType":1'


def hik_payload(event: DoorEvent) -> bytes:
    """The event as the controller's JSON bytes (see the module docstring for the shape).

    Built from cached per-device and per-person JSON fragments rather than `json.dumps` of a
    fresh dict, because benchmarks render hundreds of thousands of these.
    """
    device = event.device
    head, middle = _device_fragments(device.device_id, device.door or device.device_id)
    minor = int(event.minor)
    parts = [head, _time_fragment(event.occurred_at), middle, str(minor)]
    resident = event.resident
    card = event.card_no
    if card is None and resident is not None and minor in CARD_MINORS:
        card = resident.card_no
    if card is not None:
        parts.append(_card_fragment(card))
    if resident is not None:
        parts.append(_person_fragment(resident.name, resident.employee_no))
    reader = event.reader
    if reader > 0:
        parts.append(f',"cardReaderNo":{reader}')
    parts.append(',"doorNo":1')
    if event.verify_no is not None:
        parts.append(f',"verifyNo":{event.verify_no}')
    parts.append(f',"serialNo":{event.serial}')
    parts.append(
        ',"currentVerifyMode":"cardOrFace"' if reader > 0 else ',"currentVerifyMode":"invalid"'
    )
    if event.attendance is not None:
        parts.append(_attendance_fragment(event.attendance))
    if minor in FACE_MINORS:
        parts.append(',"mask":"no","picturesNumber":1}}')
    else:
        parts.append(',"mask":"unknown"}}')
    return "".join(parts).encode()


# --- the stream -------------------------------------------------------------------------------


Who = Literal["resident", "outsider", "stranger", "none"]
"""Who arrives: a resident of the door's pool, a resident with no permission here, a stranger
(an unknown card or face), or nobody the controller identifies."""


@dataclass(frozen=True, slots=True)
class Scenario:
    """One kind of arrival at a door, with how often it happens relative to the others."""

    name: str
    weight: float
    minor: Minor
    who: Who
    at_reader: bool
    opens_door: bool


SCENARIOS: tuple[Scenario, ...] = (
    # (name, weight, minor, who, at_reader, opens_door)
    Scenario("face", 38.0, Minor.FACE_PASSED, "resident", True, True),
    Scenario("card", 30.0, Minor.CARD_PASSED, "resident", True, True),
    Scenario("exit_button", 9.0, Minor.EXIT_BUTTON, "none", False, True),
    Scenario("qr", 4.0, Minor.QR_PASSED, "resident", True, True),
    Scenario("fingerprint", 3.0, Minor.FINGERPRINT_MATCHED, "resident", True, True),
    Scenario("face_failed", 3.0, Minor.FACE_FAILED, "stranger", True, False),
    Scenario("password", 2.0, Minor.PASSWORD_PASSED, "none", True, True),
    Scenario("no_permission", 1.5, Minor.CARD_NO_PERMISSION, "outsider", True, False),
    Scenario("remote_open", 1.0, Minor.REMOTE_OPEN, "none", False, True),
    Scenario("unknown_card", 1.0, Minor.CARD_UNKNOWN, "stranger", True, False),
    Scenario("fingerprint_failed", 0.5, Minor.FINGERPRINT_FAILED, "stranger", True, False),
    Scenario("forced", 0.15, Minor.DOOR_FORCED_OPEN, "none", False, False),
)
"""The arrival mix: mostly residents' faces and cards, a few denials, rarely a forced door."""

DOOR_SENSOR_SHARE = 0.2
"""Share of granted passages that report door opened/closed (the rest: door already open,
a group passing at once, or no sensor change worth a message)."""
HELD_OPEN_SHARE = 0.01
"""Share of sensed openings left open past the hold time (a held-open alarm follows)."""
FACE_RETRY_SHARE = 0.6
"""Share of failed face verifications followed by a successful retry a few seconds later."""
HOLD_SECONDS = 60.0
"""The controller's allowed open time before it raises a held-open alarm."""
GATE_WEIGHT = 3.0
"""A community gate sees as much traffic as this many unit doors."""


def _messages_per_arrival() -> float:
    """Expected messages per arrival, so `events_per_hour` counts messages, not arrivals."""
    total = sum(s.weight for s in SCENARIOS)
    expected = 0.0
    for s in SCENARIOS:
        follow = 0.0
        if s.opens_door:
            follow = DOOR_SENSOR_SHARE * (2.0 + HELD_OPEN_SHARE)
        elif s.minor == Minor.DOOR_FORCED_OPEN:
            follow = 1.0
        elif s.minor == Minor.FACE_FAILED:
            follow = FACE_RETRY_SHARE * (1.0 + DOOR_SENSOR_SHARE * 2.0)
        expected += s.weight / total * (1.0 + follow)
    return expected


_PER_ARRIVAL = _messages_per_arrival()
_SCENARIO_CUMULATIVE = tuple(
    sum(s.weight for s in SCENARIOS[: i + 1]) for i in range(len(SCENARIOS))
)

# A planned message: (seconds after start, tie-break sequence, device index, minor, resident,
# reader number, card number). Plain tuples keep the heap cheap.
_Planned = tuple[float, int, int, int, Resident | None, int, str | None]


class _DoorState:
    """Per-device mutable stream state: counters, people pools, when the door is next shut."""

    __slots__ = (
        "attendance",
        "device",
        "outsiders",
        "pool",
        "readers",
        "serial",
        "shut_from",
        "topic",
        "verify",
    )

    def __init__(
        self,
        device: Device,
        topic: str,
        pool: tuple[Resident, ...],
        outsiders: tuple[Resident, ...],
        serial: int,
    ) -> None:
        self.device = device
        self.topic = topic
        self.pool = pool
        self.outsiders = outsiders
        self.readers = tuple(sorted(device.readers))
        self.attendance = {
            number: ATTENDANCE[direction]
            for number, direction in device.readers.items()
            if direction in ATTENDANCE
        }
        self.serial = serial
        self.verify = serial // 3
        self.shut_from = 0.0


class HikDoorStream:
    """An endless, reproducible stream of door events from every hik-isapi device.

    Arrivals are a Poisson process in event time (not wall time) starting at `start`, at about
    `events_per_hour` messages per hour in total; each arrival picks a door (gates busier than
    unit doors) and a scenario from `SCENARIOS`, which may plan follow-ups (door opened and
    closed, a held-open alarm, a retry after a failed face). Messages come out in event-time
    order; per device, `serialNo` increases by one per message. Same arguments, same stream.

    `clean` leaves out the anomalies the rules turn into tickets (forced doors, doors held
    open), so a clean stream raises none; the rest of the stream is drawn as usual.
    """

    def __init__(
        self,
        community: Community,
        seed: int,
        start: datetime,
        events_per_hour: float = 600.0,
        *,
        clean: bool = False,
    ) -> None:
        if start.tzinfo is None or start.utcoffset() is None:
            raise ValueError("start must be timezone-aware")
        if not events_per_hour > 0:
            raise ValueError("events_per_hour must be positive")
        self.community = community
        self.clean = clean
        self._start = start.replace(microsecond=0)
        self._rng = random.Random(seed)
        self._arrivals_per_second = events_per_hour / 3600.0 / _PER_ARRIVAL
        everyone = tuple(community.residents())
        if not everyone:
            raise ValueError("the community has no residents")
        self._known_cards = frozenset(r.card_no for r in everyone)
        self._doors: list[_DoorState] = []
        weights: list[float] = []
        for device in community.devices:
            if device.dialect != HIK_DIALECT or not device.readers:
                continue
            if device.building is not None and device.unit is not None:
                pool = community.unit_residents(device.building, device.unit) or everyone
                inside = {r.person_ref for r in pool}
                outsiders = tuple(r for r in everyone if r.person_ref not in inside) or everyone
                weights.append(1.0)
            else:
                pool = outsiders = everyone
                weights.append(GATE_WEIGHT)
            serial = self._rng.randint(1_000, 90_000)
            topic = hik_topic(community.code, device.device_id)
            self._doors.append(_DoorState(device, topic, pool, outsiders, serial))
        if not self._doors:
            raise ValueError("the community has no hik-isapi devices with readers")
        self._topics = {door.device.device_id: door.topic for door in self._doors}
        self._door_cumulative = tuple(sum(weights[: i + 1]) for i in range(len(weights)))
        self._pending: list[_Planned] = []
        self._sequence = 0
        self._last_second = 0
        self._last_moment = self._start
        self._next_arrival = self._rng.expovariate(self._arrivals_per_second)
        self.thinning: Thinning | None = None
        """A daily rhythm's (see `simulators.traffic.DailyRhythm`): arrivals it refuses skipped."""

    # -- public API ---------------------------------------------------------------------------

    def next_event(self) -> DoorEvent:
        """The next event in event-time order."""
        pending = self._pending
        while not pending or pending[0][0] > self._next_arrival:
            if self.thinning is None or self.thinning(self._next_arrival):
                self._arrive(self._next_arrival)
            self._next_arrival += self._rng.expovariate(self._arrivals_per_second)
        at, _, index, minor, resident, reader, card = heapq.heappop(pending)
        door = self._doors[index]
        door.serial += 1
        verify_no = None
        attendance = None
        if reader:
            door.verify += 1
            verify_no = door.verify
            if resident is not None:
                attendance = door.attendance.get(reader)
        second = int(at)
        if second != self._last_second:  # many events share a second: reuse its datetime
            self._last_second = second
            self._last_moment = self._start + timedelta(seconds=second)
        return DoorEvent(
            door.device,
            minor,
            self._last_moment,
            door.serial,
            resident,
            reader,
            attendance,
            card,
            verify_no,
        )

    def take_events(self, n: int) -> list[DoorEvent]:
        """The next `n` events (ground truth for tests)."""
        return [self.next_event() for _ in range(n)]

    def next_message(self) -> tuple[str, bytes]:
        """The next event as a (topic, payload) pair, ready to publish."""
        event = self.next_event()
        return self._topics[event.device.device_id], hik_payload(event)

    def take(self, n: int) -> list[tuple[str, bytes]]:
        """The next `n` messages as (topic, payload) pairs, ready to publish."""
        return [self.next_message() for _ in range(n)]

    def topic(self, event: DoorEvent) -> str:
        """The topic `event` is published on."""
        return self._topics[event.device.device_id]

    def __iter__(self) -> Iterator[tuple[str, bytes]]:
        """Messages forever, drawn one at a time (so `take` afterwards continues the stream)."""
        while True:
            yield self.next_message()

    def messages(self, n: int | None = None) -> Iterator[tuple[str, bytes]]:
        """The next `n` messages lazily, or endlessly when `n` is None."""
        return iter(self) if n is None else islice(iter(self), n)

    # -- planning -----------------------------------------------------------------------------

    def _plan(
        self,
        at: float,
        index: int,
        minor: int,
        resident: Resident | None,
        reader: int,
        *,
        card: str | None = None,
    ) -> None:
        self._sequence += 1
        heapq.heappush(self._pending, (at, self._sequence, index, minor, resident, reader, card))

    def _arrive(self, at: float) -> None:
        """Plan the messages of one arrival at `at` seconds after start."""
        rng = self._rng
        index = bisect.bisect_right(self._door_cumulative, rng.random() * self._door_cumulative[-1])
        index = min(index, len(self._doors) - 1)
        door = self._doors[index]
        pick = bisect.bisect_right(_SCENARIO_CUMULATIVE, rng.random() * _SCENARIO_CUMULATIVE[-1])
        scenario = SCENARIOS[min(pick, len(SCENARIOS) - 1)]
        reader = rng.choice(door.readers) if scenario.at_reader else 0

        if scenario.minor == Minor.DOOR_FORCED_OPEN:
            if at >= door.shut_from and not self.clean:  # an open door cannot be forced
                self._plan(at, index, Minor.DOOR_FORCED_OPEN, None, 0)
                door.shut_from = at + rng.uniform(5.0, 60.0)
                self._plan(door.shut_from, index, Minor.DOOR_CLOSED, None, 0)
            return

        resident: Resident | None = None
        card: str | None = None
        if scenario.who == "resident":
            resident = rng.choice(door.pool)
        elif scenario.who == "outsider":
            resident = rng.choice(door.outsiders)
        elif scenario.minor == Minor.CARD_UNKNOWN:
            card = self._unknown_card()
        self._plan(at, index, scenario.minor, resident, reader, card=card)

        if scenario.opens_door:
            self._maybe_open(at, index)
        elif scenario.minor == Minor.FACE_FAILED and rng.random() < FACE_RETRY_SHARE:
            retry_at = at + rng.uniform(2.0, 6.0)
            self._plan(retry_at, index, Minor.FACE_PASSED, rng.choice(door.pool), reader)
            self._maybe_open(retry_at, index)

    def _maybe_open(self, at: float, index: int) -> None:
        """Sometimes a granted passage is sensed: door opened, then closed (or held open)."""
        rng = self._rng
        door = self._doors[index]
        if at < door.shut_from or rng.random() >= DOOR_SENSOR_SHARE:
            return
        opened = at + rng.uniform(1.0, 3.0)
        self._plan(opened, index, Minor.DOOR_OPENED, None, 0)
        if rng.random() < HELD_OPEN_SHARE and not self.clean:
            self._plan(opened + HOLD_SECONDS, index, Minor.DOOR_HELD_OPEN, None, 0)
            door.shut_from = opened + HOLD_SECONDS + rng.uniform(10.0, 240.0)
        else:
            door.shut_from = opened + rng.uniform(3.0, 12.0)
        self._plan(door.shut_from, index, Minor.DOOR_CLOSED, None, 0)

    def _unknown_card(self) -> str:
        while True:
            card = f"{self._rng.randint(1_000_000_000, 9_999_999_999)}"
            if card not in self._known_cards:
                return card
