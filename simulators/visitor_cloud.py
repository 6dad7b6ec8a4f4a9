"""The cloud visitor service (云访客): registrations, gate check-ins and check-outs, cancellations.

Payload contract (what `adapters.visitor_cloud` parses; see the fixtures in
`tests/adapters/fixtures/visitor_cloud`): one JSON object per message on
`{community}/visitor-cloud/{service id}` (`yida/visitor-cloud/vc-yida-01`), with the
envelope `msgType`, `msgId`, `visitId`, `eventTime` (ISO 8601, China Standard Time with its
offset) and `houseCode`:

- `registration`: `startTime`, `endTime`, `channel`, and `visitors` (one to three), each with
  `name`, `idType` (GA/T 517: 111 resident ID card, 414 passport, 990 other), `idNumber` (resident
  ID numbers carry a valid GB 11643 check digit), `phone` (some visitors leave none), `purpose`
  (1-9) and, for visitors coming by car, `plateNo` (`湘A·12345`). One event per visitor.
- `checkin` / `checkout`: `gateDeviceId` (the gate's door controller, so the event is placed at
  the gate) and the visitor named by `visitorIndex`, or, when they showed their ID card at the
  gate, by `idType` + `idNumber`; `verifyMode`. One event each.
- `cancellation`: `reason`. One event for the visit.

`VisitorStream` registers about `visits_per_hour` visits for occupied houses. Most visitors then
arrive through a gate within the next hour or two (one check-in per visitor) and leave after
half an hour to a few hours (one check-out each); a few visits are cancelled instead. Visitors
come from a pool, so the same relatives and housekeepers come back. The stream starts in its
steady state: visits registered in the six hours before it check in and out during it.
"""

import json
import random
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from schemas.events import EventKind
from schemas.times import CHINA_STANDARD_TIME as CST
from simulators.barrier_gate import printed_plate
from simulators.community import (
    HIK_DIALECT,
    VISITOR_CLOUD_DIALECT,
    Community,
    House,
    draw_id_number,
    draw_mobile,
    draw_name,
    draw_plate,
)
from simulators.traffic import PlannedStream, SimMessage, local_iso, weighted

GROUP_SIZES: tuple[tuple[int, float], ...] = ((1, 70.0), (2, 22.0), (3, 8.0))
PURPOSES: tuple[tuple[int, float], ...] = (
    (2, 30.0),  # relative
    (4, 25.0),  # friend
    (6, 10.0),  # decoration
    (7, 10.0),  # housekeeper
    (5, 5.0),  # colleague
    (8, 5.0),  # driver
    (3, 5.0),  # tenant
    (1, 5.0),  # owner
    (9, 5.0),  # other
)
"""`purpose` codes of `adapters.visitor_cloud.VISIT_PURPOSES`, by how often visitors give them."""
ID_TYPES: tuple[tuple[str, float], ...] = (("111", 92.0), ("414", 3.0), ("990", 5.0))
HOME_DIVISIONS: tuple[tuple[str, float], ...] = (
    ("430112", 20.0),  # Wangcheng
    ("430102", 8.0),  # Furong
    ("430103", 8.0),  # Tianxin
    ("430104", 10.0),  # Yuelu
    ("430105", 8.0),  # Kaifu
    ("430111", 8.0),  # Yuhua
    ("430121", 8.0),  # Changsha county
    ("430181", 6.0),  # Liuyang
    ("430202", 4.0),  # Zhuzhou
    ("430302", 4.0),  # Xiangtan
    ("420106", 4.0),  # Wuhan
    ("440305", 4.0),  # Shenzhen
    ("110105", 3.0),  # Beijing
)
"""Where visitors' ID cards were issued: mostly Changsha, some from further away."""
VISITOR_POOL = 400
CANCEL_SHARE = 0.05
SHOW_UP_SHARE = 0.9
WARM_UP = timedelta(hours=6)
"""Visits registered this long before the stream starts still check in or out during it."""
ID_CARD_AT_GATE_SHARE = 0.2
"""Share of gate passes where the visitor showed an ID card instead of the visit's QR code."""


@dataclass(frozen=True, slots=True)
class Visitor:
    """A made-up visitor as the service knows them."""

    id_type: str
    id_number: str
    name: str
    phone: str | None
    plate: str | None


