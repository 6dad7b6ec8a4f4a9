"""Cloud access records at the clubhouse and car-park doors, in the adapter's format."""

import json
import random
from collections import Counter
from datetime import datetime, timedelta, timezone
from itertools import islice, takewhile

import pytest

from schemas.events import AccessEvent
from simulators.access_cloud import CloudDoorStream, user_id
from simulators.community import Community, generate_community
from simulators.traffic import SimMessage
from tests.simulators.parsing import PSEUDONYMIZER, GatewayParser

CST = timezone(timedelta(hours=8))
START = datetime(2026, 11, 26, 8, 0, tzinfo=CST)
HOURS = 20


@pytest.fixture(scope="module")
def yida() -> Community:
    return generate_community()


@pytest.fixture(scope="module")
def records(yida: Community) -> list[SimMessage]:
    end = START + timedelta(hours=HOURS)
    return list(takewhile(lambda r: r.at < end, CloudDoorStream(yida, random.Random(6), START)))


class TestDeterminism:
    """The same generator state gives the same records; another seed other ones."""

    def test_same_seed(self, yida: Community) -> None:
        first = list(islice(CloudDoorStream(yida, random.Random(3), START), 200))
        assert first == list(islice(CloudDoorStream(yida, random.Random(3), START), 200))
        assert first != list(islice(CloudDoorStream(yida, random.Random(4), START), 200))


class TestContract:
    """Every record parses into one access event; credentials join the residents' own."""

    def test_records(self, yida: Community, records: list[SimMessage]) -> None:
        parser = GatewayParser(yida)
        residents = {user_id(r): r for r in yida.residents()}
        methods: Counter[tuple[str, str]] = Counter()
        for record in records:
            (event,) = parser(record)
            assert isinstance(event, AccessEvent)
            document = json.loads(record.payload)
            assert record.topic == f"yida/access-cloud/{document['thingCode']}"
            assert event.device_id in parser.registered
            assert event.occurred_at == record.at
            methods[event.method, event.result] += 1
            if event.method == "button":
                assert event.direction == "out" and event.credential is None
            else:
                assert event.direction in {"in", "out"}
            resident = residents.get(str(document.get("userId")))
            if event.method == "card":
                assert resident is not None
                assert event.credential == PSEUDONYMIZER.hash("card", resident.card_no)
            elif event.method == "id_card":
                assert resident is not None
                assert event.credential == PSEUDONYMIZER.hash("id_number", resident.id_number)
        assert methods.most_common(1)[0][0] == ("face", "granted")
        assert {m for m, _ in methods} >= {"face", "card", "remote", "qr", "button", "id_card"}
        assert any(result == "denied" for _, result in methods)
        ids = [json.loads(r.payload)["recordId"] for r in records]
        assert len(set(ids)) == len(ids)

    def test_car_park_door_serves_its_unit(
        self, yida: Community, records: list[SimMessage]
    ) -> None:
        door = next(d for d in yida.devices if d.dialect == "access-cloud" and d.unit)
        unit = {user_id(r) for r in yida.unit_residents(door.building or "", door.unit or "")}
        users = {
            json.loads(r.payload).get("userId") for r in records if r.topic.endswith(door.device_id)
        } - {None}
        assert users and users <= unit

    def test_rate(self, records: list[SimMessage]) -> None:
        assert 34 * HOURS < len(records) < 46 * HOURS
