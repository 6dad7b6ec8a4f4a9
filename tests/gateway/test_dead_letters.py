"""Specification of dead-letter building (`gateway.dead_letters`, `gateway.messages`): each
dialect's letters show its allow-listed fields and nothing else, and raw payloads are kept
only sealed."""

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.registry import AdapterRegistry
from gateway.dead_letters import DeadLetterFactory
from gateway.messages import DeadLetter, InboundMessage
from gateway.payload_shape import AllowList
from gateway.raw_payloads import RawPayloadVault
from schemas.privacy import Pseudonymizer

FIXTURES = Path(__file__).parents[1] / "adapters" / "fixtures"
ADAPTERS = AdapterRegistry().build(Pseudonymizer("dead-letter-test-key-0123456789"))
FACTORY = DeadLetterFactory.for_adapters(ADAPTERS)
NOW = datetime.now(UTC)
KEY = "Zq3vN8xW1rT6yL0pK4mB7cJ2hG5dF9sA"
DEVICE = "43011200001320000001"
MIN_SECRET_CHARS = 4


def inbound(payload: bytes, topic: str = f"yida/hik-isapi/{DEVICE}") -> InboundMessage:
    return InboundMessage(topic=topic, payload=payload, received_at=NOW, received_monotonic=0)


def fixtures() -> Iterator[tuple[str, Path]]:
    for dialect in sorted(ADAPTERS):
        folder = FIXTURES / dialect.replace("-", "_")
        for path in sorted(folder.iterdir()):
            if path.suffix in (".json", ".txt"):
                yield dialect, path


FIXTURE_CASES = list(fixtures())


def shown_values(node: object, path: str = "") -> Iterator[tuple[str, object]]:
    """(path, value) of every value a shape shows; placeholders and numbered keys are skipped."""
    if isinstance(node, dict):
        for key, child in node.items():
            if not key.startswith("<"):
                yield from shown_values(child, f"{path}.{key}" if path else key)
    elif isinstance(node, list):
        for child in node:
            yield from shown_values(child, path + "[]")
    elif node is not None and not (isinstance(node, str) and node.startswith("<")):
        yield path, node


