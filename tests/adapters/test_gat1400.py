"""Specification of the GA/T 1400 (视图库) adapter, driven by the fixtures beside this file."""

import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

import adapters.gat1400 as gat1400_module
from adapters.base import Adapter, RawMessage, stable_event_id
from adapters.gat1400 import (
    GENDER_CODES,
    MAX_OBJECTS,
    MAX_SUB_IMAGES,
    NEW_ENERGY_PLATE_CLASSES,
    SUSPICION_CODES,
    Gat1400Adapter,
)
from adapters.plates import GAT1400_PLATE_COLORS
from gateway.errors import PayloadError
from schemas.events import DeviceEvent, FaceCapture, VehiclePass, device_event_adapter
from tests.adapters.support import (
    JSON_VALUES,
    PII_DEVICE_IDS,
    PLANTED,
    PLANTED_ID_NUMBER,
    PSEUDONYMIZER,
    Fixtures,
    assert_absent,
    device_ids,
    drops,
    encode,
    error_texts,
    message_factory,
    mutate_fields,
    never_crash_tests,
    parse_checked,
    rejected,
)

FIXTURES = Fixtures.of("gat1400")
ADAPTER = Gat1400Adapter(PSEUDONYMIZER)
COMMUNITY = "yida-town"
TOPIC_DEVICE = "43011200001190000001"  # the capture platform that publishes for its cameras
TOPIC = f"{COMMUNITY}/gat1400/{TOPIC_DEVICE}"
RECEIVED = datetime(2026, 11, 26, 0, 16, 0, tzinfo=UTC)
FACE_CAMERA = "43011200001310000021"
PLATE_CAMERA = "43011200001310000031"
REASONS = {
    "malformed_json",
    "schema",
    "unsupported_event",
    "unknown_code",
    "bad_time",
    "no_device_id",
    "bad_device_id",
    "pii_in_identifier",
    "no_events",
    "oversized",
}
FACES = "FaceListObject"
VEHICLES = "MotorVehicleListObject"

FACE_FIXTURES = ["face_stranger", "face_matched", "face_suspicious", "faces_multi"]
VEHICLE_FIXTURES = [
    "vehicle_blue",
    "vehicle_yellow",
    "vehicle_black",
    "vehicle_white",
    "vehicle_green_new_energy",
    "vehicle_yellow_green_new_energy",
    "vehicle_other_colour",
    "vehicle_unread_plate",
    "vehicle_no_plate",
    "vehicles_multi",
]
GOOD_FIXTURES = [*FACE_FIXTURES, *VEHICLE_FIXTURES, "mixed_lists"]
BAD_FIXTURES = [
    "malformed",
    "array",
    "empty_lists",
    "unsupported_list",
    "missing_face_id",
    "missing_pass_time",
    "wrong_type_lane",
    "bad_object_in_batch",
    "bad_time",
    "unknown_gender",
    "unknown_suspicion",
]
PICTURE_FIXTURES = ["inline_image_url"]
"""Kept events whose preferred picture is unusable, tested in `TestInlineImages`."""
# Personal data and image bytes the fixtures carry; none may leave the adapter.
ID_NUMBERS = ["430112198807150036", "430112199203040021"]
NAMES = ["李四", "王五"]
IMAGE_DATA = FIXTURES.document("face_stranger")[FACES]["FaceObject"][0]["SubImageList"][
    "SubImageInfoObject"
][0]["Data"]
SECRETS = [*ID_NUMBERS, *NAMES, IMAGE_DATA, IMAGE_DATA[:40], IMAGE_DATA[-40:]]

fixture_bytes = FIXTURES.payload
fixture_json = FIXTURES.document
message = message_factory(
    community=COMMUNITY, topic=TOPIC, device_id=TOPIC_DEVICE, received_at=RECEIVED
)


def parse(payload: bytes, *, device_id: str | None = TOPIC_DEVICE) -> list[DeviceEvent]:
    return ADAPTER.parse(message(payload, device_id=device_id))


def face(payload: bytes, *, device_id: str | None = TOPIC_DEVICE) -> FaceCapture:
    [event] = parse(payload, device_id=device_id)
    assert isinstance(event, FaceCapture)
    return event


def vehicle(payload: bytes, *, device_id: str | None = TOPIC_DEVICE) -> VehiclePass:
    [event] = parse(payload, device_id=device_id)
    assert isinstance(event, VehiclePass)
    return event


def rejection(payload: bytes, *, device_id: str | None = TOPIC_DEVICE) -> PayloadError:
    return rejected(ADAPTER, message(payload, device_id=device_id))


def face_object(name: str = "face_stranger", index: int = 0) -> dict[str, Any]:
    item: dict[str, Any] = fixture_json(name)[FACES]["FaceObject"][index]
    return item


def vehicle_object(name: str = "vehicle_blue", index: int = 0) -> dict[str, Any]:
    item: dict[str, Any] = fixture_json(name)[VEHICLES]["MotorVehicleObject"][index]
    return item


def faces_message(*objects: dict[str, Any]) -> bytes:
    return encode({FACES: {"FaceObject": list(objects)}})


def vehicles_message(*objects: dict[str, Any]) -> bytes:
    return encode({VEHICLES: {"MotorVehicleObject": list(objects)}})


def with_face_fields(name: str = "face_stranger", /, **fields: Any) -> bytes:
    return faces_message({**face_object(name), **fields})


def without_face_field(field: str, name: str = "face_stranger") -> bytes:
    item = face_object(name)
    del item[field]
    return faces_message(item)


def with_vehicle_fields(name: str = "vehicle_blue", /, **fields: Any) -> bytes:
    return vehicles_message({**vehicle_object(name), **fields})


def without_vehicle_field(field: str, name: str = "vehicle_blue") -> bytes:
    item = vehicle_object(name)
    del item[field]
    return vehicles_message(item)


def with_images(item: dict[str, Any], *images: dict[str, Any]) -> dict[str, Any]:
    return {**item, "SubImageList": {"SubImageInfoObject": list(images)}}


def image(kind: Any, path: Any, **extra: Any) -> dict[str, Any]:
    return {"Type": kind, "StoragePath": path, "Data": IMAGE_DATA, **extra}


def id_ref(value: str) -> str:
    return PSEUDONYMIZER.hash("id_number", value)


def assert_no_secret(text: str) -> None:
    assert_absent(SECRETS, text)


class TestAdapterContract:
    """The adapter is the `gat1400` dialect and satisfies the adapter protocol."""

    def test_dialect_name(self) -> None:
        assert Gat1400Adapter.dialect == "gat1400"

    def test_instance_is_an_adapter(self) -> None:
        adapter: Adapter = Gat1400Adapter(PSEUDONYMIZER)
        assert adapter.dialect == "gat1400"

    @pytest.mark.parametrize(
        ("name", "count"),
        [("face_stranger", 1), ("faces_multi", 3), ("vehicles_multi", 3), ("mixed_lists", 2)],
    )
    def test_one_event_per_object(self, name: str, count: int) -> None:
        assert len(parse(fixture_bytes(name))) == count


