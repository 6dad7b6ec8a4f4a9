"""Hostile payloads end as dead letters that hold none of their personal values.

A real gateway process (`scgw run`, JSON logs at DEBUG, raw payloads kept encrypted) on a
private Mosquitto; valid door traffic is published around payloads that put personal data
where no key list would look: under `remark`, `holder` and `姓名`, under a field of the wrong
type, as keys, written with spaces, `+86` and area codes, in UTF-16 and UTF-32, in binary,
deep and large, in a topic level, and under a mapping dialect's hashed field whose key says
nothing. Each becomes the expected dead letter and counter; every valid event is stored; the
database, the API's answers and the log hold none of the planted values; an admin still gets
a raw payload back, byte for byte.
"""

import asyncio
import json
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from schemas.times import CHINA_STANDARD_TIME
from simulators.community import generate_community
from simulators.hik_isapi import HikDoorStream
from simulators.publisher import publish
from testkit.gateway_process import GatewayProcess
from testkit.harness import ADMIN_KEY, wait_until, write_file
from testkit.inspection import database_dump, holds_value, metric
from testkit.services import MosquittoService

KEY = "Zq3vN8xW1rT6yL0pK4mB7cJ2hG5dF9sA"
NOW = datetime.now(UTC)
HIK_TOPIC = "yida/hik-isapi/43011200001320000001"
NAMES = ("张秘密", "王秘密", "李秘密", "赵秘密", "孙秘密", "周秘密", "吴秘密", "郑秘密", "冯秘密")
PHONES = {  # as written in the payloads: the digits alone are searched for too
    "+86 138 1234 5678": "13812345678",
    "0731-8888-1234": "073188881234",
    "+86 139 0000 1111": "13900001111",
    "135 0000 1111": "13500001111",
    "13622223333": "13622223333",
    "13744445555": "13744445555",
    "13800002222": "13800002222",
    "13911112222": "13911112222",
}
ID_NUMBERS = {"430112 19800101 123X": "43011219800101123X", "430112198001011230": ""}
HASHED_REF = "LT8899123"

VAULT_DOOR = """
[[communities]]
code = "yida"

[[dialects]]
name = "vault-door"
kind = "access"

[dialects.fields]
occurred_at = { path = "at", format = "epoch_ms" }
method = { path = "how", map = { "1" = "card" } }
result = { const = "granted" }
direction = { const = "in" }
credential = { path = "ref", hash = "card" }
vendor_code = { template = "vault/{how}" }
"""


def cst(moment: datetime) -> str:
    return moment.astimezone(CHINA_STANDARD_TIME).isoformat(timespec="seconds")


def valid_traffic() -> list[tuple[str, bytes]]:
    start = NOW - timedelta(minutes=15)
    return HikDoorStream(generate_community(), seed=9, start=start, events_per_hour=3600).take(200)


def deep(levels: int, leaf: object) -> object:
    node = leaf
    for _ in range(levels):
        node = {"next": node}
    return node


def hostile() -> list[tuple[str, bytes, str]]:
    """(topic, payload, expected dead-letter reason), one per class of hiding place."""
    door = json.loads(valid_traffic()[0][1])
    unknown_code = {
        **door,
        "remark": f"住户{NAMES[0]} +86 138 1234 5678",
        "holder": {"姓名": NAMES[1], "证件": "430112 19800101 123X"},
        "13911112222": "a phone number as a key",
    }
    unknown_code["AccessControllerEvent"] = {**door["AccessControllerEvent"], "subEventType": 42}
    wrong_type = {**door, "eventType": {"name": NAMES[2]}}
    registration = {
        "msgType": "registration",
        "visitId": "V-E2E-0001",
        "eventTime": cst(NOW),
        "houseCode": "B05-U1-0801",
        "startTime": cst(NOW),
        "endTime": cst(NOW + timedelta(hours=2)),
        "visitors": [
            {"idType": "111", "idNumber": "430112198001011230", "name": NAMES[4],
             "phone": "0731-8888-1234"}
        ],
    }  # fmt: skip
    alarm = {"eventType": "intrusion", "zone": f"{NAMES[5]}家门口", "contact": "135 0000 1111"}
    plate_read = {
        "ts": int(NOW.timestamp() * 1000),
        "plate": "湘A12345",
        "dir": "sideways",
        "owner": NAMES[6],
        "tel": "+86 139 0000 1111",
    }
    face = {"FaceListObject": {"FaceObject": [
        {"DeviceID": "43011200001310000021", "FaceAppearTime": "20261126075812",
         "IDNumber": "43011219800101123X", "Name": NAMES[8]}
    ]}}  # fmt: skip
    vault = {"at": int(NOW.timestamp() * 1000), "how": 9, "ref": HASHED_REF, "13800002222": 1}
    large = {**door, "eventType": 7, "log": ["x" * 100] * 900 + [f"call {NAMES[3]} 13622223333"]}
    binary = b"\xff\xfe\x00\x01" + b"13622223333" + bytes(range(128, 160))
    truncated = (
        f'{{"openMethod": 100101, "remark": "证件 430112 19800101 123X", "userName": "{NAMES[3]}'
    )
    return [
        (HIK_TOPIC, utf8(unknown_code), "unknown_code"),
        (HIK_TOPIC, utf8(wrong_type), "schema"),
        (
            "yida/access-cloud/34020000001320000301",
            truncated.encode(),
            "malformed_json",
        ),
        ("yida/visitor-cloud/vc-yida-01", dumps(registration).encode("utf-16"), "bad_id_number"),
        (
            "yida/camera-alarm/34020000001320000101",
            dumps(alarm).encode("utf-32-le"),
            "schema",
        ),
        ("yida/barrier-gate/YD-GATE-N1", utf8(plate_read), "unknown_code"),
        ("yida/gat1400/43011200001310000021", utf8(face), "schema"),
        (HIK_TOPIC, binary, "malformed_json"),
        ("yida/zkteco/13744445555", utf8({"name": NAMES[7]}), "unknown_dialect"),
        ("yida/vault-door/VD-01", utf8(vault), "unknown_code"),
        ("yida/status/43011200001320000001", utf8({"status": 7, "memo": NAMES[8]}), "schema"),
        (HIK_TOPIC, utf8(deep(300, {"name": NAMES[0], "tel": "13911112222"})), "schema"),
        (HIK_TOPIC, utf8(large), "schema"),
    ]