def keys_of(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        yield from node
        for child in node.values():
            yield from keys_of(child)
    elif isinstance(node, list):
        for child in node:
            yield from keys_of(child)


def payload_values(node: object) -> Iterator[str]:
    """Every string and every integer of four digits or more in a payload, as text."""
    if isinstance(node, dict):
        for child in node.values():
            yield from payload_values(child)
    elif isinstance(node, list):
        for child in node:
            yield from payload_values(child)
    elif isinstance(node, str):
        yield node
    elif isinstance(node, int) and not isinstance(node, bool) and abs(node) >= 1000:
        yield str(node)


def excerpt_of(dialect: str, payload: bytes) -> object:
    letter = FACTORY(inbound(payload, f"yida/{dialect}/{DEVICE}"), "schema", "x", dialect)
    return json.loads(letter.payload_excerpt)


class TestEveryDialect:
    """A letter of every fixture of every dialect shows declared fields only."""

    def test_every_adapter_declares_a_valid_allow_list(self) -> None:
        for adapter in ADAPTERS.values():
            assert AllowList.of(adapter.dead_letter_fields).values

    @pytest.mark.parametrize(
        ("dialect", "path"), FIXTURE_CASES, ids=[f"{d}/{p.name}" for d, p in FIXTURE_CASES]
    )
    def test_only_allow_listed_values_are_shown(self, dialect: str, path: Path) -> None:
        payload = path.read_bytes()
        letter = FACTORY(inbound(payload, f"yida/{dialect}/{DEVICE}"), "schema", "x", dialect)
        try:
            shape = json.loads(letter.payload_excerpt)
        except json.JSONDecodeError:
            assert letter.payload_excerpt.startswith("<not JSON")
            return
        declared = ADAPTERS[dialect].dead_letter_fields
        shown = list(shown_values(shape))
        assert {path for path, _ in shown} <= set(declared)
        shown_text = {str(value) for _, value in shown} | set(keys_of(shape))
        try:
            document = json.loads(payload)
        except json.JSONDecodeError:
            return
        for value in payload_values(document):
            if len(value) >= MIN_SECRET_CHARS and not any(value in text for text in shown_text):
                assert value not in letter.payload_excerpt

    @pytest.mark.parametrize(
        ("dialect", "fixture", "shown", "hidden"),
        [
            (
                "hik-isapi",
                "card_granted.json",
                {"eventType": "AccessControllerEvent", "AccessControllerEvent.subEventType": 1},
                {
                    "AccessControllerEvent.cardNo": "<str 10>",
                    "AccessControllerEvent.name": "<str 2>",
                },
            ),
            (
                "access-cloud",
                "card_granted.json",
                {"openMethod": 100101, "recordId": "R20261126080012000301"},
                {"userName": "<str 2>", "phone": "<str 11>", "idCardNo": "<str 18>"},
            ),
            (
                "gat1400",
                "face_matched.json",
                {"FaceListObject.FaceObject[].DeviceID": "43011200001310000021"},
                {
                    "FaceListObject.FaceObject[].IDNumber": "<str 18>",
                    "FaceListObject.FaceObject[].Name": "<str 2>",
                },
            ),
            (
                "barrier-gate",
                "in_blue.json",
                {"gateId": "YD-GATE-N1", "dir": "in", "plateColor": 1},
                {"plate": "<str 8>", "pic": "<str 41>"},
            ),
            (
                "camera-alarm",
                "fire_lane_occupied.json",
                {"eventType": "fireEscapeDetection", "confidence": 92},
                {"zone": "<str 19>", "eventDescription": "<str 6>"},
            ),
            (
                "visitor-cloud",
                "checkin_by_id_number.json",
                {"msgType": "checkin", "idType": "111", "gateDeviceId": "43011200001320000013"},
                {"idNumber": "<str 18>", "verifyMode": "<str 7>"},
            ),
            (
                "heartbeat",
                "heartbeat.json",
                {"status": "heartbeat", "firmware": "V5.7.1", "ip": "10.1.2.3"},
                {"uptime": "<int 5>"},
            ),
        ],
    )
    def test_a_representative_letter_of_each_dialect(
        self, dialect: str, fixture: str, shown: dict[str, object], hidden: dict[str, str]
    ) -> None:
        payload = (FIXTURES / dialect.replace("-", "_") / fixture).read_bytes()
        shape = excerpt_of(dialect, payload)
        values = dict(shown_values(shape))
        for path, value in shown.items():
            assert values[path] == value
        text = json.dumps(shape, ensure_ascii=False, separators=(",", ":"))
        for path, placeholder in hidden.items():
            assert path not in values
            assert f'"{path.rsplit(".", 1)[-1]}":"{placeholder}"' in text

    @pytest.mark.parametrize(
        ("dialect", "document", "hidden"),
        [
            (  # the reviewer's: a written phone number in a serial number
                "hik-isapi",
                {"AccessControllerEvent": {"subEventType": 999, "serialNo": "139_1234_5678"}},
                "AccessControllerEvent.serialNo",
            ),
            ("access-cloud", {"recordId": "139:1234:5678", "openMethod": 999999}, "recordId"),
            ("access-cloud", {"recordId": "13912345678x", "openMethod": 999999}, "recordId"),
            ("hik-isapi", {"dateTime": "ouyang-feng"}, "dateTime"),
            ("hik-isapi", {"AccessControllerEvent": {"serialNo": "OUYANGFENG"}}, "serialNo"),
            ("hik-isapi", {"eventType": "OuyangFeng"}, "eventType"),
            ("camera-alarm", {"alarmId": "ID430112199203154512X"}, "alarmId"),
            ("heartbeat", {"status": "ouyangfeng", "ip": "欧阳锋"}, "status"),
            ("visitor-cloud", {"msgType": "checkin", "serviceId": "ouyang.feng"}, "serviceId"),
        ],
    )
    def test_allow_listed_fields_holding_what_they_should_not_are_hidden(
        self, dialect: str, document: dict[str, object], hidden: str
    ) -> None:
        values = dict(shown_values(excerpt_of(dialect, json.dumps(document).encode())))
        assert all(not path.endswith(hidden) for path in values)

    def test_the_reviewers_codes_beside_them_are_still_shown(self) -> None:
        document = {"recordId": "139:1234:5678", "openMethod": 999999}
        assert dict(shown_values(excerpt_of("access-cloud", json.dumps(document).encode()))) == {
            "openMethod": 999999
        }


class TestDeadLetterFactory:
    """Letters keep what routing and parsing said, the payload's shape, and no raw bytes."""

    def test_letter_fields_come_from_the_message_and_the_rejection(self) -> None:
        payload = b'{"eventType": "heartBeat", "remark": "13812345678"}'
        letter = FACTORY(inbound(payload), "schema", "eventType: bad", "hik-isapi")
        assert letter.received_at == NOW
        assert letter.topic == f"yida/hik-isapi/{DEVICE}"
        assert (letter.reason, letter.detail) == ("schema", "eventType: bad")
        assert json.loads(letter.payload_excerpt) == {
            "eventType": "heartBeat",
            "remark": "<str 11>",
        }
        assert letter.payload_bytes == len(payload)
        assert (letter.raw_payload, letter.raw_expires_at) == (None, None)

    @pytest.mark.parametrize("dialect", [None, "no-such-dialect"])
    def test_without_a_known_dialect_no_value_is_shown(self, dialect: str | None) -> None:
        letter = FACTORY(inbound(b'{"eventType": "x"}'), "unknown_topic", "", dialect)
        assert json.loads(letter.payload_excerpt) == {"eventType": "<str 1>"}

    def test_a_payload_over_the_limit_keeps_its_size_and_no_raw(self) -> None:
        vault = RawPayloadVault(KEY, timedelta(days=7))
        factory = DeadLetterFactory({}, max_payload_bytes=8, vault=vault)
        letter = factory(inbound(b'{"a": "13812345678"}'), "oversized", "", None)
        assert letter.payload_excerpt == "<20 bytes, not read: over the 8-byte limit>"
        assert letter.raw_payload is None

    def test_with_a_vault_the_raw_payload_is_sealed_with_its_expiry(self) -> None:
        vault = RawPayloadVault(KEY, timedelta(days=3))
        factory = DeadLetterFactory.for_adapters(ADAPTERS, vault=vault)
        payload = '{"name": "张三"}'.encode()
        letter = factory(inbound(payload), "schema", "", "hik-isapi")
        assert letter.raw_payload is not None
        assert payload not in letter.raw_payload
        assert vault.open(letter.raw_payload) == payload
        assert letter.raw_expires_at == NOW + timedelta(days=3)


class TestDeadLetter:
    """Whoever builds a letter, its topic and detail are made shareable and bounded."""

    def test_personal_topic_levels_and_detail_numbers_are_replaced(self) -> None:
        letter = DeadLetter(
            NOW, "yida/hik-isapi/13812345678", "schema", "idNumber 430112199001011234 bad", "", 0
        )
        assert letter.topic == "yida/hik-isapi/<level 3>"
        assert letter.detail == "idNumber <redacted> bad"

    @pytest.mark.parametrize(
        ("topic", "stored"),
        [
            ("yida/139/1234/5678", "yida/<level 2>/<level 3>/<level 4>"),
            ("yida/hik-isapi/430112/19920315/4512", "yida/hik-isapi/<level 3>/<level 4>/<level 5>"),
            ("13912/345678", "<level 1>/<level 2>"),
        ],
    )
    def test_a_number_split_over_topic_levels_is_not_stored(self, topic: str, stored: str) -> None:
        letter = DeadLetter(NOW, topic, "unknown_topic", "", "", 0)
        assert letter.topic == stored

    def test_texts_are_bounded_and_free_of_nul(self) -> None:
        letter = DeadLetter(NOW, "ab/" * 200, "r", "d\x00" * 600, "{}\x00", 3)
        assert len(letter.topic) == 512
        assert len(letter.detail) == 1024
        assert "\x00" not in letter.detail + letter.payload_excerpt

    def test_a_raw_payload_needs_its_expiry(self) -> None:
        with pytest.raises(ValueError, match="with its expiry"):
            DeadLetter(NOW, "a/b/c", "r", "d", "", 3, raw_payload=b"x")