class TestFaceCapture:
    """A face object becomes a face capture with the device's own attributes."""

    def test_stranger_with_every_field_set(self) -> None:
        face_id = face_object()["FaceID"]
        assert face(fixture_bytes("face_stranger")) == FaceCapture(
            event_id=stable_event_id("gat1400", FACE_CAMERA, face_id),
            community=COMMUNITY,
            device_id=FACE_CAMERA,
            occurred_at=datetime(2026, 11, 25, 23, 58, 12, tzinfo=UTC),
            received_at=RECEIVED,
            dialect="gat1400",
            matched_person_ref=None,
            matched_id_masked=None,
            similarity=None,
            stranger=True,
            suspicious="no",
            track_id=None,
            age_min=25,
            age_max=35,
            gender="male",
            image_url="http://10.43.1.20:8080/viid/face-1.jpg",
            source_id=face_id,
        )

    def test_matched_person_is_a_keyed_hash_and_a_mask(self) -> None:
        event = face(fixture_bytes("face_matched"))
        assert event.matched_person_ref == id_ref("430112198807150036")
        assert event.matched_id_masked == "430112********0036"
        assert event.stranger is False
        assert event.similarity == pytest.approx(0.935)
        assert (event.gender, event.age_min, event.age_max) == ("female", 30, 40)

    def test_suspicious_person(self) -> None:
        event = face(fixture_bytes("face_suspicious"))
        assert (event.suspicious, event.stranger, event.gender) == ("yes", True, "unknown")

    @pytest.mark.parametrize(("code", "suspicious"), [(0, "no"), ("1", "yes"), (2, "unsure")])
    def test_suspicion_codes(self, code: object, suspicious: str) -> None:
        assert face(with_face_fields(IsSuspiciousPerson=code)).suspicious == suspicious

    def test_absent_suspicion_is_none(self) -> None:
        assert face(without_face_field("IsSuspiciousPerson")).suspicious is None

    @pytest.mark.parametrize(
        ("code", "gender"),
        [("0", "unknown"), ("1", "male"), ("2", "female"), ("9", "unknown"), (2, "female")],
    )
    def test_gender_codes(self, code: object, gender: str) -> None:
        assert face(with_face_fields(GenderCode=code)).gender == gender

    def test_absent_attributes_are_none(self) -> None:
        item = face_object()
        for field in ("GenderCode", "AgeUpLimit", "AgeLowerLimit", "IsSuspiciousPerson"):
            del item[field]
        event = face(faces_message(item))
        assert (event.gender, event.age_min, event.age_max, event.suspicious) == (
            None,
            None,
            None,
            None,
        )

    def test_empty_strings_mean_absent(self) -> None:
        payload = with_face_fields(
            GenderCode="", AgeUpLimit="", IsSuspiciousPerson="", IDNumber="", DeviceID=""
        )
        event = face(payload)
        assert (event.gender, event.age_max, event.suspicious) == (None, None, None)
        assert event.stranger is True
        assert event.device_id == TOPIC_DEVICE

    @pytest.mark.parametrize(
        ("lower", "upper"), [(0, 150), ("20", "30"), (30, 30), ("0", 9)], ids=str
    )
    def test_age_range(self, lower: object, upper: object) -> None:
        event = face(with_face_fields(AgeLowerLimit=lower, AgeUpLimit=upper))
        assert (event.age_min, event.age_max) == (int(str(lower)), int(str(upper)))

    def test_one_sided_age_range(self) -> None:
        event = face(without_face_field("AgeUpLimit"))
        assert (event.age_min, event.age_max) == (25, None)

    def test_source_id_is_the_face_id(self) -> None:
        event = face(fixture_bytes("face_matched"))
        assert event.source_id == face_object("face_matched")["FaceID"]


class TestSimilarity:
    """The device's 0-100 similarity becomes 0-1, whichever way it is spelled."""

    @pytest.mark.parametrize(
        ("value", "similarity"),
        [(93.5, 0.935), ("88", 0.88), ("87.25", 0.8725), (0, 0.0), (100, 1.0), ("100.0", 1.0)],
    )
    def test_scaled(self, value: object, similarity: float) -> None:
        event = face(with_face_fields("face_matched", Similaritydegree=value))
        assert event.similarity == pytest.approx(similarity)

    def test_camel_case_spelling(self) -> None:
        item = face_object("face_matched")
        del item["Similaritydegree"]
        event = face(faces_message({**item, "SimilarityDegree": 77}))
        assert event.similarity == pytest.approx(0.77)

    def test_absent_is_none(self) -> None:
        assert face(fixture_bytes("face_stranger")).similarity is None

    @pytest.mark.parametrize("value", [100.5, -1, "101", "0.9.1", "87%", True, [90], "NaN"])
    def test_out_of_range_or_wrong_type_is_a_schema_error(self, value: object) -> None:
        error = rejection(with_face_fields("face_matched", Similaritydegree=value))
        assert error.reason == "schema"
        assert "Similaritydegree" in error.detail


class TestMatchedPerson:
    """A matched ID number is normalised, hashed and masked; without one the face is a stranger."""

    def test_hash_joins_on_upper_case_without_blanks(self) -> None:
        upper = face(with_face_fields(IDNumber="43011219880715003X"))
        lower = face(with_face_fields(IDNumber=" 43011219880715003x "))
        assert upper.matched_person_ref == lower.matched_person_ref == id_ref("43011219880715003X")
        assert lower.matched_id_masked == "430112********003X"

    def test_id_number_namespace_is_shared_with_other_dialects(self) -> None:
        event = face(with_face_fields(IDNumber="430112198807150036"))
        assert event.matched_person_ref == PSEUDONYMIZER.hash("id_number", "430112198807150036")
        assert event.matched_person_ref != PSEUDONYMIZER.hash("card", "430112198807150036")

    @pytest.mark.parametrize("value", [None, ""])
    def test_no_id_number_is_a_stranger(self, value: object) -> None:
        event = face(with_face_fields("face_matched", IDNumber=value))
        assert (event.stranger, event.matched_person_ref, event.matched_id_masked) == (
            True,
            None,
            None,
        )

    def test_similarity_without_an_id_number_is_still_a_stranger(self) -> None:
        event = face(with_face_fields(Similaritydegree=91))
        assert event.stranger is True
        assert event.similarity == pytest.approx(0.91)


class TestFaceImage:
    """The face crop's URL is kept, else the scene's, else the first URL there is."""

    def test_face_crop_wins_over_scene(self) -> None:
        item = with_images(
            face_object(), image("14", "http://x/scene.jpg"), image("11", "http://x/face.jpg")
        )
        assert face(faces_message(item)).image_url == "http://x/face.jpg"

    def test_scene_when_no_crop(self) -> None:
        item = with_images(
            face_object(), image("10", "http://x/person.jpg"), image(14, "http://x/scene.jpg")
        )
        assert face(faces_message(item)).image_url == "http://x/scene.jpg"

    def test_first_url_when_no_preferred_type(self) -> None:
        item = with_images(
            face_object(), image("100", "http://x/a.jpg"), image(None, "http://x/b.jpg")
        )
        assert face(faces_message(item)).image_url == "http://x/a.jpg"

    def test_images_without_url_are_skipped(self) -> None:
        item = with_images(face_object(), image("11", ""), image("14", "http://x/scene.jpg"))
        assert face(faces_message(item)).image_url == "http://x/scene.jpg"

    @pytest.mark.parametrize("sub_images", [None, {}, {"SubImageInfoObject": []}])
    def test_no_images_no_url(self, sub_images: object) -> None:
        assert face(with_face_fields(SubImageList=sub_images)).image_url is None

    def test_too_many_sub_images_is_a_schema_error(self) -> None:
        images = [image("14", f"http://x/{n}.jpg") for n in range(MAX_SUB_IMAGES + 1)]
        error = rejection(faces_message(with_images(face_object(), *images)))
        assert error.reason == "schema"
        assert "SubImageInfoObject" in error.detail