@dataclass(frozen=True, slots=True)
class Visit:
    """One registered visit: the ground truth behind its messages."""

    visit_id: str
    house: str
    registered: datetime
    valid_from: datetime
    valid_until: datetime
    visitors: tuple[Visitor, ...]
    purposes: tuple[int, ...]


def visitor_topic(community_code: str, service_id: str) -> str:
    """The topic the service publishes on: `{community}/visitor-cloud/{service id}`."""
    return f"{community_code}/{VISITOR_CLOUD_DIALECT}/{service_id}"


def _dumps(document: dict[str, object]) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def registration_payload(visit: Visit, msg_id: str) -> bytes:
    """A `registration` message for the visit."""
    visitors: list[dict[str, object]] = []
    for visitor, purpose in zip(visit.visitors, visit.purposes, strict=True):
        entry: dict[str, object] = {
            "name": visitor.name,
            "idType": visitor.id_type,
            "idNumber": visitor.id_number,
        }
        if visitor.phone is not None:
            entry["phone"] = visitor.phone
        entry["purpose"] = purpose
        if visitor.plate is not None:
            entry["plateNo"] = printed_plate(visitor.plate)
        visitors.append(entry)
    return _dumps(
        {
            "msgType": "registration",
            "msgId": msg_id,
            "visitId": visit.visit_id,
            "eventTime": local_iso(visit.registered),
            "houseCode": visit.house,
            "startTime": local_iso(visit.valid_from),
            "endTime": local_iso(visit.valid_until),
            "channel": "wechat-miniapp",
            "visitors": visitors,
        }
    )


def gate_pass_payload(
    msg_type: str,
    visit: Visit,
    index: int,
    gate_device_id: str,
    moment: datetime,
    msg_id: str,
    *,
    by_id_card: bool = False,
) -> bytes:
    """A `checkin` or `checkout` of visitor `index`; an ID-card pass names them by number."""
    document: dict[str, object] = {
        "msgType": msg_type,
        "msgId": msg_id,
        "visitId": visit.visit_id,
        "eventTime": local_iso(moment),
        "gateDeviceId": gate_device_id,
        "houseCode": visit.house,
    }
    if by_id_card:
        visitor = visit.visitors[index]
        document |= {
            "idType": visitor.id_type,
            "idNumber": visitor.id_number,
            "verifyMode": "id_card",
        }
    else:
        document |= {"visitorIndex": index, "verifyMode": "qr"}
    return _dumps(document)


def cancellation_payload(visit: Visit, moment: datetime, msg_id: str) -> bytes:
    """A `cancellation` of the visit."""
    return _dumps(
        {
            "msgType": "cancellation",
            "msgId": msg_id,
            "visitId": visit.visit_id,
            "eventTime": local_iso(moment),
            "houseCode": visit.house,
            "reason": "host cancelled",
        }
    )


