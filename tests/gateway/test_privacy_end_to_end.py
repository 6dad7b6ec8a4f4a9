"""People's data never reaches storage or logs: card numbers, employee numbers, names, ID
numbers and phone numbers from door payloads — stored events and dead letters alike.

The gateway runs as its own process with JSON logs at DEBUG level; afterwards the whole
database is dumped and searched, and so is the log file.
"""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from simulators.community import generate_community
from simulators.hik_isapi import HikDoorStream
from simulators.publisher import publish
from testkit.gateway_process import GatewayProcess
from testkit.harness import wait_until
from testkit.inspection import database_dump, holds_value
from testkit.services import MosquittoService

LEAKY_ID_NUMBER = "43011219800101123X"
LEAKY_PHONE = "13812345678"
LEAKY_CARD = "5566778899"
LEAKY_NAME = "张秘密"


def door_traffic() -> list[tuple[str, bytes]]:
    start = datetime.now(UTC) - timedelta(hours=1)  # 5 minutes of doors, all past
    return HikDoorStream(generate_community(), seed=5, start=start, events_per_hour=3600).take(300)


def leaky_rejects(topic: str, template: bytes) -> list[tuple[str, bytes]]:
    """Bad payloads full of personal data: their dead letters must keep none of it."""
    unknown_code = json.loads(template)
    unknown_code["AccessControllerEvent"].update(
        subEventType=0x2A, cardNo=LEAKY_CARD, name=LEAKY_NAME, employeeNoString=LEAKY_CARD
    )
    truncated = (
        f'{{"eventType": "AccessControllerEvent", "idNumber": "{LEAKY_ID_NUMBER}", '
        f'"phone": "{LEAKY_PHONE}", "note": "call {LEAKY_PHONE} re {LEAKY_ID_NUMBER}", "name": "'
        f"{LEAKY_NAME}"
    )
    return [(topic, json.dumps(unknown_code).encode()), (topic, truncated.encode())]


def secrets_in(traffic: list[tuple[str, bytes]]) -> set[str]:
    """Every card number, employee number and name that the published payloads carried."""
    found = {LEAKY_ID_NUMBER, LEAKY_PHONE, LEAKY_CARD, LEAKY_NAME}
    for _, payload in traffic:
        detail = json.loads(payload)["AccessControllerEvent"]
        found.update(
            str(detail[key]) for key in ("cardNo", "name", "employeeNoString") if detail.get(key)
        )
    return found


class TestNoPersonalDataAtRest:
    """After an end-to-end run, no raw identifier or name is in the database or the logs."""

    async def test_database_and_logs_hold_no_raw_personal_data(
        self,
        mosquitto: MosquittoService,
        database: str,
        tmp_path: Path,
    ) -> None:
        traffic = door_traffic()
        rejects = leaky_rejects(traffic[0][0], traffic[0][1])
        log = tmp_path / "gateway.log"
        gateway = GatewayProcess(mosquitto.url, database, log, log_level="DEBUG")
        gateway.start()
        try:
            await publish([*traffic, *rejects], url=mosquitto.url)

            def all_processed() -> bool:
                letters = gateway.get_json("/v1/dead-letters")["data"]
                events = gateway.get_json("/v1/events?limit=1000")["data"]
                return len(letters) == len(rejects) and len(events) == len(traffic)

            await wait_until(all_processed, what="every message to be processed")
            api_text = " ".join(
                json.dumps(gateway.get_json(path), ensure_ascii=False)
                for path in ("/v1/events?limit=1000", "/v1/dead-letters")
            )
        finally:
            gateway.stop()

        stored = database_dump(database)
        logs = log.read_text(encoding="utf-8")
        assert "Application shutdown complete" in logs
        assert "dead letter" in logs  # the rejects were logged, so the log was really searched
        secrets = secrets_in(traffic)
        assert len(secrets) > 50
        # Event ids and credential hashes are 32 hex digits and log lines carry microseconds:
        # a six-digit employee number turns up inside one now and then, by chance, so a secret
        # counts only as a value of its own.
        for secret in secrets:
            assert not holds_value(secret, stored), "raw personal data in the database"
            assert not holds_value(secret, logs), "raw personal data in the logs"
            assert not holds_value(secret, api_text), "raw personal data served by the API"
        # The rejects were stored as shapes: the truncated one by size and character classes,
        # the other with its card number's length in place of the number.
        assert "<not JSON (character " in stored
        assert '"cardNo":"<str 10>"' in stored