class TestVehiclePass:
    """A motor-vehicle object becomes a vehicle pass with its plate, colours, lane and picture."""

    def test_blue_plate_with_every_field_set(self) -> None:
        vehicle_id = vehicle_object()["MotorVehicleID"]
        assert vehicle(fixture_bytes("vehicle_blue")) == VehiclePass(
            event_id=stable_event_id("gat1400", PLATE_CAMERA, vehicle_id),
            community=COMMUNITY,
            device_id=PLATE_CAMERA,
            occurred_at=datetime(2026, 11, 26, 0, 15, 30, tzinfo=UTC),
            received_at=RECEIVED,
            dialect="gat1400",
            plate_no="湘A12345",
            has_plate=True,
            plate_color="blue",
            vehicle_class="K33",
            vehicle_color="white",
            direction="unknown",
            lane="2",
            confidence=0.96,
            image_url="http://10.43.1.20:8080/viid/vehicle-1.jpg",
        )

    @pytest.mark.parametrize(
        ("name", "plate", "colour"),
        [
            ("vehicle_blue", "湘A12345", "blue"),
            ("vehicle_yellow", "湘AC8123", "yellow"),
            ("vehicle_black", "粤Z1234港", "black"),
            ("vehicle_white", "湘A1234警", "white"),
            ("vehicle_green_new_energy", "湘AD12345", "green"),
            ("vehicle_yellow_green_new_energy", "湘A12345D", "yellow_green"),
            ("vehicle_other_colour", "湘A23456", "other"),
            ("vehicle_unread_plate", None, "unknown"),
            ("vehicle_no_plate", None, "other"),
        ],
    )
    def test_plate_colour_families(self, name: str, plate: str | None, colour: str) -> None:
        event = vehicle(fixture_bytes(name))
        assert (event.plate_no, event.plate_color) == (plate, colour)

    @pytest.mark.parametrize(("code", "colour"), sorted(GAT1400_PLATE_COLORS.items()))
    def test_every_colour_code(self, code: int, colour: str) -> None:
        payload = with_vehicle_fields(PlateColor=str(code), PlateClass="02")
        assert vehicle(payload).plate_color == colour

    @pytest.mark.parametrize("code", ["0", "14", "42", 98, "999"])
    def test_unlisted_colour_code_is_other(self, code: object) -> None:
        assert vehicle(with_vehicle_fields(PlateColor=code)).plate_color == "other"

    @pytest.mark.parametrize("value", [None, ""])
    def test_absent_colour_is_unknown(self, value: object) -> None:
        assert vehicle(with_vehicle_fields(PlateColor=value)).plate_color == "unknown"

    @pytest.mark.parametrize(("plate_class", "colour"), sorted(NEW_ENERGY_PLATE_CLASSES.items()))
    @pytest.mark.parametrize("reported", ["5", "6", "9", "99", None])
    def test_new_energy_class_decides_the_colour(
        self, plate_class: int, colour: str, reported: str | None
    ) -> None:
        payload = with_vehicle_fields(PlateClass=f"{plate_class:02d}", PlateColor=reported)
        assert vehicle(payload).plate_color == colour

    def test_other_plate_classes_keep_the_reported_colour(self) -> None:
        assert vehicle(with_vehicle_fields(PlateClass="01", PlateColor="6")).plate_color == (
            "yellow"
        )

    @pytest.mark.parametrize(("code", "colour"), [("2", "white"), (1, "black"), ("42", "other")])
    def test_vehicle_colour(self, code: object, colour: str) -> None:
        assert vehicle(with_vehicle_fields(VehicleColor=code)).vehicle_color == colour

    def test_absent_vehicle_colour_is_none(self) -> None:
        assert vehicle(without_vehicle_field("VehicleColor")).vehicle_color is None

    @pytest.mark.parametrize(("code", "kept"), [("K33", "K33"), ("h11", "H11"), (0, "0")])
    def test_vehicle_class_is_kept_verbatim(self, code: object, kept: str) -> None:
        assert vehicle(with_vehicle_fields(VehicleClass=code)).vehicle_class == kept

    @pytest.mark.parametrize(("lane", "kept"), [(1, "1"), ("3", "3"), (0, "0"), ("", None)])
    def test_lane(self, lane: object, kept: str | None) -> None:
        assert vehicle(with_vehicle_fields(LaneNo=lane)).lane == kept

    @pytest.mark.parametrize(
        ("value", "confidence"), [("96", 0.96), (80, 0.8), (99.5, 0.995), ("0", 0.0), ("", None)]
    )
    def test_plate_reliability_is_the_confidence(
        self, value: object, confidence: float | None
    ) -> None:
        event = vehicle(with_vehicle_fields(PlateReliability=value))
        assert event.confidence == (None if confidence is None else pytest.approx(confidence))

    @pytest.mark.parametrize("heading", ["1", "2", "3", "4", "9", 7, "x", [1], None])
    def test_compass_heading_never_becomes_in_or_out(self, heading: object) -> None:
        assert vehicle(with_vehicle_fields(Direction=heading)).direction == "unknown"

    def test_vehicle_picture_wins_over_plate_crop(self) -> None:
        assert vehicle(fixture_bytes("vehicle_blue")).image_url == (
            "http://10.43.1.20:8080/viid/vehicle-1.jpg"
        )

    def test_plate_crop_when_nothing_better(self) -> None:
        item = with_images(vehicle_object(), image("02", "http://x/plate.jpg"))
        assert vehicle(vehicles_message(item)).image_url == "http://x/plate.jpg"