class VisitorStream(PlannedStream):
    """Visits registered, visitors checking in and out, about `visits_per_hour` visits an hour."""

    def __init__(
        self,
        community: Community,
        rng: random.Random,
        start: datetime,
        visits_per_hour: float = 6.0,
        *,
        warm_up: timedelta = WARM_UP,
    ) -> None:
        super().__init__(rng, start, visits_per_hour, warm_up=warm_up)
        services = community.devices_of(VISITOR_CLOUD_DIALECT)
        if not services:
            raise ValueError("the community has no visitor service")
        self._topic = visitor_topic(community.code, services[0].device_id)
        self._gates = tuple(
            d.device_id for d in community.devices_of(HIK_DIALECT) if d.gate is not None
        )
        if not self._gates:
            raise ValueError("the community has no gate door controllers")
        self._houses: tuple[House, ...] = tuple(h for h in community.houses() if h.residents)
        if not self._houses:
            raise ValueError("the community has no occupied houses")
        self._pool = tuple(self._visitor(rng) for _ in range(VISITOR_POOL))
        self._pool_weights = tuple(1.0 / (rank + 1) ** 0.7 for rank in range(VISITOR_POOL))
        self._visits = 0

    @staticmethod
    def _visitor(rng: random.Random) -> Visitor:
        id_type = weighted(rng, ID_TYPES)
        name = draw_name(rng)
        if id_type == "111":
            division = weighted(rng, HOME_DIVISIONS)
            number = draw_id_number(rng, division, date(1945, 1, 1), date(2008, 12, 31))
        elif id_type == "414":
            number = "E" + "".join(rng.choices("0123456789", k=8))
        else:  # a Hong Kong or Macau resident's mainland travel permit
            number = rng.choice("HM") + "".join(rng.choices("0123456789", k=10))
        phone = draw_mobile(rng) if rng.random() < 0.9 else None
        plate = None
        if rng.random() < 0.3:
            plate = draw_plate(rng, rng.choice(("湘A", "湘A", "湘A", "湘B", "湘C")), False)
        return Visitor(id_type, number, name, phone, plate)

    def _msg_id(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def arrive(self, at: float) -> None:
        rng = self.rng
        registered = self.moment(at)
        local = registered.astimezone(CST)
        self._visits += 1
        size = weighted(rng, GROUP_SIZES)
        visitors: dict[str, Visitor] = {}
        while len(visitors) < size:
            visitor = rng.choices(self._pool, self._pool_weights)[0]
            visitors.setdefault(visitor.id_number, visitor)
        valid_from = _next_half_hour(registered + timedelta(seconds=rng.uniform(0, 7200)))
        valid_until = valid_from + timedelta(hours=rng.choice((4, 8, 12, 24, 48)))
        visit = Visit(
            visit_id=f"V{local:%Y%m%d%H%M%S}-{self._visits % 10_000:04d}",
            house=rng.choice(self._houses).code,
            registered=registered,
            valid_from=valid_from,
            valid_until=valid_until,
            visitors=tuple(visitors.values()),
            purposes=tuple(weighted(rng, PURPOSES) for _ in visitors),
        )
        payload = registration_payload(visit, self._msg_id())
        kind: EventKind = "visitor"
        kinds = (kind,) * len(visit.visitors)
        topic = self._topic
        self.plan(
            at,
            lambda moment: SimMessage(moment, topic, payload, kinds, VISITOR_CLOUD_DIALECT),
        )

        if rng.random() < CANCEL_SHARE:
            self._cancellation(at + rng.uniform(300.0, 3600.0), visit)
            return
        if rng.random() >= SHOW_UP_SHARE:
            return
        opens = (valid_from - self.start).total_seconds()
        arrival = max(at + 300.0, opens - 600.0) + rng.uniform(0.0, 3600.0)
        gate = rng.choice(self._gates)
        leave = arrival + rng.uniform(1800.0, 4 * 3600.0)
        exit_gate = rng.choice(self._gates)
        for index in range(len(visit.visitors)):
            arrival += rng.uniform(2.0, 20.0) if index else 0.0
            self._gate_pass(arrival, "checkin", visit, index, gate)
            self._gate_pass(leave + 5.0 * index, "checkout", visit, index, exit_gate)

    def _cancellation(self, at: float, visit: Visit) -> None:
        msg_id = self._msg_id()

        def render(moment: datetime) -> SimMessage:
            payload = cancellation_payload(visit, moment, msg_id)
            return SimMessage(moment, self._topic, payload, ("visitor",), VISITOR_CLOUD_DIALECT)

        self.plan(at, render)

    def _gate_pass(self, at: float, msg_type: str, visit: Visit, index: int, gate: str) -> None:
        msg_id = self._msg_id()
        by_id_card = self.rng.random() < ID_CARD_AT_GATE_SHARE

        def render(moment: datetime) -> SimMessage:
            payload = gate_pass_payload(
                msg_type, visit, index, gate, moment, msg_id, by_id_card=by_id_card
            )
            return SimMessage(moment, self._topic, payload, ("visitor",), VISITOR_CLOUD_DIALECT)

        self.plan(at, render)


def _next_half_hour(moment: datetime) -> datetime:
    """The moment rounded up to the next full or half hour (visits start on the half hour)."""
    base = moment.replace(minute=0, second=0, microsecond=0)
    for step in (0, 30, 60):
        candidate = base + timedelta(minutes=step)
        if candidate >= moment:
            return candidate
    return base + timedelta(hours=1)
