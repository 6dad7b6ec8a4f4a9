"""GA/T 1400 faces at the gates: the adapter's format, several faces per message, the mix."""

import json
import random
import re
from collections import Counter
from datetime import datetime, timedelta, timezone
from itertools import islice, takewhile

import pytest

from schemas.events import FaceCapture
from simulators.community import (
    GAT1400_DIALECT,
    Community,
    generate_community,
    resident_is_male,
)
from simulators.gat1400 import (
    THUMBNAIL,
    FaceSighting,
    GateFaceStream,
    face_object,
    gat1400_payload,
    object_id,
)
from simulators.traffic import SimMessage
from tests.simulators.parsing import PSEUDONYMIZER, GatewayParser

CST = timezone(timedelta(hours=8))
START = datetime(2026, 11, 26, 8, 0, tzinfo=CST)
HOURS = 10


@pytest.fixture(scope="module")
def yida() -> Community:
    return generate_community()


@pytest.fixture(scope="module")
def parser(yida: Community) -> GatewayParser:
    return GatewayParser(yida)


def hours_of(stream: GateFaceStream, hours: int) -> list[SimMessage]:
    end = START + timedelta(hours=hours)
    return list(takewhile(lambda record: record.at < end, stream))


@pytest.fixture(scope="module")
def records(yida: Community) -> list[SimMessage]:
    return hours_of(GateFaceStream(yida, random.Random(5), START), HOURS)


class TestDeterminism:
    """The same generator state gives the same messages; another seed other ones."""

    def test_same_seed(self, yida: Community) -> None:
        first = list(islice(GateFaceStream(yida, random.Random(3), START), 300))
        again = list(islice(GateFaceStream(yida, random.Random(3), START), 300))
        other = list(islice(GateFaceStream(yida, random.Random(4), START), 300))
        assert first == again
        assert first != other


class TestContract:
    """Every message is a face list the real adapter reads into the claimed events."""

    def test_every_message_parses_into_its_faces(
        self, parser: GatewayParser, records: list[SimMessage]
    ) -> None:
        for record in records:
            events = parser(record)
            assert 1 <= len(events) <= 4
            assert record.at == max(event.occurred_at for event in events)
            for event in events:
                assert isinstance(event, FaceCapture)
                assert event.device_id in parser.registered
                assert event.image_url is not None and "/face-" in event.image_url

    def test_topic_is_the_camera_and_cameras_face_the_gates(
        self, yida: Community, records: list[SimMessage]
    ) -> None:
        cameras = {d.device_id: d for d in yida.devices_of(GAT1400_DIALECT)}
        used: Counter[str] = Counter()
        for record in records:
            community, dialect, device_id = record.topic.split("/")
            assert (community, dialect) == ("yida", "gat1400")
            faces = json.loads(record.payload)["FaceListObject"]["FaceObject"]
            assert {face["DeviceID"] for face in faces} == {device_id}
            used[device_id] += 1
            assert cameras[device_id].facing in {"in", "out"}
        assert len(used) == 4  # both gates, both directions

    def test_object_ids_are_48_digits_and_unique(self, records: list[SimMessage]) -> None:
        ids = [
            face["FaceID"]
            for record in records
            for face in json.loads(record.payload)["FaceListObject"]["FaceObject"]
        ]
        assert all(re.fullmatch(r"\d{48}", face_id) for face_id in ids)
        assert len(set(ids)) == len(ids)

    def test_the_object_id_layout(self) -> None:
        moment = datetime(2026, 11, 26, 7, 58, 12, tzinfo=CST)
        face_id = object_id("43011200001310000021", moment, 13, "06")
        assert face_id == "430112000013100000210220261126075812000130600013"

    def test_matched_faces_carry_a_resident_stranger_faces_nothing(
        self, yida: Community, parser: GatewayParser, records: list[SimMessage]
    ) -> None:
        residents = {r.id_number: r for r in yida.residents()}
        kinds: Counter[str] = Counter()
        for record in records:
            faces = json.loads(record.payload)["FaceListObject"]["FaceObject"]
            for face, event in zip(faces, parser(record), strict=True):
                assert isinstance(event, FaceCapture)
                assert face["SubImageList"]["SubImageInfoObject"][1]["Data"] == THUMBNAIL
                if "IDNumber" in face:
                    resident = residents[face["IDNumber"]]
                    assert face["Name"] == resident.name
                    assert event.matched_person_ref == PSEUDONYMIZER.hash(
                        "id_number", resident.id_number
                    )
                    assert event.similarity is not None and 0.8 <= event.similarity <= 0.995
                    assert face["IDType"] == resident.id_type
                    assert event.gender == ("male" if resident_is_male(resident) else "female")
                    kinds["matched"] += 1
                else:
                    assert event.stranger and event.matched_person_ref is None
                    kinds["stranger"] += 1
                    kinds[f"suspicious-{event.suspicious}"] += 1
        total = kinds["matched"] + kinds["stranger"]
        assert 0.70 < kinds["matched"] / total < 0.84  # 85% residents, 90% of them matched
        assert kinds["suspicious-yes"] and kinds["suspicious-unsure"]


class TestMix:
    """About 200 faces an hour, in groups: messages carry one to four faces."""

    def test_rate_and_groups(self, records: list[SimMessage]) -> None:
        faces = sum(len(record.kinds) for record in records)
        assert 170 * HOURS < faces < 230 * HOURS
        sizes = Counter(len(record.kinds) for record in records)
        assert set(sizes) == {1, 2, 3, 4}
        assert sizes[1] > sizes[2] > sizes[3] > sizes[4]


class TestPayload:
    """Payload building blocks: lists left out when empty, compact UTF-8 JSON."""

    def test_empty_lists_are_left_out(self) -> None:
        moment = datetime(2026, 11, 26, 8, 0, tzinfo=CST)
        face = FaceSighting(moment, None, None, "1", 25, 35, 0)
        payload = gat1400_payload(faces=[face_object("43011200001310000021", 1, face)])
        document = json.loads(payload)
        assert list(document) == ["FaceListObject"]
        assert b": " not in payload and b", " not in payload
        assert "IDNumber" not in document["FaceListObject"]["FaceObject"][0]