class TestPlates:
    """Plates are normalised; placeholders and `HasPlate` false mean a vehicle without a plate."""

    @pytest.mark.parametrize("raw", ["湘A·12345", "湘a 12345", "湘A-12345", "湘Ａ１２３４５"])
    def test_plate_is_normalised(self, raw: str) -> None:
        assert vehicle(with_vehicle_fields(PlateNo=raw)).plate_no == "湘A12345"

    @pytest.mark.parametrize("raw", ["未识别", "无车牌", "", "  ", None])
    def test_placeholder_is_no_plate(self, raw: object) -> None:
        event = vehicle(with_vehicle_fields(PlateNo=raw))
        assert (event.plate_no, event.has_plate) == (None, False)

    def test_absent_plate_is_no_plate(self) -> None:
        event = vehicle(without_vehicle_field("PlateNo"))
        assert (event.plate_no, event.has_plate) == (None, False)

    @pytest.mark.parametrize("flag", ["0", 0, False, "false"])
    def test_has_plate_false_wins_over_a_plate_number(self, flag: object) -> None:
        event = vehicle(with_vehicle_fields(HasPlate=flag))
        assert (event.plate_no, event.has_plate) == (None, False)

    @pytest.mark.parametrize("flag", ["1", 1, True, "true", "", None])
    def test_has_plate_true_or_absent_keeps_the_plate(self, flag: object) -> None:
        event = vehicle(with_vehicle_fields(HasPlate=flag))
        assert (event.plate_no, event.has_plate) == ("湘A12345", True)

    @pytest.mark.parametrize("flag", ["2", 2, "yes", [1], 1.0])
    def test_has_plate_of_another_spelling_is_a_schema_error(self, flag: object) -> None:
        error = rejection(with_vehicle_fields(HasPlate=flag))
        assert (error.reason, error.detail.split(":")[0]) == (
            "schema",
            f"{VEHICLES}.MotorVehicleObject.0.HasPlate",
        )

    def test_eight_character_new_energy_plate(self) -> None:
        event = vehicle(fixture_bytes("vehicle_green_new_energy"))
        assert (event.plate_no, event.plate_color) == ("湘AD12345", "green")

    def test_overlong_plate_is_a_schema_error(self) -> None:
        assert rejection(with_vehicle_fields(PlateNo="湘" * 33)).reason == "schema"

    @pytest.mark.parametrize("raw", ["13812345678", "<湘A12345>", "湘A1", "湘A12345678901"])
    def test_text_that_is_no_plate_is_dropped_from_its_object_only(self, raw: str) -> None:
        dropped, kept = parse(
            vehicles_message({**vehicle_object(), "PlateNo": raw}, vehicle_object("vehicle_blue"))
        )
        assert isinstance(dropped, VehiclePass) and isinstance(kept, VehiclePass)
        assert (dropped.plate_no, dropped.has_plate, drops(dropped)) == (
            None,
            False,
            {"plate_no": "not_a_plate"},
        )
        assert (kept.plate_no, kept.plate_standard, kept.dropped_fields) == ("湘A12345", True, ())
        assert_absent([raw, *PLANTED], dropped.model_dump_json())

    @pytest.mark.parametrize("raw", ["ABC1234", "湘AI2345"])
    def test_plate_off_the_grammar_is_kept_as_not_standard(self, raw: str) -> None:
        event = vehicle(with_vehicle_fields(PlateNo=raw))
        assert (event.plate_no, event.plate_standard, event.has_plate) == (raw, False, True)


