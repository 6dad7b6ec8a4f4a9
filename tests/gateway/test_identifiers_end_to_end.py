"""Personal numbers planted in identifiers and names, through a real gateway process.

Devices publish with `mosquitto_pub` to a private Mosquitto; the gateway runs as its own
process (`scgw run`) on SQLite and on PostgreSQL. Device ids, visit ids and topic levels
holding an ID or mobile number become `pii_in_identifier` dead letters; names and plates
holding one (or markup) are dropped from events that are otherwise stored, and counted. The
valid events around them are all stored, and afterwards no planted value is found in the
database dump or in what the API serves.
"""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from testkit.gateway_process import GatewayProcess
from testkit.harness import mosquitto_pub, wait_until
from testkit.inspection import database_dump, metric_samples
from testkit.services import MosquittoService

COMMUNITY = "fields"
MOBILE = "13812345678"
ID_NUMBER = "430112199001011230"  # valid GB 11643: check character 0, born 1990-01-01
PLANTED = [
    MOBILE,
    "138 1234 5678",
    "13912345678",
    "13712345678",
    "13612345678",
    "13512345678",
    ID_NUMBER,
    "<script>",
]
"""Every planted value, as written; none may be stored or served."""

Traffic = list[tuple[str, list[bytes]]]


def now_ms(offset_s: int = 0) -> int:
    return int((datetime.now(UTC) + timedelta(seconds=offset_s)).timestamp() * 1000)


GATE = "gate-n1"
DOOR = "34020000001320000301"


def plate_read(record: str, plate: str, gate: str = GATE) -> bytes:
    return json.dumps(
        {"recordId": record, "gateId": gate, "ts": now_ms(), "plate": plate, "dir": "in"}
    ).encode()


def alarm(alarm_id: str, zone: str) -> bytes:
    when = datetime.now(UTC).isoformat()
    return json.dumps(
        {"alarmId": alarm_id, "eventType": "intrusion", "alarmTime": when, "zone": zone}
    ).encode()


def door_open(record: str, thing: str, space: str) -> bytes:
    return json.dumps(
        {
            "recordId": record,
            "thingCode": thing,
            "spaceCode": space,
            "openMethod": 100201,
            "openResult": 1,
            "openTime": now_ms(),
        }
    ).encode()


def cancellation(visit_id: str) -> bytes:
    return json.dumps(
        {
            "msgType": "cancellation",
            "visitId": visit_id,
            "eventTime": datetime.now(UTC).isoformat(),
        }
    ).encode()


def traffic() -> tuple[Traffic, int, int]:
    """(topic, payloads) to publish, how many events must be stored, how many dead letters.

    The devices are unregistered, so each speaks for itself: a payload's device id is its
    topic's, except where a planted one is to be refused."""
    valid = [plate_read(f"ok-{n}", f"湘A1234{n}") for n in range(5)]
    valid += [plate_read("foreign-1", "AB1234")]  # off the grammar: kept, not standard
    alarms = [alarm(f"ok-{n}", f"B0{n} north fire lane") for n in range(3)]
    doors = [door_open(f"ok-{n}", DOOR, "3栋1单元门") for n in range(2)]
    dropped_names = [
        alarm("drop-zone", "3栋 138 1234 5678"),
        alarm("drop-markup", "<script>alert(1)</script>"),
        door_open("drop-door", DOOR, f"门{ID_NUMBER}"),
        plate_read("drop-plate", MOBILE),
    ]
    refused = {
        f"{COMMUNITY}/barrier-gate/{GATE}": [
            plate_read("pii-gate", "湘A12345", gate=MOBILE),
            plate_read("pii-gate-id", "湘A12345", gate=f"id-{ID_NUMBER}"),
        ],
        f"{COMMUNITY}/access-cloud/{DOOR}": [door_open("pii-thing", "+8613912345678", "D1")],
        f"{COMMUNITY}/camera-alarm/13712345678": [alarm("pii-topic", "B01")],
        f"{COMMUNITY}/visitor-cloud/vc-1": [cancellation("V-13612345678")],
    }
    published: Traffic = [
        (f"{COMMUNITY}/barrier-gate/{GATE}", [*valid, dropped_names[3]]),
        (f"{COMMUNITY}/camera-alarm/cam-1", [*alarms, *dropped_names[:2]]),
        (f"{COMMUNITY}/access-cloud/{DOOR}", [*doors, dropped_names[2]]),
        *refused.items(),
    ]
    stored = len(valid) + len(alarms) + len(doors) + len(dropped_names)
    return published, stored, sum(len(payloads) for payloads in refused.values())


class TestPersonalNumbersInIdentifiersAndNames:
    """Planted numbers end as dead letters or dropped fields; everything valid is stored."""

    async def test_through_a_gateway_process(
        self,
        mosquitto: MosquittoService,
        database: str,
        tmp_path: Path,
    ) -> None:
        published, stored_count, refused_count = traffic()
        gateway = GatewayProcess(mosquitto.url, database, tmp_path / "gateway.log")
        gateway.start()
        try:
            for topic, payloads in published:
                await mosquitto_pub(mosquitto.port, topic, payloads)

            def settled() -> bool:
                events = gateway.get_json(f"/v1/events?community={COMMUNITY}&limit=1000")
                letters = gateway.get_json("/v1/dead-letters?limit=1000")
                return len(events["data"]) == stored_count and len(letters["data"]) == (
                    refused_count
                )

            await wait_until(settled, what="every message stored or dead-lettered")
            events = gateway.get_json(f"/v1/events?community={COMMUNITY}&limit=1000")["data"]
            letters = gateway.get_json("/v1/dead-letters?limit=1000")["data"]
            metrics = gateway.get("/metrics").decode()
            served = json.dumps([events, letters], ensure_ascii=False)
        finally:
            gateway.stop()

        assert [letter["reason"] for letter in letters] == ["pii_in_identifier"] * refused_count
        rejections = metric_samples(metrics, "scgw_rejections_total")
        assert rejections[(("reason", "pii_in_identifier"),)] == refused_count

        dropped = {
            (event["kind"], drop["field"], drop["reason"])
            for event in events
            for drop in event["dropped_fields"]
        }
        assert dropped == {
            ("behaviour_alarm", "zone", "pii_in_identifier"),
            ("behaviour_alarm", "zone", "markup"),
            ("access", "door", "pii_in_identifier"),
            ("vehicle_pass", "plate_no", "not_a_plate"),
        }
        counted = metric_samples(metrics, "scgw_event_fields_dropped_total")
        assert counted == {
            (("field", "zone"), ("reason", "pii_in_identifier")): 1,
            (("field", "zone"), ("reason", "markup")): 1,
            (("field", "door"), ("reason", "pii_in_identifier")): 1,
            (("field", "plate_no"), ("reason", "not_a_plate")): 1,
        }
        assert sum(bool(event["dropped_fields"]) for event in events) == len(dropped)
        standard = {
            event["plate_no"]: event["plate_standard"] for event in events if "plate_no" in event
        }
        assert (standard["湘A12340"], standard["AB1234"], standard[None]) == (True, False, None)

        dump = database_dump(database)
        assert "湘A12344" in dump  # the dump holds the stored events, so it was really searched
        for value in PLANTED:
            assert value not in dump, "a planted personal value is in the database"
            assert value not in served, "a planted personal value is served by the API"