def dumps(document: object) -> str:
    return json.dumps(document, ensure_ascii=False)


def utf8(document: object) -> bytes:
    return dumps(document).encode()


def planted() -> set[str]:
    return {
        *NAMES,
        *PHONES,
        *(digits for digits in PHONES.values() if digits),
        *ID_NUMBERS,
        *(digits for digits in ID_NUMBERS.values() if digits),
        HASHED_REF,
    }


def personal_values(traffic: list[tuple[str, bytes]]) -> Iterator[str]:
    """The valid traffic's own names, card and employee numbers."""
    for _, payload in traffic:
        detail = json.loads(payload)["AccessControllerEvent"]
        for key in ("cardNo", "name", "employeeNoString"):
            if len(str(detail.get(key) or "")) >= 4:
                yield str(detail[key])


async def mosquitto_pub_exact(port: int, topic: str, payload: bytes) -> None:
    """One message with the real `mosquitto_pub`, its payload read whole from stdin."""
    process = await asyncio.create_subprocess_exec(
        *("mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-q", "1", "-t", topic, "-s"),
        stdin=subprocess.PIPE,
    )
    async with asyncio.timeout(30):
        await process.communicate(payload)
    assert process.returncode == 0


class TestHostilePayloadsLeaveNoPersonalData:
    """Every class of hiding place ends as a dead letter holding none of its values."""

    async def test_dead_letters_api_database_and_debug_log_hold_no_planted_value(
        self, mosquitto: MosquittoService, database: str, tmp_path: Path
    ) -> None:
        traffic = valid_traffic()
        bad = hostile()
        log = tmp_path / "gateway.log"
        config = write_file(tmp_path / "gateway.toml", VAULT_DOOR)
        gateway = GatewayProcess(
            mosquitto.url,
            database,
            log,
            log_level="DEBUG",
            config=str(config),
            dead_letter_raw="encrypted",
            dead_letter_key=KEY,
        )
        gateway.start()
        try:
            await publish(traffic[:100], url=mosquitto.url)
            for topic, payload, _ in bad:
                await mosquitto_pub_exact(mosquitto.port, topic, payload)
            await publish(traffic[100:], url=mosquitto.url)

            def all_processed() -> bool:
                letters = gateway.get_json("/v1/dead-letters?limit=1000")["data"]
                events = gateway.get_json("/v1/events?limit=1000")["data"]
                return len(letters) >= len(bad) and len(events) >= len(traffic)

            await wait_until(all_processed, timeout_s=60, what="every message to be processed")
            letters = gateway.get_json("/v1/dead-letters?limit=1000")["data"]
            events = gateway.get_json("/v1/events?limit=1000")["data"]
            metrics = gateway.get("/metrics").decode()
            utf16 = next(x for x in letters if x["topic"] == "yida/visitor-cloud/vc-yida-01")
            raw = gateway.get(f"/v1/dead-letters/{utf16['id']}/raw")
            served = json.dumps([letters, events], ensure_ascii=False)
        finally:
            gateway.stop()

        assert len(events) == len(traffic)
        expected = sorted(reason for _, _, reason in bad)
        assert sorted(x["reason"] for x in letters) == expected
        for reason in set(expected):
            assert metric(metrics, "scgw_rejections_total", reason=reason) == expected.count(reason)
        assert {x["topic"] for x in letters} >= {"yida/zkteco/<level 3>"}
        assert raw == bad[3][1]  # the UTF-16 registration, byte for byte
        assert all(x["raw_expires_at"] for x in letters)

        logs = log.read_text(encoding="utf-8")
        assert '"action": "dead_letter_raw_read"' in logs
        assert logs.count('"message": "dead letter ') >= len(bad)
        stored = database_dump(database)
        secrets = planted() | set(personal_values(traffic))
        leaks = {
            where: sorted(s for s in secrets if holds_value(s, text))
            for where, text in (("database", stored), ("api", served), ("logs", logs))
        }
        assert leaks == {"database": [], "api": [], "logs": []}
        assert '"ref":"<str 9>"' in stored  # the shapes were really stored and searched
        assert ADMIN_KEY not in logs