class TestManyObjects:
    """A message may carry up to 1,000 objects, faces first, each one event in list order."""

    def test_faces_in_order(self) -> None:
        events = parse(fixture_bytes("faces_multi"))
        objects = fixture_json("faces_multi")[FACES]["FaceObject"]
        assert [event.source_id for event in events if isinstance(event, FaceCapture)] == [
            item["FaceID"] for item in objects
        ]
        assert [event.device_id for event in events] == [
            FACE_CAMERA,
            "43011200001310000022",
            FACE_CAMERA,
        ]
        assert len({event.event_id for event in events}) == 3

    def test_each_face_keeps_its_own_attributes(self) -> None:
        first, second, third = parse(fixture_bytes("faces_multi"))
        assert isinstance(first, FaceCapture)
        assert isinstance(second, FaceCapture)
        assert isinstance(third, FaceCapture)
        assert (first.stranger, second.suspicious, third.matched_person_ref) == (
            True,
            "unsure",
            id_ref("430112199203040021"),
        )
        assert third.similarity == pytest.approx(0.88)

    def test_vehicles_in_order(self) -> None:
        events = parse(fixture_bytes("vehicles_multi"))
        assert [event.plate_no for event in events if isinstance(event, VehiclePass)] == [
            "湘A66666",
            "湘AF88888",
            "湘A55555",
        ]
        assert [event.occurred_at.second for event in events] == [30, 33, 40]

    def test_both_lists_faces_first(self) -> None:
        events = parse(fixture_bytes("mixed_lists"))
        assert [event.kind for event in events] == ["face_capture", "vehicle_pass"]

    def test_exactly_the_limit_is_accepted(self) -> None:
        objects = [{**face_object(), "FaceID": f"{n:048d}"} for n in range(MAX_OBJECTS)]
        assert len(parse(faces_message(*objects))) == MAX_OBJECTS

    def test_one_over_the_limit_is_oversized(self) -> None:
        objects = [face_object()] * (MAX_OBJECTS + 1)
        error = rejection(faces_message(*objects))
        assert (error.reason, error.detail) == (
            "oversized",
            "1001 objects in one message; at most 1000 are accepted",
        )

    def test_the_limit_counts_both_lists(self) -> None:
        half = MAX_OBJECTS // 2 + 1
        payload = encode(
            {
                FACES: {"FaceObject": [face_object()] * half},
                VEHICLES: {"MotorVehicleObject": [vehicle_object()] * half},
            }
        )
        assert rejection(payload).reason == "oversized"

    def test_objects_are_counted_before_they_are_checked(self) -> None:
        objects: list[Any] = [face_object()] * MAX_OBJECTS + [{"FaceID": 1}, "junk", None]
        assert rejection(faces_message(*objects)).reason == "oversized"

    def test_huge_list_is_refused_without_validating_it(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        def never(*args: object) -> object:
            raise AssertionError("an oversized list was validated")

        monkeypatch.setattr(gat1400_module, "_validate", never)
        payload = encode({FACES: {"FaceObject": [{}] * 200_000}})
        assert rejection(payload).reason == "oversized"

    def test_empty_lists_give_no_events(self) -> None:
        error = rejection(fixture_bytes("empty_lists"))
        assert (error.reason, error.detail) == ("no_events", "the object lists are empty")

    @pytest.mark.parametrize(
        "document",
        [
            {FACES: {"FaceObject": []}},
            {VEHICLES: {"MotorVehicleObject": []}},
            {FACES: None},
            {FACES: None, VEHICLES: {"MotorVehicleObject": []}},
        ],
        ids=["faces", "vehicles", "null", "null-and-empty"],
    )
    def test_empty_or_null_lists_give_no_events(self, document: dict[str, Any]) -> None:
        assert rejection(encode(document)).reason == "no_events"


class TestFastPath:
    """A valid message is validated in one pass from its bytes, never decoded a second time."""

    @pytest.mark.parametrize("name", GOOD_FIXTURES)
    def test_valid_fixture_skips_the_slow_path(
        self, name: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        def never(payload: bytes) -> dict[str, object]:
            raise AssertionError("a valid message took the slow path")

        monkeypatch.setattr(gat1400_module, "decode_json_object", never)
        assert parse(fixture_bytes(name))

    @pytest.mark.parametrize("name", GOOD_FIXTURES)
    def test_slow_path_gives_the_same_events(
        self, name: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        fast = parse(fixture_bytes(name))

        def refuse(cls: type, data: bytes) -> object:
            raise ValidationError.from_exception_data("forced", [])

        monkeypatch.setattr(gat1400_module._Message, "model_validate_json", classmethod(refuse))
        assert parse(fixture_bytes(name)) == fast


class TestBadObject:
    """One bad object dead-letters the whole message, naming the object by its index."""

    def test_schema_error_names_the_index(self) -> None:
        error = rejection(fixture_bytes("bad_object_in_batch"))
        assert error.reason == "schema"
        assert error.detail.startswith(f"{FACES}.FaceObject.1.FaceID:")

    def test_bad_time_names_the_index(self) -> None:
        objects = [face_object(), face_object(), {**face_object(), "FaceAppearTime": "2026"}]
        error = rejection(faces_message(*objects))
        assert (error.reason, error.detail) == (
            "bad_time",
            f"{FACES}.FaceObject.2.FaceAppearTime is not YYYYMMDDhhmmss",
        )

    def test_unknown_code_names_the_index(self) -> None:
        objects = [face_object(), {**face_object(), "GenderCode": "7"}]
        error = rejection(faces_message(*objects))
        assert (error.reason, error.detail) == (
            "unknown_code",
            f"{FACES}.FaceObject.1.GenderCode 7 is not a GB/T 2261.1 sex code",
        )

    def test_vehicle_index(self) -> None:
        objects = [vehicle_object(), vehicle_object(), {**vehicle_object(), "LaneNo": "left"}]
        error = rejection(vehicles_message(*objects))
        assert error.reason == "schema"
        assert error.detail.startswith(f"{VEHICLES}.MotorVehicleObject.2.LaneNo:")

    def test_a_bad_vehicle_rejects_good_faces_too(self) -> None:
        document = fixture_json("mixed_lists")
        document[VEHICLES]["MotorVehicleObject"][0]["PassTime"] = "yesterday"
        assert rejection(encode(document)).reason == "bad_time"


class TestEventTime:
    """`YYYYMMDDhhmmss` is China Standard Time and is kept in UTC."""

    def test_face_time_is_converted_to_utc_on_the_previous_day(self) -> None:
        occurred = face(fixture_bytes("face_stranger")).occurred_at
        assert occurred == datetime(2026, 11, 25, 23, 58, 12, tzinfo=UTC)
        assert occurred.utcoffset() == timedelta(0)

    def test_pass_time(self) -> None:
        event = vehicle(with_vehicle_fields(PassTime="20260101000000"))
        assert event.occurred_at == datetime(2025, 12, 31, 16, 0, 0, tzinfo=UTC)

    @pytest.mark.parametrize(
        "text",
        [
            "2026-11-26 07:58:12",
            "20261126",
            "202611260758120",
            "20261301075812",
            "20260230075812",
            "20261126245812",
            "２０２６１１２６０７５８１２",
            "",
        ],
    )
    def test_malformed_time_is_refused(self, text: str) -> None:
        assert rejection(with_face_fields(FaceAppearTime=text)).reason == "bad_time"

    def test_first_hours_of_year_one_are_refused(self) -> None:
        error = rejection(with_face_fields(FaceAppearTime="00010101070000"))
        assert (error.reason, error.detail) == (
            "bad_time",
            f"{FACES}.FaceObject.0.FaceAppearTime is out of range once converted to UTC",
        )

    def test_last_second_of_year_9999(self) -> None:
        event = face(with_face_fields(FaceAppearTime="99991231235959"))
        assert event.occurred_at == datetime(9999, 12, 31, 15, 59, 59, tzinfo=UTC)

    @pytest.mark.parametrize("value", [20261126075812, None, ["20261126075812"]])
    def test_time_of_another_type_is_a_schema_error(self, value: object) -> None:
        error = rejection(with_face_fields(FaceAppearTime=value))
        assert error.reason == "schema"
        assert "FaceAppearTime" in error.detail

    def test_time_is_required(self) -> None:
        error = rejection(fixture_bytes("missing_pass_time"))
        assert (error.reason, error.detail) == (
            "schema",
            f"{VEHICLES}.MotorVehicleObject.0.PassTime: Field required",
        )


class TestDeviceIdentity:
    """The object's `DeviceID` names the device; the topic's device code is the fallback."""

    def test_object_device_wins_over_topic(self) -> None:
        assert face(fixture_bytes("face_stranger")).device_id == FACE_CAMERA

    @pytest.mark.parametrize("value", [None, ""])
    def test_topic_device_when_object_has_none(self, value: object) -> None:
        assert face(with_face_fields(DeviceID=value)).device_id == TOPIC_DEVICE

    def test_absent_device_id_falls_back_to_the_topic(self) -> None:
        assert face(without_face_field("DeviceID")).device_id == TOPIC_DEVICE

    def test_no_device_anywhere_is_refused(self) -> None:
        error = rejection(without_face_field("DeviceID"), device_id=None)
        assert (error.reason, error.detail) == (
            "no_device_id",
            f"{FACES}.FaceObject.0 has no DeviceID and the topic names no device",
        )

    def test_object_device_is_enough_without_a_topic_device(self) -> None:
        assert face(fixture_bytes("face_stranger"), device_id=None).device_id == FACE_CAMERA

    @pytest.mark.parametrize(
        "value", ["4301120000131000002", "430112000013100000211", "4301120000131000002X", 1]
    )
    def test_device_id_must_be_a_20_digit_code(self, value: object) -> None:
        error = rejection(with_face_fields(DeviceID=value))
        assert error.reason == "schema"
        assert "DeviceID" in error.detail

    def test_overlong_topic_device_is_refused(self) -> None:
        payload = without_face_field("DeviceID")
        assert rejection(payload, device_id="D" * 65).reason == "bad_device_id"

    @pytest.mark.parametrize("device_id", PII_DEVICE_IDS)
    def test_personal_number_in_the_topic_device_is_refused(self, device_id: str) -> None:
        error = rejection(without_vehicle_field("DeviceID"), device_id=device_id)
        assert error.reason == "pii_in_identifier"
        assert_absent([device_id, *PLANTED], error.detail)

    def test_a_20_digit_code_around_an_id_number_is_a_device_code(self) -> None:
        code = PLANTED_ID_NUMBER + "01"
        assert vehicle(with_vehicle_fields(DeviceID=code)).device_id == code


class TestEventIds:
    """Event ids come from the device and the object id, so redelivery reproduces them."""

    def test_id_is_device_and_face_id(self) -> None:
        event = face(fixture_bytes("face_matched"))
        expected = stable_event_id("gat1400", FACE_CAMERA, face_object("face_matched")["FaceID"])
        assert event.event_id == expected

    def test_id_is_device_and_vehicle_id(self) -> None:
        event = vehicle(fixture_bytes("vehicle_white"))
        vehicle_id = vehicle_object("vehicle_white")["MotorVehicleID"]
        assert event.event_id == stable_event_id("gat1400", PLATE_CAMERA, vehicle_id)

    def test_redelivery_gives_the_same_ids(self) -> None:
        payload = fixture_bytes("faces_multi")
        first = [event.event_id for event in ADAPTER.parse(message(payload))]
        later = ADAPTER.parse(message(payload, received_at=RECEIVED + timedelta(hours=1)))
        assert [event.event_id for event in later] == first

    def test_reserialised_payload_keeps_the_ids(self) -> None:
        compact = json.dumps(fixture_json("vehicles_multi"), separators=(",", ":")).encode()
        assert [e.event_id for e in parse(compact)] == [
            e.event_id for e in parse(fixture_bytes("vehicles_multi"))
        ]

    def test_same_object_id_on_another_device_differs(self) -> None:
        other = face(with_face_fields(DeviceID="43011200001310000029"))
        assert other.event_id != face(fixture_bytes("face_stranger")).event_id

    def test_an_object_keeps_its_id_whatever_else_the_message_holds(self) -> None:
        alone = face(faces_message(face_object("faces_multi", 2)))
        together = parse(fixture_bytes("faces_multi"))[2]
        assert alone.event_id == together.event_id

    def test_all_fixtures_have_distinct_ids(self) -> None:
        ids = [event.event_id for name in GOOD_FIXTURES for event in parse(fixture_bytes(name))]
        assert len(ids) == len(set(ids))


class TestCommonFields:
    """Every event carries the router's community and receipt time and the dialect's name."""

    @pytest.mark.parametrize("name", GOOD_FIXTURES)
    def test_envelope(self, name: str) -> None:
        for event in parse(fixture_bytes(name)):
            assert event.community == COMMUNITY
            assert event.received_at == RECEIVED
            assert event.dialect == "gat1400"
            assert len(event.event_id) == 32
            assert int(event.event_id, 16) >= 0

    @pytest.mark.parametrize("name", GOOD_FIXTURES)
    def test_round_trips_through_the_event_union(self, name: str) -> None:
        for event in parse(fixture_bytes(name)):
            assert device_event_adapter.validate_json(event.model_dump_json()) == event


class TestPersonalData:
    """ID numbers, names and image bytes never leave the adapter, in events or in errors."""

    @pytest.mark.parametrize("name", GOOD_FIXTURES)
    def test_nothing_personal_in_the_events(self, name: str) -> None:
        assert IMAGE_DATA.encode() in fixture_bytes(name)
        for event in parse(fixture_bytes(name)):
            dumped = event.model_dump_json()
            assert_no_secret(dumped)
            assert "FeatureData" not in dumped

    def test_matched_fixture_really_carries_the_secrets(self) -> None:
        raw = fixture_bytes("face_matched").decode()
        assert ID_NUMBERS[0] in raw
        assert NAMES[0] in raw

    @pytest.mark.parametrize(
        "payload",
        [
            with_face_fields("face_matched", IDNumber=430112198807150036),
            with_face_fields("face_matched", IDNumber=["430112198807150036", "李四"]),
            with_face_fields("face_matched", IDNumber="430112198807150036 李四"),
            with_face_fields("face_matched", GenderCode="430112198807150036"),
            with_face_fields("face_matched", FaceAppearTime="430112198807150036"),
            with_face_fields("face_matched", FaceAppearTime="李四"),
            with_face_fields("face_matched", DeviceID="430112198807150036"),
            with_face_fields("face_matched", FaceID="430112198807150036"),
            with_face_fields("face_matched", Similaritydegree="李四"),
            with_face_fields("face_matched", AgeUpLimit="430112198807150036"),
            with_face_fields("face_matched", GenderCode="8"),
            with_vehicle_fields(PlateNo=["李四", "430112198807150036"]),
            encode({"430112198807150036": {"李四": []}}),
            encode({"李四": 1}),
            encode({FACES: {"FaceObject": [{"Name": "李四", "IDNumber": "430112198807150036"}]}}),
        ],
    )
    def test_nothing_personal_in_errors(self, payload: bytes) -> None:
        assert_absent(SECRETS, *error_texts(rejection(payload)))

    @pytest.mark.parametrize("value", [None, 42, ["李", "四"], {"family": "李"}, "李四" * 100])
    def test_name_is_ignored_whatever_its_type(self, value: object) -> None:
        event = face(with_face_fields("face_matched", Name=value))
        assert event.matched_person_ref == id_ref("430112198807150036")

    @pytest.mark.parametrize("value", [None, 111, "990", ["111"]])
    def test_id_type_is_ignored_whatever_its_type(self, value: object) -> None:
        event = face(with_face_fields("face_matched", IDType=value))
        assert event.matched_id_masked == "430112********0036"

    @pytest.mark.parametrize(
        "value", ["4301121988071500361234567890123", "430112 198807150036", "\ud800", 4301121]
    )
    def test_malformed_id_number_is_a_schema_error(self, value: object) -> None:
        error = rejection(with_face_fields(IDNumber=value))
        assert error.reason == "schema"
        assert "IDNumber" in error.detail


class TestInlineImages:
    """Inline base64 image data is never modelled: dropped whatever it holds, never echoed."""

    @pytest.mark.parametrize(
        "data", [IMAGE_DATA * 2000, None, 12345, ["李四"], {"nested": IMAGE_DATA}, "李四"]
    )
    def test_data_of_any_kind_is_dropped(self, data: object) -> None:
        item = with_images(face_object(), image("11", "http://x/face.jpg", Data=data))
        event = face(faces_message(item))
        assert event.image_url == "http://x/face.jpg"
        assert_no_secret(event.model_dump_json())
        assert "nested" not in event.model_dump_json()

    def test_image_without_url_but_with_data_gives_no_url(self) -> None:
        item = with_images(face_object(), {"Type": "11", "Data": IMAGE_DATA})
        event = face(faces_message(item))
        assert event.image_url is None
        assert IMAGE_DATA not in event.model_dump_json()

    def test_a_usable_scene_is_preferred_to_an_unusable_face_crop(self) -> None:
        event = face(fixture_bytes("inline_image_url"))
        assert (event.image_url, drops(event)) == ("http://10.43.1.20:8080/viid/scene-21.jpg", {})
        assert_no_secret(event.model_dump_json())

    @pytest.mark.parametrize("path", ["http://x/李四.jpg", "http://x/%E6%9D%8E%E5%9B%9B.jpg"])
    def test_a_name_in_the_path_drops_the_picture(self, path: str) -> None:
        event = face(faces_message(with_images(face_object(), image("11", path))))
        assert (event.image_url, drops(event)) == (None, {"image_url": "non_ascii_path"})
        assert "%E6%9D%8E" not in event.model_dump_json()

    @pytest.mark.parametrize(
        "path",
        [
            "/var/viid/face-1.jpg",
            "face-1.jpg",
            "file:///var/viid/face-1.jpg",
            "http://",
            "ftp://u@h/p.jpg",
            IMAGE_DATA,
        ],
    )
    def test_non_url_storage_path_is_dropped_and_listed(self, path: str) -> None:
        item = with_images(face_object(), image("11", path))
        event = face(faces_message(item))
        assert (event.image_url, drops(event)) == (None, {"image_url": "not_a_url"})
        assert_no_secret(event.model_dump_json())

    @pytest.mark.parametrize(
        ("path", "stored"),
        [
            ("http://10.0.0.1/a.jpg", "http://10.0.0.1/a.jpg"),
            ("HTTPS://viid.example.cn/x?id=1&s=2", "https://viid.example.cn/x"),
            ("http://admin:secret@10.0.0.1/v.jpg", "http://10.0.0.1/v.jpg"),
            ("http://x/a b.jpg", "http://x/a%20b.jpg"),
        ],
    )
    def test_urls_are_kept_without_login_or_query(self, path: str, stored: str) -> None:
        item = with_images(face_object(), image("11", path))
        event = face(faces_message(item))
        assert (event.image_url, drops(event)) == (stored, {})

    def test_feature_data_is_dropped(self) -> None:
        assert b"FeatureData" in fixture_bytes("face_matched")
        dumped = face(fixture_bytes("face_matched")).model_dump_json()
        assert "FeatureData" not in dumped
        assert IMAGE_DATA[:120] not in dumped


class TestRejectedPayloads:
    """A message that cannot become events raises PayloadError with a precise reason."""

    @pytest.mark.parametrize(
        ("name", "reason"),
        [
            ("malformed", "malformed_json"),
            ("array", "malformed_json"),
            ("empty_lists", "no_events"),
            ("unsupported_list", "unsupported_event"),
            ("missing_face_id", "schema"),
            ("missing_pass_time", "schema"),
            ("wrong_type_lane", "schema"),
            ("bad_object_in_batch", "schema"),
            ("bad_time", "bad_time"),
            ("unknown_gender", "unknown_code"),
            ("unknown_suspicion", "unknown_code"),
        ],
    )
    def test_bad_fixture(self, name: str, reason: str) -> None:
        assert rejection(fixture_bytes(name)).reason == reason

    def test_every_bad_fixture_is_covered(self) -> None:
        assert sorted(BAD_FIXTURES + GOOD_FIXTURES + PICTURE_FIXTURES) == sorted(
            path.stem for path in FIXTURES.folder.glob("*.json")
        )

    def test_missing_face_id_detail(self) -> None:
        assert rejection(fixture_bytes("missing_face_id")).detail == (
            f"{FACES}.FaceObject.0.FaceID: Field required"
        )

    def test_unsupported_list_is_named(self) -> None:
        assert rejection(fixture_bytes("unsupported_list")).detail == (
            "'PersonListObject' is not supported; expected FaceListObject or MotorVehicleListObject"
        )

    @pytest.mark.parametrize("key", ["李四", "Person 1", "x" * 41, "ID430112198807150036", "_x"])
    def test_unsafe_key_is_not_echoed(self, key: str) -> None:
        error = rejection(encode({key: {}}))
        assert (error.reason, error.detail) == (
            "unsupported_event",
            "no object list this dialect reads; expected FaceListObject or MotorVehicleListObject",
        )

    def test_empty_object_is_unsupported(self) -> None:
        error = rejection(b"{}")
        assert (error.reason, error.detail) == (
            "unsupported_event",
            "the message is empty; expected FaceListObject or MotorVehicleListObject",
        )

    def test_other_lists_beside_a_known_one_are_ignored(self) -> None:
        document = {**fixture_json("face_stranger"), "PersonListObject": {"PersonObject": [1]}}
        assert len(parse(encode(document))) == 1

    @pytest.mark.parametrize(
        ("document", "path"),
        [
            ({FACES: []}, FACES),
            ({FACES: {}}, f"{FACES}.FaceObject"),
            ({FACES: {"FaceObject": {"FaceID": "1"}}}, f"{FACES}.FaceObject"),
            ({FACES: {"FaceObject": [[]]}}, f"{FACES}.FaceObject.0"),
            ({VEHICLES: {"MotorVehicleObject": "x"}}, f"{VEHICLES}.MotorVehicleObject"),
        ],
        ids=["list", "no-objects", "object-not-list", "item-not-object", "string"],
    )
    def test_list_of_the_wrong_shape_is_a_schema_error(
        self, document: dict[str, Any], path: str
    ) -> None:
        error = rejection(encode(document))
        assert (error.reason, error.detail.split(":")[0]) == ("schema", path)

    @pytest.mark.parametrize(
        "payload",
        [
            b"",
            b"null",
            b'"FaceListObject"',
            b"\xff\xfe{}",
            b"[" * 100_000,
            b'{"a":' * 100_000,
            b'{"FaceListObject":' * 100_000,
            b'{"FaceObject": ' + b"9" * 5000 + b"}",
        ],
        ids=[
            "empty",
            "null",
            "string",
            "not-utf8",
            "nested-arrays",
            "nested-objects",
            "nested-lists",
            "huge-number",
        ],
    )
    def test_junk_is_malformed_json(self, payload: bytes) -> None:
        assert rejection(payload).reason == "malformed_json"

    def test_deeply_nested_junk_inside_an_object_is_malformed_json(self) -> None:
        junk = b'{"x":' * 50_000 + b"1" + b"}" * 50_000
        payload = fixture_bytes("face_stranger").replace(b'"InfoKind": 1', b'"InfoKind": ' + junk)
        assert rejection(payload).reason == "malformed_json"

    def test_deeply_nested_vendor_field_is_ignored(self) -> None:
        junk: Any = 1
        for _ in range(200):
            junk = {"x": [junk]}
        assert face(with_face_fields(VendorExtension=junk)).gender == "male"

    def test_huge_array_in_a_used_field_is_a_schema_error(self) -> None:
        error = rejection(with_vehicle_fields(PlateNo=[0] * 100_000))
        assert error.reason == "schema"
        assert len(error.detail) < 200

    def test_huge_array_in_a_vendor_field_is_ignored(self) -> None:
        assert vehicle(with_vehicle_fields(PlateCharReliability=[0] * 100_000)).plate_no == (
            "湘A12345"
        )

    def test_many_errors_are_summarised(self) -> None:
        payload = with_face_fields(
            FaceID=1,
            DeviceID=2,
            FaceAppearTime=3,
            GenderCode="x",
            AgeUpLimit=-1,
            IDNumber=6,
            IsSuspiciousPerson="y",
        )
        error = rejection(payload)
        assert error.reason == "schema"
        assert error.detail.endswith("(+2 more)")


class TestSchemaValidation:
    """Vendor extras are ignored, but a field we use with the wrong type is an error."""

    def test_extra_fields_are_ignored(self) -> None:
        item = {**face_object(), "HairStyle": [1, 2], "Attitude": {"x": None}, "IsDriver": "?"}
        document = {FACES: {"FaceObject": [item], "Pages": 1}, "Vendor": {"a": [1]}}
        assert face(encode(document)).gender == "male"

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("FaceID", 430112000013100000210220261126075812000010600001),
            ("FaceID", "43011200001310000021022026112607581200001060000"),
            ("FaceID", "4301120000131000002102202611260758120000106000011"),
            ("FaceID", "43011200001310000021022026112607581200001060000A"),
            ("FaceID", ""),
            ("FaceID", None),
            ("GenderCode", "male"),
            ("GenderCode", 1.0),
            ("GenderCode", True),
            ("GenderCode", "1000"),
            ("GenderCode", -1),
            ("GenderCode", [1]),
            ("AgeUpLimit", 151),
            ("AgeUpLimit", -1),
            ("AgeUpLimit", "thirty"),
            ("AgeUpLimit", 30.5),
            ("AgeLowerLimit", False),
            ("IsSuspiciousPerson", "no"),
            ("IsSuspiciousPerson", 1.5),
            ("SubImageList", []),
            ("SubImageList", {"SubImageInfoObject": {}}),
            ("SubImageList", {"SubImageInfoObject": [{"StoragePath": 1}]}),
            ("SubImageList", {"SubImageInfoObject": [{"Type": "scene"}]}),
        ],
    )
    def test_wrong_face_field_is_a_schema_error(self, field: str, value: object) -> None:
        error = rejection(with_face_fields(**{field: value}))
        assert error.reason == "schema"
        assert field in error.detail

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("MotorVehicleID", "1"),
            ("MotorVehicleID", None),
            ("PassTime", 20261126081530),
            ("PlateNo", 12345),
            ("PlateNo", "湘A\ud80012345"),
            ("PlateColor", "blue"),
            ("PlateColor", 5.0),
            ("PlateColor", 1000),
            ("PlateClass", "K"),
            ("VehicleClass", "K33-1"),
            ("VehicleClass", "小型轿车"),
            ("VehicleClass", 3.3),
            ("VehicleColor", [2]),
            ("LaneNo", -1),
            ("LaneNo", "1.0"),
            ("LaneNo", True),
            ("PlateReliability", 101),
            ("PlateReliability", "96%"),
            ("PlateReliability", False),
        ],
    )
    def test_wrong_vehicle_field_is_a_schema_error(self, field: str, value: object) -> None:
        error = rejection(with_vehicle_fields(**{field: value}))
        assert error.reason == "schema"
        assert field in error.detail

    def test_lower_age_above_upper_age_is_a_schema_error(self) -> None:
        error = rejection(with_face_fields(AgeLowerLimit=40, AgeUpLimit=30))
        assert (error.reason, error.detail) == (
            "schema",
            f"{FACES}.FaceObject.0: AgeLowerLimit is above AgeUpLimit",
        )


