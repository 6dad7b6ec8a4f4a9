"""The car park: barrier-gate reads and ramp-camera captures in the adapters' formats."""

import json
import random
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from itertools import islice, pairwise, takewhile

import pytest

from schemas.events import VehiclePass
from simulators.barrier_gate import PlateRead, VehicleStream, barrier_payload, printed_plate
from simulators.community import Community, Vehicle, generate_community
from simulators.traffic import SimMessage
from tests.simulators.parsing import GatewayParser

CST = timezone(timedelta(hours=8))
START = datetime(2026, 11, 26, 8, 0, tzinfo=CST)
HOURS = 10


@pytest.fixture(scope="module")
def yida() -> Community:
    return generate_community()


@pytest.fixture(scope="module")
def parser(yida: Community) -> GatewayParser:
    return GatewayParser(yida)


@pytest.fixture(scope="module")
def records(yida: Community) -> list[SimMessage]:
    end = START + timedelta(hours=HOURS)
    stream = VehicleStream(yida, random.Random(8), START)
    return list(takewhile(lambda record: record.at < end, stream))


@pytest.fixture(scope="module")
def passes(
    parser: GatewayParser, records: list[SimMessage]
) -> list[tuple[SimMessage, VehiclePass]]:
    found = []
    for record in records:
        (event,) = parser(record)
        assert isinstance(event, VehiclePass)
        found.append((record, event))
    return found


class TestDeterminism:
    """The same generator state gives the same messages; another seed other ones."""

    def test_same_seed(self, yida: Community) -> None:
        first = list(islice(VehicleStream(yida, random.Random(3), START), 300))
        assert first == list(islice(VehicleStream(yida, random.Random(3), START), 300))
        assert first != list(islice(VehicleStream(yida, random.Random(4), START), 300))


class TestContract:
    """Reads and captures parse into one vehicle pass each, at registered devices."""

    def test_reads(self, passes: list[tuple[SimMessage, VehiclePass]]) -> None:
        reads = [(r, e) for r, e in passes if r.dialect == "barrier-gate"]
        assert reads
        for record, event in reads:
            document = json.loads(record.payload)
            assert record.topic == f"yida/barrier-gate/{document['gateId']}"
            assert event.device_id == document["gateId"] in {"YD-GATE-N1", "YD-GATE-S1"}
            assert event.occurred_at == record.at
            assert event.lane == ("1" if event.direction == "in" else "2")
            if event.has_plate:
                assert document["plate"] == printed_plate(event.plate_no or "")
                assert event.plate_color in {"blue", "green"}
            else:
                assert document["plate"] == "未识别" and event.plate_color == "unknown"
        record_ids = [json.loads(r.payload)["recordId"] for r, _ in reads]
        assert len(set(record_ids)) == len(record_ids)

    def test_captures_follow_the_barrier(
        self, yida: Community, passes: list[tuple[SimMessage, VehiclePass]]
    ) -> None:
        cameras = {d.device_id: d.gate for d in yida.devices if d.dialect == "gat1400"}
        barriers = {d.device_id: d.gate for d in yida.devices if d.dialect == "barrier-gate"}
        reads: dict[str, list[VehiclePass]] = defaultdict(list)
        captures = 0
        for record, event in passes:
            if record.dialect == "barrier-gate":
                reads[str(barriers[event.device_id])].append(event)
                continue
            captures += 1
            assert record.dialect == "gat1400" and event.device_id in cameras
            recent = [
                read
                for read in reads[str(cameras[event.device_id])][-5:]
                if timedelta(0) <= event.occurred_at - read.occurred_at <= timedelta(seconds=4)
            ]
            assert recent, "a capture without a barrier read just before it"
            if event.has_plate and all(read.has_plate for read in recent):
                match = [read for read in recent if read.plate_no == event.plate_no]
                assert match and match[0].plate_color == event.plate_color
        assert 0.85 < captures / (len(passes) - captures) < 1.0  # 95% photographed


class TestTraffic:
    """Residents' cars alternate in and out; outside cars come back; about 120 passes/hour."""

    def test_residents_cars_alternate(
        self, yida: Community, passes: list[tuple[SimMessage, VehiclePass]]
    ) -> None:
        residents = {car.plate for car in yida.vehicles()}
        directions: dict[str, list[str]] = defaultdict(list)
        for record, event in passes:
            if record.dialect == "barrier-gate" and event.plate_no in residents:
                directions[event.plate_no].append(event.direction)
        assert len(directions) > 40
        repeats = sum(
            a == b for sequence in directions.values() for a, b in pairwise(sequence)
        )  # only where the read in between could not read the plate
        unread = sum(1 for r, e in passes if r.dialect == "barrier-gate" and not e.has_plate)
        assert repeats <= unread

    def test_plates_repeat_and_outsiders_return(
        self, yida: Community, passes: list[tuple[SimMessage, VehiclePass]]
    ) -> None:
        residents = {car.plate for car in yida.vehicles()}
        seen = Counter(
            (event.plate_no, event.direction)
            for record, event in passes
            if record.dialect == "barrier-gate" and event.plate_no not in residents
        )
        plates = Counter(plate for plate, _ in seen.elements())
        assert any(count > 2 for count in plates.values())
        ins = sum(n for (_, direction), n in seen.items() if direction == "in")
        outs = sum(n for (_, direction), n in seen.items() if direction == "out")
        assert 0.75 < outs / ins < 1.0

    def test_rate(self, passes: list[tuple[SimMessage, VehiclePass]]) -> None:
        reads = sum(1 for record, _ in passes if record.dialect == "barrier-gate")
        assert 100 * HOURS < reads < 140 * HOURS


class TestPayload:
    """The read's JSON: keys in the documented order, the vendor's plate separator."""

    def test_reference_read(self) -> None:
        car = Vehicle("湘A12345", False, "K33", 2, "yida-p00001", "B01-U1-0101")
        read = PlateRead(
            moment=datetime(2026, 11, 26, 8, 15, 30, 123_000, tzinfo=CST),
            record_id="YD-N1-20261126-000123",
            vehicle=car,
            direction="in",
            lane=1,
            confidence=0.97,
            picture="http://10.43.1.30/pic/20261126/000123.jpg",
        )
        assert (
            barrier_payload("YD-GATE-N1", read)
            == (
                '{"recordId":"YD-N1-20261126-000123","gateId":"YD-GATE-N1","ts":1795652130123,'
                '"plate":"湘A·12345","plateColor":1,"dir":"in","lane":1,"conf":0.97,'
                '"pic":"http://10.43.1.30/pic/20261126/000123.jpg"}'
            ).encode()
        )
