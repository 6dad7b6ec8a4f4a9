"""Hostile input: every bad message becomes a counted, inspectable dead letter, every valid
message in the same stream is stored, and the service stays up."""

import json
from datetime import UTC, datetime, timedelta

from simulators.community import generate_community
from simulators.hik_isapi import HikDoorStream
from simulators.publisher import publish
from testkit.harness import gateway_settings, running_gateway, wait_until
from testkit.services import MosquittoService

MAX_PAYLOAD = 4096
DEVICE_TOPIC = "yida/hik-isapi/43011200001320000001"


def valid_messages(count: int) -> list[tuple[str, bytes]]:
    start = datetime.now(UTC) - timedelta(hours=1)  # about 6 minutes of doors, all past
    return HikDoorStream(generate_community(), seed=3, start=start, events_per_hour=600).take(count)


def with_changes(payload: bytes, **changes: object) -> bytes:
    document = json.loads(payload)
    document["AccessControllerEvent"].update(changes)
    return json.dumps(document).encode()


def bad_messages(template: bytes) -> dict[str, tuple[str, bytes]]:
    """One message per kind of bad input, keyed by the dead-letter reason it must get."""
    naive = json.loads(template)
    naive["dateTime"] = "2026-11-26T08:00:00"
    heartbeat = json.loads(template)
    heartbeat["eventType"] = "heartBeat"
    return {
        "malformed_json": (DEVICE_TOPIC, b'{"eventType": "AccessControllerEvent", '),
        "schema": (DEVICE_TOPIC, with_changes(template, subEventType="seventy-five")),
        "unknown_code": (DEVICE_TOPIC, with_changes(template, subEventType=0x2A)),
        "unsupported_event": (DEVICE_TOPIC, json.dumps(heartbeat).encode()),
        "bad_time": (DEVICE_TOPIC, json.dumps(naive).encode()),
        "oversized": (DEVICE_TOPIC, b'{"pad": "' + b"x" * MAX_PAYLOAD + b'"}'),
        "unknown_dialect": ("yida/acme-door/0001", template),
        "unknown_topic": ("stray/topic/with/too/many/levels", template),
    }


class TestBadInputStream:
    """A stream mixing valid events with each kind of bad payload loses nothing valid."""

    async def test_valid_events_stored_and_each_bad_payload_dead_lettered(
        self, mosquitto: MosquittoService, pg_dsn: str
    ) -> None:
        valid = valid_messages(60)
        bad = bad_messages(valid[0][1])
        stream = list(valid)
        for position, message in zip(range(5, 60, 7), bad.values(), strict=False):
            stream.insert(position, message)
        binary_garbage = (DEVICE_TOPIC, bytes(range(256)) * 3)
        deep_nesting = (DEVICE_TOPIC, b"[" * (MAX_PAYLOAD - 1))  # past the parser's depth
        stream += [binary_garbage, deep_nesting]

        settings = gateway_settings(
            mosquitto.url, pg_dsn, max_payload_bytes=MAX_PAYLOAD, mqtt_topics=["#"]
        )
        async with running_gateway(settings) as gateway:
            await publish(stream, url=mosquitto.url)
            expected_letters = len(bad) + 2

            async def all_processed() -> bool:
                return len(await gateway.dead_letters()) == expected_letters

            await wait_until(all_processed, what="every bad message to be dead-lettered")
            events = await gateway.events()
            letters = await gateway.dead_letters()
            ready = await gateway.http.get("/readyz")
            metrics = (await gateway.http.get("/metrics")).text

        assert len(events) == len(valid)
        reasons = sorted(str(letter["reason"]) for letter in letters)
        assert reasons == sorted([*bad, "malformed_json", "malformed_json"])
        assert ready.status_code == 200
        for reason in bad:
            assert f'scgw_rejections_total{{reason="{reason}"}}' in metrics
        oversized = next(letter for letter in letters if letter["reason"] == "oversized")
        assert oversized["payload_bytes"] == MAX_PAYLOAD + 11
        assert len(str(oversized["payload_excerpt"])) <= 2048
        for letter in letters:
            assert letter["detail"] and letter["topic"] and letter["received_at"]