class TestUnknownCodes:
    """Closed code tables refuse unknown codes; colours fall back to `other` instead."""

    def test_gender_table_is_gb_t_2261_1(self) -> None:
        assert dict(GENDER_CODES) == {0: "unknown", 1: "male", 2: "female", 9: "unknown"}

    def test_suspicion_table(self) -> None:
        assert dict(SUSPICION_CODES) == {0: "no", 1: "yes", 2: "unsure"}

    def test_new_energy_classes(self) -> None:
        assert dict(NEW_ENERGY_PLATE_CLASSES) == {51: "yellow_green", 52: "green"}

    @pytest.mark.parametrize("code", ["3", "5", 8, "10", 999])
    def test_unknown_gender(self, code: object) -> None:
        error = rejection(with_face_fields(GenderCode=code))
        assert error.reason == "unknown_code"
        assert error.detail == (
            f"{FACES}.FaceObject.0.GenderCode {int(str(code))} is not a GB/T 2261.1 sex code"
        )

    @pytest.mark.parametrize("code", [3, "9", "99"])
    def test_unknown_suspicion(self, code: object) -> None:
        error = rejection(with_face_fields(IsSuspiciousPerson=code))
        assert (error.reason, error.detail.split(" ", 1)[0]) == (
            "unknown_code",
            f"{FACES}.FaceObject.0.IsSuspiciousPerson",
        )

    def test_unknown_plate_colour_is_not_an_error(self) -> None:
        assert vehicle(with_vehicle_fields(PlateColor="77")).plate_color == "other"


