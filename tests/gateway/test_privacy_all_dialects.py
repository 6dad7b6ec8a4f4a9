"""No dialect lets personal data reach storage, dead letters or logs.

Every payload fixture of every coded dialect (valid ones become events, bad ones dead
letters), re-dated to end at the present, goes through a real gateway process on Mosquitto
and TimescaleDB with DEBUG logs; then the database is dumped and searched, with the log, for
every value the fixtures carry under a personal key: names, ID and card numbers, phones,
inline images.
"""

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from simulators.publisher import publish
from testkit.gateway_process import GatewayProcess
from testkit.harness import wait_until
from testkit.inspection import database_dump, metric
from testkit.services import MosquittoService
from testkit.times import redate_fixture

FIXTURES = Path(__file__).parents[1] / "adapters" / "fixtures"
DIALECT_FOLDERS = (
    "hik_isapi",
    "access_cloud",
    "gat1400",
    "barrier_gate",
    "camera_alarm",
    "visitor_cloud",
    "heartbeat",
)
PERSONAL_KEYS = frozenset(
    {
        "name", "Name", "userName", "cardNo", "employeeNoString", "idNumber", "IDNumber",
        "idCardNo", "phone", "visitorPhone", "Data", "FeatureData",
    }
)  # fmt: skip
MIN_SECRET_CHARS = 4  # shorter values ("x", "") would match anywhere
DEVICE = "43011200001329999999"


def fixture_messages() -> list[tuple[str, bytes]]:
    ending = datetime.now(UTC) - timedelta(minutes=1)
    messages = []
    for folder in DIALECT_FOLDERS:
        dialect = folder.replace("_", "-")
        for path in sorted((FIXTURES / folder).iterdir()):
            if path.suffix in {".json", ".txt"}:
                payload = redate_fixture(path.read_bytes(), ending)
                messages.append((f"yida/{dialect}/{DEVICE}", payload))
    return messages


def personal_values(document: object) -> Iterator[str]:
    """Values under personal keys, anywhere in a JSON document."""
    if isinstance(document, dict):
        for key, value in document.items():
            if (
                key in PERSONAL_KEYS
                and isinstance(value, str | int)
                and not isinstance(value, bool)
            ):
                yield str(value)
            yield from personal_values(value)
    elif isinstance(document, list):
        for item in document:
            yield from personal_values(item)


def secrets_in(messages: list[tuple[str, bytes]]) -> set[str]:
    found: set[str] = set()
    for _, payload in messages:
        try:
            document = json.loads(payload)
        except (ValueError, RecursionError):
            continue
        found.update(v.strip() for v in personal_values(document))
    return {value for value in found if len(value) >= MIN_SECRET_CHARS}


class TestEveryDialectKeepsPersonalDataOut:
    """After every fixture of every dialect went through, no personal value is at rest."""

    async def test_database_dead_letters_and_logs_hold_no_personal_value(
        self, mosquitto: MosquittoService, pg_dsn: str, tmp_path: Path
    ) -> None:
        messages = fixture_messages()
        secrets = secrets_in(messages)
        assert len(secrets) > 40, "the fixtures must carry personal data for this to mean much"
        log = tmp_path / "gateway.log"
        gateway = GatewayProcess(mosquitto.url, pg_dsn, log, log_level="DEBUG")
        gateway.start()
        try:
            await publish(messages, url=mosquitto.url)

            def all_processed() -> bool:
                return metric(
                    gateway.get("/metrics").decode(), "scgw_messages_received_total"
                ) >= len(messages)

            await wait_until(all_processed, timeout_s=60, what="every fixture to be processed")
            served = " ".join(
                json.dumps(gateway.get_json(path), ensure_ascii=False)
                for path in ("/v1/events?limit=1000", "/v1/dead-letters?limit=1000")
            )
        finally:
            gateway.stop()
        dump = database_dump(pg_dsn)
        logs = log.read_text(encoding="utf-8")
        assert "dead letter" in logs and len(dump.splitlines()) > len(messages)
        leaks = {
            where: sorted(s for s in secrets if s in text)
            for where, text in (("database", dump), ("logs", logs), ("api", served))
        }
        assert leaks == {"database": [], "logs": [], "api": []}