# Property tests: whatever arrives, the adapter answers with events or a PayloadError.

TEXTS = st.text(max_size=20) | st.sampled_from(["\ud800", "ok\udfff", ""])
DIGIT_STRINGS = st.text("0123456789", min_size=0, max_size=4)
NUMBERS = st.integers(-5, 1200) | st.floats(-5, 200) | DIGIT_STRINGS | st.sampled_from(["", "1.5"])
COMPACT_TIMES = st.datetimes().map(lambda t: t.strftime("%Y%m%d%H%M%S").rjust(14, "0"))
OBJECT_IDS = st.text("0123456789", min_size=46, max_size=50)
PLAUSIBLE: dict[str, st.SearchStrategy[Any]] = {
    "FaceID": OBJECT_IDS,
    "MotorVehicleID": OBJECT_IDS,
    "DeviceID": st.text("0123456789", min_size=19, max_size=21) | st.sampled_from(["", None]),
    "FaceAppearTime": COMPACT_TIMES | TEXTS,
    "PassTime": COMPACT_TIMES | TEXTS,
    "GenderCode": NUMBERS,
    "AgeUpLimit": NUMBERS,
    "AgeLowerLimit": NUMBERS,
    "IsSuspiciousPerson": NUMBERS,
    "Similaritydegree": NUMBERS,
    "IDNumber": st.sampled_from([*ID_NUMBERS, "43011219880715003x", ""]) | TEXTS,
    "Name": st.sampled_from(NAMES),
    "PlateNo": st.sampled_from(["湘A12345", "未识别", "湘AD12345", "", "·"]) | TEXTS,
    "HasPlate": st.sampled_from(["0", "1", 0, 1, True, False, "", "2"]),
    "PlateColor": NUMBERS,
    "PlateClass": NUMBERS,
    "VehicleClass": st.sampled_from(["K33", "h11", 0, ""]) | TEXTS,
    "VehicleColor": NUMBERS,
    "LaneNo": NUMBERS,
    "PlateReliability": NUMBERS,
    "SubImageList": st.fixed_dictionaries(
        {
            "SubImageInfoObject": st.lists(
                st.fixed_dictionaries(
                    {
                        "Type": NUMBERS,
                        "StoragePath": st.sampled_from(["", "http://x/a.jpg", "data:x"]) | TEXTS,
                        "Data": st.just(IMAGE_DATA),
                    }
                ),
                max_size=3,
            )
        }
    ),
}
FACE_BASE = face_object("face_matched")
VEHICLE_BASE = vehicle_object()


def mutate(draw: st.DrawFn, base: dict[str, Any]) -> dict[str, Any]:
    item = copy.deepcopy(base)
    mutate_fields(draw, item, sorted({*base, *PLAUSIBLE}), PLAUSIBLE, replaced=4, removed=2)
    return item


@st.composite
def mutated_messages(draw: st.DrawFn) -> dict[str, Any]:
    """Valid lists whose objects have a few fields replaced by arbitrary JSON or removed."""
    document: dict[str, Any] = {}
    if draw(st.booleans()):
        faces = [mutate(draw, FACE_BASE) for _ in range(draw(st.integers(0, 3)))]
        document[FACES] = {"FaceObject": faces}
    if draw(st.booleans()):
        vehicles = [mutate(draw, VEHICLE_BASE) for _ in range(draw(st.integers(0, 3)))]
        document[VEHICLES] = {"MotorVehicleObject": vehicles}
    return document


DEVICE_IDS = device_ids(TOPIC_DEVICE)


def events_or_payload_error(raw: RawMessage) -> list[DeviceEvent]:
    events = parse_checked(ADAPTER, raw, REASONS, secrets=SECRETS)
    for event in events:
        assert event.occurred_at.utcoffset() == timedelta(0)
    return events


class TestNeverCrashes:
    """Whatever arrives, parse returns events or raises PayloadError, never another exception."""

    test_arbitrary_bytes, test_arbitrary_json = never_crash_tests(
        events_or_payload_error, message, DEVICE_IDS, max_examples=150
    )

    @settings(max_examples=150, deadline=None)
    @given(lists=st.dictionaries(st.sampled_from([FACES, VEHICLES]), JSON_VALUES))
    def test_arbitrary_lists(self, lists: dict[str, Any]) -> None:
        events_or_payload_error(message(json.dumps(lists).encode()))

    @settings(max_examples=150, deadline=None)
    @given(document=mutated_messages(), device_id=st.one_of(st.just(TOPIC_DEVICE), st.none()))
    def test_valid_messages_with_arbitrary_fields(
        self, document: dict[str, Any], device_id: str | None
    ) -> None:
        events_or_payload_error(message(encode(document), device_id=device_id))
